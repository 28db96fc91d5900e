// M-bucket dispatch of the portable family (mma.sync, sm_80+). The kernels are in
// kernels/sm80_mma.cu; small M goes to the shared decode kernels (src/dispatch_decode.cpp).
#include <cstdint>

#include "families.hpp"
#include "sm80_mma.hpp"

namespace sq {
namespace {

// Up to this M the medium tile is always used.
constexpr int64_t kMediumMaxM = 128;
// The large tile (1 CTA per SM) is used only when its tiles fill at least 3/4 of a wave (one
// tile per SM); with fewer tiles the medium tile (4x the CTAs, 2 per SM) balances the SMs
// better. Measured on H100 (132 SMs, bf16 out): 64 large tiles (M=512, N=4096) medium 399 vs
// large 255 TOPS; 128 large tiles (M=1024, N=4096 or M=512, N=8192) large 475/530 vs medium
// 436/494 TOPS.
constexpr int64_t kLargeMinWaveNum = 3;
constexpr int64_t kLargeMinWaveDen = 4;

}  // namespace

cudaError_t sm80_prepare() {
  cudaError_t e = decode_prepare();
  if (e != cudaSuccess) return e;
  const kernels::KernelVariant* const variants[] = {&kernels::kSm80Large, &kernels::kSm80Medium,
                                                    &kernels::kSm80Generic};
  for (const kernels::KernelVariant* v : variants) {
    e = v->prepare();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

const kernels::KernelVariant& sm80_choose(const LinearShape& s) {
  if (!s.aligned16) return kernels::kSm80Generic;
  if (const kernels::KernelVariant* d = decode_choose(s)) return *d;
  if (s.m <= kMediumMaxM) return kernels::kSm80Medium;
  const int64_t large_tiles = ((s.m + kernels::kSm80LargeTileM - 1) / kernels::kSm80LargeTileM) *
                              ((s.n + kernels::kSm80LargeTileN - 1) / kernels::kSm80LargeTileN);
  if (large_tiles * kLargeMinWaveDen < kLargeMinWaveNum * static_cast<int64_t>(s.num_sms))
    return kernels::kSm80Medium;
  return kernels::kSm80Large;
}

}  // namespace sq
