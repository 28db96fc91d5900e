"""SmoothQuantLinear: an nn.Module that runs a W8A8 linear through the library."""

import ctypes

import torch
from torch import nn

from .. import _offline
from .._abi import DType, Op, PlanFlag, QuantMode, RunArgs
from . import _ops

_MODES = ("static", "dynamic")
_ZERO_ARGS = bytes(_ops._new_args(0))  # struct_size set, everything else 0


def _cpu_float(t):
    return t.detach().to("cpu").contiguous()


class SmoothQuantLinear(nn.Module):
    """y = W8A8(x) for x [..., in_features] -> [..., out_features] (the output dtype is the
    weight scale's, the original linear's dtype).

    ``mode="static"``: x is quantized with one per-tensor scale (``input_scale``, from calibration)
    by SQ_OP_QUANTIZE_STATIC, then SQ_OP_SMOOTHQUANT_LINEAR. ``mode="dynamic"``: per-token scales
    computed on the fly, fused in SQ_OP_QUANTIZED_LINEAR (``asymmetric=True``: uint8 activations
    with per-token zero points, 0.2). ``weight_asymmetric=True`` quantizes the weight with
    per-channel zero points (0.2).

    Buffers (the compressed-tensors names): ``weight`` int8 [N, K] (uint8 when weight_asymmetric),
    ``weight_scale`` [N], ``input_scale`` [1] float32 (static), ``bias`` [N], ``weight_zero_point``
    [N] and ``weight_sums`` [N] int32 (zero-point plans). Eager calls go straight to the plan (a
    few microseconds of Python); under torch.compile the forward uses the ``smoothquant::`` custom
    ops, so the graph has no break.
    """

    def __init__(self, in_features, out_features, bias=True, *, mode="dynamic", act_scale=None, act_zero_point=0,
                 dtype=torch.float16, device=None, asymmetric=False, weight_asymmetric=False, max_m=4096):
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"mode is {mode!r}: expected 'static' or 'dynamic'")
        if mode == "static" and act_scale is None:
            raise ValueError("mode='static' needs act_scale (from calibration: sq.static_act_scale)")
        if asymmetric and mode != "dynamic":
            raise ValueError("asymmetric (per-token zero points) is a dynamic mode: for static, pass act_zero_point")
        self.in_features, self.out_features = in_features, out_features
        self.mode, self.asymmetric, self.weight_asymmetric = mode, asymmetric, weight_asymmetric
        self.act_scale = float(act_scale) if act_scale is not None else None
        self.act_zero_point = int(act_zero_point)
        self.max_m = int(max_m)
        wdt = torch.uint8 if weight_asymmetric else torch.int8
        self.register_buffer("weight", torch.zeros((out_features, in_features), dtype=wdt, device=device))
        self.register_buffer("weight_scale", torch.ones((out_features,), dtype=dtype, device=device))
        self.register_buffer("bias", torch.zeros((out_features,), dtype=dtype, device=device) if bias else None)
        self.register_buffer("input_scale", torch.tensor([self.act_scale], dtype=torch.float32, device=device)
                             if mode == "static" else None)
        self.register_buffer("input_zero_point", torch.tensor([self.act_zero_point], dtype=torch.int32,
                                                              device=device)
                             if mode == "static" and act_zero_point else None)
        zp = weight_asymmetric
        self.register_buffer("weight_zero_point", torch.zeros((out_features,), dtype=wdt, device=device)
                             if zp else None)
        needs_sums = zp or asymmetric or act_zero_point != 0
        self.register_buffer("weight_sums", torch.zeros((out_features,), dtype=torch.int32, device=device)
                             if needs_sums else None)
        self._fast = None

    # ------------------------------------------------------------ construction
    @classmethod
    def from_linear(cls, linear, *, mode="dynamic", act_absmax=None, input_smoothing=None, act_scale=None,
                    asymmetric=False, weight_asymmetric=False, max_m=4096):
        """Quantize an ``nn.Linear`` (its weight as it is: fold any smoothing into it first).

        ``act_absmax``: the calibrated per-channel max |x| of the linear's input *before* smoothing
        ([K] float32, from :func:`calibrate`); ``input_smoothing``: the factors folded into the
        preceding op (the linear sees x / s), so the static scale is max_k(absmax / s) / 127
        (sq_static_act_scale). ``act_scale`` overrides the static scale."""
        w = _cpu_float(linear.weight)
        dtype = linear.weight.dtype
        if mode == "static" and act_scale is None:
            if act_absmax is None:
                raise ValueError("mode='static' needs act_absmax (calibrate()) or act_scale")
            smooth = None if input_smoothing is None else _cpu_float(input_smoothing).float()
            act_scale = _offline.static_act_scale(_cpu_float(act_absmax).float(), smooth)
        mod = cls(linear.in_features, linear.out_features, linear.bias is not None, mode=mode, act_scale=act_scale,
                  dtype=dtype, device=linear.weight.device, asymmetric=asymmetric,
                  weight_asymmetric=weight_asymmetric, max_m=max_m)
        if weight_asymmetric:
            q, scale, zp = _offline.quantize_weight_per_channel_asymmetric(w, "uint8", scale_dtype=dtype)
            mod.weight_zero_point.copy_(zp)
        else:
            q, scale = _offline.quantize_weight_per_channel(w, scale_dtype=dtype)
        mod.weight.copy_(q)
        mod.weight_scale.copy_(scale)
        if mod.weight_sums is not None:
            mod.weight_sums.copy_(_offline.weight_sums(q))
        if linear.bias is not None:
            mod.bias.copy_(linear.bias.detach())
        return mod

    def extra_repr(self):
        extra = ", asymmetric" if self.asymmetric else ""
        extra += ", weight_asymmetric" if self.weight_asymmetric else ""
        scale = f", act_scale={self.act_scale:.6g}" if self.mode == "static" else ""
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"mode={self.mode}{scale}{extra}, dtype={self.weight_scale.dtype}")

    def _apply(self, fn, *args, **kwargs):
        self._fast = None  # plans follow the device
        return super()._apply(fn, *args, **kwargs)

    # ------------------------------------------------------------ forward
    def forward(self, x):
        if torch.compiler.is_compiling() or not isinstance(x, torch.Tensor) or type(x) is not torch.Tensor:
            return self._forward_ops(x)
        return self._forward_fast(x)

    def _forward_ops(self, x):
        wz = self.weight_zero_point
        # weight sums go to the runs whose activations have zero points (the header's rule)
        sums = self.weight_sums if (self.asymmetric or self.act_zero_point) else None
        if self.mode == "static":
            q = _ops.quantize_static(x, self.act_scale, self.act_zero_point)
            return _ops.smoothquant_linear(q, self.weight, self.weight_scale, self.act_scale, self.bias,
                                           self.act_zero_point, wz, sums)
        return _ops.quantized_linear(x, self.weight, self.weight_scale, self.bias, None, self.asymmetric, wz, sums)

    def _plans(self, dev, x_dtype, m):
        """(linear plan, quantize plan or None), built for max(max_m, m) rows, cached per device."""
        n, k = self.out_features, self.in_features
        t = _ops._sq(self.weight_scale.dtype, "weight_scale")
        w = _ops._sq(self.weight.dtype, "weight")
        flags = int(PlanFlag.WEIGHT_ZERO_POINT) if self.weight_zero_point is not None else 0
        rows = max(self.max_m, m)
        if self.mode == "static":
            lin = _ops._linear_plan(Op.SMOOTHQUANT_LINEAR, rows, dev, n, k, DType.S8, w, t,
                                    act_scale=self.act_scale, act_zero_point=self.act_zero_point, flags=flags)
            qp = _ops._quant_plan(Op.QUANTIZE_STATIC, rows, dev, k, _ops._sq(x_dtype, "x"), DType.S8, DType.INVALID,
                                  act_scale=self.act_scale, act_zero_point=self.act_zero_point)
            return lin, qp
        desc = {"flags": flags}
        if self.asymmetric:
            desc.update(quant_mode=int(QuantMode.DYNAMIC_ASYMMETRIC), quant_dtype=int(DType.U8))
        lin = _ops._linear_plan(Op.QUANTIZED_LINEAR, rows, dev, n, k, _ops._sq(x_dtype, "x"), w, t, **desc)
        return lin, None

    def prepare(self, device=None, x_dtype=None):
        """Build the plans for ``max_m`` rows now (done by the first forward otherwise); call before a
        CUDA-graph capture or a timing loop."""
        dev = torch.device(device) if device is not None else self.weight.device
        self._plans(dev, x_dtype or self.weight_scale.dtype, 1)

    def _forward_fast(self, x):
        k = self.in_features
        if x.dim() == 2 and x.shape[1] == k and x.stride(1) == 1 and (x.shape[0] == 1 or x.stride(0) >= k):
            x2 = x
        else:
            x2 = _ops._rows(x, "x", k)
        m = x2.shape[0]
        fast = self._fast
        w = self._buffers["weight"]
        if fast is None or fast[0] != x.get_device() or fast[1] != x.dtype or m > fast[4] or fast[5] is not w:
            fast = self._build_fast(x, m)
        _, _, lin, qp, _, _, base, out_dtype, ws, ws_al, elt, dev = fast
        stream = _ops._stream(dev)
        out = torch.empty((m, self.out_features), dtype=out_dtype, device=dev)
        args = RunArgs.from_buffer_copy(base)
        args.m = m
        args.out = out.data_ptr()
        if qp is not None:  # static: quantize, then the int8 linear
            q = torch.empty((m, k), dtype=torch.int8, device=dev)
            qa = RunArgs.from_buffer_copy(_ZERO_ARGS)
            qa.m = m
            qa.act, qa.ld_act, qa.out = x2.data_ptr(), (x2.stride(0) if m > 1 else 0), q.data_ptr()
            st = qp._run_fn(qp._h("sq_plan_run"), stream, None, 0, ctypes.byref(qa))
            if st:
                _ops.check(st, "sq_plan_run")
            args.act = q.data_ptr()
        else:
            args.act, args.ld_act = x2.data_ptr(), (x2.stride(0) if m > 1 else 0)
        scratch = torch.empty(ws_al + m * elt + 16, dtype=torch.uint8, device=dev)
        p = (scratch.data_ptr() + 15) // 16 * 16
        args.act_scale_scratch = p + ws_al
        st = lin._run_fn(lin._h("sq_plan_run"), stream, p if ws else None, ws, ctypes.byref(args))
        if st:
            _ops.check(st, "sq_plan_run")
        if x.dim() == 2:
            return out
        return out.view(tuple(x.shape[:-1]) + (self.out_features,))

    def _build_fast(self, x, m):
        """The per-device state of the eager path: the plans and a prefilled sq_run_args."""
        dev = x.device
        if self.weight.device != dev:
            raise ValueError(f"x is on {dev} but the module's buffers are on {self.weight.device}")
        lin, qp = self._plans(dev, x.dtype, m)
        base = _ops._new_args(1)
        base.weight, base.ld_weight = self.weight.data_ptr(), 0
        base.weight_scale = self.weight_scale.data_ptr()
        if self.bias is not None:
            base.bias = self.bias.data_ptr()
        if self.weight_zero_point is not None:
            base.weight_zero_point = self.weight_zero_point.data_ptr()
        if self.weight_sums is not None and (self.asymmetric or self.act_zero_point):
            base.weight_sums = self.weight_sums.data_ptr()
        ws = lin.workspace_size
        max_m = lin.max_m if qp is None else min(lin.max_m, qp.max_m)
        fast = (x.get_device(), x.dtype, lin, qp, max_m, self._buffers["weight"], bytes(base),
                self.weight_scale.dtype, ws, (ws + 15) // 16 * 16, self.weight_scale.element_size(), dev)
        self._fast = fast
        return fast
