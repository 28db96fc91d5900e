// The Hopper family: W8A8 linear with wgmma (m64nNk32 s32.s8.s8) fed by TMA, sm_90a only.
// Shared pieces (tile constants, PTX wrappers, tensor maps): kernels/sm90_common.cuh; the split-K
// cluster variants for small M: kernels/sm90_splitk.hpp.
//
// The two main variants are persistent (grid = min(tiles, SMs), one CTA per SM, tiles taken in a
// rasterized order: groups of 8 M tiles, N-major inside a group, for L2 reuse), warp-specialized
// kernels of 384 threads: one producer warpgroup (setmaxnreg.dec; one thread issues the TMA loads
// of 128-byte-swizzled A and B tiles into a multi-stage shared-memory ring guarded by full/empty
// mbarriers, running ahead into the next tile while the consumers run the epilogue; three other
// warps do the fused scratch fill) and two consumer warpgroups (setmaxnreg.inc), each computing
// 64 rows of a 128 x BN output tile with wgmma (one wgmma group kept in flight, stages released
// one k-block late) and applying the scale epilogue of kernels/epilogue.cuh to the register
// accumulators (direct, bounds-checked stores after a shuffle exchange within each 4-lane quad:
// each lane stores 16 bytes of one row (16-bit out 8 elements, f32 4, f64 2) when the out base and
// ld_out are aligned to that width, element stores otherwise; the tile's column scales, bias and row
// scales are prefetched into L1 at each tile's start).
//   kSm90Wide    "sm90_wgmma_ws_128x256x128_s4"  128x256 tile, 4 stages of 48 KiB. Large M*N.
//   kSm90Narrow  "sm90_wgmma_ws_128x128x128_s6"  128x128 tile, 6 stages of 32 KiB. Medium M or
//                                                few tiles (twice the tiles of kSm90Wide).
// Constraints (checked by src/, not here): compute capability 9.0 (sm_90a), aligned16
// (k % 16 == 0, act/weight bases 16-byte aligned, ld_act % 16 == 0, ld_weight % 16 == 0),
// any M >= 1, N >= 1 and K <= SQ_MAX_K (M, N and K edges are zero-filled by TMA; every variant
// runs any such shape correctly, the dispatch picks by speed). The out base and ld_out need only
// element alignment. Tensor maps are encoded on the host at each launch (cuTensorMapEncodeTiled
// through cudaGetDriverEntryPointByVersion; no libcuda link); prepare() fails with
// cudaErrorNotSupported when the driver does not provide it.
// When p.row_scale_out != nullptr the CTAs of N tile 0 (rank 0 of their cluster for split-K) write
// the static scale (as T) into row_scale_out[0..m), each row exactly once; such a launch must not
// also read that buffer through p.row_scale.
#pragma once

#include "kernel_api.hpp"

namespace sq {
namespace kernels {

extern const KernelVariant kSm90Wide;
extern const KernelVariant kSm90Narrow;

}  // namespace kernels
}  // namespace sq
