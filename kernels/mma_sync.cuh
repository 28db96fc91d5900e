// The integer mma.sync of the decode (decode_mma.cu) and portable (sm80_mma.cu) families:
// m16n8k32 with s32 accumulators, instantiated per operand type pair (S8 or U8 each, any combination).
#pragma once

#include <cstdint>

#include "kernel_params.hpp"

namespace sq {
namespace kernels {

// The instruction of one operand pair (A type, then B type), as asm QUALIFIER (volatile or nothing).
#define SQ_MMA_M16N8K32_AS(QUALIFIER, TYPES)                                                        \
  asm QUALIFIER("mma.sync.aligned.m16n8k32.row.col.s32." TYPES ".s32 {%0, %1, %2, %3}, "            \
                "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"                                     \
                : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])                                    \
                : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1))
#define SQ_MMA_M16N8K32(TYPES)                 \
  if constexpr (kVolatile) {                   \
    SQ_MMA_M16N8K32_AS(volatile, TYPES);       \
  } else {                                     \
    SQ_MMA_M16N8K32_AS(, TYPES);               \
  }

// c += A (16 x 32, row) * B (32 x 8, col), A's elements of type TA, B's of type TB. Without .satfinite the
// s32 accumulation wraps modulo 2^32 (PTX ISA, mma: "the accumulated value is wrapped"); the plans' max_k
// keeps every exact sum in range. kVolatile: asm volatile (kept in program order, as the portable kernel's
// schedule has it) or a plain asm the compiler may move (the decode kernel's).
template <Dtype TA, Dtype TB, bool kVolatile>
__device__ __forceinline__ void mma_m16n8k32(int32_t (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                             uint32_t b0, uint32_t b1) {
  static_assert((TA == Dtype::S8 || TA == Dtype::U8) && (TB == Dtype::S8 || TB == Dtype::U8), "8-bit operands");
  if constexpr (TA == Dtype::S8 && TB == Dtype::S8) {
    SQ_MMA_M16N8K32("s8.s8");
  } else if constexpr (TA == Dtype::S8 && TB == Dtype::U8) {
    SQ_MMA_M16N8K32("s8.u8");
  } else if constexpr (TA == Dtype::U8 && TB == Dtype::S8) {
    SQ_MMA_M16N8K32("u8.s8");
  } else {
    SQ_MMA_M16N8K32("u8.u8");
  }
}

#undef SQ_MMA_M16N8K32
#undef SQ_MMA_M16N8K32_AS

}  // namespace kernels
}  // namespace sq
