// The plan object behind the opaque sq_plan handle, the registry of live handles, and the plan's
// operations (the C face in src/api/ calls these).
#pragma once

#include <cstddef>
#include <cstdint>

#include "dispatch/facts.hpp"
#include "kernel_params.hpp"
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
  sq::kernels::Dtype t;   // linears: scale/out dtype T; quantize ops: the scale/smooth dtype (F32 if none)
  sq::kernels::Dtype x_dtype;  // float input dtype (quantize ops, QUANTIZED_LINEAR)
  uint64_t static_scale_bits;  // linears: (T)act_scale; QUANTIZE_STATIC: (C)act_scale
  size_t workspace_bytes;
  unsigned host_threads;
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
