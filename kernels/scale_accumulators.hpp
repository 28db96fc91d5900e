// SQ_OP_SCALE_ACCUMULATORS on the GPU (kernels/scale_accumulators.cu): the linears' epilogue
// (kernels/epilogue.cuh) on given int32 accumulators [m, n], bit for bit the NUMERICS CONTRACT.
#pragma once

#include <cuda_runtime_api.h>

#include "kernel_params.hpp"

namespace sq {
namespace kernels {

// The name sq_plan_kernel_name reports.
constexpr const char* kScaleAccumulatorsName = "scale_accumulators";

// Per-device setup once at plan select (launch handles), on the plan's device.
cudaError_t scale_accumulators_prepare();
// Enqueue on `stream`; no allocation, no synchronization.
cudaError_t launch_scale_accumulators(const ScaleAccumulatorsParams& p, cudaStream_t stream);

}  // namespace kernels
}  // namespace sq
