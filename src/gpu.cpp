// The GPU side of the plan: device discovery at select, memory-space checks, and the
// stream-ordered run (no allocation, no synchronization, graph-capturable).
#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>
#include <optional>

#include "error.hpp"
#include "families.hpp"
#include "launch.hpp"
#include "plan.hpp"

namespace sq {

#if defined(SQ_TESTING_HOOKS)
namespace testing {
// Test hook, compiled only into test programs that link the library's objects (tests/CMakeLists.txt:
// sq_test_core), never into the .so: while > 0 it counts down at each CUDA step of select (kernel
// preparation) and run (each launch), and the step that takes it to 0 fails with
// cudaErrorLaunchFailure instead of being done.
std::atomic<int> fail_next_cuda_call{0};
}  // namespace testing
#endif

namespace {

// One CUDA step of select or run (see testing::fail_next_cuda_call); in the library, just the step.
template <typename F>
cudaError_t cuda_step(F&& step) {
#if defined(SQ_TESTING_HOOKS)
  int n = testing::fail_next_cuda_call.load();
  while (n > 0 && !testing::fail_next_cuda_call.compare_exchange_weak(n, n - 1)) {
  }
  if (n == 1) return cudaErrorLaunchFailure;
#endif
  return step();
}

constexpr int32_t kMinPortableSm = 80;
constexpr int32_t kHopperSm = 90;

// The dynamic quantizer (kernels/quantize.cu) splits a long row over a thread-block cluster of up to
// kQuantizeMaxRowSplits CTAs when there are few rows: one CTA per row leaves most SMs idle and each
// thread walks many vectors of the row one after the other. A row gets one CTA per
// kQuantizeShareBytes of x (rounded up: one 16-byte vector per thread of the quantizer's largest
// CTA, 512 threads), as long as all CTAs fit one wave of one CTA per SM. Measured on the H100
// (bf16 x, quantizer alone, runs queued, M = 1, 8, 16, smoothing off/on; before: one CTA per row):
// K = 8192 5.3-6.4 -> 4.9-6.0 us (2 CTAs per row), K = 14336 7.4-9.7 -> 5.2-6.3 (4), K = 28672
// 10.9-17.3 -> 5.6-7.3 (8; this rule gives 7, the same one 16-byte vector per thread), each within
// 0.25 us of the best of 1, 2, 3, 4, 6, 8 CTAs; splitting K = 4096 rows was slower (cluster launch).
// The dynamic quantizer is also launched as a programmatic dependent of the kernel before it
// (QuantizeParams::overlap_previous): it may start while that kernel drains and waits for it in the
// kernel. Measured (dynamic plan, the shapes of src/dispatch_decode.cpp) -1.0..-1.3 us per run back
// to back, isolated unchanged.
// Both only on sm_90, the one device family that runs the quantizer's sm_90 image (clusters,
// griddepcontrol): other GPUs run its sm_80 image or JIT-compile its compute_80 PTX.
constexpr int32_t kQuantizeSm90Image = 90;
constexpr int64_t kQuantizeMaxRowSplits = 8;    // the portable cluster size
constexpr int64_t kQuantizeShareBytes = 8192;   // x bytes per CTA of a split row

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

LinearShape shape_of(const sq_plan_st& plan, int64_t m, bool aligned16) {
  return LinearShape{m, plan.desc.n, plan.desc.k, plan.num_sms, plan.sm, aligned16,
                     static_cast<int32_t>(dtype_size(plan.desc.out_dtype))};
}

const kernels::KernelVariant& choose(const sq_plan_st& plan, const LinearShape& s) {
  return plan.family == SQ_KERNEL_FAMILY_SM90 ? sm90_choose(s) : sm80_choose(s);
}

// CTAs per row for the dynamic quantizer (QuantizeParams::row_splits) of a run of m rows.
int32_t quantize_row_splits(const sq_plan_st& plan, int64_t m) {
  if (plan.desc.op == SQ_OP_QUANTIZE_STATIC || plan.sm != kQuantizeSm90Image) return 1;
  const int64_t row_bytes = plan.desc.k * static_cast<int64_t>(dtype_size(plan.desc.act_dtype));
  int64_t splits = std::min(kQuantizeMaxRowSplits, (row_bytes + kQuantizeShareBytes - 1) / kQuantizeShareBytes);
  while (splits > 1 && m * splits > plan.num_sms) --splits;
  return static_cast<int32_t>(std::max<int64_t>(splits, 1));
}

// The quantizer's parameters for a run: q (row stride ld_q) and the scales into act_scale_scratch.
kernels::QuantizeParams quantizer_params(const sq_plan_st& plan, const sq_run_args& a, const ResolvedArgs& r,
                                         int8_t* q, int64_t ld_q) {
  kernels::QuantizeParams p = quantize_params(plan, a, r, q, ld_q, a.act_scale_scratch);
  p.row_splits = quantize_row_splits(plan, r.m);
  p.overlap_previous = p.dynamic && plan.sm == kQuantizeSm90Image;
  return p;
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
  const sq_op op = plan->desc.op;
  if (op == SQ_OP_SMOOTHQUANT_LINEAR || op == SQ_OP_QUANTIZED_LINEAR) {
    e = cuda_step([&] { return family == SQ_KERNEL_FAMILY_SM90 ? sm90_prepare() : sm80_prepare(); });
    if (e != cudaSuccess) return cuda_fail(e, "sq_plan_select: preparing the kernels");
  }
  if (op != SQ_OP_SMOOTHQUANT_LINEAR) {
    e = cuda_step([] { return kernels::quantize_prepare(); });
    if (e != cudaSuccess) return cuda_fail(e, "sq_plan_select: preparing the quantize kernels");
  }
  plan->family = family;
  plan->device = device;
  plan->context = kernels::current_context();
  plan->sm = sm;
  plan->num_sms = sms;
  plan->host_threads = 0;
  return SQ_STATUS_SUCCESS;
}

const char* gpu_kernel_name(const sq_plan_st& plan, int64_t m) {
  const sq_op op = plan.desc.op;
  if (op == SQ_OP_QUANTIZE_STATIC) return "quantize_static";
  if (op == SQ_OP_QUANTIZE_DYNAMIC) return "quantize_dynamic";
  // The name for arguments that meet the fast paths' alignment (see LinearShape::aligned16).
  const bool aligned = plan.desc.k % 16 == 0;
  return choose(plan, shape_of(plan, m, aligned)).name;
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
  cudaError_t e = cudaSuccess;
  switch (plan.desc.op) {
    case SQ_OP_SMOOTHQUANT_LINEAR: {
      kernels::LinearParams p = linear_params(plan, a, r, static_cast<const int8_t*>(a.act), r.ld_act);
      const LinearShape shape = shape_of(plan, r.m, r.aligned16);
      p.programmatic = linear_overlap_previous(shape);
      e = cuda_step([&] { return choose(plan, shape).launch(p, plan.num_sms, s); });
      break;
    }
    case SQ_OP_QUANTIZED_LINEAR: {
      int8_t* q = static_cast<int8_t*>(workspace);
      const int64_t ldq = quantized_ld(plan);
      e = cuda_step([&] { return kernels::launch_quantize(quantizer_params(plan, a, r, q, ldq), plan.num_sms, s); });
      if (e != cudaSuccess) break;
      kernels::LinearParams p = linear_params(plan, a, r, q, ldq);
      const LinearShape shape = shape_of(plan, r.m, r.aligned16);
      p.programmatic = decode_overlap_quantizer(shape);
      // A failure here leaves the quantizer enqueued: it writes the workspace and act_scale_scratch.
      e = cuda_step([&] { return choose(plan, shape).launch(p, plan.num_sms, s); });
      break;
    }
    case SQ_OP_QUANTIZE_STATIC:
    case SQ_OP_QUANTIZE_DYNAMIC:
      e = cuda_step([&] {
        return kernels::launch_quantize(quantizer_params(plan, a, r, static_cast<int8_t*>(a.out), r.ld_out),
                                        plan.num_sms, s);
      });
      break;
    default: return fail(SQ_STATUS_INTERNAL_ERROR, "sq_plan_run: unknown op %d in a validated plan", plan.desc.op);
  }
  if (e != cudaSuccess) return cuda_fail(e, "sq_plan_run: kernel launch");
  return ok();
}

}  // namespace sq
