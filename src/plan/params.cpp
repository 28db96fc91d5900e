// The parameter blocks of a run (see params.hpp).
#include "plan/params.hpp"

#include "dispatch/launch_plan.hpp"

namespace sq {

namespace {

constexpr int64_t kWorkspaceRowAlign = 16;    // q rows in the workspace: 16-byte aligned stride
constexpr size_t kWorkspaceRegionAlign = 256;  // each workspace region (and the total) rounded to this

size_t round_up(size_t bytes, size_t align) { return (bytes + align - 1) / align * align; }

bool q_in_workspace(const sq_plan_st& plan) { return plan.desc.op == SQ_OP_QUANTIZED_LINEAR; }

// The workspace's region at `offset`, as a typed pointer.
template <typename T>
T* region(void* workspace, size_t offset) {
  return reinterpret_cast<T*>(static_cast<unsigned char*>(workspace) + offset);
}

}  // namespace

void set_workspace_layout(sq_plan_st* plan) {
  const sq_plan_desc& d = plan->desc;
  const size_t rows = static_cast<size_t>(d.max_m);
  const bool weight_zp = (d.flags & SQ_PLAN_WEIGHT_ZERO_POINT) != 0;
  plan->q_ld = 0;
  plan->zp_offset = 0;
  plan->sums_offset = 0;
  plan->workspace_bytes = 0;
  size_t bytes = 0;
  if (d.op == SQ_OP_QUANTIZED_LINEAR) {
    plan->q_ld = (d.k + kWorkspaceRowAlign - 1) / kWorkspaceRowAlign * kWorkspaceRowAlign;
    bytes = round_up(rows * static_cast<size_t>(plan->q_ld), kWorkspaceRegionAlign);
    plan->zp_offset = bytes;
    if (plan->mode == kernels::QuantMode::kDynamicAsym) bytes += round_up(rows, kWorkspaceRegionAlign);
    plan->sums_offset = bytes;
    if (weight_zp) bytes += round_up(rows * sizeof(int32_t), kWorkspaceRegionAlign);
  } else if (weight_zp && (d.op == SQ_OP_SMOOTHQUANT_LINEAR || d.op == SQ_OP_SCALED_LINEAR)) {
    bytes = round_up(rows * sizeof(int32_t), kWorkspaceRegionAlign);
  }
  plan->workspace_bytes = bytes;
  plan->workspace_required = bytes;
  plan->stage_ld = 0;
  plan->stage_weight_offset = plan->stage_act_offset = 0;
}

bool stage_eligible(const sq_plan_desc& d) {
  const bool op = d.op == SQ_OP_SMOOTHQUANT_LINEAR || d.op == SQ_OP_SCALED_LINEAR;
  const bool zero_points = (d.flags & (SQ_PLAN_WEIGHT_ZERO_POINT | SQ_PLAN_ACT_ZERO_POINT)) != 0 || d.act_zero_point != 0;
  return op && !zero_points && d.k % kernels::kStageColAlign != 0;
}

void add_stage_layout(sq_plan_st* plan) {
  const sq_plan_desc& d = plan->desc;
  plan->stage_ld = static_cast<int64_t>(round_up(static_cast<size_t>(d.k), kernels::kStageStrideAlign));
  const size_t row = static_cast<size_t>(plan->stage_ld);
  plan->stage_weight_offset = round_up(plan->workspace_required, kWorkspaceRegionAlign);
  plan->stage_act_offset = plan->stage_weight_offset + round_up(static_cast<size_t>(d.n) * row, kWorkspaceRegionAlign);
  plan->workspace_bytes = plan->stage_act_offset + round_up(static_cast<size_t>(d.max_m) * row, kWorkspaceRegionAlign);
}

kernels::StageParams stage_params(const sq_plan_st& plan, const RunRequest& req, int32_t k_pad) {
  kernels::StageParams p{};
  p.matrix[0] = {static_cast<const int8_t*>(req.args.weight), req.ld_weight,
                 region<int8_t>(req.workspace, plan.stage_weight_offset), plan.stage_ld,
                 static_cast<int32_t>(plan.desc.n)};
  p.matrix[1] = {static_cast<const int8_t*>(req.args.act), req.ld_act, region<int8_t>(req.workspace, plan.stage_act_offset),
                 plan.stage_ld, static_cast<int32_t>(req.m)};
  p.k = static_cast<int32_t>(plan.desc.k);
  p.k_pad = k_pad;
  p.programmatic = false;
  return p;
}

kernels::QuantizeParams quantize_params(const sq_plan_st& plan, const RunRequest& req) {
  const sq_run_args& a = req.args;
  const bool ws = q_in_workspace(plan);
  kernels::QuantizeParams p{};
  p.m = static_cast<int32_t>(req.m);
  p.k = static_cast<int32_t>(plan.desc.k);
  p.producer = plan.producer;
  p.mode = plan.mode;
  p.x = a.act;
  p.ld_x = req.ld_act;
  p.x_dtype = plan.x_dtype;
  p.residual = a.residual;
  p.ld_residual = req.ld_residual;
  p.residual_out = a.residual_out;
  p.ld_residual_out = req.ld_residual_out;
  p.norm_weight = a.norm_weight;
  p.eps = plan.eps;
  p.smooth = a.smooth;
  p.smooth_dtype = plan.t;
  p.static_scale_bits = plan.static_scale_bits;
  p.static_zp = plan.desc.act_zero_point;
  p.scale_out = a.act_scale_scratch;
  p.scale_dtype = plan.t;
  p.absmax = a.absmax;
  if (ws) {
    // QUANTIZED_LINEAR: q, its zero points and (for weight zero points) its row sums stay in the workspace.
    p.zp_out = plan.mode == kernels::QuantMode::kDynamicAsym ? region<void>(req.workspace, plan.zp_offset) : nullptr;
    p.sums_out = a.weight_zero_point != nullptr ? region<int32_t>(req.workspace, plan.sums_offset) : nullptr;
    p.q = region<int8_t>(req.workspace, 0);
    p.ld_q = plan.q_ld;
  } else {
    p.zp_out = a.act_zero_point;
    p.sums_out = a.act_sums;
    p.q = static_cast<int8_t*>(a.out);  // nullptr for SQ_QUANT_ABSMAX
    p.ld_q = req.ld_out;
  }
  p.q_type = plan.q_type;
  p.row_splits = 1;
  p.overlap_previous = false;
  return p;
}

kernels::LinearParams linear_params(const sq_plan_st& plan, const RunRequest& req) {
  const sq_run_args& a = req.args;
  const sq_op op = plan.desc.op;
  const bool ws = q_in_workspace(plan);
  kernels::LinearParams p{};
  p.m = static_cast<int32_t>(req.m);
  p.n = static_cast<int32_t>(plan.desc.n);
  p.k = static_cast<int32_t>(plan.desc.k);
  p.act = static_cast<const int8_t*>(ws ? req.workspace : a.act);
  p.ld_act = ws ? plan.q_ld : req.ld_act;
  p.weight = static_cast<const int8_t*>(a.weight);
  p.ld_weight = req.ld_weight;
  p.act_type = plan.act_type;
  p.weight_type = plan.weight_type;
  p.weight_scale = a.weight_scale;
  p.bias = a.bias;
  p.row_scale_per_tensor = false;
  p.static_scale_bits = 0;
  p.row_scale = nullptr;
  p.row_scale_out = nullptr;
  if (op == SQ_OP_SMOOTHQUANT_LINEAR) {
    if (plan.out_type != kernels::Dtype::S32) {  // the static scale, and its fill of the scratch
      p.static_scale_bits = plan.static_scale_bits;
      p.row_scale_out = a.act_scale_scratch;
    }
  } else if (op == SQ_OP_QUANTIZED_LINEAR) {  // per-token scales were written to the scratch by the quantizer
    p.row_scale = a.act_scale_scratch;
  } else {  // SCALED_LINEAR: the caller's
    p.row_scale = a.act_scale;
    p.row_scale_per_tensor = (plan.desc.flags & SQ_PLAN_PER_TENSOR_ACT_SCALE) != 0;
  }
  // Zero points: za (per tensor from the descriptor, per token from the quantizer or the caller), zw.
  p.act_zp = nullptr;
  p.act_zp_value = 0;
  if (op == SQ_OP_SMOOTHQUANT_LINEAR) {
    p.act_zp_value = plan.desc.act_zero_point;
  } else if (op == SQ_OP_QUANTIZED_LINEAR) {
    if (plan.mode == kernels::QuantMode::kDynamicAsym) p.act_zp = region<void>(req.workspace, plan.zp_offset);
  } else {
    p.act_zp = a.act_zero_point;
  }
  p.weight_zp = a.weight_zero_point;
  p.weight_sums = a.weight_sums;
  // Sa (needed with weight zero points): the caller's, else the quantizer's or the pre-pass's in the workspace.
  p.act_sums = a.act_sums;
  if (p.weight_zp != nullptr && (ws || req.row_sums_pass)) p.act_sums = region<int32_t>(req.workspace, plan.sums_offset);
  p.zero_points = p.act_zp != nullptr || p.act_zp_value != 0 || p.weight_zp != nullptr;
  p.out = a.out;
  p.ld_out = req.ld_out;
  p.dtype = plan.out_type;
  p.programmatic = false;
  return p;
}

kernels::RowSumsParams row_sums_params(const sq_plan_st& plan, const RunRequest& req) {
  kernels::RowSumsParams p{};
  p.m = static_cast<int32_t>(req.m);
  p.k = static_cast<int32_t>(plan.desc.k);
  p.a = static_cast<const int8_t*>(req.args.act);
  p.ld_a = req.ld_act;
  p.a_type = plan.act_type;
  p.sums = region<int32_t>(req.workspace, plan.sums_offset);
  p.programmatic = false;
  return p;
}

kernels::ScaleAccumulatorsParams scale_accumulators_params(const sq_plan_st& plan, const RunRequest& req) {
  const sq_run_args& a = req.args;
  kernels::ScaleAccumulatorsParams p{};
  p.m = static_cast<int32_t>(req.m);
  p.n = static_cast<int32_t>(plan.desc.n);
  p.acc = static_cast<const int32_t*>(a.act);
  p.ld_acc = req.ld_act;
  p.row_scale = a.act_scale;
  p.row_scale_per_tensor = (plan.desc.flags & SQ_PLAN_PER_TENSOR_ACT_SCALE) != 0;
  p.weight_scale = a.weight_scale;
  p.bias = a.bias;
  p.out = a.out;
  p.ld_out = req.ld_out;
  p.dtype = plan.t;
  p.programmatic = false;
  return p;
}

LaunchBlocks launch_blocks(const sq_plan_st& plan, const RunRequest& req, const LaunchPlan& launches) {
  LaunchBlocks b{};
  if (launches.quantizer.name != nullptr) {
    b.quantize = quantize_params(plan, req);
    b.quantize.row_splits = launches.quantizer.row_splits;
    b.quantize.overlap_previous = launches.quantizer.programmatic;
  }
  if (launches.row_sums.name != nullptr) {
    b.row_sums = row_sums_params(plan, req);
    b.row_sums.programmatic = launches.row_sums.programmatic;
  }
  if (launches.linear.variant != nullptr) {
    b.linear = linear_params(plan, req);
    b.linear.programmatic = launches.linear.programmatic;
  }
  if (launches.stage.name != nullptr) {  // the linear runs on the copies, over k_pad columns
    b.stage = stage_params(plan, req, launches.stage.k_pad);
    b.stage.programmatic = launches.stage.programmatic;
    b.linear.k = launches.stage.k_pad;
    b.linear.weight = b.stage.matrix[0].dst;
    b.linear.ld_weight = plan.stage_ld;
    b.linear.act = b.stage.matrix[1].dst;
    b.linear.ld_act = plan.stage_ld;
  }
  if (launches.scale_accumulators.name != nullptr) {
    b.scale_accumulators = scale_accumulators_params(plan, req);
    b.scale_accumulators.programmatic = launches.scale_accumulators.programmatic;
  }
  return b;
}

}  // namespace sq
