// The parameter blocks of a run (see params.hpp).
#include "plan/params.hpp"

namespace sq {

namespace {

constexpr int64_t kWorkspaceRowAlign = 16;  // q rows in the workspace: 16-byte aligned stride
constexpr size_t kWorkspaceAlign = 256;     // total workspace rounded to this

// Row stride of q in the QUANTIZED_LINEAR workspace.
int64_t quantized_ld(const sq_plan_desc& d) {
  return (d.k + kWorkspaceRowAlign - 1) / kWorkspaceRowAlign * kWorkspaceRowAlign;
}

bool q_in_workspace(const sq_plan_st& plan) { return plan.desc.op == SQ_OP_QUANTIZED_LINEAR; }

}  // namespace

size_t workspace_size(const sq_plan_desc& d) {
  if (d.op != SQ_OP_QUANTIZED_LINEAR) return 0;
  const size_t bytes = static_cast<size_t>(d.max_m) * static_cast<size_t>(quantized_ld(d));
  return (bytes + kWorkspaceAlign - 1) / kWorkspaceAlign * kWorkspaceAlign;
}

kernels::QuantizeParams quantize_params(const sq_plan_st& plan, const RunRequest& req) {
  const sq_run_args& a = req.args;
  kernels::QuantizeParams p{};
  p.m = static_cast<int32_t>(req.m);
  p.k = static_cast<int32_t>(plan.desc.k);
  p.x = a.act;
  p.ld_x = req.ld_act;
  p.x_dtype = plan.x_dtype;
  p.smooth = a.smooth;
  p.smooth_dtype = plan.t;
  p.mode = plan.desc.op == SQ_OP_QUANTIZE_STATIC ? kernels::QuantMode::kStatic : kernels::QuantMode::kDynamic;
  p.q_type = kernels::Dtype::S8;
  p.static_scale_bits = plan.static_scale_bits;
  p.scale_out = a.act_scale_scratch;
  p.scale_dtype = plan.t;
  p.q = static_cast<int8_t*>(q_in_workspace(plan) ? req.workspace : a.out);
  p.ld_q = q_in_workspace(plan) ? quantized_ld(plan.desc) : req.ld_out;
  p.row_splits = 1;
  return p;
}

kernels::LinearParams linear_params(const sq_plan_st& plan, const RunRequest& req) {
  const sq_run_args& a = req.args;
  kernels::LinearParams p{};
  p.m = static_cast<int32_t>(req.m);
  p.n = static_cast<int32_t>(plan.desc.n);
  p.k = static_cast<int32_t>(plan.desc.k);
  p.act = static_cast<const int8_t*>(q_in_workspace(plan) ? req.workspace : a.act);
  p.ld_act = q_in_workspace(plan) ? quantized_ld(plan.desc) : req.ld_act;
  p.weight = static_cast<const int8_t*>(a.weight);
  p.ld_weight = req.ld_weight;
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
  p.ld_out = req.ld_out;
  p.dtype = plan.t;
  return p;
}

}  // namespace sq

