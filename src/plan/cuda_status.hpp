// A failed CUDA runtime call as a status (for the GPU executor and the memory-space checks).
#pragma once

#include <cuda_runtime_api.h>

#include "base/error.hpp"

namespace sq {

// SQ_STATUS_CUDA_ERROR naming `what` and the error; clears a non-sticky error so later calls start clean.
inline sq_status cuda_fail(cudaError_t e, const char* what) {
  cudaGetLastError();
  return fail(SQ_STATUS_CUDA_ERROR, "%s failed: %s (%s)", what, cudaGetErrorName(e), cudaGetErrorString(e));
}

}  // namespace sq
