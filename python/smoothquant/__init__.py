"""smoothquant: Python bindings of libsmoothquant (SmoothQuant W8A8 int8 linear layers, bit-stable
on every kernel), over its C ABI through ctypes.

    import numpy as np, smoothquant as sq
    with sq.Plan.smoothquant_linear(n=N, k=K, max_m=M, act_scale=0.02, out_dtype="float32") as plan:
        y = plan.run(act_q, weight=w_q, weight_scale=w_scale)       # host reference plan, NumPy

PyTorch ops and modules are in :mod:`smoothquant.torch`.
"""

from ._abi import (ABI_VERSION_NUMBER, SQ_MAX_K, DType, KernelFamily, Op, PlanFlag, Preference, QuantMode,
                   Status)
from ._errors import (ArgumentError, DTypeError, NoDeviceError, NotSupportedError, PlanClosedError,
                      SmoothQuantError)
from ._features import Feature, feature, features
from ._lib import LibraryNotFoundError
from ._offline import (quantize_weight_per_channel, quantize_weight_per_channel_asymmetric, smooth_apply_to_norm,
                       smooth_apply_to_weight, smooth_factors, static_act_scale, weight_sums)
from ._plan import Plan, PlanInfo, PrecisionGuarantee, run_args

__version__ = "0.2.0"

#: The header version (SQ_VERSION_NUMBER) this binding mirrors.
ABI_VERSION = "0.2.0"


def library():
    """The loaded libsmoothquant: ``.path``, ``.version``, ``.version_number``, ``.origin``."""
    from . import _lib

    return _lib.load()


def library_version():
    """The loaded library's version string ("MAJOR.MINOR.PATCH")."""
    return library().version


def status_string(status):
    """sq_status_string: the library's name for a status."""
    return library().sq_status_string(int(status)).decode()


__all__ = [
    "ABI_VERSION", "ABI_VERSION_NUMBER", "SQ_MAX_K", "ArgumentError", "DType", "DTypeError", "Feature",
    "KernelFamily", "LibraryNotFoundError", "NoDeviceError", "NotSupportedError", "Op", "Plan", "PlanClosedError",
    "PlanFlag", "PlanInfo", "PrecisionGuarantee", "Preference", "QuantMode", "SmoothQuantError", "Status",
    "feature", "features", "library", "library_version", "quantize_weight_per_channel",
    "quantize_weight_per_channel_asymmetric", "run_args", "smooth_apply_to_norm", "smooth_apply_to_weight",
    "smooth_factors", "static_act_scale", "status_string", "weight_sums",
]
