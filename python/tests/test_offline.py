"""The offline helpers against their formulas (reference.py), and their error paths."""

import numpy as np
import pytest

import reference as ref
import smoothquant as sq
from conftest import require
from reference import BF16, F16, F32, F64, FLOATS
from test_host_numerics import assert_bits


@pytest.mark.parametrize("alpha", [0.0, 0.5, 0.85, 1.0])
@pytest.mark.parametrize("wt", FLOATS, ids=lambda t: t.name)
def test_smooth_factors(rng, alpha, wt):
    k = 48
    absmax = (rng.random(k) * 20).astype(np.float32)
    absmax[3] = 0.0
    ws = [ref.to_storage(rng.standard_normal((n, k)), wt) for n in (8, 4, 4)]
    ws[0][:, 5] = ref.to_storage(np.zeros(8), wt)
    for w in ws:
        w[:, 5] = ref.to_storage(np.zeros(w.shape[0]), wt)  # a channel with no weight: the 1e-5 clamp
    s = sq.smooth_factors(absmax, ws, alpha)
    assert s.dtype == np.float32 and s.shape == (k,)
    assert_bits(s, ref.smooth_factors(absmax, ws, [wt] * 3, alpha))


def test_smooth_factors_strided_weight(rng):
    k = 16
    big = rng.standard_normal((6, 40)).astype(np.float32)
    w = big[:, 4:4 + k]
    absmax = (rng.random(k) + 0.1).astype(np.float32)
    assert_bits(sq.smooth_factors(absmax, w, 0.5), ref.smooth_factors(absmax, [np.ascontiguousarray(w)], [F32], 0.5))


@pytest.mark.parametrize("t", FLOATS, ids=lambda t: t.name)
def test_apply_to_norm_and_weight(rng, t):
    k, n = 24, 10
    smooth = (rng.random(k) * 4 + 0.1).astype(np.float32)
    nw = ref.to_storage(rng.standard_normal(k), t)
    nb = ref.to_storage(rng.standard_normal(k), t)
    w = ref.to_storage(rng.standard_normal((n, k)), t)
    want_nw, want_nb = ref.fold(nw, t, smooth, True), ref.fold(nb, t, smooth, True)
    want_w = ref.fold(w, t, smooth, False)
    assert sq.smooth_apply_to_norm(smooth, nw, nb) is nw
    assert sq.smooth_apply_to_weight(smooth, w) is w
    assert_bits(nw, want_nw, "norm weight")
    assert_bits(nb, want_nb, "norm bias")
    assert_bits(w, want_w, "weight")


@pytest.mark.parametrize("t", FLOATS, ids=lambda t: t.name)
@pytest.mark.parametrize("s", [None, F32, BF16], ids=lambda t: t.name if t else "same")
def test_quantize_weight_per_channel(rng, t, s):
    n, k = 12, 40
    w = ref.to_storage(rng.standard_normal((n, k)) * 0.1, t)
    w[2] = ref.to_storage(np.zeros(k), t)  # a zero row: scale 0, q 0
    q, scale = sq.quantize_weight_per_channel(w, scale_dtype=s)
    wq, wscale = ref.quantize_weight_per_channel(w, t, s or t)
    assert_bits(q, wq, "q")
    assert_bits(scale.view(ref.NP[s or t]) if (s or t) == BF16 else scale, wscale, "scale")


def test_static_act_scale(rng):
    k = 30
    absmax = (rng.random(k) * 8 + 0.01).astype(np.float32)
    smooth = (rng.random(k) + 0.5).astype(np.float32)
    assert sq.static_act_scale(absmax) == ref.static_act_scale(absmax)
    assert sq.static_act_scale(absmax, smooth) == ref.static_act_scale(absmax, smooth)
    with pytest.raises(sq.ArgumentError) as info:
        sq.static_act_scale(np.zeros(k, np.float32))
    assert info.value.status == sq.Status.INVALID_ARGUMENT


def test_helper_errors(rng):
    k = 8
    absmax = np.ones(k, np.float32)
    w = rng.standard_normal((4, k)).astype(np.float32)
    with pytest.raises(sq.ArgumentError, match="alpha"):
        sq.smooth_factors(absmax, w, 1.5)
    with pytest.raises(sq.DTypeError) as info:
        sq.smooth_factors(absmax.astype(np.float64), w, 0.5)
    assert info.value.argument == "act_absmax"
    with pytest.raises(sq.ArgumentError) as info:
        sq.smooth_factors(absmax, rng.standard_normal((4, k + 1)).astype(np.float32), 0.5)
    assert info.value.argument == "weights[0]"
    with pytest.raises(sq.ArgumentError, match="weights must be finite"):
        bad = w.copy()
        bad[0, 0] = np.nan
        sq.smooth_factors(absmax, bad, 0.5)
    with pytest.raises(sq.ArgumentError) as info:
        sq.smooth_apply_to_norm(np.zeros(k, np.float32), np.ones(k, np.float32))
    assert "smooth" in info.value.message
    with pytest.raises(sq.ArgumentError) as info:
        sq.smooth_apply_to_weight(absmax, w.T)
    assert info.value.argument == "weight"
    ro = np.ones(k, np.float32)
    ro.flags.writeable = False
    with pytest.raises(sq.ArgumentError, match="read-only"):
        sq.smooth_apply_to_norm(absmax, ro)
    with pytest.raises(sq.ArgumentError, match="finite"):
        inf_w = w.copy()
        inf_w[1, 1] = np.inf
        sq.quantize_weight_per_channel(inf_w)
    with pytest.raises(sq.DTypeError):
        sq.quantize_weight_per_channel(w.astype(np.int8))


# ------------------------------------------------------------------ 0.2 helpers
def test_weight_sums(rng):
    require("weight_sums")
    for dt in (np.int8, np.uint8):
        q = rng.integers(np.iinfo(dt).min, np.iinfo(dt).max + 1, (9, 70), dtype=dt)
        got = sq.weight_sums(q)
        assert got.dtype == np.int32
        assert np.array_equal(got, q.astype(np.int64).sum(axis=1))


@pytest.mark.parametrize("qd", [sq.DType.U8, sq.DType.S8], ids=lambda t: t.name)
@pytest.mark.parametrize("t", [F32, BF16, F64], ids=lambda t: t.name)
def test_quantize_weight_per_channel_asymmetric(rng, qd, t):
    require("quantize_weight_per_channel_asymmetric")
    n, k = 10, 33
    w = ref.to_storage(rng.standard_normal((n, k)) * 0.2 + 0.05, t)
    w[3] = ref.to_storage(np.zeros(k), t)
    w[4] = ref.to_storage(np.abs(rng.standard_normal(k)), t)  # all positive: lo = 0
    q, scale, zp = sq.quantize_weight_per_channel_asymmetric(w, qd)
    c = ref.compute_type(t)
    wq, ws, wz = ref.quantize_dynamic_asymmetric(ref.widen(w, t, c), c, t, qd)
    assert_bits(q, wq, "q")
    assert_bits(scale.view(ref.NP[t]) if t == BF16 else scale, ws, "scale")
    assert_bits(zp, wz, "zero point")
