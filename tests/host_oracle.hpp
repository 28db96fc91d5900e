// An independent oracle of the NUMERICS CONTRACT (include/smoothquant/smoothquant.h), written from the
// header's text and nothing of src/: the linears' accumulator in int64 straight from the formula
// sum_k (a - za)(w - zw); every f32 operation done in double and rounded once to float (exact for one
// +, -, *, / or sqrt of floats: 53 >= 2 * 24 + 2 bits); round half to even by std::nearbyint (the
// default rounding mode); conversions to f16/bf16 by CUDA's own host functions (test_util.hpp); sq_exp
// from the header's recipe with its constants as the header writes them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "test_util.hpp"

namespace sqo {

using sqt::Buf;

// ------------------------------------------------------------------ arithmetic in C
// C = f64 (f64 data) or f32: each operation rounded once to C.
struct Arith {
  bool f64;
  double r(double v) const { return f64 ? v : static_cast<double>(static_cast<float>(v)); }
  double add(double a, double b) const { return r(a + b); }
  double sub(double a, double b) const { return r(a - b); }
  double mul(double a, double b) const { return r(a * b); }
  double div(double a, double b) const { return r(a / b); }
  double sqrt(double a) const { return r(std::sqrt(a)); }
};
constexpr Arith kF32{false};

// rne(t): half to even (std::nearbyint in the default rounding mode, which no test changes).
inline double rne(double t) { return std::nearbyint(t); }

inline double sat(double v, int qmin, int qmax) { return std::min<double>(qmax, std::max<double>(qmin, v)); }

inline int qmin_of(sq_dtype q) { return q == SQ_DTYPE_U8 ? 0 : -128; }
inline int qmax_of(sq_dtype q) { return q == SQ_DTYPE_U8 ? 255 : 127; }

// The canonical quiet NaN bits of a float dtype (the contract's list).
inline uint64_t canonical_nan_bits(sq_dtype d) {
  switch (d) {
    case SQ_DTYPE_F32: return 0x7fc00000u;
    case SQ_DTYPE_F64: return 0x7ff8000000000000ull;
    case SQ_DTYPE_F16: return 0x7e00u;
    case SQ_DTYPE_BF16: return 0x7fc0u;
    default: return 0;
  }
}
inline uint64_t bits_at(const Buf& b, size_t i) {
  uint64_t v = 0;
  std::memcpy(&v, b.at(i), sqt::dtype_size(b.dtype));
  return v;
}
inline void set_bits(Buf& b, size_t i, uint64_t bits) { std::memcpy(b.at(i), &bits, sqt::dtype_size(b.dtype)); }

// ------------------------------------------------------------------ sq_exp, SiLU (the header's recipe)
inline float f32(double v) { return static_cast<float>(v); }

inline double oracle_exp(double t) {
  if (std::isnan(t)) return t;
  if (t > 88.72283935546875) return std::numeric_limits<double>::infinity();
  if (t < static_cast<double>(f32(-103.972084045410156))) return 0.0;
  const double n = rne(kF32.mul(t, static_cast<double>(0x1.715476p+0f)));
  const double r = kF32.sub(kF32.sub(t, kF32.mul(n, static_cast<double>(0x1.62e4p-1f))),
                            kF32.mul(n, static_cast<double>(0x1.7f7d1cp-20f)));
  double fact = 1.0;
  for (int j = 2; j <= 7; ++j) fact *= j;  // 7!
  double p = kF32.r(1.0 / fact);           // c_7
  for (int j = 6; j >= 0; --j) {
    double fj = 1.0;
    for (int i = 2; i <= j; ++i) fj *= i;
    p = kF32.add(kF32.mul(p, r), kF32.r(1.0 / fj));
  }
  const int ni = static_cast<int>(n);
  const int a = ni / 2;  // trunc(n / 2)
  const int b = ni - a;
  return kF32.mul(kF32.mul(p, std::ldexp(1.0, a)), std::ldexp(1.0, b));
}

inline double oracle_silu(double g) { return kF32.div(g, kF32.add(1.0, oracle_exp(-g))); }

// ------------------------------------------------------------------ the linears
// acc[m,n] = sum_k (a - za[m]) * (w - zw[n]) in int64; `fits` is false when some acc leaves int32.
struct Operands {
  sq_dtype a_type = SQ_DTYPE_S8, w_type = SQ_DTYPE_S8;
  const uint8_t* a = nullptr;  // bytes of [M, lda]
  int64_t lda = 0;
  const uint8_t* w = nullptr;  // bytes of [N, ldw]
  int64_t ldw = 0;
  std::vector<int32_t> za;  // [M] (empty: 0)
  std::vector<int32_t> zw;  // [N] (empty: 0)
};
inline int32_t value_of(sq_dtype t, uint8_t byte) {
  return t == SQ_DTYPE_U8 ? static_cast<int32_t>(byte) : static_cast<int32_t>(static_cast<int8_t>(byte));
}
inline std::vector<int64_t> oracle_acc64(int64_t M, int64_t N, int64_t K, const Operands& o) {
  std::vector<int64_t> acc(static_cast<size_t>(M * N));
  for (int64_t m = 0; m < M; ++m) {
    const int64_t za = o.za.empty() ? 0 : o.za[static_cast<size_t>(m)];
    for (int64_t n = 0; n < N; ++n) {
      const int64_t zw = o.zw.empty() ? 0 : o.zw[static_cast<size_t>(n)];
      int64_t s = 0;
      for (int64_t k = 0; k < K; ++k)
        s += (value_of(o.a_type, o.a[m * o.lda + k]) - za) * (value_of(o.w_type, o.w[n * o.ldw + k]) - zw);
      acc[static_cast<size_t>(m * N + n)] = s;
    }
  }
  return acc;
}
inline bool fits_int32(const std::vector<int64_t>& v) {
  for (int64_t x : v)
    if (x < std::numeric_limits<int32_t>::min() || x > std::numeric_limits<int32_t>::max()) return false;
  return true;
}
inline std::vector<int32_t> narrow(const std::vector<int64_t>& v) {
  std::vector<int32_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<int32_t>(v[i]);
  return out;
}

// ------------------------------------------------------------------ the quantizers
enum class Producer { kPlain, kRmsNorm, kSiluMul };
enum class Mode { kStatic, kDynamic, kDynamicAsym, kAbsmax, kFromAbsmax };

struct QuantIn {
  Producer producer = Producer::kPlain;
  Mode mode = Mode::kDynamic;
  int64_t m = 0, k = 0;
  const Buf* x = nullptr;  // x_dtype D ([m, ldx]; SiLU: gate [0, k), up [k, 2k))
  int64_t ldx = 0;
  const Buf* residual = nullptr;  // RMSNorm (D)
  int64_t ldr = 0;
  const Buf* norm_weight = nullptr;  // RMSNorm (D)
  const Buf* smooth = nullptr;       // any float dtype
  double eps = 0;                    // RMSNorm, a float value
  double act_scale = 0;              // STATIC, a C value
  int za = 0;                        // STATIC
  sq_dtype q_dtype = SQ_DTYPE_S8;
  sq_dtype s_dtype = SQ_DTYPE_F32;  // scale dtype
  const Buf* absmax_in = nullptr;   // FROM_ABSMAX: [m] of C
};

struct QuantOut {
  std::vector<int> q;  // [m * k] values (empty for ABSMAX)
  Buf scale;           // [m] of S (dynamic modes)
  std::vector<int> za;  // [m] (ASYMMETRIC)
  std::vector<int32_t> sums;  // [m]
  Buf absmax;          // [m] of C (ABSMAX)
  Buf residual_out;    // [m * k] of D (RMSNorm), packed
  std::vector<std::vector<double>> v;  // the rows v, for the tests' own checks
};

// The producer's v[0..k) of row m (C values), and h (RMSNorm) into h_out when non-null.
inline std::vector<double> oracle_row_v(const QuantIn& in, int64_t m, std::vector<double>* h_out) {
  const bool f64 = in.x->dtype == SQ_DTYPE_F64;
  const Arith c{f64};
  std::vector<double> v(static_cast<size_t>(in.k));
  auto smooth = [&](int64_t i) { return c.r(in.smooth->get(static_cast<size_t>(i))); };
  auto x = [&](int64_t i) { return in.x->get(static_cast<size_t>(m * in.ldx + i)); };
  if (in.producer == Producer::kPlain) {
    for (int64_t i = 0; i < in.k; ++i) v[i] = in.smooth ? c.div(x(i), smooth(i)) : x(i);
  } else if (in.producer == Producer::kSiluMul) {
    for (int64_t i = 0; i < in.k; ++i) {
      v[i] = kF32.mul(oracle_silu(x(i)), x(in.k + i));
      if (in.smooth) v[i] = kF32.div(v[i], smooth(i));
    }
  } else {
    std::vector<double> h(static_cast<size_t>(in.k));
    for (int64_t i = 0; i < in.k; ++i)
      h[i] = in.residual ? kF32.add(x(i), in.residual->get(static_cast<size_t>(m * in.ldr + i))) : x(i);
    // ss: 2048 lane sums in increasing i from +0, then the pairwise tree.
    std::vector<double> p(2048, 0.0);
    for (int64_t j = 0; j < 2048; ++j)
      for (int64_t i = j; i < in.k; i += 2048) p[j] = kF32.add(p[j], kF32.mul(h[i], h[i]));
    for (int s = 1024; s >= 1; s /= 2)
      for (int j = 0; j < s; ++j) p[j] = kF32.add(p[j], p[j + s]);
    const double r = kF32.div(1.0, kF32.sqrt(kF32.add(kF32.div(p[0], kF32.r(static_cast<double>(in.k))), in.eps)));
    for (int64_t i = 0; i < in.k; ++i) {
      v[i] = kF32.mul(kF32.mul(h[i], r), in.norm_weight->get(static_cast<size_t>(i)));
      if (in.smooth) v[i] = kF32.div(v[i], smooth(i));
    }
    if (h_out) *h_out = h;
  }
  return v;
}

inline QuantOut oracle_quantize(const QuantIn& in) {
  const bool f64 = in.x->dtype == SQ_DTYPE_F64;
  const Arith c{f64};
  const sq_dtype c_dtype = f64 ? SQ_DTYPE_F64 : SQ_DTYPE_F32;
  const int qmin = qmin_of(in.q_dtype), qmax = qmax_of(in.q_dtype);
  QuantOut out;
  const size_t M = static_cast<size_t>(in.m), K = static_cast<size_t>(in.k);
  out.scale = Buf(in.s_dtype, M);
  out.absmax = Buf(c_dtype, M);
  out.za.assign(M, 0);
  out.sums.assign(M, 0);
  if (in.mode != Mode::kAbsmax) out.q.assign(M * K, 0);
  if (in.producer == Producer::kRmsNorm) out.residual_out = Buf(in.x->dtype, M * K);
  for (int64_t m = 0; m < in.m; ++m) {
    std::vector<double> h;
    const std::vector<double> v = oracle_row_v(in, m, &h);
    out.v.push_back(v);
    if (in.producer == Producer::kRmsNorm)
      for (size_t i = 0; i < K; ++i) out.residual_out.set(m * K + i, h[i]);
    bool nan = false;
    double amax = 0.0, lo = 0.0, hi = 0.0;  // the contract's max |v|, min(0, min v), max(0, max v)
    for (double x : v) {
      if (std::isnan(x)) {
        nan = true;
        continue;
      }
      amax = std::max(amax, std::fabs(x));
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
    double scale = 0.0;
    int za = 0;
    bool valid = true;
    auto store_scale = [&](double raw, bool is_nan) {
      out.scale.set(static_cast<size_t>(m), raw);  // one rounding to S
      if (is_nan) set_bits(out.scale, static_cast<size_t>(m), canonical_nan_bits(in.s_dtype));
      scale = c.r(out.scale.get(static_cast<size_t>(m)));  // (C)scale
      valid = std::isfinite(scale) && scale > 0.0;
    };
    switch (in.mode) {
      case Mode::kStatic:
        scale = in.act_scale;
        za = in.za;
        break;
      case Mode::kAbsmax:
        out.absmax.set(static_cast<size_t>(m), amax);
        if (nan) set_bits(out.absmax, static_cast<size_t>(m), canonical_nan_bits(c_dtype));
        continue;
      case Mode::kDynamic: store_scale(c.div(amax, 127.0), nan); break;
      case Mode::kFromAbsmax: {
        const double given = in.absmax_in->get(static_cast<size_t>(m));
        store_scale(c.div(given, 127.0), std::isnan(given));
        break;
      }
      case Mode::kDynamicAsym:
        store_scale(c.div(c.sub(hi, lo), 255.0), nan);
        za = valid ? static_cast<int>(sat(rne(c.sub(qmin, c.div(lo, scale))), qmin, qmax)) : 0;
        out.za[static_cast<size_t>(m)] = za;
        break;
    }
    int64_t sum = 0;
    for (size_t i = 0; i < K; ++i) {
      int q = 0;
      if (valid) {
        const double t = c.div(v[i], scale);
        q = std::isnan(t) ? za : static_cast<int>(sat(c.add(rne(t), za), qmin, qmax));
      }
      out.q[m * K + i] = q;
      sum += q;
    }
    out.sums[static_cast<size_t>(m)] = static_cast<int32_t>(sum);
  }
  return out;
}

}  // namespace sqo
