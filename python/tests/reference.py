"""An independent NumPy reference of the header's NUMERICS CONTRACT (and of the offline helpers'
formulas), written from the text of include/smoothquant/smoothquant.h, not from the library's code.

Values of a dtype T are held as NumPy arrays: float32, float64, float16, and uint16 bit patterns for
bfloat16 (NumPy has no bf16). Every operation is one NumPy elementwise operation on float32 or
float64 arrays, which rounds to nearest even and never fuses (no FMA); integer sums are int64 (exact).
"""

import math

import numpy as np

import smoothquant as sq

D = sq.DType
F32, F64, F16, BF16, S8, U8, S32 = D.F32, D.F64, D.F16, D.BF16, D.S8, D.U8, D.S32
FLOATS = (F32, F64, F16, BF16)
NP = {F32: np.float32, F64: np.float64, F16: np.float16, BF16: np.uint16, S8: np.int8, U8: np.uint8, S32: np.int32}
QRANGE = {S8: (-128, 127), U8: (0, 255)}
CANONICAL_NAN_BITS = {F32: 0x7FC00000, F64: 0x7FF8000000000000, F16: 0x7E00, BF16: 0x7FC0}


def compute_type(t):
    """C: f64 for f64 data, else f32."""
    return np.float64 if t == F64 else np.float32


# ------------------------------------------------------------------ conversions
def _bf16_from_f64(x):
    """RNE of float64 values to bfloat16 bits, one rounding (8 significant bits, exponent -126..127)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(x.shape, dtype=np.uint16)
    fin = np.isfinite(x) & (x != 0)
    with np.errstate(all="ignore"):
        _, e = np.frexp(x)
        lead = np.maximum(e.astype(np.int64) - 1, -126)
        ulp = np.ldexp(1.0, (lead - 7).astype(np.int32))
        q = np.rint(x / ulp) * ulp
    max_bf16 = float(np.frombuffer(np.uint32(0x7F7F0000).tobytes(), np.float32)[0])
    over = fin & (np.abs(q) > max_bf16)
    q32 = np.where(fin & ~over, q, 0).astype(np.float32)
    bits = (q32.view(np.uint32) >> 16).astype(np.uint16)
    out[fin & ~over] = bits[fin & ~over]
    sign = np.signbit(x)
    out[over] = np.where(sign[over], 0xFF80, 0x7F80)
    out[np.isinf(x)] = np.where(sign[np.isinf(x)], 0xFF80, 0x7F80)
    out[x == 0] = np.where(sign[x == 0], 0x8000, 0x0000)
    out[np.isnan(x)] = 0x7FC0
    return out


def narrow(v, t):
    """(T)v for float32 or float64 values v: one RNE rounding to T (T's storage array)."""
    v = np.asarray(v)
    with np.errstate(all="ignore"):
        if t == F32:
            return v.astype(np.float32)
        if t == F64:
            return v.astype(np.float64)
        if t == F16:
            return v.astype(np.float16)  # NumPy's float->half and double->half conversions are RNE
        if t == BF16:
            return _bf16_from_f64(v.astype(np.float64))  # float32 -> float64 is exact
    raise ValueError(t)


def widen(a, t, c):
    """(C)a for a T array a: exact for every T narrower than C, RNE for f64 -> f32."""
    a = np.asarray(a)
    if t == BF16:
        f = (a.astype(np.uint32) << 16).view(np.float32)
        return f.astype(c)
    with np.errstate(all="ignore"):
        return a.astype(c)


def to_storage(values, t):
    """Arbitrary float64 values (or ints) as an array of dtype T (for building inputs)."""
    if t in (S8, U8, S32):
        return np.asarray(values).astype(NP[t])
    return narrow(np.asarray(values, dtype=np.float64), t)


def bits(a):
    """The bit pattern of an array (for bit-for-bit comparisons, NaN payloads included)."""
    a = np.ascontiguousarray(a)
    return a.view({1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[a.itemsize])


def is_nan(a, t):
    if t == BF16:
        return np.isnan(widen(a, t, np.float32))
    return np.isnan(a)


# ------------------------------------------------------------------ the linears
def accumulate(a, w, za=None, zw=None):
    """acc[m,n] = sum_k (a[m,k] - za[m]) * (w[n,k] - zw[n]), exact (int64), checked to fit int32."""
    a64 = a.astype(np.int64)
    w64 = w.astype(np.int64)
    if za is not None:
        a64 = a64 - np.asarray(za, dtype=np.int64).reshape(-1, 1)
    if zw is not None:
        w64 = w64 - np.asarray(zw, dtype=np.int64).reshape(-1, 1)
    acc = a64 @ w64.T
    assert np.all(np.abs(acc) < 2**31), "the test's K is past the plan's max_k"
    return acc


def epilogue(acc, rs, ws, t, bias=None):
    """The linears' epilogue: rs [M] and ws, bias [N] are T arrays; returns out [M,N] of T."""
    if t in (F32, F64):
        c = NP[t]
        y = acc.astype(c) * rs.astype(c).reshape(-1, 1)
        y = y * ws.astype(c).reshape(1, -1)
        if bias is not None:
            y = y + bias.astype(c).reshape(1, -1)
        return y
    f = acc.astype(np.float32) * widen(rs, t, np.float32).reshape(-1, 1)
    f = f * widen(ws, t, np.float32).reshape(1, -1)
    if bias is not None:
        f = f + widen(bias, t, np.float32).reshape(1, -1)
    return narrow(f, t)


def smoothquant_linear(a, w, ws, act_scale, t, bias=None, za=0, zw=None):
    """SQ_OP_SMOOTHQUANT_LINEAR: (out, scratch)."""
    m = a.shape[0]
    acc = accumulate(a, w, np.full(m, za) if za else None, zw)
    if t == S32:
        return acc.astype(np.int32), None
    rs = narrow(np.full(m, act_scale, dtype=np.float64), t)
    return epilogue(acc, rs, ws, t, bias), rs


# ------------------------------------------------------------------ the quantizers
def prepare_v(x, d, smooth=None, smooth_dtype=None):
    """v[k] = smooth ? (C)x / (C)smooth : (C)x."""
    c = compute_type(d)
    v = widen(x, d, c)
    if smooth is not None:
        with np.errstate(all="ignore"):
            v = v / widen(smooth, smooth_dtype, c).reshape(1, -1)
    return v


def quantize_static(v, c, act_scale, q=S8, za=0):
    qmin, qmax = QRANGE[q]
    s = c(act_scale)  # (C)act_scale: double -> C, RNE
    with np.errstate(all="ignore"):
        t = np.rint(v / s) + c(za)
    out = np.clip(t, qmin, qmax)
    out = np.where(np.isnan(v), za, out)
    return out.astype(NP[q])


def _amax(v):
    with np.errstate(all="ignore"):
        am = np.max(np.abs(v), axis=1)
    am[np.any(np.isnan(v), axis=1)] = np.nan
    return am


def _scales(r, c, s):
    """(S)r stored (canonical NaN for NaN rows), and (C)scale."""
    stored = narrow(r, s)
    nan = np.isnan(r)
    if np.any(nan):
        b = bits(stored).copy()
        b[nan] = CANONICAL_NAN_BITS[s]
        stored = b.view(stored.dtype)
    return stored, widen(stored, s, c)


def quantize_dynamic(v, c, s, amax=None):
    """SQ_QUANT_DYNAMIC (and FROM_ABSMAX when amax is given): (q int8, scale of S)."""
    am = _amax(v) if amax is None else np.asarray(amax, dtype=c)
    with np.errstate(all="ignore"):
        r = am / c(127)
    stored, sc = _scales(r, c, s)
    ok = np.isfinite(sc) & (sc > 0)
    with np.errstate(all="ignore"):
        q = np.clip(np.rint(v / np.where(ok, sc, 1).reshape(-1, 1)), -128, 127)
    q = np.where(ok.reshape(-1, 1), q, 0)
    return q.astype(np.int8), stored


def quantize_dynamic_asymmetric(v, c, s, q_dtype=U8):
    """SQ_QUANT_DYNAMIC_ASYMMETRIC: (q, scale of S, za of Q)."""
    qmin, qmax = QRANGE[q_dtype]
    nanrow = np.any(np.isnan(v), axis=1)
    with np.errstate(all="ignore"):
        lo = np.minimum(c(0), np.min(np.where(np.isnan(v), 0, v), axis=1)).astype(c)
        hi = np.maximum(c(0), np.max(np.where(np.isnan(v), 0, v), axis=1)).astype(c)
        r = (hi - lo) / c(qmax - qmin)
    r = np.where(nanrow, np.nan, r).astype(c)
    stored, sc = _scales(r, c, s)
    ok = np.isfinite(sc) & (sc > 0)
    scd = np.where(ok, sc, 1).astype(c)
    with np.errstate(all="ignore"):
        za = np.clip(np.rint(c(qmin) - lo / scd), qmin, qmax).astype(c)
        q = np.clip(np.rint(v / scd.reshape(-1, 1)) + za.reshape(-1, 1), qmin, qmax)
    za = np.where(ok, za, 0)
    q = np.where(ok.reshape(-1, 1), q, 0)
    return q.astype(NP[q_dtype]), stored, za.astype(NP[q_dtype])


# ------------------------------------------------------------------ the fused ops (f32)
def rmsnorm_v(x, d, norm_weight, eps, residual=None, smooth=None, smooth_dtype=None):
    """SQ_OP_RMSNORM_QUANTIZE's v (f32) and h (D)."""
    f = np.float32
    h = widen(x, d, f)
    if residual is not None:
        h = h + widen(residual, d, f)
    m, k = h.shape
    lanes = 2048
    rounds = max(1, -(-k // lanes))
    padded = np.zeros((m, rounds * lanes), dtype=f)
    padded[:, :k] = h
    sq_ = padded * padded
    p = np.zeros((m, lanes), dtype=f)
    for i in range(rounds):
        p = p + sq_[:, i * lanes:(i + 1) * lanes]
    s = lanes // 2
    while s >= 1:
        p[:, :s] = p[:, :s] + p[:, s:2 * s]
        s //= 2
    ss = p[:, 0]
    r = f(1.0) / np.sqrt(ss / f(k) + f(eps))
    v = (h * r.reshape(-1, 1)) * widen(norm_weight, d, f).reshape(1, -1)
    if smooth is not None:
        v = v / widen(smooth, smooth_dtype, f).reshape(1, -1)
    return v, narrow(h, d)


_LN2_HI = np.float32(float.fromhex("0x1.62e4p-1"))
_LN2_LO = np.float32(float.fromhex("0x1.7f7d1cp-20"))
_LOG2E = np.float32(float.fromhex("0x1.715476p+0"))
_C = [np.float32(1.0 / math.factorial(j)) for j in range(8)]


def sq_exp(t):
    """The contract's sq_exp (f32), elementwise."""
    f = np.float32
    t = np.asarray(t, dtype=f)
    with np.errstate(all="ignore"):
        n = np.rint(t * _LOG2E)
        r = (t - n * _LN2_HI) - n * _LN2_LO
        p = np.full(t.shape, _C[7], dtype=f)
        for j in range(6, -1, -1):
            p = p * r + _C[j]
        nn = np.where(np.isfinite(n), n, 0).astype(np.int64)
        a = np.trunc(nn / 2).astype(np.int64)
        b = nn - a
        res = (p * np.ldexp(f(1), a.astype(np.int32)).astype(f)) * np.ldexp(f(1), b.astype(np.int32)).astype(f)
    res = np.where(t > f(88.72283935546875), f(np.inf), res)
    res = np.where(t < f(-103.972084045410156), f(0), res)
    res = np.where(np.isnan(t), f(np.nan), res)
    return res.astype(f)


def silu_mul_v(x, d, k, smooth=None, smooth_dtype=None):
    f = np.float32
    xf = widen(x, d, f)
    g, u = xf[:, :k], xf[:, k:2 * k]
    with np.errstate(all="ignore"):
        v = (g / (f(1.0) + sq_exp(-g))) * u
        if smooth is not None:
            v = v / widen(smooth, smooth_dtype, f).reshape(1, -1)
    return v


# ------------------------------------------------------------------ offline helpers
def smooth_factors(act_absmax, weights, wdtypes, alpha):
    f = np.float32
    k = act_absmax.shape[0]
    wmax = np.zeros(k, dtype=f)
    for w, t in zip(weights, wdtypes):
        wmax = np.maximum(wmax, np.max(np.abs(widen(w, t, np.float64)), axis=0).astype(f))
    wmax = np.maximum(f(1e-5), wmax)
    a = float(np.float32(alpha))
    b = float(np.float32(1.0) - np.float32(alpha))
    out = np.empty(k, dtype=f)
    for i in range(k):  # math.pow is the C library's pow, as the library's
        r = math.pow(float(act_absmax[i]), a) / math.pow(float(wmax[i]), b)
        out[i] = max(f(1e-5), f(r))
    return out


def fold(values, t, smooth, divide):
    c = compute_type(t)
    v = widen(values, t, c)
    s = smooth.astype(c)
    return narrow(v / s if divide else v * s, t)


def quantize_weight_per_channel(w, t, s):
    c = compute_type(t)
    v = widen(w, t, c)
    q, scale = quantize_dynamic(v, c, s)
    return q, scale


def static_act_scale(act_absmax, smooth=None):
    f = np.float32
    a = act_absmax.astype(f)
    if smooth is not None:
        a = a / smooth.astype(f)
    return float(np.max(a) / f(127.0))
