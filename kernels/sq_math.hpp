// The f32 functions of the numerics contract that are not single IEEE operations (sq_exp, SiLU,
// the RMSNorm reciprocal), written once for the host reference kernels and the GPU kernels: the
// same sequence of correctly rounded f32 operations on both, so their bits agree (the header's
// NUMERICS CONTRACT writes the sequence out). No CUDA header is needed on the host side; on the
// device every operation is an explicit _rn intrinsic (never contracted to an FMA); on the host
// plain IEEE operators, compiled with -ffp-contract=off.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define SQ_HD __host__ __device__ __forceinline__
#else
#define SQ_HD inline
#endif

namespace sq {
namespace math {

// ------------------------------------------------------------------ correctly rounded f32 steps
SQ_HD float add(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
SQ_HD float sub(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
SQ_HD float mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
SQ_HD float div(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
SQ_HD float sqrt(float a) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(a);
#else
  return __builtin_sqrtf(a);
#endif
}
// (float)v, round to nearest even.
SQ_HD float from_int64(int64_t v) {
#if defined(__CUDA_ARCH__)
  return __ll2float_rn(static_cast<long long>(v));
#else
  return static_cast<float>(v);
#endif
}
SQ_HD float from_bits(uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(b);
#else
  float f;
  std::memcpy(&f, &b, sizeof(f));
  return f;
#endif
}

// ------------------------------------------------------------------ sq_exp
// Constants of the contract's sq_exp (their bit patterns, so no compiler reads a literal differently).
constexpr uint32_t kExpOverflowBits = 0x42b17218u;   // 88.72283935546875f: above it, +Inf
constexpr uint32_t kExpUnderflowBits = 0xc2cff1b5u;  // -103.972084045410156f: below it, +0
constexpr uint32_t kLog2eBits = 0x3fb8aa3bu;         // 0x1.715476p+0f, log2(e) rounded to f32
constexpr uint32_t kLn2HiBits = 0x3f317200u;         // 0x1.62e4p-1f: n * ln2_hi is exact for |n| <= 256
constexpr uint32_t kLn2LoBits = 0x35bfbe8eu;         // 0x1.7f7d1cp-20f: ln(2) - ln2_hi
constexpr uint32_t kRoundMagicBits = 0x4b400000u;    // 1.5 * 2^23: (t + m) - m rounds |t| < 2^22 to an integer
// c_j = (float)(1 / j!), j = 0..7 (c_0 = c_1 = 1): |r| <= ln(2)/2 leaves < 1 ulp of truncation.
constexpr uint32_t kExpC2Bits = 0x3f000000u;
constexpr uint32_t kExpC3Bits = 0x3e2aaaabu;
constexpr uint32_t kExpC4Bits = 0x3d2aaaabu;
constexpr uint32_t kExpC5Bits = 0x3c088889u;
constexpr uint32_t kExpC6Bits = 0x3ab60b61u;
constexpr uint32_t kExpC7Bits = 0x39500d01u;
constexpr int kF32ExponentBias = 127;
constexpr int kF32MantissaBits = 23;

// 2^e as a float, for -126 <= e <= 127 (a normal number).
SQ_HD float pow2(int e) { return from_bits(static_cast<uint32_t>(e + kF32ExponentBias) << kF32MantissaBits); }

// The contract's sq_exp (include/smoothquant/smoothquant.h): within 2 ulp of exp(t).
SQ_HD float exp(float t) {
  if (t != t) return t;
  if (t > from_bits(kExpOverflowBits)) return from_bits(0x7f800000u);
  if (t < from_bits(kExpUnderflowBits)) return 0.0f;
  const float magic = from_bits(kRoundMagicBits);
  const float n = sub(add(mul(t, from_bits(kLog2eBits)), magic), magic);  // rne(t * log2 e)
  const float r = sub(sub(t, mul(n, from_bits(kLn2HiBits))), mul(n, from_bits(kLn2LoBits)));
  float p = from_bits(kExpC7Bits);  // Horner from c_7 down to c_0: p = p * r + c_j
  p = add(mul(p, r), from_bits(kExpC6Bits));
  p = add(mul(p, r), from_bits(kExpC5Bits));
  p = add(mul(p, r), from_bits(kExpC4Bits));
  p = add(mul(p, r), from_bits(kExpC3Bits));
  p = add(mul(p, r), from_bits(kExpC2Bits));
  p = add(mul(p, r), 1.0f);
  p = add(mul(p, r), 1.0f);
  const int ni = static_cast<int>(n);  // exact: n is an integer in [-150, 128]
  const int a = ni / 2;                // trunc(n / 2)
  return mul(mul(p, pow2(a)), pow2(ni - a));
}

// SiLU of the contract: g / (1 + sq_exp(-g)).
SQ_HD float silu(float g) { return div(g, add(1.0f, exp(-g))); }

// The RMSNorm reciprocal of the contract: 1 / sqrt(ss / K + eps).
SQ_HD float rms_reciprocal(float sum_of_squares, int64_t k, float eps) {
  return div(1.0f, sqrt(add(div(sum_of_squares, from_int64(k)), eps)));
}

// The fixed order of the RMSNorm sum of squares: lane j of kRmsLanes sums h[j + kRmsLanes * i]^2 in
// increasing i; the lanes are then added in a pairwise tree (p[j] += p[j + s], s = kRmsLanes/2 .. 1).
constexpr int kRmsLanes = 2048;

}  // namespace math
}  // namespace sq
