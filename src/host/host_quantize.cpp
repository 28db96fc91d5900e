// The host reference activation quantizers: every quant mode (STATIC with a zero point, DYNAMIC,
// DYNAMIC_ASYMMETRIC, ABSMAX, FROM_ABSMAX) on every producer of the row v (plain x with optional
// smoothing, RMSNorm, SiLU-and-multiply), exactly as the NUMERICS CONTRACT in
// include/smoothquant/smoothquant.h writes them: every step one correctly rounded operation in the
// compute type C (f64 for f64 x, else f32) in the written order (compiled with -ffp-contract=off;
// sq_exp, SiLU and the RMSNorm reciprocal from kernels/sq_math.hpp). src/ has validated every argument.
//
// Each row is read in up to three passes (RMSNorm's sum of squares, the row statistics, the
// quantization) that recompute v from the inputs with the same operations, so no buffer is needed
// and nothing is allocated but the thread pool (host/host_threads.hpp): the kernel never fails.
// residual_out (RMSNorm) is written in the last pass, element k right after the last read of
// x[k] and residual[k]: with residual_out exactly equal to residual or to x (same pointer and
// stride, the only overlap src/ accepts) every h is computed from the inputs before it is replaced.
//
// Edge rules (the contract's, plus the choices it leaves open, the same in every GPU kernel):
// - max and min skip NaN and only a strictly larger (smaller) value replaces the running one, from +0:
//   so amax, lo and hi of a row of zeros are +0 (never -0), and hi - lo is +0.
// - A row holding a NaN stores the canonical quiet NaN of S (scale) or of C (ABSMAX's absmax);
//   DYNAMIC_ASYMMETRIC's NaN row has za 0 and q 0 like its zero and Inf rows.
// - sat_Q(rne(t) + za) with t NaN is za (num::sat_rne_q): the static rule; it also covers a NaN
//   element in a FROM_ABSMAX row whose given maximum is finite and > 0.
// - sums_out[m] = sum_k q[m,k] of the stored values (S8 signed, U8 unsigned), modulo 2^32.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "host/host_kernels.hpp"
#include "host/host_threads.hpp"
#include "host/numerics.hpp"
#include "sq_math.hpp"

namespace sq {
namespace {

using kernels::Dtype;
using kernels::Producer;
using kernels::QuantizeParams;
using kernels::QuantMode;

// Below this many elements per thread a row range is not split over threads.
constexpr int64_t kMinElementsPerThread = int64_t{1} << 16;
// The symmetric quantizer's divisor (qmax of S8) and the asymmetric one's (qmax - qmin, S8 or U8).
constexpr int32_t kSymmetricLevels = 127;
constexpr int32_t kAsymmetricLevels = 255;

// (C)value of element i of a float array of dtype d: exact widening or one round-to-nearest-even.
template <typename C>
C load_as(const void* base, Dtype d, int64_t i) {
  switch (d) {
    case Dtype::F32: return static_cast<C>(static_cast<const float*>(base)[i]);
    case Dtype::F64: return static_cast<C>(static_cast<const double*>(base)[i]);
    case Dtype::F16: return static_cast<C>(num::to_float(static_cast<const num::f16*>(base)[i]));
    case Dtype::BF16: return static_cast<C>(num::to_float(static_cast<const num::bf16*>(base)[i]));
    default: return C(0);
  }
}

// Element type of x (and of residual, residual_out, norm_weight): its compute type, the exact
// widening, and the one rounding back from f32 (residual_out).
template <typename X> struct XIn;
template <> struct XIn<float> {
  using C = float;
  static C get(float v) { return v; }
  static float put(float v) { return v; }
};
template <> struct XIn<double> {
  using C = double;
  static C get(double v) { return v; }
  static double put(float v) { return v; }
};
template <> struct XIn<num::f16> {
  using C = float;
  static C get(num::f16 v) { return num::to_float(v); }
  static num::f16 put(float v) { return num::to_f16(static_cast<double>(v)); }
};
template <> struct XIn<num::bf16> {
  using C = float;
  static C get(num::bf16 v) { return num::to_float(v); }
  static num::bf16 put(float v) { return num::to_bf16(static_cast<double>(v)); }
};

// Stores (S)value at scale_out[row] (one rounding; the canonical NaN of S when is_nan; nothing when
// scale_out is NULL) and returns (C) of the stored S value.
template <typename C>
C store_scale(void* scale_out, Dtype s, int64_t row, C value, bool is_nan) {
  switch (s) {
    case Dtype::F32: {
      const float v = is_nan ? num::bit_cast<float>(num::kCanonicalNanF32) : static_cast<float>(value);
      if (scale_out != nullptr) static_cast<float*>(scale_out)[row] = v;
      return static_cast<C>(v);
    }
    case Dtype::F64: {
      const double v = is_nan ? num::bit_cast<double>(num::kCanonicalNanF64) : static_cast<double>(value);
      if (scale_out != nullptr) static_cast<double*>(scale_out)[row] = v;
      return static_cast<C>(v);
    }
    case Dtype::F16: {
      const num::f16 v = is_nan ? num::f16{num::kCanonicalNanF16} : num::to_f16(static_cast<double>(value));
      if (scale_out != nullptr) static_cast<num::f16*>(scale_out)[row] = v;
      return static_cast<C>(num::to_float(v));
    }
    case Dtype::BF16: {
      const num::bf16 v = is_nan ? num::bf16{num::kCanonicalNanBF16} : num::to_bf16(static_cast<double>(value));
      if (scale_out != nullptr) static_cast<num::bf16*>(scale_out)[row] = v;
      return static_cast<C>(num::to_float(v));
    }
    default: return C(0);
  }
}

// ------------------------------------------------------------------ producers: v[k] of row m
// value(i, commit) computes v[i] (the same bits on every call); with commit it also writes what the
// producer writes besides q (RMSNorm's residual_out[i]), after its last read of element i.
template <typename X, Producer P> class RowValues;

// v = smooth ? (C)x / (C)smooth : (C)x
template <typename X>
class RowValues<X, Producer::kPlain> {
 public:
  using C = typename XIn<X>::C;
  RowValues(const QuantizeParams& p, int64_t m)
      : x_(static_cast<const X*>(p.x) + m * p.ld_x), smooth_(p.smooth), smooth_dtype_(p.smooth_dtype) {}
  C value(int64_t i, bool /*commit*/) const {
    const C xi = XIn<X>::get(x_[i]);
    return smooth_ != nullptr ? xi / load_as<C>(smooth_, smooth_dtype_, i) : xi;
  }

 private:
  const X* x_;
  const void* smooth_;
  Dtype smooth_dtype_;
};

// h = x (+ residual) in f32; ss in the contract's fixed order; r = rms_reciprocal(ss, K, eps);
// v = (h * r) * (float)norm_weight (/ (float)smooth).
template <typename X>
class RowValues<X, Producer::kRmsNorm> {
 public:
  using C = float;
  RowValues(const QuantizeParams& p, int64_t m)
      : x_(static_cast<const X*>(p.x) + m * p.ld_x),
        residual_(p.residual ? static_cast<const X*>(p.residual) + m * p.ld_residual : nullptr),
        residual_out_(p.residual_out ? static_cast<X*>(p.residual_out) + m * p.ld_residual_out : nullptr),
        norm_weight_(static_cast<const X*>(p.norm_weight)),
        smooth_(p.smooth),
        smooth_dtype_(p.smooth_dtype) {
    // Lane j sums h[j + L i]^2 in increasing i from +0; then the pairwise tree over the lanes.
    constexpr int kLanes = math::kRmsLanes;
    float lanes[kLanes];
    for (int j = 0; j < kLanes; ++j) lanes[j] = 0.0f;
    for (int64_t i = 0; i < p.k; ++i) {
      const float hi = h(i);
      float& lane = lanes[i % kLanes];
      lane = lane + hi * hi;
    }
    for (int s = kLanes / 2; s >= 1; s /= 2)
      for (int j = 0; j < s; ++j) lanes[j] = lanes[j] + lanes[j + s];
    r_ = math::rms_reciprocal(lanes[0], p.k, p.eps);
  }
  float value(int64_t i, bool commit) const {
    const float hi = h(i);
    float v = (hi * r_) * XIn<X>::get(norm_weight_[i]);
    if (smooth_ != nullptr) v = v / load_as<float>(smooth_, smooth_dtype_, i);
    if (commit && residual_out_ != nullptr) residual_out_[i] = XIn<X>::put(hi);
    return v;
  }

 private:
  float h(int64_t i) const {
    const float xi = XIn<X>::get(x_[i]);
    return residual_ != nullptr ? xi + XIn<X>::get(residual_[i]) : xi;
  }
  const X* x_;
  const X* residual_;
  X* residual_out_;
  const X* norm_weight_;
  const void* smooth_;
  Dtype smooth_dtype_;
  float r_ = 0.0f;
};

// g = x[m, i], u = x[m, K + i]; v = silu(g) * u (/ (float)smooth).
template <typename X>
class RowValues<X, Producer::kSiluMul> {
 public:
  using C = float;
  RowValues(const QuantizeParams& p, int64_t m)
      : gate_(static_cast<const X*>(p.x) + m * p.ld_x), up_(gate_ + p.k), smooth_(p.smooth),
        smooth_dtype_(p.smooth_dtype) {}
  float value(int64_t i, bool /*commit*/) const {
    float v = math::silu(XIn<X>::get(gate_[i])) * XIn<X>::get(up_[i]);
    if (smooth_ != nullptr) v = v / load_as<float>(smooth_, smooth_dtype_, i);
    return v;
  }

 private:
  const X* gate_;
  const X* up_;
  const void* smooth_;
  Dtype smooth_dtype_;
};

// ------------------------------------------------------------------ the quantizer of one row
template <typename X, Producer P>
void quantize_row(const QuantizeParams& p, int64_t m) {
  using Values = RowValues<X, P>;
  using C = typename Values::C;
  const Values values(p, m);
  const int64_t k = p.k;
  const int32_t qmin = p.q_type == Dtype::U8 ? 0 : -128;
  const int32_t qmax = p.q_type == Dtype::U8 ? 255 : 127;

  C scale = C(0);   // (C) of the scale q is computed with
  int32_t za = 0;   // q's zero point
  bool quantize = true;  // false: q = 0 (a scale that is not finite and > 0)
  switch (p.mode) {
    case QuantMode::kStatic: {
      scale = sizeof(C) == 8 ? static_cast<C>(num::bit_cast<double>(p.static_scale_bits))
                             : static_cast<C>(num::bit_cast<float>(static_cast<uint32_t>(p.static_scale_bits)));
      za = p.static_zp;
      break;
    }
    case QuantMode::kDynamic:
    case QuantMode::kAbsmax:
    case QuantMode::kFromAbsmax: {
      C amax = C(0);
      bool nan = false;
      if (p.mode == QuantMode::kFromAbsmax) {
        amax = static_cast<const C*>(p.absmax)[m];  // used as it is
        nan = std::isnan(amax);
      } else {
        const bool last_pass = p.mode == QuantMode::kAbsmax;
        for (int64_t i = 0; i < k; ++i) {
          const C v = values.value(i, last_pass);
          if (std::isnan(v)) {
            nan = true;
          } else {
            const C a = std::fabs(v);
            if (a > amax) amax = a;
          }
        }
      }
      if (p.mode == QuantMode::kAbsmax) {
        static_cast<C*>(p.absmax)[m] = nan ? num::canonical_nan<C>() : amax;
        return;
      }
      scale = store_scale<C>(p.scale_out, p.scale_dtype, m, amax / static_cast<C>(kSymmetricLevels), nan);
      quantize = std::isfinite(scale) && scale > C(0);
      break;
    }
    case QuantMode::kDynamicAsym: {
      C lo = C(0), hi = C(0);
      bool nan = false;
      for (int64_t i = 0; i < k; ++i) {
        const C v = values.value(i, false);
        if (std::isnan(v)) {
          nan = true;
        } else {
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
      scale = store_scale<C>(p.scale_out, p.scale_dtype, m, (hi - lo) / static_cast<C>(kAsymmetricLevels), nan);
      quantize = std::isfinite(scale) && scale > C(0);
      za = quantize ? num::sat_rne_q<C>(static_cast<C>(qmin) - lo / scale, 0, qmin, qmax) : 0;
      if (p.zp_out != nullptr) static_cast<uint8_t*>(p.zp_out)[m] = static_cast<uint8_t>(za);  // za's byte in Q
      break;
    }
  }

  // The last pass: q (and the producer's own writes), and the row sum of q.
  uint8_t* q = reinterpret_cast<uint8_t*>(p.q) + m * p.ld_q;
  int64_t sum = 0;
  for (int64_t i = 0; i < k; ++i) {
    const C v = values.value(i, true);
    const int32_t qi = quantize ? num::sat_rne_q<C>(v / scale, za, qmin, qmax) : 0;
    q[i] = static_cast<uint8_t>(qi);
    sum += qi;
  }
  if (p.sums_out != nullptr) p.sums_out[m] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(sum)));
}

template <typename X, Producer P>
void run(const QuantizeParams& p, unsigned threads) {
  const int64_t m = p.m;
  const int64_t row_elems = P == Producer::kSiluMul ? 2 * static_cast<int64_t>(p.k) : p.k;
  const int64_t shares = host::share_count(m, row_elems, threads, kMinElementsPerThread);
  host::run_shares(m, shares, [&p](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) quantize_row<X, P>(p, r);
  });
}

template <typename X>
void run_producer(const QuantizeParams& p, unsigned threads) {
  switch (p.producer) {
    case Producer::kPlain: run<X, Producer::kPlain>(p, threads); return;
    case Producer::kRmsNorm: run<X, Producer::kRmsNorm>(p, threads); return;
    case Producer::kSiluMul: run<X, Producer::kSiluMul>(p, threads); return;
  }
}

}  // namespace

void host_quantize(const kernels::QuantizeParams& p, unsigned threads) {
  switch (p.x_dtype) {
    case Dtype::F32: run_producer<float>(p, threads); return;
    case Dtype::F16: run_producer<num::f16>(p, threads); return;
    case Dtype::BF16: run_producer<num::bf16>(p, threads); return;
    // F64 only with the plain producer (the fused ops' math is f32; src/ validates).
    case Dtype::F64:
      if (p.producer == Producer::kPlain) run<double, Producer::kPlain>(p, threads);
      return;
    default: return;
  }
}

}  // namespace sq
