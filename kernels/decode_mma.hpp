// Small-M (decode) W8A8 linear kernels, shared by both GPU families (kernels/decode_mma.cu).
// Chosen by src/dispatch_decode.cpp for aligned16 shapes with M <= kDecodeMaxM.
//
// The op is bound by reading the weight once from HBM. The kernels compute out^T = W * act^T
// with mma.sync m16n8k32 s8: 16 weight rows on the instruction's M side, up to 8 tokens per
// n8 tile. Each CTA owns 16 (or 32) weight rows and all of K; its warps split K and reduce their
// exact int32 partials through shared memory in a fixed order (no atomics, no global workspace).
// Requirements (checked by src/, never here): K % 16 == 0, act/weight bases 16-byte aligned,
// ld_act % 16 == 0, ld_weight % 16 == 0, 1 <= M <= the variant's max_m.
#pragma once

#include <array>
#include <cstdint>

#include "kernel_api.hpp"

namespace sq {
namespace kernels {

// Largest M any decode kernel takes.
constexpr int kDecodeMaxM = 64;
// Largest M of each token bucket: kDecodeMmaM16*, kDecodeMmaM32*, then kDecodeMmaM64*.
constexpr int kDecodeSmallMaxM = 16;
constexpr int kDecodeMidMaxM = 32;

// Each variant computes only the n8 token tiles that hold rows of M. "Wide" variants give a CTA
// 32 weight rows instead of 16: half the activation reads from L2, half the CTAs (for large N).
// M <= 16: two n8 token tiles.
extern const KernelVariant kDecodeMmaM16;
extern const KernelVariant kDecodeMmaM16Wide;
// M <= 32: four n8 token tiles.
extern const KernelVariant kDecodeMmaM32;
extern const KernelVariant kDecodeMmaM32Wide;
// M <= 64: eight n8 token tiles.
extern const KernelVariant kDecodeMmaM64;
extern const KernelVariant kDecodeMmaM64Wide;
// Every decode variant with the largest M it takes (its token tiles): prepared together, and the
// GPU variants test runs each.
struct DecodeVariant {
  int32_t max_m;
  const KernelVariant* variant;
};
constexpr int kDecodeVariantCount = 6;
extern const std::array<DecodeVariant, kDecodeVariantCount> kDecodeAllVariants;
// Weight rows per CTA of the plain and the wide variants.
constexpr int kDecodeRowsPerCta = 16;
constexpr int kDecodeWideRowsPerCta = 32;
// Resident CTAs per SM of every decode variant (256 threads each, 16 warps per SM).
constexpr int kDecodeCtasPerSm = 2;

}  // namespace kernels
}  // namespace sq
