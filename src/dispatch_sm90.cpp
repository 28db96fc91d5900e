// Hopper family dispatch: which kernel runs a shape on an sm_90 device.
//   unaligned (not aligned16) -> the portable family's choice (sm80_choose)
//   small M                    -> the decode kernels (decode_choose), shared by both families
//   otherwise                  -> the persistent wgmma + TMA kernels of kernels/sm90_wgmma.cu:
//       M <= kNarrowMaxM       kSm90Narrow (128x128 tiles)
//       larger M               kSm90Wide (128x256 tiles, the most efficient per tile), unless the
//                              narrow tiles fill the waves of the SMs better by more than the
//                              wide tile's per-tile advantage (kWideTileAdvantage): e.g. M=512 with
//                              N=4096 (64 wide tiles for 132 SMs) or N=28672 (3.4 wide waves).
// Measured on H100 SXM (132 SMs), .dev/k90 driver: narrow wins every M=128 shape tried and
// M=512 x N in {4096, 28672}; wide wins M=512 x N=8192 and every M >= 2048 shape.
#include <cstdint>

#include "families.hpp"
#include "sm90_wgmma.hpp"

namespace sq {

namespace {

constexpr int64_t kNarrowMaxM = 128;
constexpr int64_t kTileM = 128;  // both variants
constexpr int64_t kWideTileN = 256;
constexpr int64_t kNarrowTileN = 128;
// Throughput of a wide tile relative to two narrow tiles at equal SM fill (measured ~1.1-1.2).
constexpr double kWideTileAdvantage = 1.1;

const kernels::KernelVariant* const kSm90Variants[] = {&kernels::kSm90Wide, &kernels::kSm90Narrow};

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Fraction of the SM slots of all waves that the tiles use (persistent grid, one CTA per SM).
double wave_fill(int64_t tiles, int64_t sms) {
  const int64_t waves = ceil_div(tiles, sms);
  return static_cast<double>(tiles) / static_cast<double>(waves * sms);
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
  if (const kernels::KernelVariant* d = decode_choose(s)) return *d;
  if (s.m <= kNarrowMaxM) return kernels::kSm90Narrow;
  const int64_t sms = s.num_sms > 0 ? s.num_sms : 1;
  const int64_t m_tiles = ceil_div(s.m, kTileM);
  const double wide = wave_fill(m_tiles * ceil_div(s.n, kWideTileN), sms);
  const double narrow = wave_fill(m_tiles * ceil_div(s.n, kNarrowTileN), sms);
  return narrow > wide * kWideTileAdvantage ? kernels::kSm90Narrow : kernels::kSm90Wide;
}

}  // namespace sq
