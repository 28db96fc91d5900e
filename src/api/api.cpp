// The C entry points of the plan API: each checks its handle and arguments, runs the plan's operation
// under sq::guarded (no exception crosses the boundary) and reports failures through the last-error
// message. The offline helpers' entry points are in src/offline/.
#include "base/abi_structs.hpp"
#include "base/error.hpp"
#include "plan/plan.hpp"

using namespace sq;

namespace {

#define SQ_STR2(x) #x
#define SQ_STR(x) SQ_STR2(x)
constexpr const char kVersionString[] =
    SQ_STR(SQ_VERSION_MAJOR) "." SQ_STR(SQ_VERSION_MINOR) "." SQ_STR(SQ_VERSION_PATCH);

// Runs body(plan) under guarded once `handle` is checked to be a live plan of this library.
template <typename Body>
sq_status with_plan(const char* fn, sq_plan handle, Body&& body) {
  return guarded(fn, [&]() -> sq_status {
    if (handle == nullptr) return fail(SQ_STATUS_INVALID_HANDLE, "%s: plan is NULL", fn);
    if (!registry_contains(handle))
      return fail(SQ_STATUS_INVALID_HANDLE, "%s: plan %p is not a live plan of this library (destroyed or foreign)",
                  fn, static_cast<const void*>(handle));
    return body(static_cast<const sq_plan_st&>(*handle));
  });
}

}  // namespace

extern "C" {

SQ_API uint32_t sq_version(void) { return SQ_VERSION_NUMBER; }

SQ_API const char* sq_version_string(void) { return kVersionString; }

SQ_API const char* sq_status_string(sq_status status) {
  switch (status) {
    case SQ_STATUS_SUCCESS: return "SQ_STATUS_SUCCESS";
    case SQ_STATUS_INVALID_ARGUMENT: return "SQ_STATUS_INVALID_ARGUMENT";
    case SQ_STATUS_INVALID_STRUCT_SIZE: return "SQ_STATUS_INVALID_STRUCT_SIZE";
    case SQ_STATUS_INVALID_HANDLE: return "SQ_STATUS_INVALID_HANDLE";
    case SQ_STATUS_NOT_SUPPORTED: return "SQ_STATUS_NOT_SUPPORTED";
    case SQ_STATUS_NO_DEVICE: return "SQ_STATUS_NO_DEVICE";
    case SQ_STATUS_WRONG_DEVICE: return "SQ_STATUS_WRONG_DEVICE";
    case SQ_STATUS_MISALIGNED: return "SQ_STATUS_MISALIGNED";
    case SQ_STATUS_WRONG_MEMORY_SPACE: return "SQ_STATUS_WRONG_MEMORY_SPACE";
    case SQ_STATUS_INSUFFICIENT_WORKSPACE: return "SQ_STATUS_INSUFFICIENT_WORKSPACE";
    case SQ_STATUS_CUDA_ERROR: return "SQ_STATUS_CUDA_ERROR";
    case SQ_STATUS_OUT_OF_MEMORY: return "SQ_STATUS_OUT_OF_MEMORY";
    case SQ_STATUS_INTERNAL_ERROR: return "SQ_STATUS_INTERNAL_ERROR";
    default: return "SQ_STATUS_UNKNOWN";
  }
}

SQ_API const char* sq_last_error_message(void) { return last_message(); }

SQ_API sq_status sq_plan_select(sq_stream stream, const sq_plan_desc* desc, sq_preference preference,
                                sq_plan* plan) {
  return guarded("sq_plan_select", [&] { return plan_select(stream, desc, preference, plan); });
}

SQ_API sq_status sq_plan_can_implement(sq_plan handle, const sq_run_args* args) {
  return with_plan("sq_plan_can_implement", handle,
                   [&](const sq_plan_st& plan) { return plan_can_implement(plan, args); });
}

SQ_API sq_status sq_plan_workspace_size(sq_plan handle, size_t* bytes) {
  return with_plan("sq_plan_workspace_size", handle, [&](const sq_plan_st& plan) -> sq_status {
    if (bytes == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "sq_plan_workspace_size: bytes is NULL");
    *bytes = plan.workspace_bytes;
    return ok();
  });
}

SQ_API sq_status sq_plan_precision_guarantee(sq_plan handle, sq_precision_guarantee* guarantee) {
  return with_plan("sq_plan_precision_guarantee", handle, [&](const sq_plan_st& plan) -> sq_status {
    const sq_plan_desc& d = plan.desc;
    const bool linear = plan.max_k > 0;  // the linears (SMOOTHQUANT, QUANTIZED, SCALED)
    sq_precision_guarantee g{};
    g.struct_size = sizeof(g);
    g.bit_exact_with_host = 1;
    g.deterministic = 1;
    g.exact_accumulation = linear ? 1 : 0;
    g.accumulate_dtype = linear ? SQ_DTYPE_S32 : SQ_DTYPE_INVALID;
    // The epilogue's C: f64 for f64 T (the linears, SCALE_ACCUMULATORS) or f64 input (the quantizers),
    // else f32 (S32 accumulators, computed by the f32 instantiations, included).
    const sq_dtype wide = linear || d.op == SQ_OP_SCALE_ACCUMULATORS ? d.scale_dtype : d.act_dtype;
    g.epilogue_dtype = wide == SQ_DTYPE_F64 ? SQ_DTYPE_F64 : SQ_DTYPE_F32;
    g.max_k = plan.max_k;
    SQ_TRY(write_struct(guarantee, &g, sizeof(g), sizeof(g), "guarantee"));
    return ok();
  });
}

SQ_API sq_status sq_plan_get_info(sq_plan handle, sq_plan_info* info) {
  return with_plan("sq_plan_get_info", handle, [&](const sq_plan_st& plan) -> sq_status {
    sq_plan_info i{};
    i.struct_size = sizeof(i);
    i.family = plan.family;
    i.op = plan.desc.op;
    i.device = plan.device;
    i.sm_version = plan.facts.device.sm;
    i.n = plan.desc.n;
    i.k = plan.desc.k;
    i.max_m = plan.desc.max_m;
    SQ_TRY(write_struct(info, &i, sizeof(i), sizeof(i), "info"));
    return ok();
  });
}

SQ_API sq_status sq_plan_kernel_name(sq_plan handle, int64_t m, const char** name) {
  return with_plan("sq_plan_kernel_name", handle, [&](const sq_plan_st& plan) -> sq_status {
    if (name == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "sq_plan_kernel_name: name is NULL");
    if (m < 1 || m > plan.desc.max_m)
      return fail(SQ_STATUS_INVALID_ARGUMENT, "sq_plan_kernel_name: m is %lld, must be in 1..max_m (%lld)",
                  (long long)m, (long long)plan.desc.max_m);
    *name = plan_kernel_name(plan, m);
    return ok();
  });
}

SQ_API sq_status sq_plan_run(sq_plan handle, sq_stream stream, void* workspace, size_t workspace_bytes,
                             const sq_run_args* args) {
  return with_plan("sq_plan_run", handle, [&](const sq_plan_st& plan) {
    return plan_run(plan, stream, workspace, workspace_bytes, args);
  });
}

SQ_API sq_status sq_plan_destroy(sq_plan handle) {
  return guarded("sq_plan_destroy", [&]() -> sq_status {
    if (handle == nullptr) return ok();
    if (!registry_remove(handle))
      return fail(SQ_STATUS_INVALID_HANDLE,
                  "sq_plan_destroy: plan %p is not a live plan of this library (already destroyed or foreign)",
                  static_cast<const void*>(handle));
    handle->magic = 0;
    delete handle;
    return ok();
  });
}

}  // extern "C"
