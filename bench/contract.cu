// The benchmark's adapter to the library's internals (see contract.cuh): the only file of bench/ that
// includes src/host/numerics.hpp and kernels/epilogue.cuh.
#include "contract.cuh"

#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "bench_common.cuh"
#include "epilogue.cuh"   // kernels/: the device epilogue of the contract
#include "host/numerics.hpp"  // src/host/: the host mirror of the contract

namespace sqbench {
namespace contract {
namespace {

constexpr int kThreads = 256;
constexpr int kScaleVec = 4;        // elements per thread step in the vector scale kernel
constexpr int kMaxGridX = 8192;
constexpr int kMaxGridY = 65535;

// The host mirror (src/numerics.hpp) of the device element type T.
template <typename T> struct HostOf { using type = T; };
template <> struct HostOf<__nv_bfloat16> { using type = sq::num::bf16; };

template <typename T>
struct alignas(sizeof(T) * kScaleVec) VecT {
  T v[kScaleVec];
};

// out[m,n] = ((T)acc * rs[m]) * ws[n], the contract's epilogue. Vector path: N % kScaleVec == 0.
template <typename T>
__global__ void scale_acc_vec(const int32_t* __restrict__ acc, const T* __restrict__ rs,
                              const T* __restrict__ ws, T* __restrict__ out, int64_t m_rows,
                              int64_t n_cols) {
  using E = sq::kernels::Epi<T>;
  const int64_t nvec = n_cols / kScaleVec;
  for (int64_t m = blockIdx.y; m < m_rows; m += gridDim.y) {
    const typename E::C r = E::to_c(rs[m]);
    for (int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; j < nvec;
         j += int64_t{gridDim.x} * blockDim.x) {
      const int4 a = *reinterpret_cast<const int4*>(acc + m * n_cols + j * kScaleVec);
      const VecT<T> w = *reinterpret_cast<const VecT<T>*>(ws + j * kScaleVec);
      VecT<T> o;
      o.v[0] = sq::kernels::scale_acc<T>(a.x, r, E::to_c(w.v[0]), false, 0);
      o.v[1] = sq::kernels::scale_acc<T>(a.y, r, E::to_c(w.v[1]), false, 0);
      o.v[2] = sq::kernels::scale_acc<T>(a.z, r, E::to_c(w.v[2]), false, 0);
      o.v[3] = sq::kernels::scale_acc<T>(a.w, r, E::to_c(w.v[3]), false, 0);
      *reinterpret_cast<VecT<T>*>(out + m * n_cols + j * kScaleVec) = o;
    }
  }
}
static_assert(kScaleVec == 4, "scale_acc_vec unrolls 4 elements (one int4 of acc)");

template <typename T>
__global__ void scale_acc_scalar(const int32_t* __restrict__ acc, const T* __restrict__ rs,
                                 const T* __restrict__ ws, T* __restrict__ out, int64_t m_rows,
                                 int64_t n_cols) {
  using E = sq::kernels::Epi<T>;
  for (int64_t m = blockIdx.y; m < m_rows; m += gridDim.y) {
    const typename E::C r = E::to_c(rs[m]);
    for (int64_t j = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; j < n_cols;
         j += int64_t{gridDim.x} * blockDim.x)
      out[m * n_cols + j] = sq::kernels::scale_acc<T>(acc[m * n_cols + j], r, E::to_c(ws[j]), false, 0);
  }
}

template <typename T>
void launch_scale_t(const int32_t* acc, const void* rs, const void* ws, void* out, int64_t m, int64_t n,
                    cudaStream_t stream) {
  const bool vec = n % kScaleVec == 0;
  const int64_t cols = vec ? n / kScaleVec : n;
  const dim3 grid(static_cast<unsigned>(std::max<int64_t>(
                      1, std::min<int64_t>((cols + kThreads - 1) / kThreads, kMaxGridX))),
                  static_cast<unsigned>(std::min<int64_t>(m, kMaxGridY)));
  const T* r = static_cast<const T*>(rs);
  const T* w = static_cast<const T*>(ws);
  T* o = static_cast<T*>(out);
  if (vec) scale_acc_vec<T><<<grid, kThreads, 0, stream>>>(acc, r, w, o, m, n);
  else scale_acc_scalar<T><<<grid, kThreads, 0, stream>>>(acc, r, w, o, m, n);
  CK_CUDA(cudaGetLastError());
}

template <typename H>
uint64_t ref_bits_t(int32_t acc, double rs, double ws) {
  using E = sq::num::Epi<H>;
  const H y = sq::num::scale_acc<H>(acc, E::to_c(E::from_double(rs)), E::to_c(E::from_double(ws)), false,
                                    typename E::C{0});
  uint64_t bits = 0;
  std::memcpy(&bits, &y, sizeof y);
  return bits;
}

}  // namespace

uint64_t bits_of(OutType t, double v) {
  switch (t) {
    case OutType::F32: return sq::num::bits_of_double_as<float>(v);
    case OutType::BF16: return sq::num::bits_of_double_as<sq::num::bf16>(v);
    case OutType::F64: return sq::num::bits_of_double_as<double>(v);
  }
  die("bits_of: unknown output type %d", static_cast<int>(t));
}

uint64_t ref_bits(OutType t, int32_t acc, double rs, double ws) {
  switch (t) {
    case OutType::F32: return ref_bits_t<float>(acc, rs, ws);
    case OutType::BF16: return ref_bits_t<sq::num::bf16>(acc, rs, ws);
    case OutType::F64: return ref_bits_t<double>(acc, rs, ws);
  }
  die("ref_bits: unknown output type %d", static_cast<int>(t));
}

void launch_scale(OutType t, const int32_t* acc, const void* rs, const void* ws, void* out, int64_t m,
                  int64_t n, cudaStream_t stream) {
  switch (t) {
    case OutType::F32: return launch_scale_t<float>(acc, rs, ws, out, m, n, stream);
    case OutType::BF16: return launch_scale_t<__nv_bfloat16>(acc, rs, ws, out, m, n, stream);
    case OutType::F64: return launch_scale_t<double>(acc, rs, ws, out, m, n, stream);
  }
  die("launch_scale: unknown output type %d", static_cast<int>(t));
}

uint16_t quantize_row_bf16(const uint16_t* x, int64_t k, int8_t* q) {
  float amax = 0.0f;
  bool nan = false;
  for (int64_t i = 0; i < k; ++i) {
    const float v = sq::num::to_float(sq::num::bf16{x[i]});
    nan = nan || std::isnan(v);
    amax = std::max(amax, std::fabs(v));
  }
  const sq::num::bf16 scale =
      sq::num::to_bf16(nan ? static_cast<double>(NAN) : static_cast<double>(amax / 127.0f));
  const float sc = sq::num::to_float(scale);
  for (int64_t i = 0; i < k; ++i)
    q[i] = std::isfinite(sc) && sc > 0.0f ? sq::num::sat_rne_s8(sq::num::to_float(sq::num::bf16{x[i]}) / sc)
                                          : int8_t{0};
  return scale.bits;
}

float bf16_to_float(uint16_t bits) { return sq::num::to_float(sq::num::bf16{bits}); }

}  // namespace contract
}  // namespace sqbench
