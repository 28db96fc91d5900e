// Host side of the numerics contract: exact dtype conversions (round to nearest even)
// and the scale epilogue, mirroring kernels/epilogue.cuh bit for bit.
// Compiled with -ffp-contract=off: no multiply-add is ever fused.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace sq {
namespace num {

template <typename To, typename From>
inline To bit_cast(const From& f) {
  static_assert(sizeof(To) == sizeof(From), "size");
  To t;
  std::memcpy(&t, &f, sizeof(t));
  return t;
}

// Storage types for the 16-bit floats (bit patterns).
struct f16 { uint16_t bits; };
struct bf16 { uint16_t bits; };

// Rounds a double to a binary format with EXP exponent bits and MANT stored mantissa
// bits, once, to nearest even (with subnormals, overflow to infinity, NaN kept quiet).
template <int EXP, int MANT>
inline uint32_t round_double_to(double d) {
  const uint64_t u = bit_cast<uint64_t>(d);
  const uint32_t sign = static_cast<uint32_t>(u >> 63) << (EXP + MANT);
  const uint32_t inf = ((1u << EXP) - 1u) << MANT;
  const int dexp = static_cast<int>((u >> 52) & 0x7ff);
  const uint64_t dmant = u & ((uint64_t{1} << 52) - 1);
  if (dexp == 0x7ff) return sign | inf | (dmant ? (1u << (MANT - 1)) : 0u);
  if (dexp == 0) return sign;  // double subnormals are far below any target's range
  const int bias = (1 << (EXP - 1)) - 1;
  const int e = dexp - 1023 + bias;  // biased target exponent
  const uint64_t mant = dmant | (uint64_t{1} << 52);
  int shift = 52 - MANT + (e >= 1 ? 0 : 1 - e);
  if (shift > 63) return sign;
  const uint64_t kept = mant >> shift;
  const uint64_t rem = mant & ((uint64_t{1} << shift) - 1);
  const uint64_t half = uint64_t{1} << (shift - 1);
  uint64_t r = kept + ((rem > half || (rem == half && (kept & 1))) ? 1 : 0);
  uint64_t bits = e >= 1 ? (static_cast<uint64_t>(e - 1) << MANT) + r : r;
  if (bits >= inf) return sign | inf;
  return sign | static_cast<uint32_t>(bits);
}

inline f16 to_f16(double d) { return f16{static_cast<uint16_t>(round_double_to<5, 10>(d))}; }
inline bf16 to_bf16(double d) { return bf16{static_cast<uint16_t>(round_double_to<8, 7>(d))}; }

inline float to_float(f16 h) {
  const uint32_t sign = static_cast<uint32_t>(h.bits & 0x8000) << 16;
  const uint32_t e = (h.bits >> 10) & 0x1f;
  const uint32_t m = h.bits & 0x3ff;
  if (e == 0x1f) return bit_cast<float>(sign | 0x7f800000u | (m << 13));
  if (e == 0) {
    const float v = static_cast<float>(m) * 5.9604644775390625e-08f;  // m * 2^-24, exact
    return sign ? -v : v;
  }
  return bit_cast<float>(sign | ((e + 112) << 23) | (m << 13));
}
inline float to_float(bf16 b) { return bit_cast<float>(static_cast<uint32_t>(b.bits) << 16); }

// The element types of the contract: T and its compute type C.
template <typename T> struct Epi;
template <> struct Epi<float> {
  using C = float;
  static C to_c(float v) { return v; }
  static float finish(C v) { return v; }
  static float from_double(double d) { return static_cast<float>(d); }
};
template <> struct Epi<double> {
  using C = double;
  static C to_c(double v) { return v; }
  static double finish(C v) { return v; }
  static double from_double(double d) { return d; }
};
template <> struct Epi<f16> {
  using C = float;
  static C to_c(f16 v) { return to_float(v); }
  static f16 finish(C v) { return to_f16(static_cast<double>(v)); }
  static f16 from_double(double d) { return to_f16(d); }
};
template <> struct Epi<bf16> {
  using C = float;
  static C to_c(bf16 v) { return to_float(v); }
  static bf16 finish(C v) { return to_bf16(static_cast<double>(v)); }
  static bf16 from_double(double d) { return to_bf16(d); }
};

// out = finish(((C)acc * row) * col [+ bias]), each step rounded in C.
template <typename T>
inline T scale_acc(int32_t acc, typename Epi<T>::C row, typename Epi<T>::C col, bool has_bias,
                   typename Epi<T>::C bias) {
  using C = typename Epi<T>::C;
  C y = static_cast<C>(acc) * row;
  y = y * col;
  if (has_bias) y = y + bias;
  return Epi<T>::finish(y);
}

// The bit pattern of (T)d, zero-extended to 64 bits.
template <typename T>
inline uint64_t bits_of_double_as(double d) {
  const T t = Epi<T>::from_double(d);
  uint64_t out = 0;
  std::memcpy(&out, &t, sizeof(T));
  return out;
}

// The canonical quiet NaN of each dtype (positive, only the top mantissa bit set): what a
// quantizer stores for a row holding a NaN (the contract's DYNAMIC and ABSMAX rules).
constexpr uint32_t kCanonicalNanF32 = 0x7fc00000u;
constexpr uint64_t kCanonicalNanF64 = 0x7ff8000000000000ull;
constexpr uint16_t kCanonicalNanF16 = 0x7e00u;
constexpr uint16_t kCanonicalNanBF16 = 0x7fc0u;

template <typename C> inline C canonical_nan();
template <> inline float canonical_nan<float>() { return bit_cast<float>(kCanonicalNanF32); }
template <> inline double canonical_nan<double>() { return bit_cast<double>(kCanonicalNanF64); }

// The quantizers' last step: sat_Q(rne(t) + za) for Q's range [qmin, qmax] (za in that range), round
// half to even written out (independent of the floating-point environment). rne(t) + (C)za is exact
// wherever the result is not saturated (|rne(t)| < 512), and rounding is monotonic, so comparing t
// with the saturation bounds first gives the bits of the formula in C. A NaN t gives za (the static
// quantizer's rule; the dynamic quantizers give a NaN element a scale that is not finite, except
// FROM_ABSMAX with a caller's finite maximum, where NaN -> za = 0 too); +-Inf saturate.
template <typename C>
inline int32_t sat_rne_q(C t, int32_t za, int32_t qmin, int32_t qmax) {
  if (std::isnan(t)) return za;
  const C hi = static_cast<C>(qmax - za), lo = static_cast<C>(qmin - za);  // exact small integers
  if (t >= hi) return qmax;  // rne is monotonic and rne(hi) = hi
  if (t <= lo) return qmin;
  const C f = std::floor(t);  // |t| < 512: exact, and so is t - f
  int32_t r = static_cast<int32_t>(f);
  const C frac = t - f;
  if (frac > static_cast<C>(0.5) || (frac == static_cast<C>(0.5) && (r & 1) != 0)) r += 1;
  return r + za;
}

// int8 saturating round-to-nearest-even of a float or double: NaN -> 0, +-Inf -> 127/-128.
template <typename C>
inline int8_t sat_rne_s8(C v) {
  return static_cast<int8_t>(sat_rne_q<C>(v, 0, -128, 127));
}

}  // namespace num
}  // namespace sq
