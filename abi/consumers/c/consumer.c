/*
 * A C99 program built against the INSTALLED libsmoothquant (pkg-config or the CMake
 * package). It runs one small SmoothQuant linear layer on the host reference kernel and
 * checks every output bit, then checks the dlopen function table and an error path.
 *
 * Inputs are small integers and the scales powers of two (act_scale 0.5, weight_scale
 * 0.25 * (n + 1)), so every product in the NUMERICS CONTRACT is exact in f32 and the
 * expected output equals the contract's formula evaluated exactly (here in f64).
 * Exit status 0 on success; otherwise a message on stderr names the first mismatch.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <smoothquant/smoothquant.h>

enum { kM = 3, kN = 5, kK = 24 };
static const double kActScale = 0.5;

static int g_failures = 0;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (!(cond)) {                                         \
      fprintf(stderr, "c consumer: FAILED %s: ", #cond);   \
      fprintf(stderr, __VA_ARGS__);                        \
      fprintf(stderr, "\n");                               \
      ++g_failures;                                        \
    }                                                      \
  } while (0)

#define CHECK_STATUS(call)                                                         \
  do {                                                                             \
    sq_status st_ = (call);                                                        \
    if (st_ != SQ_STATUS_SUCCESS) {                                                \
      fprintf(stderr, "c consumer: %s returned %s: %s\n", #call,                   \
              sq_status_string(st_), sq_last_error_message());                     \
      return 1;                                                                    \
    }                                                                              \
  } while (0)

static int8_t act_value(int m, int k) { return (int8_t)(((m * kK + k) * 7) % 17 - 8); }
static int8_t weight_value(int n, int k) { return (int8_t)(((n * 5 + k * 3) % 13) - 6); }
static float weight_scale_value(int n) { return 0.25f * (float)(n + 1); }
static float bias_value(int n) { return (float)n - 1.5f; }

static int check_version(void) {
  char expected[32];
  snprintf(expected, sizeof expected, "%d.%d.%d", SQ_VERSION_MAJOR, SQ_VERSION_MINOR,
           SQ_VERSION_PATCH);
  CHECK(sq_version() == SQ_VERSION_NUMBER, "library %u, header %d", (unsigned)sq_version(),
        SQ_VERSION_NUMBER);
  CHECK(strcmp(sq_version_string(), expected) == 0, "library \"%s\", header \"%s\"",
        sq_version_string(), expected);
  return 0;
}

/* The dlopen table must hand out exactly the functions this program linked. */
static int check_api_table(void) {
  const sq_api_table* t = sq_get_api();
  CHECK(t != NULL, "sq_get_api returned NULL");
  if (t == NULL) return 0;
  CHECK(t->struct_size >= sizeof(sq_api_table), "struct_size %u < %u", (unsigned)t->struct_size,
        (unsigned)sizeof(sq_api_table));
  CHECK(t->api_version >= SQ_API_TABLE_VERSION, "api_version %u", (unsigned)t->api_version);
  CHECK(SQ_API_TABLE_HAS(t, static_act_scale), "table lacks its last version-1 member");
  CHECK(SQ_API_TABLE_HAS(t, quantize_weight_per_channel_asymmetric), "table lacks its last version-2 member");
#define SAME(member, function) CHECK(t->member == &function, "table member " #member)
  SAME(version, sq_version);
  SAME(version_string, sq_version_string);
  SAME(status_string, sq_status_string);
  SAME(last_error_message, sq_last_error_message);
  SAME(plan_select, sq_plan_select);
  SAME(plan_can_implement, sq_plan_can_implement);
  SAME(plan_workspace_size, sq_plan_workspace_size);
  SAME(plan_precision_guarantee, sq_plan_precision_guarantee);
  SAME(plan_get_info, sq_plan_get_info);
  SAME(plan_kernel_name, sq_plan_kernel_name);
  SAME(plan_run, sq_plan_run);
  SAME(plan_destroy, sq_plan_destroy);
  SAME(smooth_factors, sq_smooth_factors);
  SAME(smooth_apply_to_norm, sq_smooth_apply_to_norm);
  SAME(smooth_apply_to_weight, sq_smooth_apply_to_weight);
  SAME(quantize_weight_per_channel, sq_quantize_weight_per_channel);
  SAME(static_act_scale, sq_static_act_scale);
  SAME(weight_sums, sq_weight_sums);
  SAME(quantize_weight_per_channel_asymmetric, sq_quantize_weight_per_channel_asymmetric);
#undef SAME
  CHECK(sq_get_api() == t, "sq_get_api must return the same static table");
  return 0;
}

/* The f32 linear of this consumer, with K = k. */
static void linear_desc(sq_plan_desc* desc, int64_t k) {
  memset(desc, 0, sizeof *desc);
  desc->struct_size = sizeof *desc;
  desc->op = SQ_OP_SMOOTHQUANT_LINEAR;
  desc->act_dtype = SQ_DTYPE_S8;
  desc->weight_dtype = SQ_DTYPE_S8;
  desc->scale_dtype = SQ_DTYPE_F32;
  desc->out_dtype = SQ_DTYPE_F32;
  desc->n = kN;
  desc->k = k;
  desc->max_m = kM;
  desc->act_scale = kActScale;
}

/* A descriptor with k = 0 is rejected with INVALID_ARGUMENT and a message, plan untouched. */
static int check_error_path(void) {
  sq_plan_desc desc;
  sq_plan untouched = (sq_plan)&desc; /* any non-null value: select must not write it */
  sq_plan plan = untouched;
  sq_status st;
  linear_desc(&desc, 0);
  st = sq_plan_select(NULL, &desc, SQ_PREFERENCE_HOST_REFERENCE, &plan);
  CHECK(st == SQ_STATUS_INVALID_ARGUMENT, "k = 0 gave %s", sq_status_string(st));
  CHECK(sq_last_error_message()[0] != '\0', "no error message after a failed select");
  CHECK(plan == untouched, "a failed select wrote *plan");
  CHECK(strcmp(sq_status_string(SQ_STATUS_SUCCESS), "SQ_STATUS_SUCCESS") == 0, "status name");
  return 0;
}

static int run_linear(void) {
  int8_t act[kM * kK], weight[kN * kK];
  float weight_scale[kN], bias[kN], act_scale_scratch[kM], out[kM * kN];
  sq_plan_desc desc;
  sq_run_args args;
  sq_plan_info info;
  sq_plan plan = NULL;
  const char* kernel = NULL;
  size_t workspace = 1;
  int m, n, k;

  for (m = 0; m < kM; ++m)
    for (k = 0; k < kK; ++k) act[m * kK + k] = act_value(m, k);
  for (n = 0; n < kN; ++n) {
    for (k = 0; k < kK; ++k) weight[n * kK + k] = weight_value(n, k);
    weight_scale[n] = weight_scale_value(n);
    bias[n] = bias_value(n);
  }
  for (m = 0; m < kM * kN; ++m) out[m] = NAN; /* poison: unwritten elements fail */
  for (m = 0; m < kM; ++m) act_scale_scratch[m] = NAN;

  linear_desc(&desc, kK);
  desc.host_threads = 1;
  CHECK_STATUS(sq_plan_select(NULL, &desc, SQ_PREFERENCE_HOST_REFERENCE, &plan));

  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  CHECK_STATUS(sq_plan_get_info(plan, &info));
  CHECK(info.family == SQ_KERNEL_FAMILY_HOST, "family %d", (int)info.family);
  CHECK(info.n == kN && info.k == kK && info.max_m == kM, "info shape");
  CHECK_STATUS(sq_plan_workspace_size(plan, &workspace));
  CHECK(workspace == 0, "workspace %zu for SMOOTHQUANT_LINEAR", workspace);
  CHECK_STATUS(sq_plan_kernel_name(plan, kM, &kernel));
  CHECK(kernel != NULL && kernel[0] != '\0', "empty kernel name");

  memset(&args, 0, sizeof args);
  args.struct_size = sizeof args;
  args.m = kM;
  args.act = act;
  args.weight = weight;
  args.weight_scale = weight_scale;
  args.bias = bias;
  args.act_scale_scratch = act_scale_scratch;
  args.out = out;
  CHECK_STATUS(sq_plan_can_implement(plan, &args));
  CHECK_STATUS(sq_plan_run(plan, NULL, NULL, 0, &args));

  for (m = 0; m < kM; ++m) {
    CHECK(act_scale_scratch[m] == (float)kActScale, "act_scale_scratch[%d] = %a", m,
          (double)act_scale_scratch[m]);
    for (n = 0; n < kN; ++n) {
      long acc = 0;
      double expected;
      for (k = 0; k < kK; ++k) acc += (long)act_value(m, k) * (long)weight_value(n, k);
      expected = (double)acc * kActScale * (double)weight_scale_value(n) + (double)bias_value(n);
      CHECK(out[m * kN + n] == (float)expected && (double)(float)expected == expected,
            "out[%d,%d] = %.9g, expected %.9g", m, n, (double)out[m * kN + n], expected);
    }
  }
  CHECK_STATUS(sq_plan_destroy(plan));
  return 0;
}

/* 0.2: the same layer through SQ_OP_SCALED_LINEAR with the caller's per-token scales (powers of two:
 * exact), and the 0.1-size descriptor and run arguments of a 0.1 caller still accepted. */
static int run_scaled_linear(void) {
  int8_t act[kM * kK], weight[kN * kK];
  float weight_scale[kN], act_scale[kM], out[kM * kN];
  sq_plan_desc desc;
  sq_run_args args;
  sq_precision_guarantee g;
  sq_plan plan = NULL;
  int m, n, k;

  for (m = 0; m < kM; ++m) {
    for (k = 0; k < kK; ++k) act[m * kK + k] = act_value(m, k);
    act_scale[m] = 0.125f * (float)(m + 1);
  }
  for (n = 0; n < kN; ++n) {
    for (k = 0; k < kK; ++k) weight[n * kK + k] = weight_value(n, k);
    weight_scale[n] = weight_scale_value(n);
  }
  for (m = 0; m < kM * kN; ++m) out[m] = NAN;
  memset(&desc, 0, sizeof desc);
  desc.struct_size = sizeof desc;
  desc.op = SQ_OP_SCALED_LINEAR;
  desc.act_dtype = SQ_DTYPE_S8;
  desc.weight_dtype = SQ_DTYPE_S8;
  desc.scale_dtype = SQ_DTYPE_F32;
  desc.out_dtype = SQ_DTYPE_F32;
  desc.n = kN;
  desc.k = kK;
  desc.max_m = kM;
  desc.host_threads = 1;
  CHECK_STATUS(sq_plan_select(NULL, &desc, SQ_PREFERENCE_HOST_REFERENCE, &plan));
  memset(&g, 0, sizeof g);
  g.struct_size = sizeof g;
  CHECK_STATUS(sq_plan_precision_guarantee(plan, &g));
  CHECK(g.max_k == SQ_MAX_K && g.accumulate_dtype == SQ_DTYPE_S32, "guarantee max_k %lld", (long long)g.max_k);
  memset(&args, 0, sizeof args);
  args.struct_size = sizeof args;
  args.m = kM;
  args.act = act;
  args.act_scale = act_scale;
  args.weight = weight;
  args.weight_scale = weight_scale;
  args.out = out;
  CHECK_STATUS(sq_plan_run(plan, NULL, NULL, 0, &args));
  for (m = 0; m < kM; ++m)
    for (n = 0; n < kN; ++n) {
      long acc = 0;
      double expected;
      for (k = 0; k < kK; ++k) acc += (long)act_value(m, k) * (long)weight_value(n, k);
      expected = (double)acc * (double)act_scale[m] * (double)weight_scale_value(n);
      CHECK(out[m * kN + n] == (float)expected, "scaled out[%d,%d] = %.9g, expected %.9g", m, n,
            (double)out[m * kN + n], expected);
    }
  CHECK_STATUS(sq_plan_destroy(plan));

  /* A 0.1 caller: struct sizes of 0.1, the new fields absent (read as zero). */
  linear_desc(&desc, kK);
  desc.struct_size = SQ_PLAN_DESC_SIZE_0_1;
  CHECK_STATUS(sq_plan_select(NULL, &desc, SQ_PREFERENCE_HOST_REFERENCE, &plan));
  memset(&args, 0, sizeof args);
  args.struct_size = SQ_RUN_ARGS_SIZE_0_1;
  args.m = kM;
  args.act = act;
  args.weight = weight;
  args.weight_scale = weight_scale;
  args.act_scale_scratch = act_scale;
  args.out = out;
  CHECK_STATUS(sq_plan_can_implement(plan, &args));
  CHECK_STATUS(sq_plan_destroy(plan));
  return 0;
}

int main(void) {
  if (check_version() || check_api_table() || check_error_path() || run_linear() || run_scaled_linear()) return 1;
  if (g_failures != 0) {
    fprintf(stderr, "c consumer: %d check(s) failed\n", g_failures);
    return 1;
  }
  printf("c consumer: libsmoothquant %s, %dx%d outputs exact on the host kernel\n",
         sq_version_string(), kM, kN);
  return 0;
}
