// sq_plan_can_implement's memory-space checks (see executor.hpp): every pointer of the request asked
// of the CUDA runtime (cudaPointerGetAttributes).
#include <cuda_runtime_api.h>

#include "base/error.hpp"
#include "plan/cuda_status.hpp"
#include "plan/executor.hpp"

namespace sq {

namespace {

struct Pointer {
  const void* ptr;
  const char* name;
};

sq_status check_one(const sq_plan_st& plan, const Pointer& p, bool host_plan) {
  if (p.ptr == nullptr) return SQ_STATUS_SUCCESS;
  cudaPointerAttributes attr{};
  cudaError_t e = cudaPointerGetAttributes(&attr, p.ptr);
  if (e != cudaSuccess) {
    cudaGetLastError();
    if (host_plan) return SQ_STATUS_SUCCESS;  // no driver: every pointer is a host pointer
    return cuda_fail(e, "sq_plan_can_implement: cudaPointerGetAttributes");
  }
  if (host_plan) {
    if (attr.type == cudaMemoryTypeDevice)
      return fail(SQ_STATUS_WRONG_MEMORY_SPACE,
                  "args->%s (%p) is device memory (device %d), but the host reference plan needs host memory", p.name,
                  p.ptr, attr.device);
    return SQ_STATUS_SUCCESS;
  }
  switch (attr.type) {
    case cudaMemoryTypeDevice:
      if (attr.device != plan.device)
        return fail(SQ_STATUS_WRONG_DEVICE, "args->%s (%p) is memory of device %d, but the plan is for device %d",
                    p.name, p.ptr, attr.device, plan.device);
      return SQ_STATUS_SUCCESS;
    case cudaMemoryTypeManaged:
    case cudaMemoryTypeHost:  // pinned, mapped host memory: reachable from the device
      return SQ_STATUS_SUCCESS;
    default:
      return fail(SQ_STATUS_WRONG_MEMORY_SPACE,
                  "args->%s (%p) is pageable host memory, which a GPU plan (device %d) cannot read or write", p.name,
                  p.ptr, plan.device);
  }
}

sq_status check_all(const sq_plan_st& plan, const sq_run_args& a, bool host_plan) {
  const Pointer ptrs[] = {{a.act, "act"},
                          {a.weight, "weight"},
                          {a.weight_scale, "weight_scale"},
                          {a.bias, "bias"},
                          {a.smooth, "smooth"},
                          {a.act_scale_scratch, "act_scale_scratch"},
                          {a.out, "out"},
                          {a.act_scale, "act_scale"},
                          {a.weight_zero_point, "weight_zero_point"},
                          {a.weight_sums, "weight_sums"},
                          {a.act_zero_point, "act_zero_point"},
                          {a.act_sums, "act_sums"},
                          {a.absmax, "absmax"},
                          {a.residual, "residual"},
                          {a.residual_out, "residual_out"},
                          {a.norm_weight, "norm_weight"}};
  for (const Pointer& p : ptrs) SQ_TRY(check_one(plan, p, host_plan));
  return SQ_STATUS_SUCCESS;
}

}  // namespace

sq_status check_host_memory(const sq_plan_st& plan, const RunRequest& req) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    return SQ_STATUS_SUCCESS;  // no GPU: all memory is host memory
  }
  return check_all(plan, req.args, true);
}

sq_status check_device_memory(const sq_plan_st& plan, const RunRequest& req) {
  return check_all(plan, req.args, false);
}

}  // namespace sq
