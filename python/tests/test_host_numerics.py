"""The binding on the host reference plan, bit for bit against the NumPy reference of the contract
(reference.py), for the ops the library implements since 0.1 (1-4, symmetric int8)."""

import numpy as np
import pytest

import reference as ref
import smoothquant as sq
from reference import BF16, F16, F32, F64, FLOATS, S8

SHAPES = [(1, 1, 1), (3, 5, 7), (17, 33, 64), (4, 16, 200)]


def rand_float(rng, shape, t, scale=1.0):
    return ref.to_storage(rng.standard_normal(shape) * scale, t)


def rand_s8(rng, shape):
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


def assert_bits(got, want, what=""):
    got, want = np.asarray(got), np.asarray(want)
    if got.dtype.name == "bfloat16":  # ml_dtypes.bfloat16 (when installed): compare its bits
        got = got.view(np.uint16)
    if want.dtype.name == "bfloat16":
        want = want.view(np.uint16)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    diff = np.nonzero(ref.bits(got) != ref.bits(want))
    assert diff[0].size == 0, f"{what}: {diff[0].size} values differ, first at {tuple(d[0] for d in diff)}: " \
                              f"{got[tuple(d[0] for d in diff)]} != {want[tuple(d[0] for d in diff)]}"


# ------------------------------------------------------------------ SQ_OP_SMOOTHQUANT_LINEAR
@pytest.mark.parametrize("t", FLOATS, ids=lambda t: t.name)
@pytest.mark.parametrize("m,n,k", SHAPES)
@pytest.mark.parametrize("with_bias", [False, True])
def test_smoothquant_linear(rng, t, m, n, k, with_bias):
    a, w = rand_s8(rng, (m, k)), rand_s8(rng, (n, k))
    ws = ref.to_storage(rng.random(n) * 0.01 + 1e-4, t)
    bias = rand_float(rng, n, t) if with_bias else None
    act_scale = float(rng.random() * 0.05 + 1e-3)
    scratch = np.empty(m, dtype=ref.NP[t])
    with sq.Plan.smoothquant_linear(n, k, max_m=m + 3, act_scale=act_scale, out_dtype=t) as plan:
        out = plan.run(a, weight=w, weight_scale=ws, bias=bias, act_scale_scratch=scratch)
    want, rs = ref.smoothquant_linear(a, w, ws, act_scale, t, bias)
    assert_bits(out, want, "out")
    assert_bits(scratch, rs, "act_scale_scratch")


def test_smoothquant_linear_strided_rows(rng):
    """Row strides (ld_act, ld_weight, ld_out): outputs land in a slice of a larger buffer."""
    m, n, k = 5, 6, 24
    a_big, w_big = rand_s8(rng, (m, k + 8)), rand_s8(rng, (n, k + 16))
    a, w = a_big[:, 3:3 + k], w_big[:, :k]
    ws = ref.to_storage(rng.random(n) * 0.01, F32)
    big = np.full((m, n + 10), -7.0, dtype=np.float32)
    with sq.Plan.smoothquant_linear(n, k, m, act_scale=0.03, out_dtype=F32) as plan:
        plan.run(a, weight=w, weight_scale=ws, out=big[:, 2:2 + n])
    want, _ = ref.smoothquant_linear(np.ascontiguousarray(a), np.ascontiguousarray(w), ws, 0.03, F32)
    assert_bits(big[:, 2:2 + n], want)
    assert np.all(big[:, :2] == -7.0) and np.all(big[:, 2 + n:] == -7.0)


def test_rows_independent_of_m(rng):
    """A row's result does not depend on M or on the other rows."""
    n, k = 9, 40
    a, w = rand_s8(rng, (12, k)), rand_s8(rng, (n, k))
    ws = ref.to_storage(rng.random(n), BF16)
    with sq.Plan.smoothquant_linear(n, k, 12, act_scale=0.01, out_dtype=BF16) as plan:
        full = plan.run(a, weight=w, weight_scale=ws)
        for m in (1, 5, 12):
            assert_bits(plan.run(a[:m], weight=w, weight_scale=ws), full[:m])


# ------------------------------------------------------------------ SQ_OP_QUANTIZED_LINEAR
@pytest.mark.parametrize("d,t", [(F32, F32), (F64, F64), (F16, F16), (BF16, BF16), (BF16, F32), (F32, BF16),
                                 (F16, F64)], ids=lambda x: x.name)
@pytest.mark.parametrize("m,n,k", SHAPES[1:])
@pytest.mark.parametrize("with_smooth", [False, True])
def test_quantized_linear(rng, d, t, m, n, k, with_smooth):
    x = rand_float(rng, (m, k), d, 3.0)
    x[0, :] = ref.to_storage(np.zeros(k), d)  # a zero row: scale +0, q 0
    w = rand_s8(rng, (n, k))
    ws = ref.to_storage(rng.random(n) * 0.01 + 1e-4, t)
    bias = rand_float(rng, n, t)
    smooth = ref.to_storage(rng.random(k) + 0.5, t) if with_smooth else None
    scales = np.empty(m, dtype=ref.NP[t])
    with sq.Plan.quantized_linear(n, k, m, dtype=d, out_dtype=t) as plan:
        assert plan.workspace_size > 0
        out = plan.run(x, weight=w, weight_scale=ws, bias=bias, smooth=smooth, act_scale_scratch=scales)
    c = ref.compute_type(d)
    v = ref.prepare_v(x, d, smooth, t)
    q, s = ref.quantize_dynamic(v, c, t)
    want = ref.epilogue(ref.accumulate(q, w), s, ws, t, bias)
    assert_bits(scales, s, "per-token scales")
    assert_bits(out, want, "out")


# ------------------------------------------------------------------ SQ_OP_QUANTIZE_STATIC
@pytest.mark.parametrize("d", FLOATS, ids=lambda t: t.name)
@pytest.mark.parametrize("smooth_dtype", [None, F32, BF16, F64], ids=lambda t: t.name if t else "no_smooth")
def test_quantize_static(rng, d, smooth_dtype):
    m, k = 6, 50
    act_scale = 0.0375
    x = rand_float(rng, (m, k), d, 4.0)
    # exact ties at +-(j + 0.5) * scale for RNE, and saturation
    ties = (np.arange(k) - k // 2 + 0.5) * act_scale
    x[1] = ref.to_storage(ties, d)
    x[2] = ref.to_storage(np.linspace(-20, 20, k), d)
    smooth = ref.to_storage(rng.random(k) + 0.5, smooth_dtype) if smooth_dtype else None
    with sq.Plan.quantize_static(k, m, dtype=d, act_scale=act_scale, smooth_dtype=smooth_dtype) as plan:
        q = plan.run(x, smooth=smooth)
    c = ref.compute_type(d)
    want = ref.quantize_static(ref.prepare_v(x, d, smooth, smooth_dtype), c, act_scale)
    assert_bits(q, want)


def test_quantize_static_specials():
    x = np.array([[np.nan, np.inf, -np.inf, 0.0, -0.0, 1e30, -1e30, 0.5]], dtype=np.float32)
    with sq.Plan.quantize_static(8, 1, dtype=F32, act_scale=1.0) as plan:
        q = plan.run(x)
    assert q.tolist() == [[0, 127, -128, 0, 0, 127, -128, 0]]  # NaN -> za (0); 0.5 -> 0 (ties to even)


# ------------------------------------------------------------------ SQ_OP_QUANTIZE_DYNAMIC
@pytest.mark.parametrize("d", FLOATS, ids=lambda t: t.name)
@pytest.mark.parametrize("s", FLOATS, ids=lambda t: t.name)
def test_quantize_dynamic(rng, d, s):
    m, k = 7, 33
    x = rand_float(rng, (m, k), d, 2.0)
    x[1] = ref.to_storage(np.zeros(k), d)
    smooth = ref.to_storage(rng.random(k) + 0.5, s)
    with sq.Plan.quantize_dynamic(k, m, dtype=d, scale_dtype=s) as plan:
        q, scales = plan.run(x)
        q2, scales2 = plan.run(x, smooth=smooth)
    c = ref.compute_type(d)
    wq, ws = ref.quantize_dynamic(ref.prepare_v(x, d), c, s)
    assert_bits(q, wq, "q")
    assert_bits(scales, ws, "scales")
    wq, ws = ref.quantize_dynamic(ref.prepare_v(x, d, smooth, s), c, s)
    assert_bits(q2, wq, "q (smoothed)")
    assert_bits(scales2, ws, "scales (smoothed)")


@pytest.mark.parametrize("s", FLOATS, ids=lambda t: t.name)
def test_quantize_dynamic_special_rows(s):
    """Zero, NaN and Inf rows: scale +0 / canonical NaN / +Inf, q 0."""
    x = np.array([[0.0, -0.0, 0.0], [1.0, np.nan, 2.0], [np.inf, 1.0, 0.0], [-np.inf, np.nan, 1.0],
                  [1.0, -2.0, 0.5]], dtype=np.float32)
    with sq.Plan.quantize_dynamic(3, 5, dtype=F32, scale_dtype=s) as plan:
        q, scales = plan.run(x)
    wq, ws = ref.quantize_dynamic(ref.prepare_v(x, F32), np.float32, s)
    assert_bits(q, wq, "q")
    assert_bits(scales, ws, "scales (canonical NaN bits included)")
    assert np.all(q[:4] == 0)


def test_host_threads_same_bits(rng):
    """host_threads only changes who computes, not the bits."""
    m, n, k = 33, 65, 96
    a, w = rand_s8(rng, (m, k)), rand_s8(rng, (n, k))
    ws = ref.to_storage(rng.random(n), F16)
    outs = []
    for threads in (1, 2, 0):
        with sq.Plan.smoothquant_linear(n, k, m, act_scale=0.02, out_dtype=F16, host_threads=threads) as plan:
            outs.append(plan.run(a, weight=w, weight_scale=ws))
    assert_bits(outs[0], outs[1])
    assert_bits(outs[0], outs[2])


def test_bf16_with_ml_dtypes_or_bits(rng):
    """bfloat16 arrays: ml_dtypes.bfloat16 when installed, else uint16 raw bits; outputs follow."""
    m, n, k = 2, 3, 8
    a, w = rand_s8(rng, (m, k)), rand_s8(rng, (n, k))
    ws_bits = ref.to_storage(rng.random(n), BF16)
    with sq.Plan.smoothquant_linear(n, k, m, act_scale=0.5, out_dtype=BF16) as plan:
        out = plan.run(a, weight=w, weight_scale=ws_bits)
    want, _ = ref.smoothquant_linear(a, w, ws_bits, 0.5, BF16)
    assert_bits(out.view(np.uint16), want)


def test_plan_facts():
    with sq.Plan.smoothquant_linear(8, 32, 4, act_scale=0.1, out_dtype=F32) as plan:
        assert plan.kernel_name() == "host_reference"
        assert plan.kernel_name(1) == "host_reference"
        info = plan.info
        assert (info.family, info.op, info.device, info.sm_version) == (sq.KernelFamily.HOST,
                                                                         sq.Op.SMOOTHQUANT_LINEAR, -1, 0)
        assert (info.n, info.k, info.max_m) == (8, 32, 4)
        g = plan.precision_guarantee
        assert g.bit_exact_with_host and g.deterministic and g.exact_accumulation
        assert g.accumulate_dtype == sq.DType.S32 and g.epilogue_dtype == sq.DType.F32
        assert g.max_k == sq.SQ_MAX_K
        assert plan.workspace_size == 0
        assert plan.desc.act_scale == 0.1
    with sq.Plan.quantize_dynamic(16, 4, dtype=F64) as plan:
        assert plan.kernel_name() == "host_quantize"
        assert plan.precision_guarantee.epilogue_dtype == sq.DType.F64
        assert not plan.precision_guarantee.exact_accumulation


def test_can_implement(rng):
    a, w = rand_s8(rng, (2, 16)), rand_s8(rng, (4, 16))
    ws = np.ones(4, np.float32)
    with sq.Plan.smoothquant_linear(4, 16, 2, act_scale=0.1, out_dtype=F32) as plan:
        assert plan.can_implement(a, weight=w, weight_scale=ws) is True


def test_raw_run(rng):
    """run_raw: a caller-filled sq_run_args straight to sq_plan_run."""
    m, n, k = 2, 3, 16
    a, w = rand_s8(rng, (m, k)), rand_s8(rng, (n, k))
    ws = np.full(n, 0.5, np.float32)
    out = np.empty((m, n), np.float32)
    scratch = np.empty(m, np.float32)
    args = sq.run_args(m=m, act=a.ctypes.data, weight=w.ctypes.data, weight_scale=ws.ctypes.data,
                       act_scale_scratch=scratch.ctypes.data, out=out.ctypes.data)
    with sq.Plan.smoothquant_linear(n, k, m, act_scale=0.25, out_dtype=F32) as plan:
        plan.run_raw(args)
    assert_bits(out, ref.smoothquant_linear(a, w, ws, 0.25, F32)[0])


def test_dlpack_and_array_interface_inputs(rng):
    """Any host array with DLPack or __array_interface__ (here thin wrappers around NumPy)."""
    class DL:
        def __init__(self, a):
            self.a = a

        def __dlpack__(self, **kw):
            return self.a.__dlpack__(**kw)

        def __dlpack_device__(self):
            return self.a.__dlpack_device__()

    class AI:
        def __init__(self, a):
            self.__array_interface__ = a.__array_interface__
            self._a = a

    m, n, k = 3, 4, 16
    a, w = rand_s8(rng, (m, k)), rand_s8(rng, (n, k))
    ws = ref.to_storage(rng.random(n), F32)
    with sq.Plan.smoothquant_linear(n, k, m, act_scale=0.1, out_dtype=F32) as plan:
        want = plan.run(a, weight=w, weight_scale=ws)
        got = plan.run(a, weight=DL(w), weight_scale=AI(ws))
    assert_bits(got, want)
