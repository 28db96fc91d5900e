"""What the loaded library implements, probed at run time on the host plan.

The header is the 0.2 contract; a library may implement part of it (0.2 ops land one by one).
Each probe asks the library itself: a plan it refuses with NOT_SUPPORTED (or with INVALID_ARGUMENT
naming an op it does not know) is "not implemented"; a 0.2 descriptor field it silently ignores
(a plan with an impossible value for the field still selects) is "not implemented" too, so a test
never runs a feature the library would quietly compute wrong. The test suite skips a feature's tests
with the reason given here (or fails them with SMOOTHQUANT_REQUIRE_0_2=1).
"""

import ctypes
import dataclasses
import functools

from . import _lib
from ._abi import DType, Op, PlanDesc, PlanFlag, Preference, QuantMode, RunArgs, Status


@dataclasses.dataclass(frozen=True)
class Feature:
    available: bool
    reason: str

    def __bool__(self):
        return self.available


def _select(**fields):
    """(status, message) of sq_plan_select on the host for a descriptor; destroys any plan."""
    lib = _lib.load()
    d = PlanDesc()
    d.struct_size = ctypes.sizeof(d)
    for k, v in fields.items():
        setattr(d, k, int(v) if not isinstance(v, float) else v)
    h = ctypes.c_void_p()
    st = lib.sq_plan_select(None, ctypes.byref(d), int(Preference.HOST_REFERENCE), ctypes.byref(h))
    msg = lib.last_error() if st else ""
    if st == 0:
        lib.sq_plan_destroy(h)
    return st, msg, h


def _verdict(what, st, msg):
    if st == Status.SUCCESS:
        return Feature(True, f"{what}: implemented")
    if st == Status.NOT_SUPPORTED:
        return Feature(False, f"{what}: the library answers NOT_SUPPORTED ({msg})")
    if st == Status.INVALID_ARGUMENT and "desc->op is" in msg:
        return Feature(False, f"{what}: the library does not know the op ({msg})")
    name = Status(st).name if st in Status._value2member_map_ else st
    return Feature(False, f"{what}: probe plan refused with {name} ({msg})")


def _ignores(what, field, **fields):
    """A Feature(False) when the library accepts an impossible value of a 0.2 field, else None."""
    st, msg, _ = _select(**fields)
    if st == Status.SUCCESS:
        return Feature(False, f"{what}: the library ignores desc.{field} (a plan with an invalid {field} "
                              "selects): not implemented")
    return None


_LIN = dict(op=Op.SMOOTHQUANT_LINEAR, act_dtype=DType.S8, weight_dtype=DType.S8, scale_dtype=DType.F32,
            out_dtype=DType.F32, n=4, k=16, max_m=4, act_scale=0.5)
_QD = dict(op=Op.QUANTIZE_DYNAMIC, act_dtype=DType.F32, scale_dtype=DType.F32, out_dtype=DType.S8, k=16, max_m=4)


def _op(op, **fields):
    return _verdict(f"op {Op(op).name}", *_select(op=op, **fields)[:2])


def _quant_mode(mode, **fields):
    what = f"quant_mode {QuantMode(mode).name}"
    bad = _ignores(what, "quant_mode", **{**_QD, "quant_mode": 99})
    if bad is not None:
        return bad
    return _verdict(what, *_select(**{**_QD, "quant_mode": mode, **fields})[:2])


def _act_sums():
    """act_sums: a QUANTIZE_STATIC run must write sum_k q[m,k] (a library that ignores the 0.2
    field leaves the sentinel)."""
    lib = _lib.load()
    d = PlanDesc()
    d.struct_size = ctypes.sizeof(d)
    d.op, d.act_dtype, d.out_dtype, d.k, d.max_m, d.act_scale = Op.QUANTIZE_STATIC, DType.F32, DType.S8, 4, 1, 1.0
    d.host_threads = 1
    h = ctypes.c_void_p()
    st = lib.sq_plan_select(None, ctypes.byref(d), int(Preference.HOST_REFERENCE), ctypes.byref(h))
    if st:
        return _verdict("act_sums", st, lib.last_error())
    try:
        x = (ctypes.c_float * 4)(1.0, 2.0, 3.0, -1.0)
        q = (ctypes.c_int8 * 4)()
        sums = (ctypes.c_int32 * 1)(-12345)
        a = RunArgs()
        a.struct_size = ctypes.sizeof(a)
        a.m = 1
        a.act = ctypes.addressof(x)
        a.out = ctypes.addressof(q)
        a.act_sums = ctypes.cast(sums, ctypes.c_void_p)
        st = lib.sq_plan_run(h, None, None, 0, ctypes.byref(a))
        if st:
            return _verdict("act_sums", st, lib.last_error())
        if sums[0] == 5:
            return Feature(True, "act_sums: implemented")
        return Feature(False, "act_sums: the library does not write args->act_sums (0.2 field ignored)")
    finally:
        lib.sq_plan_destroy(h)


def _zero_point(what, **fields):
    bad = _ignores(what, "act_zero_point", **{**_LIN, "act_zero_point": 1000})
    if bad is not None:
        return bad
    return _verdict(what, *_select(**{**_LIN, **fields})[:2])


def _flag(what, **fields):
    bad = _ignores(what, "flags", **{**_LIN, "flags": 0x80000000})
    if bad is not None:
        return bad
    return _verdict(what, *_select(**fields)[:2])


def _first(bad, then):
    return bad if bad is not None else then()


def _symbol(name):
    lib = _lib.load()
    if getattr(lib, name) is None:
        return Feature(False, f"{name}: not exported by the loaded library ({lib.version})")
    return Feature(True, f"{name}: exported")


def _reads(what, field, **fields):
    bad = _ignores(what, field, **fields)
    return bad if bad is not None else Feature(True, f"{what}: the library validates desc.{field}")


PROBES = {
    "reads_quant_mode": lambda: _reads("quant modes", "quant_mode", **{**_QD, "quant_mode": 99}),
    "reads_act_zero_point": lambda: _reads("zero points", "act_zero_point", **{**_LIN, "act_zero_point": 1000}),
    "reads_flags": lambda: _reads("plan flags", "flags", **{**_LIN, "flags": 0x80000000}),
    "scaled_linear": lambda: _op(Op.SCALED_LINEAR, act_dtype=DType.S8, weight_dtype=DType.S8, scale_dtype=DType.F32,
                                 out_dtype=DType.F32, n=4, k=16, max_m=4),
    "rmsnorm_quantize": lambda: _op(Op.RMSNORM_QUANTIZE, act_dtype=DType.F32, scale_dtype=DType.F32,
                                    out_dtype=DType.S8, k=16, max_m=4, eps=1e-6),
    "silu_mul_quantize": lambda: _op(Op.SILU_MUL_QUANTIZE, act_dtype=DType.F32, scale_dtype=DType.F32,
                                     out_dtype=DType.S8, k=16, max_m=4),
    "scale_accumulators": lambda: _op(Op.SCALE_ACCUMULATORS, act_dtype=DType.S32, scale_dtype=DType.F32,
                                      out_dtype=DType.F32, n=4, max_m=4),
    "s32_out": lambda: _verdict("SMOOTHQUANT_LINEAR with out_dtype S32",
                                *_select(**{**_LIN, "scale_dtype": 0, "out_dtype": DType.S32, "act_scale": 0.0})[:2]),
    "u8_weight": lambda: _verdict("U8 weights", *_select(**{**_LIN, "weight_dtype": DType.U8})[:2]),
    "u8_act": lambda: _verdict("U8 activations", *_select(**{**_LIN, "act_dtype": DType.U8})[:2]),
    "quant_asymmetric": lambda: _quant_mode(QuantMode.DYNAMIC_ASYMMETRIC, out_dtype=DType.U8),
    "quant_absmax": lambda: _quant_mode(QuantMode.ABSMAX),
    "quant_from_absmax": lambda: _quant_mode(QuantMode.FROM_ABSMAX),
    "quantized_linear_asymmetric": lambda: _first(
        _ignores("QUANTIZED_LINEAR DYNAMIC_ASYMMETRIC", "quant_mode", **{**_QD, "quant_mode": 99}),
        lambda: _verdict("QUANTIZED_LINEAR DYNAMIC_ASYMMETRIC",
                    *_select(op=Op.QUANTIZED_LINEAR, act_dtype=DType.F32, weight_dtype=DType.S8, scale_dtype=DType.F32,
                             out_dtype=DType.F32, n=4, k=16, max_m=4, quant_mode=QuantMode.DYNAMIC_ASYMMETRIC,
                             quant_dtype=DType.U8)[:2])),
    "act_zero_point": lambda: _zero_point("static act_zero_point", act_zero_point=3),
    "weight_zero_point": lambda: _flag("SQ_PLAN_WEIGHT_ZERO_POINT", **{**_LIN, "flags": PlanFlag.WEIGHT_ZERO_POINT}),
    "static_zero_point_quantize": lambda: _first(
        _ignores("QUANTIZE_STATIC act_zero_point", "act_zero_point",
                 op=Op.QUANTIZE_STATIC, act_dtype=DType.F32, out_dtype=DType.S8, k=16, max_m=4, act_scale=0.5,
                 act_zero_point=1000),
        lambda: _verdict("QUANTIZE_STATIC act_zero_point",
                    *_select(op=Op.QUANTIZE_STATIC, act_dtype=DType.F32, out_dtype=DType.S8, k=16, max_m=4,
                             act_scale=0.5, act_zero_point=3)[:2])),
    "act_sums": _act_sums,
    "weight_sums": lambda: _symbol("sq_weight_sums"),
    "quantize_weight_per_channel_asymmetric": lambda: _symbol("sq_quantize_weight_per_channel_asymmetric"),
}


@functools.lru_cache(maxsize=None)
def feature(name):
    """The Feature for one 0.2 capability (see PROBES)."""
    if name not in PROBES:
        raise KeyError(f"unknown feature {name!r}: one of {', '.join(PROBES)}")
    return PROBES[name]()


def features():
    """{name: Feature} for every 0.2 capability."""
    return {name: feature(name) for name in PROBES}
