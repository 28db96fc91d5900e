/* The C ABI's struct layouts and constants as the header defines them, as JSON on stdout: bench/peers_torch.py
 * --check-layout compares its ctypes mirror with them (a host test; no GPU). */
#include <smoothquant/smoothquant.h>
#include <stddef.h>
#include <stdio.h>

#define FIELD(s, f) printf("%s\"%s\": [%zu, %zu]", first ? "" : ", ", #f, offsetof(s, f), sizeof(((s*)0)->f)), first = 0
#define CONST(c) printf(", \"%s\": %ld", #c, (long)(c))

int main(void) {
  int first = 1;
  printf("{\"sq_plan_desc\": {\"size\": %zu, \"fields\": {", sizeof(sq_plan_desc));
  FIELD(sq_plan_desc, struct_size);
  FIELD(sq_plan_desc, op);
  FIELD(sq_plan_desc, act_dtype);
  FIELD(sq_plan_desc, weight_dtype);
  FIELD(sq_plan_desc, scale_dtype);
  FIELD(sq_plan_desc, out_dtype);
  FIELD(sq_plan_desc, n);
  FIELD(sq_plan_desc, k);
  FIELD(sq_plan_desc, max_m);
  FIELD(sq_plan_desc, act_scale);
  FIELD(sq_plan_desc, host_threads);
  FIELD(sq_plan_desc, reserved);
  FIELD(sq_plan_desc, quant_mode);
  FIELD(sq_plan_desc, quant_dtype);
  FIELD(sq_plan_desc, act_zero_point);
  FIELD(sq_plan_desc, flags);
  FIELD(sq_plan_desc, eps);
  first = 1;
  printf("}}, \"sq_run_args\": {\"size\": %zu, \"fields\": {", sizeof(sq_run_args));
  FIELD(sq_run_args, struct_size);
  FIELD(sq_run_args, reserved);
  FIELD(sq_run_args, m);
  FIELD(sq_run_args, act);
  FIELD(sq_run_args, ld_act);
  FIELD(sq_run_args, weight);
  FIELD(sq_run_args, ld_weight);
  FIELD(sq_run_args, weight_scale);
  FIELD(sq_run_args, bias);
  FIELD(sq_run_args, smooth);
  FIELD(sq_run_args, act_scale_scratch);
  FIELD(sq_run_args, out);
  FIELD(sq_run_args, ld_out);
  FIELD(sq_run_args, act_scale);
  FIELD(sq_run_args, weight_zero_point);
  FIELD(sq_run_args, weight_sums);
  FIELD(sq_run_args, act_zero_point);
  FIELD(sq_run_args, act_sums);
  FIELD(sq_run_args, absmax);
  FIELD(sq_run_args, residual);
  FIELD(sq_run_args, ld_residual);
  FIELD(sq_run_args, residual_out);
  FIELD(sq_run_args, ld_residual_out);
  FIELD(sq_run_args, norm_weight);
  printf("}}, \"constants\": {\"SQ_STATUS_SUCCESS\": %ld", (long)SQ_STATUS_SUCCESS);
  CONST(SQ_DTYPE_S8);
  CONST(SQ_DTYPE_BF16);
  CONST(SQ_OP_SMOOTHQUANT_LINEAR);
  CONST(SQ_OP_QUANTIZED_LINEAR);
  CONST(SQ_PREFERENCE_FASTEST);
  CONST(SQ_DTYPE_U8);
  CONST(SQ_OP_SCALED_LINEAR);
  CONST(SQ_PLAN_DESC_SIZE_0_1);
  CONST(SQ_RUN_ARGS_SIZE_0_1);
  printf("}}\n");
  return 0;
}
