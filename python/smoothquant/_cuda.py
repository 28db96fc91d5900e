"""The few CUDA runtime calls the binding needs outside the library (it links its CUDA runtime
statically and exports only sq_*): set the current device around plan selection, synchronize one
stream (the JAX path only), ask whether a stream is capturing. They go through whichever runtime the
process already has: PyTorch's or CuPy's when imported, else cuda-python (``cuda.bindings``), else a
libcudart loaded with ctypes. All share the driver's primary context with the library's own runtime.
Nothing here runs unless a GPU path asks for it."""

import contextlib
import ctypes
import glob
import os
import sys

_cudart = None
_cudart_tried = False


def _load_cudart():
    """A ctypes libcudart, or None."""
    global _cudart, _cudart_tried
    if _cudart_tried:
        return _cudart
    _cudart_tried = True
    names = []
    try:  # cuda-pathfinder knows where the nvidia-* wheels and conda put it
        from cuda.pathfinder import load_nvidia_dynamic_lib  # type: ignore

        lib = load_nvidia_dynamic_lib("cudart")
        names.append(lib.abs_path)
    except Exception:  # noqa: BLE001 - optional helper; any failure means "look elsewhere"
        pass
    for base in sys.path:
        for pattern in ("nvidia/cu*/lib/libcudart.so.*", "nvidia/cuda_runtime/lib/libcudart.so.*"):
            names.extend(sorted(glob.glob(os.path.join(base, pattern)), reverse=True))
    names += ["libcudart.so.13", "libcudart.so.12", "libcudart.so", "/usr/local/cuda/lib64/libcudart.so"]
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        for fn, args in (
            ("cudaSetDevice", [ctypes.c_int]),
            ("cudaGetDevice", [ctypes.POINTER(ctypes.c_int)]),
            ("cudaGetDeviceCount", [ctypes.POINTER(ctypes.c_int)]),
            ("cudaStreamSynchronize", [ctypes.c_void_p]),
            ("cudaStreamIsCapturing", [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]),
        ):
            f = getattr(lib, fn)
            f.argtypes = args
            f.restype = ctypes.c_int
        _cudart = lib
        return lib
    return None


def _check(err, what):
    if err != 0:
        raise RuntimeError(f"{what} failed: CUDA error {err}")


def current_device():
    """The calling thread's current CUDA device (0 when no runtime can say)."""
    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.current_device()
    if "cupy" in sys.modules:
        import cupy

        return cupy.cuda.runtime.getDevice()
    lib = _load_cudart()
    if lib is None:
        return 0
    d = ctypes.c_int(0)
    _check(lib.cudaGetDevice(ctypes.byref(d)), "cudaGetDevice")
    return d.value


@contextlib.contextmanager
def device_guard(index):
    """Make ``index`` the current device for the block (no-op when it already is)."""
    if index is None or index < 0 or index == current_device():
        yield
        return
    if "torch" in sys.modules:
        import torch

        with torch.cuda.device(index):
            yield
        return
    if "cupy" in sys.modules:
        import cupy

        with cupy.cuda.Device(index):
            yield
        return
    lib = _load_cudart()
    if lib is None:
        raise RuntimeError(
            f"cannot make cuda:{index} the current device: no CUDA runtime found (import torch or cupy, "
            "or pass stream= a stream of that device)"
        )
    prev = current_device()
    _check(lib.cudaSetDevice(index), "cudaSetDevice")
    try:
        yield
    finally:
        lib.cudaSetDevice(prev)


def stream_synchronize(handle):
    """Wait for one stream (never the whole device)."""
    if "cupy" in sys.modules:
        import cupy

        cupy.cuda.runtime.streamSynchronize(handle or 0)
        return
    try:
        from cuda.bindings import runtime as rt  # type: ignore

        (err,) = rt.cudaStreamSynchronize(handle or 0)
        _check(int(err), "cudaStreamSynchronize")
        return
    except ImportError:
        pass
    lib = _load_cudart()
    if lib is None:
        raise RuntimeError("cannot synchronize a CUDA stream: no CUDA runtime found (install cupy or cuda-python)")
    _check(lib.cudaStreamSynchronize(handle or None), "cudaStreamSynchronize")


def stream_is_capturing(handle):
    """True when ``handle`` is being captured into a CUDA graph (False when no runtime can say)."""
    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            cur = torch.cuda.current_stream().cuda_stream
            if cur == (handle or 0):
                return torch.cuda.is_current_stream_capturing()
    if "cupy" in sys.modules:
        import cupy

        return bool(cupy.cuda.runtime.streamIsCapturing(handle or 0))
    lib = _load_cudart()
    if lib is None:
        return False
    status = ctypes.c_int(0)
    if lib.cudaStreamIsCapturing(handle or None, ctypes.byref(status)) != 0:
        return False
    return status.value != 0
