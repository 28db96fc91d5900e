// SQ_OP_RMSNORM_QUANTIZE on the GPU: the engine of quantize_rows.cuh with the RMSNorm producer
// (x, residual, residual_out, norm_weight of f16, bf16 or f32; math in f32).
#include "quantize_rows.cuh"

namespace sq {
namespace kernels {
namespace qrows {

cudaError_t launch_rmsnorm(const QuantizeParams& p, cudaStream_t stream) {
  switch (p.x_dtype) {
    case Dtype::F32: return launch_rows<Producer::kRmsNorm, float>(p, stream);
    case Dtype::F16: return launch_rows<Producer::kRmsNorm, __half>(p, stream);
    case Dtype::BF16: return launch_rows<Producer::kRmsNorm, __nv_bfloat16>(p, stream);
    default: break;
  }
  return cudaErrorInvalidValue;
}

cudaError_t prepare_rmsnorm() {
  cudaError_t e;
  if ((e = prepare_rows<Producer::kRmsNorm, float>()) != cudaSuccess) return e;
  if ((e = prepare_rows<Producer::kRmsNorm, __half>()) != cudaSuccess) return e;
  return prepare_rows<Producer::kRmsNorm, __nv_bfloat16>();
}

}  // namespace qrows
}  // namespace kernels
}  // namespace sq
