"""The C ABI of libsmoothquant 0.2, mirrored in ctypes.

Every enum, flag, constant and struct of ``include/smoothquant/smoothquant.h`` is here, field for
field in the header's order. ``tests/test_abi_layout.py`` compiles a C program against the header
and checks every size and offset below against the C compiler's, so a header change that this
file does not follow fails the test suite.
"""

import ctypes
import enum

# ------------------------------------------------------------------ version
#: The header version this binding was written against (SQ_VERSION_*).
ABI_VERSION_MAJOR = 0
ABI_VERSION_MINOR = 2
ABI_VERSION_PATCH = 0
ABI_VERSION_NUMBER = ABI_VERSION_MAJOR * 10000 + ABI_VERSION_MINOR * 100 + ABI_VERSION_PATCH

SQ_MAX_K = 131071
SQ_MAX_STRUCT_SIZE = 4096
SQ_PLAN_DESC_SIZE_0_1 = 64
SQ_RUN_ARGS_SIZE_0_1 = 96
SQ_API_TABLE_VERSION = 2
SQ_GET_API_SYMBOL = "sq_get_api"


class Status(enum.IntEnum):
    """sq_status: the result of every call (values fixed forever)."""

    SUCCESS = 0
    INVALID_ARGUMENT = 1
    INVALID_STRUCT_SIZE = 2
    INVALID_HANDLE = 3
    NOT_SUPPORTED = 4
    NO_DEVICE = 5
    WRONG_DEVICE = 6
    MISALIGNED = 7
    WRONG_MEMORY_SPACE = 8
    INSUFFICIENT_WORKSPACE = 9
    CUDA_ERROR = 10
    OUT_OF_MEMORY = 11
    INTERNAL_ERROR = 12


class DType(enum.IntEnum):
    """sq_dtype."""

    INVALID = 0
    S8 = 1
    S32 = 2
    F16 = 3
    BF16 = 4
    F32 = 5
    F64 = 6
    U8 = 7  # since 0.2


class Op(enum.IntEnum):
    """sq_op: what a plan computes (formulas in the header's NUMERICS CONTRACT)."""

    SMOOTHQUANT_LINEAR = 1
    QUANTIZED_LINEAR = 2
    QUANTIZE_STATIC = 3
    QUANTIZE_DYNAMIC = 4
    SCALED_LINEAR = 5  # since 0.2
    RMSNORM_QUANTIZE = 6  # since 0.2
    SILU_MUL_QUANTIZE = 7  # since 0.2
    SCALE_ACCUMULATORS = 8  # since 0.2


class QuantMode(enum.IntEnum):
    """sq_quant_mode (desc.quant_mode, since 0.2)."""

    DEFAULT = 0
    STATIC = 1
    DYNAMIC = 2
    DYNAMIC_ASYMMETRIC = 3
    ABSMAX = 4
    FROM_ABSMAX = 5


class PlanFlag(enum.IntFlag):
    """desc.flags (SQ_PLAN_*, since 0.2)."""

    NONE = 0
    WEIGHT_ZERO_POINT = 0x1
    ACT_ZERO_POINT = 0x2
    PER_TENSOR_ACT_SCALE = 0x4


class Preference(enum.IntEnum):
    """sq_preference: which kernel family sq_plan_select may pick (never a silent fallback)."""

    FASTEST = 0
    HOST_REFERENCE = 1
    GPU_PORTABLE = 2
    GPU_HOPPER = 3


class KernelFamily(enum.IntEnum):
    """sq_kernel_family."""

    HOST = 1
    SM80 = 2
    SM90 = 3


# ------------------------------------------------------------------ structs
class PlanDesc(ctypes.Structure):
    """sq_plan_desc (0.2 layout, 88 bytes)."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("op", ctypes.c_int32),
        ("act_dtype", ctypes.c_int32),
        ("weight_dtype", ctypes.c_int32),
        ("scale_dtype", ctypes.c_int32),
        ("out_dtype", ctypes.c_int32),
        ("n", ctypes.c_int64),
        ("k", ctypes.c_int64),
        ("max_m", ctypes.c_int64),
        ("act_scale", ctypes.c_double),
        ("host_threads", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
        # since 0.2
        ("quant_mode", ctypes.c_int32),
        ("quant_dtype", ctypes.c_int32),
        ("act_zero_point", ctypes.c_int32),
        ("flags", ctypes.c_uint32),
        ("eps", ctypes.c_double),
    ]


class RunArgs(ctypes.Structure):
    """sq_run_args (0.2 layout, 184 bytes). Pointers are plain integers (c_void_p)."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
        ("m", ctypes.c_int64),
        ("act", ctypes.c_void_p),
        ("ld_act", ctypes.c_int64),
        ("weight", ctypes.c_void_p),
        ("ld_weight", ctypes.c_int64),
        ("weight_scale", ctypes.c_void_p),
        ("bias", ctypes.c_void_p),
        ("smooth", ctypes.c_void_p),
        ("act_scale_scratch", ctypes.c_void_p),
        ("out", ctypes.c_void_p),
        ("ld_out", ctypes.c_int64),
        # since 0.2
        ("act_scale", ctypes.c_void_p),
        ("weight_zero_point", ctypes.c_void_p),
        ("weight_sums", ctypes.c_void_p),
        ("act_zero_point", ctypes.c_void_p),
        ("act_sums", ctypes.c_void_p),
        ("absmax", ctypes.c_void_p),
        ("residual", ctypes.c_void_p),
        ("ld_residual", ctypes.c_int64),
        ("residual_out", ctypes.c_void_p),
        ("ld_residual_out", ctypes.c_int64),
        ("norm_weight", ctypes.c_void_p),
    ]


class PrecisionGuaranteeStruct(ctypes.Structure):
    """sq_precision_guarantee."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("bit_exact_with_host", ctypes.c_uint32),
        ("deterministic", ctypes.c_uint32),
        ("exact_accumulation", ctypes.c_uint32),
        ("accumulate_dtype", ctypes.c_int32),
        ("epilogue_dtype", ctypes.c_int32),
        ("max_k", ctypes.c_int64),
    ]


class PlanInfoStruct(ctypes.Structure):
    """sq_plan_info."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("family", ctypes.c_int32),
        ("op", ctypes.c_int32),
        ("device", ctypes.c_int32),
        ("sm_version", ctypes.c_int32),
        ("reserved", ctypes.c_uint32),
        ("n", ctypes.c_int64),
        ("k", ctypes.c_int64),
        ("max_m", ctypes.c_int64),
    ]


class MatrixView(ctypes.Structure):
    """sq_matrix_view: a read-only host matrix for the offline helpers."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("dtype", ctypes.c_int32),
        ("rows", ctypes.c_int64),
        ("cols", ctypes.c_int64),
        ("ld", ctypes.c_int64),
        ("data", ctypes.c_void_p),
    ]


_status = ctypes.c_int32
_p = ctypes.c_void_p
_i64 = ctypes.c_int64
_i32 = ctypes.c_int32

#: The dlopen function table (sq_api_table), members in the header's order.
API_TABLE_FUNCTIONS = [
    # version 1
    ("version", ctypes.CFUNCTYPE(ctypes.c_uint32)),
    ("version_string", ctypes.CFUNCTYPE(ctypes.c_char_p)),
    ("status_string", ctypes.CFUNCTYPE(ctypes.c_char_p, _status)),
    ("last_error_message", ctypes.CFUNCTYPE(ctypes.c_char_p)),
    ("plan_select", ctypes.CFUNCTYPE(_status, _p, _p, _i32, _p)),
    ("plan_can_implement", ctypes.CFUNCTYPE(_status, _p, _p)),
    ("plan_workspace_size", ctypes.CFUNCTYPE(_status, _p, _p)),
    ("plan_precision_guarantee", ctypes.CFUNCTYPE(_status, _p, _p)),
    ("plan_get_info", ctypes.CFUNCTYPE(_status, _p, _p)),
    ("plan_kernel_name", ctypes.CFUNCTYPE(_status, _p, _i64, _p)),
    ("plan_run", ctypes.CFUNCTYPE(_status, _p, _p, _p, ctypes.c_size_t, _p)),
    ("plan_destroy", ctypes.CFUNCTYPE(_status, _p)),
    ("smooth_factors", ctypes.CFUNCTYPE(_status, _i64, _p, _p, _i32, ctypes.c_float, _p)),
    ("smooth_apply_to_norm", ctypes.CFUNCTYPE(_status, _i64, _p, _i32, _p, _p)),
    ("smooth_apply_to_weight", ctypes.CFUNCTYPE(_status, _i64, _p, _i32, _i64, _i64, _p)),
    ("quantize_weight_per_channel", ctypes.CFUNCTYPE(_status, _p, _p, _i64, _i32, _p)),
    ("static_act_scale", ctypes.CFUNCTYPE(_status, _i64, _p, _p, _p)),
    # version 2 (0.2)
    ("weight_sums", ctypes.CFUNCTYPE(_status, _p, _p)),
    ("quantize_weight_per_channel_asymmetric", ctypes.CFUNCTYPE(_status, _p, _i32, _p, _i64, _i32, _p, _p)),
]


class ApiTable(ctypes.Structure):
    """sq_api_table: struct_size, api_version, then one function pointer per member."""

    _fields_ = [("struct_size", ctypes.c_uint32), ("api_version", ctypes.c_uint32)] + API_TABLE_FUNCTIONS


#: Every struct of the header with its ctypes mirror (the layout test walks this).
STRUCTS = {
    "sq_plan_desc": PlanDesc,
    "sq_run_args": RunArgs,
    "sq_precision_guarantee": PrecisionGuaranteeStruct,
    "sq_plan_info": PlanInfoStruct,
    "sq_matrix_view": MatrixView,
    "sq_api_table": ApiTable,
}

#: Every enum of the header: its C prefix and its Python mirror.
ENUMS = {
    "SQ_STATUS_": Status,
    "SQ_DTYPE_": DType,
    "SQ_OP_": Op,
    "SQ_QUANT_": QuantMode,
    "SQ_PREFERENCE_": Preference,
    "SQ_KERNEL_FAMILY_": KernelFamily,
    "SQ_PLAN_": PlanFlag,
}

#: (name, argtypes, restype) of every exported function, in the header's order. Pointers are
#: c_void_p so Python integers pass straight through.
FUNCTIONS = [
    ("sq_version", [], ctypes.c_uint32),
    ("sq_version_string", [], ctypes.c_char_p),
    ("sq_status_string", [_status], ctypes.c_char_p),
    ("sq_last_error_message", [], ctypes.c_char_p),
    ("sq_plan_select", [_p, ctypes.POINTER(PlanDesc), _i32, ctypes.POINTER(ctypes.c_void_p)], _status),
    ("sq_plan_can_implement", [_p, ctypes.POINTER(RunArgs)], _status),
    ("sq_plan_workspace_size", [_p, ctypes.POINTER(ctypes.c_size_t)], _status),
    ("sq_plan_precision_guarantee", [_p, ctypes.POINTER(PrecisionGuaranteeStruct)], _status),
    ("sq_plan_get_info", [_p, ctypes.POINTER(PlanInfoStruct)], _status),
    ("sq_plan_kernel_name", [_p, _i64, ctypes.POINTER(ctypes.c_char_p)], _status),
    ("sq_plan_run", [_p, _p, _p, ctypes.c_size_t, ctypes.POINTER(RunArgs)], _status),
    ("sq_plan_destroy", [_p], _status),
    ("sq_smooth_factors", [_i64, _p, ctypes.POINTER(MatrixView), _i32, ctypes.c_float, _p], _status),
    ("sq_smooth_apply_to_norm", [_i64, _p, _i32, _p, _p], _status),
    ("sq_smooth_apply_to_weight", [_i64, _p, _i32, _i64, _i64, _p], _status),
    ("sq_quantize_weight_per_channel", [ctypes.POINTER(MatrixView), _p, _i64, _i32, _p], _status),
    ("sq_static_act_scale", [_i64, _p, _p, ctypes.POINTER(ctypes.c_double)], _status),
    ("sq_weight_sums", [ctypes.POINTER(MatrixView), _p], _status),  # since 0.2
    (
        "sq_quantize_weight_per_channel_asymmetric",  # since 0.2
        [ctypes.POINTER(MatrixView), _i32, _p, _i64, _i32, _p, _p],
        _status,
    ),
    ("sq_get_api", [], ctypes.POINTER(ApiTable)),
]

#: Functions a 0.1 library lacks; the binding works without them (calls raise NOT_SUPPORTED).
OPTIONAL_FUNCTIONS = frozenset({"sq_weight_sums", "sq_quantize_weight_per_channel_asymmetric"})
