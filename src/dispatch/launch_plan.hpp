// The launch plan: everything a run of a GPU plan launches, decided in one place (plan_launch) from the
// plan's facts and the run's M and alignment. sq_plan_run executes it; sq_plan_kernel_name, the
// dispatch tests and the sweep tool ask the same function.
#pragma once

#include <cstdint>

#include "dispatch/dispatch.hpp"
#include "variant.hpp"

namespace sq {

// The activation quantizer's launch (the quantize ops, and the first launch of QUANTIZED_LINEAR).
struct QuantizerLaunch {
  const char* name;     // nullptr: no quantizer
  int32_t row_splits;   // CTAs per row (QuantizeParams::row_splits)
  bool programmatic;    // a programmatic dependent of the kernel before it (QuantizeParams::overlap_previous)
};

// The linear's launch (the linear ops; after the quantizer in QUANTIZED_LINEAR).
struct LinearLaunch {
  const kernels::KernelVariant* variant;  // nullptr: no linear; cluster size: variant->split
  bool programmatic;                      // LinearParams::programmatic (only where the variant honours it)
};

struct LaunchPlan {
  QuantizerLaunch quantizer;
  LinearLaunch linear;
  // What sq_plan_kernel_name reports: the linear's variant, else the quantizer.
  const char* kernel_name() const { return linear.variant != nullptr ? linear.variant->name : quantizer.name; }
};

// The launches of a run of m rows whose operands are aligned16 (see LinearShape) or not.
LaunchPlan plan_launch(const PlanFacts& f, int64_t m, bool aligned16);

// Prepares, on the current device, every kernel plan_launch may pick for a plan of these facts.
cudaError_t prepare_launches(const PlanFacts& f);

}  // namespace sq
