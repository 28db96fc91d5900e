// The portable family's dispatch (mma.sync, sm_80+): the decode kernels for small M, the medium tile
// up to medium M, the large tile where its tiles fill most of a wave; the generic loader when unaligned
// (below 16 bytes), except at decode M with 8-byte aligned operands (the decode "_a8" variants).
#include "dispatch/cost_model.hpp"
#include "dispatch/dispatch.hpp"
#include "registry.hpp"

namespace sq {

namespace {

// Up to this M the medium tile is always used [D-sm80-tiles].
constexpr int64_t kMediumMaxM = 128;
// Above it the large tile (one CTA per SM) only where its tiles fill at least 3/4 of a wave; with
// fewer the medium tile (4x the CTAs, 2 per SM) balances the SMs better [D-sm80-tiles].
constexpr int64_t kLargeMinWaveNum = 3;
constexpr int64_t kLargeMinWaveDen = 4;

}  // namespace

const kernels::KernelVariant& sm80_choose(const LinearShape& s, const DeviceFacts& d) {
  // decode_choose answers for 16- and 8-byte aligned operands alike [D-decode-align8].
  if (const kernels::KernelVariant* v = decode_choose(s, d)) return *v;
  if (s.operand_align < kernels::kOperandAlign16) return kernels::kSm80Generic;
  if (s.m <= kMediumMaxM) return kernels::kSm80Medium;
  const kernels::KernelVariant& large = kernels::kSm80Large;
  const int64_t large_tiles = ceil_div(s.m, large.tile_m) * ceil_div(s.n, large.tile_n);
  if (large_tiles * kLargeMinWaveDen < kLargeMinWaveNum * static_cast<int64_t>(d.num_sms)) return kernels::kSm80Medium;
  return large;
}

}  // namespace sq
