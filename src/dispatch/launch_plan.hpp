// The launch plan: everything a run of a GPU plan launches, decided in one place (plan_launch) from the
// plan's facts and the run's (RunFacts: M, the operands' and out's alignment, the row-sums pre-pass, the
// staging area).
// sq_plan_run executes it, in the order of the members below; sq_plan_kernel_name, the dispatch tests, the
// benchmark and the sweep tool ask the same function.
#pragma once

#include <cstdint>

#include "dispatch/dispatch.hpp"
#include "variant.hpp"

namespace sq {

// The activation quantizer's launch (the quantize and fused ops, and the first launch of QUANTIZED_LINEAR).
struct QuantizerLaunch {
  const char* name;     // nullptr: no quantizer
  int32_t row_splits;   // CTAs per row (QuantizeParams::row_splits)
  bool programmatic;    // a programmatic dependent of the kernel before it (QuantizeParams::overlap_previous)
};

// The staging copy (plans with PlanFacts::stage_unaligned, runs with RunFacts::stage_room, operands not
// 16-byte aligned, M above the decode kernels'): the weight and the activations copied into the
// workspace's staging area, columns [K, k_pad) zero; the linear then runs on the copies over k_pad
// columns [D-stage-unaligned].
struct StageLaunch {
  const char* name;   // nullptr: no staging
  int32_t k_pad;      // K rounded up to kernels::kStageColAlign: the linear's K on the copies
  bool programmatic;  // StageParams::programmatic
};

// The row-sums pre-pass (SMOOTHQUANT_LINEAR / SCALED_LINEAR runs with weight zero points and no act_sums):
// the activation row sums into the workspace, before the linear.
struct RowSumsLaunch {
  const char* name;   // nullptr: no pre-pass
  bool programmatic;  // RowSumsParams::programmatic
};

// The linear's launch (the linear ops; after the quantizer in QUANTIZED_LINEAR, after the pre-pass).
struct LinearLaunch {
  const kernels::KernelVariant* variant;  // nullptr: no linear; cluster size: variant->split
  bool programmatic;                      // LinearParams::programmatic (only where the variant honours it)
};

// SQ_OP_SCALE_ACCUMULATORS' one launch.
struct ScaleAccumulatorsLaunch {
  const char* name;   // nullptr: none
  bool programmatic;  // ScaleAccumulatorsParams::programmatic
};

struct LaunchPlan {
  StageLaunch stage;
  QuantizerLaunch quantizer;
  RowSumsLaunch row_sums;
  LinearLaunch linear;
  ScaleAccumulatorsLaunch scale_accumulators;
  // What sq_plan_kernel_name reports: the linear's variant, else the quantizer's (or fused op's) kernel,
  // else the scale-accumulators kernel.
  const char* kernel_name() const {
    if (linear.variant != nullptr) return linear.variant->name;
    return quantizer.name != nullptr ? quantizer.name : scale_accumulators.name;
  }
};

// The launches of one run of a plan.
LaunchPlan plan_launch(const PlanFacts& f, const RunFacts& r);

// The facts of a run of m packed rows (leading dimensions 0) at 16-byte aligned bases, without the row-sums
// pre-pass, given sq_plan_workspace_size bytes of workspace: K decides the operands' alignment, N times
// out's element size whether out's rows are aligned.
// sq_plan_kernel_name answers for such a run; the benchmark's tools time such runs.
RunFacts packed_run(const PlanFacts& f, int64_t m);

// Prepares, on the current device, every kernel plan_launch may pick for a plan of these facts.
cudaError_t prepare_launches(const PlanFacts& f);

}  // namespace sq
