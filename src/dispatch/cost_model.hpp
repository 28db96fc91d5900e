// The dispatch's shared arithmetic: how a grid fills the SMs, and the enumerate -> filter -> score
// loops the choosers run over a family's variants (in registry order, the order of preference).
#pragma once

#include <cstdint>

#include "dispatch/dispatch.hpp"
#include "variant.hpp"

namespace sq {

constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The CTA tiles of variant v's grid for shape s.
inline int64_t grid_tiles(const LinearShape& s, const kernels::KernelVariant& v) {
  return ceil_div(s.m, v.tile_m) * ceil_div(s.n, v.tile_n);
}

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

// A candidate list holds variants or pointers to variants (the registry's order either way).
inline const kernels::KernelVariant& as_variant(const kernels::KernelVariant& v) { return v; }
inline const kernels::KernelVariant& as_variant(const kernels::KernelVariant* v) { return *v; }

// The enumerate -> filter -> score loop: the variant of `candidates` that passes keep(v) with the best
// value(v), where better(x, best) says whether value x replaces the best so far. The first passing
// variant in registry order starts; *best_value: its value (0 when none passes).
template <typename Range, typename Keep, typename Value, typename Better>
const kernels::KernelVariant* best_variant(const Range& candidates, Keep keep, Value value, Better better,
                                           double* best_value) {
  const kernels::KernelVariant* best = nullptr;
  *best_value = 0.0;
  for (const auto& candidate : candidates) {
    const kernels::KernelVariant& v = as_variant(candidate);
    if (!keep(v)) continue;
    const double x = value(v);
    if (best == nullptr || better(x, *best_value)) {
      best = &v;
      *best_value = x;
    }
  }
  return best;
}

// The highest score: a later variant replaces the best only when it scores more than (1 + margin) times it.
template <typename Range, typename Keep, typename Score>
const kernels::KernelVariant* highest_score(const Range& candidates, Keep keep, Score score, double margin,
                                            double* best_score) {
  return best_variant(candidates, keep, score, [margin](double s, double best) { return s > best * (1.0 + margin); },
                      best_score);
}

// The lowest cost: a later variant replaces the best only when it costs less than (1 - margin) times it.
template <typename Range, typename Keep, typename Cost>
const kernels::KernelVariant* lowest_cost(const Range& candidates, Keep keep, Cost cost, double margin,
                                          double* best_cost) {
  return best_variant(candidates, keep, cost, [margin](double c, double best) { return c < best * (1.0 - margin); },
                      best_cost);
}

}  // namespace sq
