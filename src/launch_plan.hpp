// The launch plan: everything a run of a GPU plan launches, decided in one place (plan_launch) from the
// plan's facts and the run's M and alignment. sq_plan_run executes it; sq_plan_kernel_name, the
// dispatch tests and the sweep tool ask the same function.
#pragma once

#include <cstdint>

#include "families.hpp"
#include "variant.hpp"

namespace sq {

// The plan's op (the public sq_op, which the dispatch does not see).
enum class Op : uint8_t {
  kStaticLinear,     // SQ_OP_SMOOTHQUANT_LINEAR: the linear on int8 activations
  kDynamicLinear,    // SQ_OP_QUANTIZED_LINEAR: the dynamic quantizer, then the linear
  kStaticQuantize,   // SQ_OP_QUANTIZE_STATIC
  kDynamicQuantize,  // SQ_OP_QUANTIZE_DYNAMIC
};

// The GPU kernel family a plan chose at select (SQ_KERNEL_FAMILY_SM80 / SM90).
enum class GpuFamily : uint8_t { kPortable, kHopper };

// The facts of a GPU plan that its launches depend on, fixed at select.
struct PlanFacts {
  Op op;
  GpuFamily family;
  DeviceFacts device;
  int64_t n, k;
  int32_t out_bytes;  // linear output element
  int32_t x_bytes;    // quantizer input element
};

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
