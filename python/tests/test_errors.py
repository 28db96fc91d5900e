"""Every error path: checks the binding makes before the C call (naming the bad argument) and the
library's own statuses, raised as exceptions carrying the status and the library's message."""

import ctypes

import numpy as np
import pytest

import smoothquant as sq
from smoothquant import Status


@pytest.fixture
def lin():
    with sq.Plan.smoothquant_linear(4, 16, 3, act_scale=0.1, out_dtype="float32") as plan:
        yield plan


def arrays(m=2, n=4, k=16):
    rng = np.random.default_rng(0)
    return (rng.integers(-128, 128, (m, k), dtype=np.int8), rng.integers(-128, 128, (n, k), dtype=np.int8),
            np.ones(n, np.float32))


def raises(exc, argument=None, status=Status.INVALID_ARGUMENT, match=None):
    class Ctx:
        def __enter__(self):
            self.cm = pytest.raises(exc, match=match)
            self.info = self.cm.__enter__()
            return self.info

        def __exit__(self, *e):
            r = self.cm.__exit__(*e)
            err = self.info.value
            assert err.status == status, f"status {err.status} != {status}: {err}"
            if argument is not None:
                assert err.argument == argument, f"argument {err.argument!r} != {argument!r}: {err}"
                assert argument in str(err)
            return r
    return Ctx()


# ------------------------------------------------------------------ checks before the C call
def test_wrong_dtype(lin):
    a, w, ws = arrays()
    with raises(sq.DTypeError, "act"):
        lin.run(a.astype(np.int32), weight=w, weight_scale=ws)
    with raises(sq.DTypeError, "weight_scale"):
        lin.run(a, weight=w, weight_scale=ws.astype(np.float16))
    with raises(sq.DTypeError, "bias"):
        lin.run(a, weight=w, weight_scale=ws, bias=np.zeros(4, np.float64))
    with raises(sq.DTypeError, "out"):
        lin.run(a, weight=w, weight_scale=ws, out=np.empty((2, 4), np.float16))
    with raises(sq.DTypeError, "act"):
        lin.run(a.astype(np.complex64), weight=w, weight_scale=ws)
    # TypeError and ValueError idioms both catch them
    with pytest.raises(TypeError):
        lin.run(a, weight=w.astype(np.uint8), weight_scale=ws)


def test_wrong_shape(lin):
    a, w, ws = arrays()
    with raises(sq.ArgumentError, "weight"):
        lin.run(a, weight=w[:3], weight_scale=ws)
    with raises(sq.ArgumentError, "weight_scale"):
        lin.run(a, weight=w, weight_scale=np.ones(5, np.float32))
    with raises(sq.ArgumentError, "act"):
        lin.run(a.reshape(2, 4, 4), weight=w, weight_scale=ws)
    with raises(sq.ArgumentError, "act"):
        lin.run(a[:, :8], weight=w, weight_scale=ws)
    with raises(sq.ArgumentError, "out"):
        lin.run(a, weight=w, weight_scale=ws, out=np.empty((2, 5), np.float32))
    with raises(sq.ArgumentError, "act_scale_scratch"):
        lin.run(a, weight=w, weight_scale=ws, act_scale_scratch=np.empty(1, np.float32))
    # [N, 1] scales (the compressed-tensors layout) are accepted
    lin.run(a, weight=w, weight_scale=ws.reshape(4, 1))


def test_m_range(lin):
    a, w, ws = arrays(m=4)
    with raises(sq.ArgumentError, "act", match="max_m"):
        lin.run(a, weight=w, weight_scale=ws)
    with raises(sq.ArgumentError, "act"):
        lin.run(a[:0], weight=w, weight_scale=ws)


def test_contiguity(lin):
    a, w, ws = arrays()
    wt = np.asfortranarray(w)
    with raises(sq.ArgumentError, "weight", match="contiguous"):
        lin.run(a, weight=wt, weight_scale=ws)
    with raises(sq.ArgumentError, "weight_scale", match="contiguous"):
        lin.run(a, weight=w, weight_scale=np.ones(8, np.float32)[::2])
    with raises(sq.ArgumentError, "act", match="row stride"):
        lin.run(np.lib.stride_tricks.as_strided(a, (2, 16), (4, 1)), weight=w, weight_scale=ws)


def test_required_and_unknown_arguments(lin):
    a, w, ws = arrays()
    with raises(sq.ArgumentError, "weight", match="required"):
        lin.run(a, weight_scale=ws)
    with raises(sq.ArgumentError, "smooth", match="not an argument"):
        lin.run(a, weight=w, weight_scale=ws, smooth=np.ones(16, np.float32))
    with raises(sq.ArgumentError, "weight_zero_point", match="WEIGHT_ZERO_POINT"):
        lin.run(a, weight=w, weight_scale=ws, weight_zero_point=np.zeros(4, np.int8))
    with pytest.raises(TypeError, match="unexpected keyword"):
        lin.run(a, weight=w, weight_scale=ws, wieght=w)


def test_readonly_output(lin):
    a, w, ws = arrays()
    out = np.empty((2, 4), np.float32)
    out.flags.writeable = False
    with raises(sq.ArgumentError, "out", match="read-only"):
        lin.run(a, weight=w, weight_scale=ws, out=out)


def test_not_an_array(lin):
    _, w, ws = arrays()
    with raises(sq.ArgumentError, "act", match="expected an array"):
        lin.run("not an array", weight=w, weight_scale=ws)


def test_device_mismatch(lin):
    """An array in CUDA memory given to the host plan is refused by name, before any pointer is read."""
    from smoothquant._arrays import Arr

    _, w, ws = arrays()
    cuda_act = Arr(0x1000, (2, 16), (16, 1), sq.DType.S8, 0, "cai", None)
    with raises(sq.ArgumentError, "act", status=Status.WRONG_MEMORY_SPACE):
        lin.run(cuda_act, weight=w, weight_scale=ws)
    a = np.zeros((2, 16), np.int8)
    cuda_w = Arr(0x1000, (4, 16), (16, 1), sq.DType.S8, 0, "cai", None)
    with raises(sq.ArgumentError, "weight", status=Status.WRONG_MEMORY_SPACE):
        lin.run(a, weight=cuda_w, weight_scale=ws)


# ------------------------------------------------------------------ the library's statuses
def test_select_invalid_argument():
    with raises(sq.ArgumentError, status=Status.INVALID_ARGUMENT, match="desc->k"):
        sq.Plan.smoothquant_linear(4, 0, 2, act_scale=0.1, out_dtype="float32")
    with raises(sq.ArgumentError, status=Status.INVALID_ARGUMENT, match="act_scale"):
        sq.Plan.smoothquant_linear(4, 16, 2, act_scale=-1.0, out_dtype="float32")
    with raises(sq.ArgumentError, status=Status.INVALID_ARGUMENT, match="SQ_MAX_K|max_k"):
        sq.Plan.smoothquant_linear(4, sq.SQ_MAX_K + 1, 2, act_scale=0.1, out_dtype="float32")
    with raises(sq.ArgumentError, status=Status.INVALID_ARGUMENT, match="max_m"):
        sq.Plan.smoothquant_linear(4, 16, 0, act_scale=0.1, out_dtype="float32")


def test_error_carries_function_and_message():
    with pytest.raises(sq.SmoothQuantError) as info:
        sq.Plan.smoothquant_linear(4, 16, 2, act_scale=float("nan"), out_dtype="float32")
    e = info.value
    assert e.function == "sq_plan_select"
    assert "act_scale" in e.message and "nan" in e.message.lower()
    assert str(e).startswith("sq_plan_select: SQ_STATUS_INVALID_ARGUMENT: ")
    assert sq.status_string(e.status) == "SQ_STATUS_INVALID_ARGUMENT"


def test_select_not_supported():
    with raises(sq.NotSupportedError, status=Status.NOT_SUPPORTED, match="scale_dtype"):
        sq.Plan(sq.Op.SMOOTHQUANT_LINEAR, n=4, k=16, max_m=2, act_dtype="int8", weight_dtype="int8",
                scale_dtype="float16", out_dtype="float32", act_scale=0.1)


def test_no_device_without_gpu():
    try:
        plan = sq.Plan.smoothquant_linear(4, 16, 2, act_scale=0.1, out_dtype="float32", device="cuda")
    except sq.NoDeviceError as e:
        assert e.status == Status.NO_DEVICE and "GPU" in e.message
        return
    plan.close()
    pytest.skip("a usable CUDA GPU is present: NO_DEVICE cannot be provoked here (test_gpu.py covers the GPU)")


def test_preference_device_conflict():
    with raises(sq.ArgumentError, "preference"):
        sq.Plan.smoothquant_linear(4, 16, 2, act_scale=0.1, out_dtype="float32", device="cuda", preference="host")
    with raises(sq.ArgumentError, "preference"):
        sq.Plan.smoothquant_linear(4, 16, 2, act_scale=0.1, out_dtype="float32", preference="warp-speed")
    with raises(sq.ArgumentError, "device"):
        sq.Plan.smoothquant_linear(4, 16, 2, act_scale=0.1, out_dtype="float32", device="tpu")
    with raises(sq.DTypeError, "out_dtype"):
        sq.Plan.smoothquant_linear(4, 16, 2, act_scale=0.1, out_dtype="float8")


def test_library_misaligned(lin):
    """A float32 array at an odd address: the library answers MISALIGNED, naming the field."""
    a, w, _ = arrays()
    buf = np.zeros(4 * 4 + 1, np.uint8)
    ws = np.frombuffer(buf.data, dtype=np.float32, count=4, offset=1)
    with raises(sq.ArgumentError, status=Status.MISALIGNED, match="weight_scale"):
        lin.run(a, weight=w, weight_scale=ws)


def test_library_insufficient_workspace():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 16)).astype(np.float32)
    w = rng.integers(-128, 128, (4, 16), dtype=np.int8)
    with sq.Plan.quantized_linear(4, 16, 2, dtype="float32") as plan:
        assert plan.workspace_size > 16
        with raises(sq.ArgumentError, status=Status.INSUFFICIENT_WORKSPACE, match="workspace"):
            plan.run(x, weight=w, weight_scale=np.ones(4, np.float32), workspace=np.zeros(16, np.uint8))


def test_library_struct_size():
    with sq.Plan.quantize_static(4, 1, dtype="float32", act_scale=1.0) as plan:
        args = sq.run_args(m=1)
        args.struct_size = 8
        with raises(sq.ArgumentError, status=Status.INVALID_STRUCT_SIZE, match="struct_size"):
            plan.run_raw(args)
        args = sq.run_args(m=1)
        args.struct_size = 5000
        with raises(sq.ArgumentError, status=Status.INVALID_STRUCT_SIZE):
            plan.run_raw(args)


def test_library_null_pointer():
    with sq.Plan.quantize_static(4, 1, dtype="float32", act_scale=1.0) as plan:
        with raises(sq.ArgumentError, status=Status.INVALID_ARGUMENT, match="args->act is NULL"):
            plan.run_raw(sq.run_args(m=1))


def test_invalid_handle_from_library():
    lib = sq.library()
    st = lib.sq_plan_destroy(ctypes.c_void_p(0x12345678))
    assert st == Status.INVALID_HANDLE
    assert "not a live plan" in lib.last_error()
    assert lib.sq_plan_destroy(None) == Status.SUCCESS


def test_0_2_fields_a_library_ignores_are_refused():
    """A descriptor using a 0.2 field that the loaded library silently ignores is refused with
    NOT_SUPPORTED by the binding (never a plan that computes something else)."""
    f = sq.feature("reads_quant_mode")
    if f.available:
        pytest.skip("the library validates quant_mode: nothing to refuse")
    with raises(sq.NotSupportedError, status=Status.NOT_SUPPORTED, match="quant_mode"):
        sq.Plan.quantize_dynamic(16, 2, dtype="float32", quant_mode=sq.QuantMode.ABSMAX)


def test_preferences_without_a_gpu():
    """GPU preferences never fall back to the host: without a GPU each answers NO_DEVICE."""
    for pref in ("fastest", "portable", "hopper", sq.Preference.GPU_PORTABLE):
        try:
            sq.Plan.smoothquant_linear(4, 16, 2, act_scale=0.1, out_dtype="float32", preference=pref).close()
        except sq.NoDeviceError:
            continue
        except sq.NotSupportedError:
            continue  # a GPU is present but not of that family
        pytest.skip("a usable CUDA GPU is present (test_gpu.py covers the GPU families)")
    with sq.Plan.smoothquant_linear(4, 16, 2, act_scale=0.1, out_dtype="float32", preference="host") as p:
        assert p.info.family == sq.KernelFamily.HOST and p.device == -1
