// The facts a dispatch decision may use: the device's, the plan's (fixed at select) and one run's shape.
// Plain data, free of CUDA and of ABI types, so that the plan object can hold them.
#pragma once

#include <cstdint>

namespace sq {

// The device facts a dispatch decision may use, fixed at plan select.
struct DeviceFacts {
  int32_t sm;              // compute capability * 10 (e.g. 90)
  int32_t num_sms;         // >= 1
  int32_t cluster3_slots;  // clusters of 3 CTAs (one per SM) resident at once
};

// The facts of a device with `num_sms` SMs (at least 1); the clusters of 3 from the H100 model of the
// Hopper dispatch (choose_sm90.cpp) until the device is asked [D-split-fill].
DeviceFacts device_facts(int32_t sm, int32_t num_sms);

// The shape facts of one run.
struct LinearShape {
  int64_t m, n, k;
  int32_t out_bytes;  // bytes of one output element (2: f16/bf16, 4: f32, 8: f64)
  // The operands' alignment in bytes (kernels::kOperandAlign16, 8 or 1): the largest that K, the act and
  // weight bases and ld_act/ld_weight all meet (16 also needs strides the TMA takes; src/plan/validate.cpp).
  int32_t operand_align;
  // Whether out's rows are 16-byte aligned (its base and ld_out * out_bytes): the epilogues' vector stores
  // need it; kernels without out staging store other rows one element at a time [D-out-staged].
  bool out_aligned;
};

// The facts of one run that its launches depend on, beside the plan's (validate.hpp's RunRequest).
struct RunFacts {
  int64_t m;
  int32_t operand_align;  // LinearShape::operand_align (kernels::kOperandAlign1 for the ops without a linear)
  bool out_aligned;       // LinearShape::out_aligned
  // The run passes weight zero points without act_sums, so the row-sums pre-pass runs first (only plans
  // with PlanFacts::weight_zero_point).
  bool row_sums_pass;
  // Appended: the run's workspace holds the plan's staging area (PlanFacts::stage_unaligned), so the
  // operands may be staged first [D-stage-unaligned]. An initialization that stops before it: false.
  bool stage_room;
};

// The plan's op (the public sq_op, which the dispatch does not see).
enum class Op : uint8_t {
  kStaticLinear,       // SQ_OP_SMOOTHQUANT_LINEAR: the linear on int8 activations (or its S32 accumulators)
  kDynamicLinear,      // SQ_OP_QUANTIZED_LINEAR: the per-token quantizer, then the linear
  kStaticQuantize,     // SQ_OP_QUANTIZE_STATIC
  kDynamicQuantize,    // SQ_OP_QUANTIZE_DYNAMIC (every per-token mode)
  kScaledLinear,       // SQ_OP_SCALED_LINEAR: the linear with the caller's activation scales
  kRmsNormQuantize,    // SQ_OP_RMSNORM_QUANTIZE: the quantizer with the RMSNorm producer
  kSiluMulQuantize,    // SQ_OP_SILU_MUL_QUANTIZE: the quantizer with the SiLU-and-multiply producer
  kScaleAccumulators,  // SQ_OP_SCALE_ACCUMULATORS: the linears' epilogue on given int32 accumulators
};

// The quantizer's mode as the launch plan sees it (the contract's quant modes); kOpDefault: the op's
// own (STATIC for kStaticQuantize, else DYNAMIC), what a PlanFacts that does not name one means.
enum class QuantFact : uint8_t { kOpDefault, kStatic, kDynamic, kDynamicAsym, kAbsmax, kFromAbsmax };

// The GPU kernel family a plan chose at select (SQ_KERNEL_FAMILY_SM80 / SM90).
enum class GpuFamily : uint8_t { kPortable, kHopper };

// The facts of a GPU plan that its launches depend on, fixed at select.
struct PlanFacts {
  Op op;
  GpuFamily family;
  DeviceFacts device;
  int64_t n, k;
  int32_t out_bytes;  // linear output element (4 for S32 accumulators); SCALE_ACCUMULATORS' T
  int32_t x_bytes;    // quantizer input element (SiLU-mul: of each half of its [M, 2K] row)
  // Since 0.2, appended: an initialization that stops at x_bytes means a 0.1 plan of its op.
  QuantFact quant;         // the quantizer's mode
  bool weight_zero_point;  // SQ_PLAN_WEIGHT_ZERO_POINT on a linear: a run may need the row-sums pre-pass
  // Appended: the plan's workspace has a staging area for operands that are not 16-byte aligned
  // (SMOOTHQUANT_LINEAR and SCALED_LINEAR with K % 16 != 0 and no zero points) [D-stage-unaligned].
  bool stage_unaligned;
};

}  // namespace sq
