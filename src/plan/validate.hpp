// Validation: the caller's descriptor and run arguments, read once into checked objects that everything
// below uses (the caller's structs are never read again).
#pragma once

#include <cstddef>
#include <cstdint>

#include "smoothquant/smoothquant.h"

struct sq_plan_st;

namespace sq {

// The pointer fields of sq_run_args, in the struct's order (the order their checks run in).
enum RunField : uint8_t {
  kFieldAct,
  kFieldWeight,
  kFieldWeightScale,
  kFieldBias,
  kFieldSmooth,
  kFieldActScaleScratch,
  kFieldOut,
  kFieldActScale,
  kFieldWeightZeroPoint,
  kFieldWeightSums,
  kFieldActZeroPoint,
  kFieldActSums,
  kFieldAbsmax,
  kFieldResidual,
  kFieldResidualOut,
  kFieldNormWeight,
  kRunFieldCount,
  kFirstFieldSince02 = kFieldActScale,  // the fields from here on are 0.2's (the end of sq_run_args)
};

// The args-> name of a field, as messages spell it.
const char* run_field_name(RunField f);

// What a run of a plan must, may and must not pass, fixed at select from the descriptor: a bit
// (1 << RunField) per field, and each field's element size (its alignment; 1: none). A required field
// is also allowed; a field neither allowed nor required must be NULL.
struct RunRules {
  uint32_t required;
  uint32_t allowed;
  uint8_t align[kRunFieldCount];
  int64_t act_row;  // elements of one row of act: K (SiLU-mul: 2K; SCALE_ACCUMULATORS: N)
  int64_t out_row;  // elements of one row of out: N (linears), K (quantizers)
  bool weight_sums_with_act_zp;  // SCALED_LINEAR with SQ_PLAN_ACT_ZERO_POINT: weight_sums required with act_zero_point
  bool requires_since02;         // some field from kFirstFieldSince02 on is required
};

// One run, checked: the caller's sq_run_args copied once and zero-extended (struct_size = sizeof), the
// resolved row strides and alignment, the stream and the workspace.
struct RunRequest {
  sq_run_args args;
  int64_t m;
  int64_t ld_act, ld_weight, ld_out;       // 0 in the caller's struct: packed rows
  int64_t ld_residual, ld_residual_out;    // RMSNORM_QUANTIZE: 0 in the caller's struct: K
  // The alignment in bytes of the linear's operands, act (or the workspace's q) and weight
  // (kernels::kOperandAlign16, 8 or 1; 1 for the ops without a linear): the largest that K, both bases
  // and both row strides meet; 16 also needs strides the TMA takes. The dispatch picks the kernels whose
  // loads it allows (LinearShape::operand_align).
  int32_t operand_align;
  // Whether out's rows are 16-byte aligned: its base and ld_out times its element size (LinearShape::out_aligned).
  bool out_aligned;
  // SMOOTHQUANT_LINEAR / SCALED_LINEAR: weight_zero_point without act_sums, so the row-sums pre-pass
  // fills the workspace's sums and the linear reads them.
  bool row_sums_pass;
  // The workspace holds the plan's staging area: the plan has one and the run gives all
  // sq_plan_workspace_size bytes, 16-byte aligned [D-stage-unaligned].
  bool stage_room;
  sq_stream stream;
  void* workspace;
};

// desc -> *out, normalized (struct_size = sizeof). Every check names the bad value.
sq_status validate_desc(const sq_plan_desc* in, sq_plan_desc* out);

// The largest K whose accumulation the plan of `d` keeps exact (the contract's max_k; linears only).
int64_t plan_max_k(const sq_plan_desc& d);

// The run rules of a plan of the validated descriptor d.
RunRules run_rules(const sq_plan_desc& d);

// The arguments of a run of `plan` (nulls, M range, strides, element alignment, aliasing) -> *r.
sq_status validate_run_args(const sq_plan_st& plan, const sq_run_args* args, RunRequest* r);

// validate_run_args, then the workspace where the run needs one (its required part: size, 16-byte
// alignment); *r gets the stream, the workspace and whether it holds the staging area.
sq_status validate_run(const sq_plan_st& plan, sq_stream stream, void* workspace, size_t workspace_bytes,
                       const sq_run_args* args, RunRequest* r);

}  // namespace sq
