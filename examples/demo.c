/*
 * libsmoothquant demo (C99).
 *
 * (a) One small SmoothQuant W8A8 linear: plan, run, a few outputs and the kernel used; on the GPU
 *     when one is present (SQ_PREFERENCE_FASTEST, buffers from cudaMalloc), else on the host
 *     reference kernel (SQ_PREFERENCE_HOST_REFERENCE). On the GPU the result is also checked bit for
 *     bit against the host reference kernel.
 * (b) The SmoothQuant workflow on synthetic activations with a few outlier channels, as in the
 *     SmoothQuant paper: a float reference (double accumulation), naive W8A8 (no smoothing) and
 *     SmoothQuant W8A8 at several alpha, each with a static per-tensor activation scale
 *     (sq_static_act_scale + SQ_OP_QUANTIZE_STATIC + SQ_OP_SMOOTHQUANT_LINEAR) and with dynamic
 *     per-token scales (SQ_OP_QUANTIZED_LINEAR). Prints ||y - ref|| / ||ref|| for each, and the time
 *     of each step (cudaEvent on the GPU, wall clock on the host).
 *
 * Usage: sq_demo [--host]   (--host: use the host reference kernel even when a GPU is present)
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

/* Shapes of part (b): tokens, input features, output features, calibration tokens. */
#define DEMO_M 64
#define DEMO_K 1024
#define DEMO_N 1024
#define DEMO_CALIB_M 256
/* Outlier channels: how many, and how much larger than the others. */
#define DEMO_OUTLIERS 8
#define DEMO_OUTLIER_GAIN 60.0
/* Weight standard deviation (no outliers in the weights). */
#define DEMO_WEIGHT_STD 0.02
/* Timed repetitions of each GPU step (after one warm-up run). */
#define DEMO_GPU_REPS 20

static const float kAlphas[] = {0.5f, 0.75f, 0.85f};
#define DEMO_NUM_ALPHAS ((int)(sizeof(kAlphas) / sizeof(kAlphas[0])))

/* ------------------------------------------------------------ error checks */
static void die_sq(sq_status s, const char* call, int line) {
  fprintf(stderr, "demo.c:%d: %s failed: %s: %s\n", line, call, sq_status_string(s), sq_last_error_message());
  exit(1);
}
#define CHECK_SQ(call)                                 \
  do {                                                 \
    sq_status check_sq_ = (call);                      \
    if (check_sq_ != SQ_STATUS_SUCCESS) die_sq(check_sq_, #call, __LINE__); \
  } while (0)

static void die_cuda(cudaError_t e, const char* call, int line) {
  fprintf(stderr, "demo.c:%d: %s failed: %s (%s)\n", line, call, cudaGetErrorName(e), cudaGetErrorString(e));
  exit(1);
}
#define CHECK_CUDA(call)                               \
  do {                                                 \
    cudaError_t check_cuda_ = (call);                  \
    if (check_cuda_ != cudaSuccess) die_cuda(check_cuda_, #call, __LINE__); \
  } while (0)

/* ------------------------------------------------------------ backend: GPU or host memory */
typedef struct {
  int gpu;                /* 1: GPU plans and device memory; 0: host reference kernel */
  sq_preference pref;
  cudaStream_t stream;
  cudaEvent_t start, stop;
} Backend;

typedef struct {
  void* p;     /* 16-byte aligned (device pointers from cudaMalloc are 256-byte aligned) */
  void* base;  /* what to free */
} Mem;

static Mem mem_alloc(const Backend* b, size_t bytes) {
  Mem m;
  if (bytes == 0) bytes = 1;
  if (b->gpu) {
    CHECK_CUDA(cudaMalloc(&m.base, bytes));
    m.p = m.base;
  } else {
    m.base = malloc(bytes + 16);
    if (m.base == NULL) {
      fprintf(stderr, "demo: out of host memory\n");
      exit(1);
    }
    m.p = (void*)(((uintptr_t)m.base + 15u) & ~(uintptr_t)15u);
  }
  return m;
}
static void mem_free(const Backend* b, Mem m) {
  if (b->gpu) cudaFree(m.base);
  else free(m.base);
}
static void upload(const Backend* b, Mem dst, const void* src, size_t bytes) {
  if (b->gpu) CHECK_CUDA(cudaMemcpy(dst.p, src, bytes, cudaMemcpyHostToDevice));
  else memcpy(dst.p, src, bytes);
}
static void download(const Backend* b, void* dst, Mem src, size_t bytes) {
  if (b->gpu) CHECK_CUDA(cudaMemcpy(dst, src.p, bytes, cudaMemcpyDeviceToHost));
  else memcpy(dst, src.p, bytes);
}
static Mem mem_from(const Backend* b, const void* src, size_t bytes) {
  Mem m = mem_alloc(b, bytes);
  upload(b, m, src, bytes);
  return m;
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* Runs `plan` once (host), or once plus DEMO_GPU_REPS timed runs (GPU); returns ms per run. */
static double run_timed(const Backend* b, sq_plan plan, void* workspace, size_t ws_bytes, const sq_run_args* args) {
  if (!b->gpu) {
    const double t0 = now_ms();
    CHECK_SQ(sq_plan_run(plan, NULL, workspace, ws_bytes, args));
    return now_ms() - t0;
  }
  sq_stream s = (sq_stream)b->stream;
  CHECK_SQ(sq_plan_run(plan, s, workspace, ws_bytes, args)); /* warm-up */
  CHECK_CUDA(cudaEventRecord(b->start, b->stream));
  for (int i = 0; i < DEMO_GPU_REPS; ++i) CHECK_SQ(sq_plan_run(plan, s, workspace, ws_bytes, args));
  CHECK_CUDA(cudaEventRecord(b->stop, b->stream));
  CHECK_CUDA(cudaEventSynchronize(b->stop));
  float ms = 0.0f;
  CHECK_CUDA(cudaEventElapsedTime(&ms, b->start, b->stop));
  return (double)ms / DEMO_GPU_REPS;
}

/* ------------------------------------------------------------ synthetic data */
static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static double uniform01(void) { /* xorshift64*, 53 random bits in (0, 1) */
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return ((double)((g_rng * 0x2545f4914f6cdd1dull) >> 11) + 0.5) / 9007199254740992.0;
}
static double gaussian(void) { /* Box-Muller */
  const double u = uniform01(), v = uniform01();
  return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static sq_plan_desc make_desc(sq_op op, sq_dtype act, sq_dtype weight, sq_dtype scale, sq_dtype out, int64_t n,
                              int64_t k, int64_t max_m, double act_scale) {
  sq_plan_desc d;
  memset(&d, 0, sizeof(d));
  d.struct_size = sizeof(d);
  d.op = op;
  d.act_dtype = act;
  d.weight_dtype = weight;
  d.scale_dtype = scale;
  d.out_dtype = out;
  d.n = n;
  d.k = k;
  d.max_m = max_m;
  d.act_scale = act_scale;
  return d;
}

static sq_run_args make_args(int64_t m) {
  sq_run_args a;
  memset(&a, 0, sizeof(a));
  a.struct_size = sizeof(a);
  a.m = m;
  return a;
}

static double rel_error(const float* y, const double* ref, size_t n) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double d = (double)y[i] - ref[i];
    num += d * d;
    den += ref[i] * ref[i];
  }
  return sqrt(num / den);
}

/* ------------------------------------------------------------ part (a) */
static void part_a(const Backend* b) {
  enum { M = 4, N = 8, K = 64 };
  int8_t act[M * K], w[N * K];
  float wscale[N], bias[N], out[M * N], scratch[M];
  for (int i = 0; i < M * K; ++i) act[i] = (int8_t)((int)(uniform01() * 256.0) - 128);
  for (int i = 0; i < N * K; ++i) w[i] = (int8_t)((int)(uniform01() * 256.0) - 128);
  for (int i = 0; i < N; ++i) {
    wscale[i] = (float)(0.001 + 0.01 * uniform01());
    bias[i] = (float)(uniform01() - 0.5);
  }
  const double act_scale = 0.05;
  sq_plan_desc d = make_desc(SQ_OP_SMOOTHQUANT_LINEAR, SQ_DTYPE_S8, SQ_DTYPE_S8, SQ_DTYPE_F32, SQ_DTYPE_F32, N, K, M,
                             act_scale);
  sq_plan plan;
  CHECK_SQ(sq_plan_select((sq_stream)b->stream, &d, b->pref, &plan));
  const char* kernel = NULL;
  CHECK_SQ(sq_plan_kernel_name(plan, M, &kernel));
  Mem da = mem_from(b, act, sizeof(act)), dw = mem_from(b, w, sizeof(w)), dws = mem_from(b, wscale, sizeof(wscale)),
      db = mem_from(b, bias, sizeof(bias)), dout = mem_alloc(b, sizeof(out)), dsc = mem_alloc(b, sizeof(scratch));
  sq_run_args a = make_args(M);
  a.act = da.p;
  a.weight = dw.p;
  a.weight_scale = dws.p;
  a.bias = db.p;
  a.act_scale_scratch = dsc.p;
  a.out = dout.p;
  CHECK_SQ(sq_plan_run(plan, (sq_stream)b->stream, NULL, 0, &a));
  if (b->gpu) CHECK_CUDA(cudaStreamSynchronize(b->stream));
  download(b, out, dout, sizeof(out));
  printf("(a) SmoothQuant linear, M=%d N=%d K=%d, act_scale %.3g, f32 scales and bias\n", M, N, K, act_scale);
  printf("    kernel: %s (%s)\n", kernel, b->gpu ? "GPU" : "host reference kernel");
  printf("    out[0][0..3] = %.6f %.6f %.6f %.6f\n", out[0], out[1], out[2], out[3]);
  if (b->gpu) { /* the numerics contract: the GPU result equals the host reference bit for bit */
    float host_out[M * N], host_scratch[M];
    sq_plan hp;
    CHECK_SQ(sq_plan_select(NULL, &d, SQ_PREFERENCE_HOST_REFERENCE, &hp));
    a.act = act;
    a.weight = w;
    a.weight_scale = wscale;
    a.bias = bias;
    a.act_scale_scratch = host_scratch;
    a.out = host_out;
    CHECK_SQ(sq_plan_run(hp, NULL, NULL, 0, &a));
    printf("    bit for bit equal to the host reference kernel: %s\n",
           memcmp(out, host_out, sizeof(out)) == 0 ? "yes" : "NO");
    CHECK_SQ(sq_plan_destroy(hp));
  }
  mem_free(b, da);
  mem_free(b, dw);
  mem_free(b, dws);
  mem_free(b, db);
  mem_free(b, dout);
  mem_free(b, dsc);
  CHECK_SQ(sq_plan_destroy(plan));
}

/* ------------------------------------------------------------ part (b) */
typedef struct {
  double err_static, err_dynamic;
  double ms_quantize, ms_linear, ms_quantized_linear;
} Result;

/* One W8A8 configuration. smooth == NULL: naive W8A8. Weights W [N,K] f32 are smoothed (when
 * smooth is given) and quantized per output channel; x is the [M,K] f32 activation. */
static Result run_w8a8(const Backend* b, const float* W, const float* absmax, const float* smooth,
                       const double* ref, Mem dx) {
  const size_t wk = (size_t)DEMO_N * DEMO_K;
  Result r;
  float* ws = (float*)malloc(wk * sizeof(float));
  int8_t* wq = (int8_t*)malloc(wk);
  float* wscale = (float*)malloc(DEMO_N * sizeof(float));
  float* y = (float*)malloc((size_t)DEMO_M * DEMO_N * sizeof(float));
  if (!ws || !wq || !wscale || !y) {
    fprintf(stderr, "demo: out of host memory\n");
    exit(1);
  }
  /* Offline: fold the smoothing into the weight's input channels, quantize per output channel. */
  memcpy(ws, W, wk * sizeof(float));
  if (smooth != NULL) CHECK_SQ(sq_smooth_apply_to_weight(DEMO_K, smooth, SQ_DTYPE_F32, DEMO_N, 0, ws));
  sq_matrix_view wv;
  memset(&wv, 0, sizeof(wv));
  wv.struct_size = sizeof(wv);
  wv.dtype = SQ_DTYPE_F32;
  wv.rows = DEMO_N;
  wv.cols = DEMO_K;
  wv.data = ws;
  CHECK_SQ(sq_quantize_weight_per_channel(&wv, wq, 0, SQ_DTYPE_F32, wscale));
  double act_scale = 0.0;
  CHECK_SQ(sq_static_act_scale(DEMO_K, absmax, smooth, &act_scale));

  Mem dwq = mem_from(b, wq, wk), dwscale = mem_from(b, wscale, DEMO_N * sizeof(float));
  Mem dsmooth = mem_from(b, smooth ? (const void*)smooth : (const void*)absmax, DEMO_K * sizeof(float));
  Mem dq = mem_alloc(b, (size_t)DEMO_M * DEMO_K), dy = mem_alloc(b, (size_t)DEMO_M * DEMO_N * sizeof(float));
  Mem dscratch = mem_alloc(b, DEMO_M * sizeof(float));

  /* Static: q = quantize(x / smooth, act_scale), then the W8A8 linear with that act_scale. */
  sq_plan pq, pl, pd;
  sq_plan_desc dq_desc = make_desc(SQ_OP_QUANTIZE_STATIC, SQ_DTYPE_F32, 0, smooth ? SQ_DTYPE_F32 : SQ_DTYPE_INVALID,
                                   SQ_DTYPE_S8, 0, DEMO_K, DEMO_M, act_scale);
  CHECK_SQ(sq_plan_select((sq_stream)b->stream, &dq_desc, b->pref, &pq));
  sq_run_args aq = make_args(DEMO_M);
  aq.act = dx.p;
  aq.smooth = smooth ? dsmooth.p : NULL;
  aq.out = dq.p;
  r.ms_quantize = run_timed(b, pq, NULL, 0, &aq);

  sq_plan_desc dl_desc = make_desc(SQ_OP_SMOOTHQUANT_LINEAR, SQ_DTYPE_S8, SQ_DTYPE_S8, SQ_DTYPE_F32, SQ_DTYPE_F32,
                                   DEMO_N, DEMO_K, DEMO_M, act_scale);
  CHECK_SQ(sq_plan_select((sq_stream)b->stream, &dl_desc, b->pref, &pl));
  sq_run_args al = make_args(DEMO_M);
  al.act = dq.p;
  al.weight = dwq.p;
  al.weight_scale = dwscale.p;
  al.act_scale_scratch = dscratch.p;
  al.out = dy.p;
  r.ms_linear = run_timed(b, pl, NULL, 0, &al);
  if (b->gpu) CHECK_CUDA(cudaStreamSynchronize(b->stream));
  download(b, y, dy, (size_t)DEMO_M * DEMO_N * sizeof(float));
  r.err_static = rel_error(y, ref, (size_t)DEMO_M * DEMO_N);

  /* Dynamic: x (f32) -> per-token int8 (x / smooth fused) -> the same W8A8 kernel, one call. */
  sq_plan_desc dd_desc = make_desc(SQ_OP_QUANTIZED_LINEAR, SQ_DTYPE_F32, SQ_DTYPE_S8, SQ_DTYPE_F32, SQ_DTYPE_F32,
                                   DEMO_N, DEMO_K, DEMO_M, 0.0);
  CHECK_SQ(sq_plan_select((sq_stream)b->stream, &dd_desc, b->pref, &pd));
  size_t ws_bytes = 0;
  CHECK_SQ(sq_plan_workspace_size(pd, &ws_bytes));
  Mem work = mem_alloc(b, ws_bytes);
  sq_run_args ad = make_args(DEMO_M);
  ad.act = dx.p;
  ad.weight = dwq.p;
  ad.weight_scale = dwscale.p;
  ad.smooth = smooth ? dsmooth.p : NULL;
  ad.act_scale_scratch = dscratch.p;
  ad.out = dy.p;
  r.ms_quantized_linear = run_timed(b, pd, work.p, ws_bytes, &ad);
  if (b->gpu) CHECK_CUDA(cudaStreamSynchronize(b->stream));
  download(b, y, dy, (size_t)DEMO_M * DEMO_N * sizeof(float));
  r.err_dynamic = rel_error(y, ref, (size_t)DEMO_M * DEMO_N);

  CHECK_SQ(sq_plan_destroy(pq));
  CHECK_SQ(sq_plan_destroy(pl));
  CHECK_SQ(sq_plan_destroy(pd));
  mem_free(b, work);
  mem_free(b, dwq);
  mem_free(b, dwscale);
  mem_free(b, dsmooth);
  mem_free(b, dq);
  mem_free(b, dy);
  mem_free(b, dscratch);
  free(ws);
  free(wq);
  free(wscale);
  free(y);
  return r;
}

static void part_b(const Backend* b) {
  const size_t mk = (size_t)DEMO_M * DEMO_K, nk = (size_t)DEMO_N * DEMO_K, mn = (size_t)DEMO_M * DEMO_N;
  float* x = (float*)malloc(mk * sizeof(float));
  float* W = (float*)malloc(nk * sizeof(float));
  float* gain = (float*)malloc(DEMO_K * sizeof(float));
  float* absmax = (float*)calloc(DEMO_K, sizeof(float));
  float* smooth = (float*)malloc(DEMO_K * sizeof(float));
  double* ref = (double*)malloc(mn * sizeof(double));
  if (!x || !W || !gain || !absmax || !smooth || !ref) {
    fprintf(stderr, "demo: out of host memory\n");
    exit(1);
  }
  /* Channel gains: mostly around 1, a few outlier channels DEMO_OUTLIER_GAIN times larger. */
  for (int k = 0; k < DEMO_K; ++k) gain[k] = (float)(0.5 + uniform01());
  for (int i = 0; i < DEMO_OUTLIERS; ++i) gain[(i * 131 + 17) % DEMO_K] = (float)DEMO_OUTLIER_GAIN;
  /* Calibration: per-channel max |x| over DEMO_CALIB_M tokens (a different batch than the test). */
  for (int m = 0; m < DEMO_CALIB_M; ++m)
    for (int k = 0; k < DEMO_K; ++k) {
      const float v = (float)fabs(gaussian() * gain[k]);
      if (v > absmax[k]) absmax[k] = v;
    }
  for (size_t i = 0; i < mk; ++i) x[i] = (float)(gaussian() * gain[i % DEMO_K]);
  for (size_t i = 0; i < nk; ++i) W[i] = (float)(gaussian() * DEMO_WEIGHT_STD);
  /* Float reference with double accumulation. */
  for (int m = 0; m < DEMO_M; ++m)
    for (int n = 0; n < DEMO_N; ++n) {
      double acc = 0.0;
      for (int k = 0; k < DEMO_K; ++k) acc += (double)x[(size_t)m * DEMO_K + k] * (double)W[(size_t)n * DEMO_K + k];
      ref[(size_t)m * DEMO_N + n] = acc;
    }
  Mem dx = mem_from(b, x, mk * sizeof(float));

  printf("\n(b) SmoothQuant workflow: M=%d tokens, K=%d, N=%d, %d outlier channels (x%.0f), calibration on %d "
         "other tokens\n",
         DEMO_M, DEMO_K, DEMO_N, DEMO_OUTLIERS, DEMO_OUTLIER_GAIN, DEMO_CALIB_M);
  printf("    relative error ||y - ref|| / ||ref|| against the float reference (double accumulation)\n");
  printf("    time per step: %s\n\n",
         b->gpu ? "GPU, cudaEvent, mean of 20 runs" : "host reference kernel, wall clock, one run");
  printf("    %-26s %6s  %12s %12s   %11s %11s %13s\n", "method", "alpha", "static err", "dynamic err",
         "quantize", "linear", "quant+linear");
  const char* unit = b->gpu ? "us" : "ms";
  const double to_unit = b->gpu ? 1e3 : 1.0;
  Result naive = run_w8a8(b, W, absmax, NULL, ref, dx);
  printf("    %-26s %6s  %12.3e %12.3e   %8.1f %s %8.1f %s %10.1f %s\n", "naive W8A8 (no smoothing)", "-",
         naive.err_static, naive.err_dynamic, naive.ms_quantize * to_unit, unit, naive.ms_linear * to_unit, unit,
         naive.ms_quantized_linear * to_unit, unit);
  Result best = naive;
  float best_alpha = -1.0f;
  for (int i = 0; i < DEMO_NUM_ALPHAS; ++i) {
    sq_matrix_view wv;
    memset(&wv, 0, sizeof(wv));
    wv.struct_size = sizeof(wv);
    wv.dtype = SQ_DTYPE_F32;
    wv.rows = DEMO_N;
    wv.cols = DEMO_K;
    wv.data = W;
    CHECK_SQ(sq_smooth_factors(DEMO_K, absmax, &wv, 1, kAlphas[i], smooth));
    Result r = run_w8a8(b, W, absmax, smooth, ref, dx);
    printf("    %-26s %6.2f  %12.3e %12.3e   %8.1f %s %8.1f %s %10.1f %s\n", "SmoothQuant W8A8", kAlphas[i],
           r.err_static, r.err_dynamic, r.ms_quantize * to_unit, unit, r.ms_linear * to_unit, unit,
           r.ms_quantized_linear * to_unit, unit);
    if (r.err_static < best.err_static) {
      best = r;
      best_alpha = kAlphas[i];
    }
  }
  if (best_alpha > 0.0f)
    printf("\n    smoothing (alpha %.2f) cuts the static per-tensor error %.1fx and the dynamic per-token error "
           "%.1fx\n",
           best_alpha, naive.err_static / best.err_static, naive.err_dynamic / best.err_dynamic);
  else
    printf("\n    smoothing did not reduce the static error on this data\n");
  mem_free(b, dx);
  free(x);
  free(W);
  free(gain);
  free(absmax);
  free(smooth);
  free(ref);
}

/* Why the CUDA runtime found no GPU, in plain words (cudaGetDeviceCount's error e). */
static void why_no_gpu(cudaError_t e, int count, char* why, size_t size) {
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver); /* 0: no driver installed */
  cudaRuntimeGetVersion(&runtime);
  if (e == cudaSuccess && count == 0)
    snprintf(why, size, "the NVIDIA driver found no CUDA GPU");
  else if (driver == 0)
    snprintf(why, size, "no NVIDIA driver is installed, so no GPU can be used");
  else if (e == cudaErrorInsufficientDriver)
    snprintf(why, size, "the NVIDIA driver (CUDA %d.%d) is older than this build's CUDA runtime (%d.%d)",
             driver / 1000, driver % 1000 / 10, runtime / 1000, runtime % 1000 / 10);
  else if (e == cudaErrorNoDevice)
    snprintf(why, size, "the NVIDIA driver (CUDA %d.%d) found no CUDA GPU", driver / 1000, driver % 1000 / 10);
  else
    snprintf(why, size, "no usable CUDA GPU (%s: %s)", cudaGetErrorName(e), cudaGetErrorString(e));
  cudaGetLastError();
}

int main(int argc, char** argv) {
  Backend b;
  memset(&b, 0, sizeof(b));
  int force_host = argc > 1 && strcmp(argv[1], "--host") == 0;
  printf("libsmoothquant %s demo\n", sq_version_string());
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (force_host) {
    printf("running on the host reference kernel: --host was given\n\n");
  } else if (e != cudaSuccess || count == 0) {
    char why[160];
    why_no_gpu(e, count, why, sizeof why);
    printf("no GPU: %s.\nrunning on the host reference kernel (the CPU; the GPU kernels give the same bits)\n\n",
           why);
  } else {
    /* Probe: can the library run on this GPU? (SQ_PREFERENCE_FASTEST never falls back by itself.) */
    sq_plan_desc d = make_desc(SQ_OP_SMOOTHQUANT_LINEAR, SQ_DTYPE_S8, SQ_DTYPE_S8, SQ_DTYPE_F32, SQ_DTYPE_F32, 16,
                               16, 1, 1.0);
    sq_plan probe;
    const sq_status s = sq_plan_select(NULL, &d, SQ_PREFERENCE_FASTEST, &probe);
    if (s == SQ_STATUS_SUCCESS) {
      struct cudaDeviceProp prop;
      CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
      printf("running on the GPU: %s (sm_%d%d, %d SMs), SQ_PREFERENCE_FASTEST\n\n", prop.name, prop.major,
             prop.minor, prop.multiProcessorCount);
      CHECK_SQ(sq_plan_destroy(probe));
      b.gpu = 1;
    } else {
      printf("running on the host reference kernel: a GPU is present but the library cannot use it (%s: %s)\n\n",
             sq_status_string(s), sq_last_error_message());
    }
  }
  if (b.gpu) {
    b.pref = SQ_PREFERENCE_FASTEST;
    CHECK_CUDA(cudaStreamCreate(&b.stream));
    CHECK_CUDA(cudaEventCreate(&b.start));
    CHECK_CUDA(cudaEventCreate(&b.stop));
  } else {
    b.pref = SQ_PREFERENCE_HOST_REFERENCE;
    b.stream = NULL;
  }
  part_a(&b);
  part_b(&b);
  if (b.gpu) {
    CHECK_CUDA(cudaEventDestroy(b.start));
    CHECK_CUDA(cudaEventDestroy(b.stop));
    CHECK_CUDA(cudaStreamDestroy(b.stream));
  }
  return 0;
}
