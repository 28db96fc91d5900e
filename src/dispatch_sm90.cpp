// Hopper family dispatch: which kernel runs a shape on an sm_90 device.
//   unaligned (not aligned16) -> the portable family's choice (sm80_choose)
//   M <= kDecodeMaxM           -> the decode kernels (decode_choose), shared by both families; also
//                                 M <= kDecodeSmallWeightMaxM with a small weight (N*K <= 16 MiB)
//                                 and a short K (K < kDecodeSmallWeightMaxK);
//                                 but for M > kDecodeSplitMinM with a large weight
//                                 (N*K > kSplitLargeWeightBytes) a split-K kernel when one pays
//   16-bit out, kSplitSmallMaxM < M <= kOneWaveMaxM -> split-K with one CTA per tile where such a
//                                 grid fills one wave well (one_wave_choose)
//   M <= kSplitMaxM            -> a split-K cluster kernel (TM x BN tiles, clusters of S CTAs along
//                                 K; TM = 64 up to M = 64, else 128; BN from
//                                 kernels::kSplitTileWidths, S = 1..3) when one pays
//                                 (split_choose): the (BN, S) pair whose CTAs fill the SMs best
//                                 (cluster_fill, times the share of the tile columns inside N),
//                                 larger BN then smaller S kept unless another fills a fraction
//                                 kFillMargin better; it must fill the SMs better than the narrow
//                                 persistent kernel by kSplitGainSmallM (M <= kSplitSmallMaxM),
//                                 kSplitGainLongK (larger M, k_blocks >= kLongKBlocks) or
//                                 kSplitGainShortK (larger M, shorter K)
//   otherwise                  -> 16-bit output, K <= 8192, 2..32 tiles of 128 x 128 per SM and
//                                 a cost model win: the ping-pong kernel (pingpong_pays); else a
//                                 cooperative persistent
//                                 wgmma + TMA kernel (persistent_choose): the tile width (96, 128,
//                                 160 or 256) whose waves the cost model (kPartialWaveExponent)
//                                 finishes first: e.g. 128x96 for N = 4096..8192 at M = 128..256,
//                                 128x160 for N = 10240 at M = 256..1024, 128x256 at large M.
// Measured on H100 SXM (132 SMs), .dev/k90, .dev/p90 and .dev/split drivers (runs queued, operands
// rotated past L2; .dev/split/results/call2_driver.txt). The split-K kernels stream the weight at
// 75-95% of the copy bandwidth when their CTAs fill the SMs, plus a fixed ~9 us (tensor maps,
// pipeline fill, reduction, epilogue). Before -> after the tile widths, us, bf16 / f32 out:
// M = 33..64: 10240x8192 narrow (80 CTAs) 45.6/44.3 -> 128x160 c2 (128 CTAs) 38.2/38.6; 28672x4096
// narrow (224 tiles, 1.7 waves) 59.7/56.9 -> 128x224 c1 (128) 49.1/51.9; 57344x8192 narrow 188/186
// -> 128x224 c1 (2 full waves) 168/174; 6144x4096 128x128 c2 (96) 18.0/17.8 -> 128x96 c2 (128)
// 17.4/17.4; even at 8192x8192 and 8192x28672 (128x128 c2 stays). 64-row tiles (M <= 64; every
// split-K variant timed, bf16, back to back; bench/sq_sweep --family split repeats such a sweep): a
// 128-row tile's stage carries 64 zero-filled rows of A, which cost TMA and shared-memory bandwidth
// and stages; without them 4096x14336 M=64 takes 64x64 c2 (128 CTAs, 14 stages) at 27.7 us instead
// of 128x128 c3 (96 CTAs) at 30.1 (64x128 c3: 30.2, 128x64 c2: 30.4, so it is the narrow tile that
// gains: 9 -> 14 stages); the other shapes' choices
// stay within +-2% (6144x4096 M=64 16.2 -> 15.7). M = 17..32: the split beats the decode kernels
// only for weights above 64 MiB (10240x8192 38.9-41.4 -> 37.0-37.4, 28672x4096 50.7-55.6 ->
// 47.8-49.0, 57344x8192 170-177 -> 166-169, 8192x28672 91.2-94.3 -> 86.7-87.0) and loses at
// 64 MiB and below (8192x8192 30.0 vs 32.2, 4096x14336 26.7-28.9 vs 29.7-30.8, 6144x4096 15.6 vs
// 17.4); that was before a split of one CTA per tile launched without clusters (v0.1.7, see
// kSplitLargeWeightBytes: 32 MiB since). M = 65..256: the split's
// reduction and unoverlapped epilogue cost 1-3 us, so it pays over the narrow kernel only where
// that fills the SMs far worse (4096x4096 M=96..128, fill ratio 4: 18.0-19.0/17.1 -> 14.9/15.0
// with 128x64 c2) or for long K (4096x14336 M=96..128: 31.5-33.0/31.5-32.7 -> 30.2-30.5/30.6-30.7
// with 128x64 c2; M=129..256 128x128 c2 as before). It is mixed at ratio 2.7 (6144x4096 M=128:
// bf16 19.4 -> 18.5, f32 17.7 -> 18.8) and 2.0 (8192x8192 M=128: +3%/-6%), and even or mixed at
// N >= 10240 with K <= 8192 (e.g. 28672x4096 M=128: +8%/-6%), where the narrow or wide kernel stays.
// Clusters of 3 fill at most 117 of 132 SMs (GPCs of uneven size), clusters of 4 only 120 and
// never won; clusters of 1 and 2 fill all SMs.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "families.hpp"
#include "sm90_splitk.hpp"
#include "sm90_wgmma.hpp"

namespace sq {

namespace {

constexpr int64_t kDecodeMaxM = 32;        // the decode kernels win up to here (but see below)
// Up to kDecodeSmallWeightMaxM they also win when the weight is small (N * K bytes at most
// kDecodeSmallWeightBytes) and K is short (below kDecodeSmallWeightMaxK): there the fixed cost of
// the wgmma pipelines (tensor maps, pipeline fill, reduction, epilogue) outweighs their bandwidth
// advantage. Since the split-K kernels start as programmatic dependents (v0.1.5) that holds only for
// short K: measured on the H100 (bf16, M = 33/48/64, two rounds, through the plan), from K = 4096
// on the split-K kernel wins (4096x4096 -0.3..-1.0 us isolated, -0.5..-1.4 back to back; 2048x4096
// -1.5 / -1.9; 1024x4096 -2.1 / -2.3), at K = 2048 and below the decode kernel (4096x2048
// +0.5..+1.2 us for split-K, 2048x2048 +0.6..+0.8, 1024x1024 +1.2..+1.5).
constexpr int64_t kDecodeSmallWeightMaxM = 64;
constexpr int64_t kDecodeSmallWeightBytes = int64_t{16} << 20;
constexpr int64_t kDecodeSmallWeightMaxK = 4096;
// Above kDecodeSplitMinM rows a weight of more than kSplitLargeWeightBytes streams faster through a
// split-K kernel than through the decode kernels. First measured at M = 17 and 32 with a 64 MiB
// limit; since a split of one CTA per tile launches without clusters (v0.1.7), measured again at
// M = 32 on the H100 (full benchmark, back to back / isolated against the decode kernels): 4096x14336
// (56 MiB) -1..-4%, 8192x8192 (64 MiB) -1..+2%, 6144x4096 (24 MiB) -0.4..+3% back to back and
// +3..+6% isolated, 4096x4096 (16 MiB) slower (sq_sweep: 9.5 vs 8.8 us). So the limit is 32 MiB.
constexpr int64_t kDecodeSplitMinM = 16;
constexpr int64_t kSplitLargeWeightBytes = int64_t{32} << 20;
constexpr int64_t kSplitMaxM = 256;        // the split-K kernels' M range
constexpr int64_t kSplitSmallMaxM = 64;    // up to here one tile of rows: the split pays at any K
constexpr int64_t kLongKBlocks = 96;       // K >= 12288 (measured wins at 14336 and 28672, losses at 8192)
constexpr int64_t kMinKBlocksPerSplit = 4; // K blocks per CTA of a split, at least
// Up to one wgmma's rows the split-K kernels take tiles of that many rows.
constexpr int64_t kWgmmaM = 64;
static_assert(kernels::kSplitHeightCount == 2 && kernels::kSplitTileRows[0] == kWgmmaM &&
                  kernels::kSplitTileRows[1] == 128,
              "split_choose's two tile heights");
// How much better than the narrow kernel the split must fill the SMs (ratio of the fill fractions).
constexpr double kSplitGainSmallM = 1.0;  // M <= kSplitSmallMaxM: ties go to the split
constexpr double kSplitGainLongK = 1.1;   // larger M, long K
constexpr double kSplitGainShortK = 3.0;  // larger M, short K: won at ratio 4, mixed at 2.7 and 2.0
constexpr int64_t kTileK = 128;            // K block of every sm90 variant
constexpr int64_t kTileM = 128;  // every persistent variant and the split-K ones above M = 64
constexpr int64_t kNarrowTileN = 128;
// Cost model of the persistent kernels (tile widths kernels::kPersistentTileWidths): a wave of
// BN-wide tiles (one per SM) takes time proportional to BN, and a last, partial wave that fills a
// fraction f of the SMs takes f^kPartialWaveExponent of a full one (its CTAs share the memory
// system with fewer others). Fitted on the H100 (every width timed back to back at M = 128..2048 on
// the 8 Llama shapes, bf16 and f32, 64 rows; bench/sq_sweep --family persistent repeats such a
// sweep): this model's choice is on average 0.4% and at worst 4% slower than the fastest width,
// where choosing between the 128 and 256 widths alone by wave fill was on average 5% and at worst
// 30% slower. A 224 width was measured too and dropped: it won by at most 4% and the model also
// took it where it lost 11%.
constexpr double kPartialWaveExponent = 0.5;
// A narrower width is taken only when the model says it is this fraction faster.
constexpr double kWidthMargin = 0.02;

// The ping-pong kernel (kernels::kSm90PingPong) instead of the cooperative ones (pingpong_pays).
// Measured on the H100 (bench/sq_sweep --family persistent: every width and the ping-pong kernel in
// interleaved rounds, 8 Llama shapes and squares at M = 128..8192, bf16 and f32; then the full
// benchmark; bench/NOTES.md v0.1.6), back to back against the fastest cooperative width: with bf16
// out and 2..32 of its tiles per SM mostly faster (57344x8192 M=1024 748.8 -> 643.9 us, 28672x4096
// M=512 102.7 -> 86.8 us, 8192x8192 M=8192 908.7 -> 792.2 us; K = 4096 rows of the benchmark
// 3-18%), a few rows 2-5% slower (28672x4096 M=2048 in the sweeps); under 2 tiles per SM one
// warpgroup idles (4096x4096 M=256: 12.1 -> 16.2 us); above 32 tiles per SM (57344x8192 M=8192:
// 5826 -> 6969 us; 16384^3 at M=8192), with f32 out (57344x8192 M=1024: 724.7 -> 860.5 us), at
// K >= 14336 (8192x28672 M=8192: 2746 -> 3188 us; 4096x14336 M=4096 341 -> 360 us) and where its
// 128-wide tiles fill the waves worse (10240x8192 M=512: 64.4 -> 72.6 us against 128x160) it is
// slower. The hidden epilogue's share of a tile's time falls with K: 10% at K <= 4096 and 5% at
// 8192 is what the measured gains and losses fit.
constexpr int32_t kPingPongOutBytes = 2;
constexpr int64_t kPingPongTileN = 128;
constexpr int64_t kPingPongMinTilesPerSm = 2;
constexpr int64_t kPingPongMaxTilesPerSm = 32;
constexpr int64_t kPingPongMaxK = 8192;
constexpr double kPingPongEpilogueShare = 0.10;
constexpr int64_t kPingPongShareK = 4096;

// The fraction of the SMs that clusters of 3 CTAs can occupy at once (H100 SXM,
// cudaOccupancyMaxActiveClusters: 39 clusters of 3 = 117 SMs; clusters of 1 and 2 fill all 132).
constexpr double kSplit3SmFill = 0.88;
// Relative score margin by which a narrower tile or a larger split must beat the preferred pair.
constexpr double kFillMargin = 0.03;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Fraction of the SM slots of all waves that the tiles use (persistent grid, one CTA per SM).
double wave_fill(int64_t tiles, int64_t sms) {
  const int64_t waves = ceil_div(tiles, sms);
  return static_cast<double>(tiles) / static_cast<double>(waves * sms);
}

// How well a launch of ctas CTAs in clusters of `split` fills the SMs: the fraction of the SM slots
// of all its waves that hold a CTA (a wave is as many clusters as fit at once).
double cluster_fill(int64_t ctas, int64_t split, int64_t sms) {
  const double fit = split == 3 ? kSplit3SmFill : 1.0;
  const int64_t clusters_at_once = static_cast<int64_t>(fit * static_cast<double>(sms)) / split;
  const int64_t slots = (clusters_at_once > 0 ? clusters_at_once : 1) * split;
  const int64_t waves = ceil_div(ctas, slots);
  return static_cast<double>(ctas) / static_cast<double>(waves * sms);
}

// The split-K variant for a shape in its M range, or nullptr when none pays over the narrow
// persistent kernel. Score of a (BN, S) pair: cluster_fill times the share of the tile columns
// inside N; the best score wins, a pair of larger BN or smaller S (less A traffic per weight byte,
// less reduction) being kept unless another scores a fraction kFillMargin more.
const kernels::KernelVariant* split_choose(const LinearShape& s, int64_t sms) {
  // Up to one wgmma of rows the 64-row tiles (kSplitTileRows[0]): their stages carry no
  // zero-filled rows of A.
  const int32_t height = s.m <= kWgmmaM ? 0 : 1;
  const int64_t m_tiles = ceil_div(s.m, kernels::kSplitTileRows[height]);
  const int64_t k_blocks = ceil_div(s.k, kTileK);
  const kernels::KernelVariant* best = nullptr;
  double best_score = 0.0;
  // Widest first, smallest split first inside a width.
  for (int32_t w = kernels::kSplitWidthCount - 1; w >= 0; --w) {
    const int64_t tile_n = kernels::kSplitTileWidths[w];
    for (int32_t split = 1; split <= kernels::kSplitMaxClusterSize; ++split) {
      const kernels::SplitKVariant& c = kernels::kSm90SplitKVariants[kernels::split_variant_index(height, w, split)];
      if (!split_k_blocks_suffice(s, c.split)) continue;
      const int64_t n_tiles = ceil_div(s.n, tile_n);
      const double score = cluster_fill(m_tiles * n_tiles * c.split, c.split, sms) * static_cast<double>(s.n) /
                           static_cast<double>(n_tiles * tile_n);
      if (best == nullptr || score > best_score * (1.0 + kFillMargin)) {
        best = c.variant;
        best_score = score;
      }
    }
  }
  const double narrow = wave_fill(m_tiles * ceil_div(s.n, kNarrowTileN), sms);
  if (s.m <= kSplitSmallMaxM) return best_score >= narrow * kSplitGainSmallM ? best : nullptr;
  const double gain = k_blocks >= kLongKBlocks ? kSplitGainLongK : kSplitGainShortK;
  return best_score > narrow * gain ? best : nullptr;
}

// Split-K with one CTA per tile in one wave instead of the persistent kernels, for 16-bit output at
// kSplitSmallMaxM < M <= kOneWaveMaxM (one_wave_choose). Since a split of one CTA per tile launches
// without clusters (v0.1.7), such a grid beat the persistent kernel the dispatch took on most lines
// measured (H100, sq_sweep --family split, bf16, the 9 N x K at M = 96, 128, 192, 256, back to back):
// at M = 128 4096x4096 9.6 vs 11.0 us, 8192x8192 28.3 vs 30.7, 28672x4096 49.0 vs 53.5, 6144x4096 13.2
// vs 13.9; at M = 192 4096x4096 11.9 vs 15.8, 8192x8192 34.6 vs 38.6, 8192x28672 111.7 vs 127.9. It lost
// where its tiles pad M by a quarter or more (M = 96 with 64- or 128-row tiles: 8192x28672 96.0 vs 86.2)
// or fill one wave poorly, and at M = 256 (6144x4096 15.5 vs 14.3); with f32 output the gains were 0-2%
// on most lines. Score of a (TM, BN) grid that fits in one wave: the share of the SMs it occupies, times
// the share of its tile columns inside N, times the share of its tile rows inside M. Full benchmark
// (bf16, M = 128, the 7 Llama rows it changes): -2..-13% isolated, -2..-12% back to back on six,
// 4096x14336 -6% isolated and +2% back to back.
constexpr int64_t kOneWaveMaxM = 192;
constexpr int32_t kOneWaveOutBytes = 2;
constexpr double kOneWaveMinScore = 0.8;

// The split-K variant with one CTA per tile whose grid fits in one wave and scores best (taller tiles
// first, wider first, a later one kept only when it scores kFillMargin more), or nullptr when none
// scores kOneWaveMinScore.
const kernels::KernelVariant* one_wave_choose(const LinearShape& s, int64_t sms) {
  const kernels::KernelVariant* best = nullptr;
  double best_score = 0.0;
  for (int32_t h = kernels::kSplitHeightCount - 1; h >= 0; --h) {
    const int64_t tile_m = kernels::kSplitTileRows[h];
    const int64_t m_tiles = ceil_div(s.m, tile_m);
    for (int32_t w = kernels::kSplitWidthCount - 1; w >= 0; --w) {
      const int64_t tile_n = kernels::kSplitTileWidths[w];
      const int64_t n_tiles = ceil_div(s.n, tile_n);
      const int64_t ctas = m_tiles * n_tiles;
      if (ctas > sms) continue;
      const double score = static_cast<double>(ctas) / static_cast<double>(sms) * static_cast<double>(s.n) /
                           static_cast<double>(n_tiles * tile_n) * static_cast<double>(s.m) /
                           static_cast<double>(m_tiles * tile_m);
      if (best == nullptr || score > best_score * (1.0 + kFillMargin)) {
        best = kernels::kSm90SplitKVariants[kernels::split_variant_index(h, w, 1)].variant;
        best_score = score;
      }
    }
  }
  return best_score >= kOneWaveMinScore ? best : nullptr;
}

// The cost model's time of a persistent kernel with tile_n-wide tiles (in units of one tile
// column's mainloop): waves of tiles, the last partial wave's fill f counting f^kPartialWaveExponent.
double persistent_cost(const LinearShape& s, int64_t sms, int64_t tile_n) {
  const int64_t tiles = ceil_div(s.m, kTileM) * ceil_div(s.n, tile_n);
  const int64_t full_waves = tiles / sms;
  const double last_fill = static_cast<double>(tiles % sms) / static_cast<double>(sms);
  return (static_cast<double>(full_waves) + std::pow(last_fill, kPartialWaveExponent)) * static_cast<double>(tile_n);
}

// The cooperative persistent variant whose tiles the cost model runs fastest, widest first, a
// narrower width taken only when it is kWidthMargin faster; its cost in *cost_out.
const kernels::KernelVariant& persistent_choose(const LinearShape& s, int64_t sms, double* cost_out) {
  const kernels::KernelVariant* best = nullptr;
  double best_cost = 0.0;
  for (int32_t w = kernels::kPersistentWidthCount - 1; w >= 0; --w) {
    const kernels::PersistentVariant& v = kernels::kSm90PersistentVariants[w];
    const double cost = persistent_cost(s, sms, v.tile_n);
    if (best == nullptr || cost < best_cost * (1.0 - kWidthMargin)) {
      best = v.variant;
      best_cost = cost;
    }
  }
  *cost_out = best_cost;
  return *best;
}

// Whether the ping-pong kernel (128 x kPingPongTileN tiles, each warpgroup's epilogue under the
// other's mainloop) beats the cooperative choice of cost coop_cost: 16-bit output, K <= kPingPongMaxK,
// kPingPongMinTilesPerSm..kPingPongMaxTilesPerSm of its tiles per SM, and the cost model's time of
// its tiles, less the epilogue share it hides (kPingPongEpilogueShare at K <= kPingPongShareK,
// falling as 1/K above), under coop_cost.
bool pingpong_pays(const LinearShape& s, int64_t sms, double coop_cost) {
  if (s.out_bytes != kPingPongOutBytes || s.k > kPingPongMaxK) return false;
  const int64_t tiles = ceil_div(s.m, kTileM) * ceil_div(s.n, kPingPongTileN);
  if (tiles < kPingPongMinTilesPerSm * sms || tiles > kPingPongMaxTilesPerSm * sms) return false;
  const double share = kPingPongEpilogueShare * static_cast<double>(kPingPongShareK) /
                       static_cast<double>(std::max<int64_t>(s.k, kPingPongShareK));
  return persistent_cost(s, sms, kPingPongTileN) * (1.0 - share) < coop_cost;
}

}  // namespace

bool split_k_blocks_suffice(const LinearShape& s, int32_t split) {
  return split <= 1 || ceil_div(s.k, kTileK) >= split * kMinKBlocksPerSplit;
}

cudaError_t sm90_prepare() {
  // Unaligned shapes and small M run kernels of the portable and decode families.
  cudaError_t e = sm80_prepare();
  if (e != cudaSuccess) return e;
  e = decode_prepare();
  if (e != cudaSuccess) return e;
  for (const kernels::PersistentVariant& v : kernels::kSm90PersistentVariants) {
    e = v.variant->prepare();
    if (e != cudaSuccess) return e;
  }
  e = kernels::kSm90PingPong.prepare();
  if (e != cudaSuccess) return e;
  // One prepare covers every split-K variant (they share one prepare).
  return kernels::kSm90SplitKVariants[0].variant->prepare();
}

const kernels::KernelVariant& sm90_choose(const LinearShape& s) {
  if (!s.aligned16) return sm80_choose(s);
  const int64_t sms = s.num_sms > 0 ? s.num_sms : 1;
  if (s.m <= kDecodeMaxM ||
      (s.m <= kDecodeSmallWeightMaxM && s.n * s.k <= kDecodeSmallWeightBytes && s.k < kDecodeSmallWeightMaxK)) {
    if (s.m > kDecodeSplitMinM && s.n * s.k > kSplitLargeWeightBytes) {
      if (const kernels::KernelVariant* v = split_choose(s, sms)) return *v;
    }
    if (const kernels::KernelVariant* d = decode_choose(s)) return *d;
  }
  if (s.m > kSplitSmallMaxM && s.m <= kOneWaveMaxM && s.out_bytes == kOneWaveOutBytes) {
    if (const kernels::KernelVariant* v = one_wave_choose(s, sms)) return *v;
  }
  if (s.m <= kSplitMaxM) {
    if (const kernels::KernelVariant* v = split_choose(s, sms)) return *v;
  }
  double coop_cost = 0.0;
  const kernels::KernelVariant& coop = persistent_choose(s, sms, &coop_cost);
  return pingpong_pays(s, sms, coop_cost) ? kernels::kSm90PingPong : coop;
}

}  // namespace sq
