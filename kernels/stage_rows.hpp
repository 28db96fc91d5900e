// The staging copy on the GPU (kernels/stage_rows.cu) [D-stage-unaligned]: a linear's operands whose
// rows are not 16-byte aligned (K % 16 != 0, or an odd base or stride) copied into the workspace at a
// stride the 16-byte loads take, before the linear runs on the copies.
#pragma once

#include <cuda_runtime_api.h>

#include "kernel_params.hpp"

namespace sq {
namespace kernels {

// The name the launch plan and the tests use.
constexpr const char* kStageRowsName = "stage_rows";

// Per-device setup once at plan select (launch handles), on the plan's device.
cudaError_t stage_rows_prepare();
// Enqueue on `stream`; no allocation, no synchronization.
cudaError_t launch_stage_rows(const StageParams& p, cudaStream_t stream);

}  // namespace kernels
}  // namespace sq
