"""PyTorch integration: ``torch.library`` custom ops (``torch.ops.smoothquant.*``) with fake kernels,
the :class:`SmoothQuantLinear` module, :func:`calibrate`, :func:`quantize_model` and compressed-tensors
safetensors export/import.

Importing this module registers the ops. CPU tensors run on the host reference plan, CUDA tensors on
the GPU plan of their device (PyTorch's current stream; graph-capturable)."""

from ._ops import (OPS, PLANS, add_rmsnorm_quantize, int8_matmul, quantize_dynamic, quantize_dynamic_asymmetric,
                   quantize_from_absmax, quantize_static, quantized_linear, rmsnorm_quantize, scale_accumulators,
                   scaled_linear, silu_mul_quantize, smoothquant_linear, token_absmax)
from ._modules import SmoothQuantLinear
from ._model import (calibrate, load_compressed, quantization_config, quantize_model, save_compressed,
                     state_dict_compressed)

__all__ = [
    "OPS", "PLANS", "SmoothQuantLinear", "add_rmsnorm_quantize", "calibrate", "int8_matmul", "load_compressed",
    "quantization_config", "quantize_dynamic", "quantize_dynamic_asymmetric", "quantize_from_absmax",
    "quantize_model", "quantize_static", "quantized_linear", "rmsnorm_quantize", "save_compressed",
    "scale_accumulators", "scaled_linear", "silu_mul_quantize", "smoothquant_linear", "state_dict_compressed",
    "token_absmax",
]
