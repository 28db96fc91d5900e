// How a plan runs: one executor per family, chosen at select and stored in the plan, so that a run
// does not ask the family again. host_executor.cpp runs the host reference kernels; gpu_executor.cpp
// executes the launch plan (src/dispatch/launch_plan.hpp) on the GPU.
#pragma once

#include <cstdint>

#include "plan/plan.hpp"
#include "plan/validate.hpp"
#include "smoothquant/smoothquant.h"

namespace sq {

struct Executor {
  // Runs a validated request (GPU: enqueues it on req.stream; no allocation, no synchronization).
  sq_status (*run)(const sq_plan_st& plan, const RunRequest& req);
  // sq_plan_can_implement's memory-space check of the request's pointers.
  sq_status (*check_memory)(const sq_plan_st& plan, const RunRequest& req);
  // The kernel a run of m rows uses (sq_plan_kernel_name).
  const char* (*kernel_name)(const sq_plan_st& plan, int64_t m);
};

// Select: fills the plan's device fields and its executor. The host family needs no device.
void host_select(sq_plan_st* plan);
sq_status gpu_select(sq_stream stream, sq_preference pref, sq_plan_st* plan);

// Memory-space checks of every pointer of args (src/plan/memory_spaces.cpp): host memory for a host plan,
// memory the plan's device can reach for a GPU plan.
sq_status check_host_memory(const sq_plan_st& plan, const RunRequest& req);
sq_status check_device_memory(const sq_plan_st& plan, const RunRequest& req);

}  // namespace sq
