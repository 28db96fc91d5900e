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
  bool aligned16;     // k % 16 == 0, act/weight bases 16-byte aligned, ld_act/ld_weight % 16 == 0
};

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

}  // namespace sq
