// The host reference kernels (host_linear.cpp, host_quantize.cpp, ...): the library's definition of
// the right answer and the host family's kernels. Host pointers; synchronous; nothing of CUDA.
// Each runs over up to `threads` threads and never fails: where a worker thread cannot start, the
// calling thread does its share.
#pragma once

#include "kernel_params.hpp"

namespace sq {

// The W8A8 linear per the numerics contract (operand types, zero points, S32 output, row scales).
void host_linear(const kernels::LinearParams& p, unsigned threads);

// Activation quantization: every quant mode, every producer (plain, RMSNorm, SiLU-mul).
void host_quantize(const kernels::QuantizeParams& p, unsigned threads);

// The row sums of an S8/U8 matrix (the linears' pre-pass when the caller gives no act_sums).
void host_row_sums(const kernels::RowSumsParams& p, unsigned threads);

// SQ_OP_SCALE_ACCUMULATORS: the linears' epilogue on given int32 accumulators.
void host_scale_accumulators(const kernels::ScaleAccumulatorsParams& p, unsigned threads);

}  // namespace sq
