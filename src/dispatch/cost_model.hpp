// The dispatch's shared arithmetic: how a grid fills the SMs, and the enumerate -> filter -> score
// loops the choosers run over a family's variants (in registry order, the order of preference).
#pragma once

#include <cstdint>

#include "dispatch/dispatch.hpp"
#include "variant.hpp"

namespace sq {

constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The fraction of the CTA slots of all waves that `ctas` CTAs use, `slots` CTAs per wave.
inline double wave_fill(int64_t ctas, int64_t slots) {
  const int64_t waves = ceil_div(ctas, slots);
  return static_cast<double>(ctas) / static_cast<double>(waves * slots);
}

// Clusters of `split` CTAs (one CTA per SM) resident at once: every SM for clusters of 1 and 2, the
// device fact for clusters of 3 (not every GPC holds a whole number of them).
inline int64_t clusters_at_once(int64_t split, const DeviceFacts& d) {
  return split == 3 ? d.cluster3_slots : d.num_sms / split;
}

// How well `ctas` CTAs in clusters of `split` fill the SMs: the fraction of the SM slots of all its
// waves that hold a CTA (a wave is as many clusters as fit at once).
inline double cluster_fill(int64_t ctas, int64_t split, const DeviceFacts& d) {
  const int64_t clusters = clusters_at_once(split, d);
  const int64_t slots = (clusters > 0 ? clusters : 1) * split;
  const int64_t waves = ceil_div(ctas, slots);
  return static_cast<double>(ctas) / static_cast<double>(waves * d.num_sms);
}

// The variant of `family` that passes keep(v) and scores highest: the first such variant in registry
// order, replaced only by one that scores more than (1 + margin) times the best so far. *best_score:
// its score (0 when none passes).
template <typename Keep, typename Score>
const kernels::KernelVariant* highest_score(kernels::VariantSpan family, Keep keep, Score score, double margin,
                                            double* best_score) {
  const kernels::KernelVariant* best = nullptr;
  *best_score = 0.0;
  for (const kernels::KernelVariant& v : family) {
    if (!keep(v)) continue;
    const double s = score(v);
    if (best == nullptr || s > *best_score * (1.0 + margin)) {
      best = &v;
      *best_score = s;
    }
  }
  return best;
}

// The same for a cost: the first such variant, replaced only by one that costs less than (1 - margin)
// times the best so far. *best_cost: its cost (0 when none passes).
template <typename Keep, typename Cost>
const kernels::KernelVariant* lowest_cost(kernels::VariantSpan family, Keep keep, Cost cost, double margin,
                                          double* best_cost) {
  const kernels::KernelVariant* best = nullptr;
  *best_cost = 0.0;
  for (const kernels::KernelVariant& v : family) {
    if (!keep(v)) continue;
    const double c = cost(v);
    if (best == nullptr || c < *best_cost * (1.0 - margin)) {
      best = &v;
      *best_cost = c;
    }
  }
  return best;
}

}  // namespace sq
