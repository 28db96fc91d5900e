// The host reference kernel for the W8A8 linear (SMOOTHQUANT_LINEAR, QUANTIZED_LINEAR's GEMM,
// SCALED_LINEAR): the library's definition of the right answer, and a usable kernel (blocked,
// vectorizable, threaded over output columns). Compiled with -ffp-contract=off.
//
// The accumulator: acc[m,n] = sum_k (a - za[m]) * (w - zw[n]), exact int32 (the contract's formula).
// It is computed as the GPU kernels compute it (kernels/kernel_params.hpp, LinearParams): the exact
// int32 sum_k a*w of the raw operands (S8 or U8 each: |a*w| <= A*W, so it fits for K <= max_k), then
// acc - zw[n] * (Sa[m] - K*za[m]) - za[m] * Sw[n] in arithmetic modulo 2^32, which is the formula's
// value (it fits int32 for K <= max_k) whenever Sa and Sw are the true sums. Sa = act_sums[m] and
// Sw = weight_sums[n] when given (as the GPU kernels read them, so host and GPU agree bit for bit
// even on sums a caller got wrong); when a needed one is NULL this kernel computes the true sum.
//
// Never fails (see host/host_threads.hpp): nothing is allocated but the thread pool.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <type_traits>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "host/host_kernels.hpp"
#include "host/host_testing.hpp"
#include "host/host_threads.hpp"
#include "host/numerics.hpp"

namespace sq {

namespace {

using kernels::Dtype;
using kernels::LinearParams;

constexpr int64_t kColBlock = 64;               // weight rows per block: 64 x K bytes stay in L2
constexpr int kRowsPerDot = 4;                  // weight rows sharing one activation row's loads
constexpr int64_t kMinWorkPerThread = 1 << 22;  // MACs below which an extra thread does not pay

// Four dot products of one activation row with four weight rows, exact in int32 (the caller's K is
// within the plan's max_k). Integer arithmetic: vectorized freely, the result does not depend on the
// order.
template <typename A, typename W>
__attribute__((always_inline)) inline void dot4_body(const A* __restrict a, const W* __restrict b0,
                                                     const W* __restrict b1, const W* __restrict b2,
                                                     const W* __restrict b3, int64_t k, int32_t* out) {
  int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int64_t i = 0; i < k; ++i) {
    const int32_t x = a[i];
    s0 += x * b0[i];
    s1 += x * b1[i];
    s2 += x * b2[i];
    s3 += x * b3[i];
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

// One clone set per operand pair (target_clones does not take templates): AVX-512 (x86-64-v4), AVX2 or
// baseline, picked at load time by the CPU.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SQ_DOT_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define SQ_DOT_CLONES
#endif
#define SQ_DEFINE_DOT4(NAME, A, W)                                                                       \
  SQ_DOT_CLONES void NAME(const A* a, const W* b0, const W* b1, const W* b2, const W* b3, int64_t k,     \
                          int32_t* out) {                                                                 \
    dot4_body<A, W>(a, b0, b1, b2, b3, k, out);                                                           \
  }
SQ_DEFINE_DOT4(dot4_s8s8, int8_t, int8_t)
SQ_DEFINE_DOT4(dot4_s8u8, int8_t, uint8_t)
SQ_DEFINE_DOT4(dot4_u8s8, uint8_t, int8_t)
SQ_DEFINE_DOT4(dot4_u8u8, uint8_t, uint8_t)
#undef SQ_DEFINE_DOT4

inline void dot4(const int8_t* a, const int8_t* const* b, int64_t k, int32_t* out) {
  dot4_s8s8(a, b[0], b[1], b[2], b[3], k, out);
}
inline void dot4(const int8_t* a, const uint8_t* const* b, int64_t k, int32_t* out) {
  dot4_s8u8(a, b[0], b[1], b[2], b[3], k, out);
}
inline void dot4(const uint8_t* a, const int8_t* const* b, int64_t k, int32_t* out) {
  dot4_u8s8(a, b[0], b[1], b[2], b[3], k, out);
}
inline void dot4(const uint8_t* a, const uint8_t* const* b, int64_t k, int32_t* out) {
  dot4_u8u8(a, b[0], b[1], b[2], b[3], k, out);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define SQ_HOST_VNNI 1
// The same four dot products with AVX-512 VNNI: vpdpbusd multiplies unsigned by signed bytes and adds
// each group of four products to an int32 lane (wrapping). An operand pair that is not u8 x s8 is made
// one by flipping the top bit of one side (v ^ 0x80 = v + 128 for s8 read as u8, v - 128 for u8 read
// as s8), and 128 * (the other side's sum) corrects the total. The lanes wrap modulo 2^32 and so does
// the correction: the final int32 is exact because the true sum fits (K <= max_k). The tail of K is
// loaded masked (zeros, no read past the rows); a zero on the unflipped side cancels the flipped one.
// The sum of the 16 int32 lanes, modulo 2^32 (through memory: GCC 12's reduce and shuffle intrinsics
// warn about their own undefined registers under -Wall).
__attribute__((target("avx512f"))) inline uint32_t lane_sum(__m512i v) {
  alignas(64) uint32_t lanes[16];
  _mm512_store_si512(lanes, v);
  uint32_t t = 0;
  for (uint32_t x : lanes) t += x;
  return t;
}

template <typename A, typename W>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void dot4_vnni(const A* a, const W* const* b, int64_t k,
                                                                        int32_t* out) {
  constexpr bool kActU8 = std::is_same<A, uint8_t>::value, kWeightU8 = std::is_same<W, uint8_t>::value;
  constexpr int64_t kBytes = 64;  // one zmm register of operands
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const __m512i ones = _mm512_set1_epi8(1);
  __m512i s[kRowsPerDot], sum_a = _mm512_setzero_si512();
  for (int j = 0; j < kRowsPerDot; ++j) s[j] = _mm512_setzero_si512();
  for (int64_t i = 0; i < k; i += kBytes) {
    const __mmask64 mask = k - i >= kBytes ? ~__mmask64{0} : (__mmask64{1} << (k - i)) - 1;
    const __m512i va = _mm512_maskz_loadu_epi8(mask, a + i);
    for (int j = 0; j < kRowsPerDot; ++j) {
      const __m512i vb = _mm512_maskz_loadu_epi8(mask, b[j] + i);
      if constexpr (kActU8 && !kWeightU8) s[j] = _mm512_dpbusd_epi32(s[j], va, vb);
      if constexpr (!kActU8 && kWeightU8) s[j] = _mm512_dpbusd_epi32(s[j], vb, va);
      if constexpr (!kActU8 && !kWeightU8) s[j] = _mm512_dpbusd_epi32(s[j], _mm512_xor_si512(vb, flip), va);
      if constexpr (kActU8 && kWeightU8) s[j] = _mm512_dpbusd_epi32(s[j], va, _mm512_xor_si512(vb, flip));
    }
    if constexpr (!kActU8 && !kWeightU8) sum_a = _mm512_dpbusd_epi32(sum_a, ones, va);  // sum a (s8)
    if constexpr (kActU8 && kWeightU8) sum_a = _mm512_dpbusd_epi32(sum_a, va, ones);    // sum a (u8)
  }
  // s8 x s8: sum (w + 128) a = sum a w + 128 sum a; u8 x u8: sum a (w - 128) = sum a w - 128 sum a.
  const uint32_t correction = 128u * lane_sum(sum_a);
  for (int j = 0; j < kRowsPerDot; ++j) {
    uint32_t v = lane_sum(s[j]);
    if constexpr (!kActU8 && !kWeightU8) v -= correction;
    if constexpr (kActU8 && kWeightU8) v += correction;
    out[j] = static_cast<int32_t>(v);
  }
}

bool cpu_has_vnni() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vnni");
}
#endif

// Tests: 0 = pick by the CPU (VNNI where it has it), 1 = always the portable dot products.
std::atomic<int> g_dot_override{0};

// The dot products of one activation row with four weight rows, by the best path the CPU has.
template <typename A, typename W>
inline void dot4_best(const A* a, const W* const* b, int64_t k, int32_t* out) {
#if defined(SQ_HOST_VNNI)
  static const bool vnni = cpu_has_vnni();
  if (vnni && g_dot_override.load(std::memory_order_relaxed) == 0) {
    dot4_vnni<A, W>(a, b, k, out);
    return;
  }
#endif
  dot4(a, b, k, out);
}

// Element i of an S8 (int8_t) or U8 (uint8_t) array, as its integer value.
template <typename E>
inline int32_t element(const void* base, int64_t i) {
  return static_cast<const E*>(base)[i];
}

// sum_k v[k] of a row of raw operand values (exact: |sum| <= 255 K < 2^31 for any K a plan takes).
template <typename E>
inline int32_t row_sum(const E* v, int64_t k) {
  int64_t s = 0;
  for (int64_t i = 0; i < k; ++i) s += v[i];
  return static_cast<int32_t>(s);
}

// Columns [n_begin, n_end) of every row. T: the epilogue type, or int32_t for S32 output (acc only).
template <typename T, typename A, typename W>
void linear_cols(const LinearParams& p, int64_t n_begin, int64_t n_end) {
  constexpr bool kAccOnly = std::is_same<T, int32_t>::value;
  using E = num::Epi<typename std::conditional<kAccOnly, float, T>::type>;
  using C = typename E::C;
  const A* act = reinterpret_cast<const A*>(p.act);
  const W* weight = reinterpret_cast<const W*>(p.weight);
  const T* ws = static_cast<const T*>(p.weight_scale);
  const T* bias = static_cast<const T*>(p.bias);
  const T* row_scale = static_cast<const T*>(p.row_scale);
  T static_scale{};
  if (!kAccOnly) std::memcpy(&static_scale, &p.static_scale_bits, sizeof(T));
  T* out = static_cast<T*>(p.out);
  const int64_t k = p.k;
  // Zero-point terms (all zero without zero points).
  const bool has_zw = p.zero_points && p.weight_zp != nullptr;
  const bool may_have_za = p.zero_points && (p.act_zp != nullptr || p.act_zp_value != 0);
  int32_t block_sw[kColBlock];  // Sw of this block's columns when the caller gave none
  for (int64_t nb = n_begin; nb < n_end; nb += kColBlock) {
    const int64_t ne = std::min(nb + kColBlock, n_end);
    if (may_have_za && p.weight_sums == nullptr)
      for (int64_t c = nb; c < ne; ++c) block_sw[c - nb] = row_sum(weight + c * p.ld_weight, k);
    for (int64_t m = 0; m < p.m; ++m) {
      const A* a = act + m * p.ld_act;
      T* y = out + m * p.ld_out;
      C rs = C(0);
      if (!kAccOnly) rs = E::to_c(row_scale ? row_scale[p.row_scale_per_tensor ? 0 : m] : static_scale);
      const int32_t za = !p.zero_points ? 0 : p.act_zp != nullptr ? element<A>(p.act_zp, m) : p.act_zp_value;
      // Sa[m] - K*za[m], modulo 2^32: the factor of zw[n].
      uint32_t zw_factor = 0;
      if (has_zw) {
        const int32_t sa = p.act_sums != nullptr ? p.act_sums[m] : row_sum(a, k);
        zw_factor = static_cast<uint32_t>(sa) - static_cast<uint32_t>(k) * static_cast<uint32_t>(za);
      }
      for (int64_t n = nb; n < ne; n += kRowsPerDot) {
        const W* b[kRowsPerDot];
        for (int j = 0; j < kRowsPerDot; ++j) b[j] = weight + std::min(n + j, ne - 1) * p.ld_weight;
        int32_t acc[kRowsPerDot];
        dot4_best(a, b, k, acc);
        for (int j = 0; j < kRowsPerDot && n + j < ne; ++j) {
          const int64_t c = n + j;
          int32_t v = acc[j];
          if (p.zero_points) {
            uint32_t u = static_cast<uint32_t>(v);
            if (has_zw) u -= static_cast<uint32_t>(element<W>(p.weight_zp, c)) * zw_factor;
            if (za != 0) {
              const int32_t sw = p.weight_sums != nullptr ? p.weight_sums[c] : block_sw[c - nb];
              u -= static_cast<uint32_t>(za) * static_cast<uint32_t>(sw);
            }
            v = static_cast<int32_t>(u);  // modulo 2^32 (two's complement)
          }
          if constexpr (kAccOnly) {
            y[c] = v;
          } else {
            y[c] = num::scale_acc<T>(v, rs, E::to_c(ws[c]), bias != nullptr, bias ? E::to_c(bias[c]) : C(0));
          }
        }
      }
    }
  }
}

template <typename T, typename A, typename W>
void linear_typed(const LinearParams& p, unsigned threads) {
  // The fill of the activation-scale scratch (static plans): (T)act_scale in every row. Never with
  // S32 output (nothing is written to act_scale_scratch then).
  if constexpr (!std::is_same<T, int32_t>::value) {
    if (p.row_scale_out != nullptr) {
      T s;
      std::memcpy(&s, &p.static_scale_bits, sizeof(T));
      T* dst = static_cast<T*>(p.row_scale_out);
      for (int64_t m = 0; m < p.m; ++m) dst[m] = s;
    }
  }
  // Whole column blocks per share; each output element is computed by one thread.
  const int64_t blocks = (static_cast<int64_t>(p.n) + kColBlock - 1) / kColBlock;
  const int64_t shares = host::share_count(blocks, static_cast<int64_t>(p.m) * kColBlock * p.k, threads,
                                           kMinWorkPerThread);
  host::run_shares(blocks, shares, [&p](int64_t b0, int64_t b1) {
    linear_cols<T, A, W>(p, b0 * kColBlock, std::min<int64_t>(b1 * kColBlock, p.n));
  });
}

template <typename T>
void linear_operands(const LinearParams& p, unsigned threads) {
  const bool a_u8 = p.act_type == Dtype::U8, w_u8 = p.weight_type == Dtype::U8;
  if (!a_u8 && !w_u8) linear_typed<T, int8_t, int8_t>(p, threads);
  if (!a_u8 && w_u8) linear_typed<T, int8_t, uint8_t>(p, threads);
  if (a_u8 && !w_u8) linear_typed<T, uint8_t, int8_t>(p, threads);
  if (a_u8 && w_u8) linear_typed<T, uint8_t, uint8_t>(p, threads);
}

}  // namespace

namespace host {
void use_portable_dot_products_for_testing(bool on) { g_dot_override = on ? 1 : 0; }
bool vnni_dot_products_available() {
#if defined(SQ_HOST_VNNI)
  return cpu_has_vnni();
#else
  return false;
#endif
}
}  // namespace host

void host_linear(const kernels::LinearParams& p, unsigned threads) {
  switch (p.dtype) {
    case Dtype::F32: linear_operands<float>(p, threads); break;
    case Dtype::F64: linear_operands<double>(p, threads); break;
    case Dtype::F16: linear_operands<num::f16>(p, threads); break;
    case Dtype::BF16: linear_operands<num::bf16>(p, threads); break;
    case Dtype::S32: linear_operands<int32_t>(p, threads); break;
    default: break;  // src/ validates the output type
  }
}

}  // namespace sq
