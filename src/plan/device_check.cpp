// The GPU executor's device check (see device_check.hpp).
#include "plan/device_check.hpp"

#include <cuda.h>
#include <cudaTypedefs.h>

#include "driver_api.hpp"

namespace sq {
namespace {

// cuCtxGetCurrent and cuStreamGetCtx, looked up once.
struct ContextQueries {
  PFN_cuCtxGetCurrent_v4000 ctx_get_current = nullptr;
  PFN_cuStreamGetCtx_v9020 stream_get_ctx = nullptr;
};

const ContextQueries& queries() {
  static const ContextQueries q = [] {
    ContextQueries r;
    r.ctx_get_current = kernels::driver_entry_point<PFN_cuCtxGetCurrent_v4000>("cuCtxGetCurrent");
    r.stream_get_ctx = kernels::driver_entry_point<PFN_cuStreamGetCtx_v9020>("cuStreamGetCtx");
    return r;
  }();
  return q;
}

// Whether `context` is current and `stream` belongs to it (false when the driver cannot say).
bool stream_in_context(cudaStream_t stream, void* context) {
  const ContextQueries& q = queries();
  if (context == nullptr || q.stream_get_ctx == nullptr || current_context() != context) return false;
  CUcontext ctx = nullptr;
  if (q.stream_get_ctx(reinterpret_cast<CUstream>(stream), &ctx) != CUDA_SUCCESS) return false;
  return static_cast<void*>(ctx) == context;
}

}  // namespace

void* current_context() {
  const ContextQueries& q = queries();
  CUcontext ctx = nullptr;
  if (q.ctx_get_current == nullptr || q.ctx_get_current(&ctx) != CUDA_SUCCESS) return nullptr;
  return static_cast<void*>(ctx);
}

StreamPlace locate_stream(cudaStream_t stream, void* context) {
  StreamPlace place{false, -1, cudaSuccess};
  if (stream_in_context(stream, context)) {
    place.in_context = true;
    return place;
  }
  // cudaStreamGetDevice is not permitted while the stream captures a graph (and a refused call would
  // invalidate the capture). A capturing stream is checked through the current device: launching into a
  // stream of another device then fails at the launch.
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  place.error = cudaStreamIsCapturing(stream, &capture);
  if (place.error == cudaSuccess && capture != cudaStreamCaptureStatusNone) {
    place.error = cudaGetDevice(&place.device);
  } else if (place.error == cudaSuccess) {
    place.error = cudaStreamGetDevice(stream, &place.device);
  }
  if (place.error != cudaSuccess) cudaGetLastError();
  return place;
}

}  // namespace sq
