// The Hopper family's split-K cluster variants (kernels/sm90_splitk.cu), sm_90a only.
// These variants (small M, few tiles, weight-bandwidth bound) are not persistent: one 128x128
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
// Constraints, tensor maps and the fused scratch fill: as the persistent variants (sm90_wgmma.hpp).
#pragma once

#include "kernel_api.hpp"

namespace sq {
namespace kernels {

extern const KernelVariant kSm90SplitK2;
extern const KernelVariant kSm90SplitK3;

}  // namespace kernels
}  // namespace sq
