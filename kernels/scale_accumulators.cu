// SQ_OP_SCALE_ACCUMULATORS on the GPU (see scale_accumulators.hpp). Interim: lands with the 0.2 work.
#include "scale_accumulators.hpp"

namespace sq {
namespace kernels {

cudaError_t scale_accumulators_prepare() { return cudaSuccess; }
cudaError_t launch_scale_accumulators(const ScaleAccumulatorsParams&, cudaStream_t) { return cudaErrorNotSupported; }

}  // namespace kernels
}  // namespace sq
