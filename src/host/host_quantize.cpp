// Host reference activation quantizers: SQ_OP_QUANTIZE_STATIC and SQ_OP_QUANTIZE_DYNAMIC, exactly as
// the NUMERICS CONTRACT in include/smoothquant/smoothquant.h writes them (also the first half of
// SQ_OP_QUANTIZED_LINEAR). Compiled with -ffp-contract=off; every division is one IEEE operation in
// the compute type C (f64 for f64 input, else f32). src/ has validated every argument.
//
// One detail the contract leaves open, fixed here and in kernels/quantize.cu alike: a dynamic row
// holding a NaN stores the canonical quiet NaN of S (positive, only the top mantissa bit set), so
// that every kernel writes the same bits.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "host/host_kernels.hpp"
#include "host/numerics.hpp"

namespace sq {
namespace {

using kernels::Dtype;
using kernels::QuantizeParams;

// Below this many elements per thread a row range is not split over threads.
constexpr int64_t kMinElementsPerThread = int64_t{1} << 16;

// Canonical quiet NaN bit patterns of the scale dtypes (see the note at the top).
constexpr uint32_t kCanonicalNanF32 = 0x7fc00000u;
constexpr uint64_t kCanonicalNanF64 = 0x7ff8000000000000ull;
constexpr uint16_t kCanonicalNanF16 = 0x7e00u;
constexpr uint16_t kCanonicalNanBF16 = 0x7fc0u;

// (C)value of element i of an array of dtype d: exact widening or one round-to-nearest-even.
template <typename C>
C load_as(const void* base, Dtype d, int64_t i) {
  switch (d) {
    case Dtype::F32: return static_cast<C>(static_cast<const float*>(base)[i]);
    case Dtype::F64: return static_cast<C>(static_cast<const double*>(base)[i]);
    case Dtype::F16: return static_cast<C>(num::to_float(static_cast<const num::f16*>(base)[i]));
    case Dtype::BF16: return static_cast<C>(num::to_float(static_cast<const num::bf16*>(base)[i]));
  }
  return C(0);
}

// Element type of x -> its compute type and the exact widening.
template <typename X> struct XIn;
template <> struct XIn<float> { using C = float; static C get(float v) { return v; } };
template <> struct XIn<double> { using C = double; static C get(double v) { return v; } };
template <> struct XIn<num::f16> { using C = float; static C get(num::f16 v) { return num::to_float(v); } };
template <> struct XIn<num::bf16> { using C = float; static C get(num::bf16 v) { return num::to_float(v); } };

// Stores (S)value at scale_out[row] (one rounding) and returns (C)(S)value; NaN -> canonical NaN.
template <typename C>
C store_scale(void* scale_out, Dtype s, int64_t row, C value, bool is_nan) {
  switch (s) {
    case Dtype::F32: {
      float v = static_cast<float>(value);
      if (is_nan) v = num::bit_cast<float>(kCanonicalNanF32);
      static_cast<float*>(scale_out)[row] = v;
      return static_cast<C>(v);
    }
    case Dtype::F64: {
      double v = static_cast<double>(value);
      if (is_nan) v = num::bit_cast<double>(kCanonicalNanF64);
      static_cast<double*>(scale_out)[row] = v;
      return static_cast<C>(v);
    }
    case Dtype::F16: {
      num::f16 v = num::to_f16(static_cast<double>(value));
      if (is_nan) v.bits = kCanonicalNanF16;
      static_cast<num::f16*>(scale_out)[row] = v;
      return static_cast<C>(num::to_float(v));
    }
    case Dtype::BF16: {
      num::bf16 v = num::to_bf16(static_cast<double>(value));
      if (is_nan) v.bits = kCanonicalNanBF16;
      static_cast<num::bf16*>(scale_out)[row] = v;
      return static_cast<C>(num::to_float(v));
    }
  }
  return C(0);
}

template <typename X>
void quantize_rows(const QuantizeParams& p, const std::vector<typename XIn<X>::C>& smooth,
                   typename XIn<X>::C* v, int64_t row_begin, int64_t row_end) {
  using C = typename XIn<X>::C;
  const int64_t k = p.k;
  const bool has_smooth = !smooth.empty();
  const C static_scale = sizeof(C) == 8 ? static_cast<C>(num::bit_cast<double>(p.static_scale_bits))
                                        : static_cast<C>(num::bit_cast<float>(static_cast<uint32_t>(p.static_scale_bits)));
  for (int64_t m = row_begin; m < row_end; ++m) {
    const X* x = static_cast<const X*>(p.x) + m * p.ld_x;
    int8_t* q = p.q + m * p.ld_q;
    bool row_nan = false;
    C amax = C(0);
    for (int64_t i = 0; i < k; ++i) {
      const C xi = XIn<X>::get(x[i]);
      const C vi = has_smooth ? xi / smooth[static_cast<size_t>(i)] : xi;
      v[i] = vi;
      if (std::isnan(vi)) {
        row_nan = true;
      } else {
        const C a = std::fabs(vi);
        if (a > amax) amax = a;
      }
    }
    C scale = static_scale;
    bool quantize = true;
    if (p.mode != kernels::QuantMode::kStatic) {
      const C raw = amax / static_cast<C>(127);
      scale = store_scale<C>(p.scale_out, p.scale_dtype, m, raw, row_nan);
      quantize = std::isfinite(scale) && scale > C(0);
    }
    if (!quantize) {
      std::memset(q, 0, static_cast<size_t>(k));
      continue;
    }
    for (int64_t i = 0; i < k; ++i) q[i] = num::sat_rne_s8<C>(v[i] / scale);
  }
}

template <typename X>
void run(const QuantizeParams& p, unsigned threads) {
  using C = typename XIn<X>::C;
  std::vector<C> smooth;
  if (p.smooth != nullptr) {
    smooth.resize(static_cast<size_t>(p.k));
    for (int64_t i = 0; i < p.k; ++i) smooth[static_cast<size_t>(i)] = load_as<C>(p.smooth, p.smooth_dtype, i);
  }
  const int64_t m = p.m;
  const int64_t total = m * static_cast<int64_t>(p.k);
  int64_t workers = std::max<int64_t>(1, std::min<int64_t>(threads == 0 ? 1 : threads, m));
  workers = std::min<int64_t>(workers, std::max<int64_t>(1, total / kMinElementsPerThread));
  // Every buffer is allocated here, before any thread starts: a worker never allocates (or throws).
  std::vector<std::vector<C>> rows(static_cast<size_t>(workers), std::vector<C>(static_cast<size_t>(p.k)));
  if (workers == 1) {
    quantize_rows<X>(p, smooth, rows[0].data(), 0, m);
    return;
  }
  const int64_t chunk = (m + workers - 1) / workers;
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(workers));
  int64_t begin = 0;
  try {
    for (int64_t w = 1; w < workers && chunk * w < m; ++w) {
      const int64_t b = chunk * w, e = std::min(m, b + chunk);
      C* buf = rows[static_cast<size_t>(w)].data();
      pool.emplace_back([&p, &smooth, buf, b, e] { quantize_rows<X>(p, smooth, buf, b, e); });
    }
  } catch (...) {
    // Could not start a thread: the calling thread does the rows no thread took.
    const int64_t started = static_cast<int64_t>(pool.size());
    begin = std::min(m, chunk * (started + 1));
    quantize_rows<X>(p, smooth, rows[0].data(), begin, m);
  }
  quantize_rows<X>(p, smooth, rows[0].data(), 0, std::min(m, chunk));
  for (auto& t : pool) t.join();
}

}  // namespace

void host_quantize(const kernels::QuantizeParams& p, unsigned threads) {
  switch (p.x_dtype) {
    case Dtype::F32: run<float>(p, threads); return;
    case Dtype::F64: run<double>(p, threads); return;
    case Dtype::F16: run<num::f16>(p, threads); return;
    case Dtype::BF16: run<num::bf16>(p, threads); return;
  }
}

}  // namespace sq
