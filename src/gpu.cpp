// The GPU side of the plan: device discovery at select, memory-space checks, and the
// stream-ordered run (no allocation, no synchronization, graph-capturable).
#include <cuda_runtime_api.h>

#include <optional>

#include "error.hpp"
#include "launch.hpp"
#include "launch_plan.hpp"
#include "plan.hpp"
#include "quantize.hpp"

namespace sq {

namespace {

constexpr int32_t kMinPortableSm = 80;
constexpr int32_t kHopperSm = 90;

Op plan_op(sq_op op) {
  switch (op) {
    case SQ_OP_SMOOTHQUANT_LINEAR: return Op::kStaticLinear;
    case SQ_OP_QUANTIZED_LINEAR: return Op::kDynamicLinear;
    case SQ_OP_QUANTIZE_STATIC: return Op::kStaticQuantize;
    default: return Op::kDynamicQuantize;
  }
}

sq_status cuda_fail(cudaError_t e, const char* what) {
  cudaGetLastError();  // clear a non-sticky error so later calls start clean
  return fail(SQ_STATUS_CUDA_ERROR, "%s failed: %s (%s)", what, cudaGetErrorName(e), cudaGetErrorString(e));
}

// Switches the calling thread's current device for a scope, restoring it after.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    if (cudaGetDevice(&previous_) != cudaSuccess) previous_ = -1;
    if (previous_ != device) status_ = cudaSetDevice(device);
    switched_ = previous_ != device && status_ == cudaSuccess;
  }
  ~DeviceGuard() {
    if (switched_ && previous_ >= 0) cudaSetDevice(previous_);
  }
  cudaError_t status() const { return status_; }

 private:
  int previous_ = -1;
  cudaError_t status_ = cudaSuccess;
  bool switched_ = false;
};

sq_status stream_device(sq_stream stream, int* device, const char* fn) {
  // cudaStreamGetDevice is not permitted while the stream captures a graph (and a refused call
  // would invalidate the capture). A capturing stream is checked through the current device:
  // launching into a stream of another device then fails at the launch.
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  cudaError_t e = cudaStreamIsCapturing(reinterpret_cast<cudaStream_t>(stream), &capture);
  if (e == cudaSuccess && capture != cudaStreamCaptureStatusNone) e = cudaGetDevice(device);
  else if (e == cudaSuccess) e = cudaStreamGetDevice(reinterpret_cast<cudaStream_t>(stream), device);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: cannot get the device of stream %p: %s (%s)", fn,
                static_cast<void*>(stream), cudaGetErrorName(e), cudaGetErrorString(e));
  }
  return SQ_STATUS_SUCCESS;
}

}  // namespace

sq_status gpu_select(sq_stream stream, sq_preference pref, sq_plan_st* plan) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    cudaGetLastError();
    return fail(SQ_STATUS_NO_DEVICE,
                "sq_plan_select: a GPU preference (%d) but no usable CUDA GPU: %s; use "
                "SQ_PREFERENCE_HOST_REFERENCE for the host kernel",
                pref, e != cudaSuccess ? cudaGetErrorString(e) : "no device");
  }
  int device = 0;
  if (stream == nullptr) {
    if ((e = cudaGetDevice(&device)) != cudaSuccess) return cuda_fail(e, "sq_plan_select: cudaGetDevice");
  } else {
    sq_status st = stream_device(stream, &device, "sq_plan_select");
    if (st != SQ_STATUS_SUCCESS) return st;
  }
  int major = 0, minor = 0, sms = 0;
  if ((e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device)) != cudaSuccess ||
      (e = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device)) != cudaSuccess ||
      (e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device)) != cudaSuccess)
    return cuda_fail(e, "sq_plan_select: cudaDeviceGetAttribute");
  const int32_t sm = major * 10 + minor;
  if (sm < kMinPortableSm)
    return fail(SQ_STATUS_NOT_SUPPORTED,
                "sq_plan_select: device %d is sm_%d; the GPU kernels need sm_80 or later (int8 mma.sync)", device,
                sm);
  sq_kernel_family family;
  switch (pref) {
    case SQ_PREFERENCE_FASTEST: family = sm == kHopperSm ? SQ_KERNEL_FAMILY_SM90 : SQ_KERNEL_FAMILY_SM80; break;
    case SQ_PREFERENCE_GPU_PORTABLE: family = SQ_KERNEL_FAMILY_SM80; break;
    case SQ_PREFERENCE_GPU_HOPPER:
      if (sm != kHopperSm)
        return fail(SQ_STATUS_NOT_SUPPORTED,
                    "sq_plan_select: SQ_PREFERENCE_GPU_HOPPER needs an sm_90 GPU; device %d is sm_%d", device, sm);
      family = SQ_KERNEL_FAMILY_SM90;
      break;
    default: return fail(SQ_STATUS_INVALID_ARGUMENT, "sq_plan_select: preference %d", pref);
  }
  DeviceGuard guard(device);
  if (guard.status() != cudaSuccess) return cuda_fail(guard.status(), "sq_plan_select: cudaSetDevice");
  const sq_plan_desc& d = plan->desc;
  plan->facts = PlanFacts{plan_op(d.op),
                          family == SQ_KERNEL_FAMILY_SM90 ? GpuFamily::kHopper : GpuFamily::kPortable,
                          device_facts(sm, sms),
                          d.n,
                          d.k,
                          static_cast<int32_t>(dtype_size(d.out_dtype)),
                          static_cast<int32_t>(dtype_size(d.act_dtype))};
  e = prepare_launches(plan->facts);
  if (e != cudaSuccess) return cuda_fail(e, "sq_plan_select: preparing the kernels");
  plan->family = family;
  plan->device = device;
  plan->context = kernels::current_context();
  plan->sm = sm;
  plan->num_sms = sms;
  plan->host_threads = 0;
  return SQ_STATUS_SUCCESS;
}

const char* gpu_kernel_name(const sq_plan_st& plan, int64_t m) {
  return plan_launch(plan.facts, m, aligned16_possible(plan.desc)).kernel_name();
}

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
  const Pointer ptrs[] = {{a.act, "act"},       {a.weight, "weight"}, {a.weight_scale, "weight_scale"},
                          {a.bias, "bias"},     {a.smooth, "smooth"}, {a.act_scale_scratch, "act_scale_scratch"},
                          {a.out, "out"}};
  for (const Pointer& p : ptrs) {
    sq_status st = check_one(plan, p, host_plan);
    if (st != SQ_STATUS_SUCCESS) return st;
  }
  return SQ_STATUS_SUCCESS;
}

}  // namespace

sq_status host_check_pointers(const sq_plan_st& plan, const sq_run_args& a) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    return SQ_STATUS_SUCCESS;  // no GPU: all memory is host memory
  }
  return check_all(plan, a, true);
}

sq_status gpu_check_pointers(const sq_plan_st& plan, const sq_run_args& a, const ResolvedArgs&) {
  return check_all(plan, a, false);
}

sq_status gpu_run(const sq_plan_st& plan, sq_stream stream, void* workspace, const sq_run_args& a,
                  const ResolvedArgs& r) {
  cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  // The device check. Fast path: the calling thread's current context is the one the plan was
  // selected in and the stream belongs to it (two driver queries, about 0.15 us on the H100 machine);
  // the launch then needs no device switch. Otherwise the runtime check below (about 0.4 us) finds the
  // stream's device, refuses another device's stream, and makes the plan's device current for the
  // launch.
  std::optional<DeviceGuard> guard;
  if (plan.context == nullptr || kernels::current_context() != plan.context ||
      !kernels::stream_in_context(s, plan.context)) {
    int device = 0;
    sq_status st = stream_device(stream, &device, "sq_plan_run");
    if (st != SQ_STATUS_SUCCESS) return st;
    if (device != plan.device)
      return fail(SQ_STATUS_WRONG_DEVICE,
                  "sq_plan_run: the stream belongs to device %d, but the plan was selected for device %d", device,
                  plan.device);
    guard.emplace(plan.device);
    if (guard->status() != cudaSuccess) return cuda_fail(guard->status(), "sq_plan_run: cudaSetDevice");
  }
  const LaunchPlan lp = plan_launch(plan.facts, r.m, r.aligned16);
  cudaError_t e = cudaSuccess;
  const bool into_workspace = plan.desc.op == SQ_OP_QUANTIZED_LINEAR;
  int8_t* q = into_workspace ? static_cast<int8_t*>(workspace) : static_cast<int8_t*>(a.out);
  const int64_t ldq = into_workspace ? quantized_ld(plan) : r.ld_out;
  if (lp.quantizer.name != nullptr) {
    kernels::QuantizeParams qp = quantize_params(plan, a, r, q, ldq, a.act_scale_scratch);
    qp.row_splits = lp.quantizer.row_splits;
    qp.overlap_previous = lp.quantizer.programmatic;
    e = kernels::launch_quantize(qp, s);
  }
  if (e == cudaSuccess && lp.linear.variant != nullptr) {
    kernels::LinearParams p = into_workspace
                                  ? linear_params(plan, a, r, q, ldq)
                                  : linear_params(plan, a, r, static_cast<const int8_t*>(a.act), r.ld_act);
    p.programmatic = lp.linear.programmatic;
    e = lp.linear.variant->launch(p, plan.num_sms, s);
  }
  if (e != cudaSuccess) return cuda_fail(e, "sq_plan_run: kernel launch");
  return ok();
}

}  // namespace sq
