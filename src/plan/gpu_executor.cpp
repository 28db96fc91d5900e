// The GPU families' executor: device discovery and kernel preparation at select, and the run: the
// device check, then the launch plan executed on the stream (no allocation, no synchronization,
// graph-capturable).
#include <cuda_runtime_api.h>

#include <atomic>
#include <optional>

#include "base/dtype.hpp"
#include "base/error.hpp"
#include "dispatch/launch_plan.hpp"
#include "plan/cuda_status.hpp"
#include "plan/device_check.hpp"
#include "plan/executor.hpp"
#include "plan/params.hpp"
#include "quantize.hpp"
#include "scale_accumulators.hpp"
#include "stage_rows.hpp"

namespace sq {

#if defined(SQ_TESTING_HOOKS)
namespace testing {
// Test programs only: when set to n > 0, the n-th CUDA step from now fails (see injected_failure).
std::atomic<int> fail_next_cuda_call{0};
}  // namespace testing
#endif

namespace {

// Whether the next CUDA step of select or run (a preparation, a launch) is to fail. Only test programs
// built with SQ_TESTING_HOOKS (never the library) can make the n-th step fail: tests/test_gpu_faults.cpp.
bool injected_failure() {
#if defined(SQ_TESTING_HOOKS)
  int n = testing::fail_next_cuda_call.load();
  while (n > 0 && !testing::fail_next_cuda_call.compare_exchange_weak(n, n - 1)) {
  }
  return n == 1;
#else
  return false;
#endif
}

constexpr int32_t kMinPortableSm = 80;
constexpr int32_t kHopperSm = 90;

// The dispatch's name of the plan's op.
Op plan_op(sq_op op) {
  switch (op) {
    case SQ_OP_SMOOTHQUANT_LINEAR: return Op::kStaticLinear;
    case SQ_OP_QUANTIZED_LINEAR: return Op::kDynamicLinear;
    case SQ_OP_QUANTIZE_STATIC: return Op::kStaticQuantize;
    case SQ_OP_SCALED_LINEAR: return Op::kScaledLinear;
    case SQ_OP_RMSNORM_QUANTIZE: return Op::kRmsNormQuantize;
    case SQ_OP_SILU_MUL_QUANTIZE: return Op::kSiluMulQuantize;
    case SQ_OP_SCALE_ACCUMULATORS: return Op::kScaleAccumulators;
    default: return Op::kDynamicQuantize;
  }
}

// The dispatch's name of the plan's quantizer mode.
QuantFact plan_quant(kernels::QuantMode m) {
  switch (m) {
    case kernels::QuantMode::kStatic: return QuantFact::kStatic;
    case kernels::QuantMode::kDynamicAsym: return QuantFact::kDynamicAsym;
    case kernels::QuantMode::kAbsmax: return QuantFact::kAbsmax;
    case kernels::QuantMode::kFromAbsmax: return QuantFact::kFromAbsmax;
    default: return QuantFact::kDynamic;
  }
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

sq_status gpu_run(const sq_plan_st& plan, const RunRequest& req) {
  cudaStream_t s = reinterpret_cast<cudaStream_t>(req.stream);
  // The device check. Fast path: the calling thread's current context is the one the plan was selected
  // in and the stream belongs to it (two driver queries); the launch then needs no device switch.
  // Otherwise the runtime check finds the stream's device, refuses another device's stream, and makes
  // the plan's device current for the launch [D-device-check].
  std::optional<DeviceGuard> guard;
  const StreamPlace where = locate_stream(s, plan.context, plan.device);
  if (!where.in_context) {
    if (where.error != cudaSuccess)
      return fail(SQ_STATUS_INVALID_ARGUMENT, "sq_plan_run: cannot get the device of stream %p: %s (%s)",
                  static_cast<void*>(req.stream), cudaGetErrorName(where.error), cudaGetErrorString(where.error));
    if (where.device != plan.device)
      return fail(SQ_STATUS_WRONG_DEVICE,
                  "sq_plan_run: the stream belongs to device %d, but the plan was selected for device %d",
                  where.device, plan.device);
    guard.emplace(plan.device);
    if (guard->status() != cudaSuccess) return cuda_fail(guard->status(), "sq_plan_run: cudaSetDevice");
  }
  // The launch plan, then every launch's parameter block, then the launches in order.
  const LaunchPlan launches =
      plan_launch(plan.facts, RunFacts{req.m, req.operand_align, req.out_aligned, req.row_sums_pass, req.stage_room});
  const LaunchBlocks blocks = launch_blocks(plan, req, launches);
  constexpr cudaError_t kInjected = cudaErrorLaunchFailure;
  cudaError_t e = cudaSuccess;
  if (launches.stage.name != nullptr)
    e = injected_failure() ? kInjected : kernels::launch_stage_rows(blocks.stage, s);
  if (e == cudaSuccess && launches.quantizer.name != nullptr)
    e = injected_failure() ? kInjected : kernels::launch_quantize(blocks.quantize, s);
  if (e == cudaSuccess && launches.row_sums.name != nullptr)
    e = injected_failure() ? kInjected : kernels::launch_row_sums(blocks.row_sums, s);
  // A failure of the linear's launch leaves what the launches before it enqueued (the quantizer's scales
  // and the workspace) to run; out is untouched (tests/test_gpu_faults.cpp).
  if (e == cudaSuccess && launches.linear.variant != nullptr)
    e = injected_failure() ? kInjected : launches.linear.variant->launch(blocks.linear, plan.facts.device.num_sms, s);
  if (e == cudaSuccess && launches.scale_accumulators.name != nullptr)
    e = injected_failure() ? kInjected : kernels::launch_scale_accumulators(blocks.scale_accumulators, s);
  if (e != cudaSuccess) return cuda_fail(e, "sq_plan_run: kernel launch");
  return ok();
}

const char* gpu_kernel_name(const sq_plan_st& plan, int64_t m) {
  return plan_launch(plan.facts, packed_run(plan.facts, m)).kernel_name();
}

constexpr Executor kGpuExecutor = {&gpu_run, &check_device_memory, &gpu_kernel_name};

}  // namespace

sq_status gpu_select(sq_stream stream, sq_preference pref, sq_plan_st* plan) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    cudaGetLastError();
    return fail(SQ_STATUS_NO_DEVICE,
                "sq_plan_select: preference %s (%d) needs a GPU, but there is no usable CUDA GPU: %s; use "
                "SQ_PREFERENCE_HOST_REFERENCE for the host kernel",
                pref == SQ_PREFERENCE_FASTEST        ? "SQ_PREFERENCE_FASTEST"
                : pref == SQ_PREFERENCE_GPU_PORTABLE ? "SQ_PREFERENCE_GPU_PORTABLE"
                                                     : "SQ_PREFERENCE_GPU_HOPPER",
                pref, e != cudaSuccess ? cudaGetErrorString(e) : "no device");
  }
  int device = 0;
  if (stream == nullptr) {
    if ((e = cudaGetDevice(&device)) != cudaSuccess) return cuda_fail(e, "sq_plan_select: cudaGetDevice");
  } else {
    const StreamPlace where = locate_stream(reinterpret_cast<cudaStream_t>(stream), nullptr, -1);
    if (where.error != cudaSuccess)
      return fail(SQ_STATUS_INVALID_ARGUMENT, "sq_plan_select: cannot get the device of stream %p: %s (%s)",
                  static_cast<void*>(stream), cudaGetErrorName(where.error), cudaGetErrorString(where.error));
    device = where.device;
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
  const bool linear = d.op == SQ_OP_SMOOTHQUANT_LINEAR || d.op == SQ_OP_QUANTIZED_LINEAR || d.op == SQ_OP_SCALED_LINEAR;
  plan->facts = PlanFacts{plan_op(d.op),
                          family == SQ_KERNEL_FAMILY_SM90 ? GpuFamily::kHopper : GpuFamily::kPortable,
                          device_facts(sm, sms),
                          d.n,
                          d.k,
                          static_cast<int32_t>(dtype_size(d.out_dtype)),  // S32 accumulators: 4
                          static_cast<int32_t>(dtype_size(d.act_dtype)),
                          plan_quant(plan->mode),
                          linear && (d.flags & SQ_PLAN_WEIGHT_ZERO_POINT) != 0,
                          stage_eligible(d)};
  // The staging area only where a run may use it: the launch plan stages a packed run of max_m rows (staging
  // pays more as M grows) [D-stage-unaligned].
  if (plan->facts.stage_unaligned)
    plan->facts.stage_unaligned = plan_launch(plan->facts, packed_run(plan->facts, d.max_m)).stage.name != nullptr;
  e = injected_failure() ? cudaErrorLaunchFailure : prepare_launches(plan->facts);
  if (e != cudaSuccess) return cuda_fail(e, "sq_plan_select: preparing the kernels");
  if (plan->facts.stage_unaligned) add_stage_layout(plan);
  plan->family = family;
  plan->executor = &kGpuExecutor;
  plan->device = device;
  plan->context = current_context();
  plan->host_threads = 0;
  return SQ_STATUS_SUCCESS;
}

}  // namespace sq
