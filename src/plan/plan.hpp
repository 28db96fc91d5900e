// The plan object behind the opaque sq_plan handle, the registry of live handles, and the plan's
// operations (the C face in src/api/ calls these).
#pragma once

#include <cstddef>
#include <cstdint>

#include "dispatch/facts.hpp"
#include "kernel_params.hpp"
#include "plan/validate.hpp"
#include "smoothquant/smoothquant.h"

namespace sq {
struct Executor;
}  // namespace sq

struct sq_plan_st {
  uint64_t magic;
  sq_plan_desc desc;  // normalized copy (struct_size = sizeof(sq_plan_desc))
  sq_kernel_family family;
  const sq::Executor* executor;  // how it runs (host or GPU), chosen at select
  int32_t device;                // -1 for the host family
  void* context;          // the CUcontext current at select (sq_plan_run's fast device check); nullptr for host
  sq::PlanFacts facts;    // GPU plans: what the launch plan depends on (device.sm: 0 for host)
  sq::kernels::Dtype t;   // linears, SCALE_ACCUMULATORS: T (F32 for S32 out); quantizers: S (F32 if none)
  sq::kernels::Dtype x_dtype;  // float input dtype (quantize and fused ops, QUANTIZED_LINEAR)
  uint64_t static_scale_bits;  // SMOOTHQUANT_LINEAR: (T)act_scale; STATIC quantizers: (C)act_scale
  size_t workspace_bytes;      // what sq_plan_workspace_size reports: the required part, then the staging area
  unsigned host_threads;
  // Since 0.2.
  sq::RunRules rules;             // what a run must, may and must not pass
  int64_t max_k;                  // linears: the contract's max_k; else 0
  sq::kernels::Dtype out_type;    // the linear's out: T or S32
  sq::kernels::Dtype act_type;    // the linear's a: act_dtype, or QUANTIZED_LINEAR's q dtype (S8/U8)
  sq::kernels::Dtype weight_type; // S8 or U8
  sq::kernels::Dtype q_type;      // the quantizer's q: S8 or U8
  sq::kernels::QuantMode mode;    // the quantizer's mode (the op's own when desc.quant_mode is 0)
  sq::kernels::Producer producer; // what produces the quantizer's row
  float eps;                      // RMSNORM_QUANTIZE: (float)desc.eps
  // The workspace regions (bytes from its start): QUANTIZED_LINEAR's q (q_ld bytes per row), its per-token
  // zero points (ASYMMETRIC) and the activation row sums (plans with SQ_PLAN_WEIGHT_ZERO_POINT).
  int64_t q_ld;
  size_t zp_offset, sums_offset;
  // The part of the workspace a run must have (the regions above); a GPU plan with facts.stage_unaligned
  // appends the staging area [D-stage-unaligned], used by runs given all workspace_bytes: the weight's N
  // rows at stage_weight_offset, the activations' max_m rows at stage_act_offset, stage_ld bytes each.
  size_t workspace_required;
  int64_t stage_ld;
  size_t stage_weight_offset, stage_act_offset;
};

namespace sq {

constexpr uint64_t kPlanMagic = 0x5351504c414e3031ull;  // "SQPLAN01"

// Registry of live plans (detects destroyed and foreign handles).
void registry_add(const sq_plan_st* p);
bool registry_remove(const sq_plan_st* p);
bool registry_contains(const sq_plan_st* p);

// The operations behind sq_plan_select, sq_plan_run, sq_plan_can_implement and sq_plan_kernel_name.
sq_status plan_select(sq_stream stream, const sq_plan_desc* desc, sq_preference pref, sq_plan* out);
sq_status plan_run(const sq_plan_st& plan, sq_stream stream, void* workspace, size_t workspace_bytes,
                   const sq_run_args* args);
sq_status plan_can_implement(const sq_plan_st& plan, const sq_run_args* args);
const char* plan_kernel_name(const sq_plan_st& plan, int64_t m);  // m in 1..max_m

}  // namespace sq
