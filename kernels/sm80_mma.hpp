// The portable tensor-core family: W8A8 linear with mma.sync m16n8k32 s8 (sm_80 and later).
//
// Three variants, each valid for every M >= 1, N >= 1 and 1 <= K <= SQ_MAX_K:
//   kSm80Large   "sm80_mma_128x256x64_s4"      aligned16 only; 8 warps (64x64 each), 128x256 CTA
//                                              tile, 4-stage cp.async pipeline (96 KiB smem).
//                                              For large M (many tiles).
//   kSm80Medium  "sm80_mma_64x128x128_s3"      aligned16 only; 4 warps (32x64 each), 64x128 CTA
//                                              tile, 3 stages (72 KiB smem). For medium M (more
//                                              CTAs per wave).
//   kSm80Generic "sm80_mma_generic_64x128x128" no alignment needs: any K, any ld_act/ld_weight,
//                                              any base address; tiles are loaded with predicated
//                                              16/4/1-byte loads through registers into the same
//                                              swizzled smem layout (double buffered, 48 KiB).
// Every variant uses <= 96 KiB of shared memory, so it runs on every sm_80+ GPU (sm_86/89: 99 KiB).
// All variants apply the epilogue of kernels/epilogue.cuh to the register accumulators and
// store straight to global memory (bounds-checked on M and N; ld_out and the out base need only
// element alignment). When p.row_scale_out != nullptr the CTAs of the first N tile write the
// static scale (as T) into row_scale_out[0..m), each row exactly once; such a launch must not
// also read that buffer through p.row_scale.
// "aligned16" is KernelVariant::needs_aligned16: k % 16 == 0, act/weight bases 16-byte aligned,
// ld_act % 16 == 0 and ld_weight % 16 == 0.
#pragma once

#include "kernel_api.hpp"

namespace sq {
namespace kernels {

// CTA tiles (rows of M x columns of N), for the dispatch's tile counts.
constexpr int kSm80LargeTileM = 128;
constexpr int kSm80LargeTileN = 256;
constexpr int kSm80MediumTileM = 64;
constexpr int kSm80MediumTileN = 128;

extern const KernelVariant kSm80Large;
extern const KernelVariant kSm80Medium;
extern const KernelVariant kSm80Generic;

}  // namespace kernels
}  // namespace sq
