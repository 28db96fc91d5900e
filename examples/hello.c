/* hello.c: one SmoothQuant W8A8 linear, out = ((float)(act_q . weight_q) * act_scale) * weight_scale + bias,
 * on the host reference kernel (runs anywhere), then on the GPU when there is one, checked bit for bit. */
#include <stdio.h>
#include <string.h>

#include <cuda_runtime_api.h>
#include <smoothquant/smoothquant.h>

enum { M = 2, N = 8, K = 64 };

/* Plan, run, destroy; prints what went wrong and returns non-zero on failure. */
static int linear(sq_preference pref, const sq_run_args* args, const char* where) {
  sq_plan_desc desc;
  memset(&desc, 0, sizeof desc);
  desc.struct_size = sizeof desc;
  desc.op = SQ_OP_SMOOTHQUANT_LINEAR;
  desc.act_dtype = SQ_DTYPE_S8;
  desc.weight_dtype = SQ_DTYPE_S8;
  desc.scale_dtype = desc.out_dtype = SQ_DTYPE_F32;
  desc.n = N;
  desc.k = K;
  desc.max_m = M;
  desc.act_scale = 0.05; /* the static per-tensor activation scale */
  sq_plan plan;
  sq_status st = sq_plan_select(NULL, &desc, pref, &plan);
  if (st == SQ_STATUS_SUCCESS) {
    const char* kernel = "?";
    sq_plan_kernel_name(plan, M, &kernel);
    printf("%s: kernel %s\n", where, kernel);
    st = sq_plan_run(plan, NULL, NULL, 0, args); /* the default stream; host plans run now */
    sq_plan_destroy(plan);
  }
  if (st != SQ_STATUS_SUCCESS) fprintf(stderr, "%s: %s: %s\n", where, sq_status_string(st), sq_last_error_message());
  return st != SQ_STATUS_SUCCESS;
}

int main(void) {
  int8_t act[M * K], w[N * K];
  float wscale[N], bias[N], scratch[M], out[M * N], gpu_out[M * N];
  for (int i = 0; i < M * K; ++i) act[i] = (int8_t)(i * 37 % 255 - 127);
  for (int i = 0; i < N * K; ++i) w[i] = (int8_t)(i * 91 % 253 - 126);
  for (int n = 0; n < N; ++n) {
    wscale[n] = 0.001f * (float)(n + 1);
    bias[n] = 0.5f * (float)n - 2.0f;
  }
  printf("libsmoothquant %s\n", sq_version_string());

  sq_run_args args;
  memset(&args, 0, sizeof args);
  args.struct_size = sizeof args;
  args.m = M;
  args.act = act;
  args.weight = w;
  args.weight_scale = wscale;
  args.bias = bias;
  args.act_scale_scratch = scratch; /* receives (float)act_scale per row */
  args.out = out;
  if (linear(SQ_PREFERENCE_HOST_REFERENCE, &args, "host")) return 1;
  printf("out[0][0..3] = %.6f %.6f %.6f %.6f\n", out[0], out[1], out[2], out[3]);

  int gpus = 0;
  if (cudaGetDeviceCount(&gpus) != cudaSuccess || gpus == 0) {
    printf("no CUDA GPU: the host reference kernel only\n");
    return 0;
  }
  void *d_act, *d_w, *d_ws, *d_bias, *d_scratch, *d_out; /* device copies of every operand */
  if (cudaMalloc(&d_act, sizeof act) || cudaMalloc(&d_w, sizeof w) || cudaMalloc(&d_ws, sizeof wscale) ||
      cudaMalloc(&d_bias, sizeof bias) || cudaMalloc(&d_scratch, sizeof scratch) || cudaMalloc(&d_out, sizeof out)) {
    fprintf(stderr, "cudaMalloc failed\n");
    return 1;
  }
  cudaMemcpy(d_act, act, sizeof act, cudaMemcpyHostToDevice);
  cudaMemcpy(d_w, w, sizeof w, cudaMemcpyHostToDevice);
  cudaMemcpy(d_ws, wscale, sizeof wscale, cudaMemcpyHostToDevice);
  cudaMemcpy(d_bias, bias, sizeof bias, cudaMemcpyHostToDevice);
  args.act = d_act;
  args.weight = d_w;
  args.weight_scale = d_ws;
  args.bias = d_bias;
  args.act_scale_scratch = d_scratch;
  args.out = d_out;
  if (linear(SQ_PREFERENCE_FASTEST, &args, "GPU")) return 1;
  if (cudaMemcpy(gpu_out, d_out, sizeof gpu_out, cudaMemcpyDeviceToHost) != cudaSuccess) { /* waits for the run */
    fprintf(stderr, "cudaMemcpy failed\n");
    return 1;
  }
  const int same = memcmp(out, gpu_out, sizeof out) == 0;
  printf("GPU result bit for bit equal to the host kernel's: %s\n", same ? "yes" : "NO");
  cudaFree(d_act);
  cudaFree(d_w);
  cudaFree(d_ws);
  cudaFree(d_bias);
  cudaFree(d_scratch);
  cudaFree(d_out);
  return same ? 0 : 1;
}
