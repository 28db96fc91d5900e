/* A consumer written in C99 that links libsmoothquant.so: runs a small layer on the host
 * kernel and checks the exact expected output (integer inputs, power-of-two scales). */
#include <stdio.h>
#include <string.h>

#include "smoothquant/smoothquant.h"

#define M 3
#define N 4
#define K 5

int main(void) {
  int8_t act[M * K], w[N * K];
  float ws[N], bias[N], scratch[M], out[M * N];
  sq_plan_desc desc;
  sq_run_args args;
  sq_plan plan = NULL;
  sq_status st;
  int m, n, k, bad = 0;

  for (m = 0; m < M; ++m)
    for (k = 0; k < K; ++k) act[m * K + k] = (int8_t)((m + 1) * (k - 2) * 9 - 60);
  for (n = 0; n < N; ++n) {
    for (k = 0; k < K; ++k) w[n * K + k] = (int8_t)(127 - 31 * n - 13 * k);
    ws[n] = 0.25f * (float)(n + 1);
    bias[n] = (float)n - 1.5f;
  }
  memset(&desc, 0, sizeof(desc));
  desc.struct_size = sizeof(desc);
  desc.op = SQ_OP_SMOOTHQUANT_LINEAR;
  desc.act_dtype = SQ_DTYPE_S8;
  desc.weight_dtype = SQ_DTYPE_S8;
  desc.scale_dtype = SQ_DTYPE_F32;
  desc.out_dtype = SQ_DTYPE_F32;
  desc.n = N;
  desc.k = K;
  desc.max_m = M;
  desc.act_scale = 0.5;
  st = sq_plan_select(NULL, &desc, SQ_PREFERENCE_HOST_REFERENCE, &plan);
  if (st != SQ_STATUS_SUCCESS) {
    printf("select failed: %s: %s\n", sq_status_string(st), sq_last_error_message());
    return 1;
  }
  memset(&args, 0, sizeof(args));
  args.struct_size = sizeof(args);
  args.m = M;
  args.act = act;
  args.weight = w;
  args.weight_scale = ws;
  args.bias = bias;
  args.act_scale_scratch = scratch;
  args.out = out;
  st = sq_plan_run(plan, NULL, NULL, 0, &args);
  if (st != SQ_STATUS_SUCCESS) {
    printf("run failed: %s: %s\n", sq_status_string(st), sq_last_error_message());
    return 1;
  }
  for (m = 0; m < M; ++m) {
    if (scratch[m] != 0.5f) bad = 1;
    for (n = 0; n < N; ++n) {
      int32_t acc = 0;
      for (k = 0; k < K; ++k) acc += (int32_t)act[m * K + k] * (int32_t)w[n * K + k];
      /* Small integers times powers of two: every step is exact, so the value is certain. */
      if (out[m * N + n] != ((float)acc * 0.5f) * ws[n] + bias[n]) {
        printf("mismatch at (%d,%d): %g\n", m, n, (double)out[m * N + n]);
        bad = 1;
      }
    }
  }
  sq_plan_destroy(plan);

  /* 0.2: the table has version 2's members, and SCALE_ACCUMULATORS applies the epilogue to given
   * accumulators (powers of two: exact). */
  {
    const sq_api_table* t = sq_get_api();
    int32_t acc[M * N];
    float rs[M];
    if (t->api_version < 2 || !SQ_API_TABLE_HAS(t, quantize_weight_per_channel_asymmetric) ||
        t->weight_sums != &sq_weight_sums)
      bad = 1;
    memset(&desc, 0, sizeof(desc));
    desc.struct_size = sizeof(desc);
    desc.op = SQ_OP_SCALE_ACCUMULATORS;
    desc.act_dtype = SQ_DTYPE_S32;
    desc.scale_dtype = SQ_DTYPE_F32;
    desc.out_dtype = SQ_DTYPE_F32;
    desc.n = N;
    desc.max_m = M;
    for (m = 0; m < M; ++m) {
      rs[m] = 0.5f * (float)(m + 1);
      for (n = 0; n < N; ++n) acc[m * N + n] = (m - 1) * 1000 + n * 7;
    }
    st = sq_plan_select(NULL, &desc, SQ_PREFERENCE_HOST_REFERENCE, &plan);
    if (st != SQ_STATUS_SUCCESS) {
      printf("select failed: %s: %s\n", sq_status_string(st), sq_last_error_message());
      return 1;
    }
    memset(&args, 0, sizeof(args));
    args.struct_size = sizeof(args);
    args.m = M;
    args.act = acc;
    args.act_scale = rs;
    args.weight_scale = ws;
    args.bias = bias;
    args.out = out;
    st = sq_plan_run(plan, NULL, NULL, 0, &args);
    if (st != SQ_STATUS_SUCCESS) {
      printf("run failed: %s: %s\n", sq_status_string(st), sq_last_error_message());
      return 1;
    }
    for (m = 0; m < M; ++m)
      for (n = 0; n < N; ++n)
        if (out[m * N + n] != ((float)acc[m * N + n] * rs[m]) * ws[n] + bias[n]) {
          printf("SCALE_ACCUMULATORS mismatch at (%d,%d): %g\n", m, n, (double)out[m * N + n]);
          bad = 1;
        }
    sq_plan_destroy(plan);
  }
  printf("C consumer (libsmoothquant %s): %s\n", sq_version_string(), bad ? "FAILED" : "ok");
  return bad;
}
