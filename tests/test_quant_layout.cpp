// The quantizer engine's layout arithmetic (kernels/quantize_layout.hpp), on the host: every thread of
// every CTA of a row walked through the same Walker the kernel runs, for every producer, unit size, K,
// row split and M regime. Each unit of a row is visited exactly once per pass, by a thread of the rank
// that owns its group, into a cache slot of its own; kRmsNorm's owner walk adds a lane's squares in
// increasing period and the cached lane pass finds each unit in the slot the walk put it in; the lane
// owners the split rows gather from are the ranks that hold the lanes; the shared memory fits.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "quantize_layout.hpp"

namespace {

using namespace sq::kernels;
using namespace sq::kernels::qrows;

void check_layout(Producer producer, QuantMode mode, int kn, int c_bytes, int64_t k, int64_t splits, int64_t m) {
  CAPTURE(static_cast<int>(producer), static_cast<int>(mode), kn, c_bytes, k, splits, m);
  const LaunchShape s = make_shape(producer, mode, k, kn, c_bytes, splits, m);
  const RowLayout& L = s.layout;
  const bool rms = producer == Producer::kRmsNorm;
  REQUIRE(s.threads % kWarp == 0);
  REQUIRE(s.threads >= kMinThreads);
  REQUIRE(s.threads <= kMaxThreads);
  const int64_t lane_bytes = rms ? (splits > 1 ? 2 : 1) * int64_t{kLaneBytes} : 0;
  if (L.cached) REQUIRE(lane_bytes + L.slots * kn * c_bytes <= kQuantizeRowCacheBytes);
  REQUIRE(static_cast<int64_t>(s.smem) == lane_bytes + (L.cached ? L.slots * kn * c_bytes : 0));
  REQUIRE(L.owner == (rms && !L.cached));
  if (rms) REQUIRE(L.period * kn == kLanes);

  // Per-element checks count failures (a REQUIRE each would dominate the run time); the first one says what.
  std::string bad;
  auto expect = [&](bool ok, const char* what, int64_t a, int64_t b) {
    if (!ok && bad.empty()) bad = std::string(what) + " (" + std::to_string(a) + ", " + std::to_string(b) + ")";
  };
  std::vector<int> seen(static_cast<size_t>(L.nvec), 0);
  int32_t next_g0 = 0;
  for (int64_t r = 0; r < splits && bad.empty(); ++r) {
    const Groups g = rank_groups(L.period, r, splits);
    expect(g.g0 == next_g0, "the ranks' groups tile [0, period)", r, g.g0);
    next_g0 = g.g0 + g.gr;
    expect(g.gr <= L.cap, "a rank's groups fit its cache slots per period", r, g.gr);
    if (rms)
      for (int32_t x = g.g0; x < g.g0 + g.gr; ++x)
        expect(group_owner(x, static_cast<int32_t>(L.period), static_cast<int32_t>(splits)) == static_cast<uint32_t>(r),
               "group_owner names the rank that holds the group", x, r);
    std::vector<int> slot_used(static_cast<size_t>(L.slots > 0 ? L.slots : 1), 0);
    std::vector<int32_t> slot_of(static_cast<size_t>(L.nvec), -1);         // vi -> slot
    std::vector<int32_t> group_thread(static_cast<size_t>(L.period), -1);  // owner walk: group -> its thread
    std::vector<int32_t> last_period(static_cast<size_t>(L.period), -1);   // owner walk: group -> last period
    for (int32_t t = 0; t < s.threads && bad.empty(); ++t) {
      int64_t steps = 0;
      for (Walker w(L, g, t, s.threads); w.valid() && bad.empty(); w.next()) {
        expect(++steps <= L.nvec, "a thread's walk ends", t, steps);
        const int64_t vi = w.vi();
        const int32_t group = g.g0 + w.off;
        expect(vi >= 0 && vi < L.nvec, "unit in the row", vi, L.nvec);
        if (!bad.empty()) break;
        expect(vi == static_cast<int64_t>(w.i) * L.period + group, "unit = period * i + group", vi, group);
        expect(group < g.g0 + g.gr, "the unit's group belongs to the rank", group, r);
        ++seen[static_cast<size_t>(vi)];
        expect(w.slot() >= 0 && w.slot() < L.slots, "slot in the cache", w.slot(), L.slots);
        if (!bad.empty()) break;
        expect(++slot_used[static_cast<size_t>(w.slot())] == 1, "one unit a slot", w.slot(), vi);
        expect(w.slot() == w.i * static_cast<int32_t>(L.cap) + w.off, "the lane pass's slot", w.slot(), vi);
        slot_of[static_cast<size_t>(vi)] = w.slot();
        if (rms) expect((static_cast<int64_t>(group) + 1) * kn <= kLanes, "lanes below 2048", group, kn);
        if (L.owner) {
          expect(w.i > last_period[static_cast<size_t>(group)], "a lane's squares in increasing period", group, w.i);
          last_period[static_cast<size_t>(group)] = w.i;
          expect(group_thread[static_cast<size_t>(group)] < 0 || group_thread[static_cast<size_t>(group)] == t,
                 "one thread a group", group, t);
          group_thread[static_cast<size_t>(group)] = t;
        }
      }
    }
    // The cached lane pass (kRmsNorm): period i of offset off is the unit the walk put in slot i * cap + off.
    if (rms && L.cached)
      for (int32_t off = 0; off < g.gr && bad.empty(); ++off)
        for (int32_t i = 0; i < static_cast<int32_t>(L.periods); ++i) {
          const int64_t vi = static_cast<int64_t>(i) * L.period + g.g0 + off;
          if (vi >= L.nvec) break;
          expect(slot_of[static_cast<size_t>(vi)] == i * static_cast<int32_t>(L.cap) + off, "lane pass finds the unit", vi, off);
        }
  }
  expect(next_g0 == L.period || !bad.empty(), "the groups cover the period", next_g0, L.period);
  for (size_t vi = 0; vi < seen.size() && bad.empty(); ++vi) expect(seen[vi] == 1, "every unit once", static_cast<int64_t>(vi), seen[vi]);
  INFO(bad);
  REQUIRE(bad.empty());
}

}  // namespace

TEST_CASE("quantizer layout: every unit once, in its rank, its slot and its lane order", "[quant_layout]") {
  const int64_t ks[] = {1, 2, 7, 8, 9, 100, 2047, 2048, 2049, 4096, 6151, 16384, 24581, 28672, 100003};
  for (Producer producer : {Producer::kPlain, Producer::kRmsNorm, Producer::kSiluMul})
    for (QuantMode mode : {QuantMode::kStatic, QuantMode::kDynamic})
      for (int kn : {1, 2, 4, 8})
        for (int64_t k : ks)
          for (int64_t splits = 1; splits <= kQuantizeMaxRowSplits; ++splits)
            for (int64_t m : {int64_t{1}, int64_t{1000}}) {
              if (producer != Producer::kPlain && kn == 2) continue;  // f64 x: the plain producer only
              check_layout(producer, mode, kn, kn == 2 ? 8 : 4, k, splits, m);
            }
}

TEST_CASE("quantize_cache_row_splits: the fewest splits whose shares fit the cache", "[quant_layout]") {
  // bf16 x: f32 cache 4 bytes an element. RMSNorm rows also hold the lanes (8 KiB, 16 KiB when split).
  CHECK(quantize_cache_row_splits(Producer::kPlain, QuantMode::kStatic, Dtype::BF16, 1 << 20) == 1);  // one pass
  CHECK(quantize_cache_row_splits(Producer::kPlain, QuantMode::kDynamic, Dtype::BF16, 24576) == 1);
  CHECK(quantize_cache_row_splits(Producer::kPlain, QuantMode::kDynamic, Dtype::BF16, 28672) == 2);
  CHECK(quantize_cache_row_splits(Producer::kPlain, QuantMode::kDynamic, Dtype::F64, 28672) == 3);
  CHECK(quantize_cache_row_splits(Producer::kRmsNorm, QuantMode::kStatic, Dtype::BF16, 8192) == 1);
  CHECK(quantize_cache_row_splits(Producer::kRmsNorm, QuantMode::kDynamic, Dtype::F32, 22528) == 1);
  CHECK(quantize_cache_row_splits(Producer::kRmsNorm, QuantMode::kDynamic, Dtype::F32, 24576) == 2);
  CHECK(quantize_cache_row_splits(Producer::kSiluMul, QuantMode::kFromAbsmax, Dtype::F16, 28672) == 1);
  CHECK(quantize_cache_row_splits(Producer::kSiluMul, QuantMode::kDynamicAsym, Dtype::F16, 28672) == 2);
  CHECK(quantize_cache_row_splits(Producer::kPlain, QuantMode::kAbsmax, Dtype::F32, 1 << 30) == kQuantizeMaxRowSplits);
}
