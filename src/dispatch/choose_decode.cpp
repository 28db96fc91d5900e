// Small-M (decode) dispatch, shared by both GPU families: which decode kernel takes a shape.
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

}  // namespace

const KernelVariant* decode_choose(const LinearShape& s, const DeviceFacts& d) {
  if (!s.aligned16 || s.m < 1) return nullptr;
  // The token bucket: the variants with the fewest token tiles that hold M (every CTA reads all
  // M x K activation bytes from L2, so a bigger bucket than needed is slower). The registry lists the
  // buckets smallest first, each with its narrowest CTAs first.
  const kernels::VariantSpan all = kernels::decode_variants();
  const KernelVariant* narrow = nullptr;
  const KernelVariant* wide = nullptr;
  for (const KernelVariant& v : all) {
    if (!kernels::takes_m(v, s.m)) continue;
    if (narrow == nullptr) {
      narrow = wide = &v;
    } else if (v.max_m == narrow->max_m) {
      wide = &v;
    }
  }
  if (narrow == nullptr) return nullptr;
  const bool prefer_wide = decode_fill(*wide, s, d) + kWideFillMargin >= decode_fill(*narrow, s, d);
  if (narrow->max_m != all[0].max_m) return prefer_wide ? wide : narrow;
  const bool narrow_spills = ceil_div(s.n, narrow->tile_n) > static_cast<int64_t>(d.num_sms) * narrow->ctas_per_sm &&
                             decode_fill(*narrow, s, d) < kSmallWideMaxNarrowFill;
  return prefer_wide && narrow_spills ? wide : narrow;
}

}  // namespace sq
