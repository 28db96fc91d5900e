"""python -m smoothquant: the versions, the library's path, the device and its kernel family, and a
tiny self-check (the host plan always; the GPU plan when a GPU is present and PyTorch or CuPy can
hold its memory). Exit status 0 when every check that ran passed."""

import sys

import numpy as np

import smoothquant as sq


def _resolved_path(lib):
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                if "libsmoothquant" in line:
                    return line.split()[-1]
    except OSError:
        pass
    return lib.path


def _reference_linear(a, w, ws, act_scale):
    acc = a.astype(np.int64) @ w.astype(np.int64).T
    return (acc.astype(np.float32) * np.float32(act_scale)) * ws.reshape(1, -1)


def _case():
    rng = np.random.default_rng(7)
    m, n, k = 5, 24, 80
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    w = rng.integers(-128, 128, (n, k), dtype=np.int8)
    ws = (rng.random(n) * 0.01 + 1e-3).astype(np.float32)
    return a, w, ws, 0.0125


def host_check():
    a, w, ws, s = _case()
    with sq.Plan.smoothquant_linear(w.shape[0], w.shape[1], a.shape[0], act_scale=s, out_dtype="float32") as plan:
        out = plan.run(a, weight=w, weight_scale=ws)
    return np.array_equal(out.view(np.uint32), _reference_linear(a, w, ws, s).view(np.uint32))


def gpu_check(plan_kw):
    a, w, ws, s = _case()
    want = _reference_linear(a, w, ws, s)
    try:
        import torch

        if torch.cuda.is_available():
            dev = torch.device("cuda", plan_kw.get("device", 0) or 0)
            with sq.Plan.smoothquant_linear(w.shape[0], w.shape[1], a.shape[0], act_scale=s, out_dtype="float32",
                                            device=dev.index) as plan:
                out = plan.run(torch.from_numpy(a).to(dev), weight=torch.from_numpy(w).to(dev),
                               weight_scale=torch.from_numpy(ws).to(dev))
                got = out.cpu().numpy()  # waits for the stream
            return np.array_equal(got.view(np.uint32), want.view(np.uint32)), "PyTorch"
    except ImportError:
        pass
    try:
        import cupy

        with sq.Plan.smoothquant_linear(w.shape[0], w.shape[1], a.shape[0], act_scale=s, out_dtype="float32",
                                        device="cuda") as plan:
            out = plan.run(cupy.asarray(a), weight=cupy.asarray(w), weight_scale=cupy.asarray(ws))
            got = cupy.asnumpy(out)
        return np.array_equal(got.view(np.uint32), want.view(np.uint32)), "CuPy"
    except ImportError:
        return None, "neither PyTorch nor CuPy is installed to hold GPU memory"


def main():
    lib = sq.library()
    print(f"smoothquant {sq.__version__} (Python package, ctypes over the C ABI {sq.ABI_VERSION})")
    print(f"libsmoothquant {lib.version} at {_resolved_path(lib)} (found via {lib.origin})")
    ok = True
    host = host_check()
    print(f"host reference plan: self-check {'ok (bit-exact)' if host else 'FAILED'}")
    ok &= host
    try:
        with sq.Plan.smoothquant_linear(64, 64, 64, act_scale=0.1, out_dtype="bfloat16", device="cuda") as plan:
            info = plan.info
            print(f"device: cuda:{info.device}, sm_{info.sm_version}, kernel family {info.family.name} "
                  f"(M=1: {plan.kernel_name(1)}, M=64: {plan.kernel_name(64)})")
            dev = info.device
    except sq.NoDeviceError as e:
        print(f"device: no usable CUDA GPU ({e.message}); kernel family HOST only")
        dev = None
    except sq.SmoothQuantError as e:
        print(f"device: a GPU plan could not be made: {e}")
        dev = None
    if dev is not None:
        res, how = gpu_check({"device": dev})
        if res is None:
            print(f"GPU plan: self-check skipped: {how}")
        else:
            print(f"GPU plan: self-check through {how} {'ok (bit-exact with the host reference)' if res else 'FAILED'}")
            ok &= res
    missing = [name for name, f in sq.features().items() if not f.available]
    if missing:
        print(f"0.2 features not in this library yet: {', '.join(missing)}")
    else:
        print("0.2 features: all implemented")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
