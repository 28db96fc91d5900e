// The GPU executor's device check (see device_check.hpp).
#include "plan/device_check.hpp"

#include <cuda.h>
#include <cudaTypedefs.h>

#include "driver_api.hpp"

namespace sq {
namespace {

// cuCtxGetCurrent, cuStreamGetCtx and what finds another context's device, looked up once.
struct ContextQueries {
  PFN_cuCtxGetCurrent_v4000 ctx_get_current = nullptr;
  PFN_cuStreamGetCtx_v9020 stream_get_ctx = nullptr;
  PFN_cuCtxPushCurrent_v4000 ctx_push = nullptr;
  PFN_cuCtxPopCurrent_v4000 ctx_pop = nullptr;
  PFN_cuCtxGetDevice_v2000 ctx_get_device = nullptr;
};

const ContextQueries& queries() {
  static const ContextQueries q = [] {
    ContextQueries r;
    r.ctx_get_current = kernels::driver_entry_point<PFN_cuCtxGetCurrent_v4000>("cuCtxGetCurrent");
    r.stream_get_ctx = kernels::driver_entry_point<PFN_cuStreamGetCtx_v9020>("cuStreamGetCtx");
    r.ctx_push = kernels::driver_entry_point<PFN_cuCtxPushCurrent_v4000>("cuCtxPushCurrent");
    r.ctx_pop = kernels::driver_entry_point<PFN_cuCtxPopCurrent_v4000>("cuCtxPopCurrent");
    r.ctx_get_device = kernels::driver_entry_point<PFN_cuCtxGetDevice_v2000>("cuCtxGetDevice");
    return r;
  }();
  return q;
}

// The device of the context `stream` belongs to, asked of the driver (stream and context queries are
// permitted while the stream captures a graph): `context_device` for `context` itself, else the device
// of the stream's context, made current for the query and popped after. False where the driver cannot say.
bool device_of_stream_context(cudaStream_t stream, void* context, int context_device, int* device) {
  const ContextQueries& q = queries();
  CUcontext ctx = nullptr;
  if (q.stream_get_ctx == nullptr || q.stream_get_ctx(reinterpret_cast<CUstream>(stream), &ctx) != CUDA_SUCCESS ||
      ctx == nullptr)
    return false;
  if (context != nullptr && static_cast<void*>(ctx) == context && context_device >= 0) {
    *device = context_device;
    return true;
  }
  if (q.ctx_push == nullptr || q.ctx_pop == nullptr || q.ctx_get_device == nullptr) return false;
  if (q.ctx_push(ctx) != CUDA_SUCCESS) return false;
  CUdevice dev = -1;
  const bool known = q.ctx_get_device(&dev) == CUDA_SUCCESS;
  CUcontext popped = nullptr;
  q.ctx_pop(&popped);
  if (!known) return false;
  *device = static_cast<int>(dev);
  return true;
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

StreamPlace locate_stream(cudaStream_t stream, void* context, int context_device) {
  StreamPlace place{false, -1, cudaSuccess};
  if (stream_in_context(stream, context)) {
    place.in_context = true;
    return place;
  }
  // cudaStreamGetDevice is not permitted while the stream captures a graph (and a refused call would
  // invalidate the capture): a capturing stream's device is its context's (another device may be current,
  // e.g. a plan of GPU 1 captured on GPU 1's stream while device 0 is current), and the current device
  // only where the driver cannot say (launching into a stream of another device then fails at the launch).
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  place.error = cudaStreamIsCapturing(stream, &capture);
  if (place.error == cudaSuccess && capture != cudaStreamCaptureStatusNone) {
    if (!device_of_stream_context(stream, context, context_device, &place.device))
      place.error = cudaGetDevice(&place.device);
  } else if (place.error == cudaSuccess) {
    place.error = cudaStreamGetDevice(stream, &place.device);
  }
  if (place.error != cudaSuccess) cudaGetLastError();
  return place;
}

}  // namespace sq
