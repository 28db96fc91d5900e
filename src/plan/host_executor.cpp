// The host family's executor: the host reference kernels, on the calling thread and up to
// host_threads more, synchronously, in the order a GPU run launches them (quantizer, row-sums pre-pass,
// linear; or the scale-accumulators kernel). Nothing of CUDA here.
#include <algorithm>
#include <thread>

#include "base/error.hpp"
#include "host/host_kernels.hpp"
#include "plan/executor.hpp"
#include "plan/params.hpp"

namespace sq {

namespace {

bool has_quantizer(sq_op op) {
  return op == SQ_OP_QUANTIZED_LINEAR || op == SQ_OP_QUANTIZE_STATIC || op == SQ_OP_QUANTIZE_DYNAMIC ||
         op == SQ_OP_RMSNORM_QUANTIZE || op == SQ_OP_SILU_MUL_QUANTIZE;
}
bool has_linear(sq_op op) {
  return op == SQ_OP_SMOOTHQUANT_LINEAR || op == SQ_OP_QUANTIZED_LINEAR || op == SQ_OP_SCALED_LINEAR;
}

sq_status host_run(const sq_plan_st& plan, const RunRequest& req) {
  const sq_op op = plan.desc.op;
  if (has_quantizer(op)) host_quantize(quantize_params(plan, req), plan.host_threads);
  if (req.row_sums_pass) host_row_sums(row_sums_params(plan, req), plan.host_threads);
  if (has_linear(op)) host_linear(linear_params(plan, req), plan.host_threads);
  if (op == SQ_OP_SCALE_ACCUMULATORS) host_scale_accumulators(scale_accumulators_params(plan, req), plan.host_threads);
  return ok();
}

const char* host_kernel_name(const sq_plan_st& plan, int64_t /*m*/) {
  const sq_op op = plan.desc.op;
  if (has_linear(op)) return "host_reference";
  if (op == SQ_OP_SCALE_ACCUMULATORS) return "host_scale_accumulators";
  return "host_quantize";
}

constexpr Executor kHostExecutor = {&host_run, &check_host_memory, &host_kernel_name};

}  // namespace

void host_select(sq_plan_st* plan) {
  plan->family = SQ_KERNEL_FAMILY_HOST;
  plan->executor = &kHostExecutor;
  plan->device = -1;
  plan->host_threads =
      plan->desc.host_threads != 0 ? plan->desc.host_threads : std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace sq
