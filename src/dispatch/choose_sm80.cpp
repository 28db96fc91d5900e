// The portable family's dispatch (mma.sync, sm_80+): the decode kernels for small M, the medium tile
// up to medium M, the large tile where its tiles fill most of a wave; for 8-byte aligned operands the same
// tiles filled by 8-byte cp.async (and the decode "_a8" variants at decode M); the generic loader below 8.
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
  if (s.operand_align < kernels::kOperandAlign8) return kernels::kSm80Generic;
  // 8-byte aligned operands take the same tiles filled by 8-byte cp.async [D-sm80-align8].
  const bool a8 = s.operand_align < kernels::kOperandAlign16;
  const kernels::KernelVariant& medium = a8 ? kernels::kSm80MediumA8 : kernels::kSm80Medium;
  const kernels::KernelVariant& large = a8 ? kernels::kSm80LargeA8 : kernels::kSm80Large;
  // The 8-byte tiles: the medium one at every M (the large "_a8" tile ran 1.12-1.20x slower wherever both
  // ran, unlike their 16-byte twins) [D-sm80-align8].
  if (a8 || s.m <= kMediumMaxM) return medium;
  const int64_t large_tiles = grid_tiles(s, large);
  if (large_tiles * kLargeMinWaveDen < kLargeMinWaveNum * static_cast<int64_t>(d.num_sms)) return medium;
  return large;
}

}  // namespace sq
