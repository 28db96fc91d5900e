// Hopper family dispatch: which kernel runs a shape on an sm_90 device.
//   unaligned (not aligned16) -> the portable family's choice (sm80_choose)
//   M <= kDecodeMaxM           -> the decode kernels (decode_choose), shared by both families; also
//                                 M <= kDecodeSmallWeightMaxM with a small weight (N*K <= 16 MiB)
//   M <= kSplitMaxM            -> a split-K cluster kernel (128x128 tiles, clusters of S CTAs along K)
//                                 when one fits (split_choose): S = the largest of kSplitChoices whose
//                                 tiles * S CTAs fit in one wave of clusters and leave each CTA at
//                                 least kMinKBlocksPerSplit K blocks; above kSplitShortKMaxM only for
//                                 long K (k_blocks >= kLongKBlocks)
//   otherwise                  -> the persistent wgmma + TMA kernels:
//       M <= kNarrowMaxM       kSm90Narrow (128x128 tiles)
//       larger M               kSm90Wide (128x256 tiles, the most efficient per tile), unless the
//                              narrow tiles fill the waves of the SMs better by more than the
//                              wide tile's per-tile advantage (kWideTileAdvantage): e.g. M=512 with
//                              N=4096 (64 wide tiles for 132 SMs) or N=28672 (3.4 wide waves).
// Measured on H100 SXM (132 SMs), .dev/k90 and .dev/p90 drivers (runs queued, operands rotated past
// L2). M = 17..32: the decode kernels win by 5-30% except at K >= 28672 (~5% behind split2).
// M = 33..64: split-K 1.2-1.5x over the decode kernels at N x K = 6144x4096, 4096x14336, 8192x8192,
// 8192x28672 (equal at 4096x4096); where no split fits (N >= 10240) the narrow kernel is 1.4-1.6x
// over the decode kernels. M = 65..256: split-K wins only for long K (4096x14336: 1.3x at M=96..128,
// 1.09x at M=256; 8192x28672: 1.03x), and loses 5-15% to the narrow kernel for K <= 8192.
// Clusters of 3 fill at most 117 of 132 SMs (GPCs of uneven size), clusters of 4 only 120 and
// never won; clusters of 2 fill all SMs.
#include <cstdint>

#include "families.hpp"
#include "sm90_splitk.hpp"
#include "sm90_wgmma.hpp"

namespace sq {

namespace {

constexpr int64_t kDecodeMaxM = 32;        // the decode kernels win up to here
// Up to kDecodeSmallWeightMaxM they also win when the weight is small (N * K bytes at most this):
// the fixed cost of the wgmma pipelines (tensor maps, pipeline fill, epilogue; ~9 us) outweighs
// their bandwidth advantage (4096x4096: decode 14.2-14.7 us, split-K 15.3-16.2 us, narrow 17.1 us).
constexpr int64_t kDecodeSmallWeightMaxM = 64;
constexpr int64_t kDecodeSmallWeightBytes = int64_t{16} << 20;
constexpr int64_t kSplitMaxM = 256;        // the split-K kernels' M range
constexpr int64_t kSplitShortKMaxM = 64;   // up to here the split pays at any K; above, only for long K
constexpr int64_t kLongKBlocks = 96;       // K >= 12288 (measured wins at 14336 and 28672, losses at 8192)
constexpr int64_t kMinKBlocksPerSplit = 4; // K blocks per CTA of a split, at least
constexpr int64_t kTileK = 128;            // K block of every sm90 variant
constexpr int64_t kNarrowMaxM = 128;
constexpr int64_t kTileM = 128;  // every sm90 variant
constexpr int64_t kWideTileN = 256;
constexpr int64_t kNarrowTileN = 128;
constexpr int64_t kSplitTileN = 128;
// Throughput of a wide tile relative to two narrow tiles at equal SM fill (measured ~1.1-1.2).
constexpr double kWideTileAdvantage = 1.1;

// A split S and the fraction of the SMs that clusters of S CTAs can occupy at once (H100 SXM,
// cudaOccupancyMaxActiveClusters: 66 clusters of 2 = 132 SMs, 39 clusters of 3 = 117 SMs).
struct SplitChoice {
  int64_t split;
  double sm_fill;
  const kernels::KernelVariant* variant;
};
// Largest split first.
const SplitChoice kSplitChoices[] = {{3, 0.88, &kernels::kSm90SplitK3}, {2, 1.0, &kernels::kSm90SplitK2}};

// One prepare covers every split (they share the kernels).
const kernels::KernelVariant* const kSm90Variants[] = {&kernels::kSm90Wide, &kernels::kSm90Narrow,
                                                       &kernels::kSm90SplitK2};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Fraction of the SM slots of all waves that the tiles use (persistent grid, one CTA per SM).
double wave_fill(int64_t tiles, int64_t sms) {
  const int64_t waves = ceil_div(tiles, sms);
  return static_cast<double>(tiles) / static_cast<double>(waves * sms);
}

// The split-K variant for a shape in its M range, or nullptr when none fits or pays.
const kernels::KernelVariant* split_choose(const LinearShape& s, int64_t sms) {
  const int64_t tiles = ceil_div(s.m, kTileM) * ceil_div(s.n, kSplitTileN);
  const int64_t k_blocks = ceil_div(s.k, kTileK);
  if (s.m > kSplitShortKMaxM && k_blocks < kLongKBlocks) return nullptr;
  for (const SplitChoice& c : kSplitChoices) {
    const double ctas = static_cast<double>(tiles * c.split);
    if (ctas <= c.sm_fill * static_cast<double>(sms) && k_blocks >= c.split * kMinKBlocksPerSplit) return c.variant;
  }
  return nullptr;
}

}  // namespace

cudaError_t sm90_prepare() {
  // Unaligned shapes and small M run kernels of the portable and decode families.
  cudaError_t e = sm80_prepare();
  if (e != cudaSuccess) return e;
  e = decode_prepare();
  if (e != cudaSuccess) return e;
  for (const kernels::KernelVariant* v : kSm90Variants) {
    e = v->prepare();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

const kernels::KernelVariant& sm90_choose(const LinearShape& s) {
  if (!s.aligned16) return sm80_choose(s);
  if (s.m <= kDecodeMaxM || (s.m <= kDecodeSmallWeightMaxM && s.n * s.k <= kDecodeSmallWeightBytes)) {
    if (const kernels::KernelVariant* d = decode_choose(s)) return *d;
  }
  const int64_t sms = s.num_sms > 0 ? s.num_sms : 1;
  if (s.m <= kSplitMaxM) {
    if (const kernels::KernelVariant* v = split_choose(s, sms)) return *v;
  }
  if (s.m <= kNarrowMaxM) return kernels::kSm90Narrow;
  const int64_t m_tiles = ceil_div(s.m, kTileM);
  const double wide = wave_fill(m_tiles * ceil_div(s.n, kWideTileN), sms);
  const double narrow = wave_fill(m_tiles * ceil_div(s.n, kNarrowTileN), sms);
  return narrow > wide * kWideTileAdvantage ? kernels::kSm90Narrow : kernels::kSm90Wide;
}

}  // namespace sq
