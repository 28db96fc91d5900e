// The Hopper family's split-K cluster variants (kernels/sm90_splitk.cu), sm_90a only.
// These variants (small M, few tiles, weight-bandwidth bound) are not persistent: one TM x BN
// output tile per thread-block cluster of S CTAs (cluster dims S x 1 x 1; grid = tiles * S, tiles
// in M-fastest order). The tile height TM is 128 (two consumer warpgroups of 64 rows) or 64 (one
// wgmma of rows, for M <= 64: no zero-filled A rows in the stages, so more stages of weight fit);
// the tile width BN is a compile-time choice among kSplitTileWidths, so that
// (M tiles) x ceil(N / BN) x S CTAs can fill the SMs for many N; the split S (1, 2 or 3; S = 1 is
// a cluster of one, no reduction partner) is read by the kernel at run time from the cluster size.
// A warp-specialized pipeline (as many stages of TM x 128 bytes of A + BN x 128 bytes of B as fit,
// at most 16) runs over an even share of the K blocks in each CTA (a consumer warpgroup whose 64
// rows lie past M or past the tile issues no wgmma and only releases the stages). Each CTA then
// stores its exact int32 partial tile into its drained stage ring; after a cluster barrier CTA r
// sums rows [r*R/S, (r+1)*R/S) of the tile's R valid rows over the S partials in rank order
// (ld.shared::cluster; no atomics, no global workspace), applies the scale epilogue and stores
// 16 bytes of T per thread (element stores when the out base, ld_out or the N edge do not allow
// it); a second cluster barrier keeps every CTA's shared memory alive until its peers have read it.
// Variant names: "sm90_wgmma_splitk_<TM>x<BN>x128_s<stages>_c<S>"; one KernelVariant per
// (TM, BN, S), the variants of one (TM, BN) share its kernels (one per T). One prepare covers them all.
// Constraints, tensor maps and the fused scratch fill: as the persistent variants (sm90_wgmma.hpp).
// With LinearParams::programmatic (the static plan on sm_90) a launch is a programmatic dependent of
// the previous kernel on the stream: its CTAs may be scheduled while that kernel finishes, and every
// thread executes griddepcontrol.wait before it reads or writes global memory; each CTA also lets
// the next kernel be scheduled at once (griddepcontrol.launch_dependents), as its own CTAs finish.
#pragma once

#include <array>
#include <cstdint>

#include "kernel_api.hpp"

namespace sq {
namespace kernels {

// The built tile heights (output rows per cluster), tile widths (output columns) and cluster sizes.
constexpr int32_t kSplitTileRows[] = {64, 128};
constexpr int32_t kSplitHeightCount = sizeof(kSplitTileRows) / sizeof(kSplitTileRows[0]);
constexpr int32_t kSplitTileWidths[] = {64, 96, 128, 160, 224};
constexpr int32_t kSplitWidthCount = sizeof(kSplitTileWidths) / sizeof(kSplitTileWidths[0]);
constexpr int32_t kSplitMaxClusterSize = 3;  // S = 1 .. kSplitMaxClusterSize
constexpr int32_t kSplitVariantCount = kSplitHeightCount * kSplitWidthCount * kSplitMaxClusterSize;

// One split-K variant: its tile height and width, its cluster size and the variant to run.
struct SplitKVariant {
  int32_t tile_m;
  int32_t tile_n;
  int32_t split;
  const KernelVariant* variant;
};
// Every (TM, BN, S): TM in kSplitTileRows order, BN in kSplitTileWidths order inside each TM,
// S = 1 .. kSplitMaxClusterSize inside each BN; entry split_variant_index(h, w, S) holds
// (kSplitTileRows[h], kSplitTileWidths[w], S).
extern const std::array<SplitKVariant, kSplitVariantCount> kSm90SplitKVariants;
constexpr int32_t split_variant_index(int32_t height, int32_t width, int32_t split) {
  return (height * kSplitWidthCount + width) * kSplitMaxClusterSize + (split - 1);
}

}  // namespace kernels
}  // namespace sq
