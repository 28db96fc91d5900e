// The portable tensor-core family: W8A8 linear with mma.sync m16n8k32 (act as A, weight as B, each s8 or
// u8: one instantiation per T and operand pair; sm_80 and later), kernels/sm80_mma.cu; the zero-point
// correction and the scale epilogue of epilogue.cuh (or the S32 output) on the accumulators. Each variant
// is valid for every M >= 1, N >= 1 and 1 <= K <= SQ_MAX_K.
// Variants:
//   kSm80Large   "sm80_mma_128x256x64_s4"       aligned16; 8 warps of 64x64, 4-stage cp.async ring (96 KiB)
//   kSm80Medium  "sm80_mma_64x128x128_s3"       aligned16; 4 warps of 32x64, 3 stages (72 KiB)
//   kSm80Generic "sm80_mma_generic_64x128x128"  any K, strides and bases: predicated 16/4/1-byte loads
//                                               through registers, double buffered (48 KiB)
//   kSm80LargeA8  "sm80_mma_128x256x64_s4_a8"   aligned8: the large tile, 8-byte cp.async pieces
//   kSm80MediumA8 "sm80_mma_64x128x128_s3_a8"   aligned8: the medium tile, 8-byte cp.async pieces
// Constraints: at most 96 KiB of shared memory (every sm_80+ GPU; sm_86/89 allow 99 KiB); ld_out and the
//   out base need only element alignment (stores are bounds-checked on M and N).
// Scratch fill: with p.row_scale_out the CTAs of N tile 0 write the static scale (as T) into
//   row_scale_out[0..m), each row once; such a launch must not also read it through p.row_scale.
// PDL: none (LinearParams::programmatic is ignored).
#pragma once

#include "variant.hpp"

namespace sq {
namespace kernels {

VariantSpan sm80_variants();  // large, medium, generic, large a8, medium a8
extern const KernelVariant& kSm80Large;
extern const KernelVariant& kSm80Medium;
extern const KernelVariant& kSm80Generic;
extern const KernelVariant& kSm80LargeA8;
extern const KernelVariant& kSm80MediumA8;

}  // namespace kernels
}  // namespace sq
