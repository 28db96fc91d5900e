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
// (32-row CTAs) halve them but halve the CTAs too. Both are memory-bound and run
// kDecodeCtasPerSm CTAs per SM, so what decides is how well their CTAs fill whole waves:
// take the wide variant unless its last wave leaves clearly more of the GPU idle than the
// narrow one's. Measured on the H100 (132 SMs): N = 4096 narrow wins (wide fills 48% of its one
// wave), N = 6144, 8192 and 57344 wide wins (equal fill), N = 28672 narrow by ~2% (85% vs 97%),
// N = 10240 wide at 61% of the bandwidth floor (its second wave is 21% full).
constexpr double kWideFillMargin = 0.05;

// Programmatic dependent launch after the dynamic quantizer: while the quantizer runs, the SMs
// holding its CTAs take fewer early decode CTAs. With one quantizer CTA per row this cost 1.0 us at
// M = 16, K = 14336 (the limit was M x K <= 16 x 8192). With long rows split over clusters (src/gpu.cpp)
// and the quantizer itself a programmatic dependent of the kernel before it, re-measured on the H100
// (bf16, M = 1, 8, 16; N x K = 4096x4096, 4096x14336, 8192x28672, 28672x4096): overlapping saved
// 1.1-6.4 us per run back to back and 1.2-6.9 us isolated, at every shape and M. So it is used in
// the small-M bucket up to the largest M x K measured (M = 16, K = 28672), and only where the
// device runs the decode kernels' sm_90 image, which waits for its producer (sm_80 images and
// compute_80 PTX JIT-compiled for newer GPUs do not).
constexpr int64_t kOverlapMaxM = kernels::kDecodeSmallMaxM;
constexpr int64_t kOverlapMaxMK = kOverlapMaxM * 28672;
constexpr int32_t kOverlapSm = 90;

// The static plan's linear is launched the same way on sm_90 (linear_overlap_previous; the decode
// and the Hopper wgmma kernels honour the flag, the portable ones ignore it): their CTAs may start
// as the previous kernel on the stream drains and wait (griddepcontrol.wait) before they read act or
// the scales or write anything; only the decode kernels' L2 prefetch of their first weight bytes
// runs early, and a prefetch has no visible effect on memory. Measured on the H100 (bf16, M = 1, 8,
// 16, the 8 Llama shapes): back to back (a model's layer sequence) -1.3..-5.5 us per run, where the
// next launch hides under the previous run's tail; isolated -0.2..-4.6 us, as the prefetch starts
// the weight stream before the main loop's loads (+0.6 / +1.5 us only on 57344x8192 at M = 16).
// The wgmma kernels take it without any prefetch: every thread waits right after the barrier setup.
// Each split-K CTA also first executes griddepcontrol.launch_dependents, so that the next kernel's
// CTAs take the SMs as this grid's CTAs finish. Measured (bf16, the 8 Llama shapes, A/B, three
// device calls): split-K rows (M = 32..256) -1.3..-2.5 us back to back (6144x4096 M=64 15.5 ->
// 13.2 us), isolated -0.05..-0.3 us, the early trigger worth 0.1-0.5 us of that; persistent rows
// (M = 128..512) -1.4..-1.9 us back to back (4096x4096 M=256 14.1 -> 12.7 us), isolated unchanged.
// Dropped: an L2 prefetch of each split-K CTA's first ring of weight boxes before the wait (+1.3..+2.9
// us isolated: the prefetches delay the first real loads), and the early trigger in the persistent
// kernels (+1..+16 us back to back at M = 256..512: the next grid's CTAs wait on the SMs). In the
// dynamic plan only the decode kernels follow the quantizer as dependents (decode_overlap_quantizer).
// Fraction of the launched waves' CTA slots that hold a CTA.
double wave_fill(int64_t n, int64_t rows_per_cta, int64_t num_sms) {
  const int64_t ctas = (n + rows_per_cta - 1) / rows_per_cta;
  const int64_t slots = num_sms * kernels::kDecodeCtasPerSm;
  const int64_t waves = (ctas + slots - 1) / slots;
  return static_cast<double>(ctas) / static_cast<double>(waves * slots);
}

bool prefer_wide(const LinearShape& s) {
  const int64_t sms = s.num_sms > 0 ? s.num_sms : 1;
  return wave_fill(s.n, kernels::kDecodeWideRowsPerCta, sms) + kWideFillMargin >=
         wave_fill(s.n, kernels::kDecodeRowsPerCta, sms);
}

// M <= 16: the activation reads are small, so the wide variant pays only where the narrow one leaves
// a largely empty last wave: more than one wave of narrow CTAs, the last under
// kSmallWideMaxNarrowFill full (and prefer_wide). Measured on the H100 (bf16, M = 1, 8, 16, both
// variants on the 8 Llama shapes): N = 6144 (narrow 1.45 waves) wide -0.4..-0.8 us isolated and back
// to back (6144x4096 M=16 14.46 -> 13.66 us isolated); N = 8192 (1.94 waves) wide +0.0..+1.4 us
// (8192x28672 M=1 80.6 -> 82.0); N = 57344 (13.6 waves) wide -0.1..-3.7 us, not taken.
constexpr double kSmallWideMaxNarrowFill = 0.8;

bool small_prefers_wide(const LinearShape& s) {
  const int64_t sms = s.num_sms > 0 ? s.num_sms : 1;
  const int64_t narrow_ctas = (s.n + kernels::kDecodeRowsPerCta - 1) / kernels::kDecodeRowsPerCta;
  return narrow_ctas > sms * kernels::kDecodeCtasPerSm &&
         wave_fill(s.n, kernels::kDecodeRowsPerCta, sms) < kSmallWideMaxNarrowFill;
}

}  // namespace

cudaError_t decode_prepare() {
  for (const kernels::DecodeVariant& v : kernels::kDecodeAllVariants) {
    const cudaError_t e = v.variant->prepare();
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

const kernels::KernelVariant* decode_choose(const LinearShape& s) {
  if (!s.aligned16 || s.m < 1 || s.m > kLargeBucketMaxM) return nullptr;
  const bool wide = prefer_wide(s);
  if (s.m <= kSmallBucketMaxM)
    return wide && small_prefers_wide(s) ? &kernels::kDecodeMmaM16Wide : &kernels::kDecodeMmaM16;
  if (s.m <= kMidBucketMaxM) return wide ? &kernels::kDecodeMmaM32Wide : &kernels::kDecodeMmaM32;
  return wide ? &kernels::kDecodeMmaM64Wide : &kernels::kDecodeMmaM64;
}

bool decode_overlap_quantizer(const LinearShape& s) {
  return s.sm == kOverlapSm && decode_choose(s) != nullptr && s.m <= kOverlapMaxM && s.m * s.k <= kOverlapMaxMK;
}

bool linear_overlap_previous(const LinearShape& s) { return s.sm == kOverlapSm; }

}  // namespace sq
