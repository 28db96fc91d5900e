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
// One variant per tile width BN in kPersistentTileWidths, "sm90_wgmma_ws_128x<BN>x128_s<stages>":
//   128x96 (8 stages of 28 KiB), 128x128 (6 of 32 KiB), 128x160 (6 of 36 KiB), 128x256 (4 of
//   48 KiB). The widths other than 128 and 256 let the tile count fill the waves of the SMs at
//   medium M (src/dispatch_sm90.cpp).
//   kSm90Wide is the 128x256 variant, kSm90Narrow the 128x128 one.
// kSm90PingPong, "sm90_wgmma_pp_128x128x128_s6": the same kernel with the ping-pong schedule: each
//   consumer warpgroup computes whole 128 x 128 tiles (two 64-row wgmma blocks per K step, 2 x 64
//   accumulator registers per thread), the two warpgroups taking the CTA's tiles in turn: one starts a
//   tile's mainloop when the other has finished the previous tile's (an mbarrier per warpgroup), so
//   each epilogue runs under the other warpgroup's mainloop. The producer loads the tiles in order;
//   every stage is released by the 4 warps of the warpgroup that consumes it.
// With LinearParams::programmatic (the static plan on sm_90) a launch is a programmatic dependent of
// the previous kernel on the stream: its CTAs may be scheduled while that kernel finishes, and every
// thread executes griddepcontrol.wait before it reads or writes global memory.
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

#include <array>
#include <cstdint>

#include "kernel_api.hpp"

namespace sq {
namespace kernels {

constexpr int32_t kPersistentTileWidths[] = {96, 128, 160, 256};
constexpr int32_t kPersistentWidthCount = sizeof(kPersistentTileWidths) / sizeof(kPersistentTileWidths[0]);

// One persistent variant: its tile width and the variant to run.
struct PersistentVariant {
  int32_t tile_n;
  const KernelVariant* variant;
};
// Every built width, in kPersistentTileWidths order.
extern const std::array<PersistentVariant, kPersistentWidthCount> kSm90PersistentVariants;
extern const KernelVariant& kSm90Wide;
extern const KernelVariant& kSm90Narrow;
extern const KernelVariant& kSm90PingPong;

}  // namespace kernels
}  // namespace sq
