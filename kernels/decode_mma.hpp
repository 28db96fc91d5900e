// Small-M (decode) W8A8 linear kernels (kernels/decode_mma.cu), the small-M choice of both GPU families.
// What: out^T = W * act^T with mma.sync m16n8k32 (16 weight rows x 8 tokens per instruction; the weight
//   is its A operand, act its B operand, each s8 or u8: one instantiation per T and operand pair). A CTA
//   owns 16 or 32 weight rows and all of K; its warps split K and sum their exact int32 partials in
//   shared memory in a fixed order (no atomics, no global workspace), then the zero-point correction and
//   the scale epilogue of epilogue.cuh (or the S32 output). Bound by streaming the weight once.
// Variants "decode_mma_r<weight rows per CTA>_t<largest M>": token buckets of 16, 32 and 64 rows (each
//   computes only the n8 token tiles that hold rows of M), each with 16-row CTAs and "wide" 32-row CTAs
//   (half the activation reads from L2, half the CTAs); 2 CTAs per SM. Then "decode_mma_r16_t<M>_a8": the
//   16-row CTAs of each bucket for operands aligned to 8 bytes only (K % 16 == 8: tensor-parallel
//   shards): still 16-byte weight loads, over rows that share their offset mod 16 and K windows shifted
//   to it, 8-byte loads only at a row's ends (and for activation rows off the window) [D-decode-align8].
// Constraints (checked by src/): the variant's min_align: K, the act/weight bases, ld_act and ld_weight
//   multiples of 16 bytes (of 8 for the "_a8" variants); 1 <= M <= the variant's max_m.
// PDL: with p.programmatic, on images compiled for sm_90 (others never wait, so they launch plainly),
//   the CTAs prefetch their first weight bytes to L2, then griddepcontrol.wait before they read act or
//   the scales or write anything.
#pragma once

#include "variant.hpp"

namespace sq {
namespace kernels {

VariantSpan decode_variants();  // 16-byte loads, then 8-byte: each by token bucket, 16-row CTAs first

}  // namespace kernels
}  // namespace sq
