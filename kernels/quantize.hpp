// GPU activation quantizers (kernels/quantize.cu): SQ_OP_QUANTIZE_STATIC (per tensor) and
// SQ_OP_QUANTIZE_DYNAMIC (per token), bit for bit the NUMERICS CONTRACT of smoothquant.h.
// What: one CTA per row, or (dynamic, QuantizeParams::row_splits > 1) one thread-block cluster per row
//   whose CTAs take even shares of it and exchange their partial abs-max through distributed shared
//   memory; 16-byte vectors of x where the bases and strides allow it.
// Constraints (checked by src/): row splits only where the sm_90 image runs (clusters).
// PDL: with QuantizeParams::overlap_previous (dynamic, sm_90 image) the launch is a programmatic
//   dependent of the kernel before it (griddepcontrol.wait before any global access); the dynamic
//   kernel always lets the next kernel start once its CTAs have read x (griddepcontrol.launch_dependents).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernel_params.hpp"

namespace sq {
namespace kernels {

// The names sq_plan_kernel_name reports for the quantize ops.
constexpr const char* kQuantizeStaticName = "quantize_static";
constexpr const char* kQuantizeDynamicName = "quantize_dynamic";
// Most CTAs a dynamic row may be split over (the portable cluster size).
constexpr int32_t kQuantizeMaxRowSplits = 8;
// Bytes of x one CTA of the largest size covers with one 16-byte vector per thread.
constexpr int64_t kQuantizeCtaBytes = 8192;

// Per-device setup once at plan select (launch handles, shared-memory opt-in), on the plan's device.
cudaError_t quantize_prepare();
// Enqueue on `stream`; no allocation, no synchronization.
cudaError_t launch_quantize(const QuantizeParams& p, cudaStream_t stream);

// The activation row sums a linear with weight zero points needs when the caller gave none (the
// pre-pass of SMOOTHQUANT_LINEAR / SCALED_LINEAR): sums[r] = sum_k a[r, k]. Enqueue on `stream`.
constexpr const char* kRowSumsName = "row_sums";
cudaError_t launch_row_sums(const RowSumsParams& p, cudaStream_t stream);

}  // namespace kernels
}  // namespace sq
