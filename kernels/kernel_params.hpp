// The parameter blocks src/ hands to a kernel, GPU or host reference. Nothing here is public ABI.
// CUDA-free on purpose (only <cstdint>): the host reference kernels include it and nothing of CUDA.
#pragma once

#include <cstdint>

namespace sq {
namespace kernels {

// Element types; the values equal the public SQ_DTYPE_* values. The float types are the epilogue's T;
// S8/U8 are the GEMM operand and q types; S32 is the accumulator-only output (and SCALE_ACCUMULATORS'
// input).
enum class Dtype : int32_t { S8 = 1, S32 = 2, F16 = 3, BF16 = 4, F32 = 5, F64 = 6, U8 = 7 };

// One W8A8 linear: out[m,n] per the numerics contract in smoothquant.h.
// GPU kernels: device pointers. Sizes are validated by src/.
struct LinearParams {
  int32_t m, n, k;
  // The operands' bytes: act [m, k] of act_type, weight [n, k] of weight_type (S8 or U8; only the MMA
  // interprets them), row strides in elements (== bytes).
  const int8_t* act;
  int64_t ld_act;
  const int8_t* weight;
  int64_t ld_weight;
  Dtype act_type;      // S8 or U8: the MMA's operand types (the kernels are instantiated per pair)
  Dtype weight_type;   // S8 or U8
  const void* weight_scale;  // [n] of T (nullptr for S32 output)
  const void* bias;          // [n] of T, or nullptr
  // Row (activation) scale: when row_scale != nullptr the kernel reads row_scale[m] (T), or
  // row_scale[0] for every row when row_scale_per_tensor; otherwise every row uses the static scale
  // whose T bit pattern is static_scale_bits (low 16 bits for F16/BF16, low 32 for F32, all 64 for F64).
  const void* row_scale;
  bool row_scale_per_tensor;
  uint64_t static_scale_bits;
  // Fused scratch fill: when non-null, the kernel writes the static scale (as T) into
  // row_scale_out[0..m); each element is written exactly once (by one CTA).
  void* row_scale_out;
  // Zero points (the contract's za, zw). When zero_points is false the kernel reads none of the four
  // arrays below and acc is sum_k a*w. When true, after the exact int32 sum the epilogue computes, in
  // integer arithmetic modulo 2^32:
  //   acc = acc - zw[n] * (act_sums[m] - k * za[m]) - za[m] * weight_sums[n]
  // za[m] = act_zp ? act_zp[m] (one element of act_type) : act_zp_value; zw[n] = weight_zp ? weight_zp[n]
  // (one element of weight_type) : 0. src/ guarantees: act_sums != nullptr when weight_zp != nullptr;
  // weight_sums != nullptr when act_zp != nullptr or act_zp_value != 0.
  bool zero_points;
  const void* act_zp;          // [m] of act_type, or nullptr
  int32_t act_zp_value;        // the per-tensor za when act_zp is nullptr
  const int32_t* act_sums;     // [m]: sum_k act[m,k] (raw values), or nullptr
  const void* weight_zp;       // [n] of weight_type, or nullptr
  const int32_t* weight_sums;  // [n]: sum_k weight[n,k] (raw values), or nullptr
  void* out;  // [m, n] of T (or int32 for Dtype::S32), row stride ld_out
  int64_t ld_out;
  // T, or S32: out = acc (after the zero-point terms), no scale, no bias, no scratch fill. The GPU
  // kernels run S32 in their F32 instantiation and store the int32 bits.
  Dtype dtype;
  // Launch as a programmatic dependent of the kernel before it on the stream (set by src/'s launch
  // plan, only for a variant that honours it): the kernel may start early and executes
  // griddepcontrol.wait before it reads act, row_scale, weight_scale or bias or writes anything, and
  // before it reads act_zp, act_sums, weight_zp or weight_sums (a fused quantizer just before it may
  // have written the per-token zero points and row sums; SCALED_LINEAR's launch is programmatic).
  bool programmatic;
};

// How a quantizer finds its scales (the contract's quant modes).
enum class QuantMode : int32_t {
  kStatic,            // q = sat(rne(v / static scale) + static_zp)
  kDynamic,           // symmetric per token: scale = amax / 127
  kDynamicAsym,       // per token min/max: scale and zero point
  kAbsmax,            // writes absmax[m] only
  kFromAbsmax,        // kDynamic with amax = absmax[m] (given)
};

// What produces the row v[0..k) the quantizer quantizes.
enum class Producer : int32_t {
  kPlain,    // v = x (/ smooth)
  kRmsNorm,  // h = x (+ residual) [-> residual_out], v = (h * r) * norm_weight (/ smooth)
  kSiluMul,  // v = silu(x[:, c]) * x[:, k + c] (/ smooth)
};

// Activation quantization of m rows of k values, per smoothquant.h.
struct QuantizeParams {
  int32_t m, k;
  Producer producer;
  QuantMode mode;
  const void* x;  // [m, k] of x_dtype (kSiluMul: [m, 2k]: gate then up), row stride ld_x
  int64_t ld_x;
  Dtype x_dtype;  // F16, BF16, F32, F64 (F64 only with kPlain); C = F64 for F64, else F32
  // kRmsNorm only: residual [m, k] of x_dtype or nullptr; residual_out [m, k] of x_dtype or nullptr
  // (may equal residual or x exactly: v always uses the f32 h, never residual_out's rounded copy, so a
  // kernel writes residual_out[k] only after its last read of x[k] and residual[k]); norm_weight [k] of
  // x_dtype.
  const void* residual;
  int64_t ld_residual;
  void* residual_out;
  int64_t ld_residual_out;
  const void* norm_weight;
  float eps;  // (float)desc.eps, > 0
  const void* smooth;  // [k] of smooth_dtype, or nullptr
  Dtype smooth_dtype;
  // kStatic: (C)act_scale bit pattern (low 32 bits for C = f32) and the zero point (in q_type's range).
  uint64_t static_scale_bits;
  int32_t static_zp;
  void* scale_out;  // kDynamic, kDynamicAsym, kFromAbsmax: [m] of scale_dtype
  Dtype scale_dtype;
  void* zp_out;     // kDynamicAsym: [m] of q_type
  void* absmax;     // kAbsmax: written, kFromAbsmax: read; [m] of C
  int32_t* sums_out;  // [m] sum_k q[m,k], or nullptr (every mode that writes q)
  int8_t* q;        // [m, k] of q_type (its bytes), row stride ld_q (nullptr for kAbsmax)
  int64_t ld_q;
  Dtype q_type;     // S8 or U8
  // CTAs per row (0 or 1: one CTA per row; 2..kQuantizeMaxRowSplits: each row in even shares over one
  // thread-block cluster, sm_90 image only). Set by src/'s launch plan.
  int32_t row_splits;
  // sm_90 image only: launch as a programmatic dependent of the kernel before it on the stream; the
  // kernel executes griddepcontrol.wait before it reads or writes any global memory.
  bool overlap_previous;
};

// The activation row sums a linear with weight zero points needs when the caller gave none
// (the pre-pass): sums[r] = sum_k a[r, k] for r < m.
struct RowSumsParams {
  int32_t m, k;
  const int8_t* a;  // [m, k] of a_type (its bytes), row stride ld_a
  int64_t ld_a;
  Dtype a_type;   // S8 or U8
  int32_t* sums;  // [m]
  // Set by the launch plan (sm_90 image): launch as a programmatic dependent of the kernel before it;
  // the kernel executes griddepcontrol.wait before it reads or writes any global memory.
  bool programmatic;
};

// SQ_OP_SCALE_ACCUMULATORS: out[m,n] = the linears' epilogue on acc[m,n].
struct ScaleAccumulatorsParams {
  int32_t m, n;
  const int32_t* acc;  // [m, n], row stride ld_acc
  int64_t ld_acc;
  const void* row_scale;      // [m] of T, or [1] with row_scale_per_tensor
  bool row_scale_per_tensor;
  const void* weight_scale;   // [n] of T
  const void* bias;           // [n] of T, or nullptr
  void* out;                  // [m, n] of T, row stride ld_out
  int64_t ld_out;
  Dtype dtype;                // T
  // Set by the launch plan (sm_90 image): launch as a programmatic dependent of the kernel before it;
  // the kernel executes griddepcontrol.wait before it reads or writes any global memory.
  bool programmatic;
};

// The staging copy (kernels/stage_rows.cu) [D-stage-unaligned]: rows of k bytes at any address and row
// stride, copied into rows that the 16-byte loads take (16-byte aligned base, a stride of
// kStageStrideAlign bytes), with zeros in the columns [k, k_pad): a linear over k_pad columns of the copies
// sums the same integers (no zero points: with them the zero columns would add terms).
struct StageMatrix {
  const int8_t* src;  // [rows, k], row stride ld_src bytes
  int64_t ld_src;
  int8_t* dst;        // [rows, ld_dst]: columns [0, k_pad) written
  int64_t ld_dst;
  int32_t rows;       // 0: no matrix
};
struct StageParams {
  StageMatrix matrix[2];  // the weight, then the activations
  int32_t k;
  int32_t k_pad;          // k rounded up to kStageColAlign
  // Set by the launch plan (sm_90 image): launch as a programmatic dependent of the kernel before it;
  // the kernel executes griddepcontrol.wait before it reads or writes any global memory.
  bool programmatic;
};
// The staged rows' columns (k_pad) and stride: a multiple of 16 bytes is what the 16-byte loads need; a
// stride of whole 128-byte lines keeps each 128-byte row of a TMA box in one line [D-stage-unaligned].
constexpr int32_t kStageColAlign = 16;
constexpr int32_t kStageStrideAlign = 128;

// Operand alignments in bytes: what a run's act and weight meet (K, both bases and ld_act/ld_weight are
// multiples of it; src/plan/validate.cpp) and what a variant's loads need (KernelVariant::min_align).
constexpr int32_t kOperandAlign16 = 16;  // 16-byte vector loads, cp.async and TMA
constexpr int32_t kOperandAlign8 = 8;    // 8-byte vector loads: the decode "_a8" variants [D-decode-align8]
constexpr int32_t kOperandAlign1 = 1;    // byte-granular loads: the generic sm80 kernel takes any operands
// Out rows whose base and ld_out * element size are multiples of this take the epilogues' 16-byte vector
// stores (a run's LinearShape::out_aligned; src/plan/validate.cpp and the launch plan's packed runs).
constexpr int32_t kOutRowAlign = 16;

}  // namespace kernels
}  // namespace sq
