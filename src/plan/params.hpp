// The parameter blocks a run hands its kernels, built from the plan and the checked request: the same
// for the host and the GPU executors. Where the buffers are: the quantizer writes q into the workspace
// (QUANTIZED_LINEAR, with its per-token zero points and row sums there too) or into out (the quantize and
// fused ops); the linear reads q from there, or act; the activation row sums a linear with weight zero
// points needs come from args->act_sums, else from the quantizer (QUANTIZED_LINEAR) or the row-sums
// pre-pass (into the workspace).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernel_params.hpp"
#include "plan/plan.hpp"
#include "plan/validate.hpp"

namespace sq {

struct LaunchPlan;  // dispatch/launch_plan.hpp

// The parameter blocks of every launch of a GPU run, built before the first launch; a block whose
// launch the plan does not make is left zero.
struct LaunchBlocks {
  kernels::QuantizeParams quantize;
  kernels::RowSumsParams row_sums;
  kernels::LinearParams linear;
  kernels::ScaleAccumulatorsParams scale_accumulators;
  kernels::StageParams stage;
};

// The blocks of `launches`, with its launch flags (row splits, programmatic launch) applied.
LaunchBlocks launch_blocks(const sq_plan_st& plan, const RunRequest& req, const LaunchPlan& launches);

// The quantizer's parameters (row_splits and overlap_previous left to the launch plan: 1 and false).
kernels::QuantizeParams quantize_params(const sq_plan_st& plan, const RunRequest& req);

// The linear's parameters (programmatic left to the launch plan: false).
kernels::LinearParams linear_params(const sq_plan_st& plan, const RunRequest& req);

// The row-sums pre-pass's parameters (req.row_sums_pass; programmatic left to the launch plan: false).
kernels::RowSumsParams row_sums_params(const sq_plan_st& plan, const RunRequest& req);

// SCALE_ACCUMULATORS' parameters (programmatic left to the launch plan: false).
kernels::ScaleAccumulatorsParams scale_accumulators_params(const sq_plan_st& plan, const RunRequest& req);

// The workspace of a plan of desc: sets plan->q_ld, zp_offset, sums_offset and workspace_bytes.
//   QUANTIZED_LINEAR: q (max_m rows of q_ld bytes, q_ld = K rounded up to 16), then with
//     SQ_QUANT_DYNAMIC_ASYMMETRIC the zero points [max_m] (q dtype), then with SQ_PLAN_WEIGHT_ZERO_POINT
//     the row sums [max_m] (int32); each region starts kWorkspaceRegionAlign-aligned.
//   SMOOTHQUANT_LINEAR / SCALED_LINEAR with SQ_PLAN_WEIGHT_ZERO_POINT: the row sums [max_m] (int32).
//   Every other plan: none.
void set_workspace_layout(sq_plan_st* plan);

// Whether a GPU plan of desc gets a staging area: SMOOTHQUANT_LINEAR and SCALED_LINEAR with K % 16 != 0
// and no zero points (no SQ_PLAN_WEIGHT_ZERO_POINT or SQ_PLAN_ACT_ZERO_POINT, act_zero_point 0): the zero
// columns the copies add must add nothing [D-stage-unaligned].
bool stage_eligible(const sq_plan_desc& d);

// Appends the staging area to the workspace of a GPU plan that stage_eligible allows (after
// set_workspace_layout): the weight's N rows, then the activations' max_m rows, each row
// K rounded up to kernels::kStageStrideAlign bytes, each region kWorkspaceRegionAlign-aligned.
void add_stage_layout(sq_plan_st* plan);

// The staging copy's parameters (programmatic left to the launch plan: false).
kernels::StageParams stage_params(const sq_plan_st& plan, const RunRequest& req, int32_t k_pad);

}  // namespace sq
