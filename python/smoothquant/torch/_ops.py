"""PyTorch custom ops over the plans (namespace ``smoothquant``), with fake kernels.

Each op is defined with ``torch.library`` (functional: fresh outputs, no mutation, no alias) with a
``register_fake`` shape function, so ``torch.compile(fullgraph=True)`` traces it as one opaque node
and ``torch.export`` can export it. CPU tensors run on the host reference plan, CUDA tensors on the
GPU plan of their device, on PyTorch's current stream, allocating their outputs and workspace with
PyTorch's caching allocator (which a CUDA-graph capture redirects to the graph's pool), never
synchronizing. Plans are cached per (op, N, K, dtypes, scalars, device) and M bucket (the next power
of two >= M, at least 16), and built outside the hot path: a module builds its plans when it is
created or moved, a first call of a new shape class builds one (never during a capture if the
module was run once before it).
"""

import ctypes
import threading
from typing import Optional, Tuple

import torch

from .. import _arrays
from .._abi import DType, Op, PlanFlag, QuantMode, RunArgs
from .._errors import bad_argument, bad_dtype
from .._plan import Plan, check

_ARGS_SIZE = ctypes.sizeof(RunArgs)
_get_raw_stream = getattr(torch._C, "_cuda_getCurrentRawStream", None)


def _stream(dev):
    if dev.type != "cuda":
        return None
    idx = dev.index if dev.index is not None else torch.cuda.current_device()
    if _get_raw_stream is not None:
        return _get_raw_stream(idx) or None
    return torch.cuda.current_stream(idx).cuda_stream or None


def _sq(dtype, name):
    d = _arrays._torch_dtypes().get(dtype)
    if d is None:
        raise bad_dtype(name, f"has dtype {dtype}, which this library has no use for")
    return d


def _bucket(m):
    b = 16
    while b < m:
        b *= 2
    return b


class PlanCache:
    """Plans by key, each with the largest max_m built so far; thread-safe."""

    def __init__(self):
        self._plans = {}
        self._lock = threading.Lock()

    def get(self, key, m, build):
        plans = self._plans.get(key)
        if plans is not None:
            for p in plans:
                if p.max_m >= m:
                    return p
        with self._lock:
            plans = self._plans.get(key)
            if plans is not None:
                for p in plans:
                    if p.max_m >= m:
                        return p
            p = build(_bucket(m))
            self._plans[key] = sorted((plans or []) + [p], key=lambda q: q.max_m)
            return p

    def clear(self):
        _FAST_PLANS.clear()
        with self._lock:
            plans, self._plans = self._plans, {}
        for ps in plans.values():
            for p in ps:
                p.close()

    def __len__(self):
        return sum(len(v) for v in self._plans.values())


PLANS = PlanCache()

#: The linears' fast path: (op, N, K, act dtype, weight dtype, T, act_scale, device index, M bucket) of
#: torch dtypes and plain numbers -> plan (one dict lookup; PLANS is the source and the owner).
_FAST_PLANS = {}
_empty = torch.empty


def _fast_linear(op, act, weight, weight_scale, bias, act_scale, act_name="act"):
    """The common linear call (contiguous tensors on one device, no zero points, sums or smoothing),
    checked with attribute reads and run on a plan found by one tuple lookup. None when the call is
    anything else: the op's general body then runs (and words any error)."""
    d = act.get_device()
    if (weight.get_device() != d or weight_scale.get_device() != d
            or not (act.is_contiguous() and weight.is_contiguous() and weight_scale.is_contiguous())):
        return None
    try:
        n, k = weight.shape
    except ValueError:
        return None
    shape = act.shape
    if not shape or shape[-1] != k or k < 1:
        return None
    m = act.numel() // k
    t = weight_scale.dtype
    if m < 1 or weight_scale.numel() != n or t is torch.int32:
        return None
    if bias is not None and (bias.get_device() != d or bias.dtype is not t or bias.numel() != n
                             or not bias.is_contiguous()):
        return None
    bucket = 16 if m <= 16 else 1 << (m - 1).bit_length()
    key = (op, n, k, act.dtype, weight.dtype, t, act_scale, d, bucket)
    plan = _FAST_PLANS.get(key)
    if plan is None or plan._handle is None or m > plan.max_m:
        desc = {"flags": 0}
        if op == Op.SMOOTHQUANT_LINEAR:
            desc.update(act_scale=float(act_scale), act_zero_point=0)
        plan = _linear_plan(op, m, act.device, n, k, _sq(act.dtype, act_name), _sq(weight.dtype, "weight"),
                            _sq(t, "weight_scale"), **desc)
        if plan.max_m >= bucket:
            _FAST_PLANS[key] = plan
    dev = act.device
    nd = len(shape)  # varargs sizes: the cheapest torch.empty call
    if nd == 2:
        out = _empty(shape[0], n, dtype=t, device=dev)
    elif nd == 3:
        out = _empty(shape[0], shape[1], n, dtype=t, device=dev)
    else:
        out = _empty(shape[:-1] + (n,), dtype=t, device=dev)
    a = _new_args(m)
    a.act = act.data_ptr()
    a.weight = weight.data_ptr()
    a.weight_scale = weight_scale.data_ptr()
    a.out = out.data_ptr()
    if m > 1:
        a.ld_act, a.ld_out = k, n
    if n > 1:
        a.ld_weight = k
    if bias is not None:
        a.bias = bias.data_ptr()
    # the workspace and the per-token scale scratch, from PyTorch's allocator (a capture's pool in a graph)
    _run(plan, a, dev, extra_bytes=m * weight_scale.element_size())
    return out

# The ops are defined with torch.library.Library (schema, one Python kernel for the CPU and CUDA
# dispatch keys, a fake kernel): the same compile/export behaviour as torch.library.custom_op, with
# a fraction of its per-call dispatch overhead (custom_op adds a Python autograd layer).
_LIB = torch.library.Library("smoothquant", "DEF")


def _op(schema):
    name = schema.split("(", 1)[0]

    def register(fn):
        _LIB.define(schema)
        _LIB.impl(name, fn, "CPU")
        _LIB.impl(name, fn, "CUDA")
        packet = getattr(torch.ops.smoothquant, name)
        packet.__doc__ = fn.__doc__
        return packet

    return register


def _fake(name):
    def register(fn):
        torch.library.register_fake(f"smoothquant::{name}", fn, lib=_LIB)
        return fn

    return register


def _device_kw(dev):
    if dev.type == "cpu":
        return {"device": "cpu"}
    if dev.type == "cuda":
        return {"device": dev.index if dev.index is not None else torch.cuda.current_device()}
    raise bad_argument("x", f"is on {dev}: the library runs on CPU tensors (host plan) and CUDA tensors")


def _dev_key(dev):
    return -1 if dev.type == "cpu" else (dev.index if dev.index is not None else torch.cuda.current_device())


def _rows(x, name, k):
    """x [..., k] as a 2-D view [M, k] with unit column stride (copies only when it must)."""
    if x.dim() < 1 or x.shape[-1] != k:
        raise bad_argument(name, f"has shape {list(x.shape)}, expected [..., {k}]")
    x2 = x.reshape(-1, k)
    if k > 1 and x2.stride(1) != 1:
        x2 = x2.contiguous()
    if x2.shape[0] > 1 and x2.stride(0) < k:
        x2 = x2.contiguous()
    return x2


def _ld(t):
    return t.stride(0) if t.shape[0] > 1 else 0


def _vec(t, name, n, dtype=None):
    if t.numel() != n:
        raise bad_argument(name, f"has shape {list(t.shape)}, expected {n} elements ([{n}] or [{n}, 1])")
    if dtype is not None and t.dtype != dtype:
        raise bad_dtype(name, f"has dtype {t.dtype}, expected {dtype}")
    if not t.is_contiguous():
        t = t.contiguous()
    return t


def _same_device(dev, **tensors):
    for name, t in tensors.items():
        if t is not None and t.device != dev:
            raise bad_argument(name, f"is on {t.device} but x is on {dev}")


def _run(plan, args, dev, extra_bytes=0):
    """Run with a workspace (+ scratch) from PyTorch's allocator when the plan needs one."""
    ws = plan.workspace_size
    keep = None
    ws_ptr = None
    if ws or extra_bytes:
        ws_al = (ws + 15) // 16 * 16
        keep = torch.empty(ws_al + extra_bytes + 16, dtype=torch.uint8, device=dev)
        base = (keep.data_ptr() + 15) // 16 * 16
        ws_ptr = base if ws else None
        if extra_bytes:
            args.act_scale_scratch = base + ws_al
    st = plan._run_fn(plan._h("sq_plan_run"), _stream(dev), ws_ptr, ws, ctypes.byref(args))
    if st != 0:
        check(st, "sq_plan_run")
    del keep


def _new_args(m):
    a = RunArgs()
    a.struct_size = _ARGS_SIZE
    a.m = m
    return a


def _out_shape(x, last):
    return tuple(x.shape[:-1]) + (last,)


# ------------------------------------------------------------------ linears
def _linear_plan(op, m, dev, n, k, act, w, t, **desc):
    key = (op, n, k, act, w, t, tuple(sorted(desc.items())), _dev_key(dev))

    def build(max_m):
        return Plan(op, n=n, k=k, max_m=max_m, act_dtype=act, weight_dtype=w,
                    scale_dtype=t if t != DType.S32 else DType.INVALID, out_dtype=t, **desc, **_device_kw(dev))

    return PLANS.get(key, m, build)


@_op("smoothquant_linear(Tensor act, Tensor weight, Tensor weight_scale, float act_scale, Tensor? bias=None, int act_zero_point=0, Tensor? weight_zero_point=None, Tensor? weight_sums=None) -> Tensor")
def smoothquant_linear(act: torch.Tensor, weight: torch.Tensor, weight_scale: torch.Tensor, act_scale: float,
                       bias: Optional[torch.Tensor] = None, act_zero_point: int = 0,
                       weight_zero_point: Optional[torch.Tensor] = None,
                       weight_sums: Optional[torch.Tensor] = None) -> torch.Tensor:
    """SQ_OP_SMOOTHQUANT_LINEAR: act int8/uint8 [..., K] x weight [N, K] -> [..., N] of
    weight_scale's dtype, with the static per-tensor ``act_scale`` (and zero point)."""
    if not act_zero_point and weight_zero_point is None and weight_sums is None:
        out = _fast_linear(Op.SMOOTHQUANT_LINEAR, act, weight, weight_scale, bias, act_scale)
        if out is not None:
            return out
    n, k = weight.shape
    dev = act.device
    _same_device(dev, weight=weight, weight_scale=weight_scale, bias=bias, weight_zero_point=weight_zero_point,
                 weight_sums=weight_sums)
    a2 = _rows(act, "act", k)
    m = a2.shape[0]
    t = _sq(weight_scale.dtype, "weight_scale")
    flags = PlanFlag.WEIGHT_ZERO_POINT if weight_zero_point is not None else PlanFlag.NONE
    plan = _linear_plan(Op.SMOOTHQUANT_LINEAR, m, dev, n, k, _sq(act.dtype, "act"), _sq(weight.dtype, "weight"), t,
                        act_scale=float(act_scale), act_zero_point=int(act_zero_point), flags=int(flags))
    out = torch.empty(_out_shape(act, n), dtype=weight_scale.dtype, device=dev)
    w2 = weight if weight.stride(1) == 1 else weight.contiguous()
    args = _new_args(m)
    args.act, args.ld_act = a2.data_ptr(), _ld(a2)
    args.weight, args.ld_weight = w2.data_ptr(), _ld(w2)
    args.weight_scale = _vec(weight_scale, "weight_scale", n).data_ptr()
    args.out = out.data_ptr()
    if bias is not None:
        args.bias = _vec(bias, "bias", n, weight_scale.dtype).data_ptr()
    if weight_zero_point is not None:
        args.weight_zero_point = _vec(weight_zero_point, "weight_zero_point", n, weight.dtype).data_ptr()
    if weight_sums is not None:
        args.weight_sums = _vec(weight_sums, "weight_sums", n, torch.int32).data_ptr()
    _run(plan, args, dev, extra_bytes=m * weight_scale.element_size())
    return out


@_fake("smoothquant_linear")
def _(act, weight, weight_scale, act_scale, bias=None, act_zero_point=0, weight_zero_point=None, weight_sums=None):
    return act.new_empty(_out_shape(act, weight.shape[0]), dtype=weight_scale.dtype)


@_op("int8_matmul(Tensor act, Tensor weight, int act_zero_point=0, Tensor? weight_zero_point=None, Tensor? weight_sums=None) -> Tensor")
def int8_matmul(act: torch.Tensor, weight: torch.Tensor, act_zero_point: int = 0,
                weight_zero_point: Optional[torch.Tensor] = None,
                weight_sums: Optional[torch.Tensor] = None) -> torch.Tensor:
    """SQ_OP_SMOOTHQUANT_LINEAR with out_dtype S32 (0.2): the exact int32 accumulators [..., N]."""
    n, k = weight.shape
    dev = act.device
    _same_device(dev, weight=weight, weight_zero_point=weight_zero_point, weight_sums=weight_sums)
    a2 = _rows(act, "act", k)
    m = a2.shape[0]
    flags = PlanFlag.WEIGHT_ZERO_POINT if weight_zero_point is not None else PlanFlag.NONE
    plan = _linear_plan(Op.SMOOTHQUANT_LINEAR, m, dev, n, k, _sq(act.dtype, "act"), _sq(weight.dtype, "weight"),
                        DType.S32, act_zero_point=int(act_zero_point), flags=int(flags))
    out = torch.empty(_out_shape(act, n), dtype=torch.int32, device=dev)
    w2 = weight if weight.stride(1) == 1 else weight.contiguous()
    args = _new_args(m)
    args.act, args.ld_act = a2.data_ptr(), _ld(a2)
    args.weight, args.ld_weight = w2.data_ptr(), _ld(w2)
    args.out = out.data_ptr()
    if weight_zero_point is not None:
        args.weight_zero_point = _vec(weight_zero_point, "weight_zero_point", n, weight.dtype).data_ptr()
    if weight_sums is not None:
        args.weight_sums = _vec(weight_sums, "weight_sums", n, torch.int32).data_ptr()
    _run(plan, args, dev)
    return out


@_fake("int8_matmul")
def _(act, weight, act_zero_point=0, weight_zero_point=None, weight_sums=None):
    return act.new_empty(_out_shape(act, weight.shape[0]), dtype=torch.int32)


@_op("quantized_linear(Tensor x, Tensor weight, Tensor weight_scale, Tensor? bias=None, Tensor? smooth=None, bool asymmetric=False, Tensor? weight_zero_point=None, Tensor? weight_sums=None) -> Tensor")
def quantized_linear(x: torch.Tensor, weight: torch.Tensor, weight_scale: torch.Tensor,
                     bias: Optional[torch.Tensor] = None, smooth: Optional[torch.Tensor] = None,
                     asymmetric: bool = False, weight_zero_point: Optional[torch.Tensor] = None,
                     weight_sums: Optional[torch.Tensor] = None) -> torch.Tensor:
    """SQ_OP_QUANTIZED_LINEAR: float x [..., K] quantized per token (symmetric int8, or with
    ``asymmetric`` uint8 with zero points: 0.2), then the linear -> [..., N] of weight_scale's dtype."""
    if smooth is None and not asymmetric and weight_zero_point is None and weight_sums is None:
        out = _fast_linear(Op.QUANTIZED_LINEAR, x, weight, weight_scale, bias, 0.0, "x")
        if out is not None:
            return out
    n, k = weight.shape
    dev = x.device
    _same_device(dev, weight=weight, weight_scale=weight_scale, bias=bias, smooth=smooth,
                 weight_zero_point=weight_zero_point, weight_sums=weight_sums)
    x2 = _rows(x, "x", k)
    m = x2.shape[0]
    t = _sq(weight_scale.dtype, "weight_scale")
    flags = PlanFlag.WEIGHT_ZERO_POINT if weight_zero_point is not None else PlanFlag.NONE
    desc = {"flags": int(flags)}
    if asymmetric:
        desc.update(quant_mode=int(QuantMode.DYNAMIC_ASYMMETRIC), quant_dtype=int(DType.U8))
    plan = _linear_plan(Op.QUANTIZED_LINEAR, m, dev, n, k, _sq(x.dtype, "x"), _sq(weight.dtype, "weight"), t, **desc)
    out = torch.empty(_out_shape(x, n), dtype=weight_scale.dtype, device=dev)
    w2 = weight if weight.stride(1) == 1 else weight.contiguous()
    args = _new_args(m)
    args.act, args.ld_act = x2.data_ptr(), _ld(x2)
    args.weight, args.ld_weight = w2.data_ptr(), _ld(w2)
    args.weight_scale = _vec(weight_scale, "weight_scale", n).data_ptr()
    args.out = out.data_ptr()
    if bias is not None:
        args.bias = _vec(bias, "bias", n, weight_scale.dtype).data_ptr()
    if smooth is not None:
        args.smooth = _vec(smooth, "smooth", k, weight_scale.dtype).data_ptr()
    if weight_zero_point is not None:
        args.weight_zero_point = _vec(weight_zero_point, "weight_zero_point", n, weight.dtype).data_ptr()
    if weight_sums is not None:
        args.weight_sums = _vec(weight_sums, "weight_sums", n, torch.int32).data_ptr()
    _run(plan, args, dev, extra_bytes=m * weight_scale.element_size())
    return out


@_fake("quantized_linear")
def _(x, weight, weight_scale, bias=None, smooth=None, asymmetric=False, weight_zero_point=None, weight_sums=None):
    return x.new_empty(_out_shape(x, weight.shape[0]), dtype=weight_scale.dtype)


@_op("scaled_linear(Tensor act, Tensor act_scale, Tensor weight, Tensor weight_scale, Tensor? bias=None, Tensor? act_zero_point=None, Tensor? weight_zero_point=None, Tensor? weight_sums=None) -> Tensor")
def scaled_linear(act: torch.Tensor, act_scale: torch.Tensor, weight: torch.Tensor, weight_scale: torch.Tensor,
                  bias: Optional[torch.Tensor] = None, act_zero_point: Optional[torch.Tensor] = None,
                  weight_zero_point: Optional[torch.Tensor] = None,
                  weight_sums: Optional[torch.Tensor] = None) -> torch.Tensor:
    """SQ_OP_SCALED_LINEAR (0.2): int8/uint8 act [..., K] with the caller's scales: ``act_scale``
    per token ([M]) or per tensor (one element, read when the run executes)."""
    n, k = weight.shape
    dev = act.device
    _same_device(dev, act_scale=act_scale, weight=weight, weight_scale=weight_scale, bias=bias,
                 act_zero_point=act_zero_point, weight_zero_point=weight_zero_point, weight_sums=weight_sums)
    a2 = _rows(act, "act", k)
    m = a2.shape[0]
    t = _sq(weight_scale.dtype, "weight_scale")
    flags = PlanFlag.NONE
    per_tensor = act_scale.numel() == 1 and m != 1
    if per_tensor:
        flags |= PlanFlag.PER_TENSOR_ACT_SCALE
    if act_zero_point is not None:
        flags |= PlanFlag.ACT_ZERO_POINT
    if weight_zero_point is not None:
        flags |= PlanFlag.WEIGHT_ZERO_POINT
    plan = _linear_plan(Op.SCALED_LINEAR, m, dev, n, k, _sq(act.dtype, "act"), _sq(weight.dtype, "weight"), t,
                        flags=int(flags))
    out = torch.empty(_out_shape(act, n), dtype=weight_scale.dtype, device=dev)
    w2 = weight if weight.stride(1) == 1 else weight.contiguous()
    args = _new_args(m)
    args.act, args.ld_act = a2.data_ptr(), _ld(a2)
    args.act_scale = _vec(act_scale, "act_scale", 1 if per_tensor else m, weight_scale.dtype).data_ptr()
    args.weight, args.ld_weight = w2.data_ptr(), _ld(w2)
    args.weight_scale = _vec(weight_scale, "weight_scale", n).data_ptr()
    args.out = out.data_ptr()
    if bias is not None:
        args.bias = _vec(bias, "bias", n, weight_scale.dtype).data_ptr()
    if act_zero_point is not None:
        args.act_zero_point = _vec(act_zero_point, "act_zero_point", m, act.dtype).data_ptr()
    if weight_zero_point is not None:
        args.weight_zero_point = _vec(weight_zero_point, "weight_zero_point", n, weight.dtype).data_ptr()
    if weight_sums is not None:
        args.weight_sums = _vec(weight_sums, "weight_sums", n, torch.int32).data_ptr()
    _run(plan, args, dev)
    return out


@_fake("scaled_linear")
def _(act, act_scale, weight, weight_scale, bias=None, act_zero_point=None, weight_zero_point=None,
      weight_sums=None):
    return act.new_empty(_out_shape(act, weight.shape[0]), dtype=weight_scale.dtype)


@_op("scale_accumulators(Tensor acc, Tensor act_scale, Tensor weight_scale, Tensor? bias=None) -> Tensor")
def scale_accumulators(acc: torch.Tensor, act_scale: torch.Tensor, weight_scale: torch.Tensor,
                       bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """SQ_OP_SCALE_ACCUMULATORS (0.2): the linears' epilogue on int32 accumulators [..., N]."""
    n = weight_scale.numel()
    dev = acc.device
    _same_device(dev, act_scale=act_scale, weight_scale=weight_scale, bias=bias)
    if acc.dtype != torch.int32:
        raise bad_dtype("acc", f"has dtype {acc.dtype}, expected torch.int32")
    a2 = _rows(acc, "acc", n)
    m = a2.shape[0]
    t = _sq(weight_scale.dtype, "weight_scale")
    per_tensor = act_scale.numel() == 1 and m != 1
    key = (Op.SCALE_ACCUMULATORS, n, t, per_tensor, _dev_key(dev))
    plan = PLANS.get(key, m, lambda max_m: Plan.scale_accumulators(n, max_m, out_dtype=t,
                                                                    per_tensor_act_scale=per_tensor,
                                                                    **_device_kw(dev)))
    out = torch.empty(_out_shape(acc, n), dtype=weight_scale.dtype, device=dev)
    args = _new_args(m)
    args.act, args.ld_act = a2.data_ptr(), _ld(a2)
    args.act_scale = _vec(act_scale, "act_scale", 1 if per_tensor else m, weight_scale.dtype).data_ptr()
    args.weight_scale = _vec(weight_scale, "weight_scale", n).data_ptr()
    args.out = out.data_ptr()
    if bias is not None:
        args.bias = _vec(bias, "bias", n, weight_scale.dtype).data_ptr()
    _run(plan, args, dev)
    return out


@_fake("scale_accumulators")
def _(acc, act_scale, weight_scale, bias=None):
    return acc.new_empty(_out_shape(acc, weight_scale.numel()), dtype=weight_scale.dtype)


# ------------------------------------------------------------------ quantizers
def _quant_plan(op, m, dev, k, x, q, s, **desc):
    key = (op, k, x, q, s, tuple(sorted(desc.items())), _dev_key(dev))
    return PLANS.get(key, m, lambda max_m: Plan(op, k=k, max_m=max_m, act_dtype=x, out_dtype=q, scale_dtype=s,
                                                **desc, **_device_kw(dev)))


def _scale_dtype(x, scale_dtype):
    return scale_dtype if scale_dtype is not None else x.dtype


@_op("quantize_static(Tensor x, float act_scale, int act_zero_point=0, Tensor? smooth=None, bool unsigned=False) -> Tensor")
def quantize_static(x: torch.Tensor, act_scale: float, act_zero_point: int = 0,
                    smooth: Optional[torch.Tensor] = None, unsigned: bool = False) -> torch.Tensor:
    """SQ_OP_QUANTIZE_STATIC: x [..., K] -> int8 (uint8 with ``unsigned``: 0.2) with a static scale."""
    k = x.shape[-1]
    dev = x.device
    _same_device(dev, smooth=smooth)
    x2 = _rows(x, "x", k)
    m = x2.shape[0]
    q = torch.uint8 if unsigned else torch.int8
    sd = _sq(smooth.dtype, "smooth") if smooth is not None else DType.INVALID
    plan = _quant_plan(Op.QUANTIZE_STATIC, m, dev, k, _sq(x.dtype, "x"), _sq(q, "q"), sd,
                       act_scale=float(act_scale), act_zero_point=int(act_zero_point))
    out = torch.empty(x.shape, dtype=q, device=dev)
    args = _new_args(m)
    args.act, args.ld_act = x2.data_ptr(), _ld(x2)
    args.out = out.data_ptr()
    if smooth is not None:
        args.smooth = _vec(smooth, "smooth", k).data_ptr()
    _run(plan, args, dev)
    return out


@_fake("quantize_static")
def _(x, act_scale, act_zero_point=0, smooth=None, unsigned=False):
    return x.new_empty(x.shape, dtype=torch.uint8 if unsigned else torch.int8)


def _dynamic(op, x, k, smooth, scale_dtype, mode, q_dtype=torch.int8, absmax=None, norm_weight=None, eps=0.0,
             residual=None):
    dev = x.device
    _same_device(dev, smooth=smooth, absmax=absmax, norm_weight=norm_weight, residual=residual)
    x2 = _rows(x, "x", 2 * k if op == Op.SILU_MUL_QUANTIZE else k)
    m = x2.shape[0]
    sdt = _scale_dtype(x, scale_dtype)
    desc = {"quant_mode": int(mode)}
    if op == Op.RMSNORM_QUANTIZE:
        desc["eps"] = float(eps)
    plan = _quant_plan(op, m, dev, k, _sq(x.dtype, "x"), _sq(q_dtype, "q"), _sq(sdt, "scale_dtype"), **desc)
    args = _new_args(m)
    args.act, args.ld_act = x2.data_ptr(), _ld(x2)
    outs = []
    lead = tuple(x.shape[:-1])
    if mode == QuantMode.ABSMAX:
        am = torch.empty(lead, dtype=torch.float64 if x.dtype == torch.float64 else torch.float32, device=dev)
        args.absmax = am.data_ptr()
        outs.append(am)
    else:
        q = torch.empty(lead + (k,), dtype=q_dtype, device=dev)
        scale = torch.empty(lead, dtype=sdt, device=dev)
        args.out = q.data_ptr()
        args.act_scale_scratch = scale.data_ptr()
        outs += [q, scale]
        if mode == QuantMode.DYNAMIC_ASYMMETRIC:
            zp = torch.empty(lead, dtype=q_dtype, device=dev)
            args.act_zero_point = zp.data_ptr()
            outs.append(zp)
        if mode == QuantMode.FROM_ABSMAX:
            c = torch.float64 if x.dtype == torch.float64 else torch.float32
            args.absmax = _vec(absmax, "absmax", m, c).data_ptr()
    if smooth is not None:
        args.smooth = _vec(smooth, "smooth", k, sdt).data_ptr()
    if norm_weight is not None:
        args.norm_weight = _vec(norm_weight, "norm_weight", k, x.dtype).data_ptr()
    if residual is not None:
        r2 = _rows(residual, "residual", k)
        if r2.shape[0] != m:
            raise bad_argument("residual", f"has {r2.shape[0]} rows, x has {m}")
        h = torch.empty(lead + (k,), dtype=x.dtype, device=dev)
        args.residual, args.ld_residual = r2.data_ptr(), _ld(r2)
        args.residual_out = h.data_ptr()
        outs.append(h)
    _run(plan, args, dev)
    return tuple(outs)


@_op("quantize_dynamic(Tensor x, Tensor? smooth=None, ScalarType? scale_dtype=None) -> (Tensor, Tensor)")
def quantize_dynamic(x: torch.Tensor, smooth: Optional[torch.Tensor] = None,
                     scale_dtype: Optional[torch.dtype] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """SQ_OP_QUANTIZE_DYNAMIC (symmetric per token): x [..., K] -> (int8 q [..., K], scales [...])."""
    return _dynamic(Op.QUANTIZE_DYNAMIC, x, x.shape[-1], smooth, scale_dtype, QuantMode.DYNAMIC)


@_fake("quantize_dynamic")
def _(x, smooth=None, scale_dtype=None):
    return (x.new_empty(x.shape, dtype=torch.int8), x.new_empty(x.shape[:-1], dtype=_scale_dtype(x, scale_dtype)))


@_op("quantize_dynamic_asymmetric(Tensor x, Tensor? smooth=None, ScalarType? scale_dtype=None, bool unsigned=True) -> (Tensor, Tensor, Tensor)")
def quantize_dynamic_asymmetric(x: torch.Tensor, smooth: Optional[torch.Tensor] = None,
                                scale_dtype: Optional[torch.dtype] = None,
                                unsigned: bool = True) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """SQ_QUANT_DYNAMIC_ASYMMETRIC (0.2): x -> (q [..., K], scales [...], zero points [...])."""
    return _dynamic(Op.QUANTIZE_DYNAMIC, x, x.shape[-1], smooth, scale_dtype, QuantMode.DYNAMIC_ASYMMETRIC,
                    torch.uint8 if unsigned else torch.int8)


@_fake("quantize_dynamic_asymmetric")
def _(x, smooth=None, scale_dtype=None, unsigned=True):
    q = torch.uint8 if unsigned else torch.int8
    return (x.new_empty(x.shape, dtype=q), x.new_empty(x.shape[:-1], dtype=_scale_dtype(x, scale_dtype)),
            x.new_empty(x.shape[:-1], dtype=q))


@_op("token_absmax(Tensor x, Tensor? smooth=None, ScalarType? scale_dtype=None) -> Tensor")
def token_absmax(x: torch.Tensor, smooth: Optional[torch.Tensor] = None,
                 scale_dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """SQ_QUANT_ABSMAX (0.2): per-token max |v| [...] (f32, f64 for f64 x): tensor parallelism's
    first step (a max over the ranks, then quantize_from_absmax)."""
    return _dynamic(Op.QUANTIZE_DYNAMIC, x, x.shape[-1], smooth, scale_dtype, QuantMode.ABSMAX)[0]


@_fake("token_absmax")
def _(x, smooth=None, scale_dtype=None):
    return x.new_empty(x.shape[:-1], dtype=torch.float64 if x.dtype == torch.float64 else torch.float32)


@_op("quantize_from_absmax(Tensor x, Tensor absmax, Tensor? smooth=None, ScalarType? scale_dtype=None) -> (Tensor, Tensor)")
def quantize_from_absmax(x: torch.Tensor, absmax: torch.Tensor, smooth: Optional[torch.Tensor] = None,
                         scale_dtype: Optional[torch.dtype] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """SQ_QUANT_FROM_ABSMAX (0.2): the symmetric per-token quantizer with the caller's abs-max."""
    return _dynamic(Op.QUANTIZE_DYNAMIC, x, x.shape[-1], smooth, scale_dtype, QuantMode.FROM_ABSMAX,
                    absmax=absmax.reshape(-1))


@_fake("quantize_from_absmax")
def _(x, absmax, smooth=None, scale_dtype=None):
    return (x.new_empty(x.shape, dtype=torch.int8), x.new_empty(x.shape[:-1], dtype=_scale_dtype(x, scale_dtype)))


@_op("rmsnorm_quantize(Tensor x, Tensor norm_weight, float eps, Tensor? smooth=None, ScalarType? scale_dtype=None) -> (Tensor, Tensor)")
def rmsnorm_quantize(x: torch.Tensor, norm_weight: torch.Tensor, eps: float, smooth: Optional[torch.Tensor] = None,
                     scale_dtype: Optional[torch.dtype] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """SQ_OP_RMSNORM_QUANTIZE (0.2): RMSNorm(x) * norm_weight [/ smooth] -> (int8 q, per-token scales)."""
    return _dynamic(Op.RMSNORM_QUANTIZE, x, x.shape[-1], smooth, scale_dtype or torch.float32, QuantMode.DYNAMIC,
                    norm_weight=norm_weight, eps=eps)


@_fake("rmsnorm_quantize")
def _(x, norm_weight, eps, smooth=None, scale_dtype=None):
    return (x.new_empty(x.shape, dtype=torch.int8), x.new_empty(x.shape[:-1], dtype=scale_dtype or torch.float32))


@_op("add_rmsnorm_quantize(Tensor x, Tensor residual, Tensor norm_weight, float eps, Tensor? smooth=None, ScalarType? scale_dtype=None) -> (Tensor, Tensor, Tensor)")
def add_rmsnorm_quantize(x: torch.Tensor, residual: torch.Tensor, norm_weight: torch.Tensor, eps: float,
                         smooth: Optional[torch.Tensor] = None, scale_dtype: Optional[torch.dtype] = None
                         ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """SQ_OP_RMSNORM_QUANTIZE with a residual (0.2): h = x + residual, then RMSNorm and the
    quantizer -> (q, scales, h)."""
    return _dynamic(Op.RMSNORM_QUANTIZE, x, x.shape[-1], smooth, scale_dtype or torch.float32, QuantMode.DYNAMIC,
                    norm_weight=norm_weight, eps=eps, residual=residual)


@_fake("add_rmsnorm_quantize")
def _(x, residual, norm_weight, eps, smooth=None, scale_dtype=None):
    return (x.new_empty(x.shape, dtype=torch.int8), x.new_empty(x.shape[:-1], dtype=scale_dtype or torch.float32),
            x.new_empty(x.shape))


@_op("silu_mul_quantize(Tensor x, Tensor? smooth=None, ScalarType? scale_dtype=None) -> (Tensor, Tensor)")
def silu_mul_quantize(x: torch.Tensor, smooth: Optional[torch.Tensor] = None,
                      scale_dtype: Optional[torch.dtype] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """SQ_OP_SILU_MUL_QUANTIZE (0.2): x [..., 2K] (gate | up) -> silu(gate) * up -> (int8 q [..., K],
    per-token scales)."""
    if x.shape[-1] % 2:
        raise bad_argument("x", f"has {x.shape[-1]} columns: expected 2K (gate then up)")
    k = x.shape[-1] // 2
    return _dynamic(Op.SILU_MUL_QUANTIZE, x, k, smooth, scale_dtype or torch.float32, QuantMode.DYNAMIC)


@_fake("silu_mul_quantize")
def _(x, smooth=None, scale_dtype=None):
    k = x.shape[-1] // 2
    return (x.new_empty(tuple(x.shape[:-1]) + (k,), dtype=torch.int8),
            x.new_empty(x.shape[:-1], dtype=scale_dtype or torch.float32))


#: Every op of this module by name (tests run torch.library.opcheck over them).
OPS = {
    "smoothquant_linear": smoothquant_linear, "int8_matmul": int8_matmul, "quantized_linear": quantized_linear,
    "scaled_linear": scaled_linear, "scale_accumulators": scale_accumulators, "quantize_static": quantize_static,
    "quantize_dynamic": quantize_dynamic, "quantize_dynamic_asymmetric": quantize_dynamic_asymmetric,
    "token_absmax": token_absmax, "quantize_from_absmax": quantize_from_absmax,
    "rmsnorm_quantize": rmsnorm_quantize, "add_rmsnorm_quantize": add_rmsnorm_quantize,
    "silu_mul_quantize": silu_mul_quantize,
}
