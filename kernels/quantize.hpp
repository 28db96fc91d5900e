// GPU activation quantizers (kernels/quantize.cu, quantize_rmsnorm.cu, quantize_silu_mul.cu on the engine
// of quantize_rows.cuh): every QuantMode of the contract on the row v that a Producer makes (plain x,
// RMSNorm, SiLU-and-multiply), bit for bit the NUMERICS CONTRACT of smoothquant.h; and the row-sums
// pre-pass of the linears (kernels/row_sums.cu).
// What: one CTA per row, or (QuantizeParams::row_splits > 1) one thread-block cluster per row whose CTAs
//   take even shares of it and exchange their partials through distributed shared memory; x is read from
//   memory once (a row's share is kept in shared memory between the passes when it fits
//   kQuantizeRowCacheBytes); 16-byte vectors where the bases and strides allow it.
// Constraints (checked by src/): row splits only where the sm_90 image runs (clusters).
// PDL: with QuantizeParams::overlap_previous (sm_90 image) the launch is a programmatic dependent of the
//   kernel before it (griddepcontrol.wait before any global access); every quantizer lets the next kernel
//   start once its CTAs have read their rows (griddepcontrol.launch_dependents).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernel_params.hpp"

namespace sq {
namespace kernels {

// The names sq_plan_kernel_name reports for the quantize ops.
constexpr const char* kQuantizeStaticName = "quantize_static";
constexpr const char* kQuantizeDynamicName = "quantize_dynamic";
// Most CTAs a row may be split over (the portable cluster size).
constexpr int32_t kQuantizeMaxRowSplits = 8;
// Bytes of x one CTA of the largest size covers with one 16-byte vector per thread.
constexpr int64_t kQuantizeCtaBytes = 8192;
// Shared memory a quantizer CTA may hold its share of a row in between passes (and, for kRmsNorm, the
// lane sums of the sum of squares): 96 KiB fits every sm_80+ GPU's opt-in limit (sm_86/89: 99 KiB).
constexpr int64_t kQuantizeRowCacheBytes = 96 * 1024;

// Per-device setup once at plan select (launch handles, shared-memory opt-in), on the plan's device:
// every quantizer instantiation and the row-sums pre-pass (row_sums_prepare).
cudaError_t quantize_prepare();
// Enqueue on `stream`; no allocation, no synchronization.
cudaError_t launch_quantize(const QuantizeParams& p, cudaStream_t stream);

// The 0.1 quantizers (quantize_symmetric.cu), which launch_quantize runs for the cases symmetric_path
// accepts (the plain producer, STATIC without a zero point or DYNAMIC, S8 q, no row sums): their
// prepare (called by quantize_prepare) and launch.
bool symmetric_path(const QuantizeParams& p);
cudaError_t quantize_symmetric_prepare();
cudaError_t launch_quantize_symmetric(const QuantizeParams& p, cudaStream_t stream);

// For src/'s launch plan (sm_90 image): the fewest CTAs per row (1..kQuantizeMaxRowSplits) whose shares
// of a row of k elements of x_dtype fit kQuantizeRowCacheBytes for this producer and mode, so that x is
// read from memory once at any M; kQuantizeMaxRowSplits when even that does not fit (those rows re-read
// x). 1 for the modes that keep nothing between passes (kStatic, kFromAbsmax on kPlain / kSiluMul).
int32_t quantize_cache_row_splits(Producer producer, QuantMode mode, Dtype x_dtype, int64_t k);

// The activation row sums a linear with weight zero points needs when the caller gave none (the
// pre-pass of SMOOTHQUANT_LINEAR / SCALED_LINEAR): sums[r] = sum_k a[r, k]. Enqueue on `stream`.
constexpr const char* kRowSumsName = "row_sums";
// Per-device setup once at plan select (launch handles); a launch without it takes the runtime path.
cudaError_t row_sums_prepare();
cudaError_t launch_row_sums(const RowSumsParams& p, cudaStream_t stream);

}  // namespace kernels
}  // namespace sq
