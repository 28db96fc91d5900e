// Plan logic: select, the registry of live plans, and the run paths (host and GPU).
#include <algorithm>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <thread>
#include <unordered_set>

#include "error.hpp"
#include "families.hpp"
#include "numerics.hpp"
#include "plan.hpp"

namespace sq {

namespace {
std::shared_mutex g_registry_mutex;
std::unordered_set<const sq_plan_st*>& registry() {
  static auto* set = new std::unordered_set<const sq_plan_st*>();  // never destroyed: safe at exit
  return *set;
}
constexpr int64_t kWorkspaceRowAlign = 16;   // q rows in the workspace: 16-byte aligned stride
constexpr size_t kWorkspaceAlign = 256;      // total workspace rounded to this

kernels::Dtype kdt(sq_dtype d) { return static_cast<kernels::Dtype>(d); }

uint64_t static_bits_for(sq_dtype t, double v) {
  switch (t) {
    case SQ_DTYPE_F32: return num::bits_of_double_as<float>(v);
    case SQ_DTYPE_F64: return num::bits_of_double_as<double>(v);
    case SQ_DTYPE_F16: return num::bits_of_double_as<num::f16>(v);
    case SQ_DTYPE_BF16: return num::bits_of_double_as<num::bf16>(v);
    default: return 0;
  }
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

int64_t quantized_ld(const sq_plan_st& plan) {
  return (plan.desc.k + kWorkspaceRowAlign - 1) / kWorkspaceRowAlign * kWorkspaceRowAlign;
}

kernels::LinearParams linear_params(const sq_plan_st& plan, const sq_run_args& a, const ResolvedArgs& r,
                                    const int8_t* act_q, int64_t ld_act_q) {
  kernels::LinearParams p{};
  p.m = static_cast<int32_t>(r.m);
  p.n = static_cast<int32_t>(plan.desc.n);
  p.k = static_cast<int32_t>(plan.desc.k);
  p.act = act_q;
  p.ld_act = ld_act_q;
  p.weight = static_cast<const int8_t*>(a.weight);
  p.ld_weight = r.ld_weight;
  p.weight_scale = a.weight_scale;
  p.bias = a.bias;
  if (plan.desc.op == SQ_OP_SMOOTHQUANT_LINEAR) {
    p.row_scale = nullptr;
    p.static_scale_bits = plan.static_scale_bits;
    p.row_scale_out = a.act_scale_scratch;
  } else {  // per-token scales were written to the scratch by the quantizer
    p.row_scale = a.act_scale_scratch;
    p.static_scale_bits = 0;
    p.row_scale_out = nullptr;
  }
  p.out = a.out;
  p.ld_out = r.ld_out;
  p.dtype = plan.t;
  return p;
}

kernels::QuantizeParams quantize_params(const sq_plan_st& plan, const sq_run_args& a, const ResolvedArgs& r,
                                        int8_t* q, int64_t ld_q, void* scale_out) {
  kernels::QuantizeParams p{};
  p.m = static_cast<int32_t>(r.m);
  p.k = static_cast<int32_t>(plan.desc.k);
  p.x = a.act;
  p.ld_x = r.ld_act;
  p.x_dtype = plan.x_dtype;
  p.smooth = a.smooth;
  p.smooth_dtype = plan.t;
  p.dynamic = plan.desc.op != SQ_OP_QUANTIZE_STATIC;
  p.static_scale_bits = plan.static_scale_bits;
  p.scale_out = scale_out;
  p.scale_dtype = plan.t;
  p.q = q;
  p.ld_q = ld_q;
  return p;
}

sq_status plan_select(sq_stream stream, const sq_plan_desc* desc_in, sq_preference pref, sq_plan* out) {
  if (out == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "sq_plan_select: plan (the output) is NULL");
  sq_plan_desc d;
  sq_status st = validate_desc(desc_in, &d);
  if (st != SQ_STATUS_SUCCESS) return st;
  if (pref < SQ_PREFERENCE_FASTEST || pref > SQ_PREFERENCE_GPU_HOPPER)
    return fail(SQ_STATUS_INVALID_ARGUMENT,
                "preference is %d: expected SQ_PREFERENCE_FASTEST (0), HOST_REFERENCE (1), GPU_PORTABLE (2) or "
                "GPU_HOPPER (3)",
                pref);
  auto* plan = new (std::nothrow) sq_plan_st{};
  if (plan == nullptr) return fail(SQ_STATUS_OUT_OF_MEMORY, "sq_plan_select: host allocation failed");
  plan->magic = kPlanMagic;
  plan->desc = d;
  const bool linear = d.op == SQ_OP_SMOOTHQUANT_LINEAR || d.op == SQ_OP_QUANTIZED_LINEAR;
  plan->has_scale_dtype = d.scale_dtype != SQ_DTYPE_INVALID;
  plan->t = plan->has_scale_dtype ? kdt(d.scale_dtype) : kernels::Dtype::F32;
  plan->x_dtype = d.act_dtype == SQ_DTYPE_S8 ? kernels::Dtype::F32 : kdt(d.act_dtype);
  if (d.op == SQ_OP_SMOOTHQUANT_LINEAR) {
    plan->static_scale_bits = static_bits_for(d.out_dtype, d.act_scale);
  } else if (d.op == SQ_OP_QUANTIZE_STATIC) {
    plan->static_scale_bits = static_bits_for(d.act_dtype == SQ_DTYPE_F64 ? SQ_DTYPE_F64 : SQ_DTYPE_F32, d.act_scale);
  }
  plan->workspace_bytes = 0;
  if (d.op == SQ_OP_QUANTIZED_LINEAR) {
    const size_t bytes = static_cast<size_t>(d.max_m) * static_cast<size_t>(quantized_ld(*plan));
    plan->workspace_bytes = (bytes + kWorkspaceAlign - 1) / kWorkspaceAlign * kWorkspaceAlign;
  }
  (void)linear;
  if (pref == SQ_PREFERENCE_HOST_REFERENCE) {
    plan->family = SQ_KERNEL_FAMILY_HOST;
    plan->device = -1;
    plan->host_threads = d.host_threads != 0 ? d.host_threads : std::max(1u, std::thread::hardware_concurrency());
  } else {
    st = gpu_select(stream, pref, plan);
    if (st != SQ_STATUS_SUCCESS) {
      delete plan;
      return st;
    }
  }
  try {
    registry_add(plan);  // may throw std::bad_alloc (guarded() makes it OUT_OF_MEMORY)
  } catch (...) {
    delete plan;  // a failed select leaks nothing
    throw;
  }
  *out = plan;
  return ok();
}

sq_status plan_run(const sq_plan_st& plan, sq_stream stream, void* workspace, size_t workspace_bytes,
                   const sq_run_args* args) {
  ResolvedArgs r;
  sq_status st = validate_run_args(plan, args, &r);
  if (st != SQ_STATUS_SUCCESS) return st;
  st = validate_workspace(plan, workspace, workspace_bytes);
  if (st != SQ_STATUS_SUCCESS) return st;
  const sq_run_args& a = *args;  // validated: struct_size covers every v0 field
  if (plan.family != SQ_KERNEL_FAMILY_HOST) return gpu_run(plan, stream, workspace, a, r);

  const sq_plan_desc& d = plan.desc;
  switch (d.op) {
    case SQ_OP_SMOOTHQUANT_LINEAR:
      host_linear(linear_params(plan, a, r, static_cast<const int8_t*>(a.act), r.ld_act), plan.host_threads);
      break;
    case SQ_OP_QUANTIZED_LINEAR: {
      int8_t* q = static_cast<int8_t*>(workspace);
      const int64_t ldq = quantized_ld(plan);
      host_quantize(quantize_params(plan, a, r, q, ldq, a.act_scale_scratch), plan.host_threads);
      host_linear(linear_params(plan, a, r, q, ldq), plan.host_threads);
      break;
    }
    case SQ_OP_QUANTIZE_STATIC:
    case SQ_OP_QUANTIZE_DYNAMIC:
      host_quantize(quantize_params(plan, a, r, static_cast<int8_t*>(a.out), r.ld_out, a.act_scale_scratch),
                    plan.host_threads);
      break;
    default:
      return fail(SQ_STATUS_INTERNAL_ERROR, "sq_plan_run: unknown op %d in a validated plan", d.op);
  }
  return ok();
}

}  // namespace sq
