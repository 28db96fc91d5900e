"""Arrays in, pointers out: one view (:class:`Arr`) of any array the binding accepts, and
allocation of outputs "with the array library of the input".

Accepted: PyTorch tensors (CPU or CUDA), NumPy arrays (host), CuPy arrays and anything else with
``__cuda_array_interface__`` (CAI v2/v3), JAX arrays (through their CAI on the GPU, DLPack on the
host), and anything with ``__dlpack__``/``__dlpack_device__``. Nothing is copied: a view of the
caller's memory is passed to the library, so an array must already have the plan's dtype and a
unit stride along its last dimension (rows may be strided: that is the C ABI's ``ld``).
"""

import ctypes
import sys

from ._abi import DType
from ._errors import bad_argument, bad_dtype, Status

HOST = -1  # Arr.device of host memory

#: Internal dtype code for a uint16 NumPy array standing for raw bfloat16 bits (NumPy has no bf16).
BF16_BITS = 100

ITEMSIZE = {DType.S8: 1, DType.U8: 1, DType.S32: 4, DType.F16: 2, DType.BF16: 2, DType.F32: 4, DType.F64: 8,
            BF16_BITS: 2}

DTYPE_NAMES = {
    DType.S8: "int8", DType.U8: "uint8", DType.S32: "int32", DType.F16: "float16", DType.BF16: "bfloat16",
    DType.F32: "float32", DType.F64: "float64", BF16_BITS: "uint16 (raw bfloat16 bits)",
}

_NAME_TO_DTYPE = {
    "int8": DType.S8, "s8": DType.S8, "i8": DType.S8,
    "uint8": DType.U8, "u8": DType.U8,
    "int32": DType.S32, "s32": DType.S32, "i32": DType.S32,
    "float16": DType.F16, "f16": DType.F16, "half": DType.F16,
    "bfloat16": DType.BF16, "bf16": DType.BF16,
    "float32": DType.F32, "f32": DType.F32, "float": DType.F32,
    "float64": DType.F64, "f64": DType.F64, "double": DType.F64,
}


def to_dtype(x, argument="dtype"):
    """A DType from a DType, an int, a name ("bf16", "float32", ...), a NumPy/PyTorch/JAX dtype."""
    if x is None:
        return DType.INVALID
    if isinstance(x, DType):
        return x
    if isinstance(x, int):
        return DType(x)
    name = str(x).lower()
    if name.startswith("torch."):
        name = name[6:]
    if name.startswith("sq_dtype_"):
        name = name[9:]
    if name.startswith("<class 'numpy.") or name.startswith("<class 'ml_dtypes."):
        name = name.split(".")[-1].rstrip("'>")
    d = _NAME_TO_DTYPE.get(name)
    if d is None:
        try:
            import numpy as np

            d = _NAME_TO_DTYPE.get(np.dtype(x).name)
        except Exception:  # noqa: BLE001 - not a NumPy dtype either
            d = None
    if d is None:
        raise bad_dtype(argument, f"{x!r} is not a dtype this library knows (int8, uint8, int32, float16, "
                                  "bfloat16, float32, float64)")
    return d


class Arr:
    """One array as the C call sees it. ``strides`` are in elements; ``device`` is HOST or a CUDA
    ordinal (None when unknown: a bare CAI object); ``family`` is the array library."""

    __slots__ = ("ptr", "shape", "strides", "dtype", "device", "family", "obj", "keep", "readonly", "stream")

    def __init__(self, ptr, shape, strides, dtype, device, family, obj, keep=None, readonly=False, stream=None):
        self.ptr = ptr
        self.shape = shape
        self.strides = strides
        self.dtype = dtype
        self.device = device
        self.family = family
        self.obj = obj
        self.keep = keep
        self.readonly = readonly
        self.stream = stream  # the producer's stream (CAI v3), when it says


# ------------------------------------------------------------------ torch
_TORCH_DTYPES = None


class _NoTorch:
    """Stands for torch.Tensor until torch is seen (no array is of this type)."""


#: [torch.Tensor] once a torch tensor has been seen (the fast paths test ``type(x) is TORCH_TENSOR[0]``
#: without importing torch).
TORCH_TENSOR = [_NoTorch]
_raw_stream = None


def torch_stream(index):
    """PyTorch's current stream of CUDA device ``index`` as a CUstream int (0: the legacy default)."""
    global _raw_stream
    if _raw_stream is None:
        import torch

        get = getattr(torch._C, "_cuda_getCurrentRawStream", None)
        _raw_stream = get if get is not None else (lambda i: torch.cuda.current_stream(i).cuda_stream)
    return _raw_stream(index)


def _torch_dtypes():
    global _TORCH_DTYPES
    if _TORCH_DTYPES is None:
        import torch

        TORCH_TENSOR[0] = torch.Tensor
        _TORCH_DTYPES = {
            torch.int8: DType.S8, torch.uint8: DType.U8, torch.int32: DType.S32, torch.float16: DType.F16,
            torch.bfloat16: DType.BF16, torch.float32: DType.F32, torch.float64: DType.F64,
        }
    return _TORCH_DTYPES


def torch_dtype(d):
    import torch

    return {DType.S8: torch.int8, DType.U8: torch.uint8, DType.S32: torch.int32, DType.F16: torch.float16,
            DType.BF16: torch.bfloat16, DType.F32: torch.float32, DType.F64: torch.float64}[d]


def _from_torch(t, name):
    dt = (_TORCH_DTYPES or _torch_dtypes()).get(t.dtype)
    if dt is None:
        raise bad_dtype(name, f"is a torch tensor of dtype {t.dtype}, which this library has no use for")
    if t.is_cuda:
        device = t.get_device()
    elif t.is_cpu:
        device = HOST
    else:
        raise bad_argument(name, f"is on device {t.device}: the library runs on the host (cpu) and on CUDA GPUs",
                           Status.WRONG_MEMORY_SPACE)
    return Arr(t.data_ptr(), t.shape, t.stride(), dt, device, "torch", t)


# ------------------------------------------------------------------ numpy
_NP_DTYPES = {"int8": DType.S8, "uint8": DType.U8, "int32": DType.S32, "float16": DType.F16,
              "bfloat16": DType.BF16, "float32": DType.F32, "float64": DType.F64, "uint16": BF16_BITS}


def _from_numpy(a, name):
    dt = _NP_DTYPES.get(a.dtype.name)
    if dt is None or not a.dtype.isnative:
        raise bad_dtype(name, f"is a NumPy array of dtype {a.dtype}, which this library has no use for")
    item = a.itemsize
    strides = []
    for s in a.strides:
        if s % item:
            raise bad_argument(name, f"has byte strides {a.strides} that are not a multiple of its element size {item}")
        strides.append(s // item)
    return Arr(a.__array_interface__["data"][0], a.shape, tuple(strides), dt, HOST, "numpy", a,
               readonly=not a.flags.writeable)


# ------------------------------------------------------------------ __cuda_array_interface__
_TYPESTR = {"i1": DType.S8, "u1": DType.U8, "i4": DType.S32, "f2": DType.F16, "f4": DType.F32, "f8": DType.F64}


def _cai_device(obj):
    mod = type(obj).__module__
    if mod.startswith("cupy"):
        return obj.device.id, "cupy"
    if mod.startswith("jax") or mod.startswith("jaxlib"):
        (dev,) = obj.devices()
        return getattr(dev, "local_hardware_id", dev.id), "jax"
    return None, "cai"


def _from_cai(obj, name, cai):
    typestr = cai["typestr"]
    dt = _TYPESTR.get(typestr[1:])
    if dt is None or typestr[0] == ">":
        raise bad_dtype(name, f"has CUDA array typestr {typestr!r}, which this library has no use for")
    if cai.get("mask") is not None:
        raise bad_argument(name, "is a masked CUDA array: not supported")
    shape = tuple(cai["shape"])
    item = ITEMSIZE[dt]
    if cai.get("strides") is None:
        strides, acc = [], 1
        for n in reversed(shape):
            strides.append(acc)
            acc *= n
        strides = tuple(reversed(strides))
    else:
        strides = []
        for s in cai["strides"]:
            if s % item:
                raise bad_argument(name, f"has byte strides {cai['strides']} not a multiple of its element size")
            strides.append(s // item)
        strides = tuple(strides)
    ptr, readonly = cai["data"]
    device, family = _cai_device(obj)
    return Arr(ptr or 0, shape, strides, dt, device, family, obj, readonly=bool(readonly), stream=cai.get("stream"))


# ------------------------------------------------------------------ DLPack
class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", _DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p)]


class _DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class _DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [("version", _DLPackVersion), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p),
                ("flags", ctypes.c_uint64), ("dl_tensor", _DLTensor)]


_kDLCPU, _kDLCUDA, _kDLCUDAHost, _kDLCUDAManaged = 1, 2, 3, 13
_DL_DTYPES = {(0, 8): DType.S8, (1, 8): DType.U8, (0, 32): DType.S32, (2, 16): DType.F16, (4, 16): DType.BF16,
              (2, 32): DType.F32, (2, 64): DType.F64}
_capsule_get = None


def _capsule_pointer(capsule, name):
    global _capsule_get
    if _capsule_get is None:
        f = ctypes.pythonapi.PyCapsule_GetPointer
        f.argtypes = [ctypes.py_object, ctypes.c_char_p]
        f.restype = ctypes.c_void_p
        _capsule_get = f
    return _capsule_get(capsule, name)


def _capsule_name(capsule):
    f = ctypes.pythonapi.PyCapsule_GetName
    f.argtypes = [ctypes.py_object]
    f.restype = ctypes.c_char_p
    return f(capsule)


def _from_dlpack(obj, name):
    dev_type, dev_id = obj.__dlpack_device__()
    dev_type = int(dev_type)
    if dev_type in (_kDLCPU, _kDLCUDAHost):
        device, stream = HOST, None
    elif dev_type in (_kDLCUDA, _kDLCUDAManaged):
        device, stream = int(dev_id), 1  # we run on the legacy default stream (DLPack: 1)
    else:
        raise bad_argument(name, f"is a DLPack array on device type {dev_type}: only host and CUDA memory",
                           Status.WRONG_MEMORY_SPACE)
    kwargs = {} if stream is None else {"stream": stream}
    try:
        capsule = obj.__dlpack__(max_version=(1, 0), **kwargs)
    except TypeError:
        capsule = obj.__dlpack__(**kwargs)
    cname = _capsule_name(capsule)
    readonly = False
    if cname == b"dltensor_versioned":
        mt = _DLManagedTensorVersioned.from_address(_capsule_pointer(capsule, cname))
        readonly = bool(mt.flags & 1)
    elif cname == b"dltensor":
        mt = _DLManagedTensor.from_address(_capsule_pointer(capsule, cname))
    else:
        raise bad_argument(name, f"__dlpack__ returned a capsule named {cname!r}, already used or not DLPack")
    t = mt.dl_tensor
    if t.dtype.lanes != 1 or (t.dtype.code, t.dtype.bits) not in _DL_DTYPES:
        raise bad_dtype(name, f"is a DLPack array of dtype code {t.dtype.code}, {t.dtype.bits} bits, "
                              f"{t.dtype.lanes} lanes, which this library has no use for")
    dt = _DL_DTYPES[(t.dtype.code, t.dtype.bits)]
    shape = tuple(t.shape[i] for i in range(t.ndim))
    if t.strides:
        strides = tuple(t.strides[i] for i in range(t.ndim))
    else:
        strides, acc = [], 1
        for n in reversed(shape):
            strides.append(acc)
            acc *= n
        strides = tuple(reversed(strides))
    ptr = (t.data or 0) + t.byte_offset
    mod = type(obj).__module__
    family = "jax" if mod.startswith(("jax", "jaxlib")) else "dlpack"
    # The capsule, kept alive for the call, frees its tensor when it is collected.
    return Arr(ptr, shape, strides, dt, device, family, obj, keep=capsule, readonly=readonly)


# ------------------------------------------------------------------ dispatch
_np_ndarray = None


def as_arr(x, name):
    """An :class:`Arr` for any accepted array, or an ArgumentError naming ``name``."""
    global _np_ndarray
    if isinstance(x, Arr):
        return x
    mod = type(x).__module__
    if mod.startswith("torch"):
        return _from_torch(x, name)
    if mod == "numpy":
        if _np_ndarray is None:
            import numpy as np

            _np_ndarray = np.ndarray
        if isinstance(x, _np_ndarray):
            return _from_numpy(x, name)
    if mod.startswith(("jax", "jaxlib")) and hasattr(x, "devices"):
        devs = x.devices()
        if len(devs) != 1:
            raise bad_argument(name, "is a JAX array sharded over several devices: pass one device's shard")
        (dev,) = devs
        if dev.platform == "cpu":
            return _from_dlpack(x, name)
        # JAX computes asynchronously and its CAI does not wait: wait for this array (a host wait on
        # its ready event, not a device synchronization). bf16 has no CAI in JAX: DLPack then.
        x.block_until_ready()
        try:
            cai = x.__cuda_array_interface__
        except AttributeError:
            return _from_dlpack(x, name)
        return _from_cai(x, name, cai)
    cai = getattr(x, "__cuda_array_interface__", None)
    if cai is not None:
        return _from_cai(x, name, cai)
    if hasattr(x, "__dlpack__") and hasattr(x, "__dlpack_device__"):
        return _from_dlpack(x, name)
    if hasattr(x, "__array_interface__"):
        import numpy as np

        return _from_numpy(np.asarray(x), name)
    raise bad_argument(name, f"is a {type(x).__module__}.{type(x).__name__}: expected an array (NumPy, PyTorch, "
                             "CuPy, JAX, or anything with DLPack or __cuda_array_interface__)")


# ------------------------------------------------------------------ allocation
def _numpy_dtype(d):
    import numpy as np

    if d == DType.BF16:
        try:
            import ml_dtypes  # type: ignore

            return np.dtype(ml_dtypes.bfloat16)
        except ImportError:
            return np.dtype(np.uint16)  # raw bfloat16 bits (documented)
    if d == BF16_BITS:
        return np.dtype(np.uint16)
    return np.dtype({DType.S8: np.int8, DType.U8: np.uint8, DType.S32: np.int32, DType.F16: np.float16,
                     DType.F32: np.float32, DType.F64: np.float64}[d])


def empty(like, shape, dtype):
    """A new array of ``shape`` and ``dtype`` from ``like``'s array library, on its device."""
    fam = like.family
    if like.device == HOST:
        if fam == "torch":
            import torch

            return torch.empty(shape, dtype=torch_dtype(dtype))
        import numpy as np

        if dtype == DType.BF16 and like.dtype == BF16_BITS:
            dtype = BF16_BITS
        return np.empty(shape, dtype=_numpy_dtype(dtype))
    if fam == "torch":
        import torch

        return torch.empty(shape, dtype=torch_dtype(dtype), device=like.obj.device)
    if fam == "jax":
        import jax.numpy as jnp

        return jnp.empty(shape, dtype=_jax_dtype(dtype), device=next(iter(like.obj.devices())))
    if fam == "cupy" or "cupy" in sys.modules or _can_import("cupy"):
        import cupy

        if dtype == DType.BF16:
            raise bad_dtype("out", "CuPy has no bfloat16: pass out= (a bfloat16 array of another library)")
        with cupy.cuda.Device(like.device if like.device is not None else cupy.cuda.runtime.getDevice()):
            return cupy.empty(shape, dtype=_numpy_dtype(dtype))
    if "torch" in sys.modules or _can_import("torch"):
        import torch

        dev = like.device if like.device is not None else torch.cuda.current_device()
        return torch.empty(shape, dtype=torch_dtype(dtype), device=f"cuda:{dev}")
    raise bad_argument("out", f"cannot allocate GPU memory for a {like.family} array without CuPy or PyTorch: "
                              "pass every output array")


def _jax_dtype(d):
    import jax.numpy as jnp

    return {DType.S8: jnp.int8, DType.U8: jnp.uint8, DType.S32: jnp.int32, DType.F16: jnp.float16,
            DType.BF16: jnp.bfloat16, DType.F32: jnp.float32, DType.F64: jnp.float64}[d]


def _can_import(name):
    try:
        __import__(name)
        return True
    except ImportError:
        return False


def current_stream(like):
    """The stream a run on ``like``'s array library uses by default (a CUstream as an int; 0 is the
    legacy default stream), and whether the binding must synchronize it before returning."""
    fam = like.family
    if fam == "torch":
        import torch

        get = getattr(torch._C, "_cuda_getCurrentRawStream", None)
        if get is not None:
            return get(like.device), False
        return torch.cuda.current_stream(like.device).cuda_stream, False
    if fam == "cupy":
        import cupy

        with cupy.cuda.Device(like.device):
            return cupy.cuda.get_current_stream().ptr, False
    if fam == "jax":
        # JAX has no current stream to join: inputs were ready when read (CAI waits), the run goes on
        # the legacy default stream, and the binding waits for that stream before returning the
        # outputs to JAX (a stream synchronization, not a device one).
        return 0, True
    s = like.stream
    if s is None or s == 1:
        return 0, False
    return s, False  # CAI v3: the producer's stream (2 = per-thread default)


def stream_handle(stream):
    """A CUstream integer from an int, None, a torch.cuda.Stream (.cuda_stream) or a CuPy stream (.ptr)."""
    if stream is None:
        return 0
    if isinstance(stream, int):
        return stream
    for attr in ("cuda_stream", "ptr", "handle"):
        h = getattr(stream, attr, None)
        if h is not None:
            return int(h)
    raise bad_argument("stream", f"is a {type(stream).__name__}: expected an int CUstream, a torch.cuda.Stream "
                                 "or a CuPy stream")
