// An independent oracle of the NUMERICS CONTRACT in include/smoothquant/smoothquant.h, written from
// the header's text alone (no library code: not src/numerics.hpp, not the test helpers that use CUDA's
// conversions). Every float step is the exact f32/f64 operation the header writes, in its order; the
// 16-bit conversions are this file's own (arithmetic, not bit tricks); integers are int64.
// Compile with -ffp-contract=off and without -ffast-math (the CMake target does).
#pragma once

#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "smoothquant/smoothquant.h"

namespace oracle {

// ------------------------------------------------------------------ dtypes
inline size_t esize(sq_dtype d) {
  switch (d) {
    case SQ_DTYPE_S8:
    case SQ_DTYPE_U8: return 1;
    case SQ_DTYPE_F16:
    case SQ_DTYPE_BF16: return 2;
    case SQ_DTYPE_S32:
    case SQ_DTYPE_F32: return 4;
    case SQ_DTYPE_F64: return 8;
    default: return 0;
  }
}
inline bool is_float(sq_dtype d) {
  return d == SQ_DTYPE_F16 || d == SQ_DTYPE_BF16 || d == SQ_DTYPE_F32 || d == SQ_DTYPE_F64;
}
inline bool is_int8(sq_dtype d) { return d == SQ_DTYPE_S8 || d == SQ_DTYPE_U8; }

// ------------------------------------------- 16-bit floats (round to nearest even)
// Rounds d once to a binary format with MANT stored mantissa bits and minimum normal exponent EMIN
// (f16: 10, -14; bf16: 7, -126), arithmetic on doubles: |d| = r * 2^(e - MANT) with r an integer
// rounded by nearbyint (the default rounding mode is round-to-nearest-even). NaN -> a quiet NaN.
template <int MANT, int EMIN, uint32_t INF>
inline uint16_t round16(double d) {
  const uint32_t sign = std::signbit(d) ? 0x8000u : 0u;
  if (std::isnan(d)) return static_cast<uint16_t>(sign | INF | (1u << (MANT - 1)));
  const double a = std::fabs(d);
  if (std::isinf(a)) return static_cast<uint16_t>(sign | INF);
  if (a == 0.0) return static_cast<uint16_t>(sign);
  int ex = 0;
  std::frexp(a, &ex);  // a = f * 2^ex, f in [0.5, 1): a in [2^(ex-1), 2^ex)
  int e = ex - 1;
  if (e < EMIN) e = EMIN;  // subnormal: the quantum of the smallest binade
  const double r = std::nearbyint(std::ldexp(a, MANT - e));  // exact scaling, then one rounding
  // Encoding: (e - EMIN) binades above the smallest, plus r (which carries the implicit bit).
  const double bits = std::ldexp(static_cast<double>(e - EMIN), MANT) + r;
  if (bits >= static_cast<double>(INF)) return static_cast<uint16_t>(sign | INF);
  return static_cast<uint16_t>(sign | static_cast<uint32_t>(bits));
}
inline uint16_t to_f16(double d) { return round16<10, -14, 0x7c00u>(d); }
inline uint16_t to_bf16(double d) { return round16<7, -126, 0x7f80u>(d); }
inline float f16_to_float(uint16_t h) {
  const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  float v;
  if (e == 0x1f) v = m ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  else if (e == 0) v = std::ldexp(static_cast<float>(m), -24);
  else v = std::ldexp(static_cast<float>(1024 + m), e - 25);
  return (h & 0x8000) ? -v : v;
}
inline float bf16_to_float(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;  // bf16 is the top half of an f32
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Element i of an array of float dtype d, exactly (as double).
inline double load_f(const void* base, sq_dtype d, int64_t i) {
  const unsigned char* p = static_cast<const unsigned char*>(base) + i * static_cast<int64_t>(esize(d));
  switch (d) {
    case SQ_DTYPE_F32: { float v; std::memcpy(&v, p, 4); return v; }
    case SQ_DTYPE_F64: { double v; std::memcpy(&v, p, 8); return v; }
    case SQ_DTYPE_F16: { uint16_t h; std::memcpy(&h, p, 2); return f16_to_float(h); }
    case SQ_DTYPE_BF16: { uint16_t h; std::memcpy(&h, p, 2); return bf16_to_float(h); }
    default: return 0.0;
  }
}
// (float)element: exact for f16/bf16/f32, one RNE for f64.
inline float load_f32(const void* base, sq_dtype d, int64_t i) { return static_cast<float>(load_f(base, d, i)); }
inline int64_t load_i(const void* base, sq_dtype d, int64_t i) {
  const unsigned char* p = static_cast<const unsigned char*>(base) + i * static_cast<int64_t>(esize(d));
  switch (d) {
    case SQ_DTYPE_S8: return static_cast<int8_t>(*p);
    case SQ_DTYPE_U8: return *p;
    case SQ_DTYPE_S32: { int32_t v; std::memcpy(&v, p, 4); return v; }
    default: return 0;
  }
}
// The bytes of (d)v (one RNE from double), into out (esize(d) bytes).
inline void store_f(void* out, sq_dtype d, double v) {
  switch (d) {
    case SQ_DTYPE_F32: { float f = static_cast<float>(v); std::memcpy(out, &f, 4); break; }
    case SQ_DTYPE_F64: std::memcpy(out, &v, 8); break;
    case SQ_DTYPE_F16: { uint16_t h = to_f16(v); std::memcpy(out, &h, 2); break; }
    case SQ_DTYPE_BF16: { uint16_t h = to_bf16(v); std::memcpy(out, &h, 2); break; }
    default: break;
  }
}
inline void store_i(void* out, sq_dtype d, int64_t v) {
  switch (d) {
    case SQ_DTYPE_S8: { int8_t x = static_cast<int8_t>(v); std::memcpy(out, &x, 1); break; }
    case SQ_DTYPE_U8: { uint8_t x = static_cast<uint8_t>(v); std::memcpy(out, &x, 1); break; }
    case SQ_DTYPE_S32: { int32_t x = static_cast<int32_t>(v); std::memcpy(out, &x, 4); break; }
    default: break;
  }
}
// The canonical quiet NaN of a scale dtype (the contract: positive, only the top mantissa bit set).
inline void store_canonical_nan(void* out, sq_dtype d) {
  switch (d) {
    case SQ_DTYPE_F32: { uint32_t u = 0x7fc00000u; std::memcpy(out, &u, 4); break; }
    case SQ_DTYPE_F64: { uint64_t u = 0x7ff8000000000000ull; std::memcpy(out, &u, 8); break; }
    case SQ_DTYPE_F16: { uint16_t u = 0x7e00u; std::memcpy(out, &u, 2); break; }
    case SQ_DTYPE_BF16: { uint16_t u = 0x7fc0u; std::memcpy(out, &u, 2); break; }
    default: break;
  }
}

// ------------------------------------------------------------- expectations
// One expected output element: its exact bytes, or "any NaN" (the contract leaves that NaN's payload
// open), or "anything" (a value the contract does not define for these inputs).
struct Elem {
  enum Kind : uint8_t { kExact, kAnyNan, kAny } kind = kExact;
  uint8_t bytes[8] = {};
};
inline Elem exact_f(sq_dtype d, double v, bool nan_any = true) {
  Elem e;
  if (std::isnan(v) && nan_any) {
    e.kind = Elem::kAnyNan;
    return e;
  }
  store_f(e.bytes, d, v);
  return e;
}
inline Elem exact_i(sq_dtype d, int64_t v) {
  Elem e;
  store_i(e.bytes, d, v);
  return e;
}
// Whether the bytes at p (dtype d) meet e.
inline bool matches(const Elem& e, const void* p, sq_dtype d) {
  if (e.kind == Elem::kAny) return true;
  if (e.kind == Elem::kAnyNan) return is_float(d) && std::isnan(load_f(p, d, 0));
  return std::memcmp(p, e.bytes, esize(d)) == 0;
}

// ------------------------------------------------------------ the formulas
// rne(t): round to an integer, half to even (nearbyint in the default rounding mode).
inline double rne(double t) { return std::nearbyint(t); }
inline float rne(float t) { return std::nearbyint(t); }

// sat_Q(t) for an integer-valued (or infinite) t of C; NaN is not given here (callers decide).
template <typename C>
inline int64_t sat(C t, int64_t qmin, int64_t qmax) {
  if (t <= static_cast<C>(qmin)) return qmin;
  if (t >= static_cast<C>(qmax)) return qmax;
  return static_cast<int64_t>(t);
}

inline void q_range(sq_dtype q, int64_t* qmin, int64_t* qmax) {
  if (q == SQ_DTYPE_U8) { *qmin = 0; *qmax = 255; } else { *qmin = -128; *qmax = 127; }
}

// (S)value stored, returning the stored bytes and (C)(S)value. A NaN value stores the canonical NaN.
template <typename C>
inline C store_scale(sq_dtype s, C value, Elem* stored) {
  *stored = Elem{};
  if (std::isnan(value)) {
    store_canonical_nan(stored->bytes, s);
    return std::numeric_limits<C>::quiet_NaN();
  }
  store_f(stored->bytes, s, static_cast<double>(value));
  return static_cast<C>(load_f(stored->bytes, s, 0));
}

// One quantizer row, per quant_mode (the contract's "The quantizers" section), on v[0..K) of C.
struct QuantRow {
  std::vector<Elem> q;   // [K] of Q (empty for ABSMAX)
  Elem scale;            // of S (DYNAMIC, ASYMMETRIC, FROM_ABSMAX)
  Elem zero_point;       // of Q (ASYMMETRIC)
  Elem absmax;           // of C (ABSMAX)
  bool q_known = true;   // false where the contract leaves q open (see below)
  int64_t sum = 0;       // sum_k q (act_sums), valid when q_known
};

template <typename C>
inline QuantRow quantize_row(const std::vector<C>& v, sq_quant_mode mode, sq_dtype q_dtype, sq_dtype s_dtype,
                             sq_dtype c_dtype, C static_scale, int64_t static_za, C given_absmax) {
  QuantRow r;
  const size_t K = v.size();
  int64_t qmin, qmax;
  q_range(q_dtype, &qmin, &qmax);
  auto put_q = [&](size_t i, int64_t q) {
    r.q[i] = exact_i(q_dtype, q);
    r.sum += q;
  };
  bool any_nan = false;
  for (C x : v) any_nan = any_nan || std::isnan(x);
  if (mode == SQ_QUANT_STATIC) {
    r.q.resize(K);
    for (size_t i = 0; i < K; ++i) {
      if (std::isnan(v[i])) { put_q(i, static_za); continue; }  // a NaN v gives za
      const C t = rne(v[i] / static_scale) + static_cast<C>(static_za);
      put_q(i, sat<C>(t, qmin, qmax));
    }
    return r;
  }
  if (mode == SQ_QUANT_ABSMAX || mode == SQ_QUANT_DYNAMIC || mode == SQ_QUANT_FROM_ABSMAX) {
    C amax = C(0);
    if (mode == SQ_QUANT_FROM_ABSMAX) {
      amax = given_absmax;
    } else if (any_nan) {
      amax = std::numeric_limits<C>::quiet_NaN();
    } else {
      for (C x : v) amax = std::fabs(x) > amax ? std::fabs(x) : amax;
    }
    if (mode == SQ_QUANT_ABSMAX) {
      r.absmax = exact_f(c_dtype, static_cast<double>(amax));
      r.q_known = false;
      return r;
    }
    const C scale = store_scale<C>(s_dtype, amax / static_cast<C>(127), &r.scale);
    r.q.resize(K);
    const bool quantize = std::isfinite(scale) && scale > C(0);
    for (size_t i = 0; i < K; ++i) {
      if (!quantize) { put_q(i, 0); continue; }
      if (std::isnan(v[i])) {  // FROM_ABSMAX only (DYNAMIC's NaN rows do not quantize): left open
        r.q[i].kind = Elem::kAny;
        r.q_known = false;
        continue;
      }
      put_q(i, sat<C>(rne(v[i] / scale), qmin, qmax));
    }
    return r;
  }
  // SQ_QUANT_DYNAMIC_ASYMMETRIC
  C lo = C(0), hi = C(0);
  for (C x : v) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const C raw = any_nan ? std::numeric_limits<C>::quiet_NaN() : (hi - lo) / static_cast<C>(qmax - qmin);
  const C scale = store_scale<C>(s_dtype, raw, &r.scale);
  r.q.resize(K);
  if (!(std::isfinite(scale) && scale > C(0))) {
    r.zero_point = exact_i(q_dtype, 0);
    for (size_t i = 0; i < K; ++i) put_q(i, 0);
    return r;
  }
  const int64_t za = sat<C>(rne(static_cast<C>(qmin) - lo / scale), qmin, qmax);
  r.zero_point = exact_i(q_dtype, za);
  for (size_t i = 0; i < K; ++i) put_q(i, sat<C>(rne(v[i] / scale) + static_cast<C>(za), qmin, qmax));
  return r;
}

// The linears' epilogue on one accumulator: T = f32/f64 in T; T = f16/bf16 in f32, one rounding to T.
// rs, ws, b are the T values' exact doubles.
inline Elem epilogue(sq_dtype t, int32_t acc, double rs, double ws, bool has_bias, double b) {
  if (t == SQ_DTYPE_F64) {
    double y = static_cast<double>(acc) * rs;
    y = y * ws;
    if (has_bias) y = y + b;
    return exact_f(t, y);
  }
  float y = static_cast<float>(acc) * static_cast<float>(rs);
  y = y * static_cast<float>(ws);
  if (has_bias) y = y + static_cast<float>(b);
  return exact_f(t, static_cast<double>(y));
}

// sq_exp(t), f32, exactly as the contract writes it.
inline float sq_exp(float t) {
  if (std::isnan(t)) return t;
  if (t > 88.72283935546875f) return std::numeric_limits<float>::infinity();
  if (t < -103.972084045410156f) return 0.0f;
  const float n = rne(t * 0x1.715476p+0f);
  float r = t - n * 0x1.62e4p-1f;
  r = r - n * 0x1.7f7d1cp-20f;
  // c_j = (float)(1 / j!)
  static const float c[8] = {static_cast<float>(1.0),         static_cast<float>(1.0),
                             static_cast<float>(1.0 / 2),     static_cast<float>(1.0 / 6),
                             static_cast<float>(1.0 / 24),    static_cast<float>(1.0 / 120),
                             static_cast<float>(1.0 / 720),   static_cast<float>(1.0 / 5040)};
  float p = c[7];
  for (int j = 6; j >= 0; --j) {
    p = p * r;
    p = p + c[j];
  }
  const int ni = static_cast<int>(n);
  const int a = ni / 2;  // trunc(n / 2)
  const int b = ni - a;
  const float pa = std::ldexp(1.0f, a), pb = std::ldexp(1.0f, b);  // exact powers of two
  return (p * pa) * pb;
}

// RMSNorm's sum of squares in the contract's fixed order (2048 lanes, then the halving tree).
inline float rms_sum_of_squares(const std::vector<float>& h) {
  const size_t K = h.size();
  float p[2048];
  for (size_t j = 0; j < 2048; ++j) {
    float s = 0.0f;
    for (size_t i = j; i < K; i += 2048) s = s + h[i] * h[i];
    p[j] = s;
  }
  for (size_t s = 1024; s >= 1; s /= 2)
    for (size_t j = 0; j < s; ++j) p[j] = p[j] + p[j + s];
  return p[0];
}

}  // namespace oracle
