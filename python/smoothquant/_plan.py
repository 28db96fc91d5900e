"""Plans: sq_plan_select / sq_plan_run / sq_plan_destroy in Python idiom."""

import ctypes
import dataclasses
import threading
import weakref

from . import _arrays, _cuda, _lib
from ._abi import (DType, KernelFamily, Op, PlanDesc, PlanFlag, PlanInfoStruct, Preference, PrecisionGuaranteeStruct,
                   QuantMode, RunArgs, Status)
from ._arrays import HOST, as_arr
from ._errors import ArgumentError, PlanClosedError, bad_argument, bad_dtype, from_status

_DESC_SIZE = ctypes.sizeof(PlanDesc)
_ARGS_SIZE = ctypes.sizeof(RunArgs)

_LINEARS = (Op.SMOOTHQUANT_LINEAR, Op.QUANTIZED_LINEAR, Op.SCALED_LINEAR)
_FUSED = (Op.RMSNORM_QUANTIZE, Op.SILU_MUL_QUANTIZE)
_FLOAT = (DType.F32, DType.F64, DType.F16, DType.BF16)

#: Every sq_run_args array field, with its leading-dimension field when it is a matrix.
RUN_ARRAYS = ("act", "weight", "weight_scale", "bias", "smooth", "act_scale_scratch", "out", "act_scale",
              "weight_zero_point", "weight_sums", "act_zero_point", "act_sums", "absmax", "residual",
              "residual_out", "norm_weight")
_LD = {"act": "ld_act", "weight": "ld_weight", "out": "ld_out", "residual": "ld_residual",
       "residual_out": "ld_residual_out"}
_RETURN_ORDER = ("out", "act_scale_scratch", "act_zero_point", "absmax")
_OUTPUTS = frozenset({"out", "act_scale_scratch", "act_zero_point", "absmax", "residual_out"})


def check(status, function):
    """Raise the exception for a failed C call (reads the thread's last error message first)."""
    if status != 0:
        lib = _lib.load()
        raise from_status(status, lib.last_error(), function)


def _preference(p):
    if p is None:
        return None
    if isinstance(p, str):
        key = p.strip().lower().replace("-", "_")
        aliases = {"host": "host_reference", "cpu": "host_reference", "reference": "host_reference",
                   "portable": "gpu_portable", "sm80": "gpu_portable", "hopper": "gpu_hopper", "sm90": "gpu_hopper",
                   "gpu": "fastest", "cuda": "fastest"}
        key = aliases.get(key, key)
        try:
            return Preference[key.upper()]
        except KeyError:
            raise bad_argument("preference", f"{p!r}: expected one of fastest, host, portable, hopper") from None
    return Preference(p)


def _device_index(device):
    """-1 for the host, a CUDA ordinal, or None for "the current CUDA device"."""
    if device is None:
        return HOST
    if isinstance(device, int):
        return device
    s = str(device).lower()
    if s in ("cpu", "host"):
        return HOST
    if s == "cuda" or s == "gpu":
        return None
    if s.startswith("cuda:"):
        return int(s[5:])
    raise bad_argument("device", f"{device!r}: expected 'cpu', 'cuda', 'cuda:N' or an int")


@dataclasses.dataclass(frozen=True)
class PrecisionGuarantee:
    """sq_precision_guarantee: what a plan promises about its results."""

    bit_exact_with_host: bool
    deterministic: bool
    exact_accumulation: bool
    accumulate_dtype: DType
    epilogue_dtype: DType
    max_k: int


@dataclasses.dataclass(frozen=True)
class PlanInfo:
    """sq_plan_info: facts about a plan."""

    family: KernelFamily
    op: Op
    device: int
    sm_version: int
    n: int
    k: int
    max_m: int


def _enum_or_int(cls, v):
    try:
        return cls(v)
    except ValueError:
        return v


@dataclasses.dataclass
class Spec:
    """One array of a run: how it must look (shape uses 'M' for the run's rows)."""

    name: str
    dtype: int
    shape: tuple
    need: str  # req | opt | ret (allocated when missing, returned) | int (internal scratch when missing)
    matrix: bool = False


def _specs(d):
    """The arrays a run of the plan described by ``d`` (a PlanDesc) takes, per the header's op list."""
    op = Op(d.op)
    flags = PlanFlag(d.flags)
    n, k = d.n, d.k
    s = []
    add = s.append
    if op in (Op.SMOOTHQUANT_LINEAR, Op.SCALED_LINEAR, Op.QUANTIZED_LINEAR):
        a, w, t = d.act_dtype, d.weight_dtype, d.out_dtype
        add(Spec("act", a, ("M", k), "req", True))
        add(Spec("weight", w, (n, k), "req", True))
        if t == DType.S32:  # accumulator only
            add(Spec("out", DType.S32, ("M", n), "ret", True))
        else:
            add(Spec("weight_scale", t, (n,), "req"))
            add(Spec("out", t, ("M", n), "ret", True))
            add(Spec("bias", t, (n,), "opt"))
            if op != Op.SCALED_LINEAR:
                add(Spec("act_scale_scratch", t, ("M",), "int"))
        if flags & PlanFlag.WEIGHT_ZERO_POINT:
            add(Spec("weight_zero_point", w, (n,), "opt"))
        if op == Op.QUANTIZED_LINEAR:
            add(Spec("smooth", t, (k,), "opt"))
            if d.quant_mode == QuantMode.DYNAMIC_ASYMMETRIC:
                add(Spec("weight_sums", DType.S32, (n,), "req"))
        else:
            add(Spec("act_sums", DType.S32, ("M",), "opt"))
        if op == Op.SMOOTHQUANT_LINEAR and d.act_zero_point != 0:
            add(Spec("weight_sums", DType.S32, (n,), "req"))
        if op == Op.SCALED_LINEAR:
            add(Spec("act_scale", t, (1,) if flags & PlanFlag.PER_TENSOR_ACT_SCALE else ("M",), "req"))
            if flags & PlanFlag.ACT_ZERO_POINT:
                add(Spec("act_zero_point", a, ("M",), "req"))
                add(Spec("weight_sums", DType.S32, (n,), "req"))
        return s
    if op == Op.SCALE_ACCUMULATORS:
        t = d.out_dtype
        add(Spec("act", DType.S32, ("M", n), "req", True))
        add(Spec("act_scale", t, (1,) if flags & PlanFlag.PER_TENSOR_ACT_SCALE else ("M",), "req"))
        add(Spec("weight_scale", t, (n,), "req"))
        add(Spec("out", t, ("M", n), "ret", True))
        add(Spec("bias", t, (n,), "opt"))
        return s
    # the quantizers and the fused ops
    x, q, sd = d.act_dtype, d.out_dtype, d.scale_dtype
    c = DType.F64 if x == DType.F64 else DType.F32
    if op == Op.QUANTIZE_STATIC:
        mode = QuantMode.STATIC
    elif d.quant_mode == QuantMode.DEFAULT:
        mode = QuantMode.DYNAMIC
    else:
        mode = QuantMode(d.quant_mode) if d.quant_mode in QuantMode._value2member_map_ else d.quant_mode
    add(Spec("act", x, ("M", 2 * k if op == Op.SILU_MUL_QUANTIZE else k), "req", True))
    if op == Op.RMSNORM_QUANTIZE:
        add(Spec("norm_weight", x, (k,), "req"))
        add(Spec("residual", x, ("M", k), "opt", True))
        add(Spec("residual_out", x, ("M", k), "opt", True))
    if sd != DType.INVALID:
        add(Spec("smooth", sd, (k,), "opt"))
    if mode == QuantMode.ABSMAX:
        add(Spec("absmax", c, ("M",), "ret"))
        return s
    add(Spec("out", q, ("M", k), "ret", True))
    add(Spec("act_sums", DType.S32, ("M",), "opt"))
    if mode != QuantMode.STATIC:
        add(Spec("act_scale_scratch", sd, ("M",), "ret"))
    if mode == QuantMode.DYNAMIC_ASYMMETRIC:
        add(Spec("act_zero_point", q, ("M",), "ret"))
    if mode == QuantMode.FROM_ABSMAX:
        add(Spec("absmax", c, ("M",), "req"))
    return s


def _check_library_reads(d):
    """Refuse a descriptor whose 0.2 fields the loaded library would silently ignore (a 0.1-era
    library reads them as padding): a NotSupportedError now, not wrong numbers later."""
    from ._errors import NotSupportedError
    from ._features import feature

    own = QuantMode.STATIC if d.op == Op.QUANTIZE_STATIC else QuantMode.DYNAMIC
    needs = []
    if d.quant_mode not in (QuantMode.DEFAULT, own):
        needs.append(("reads_quant_mode", "quant_mode"))
    if d.act_zero_point != 0:
        needs.append(("reads_act_zero_point", "act_zero_point"))
    if d.flags != 0:
        needs.append(("reads_flags", "flags"))
    if d.quant_dtype not in (DType.INVALID, DType.S8):
        needs.append(("reads_quant_mode", "quant_dtype"))
    for name, field in needs:
        f = feature(name)
        if not f.available:
            raise NotSupportedError(Status.NOT_SUPPORTED, f"desc.{field} = {getattr(d, field)}: {f.reason}",
                                    "Plan")


def _destroy(destroy_fn, handle):
    # Called by weakref.finalize: at close(), at garbage collection, or at interpreter exit
    # (finalizers run before modules are torn down). Never raises.
    try:
        destroy_fn(handle)
    except Exception:  # noqa: BLE001 - nothing useful to do at exit
        pass


def _on_device(t, device):
    """Whether torch tensor t lives where a plan of `device` (HOST or a CUDA index) runs."""
    if device == HOST:
        return t.is_cpu
    return t.is_cuda and t.get_device() == device


def _torch_run_stream(device, stream):
    """The stream handle of a run: 0 on the host plan, else the given stream or PyTorch's current one."""
    if device == HOST:
        return 0
    return _arrays.stream_handle(stream) if stream is not None else _arrays.torch_stream(device)


def _is_matrix(t, rows, cols):
    """Whether tensor t is a contiguous [rows, cols] matrix (the fast paths' shape check)."""
    try:
        r, c = t.shape
    except ValueError:
        return False
    return r == rows and c == cols and t.is_contiguous()


class Plan:
    """A plan: an sq_plan for one op, shape class and dtypes on one kernel family.

    Build with the op's constructor (:meth:`smoothquant_linear`, :meth:`quantized_linear`, ...) or
    with the sq_plan_desc fields by name. ``device`` is ``"cpu"`` (the host reference kernel, NumPy
    or CPU tensors, synchronous), ``"cuda"``/``"cuda:N"``/``N`` (the fastest GPU family, or the one
    ``preference`` pins). The plan frees itself (close(), ``with``, garbage collection or exit).
    """

    def __init__(self, op, *, k, max_m, act_dtype, out_dtype, n=0, weight_dtype=None, scale_dtype=None,
                 act_scale=0.0, act_zero_point=0, quant_mode=QuantMode.DEFAULT, quant_dtype=None,
                 flags=PlanFlag.NONE, eps=0.0, host_threads=0, device=None, preference=None, stream=None):
        self._handle = None
        self._finalizer = None
        lib = _lib.load()
        self._lib = lib
        d = PlanDesc()
        d.struct_size = _DESC_SIZE
        d.op = int(Op(op))
        d.act_dtype = int(_arrays.to_dtype(act_dtype, "act_dtype"))
        d.weight_dtype = int(_arrays.to_dtype(weight_dtype, "weight_dtype"))
        d.scale_dtype = int(_arrays.to_dtype(scale_dtype, "scale_dtype"))
        d.out_dtype = int(_arrays.to_dtype(out_dtype, "out_dtype"))
        d.n, d.k, d.max_m = int(n), int(k), int(max_m)
        d.act_scale = float(act_scale or 0.0)
        d.host_threads = int(host_threads)
        d.quant_mode = int(quant_mode)
        d.quant_dtype = int(_arrays.to_dtype(quant_dtype, "quant_dtype"))
        d.act_zero_point = int(act_zero_point)
        d.flags = int(flags)
        d.eps = float(eps)
        self._desc = d
        _check_library_reads(d)

        pref = _preference(preference)
        dev = _device_index(device) if device is not None else HOST
        if pref is None:
            pref = Preference.HOST_REFERENCE if dev == HOST else Preference.FASTEST
        elif device is not None and (pref == Preference.HOST_REFERENCE) != (dev == HOST):
            raise bad_argument("preference", f"{pref.name} does not run on device {device!r}")
        if pref == Preference.HOST_REFERENCE:
            dev = HOST
        elif dev == HOST:
            dev = None  # a GPU preference without a device: the current device
        stream_h = _arrays.stream_handle(stream) if pref != Preference.HOST_REFERENCE else 0
        handle = ctypes.c_void_p()
        with _cuda.device_guard(dev if (pref != Preference.HOST_REFERENCE and stream is None) else None):
            st = lib.sq_plan_select(stream_h or None, ctypes.byref(d), int(pref), ctypes.byref(handle))
        check(st, "sq_plan_select")
        self._handle = handle.value
        self._finalizer = weakref.finalize(self, _destroy, lib.sq_plan_destroy, handle.value)
        self._run_fn = lib.sq_plan_run
        self.preference = pref

        info = self.info
        self.device = info.device if info.family != KernelFamily.HOST else HOST
        self.op = Op(d.op)
        self.n, self.k, self.max_m = d.n, d.k, d.max_m
        ws = ctypes.c_size_t(0)
        check(lib.sq_plan_workspace_size(self._handle, ctypes.byref(ws)), "sq_plan_workspace_size")
        self.workspace_size = ws.value
        self._specs = _specs(d)
        # (name, dtype, rows (None = M), cols, need, matrix, ld field, is output), for the hot path
        self._compiled = tuple(
            (sp.name, sp.dtype, None if sp.shape[0] == "M" else sp.shape[0],
             sp.shape[1] if len(sp.shape) > 1 else None, sp.need, sp.matrix, _LD.get(sp.name), sp.name in _OUTPUTS)
            for sp in self._specs)
        self._spec_names = frozenset(sp.name for sp in self._specs)
        self._ret_names = tuple(n for n in _RETURN_ORDER
                                if any(sp.name == n and sp.need == "ret" for sp in self._specs))
        self._scratch_bytes = 0
        for sp in self._specs:
            if sp.need == "int":
                self._scratch_bytes = self.max_m * _arrays.ITEMSIZE[sp.dtype]
        self._buffers = {}
        self._buffers_lock = threading.Lock()

    # ------------------------------------------------------------ per-op constructors
    @classmethod
    def smoothquant_linear(cls, n, k, max_m, *, act_scale, out_dtype, act_dtype=DType.S8, weight_dtype=DType.S8,
                           act_zero_point=0, weight_zero_point=False, **kw):
        """SQ_OP_SMOOTHQUANT_LINEAR: int8 act [M,K] x weight [N,K] with a static per-tensor act_scale.
        ``out_dtype="int32"`` gives the accumulator-only plan (act_scale ignored)."""
        out = _arrays.to_dtype(out_dtype, "out_dtype")
        scale = DType.INVALID if out == DType.S32 else out
        flags = PlanFlag.WEIGHT_ZERO_POINT if weight_zero_point else PlanFlag.NONE
        return cls(Op.SMOOTHQUANT_LINEAR, n=n, k=k, max_m=max_m, act_dtype=act_dtype, weight_dtype=weight_dtype,
                   scale_dtype=scale, out_dtype=out, act_scale=act_scale if out != DType.S32 else 0.0,
                   act_zero_point=act_zero_point, flags=flags, **kw)

    @classmethod
    def quantized_linear(cls, n, k, max_m, *, dtype, out_dtype=None, weight_dtype=DType.S8,
                         quant_mode=QuantMode.DYNAMIC, quant_dtype=None, weight_zero_point=False, **kw):
        """SQ_OP_QUANTIZED_LINEAR: float x [M,K] (``dtype``) quantized per token, then the linear.
        ``out_dtype`` (T: scales, bias, smooth and output) defaults to ``dtype``."""
        out = _arrays.to_dtype(out_dtype if out_dtype is not None else dtype, "out_dtype")
        flags = PlanFlag.WEIGHT_ZERO_POINT if weight_zero_point else PlanFlag.NONE
        return cls(Op.QUANTIZED_LINEAR, n=n, k=k, max_m=max_m, act_dtype=dtype, weight_dtype=weight_dtype,
                   scale_dtype=out, out_dtype=out, quant_mode=quant_mode, quant_dtype=quant_dtype, flags=flags, **kw)

    @classmethod
    def quantize_static(cls, k, max_m, *, dtype, act_scale, out_dtype=DType.S8, act_zero_point=0, smooth_dtype=None,
                        **kw):
        """SQ_OP_QUANTIZE_STATIC: x [M,K] -> q [M,K] with a static per-tensor act_scale."""
        return cls(Op.QUANTIZE_STATIC, k=k, max_m=max_m, act_dtype=dtype, scale_dtype=smooth_dtype,
                   out_dtype=out_dtype, act_scale=act_scale, act_zero_point=act_zero_point, **kw)

    @classmethod
    def quantize_dynamic(cls, k, max_m, *, dtype, scale_dtype=None, out_dtype=DType.S8, quant_mode=QuantMode.DYNAMIC,
                         **kw):
        """SQ_OP_QUANTIZE_DYNAMIC: x [M,K] -> q [M,K] and per-token scales (``quant_mode`` DYNAMIC,
        DYNAMIC_ASYMMETRIC (also zero points), ABSMAX or FROM_ABSMAX). scale_dtype defaults to dtype."""
        return cls(Op.QUANTIZE_DYNAMIC, k=k, max_m=max_m, act_dtype=dtype,
                   scale_dtype=scale_dtype if scale_dtype is not None else dtype, out_dtype=out_dtype,
                   quant_mode=quant_mode, **kw)

    @classmethod
    def scaled_linear(cls, n, k, max_m, *, out_dtype, act_dtype=DType.S8, weight_dtype=DType.S8,
                      per_tensor_act_scale=False, act_zero_point=False, weight_zero_point=False, **kw):
        """SQ_OP_SCALED_LINEAR (0.2): int8 act [M,K] with the caller's activation scales (per token,
        or one per-tensor value read from device memory when the run executes)."""
        flags = PlanFlag.NONE
        if per_tensor_act_scale:
            flags |= PlanFlag.PER_TENSOR_ACT_SCALE
        if act_zero_point:
            flags |= PlanFlag.ACT_ZERO_POINT
        if weight_zero_point:
            flags |= PlanFlag.WEIGHT_ZERO_POINT
        return cls(Op.SCALED_LINEAR, n=n, k=k, max_m=max_m, act_dtype=act_dtype, weight_dtype=weight_dtype,
                   scale_dtype=out_dtype, out_dtype=out_dtype, flags=flags, **kw)

    @classmethod
    def rmsnorm_quantize(cls, k, max_m, *, dtype, eps, scale_dtype=DType.F32, out_dtype=DType.S8,
                         quant_mode=QuantMode.DYNAMIC, act_scale=0.0, act_zero_point=0, **kw):
        """SQ_OP_RMSNORM_QUANTIZE (0.2): h = x (+ residual), RMSNorm, then a quantizer, fused."""
        return cls(Op.RMSNORM_QUANTIZE, k=k, max_m=max_m, act_dtype=dtype, scale_dtype=scale_dtype,
                   out_dtype=out_dtype, quant_mode=quant_mode, act_scale=act_scale, act_zero_point=act_zero_point,
                   eps=eps, **kw)

    @classmethod
    def silu_mul_quantize(cls, k, max_m, *, dtype, scale_dtype=DType.F32, out_dtype=DType.S8,
                          quant_mode=QuantMode.DYNAMIC, act_scale=0.0, act_zero_point=0, **kw):
        """SQ_OP_SILU_MUL_QUANTIZE (0.2): x [M,2K] (gate | up) -> silu(gate) * up -> a quantizer."""
        return cls(Op.SILU_MUL_QUANTIZE, k=k, max_m=max_m, act_dtype=dtype, scale_dtype=scale_dtype,
                   out_dtype=out_dtype, quant_mode=quant_mode, act_scale=act_scale, act_zero_point=act_zero_point,
                   **kw)

    @classmethod
    def scale_accumulators(cls, n, max_m, *, out_dtype, per_tensor_act_scale=False, **kw):
        """SQ_OP_SCALE_ACCUMULATORS (0.2): the linears' epilogue on int32 accumulators [M,N]."""
        flags = PlanFlag.PER_TENSOR_ACT_SCALE if per_tensor_act_scale else PlanFlag.NONE
        return cls(Op.SCALE_ACCUMULATORS, n=n, k=0, max_m=max_m, act_dtype=DType.S32, scale_dtype=out_dtype,
                   out_dtype=out_dtype, flags=flags, **kw)

    # ------------------------------------------------------------ lifetime
    @property
    def closed(self):
        return self._handle is None

    def close(self):
        """Destroy the plan (idempotent). Runs after close() raise PlanClosedError."""
        if self._finalizer is not None:
            self._finalizer()
        self._handle = None
        self._buffers = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _h(self, function):
        h = self._handle
        if h is None:
            raise PlanClosedError(Status.INVALID_HANDLE, "the plan is closed", function)
        return h

    def __repr__(self):
        if self._handle is None:
            return "<smoothquant.Plan (closed)>"
        return (f"<smoothquant.Plan {self.op.name} n={self.n} k={self.k} max_m={self.max_m} "
                f"{self.info.family.name} device={self.device}>")

    # ------------------------------------------------------------ facts
    @property
    def desc(self):
        """A copy of the descriptor (a ctypes PlanDesc)."""
        d = PlanDesc()
        ctypes.memmove(ctypes.byref(d), ctypes.byref(self._desc), _DESC_SIZE)
        return d

    @property
    def info(self):
        i = PlanInfoStruct()
        i.struct_size = ctypes.sizeof(i)
        check(self._lib.sq_plan_get_info(self._h("sq_plan_get_info"), ctypes.byref(i)), "sq_plan_get_info")
        return PlanInfo(_enum_or_int(KernelFamily, i.family), _enum_or_int(Op, i.op), i.device, i.sm_version,
                        i.n, i.k, i.max_m)

    @property
    def family(self):
        return self.info.family

    @property
    def precision_guarantee(self):
        g = PrecisionGuaranteeStruct()
        g.struct_size = ctypes.sizeof(g)
        check(self._lib.sq_plan_precision_guarantee(self._h("sq_plan_precision_guarantee"), ctypes.byref(g)),
              "sq_plan_precision_guarantee")
        return PrecisionGuarantee(bool(g.bit_exact_with_host), bool(g.deterministic), bool(g.exact_accumulation),
                                  _enum_or_int(DType, g.accumulate_dtype), _enum_or_int(DType, g.epilogue_dtype),
                                  g.max_k)

    def kernel_name(self, m=None):
        """The kernel the plan runs for ``m`` rows (default max_m) of packed tensors at 16-byte aligned
        addresses, e.g. "host_reference" (other strides may run another kernel, with the same result)."""
        name = ctypes.c_char_p()
        m = self.max_m if m is None else int(m)
        check(self._lib.sq_plan_kernel_name(self._h("sq_plan_kernel_name"), m, ctypes.byref(name)),
              "sq_plan_kernel_name")
        return name.value.decode()

    # ------------------------------------------------------------ runs
    def _buffer(self, like, key, stream, nbytes):
        """The cached workspace + scratch buffer for one stream (GPU) or thread (host): pointer."""
        buf = self._buffers.get(key)
        if buf is not None and buf[1] >= nbytes:
            return buf[2]
        if like.device != HOST and _cuda.stream_is_capturing(stream):
            if like.family == "torch":
                # A capture's allocations belong to its graph's private pool: use it for this run, never
                # cache it (another graph or an eager run could outlive it).
                arr = _arrays.empty(like, (nbytes + 16,), DType.U8)
                self._capture_keep = arr
                return (arr.data_ptr() + 15) // 16 * 16
            raise bad_argument(
                "workspace", f"the plan needs {nbytes} bytes of workspace on stream {stream:#x}, which is being "
                "captured into a CUDA graph: run the plan once on this stream before the capture (the binding "
                "then caches the workspace), or pass workspace=")
        arr = _arrays.empty(like, (nbytes + 16,), DType.U8)
        ptr = (as_arr(arr, "workspace").ptr + 15) // 16 * 16
        with self._buffers_lock:
            self._buffers[key] = (arr, nbytes, ptr)
        return ptr

    def _prepare(self, act, kwargs, stream, workspace):
        """Check every array against the plan and fill an sq_run_args. Returns (args, returned arrays,
        stream handle, workspace pointer, workspace bytes, keep-alive list, needs stream sync)."""
        fn = "Plan.run"
        self._h(fn)
        for name in kwargs:
            if name not in self._spec_names:
                if name not in RUN_ARRAYS:
                    raise TypeError(f"Plan.run() got an unexpected keyword argument {name!r}")
                if kwargs[name] is not None:
                    raise bad_argument(name, f"is not an argument of {self.op.name} runs{self._why_not(name)}",
                                       function=fn)
        primary = act if isinstance(act, _arrays.Arr) else as_arr(act, "act")
        shape0 = primary.shape
        if len(shape0) != 2:
            raise bad_argument("act", f"has shape {list(shape0)}: expected a matrix [M, {self._act_cols()}] "
                                      "(reshape batched input to 2-D)", function=fn)
        m = shape0[0]
        if m < 1 or m > self.max_m:
            raise bad_argument("act", f"has {m} rows: a run of this plan takes 1..max_m ({self.max_m}) rows",
                               function=fn)
        if self.device == HOST:
            if primary.device != HOST:
                raise bad_argument("act", f"is in CUDA memory (device {primary.device}) but the plan runs on the host "
                                          "(build it with device='cuda')", Status.WRONG_MEMORY_SPACE, fn)
            stream_h, sync = 0, False
        else:
            if primary.device == HOST:
                raise bad_argument("act", f"is in host memory but the plan runs on cuda:{self.device}",
                                   Status.WRONG_MEMORY_SPACE, fn)
            if stream is not None:
                stream_h, sync = _arrays.stream_handle(stream), False
            else:
                stream_h, sync = _arrays.current_stream(primary)

        args = RunArgs()
        args.struct_size = _ARGS_SIZE
        args.m = m
        returned = {}
        keep = []
        scratch_needed = False
        for name, dt, rows, cols, need, matrix, ld, is_out in self._compiled:
            if name == "act":
                a = primary
            else:
                v = kwargs.get(name)
                a = None if v is None else (v if isinstance(v, _arrays.Arr) else as_arr(v, name))
            if rows is None:
                rows = m
            if a is None:
                if need == "req":
                    shape = [rows] if cols is None else [rows, cols]
                    raise bad_argument(name, f"is required by {self.op.name} (shape {shape}, "
                                             f"{_arrays.DTYPE_NAMES.get(dt, dt)})", function=fn)
                if need == "ret":
                    obj = _arrays.empty(primary, (rows,) if cols is None else (rows, cols), dt)
                    returned[name] = obj
                    a = as_arr(obj, name)
                    a.readonly = False  # ours (JAX calls its buffers read-only: this one is new)
                elif need == "int":
                    scratch_needed = True
                    continue
                else:
                    continue
            elif is_out:
                returned[name] = a.obj
            self._check_arr(a, name, dt, rows, cols, matrix, is_out, fn)
            keep.append(a)
            setattr(args, name, a.ptr)
            if ld is not None:
                setattr(args, ld, a.strides[0] if rows > 1 else 0)

        ws_ptr, ws_bytes = 0, 0
        need_ws = self.workspace_size
        if workspace is not None:
            w = as_arr(workspace, "workspace")
            if w.device != primary.device:
                raise bad_argument("workspace", "is not on the plan's device", Status.WRONG_MEMORY_SPACE, fn)
            nbytes = _arrays.ITEMSIZE[w.dtype]
            for n in w.shape:
                nbytes *= n
            ws_ptr, ws_bytes = w.ptr, nbytes
            keep.append(w)
            need_ws = 0
        if need_ws or scratch_needed:
            key = threading.get_ident() if self.device == HOST else stream_h
            ws_aligned = (need_ws + 15) // 16 * 16
            base = self._buffer(primary, key, stream_h, ws_aligned + self._scratch_bytes)
            if need_ws:
                ws_ptr, ws_bytes = base, need_ws
            if scratch_needed:
                args.act_scale_scratch = base + ws_aligned
        return args, returned, stream_h, ws_ptr, ws_bytes, keep, sync

    # ------------------------------------------------------------ the PyTorch fast path
    def _torch_specs(self):
        """Per spec: (name, torch dtype, rows (None = M), cols (None = vector), need, matrix, ld field)."""
        ts = self.__dict__.get("_tspecs")
        if ts is None:
            ts = tuple((name, _arrays.torch_dtype(dt), rows, cols, need, matrix, ld)
                       for name, dt, rows, cols, need, matrix, ld, _ in self._compiled)
            self._tspecs = ts
        return ts

    def _torch_ptr(self, t, tdt, rows, cols, matrix):
        """(pointer, ld) of a torch tensor that passes every check cheaply (exact dtype, the plan's
        device, the expected shape, contiguous), else None: the caller then takes the general path,
        which accepts what is merely unusual (strided rows) and words the error of what is wrong."""
        if type(t) is not _arrays.TORCH_TENSOR[0] or t.dtype is not tdt:
            return None
        if not _on_device(t, self.device):
            return None
        if matrix:
            if not _is_matrix(t, rows, cols):
                return None
            return t.data_ptr(), (cols if rows > 1 else 0)
        if t.numel() != rows or not t.is_contiguous():
            return None
        return t.data_ptr(), 0

    def _run_torch(self, act, arrays, stream, args=None, bound=()):
        """Plan.run for PyTorch tensors: the checks of _prepare as plain attribute reads, outputs from
        torch.empty. Returns _SLOW (nothing done) for anything it does not handle, so that the general
        path runs (or raises its error)."""
        h = self._handle
        if h is None:
            return _SLOW
        for name in arrays:
            if name not in self._spec_names:
                return _SLOW
        specs = self._torch_specs()
        # act first: M
        _, tdt, _, acols, _, _, _ = specs[0]
        if type(act) is not _arrays.TORCH_TENSOR[0] or act.dtype is not tdt:
            return _SLOW
        try:
            m, c = act.shape
        except ValueError:
            return _SLOW
        if c != acols or m < 1 or m > self.max_m:
            return _SLOW
        dev = self.device
        if not _on_device(act, dev):
            return _SLOW
        stream_h = _torch_run_stream(dev, stream)
        key = threading.get_ident() if dev == HOST else stream_h
        if not act.is_contiguous():
            return _SLOW
        if args is None:
            args = RunArgs()
            args.struct_size = _ARGS_SIZE
        args.m = m
        args.act = act.data_ptr()
        args.ld_act = acols if m > 1 else 0
        ret = None
        scratch = False
        for i in range(1, len(specs)):
            name, tdt, rows, cols, need, matrix, ld = specs[i]
            if name in bound:
                continue
            if rows is None:
                rows = m
            v = arrays.get(name)
            if v is None:
                if need == "ret":
                    v = _torch_empty(rows, cols, tdt, act)
                    if ret is None:
                        ret = {}
                    ret[name] = v
                elif need == "req":
                    return _SLOW
                else:
                    if need == "int":
                        scratch = True
                    setattr(args, name, 0)  # a reused struct: clear what this run does not pass
                    if ld is not None:
                        setattr(args, ld, 0)
                    continue
            elif name in _OUTPUTS:
                if ret is None:
                    ret = {}
                ret[name] = v
            pl = self._torch_ptr(v, tdt, rows, cols, matrix)
            if pl is None:
                return _SLOW
            setattr(args, name, pl[0])
            if ld is not None:
                setattr(args, ld, pl[1])
        need_ws = self.workspace_size
        ws_ptr = 0
        if need_ws or scratch:
            ws_al = (need_ws + 15) // 16 * 16
            total = ws_al + self._scratch_bytes
            buf = self._buffers.get(key)
            if buf is not None and buf[1] >= total:
                base = buf[2]
            else:
                base = self._buffer(_arrays._from_torch(act, "act"), key, stream_h, total)
            if need_ws:
                ws_ptr = base
            if scratch:
                args.act_scale_scratch = base + ws_al
        st = self._run_fn(h, stream_h or None, ws_ptr or None, need_ws if ws_ptr else 0, ctypes.byref(args))
        if st != 0:
            check(st, "sq_plan_run")
        self._capture_keep = None
        names = self._ret_names
        if len(names) == 1:
            return ret[names[0]]
        return tuple(ret[n] for n in names)

    def _why_not(self, name):
        d = self._desc
        if name == "weight_zero_point" and self.op in _LINEARS:
            return " (build the plan with weight_zero_point=True: SQ_PLAN_WEIGHT_ZERO_POINT)"
        if name == "act_zero_point" and self.op == Op.SCALED_LINEAR:
            return " (build the plan with act_zero_point=True: SQ_PLAN_ACT_ZERO_POINT)"
        if name == "smooth" and d.scale_dtype == DType.INVALID:
            return " (build the plan with smooth_dtype=...: its scale_dtype is 0)"
        if name == "weight_sums":
            return " (only with activation zero points)"
        return ""

    def _act_cols(self):
        if self.op == Op.SILU_MUL_QUANTIZE:
            return 2 * self.k
        if self.op == Op.SCALE_ACCUMULATORS:
            return self.n
        return self.k

    def _check_arr(self, a, name, dt, rows, cols, matrix, is_out, fn):
        if a.dtype != dt and not (dt == DType.BF16 and a.dtype == _arrays.BF16_BITS):
            raise bad_dtype(name, f"has dtype {_arrays.DTYPE_NAMES.get(a.dtype, a.dtype)}, expected "
                                  f"{_arrays.DTYPE_NAMES.get(dt, dt)} for this plan", fn)
        if a.device != self.device and a.device is not None:
            where = "the host" if self.device == HOST else f"cuda:{self.device}"
            have = "host memory" if a.device == HOST else f"cuda:{a.device}"
            status = Status.WRONG_MEMORY_SPACE if HOST in (a.device, self.device) else Status.WRONG_DEVICE
            raise bad_argument(name, f"is in {have} but the plan runs on {where}", status, fn)
        if is_out and a.readonly:
            extra = " (JAX arrays are immutable: let the run allocate its outputs)" if a.family == "jax" else ""
            raise bad_argument(name, f"is read-only, but the run writes it{extra}", function=fn)
        shape = a.shape
        if matrix:
            if len(shape) != 2 or shape[0] != rows or shape[1] != cols:
                raise bad_argument(name, f"has shape {list(shape)}, expected {[rows, cols]}", function=fn)
            st = a.strides
            if cols > 1 and st[1] != 1:
                raise bad_argument(name, f"has strides {list(st)}: its rows must be contiguous (unit stride "
                                         "along the last dimension; rows may be strided). Use .contiguous()",
                                   function=fn)
            if rows > 1 and st[0] < cols:
                raise bad_argument(name, f"has row stride {st[0]}, smaller than its {cols} columns "
                                         "(overlapping or transposed rows)", function=fn)
            return
        if len(shape) == 1:
            if shape[0] != rows:
                raise bad_argument(name, f"has shape {list(shape)}, expected [{rows}] (or any shape of "
                                         f"{rows} elements, e.g. [{rows}, 1])", function=fn)
            if rows > 1 and a.strides[0] != 1:
                raise bad_argument(name, f"has strides {list(a.strides)}: it must be contiguous", function=fn)
            return
        numel = 1
        for x in shape:
            numel *= x
        if numel != rows:
            raise bad_argument(name, f"has shape {list(shape)}, expected [{rows}] (or any shape of "
                                     f"{rows} elements, e.g. [{rows}, 1])", function=fn)
        expect = 1
        for dim, st in zip(reversed(shape), reversed(a.strides)):
            if dim != 1 and st != expect:
                raise bad_argument(name, f"has strides {list(a.strides)}: it must be contiguous", function=fn)
            expect *= dim

    def run(self, act, *, stream=None, workspace=None, **arrays):
        """Run the plan on ``act`` (and the op's other arrays, by their sq_run_args names).

        Outputs not given are allocated with ``act``'s array library on its device. Returns ``out``
        for the linears and SCALE_ACCUMULATORS and QUANTIZE_STATIC; ``(q, scales)`` for the dynamic
        quantizers (``(q, scales, zero_points)`` with DYNAMIC_ASYMMETRIC, ``absmax`` alone with
        ABSMAX). GPU runs are enqueued on ``stream`` (default: the array library's current stream)
        and never synchronize the device.
        """
        if type(act) is _arrays.TORCH_TENSOR[0] and workspace is None:
            res = self._run_torch(act, arrays, stream)
            if res is not _SLOW:
                return res
        args, returned, stream_h, ws_ptr, ws_bytes, keep, sync = self._prepare(act, arrays, stream, workspace)
        st = self._run_fn(self._handle, stream_h or None, ws_ptr or None, ws_bytes, ctypes.byref(args))
        if st != 0:
            check(st, "sq_plan_run")
        self._capture_keep = None
        if sync:
            _cuda.stream_synchronize(stream_h)
        del keep
        names = self._ret_names
        if len(names) == 1:
            return returned[names[0]]
        return tuple(returned[n] for n in names)

    def bind(self, **arrays):
        """A :class:`Bound` callable ``f(act, out=None, stream=None, **more)`` that runs the plan with
        ``arrays`` (weights, scales, bias...) bound: they are checked and converted once, their pointers
        written once into a prebuilt sq_run_args, so a call with PyTorch tensors checks and writes only
        ``act`` and ``out`` (the hot path of a linear: a few attribute reads and one C call)."""
        return Bound(self, arrays)

    def can_implement(self, act, *, workspace=None, **arrays):
        """sq_plan_can_implement on these arrays (also checks where each pointer lives). Returns True
        or raises. Allocates the outputs not given, like run()."""
        args, _, _, _, _, keep, _ = self._prepare(act, arrays, None, workspace)
        check(self._lib.sq_plan_can_implement(self._h("sq_plan_can_implement"), ctypes.byref(args)),
              "sq_plan_can_implement")
        del keep
        return True

    def run_raw(self, args, stream=0, workspace=0, workspace_bytes=0):
        """sq_plan_run on a caller-filled :class:`RunArgs` (no checks in Python: the library's only)."""
        st = self._run_fn(self._h("sq_plan_run"), stream or None, workspace or None, workspace_bytes,
                          ctypes.byref(args))
        if st != 0:
            check(st, "sq_plan_run")

    def prepare_stream(self, like, stream=None):
        """Allocate (and cache) this plan's workspace for ``stream`` now, e.g. before a CUDA-graph
        capture on it. ``like``: an array of the library and device to allocate with."""
        need = (self.workspace_size + 15) // 16 * 16 + self._scratch_bytes
        if need == 0:
            return
        a = as_arr(like, "like")
        if self.device == HOST:
            self._buffer(a, threading.get_ident(), 0, need)
        else:
            h = _arrays.stream_handle(stream) if stream is not None else _arrays.current_stream(a)[0]
            self._buffer(a, h, h, need)


_SLOW = object()  # _run_torch: "not handled here, take the general path"


_torch_mod = None


def _torch_module():
    global _torch_mod
    if _torch_mod is None:
        import torch

        _torch_mod = torch
    return _torch_mod


def _torch_empty(rows, cols, tdt, like):
    import torch

    if cols is None:
        return torch.empty(rows, dtype=tdt, device=like.device)
    return torch.empty(rows, cols, dtype=tdt, device=like.device)


class Bound:
    """A plan with some run arrays bound (:meth:`Plan.bind`): ``bound(act, out=None, stream=None, **more)``.

    The bound arrays are checked against the plan once, at bind time (dtype, shape, device: the same
    checks and messages as :meth:`Plan.run`), and their pointers written once into a prebuilt
    sq_run_args (one per thread). A call with PyTorch tensors then checks ``act`` and ``out`` with a
    few attribute reads, rewrites only their fields and makes the C call; anything else (NumPy,
    strided rows, an error to report) goes through :meth:`Plan.run` with the bound arrays.
    """

    def __init__(self, plan, arrays, nd=False):
        self.plan = plan
        self._nd = nd  # (SmoothQuantLinear) act may be [..., K], contiguous; out is then [..., N]
        fixed, per_run = {}, {}
        for name, value in arrays.items():
            if value is None:
                continue
            if name not in plan._spec_names:
                raise bad_argument(name, f"is not an argument of {plan.op.name} runs{plan._why_not(name)}",
                                   function="Plan.bind")
            a = as_arr(value, name)
            spec = next(c for c in plan._compiled if c[0] == name)
            _, dt, rows, cols, _, matrix, ld, is_out = spec
            if rows is None or is_out:  # shaped by M, or an output: checked per run
                per_run[name] = a
                continue
            plan._check_arr(a, name, dt, rows, cols, matrix, is_out, "Plan.bind")
            fixed[name] = (a, a.ptr, (a.strides[0] if rows > 1 else 0) if ld is not None else None, ld)
        self._arrs = {name: v[0] for name, v in fixed.items()}
        self._arrs.update(per_run)
        self._fast = not per_run
        base = RunArgs()
        base.struct_size = _ARGS_SIZE
        for name, (_, ptr, ldv, ld) in fixed.items():
            setattr(base, name, ptr)
            if ld is not None:
                setattr(base, ld, ldv)
        self._base = bytes(base)
        self._bound = frozenset(fixed)
        self._args = {}  # thread id -> RunArgs with the bound fields written
        # The linear shape of call (the common one): act [M, K] and out [M, N] the only per-run arrays
        # (the rest bound, optional or internal scratch): __call__ then checks just those two.
        per = [c for c in plan._compiled if c[0] not in fixed]
        self._linear = (self._fast and plan._ret_names == ("out",)
                        and all(c[0] in ("act", "out") or c[4] in ("opt", "int") for c in per)
                        and [c[0] for c in per if c[0] in ("act", "out")] == ["act", "out"])
        if self._linear:
            act_spec = next(c for c in per if c[0] == "act")
            out_spec = next(c for c in per if c[0] == "out")
            self._k, self._n = act_spec[3], out_spec[3]
            self._act_dt, self._out_dt = act_spec[1], out_spec[1]
            self._scratch = any(c[4] == "int" for c in per)
        self._tdts = None
        self._device = None

    def _thread_args(self):
        args = RunArgs.from_buffer_copy(self._base)
        self._args[threading.get_ident()] = args
        return args

    def __call__(self, act, out=None, stream=None, **more):
        plan = self.plan
        if self._linear and not more and type(act) is _arrays.TORCH_TENSOR[0]:
            res = self._linear_call(plan, act, out, stream)
            if res is not _SLOW:
                return res
        elif self._fast and not more and type(act) is _arrays.TORCH_TENSOR[0]:
            args = self._args.get(threading.get_ident()) or self._thread_args()
            res = plan._run_torch(act, {} if out is None else {"out": out}, stream, args, self._bound)
            if res is not _SLOW:
                return res
        kw = dict(self._arrs)
        kw.update(more)
        if out is not None:
            kw["out"] = out
        return plan.run(act, stream=stream, **kw)

    def _linear_call(self, plan, act, out, stream):
        """act [M, K] -> out [M, N] with everything else bound: the checks of Plan.run on the two
        tensors, as attribute reads; _SLOW when one does not pass (the general path then decides)."""
        h = plan._handle
        tdts = self._tdts
        if tdts is None:
            tdts = self._tdts = (_arrays.torch_dtype(self._act_dt), _arrays.torch_dtype(self._out_dt))
        if h is None or act.dtype is not tdts[0]:
            return _SLOW
        shape = act.shape
        k = self._k
        lead = None
        try:
            m, c = shape
        except ValueError:
            if not self._nd or not shape:
                return _SLOW
            c = shape[-1]
            m = act.numel() // c if c else 0
            lead = shape[:-1]
        if c != k or m < 1 or m > plan.max_m or not act.is_contiguous():
            return _SLOW
        dev = plan.device
        if not _on_device(act, dev):
            return _SLOW
        stream_h = _torch_run_stream(dev, stream)
        n = self._n
        if out is None:
            device = self._device
            if device is None:
                device = self._device = act.device
            if lead is None:
                out = _torch_module().empty(m, n, dtype=tdts[1], device=device)
            else:
                out = _torch_module().empty(lead + (n,), dtype=tdts[1], device=device)
        elif lead is not None:
            return _SLOW
        elif type(out) is not _arrays.TORCH_TENSOR[0] or out.dtype is not tdts[1] or not _on_device(out, dev):
            return _SLOW
        elif not _is_matrix(out, m, n):
            return _SLOW
        args = self._args.get(threading.get_ident()) or self._thread_args()
        args.m = m
        args.act = act.data_ptr()
        args.out = out.data_ptr()
        if m > 1:
            args.ld_act, args.ld_out = k, n
        else:
            args.ld_act = args.ld_out = 0
        need_ws = plan.workspace_size
        ws_ptr = None
        if need_ws or self._scratch:
            key = stream_h if dev != HOST else threading.get_ident()
            ws_al = (need_ws + 15) // 16 * 16
            total = ws_al + plan._scratch_bytes
            buf = plan._buffers.get(key)
            base = buf[2] if buf is not None and buf[1] >= total else \
                plan._buffer(_arrays._from_torch(act, "act"), key, stream_h, total)
            if need_ws:
                ws_ptr = base
            if self._scratch:
                args.act_scale_scratch = base + ws_al
        st = plan._run_fn(h, stream_h or None, ws_ptr, need_ws if ws_ptr else 0, self._ref(args))
        if st != 0:
            check(st, "sq_plan_run")
        plan._capture_keep = None
        return out

    _ref = staticmethod(ctypes.byref)

    def __repr__(self):
        return f"<smoothquant.Bound {sorted(self._arrs)} of {self.plan!r}>"


def run_args(**fields):
    """A zeroed :class:`RunArgs` with struct_size set and the given fields (for :meth:`Plan.run_raw`)."""
    a = RunArgs()
    a.struct_size = _ARGS_SIZE
    for k, v in fields.items():
        setattr(a, k, v)
    return a


__all__ = ["Bound", "Plan", "PlanInfo", "PrecisionGuarantee", "RUN_ARRAYS", "run_args", "check", "ArgumentError"]
