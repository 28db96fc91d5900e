/*
 * libsmoothquant: SmoothQuant W8A8 linear layers, bit-stable on every kernel.
 *
 * This is the whole public C ABI. It compiles as C99 and as C++, needs no CUDA
 * header, and every symbol it declares starts with `sq_` (macros with `SQ_`).
 *
 * ============================== NUMERICS CONTRACT ==============================
 * Every kernel (the host reference kernel and every GPU kernel) produces exactly
 * these bits, for every M (a row's result never depends on the other rows, on M or
 * on the kernel the plan picks); any consumer may check any kernel against this
 * text. "RNE" is IEEE round-to-nearest-even; no operation is fused (no FMA).
 * C, the compute type, is f64 for f64 data and f32 otherwise.
 *
 * ---- The linears: SQ_OP_SMOOTHQUANT_LINEAR, SQ_OP_QUANTIZED_LINEAR, SQ_OP_SCALED_LINEAR
 * For 0 <= m < M, 0 <= n < N (ONNX MatMulInteger's formula, then the epilogue):
 *   acc[m,n] = sum_k (a[m,k] - za[m]) * (w[n,k] - zw[n])          exact int32
 *     a  = the quantized activation [M,K] (S8 or U8), row-major
 *     w  = weight [N,K] (S8 or U8; the nn.Linear.weight layout)
 *     za = the activation zero point of row m: desc.act_zero_point (SMOOTHQUANT_LINEAR),
 *          the quantizer's (QUANTIZED_LINEAR, SQ_QUANT_DYNAMIC_ASYMMETRIC), or
 *          args->act_zero_point[m] (SCALED_LINEAR with SQ_PLAN_ACT_ZERO_POINT); else 0
 *     zw = args->weight_zero_point[n] (plans with SQ_PLAN_WEIGHT_ZERO_POINT), else 0
 *   The sum is exact for K <= the plan's max_k (sq_plan_precision_guarantee):
 *     max_k = min(SQ_MAX_K, floor((2^31 - 1) / (A * W))), A = 128 for an S8 activation that
 *     has no zero point, else 255; W = 128 for an S8 weight in a plan without
 *     SQ_PLAN_WEIGHT_ZERO_POINT, else 255. (S8 x S8: 131071; with zero points or U8 on
 *     both sides: 33025.) sq_plan_select rejects a larger K.
 *   How it is computed (the result is the formula's, bit for bit): the kernels accumulate
 *   sum_k a*w on the tensor cores and subtract zw[n] * (Sa[m] - K*za[m]) + za[m] * Sw[n]
 *   in the epilogue (integer arithmetic modulo 2^32), with Sa[m] = sum_k a[m,k] and
 *   Sw[n] = sum_k w[n,k]. Sw comes from the caller (args->weight_sums, computed once
 *   per weight by sq_weight_sums); Sa from args->act_sums when given, else from the
 *   library's quantizer (QUANTIZED_LINEAR) or a pre-pass into the workspace. With sums
 *   that are not the true ones the result is unspecified (host and GPU still agree).
 *   rs[m], the row (activation) scale in T:
 *     SMOOTHQUANT_LINEAR: (T)desc.act_scale (one RNE), also written to act_scale_scratch[m]
 *     QUANTIZED_LINEAR:   the per-token scale of its quantizer, written to act_scale_scratch[m]
 *     SCALED_LINEAR:      args->act_scale[m], or args->act_scale[0] for every row with
 *                         SQ_PLAN_PER_TENSOR_ACT_SCALE (read from memory when the run executes)
 *   The epilogue, ws = weight_scale[n], b = bias[n]:
 *   T = f32 or f64:  y = ((T)acc * rs) * ws;  out = bias ? y + b : y;
 *                    each operation RNE in T, in exactly that order.
 *   T = f16 or bf16: y = ((float)acc * (float)rs) * (float)ws;
 *                    out = (T)(bias ? y + (float)b : y);  each f32 operation RNE, then one
 *                    RNE rounding to T.  ((T)int32 and (float)int32 are RNE conversions.)
 *   out_dtype = S32 (SMOOTHQUANT_LINEAR only, "accumulator only"): out[m,n] = acc[m,n];
 *   no scale, no bias, nothing written to act_scale_scratch.
 *
 * ---- SQ_OP_SCALE_ACCUMULATORS: out[m,n] = the epilogue above applied to acc[m,n] =
 *   args->act (int32 [M,N]) with rs[m] as SCALED_LINEAR. So SMOOTHQUANT_LINEAR with S32 out
 *   on K-slices, an integer sum of the slices (exact, in any order), then SCALE_ACCUMULATORS
 *   equals SCALED_LINEAR on the whole K bit for bit (tensor parallelism).
 *
 * ---- The quantizers: SQ_OP_QUANTIZE_STATIC, SQ_OP_QUANTIZE_DYNAMIC, the first half of
 * SQ_OP_QUANTIZED_LINEAR, and the last step of SQ_OP_RMSNORM_QUANTIZE and
 * SQ_OP_SILU_MUL_QUANTIZE. Each takes one row v[0..K) of C values:
 *   QUANTIZE_*, QUANTIZED_LINEAR: v[k] = smooth ? (C)x[m,k] / (C)smooth[k] : (C)x[m,k]
 *   RMSNORM_QUANTIZE, SILU_MUL_QUANTIZE: v[k] as written below (C = f32)
 * q's dtype Q is S8 (range [qmin, qmax] = [-128, 127]) or U8 ([0, 255]); sat_Q clamps to
 * that range; rne(t) rounds t to an integer, half to even; in every mode a NaN v[k] gives
 * q = za (the row's zero point, 0 when none). S = the scale dtype
 * (scale_dtype; T for QUANTIZED_LINEAR). Per quant_mode:
 *   SQ_QUANT_STATIC: q[m,k] = sat_Q(rne(v[k] / (C)act_scale) + (C)za), za = desc.act_zero_point
 *     (0 by default); a NaN v gives za, +Inf gives qmax, -Inf gives qmin.
 *   SQ_QUANT_DYNAMIC (symmetric per token, Q = S8):
 *     amax     = max_k |v[k]|                        (NaN if any v[k] is NaN)
 *     scale[m] = (S)(amax / (C)127)                  stored, then used as (C)scale[m]
 *     q[m,k]   = scale[m] is finite and > 0 ? sat_Q(rne(v[k] / (C)scale[m])) : 0
 *     So a row of zeros (or -0) gives scale +0 and q 0; a row holding a NaN gives
 *     scale = the canonical quiet NaN of S (positive, only the top mantissa bit set:
 *     f32 0x7fc00000, f64 0x7ff8000000000000, f16 0x7e00, bf16 0x7fc0) and q 0; a row
 *     holding +-Inf (and no NaN) gives scale +Inf and q 0; a scale that underflows to 0
 *     or overflows to +Inf in S gives q 0. Through a linear such rows produce NaN
 *     outputs (0 * NaN, 0 * Inf; the NaN payload is not specified).
 *   SQ_QUANT_DYNAMIC_ASYMMETRIC (ONNX DynamicQuantizeLinear, per token; Q = U8 or S8):
 *     lo = min(0, min_k v[k]), hi = max(0, max_k v[k])   (a NaN row: as DYNAMIC's)
 *     scale[m] = (S)((hi - lo) / (C)(qmax - qmin))      stored, then used as (C)scale[m]
 *     scale[m] finite and > 0:  za[m] = sat_Q(rne((C)qmin - lo / (C)scale[m]))
 *                               q[m,k] = sat_Q(rne(v[k] / (C)scale[m]) + (C)za[m])
 *     otherwise (zero, NaN and Inf rows, with the scales DYNAMIC gives them): za[m] = 0, q = 0.
 *     za[m] is written to args->act_zero_point[m] (dtype Q).
 *   SQ_QUANT_ABSMAX: absmax[m] = amax as DYNAMIC computes it (in C: +0 for a zero row, the
 *     canonical quiet NaN of C for a row holding a NaN); nothing else is written (out,
 *     act_scale_scratch NULL).
 *   SQ_QUANT_FROM_ABSMAX: DYNAMIC with amax = args->absmax[m] (C) given by the caller, used as
 *     it is: a NaN of any sign or payload gives the canonical NaN scale, and any value whose
 *     scale is not finite and > 0 (+Inf, +-0, negative) gives q 0 with the scale computed.
 *     ABSMAX on each of R slices of a row's K (QUANTIZE_DYNAMIC, SILU_MUL_QUANTIZE; not
 *     RMSNORM_QUANTIZE, whose r needs the whole row), a NaN-propagating element-wise max of the
 *     R results (e.g. an unsigned integer max of the bit patterns: amax is never negative),
 *     then FROM_ABSMAX on each slice gives the scales and q that DYNAMIC gives on the whole
 *     row: how tensor-parallel ranks agree on the per-token scale. (The total K of summed
 *     S32 partials must stay within the plans' max_k.)
 *   act_sums[m] = sum_k q[m,k] (int32, modulo 2^32), written when args->act_sums != NULL by
 *   every mode that writes q.
 *
 * ---- SQ_OP_RMSNORM_QUANTIZE (x, residual, norm_weight of act_dtype D in {F16, BF16, F32}):
 *   h[k]  = residual ? (float)x[m,k] + (float)residual[m,k] : (float)x[m,k]     (f32, RNE)
 *   residual_out[m,k] = (D)h[k] when args->residual_out != NULL (RNE)
 *   ss    = sum of h[k] * h[k] (f32) in this fixed order, for any M, K and GPU: 2048 lane
 *           sums p[j] = sum over i = 0, 1, ... of h[j + 2048 i] * h[j + 2048 i], added in
 *           increasing i starting from +0 (p[j] = +0 when j >= K); then for s = 1024, 512,
 *           ..., 1: p[j] = p[j] + p[j + s] for 0 <= j < s; ss = p[0].
 *   r     = 1.0f / sqrt(ss / (float)K + (float)eps)   (division, addition, IEEE square
 *           root, division: each correctly rounded f32 RNE)
 *   v[k]  = (h[k] * r) * (float)norm_weight[k], then / (float)smooth[k] when smooth != NULL
 *   then the quantizer of quant_mode on v.
 * ---- SQ_OP_SILU_MUL_QUANTIZE (x = [M, 2K] of D in {F16, BF16, F32}: gate then up):
 *   g = (float)x[m,k], u = (float)x[m,K+k]
 *   v[k] = (g / (1.0f + sq_exp(-g))) * u, then / (float)smooth[k] when smooth != NULL
 *   (as written: g = -Inf gives NaN; g below about -88.7 gives -0 * u)
 *   then the quantizer of quant_mode on v.
 *   sq_exp(t), f32 (not a GPU intrinsic: the same operations on host and GPU; within 2 ulp
 *   of exp): NaN -> NaN; t > 88.72283935546875 -> +Inf; t < -103.972084045410156 -> +0;
 *   else n = rne(t * 0x1.715476p+0f) (an integer-valued float), r = (t - n * 0x1.62e4p-1f)
 *   - n * 0x1.7f7d1cp-20f; p = c7, then for j = 6 down to 0: p = p * r + c_j (a multiply,
 *   then an add), c_j = (float)(1 / j!); the result is (p * 2^a) * 2^b, a = trunc(n / 2),
 *   b = n - a. Every step is one f32 RNE operation.
 *
 * Offline helpers (host only) document their formulas at their declarations.
 * ==============================================================================
 *
 * Errors: every function returns an sq_status; none throws, aborts or prints.
 * When a call fails, sq_last_error_message() (thread-local) says what was wrong
 * and with which value, and nothing the caller owns has been written.
 *
 * Threads: a plan is immutable once selected. Any number of threads may run one
 * plan at once (each with its own stream and buffers); select and destroy may be
 * called from any thread (destroying a plan while another thread runs it is a
 * caller bug).
 *
 * Growth: every public struct starts with `uint32_t struct_size`, which the
 * caller sets to sizeof(the struct it was compiled with). A size smaller than the
 * first published layout (SQ_*_SIZE_0_1 below) is rejected
 * (SQ_STATUS_INVALID_STRUCT_SIZE); fields past the caller's size read as zero (a size
 * between two layouts must end at a field boundary, a multiple of 8). A
 * size larger than this library knows, up to SQ_MAX_STRUCT_SIZE, is accepted only
 * when the unknown tail bytes are all zero (input structs); output structs are
 * filled up to the smaller of the two sizes, the rest zeroed. A size above
 * SQ_MAX_STRUCT_SIZE is rejected.
 */
#ifndef SMOOTHQUANT_SMOOTHQUANT_H
#define SMOOTHQUANT_SMOOTHQUANT_H

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- export */
#if defined(_WIN32)
#  if defined(SQ_BUILDING_LIBRARY)
#    define SQ_API __declspec(dllexport)
#  else
#    define SQ_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__)
#  define SQ_API __attribute__((visibility("default")))
#else
#  define SQ_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* --------------------------------------------------------------- version */
#define SQ_VERSION_MAJOR 0
#define SQ_VERSION_MINOR 2
#define SQ_VERSION_PATCH 0
/** MAJOR * 10000 + MINOR * 100 + PATCH. */
#define SQ_VERSION_NUMBER (SQ_VERSION_MAJOR * 10000 + SQ_VERSION_MINOR * 100 + SQ_VERSION_PATCH)

/** The version of the loaded library, as SQ_VERSION_NUMBER computes it. */
SQ_API uint32_t sq_version(void);
/** The version of the loaded library as "MAJOR.MINOR.PATCH" (static storage). */
SQ_API const char* sq_version_string(void);

/* ---------------------------------------------------------------- status */
/** Result of every call. Values are fixed forever; new ones are appended. */
typedef int32_t sq_status;
enum {
  SQ_STATUS_SUCCESS = 0,                /**< the call did what it says */
  SQ_STATUS_INVALID_ARGUMENT = 1,       /**< a null pointer, a size or value out of range */
  SQ_STATUS_INVALID_STRUCT_SIZE = 2,    /**< struct_size too small or too large, or unknown fields set */
  SQ_STATUS_INVALID_HANDLE = 3,         /**< a plan that is destroyed, null or not from this library */
  SQ_STATUS_NOT_SUPPORTED = 4,          /**< valid, but this op/dtype/GPU combination is not implemented */
  SQ_STATUS_NO_DEVICE = 5,              /**< a GPU preference, but no usable CUDA GPU/driver */
  SQ_STATUS_WRONG_DEVICE = 6,           /**< stream or pointer on another device than the plan's */
  SQ_STATUS_MISALIGNED = 7,             /**< a pointer not aligned to its element size (or 16 bytes where said) */
  SQ_STATUS_WRONG_MEMORY_SPACE = 8,     /**< a host pointer given to a GPU plan, or a device pointer to the host plan */
  SQ_STATUS_INSUFFICIENT_WORKSPACE = 9, /**< workspace null or smaller than sq_plan_workspace_size */
  SQ_STATUS_CUDA_ERROR = 10,            /**< the CUDA runtime reported an error (message has its name) */
  SQ_STATUS_OUT_OF_MEMORY = 11,         /**< a host allocation failed */
  SQ_STATUS_INTERNAL_ERROR = 12         /**< a bug in this library, or a host thread that could not start */
};

/** A static, never-null English name for a status ("SQ_STATUS_SUCCESS", ...). */
SQ_API const char* sq_status_string(sq_status status);

/**
 * The message of the last failed call on this thread: what was wrong and with
 * which value. Empty string ("") after a successful call of a function that returns
 * sq_status. Never null; valid until the next sq_* call on this thread.
 */
SQ_API const char* sq_last_error_message(void);

/* ---------------------------------------------------------------- dtypes */
typedef int32_t sq_dtype;
enum {
  SQ_DTYPE_INVALID = 0,
  SQ_DTYPE_S8 = 1,   /**< int8_t */
  SQ_DTYPE_S32 = 2,  /**< int32_t (accumulators: SMOOTHQUANT_LINEAR out, SCALE_ACCUMULATORS in) */
  SQ_DTYPE_F16 = 3,  /**< IEEE binary16 */
  SQ_DTYPE_BF16 = 4, /**< bfloat16 */
  SQ_DTYPE_F32 = 5,  /**< IEEE binary32 */
  SQ_DTYPE_F64 = 6,  /**< IEEE binary64 */
  SQ_DTYPE_U8 = 7    /**< uint8_t (since 0.2) */
};

/* ------------------------------------------------------------ operations */
/*
 * Every op's formula is in the NUMERICS CONTRACT above. In each list below, "desc" names
 * the descriptor fields the op reads (the rest must be 0 unless said), "run" the
 * sq_run_args fields (the rest must be NULL/0). T = scale_dtype = out_dtype of a linear.
 */
typedef int32_t sq_op;
enum {
  /** W8A8 linear with a static per-tensor activation scale.
   *  desc: act_dtype S8/U8, weight_dtype S8/U8, scale_dtype = out_dtype = T in {F32, F64, F16,
   *  BF16}, act_scale > 0 finite, act_zero_point (in act_dtype's range); or out_dtype = S32 and
   *  scale_dtype = 0 (accumulator only; act_scale ignored). flags: SQ_PLAN_WEIGHT_ZERO_POINT.
   *  run: act, weight, weight_scale, act_scale_scratch (receives (T)act_scale), out; bias,
   *  weight_zero_point, act_sums optional; weight_sums when act_zero_point != 0.
   *  Accumulator only: act, weight, out (int32); weight_zero_point, act_sums, weight_sums as above. */
  SQ_OP_SMOOTHQUANT_LINEAR = 1,
  /** Floating-point x [M,K] -> per-token quantization (into the workspace) -> the linear.
   *  desc: act_dtype in {F32, F64, F16, BF16} (x), weight_dtype S8/U8, scale_dtype = out_dtype = T,
   *  quant_mode SQ_QUANT_DYNAMIC (default) or SQ_QUANT_DYNAMIC_ASYMMETRIC, quant_dtype = Q
   *  (S8 by default; U8 only with ASYMMETRIC). flags: SQ_PLAN_WEIGHT_ZERO_POINT.
   *  run: act = x, weight, weight_scale, act_scale_scratch (receives the per-token scales), out;
   *  bias, smooth ([K] of T), weight_zero_point optional; weight_sums with ASYMMETRIC;
   *  workspace required (the quantizer's q, za and row sums stay in it: args->act_zero_point
   *  and args->act_sums must be NULL). */
  SQ_OP_QUANTIZED_LINEAR = 2,
  /** x [M,K] -> q [M,K], static per-tensor act_scale (desc), optional fused smoothing.
   *  desc: act_dtype = x's dtype in {F32, F64, F16, BF16}, out_dtype = Q (S8 or U8), act_scale,
   *  act_zero_point (in Q's range), scale_dtype = dtype of smooth (any float dtype; 0 allowed when
   *  smooth is never given), n = 0. run: act = x, out = q; smooth, act_sums optional. */
  SQ_OP_QUANTIZE_STATIC = 3,
  /** x [M,K] -> q [M,K] and per-token scales [M], optional fused smoothing.
   *  desc: act_dtype in {F32, F64, F16, BF16}, out_dtype = Q, scale_dtype = S (scales and
   *  smooth) in {F32, F64, F16, BF16}, quant_mode SQ_QUANT_DYNAMIC (default; Q = S8),
   *  SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_QUANT_ABSMAX or SQ_QUANT_FROM_ABSMAX (Q = S8), n = 0.
   *  run: act = x, out = q, act_scale_scratch = scale; act_zero_point = za (ASYMMETRIC);
   *  absmax (ABSMAX: the only output, out and act_scale_scratch NULL; FROM_ABSMAX: input);
   *  smooth, act_sums optional. */
  SQ_OP_QUANTIZE_DYNAMIC = 4,
  /** (since 0.2) W8A8 linear with the caller's activation scales: per token, or one per-tensor
   *  value read from device memory when the run executes (a captured graph may change it).
   *  desc: act_dtype S8/U8, weight_dtype S8/U8, scale_dtype = out_dtype = T in {F32, F64, F16,
   *  BF16}; act_scale and act_zero_point 0. flags: SQ_PLAN_PER_TENSOR_ACT_SCALE,
   *  SQ_PLAN_ACT_ZERO_POINT, SQ_PLAN_WEIGHT_ZERO_POINT.
   *  run: act, act_scale ([M] of T, or [1]), weight, weight_scale, out; bias, act_zero_point
   *  ([M] of act_dtype, with SQ_PLAN_ACT_ZERO_POINT; NULL = 0; when given, weight_sums too),
   *  weight_zero_point, act_sums optional. */
  SQ_OP_SCALED_LINEAR = 5,
  /** (since 0.2) h = x (+ residual), RMSNorm, then a quantizer, fused: one pass over x.
   *  desc: act_dtype D in {F16, BF16, F32} (x, residual, residual_out, norm_weight), out_dtype = Q,
   *  scale_dtype = S in {F32, F64, F16, BF16} (scales, smooth), eps (finite, > 0 in f32),
   *  quant_mode (default SQ_QUANT_DYNAMIC; STATIC uses act_scale and act_zero_point).
   *  run: act = x, norm_weight, out = q (ld_out), and the quantizer's outputs as
   *  QUANTIZE_DYNAMIC/STATIC; residual, residual_out, smooth, act_sums optional. residual_out may
   *  be exactly residual or exactly x (same pointer and leading dimension: in place); any other
   *  overlap between residual_out and another array, or a partial overlap of residual and x, is
   *  INVALID_ARGUMENT. */
  SQ_OP_RMSNORM_QUANTIZE = 6,
  /** (since 0.2) y = silu(gate) * up, then a quantizer, fused. act = x [M, 2K]: gate columns
   *  [0, K), up columns [K, 2K) (ld_act >= 2K; 0 = packed 2K; K <= (2^31 - 1) / 2).
   *  desc: act_dtype D in {F16, BF16, F32}, out_dtype = Q, scale_dtype = S, quant_mode as
   *  RMSNORM_QUANTIZE. run: act = x, out = q, the quantizer's outputs; smooth, act_sums optional. */
  SQ_OP_SILU_MUL_QUANTIZE = 7,
  /** (since 0.2) The linears' epilogue on given int32 accumulators [M,N].
   *  desc: act_dtype S32, scale_dtype = out_dtype = T, n = N, k = 0. flags:
   *  SQ_PLAN_PER_TENSOR_ACT_SCALE. run: act (int32 [M,N], ld_act), act_scale, weight_scale, out;
   *  bias optional. */
  SQ_OP_SCALE_ACCUMULATORS = 8
};

/** How a quantizer finds its scales (desc.quant_mode; see the NUMERICS CONTRACT). */
typedef int32_t sq_quant_mode;
enum {
  SQ_QUANT_DEFAULT = 0,             /**< the op's own: STATIC for QUANTIZE_STATIC, else DYNAMIC */
  SQ_QUANT_STATIC = 1,              /**< per tensor: desc.act_scale, desc.act_zero_point */
  SQ_QUANT_DYNAMIC = 2,             /**< per token, symmetric (abs-max / 127), Q = S8 */
  SQ_QUANT_DYNAMIC_ASYMMETRIC = 3,  /**< per token, min/max -> scale and zero point, Q = U8 or S8 */
  SQ_QUANT_ABSMAX = 4,              /**< per token abs-max only (args->absmax), nothing quantized */
  SQ_QUANT_FROM_ABSMAX = 5          /**< per token, symmetric, from the caller's args->absmax */
};

/** desc.flags (since 0.2). */
#define SQ_PLAN_WEIGHT_ZERO_POINT 0x1u   /**< runs may pass args->weight_zero_point (max_k falls) */
#define SQ_PLAN_ACT_ZERO_POINT 0x2u      /**< SCALED_LINEAR: runs pass per-token args->act_zero_point */
#define SQ_PLAN_PER_TENSOR_ACT_SCALE 0x4u /**< SCALED_LINEAR, SCALE_ACCUMULATORS: args->act_scale is [1] */

/* ----------------------------------------------------------- preferences */
/** Which kernel family select may pick. It never silently falls back to another family. */
typedef int32_t sq_preference;
enum {
  /** The fastest GPU kernel family for the stream's device; SQ_STATUS_NO_DEVICE without a GPU. */
  SQ_PREFERENCE_FASTEST = 0,
  /** The host (CPU) reference kernel: host pointers, synchronous, the definition of right. */
  SQ_PREFERENCE_HOST_REFERENCE = 1,
  /** Pin the portable tensor-core family (mma.sync, sm_80 and later). */
  SQ_PREFERENCE_GPU_PORTABLE = 2,
  /** Pin the Hopper family (wgmma + TMA, sm_90); NOT_SUPPORTED on other GPUs. */
  SQ_PREFERENCE_GPU_HOPPER = 3
};

typedef int32_t sq_kernel_family;
enum {
  SQ_KERNEL_FAMILY_HOST = 1,    /**< host reference kernel */
  SQ_KERNEL_FAMILY_SM80 = 2,    /**< mma.sync m16n8k32 (Ampere and later) */
  SQ_KERNEL_FAMILY_SM90 = 3     /**< wgmma + TMA (Hopper sm_90a); uses SM80 kernels for unaligned shapes */
};

/* -------------------------------------------------------------- the plan */
/** Opaque plan handle: immutable after select, freed by sq_plan_destroy. */
typedef struct sq_plan_st* sq_plan;

/** A CUDA stream. A cudaStream_t / CUstream passes as it is; NULL is the default stream. */
typedef struct CUstream_st* sq_stream;

/** Largest K of any plan: 128 * 128 * 131071 < 2^31 (a plan's own limit may be lower: max_k). */
#define SQ_MAX_K 131071
/** Largest struct_size any call accepts (a larger value is garbage, not a future struct). */
#define SQ_MAX_STRUCT_SIZE 4096

/** What a plan computes. Set struct_size = sizeof(sq_plan_desc); zero what you do not use. */
typedef struct sq_plan_desc {
  uint32_t struct_size;  /**< sizeof(sq_plan_desc) */
  sq_op op;              /**< SQ_OP_* */
  sq_dtype act_dtype;    /**< activation dtype: S8/U8 for the quantized linears, else the input dtype */
  sq_dtype weight_dtype; /**< S8 or U8 for the linears; SQ_DTYPE_INVALID (0) otherwise */
  sq_dtype scale_dtype;  /**< T or S: weight_scale, act_scale_scratch, bias and smooth dtype (see each op) */
  sq_dtype out_dtype;    /**< T for the linears (or S32), Q (S8 or U8) for the quantize ops */
  int64_t n;             /**< output features (rows of weight), 1..2^31-1; 0 for the quantize and fused ops */
  int64_t k;             /**< input features, 1..max_k (quantize and fused ops: 1..2^31-1; 0 for SCALE_ACCUMULATORS) */
  int64_t max_m;         /**< largest M any run of this plan will use, 1..2^31-1 */
  double act_scale;      /**< static per-tensor activation scale: finite and > 0 where used, else ignored */
  uint32_t host_threads; /**< host kernel threads: 0 = one per core, 1 = calling thread only, else that many */
  uint32_t reserved;     /**< must be 0 */
  /* ---- since 0.2 (a 0.1 caller's struct ends above: these read as 0) */
  sq_quant_mode quant_mode; /**< SQ_QUANT_*: the quantizer of QUANTIZE_DYNAMIC, QUANTIZED_LINEAR and the fused ops */
  sq_dtype quant_dtype;     /**< Q of QUANTIZED_LINEAR: 0 (= S8), S8 or U8; the quantize and fused ops use out_dtype */
  int32_t act_zero_point;   /**< static za: SMOOTHQUANT_LINEAR (act_dtype's range), STATIC quantizers (Q's range) */
  uint32_t flags;           /**< SQ_PLAN_* */
  double eps;               /**< RMSNORM_QUANTIZE: the epsilon, finite and > 0 (also as f32); else 0 */
} sq_plan_desc;
/** sizeof(sq_plan_desc) in version 0.1, the smallest struct_size accepted. */
#define SQ_PLAN_DESC_SIZE_0_1 64u

/** The arguments of one run. Set struct_size = sizeof(sq_run_args); zero what you do not use. */
typedef struct sq_run_args {
  uint32_t struct_size;          /**< sizeof(sq_run_args) */
  uint32_t reserved;             /**< must be 0 */
  int64_t m;                     /**< rows of this run, 1..desc.max_m */
  const void* act;               /**< [M, K]: act (S8/U8), x (act_dtype; [M, 2K] for SILU_MUL), or int32 [M, N] */
  int64_t ld_act;                /**< elements between rows of act; 0 = packed */
  const void* weight;            /**< weight [N, K] (weight_dtype; linears only) */
  int64_t ld_weight;             /**< elements between rows of weight; 0 = packed (K) */
  const void* weight_scale;      /**< [N] of T (linears, SCALE_ACCUMULATORS) */
  const void* bias;              /**< [N] of T, or NULL for none */
  const void* smooth;            /**< [K] smoothing factors (dtype scale_dtype) divided into v, or NULL */
  void* act_scale_scratch;       /**< [M] of T/S: receives the per-row activation scales (see each op) */
  void* out;                     /**< [M, N] of T or int32 (linears), [M, K] of Q (quantizers) */
  int64_t ld_out;                /**< elements between rows of out; 0 = packed */
  /* ---- since 0.2 (a 0.1 caller's struct ends above: these read as NULL/0) */
  const void* act_scale;         /**< SCALED_LINEAR, SCALE_ACCUMULATORS: [M] of T, or [1] (PER_TENSOR_ACT_SCALE) */
  const void* weight_zero_point; /**< zw [N] of weight_dtype, or NULL (= 0); plans with SQ_PLAN_WEIGHT_ZERO_POINT */
  const int32_t* weight_sums;    /**< [N]: sum_k weight[n,k] (sq_weight_sums); needed when activations have zero points */
  void* act_zero_point;          /**< za [M] of Q: written by DYNAMIC_ASYMMETRIC; read by SCALED_LINEAR (ACT_ZERO_POINT) */
  int32_t* act_sums;             /**< [M] sum_k q[m,k]: written by quantizers when non-NULL; read by linears when non-NULL */
  void* absmax;                  /**< [M] of C: written by SQ_QUANT_ABSMAX, read by SQ_QUANT_FROM_ABSMAX */
  const void* residual;          /**< RMSNORM_QUANTIZE: [M, K] of act_dtype added to x, or NULL */
  int64_t ld_residual;           /**< elements between rows of residual; 0 = packed (K) */
  void* residual_out;            /**< RMSNORM_QUANTIZE: receives h = x (+ residual) (act_dtype), or NULL */
  int64_t ld_residual_out;       /**< elements between rows of residual_out; 0 = packed (K) */
  const void* norm_weight;       /**< RMSNORM_QUANTIZE: gamma [K] of act_dtype */
} sq_run_args;
/** sizeof(sq_run_args) in version 0.1, the smallest struct_size accepted. */
#define SQ_RUN_ARGS_SIZE_0_1 96u

/** What a plan promises about its results (filled by sq_plan_precision_guarantee). */
typedef struct sq_precision_guarantee {
  uint32_t struct_size;               /**< set by the caller to sizeof(sq_precision_guarantee) */
  uint32_t bit_exact_with_host;       /**< 1: results equal the host reference kernel bit for bit */
  uint32_t deterministic;             /**< 1: same inputs give the same bits on every run */
  uint32_t exact_accumulation;        /**< 1: integer accumulation is exact (no overflow up to max_k) */
  sq_dtype accumulate_dtype;          /**< SQ_DTYPE_S32 for the linears, else SQ_DTYPE_INVALID */
  sq_dtype epilogue_dtype;            /**< dtype the scale/quantize math is done in (F32 or F64) */
  int64_t max_k;                      /**< linears: the largest K the accumulation is exact for (see the
                                           contract: 131071 for S8 x S8, down to 33025); else 0 */
} sq_precision_guarantee;

/** Facts about a plan (filled by sq_plan_get_info). */
typedef struct sq_plan_info {
  uint32_t struct_size;      /**< set by the caller to sizeof(sq_plan_info) */
  sq_kernel_family family;   /**< the family select chose */
  sq_op op;                  /**< the descriptor's op */
  int32_t device;            /**< CUDA device ordinal, -1 for the host family */
  int32_t sm_version;        /**< compute capability major*10+minor, 0 for the host family */
  uint32_t reserved;         /**< 0 */
  int64_t n, k, max_m;       /**< from the descriptor */
} sq_plan_info;

/**
 * Pick a kernel family for `desc` and make a plan.
 * stream: for GPU preferences the plan is bound to the stream's device (NULL = the
 *   current device); ignored by SQ_PREFERENCE_HOST_REFERENCE.
 * Validates the descriptor (ops, dtypes, sizes, scales, zero points, flags, K against the
 * plan's max_k). Sets up the kernels (function attributes) so that runs do no setup.
 * *plan is written only on success.
 */
SQ_API sq_status sq_plan_select(sq_stream stream, const sq_plan_desc* desc,
                                sq_preference preference, sq_plan* plan);

/**
 * Full validation of run arguments, without running: everything sq_plan_run checks,
 * plus where each pointer lives (host memory for the host family; device memory of
 * the plan's device, or managed memory, for GPU families). Writes nothing.
 */
SQ_API sq_status sq_plan_can_implement(sq_plan plan, const sq_run_args* args);

/**
 * Bytes of workspace for sq_plan_run: SQ_OP_QUANTIZED_LINEAR (q, and the zero points and row
 * sums it needs); SMOOTHQUANT_LINEAR and SCALED_LINEAR plans with SQ_PLAN_WEIGHT_ZERO_POINT (the
 * activation row sums, needed only by runs that pass weight_zero_point without act_sums);
 * 0 for every other plan, except a Hopper SMOOTHQUANT_LINEAR or SCALED_LINEAR plan whose
 * K is not a multiple of 16 and that has no zero points (neither flag, act_zero_point 0), where the
 * copy pays at max_m: its size is an optional staging area, (N + max_m) rows of K rounded up to 128
 * bytes. A run given all of it (16-byte aligned) above M = 64, where the copy costs less than the
 * unaligned kernels lose, first copies weight and act there at a 16-byte aligned stride and runs the
 * faster kernels on the copies, with the same bits; a run given less or NULL reads them in place.
 */
SQ_API sq_status sq_plan_workspace_size(sq_plan plan, size_t* bytes);

/** What the plan promises about precision. `guarantee->struct_size` must be set. */
SQ_API sq_status sq_plan_precision_guarantee(sq_plan plan, sq_precision_guarantee* guarantee);

/** Facts about the plan. `info->struct_size` must be set. */
SQ_API sq_status sq_plan_get_info(sq_plan plan, sq_plan_info* info);

/**
 * The name of the kernel the plan runs for `m` rows (1..max_m) when the run's matrices
 * are packed (leading dimensions 0) at 16-byte aligned bases, e.g.
 * "sm90_wgmma_ws_128x256x128_s4" or "host_reference": K decides the operands' alignment,
 * N times out's element size out's; a plan with a staging area answers for a run given all of
 * it (the linear on the copies). Other strides, bases and workspaces may run another kernel (the
 * same result). Static storage, never freed.
 */
SQ_API sq_status sq_plan_kernel_name(sq_plan plan, int64_t m, const char** name);

/**
 * Run the plan. GPU families: enqueued on `stream` (which must belong to the plan's
 * device), asynchronous, allocates nothing, never synchronizes, capturable in a CUDA
 * graph; kernel faults surface later on the stream. Host family: runs now on host
 * pointers, `stream` ignored. Checks nulls, sizes, M range, strides, alignment and
 * aliasing on every call (not memory spaces: see sq_plan_can_implement). workspace must
 * be at least sq_plan_workspace_size bytes, 16-byte aligned; NULL when that is 0 or the
 * run does not need it (see sq_plan_workspace_size; a staging area is optional).
 */
SQ_API sq_status sq_plan_run(sq_plan plan, sq_stream stream, void* workspace,
                             size_t workspace_bytes, const sq_run_args* args);

/** Destroy a plan. NULL is a no-op (SUCCESS); a destroyed or foreign plan is INVALID_HANDLE. */
SQ_API sq_status sq_plan_destroy(sq_plan plan);

/* ------------------------------------------------------- offline helpers */
/*
 * Host-only helpers for the offline half of SmoothQuant. Matrices are row-major
 * with a leading dimension `ld` (0 = packed). All run synchronously on host memory.
 */

/** A read-only host matrix: F32, F64, F16 or BF16 values (S8 or U8 where a helper says so). */
typedef struct sq_matrix_view {
  uint32_t struct_size;  /**< sizeof(sq_matrix_view) */
  sq_dtype dtype;        /**< F32, F64, F16 or BF16 (S8/U8 for sq_weight_sums) */
  int64_t rows;          /**< >= 1 */
  int64_t cols;          /**< >= 1 */
  int64_t ld;            /**< elements between rows; 0 = packed (cols) */
  const void* data;      /**< rows x ld elements */
} sq_matrix_view;

/**
 * Smoothing factors for the linears that share one input (e.g. q, k, v):
 *   wmax[k] = max(1e-5f, max_i max_n |W_i[n,k]|)                 (f32, exact)
 *   s[k]    = max(1e-5f, (float)(pow((double)act_absmax[k], alpha)
 *                                / pow((double)wmax[k], 1 - alpha)))
 * as in SmoothQuant's smooth_ln_fcs. act_absmax: [K] f32 calibration max |X_k| (>= 0,
 * finite); weights: num_weights views with cols == k; alpha in [0, 1]. smooth_out: [K] f32.
 */
SQ_API sq_status sq_smooth_factors(int64_t k, const float* act_absmax,
                                   const sq_matrix_view* weights, int32_t num_weights,
                                   float alpha, float* smooth_out);

/**
 * Fold the smoothing into the preceding norm: for each k,
 *   norm_weight[k] = (D)((C)norm_weight[k] / (C)smooth[k]), and the same for norm_bias
 * when non-NULL, D = dtype (F32, F64, F16, BF16), C = f64 for F64 else f32.
 */
SQ_API sq_status sq_smooth_apply_to_norm(int64_t k, const float* smooth, sq_dtype dtype,
                                         void* norm_weight, void* norm_bias);

/**
 * Fold the smoothing into a linear's input channels, in place:
 *   W[n,k] = (D)((C)W[n,k] * (C)smooth[k]), D = dtype, C as above. W is rows x k, ld (0 = k).
 */
SQ_API sq_status sq_smooth_apply_to_weight(int64_t k, const float* smooth, sq_dtype dtype,
                                           int64_t rows, int64_t ld, void* weight);

/**
 * Per-output-channel symmetric int8 weight quantization: exactly SQ_QUANT_DYNAMIC's
 * formula applied to the rows of `weight` (no smoothing), with S = scale_dtype:
 *   scale[n] = (S)(max_k |W[n,k]| / (C)127),  q[n,k] = sat_s8(rne((C)W[n,k] / (C)scale[n]))
 * (0 for a zero row). q_out: rows x ld_q int8 (ld_q 0 = cols); scale_out: [rows] of S.
 * A non-finite weight, or a row whose scale overflows S, is INVALID_ARGUMENT (nothing written).
 */
SQ_API sq_status sq_quantize_weight_per_channel(const sq_matrix_view* weight, int8_t* q_out,
                                                int64_t ld_q, sq_dtype scale_dtype,
                                                void* scale_out);

/**
 * Static per-tensor activation scale from calibration maxima of the un-smoothed
 * activation: act_scale = (double)(max_k(act_absmax[k] / smooth[k]) / 127.0f), all in f32;
 * smooth may be NULL (then s = 1). Fails with INVALID_ARGUMENT when the result is 0
 * or not finite.
 */
SQ_API sq_status sq_static_act_scale(int64_t k, const float* act_absmax, const float* smooth,
                                     double* act_scale_out);

/**
 * (since 0.2) The column sums a linear needs when its activations have zero points:
 *   sums_out[n] = sum_k W[n,k] (exact), W = weight_q (a view of dtype S8 or U8, rows = N,
 * cols = K). Compute once per weight and pass as args->weight_sums. INVALID_ARGUMENT when a
 * sum does not fit int32 (K above 2^31 / 255).
 */
SQ_API sq_status sq_weight_sums(const sq_matrix_view* weight_q, int32_t* sums_out);

/**
 * (since 0.2) Per-output-channel asymmetric weight quantization: exactly
 * SQ_QUANT_DYNAMIC_ASYMMETRIC's formula applied to the rows of `weight` (no smoothing),
 * Q = q_dtype (U8 or S8), S = scale_dtype:
 *   lo = min(0, min_k W[n,k]), hi = max(0, max_k W[n,k]),
 *   scale[n] = (S)((hi - lo) / (C)(qmax - qmin)), zw[n] = sat_Q(rne((C)qmin - lo / (C)scale[n])),
 *   q[n,k] = sat_Q(rne((C)W[n,k] / (C)scale[n]) + (C)zw[n])   (scale 0, zw 0, q 0 for a zero row).
 * q_out: rows x ld_q of Q (ld_q 0 = cols); scale_out: [rows] of S; zero_point_out: [rows] of Q.
 * A non-finite weight, or a row whose scale overflows S, is INVALID_ARGUMENT (nothing written).
 */
SQ_API sq_status sq_quantize_weight_per_channel_asymmetric(const sq_matrix_view* weight,
                                                           sq_dtype q_dtype, void* q_out,
                                                           int64_t ld_q, sq_dtype scale_dtype,
                                                           void* scale_out, void* zero_point_out);

/* ------------------------------------------------- dlopen function table */
/**
 * For hosts that load the library with dlopen: resolve SQ_GET_API_SYMBOL with dlsym,
 * cast it to sq_get_api_fn and call it. The table starts with its size and version and
 * only ever grows at the end; check SQ_API_TABLE_HAS(table, member) before calling a
 * member that a newer header added.
 */
#define SQ_API_TABLE_VERSION 2u
#define SQ_GET_API_SYMBOL "sq_get_api"

typedef struct sq_api_table {
  uint32_t struct_size;  /**< sizeof the library's table (>= every member it provides) */
  uint32_t api_version;  /**< SQ_API_TABLE_VERSION of the library */
  /* version 1 */
  uint32_t (*version)(void);
  const char* (*version_string)(void);
  const char* (*status_string)(sq_status);
  const char* (*last_error_message)(void);
  sq_status (*plan_select)(sq_stream, const sq_plan_desc*, sq_preference, sq_plan*);
  sq_status (*plan_can_implement)(sq_plan, const sq_run_args*);
  sq_status (*plan_workspace_size)(sq_plan, size_t*);
  sq_status (*plan_precision_guarantee)(sq_plan, sq_precision_guarantee*);
  sq_status (*plan_get_info)(sq_plan, sq_plan_info*);
  sq_status (*plan_kernel_name)(sq_plan, int64_t, const char**);
  sq_status (*plan_run)(sq_plan, sq_stream, void*, size_t, const sq_run_args*);
  sq_status (*plan_destroy)(sq_plan);
  sq_status (*smooth_factors)(int64_t, const float*, const sq_matrix_view*, int32_t, float, float*);
  sq_status (*smooth_apply_to_norm)(int64_t, const float*, sq_dtype, void*, void*);
  sq_status (*smooth_apply_to_weight)(int64_t, const float*, sq_dtype, int64_t, int64_t, void*);
  sq_status (*quantize_weight_per_channel)(const sq_matrix_view*, int8_t*, int64_t, sq_dtype, void*);
  sq_status (*static_act_scale)(int64_t, const float*, const float*, double*);
  /* version 2 (0.2) */
  sq_status (*weight_sums)(const sq_matrix_view*, int32_t*);
  sq_status (*quantize_weight_per_channel_asymmetric)(const sq_matrix_view*, sq_dtype, void*, int64_t,
                                                      sq_dtype, void*, void*);
} sq_api_table;

/** True when `table` is new enough to hold `member`. */
#define SQ_API_TABLE_HAS(table, member) \
  ((table)->struct_size >= offsetof(sq_api_table, member) + sizeof((table)->member))

typedef const sq_api_table* (*sq_get_api_fn)(void);

/** The function table of this library (static storage, never null). */
SQ_API const sq_api_table* sq_get_api(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SMOOTHQUANT_SMOOTHQUANT_H */
