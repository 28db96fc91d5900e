// Small-M (decode) dispatch, shared by both GPU families: which decode kernel takes a shape.
#include <cstdint>

#include "decode_mma.hpp"
#include "families.hpp"

namespace sq {

namespace {

// M buckets (rows of the run): the smallest variant whose token tiles hold M rows. Every CTA
// reads all M x K activation bytes from L2, so a bigger bucket than needed is slower.
constexpr int64_t kSmallBucketMaxM = kernels::kDecodeSmallMaxM;  // two n8 tiles
constexpr int64_t kMidBucketMaxM = kernels::kDecodeMidMaxM;      // four n8 tiles
constexpr int64_t kLargeBucketMaxM = kernels::kDecodeMaxM;       // eight n8 tiles

// Above the small bucket the activation reads rival the weight stream; the wide variants
// (32-row CTAs) halve them but halve the CTAs too. Take them only when that still leaves at
// least kWideMinCtasPerSm CTAs per SM, so that every SM keeps streaming weight.
constexpr int64_t kWideMinCtasPerSm = 1;

const kernels::KernelVariant* const kDecodeVariants[] = {
    &kernels::kDecodeMmaM16, &kernels::kDecodeMmaM32, &kernels::kDecodeMmaM32Wide,
    &kernels::kDecodeMmaM64, &kernels::kDecodeMmaM64Wide};

bool wide_fills_gpu(const LinearShape& s) {
  const int64_t rows = kernels::kDecodeWideRowsPerCta;
  const int64_t wide_ctas = (s.n + rows - 1) / rows;
  return wide_ctas >= kWideMinCtasPerSm * static_cast<int64_t>(s.num_sms);
}

}  // namespace

cudaError_t decode_prepare() {
  for (const kernels::KernelVariant* v : kDecodeVariants) {
    const cudaError_t e = v->prepare();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

const kernels::KernelVariant* decode_choose(const LinearShape& s) {
  if (!s.aligned16 || s.m < 1 || s.m > kLargeBucketMaxM) return nullptr;
  if (s.m <= kSmallBucketMaxM) return &kernels::kDecodeMmaM16;
  const bool wide = wide_fills_gpu(s);
  if (s.m <= kMidBucketMaxM) return wide ? &kernels::kDecodeMmaM32Wide : &kernels::kDecodeMmaM32;
  return wide ? &kernels::kDecodeMmaM64Wide : &kernels::kDecodeMmaM64;
}

}  // namespace sq
