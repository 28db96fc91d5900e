// The Hopper family's persistent kernels (kernels/sm90_wgmma.cu), sm_90a only: W8A8 linear with wgmma
// (m64nNk32 s32.<act>.<weight>, s8 or u8 each: one instantiation per T and operand pair) fed by TMA. Shared pieces: sm90_common.cuh (PTX wrappers, stage ring, tensor
// maps), sm90_order.hpp (ring positions, tile order), sm90_epilogue.cuh (the register epilogue).
// What: grid = min(tiles, SMs), one CTA per SM striding over 128 x BN tiles in raster order (groups of
//   8 M tiles, N-major inside a group, for L2 reuse). 384 threads: a producer warpgroup (one thread
//   issues the TMA loads of 128-byte-swizzled A and B tiles into a multi-stage mbarrier ring, running
//   ahead into the next tile; three warps do the fused scratch fill) and two consumer warpgroups
//   (wgmma, one group in flight, stages released one K block late; the zero-point correction and the
//   scale epilogue on the register accumulators, stored after a quad shuffle exchange as 16 bytes of one
//   row per lane when out and ld_out allow it; the tile's scales and zero-point vectors prefetched into
//   L1 at its start).
// Variants:
//   "sm90_wgmma_ws_128x<BN>x128_s<stages>" cooperative, BN = 96, 128, 160, 256 (8, 6, 6, 4 stages):
//     both consumer warpgroups on each tile, 64 rows each; kSm90Narrow is the 128x128 one.
//   "sm90_wgmma_pp_128x128x128_s6" (kSm90PingPong) ping-pong: each consumer warpgroup takes whole tiles
//     in turn, so one's epilogue runs under the other's mainloop.
// Constraints (checked by src/): sm_90a; aligned16 (K % 16 == 0, act/weight bases 16-byte aligned,
//   ld_act % 16 == 0, ld_weight % 16 == 0); any M, N >= 1 and K <= SQ_MAX_K (edges zero-filled by TMA).
//   The out base and ld_out need only element alignment. Tensor maps are encoded at each launch
//   (cuTensorMapEncodeTiled through the runtime's driver entry point; prepare fails with
//   cudaErrorNotSupported where the driver lacks it).
// Scratch fill: with p.row_scale_out the CTAs of N tile 0 write the static scale (as T) into
//   row_scale_out[0..m), each row once; such a launch must not also read it through p.row_scale.
// PDL: with p.programmatic every thread executes griddepcontrol.wait before it touches global memory;
//   the kernels do not let the next kernel start early.
#pragma once

#include "variant.hpp"

namespace sq {
namespace kernels {

VariantSpan sm90_wgmma_variants();  // cooperative widest first, then the ping-pong kernel
extern const KernelVariant& kSm90Narrow;
extern const KernelVariant& kSm90PingPong;

}  // namespace kernels
}  // namespace sq
