/*
 * llama_layer: the linears of one Llama-style decoder layer in W8A8 through libsmoothquant's engine ops (C99).
 *
 *   x                    the layer's input hidden states [M, H], bf16, with a few outlier channels
 *   q1, s1 = RMSNORM_QUANTIZE(x; gamma1)            int8 [M, H] and per-token bf16 scales [M]
 *   qkv    = SCALED_LINEAR(q1, s1; Wqkv)            [M, QKV] bf16: the q, k and v heads as one matrix
 *   o      = QUANTIZED_LINEAR(attn; Wo)             attn = qkv's first H columns (ld_act = QKV), a stand-in
 *                                                   for attention's output, quantized per token inside the op
 *   q2, s2 = RMSNORM_QUANTIZE(o + x; gamma2)        h2 = o + x written back (residual_out): the new residual
 *   gu     = SCALED_LINEAR(q2, s2; Wgu)             [M, 2I]: gate and up as one [2I, H] weight, gate columns
 *                                                   first: the layout SILU_MUL_QUANTIZE reads
 *   q3, s3 = SILU_MUL_QUANTIZE(gu)                  silu(gate) * up, int8 [M, I], per-token scales
 *   d      = SCALED_LINEAR(q3, s3; Wd)              [M, H]; the layer's output is h2 + d
 *
 * Offline, on the host (fixed seed): random weights; calibration of the norms' outputs on other tokens; the
 * SmoothQuant smoothing factors of the QKV and gate/up inputs (sq_smooth_factors, alpha), folded into the
 * norm weights (sq_smooth_apply_to_norm) and the weights (sq_smooth_apply_to_weight); per-channel int8 weights
 * with bf16 scales (sq_quantize_weight_per_channel). The reference is the same layer in double precision on the
 * original (unsmoothed, unquantized) weights. Prints each step's time (cudaEvent on the GPU: mean of --reps
 * back-to-back runs after a warm-up; on the host kernel the wall clock of the fastest of 3 runs) and each
 * output's relative error
 * ||y - ref|| / ||ref||. On the GPU the whole layer is also run on the host reference kernel and every output
 * (the int8 activations, the scales, the bf16 outputs) compared bit for bit.
 *
 * Usage: sq_llama_layer [--host] [--small] [--m M] [--reps R] [--alpha A] [--seed S] [--no-host-check]
 *                       [--require-gpu]
 *   --host          the host reference kernel even when a GPU is present
 *   --small         H 256, QKV 384, I 704 (default: Llama-3-8B, H 4096, QKV 6144, I 14336)
 *   --m             tokens (default 16)
 *   --require-gpu   exit 77 (skipped) when no usable GPU is present
 * Exit status: 0 all good; 1 a call failed, the GPU differs from the host kernel, or the layer's error is not
 * below kMaxLayerError; 77 with --require-gpu and no GPU.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>

#include "smoothquant/smoothquant.h"

/* Data: outlier channels of x (how many, how much larger), the ranges of the uniform random values. */
#define NUM_OUTLIERS 8
#define OUTLIER_GAIN 40.0
#define X_RANGE 1.0          /* x uniform in (-X_RANGE, X_RANGE) times its channel's gain */
#define WEIGHT_RANGE 0.03    /* weights uniform in (-WEIGHT_RANGE, WEIGHT_RANGE) */
#define GAMMA_LO 0.6         /* norm weights uniform in [GAMMA_LO, GAMMA_HI) */
#define GAMMA_HI 1.4
#define NORM_EPS 1e-5        /* Llama 3's rms_norm_eps */
#define CALIB_TOKENS 16      /* calibration tokens (other than the layer's) */
#define DEFAULT_ALPHA 0.5f
#define DEFAULT_M 16
#define DEFAULT_REPS 20
#define HOST_RUNS 3          /* host kernel: the fastest of this many runs of each step */
#define DEFAULT_SEED 2026u
/* A sanity bound on the layer output's relative error (W8A8 on this data: about 1e-2). */
#define MAX_LAYER_ERROR 0.1
#define EXIT_SKIP 77

enum { STEP_NORM1, STEP_QKV, STEP_O, STEP_NORM2, STEP_GATE_UP, STEP_SILU, STEP_DOWN, NUM_STEPS };

/* ------------------------------------------------------------------ errors */
static void die_sq(sq_status s, const char* call, int line) {
  fprintf(stderr, "llama_layer.c:%d: %s failed: %s: %s\n", line, call, sq_status_string(s), sq_last_error_message());
  exit(1);
}
#define CHECK_SQ(call)                                                      \
  do {                                                                      \
    sq_status check_sq_ = (call);                                           \
    if (check_sq_ != SQ_STATUS_SUCCESS) die_sq(check_sq_, #call, __LINE__); \
  } while (0)

static void die_cuda(cudaError_t e, const char* call, int line) {
  fprintf(stderr, "llama_layer.c:%d: %s failed: %s (%s)\n", line, call, cudaGetErrorName(e), cudaGetErrorString(e));
  exit(1);
}
#define CHECK_CUDA(call)                                                          \
  do {                                                                            \
    cudaError_t check_cuda_ = (call);                                             \
    if (check_cuda_ != cudaSuccess) die_cuda(check_cuda_, #call, __LINE__);       \
  } while (0)

static void* xmalloc(size_t bytes) {
  void* p = malloc(bytes ? bytes : 1);
  if (p == NULL) {
    fprintf(stderr, "llama_layer: out of host memory (%zu bytes)\n", bytes);
    exit(1);
  }
  return p;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* ------------------------------------------------------------------ bf16 and random values */
static uint16_t to_bf16(float f) { /* round to nearest even; NaN stays NaN */
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}
static double from_bf16(uint16_t h) {
  const uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return (double)f;
}

static uint64_t g_rng;
static double uniform(double lo, double hi) { /* xorshift64*, 53 bits */
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return lo + (hi - lo) * ((double)((g_rng * 0x2545f4914f6cdd1dull) >> 11) / 9007199254740992.0);
}

/* ------------------------------------------------------------------ the model (host) */
typedef struct {
  int64_t h, qkv, inter, m;
} Dims;

typedef struct {
  Dims d;
  float* gain;                      /* [H] per-channel gain of x (the outliers) */
  uint16_t* x;                      /* [M, H] bf16: the layer's input */
  uint16_t *gamma1, *gamma2;        /* [H] bf16: the norm weights (smoothing folded in after the reference) */
  float *wqkv, *wo, *wgu, *wd;      /* f32 weights [N, K] (smoothed in place after the reference) */
  int8_t *qqkv, *qo, *qgu, *qd;     /* per-channel int8 weights */
  uint16_t *sqkv, *so, *sgu, *sd;   /* their bf16 scales */
  double *ref_qkv, *ref_o, *ref_h2, *ref_gu, *ref_d, *ref_out; /* the double reference of each output */
} Model;

static void fill_weight(float* w, size_t n) {
  for (size_t i = 0; i < n; ++i) w[i] = (float)uniform(-WEIGHT_RANGE, WEIGHT_RANGE);
}

/* y[r] = rmsnorm(h[r]) * gamma, double: h [rows, k]. */
static void ref_rmsnorm(const double* h, int64_t rows, int64_t k, const uint16_t* gamma, double* y) {
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0.0;
    for (int64_t i = 0; i < k; ++i) ss += h[r * k + i] * h[r * k + i];
    const double inv = 1.0 / sqrt(ss / (double)k + NORM_EPS);
    for (int64_t i = 0; i < k; ++i) y[r * k + i] = h[r * k + i] * inv * from_bf16(gamma[i]);
  }
}

/* out[r, n] = sum_i a[r, i] * w[n, i] for n < n_cols: a [rows, k] (leading dimension lda), w [>= n_cols, k]. */
static void ref_matmul(const double* a, int64_t lda, int64_t rows, const float* w, int64_t n_cols, int64_t k,
                       double* out) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t n = 0; n < n_cols; ++n) {
      const double* ar = a + r * lda;
      const float* wn = w + n * k;
      double acc = 0.0;
      for (int64_t i = 0; i < k; ++i) acc += ar[i] * (double)wn[i];
      out[r * n_cols + n] = acc;
    }
}

/* The layer in double from hidden states hs [rows, H] up to y2 = the gate/up input (and, with full != 0,
 * the rest). Writes qkv [rows, QKV] only where full (else only its first H columns are needed). */
static void ref_layer(const Model* md, const double* hs, int64_t rows, int full, double* y1, double* qkv, double* o,
                      double* h2, double* y2, double* gu, double* d, double* out) {
  const Dims* dm = &md->d;
  const int64_t H = dm->h, QKV = dm->qkv, I = dm->inter;
  ref_rmsnorm(hs, rows, H, md->gamma1, y1);
  ref_matmul(y1, H, rows, md->wqkv, full ? QKV : H, H, qkv);
  ref_matmul(qkv, full ? QKV : H, rows, md->wo, H, H, o); /* attn = qkv[:, :H] */
  for (int64_t i = 0; i < rows * H; ++i) h2[i] = hs[i] + o[i];
  ref_rmsnorm(h2, rows, H, md->gamma2, y2);
  if (!full) return;
  ref_matmul(y2, H, rows, md->wgu, 2 * I, H, gu);
  double* act = (double*)xmalloc((size_t)(rows * I) * sizeof(double));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < I; ++i) {
      const double g = gu[r * 2 * I + i], u = gu[r * 2 * I + I + i];
      act[r * I + i] = g / (1.0 + exp(-g)) * u;
    }
  ref_matmul(act, I, rows, md->wd, H, I, d);
  for (int64_t i = 0; i < rows * H; ++i) out[i] = h2[i] + d[i];
  free(act);
}

/* Hidden states [rows, H]: uniform values times their channel's gain, rounded to bf16. */
static void make_hidden(const Model* md, int64_t rows, uint16_t* bits, double* values) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < md->d.h; ++i) {
      const uint16_t b = to_bf16((float)(uniform(-X_RANGE, X_RANGE) * md->gain[i]));
      if (bits) bits[r * md->d.h + i] = b;
      values[r * md->d.h + i] = from_bf16(b);
    }
}

static void quantize_weight(const float* w, int64_t rows, int64_t cols, int8_t* q, uint16_t* scale) {
  sq_matrix_view v;
  memset(&v, 0, sizeof v);
  v.struct_size = sizeof v;
  v.dtype = SQ_DTYPE_F32;
  v.rows = rows;
  v.cols = cols;
  v.data = w;
  CHECK_SQ(sq_quantize_weight_per_channel(&v, q, 0, SQ_DTYPE_BF16, scale));
}

/* Smoothing factors for the linear w [rows, H] from the calibration maxima, folded into gamma and w. */
static void smooth_into(Model* md, const float* absmax, uint16_t* gamma, float* w, int64_t rows, float alpha) {
  const int64_t H = md->d.h;
  float* s = (float*)xmalloc((size_t)H * sizeof(float));
  sq_matrix_view v;
  memset(&v, 0, sizeof v);
  v.struct_size = sizeof v;
  v.dtype = SQ_DTYPE_F32;
  v.rows = rows;
  v.cols = H;
  v.data = w;
  CHECK_SQ(sq_smooth_factors(H, absmax, &v, 1, alpha, s));
  CHECK_SQ(sq_smooth_apply_to_norm(H, s, SQ_DTYPE_BF16, gamma, NULL));
  CHECK_SQ(sq_smooth_apply_to_weight(H, s, SQ_DTYPE_F32, rows, 0, w));
  free(s);
}

static void absmax_of(const double* y, int64_t rows, int64_t k, float* absmax) {
  for (int64_t i = 0; i < k; ++i) absmax[i] = 0.0f;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < k; ++i) {
      const float a = (float)fabs(y[r * k + i]);
      if (a > absmax[i]) absmax[i] = a;
    }
}

static void make_model(Model* md, Dims d, float alpha, uint64_t seed) {
  const int64_t H = d.h, QKV = d.qkv, I = d.inter, M = d.m;
  memset(md, 0, sizeof *md);
  md->d = d;
  g_rng = 0x9e3779b97f4a7c15ull ^ (seed * 0xbf58476d1ce4e5b9ull);
  md->gain = (float*)xmalloc((size_t)H * sizeof(float));
  for (int64_t i = 0; i < H; ++i) md->gain[i] = (float)uniform(0.5, 1.5);
  for (int i = 0; i < NUM_OUTLIERS; ++i) md->gain[((int64_t)i * 131 + 17) % H] = (float)OUTLIER_GAIN;
  md->gamma1 = (uint16_t*)xmalloc((size_t)H * 2);
  md->gamma2 = (uint16_t*)xmalloc((size_t)H * 2);
  for (int64_t i = 0; i < H; ++i) {
    md->gamma1[i] = to_bf16((float)uniform(GAMMA_LO, GAMMA_HI));
    md->gamma2[i] = to_bf16((float)uniform(GAMMA_LO, GAMMA_HI));
  }
  md->wqkv = (float*)xmalloc((size_t)(QKV * H) * sizeof(float));
  md->wo = (float*)xmalloc((size_t)(H * H) * sizeof(float));
  md->wgu = (float*)xmalloc((size_t)(2 * I * H) * sizeof(float));
  md->wd = (float*)xmalloc((size_t)(H * I) * sizeof(float));
  fill_weight(md->wqkv, (size_t)(QKV * H));
  fill_weight(md->wo, (size_t)(H * H));
  fill_weight(md->wgu, (size_t)(2 * I * H));
  fill_weight(md->wd, (size_t)(H * I));

  /* Calibration: the norms' outputs (the QKV and gate/up inputs) on other tokens. */
  const int64_t C = CALIB_TOKENS;
  double* hc = (double*)xmalloc((size_t)(C * H) * sizeof(double));
  double* y1c = (double*)xmalloc((size_t)(C * H) * sizeof(double));
  double* qkvc = (double*)xmalloc((size_t)(C * H) * sizeof(double));
  double* oc = (double*)xmalloc((size_t)(C * H) * sizeof(double));
  double* h2c = (double*)xmalloc((size_t)(C * H) * sizeof(double));
  double* y2c = (double*)xmalloc((size_t)(C * H) * sizeof(double));
  float* absmax1 = (float*)xmalloc((size_t)H * sizeof(float));
  float* absmax2 = (float*)xmalloc((size_t)H * sizeof(float));
  make_hidden(md, C, NULL, hc);
  ref_layer(md, hc, C, 0, y1c, qkvc, oc, h2c, y2c, NULL, NULL, NULL);
  absmax_of(y1c, C, H, absmax1);
  absmax_of(y2c, C, H, absmax2);

  /* The layer's input and the double reference on the original weights. */
  md->x = (uint16_t*)xmalloc((size_t)(M * H) * 2);
  double* xs = (double*)xmalloc((size_t)(M * H) * sizeof(double));
  double* y1 = (double*)xmalloc((size_t)(M * H) * sizeof(double));
  double* y2 = (double*)xmalloc((size_t)(M * H) * sizeof(double));
  md->ref_qkv = (double*)xmalloc((size_t)(M * QKV) * sizeof(double));
  md->ref_o = (double*)xmalloc((size_t)(M * H) * sizeof(double));
  md->ref_h2 = (double*)xmalloc((size_t)(M * H) * sizeof(double));
  md->ref_gu = (double*)xmalloc((size_t)(M * 2 * I) * sizeof(double));
  md->ref_d = (double*)xmalloc((size_t)(M * H) * sizeof(double));
  md->ref_out = (double*)xmalloc((size_t)(M * H) * sizeof(double));
  make_hidden(md, M, md->x, xs);
  ref_layer(md, xs, M, 1, y1, md->ref_qkv, md->ref_o, md->ref_h2, y2, md->ref_gu, md->ref_d, md->ref_out);

  /* SmoothQuant: fold the smoothing into the norms and the weights they feed, then quantize per channel. */
  smooth_into(md, absmax1, md->gamma1, md->wqkv, QKV, alpha);
  smooth_into(md, absmax2, md->gamma2, md->wgu, 2 * I, alpha);
  md->qqkv = (int8_t*)xmalloc((size_t)(QKV * H));
  md->qo = (int8_t*)xmalloc((size_t)(H * H));
  md->qgu = (int8_t*)xmalloc((size_t)(2 * I * H));
  md->qd = (int8_t*)xmalloc((size_t)(H * I));
  md->sqkv = (uint16_t*)xmalloc((size_t)QKV * 2);
  md->so = (uint16_t*)xmalloc((size_t)H * 2);
  md->sgu = (uint16_t*)xmalloc((size_t)(2 * I) * 2);
  md->sd = (uint16_t*)xmalloc((size_t)H * 2);
  quantize_weight(md->wqkv, QKV, H, md->qqkv, md->sqkv);
  quantize_weight(md->wo, H, H, md->qo, md->so);
  quantize_weight(md->wgu, 2 * I, H, md->qgu, md->sgu);
  quantize_weight(md->wd, H, I, md->qd, md->sd);
  free(hc);
  free(y1c);
  free(qkvc);
  free(oc);
  free(h2c);
  free(y2c);
  free(absmax1);
  free(absmax2);
  free(xs);
  free(y1);
  free(y2);
}

static void free_model(Model* md) {
  void* ps[] = {md->gain, md->x, md->gamma1, md->gamma2, md->wqkv, md->wo, md->wgu, md->wd, md->qqkv, md->qo,
                md->qgu, md->qd, md->sqkv, md->so, md->sgu, md->sd, md->ref_qkv, md->ref_o, md->ref_h2, md->ref_gu,
                md->ref_d, md->ref_out};
  for (size_t i = 0; i < sizeof ps / sizeof ps[0]; ++i) free(ps[i]);
}

/* ------------------------------------------------------------------ the backend: GPU or host memory */
typedef struct {
  int gpu; /* 1: GPU plans and device memory; 0: the host reference kernel */
  sq_preference pref;
  cudaStream_t stream;
  cudaEvent_t start, stop;
} Backend;

typedef struct {
  void* p;    /* 16-byte aligned */
  void* base; /* what to free */
} Mem;

static Mem mem_alloc(const Backend* b, size_t bytes) {
  Mem m;
  if (bytes == 0) bytes = 1;
  if (b->gpu) {
    CHECK_CUDA(cudaMalloc(&m.base, bytes));
    m.p = m.base;
  } else {
    m.base = xmalloc(bytes + 16);
    m.p = (void*)(((uintptr_t)m.base + 15u) & ~(uintptr_t)15u);
  }
  return m;
}
static Mem mem_from(const Backend* b, const void* src, size_t bytes) {
  Mem m = mem_alloc(b, bytes);
  if (b->gpu) CHECK_CUDA(cudaMemcpy(m.p, src, bytes, cudaMemcpyHostToDevice));
  else memcpy(m.p, src, bytes);
  return m;
}
static void mem_free(const Backend* b, Mem m) {
  if (b->gpu) cudaFree(m.base);
  else free(m.base);
}
static void download(const Backend* b, void* dst, Mem src, size_t bytes) {
  if (b->gpu) CHECK_CUDA(cudaMemcpy(dst, src.p, bytes, cudaMemcpyDeviceToHost));
  else memcpy(dst, src.p, bytes);
}

/* ------------------------------------------------------------------ the layer on a backend */
typedef struct {
  const char* name;
  const char* op;
  sq_plan plan;
  sq_run_args args;
  Mem ws;
  size_t ws_bytes;
} Step;

/* Buffers: inputs (x, the folded norm weights, the int8 weights and scales) and every step's outputs. */
enum {
  B_X, B_G1, B_G2, B_WQKV, B_SQKV, B_WO, B_SO, B_WGU, B_SGU, B_WD, B_SD,
  B_Q1, B_S1, B_QKV, B_O, B_OSCALE, B_Q2, B_S2, B_H2, B_GU, B_Q3, B_S3, B_D, NUM_BUFS
};
#define FIRST_OUTPUT B_Q1

typedef struct {
  Backend b;
  Dims d;
  Mem buf[NUM_BUFS];
  size_t bytes[NUM_BUFS];
  Step steps[NUM_STEPS];
} Layer;

static const char* const kBufNames[NUM_BUFS] = {
    "x", "gamma1", "gamma2", "wqkv", "sqkv", "wo", "so", "wgu", "sgu", "wd", "sd", "q1", "s1", "qkv", "o",
    "o scales", "q2", "s2", "h2", "gate/up", "q3", "s3", "down"};

static sq_plan_desc quant_desc(sq_op op, int64_t k, int64_t max_m) {
  sq_plan_desc d;
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.op = op;
  d.act_dtype = SQ_DTYPE_BF16;
  d.out_dtype = SQ_DTYPE_S8;
  d.scale_dtype = SQ_DTYPE_BF16;
  d.k = k;
  d.max_m = max_m;
  d.quant_mode = SQ_QUANT_DYNAMIC;
  if (op == SQ_OP_RMSNORM_QUANTIZE) d.eps = NORM_EPS;
  return d;
}

static sq_plan_desc linear_desc(sq_op op, int64_t n, int64_t k, int64_t max_m) {
  sq_plan_desc d;
  memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.op = op;
  d.act_dtype = op == SQ_OP_QUANTIZED_LINEAR ? SQ_DTYPE_BF16 : SQ_DTYPE_S8;
  d.weight_dtype = SQ_DTYPE_S8;
  d.scale_dtype = SQ_DTYPE_BF16;
  d.out_dtype = SQ_DTYPE_BF16;
  d.n = n;
  d.k = k;
  d.max_m = max_m;
  return d;
}

static void step_init(Layer* L, int i, const char* name, const char* op, sq_plan_desc desc) {
  Step* s = &L->steps[i];
  s->name = name;
  s->op = op;
  const sq_status st = sq_plan_select((sq_stream)L->b.stream, &desc, L->b.pref, &s->plan);
  if (st != SQ_STATUS_SUCCESS) {
    fprintf(stderr, "llama_layer: step '%s' (SQ_OP_%s): sq_plan_select failed: %s: %s\n", name, op,
            sq_status_string(st), sq_last_error_message());
    exit(1);
  }
  CHECK_SQ(sq_plan_workspace_size(s->plan, &s->ws_bytes));
  s->ws = mem_alloc(&L->b, s->ws_bytes);
  memset(&s->args, 0, sizeof s->args);
  s->args.struct_size = sizeof s->args;
  s->args.m = L->d.m;
}

static void* P(Layer* L, int buf) { return L->buf[buf].p; }

static void layer_init(Layer* L, const Model* md, Backend b) {
  const Dims d = md->d;
  const int64_t H = d.h, QKV = d.qkv, I = d.inter, M = d.m;
  memset(L, 0, sizeof *L);
  L->b = b;
  L->d = d;
  const void* src[NUM_BUFS] = {md->x, md->gamma1, md->gamma2, md->qqkv, md->sqkv, md->qo, md->so, md->qgu, md->sgu,
                               md->qd, md->sd};
  const size_t bytes[NUM_BUFS] = {
      (size_t)(M * H) * 2, (size_t)H * 2, (size_t)H * 2, (size_t)(QKV * H), (size_t)QKV * 2, (size_t)(H * H),
      (size_t)H * 2, (size_t)(2 * I * H), (size_t)(2 * I) * 2, (size_t)(H * I), (size_t)H * 2,
      /* outputs */
      (size_t)(M * H), (size_t)M * 2, (size_t)(M * QKV) * 2, (size_t)(M * H) * 2, (size_t)M * 2, (size_t)(M * H),
      (size_t)M * 2, (size_t)(M * H) * 2, (size_t)(M * 2 * I) * 2, (size_t)(M * I), (size_t)M * 2,
      (size_t)(M * H) * 2};
  for (int i = 0; i < NUM_BUFS; ++i) {
    L->bytes[i] = bytes[i];
    L->buf[i] = i < FIRST_OUTPUT ? mem_from(&L->b, src[i], bytes[i]) : mem_alloc(&L->b, bytes[i]);
  }
  sq_run_args* a;
  step_init(L, STEP_NORM1, "norm1 + quantize", "RMSNORM_QUANTIZE", quant_desc(SQ_OP_RMSNORM_QUANTIZE, H, M));
  a = &L->steps[STEP_NORM1].args;
  a->act = P(L, B_X);
  a->norm_weight = P(L, B_G1);
  a->out = P(L, B_Q1);
  a->act_scale_scratch = P(L, B_S1);
  step_init(L, STEP_QKV, "qkv", "SCALED_LINEAR", linear_desc(SQ_OP_SCALED_LINEAR, QKV, H, M));
  a = &L->steps[STEP_QKV].args;
  a->act = P(L, B_Q1);
  a->act_scale = P(L, B_S1);
  a->weight = P(L, B_WQKV);
  a->weight_scale = P(L, B_SQKV);
  a->out = P(L, B_QKV);
  step_init(L, STEP_O, "o_proj", "QUANTIZED_LINEAR", linear_desc(SQ_OP_QUANTIZED_LINEAR, H, H, M));
  a = &L->steps[STEP_O].args;
  a->act = P(L, B_QKV); /* the stand-in attention output: qkv's first H columns */
  a->ld_act = QKV;
  a->weight = P(L, B_WO);
  a->weight_scale = P(L, B_SO);
  a->act_scale_scratch = P(L, B_OSCALE);
  a->out = P(L, B_O);
  step_init(L, STEP_NORM2, "norm2 + quantize", "RMSNORM_QUANTIZE", quant_desc(SQ_OP_RMSNORM_QUANTIZE, H, M));
  a = &L->steps[STEP_NORM2].args;
  a->act = P(L, B_O);
  a->residual = P(L, B_X);
  a->residual_out = P(L, B_H2);
  a->norm_weight = P(L, B_G2);
  a->out = P(L, B_Q2);
  a->act_scale_scratch = P(L, B_S2);
  step_init(L, STEP_GATE_UP, "gate/up", "SCALED_LINEAR", linear_desc(SQ_OP_SCALED_LINEAR, 2 * I, H, M));
  a = &L->steps[STEP_GATE_UP].args;
  a->act = P(L, B_Q2);
  a->act_scale = P(L, B_S2);
  a->weight = P(L, B_WGU);
  a->weight_scale = P(L, B_SGU);
  a->out = P(L, B_GU);
  step_init(L, STEP_SILU, "silu-mul + quantize", "SILU_MUL_QUANTIZE", quant_desc(SQ_OP_SILU_MUL_QUANTIZE, I, M));
  a = &L->steps[STEP_SILU].args;
  a->act = P(L, B_GU);
  a->out = P(L, B_Q3);
  a->act_scale_scratch = P(L, B_S3);
  step_init(L, STEP_DOWN, "down", "SCALED_LINEAR", linear_desc(SQ_OP_SCALED_LINEAR, H, I, M));
  a = &L->steps[STEP_DOWN].args;
  a->act = P(L, B_Q3);
  a->act_scale = P(L, B_S3);
  a->weight = P(L, B_WD);
  a->weight_scale = P(L, B_SD);
  a->out = P(L, B_D);
}

static void step_run(Layer* L, int i) {
  Step* s = &L->steps[i];
  CHECK_SQ(sq_plan_run(s->plan, (sq_stream)L->b.stream, s->ws_bytes ? s->ws.p : NULL, s->ws_bytes, &s->args));
}

static void layer_run(Layer* L) {
  for (int i = 0; i < NUM_STEPS; ++i) step_run(L, i);
  if (L->b.gpu) CHECK_CUDA(cudaStreamSynchronize(L->b.stream));
}

/* Milliseconds per run of steps [first, last]: GPU: the mean of reps back-to-back runs after one warm-up
 * (cudaEvent); host: the wall clock of the fastest of HOST_RUNS runs (at most reps). */
static double time_steps(Layer* L, int first, int last, int reps) {
  if (!L->b.gpu) {
    double best = INFINITY;
    for (int r = 0; r < reps && r < HOST_RUNS; ++r) {
      const double t0 = now_ms();
      for (int i = first; i <= last; ++i) step_run(L, i);
      const double t = now_ms() - t0;
      if (t < best) best = t;
    }
    return best;
  }
  for (int i = first; i <= last; ++i) step_run(L, i);
  CHECK_CUDA(cudaEventRecord(L->b.start, L->b.stream));
  for (int r = 0; r < reps; ++r)
    for (int i = first; i <= last; ++i) step_run(L, i);
  CHECK_CUDA(cudaEventRecord(L->b.stop, L->b.stream));
  CHECK_CUDA(cudaEventSynchronize(L->b.stop));
  float ms = 0.0f;
  CHECK_CUDA(cudaEventElapsedTime(&ms, L->b.start, L->b.stop));
  return (double)ms / reps;
}

static void layer_free(Layer* L) {
  for (int i = 0; i < NUM_STEPS; ++i) {
    CHECK_SQ(sq_plan_destroy(L->steps[i].plan));
    mem_free(&L->b, L->steps[i].ws);
  }
  for (int i = 0; i < NUM_BUFS; ++i) mem_free(&L->b, L->buf[i]);
}

/* ------------------------------------------------------------------ errors against the reference */
static double rel_error_bf16(const uint16_t* y, const double* ref, size_t n) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double e = from_bf16(y[i]) - ref[i];
    num += e * e;
    den += ref[i] * ref[i];
  }
  return sqrt(num / den);
}

/* ------------------------------------------------------------------ main */
static void usage(const char* argv0, int code) {
  printf("usage: %s [--host] [--small] [--m M] [--reps R] [--alpha A] [--seed S] [--no-host-check] [--require-gpu]\n",
         argv0);
  exit(code);
}

/* 1 when SQ_PREFERENCE_FASTEST selects a plan on this machine's GPU (the library never falls back itself). */
static int gpu_usable(const char** why) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    *why = e != cudaSuccess ? cudaGetErrorString(e) : "device count is 0";
    return 0;
  }
  sq_plan_desc d = linear_desc(SQ_OP_SMOOTHQUANT_LINEAR, 16, 16, 1);
  d.act_scale = 1.0;
  sq_plan probe;
  static char message[512]; /* the library's message is valid only until its next call */
  const sq_status s = sq_plan_select(NULL, &d, SQ_PREFERENCE_FASTEST, &probe);
  if (s != SQ_STATUS_SUCCESS) {
    snprintf(message, sizeof message, "%s: %s", sq_status_string(s), sq_last_error_message());
    *why = message;
    return 0;
  }
  sq_plan_destroy(probe);
  return 1;
}

int main(int argc, char** argv) {
  Dims d = {4096, 6144, 14336, DEFAULT_M};
  int force_host = 0, small = 0, reps = DEFAULT_REPS, host_check = 1, require_gpu = 0;
  float alpha = DEFAULT_ALPHA;
  uint64_t seed = DEFAULT_SEED;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--host") == 0) force_host = 1;
    else if (strcmp(a, "--small") == 0) small = 1;
    else if (strcmp(a, "--no-host-check") == 0) host_check = 0;
    else if (strcmp(a, "--require-gpu") == 0) require_gpu = 1;
    else if (strcmp(a, "--m") == 0 && v) d.m = atoll(argv[++i]);
    else if (strcmp(a, "--reps") == 0 && v) reps = atoi(argv[++i]);
    else if (strcmp(a, "--alpha") == 0 && v) alpha = (float)atof(argv[++i]);
    else if (strcmp(a, "--seed") == 0 && v) seed = (uint64_t)strtoull(argv[++i], NULL, 10);
    else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) usage(argv[0], 0);
    else {
      fprintf(stderr, "llama_layer: unknown or incomplete option '%s'\n", a);
      usage(argv[0], 1);
    }
  }
  if (small) {
    d.h = 256;
    d.qkv = 384;
    d.inter = 704;
  }
  if (d.m < 1 || reps < 1 || !(alpha >= 0.0f && alpha <= 1.0f)) {
    fprintf(stderr, "llama_layer: --m and --reps must be >= 1 and --alpha in [0, 1]\n");
    return 1;
  }
  printf("libsmoothquant %s: one Llama-style decoder layer in W8A8 (H %lld, QKV %lld, I %lld, M %lld tokens, "
         "alpha %.2f, seed %llu)\n", sq_version_string(), (long long)d.h, (long long)d.qkv, (long long)d.inter,
         (long long)d.m, alpha, (unsigned long long)seed);

  Backend b;
  memset(&b, 0, sizeof b);
  const char* why = "";
  if (force_host) why = "--host was given";
  else b.gpu = gpu_usable(&why);
  if (!b.gpu && require_gpu) {
    printf("SKIPPED: no usable GPU (%s)\n", why);
    return EXIT_SKIP;
  }
  if (b.gpu) {
    struct cudaDeviceProp prop;
    CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
    printf("running on the GPU: %s (sm_%d%d), SQ_PREFERENCE_FASTEST; times: cudaEvent, mean of %d back-to-back "
           "runs\n", prop.name, prop.major, prop.minor, reps);
    b.pref = SQ_PREFERENCE_FASTEST;
    CHECK_CUDA(cudaStreamCreate(&b.stream));
    CHECK_CUDA(cudaEventCreate(&b.start));
    CHECK_CUDA(cudaEventCreate(&b.stop));
  } else {
    printf("running on the host reference kernel (%s); times: wall clock, the fastest of %d runs\n", why, HOST_RUNS);
    b.pref = SQ_PREFERENCE_HOST_REFERENCE;
  }

  const double t0 = now_ms();
  Model md;
  make_model(&md, d, alpha, seed);
  printf("prepared on the host in %.1f s: random weights, calibration on %d other tokens, the double reference, "
         "smoothing folded into the norms, per-channel int8 weights with bf16 scales\n\n",
         (now_ms() - t0) * 1e-3, CALIB_TOKENS);

  Layer L;
  layer_init(&L, &md, b);
  layer_run(&L);
  double ms[NUM_STEPS];
  for (int i = 0; i < NUM_STEPS; ++i) ms[i] = time_steps(&L, i, i, reps);
  const double layer_ms = time_steps(&L, 0, NUM_STEPS - 1, reps);
  layer_run(&L); /* the outputs checked below come from one whole run */

  const int64_t H = d.h, QKV = d.qkv, I = d.inter, M = d.m;
  uint16_t* qkv = (uint16_t*)xmalloc((size_t)(M * QKV) * 2);
  uint16_t* o = (uint16_t*)xmalloc((size_t)(M * H) * 2);
  uint16_t* h2 = (uint16_t*)xmalloc((size_t)(M * H) * 2);
  uint16_t* gu = (uint16_t*)xmalloc((size_t)(M * 2 * I) * 2);
  uint16_t* dn = (uint16_t*)xmalloc((size_t)(M * H) * 2);
  download(&b, qkv, L.buf[B_QKV], L.bytes[B_QKV]);
  download(&b, o, L.buf[B_O], L.bytes[B_O]);
  download(&b, h2, L.buf[B_H2], L.bytes[B_H2]);
  download(&b, gu, L.buf[B_GU], L.bytes[B_GU]);
  download(&b, dn, L.buf[B_D], L.bytes[B_D]);
  double err[NUM_STEPS];
  for (int i = 0; i < NUM_STEPS; ++i) err[i] = -1.0;
  err[STEP_QKV] = rel_error_bf16(qkv, md.ref_qkv, (size_t)(M * QKV));
  err[STEP_O] = rel_error_bf16(o, md.ref_o, (size_t)(M * H));
  err[STEP_NORM2] = rel_error_bf16(h2, md.ref_h2, (size_t)(M * H)); /* its residual_out h2 */
  err[STEP_GATE_UP] = rel_error_bf16(gu, md.ref_gu, (size_t)(M * 2 * I));
  err[STEP_DOWN] = rel_error_bf16(dn, md.ref_d, (size_t)(M * H));
  double num = 0.0, den = 0.0; /* the layer's output h2 + d */
  for (int64_t i = 0; i < M * H; ++i) {
    const double e = from_bf16(h2[i]) + from_bf16(dn[i]) - md.ref_out[i];
    num += e * e;
    den += md.ref_out[i] * md.ref_out[i];
  }
  const double layer_err = sqrt(num / den);

  const char* unit = b.gpu ? "us" : "ms";
  const double scale = b.gpu ? 1e3 : 1.0;
  double sum = 0.0;
  printf("%-20s %-21s %-36s %12s   %s\n", "step", "op", "kernel", "time", "rel. error of its output");
  for (int i = 0; i < NUM_STEPS; ++i) {
    const char* kernel = NULL;
    if (sq_plan_kernel_name(L.steps[i].plan, M, &kernel) != SQ_STATUS_SUCCESS || kernel == NULL) kernel = "-";
    char e[64] = "-";
    if (err[i] >= 0.0) snprintf(e, sizeof e, "%.3e%s", err[i], i == STEP_NORM2 ? " (h2 = o + x)" : "");
    printf("%-20s %-21s %-36s %9.1f %s   %s\n", L.steps[i].name, L.steps[i].op, kernel, ms[i] * scale, unit, e);
    sum += ms[i];
  }
  printf("%-20s %-21s %-36s %9.1f %s\n", "sum of the steps", "", "", sum * scale, unit);
  printf("%-20s %-21s %-36s %9.1f %s   %.3e (h2 + down against the double reference)\n", "layer", "7 ops in a row",
         "", layer_ms * scale, unit, layer_err);

  int ok = isfinite(layer_err) && layer_err < MAX_LAYER_ERROR;
  if (!ok) printf("FAIL: the layer's relative error %.3e is not below %.2g\n", layer_err, MAX_LAYER_ERROR);
  if (b.gpu && host_check) { /* the numerics contract: every output equals the host reference kernel's */
    Backend hb;
    memset(&hb, 0, sizeof hb);
    hb.pref = SQ_PREFERENCE_HOST_REFERENCE;
    Layer HL;
    layer_init(&HL, &md, hb);
    layer_run(&HL);
    int differ = 0;
    for (int i = FIRST_OUTPUT; i < NUM_BUFS; ++i) {
      void* g = xmalloc(L.bytes[i]);
      download(&b, g, L.buf[i], L.bytes[i]);
      if (memcmp(g, HL.buf[i].p, L.bytes[i]) != 0) {
        printf("FAIL: %s differs between the GPU and the host reference kernel\n", kBufNames[i]);
        differ = 1;
      }
      free(g);
    }
    if (!differ) printf("every output (q1, s1, qkv, o and its scales, q2, s2, h2, gate/up, q3, s3, down) bit for bit "
                        "equal to the host reference kernel's\n");
    ok = ok && !differ;
    layer_free(&HL);
  }
  layer_free(&L);
  free(qkv);
  free(o);
  free(h2);
  free(gu);
  free(dn);
  free_model(&md);
  if (b.gpu) {
    CHECK_CUDA(cudaEventDestroy(b.start));
    CHECK_CUDA(cudaEventDestroy(b.stop));
    CHECK_CUDA(cudaStreamDestroy(b.stream));
  }
  printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
