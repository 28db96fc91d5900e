// The plan object behind the opaque sq_plan handle, and the plan logic's internal API.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernel_params.hpp"
#include "launch_plan.hpp"
#include "smoothquant/smoothquant.h"

struct sq_plan_st {
  uint64_t magic;
  sq_plan_desc desc;  // normalized copy (struct_size = sizeof(sq_plan_desc))
  sq_kernel_family family;
  int32_t device;   // -1 for the host family
  int32_t sm;       // compute capability * 10, 0 for host
  int32_t num_sms;  // 0 for host
  void* context;    // the CUcontext current at select (sq_plan_run's fast device check); nullptr for host
  sq::PlanFacts facts;  // GPU plans: what the launch plan depends on
  sq::kernels::Dtype t;        // linears: scale/out dtype T; quantize ops: the scale/smooth dtype
  sq::kernels::Dtype x_dtype;  // float input dtype (quantize ops, QUANTIZED_LINEAR)
  bool has_scale_dtype;        // QUANTIZE_STATIC may have no smooth dtype
  uint64_t static_scale_bits;  // linears: (T)act_scale; QUANTIZE_STATIC: (C)act_scale
  size_t workspace_bytes;
  unsigned host_threads;
};

namespace sq {

constexpr uint64_t kPlanMagic = 0x5351504c414e3031ull;  // "SQPLAN01"

// Argument facts derived once per run by validate_run_args.
struct ResolvedArgs {
  int64_t m;
  int64_t ld_act, ld_weight, ld_out;
  bool aligned16;  // the GEMM fast paths' condition on act/weight (see LinearShape)
};

// Registry of live plans (detects destroyed/foreign handles).
void registry_add(const sq_plan_st* p);
bool registry_remove(const sq_plan_st* p);
bool registry_contains(const sq_plan_st* p);

// validate.cpp
sq_status validate_desc(const sq_plan_desc* in, sq_plan_desc* out);
sq_status validate_run_args(const sq_plan_st& plan, const sq_run_args* args, ResolvedArgs* r);
sq_status validate_workspace(const sq_plan_st& plan, const void* workspace, size_t bytes);
// Reads a caller struct of at least `min_size` bytes whose struct_size may be larger (unknown tail
// must be zero); copies min(struct_size, out_size) bytes into out (rest zeroed).
sq_status read_struct(const void* in, size_t min_size, size_t out_size, void* out, const char* what);
// Writes `size` bytes of `src` into a caller output struct whose struct_size (>= min_size) is read
// first; bytes beyond what the library knows are zeroed.
sq_status write_struct(void* dst, const void* src, size_t size, size_t min_size, const char* what);

// Whether a run's operands can be aligned16 (see LinearShape): k % 16 == 0. sq_plan_kernel_name answers
// for such a run (16-byte aligned pointers and strides).
bool aligned16_possible(const sq_plan_desc& d);

const char* dtype_name(sq_dtype d);
size_t dtype_size(sq_dtype d);

// gpu.cpp
sq_status gpu_select(sq_stream stream, sq_preference pref, sq_plan_st* plan);
sq_status gpu_check_pointers(const sq_plan_st& plan, const sq_run_args& a, const ResolvedArgs& r);
sq_status gpu_run(const sq_plan_st& plan, sq_stream stream, void* workspace, const sq_run_args& a,
                  const ResolvedArgs& r);
const char* gpu_kernel_name(const sq_plan_st& plan, int64_t m);
sq_status host_check_pointers(const sq_plan_st& plan, const sq_run_args& a);

// plan.cpp: the parameter blocks the kernels take, shared by host and GPU runs.
kernels::LinearParams linear_params(const sq_plan_st& plan, const sq_run_args& a, const ResolvedArgs& r,
                                    const int8_t* act_q, int64_t ld_act_q);
kernels::QuantizeParams quantize_params(const sq_plan_st& plan, const sq_run_args& a,
                                        const ResolvedArgs& r, int8_t* q, int64_t ld_q, void* scale_out);
int64_t quantized_ld(const sq_plan_st& plan);  // row stride of q in the QUANTIZED_LINEAR workspace

}  // namespace sq
