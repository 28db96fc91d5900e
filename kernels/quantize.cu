// GPU activation quantizers (see quantize.hpp): the plain producer (SQ_OP_QUANTIZE_STATIC,
// SQ_OP_QUANTIZE_DYNAMIC, the first launch of SQ_OP_QUANTIZED_LINEAR) and the entry points of every
// producer. The kernel is the engine of quantize_rows.cuh; the fused producers are instantiated in
// quantize_rmsnorm.cu and quantize_silu_mul.cu; the 0.1 symmetric cases keep their measured kernels
// (quantize_symmetric.cu) [D-quant-engine].
#include "quantize_rows.cuh"

namespace sq {
namespace kernels {

using qrows::launch_rows;
using qrows::prepare_rows;

cudaError_t quantize_prepare() {
  cudaError_t e;
  if ((e = prepare_rows<Producer::kPlain, float>()) != cudaSuccess) return e;
  if ((e = prepare_rows<Producer::kPlain, double>()) != cudaSuccess) return e;
  if ((e = prepare_rows<Producer::kPlain, __half>()) != cudaSuccess) return e;
  if ((e = prepare_rows<Producer::kPlain, __nv_bfloat16>()) != cudaSuccess) return e;
  if ((e = qrows::prepare_rmsnorm()) != cudaSuccess) return e;
  if ((e = qrows::prepare_silu_mul()) != cudaSuccess) return e;
  if ((e = quantize_symmetric_prepare()) != cudaSuccess) return e;
  return row_sums_prepare();
}

cudaError_t launch_quantize(const QuantizeParams& p, cudaStream_t stream) {
  switch (p.producer) {
    case Producer::kRmsNorm: return qrows::launch_rmsnorm(p, stream);
    case Producer::kSiluMul: return qrows::launch_silu_mul(p, stream);
    case Producer::kPlain: break;
  }
  if (symmetric_path(p)) return launch_quantize_symmetric(p, stream);  // [D-quant-engine]
  switch (p.x_dtype) {
    case Dtype::F32: return launch_rows<Producer::kPlain, float>(p, stream);
    case Dtype::F64: return launch_rows<Producer::kPlain, double>(p, stream);
    case Dtype::F16: return launch_rows<Producer::kPlain, __half>(p, stream);
    case Dtype::BF16: return launch_rows<Producer::kPlain, __nv_bfloat16>(p, stream);
    default: break;
  }
  return cudaErrorInvalidValue;
}

int32_t quantize_cache_row_splits(Producer producer, QuantMode mode, Dtype x_dtype, int64_t k) {
  if (!qrows::keeps_row(producer, mode) || k <= 0) return 1;
  const int x_bytes = x_dtype == Dtype::F64 ? 8 : (x_dtype == Dtype::F32 ? 4 : 2);
  const int c_bytes = x_dtype == Dtype::F64 ? 8 : 4;
  for (int32_t splits = 1; splits <= kQuantizeMaxRowSplits; ++splits)
    if (qrows::make_shape(producer, mode, k, qrows::kVecBytes / x_bytes, c_bytes, splits, 1).layout.cached) return splits;
  return kQuantizeMaxRowSplits;
}

}  // namespace kernels
}  // namespace sq
