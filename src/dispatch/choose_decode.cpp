// Small-M (decode) dispatch, shared by both GPU families: which decode kernel takes a shape.
#include <vector>

#include "dispatch/cost_model.hpp"
#include "dispatch/dispatch.hpp"
#include "registry.hpp"

namespace sq {

namespace {

using kernels::KernelVariant;

// The wide (32-row CTA) variant halves the activation reads and the CTAs; it is taken unless its last
// wave leaves clearly more of the GPU idle than the narrow one's [D-decode-wide].
constexpr double kWideFillMargin = 0.05;
// In the smallest token bucket the activation reads are small: the wide variant pays only where the
// narrow one needs more than one wave and leaves its last under this fill [D-decode-small-wide].
constexpr double kSmallWideMaxNarrowFill = 0.8;

// The fill of the waves of variant v's CTAs over N.
double decode_fill(const KernelVariant& v, const LinearShape& s, const DeviceFacts& d) {
  return wave_fill(ceil_div(s.n, v.tile_n), static_cast<int64_t>(d.num_sms) * v.ctas_per_sm);
}

// The decode family as the chooser walks it, derived once from the registry (which lists, per load width,
// the token buckets smallest first, each with its narrowest CTAs first): per bucket, the largest M and its
// narrowest and widest variants (the same one where a bucket has one CTA width).
struct Bucket {
  int64_t max_m;
  const KernelVariant* narrow;
  const KernelVariant* wide;
};

// The buckets of the variants that need exactly min_align.
std::vector<Bucket> buckets_of(int32_t min_align) {
  std::vector<Bucket> b;
  for (const KernelVariant& v : kernels::decode_variants()) {
    if (v.min_align != min_align) continue;
    if (b.empty() || b.back().max_m != v.max_m) {
      b.push_back({v.max_m, &v, &v});
    } else {
      b.back().wide = &v;
    }
  }
  return b;
}

// The buckets a shape of operand_align runs: the 16-byte-load variants where the operands allow them, else
// the 8-byte-load ones [D-decode-align8]; none below 8 bytes (the generic kernel takes those).
const std::vector<Bucket>* decode_buckets(int32_t operand_align) {
  static const std::vector<Bucket> aligned16 = buckets_of(kernels::kOperandAlign16);
  static const std::vector<Bucket> aligned8 = buckets_of(kernels::kOperandAlign8);
  if (operand_align >= kernels::kOperandAlign16) return &aligned16;
  if (operand_align >= kernels::kOperandAlign8) return &aligned8;
  return nullptr;
}

}  // namespace

const KernelVariant* decode_choose(const LinearShape& s, const DeviceFacts& d) {
  const std::vector<Bucket>* by_align = decode_buckets(s.operand_align);
  if (by_align == nullptr || s.m < 1) return nullptr;
  // The token bucket: the variants with the fewest token tiles that hold M (every CTA reads all
  // M x K activation bytes from L2, so a bigger bucket than needed is slower).
  const std::vector<Bucket>& buckets = *by_align;
  const Bucket* b = nullptr;
  for (const Bucket& candidate : buckets) {
    if (s.m <= candidate.max_m) {
      b = &candidate;
      break;
    }
  }
  if (b == nullptr) return nullptr;
  const bool prefer_wide = decode_fill(*b->wide, s, d) + kWideFillMargin >= decode_fill(*b->narrow, s, d);
  if (b != &buckets.front()) return prefer_wide ? b->wide : b->narrow;
  const bool narrow_spills =
      ceil_div(s.n, b->narrow->tile_n) > static_cast<int64_t>(d.num_sms) * b->narrow->ctas_per_sm &&
      decode_fill(*b->narrow, s, d) < kSmallWideMaxNarrowFill;
  return prefer_wide && narrow_spills ? b->wide : b->narrow;
}

}  // namespace sq
