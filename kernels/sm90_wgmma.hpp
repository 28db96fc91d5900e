// The Hopper family: W8A8 linear with wgmma (m64nNk32 s32.s8.s8) fed by TMA, sm_90a only.
//
// The two main variants are persistent (grid = min(tiles, SMs), one CTA per SM, tiles taken in a
// rasterized order: groups of 8 M tiles, N-major inside a group, for L2 reuse), warp-specialized
// kernels of 384 threads: one producer warpgroup (setmaxnreg.dec; one thread issues the TMA loads
// of 128-byte-swizzled A and B tiles into a multi-stage shared-memory ring guarded by full/empty
// mbarriers, running ahead into the next tile while the consumers run the epilogue; three other
// warps do the fused scratch fill) and two consumer warpgroups (setmaxnreg.inc), each computing
// 64 rows of a 128 x BN output tile with wgmma (one wgmma group kept in flight, stages released
// one k-block late) and applying the scale epilogue of kernels/epilogue.cuh to the register
// accumulators (direct, bounds-checked stores; pairs of elements are stored together when the
// out base and ld_out allow it).
//   kSm90Wide    "sm90_wgmma_ws_128x256x128_s4"  128x256 tile, 4 stages of 48 KiB. Large M*N.
//   kSm90Narrow  "sm90_wgmma_ws_128x128x128_s6"  128x128 tile, 6 stages of 32 KiB. Medium M or
//                                                few tiles (twice the tiles of kSm90Wide).
// The split-K variants (small M, few tiles, weight-bandwidth bound) are not persistent: one 128x128
// output tile per thread-block cluster of S CTAs (cluster dims S x 1 x 1; grid = tiles * S, tiles
// in M-fastest order). The same warp-specialized pipeline (6 stages of 32 KiB) runs over an even
// share of the K blocks in each CTA (a consumer warpgroup whose 64 rows lie past M issues no wgmma
// and only releases the stages). Each CTA then stores its exact int32 partial tile into its drained
// stage ring; after a cluster barrier CTA r sums rows [r*R/S, (r+1)*R/S) of the tile's R valid rows
// over the S partials in rank order (ld.shared::cluster; no atomics, no global workspace), applies
// the scale epilogue and stores 16 bytes of T per thread (element stores when the out base, ld_out
// or the N edge do not allow it); a second cluster barrier keeps every CTA's shared memory alive
// until its peers have read it.
//   kSm90SplitK2 "sm90_wgmma_splitk_128x128x128_s6_c2"  clusters of 2 CTAs along K
//   kSm90SplitK3 "sm90_wgmma_splitk_128x128x128_s6_c3"  clusters of 3 CTAs along K
// (one kernel per T for both: the split is the cluster size, read by the kernel at run time.)
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
extern const KernelVariant kSm90SplitK2;
extern const KernelVariant kSm90SplitK3;

}  // namespace kernels
}  // namespace sq
