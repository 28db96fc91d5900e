// Shared test helpers: random inputs (never zeros), typed buffers, the independent oracle
// for the linear, and small wrappers around the C API.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "smoothquant/smoothquant.h"

namespace sqt {

inline std::mt19937_64& rng() {
  static std::mt19937_64 g(0x5eed5a17ull);
  return g;
}

inline size_t dtype_size(sq_dtype d) {
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

inline const char* dtype_str(sq_dtype d) {
  switch (d) {
    case SQ_DTYPE_F16: return "f16";
    case SQ_DTYPE_BF16: return "bf16";
    case SQ_DTYPE_F32: return "f32";
    case SQ_DTYPE_F64: return "f64";
    case SQ_DTYPE_S8: return "s8";
    case SQ_DTYPE_U8: return "u8";
    case SQ_DTYPE_S32: return "s32";
    default: return "?";
  }
}

// Independent conversions, through CUDA's own host implementations of the 16-bit types.
inline double to_double(sq_dtype d, const void* p) {
  switch (d) {
    case SQ_DTYPE_F32: { float v; std::memcpy(&v, p, 4); return v; }
    case SQ_DTYPE_F64: { double v; std::memcpy(&v, p, 8); return v; }
    case SQ_DTYPE_F16: { __half v; std::memcpy(&v, p, 2); return static_cast<double>(__half2float(v)); }
    case SQ_DTYPE_BF16: { __nv_bfloat16 v; std::memcpy(&v, p, 2); return static_cast<double>(__bfloat162float(v)); }
    default: return NAN;
  }
}
// Stores v (already representable or to be rounded once) into dtype d at p.
inline void store_from_double(sq_dtype d, void* p, double v) {
  switch (d) {
    case SQ_DTYPE_F32: { float f = static_cast<float>(v); std::memcpy(p, &f, 4); break; }
    case SQ_DTYPE_F64: std::memcpy(p, &v, 8); break;
    case SQ_DTYPE_F16: { __half h = __double2half(v); std::memcpy(p, &h, 2); break; }
    case SQ_DTYPE_BF16: { __nv_bfloat16 h = __double2bfloat16(v); std::memcpy(p, &h, 2); break; }
    default: break;
  }
}

// A typed host buffer of `count` elements of dtype d (raw bytes).
struct Buf {
  sq_dtype dtype = SQ_DTYPE_INVALID;
  std::vector<unsigned char> bytes;
  Buf() = default;
  Buf(sq_dtype d, size_t count) : dtype(d), bytes(count * dtype_size(d)) {}
  size_t count() const { return bytes.size() / dtype_size(dtype); }
  void* data() { return bytes.data(); }
  const void* data() const { return bytes.data(); }
  void* at(size_t i) { return bytes.data() + i * dtype_size(dtype); }
  const void* at(size_t i) const { return bytes.data() + i * dtype_size(dtype); }
  double get(size_t i) const { return to_double(dtype, at(i)); }
  void set(size_t i, double v) { store_from_double(dtype, at(i), v); }
  // A NaN bit pattern in every element (0xFF bytes are NaN in f16/bf16/f32/f64), -1 for int8.
  void poison() { std::memset(bytes.data(), 0xFF, bytes.size()); }
};

inline std::vector<int8_t> random_s8(size_t n) {
  std::uniform_int_distribution<int> d(-128, 127);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = static_cast<int8_t>(d(rng()));
  return v;
}

// Random positive scales spread over a few binades, rounded to the dtype.
inline Buf random_scales(sq_dtype d, size_t n, double lo = 1e-3, double hi = 1e-1) {
  std::uniform_real_distribution<double> u(std::log(lo), std::log(hi));
  Buf b(d, n);
  for (size_t i = 0; i < n; ++i) b.set(i, std::exp(u(rng())));
  return b;
}

inline Buf random_values(sq_dtype d, size_t n, double lo, double hi) {
  std::uniform_real_distribution<double> u(lo, hi);
  Buf b(d, n);
  for (size_t i = 0; i < n; ++i) b.set(i, u(rng()));
  return b;
}

// The oracle for SQ_OP_SMOOTHQUANT_LINEAR in two steps. oracle_acc: a naive int64 accumulation
// (checked to fit int32 by the caller's choice of K), acc[m*N+n].
inline std::vector<int32_t> oracle_acc(int64_t M, int64_t N, int64_t K, const int8_t* act, int64_t lda, const int8_t* w,
                                       int64_t ldw) {
  std::vector<int32_t> acc(static_cast<size_t>(M * N));
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      int64_t a = 0;
      for (int64_t k = 0; k < K; ++k) a += static_cast<int64_t>(act[m * lda + k]) * w[n * ldw + k];
      acc[static_cast<size_t>(m * N + n)] = static_cast<int32_t>(a);
    }
  }
  return acc;
}

// oracle_epilogue: the contract's epilogue written with independent conversions, from the
// accumulators of oracle_acc. Writes out[m*ld_out+n].
inline void oracle_epilogue(int64_t M, int64_t N, const std::vector<int32_t>& acc, const Buf& wscale, const Buf* bias,
                            const Buf& row_scale, Buf& out, int64_t ldo) {
  const sq_dtype t = out.dtype;
  for (int64_t m = 0; m < M; ++m) {
    for (int64_t n = 0; n < N; ++n) {
      const int32_t a32 = acc[static_cast<size_t>(m * N + n)];
      void* dst = out.at(static_cast<size_t>(m * ldo + n));
      if (t == SQ_DTYPE_F64) {
        double y = static_cast<double>(a32) * row_scale.get(m);
        y = y * wscale.get(n);
        if (bias) y = y + bias->get(n);
        std::memcpy(dst, &y, 8);
      } else {
        float y = static_cast<float>(a32) * static_cast<float>(row_scale.get(m));
        y = y * static_cast<float>(wscale.get(n));
        if (bias) y = y + static_cast<float>(bias->get(n));
        if (t == SQ_DTYPE_F32) {
          std::memcpy(dst, &y, 4);
        } else if (t == SQ_DTYPE_F16) {
          __half h = __float2half_rn(y);
          std::memcpy(dst, &h, 2);
        } else {
          __nv_bfloat16 h = __float2bfloat16_rn(y);
          std::memcpy(dst, &h, 2);
        }
      }
    }
  }
}

// The whole oracle: out[m*ld_out+n] for act [M, K] (row stride lda) and w [N, K] (ldw).
inline void oracle_linear(int64_t M, int64_t N, int64_t K, const int8_t* act, int64_t lda, const int8_t* w,
                          int64_t ldw, const Buf& wscale, const Buf* bias, const Buf& row_scale, Buf& out,
                          int64_t ldo) {
  oracle_epilogue(M, N, oracle_acc(M, N, K, act, lda, w, ldw), wscale, bias, row_scale, out, ldo);
}

// Index of the first differing element of two same-dtype buffers (bitwise), or -1.
inline int64_t first_bit_difference(const Buf& a, const Buf& b) {
  const size_t es = dtype_size(a.dtype);
  for (size_t i = 0; i < a.count(); ++i)
    if (std::memcmp(a.at(i), b.at(i), es) != 0) return static_cast<int64_t>(i);
  return -1;
}

inline sq_plan_desc linear_desc(sq_dtype t, int64_t n, int64_t k, int64_t max_m, double act_scale) {
  sq_plan_desc d;
  std::memset(&d, 0, sizeof(d));
  d.struct_size = sizeof(d);
  d.op = SQ_OP_SMOOTHQUANT_LINEAR;
  d.act_dtype = SQ_DTYPE_S8;
  d.weight_dtype = SQ_DTYPE_S8;
  d.scale_dtype = t;
  d.out_dtype = t;
  d.n = n;
  d.k = k;
  d.max_m = max_m;
  d.act_scale = act_scale;
  return d;
}

// A quantize op's descriptor: x of dtype x, scale_dtype `scale` (the dynamic scale and smooth dtype,
// or the static op's smooth dtype / SQ_DTYPE_INVALID), int8 out.
inline sq_plan_desc quantize_desc(sq_op op, sq_dtype x, sq_dtype scale, int64_t k, int64_t max_m, double act_scale) {
  sq_plan_desc d;
  std::memset(&d, 0, sizeof(d));
  d.struct_size = sizeof(d);
  d.op = op;
  d.act_dtype = x;
  d.scale_dtype = scale;
  d.out_dtype = SQ_DTYPE_S8;
  d.k = k;
  d.max_m = max_m;
  d.act_scale = act_scale;
  return d;
}

inline sq_run_args run_args() {
  sq_run_args a;
  std::memset(&a, 0, sizeof(a));
  a.struct_size = sizeof(a);
  return a;
}

inline std::string last_error() { return std::string(sq_last_error_message()); }

// Host memory for a plan's workspace: `bytes` bytes at a 16-byte aligned address, as
// sq_plan_run asks of a workspace.
class HostWorkspace {
 public:
  explicit HostWorkspace(size_t bytes) : storage_(bytes + kAlign) {}
  void* data() {
    const size_t skew = reinterpret_cast<uintptr_t>(storage_.data()) % kAlign;
    return storage_.data() + (kAlign - skew) % kAlign;
  }

 private:
  static constexpr size_t kAlign = 16;
  std::vector<unsigned char> storage_;
};

}  // namespace sqt
