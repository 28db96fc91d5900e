"""The 0.2 contract on the host plan: SCALED_LINEAR, SCALE_ACCUMULATORS, RMSNORM_QUANTIZE,
SILU_MUL_QUANTIZE, S32 accumulators, U8 and zero points, the asymmetric / ABSMAX / FROM_ABSMAX
quantizers and act_sums, bit for bit against reference.py.

Each test first asks the loaded library whether it implements the feature (smoothquant.feature:
probed at run time) and skips with the library's own answer when it does not; with
SMOOTHQUANT_REQUIRE_0_2=1 those skips become failures."""

import numpy as np
import pytest

import reference as ref
import smoothquant as sq
from conftest import require
from reference import BF16, F16, F32, F64, FLOATS, S8, U8
from test_host_numerics import assert_bits, rand_float, rand_s8

QM = sq.QuantMode


def rand_u8(rng, shape):
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


# ------------------------------------------------------------------ SCALED_LINEAR
@pytest.mark.parametrize("t", FLOATS, ids=lambda t: t.name)
@pytest.mark.parametrize("per_tensor", [False, True])
def test_scaled_linear(rng, t, per_tensor):
    require("scaled_linear")
    if per_tensor:
        require("reads_flags")
    m, n, k = 6, 10, 72
    a, w = rand_s8(rng, (m, k)), rand_s8(rng, (n, k))
    rs = ref.to_storage(rng.random(1 if per_tensor else m) * 0.02 + 1e-3, t)
    ws = ref.to_storage(rng.random(n) * 0.01, t)
    bias = rand_float(rng, n, t)
    with sq.Plan.scaled_linear(n, k, m, out_dtype=t, per_tensor_act_scale=per_tensor) as plan:
        out = plan.run(a, act_scale=rs, weight=w, weight_scale=ws, bias=bias)
    rows = np.repeat(rs, m) if per_tensor else rs
    assert_bits(out, ref.epilogue(ref.accumulate(a, w), rows, ws, t, bias))


def test_scaled_linear_act_zero_points(rng):
    require("scaled_linear")
    require("u8_act")
    require("reads_flags")
    m, n, k = 5, 7, 40
    a, w = rand_u8(rng, (m, k)), rand_s8(rng, (n, k))
    za = rng.integers(0, 256, m, dtype=np.uint8)
    rs = ref.to_storage(rng.random(m) * 0.02, F32)
    ws = ref.to_storage(rng.random(n) * 0.01, F32)
    with sq.Plan.scaled_linear(n, k, m, out_dtype=F32, act_dtype=U8, act_zero_point=True) as plan:
        out = plan.run(a, act_scale=rs, weight=w, weight_scale=ws, act_zero_point=za,
                       weight_sums=w.astype(np.int64).sum(1).astype(np.int32))
    assert_bits(out, ref.epilogue(ref.accumulate(a, w, za), rs, ws, F32))


@pytest.mark.parametrize("wdt", [S8, U8], ids=lambda t: t.name)
def test_weight_zero_points(rng, wdt):
    require("weight_zero_point")
    if wdt == U8:
        require("u8_weight")
    m, n, k = 4, 9, 48
    a = rand_s8(rng, (m, k))
    w = rand_u8(rng, (n, k)) if wdt == U8 else rand_s8(rng, (n, k))
    zw = (rng.integers(0, 256, n) if wdt == U8 else rng.integers(-128, 128, n)).astype(ref.NP[wdt])
    ws = ref.to_storage(rng.random(n) * 0.01, BF16)
    with sq.Plan.smoothquant_linear(n, k, m, act_scale=0.02, out_dtype=BF16, weight_dtype=wdt,
                                    weight_zero_point=True) as plan:
        out = plan.run(a, weight=w, weight_scale=ws, weight_zero_point=zw)
        sums = a.astype(np.int64).sum(1).astype(np.int32)
        out2 = plan.run(a, weight=w, weight_scale=ws, weight_zero_point=zw, act_sums=sums)
    want, _ = ref.smoothquant_linear(a, w, ws, 0.02, BF16, zw=zw)
    assert_bits(out, want, "pre-pass act sums")
    assert_bits(out2, want, "caller's act_sums")


def test_static_act_zero_point_u8(rng):
    require("act_zero_point")
    require("u8_act")
    m, n, k = 3, 6, 32
    a, w = rand_u8(rng, (m, k)), rand_s8(rng, (n, k))
    ws = ref.to_storage(rng.random(n) * 0.01, F32)
    za = 131
    with sq.Plan.smoothquant_linear(n, k, m, act_scale=0.05, out_dtype=F32, act_dtype=U8, act_zero_point=za) as plan:
        out = plan.run(a, weight=w, weight_scale=ws, weight_sums=w.astype(np.int64).sum(1).astype(np.int32))
    assert_bits(out, ref.smoothquant_linear(a, w, ws, 0.05, F32, za=za)[0])


# ------------------------------------------------------------------ S32 and SCALE_ACCUMULATORS
def test_s32_accumulators(rng):
    require("s32_out")
    m, n, k = 5, 8, 300
    a, w = rand_s8(rng, (m, k)), rand_s8(rng, (n, k))
    with sq.Plan.smoothquant_linear(n, k, m, act_scale=0.0, out_dtype="int32") as plan:
        out = plan.run(a, weight=w)
    assert out.dtype == np.int32
    assert np.array_equal(out, ref.accumulate(a, w))


@pytest.mark.parametrize("t", FLOATS, ids=lambda t: t.name)
def test_scale_accumulators(rng, t):
    require("scale_accumulators")
    m, n = 7, 11
    acc = rng.integers(-2**24, 2**24, (m, n)).astype(np.int32)
    rs = ref.to_storage(rng.random(m) * 0.01, t)
    ws = ref.to_storage(rng.random(n) * 0.01, t)
    bias = rand_float(rng, n, t)
    with sq.Plan.scale_accumulators(n, m, out_dtype=t) as plan:
        out = plan.run(acc, act_scale=rs, weight_scale=ws, bias=bias)
    assert_bits(out, ref.epilogue(acc.astype(np.int64), rs, ws, t, bias))


def test_tensor_parallel_k_slices_equal_the_whole(rng):
    """SMOOTHQUANT_LINEAR S32 on K slices, an integer sum, SCALE_ACCUMULATORS == SCALED_LINEAR."""
    for f in ("s32_out", "scale_accumulators", "scaled_linear"):
        require(f)
    m, n, k, ranks = 4, 6, 96, 3
    a, w = rand_s8(rng, (m, k)), rand_s8(rng, (n, k))
    rs = ref.to_storage(rng.random(m) * 0.02, BF16)
    ws = ref.to_storage(rng.random(n) * 0.01, BF16)
    total = np.zeros((m, n), np.int32)
    step = k // ranks
    for r in range(ranks):
        sl = slice(r * step, (r + 1) * step)
        with sq.Plan.smoothquant_linear(n, step, m, act_scale=0.0, out_dtype="int32") as p:
            total += p.run(np.ascontiguousarray(a[:, sl]), weight=np.ascontiguousarray(w[:, sl]))
    with sq.Plan.scale_accumulators(n, m, out_dtype=BF16) as p:
        parts = p.run(total, act_scale=rs, weight_scale=ws)
    with sq.Plan.scaled_linear(n, k, m, out_dtype=BF16) as p:
        whole = p.run(a, act_scale=rs, weight=w, weight_scale=ws)
    assert_bits(parts, whole)


# ------------------------------------------------------------------ quantizers
@pytest.mark.parametrize("q", [U8, S8], ids=lambda t: t.name)
@pytest.mark.parametrize("d,s", [(F32, F32), (BF16, F32), (F16, F16), (F64, F64), (F32, BF16)],
                         ids=lambda t: t.name)
def test_quantize_dynamic_asymmetric(rng, q, d, s):
    require("quant_asymmetric")
    m, k = 8, 37
    x = rand_float(rng, (m, k), d, 2.0)
    x[1] = ref.to_storage(np.abs(rng.standard_normal(k)), d)  # all positive: lo = 0
    x[2] = ref.to_storage(np.zeros(k), d)
    x[3] = ref.to_storage(np.full(k, -1.5), d)
    if d != F64:
        x[4, 3] = ref.to_storage([np.nan], d)[0]
        x[5, 0] = ref.to_storage([np.inf], d)[0]
    with sq.Plan.quantize_dynamic(k, m, dtype=d, scale_dtype=s, out_dtype=q, quant_mode=QM.DYNAMIC_ASYMMETRIC) as p:
        got_q, got_s, got_z = p.run(x)
    c = ref.compute_type(d)
    wq, ws, wz = ref.quantize_dynamic_asymmetric(ref.prepare_v(x, d), c, s, q)
    assert_bits(got_s, ws, "scales")
    assert_bits(got_z, wz, "zero points")
    assert_bits(got_q, wq, "q")


def test_absmax_then_from_absmax_equals_dynamic(rng):
    """ABSMAX on R slices of K, a NaN-propagating max, FROM_ABSMAX per slice == DYNAMIC on the row."""
    require("quant_absmax")
    require("quant_from_absmax")
    m, k, ranks = 6, 90, 3
    x = rand_float(rng, (m, k), BF16, 3.0)
    x[2] = ref.to_storage(np.zeros(k), BF16)
    x[3, 70] = ref.to_storage([np.nan], BF16)[0]
    step = k // ranks
    slices = [np.ascontiguousarray(x[:, r * step:(r + 1) * step]) for r in range(ranks)]
    with sq.Plan.quantize_dynamic(step, m, dtype=BF16, scale_dtype=F32, quant_mode=QM.ABSMAX) as p:
        maxes = [p.run(s) for s in slices]
    for mx, s in zip(maxes, slices):
        assert_bits(mx, ref._amax(ref.prepare_v(s, BF16)), "absmax of a slice")
    amax = maxes[0]
    for mx in maxes[1:]:
        amax = np.where(np.isnan(amax) | np.isnan(mx), np.float32(np.nan), np.maximum(amax, mx)).astype(np.float32)
    with sq.Plan.quantize_dynamic(step, m, dtype=BF16, scale_dtype=F32, quant_mode=QM.FROM_ABSMAX) as p:
        parts = [p.run(s, absmax=amax) for s in slices]
    with sq.Plan.quantize_dynamic(k, m, dtype=BF16, scale_dtype=F32) as p:
        whole_q, whole_s = p.run(x)
    assert_bits(np.concatenate([q for q, _ in parts], axis=1), whole_q, "q")
    for _, s in parts:
        assert_bits(s, whole_s, "scales")


@pytest.mark.parametrize("q", [U8, S8], ids=lambda t: t.name)
def test_quantize_static_zero_point(rng, q):
    require("static_zero_point_quantize")
    if q == U8:
        require("quant_asymmetric")  # U8 quantizer output
    m, k = 4, 40
    za = 128 if q == U8 else -5
    x = rand_float(rng, (m, k), F32, 3.0)
    x[0, :4] = [np.nan, np.inf, -np.inf, 0.0]
    with sq.Plan.quantize_static(k, m, dtype=F32, act_scale=0.02, out_dtype=q, act_zero_point=za) as p:
        got = p.run(x)
    assert_bits(got, ref.quantize_static(ref.prepare_v(x, F32), np.float32, 0.02, q, za))


def test_act_sums_written_by_quantizers(rng):
    require("act_sums")
    m, k = 5, 64
    x = rand_float(rng, (m, k), F32, 2.0)
    sums = np.full(m, -1, np.int32)
    with sq.Plan.quantize_dynamic(k, m, dtype=F32) as p:
        q, _ = p.run(x, act_sums=sums)
    assert np.array_equal(sums, q.astype(np.int64).sum(1))
    sums[:] = -1
    with sq.Plan.quantize_static(k, m, dtype=F32, act_scale=0.05) as p:
        q = p.run(x, act_sums=sums)
    assert np.array_equal(sums, q.astype(np.int64).sum(1))


@pytest.mark.parametrize("d,t", [(F32, F32), (BF16, BF16), (F16, F32)], ids=lambda x: x.name)
def test_quantized_linear_asymmetric(rng, d, t):
    require("quantized_linear_asymmetric")
    m, n, k = 6, 12, 56
    x = rand_float(rng, (m, k), d, 2.0) 
    x[0] = ref.to_storage(np.abs(rng.standard_normal(k)) + 0.5, d)
    w = rand_s8(rng, (n, k))
    ws = ref.to_storage(rng.random(n) * 0.01, t)
    sums = w.astype(np.int64).sum(1).astype(np.int32)
    scales = np.empty(m, ref.NP[t])
    with sq.Plan.quantized_linear(n, k, m, dtype=d, out_dtype=t, quant_mode=QM.DYNAMIC_ASYMMETRIC,
                                  quant_dtype=U8) as p:
        out = p.run(x, weight=w, weight_scale=ws, weight_sums=sums, act_scale_scratch=scales)
    c = ref.compute_type(d)
    q, s, za = ref.quantize_dynamic_asymmetric(ref.prepare_v(x, d), c, t, U8)
    assert_bits(scales, s, "scales")
    assert_bits(out, ref.epilogue(ref.accumulate(q, w, za), s, ws, t), "out")


# ------------------------------------------------------------------ fused ops
@pytest.mark.parametrize("d", [F32, BF16, F16], ids=lambda t: t.name)
@pytest.mark.parametrize("k", [7, 64, 5000])
@pytest.mark.parametrize("with_residual", [False, True])
def test_rmsnorm_quantize(rng, d, k, with_residual):
    require("rmsnorm_quantize")
    m, eps = 5, 1e-6
    x = rand_float(rng, (m, k), d, 1.5)
    res = rand_float(rng, (m, k), d) if with_residual else None
    nw = ref.to_storage(rng.random(k) + 0.5, d)
    smooth = ref.to_storage(rng.random(k) + 0.5, F32)
    h_out = np.empty((m, k), ref.NP[d]) if with_residual else None
    with sq.Plan.rmsnorm_quantize(k, m, dtype=d, eps=eps, scale_dtype=F32) as p:
        q, s = p.run(x, norm_weight=nw, residual=res, residual_out=h_out, smooth=smooth)
    v, h = ref.rmsnorm_v(x, d, nw, eps, res, smooth, F32)
    wq, ws = ref.quantize_dynamic(v, np.float32, F32)
    assert_bits(s, ws, "scales")
    assert_bits(q, wq, "q")
    if with_residual:
        assert_bits(h_out, h, "residual_out")


def test_rmsnorm_quantize_static(rng):
    require("rmsnorm_quantize")
    require("reads_quant_mode")
    m, k = 3, 100
    x = rand_float(rng, (m, k), BF16)
    nw = ref.to_storage(rng.random(k) + 0.5, BF16)
    with sq.Plan.rmsnorm_quantize(k, m, dtype=BF16, eps=1e-5, quant_mode=QM.STATIC, act_scale=0.03) as p:
        q = p.run(x, norm_weight=nw)
    v, _ = ref.rmsnorm_v(x, BF16, nw, 1e-5)
    assert_bits(q, ref.quantize_static(v, np.float32, 0.03))


@pytest.mark.parametrize("d", [F32, BF16, F16], ids=lambda t: t.name)
def test_silu_mul_quantize(rng, d):
    require("silu_mul_quantize")
    m, k = 6, 45
    x = rand_float(rng, (m, 2 * k), d, 3.0)
    x[0, :6] = ref.to_storage([90.0, -90.0, 110.0, -110.0, 0.0, 88.5], d)  # the exp cut-offs
    smooth = ref.to_storage(rng.random(k) + 0.5, F32)
    with sq.Plan.silu_mul_quantize(k, m, dtype=d, scale_dtype=F32) as p:
        q, s = p.run(x, smooth=smooth)
    wq, ws = ref.quantize_dynamic(ref.silu_mul_v(x, d, k, smooth, F32), np.float32, F32)
    assert_bits(s, ws, "scales")
    assert_bits(q, wq, "q")


def test_sq_exp_reference_is_close_to_exp():
    """The reference's sq_exp is within 2 ulp of exp (the contract's claim), so its transcription holds."""
    t = np.linspace(-100, 88, 200001).astype(np.float32)
    got = ref.sq_exp(t).astype(np.float64)
    want = np.exp(t.astype(np.float64))
    ulp = np.spacing(want.astype(np.float32)).astype(np.float64)
    ok = want > 1e-37
    assert np.max(np.abs(got[ok] - want[ok]) / ulp[ok]) <= 2.0
