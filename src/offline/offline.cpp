// The offline half of SmoothQuant, on the host: smoothing factors, folding them into the norm and
// the weights, per-channel weight quantization (symmetric and asymmetric), the static activation
// scale, and the weight sums of the zero-point linears. The formulas are
// the ones written at the declarations in include/smoothquant/smoothquant.h. Every function checks
// every argument (and every value it will read) before it writes any output.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include "base/abi_structs.hpp"
#include "base/dtype.hpp"
#include "base/error.hpp"
#include "host/host_kernels.hpp"
#include "host/numerics.hpp"

namespace {

using sq::aligned_to;
using sq::dtype_name;
using sq::dtype_size;
using sq::fail;
using sq::kernel_dtype;

// The smallest smoothing factor and weight maximum (SmoothQuant's clamp(min=1e-5)).
constexpr float kMinSmoothFactor = 1e-5f;
// The symmetric int8 range divisor of the scale formulas.
constexpr float kInt8Max = 127.0f;

// Element i of a float array of dtype d, widened exactly to double.
double load_double(const void* base, sq_dtype d, int64_t i) {
  switch (d) {
    case SQ_DTYPE_F32: return static_cast<const float*>(base)[i];
    case SQ_DTYPE_F64: return static_cast<const double*>(base)[i];
    case SQ_DTYPE_F16: return sq::num::to_float(static_cast<const sq::num::f16*>(base)[i]);
    case SQ_DTYPE_BF16: return sq::num::to_float(static_cast<const sq::num::bf16*>(base)[i]);
    default: return 0.0;
  }
}

sq_status check_dtype(sq_dtype d, const char* fn, const char* what) {
  if (!sq::is_float(d))
    return fail(SQ_STATUS_NOT_SUPPORTED, "%s: %s is %d: expected SQ_DTYPE_F32, F64, F16 or BF16", fn, what, d);
  return SQ_STATUS_SUCCESS;
}

sq_status check_ptr(const void* p, sq_dtype d, const char* fn, const char* what) {
  if (p == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: %s is NULL", fn, what);
  if (!aligned_to(p, dtype_size(d)))
    return fail(SQ_STATUS_MISALIGNED, "%s: %s (%p) is not aligned to its element size (%zu bytes, %s)", fn, what, p,
                dtype_size(d), dtype_name(d));
  return SQ_STATUS_SUCCESS;
}

// What a helper accepts as a view's dtype: the float dtypes, or (sq_weight_sums only) S8 and U8.
enum class ViewValues { kFloat, kInt8 };

const char* int8_dtype_name(sq_dtype d) { return d == SQ_DTYPE_U8 ? "U8" : "S8"; }

// Reads and checks a caller's sq_matrix_view (struct_size, dtype, sizes, stride, pointer).
sq_status read_view(const sq_matrix_view* in, const char* fn, const char* what, sq_matrix_view* out,
                    ViewValues values = ViewValues::kFloat) {
  if (in == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: %s is NULL", fn, what);
  sq_status st = sq::read_struct(in, sizeof(sq_matrix_view), sizeof(sq_matrix_view), out, what);
  if (st != SQ_STATUS_SUCCESS) return st;
  out->struct_size = sizeof(sq_matrix_view);
  if (values == ViewValues::kInt8) {
    if (out->dtype != SQ_DTYPE_S8 && out->dtype != SQ_DTYPE_U8)
      return fail(SQ_STATUS_NOT_SUPPORTED, "%s: %s->dtype is %d: expected SQ_DTYPE_S8 or SQ_DTYPE_U8", fn, what,
                  out->dtype);
  } else {
    st = check_dtype(out->dtype, fn, "the view's dtype");
    if (st != SQ_STATUS_SUCCESS) return st;
  }
  if (out->rows < 1)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: %s->rows is %lld: must be >= 1", fn, what, (long long)out->rows);
  if (out->cols < 1)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: %s->cols is %lld: must be >= 1", fn, what, (long long)out->cols);
  if (out->ld == 0) out->ld = out->cols;
  if (out->ld < out->cols)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: %s->ld is %lld: smaller than cols (%lld); 0 means packed", fn, what,
                (long long)out->ld, (long long)out->cols);
  const int64_t limit = std::numeric_limits<int64_t>::max() / 8;
  if (out->rows > limit / out->ld)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: %s is %lld rows x ld %lld: too large to address", fn, what,
                (long long)out->rows, (long long)out->ld);
  if (values == ViewValues::kInt8) {
    if (out->data == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: %s->data is NULL", fn, what);
    return SQ_STATUS_SUCCESS;  // one-byte elements: any address is aligned
  }
  return check_ptr(out->data, out->dtype, fn, "the view's data");
}

// k values of a float array that must all be finite and >= 0 (> 0 when positive).
sq_status check_values(const float* v, int64_t k, bool positive, const char* fn, const char* what) {
  for (int64_t i = 0; i < k; ++i) {
    if (!std::isfinite(v[i]) || v[i] < 0.0f || (positive && v[i] == 0.0f))
      return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: %s[%lld] is %g: must be finite and %s", fn, what, (long long)i,
                  static_cast<double>(v[i]), positive ? "> 0" : ">= 0");
  }
  return SQ_STATUS_SUCCESS;
}

sq_status check_k(int64_t k, const char* fn) {
  if (k < 1) return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: k must be >= 1 (got %lld)", fn, (long long)k);
  // A [k] array of up to 8-byte elements must be addressable (a larger k would be read past any array).
  if (k > std::numeric_limits<int64_t>::max() / 8)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: k is %lld: no array of k elements fits an address space", fn,
                (long long)k);
  return SQ_STATUS_SUCCESS;
}

// The arguments the two fold functions check first: k, smooth (not NULL) and the dtype folded into.
sq_status check_fold_args(int64_t k, const float* smooth, sq_dtype dtype, const char* fn) {
  SQ_TRY(check_k(k, fn));
  if (smooth == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: smooth is NULL", fn);
  return check_dtype(dtype, fn, "dtype");
}

// The smoothing factors they fold: 4-byte aligned, finite and > 0.
sq_status check_smooth_values(int64_t k, const float* smooth, const char* fn) {
  if (!aligned_to(smooth, sizeof(float)))
    return fail(SQ_STATUS_MISALIGNED, "%s: smooth (%p) must be 4-byte aligned", fn, static_cast<const void*>(smooth));
  return check_values(smooth, k, true, fn, "smooth");
}

// (S)value, widened back to double (one rounding to S; value is a C value, exact in double).
double round_to_scale_dtype(double value, sq_dtype scale_dtype) {
  switch (scale_dtype) {
    case SQ_DTYPE_F32: return static_cast<float>(value);
    case SQ_DTYPE_F16: return sq::num::to_float(sq::num::to_f16(value));
    case SQ_DTYPE_BF16: return sq::num::to_float(sq::num::to_bf16(value));
    default: return value;
  }
}

// The asymmetric quantizer's scale of a row whose values lie in [lo_k, hi_k] (finite), rounded to S:
// (S)((hi - lo) / (C)255), hi = max(0, hi_k), lo = min(0, lo_k), each step in C (f64 for F64 weights,
// else f32: the weights widen exactly to C).
double asymmetric_scale(double lo_k, double hi_k, bool c_is_f64, sq_dtype scale_dtype) {
  const double lo = std::fmin(0.0, lo_k), hi = std::fmax(0.0, hi_k);
  const double raw = c_is_f64 ? (hi - lo) / 255.0
                              : static_cast<double>((static_cast<float>(hi) - static_cast<float>(lo)) / 255.0f);
  return round_to_scale_dtype(raw, scale_dtype);
}

// D x = (D)((C)x op (C)s), C = f64 for F64, else f32; op is / (norm) or * (weight).
template <bool kDivide>
void fold_one(void* base, sq_dtype d, int64_t i, float s) {
  using sq::num::to_float;
  switch (d) {
    case SQ_DTYPE_F64: {
      double* p = static_cast<double*>(base) + i;
      *p = kDivide ? *p / static_cast<double>(s) : *p * static_cast<double>(s);
      return;
    }
    case SQ_DTYPE_F32: {
      float* p = static_cast<float*>(base) + i;
      *p = kDivide ? *p / s : *p * s;
      return;
    }
    case SQ_DTYPE_F16: {
      sq::num::f16* p = static_cast<sq::num::f16*>(base) + i;
      const float r = kDivide ? to_float(*p) / s : to_float(*p) * s;
      *p = sq::num::to_f16(static_cast<double>(r));
      return;
    }
    case SQ_DTYPE_BF16: {
      sq::num::bf16* p = static_cast<sq::num::bf16*>(base) + i;
      const float r = kDivide ? to_float(*p) / s : to_float(*p) * s;
      *p = sq::num::to_bf16(static_cast<double>(r));
      return;
    }
    default: return;
  }
}

// The q matrix of a weight quantizer: ld_q (0 = packed) at least the row, every dimension within int32,
// rows x ld_q addressable. Resolves *ld_q.
sq_status check_q_layout(const sq_matrix_view& v, const char* fn, int64_t* ld_q) {
  if (*ld_q == 0) *ld_q = v.cols;
  if (*ld_q < v.cols)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: ld_q is %lld: smaller than cols (%lld); 0 means packed", fn,
                (long long)*ld_q, (long long)v.cols);
  constexpr int64_t kMaxDim = std::numeric_limits<int32_t>::max();
  if (v.rows > kMaxDim || v.cols > kMaxDim)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: weight is %lld x %lld: each dimension must be <= %lld", fn,
                (long long)v.rows, (long long)v.cols, (long long)kMaxDim);
  if (v.rows > std::numeric_limits<int64_t>::max() / *ld_q)
    return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: %lld rows x ld_q %lld: too large to address", fn,
                (long long)v.rows, (long long)*ld_q);
  return SQ_STATUS_SUCCESS;
}

}  // namespace

extern "C" {

SQ_API sq_status sq_smooth_factors(int64_t k, const float* act_absmax, const sq_matrix_view* weights,
                                   int32_t num_weights, float alpha, float* smooth_out) {
  return sq::guarded(__func__, [&]() -> sq_status {
    const char* fn = "sq_smooth_factors";
    SQ_TRY(check_k(k, fn));
    if (act_absmax == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: act_absmax is NULL", fn);
    if (weights == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: weights is NULL", fn);
    if (smooth_out == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: smooth_out is NULL", fn);
    if (num_weights < 1)
      return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: num_weights must be >= 1 (got %d)", fn, num_weights);
    if (!(alpha >= 0.0f && alpha <= 1.0f))
      return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: alpha is %g: must be in [0, 1]", fn, static_cast<double>(alpha));
    if (!aligned_to(act_absmax, sizeof(float)) || !aligned_to(smooth_out, sizeof(float)))
      return fail(SQ_STATUS_MISALIGNED, "%s: act_absmax (%p) and smooth_out (%p) must be 4-byte aligned", fn,
                  static_cast<const void*>(act_absmax), static_cast<void*>(smooth_out));
    SQ_TRY(check_values(act_absmax, k, false, fn, "act_absmax"));
    // wmax[k] = max(1e-5f, max_i max_n |W_i[n,k]|) in f32 ((float)|w| is monotonic, so this equals
    // rounding the exact maximum once); every weight must be finite.
    // The array's element stride is the caller's sizeof(sq_matrix_view): its struct_size.
    uint32_t stride = 0;
    std::memcpy(&stride, weights, sizeof(stride));
    if (stride < sizeof(sq_matrix_view))
      return fail(SQ_STATUS_INVALID_STRUCT_SIZE, "%s: weights[0].struct_size is %u, expected at least %zu (sizeof)",
                  fn, stride, sizeof(sq_matrix_view));
    const unsigned char* base = reinterpret_cast<const unsigned char*>(weights);
    std::vector<float> wmax(static_cast<size_t>(k), 0.0f);
    for (int32_t w = 0; w < num_weights; ++w) {
      char what[32];
      std::snprintf(what, sizeof(what), "weights[%d]", w);
      sq_matrix_view v;
      const auto* view = reinterpret_cast<const sq_matrix_view*>(base + static_cast<size_t>(w) * stride);
      uint32_t size_w = 0;
      std::memcpy(&size_w, view, sizeof(size_w));
      if (size_w != stride)
        return fail(SQ_STATUS_INVALID_STRUCT_SIZE, "%s: %s.struct_size is %u but weights[0].struct_size is %u", fn,
                    what, size_w, stride);
      SQ_TRY(read_view(view, fn, what, &v));
      if (v.cols != k)
        return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: %s->cols is %lld: must equal k (%lld)", fn, what,
                    (long long)v.cols, (long long)k);
      for (int64_t r = 0; r < v.rows; ++r) {
        for (int64_t c = 0; c < k; ++c) {
          const double x = load_double(v.data, v.dtype, r * v.ld + c);
          if (!std::isfinite(x))
            return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: %s[%lld, %lld] is %g: weights must be finite", fn, what,
                        (long long)r, (long long)c, x);
          const float a = static_cast<float>(std::fabs(x));
          if (a > wmax[static_cast<size_t>(c)]) wmax[static_cast<size_t>(c)] = a;
        }
      }
    }
    const double a = static_cast<double>(alpha);
    const double b = static_cast<double>(1.0f - alpha);  // 1 - alpha in f32, as C evaluates it
    for (int64_t c = 0; c < k; ++c) {
      const float wm = std::fmax(kMinSmoothFactor, wmax[static_cast<size_t>(c)]);
      const double r = std::pow(static_cast<double>(act_absmax[c]), a) / std::pow(static_cast<double>(wm), b);
      smooth_out[c] = std::fmax(kMinSmoothFactor, static_cast<float>(r));
    }
    return sq::ok();
  });
}

SQ_API sq_status sq_smooth_apply_to_norm(int64_t k, const float* smooth, sq_dtype dtype, void* norm_weight,
                                         void* norm_bias) {
  return sq::guarded(__func__, [&]() -> sq_status {
    const char* fn = "sq_smooth_apply_to_norm";
    SQ_TRY(check_fold_args(k, smooth, dtype, fn));
    SQ_TRY(check_ptr(norm_weight, dtype, fn, "norm_weight"));
    if (norm_bias != nullptr) SQ_TRY(check_ptr(norm_bias, dtype, fn, "norm_bias"));
    SQ_TRY(check_smooth_values(k, smooth, fn));
    for (int64_t i = 0; i < k; ++i) {
      fold_one<true>(norm_weight, dtype, i, smooth[i]);
      if (norm_bias != nullptr) fold_one<true>(norm_bias, dtype, i, smooth[i]);
    }
    return sq::ok();
  });
}

SQ_API sq_status sq_smooth_apply_to_weight(int64_t k, const float* smooth, sq_dtype dtype, int64_t rows, int64_t ld,
                                           void* weight) {
  return sq::guarded(__func__, [&]() -> sq_status {
    const char* fn = "sq_smooth_apply_to_weight";
    SQ_TRY(check_fold_args(k, smooth, dtype, fn));
    if (rows < 1) return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: rows must be >= 1 (got %lld)", fn, (long long)rows);
    if (ld == 0) ld = k;
    if (ld < k)
      return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: ld is %lld: smaller than k (%lld); 0 means packed", fn,
                  (long long)ld, (long long)k);
    if (rows > std::numeric_limits<int64_t>::max() / 8 / ld)
      return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: %lld rows x ld %lld: too large to address", fn, (long long)rows,
                  (long long)ld);
    SQ_TRY(check_ptr(weight, dtype, fn, "weight"));
    SQ_TRY(check_smooth_values(k, smooth, fn));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < k; ++c) fold_one<false>(weight, dtype, r * ld + c, smooth[c]);
    return sq::ok();
  });
}

SQ_API sq_status sq_quantize_weight_per_channel(const sq_matrix_view* weight, int8_t* q_out, int64_t ld_q,
                                                sq_dtype scale_dtype, void* scale_out) {
  return sq::guarded(__func__, [&]() -> sq_status {
    const char* fn = "sq_quantize_weight_per_channel";
    sq_matrix_view v;
    SQ_TRY(read_view(weight, fn, "weight", &v));
    if (q_out == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: q_out is NULL", fn);
    SQ_TRY(check_dtype(scale_dtype, fn, "scale_dtype"));
    SQ_TRY(check_ptr(scale_out, scale_dtype, fn, "scale_out"));
    SQ_TRY(check_q_layout(v, fn, &ld_q));
    // Every weight finite, and every row's scale finite in S (no overflow), before anything is written.
    const bool f64 = v.dtype == SQ_DTYPE_F64;
    for (int64_t r = 0; r < v.rows; ++r) {
      double amax = 0.0;
      for (int64_t c = 0; c < v.cols; ++c) {
        const double x = load_double(v.data, v.dtype, r * v.ld + c);
        if (!std::isfinite(x))
          return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: weight[%lld, %lld] is %g: weights must be finite", fn,
                      (long long)r, (long long)c, x);
        amax = std::fmax(amax, std::fabs(x));
      }
      // (C)amax / (C)127 rounded to S (exactly the quantizer's steps; amax is exact in C).
      const double raw = f64 ? amax / 127.0 : static_cast<double>(static_cast<float>(amax) / kInt8Max);
      double s = raw;
      switch (scale_dtype) {
        case SQ_DTYPE_F32: s = static_cast<float>(raw); break;
        case SQ_DTYPE_F16: s = sq::num::to_float(sq::num::to_f16(raw)); break;
        case SQ_DTYPE_BF16: s = sq::num::to_float(sq::num::to_bf16(raw)); break;
        default: break;
      }
      if (!std::isfinite(s))
        return fail(SQ_STATUS_INVALID_ARGUMENT,
                    "%s: row %lld has max |w| = %g, whose scale (max / 127) overflows %s; use a wider scale_dtype", fn,
                    (long long)r, amax, dtype_name(scale_dtype));
    }
    sq::kernels::QuantizeParams p{};
    p.m = static_cast<int32_t>(v.rows);
    p.k = static_cast<int32_t>(v.cols);
    p.producer = sq::kernels::Producer::kPlain;
    p.x = v.data;
    p.ld_x = v.ld;
    p.x_dtype = kernel_dtype(v.dtype);
    p.smooth = nullptr;
    p.smooth_dtype = kernel_dtype(scale_dtype);
    p.mode = sq::kernels::QuantMode::kDynamic;
    p.q_type = sq::kernels::Dtype::S8;
    p.static_scale_bits = 0;
    p.scale_out = scale_out;
    p.scale_dtype = kernel_dtype(scale_dtype);
    p.q = q_out;
    p.ld_q = ld_q;
    sq::host_quantize(p, 1);
    return sq::ok();
  });
}

SQ_API sq_status sq_static_act_scale(int64_t k, const float* act_absmax, const float* smooth,
                                     double* act_scale_out) {
  return sq::guarded(__func__, [&]() -> sq_status {
    const char* fn = "sq_static_act_scale";
    SQ_TRY(check_k(k, fn));
    if (act_absmax == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: act_absmax is NULL", fn);
    if (act_scale_out == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: act_scale_out is NULL", fn);
    if (!aligned_to(act_absmax, sizeof(float)) || (smooth != nullptr && !aligned_to(smooth, sizeof(float))))
      return fail(SQ_STATUS_MISALIGNED, "%s: act_absmax (%p) and smooth (%p) must be 4-byte aligned", fn,
                  static_cast<const void*>(act_absmax), static_cast<const void*>(smooth));
    SQ_TRY(check_values(act_absmax, k, false, fn, "act_absmax"));
    if (smooth != nullptr) SQ_TRY(check_values(smooth, k, true, fn, "smooth"));
    float amax = 0.0f;
    for (int64_t i = 0; i < k; ++i) {
      const float v = smooth != nullptr ? act_absmax[i] / smooth[i] : act_absmax[i];
      if (v > amax) amax = v;
    }
    const float scale = amax / kInt8Max;
    if (!(std::isfinite(scale) && scale > 0.0f))
      return fail(SQ_STATUS_INVALID_ARGUMENT,
                  "%s: the scale max_k(act_absmax[k] / smooth[k]) / 127 is %g (max %g): must be finite and > 0", fn,
                  static_cast<double>(scale), static_cast<double>(amax));
    *act_scale_out = static_cast<double>(scale);
    return sq::ok();
  });
}

SQ_API sq_status sq_weight_sums(const sq_matrix_view* weight_q, int32_t* sums_out) {
  return sq::guarded(__func__, [&]() -> sq_status {
    const char* fn = "sq_weight_sums";
    sq_matrix_view v;
    SQ_TRY(read_view(weight_q, fn, "weight_q", &v, ViewValues::kInt8));
    if (sums_out == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: sums_out is NULL", fn);
    if (!aligned_to(sums_out, sizeof(int32_t)))
      return fail(SQ_STATUS_MISALIGNED, "%s: sums_out (%p) is not aligned to its element size (4 bytes, int32)", fn,
                  static_cast<void*>(sums_out));
    const bool u8 = v.dtype == SQ_DTYPE_U8;
    // sum_k W[n,k] of row n, exact in int64 (|sum| <= 255 * cols, far inside int64 for any array in memory).
    auto row_sum = [&v, u8](int64_t r) {
      int64_t s = 0;
      if (u8) {
        const uint8_t* w = static_cast<const uint8_t*>(v.data) + r * v.ld;
        for (int64_t c = 0; c < v.cols; ++c) s += w[c];
      } else {
        const int8_t* w = static_cast<const int8_t*>(v.data) + r * v.ld;
        for (int64_t c = 0; c < v.cols; ++c) s += w[c];
      }
      return s;
    };
    // A row can leave int32 only when cols * max|w| can: then every row is checked before anything is written.
    const int64_t max_abs = u8 ? 255 : 128;
    if (v.cols > std::numeric_limits<int32_t>::max() / max_abs) {
      for (int64_t r = 0; r < v.rows; ++r) {
        const int64_t s = row_sum(r);
        if (s < std::numeric_limits<int32_t>::min() || s > std::numeric_limits<int32_t>::max())
          return fail(SQ_STATUS_INVALID_ARGUMENT,
                      "%s: row %lld of weight_q (%s, cols = K = %lld) sums to %lld, which does not fit int32 "
                      "(K above 2^31 / 255 = 8421504)",
                      fn, (long long)r, int8_dtype_name(v.dtype), (long long)v.cols, (long long)s);
      }
    }
    for (int64_t r = 0; r < v.rows; ++r) sums_out[r] = static_cast<int32_t>(row_sum(r));
    return sq::ok();
  });
}

SQ_API sq_status sq_quantize_weight_per_channel_asymmetric(const sq_matrix_view* weight, sq_dtype q_dtype,
                                                           void* q_out, int64_t ld_q, sq_dtype scale_dtype,
                                                           void* scale_out, void* zero_point_out) {
  return sq::guarded(__func__, [&]() -> sq_status {
    const char* fn = "sq_quantize_weight_per_channel_asymmetric";
    sq_matrix_view v;
    SQ_TRY(read_view(weight, fn, "weight", &v));
    if (q_dtype != SQ_DTYPE_U8 && q_dtype != SQ_DTYPE_S8)
      return fail(SQ_STATUS_NOT_SUPPORTED, "%s: q_dtype is %d: expected SQ_DTYPE_U8 or SQ_DTYPE_S8", fn, q_dtype);
    if (q_out == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: q_out is NULL", fn);
    SQ_TRY(check_dtype(scale_dtype, fn, "scale_dtype"));
    SQ_TRY(check_ptr(scale_out, scale_dtype, fn, "scale_out"));
    if (zero_point_out == nullptr) return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: zero_point_out is NULL", fn);
    SQ_TRY(check_q_layout(v, fn, &ld_q));
    // Every weight finite, and every row's scale finite in S (no overflow), before anything is written.
    const bool f64 = v.dtype == SQ_DTYPE_F64;
    for (int64_t r = 0; r < v.rows; ++r) {
      double lo = 0.0, hi = 0.0;
      for (int64_t c = 0; c < v.cols; ++c) {
        const double x = load_double(v.data, v.dtype, r * v.ld + c);
        if (!std::isfinite(x))
          return fail(SQ_STATUS_INVALID_ARGUMENT, "%s: weight[%lld, %lld] is %g: weights must be finite", fn,
                      (long long)r, (long long)c, x);
        lo = std::fmin(lo, x);
        hi = std::fmax(hi, x);
      }
      const double s = asymmetric_scale(lo, hi, f64, scale_dtype);
      if (!std::isfinite(s))
        return fail(SQ_STATUS_INVALID_ARGUMENT,
                    "%s: row %lld spans [%g, %g], whose scale (max(0, max w) - min(0, min w)) / 255 overflows %s; use a "
                    "wider scale_dtype",
                    fn, (long long)r, lo, hi, dtype_name(scale_dtype));
    }
    sq::kernels::QuantizeParams p{};
    p.m = static_cast<int32_t>(v.rows);
    p.k = static_cast<int32_t>(v.cols);
    p.producer = sq::kernels::Producer::kPlain;
    p.mode = sq::kernels::QuantMode::kDynamicAsym;
    p.x = v.data;
    p.ld_x = v.ld;
    p.x_dtype = kernel_dtype(v.dtype);
    p.smooth = nullptr;
    p.smooth_dtype = kernel_dtype(scale_dtype);
    p.scale_out = scale_out;
    p.scale_dtype = kernel_dtype(scale_dtype);
    p.zp_out = zero_point_out;
    p.q = static_cast<int8_t*>(q_out);
    p.ld_q = ld_q;
    p.q_type = q_dtype == SQ_DTYPE_U8 ? sq::kernels::Dtype::U8 : sq::kernels::Dtype::S8;
    sq::host_quantize(p, 1);
    return sq::ok();
  });
}

}  // extern "C"
