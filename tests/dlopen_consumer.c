/* Loads libsmoothquant by path with dlopen only (no link-time dependency), gets the function
 * table through sq_get_api, and runs a plan on the host kernel. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "smoothquant/smoothquant.h"

int main(int argc, char** argv) {
  void* lib;
  sq_get_api_fn get_api;
  const sq_api_table* api;
  sq_plan_desc desc;
  sq_run_args args;
  sq_plan plan = NULL;
  int8_t act[2 * 3] = {1, -2, 3, -4, 5, -6}, w[2 * 3] = {7, 8, -9, 10, -11, 12};
  double ws[2] = {0.5, 0.25}, scratch[2], out[4];
  int bad = 0, m, n, k;

  if (argc < 2) {
    printf("usage: %s path/to/libsmoothquant.so\n", argv[0]);
    return 2;
  }
  lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    printf("dlopen failed: %s\n", dlerror());
    return 1;
  }
  *(void**)(&get_api) = dlsym(lib, SQ_GET_API_SYMBOL);
  if (!get_api) {
    printf("dlsym(%s) failed: %s\n", SQ_GET_API_SYMBOL, dlerror());
    return 1;
  }
  api = get_api();
  if (!api || api->api_version < 1 || !SQ_API_TABLE_HAS(api, plan_destroy)) {
    printf("function table too old or missing\n");
    return 1;
  }
  /* Version 2 (0.2): the two offline helpers, present and callable through the table. */
  if (api->api_version < 2 || !SQ_API_TABLE_HAS(api, weight_sums) ||
      !SQ_API_TABLE_HAS(api, quantize_weight_per_channel_asymmetric) || !api->weight_sums ||
      !api->quantize_weight_per_channel_asymmetric) {
    printf("function table v%u (%u bytes) lacks version 2's members\n", api->api_version, api->struct_size);
    return 1;
  }
  {
    const uint8_t wq[2 * 3] = {0, 255, 7, 128, 1, 2};
    int32_t sums[2] = {-1, -1};
    sq_matrix_view view;
    memset(&view, 0, sizeof(view));
    view.struct_size = sizeof(view);
    view.dtype = SQ_DTYPE_U8;
    view.rows = 2;
    view.cols = 3;
    view.data = wq;
    if (api->weight_sums(&view, sums) != SQ_STATUS_SUCCESS || sums[0] != 262 || sums[1] != 131) {
      printf("weight_sums through the table: %s (sums %d, %d)\n", api->last_error_message(), sums[0], sums[1]);
      return 1;
    }
  }
  memset(&desc, 0, sizeof(desc));
  desc.struct_size = sizeof(desc);
  desc.op = SQ_OP_SMOOTHQUANT_LINEAR;
  desc.act_dtype = SQ_DTYPE_S8;
  desc.weight_dtype = SQ_DTYPE_S8;
  desc.scale_dtype = SQ_DTYPE_F64;
  desc.out_dtype = SQ_DTYPE_F64;
  desc.n = 2;
  desc.k = 3;
  desc.max_m = 2;
  desc.act_scale = 0.125;
  if (api->plan_select(NULL, &desc, SQ_PREFERENCE_HOST_REFERENCE, &plan) != SQ_STATUS_SUCCESS) {
    printf("select failed: %s\n", api->last_error_message());
    return 1;
  }
  memset(&args, 0, sizeof(args));
  args.struct_size = sizeof(args);
  args.m = 2;
  args.act = act;
  args.weight = w;
  args.weight_scale = ws;
  args.act_scale_scratch = scratch;
  args.out = out;
  if (api->plan_run(plan, NULL, NULL, 0, &args) != SQ_STATUS_SUCCESS) {
    printf("run failed: %s\n", api->last_error_message());
    return 1;
  }
  for (m = 0; m < 2; ++m)
    for (n = 0; n < 2; ++n) {
      int acc = 0;
      for (k = 0; k < 3; ++k) acc += act[m * 3 + k] * w[n * 3 + k];
      if (out[m * 2 + n] != ((double)acc * 0.125) * ws[n]) bad = 1;
    }
  api->plan_destroy(plan);
  printf("dlopen consumer (table v%u, library %s): %s\n", api->api_version, api->version_string(),
         bad ? "FAILED" : "ok");
  dlclose(lib);
  return bad;
}
