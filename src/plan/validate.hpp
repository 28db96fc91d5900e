// Validation: the caller's descriptor and run arguments, read once into checked objects that everything
// below uses (the caller's structs are never read again).
#pragma once

#include <cstddef>
#include <cstdint>

#include "smoothquant/smoothquant.h"

struct sq_plan_st;

namespace sq {

// One run, checked: the caller's sq_run_args copied once and zero-extended (struct_size = sizeof), the
// resolved row strides and alignment, the stream and the workspace.
struct RunRequest {
  sq_run_args args;
  int64_t m;
  int64_t ld_act, ld_weight, ld_out;  // 0 in the caller's struct: packed rows
  // The GEMM fast paths' condition on act (or the workspace's q) and weight: k % 16 == 0, 16-byte
  // aligned bases and strides.
  bool aligned16;
  sq_stream stream;
  void* workspace;
};

// desc -> *out, normalized (struct_size = sizeof). Every check names the bad value.
sq_status validate_desc(const sq_plan_desc* in, sq_plan_desc* out);

// The arguments of a run of `plan` (nulls, M range, strides, element alignment) -> *r.
sq_status validate_run_args(const sq_plan_st& plan, const sq_run_args* args, RunRequest* r);

// validate_run_args, then the workspace (size, 16-byte alignment); *r gets the stream and workspace.
sq_status validate_run(const sq_plan_st& plan, sq_stream stream, void* workspace, size_t workspace_bytes,
                       const sq_run_args* args, RunRequest* r);

// Whether a run of a plan of `d` can be aligned16: k % 16 == 0 (its pointers and strides then decide).
// sq_plan_kernel_name answers for such a run.
bool aligned16_possible(const sq_plan_desc& d);

}  // namespace sq
