"""The offline helpers (host only): smoothing factors, folding them into norms and weights,
per-channel weight quantization, the static activation scale, weight sums (formulas at their
declarations in smoothquant.h). They take host arrays (NumPy or CPU tensors) and return arrays
of the same library."""

import ctypes

from . import _arrays, _lib
from ._abi import DType, MatrixView, Status
from ._arrays import HOST, as_arr
from ._errors import NotSupportedError, bad_argument, bad_dtype
from ._plan import check

_FLOAT = (DType.F32, DType.F64, DType.F16, DType.BF16)
_VIEW_SIZE = ctypes.sizeof(MatrixView)


def _arr(x, name, fn, dtypes=None, writable=False):
    a = as_arr(x, name)
    if a.device != HOST:
        raise bad_argument(name, f"is in CUDA memory: {fn} runs on the host (copy it to the CPU first)",
                           Status.WRONG_MEMORY_SPACE, fn)
    if a.dtype == _arrays.BF16_BITS:
        a.dtype = DType.BF16
    if dtypes is not None and a.dtype not in dtypes:
        raise bad_dtype(name, f"has dtype {_arrays.DTYPE_NAMES.get(a.dtype, a.dtype)}, expected one of "
                              f"{', '.join(_arrays.DTYPE_NAMES[d] for d in dtypes)}", fn)
    if writable and a.readonly:
        raise bad_argument(name, "is read-only, but the helper writes it in place", function=fn)
    return a


def _vector(x, name, fn, length=None, dtypes=(DType.F32,), writable=False):
    a = _arr(x, name, fn, dtypes, writable)
    numel = 1
    for n in a.shape:
        numel *= n
    if length is not None and numel != length:
        raise bad_argument(name, f"has {numel} elements (shape {list(a.shape)}), expected {length}", function=fn)
    expect = 1
    for dim, st in zip(reversed(a.shape), reversed(a.strides)):
        if dim != 1 and st != expect:
            raise bad_argument(name, f"has strides {list(a.strides)}: it must be contiguous", function=fn)
        expect *= dim
    return a, numel


def _matrix(x, name, fn, dtypes, cols=None, writable=False):
    a = _arr(x, name, fn, dtypes, writable)
    if len(a.shape) != 2:
        raise bad_argument(name, f"has shape {list(a.shape)}: expected a matrix [rows, cols]", function=fn)
    rows, c = a.shape
    if cols is not None and c != cols:
        raise bad_argument(name, f"has {c} columns, expected {cols}", function=fn)
    if c > 1 and a.strides[1] != 1:
        raise bad_argument(name, f"has strides {list(a.strides)}: rows must be contiguous (.contiguous())",
                           function=fn)
    ld = a.strides[0] if rows > 1 else c
    if ld < c:
        raise bad_argument(name, f"has row stride {ld}, smaller than its {c} columns", function=fn)
    return a, rows, c, ld


def _view(a, rows, cols, ld):
    v = MatrixView()
    v.struct_size = _VIEW_SIZE
    v.dtype = int(a.dtype)
    v.rows, v.cols, v.ld = rows, cols, ld
    v.data = a.ptr
    return v


def _like_empty(a, shape, dtype):
    return _arrays.empty(a, shape, dtype)


def smooth_factors(act_absmax, weights, alpha):
    """sq_smooth_factors: the [K] f32 smoothing factors of the linears that share one input.

    ``act_absmax``: [K] float32 calibration max |X_k|; ``weights``: the linears' weights, each
    [rows, K] (F32/F64/F16/BF16); ``alpha`` in [0, 1]. Returns a new [K] float32 array."""
    fn = "sq_smooth_factors"
    lib = _lib.load()
    a, k = _vector(act_absmax, "act_absmax", fn)
    if isinstance(weights, (list, tuple)):
        ws = list(weights)
    else:
        ws = [weights]
    if not ws:
        raise bad_argument("weights", "is empty: give at least one weight", function=fn)
    views = (MatrixView * len(ws))()
    keep = []
    for i, w in enumerate(ws):
        wa, rows, cols, ld = _matrix(w, f"weights[{i}]", fn, _FLOAT, cols=k)
        views[i] = _view(wa, rows, cols, ld)
        keep.append(wa)
    out = _like_empty(a, (k,), DType.F32)
    o = as_arr(out, "smooth_out")
    check(lib.sq_smooth_factors(k, a.ptr, views, len(ws), float(alpha), o.ptr), fn)
    del keep
    return out


def smooth_apply_to_norm(smooth, norm_weight, norm_bias=None):
    """sq_smooth_apply_to_norm, in place: norm_weight[k] /= smooth[k] (and norm_bias), in the norm's
    dtype. Returns norm_weight."""
    fn = "sq_smooth_apply_to_norm"
    lib = _lib.load()
    s, k = _vector(smooth, "smooth", fn)
    w, kw = _vector(norm_weight, "norm_weight", fn, k, _FLOAT, writable=True)
    b_ptr = None
    if norm_bias is not None:
        b, _ = _vector(norm_bias, "norm_bias", fn, k, (w.dtype,), writable=True)
        b_ptr = b.ptr
    check(lib.sq_smooth_apply_to_norm(k, s.ptr, int(w.dtype), w.ptr, b_ptr), fn)
    return norm_weight


def smooth_apply_to_weight(smooth, weight):
    """sq_smooth_apply_to_weight, in place: W[n,k] *= smooth[k] in W's dtype. Returns weight."""
    fn = "sq_smooth_apply_to_weight"
    lib = _lib.load()
    s, k = _vector(smooth, "smooth", fn)
    w, rows, cols, ld = _matrix(weight, "weight", fn, _FLOAT, cols=k, writable=True)
    check(lib.sq_smooth_apply_to_weight(k, s.ptr, int(w.dtype), rows, ld, w.ptr), fn)
    return weight


def quantize_weight_per_channel(weight, scale_dtype=None):
    """sq_quantize_weight_per_channel: symmetric int8 per output channel.
    Returns (q int8 [N, K], scale [N] of scale_dtype (default: the weight's dtype))."""
    fn = "sq_quantize_weight_per_channel"
    lib = _lib.load()
    w, rows, cols, ld = _matrix(weight, "weight", fn, _FLOAT)
    sd = w.dtype if scale_dtype is None else _arrays.to_dtype(scale_dtype, "scale_dtype")
    q = _like_empty(w, (rows, cols), DType.S8)
    scale = _like_empty(w, (rows,), sd)
    v = _view(w, rows, cols, ld)
    check(lib.sq_quantize_weight_per_channel(ctypes.byref(v), as_arr(q, "q_out").ptr, cols, int(sd),
                                             as_arr(scale, "scale_out").ptr), fn)
    return q, scale


def static_act_scale(act_absmax, smooth=None):
    """sq_static_act_scale: max_k(act_absmax[k] / smooth[k]) / 127 (f32), as a Python float."""
    fn = "sq_static_act_scale"
    lib = _lib.load()
    a, k = _vector(act_absmax, "act_absmax", fn)
    s_ptr = None
    if smooth is not None:
        s, _ = _vector(smooth, "smooth", fn, k)
        s_ptr = s.ptr
    out = ctypes.c_double(0.0)
    check(lib.sq_static_act_scale(k, a.ptr, s_ptr, ctypes.byref(out)), fn)
    return out.value


def _need(lib, name):
    if getattr(lib, name) is None:
        raise NotSupportedError(Status.NOT_SUPPORTED, f"the loaded library ({lib.version}, {lib.path}) does not "
                                                      f"export {name} (a 0.2 helper)", name)


def weight_sums(weight_q):
    """sq_weight_sums (0.2): int32 [N] row sums of a quantized weight (S8 or U8) [N, K]."""
    fn = "sq_weight_sums"
    lib = _lib.load()
    _need(lib, fn)
    w, rows, cols, ld = _matrix(weight_q, "weight_q", fn, (DType.S8, DType.U8))
    out = _like_empty(w, (rows,), DType.S32)
    v = _view(w, rows, cols, ld)
    check(lib.sq_weight_sums(ctypes.byref(v), as_arr(out, "sums_out").ptr), fn)
    return out


def quantize_weight_per_channel_asymmetric(weight, q_dtype=DType.U8, scale_dtype=None):
    """sq_quantize_weight_per_channel_asymmetric (0.2): per output channel min/max.
    Returns (q [N, K] of q_dtype (U8 or S8), scale [N], zero_point [N] of q_dtype)."""
    fn = "sq_quantize_weight_per_channel_asymmetric"
    lib = _lib.load()
    _need(lib, fn)
    w, rows, cols, ld = _matrix(weight, "weight", fn, _FLOAT)
    qd = _arrays.to_dtype(q_dtype, "q_dtype")
    sd = w.dtype if scale_dtype is None else _arrays.to_dtype(scale_dtype, "scale_dtype")
    q = _like_empty(w, (rows, cols), qd)
    scale = _like_empty(w, (rows,), sd)
    zp = _like_empty(w, (rows,), qd)
    v = _view(w, rows, cols, ld)
    check(lib.sq_quantize_weight_per_channel_asymmetric(ctypes.byref(v), int(qd), as_arr(q, "q_out").ptr, cols,
                                                        int(sd), as_arr(scale, "scale_out").ptr,
                                                        as_arr(zp, "zero_point_out").ptr), fn)
    return q, scale, zp
