// The dispatch's interface: the facts a choice may use, and each kernel family's chooser over the
// variant registry (kernels/registry.hpp).
#pragma once

#include <cstdint>

#include "variant.hpp"

namespace sq {

// The device facts a dispatch decision may use, fixed at plan select.
struct DeviceFacts {
  int32_t sm;              // compute capability * 10 (e.g. 90)
  int32_t num_sms;         // >= 1
  int32_t cluster3_slots;  // clusters of 3 CTAs (one per SM) resident at once
};

// The facts of a device with `num_sms` SMs, the cluster capacity from the default model (cost_model.hpp).
DeviceFacts device_facts(int32_t sm, int32_t num_sms);

// The shape facts of one run.
struct LinearShape {
  int64_t m, n, k;
  int32_t out_bytes;  // bytes of one output element (2: f16/bf16, 4: f32, 8: f64)
  bool aligned16;     // k % 16 == 0, act/weight bases 16-byte aligned, ld_act/ld_weight % 16 == 0
};

// Small-M (decode) kernels, used by both GPU families; nullptr when no decode kernel takes the shape.
const kernels::KernelVariant* decode_choose(const LinearShape& s, const DeviceFacts& d);

// The portable family (mma.sync, sm_80+): small M goes to the decode kernels.
const kernels::KernelVariant& sm80_choose(const LinearShape& s, const DeviceFacts& d);

// The Hopper family (sm_90a): the portable family's choice for unaligned shapes, the decode kernels for
// small M, else a split-K or persistent wgmma kernel.
const kernels::KernelVariant& sm90_choose(const LinearShape& s, const DeviceFacts& d);

// Whether split-K variant v gives each CTA of its cluster enough K blocks of s for the dispatch to
// consider it (a split of one always does); bench/sq_sweep filters its split-K candidates by it too.
bool split_k_blocks_suffice(const kernels::KernelVariant& v, const LinearShape& s);

}  // namespace sq
