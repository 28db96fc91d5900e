// The launch plan: everything a run of a GPU plan launches, decided in one place (plan_launch) from the
// plan's facts and the run's (RunFacts: M, the operands' and out's alignment, the row-sums pre-pass).
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
// pre-pass: K decides the operands' alignment, N times out's element size whether out's rows are aligned.
// sq_plan_kernel_name answers for such a run; the benchmark's tools time such runs.
RunFacts packed_run(const PlanFacts& f, int64_t m);

// Prepares, on the current device, every kernel plan_launch may pick for a plan of these facts.
cudaError_t prepare_launches(const PlanFacts& f);

}  // namespace sq
