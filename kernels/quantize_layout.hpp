// The layout arithmetic of the quantizer engine (quantize_rows.cuh): how a row's units are spread over
// the CTAs of a row and the threads of a CTA, which rank owns which RMSNorm lanes, what a CTA keeps in
// shared memory and how large a CTA is. CUDA-free apart from the host/device markers, so that a host test
// (tests/test_quant_layout.cpp) walks every thread of every rank through the very code the kernel runs.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernel_params.hpp"
#include "quantize.hpp"
#include "sq_math.hpp"  // SQ_HD, kRmsLanes

namespace sq {
namespace kernels {
namespace qrows {

constexpr int kWarp = 32;
constexpr int kMinThreads = kWarp;  // CTA size for short shares: one warp
constexpr int kMaxThreads = 512;    // CTA size for long shares
constexpr int kVecBytes = 16;       // vector path: 16 bytes of x per unit
static_assert(kQuantizeCtaBytes == kVecBytes * kMaxThreads, "quantize.hpp: bytes per CTA");
constexpr int kLanes = math::kRmsLanes;
constexpr int kLaneBytes = kLanes * static_cast<int>(sizeof(float));
// Units per thread: one while the grid is at most one wave of the largest GPU (decode sizes, where a
// row's latency counts [D-quant-vectors]), two beyond it (more bytes in flight per SM; the two loads are
// issued together).
constexpr int64_t kOneWaveCtas = 132;
constexpr int kUnitsPerThreadWide = 2;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// How a row's units are laid out over its CTAs and their threads (host-computed by make_shape). A unit is
// a 16-byte vector of x (vector path; the last one may be partial) or one element. Units are grouped by
// period: kRmsNorm's period is the units of 2048 elements (unit g of every period feeds the same lanes
// of the sum of squares), any other producer's is the whole row. Rank r of `splits` CTAs owns the groups
// rank_groups(period, r, splits) of every period.
struct RowLayout {
  int64_t nvec;     // units of a row: ceil(k / unit elements)
  int64_t period;   // groups per period
  int64_t periods;  // ceil(nvec / period)
  int64_t cap;      // cache slots per period of a CTA: ceil(period / splits)
  int64_t slots;    // cache slots of a CTA (per plane)
  int32_t splits;   // CTAs per row
  int32_t cache_offset;  // bytes of dynamic shared memory before the cache (the lane sums)
  bool cached;      // the CTA keeps its share in shared memory between passes
  bool owner;       // kRmsNorm without the cache: thread t takes the groups t, t + T, ... of every period
                    // in increasing period (it adds its lanes' squares as it loads them); else thread t
                    // takes the units t, t + T, ... of the CTA's units in (period, group) order
};

// The groups [g0, g0 + gr) of every period that rank `rank` of `splits` owns.
struct Groups {
  int32_t g0, gr;
};
SQ_HD Groups rank_groups(int64_t period, int64_t rank, int64_t splits) {
  const int64_t g0 = period * rank / splits, g1 = period * (rank + 1) / splits;
  return Groups{static_cast<int32_t>(g0), static_cast<int32_t>(g1 - g0)};
}
// The rank that owns group g (0 <= g < period <= kLanes): the largest r with period * r / splits <= g.
SQ_HD uint32_t group_owner(int32_t g, int32_t period, int32_t splits) {
  return static_cast<uint32_t>((splits * (g + 1) + period - 1) / period - 1);
}

// The units thread t (of `step` threads) of a CTA visits, in order: group g0 + off of period i. Every
// count here is below 2^31 (k is an int32); vi, which a last period may push past it, is 64-bit.
struct Walker {
  int32_t i, off;
  int32_t t, step, gr, g0, period, periods, cap;
  int64_t nvec;
  bool owner;
  SQ_HD Walker(const RowLayout& L, Groups g, int32_t thread, int32_t threads)
      : i(0), off(thread), t(thread), step(threads), gr(g.gr), g0(g.g0), period(static_cast<int32_t>(L.period)),
        periods(static_cast<int32_t>(L.periods)), cap(static_cast<int32_t>(L.cap)), nvec(L.nvec), owner(L.owner) {
    if (gr == 0) {
      i = periods;
    } else if (!owner) {
      while (off >= gr) {
        off -= gr;
        ++i;
      }
    }
  }
  SQ_HD int64_t vi() const { return static_cast<int64_t>(i) * period + g0 + off; }
  SQ_HD int32_t slot() const { return i * cap + off; }
  SQ_HD bool valid() const { return i < periods && off < gr && vi() < nvec; }
  SQ_HD void next() {
    off += step;
    if (owner) {
      if (off >= gr) {
        off = t;
        ++i;
      }
    } else {
      while (off >= gr) {
        off -= gr;
        ++i;
      }
    }
  }
};

// The modes that need the whole row before they quantize (and every kRmsNorm mode: the sum of squares).
inline bool keeps_row(Producer producer, QuantMode mode) {
  return producer == Producer::kRmsNorm || mode == QuantMode::kDynamic || mode == QuantMode::kDynamicAsym ||
         mode == QuantMode::kAbsmax;
}

// A launch: the layout, the dynamic shared memory bytes of a CTA and its threads.
struct LaunchShape {
  RowLayout layout;
  size_t smem;
  int threads;
};

// The launch of m rows of k elements in units of kn elements (C values of c_bytes), `splits` CTAs a row.
// Dynamic shared memory: [kRmsNorm: the 2048 lane sums; split rows: also this CTA's own lane sums]
// [the cache when it fits kQuantizeRowCacheBytes with the lanes].
inline LaunchShape make_shape(Producer producer, QuantMode mode, int64_t k, int kn, int c_bytes, int64_t splits,
                              int64_t m) {
  const bool rms = producer == Producer::kRmsNorm;
  RowLayout L{};
  L.splits = static_cast<int32_t>(splits);
  L.nvec = ceil_div(k, kn);
  L.period = rms ? kLanes / kn : L.nvec;
  L.periods = ceil_div(L.nvec, L.period);
  L.cap = ceil_div(L.period, splits);
  const int64_t last = std::min<int64_t>(L.cap, L.nvec - (L.periods - 1) * L.period);
  L.slots = (L.periods - 1) * L.cap + last;
  const int64_t lane_bytes = rms ? (splits > 1 ? 2 : 1) * int64_t{kLaneBytes} : 0;
  const int64_t cache_bytes = L.slots * kn * c_bytes;
  L.cached = keeps_row(producer, mode) && lane_bytes + cache_bytes <= kQuantizeRowCacheBytes;
  L.owner = rms && !L.cached;
  L.cache_offset = static_cast<int32_t>(lane_bytes);
  LaunchShape s;
  s.layout = L;
  s.smem = static_cast<size_t>(lane_bytes + (L.cached ? cache_bytes : 0));
  const int64_t units = std::min<int64_t>(L.nvec, L.periods * L.cap);  // most units of one CTA
  const int64_t per_thread = m * splits <= kOneWaveCtas ? 1 : kUnitsPerThreadWide;
  int64_t t = ceil_div(units, per_thread);
  if (L.owner) t = std::min<int64_t>(t, L.cap);  // the owner walk gives a thread at most cap groups
  t = ceil_div(t, kWarp) * kWarp;
  s.threads = static_cast<int>(std::max<int64_t>(kMinThreads, std::min<int64_t>(kMaxThreads, t)));
  return s;
}

}  // namespace qrows
}  // namespace kernels
}  // namespace sq
