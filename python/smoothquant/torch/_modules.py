"""SmoothQuantLinear: an nn.Module that runs a W8A8 linear through the library."""

import torch
from torch import nn

from .. import _arrays, _offline
from .._abi import DType, Op, PlanFlag, QuantMode
from .._plan import _SLOW, Bound
from . import _ops

_MODES = ("static", "dynamic")


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
        """The eager path: the plans with the module's buffers bound (Plan.bind), so a call checks x
        with a few attribute reads and makes one C call per plan (the workspace is the plan's, cached
        per stream; the outputs come from torch.empty). Anything unusual (strided x, a new dtype,
        device or a larger M than the plans take) goes through the custom ops, which also word the
        errors."""
        fast = self._fast
        if fast is None or fast[0] is not x.dtype or fast[1] != x.get_device() or fast[2] is not self._buffers["weight"]:
            fast = self._build_fast(x)
            if fast is None:
                return self._forward_ops(x)
        _, _, _, lin, qp = fast
        if qp is not None:  # static: quantize, then the int8 linear
            q = qp._linear_call(qp.plan, x, None, None)
            if q is _SLOW:
                return self._forward_ops(x)
            y = lin._linear_call(lin.plan, q, None, None)
        else:
            y = lin._linear_call(lin.plan, x, None, None)
        if y is _SLOW:
            return self._forward_ops(x)
        return y

    def _build_fast(self, x):
        """The per-device state of the eager path: (x dtype, device index, weight, bound linear plan,
        bound quantize plan or None)."""
        dev = x.device
        if self.weight.device != dev or x.dtype not in _arrays._torch_dtypes():
            return None
        lin, qp = self._plans(dev, x.dtype, 1)
        sums = self.weight_sums if (self.asymmetric or self.act_zero_point) else None
        bl = Bound(lin, dict(weight=self.weight, weight_scale=self.weight_scale, bias=self.bias,
                             weight_zero_point=self.weight_zero_point, weight_sums=sums), nd=True)
        bq = Bound(qp, {}, nd=True) if qp is not None else None
        if not bl._linear or (bq is not None and not bq._linear):
            return None
        fast = (x.dtype, x.get_device(), self._buffers["weight"], bl, bq)
        self._fast = fast
        return fast
