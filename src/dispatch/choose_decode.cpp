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

// The decode family as the chooser walks it, derived once from the registry (which lists the token
// buckets smallest first, each with its narrowest CTAs first): per bucket, the largest M and its
// narrowest and widest variants.
struct Bucket {
  int64_t max_m;
  const KernelVariant* narrow;
  const KernelVariant* wide;
};

const std::vector<Bucket>& decode_buckets() {
  static const std::vector<Bucket> buckets = [] {
    std::vector<Bucket> b;
    for (const KernelVariant& v : kernels::decode_variants()) {
      if (b.empty() || b.back().max_m != v.max_m) {
        b.push_back({v.max_m, &v, &v});
      } else {
        b.back().wide = &v;
      }
    }
    return b;
  }();
  return buckets;
}

}  // namespace

const KernelVariant* decode_choose(const LinearShape& s, const DeviceFacts& d) {
  if (!s.aligned16 || s.m < 1) return nullptr;
  // The token bucket: the variants with the fewest token tiles that hold M (every CTA reads all
  // M x K activation bytes from L2, so a bigger bucket than needed is slower).
  const std::vector<Bucket>& buckets = decode_buckets();
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
