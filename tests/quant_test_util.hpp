// Shared by the quantizer GPU tests (test_gpu_quantize.cpp through the C ABI, test_gpu_quant_kernels.cpp
// on the kernels directly): one description of a quantize run (QC), its random inputs (never zeros;
// optional zero / NaN / Inf / overflowing rows), its poisoned outputs, an independent oracle of the
// NUMERICS CONTRACT written straight from the header's text, the arrays of a run in host or device
// memory, and the comparison of two runs' outputs.
#pragma once

#include <catch2/catch.hpp>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "smoothquant/smoothquant.h"
#include "sq_math.hpp"
#include "test_util.hpp"

namespace qt {

inline size_t esize(sq_dtype d) { return sqt::dtype_size(d); }

inline const char* dname(sq_dtype d) {
  switch (d) {
    case SQ_DTYPE_S8: return "s8";
    case SQ_DTYPE_U8: return "u8";
    case SQ_DTYPE_S32: return "s32";
    case SQ_DTYPE_F16: return "f16";
    case SQ_DTYPE_BF16: return "bf16";
    case SQ_DTYPE_F32: return "f32";
    case SQ_DTYPE_F64: return "f64";
    default: return "none";
  }
}

// splitmix64: fast enough for the tens of millions of elements of the large cases.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x2545f4914f6cdd1dull + 1) {}
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * (static_cast<double>(next() >> 11) * 0x1.0p-53); }
  double log_uniform(double lo, double hi) { return std::exp(uniform(std::log(lo), std::log(hi))); }
};

// Element i of dtype d at p as a double (exact for every dtype here).
inline double get(sq_dtype d, const void* p, size_t i) {
  const unsigned char* b = static_cast<const unsigned char*>(p) + i * esize(d);
  switch (d) {
    case SQ_DTYPE_S8: return static_cast<double>(*reinterpret_cast<const int8_t*>(b));
    case SQ_DTYPE_U8: return static_cast<double>(*b);
    case SQ_DTYPE_S32: { int32_t v; std::memcpy(&v, b, 4); return v; }
    case SQ_DTYPE_F32: { float v; std::memcpy(&v, b, 4); return v; }
    case SQ_DTYPE_F64: { double v; std::memcpy(&v, b, 8); return v; }
    case SQ_DTYPE_F16: { __half v; std::memcpy(&v, b, 2); return static_cast<double>(__half2float(v)); }
    case SQ_DTYPE_BF16: { __nv_bfloat16 v; std::memcpy(&v, b, 2); return static_cast<double>(__bfloat162float(v)); }
    default: return NAN;
  }
}
// Stores v into element i (one round to nearest even for the float dtypes; integers as given).
inline void set(sq_dtype d, void* p, size_t i, double v) {
  unsigned char* b = static_cast<unsigned char*>(p) + i * esize(d);
  switch (d) {
    case SQ_DTYPE_S8: { int8_t x = static_cast<int8_t>(v); std::memcpy(b, &x, 1); break; }
    case SQ_DTYPE_U8: { uint8_t x = static_cast<uint8_t>(v); std::memcpy(b, &x, 1); break; }
    case SQ_DTYPE_S32: { int32_t x = static_cast<int32_t>(v); std::memcpy(b, &x, 4); break; }
    case SQ_DTYPE_F32: { float x = static_cast<float>(v); std::memcpy(b, &x, 4); break; }
    case SQ_DTYPE_F64: std::memcpy(b, &v, 8); break;
    case SQ_DTYPE_F16: { __half x = __double2half(v); std::memcpy(b, &x, 2); break; }
    case SQ_DTYPE_BF16: { __nv_bfloat16 x = __double2bfloat16(v); std::memcpy(b, &x, 2); break; }
    default: break;
  }
}

// A typed host array (raw bytes).
struct Arr {
  sq_dtype d = SQ_DTYPE_INVALID;
  std::vector<unsigned char> b;
  Arr() = default;
  Arr(sq_dtype dt, size_t n) : d(dt), b(n * esize(dt)) {}
  size_t n() const { return d == SQ_DTYPE_INVALID ? 0 : b.size() / esize(d); }
  bool empty() const { return b.empty(); }
  void* p() { return b.data(); }
  const void* p() const { return b.data(); }
  double get(size_t i) const { return qt::get(d, b.data(), i); }
  void set(size_t i, double v) { qt::set(d, b.data(), i, v); }
  void poison() { std::memset(b.data(), 0xFF, b.size()); }  // NaN in every float dtype, -1 / 255 / -1
  static Arr poisoned(sq_dtype dt, size_t n) {
    Arr a(dt, n);
    a.poison();
    return a;
  }
};

// ------------------------------------------------------------------ one quantize run
enum class Alias { kNone, kSeparate, kResidual, kX };  // RMSNORM_QUANTIZE's residual_out

struct QC {
  sq_op op = SQ_OP_QUANTIZE_DYNAMIC;
  sq_quant_mode mode = SQ_QUANT_DYNAMIC;  // resolved: never SQ_QUANT_DEFAULT
  sq_dtype x = SQ_DTYPE_F32;   // act_dtype (x, residual, norm_weight)
  sq_dtype s = SQ_DTYPE_F32;   // scale_dtype: the scales and smooth
  sq_dtype q = SQ_DTYPE_S8;    // out_dtype
  int64_t m = 1, k = 1;
  bool smooth = false;
  bool residual = false;       // RMSNORM_QUANTIZE
  Alias alias = Alias::kNone;  // RMSNORM_QUANTIZE
  bool sums = false;           // act_sums
  bool edges = false;          // rows 1..5 (m >= 6): zeros, NaN, +Inf, -Inf and saturation, overflow
  int64_t pad = 0;             // extra elements per row of every row-major array
  int64_t offset = 0;          // elements every array starts past a 256-byte boundary (scalar paths)
  int32_t zp = 0;              // STATIC zero point
  double act_scale = 0.0117;   // STATIC
  double eps = 1e-5;           // RMSNORM_QUANTIZE
  int splits = 1;              // kernel tests: QuantizeParams::row_splits
  bool overlap = false;        // kernel tests: QuantizeParams::overlap_previous
  uint64_t seed = 1;

  bool rms() const { return op == SQ_OP_RMSNORM_QUANTIZE; }
  bool silu() const { return op == SQ_OP_SILU_MUL_QUANTIZE; }
  sq_dtype c() const { return x == SQ_DTYPE_F64 ? SQ_DTYPE_F64 : SQ_DTYPE_F32; }  // compute type
  int64_t x_cols() const { return silu() ? 2 * k : k; }
  int64_t ld_x() const { return x_cols() + pad; }
  int64_t ld() const { return k + pad; }  // residual, residual_out, q
  bool writes_q() const { return mode != SQ_QUANT_ABSMAX; }
  bool writes_scale() const {
    return mode == SQ_QUANT_DYNAMIC || mode == SQ_QUANT_DYNAMIC_ASYMMETRIC || mode == SQ_QUANT_FROM_ABSMAX;
  }
  bool has_res_out() const { return rms() && alias != Alias::kNone; }
  std::string str() const {
    static const char* ops[] = {"?", "SMOOTHQUANT_LINEAR", "QUANTIZED_LINEAR", "QUANTIZE_STATIC", "QUANTIZE_DYNAMIC",
                                "SCALED_LINEAR", "RMSNORM_QUANTIZE", "SILU_MUL_QUANTIZE", "SCALE_ACCUMULATORS"};
    static const char* modes[] = {"DEFAULT", "STATIC", "DYNAMIC", "DYNAMIC_ASYMMETRIC", "ABSMAX", "FROM_ABSMAX"};
    static const char* aliases[] = {"none", "separate", "=residual", "=x"};
    std::ostringstream o;
    o << ops[op] << " " << modes[mode] << " x=" << dname(x) << " s=" << dname(s) << " q=" << dname(q) << " m=" << m
      << " k=" << k << " smooth=" << smooth << " residual=" << residual << " residual_out=" << aliases[static_cast<int>(alias)]
      << " sums=" << sums << " edges=" << edges << " pad=" << pad << " offset=" << offset << " zp=" << zp
      << " splits=" << splits << " overlap=" << overlap << " seed=" << seed;
    return o.str();
  }
};

struct Inputs {
  Arr x;       // [m, ld_x]
  Arr res;     // [m, ld] (residual)
  Arr w;       // [k] norm_weight
  Arr smooth;  // [k] of s
  Arr absmax;  // [m] of C: FROM_ABSMAX's input
};

struct Outputs {
  Arr q;       // [m, ld] of q
  Arr scale;   // [m + 1] of s
  Arr zp;      // [m + 1] of q
  Arr sums;    // [m + 1] int32
  Arr absmax;  // [m + 1] of C
  Arr res;     // the residual_out result: the separate array, or residual / x after the run
};

// ------------------------------------------------------------------ the oracle
inline float to_f(sq_dtype d, const Arr& a, size_t i) { return static_cast<float>(a.get(i)); }

// v of row r (and, for RMSNORM_QUANTIZE, h), in C, as the contract writes them.
template <typename C>
std::vector<C> oracle_v(const QC& c, const Inputs& in, int64_t r, std::vector<float>* h_out = nullptr) {
  const size_t k = static_cast<size_t>(c.k), base = static_cast<size_t>(r * c.ld_x());
  std::vector<C> v(k);
  if (c.rms()) {
    std::vector<float> h(k);
    for (size_t i = 0; i < k; ++i) {
      h[i] = static_cast<float>(in.x.get(base + i));
      if (c.residual) h[i] = h[i] + static_cast<float>(in.res.get(static_cast<size_t>(r * c.ld()) + i));
    }
    std::vector<float> p(sq::math::kRmsLanes, 0.0f);
    for (size_t i = 0; i < k; ++i) p[i % p.size()] = p[i % p.size()] + h[i] * h[i];
    for (size_t s = p.size() / 2; s >= 1; s /= 2)
      for (size_t j = 0; j < s; ++j) p[j] = p[j] + p[j + s];
    const float rr = 1.0f / std::sqrt(p[0] / static_cast<float>(c.k) + static_cast<float>(c.eps));
    for (size_t i = 0; i < k; ++i) v[i] = static_cast<C>((h[i] * rr) * static_cast<float>(in.w.get(i)));
    if (h_out) *h_out = h;
  } else if (c.silu()) {
    for (size_t i = 0; i < k; ++i) {
      const float g = static_cast<float>(in.x.get(base + i)), u = static_cast<float>(in.x.get(base + k + i));
      v[i] = static_cast<C>((g / (1.0f + sq::math::exp(-g))) * u);
    }
  } else {
    for (size_t i = 0; i < k; ++i) v[i] = static_cast<C>(in.x.get(base + i));
  }
  if (c.smooth)
    for (size_t i = 0; i < k; ++i) v[i] = v[i] / static_cast<C>(in.smooth.get(i));  // (C)smooth: one RNE
  return v;
}

// (S)value stored at a[i] (the canonical quiet NaN of S for a NaN row); returns (C)(S)value.
template <typename C>
C store_as(Arr& a, size_t i, C value, bool nan) {
  unsigned char* b = static_cast<unsigned char*>(a.p()) + i * esize(a.d);
  switch (a.d) {
    case SQ_DTYPE_F32: {
      float f = static_cast<float>(value);
      uint32_t u;
      std::memcpy(&u, &f, 4);
      if (nan) u = 0x7fc00000u;
      std::memcpy(b, &u, 4);
      std::memcpy(&f, &u, 4);
      return static_cast<C>(f);
    }
    case SQ_DTYPE_F64: {
      double f = static_cast<double>(value);
      uint64_t u;
      std::memcpy(&u, &f, 8);
      if (nan) u = 0x7ff8000000000000ull;
      std::memcpy(b, &u, 8);
      std::memcpy(&f, &u, 8);
      return static_cast<C>(f);
    }
    case SQ_DTYPE_F16: {
      __half h = sizeof(C) == 8 ? __double2half(static_cast<double>(value)) : __float2half_rn(static_cast<float>(value));
      uint16_t u;
      std::memcpy(&u, &h, 2);
      if (nan) u = 0x7e00u;
      std::memcpy(b, &u, 2);
      std::memcpy(&h, &u, 2);
      return static_cast<C>(__half2float(h));
    }
    case SQ_DTYPE_BF16: {
      __nv_bfloat16 h =
          sizeof(C) == 8 ? __double2bfloat16(static_cast<double>(value)) : __float2bfloat16_rn(static_cast<float>(value));
      uint16_t u;
      std::memcpy(&u, &h, 2);
      if (nan) u = 0x7fc0u;
      std::memcpy(b, &u, 2);
      std::memcpy(&h, &u, 2);
      return static_cast<C>(__bfloat162float(h));
    }
    default: return C(0);
  }
}

template <typename C>
void oracle_typed(const QC& c, const Inputs& in, Outputs& out) {
  const int32_t qmin = c.q == SQ_DTYPE_U8 ? 0 : -128, qmax = c.q == SQ_DTYPE_U8 ? 255 : 127;
  // sat_Q(rne(t) + za); a NaN t gives za (the contract's STATIC rule).
  auto sat = [&](C t, int32_t za) -> int32_t {
    if (std::isnan(t)) return za;
    const C y = std::nearbyint(t) + static_cast<C>(za);
    if (y >= static_cast<C>(qmax)) return qmax;
    if (y <= static_cast<C>(qmin)) return qmin;
    return static_cast<int32_t>(y);
  };
  const size_t k = static_cast<size_t>(c.k);
  for (int64_t r = 0; r < c.m; ++r) {
    std::vector<float> h;
    const std::vector<C> v = oracle_v<C>(c, in, r, &h);
    if (c.has_res_out()) {
      for (size_t i = 0; i < k; ++i) {
        void* dst = static_cast<unsigned char*>(out.res.p()) + (static_cast<size_t>(r * c.ld()) + i) * esize(c.x);
        if (c.x == SQ_DTYPE_F32) std::memcpy(dst, &h[i], 4);
        if (c.x == SQ_DTYPE_F16) { const __half o = __float2half_rn(h[i]); std::memcpy(dst, &o, 2); }
        if (c.x == SQ_DTYPE_BF16) { const __nv_bfloat16 o = __float2bfloat16_rn(h[i]); std::memcpy(dst, &o, 2); }
      }
    }
    bool nan = false;
    C amax = C(0), lo = C(0), hi = C(0);
    for (const C e : v) {
      if (std::isnan(e)) {
        nan = true;
        continue;
      }
      amax = std::max(amax, std::fabs(e));
      lo = std::min(lo, e);
      hi = std::max(hi, e);
    }
    C scale = C(1);
    int32_t za = 0;
    bool valid = true;
    switch (c.mode) {
      case SQ_QUANT_STATIC:
        scale = static_cast<C>(c.act_scale);
        za = c.zp;
        break;
      case SQ_QUANT_DYNAMIC:
        scale = store_as<C>(out.scale, static_cast<size_t>(r), amax / static_cast<C>(127), nan);
        valid = std::isfinite(scale) && scale > C(0);
        break;
      case SQ_QUANT_FROM_ABSMAX: {
        const C a = static_cast<C>(in.absmax.get(static_cast<size_t>(r)));
        scale = store_as<C>(out.scale, static_cast<size_t>(r), a / static_cast<C>(127), std::isnan(a));
        valid = std::isfinite(scale) && scale > C(0);
        break;
      }
      case SQ_QUANT_DYNAMIC_ASYMMETRIC:
        scale = store_as<C>(out.scale, static_cast<size_t>(r), (hi - lo) / static_cast<C>(qmax - qmin), nan);
        valid = std::isfinite(scale) && scale > C(0);
        za = valid ? sat(static_cast<C>(qmin) - lo / scale, 0) : 0;
        out.zp.set(static_cast<size_t>(r), za);
        break;
      case SQ_QUANT_ABSMAX:
        store_as<C>(out.absmax, static_cast<size_t>(r), amax, nan);
        valid = false;
        break;
      default: break;
    }
    if (!c.writes_q()) continue;
    int64_t sum = 0;
    for (size_t i = 0; i < k; ++i) {
      const int32_t qv = valid ? sat(v[i] / scale, za) : 0;
      out.q.set(static_cast<size_t>(r * c.ld()) + i, qv);
      sum += qv;
    }
    if (c.sums) out.sums.set(static_cast<size_t>(r), static_cast<double>(static_cast<int32_t>(static_cast<uint32_t>(sum))));
  }
}

// ------------------------------------------------------------------ inputs and outputs
// The contract's amax of row r of v (FROM_ABSMAX's natural input).
inline double row_amax(const QC& c, const Inputs& in, int64_t r) {
  double a = 0.0;
  bool nan = false;
  if (c.c() == SQ_DTYPE_F64) {
    for (const double e : oracle_v<double>(c, in, r)) {
      if (std::isnan(e)) nan = true; else a = std::max(a, std::fabs(e));
    }
  } else {
    for (const float e : oracle_v<float>(c, in, r)) {
      if (std::isnan(e)) nan = true; else a = std::max(a, static_cast<double>(std::fabs(e)));
    }
  }
  return nan ? std::numeric_limits<double>::quiet_NaN() : a;
}

inline Inputs make_inputs(const QC& c) {
  Rng rng(c.seed);
  Inputs in;
  const int64_t ldx = c.ld_x(), ld = c.ld();
  in.x = Arr(c.x, static_cast<size_t>(c.m * ldx));
  for (int64_t r = 0; r < c.m; ++r)
    for (int64_t i = 0; i < ldx; ++i) in.x.set(static_cast<size_t>(r * ldx + i), rng.uniform(-1.0, 1.0) * (i % 7 == 0 ? 20.0 : 1.0));
  if (c.rms()) {
    if (c.residual) {
      in.res = Arr(c.x, static_cast<size_t>(c.m * ld));
      for (size_t i = 0; i < in.res.n(); ++i) in.res.set(i, rng.uniform(-1.0, 1.0));
    }
    in.w = Arr(c.x, static_cast<size_t>(c.k));
    for (size_t i = 0; i < in.w.n(); ++i) in.w.set(i, rng.uniform(-2.0, 2.0));
  }
  if (c.smooth) {
    in.smooth = Arr(c.s, static_cast<size_t>(c.k));
    for (size_t i = 0; i < in.smooth.n(); ++i) in.smooth.set(i, rng.log_uniform(0.05, 20.0));
  }
  if (c.edges && c.m >= 6) {
    const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
    const double huge = c.x == SQ_DTYPE_F16 ? 6e4 : 3e38;
    const int64_t k = c.k, up = c.silu() ? k : 0;  // SiLU: the up half
    for (int64_t i = 0; i < c.x_cols(); ++i) in.x.set(static_cast<size_t>(1 * ldx + i), 0.0);  // a zero row
    if (c.residual)
      for (int64_t i = 0; i < k; ++i) in.res.set(static_cast<size_t>(1 * ld + i), 0.0);
    in.x.set(static_cast<size_t>(2 * ldx + k / 2), nan);                      // a NaN
    in.x.set(static_cast<size_t>(3 * ldx + up + k - 1), inf);                 // +Inf (SiLU: in up)
    in.x.set(static_cast<size_t>(4 * ldx), -inf);                             // -Inf (SiLU: gate: NaN)
    in.x.set(static_cast<size_t>(4 * ldx + up + k / 3), 1e4);                 // saturates
    for (int64_t i = 0; i < k; ++i)                                           // overflow: RMS h^2, scales
      in.x.set(static_cast<size_t>(5 * ldx + i), (i % 2 ? -huge : huge) * (c.silu() ? -1.0 : 1.0));
  }
  if (c.mode == SQ_QUANT_FROM_ABSMAX) {
    in.absmax = Arr(c.c(), static_cast<size_t>(c.m));
    for (int64_t r = 0; r < c.m; ++r) {
      const double a = row_amax(c, in, r);
      double v = a;
      switch (r % 10) {
        case 1: v = a * 0.5; break;  // below the true amax: q saturates
        case 2: v = -std::numeric_limits<double>::quiet_NaN(); break;  // a NaN of another sign
        case 3: v = 0.0; break;
        case 4: v = -0.0; break;
        case 5: v = -1.0; break;
        case 6: v = std::numeric_limits<double>::infinity(); break;
        case 7: v = c.c() == SQ_DTYPE_F64 ? 1e-320 : 1e-45; break;  // the scale underflows
        case 8: v = 1e7; break;                                     // overflows an f16 scale
        case 9: v = a * 2.0; break;
        default: break;
      }
      in.absmax.set(static_cast<size_t>(r), v);
    }
    if (c.m > 2) {  // a NaN with a payload
      if (c.c() == SQ_DTYPE_F64) {
        const uint64_t u = 0x7ff4000000001234ull;
        std::memcpy(static_cast<unsigned char*>(in.absmax.p()) + 2 * 8, &u, 8);
      } else {
        const uint32_t u = 0xffc01234u;
        std::memcpy(static_cast<unsigned char*>(in.absmax.p()) + 2 * 4, &u, 4);
      }
    }
  }
  return in;
}

// Every output poisoned (0xFF); for residual_out aliasing an input, that input's bytes.
inline Outputs make_outputs(const QC& c, const Inputs& in) {
  Outputs o;
  const size_t rows = static_cast<size_t>(c.m), rows1 = rows + 1;
  if (c.writes_q()) o.q = Arr::poisoned(c.q, static_cast<size_t>(c.m * c.ld()));
  if (c.writes_scale()) o.scale = Arr::poisoned(c.s, rows1);
  if (c.mode == SQ_QUANT_DYNAMIC_ASYMMETRIC) o.zp = Arr::poisoned(c.q, rows1);
  if (c.sums && c.writes_q()) o.sums = Arr::poisoned(SQ_DTYPE_S32, rows1);
  if (c.mode == SQ_QUANT_ABSMAX) o.absmax = Arr::poisoned(c.c(), rows1);
  if (c.has_res_out()) {
    if (c.alias == Alias::kSeparate) o.res = Arr::poisoned(c.x, static_cast<size_t>(c.m * c.ld()));
    if (c.alias == Alias::kResidual) o.res = in.res;
    if (c.alias == Alias::kX) o.res = in.x;
  }
  (void)rows;
  return o;
}

inline Outputs oracle(const QC& c, const Inputs& in) {
  Outputs o = make_outputs(c, in);
  if (c.c() == SQ_DTYPE_F64) oracle_typed<double>(c, in, o); else oracle_typed<float>(c, in, o);
  return o;
}

// The first difference of two runs' outputs ("" when equal). Bit for bit, except that residual_out
// compares NaN with NaN of any payload (h = x + residual of a NaN: the contract leaves the payload open).
inline std::string diff(const QC& c, const Outputs& got, const Outputs& want) {
  std::ostringstream o;
  auto bits = [&](const char* name, const Arr& g, const Arr& w, int64_t ld, bool nan_any) {
    if (g.b.size() != w.b.size()) {
      o << name << ": sizes " << g.b.size() << " vs " << w.b.size();
      return false;
    }
    const size_t es = esize(g.d);
    for (size_t i = 0; i < g.n(); ++i) {
      if (std::memcmp(g.b.data() + i * es, w.b.data() + i * es, es) == 0) continue;
      if (nan_any && std::isnan(g.get(i)) && std::isnan(w.get(i))) continue;
      o << name << "[" << i << "]";
      if (ld > 0) o << " (row " << i / static_cast<size_t>(ld) << ", col " << i % static_cast<size_t>(ld) << ")";
      o << ": got " << g.get(i) << ", want " << w.get(i);
      return false;
    }
    return true;
  };
  bits("q", got.q, want.q, c.ld(), false) && bits("scale", got.scale, want.scale, 0, false) &&
      bits("zero point", got.zp, want.zp, 0, false) && bits("act_sums", got.sums, want.sums, 0, false) &&
      bits("absmax", got.absmax, want.absmax, 0, false) &&
      bits("residual_out", got.res, want.res, c.alias == Alias::kX ? c.ld_x() : c.ld(), true);
  return o.str();
}

// ------------------------------------------------------------------ the arrays of a run
// One array in host or device memory, `offset` elements past an allocation's start.
class Mem {
 public:
  Mem() = default;
  Mem(bool device, const Arr& init, int64_t offset) : device_(device), d_(init.d) {
    if (init.empty()) return;
    off_ = static_cast<size_t>(offset) * esize(init.d);
    bytes_ = init.b.size();
    if (device_) {
      REQUIRE(cudaMalloc(&base_, off_ + bytes_) == cudaSuccess);
      REQUIRE(cudaMemcpy(static_cast<char*>(base_) + off_, init.b.data(), bytes_, cudaMemcpyHostToDevice) == cudaSuccess);
      // A pageable copy may still be in flight when it returns; a non-blocking stream would not wait for it.
      REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    } else {
      host_.resize(off_ + bytes_ + 16);
      const size_t skew = (16 - reinterpret_cast<uintptr_t>(host_.data()) % 16) % 16;  // a 16-byte aligned start
      base_ = host_.data() + skew;
      std::memcpy(static_cast<char*>(base_) + off_, init.b.data(), bytes_);
    }
  }
  ~Mem() {
    if (device_ && base_) cudaFree(base_);
  }
  Mem(const Mem&) = delete;
  Mem& operator=(const Mem&) = delete;
  Mem(Mem&& o) noexcept { *this = std::move(o); }
  Mem& operator=(Mem&& o) noexcept {
    std::swap(device_, o.device_);
    std::swap(d_, o.d_);
    std::swap(base_, o.base_);
    std::swap(off_, o.off_);
    std::swap(bytes_, o.bytes_);
    std::swap(host_, o.host_);
    return *this;
  }
  void* p() const { return base_ ? static_cast<char*>(base_) + off_ : nullptr; }
  // Overwrites the array with `a` (same size), on `s` for device memory.
  void refill(const Arr& a, cudaStream_t s = nullptr) {
    if (!base_) return;
    if (device_) REQUIRE(cudaMemcpyAsync(p(), a.b.data(), bytes_, cudaMemcpyHostToDevice, s) == cudaSuccess);
    else std::memcpy(p(), a.b.data(), bytes_);
  }
  void poison(cudaStream_t s = nullptr) {
    if (!base_) return;
    if (device_) REQUIRE(cudaMemsetAsync(p(), 0xFF, bytes_, s) == cudaSuccess);
    else std::memset(p(), 0xFF, bytes_);
  }
  Arr fetch() const {
    Arr a(d_, bytes_ / std::max<size_t>(esize(d_), 1));
    if (!base_) return Arr();
    if (device_) REQUIRE(cudaMemcpy(a.b.data(), p(), bytes_, cudaMemcpyDeviceToHost) == cudaSuccess);
    else std::memcpy(a.b.data(), p(), bytes_);
    return a;
  }

 private:
  bool device_ = false;
  sq_dtype d_ = SQ_DTYPE_INVALID;
  void* base_ = nullptr;
  size_t off_ = 0, bytes_ = 0;
  std::vector<unsigned char> host_;
};

// Every array of one run: the inputs copied in, the outputs poisoned; residual_out is the residual or x
// array itself when it aliases one.
struct RunSet {
  const QC& c;
  Mem x, res, w, smooth, absmax_in, q, scale, zp, sums, absmax, res_out;
  RunSet(const QC& qc, const Inputs& in, bool device)
      : c(qc),
        x(device, in.x, qc.offset),
        res(device, in.res, qc.offset),
        w(device, in.w, qc.offset),
        smooth(device, in.smooth, qc.offset),
        absmax_in(device, in.absmax, 0) {
    const Outputs o = make_outputs(qc, in);
    q = Mem(device, o.q, qc.offset);
    scale = Mem(device, o.scale, 0);
    zp = Mem(device, o.zp, 0);
    sums = Mem(device, o.sums, 0);
    absmax = Mem(device, o.absmax, 0);
    if (qc.alias == Alias::kSeparate && qc.rms()) res_out = Mem(device, o.res, qc.offset);
  }
  void* res_out_ptr() const {
    if (!c.has_res_out()) return nullptr;
    if (c.alias == Alias::kResidual) return res.p();
    if (c.alias == Alias::kX) return x.p();
    return res_out.p();
  }
  int64_t res_out_ld() const { return c.alias == Alias::kX ? c.ld_x() : c.ld(); }
  // Re-poisons every output and restores the inputs an aliased residual_out overwrote.
  void reset(const Inputs& in, cudaStream_t s = nullptr) {
    q.poison(s);
    scale.poison(s);
    zp.poison(s);
    sums.poison(s);
    absmax.poison(s);
    res_out.poison(s);
    if (c.alias == Alias::kResidual) res.refill(in.res, s);
    if (c.alias == Alias::kX) x.refill(in.x, s);
  }
  Outputs outputs() const {
    Outputs o;
    o.q = q.fetch();
    o.scale = scale.fetch();
    o.zp = zp.fetch();
    o.sums = sums.fetch();
    o.absmax = absmax.fetch();
    if (c.has_res_out()) o.res = c.alias == Alias::kResidual ? res.fetch() : c.alias == Alias::kX ? x.fetch() : res_out.fetch();
    return o;
  }
};

// The C ABI's view of a run: the descriptor and the run arguments over a RunSet.
inline sq_plan_desc desc_of(const QC& c, int64_t max_m) {
  sq_plan_desc d;
  std::memset(&d, 0, sizeof(d));
  d.struct_size = sizeof(d);
  d.op = c.op;
  d.act_dtype = c.x;
  d.scale_dtype = c.s;
  d.out_dtype = c.q;
  d.k = c.k;
  d.max_m = max_m;
  const bool default_mode = (c.op == SQ_OP_QUANTIZE_STATIC && c.mode == SQ_QUANT_STATIC) ||
                            (c.op != SQ_OP_QUANTIZE_STATIC && c.mode == SQ_QUANT_DYNAMIC);
  d.quant_mode = default_mode ? SQ_QUANT_DEFAULT : c.mode;
  if (c.mode == SQ_QUANT_STATIC) {
    d.act_scale = c.act_scale;
    d.act_zero_point = c.zp;
  }
  if (c.rms()) d.eps = c.eps;
  return d;
}

inline sq_run_args args_of(const RunSet& s) {
  const QC& c = s.c;
  sq_run_args a;
  std::memset(&a, 0, sizeof(a));
  a.struct_size = sizeof(a);
  a.m = c.m;
  a.act = s.x.p();
  a.ld_act = c.pad ? c.ld_x() : 0;
  a.out = c.writes_q() ? s.q.p() : nullptr;
  a.ld_out = c.pad ? c.ld() : 0;
  a.smooth = c.smooth ? s.smooth.p() : nullptr;
  a.act_scale_scratch = c.writes_scale() ? s.scale.p() : nullptr;
  a.act_zero_point = c.mode == SQ_QUANT_DYNAMIC_ASYMMETRIC ? s.zp.p() : nullptr;
  a.act_sums = c.sums && c.writes_q() ? static_cast<int32_t*>(s.sums.p()) : nullptr;
  if (c.mode == SQ_QUANT_ABSMAX) a.absmax = s.absmax.p();
  if (c.mode == SQ_QUANT_FROM_ABSMAX) a.absmax = s.absmax_in.p();
  if (c.rms()) {
    a.norm_weight = s.w.p();
    a.residual = c.residual ? s.res.p() : nullptr;
    a.ld_residual = c.residual && c.pad ? c.ld() : 0;
    a.residual_out = s.res_out_ptr();
    a.ld_residual_out = a.residual_out != nullptr && c.pad ? s.res_out_ld() : 0;
  }
  return a;
}

}  // namespace qt
