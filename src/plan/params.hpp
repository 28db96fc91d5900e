// The parameter blocks a run hands its kernels, built from the plan and the checked request: the same
// for the host and the GPU executors. Where the buffers are: the quantizer writes q into the workspace
// (QUANTIZED_LINEAR) or into out (the quantize ops); the linear reads q from there, or act.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernel_params.hpp"
#include "plan/plan.hpp"
#include "plan/validate.hpp"

namespace sq {

// The quantizer's parameters (row_splits and overlap_previous left to the launch plan: 1 and false).
kernels::QuantizeParams quantize_params(const sq_plan_st& plan, const RunRequest& req);

// The linear's parameters (programmatic left to the launch plan: false).
kernels::LinearParams linear_params(const sq_plan_st& plan, const RunRequest& req);

// The workspace a plan of desc needs: QUANTIZED_LINEAR's q, max_m rows of quantized_ld bytes.
size_t workspace_size(const sq_plan_desc& desc);

}  // namespace sq
