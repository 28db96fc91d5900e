// The Hopper family's split-K cluster kernels (kernels/sm90_splitk.cu), sm_90a only: small M, few
// output tiles, bound by streaming the weight.
// What: not persistent; one TM x BN output tile per thread-block cluster of S CTAs along K (grid =
//   tiles * S, tiles in M-fastest order). Each CTA runs a warp-specialized TMA + wgmma pipeline (as
//   many stages as fit, at most 16) over an even share of the K blocks, stores its exact int32 partial
//   into its drained stage ring; after a cluster barrier CTA r sums rows [r*R/S, (r+1)*R/S) of the
//   tile's R rows over the S partials in rank order (ld.shared::cluster; no atomics, no global
//   workspace), applies the zero-point correction and the scale epilogue (or the S32 output) and stores
//   16 bytes of T per thread (element stores where the out base, ld_out or the N edge do not allow it).
//   wgmma m64nNk32 s32.<act>.<weight>, s8 or u8 each: one instantiation per T and operand pair.
// Variants "sm90_wgmma_splitk_<TM>x<BN>x128_s<stages>_c<S>": TM = 128 or 64 (one wgmma of rows: no
//   zero-filled A rows in the stages at M <= 64), BN = 64, 96, 128, 160, 224, S = 1, 2, 3 (S = 1: no
//   reduction partner, launched without the cluster attribute). The splits of one tile share its
//   kernels and its prepare.
// Constraints, tensor maps and the fused scratch fill (rank 0 of the clusters of N tile 0): as the
//   persistent variants (sm90_wgmma.hpp).
// PDL: with p.programmatic every thread executes griddepcontrol.wait before it touches global memory,
//   and each CTA first lets the next kernel start as this grid's CTAs finish
//   (griddepcontrol.launch_dependents).
#pragma once

#include "variant.hpp"

namespace sq {
namespace kernels {

VariantSpan sm90_splitk_variants();  // TM tallest first, BN widest first, then S = 1, 2, 3

}  // namespace kernels
}  // namespace sq
