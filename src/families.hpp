// What each kernel family provides to the plan logic. The M-bucket dispatch tables live in
// src/dispatch_<family>.cpp; the kernels themselves in kernels/<family>.cu.
#pragma once

#include <cstdint>

#include "kernel_api.hpp"

namespace sq {

// The shape facts a dispatch decision may use.
struct LinearShape {
  int64_t m, n, k;
  int32_t num_sms;
  int32_t sm;      // compute capability * 10 of the plan's device (e.g. 90)
  bool aligned16;  // k % 16 == 0, act/weight bases 16-byte aligned, ld_act/ld_weight % 16 == 0
  int32_t out_bytes;  // bytes of one output element (2: f16/bf16, 4: f32, 8: f64)
};

// Small-M (decode) kernels, used by both GPU families: kernels/decode_mma.cu, chosen by
// src/dispatch_decode.cpp. decode_choose returns nullptr when no decode kernel takes the shape.
cudaError_t decode_prepare();
const kernels::KernelVariant* decode_choose(const LinearShape& s);
// Whether the decode kernel chosen for s, following the dynamic quantizer on the stream, should be
// launched as its programmatic dependent (start early, wait in the kernel): LinearParams::programmatic.
bool decode_overlap_quantizer(const LinearShape& s);
// Whether the static plan's linear kernel for s should be launched as a programmatic dependent of
// whatever precedes it on the stream (LinearParams::programmatic): on sm_90 devices, where the
// decode kernels' sm_90 image and the Hopper wgmma kernels honour it; the portable ones ignore it.
bool linear_overlap_previous(const LinearShape& s);

// Portable family (mma.sync, sm_80+): src/dispatch_sm80.cpp.
cudaError_t sm80_prepare();  // once per plan at select, on the plan's device
const kernels::KernelVariant& sm80_choose(const LinearShape& s);

// Hopper family (wgmma + TMA, sm_90a): src/dispatch_sm90.cpp. May return sm80 variants for
// shapes its kernels do not take (unaligned).
cudaError_t sm90_prepare();
const kernels::KernelVariant& sm90_choose(const LinearShape& s);
// Whether a split-K cluster of `split` CTAs gives each CTA enough K blocks for the dispatch to
// consider it (a split of one always does); bench/sq_sweep filters its split-K candidates by it too.
bool split_k_blocks_suffice(const LinearShape& s, int32_t split);

// Activation quantization: kernels/quantize.cu (GPU) and src/host_quantize.cpp (host).
namespace kernels {
cudaError_t quantize_prepare();
cudaError_t launch_quantize(const QuantizeParams& p, int32_t num_sms, cudaStream_t stream);
}  // namespace kernels
void host_quantize(const kernels::QuantizeParams& p, unsigned threads);

// Host reference linear: src/host_linear.cpp. Host pointers; synchronous.
void host_linear(const kernels::LinearParams& p, unsigned threads);

}  // namespace sq
