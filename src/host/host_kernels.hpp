// The host reference kernels (host_linear.cpp, host_quantize.cpp): the library's definition of
// the right answer and the host family's kernels. Host pointers; synchronous; nothing of CUDA.
#pragma once

#include "kernel_params.hpp"

namespace sq {

// The W8A8 linear per the numerics contract, over up to `threads` threads.
void host_linear(const kernels::LinearParams& p, unsigned threads);

// Activation quantization (static per tensor or dynamic per token), over up to `threads` threads.
void host_quantize(const kernels::QuantizeParams& p, unsigned threads);

}  // namespace sq
