// The benchmark's only window on the library's internals: the numerics contract's host reference
// (src/host/numerics.hpp) for the checks, and its device epilogue (kernels/epilogue.cuh) for the
// "cuBLASLt + a separate scale kernel" baseline. Only contract.cu includes those two headers; when
// they move (issue 17), contract.cu and bench/CMakeLists.txt's include path are all that change.
// Everything here follows include/smoothquant/smoothquant.h's NUMERICS CONTRACT (no FMA: contract.cu is
// compiled with --fmad=false -ffp-contract=off).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace sqbench {
namespace contract {

// The output dtypes the benchmark measures (scale_dtype = out_dtype = T).
enum class OutType { F32, BF16, F64 };

// The bits of (T)v, zero-extended to 64 bits (one round-to-nearest-even from double).
uint64_t bits_of(OutType t, double v);

// The contract's epilogue on the host: the bits of ((C)acc * (C)(T)rs) * (C)(T)ws rounded to T, no bias.
uint64_t ref_bits(OutType t, int32_t acc, double rs, double ws);

// The user's separate scale kernel after an int32 GEMM, on `stream`: out[m,n] = ((T)acc[m,n] * rs[m]) *
// ws[n] in T (the contract's epilogue, kernels/epilogue.cuh). acc [M,N] int32, rs [M] and ws [N] of T.
void launch_scale(OutType t, const int32_t* acc, const void* rs, const void* ws, void* out, int64_t m,
                  int64_t n, cudaStream_t stream);

// SQ_OP_QUANTIZE_DYNAMIC of one bf16 row (no smoothing, S = bf16, C = f32): fills q[0..k) and returns the
// bits of the row's scale (bf16)(amax / 127).
uint16_t quantize_row_bf16(const uint16_t* x, int64_t k, int8_t* q);

// A bf16 value (its bits) as float, exactly.
float bf16_to_float(uint16_t bits);

}  // namespace contract
}  // namespace sqbench
