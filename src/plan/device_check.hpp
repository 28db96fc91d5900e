// The GPU executor's device check: the calling thread's context, and where a launch into a stream would
// run. Driver queries through kernels/driver_api.hpp (no libcuda link).
#pragma once

#include <cuda_runtime_api.h>

namespace sq {

// The context current to the calling thread (nullptr if none or unknown).
void* current_context();

// Where a launch into `stream` would run: on `context` (the plan's, nullptr for none) when it is current
// to the calling thread and the stream belongs to it (two driver queries); otherwise on which device: the
// runtime's answer (cudaStreamGetDevice) or, for a stream that captures a graph (where that query is not
// permitted), the device of the stream's context (cuStreamGetCtx: `context_device` when it is `context`),
// and the current device only where the driver cannot say; or the runtime's error.
struct StreamPlace {
  bool in_context;  // the fast check held: device and error are not set
  int device;
  cudaError_t error;
};
StreamPlace locate_stream(cudaStream_t stream, void* context, int context_device);

}  // namespace sq
