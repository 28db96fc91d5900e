// The contract between the plan logic (src/) and the CUDA kernels (kernels/).
// src/ validates and dispatches; kernels/ only compute. Nothing here is public ABI.
#pragma once

#include <cstdint>
#include <cuda_runtime_api.h>

namespace sq {
namespace kernels {

// Floating-point element types; the values equal the public SQ_DTYPE_* values.
enum class Dtype : int32_t { F16 = 3, BF16 = 4, F32 = 5, F64 = 6 };

// One W8A8 linear: out[m,n] per the numerics contract in smoothquant.h.
// All pointers are device pointers; all sizes are already validated by src/.
struct LinearParams {
  int32_t m, n, k;
  const int8_t* act;     // [m, k], row stride ld_act (elements == bytes)
  int64_t ld_act;
  const int8_t* weight;  // [n, k], row stride ld_weight
  int64_t ld_weight;
  const void* weight_scale;  // [n] of T
  const void* bias;          // [n] of T, or nullptr
  // Row (activation) scale: when row_scale != nullptr the kernel reads row_scale[m] (T);
  // otherwise every row uses the static scale whose T bit pattern is static_scale_bits
  // (low 16 bits for F16/BF16, low 32 for F32, all 64 for F64).
  const void* row_scale;
  uint64_t static_scale_bits;
  // Fused scratch fill: when non-null, the kernel writes the static scale (as T) into
  // row_scale_out[0..m); each element is written exactly once (by one CTA).
  void* row_scale_out;
  void* out;  // [m, n] of T, row stride ld_out
  int64_t ld_out;
  Dtype dtype;  // T
  // Set by src/ (src/dispatch_decode.cpp: decode_overlap_quantizer after the dynamic quantizer,
  // linear_overlap_previous in the static plan) when this linear should start as a programmatic
  // dependent of the kernel before it on the stream: a kernel that supports programmatic dependent
  // launch (the decode kernels' sm_90 image, the Hopper wgmma kernels) is then launched to start
  // early, may prefetch weight bytes to L2 (the decode kernels), and executes griddepcontrol.wait
  // before it reads act, row_scale, weight_scale or bias or writes anything; the split-K kernels
  // also let the kernel after them start as their CTAs finish (griddepcontrol.launch_dependents).
  // Other kernels ignore it.
  bool programmatic;
};

// A compiled kernel configuration. src/ chooses one per run (M bucket, alignment).
struct KernelVariant {
  const char* name;      // stable, e.g. "sm80_mma_128x128x64_s4"
  int32_t min_sm;        // 80 or 90 (compute capability * 10)
  bool needs_aligned16;  // requires k % 16 == 0, act/weight base 16-byte aligned, ld_act/ld_weight % 16 == 0
  // Per-device setup done once at plan select (cudaFuncSetAttribute etc.); current device is the plan's.
  cudaError_t (*prepare)();
  // Enqueue on `stream`; no allocation, no synchronization. num_sms of the device.
  cudaError_t (*launch)(const LinearParams& p, int32_t num_sms, cudaStream_t stream);
};

// Activation quantization (static per-tensor or dynamic per-token), per smoothquant.h.
struct QuantizeParams {
  int32_t m, k;
  const void* x;  // [m, k] of x_dtype, row stride ld_x
  int64_t ld_x;
  Dtype x_dtype;
  const void* smooth;  // [k] of smooth_dtype, or nullptr
  Dtype smooth_dtype;
  bool dynamic;
  // static: (C)act_scale bit pattern, C = f64 for F64 x else f32 (low 32 bits)
  uint64_t static_scale_bits;
  void* scale_out;  // dynamic: [m] of scale_dtype
  Dtype scale_dtype;
  int8_t* q;  // [m, k], row stride ld_q
  int64_t ld_q;
  // Dynamic only: CTAs per row, chosen by src/ (0 or 1: one CTA per row). Values 2..8 split each row
  // into that many even shares, one thread-block cluster per row; only for a device that runs the
  // quantizer's sm_90 image (clusters). The static quantizer always uses one CTA per row.
  int32_t row_splits;
  // Dynamic only, set by src/ only where the quantizer's sm_90 image runs: launch the quantizer as a
  // programmatic dependent of the kernel before it on the stream (it may start as that kernel
  // drains); the kernel executes griddepcontrol.wait before it reads or writes any global memory.
  bool overlap_previous;
};

}  // namespace kernels
}  // namespace sq
