// The parameter blocks src/ hands to a kernel, GPU or host reference. Nothing here is public ABI.
// CUDA-free on purpose (only <cstdint>): the host reference kernels include it and nothing of CUDA.
#pragma once

#include <cstdint>

namespace sq {
namespace kernels {

// Floating-point element types; the values equal the public SQ_DTYPE_* values.
enum class Dtype : int32_t { F16 = 3, BF16 = 4, F32 = 5, F64 = 6 };

// One W8A8 linear: out[m,n] per the numerics contract in smoothquant.h.
// GPU kernels: device pointers. Sizes are validated by src/.
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
  // Launch as a programmatic dependent of the kernel before it on the stream (set by src/'s launch
  // plan, only for a variant that honours it): the kernel may start early and executes
  // griddepcontrol.wait before it reads act, row_scale, weight_scale or bias or writes anything.
  bool programmatic;
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
  // Dynamic only: CTAs per row (0 or 1: one CTA per row; 2..kQuantizeMaxRowSplits: each row in even
  // shares over one thread-block cluster, sm_90 image only). The static quantizer takes one CTA per row.
  int32_t row_splits;
  // Dynamic only (sm_90 image only): launch as a programmatic dependent of the kernel before it on the
  // stream; the kernel executes griddepcontrol.wait before it reads or writes any global memory.
  bool overlap_previous;
};

}  // namespace kernels
}  // namespace sq
