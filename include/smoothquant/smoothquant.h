/*
 * libsmoothquant: SmoothQuant W8A8 linear layers, bit-stable on every kernel.
 *
 * This is the whole public C ABI. It compiles as C99 and as C++, needs no CUDA
 * header, and every symbol it declares starts with `sq_` (macros with `SQ_`).
 *
 * ============================== NUMERICS CONTRACT ==============================
 * Every kernel (the host reference kernel and every GPU kernel) produces exactly
 * these bits; any consumer may check any kernel against this text.
 *
 * SQ_OP_SMOOTHQUANT_LINEAR, for 0 <= m < M, 0 <= n < N:
 *   acc[m,n] = sum_k act_q[m,k] * weight_q[n,k]           exact int32 (K <= 131071)
 *   scratch[m] = (T)act_scale                              one round-to-nearest-even
 *   T = f32 or f64:
 *     y       = ((T)acc[m,n] * scratch[m]) * weight_scale[n]
 *     out     = bias ? (y + bias[n]) : y
 *     each operation rounded to nearest-even in T, in exactly that order, no FMA.
 *   T = f16 or bf16 (math in f32, one final rounding):
 *     y       = ((float)acc[m,n] * (float)scratch[m]) * (float)weight_scale[n]
 *     out     = (T)(bias ? (y + (float)bias[n]) : y)
 *     each f32 operation rounded to nearest-even, no FMA, then one rounding to T.
 *   (T)int32 is the round-to-nearest-even conversion. act_q is int8 [M,K]
 *   row-major, weight_q is int8 [N,K] (the nn.Linear.weight layout), out [M,N].
 *
 * SQ_OP_QUANTIZE_STATIC (per-tensor), compute type C = f64 for f64 input, else f32:
 *   v      = smooth ? ((C)x[m,k] / (C)smooth[k]) : (C)x[m,k]
 *   q[m,k] = sat_s8(rne(v / (C)act_scale))
 *   rne rounds half to even; sat_s8 clamps to [-128, 127]; NaN gives 0,
 *   +Inf gives 127, -Inf gives -128.
 *
 * SQ_OP_QUANTIZE_DYNAMIC (per token), C as above, S = the scale dtype:
 *   v[k]     = smooth ? ((C)x[m,k] / (C)smooth[k]) : (C)x[m,k]
 *   amax     = max_k |v[k]|                        (NaN if any v[k] is NaN)
 *   scale[m] = (S)(amax / (C)127)                  stored, then used as (C)scale[m]
 *   q[m,k]   = scale[m] is finite and > 0 ? sat_s8(rne(v[k] / (C)scale[m])) : 0
 *   So a row of zeros (or -0) gives scale +0 and q 0; a row holding a NaN gives
 *   scale = the canonical quiet NaN of S (positive, only the top mantissa bit set:
 *   f32 0x7fc00000, f64 0x7ff8000000000000, f16 0x7e00, bf16 0x7fc0) and q 0; a row
 *   holding +-Inf (and no NaN) gives scale +Inf and q 0; a scale that underflows to 0
 *   or overflows to +Inf in S gives q 0. Through SQ_OP_QUANTIZED_LINEAR such rows
 *   produce NaN outputs (0 * NaN, 0 * Inf; the NaN payload is not specified).
 *
 * SQ_OP_QUANTIZED_LINEAR = SQ_OP_QUANTIZE_DYNAMIC with S = T, writing q into the
 * caller's workspace and scale into act_scale_scratch, then
 * SQ_OP_SMOOTHQUANT_LINEAR with scratch[m] = scale[m] (the per-token scale).
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
 * first published layout is rejected (SQ_STATUS_INVALID_STRUCT_SIZE); a larger
 * size than this library knows is accepted only when the unknown tail bytes are
 * all zero (input structs), and output structs are filled up to the smaller of
 * the two sizes, the rest zeroed.
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
#define SQ_VERSION_MINOR 1
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
  SQ_STATUS_INVALID_STRUCT_SIZE = 2,    /**< struct_size too small, or unknown fields set */
  SQ_STATUS_INVALID_HANDLE = 3,         /**< a plan that is destroyed, null or not from this library */
  SQ_STATUS_NOT_SUPPORTED = 4,          /**< valid, but this op/dtype/GPU combination is not implemented */
  SQ_STATUS_NO_DEVICE = 5,              /**< a GPU preference, but no usable CUDA GPU/driver */
  SQ_STATUS_WRONG_DEVICE = 6,           /**< stream or pointer on another device than the plan's */
  SQ_STATUS_MISALIGNED = 7,             /**< a pointer not aligned to its element size (or 16 bytes where said) */
  SQ_STATUS_WRONG_MEMORY_SPACE = 8,     /**< a host pointer given to a GPU plan, or a device pointer to the host plan */
  SQ_STATUS_INSUFFICIENT_WORKSPACE = 9, /**< workspace null or smaller than sq_plan_workspace_size */
  SQ_STATUS_CUDA_ERROR = 10,            /**< the CUDA runtime reported an error (message has its name) */
  SQ_STATUS_OUT_OF_MEMORY = 11,         /**< host allocation failed in select */
  SQ_STATUS_INTERNAL_ERROR = 12         /**< a bug in this library: please report it */
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
  SQ_DTYPE_S32 = 2,  /**< int32_t (reported by sq_plan_precision_guarantee) */
  SQ_DTYPE_F16 = 3,  /**< IEEE binary16 */
  SQ_DTYPE_BF16 = 4, /**< bfloat16 */
  SQ_DTYPE_F32 = 5,  /**< IEEE binary32 */
  SQ_DTYPE_F64 = 6   /**< IEEE binary64 */
};

/* ------------------------------------------------------------ operations */
typedef int32_t sq_op;
enum {
  /** int8 act_q x int8 weight_q -> T, static per-tensor act_scale, per-channel weight_scale.
   *  desc: act_dtype = S8, weight_dtype = S8, scale_dtype = out_dtype = T in {F32, F64, F16, BF16},
   *  act_scale > 0 finite. run: act, weight, weight_scale, act_scale_scratch, out; bias optional. */
  SQ_OP_SMOOTHQUANT_LINEAR = 1,
  /** Floating-point x [M,K] -> dynamic per-token int8 (into the workspace) -> the same W8A8 kernel.
   *  desc: act_dtype in {F32, F64, F16, BF16} (x), weight_dtype = S8, scale_dtype = out_dtype = T.
   *  act_scale is ignored (0). run: act = x, weight, weight_scale, act_scale_scratch (receives the
   *  per-token scales), out; bias and smooth ([K], dtype T) optional; workspace required. */
  SQ_OP_QUANTIZED_LINEAR = 2,
  /** x [M,K] -> q int8 [M,K], static per-tensor act_scale (desc), optional fused smoothing.
   *  desc: act_dtype = x's dtype in {F32, F64, F16, BF16}, out_dtype = S8, scale_dtype = dtype of
   *  smooth (any float dtype; SQ_DTYPE_INVALID allowed when smooth is never given), n = 0 (ignored).
   *  run: act = x, out = q, smooth optional. */
  SQ_OP_QUANTIZE_STATIC = 3,
  /** x [M,K] -> q int8 [M,K] and scale [M], per token, optional fused smoothing.
   *  desc: act_dtype in {F32, F64, F16, BF16}, out_dtype = S8, scale_dtype = S (scales and smooth)
   *  in {F32, F64, F16, BF16}, n = 0 (ignored). run: act = x, out = q, act_scale_scratch = scale. */
  SQ_OP_QUANTIZE_DYNAMIC = 4
};

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
  SQ_KERNEL_FAMILY_SM80 = 2,    /**< mma.sync m16n8k32 s8 (Ampere and later) */
  SQ_KERNEL_FAMILY_SM90 = 3     /**< wgmma + TMA (Hopper sm_90a); uses SM80 kernels for unaligned shapes */
};

/* -------------------------------------------------------------- the plan */
/** Opaque plan handle: immutable after select, freed by sq_plan_destroy. */
typedef struct sq_plan_st* sq_plan;

/** A CUDA stream. A cudaStream_t / CUstream passes as it is; NULL is the default stream. */
typedef struct CUstream_st* sq_stream;

/** Largest K whose int32 accumulation cannot overflow: 128 * 128 * 131071 < 2^31. */
#define SQ_MAX_K 131071

/** What a plan computes. Set struct_size = sizeof(sq_plan_desc); zero what you do not use. */
typedef struct sq_plan_desc {
  uint32_t struct_size;  /**< sizeof(sq_plan_desc) */
  sq_op op;              /**< SQ_OP_* */
  sq_dtype act_dtype;    /**< activation dtype: S8 for SMOOTHQUANT_LINEAR, else the float input dtype */
  sq_dtype weight_dtype; /**< S8 for the linears; SQ_DTYPE_INVALID (0) for the quantize ops */
  sq_dtype scale_dtype;  /**< T: weight_scale, act_scale_scratch, bias and smooth dtype (see each op) */
  sq_dtype out_dtype;    /**< T for the linears, S8 for the quantize ops */
  int64_t n;             /**< output features (rows of weight_q), 1..2^31-1; 0 for the quantize ops */
  int64_t k;             /**< input features, 1..SQ_MAX_K (quantize ops: 1..2^31-1) */
  int64_t max_m;         /**< largest M any run of this plan will use, 1..2^31-1 */
  double act_scale;      /**< static per-tensor activation scale: finite and > 0 (ignored by dynamic ops) */
  uint32_t host_threads; /**< host kernel threads: 0 = one per core, 1 = calling thread only, else that many */
  uint32_t reserved;     /**< must be 0 */
} sq_plan_desc;

/** The arguments of one run. Set struct_size = sizeof(sq_run_args); zero what you do not use. */
typedef struct sq_run_args {
  uint32_t struct_size;          /**< sizeof(sq_run_args) */
  uint32_t reserved;             /**< must be 0 */
  int64_t m;                     /**< rows of this run, 1..desc.max_m */
  const void* act;               /**< [M, K]: act_q (S8) or x (act_dtype) */
  int64_t ld_act;                /**< elements between rows of act; 0 = packed (K) */
  const void* weight;            /**< weight_q int8 [N, K] (linears only) */
  int64_t ld_weight;             /**< elements between rows of weight; 0 = packed (K) */
  const void* weight_scale;      /**< [N] of T (linears only) */
  const void* bias;              /**< [N] of T, or NULL for none (linears only) */
  const void* smooth;            /**< [K] smoothing factors (dtype scale_dtype) divided into x, or NULL
                                      (QUANTIZE_STATIC, QUANTIZE_DYNAMIC, QUANTIZED_LINEAR) */
  void* act_scale_scratch;       /**< [M] of T: filled with the per-row activation scale (linears,
                                      QUANTIZE_DYNAMIC); unused by QUANTIZE_STATIC */
  void* out;                     /**< [M, N] of T (linears) or [M, K] int8 (quantize ops) */
  int64_t ld_out;                /**< elements between rows of out; 0 = packed */
} sq_run_args;

/** What a plan promises about its results (filled by sq_plan_precision_guarantee). */
typedef struct sq_precision_guarantee {
  uint32_t struct_size;               /**< set by the caller to sizeof(sq_precision_guarantee) */
  uint32_t bit_exact_with_host;       /**< 1: results equal the host reference kernel bit for bit */
  uint32_t deterministic;             /**< 1: same inputs give the same bits on every run */
  uint32_t exact_accumulation;        /**< 1: integer accumulation is exact (no overflow up to max_k) */
  sq_dtype accumulate_dtype;          /**< SQ_DTYPE_S32 for the linears, else SQ_DTYPE_INVALID */
  sq_dtype epilogue_dtype;            /**< dtype the scale/quantize math is done in (F32 or F64) */
  int64_t max_k;                      /**< the largest K the accumulation is exact for (SQ_MAX_K) */
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
 * Validates the descriptor (ops, dtypes, sizes, act_scale). Sets up the kernels
 * (function attributes) so that runs do no setup. *plan is written only on success.
 */
SQ_API sq_status sq_plan_select(sq_stream stream, const sq_plan_desc* desc,
                                sq_preference preference, sq_plan* plan);

/**
 * Full validation of run arguments, without running: everything sq_plan_run checks,
 * plus where each pointer lives (host memory for the host family; device memory of
 * the plan's device, or managed memory, for GPU families). Writes nothing.
 */
SQ_API sq_status sq_plan_can_implement(sq_plan plan, const sq_run_args* args);

/** Bytes of workspace sq_plan_run needs (0 except for SQ_OP_QUANTIZED_LINEAR). */
SQ_API sq_status sq_plan_workspace_size(sq_plan plan, size_t* bytes);

/** What the plan promises about precision. `guarantee->struct_size` must be set. */
SQ_API sq_status sq_plan_precision_guarantee(sq_plan plan, sq_precision_guarantee* guarantee);

/** Facts about the plan. `info->struct_size` must be set. */
SQ_API sq_status sq_plan_get_info(sq_plan plan, sq_plan_info* info);

/**
 * The name of the kernel the plan runs for `m` rows (1..max_m), e.g.
 * "sm90_wgmma_ws_128x256" or "host_reference". Static storage, never freed.
 */
SQ_API sq_status sq_plan_kernel_name(sq_plan plan, int64_t m, const char** name);

/**
 * Run the plan. GPU families: enqueued on `stream` (which must belong to the plan's
 * device), asynchronous, allocates nothing, never synchronizes, capturable in a CUDA
 * graph; kernel faults surface later on the stream. Host family: runs now on host
 * pointers, `stream` ignored. Checks nulls, sizes, M range, strides and alignment
 * on every call (not memory spaces: see sq_plan_can_implement). workspace must be
 * at least sq_plan_workspace_size bytes, 16-byte aligned (NULL when 0 is needed).
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

/** A read-only host matrix of floating-point values (F32, F64, F16 or BF16). */
typedef struct sq_matrix_view {
  uint32_t struct_size;  /**< sizeof(sq_matrix_view) */
  sq_dtype dtype;        /**< F32, F64, F16 or BF16 */
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
 * Per-output-channel symmetric int8 weight quantization: exactly SQ_OP_QUANTIZE_DYNAMIC's
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

/* ------------------------------------------------- dlopen function table */
/**
 * For hosts that load the library with dlopen: resolve SQ_GET_API_SYMBOL with dlsym,
 * cast it to sq_get_api_fn and call it. The table starts with its size and version and
 * only ever grows at the end; check SQ_API_TABLE_HAS(table, member) before calling a
 * member that a newer header added.
 */
#define SQ_API_TABLE_VERSION 1u
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
