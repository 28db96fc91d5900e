/* Prints the C layout of every public struct in the format of `sq-rust-consumer --layout`;
 * abi/test-consumer-rust.sh diffs the two so the hand-written bindings cannot drift. */
#include <stddef.h>
#include <stdio.h>

#include <smoothquant/smoothquant.h>

#define STRUCT(t) printf(#t " size %zu align %zu\n", sizeof(t), (size_t)_Alignof(t))
#define FIELD(t, f) printf(#t "." #f " %zu\n", offsetof(t, f))

int main(void) {
  printf("SQ_PLAN_DESC_SIZE_0_1 %u SQ_RUN_ARGS_SIZE_0_1 %u\n", SQ_PLAN_DESC_SIZE_0_1, SQ_RUN_ARGS_SIZE_0_1);
  STRUCT(sq_plan_desc);
  FIELD(sq_plan_desc, struct_size); FIELD(sq_plan_desc, op); FIELD(sq_plan_desc, act_dtype);
  FIELD(sq_plan_desc, weight_dtype); FIELD(sq_plan_desc, scale_dtype);
  FIELD(sq_plan_desc, out_dtype); FIELD(sq_plan_desc, n); FIELD(sq_plan_desc, k);
  FIELD(sq_plan_desc, max_m); FIELD(sq_plan_desc, act_scale); FIELD(sq_plan_desc, host_threads);
  FIELD(sq_plan_desc, reserved); FIELD(sq_plan_desc, quant_mode); FIELD(sq_plan_desc, quant_dtype);
  FIELD(sq_plan_desc, act_zero_point); FIELD(sq_plan_desc, flags); FIELD(sq_plan_desc, eps);
  STRUCT(sq_run_args);
  FIELD(sq_run_args, struct_size); FIELD(sq_run_args, reserved); FIELD(sq_run_args, m);
  FIELD(sq_run_args, act); FIELD(sq_run_args, ld_act); FIELD(sq_run_args, weight);
  FIELD(sq_run_args, ld_weight); FIELD(sq_run_args, weight_scale); FIELD(sq_run_args, bias);
  FIELD(sq_run_args, smooth); FIELD(sq_run_args, act_scale_scratch); FIELD(sq_run_args, out);
  FIELD(sq_run_args, ld_out); FIELD(sq_run_args, act_scale); FIELD(sq_run_args, weight_zero_point);
  FIELD(sq_run_args, weight_sums); FIELD(sq_run_args, act_zero_point); FIELD(sq_run_args, act_sums);
  FIELD(sq_run_args, absmax); FIELD(sq_run_args, residual); FIELD(sq_run_args, ld_residual);
  FIELD(sq_run_args, residual_out); FIELD(sq_run_args, ld_residual_out); FIELD(sq_run_args, norm_weight);
  STRUCT(sq_precision_guarantee);
  FIELD(sq_precision_guarantee, struct_size); FIELD(sq_precision_guarantee, bit_exact_with_host);
  FIELD(sq_precision_guarantee, deterministic); FIELD(sq_precision_guarantee, exact_accumulation);
  FIELD(sq_precision_guarantee, accumulate_dtype); FIELD(sq_precision_guarantee, epilogue_dtype);
  FIELD(sq_precision_guarantee, max_k);
  STRUCT(sq_plan_info);
  FIELD(sq_plan_info, struct_size); FIELD(sq_plan_info, family); FIELD(sq_plan_info, op);
  FIELD(sq_plan_info, device); FIELD(sq_plan_info, sm_version); FIELD(sq_plan_info, reserved);
  FIELD(sq_plan_info, n); FIELD(sq_plan_info, k); FIELD(sq_plan_info, max_m);
  STRUCT(sq_matrix_view);
  FIELD(sq_matrix_view, struct_size); FIELD(sq_matrix_view, dtype); FIELD(sq_matrix_view, rows);
  FIELD(sq_matrix_view, cols); FIELD(sq_matrix_view, ld); FIELD(sq_matrix_view, data);
  STRUCT(sq_api_table);
  FIELD(sq_api_table, struct_size); FIELD(sq_api_table, api_version); FIELD(sq_api_table, version);
  FIELD(sq_api_table, version_string); FIELD(sq_api_table, status_string);
  FIELD(sq_api_table, last_error_message); FIELD(sq_api_table, plan_select);
  FIELD(sq_api_table, plan_can_implement); FIELD(sq_api_table, plan_workspace_size);
  FIELD(sq_api_table, plan_precision_guarantee); FIELD(sq_api_table, plan_get_info);
  FIELD(sq_api_table, plan_kernel_name); FIELD(sq_api_table, plan_run);
  FIELD(sq_api_table, plan_destroy); FIELD(sq_api_table, smooth_factors);
  FIELD(sq_api_table, smooth_apply_to_norm); FIELD(sq_api_table, smooth_apply_to_weight);
  FIELD(sq_api_table, quantize_weight_per_channel); FIELD(sq_api_table, static_act_scale);
  FIELD(sq_api_table, weight_sums); FIELD(sq_api_table, quantize_weight_per_channel_asymmetric);
  return 0;
}
