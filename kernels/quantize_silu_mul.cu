// SQ_OP_SILU_MUL_QUANTIZE on the GPU: the engine of quantize_rows.cuh with the SiLU-and-multiply
// producer (x = [m, 2k] of f16, bf16 or f32: gate then up; math in f32).
#include "quantize_rows.cuh"

namespace sq {
namespace kernels {
namespace qrows {

cudaError_t launch_silu_mul(const QuantizeParams& p, cudaStream_t stream) {
  switch (p.x_dtype) {
    case Dtype::F32: return launch_rows<Producer::kSiluMul, float>(p, stream);
    case Dtype::F16: return launch_rows<Producer::kSiluMul, __half>(p, stream);
    case Dtype::BF16: return launch_rows<Producer::kSiluMul, __nv_bfloat16>(p, stream);
    default: break;
  }
  return cudaErrorInvalidValue;
}

cudaError_t prepare_silu_mul() {
  cudaError_t e;
  if ((e = prepare_rows<Producer::kSiluMul, float>()) != cudaSuccess) return e;
  if ((e = prepare_rows<Producer::kSiluMul, __half>()) != cudaSuccess) return e;
  return prepare_rows<Producer::kSiluMul, __nv_bfloat16>();
}

}  // namespace qrows
}  // namespace kernels
}  // namespace sq
