// The plan: select (validate the descriptor, derive what every run needs, choose the executor), the
// registry of live plans, and the run (validate the request once, then the executor).
#include "plan/plan.hpp"

#include <mutex>
#include <new>
#include <shared_mutex>
#include <unordered_set>

#include "base/dtype.hpp"
#include "base/error.hpp"
#include "host/numerics.hpp"
#include "plan/executor.hpp"
#include "plan/params.hpp"
#include "plan/validate.hpp"

namespace sq {

namespace {

std::shared_mutex g_registry_mutex;
std::unordered_set<const sq_plan_st*>& registry() {
  static auto* set = new std::unordered_set<const sq_plan_st*>();  // never destroyed: safe at exit
  return *set;
}

// The bits of v rounded once to the float dtype t (0 for any other dtype).
uint64_t static_bits_for(sq_dtype t, double v) {
  switch (t) {
    case SQ_DTYPE_F32: return num::bits_of_double_as<float>(v);
    case SQ_DTYPE_F64: return num::bits_of_double_as<double>(v);
    case SQ_DTYPE_F16: return num::bits_of_double_as<num::f16>(v);
    case SQ_DTYPE_BF16: return num::bits_of_double_as<num::bf16>(v);
    default: return 0;
  }
}

kernels::QuantMode kernel_mode(sq_quant_mode m) {
  switch (m) {
    case SQ_QUANT_STATIC: return kernels::QuantMode::kStatic;
    case SQ_QUANT_DYNAMIC_ASYMMETRIC: return kernels::QuantMode::kDynamicAsym;
    case SQ_QUANT_ABSMAX: return kernels::QuantMode::kAbsmax;
    case SQ_QUANT_FROM_ABSMAX: return kernels::QuantMode::kFromAbsmax;
    default: return kernels::QuantMode::kDynamic;
  }
}

// Everything a run needs from the validated descriptor, fixed at select.
void derive(sq_plan_st* plan) {
  const sq_plan_desc& d = plan->desc;
  const bool float_input = is_float(d.act_dtype);
  plan->t = d.scale_dtype != SQ_DTYPE_INVALID ? kernel_dtype(d.scale_dtype) : kernels::Dtype::F32;
  plan->x_dtype = float_input ? kernel_dtype(d.act_dtype) : kernels::Dtype::F32;
  plan->out_type = d.out_dtype == SQ_DTYPE_S32 ? kernels::Dtype::S32 : plan->t;
  plan->weight_type = d.weight_dtype == SQ_DTYPE_U8 ? kernels::Dtype::U8 : kernels::Dtype::S8;
  // The quantizer: its mode (the op's own for 0), its q dtype, and what produces its rows.
  const sq_quant_mode mode = d.quant_mode != SQ_QUANT_DEFAULT
                                 ? d.quant_mode
                                 : (d.op == SQ_OP_QUANTIZE_STATIC ? SQ_QUANT_STATIC : SQ_QUANT_DYNAMIC);
  plan->mode = kernel_mode(mode);
  if (d.op == SQ_OP_QUANTIZED_LINEAR)
    plan->q_type = d.quant_dtype == SQ_DTYPE_U8 ? kernels::Dtype::U8 : kernels::Dtype::S8;
  else
    plan->q_type = d.out_dtype == SQ_DTYPE_U8 ? kernels::Dtype::U8 : kernels::Dtype::S8;
  plan->producer = d.op == SQ_OP_RMSNORM_QUANTIZE    ? kernels::Producer::kRmsNorm
                   : d.op == SQ_OP_SILU_MUL_QUANTIZE ? kernels::Producer::kSiluMul
                                                     : kernels::Producer::kPlain;
  // The linear's a: the caller's int8 activations, or QUANTIZED_LINEAR's q.
  if (d.op == SQ_OP_QUANTIZED_LINEAR)
    plan->act_type = plan->q_type;
  else
    plan->act_type = d.act_dtype == SQ_DTYPE_U8 ? kernels::Dtype::U8 : kernels::Dtype::S8;
  plan->eps = static_cast<float>(d.eps);
  // The static scale: (T)act_scale for the static linear, (C)act_scale for a static quantizer.
  plan->static_scale_bits = 0;
  if (d.op == SQ_OP_SMOOTHQUANT_LINEAR && d.out_dtype != SQ_DTYPE_S32) {
    plan->static_scale_bits = static_bits_for(d.out_dtype, d.act_scale);
  } else if (float_input && mode == SQ_QUANT_STATIC) {
    plan->static_scale_bits = static_bits_for(d.act_dtype == SQ_DTYPE_F64 ? SQ_DTYPE_F64 : SQ_DTYPE_F32, d.act_scale);
  }
  plan->max_k = plan_max_k(d);
  plan->rules = run_rules(d);
  set_workspace_layout(plan);
}

}  // namespace

void registry_add(const sq_plan_st* p) {
  std::unique_lock<std::shared_mutex> lock(g_registry_mutex);
  registry().insert(p);
}
bool registry_remove(const sq_plan_st* p) {
  std::unique_lock<std::shared_mutex> lock(g_registry_mutex);
  return registry().erase(p) == 1;
}
bool registry_contains(const sq_plan_st* p) {
  std::shared_lock<std::shared_mutex> lock(g_registry_mutex);
  return registry().count(p) == 1;
}

sq_status plan_select(sq_stream stream, const sq_plan_desc* desc_in, sq_preference pref, sq_plan* out) {
  if (out == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "sq_plan_select: plan (the output) is NULL");
  sq_plan_desc d;
  SQ_TRY(validate_desc(desc_in, &d));
  if (pref < SQ_PREFERENCE_FASTEST || pref > SQ_PREFERENCE_GPU_HOPPER)
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "preference is %d: expected SQ_PREFERENCE_FASTEST (0), HOST_REFERENCE (1), GPU_PORTABLE (2) or "
                "GPU_HOPPER (3)",
                pref);
  auto* plan = new (std::nothrow) sq_plan_st{};
  if (plan == nullptr) return fail(SQ_STATUS_OUT_OF_MEMORY, "sq_plan_select: host allocation failed");
  plan->magic = kPlanMagic;
  plan->desc = d;
  derive(plan);
  if (pref == SQ_PREFERENCE_HOST_REFERENCE) {
    host_select(plan);
  } else {
    const sq_status st = gpu_select(stream, pref, plan);
    if (st != SQ_STATUS_SUCCESS) {
      delete plan;
      return st;
    }
  }
  try {
    registry_add(plan);
  } catch (...) {  // no memory for the registry entry: the plan is not returned, so free it
    delete plan;
    throw;
  }
  *out = plan;
  return ok();
}

sq_status plan_run(const sq_plan_st& plan, sq_stream stream, void* workspace, size_t workspace_bytes,
                   const sq_run_args* args) {
  RunRequest req;
  const sq_status st = validate_run(plan, stream, workspace, workspace_bytes, args, &req);
  if (st != SQ_STATUS_SUCCESS) return st;
  return plan.executor->run(plan, req);
}

sq_status plan_can_implement(const sq_plan_st& plan, const sq_run_args* args) {
  RunRequest req;
  SQ_TRY(validate_run_args(plan, args, &req));
  SQ_TRY(plan.executor->check_memory(plan, req));
  return ok();
}

const char* plan_kernel_name(const sq_plan_st& plan, int64_t m) { return plan.executor->kernel_name(plan, m); }

}  // namespace sq
