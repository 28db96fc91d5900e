// The Hopper family's dispatch: which kernel runs a shape on an sm_90 device. By regime, first match:
//   unaligned                                  -> the portable family's choice
//   small M (decode_regime)                    -> at 32 < M <= 64 on a small weight with short K (and
//                                                 at 16 < M <= 32 where the narrow decode CTAs need two
//                                                 waves) the narrowest one-CTA split-K tile in one wave;
//                                                 a split-K kernel above M = 32, or for a large weight,
//                                                 when one pays (split_choose), else the decode kernels
//   16-bit out, kSplitSmallMaxM < M <= kOneWaveMaxM -> split-K with one CTA per tile, where such a grid
//                                                 fills one wave well and out's rows are 16-byte aligned
//                                                 (one_wave_choose), else, where 128-row tiles pad M by
//                                                 over a fifth and 64-row ones do not, the one-CTA 64-row
//                                                 split-K width the wave cost model finishes first over
//                                                 several waves (short_tile_choose)
//   M in the split-K variants' range           -> a split-K kernel when it fills the SMs enough better
//                                                 than the narrow persistent kernel (split_choose)
//   otherwise                                  -> the cooperative persistent width the wave cost model
//                                                 finishes first (persistent_choose), or the ping-pong
//                                                 kernel where it pays (pingpong_pays); where out's rows
//                                                 are not 16-byte aligned, only widths that stage them
//                                                 and no ping-pong [D-out-align-dispatch]
// Every regime enumerates its family's variants in registry order, filters them and scores them.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "dispatch/cost_model.hpp"
#include "dispatch/dispatch.hpp"
#include "registry.hpp"

namespace sq {

namespace {

using kernels::KernelVariant;
using kernels::Schedule;

// ---- the decode regime
constexpr int64_t kDecodeWinsUpToM = 32;  // the decode kernels win up to here [D-decode-m]
// Above it, up to this M, a small weight with short K takes the narrowest split-K tile of one CTA per
// tile whose tiles fit one wave, else what split-K or the decode kernels offer; from kDecodeSplitMinM
// too where the narrow decode CTAs need a second wave [D-decode-small-weight].
constexpr int64_t kDecodeMaxM = 64;
constexpr int64_t kSmallWeightBytes = int64_t{16} << 20;
constexpr int64_t kSmallWeightMaxK = 4096;  // exclusive
// Above this M a weight of more than kSplitLargeWeightBytes (past the small-weight class) streams faster
// through split-K [D-split-weight].
constexpr int64_t kDecodeSplitMinM = 16;
constexpr int64_t kSplitLargeWeightBytes = kSmallWeightBytes;

// ---- split-K
constexpr int64_t kSplitSmallMaxM = 64;     // up to here one tile of rows: the split pays at any K [D-split-gain]
constexpr int64_t kLongKBlocks = 96;        // K blocks from which K counts as long [D-split-gain]
constexpr int64_t kMinKBlocksPerSplit = 4;  // K blocks per CTA of a split, at least
// How much better than the narrow persistent kernel the split must fill the SMs [D-split-gain].
constexpr double kSplitGainSmallM = 1.0;  // M <= kSplitSmallMaxM: ties go to the split
constexpr double kSplitGainLongK = 2.0;   // larger M, long K
constexpr double kSplitGainShortK = 3.0;  // larger M, short K
// Relative score by which a narrower tile or a larger split must beat the one preferred [D-split-fill].
constexpr double kFillMargin = 0.03;
// Among split-K variants, a cluster of 2 or 3 CTAs scores this share of its fill: one CTA per tile (no
// cross-CTA reduction) is kept unless a cluster fills clearly better [D-split-cluster-weight].
constexpr double kClusterFillWeight = 0.9;
// Fraction of the SMs that clusters of 3 CTAs occupy at once (H100 SXM) [D-split-fill].
constexpr double kCluster3SmFill = 0.88;

// ---- split-K with one CTA per tile in one wave [D-one-wave]
constexpr int64_t kOneWaveMaxM = 192;
constexpr int32_t kOneWaveOutBytes = 2;
constexpr double kOneWaveMinScore = 0.8;  // on the chosen grid's share of rows inside M ...
constexpr double kOneWaveMinFill = 0.6;   // ... and on its share of the SMs times its columns' share inside N

// ---- the persistent kernels' wave cost model [D-persistent-widths]
// A wave of BN-wide tiles takes time in proportion to BN; a last wave that fills a fraction f of the
// SMs takes f^kPartialWaveExponent of a full one (its CTAs share the memory system with fewer others).
constexpr double kPartialWaveExponent = 0.5;
constexpr double kWidthMargin = 0.02;  // a narrower width must be this fraction faster

// ---- the ping-pong kernel [D-pingpong]
constexpr int32_t kPingPongOutBytes = 2;          // 16-bit output only
constexpr int64_t kPingPongMinTilesPerSm = 2;     // below, one warpgroup idles
constexpr int64_t kPingPongMaxTilesPerSm = 32;
constexpr int64_t kPingPongMaxK = 8192;
constexpr double kPingPongEpilogueShare = 0.10;  // the hidden epilogue's share of a tile's time ...
constexpr int64_t kPingPongShareK = 4096;        // ... up to this K, falling as 1/K above

bool decode_regime(const LinearShape& s) { return s.m <= kDecodeMaxM; }

// Whether v stores s's out rows as whole sectors (aligned rows, or rows it stages) [D-out-align-dispatch].
bool full_sectors(const KernelVariant& v, const LinearShape& s) {
  return kernels::stores_full_sectors(v, s.out_bytes, s.out_aligned);
}

// The split-K family as the choosers walk it, derived once from the registry (which lists each tile
// height's variants together, tallest first): each height's variants, the variants of one CTA per
// tile, and the largest M any of them is meant for.
struct SplitKView {
  struct Height {
    int64_t tile_m;
    kernels::VariantSpan variants;
  };
  std::vector<Height> heights;
  std::vector<const KernelVariant*> one_cta;
  int64_t shortest = 0;  // the shortest tile height
  int64_t max_m = 0;
};

const SplitKView& splitk_view() {
  static const SplitKView view = [] {
    SplitKView v;
    const kernels::VariantSpan all = kernels::sm90_splitk_variants();
    for (size_t i = 0; i < all.size(); ++i) {
      if (v.heights.empty() || v.heights.back().tile_m != all[i].tile_m)
        v.heights.push_back({all[i].tile_m, kernels::VariantSpan{&all[i], 0}});
      ++v.heights.back().variants.count;
      if (all[i].split == 1) v.one_cta.push_back(&all[i]);
      v.max_m = std::max<int64_t>(v.max_m, all[i].max_m);
      v.shortest = v.shortest == 0 ? all[i].tile_m : std::min<int64_t>(v.shortest, all[i].tile_m);
    }
    return v;
  }();
  return view;
}

// The split-K tile height for M: the shortest that holds M (no zero-filled rows of A in the stages),
// else the tallest; its variants.
kernels::VariantSpan split_height_variants(const LinearShape& s, int64_t* tile_m) {
  const SplitKView::Height* shortest = nullptr;
  const SplitKView::Height* tallest = nullptr;
  for (const SplitKView::Height& h : splitk_view().heights) {
    if (h.tile_m >= s.m && (shortest == nullptr || h.tile_m < shortest->tile_m)) shortest = &h;
    if (tallest == nullptr || h.tile_m > tallest->tile_m) tallest = &h;
  }
  const SplitKView::Height* h = shortest != nullptr ? shortest : tallest;
  *tile_m = h->tile_m;
  return h->variants;
}

// The split-K variant for a shape, or nullptr when none pays over the narrow persistent kernel.
// Fill of a variant: cluster_fill of its CTAs times the share of its tile columns inside N; the variants
// compete on that fill weighted by kClusterFillWeight for clusters, and the best's own fill must pay.
const KernelVariant* split_choose(const LinearShape& s, const DeviceFacts& d) {
  if (s.m > splitk_view().max_m) return nullptr;
  int64_t height = 0;
  const kernels::VariantSpan candidates = split_height_variants(s, &height);
  const int64_t m_tiles = ceil_div(s.m, height);
  const auto fill = [&](const KernelVariant& v) {
    const int64_t n_tiles = ceil_div(s.n, v.tile_n);
    return cluster_fill(m_tiles * n_tiles * v.split, v.split, d) * static_cast<double>(s.n) /
           static_cast<double>(n_tiles * v.tile_n);
  };
  double weighted = 0.0;
  const KernelVariant* best = highest_score(
      candidates, [&](const KernelVariant& v) { return kernels::takes_m(v, s.m) && split_k_blocks_suffice(v, s); },
      [&](const KernelVariant& v) { return fill(v) * (v.split > 1 ? kClusterFillWeight : 1.0); }, kFillMargin,
      &weighted);
  const double best_score = best != nullptr ? fill(*best) : 0.0;
  const double narrow = wave_fill(m_tiles * ceil_div(s.n, kernels::kSm90Narrow.tile_n), d.num_sms);
  if (s.m <= kSplitSmallMaxM) return best_score >= narrow * kSplitGainSmallM ? best : nullptr;
  const int64_t k_blocks = ceil_div(s.k, kernels::kSm90Narrow.tile_k);
  const double gain = k_blocks >= kLongKBlocks ? kSplitGainLongK : kSplitGainShortK;
  return best_score > narrow * gain ? best : nullptr;
}

// The share of tile rows inside M of tiles tile_m rows tall.
double rows_inside_m(const LinearShape& s, int64_t tile_m) {
  return static_cast<double>(s.m) / static_cast<double>(ceil_div(s.m, tile_m) * tile_m);
}

// The split-K variant with one CTA per tile whose grid fits in one wave and that stores s's out rows as
// whole sectors (none stages unaligned rows) scoring best, or nullptr when it pads M by more than
// 1 - kOneWaveMinScore or fills less than kOneWaveMinFill. Score: the grid's fill (the share of the SMs it
// occupies times the share of its tile columns inside N) times the share of its tile rows inside M.
const KernelVariant* one_wave_choose(const LinearShape& s, const DeviceFacts& d) {
  const auto fill = [&](const KernelVariant& v) {
    return static_cast<double>(grid_tiles(s, v)) / static_cast<double>(d.num_sms) * static_cast<double>(s.n) /
           static_cast<double>(ceil_div(s.n, v.tile_n) * v.tile_n);
  };
  const auto rows = [&](const KernelVariant& v) { return rows_inside_m(s, v.tile_m); };
  double best_score = 0.0;
  const KernelVariant* best = highest_score(
      splitk_view().one_cta,
      [&](const KernelVariant& v) {
        return grid_tiles(s, v) <= d.num_sms && full_sectors(v, s);
      },
      [&](const KernelVariant& v) { return fill(v) * rows(v); }, kFillMargin, &best_score);
  return best != nullptr && rows(*best) >= kOneWaveMinScore && fill(*best) >= kOneWaveMinFill ? best : nullptr;
}

// The split-K variant of one CTA per tile with the narrowest tile of the height for M whose tiles fit one
// wave (the most CTAs, no cluster), or nullptr when none fits.
const KernelVariant* narrow_one_wave_choose(const LinearShape& s, const DeviceFacts& d) {
  int64_t height = 0;
  split_height_variants(s, &height);
  const KernelVariant* best = nullptr;
  for (const KernelVariant* v : splitk_view().one_cta) {
    if (v->tile_m != height || !kernels::takes_m(*v, s.m)) continue;
    if (grid_tiles(s, *v) > d.num_sms) continue;
    if (best == nullptr || v->tile_n < best->tile_n) best = v;
  }
  return best;
}

// Whether the narrowest decode CTAs of M's token bucket need more than one wave for N.
bool narrow_decode_spills(const LinearShape& s, const DeviceFacts& d) {
  const KernelVariant* narrow = nullptr;
  for (const KernelVariant& v : kernels::decode_variants()) {
    if (v.min_align != s.operand_align || !kernels::takes_m(v, s.m)) continue;
    if (narrow == nullptr || v.max_m < narrow->max_m || (v.max_m == narrow->max_m && v.tile_n < narrow->tile_n))
      narrow = &v;
  }
  return narrow != nullptr && ceil_div(s.n, narrow->tile_n) > static_cast<int64_t>(d.num_sms) * narrow->ctas_per_sm;
}

// The waves of variant v's tiles for s, the last partial wave's fill f counting f^kPartialWaveExponent.
double waves(const LinearShape& s, const DeviceFacts& d, const KernelVariant& v) {
  const int64_t tiles = grid_tiles(s, v);
  const int64_t full_waves = tiles / d.num_sms;
  const double last_fill = static_cast<double>(tiles % d.num_sms) / static_cast<double>(d.num_sms);
  return static_cast<double>(full_waves) + std::pow(last_fill, kPartialWaveExponent);
}

// The cost model's time of persistent variant v (in units of one tile column's mainloop): its waves
// times its width.
double persistent_cost(const LinearShape& s, const DeviceFacts& d, const KernelVariant& v) {
  return waves(s, d, v) * static_cast<double>(v.tile_n);
}

// Whether the persistent kernels' 128-row tiles pad M by more than 1 - kOneWaveMinScore and the shortest
// split-K tiles do not (M = 154..192 with 64-row tiles): where short_tile_choose may take them.
bool short_tiles_pad_less(const LinearShape& s) {
  return rows_inside_m(s, kernels::kSm90Narrow.tile_m) < kOneWaveMinScore &&
         rows_inside_m(s, splitk_view().shortest) >= kOneWaveMinScore;
}

// For a shape short_tiles_pad_less takes, unless the persistent choice `coop`'s tiles fit one wave: the
// one-CTA split-K variant of the shortest tile height over as many waves as it takes, the width whose
// waves of tiles finish first, a tile counting the bytes it loads per K byte (tile_m + tile_n; widest
// first, a narrower one taken only when it is kWidthMargin faster) [D-short-tiles].
const KernelVariant* short_tile_choose(const LinearShape& s, const DeviceFacts& d, const KernelVariant& coop) {
  if (grid_tiles(s, coop) <= d.num_sms) return nullptr;
  const int64_t shortest = splitk_view().shortest;
  double cost = 0.0;
  return lowest_cost(
      splitk_view().one_cta,
      [&](const KernelVariant& v) { return v.tile_m == shortest && kernels::takes_m(v, s.m) && full_sectors(v, s); },
      [&](const KernelVariant& v) { return waves(s, d, v) * static_cast<double>(v.tile_m + v.tile_n); },
      kWidthMargin, &cost);
}

// The cooperative persistent variant the cost model runs fastest (widest first, a narrower one taken
// only when it is kWidthMargin faster), among those that store s's out rows as whole sectors where any
// does; its cost in *cost.
const KernelVariant& persistent_choose(const LinearShape& s, const DeviceFacts& d, double* cost) {
  const auto cooperative = [](const KernelVariant& v) { return v.schedule == Schedule::kCooperative; };
  const kernels::VariantSpan all = kernels::sm90_wgmma_variants();
  const bool some_full = std::any_of(all.begin(), all.end(),
                                     [&](const KernelVariant& v) { return cooperative(v) && full_sectors(v, s); });
  return *lowest_cost(
      all, [&](const KernelVariant& v) { return cooperative(v) && (full_sectors(v, s) || !some_full); },
      [&](const KernelVariant& v) { return persistent_cost(s, d, v); }, kWidthMargin, cost);
}

// Whether the ping-pong kernel (each warpgroup's epilogue under the other's mainloop) beats the
// cooperative choice of cost coop_cost: 16-bit output stored as whole sectors, K <= kPingPongMaxK,
// kPingPongMinTilesPerSm .. kPingPongMaxTilesPerSm of its tiles per SM, and its cost model time, less the
// epilogue share it hides, under coop_cost.
bool pingpong_pays(const LinearShape& s, const DeviceFacts& d, double coop_cost) {
  const KernelVariant& pp = kernels::kSm90PingPong;
  if (s.out_bytes != kPingPongOutBytes || s.k > kPingPongMaxK || !full_sectors(pp, s)) return false;
  const int64_t tiles = grid_tiles(s, pp);
  if (tiles < kPingPongMinTilesPerSm * d.num_sms || tiles > kPingPongMaxTilesPerSm * d.num_sms) return false;
  const double share = kPingPongEpilogueShare * static_cast<double>(kPingPongShareK) /
                       static_cast<double>(std::max<int64_t>(s.k, kPingPongShareK));
  return persistent_cost(s, d, pp) * (1.0 - share) < coop_cost;
}

}  // namespace

DeviceFacts device_facts(int32_t sm, int32_t num_sms) {
  const int32_t sms = num_sms > 0 ? num_sms : 1;
  const int64_t cluster3_sms = static_cast<int64_t>(kCluster3SmFill * static_cast<double>(sms));
  return DeviceFacts{sm, sms, static_cast<int32_t>(cluster3_sms / 3)};
}

void build_dispatch_views() {
  splitk_view();
  decode_choose(LinearShape{1, 1, 16, 2, kernels::kOperandAlign16, true}, device_facts(90, 1));
}

bool split_k_blocks_suffice(const KernelVariant& v, const LinearShape& s) {
  return v.split <= 1 || ceil_div(s.k, v.tile_k) >= v.split * kMinKBlocksPerSplit;
}

const KernelVariant& sm90_choose(const LinearShape& s, const DeviceFacts& d) {
  // Operands under 16-byte alignment (no TMA): the portable family's choice, the decode "_a8" variants
  // at decode M included [D-decode-align8].
  if (s.operand_align < kernels::kOperandAlign16) return sm80_choose(s, d);
  if (decode_regime(s)) {
    if (s.m > kDecodeSplitMinM && s.n * s.k <= kSmallWeightBytes && s.k < kSmallWeightMaxK &&
        (s.m > kDecodeWinsUpToM || narrow_decode_spills(s, d))) {
      if (const KernelVariant* v = narrow_one_wave_choose(s, d)) return *v;
    }
    if (s.m > kDecodeWinsUpToM || (s.m > kDecodeSplitMinM && s.n * s.k > kSplitLargeWeightBytes)) {
      if (const KernelVariant* v = split_choose(s, d)) return *v;
    }
    if (const KernelVariant* v = decode_choose(s, d)) return *v;
  }
  // The persistent choice, computed at most once per call (the short-tile rule weighs it too).
  double coop_cost = 0.0;
  const KernelVariant* coop = nullptr;
  if (s.m > kSplitSmallMaxM && s.m <= kOneWaveMaxM && s.out_bytes == kOneWaveOutBytes) {
    if (const KernelVariant* v = one_wave_choose(s, d)) return *v;
    if (short_tiles_pad_less(s)) {
      coop = &persistent_choose(s, d, &coop_cost);
      if (const KernelVariant* v = short_tile_choose(s, d, *coop)) return *v;
    }
  }
  if (const KernelVariant* v = split_choose(s, d)) return *v;
  if (coop == nullptr) coop = &persistent_choose(s, d, &coop_cost);
  return pingpong_pays(s, d, coop_cost) ? kernels::kSm90PingPong : *coop;
}

}  // namespace sq
