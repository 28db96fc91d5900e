// The host reference kernel for the W8A8 linear: the library's definition of the right
// answer, and a usable kernel (blocked, vectorizable, threaded over output columns).
// Resource failures: a worker thread that cannot start, or no memory for the thread pool, leaves the
// work to the calling thread: the run still succeeds, with the same bits (never a failed run that
// wrote act_scale_scratch, never std::terminate).
#include <algorithm>
#include <cstring>
#include <thread>
#include <vector>

#include "host/host_kernels.hpp"
#include "host/numerics.hpp"

namespace sq {

namespace {

constexpr int64_t kColBlock = 64;          // weight rows per block: 64 x K bytes stay in L2
constexpr int kRowsPerDot = 4;             // weight rows sharing one activation row's loads
constexpr int64_t kMinWorkPerThread = 1 << 22;  // MACs below which an extra thread does not pay

// Four dot products of one activation row with four weight rows, exact in int32.
// Integer arithmetic: vectorized freely, the result does not depend on the order.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void dot4(const int8_t* __restrict a, const int8_t* __restrict b0, const int8_t* __restrict b1,
          const int8_t* __restrict b2, const int8_t* __restrict b3, int64_t k, int32_t out[kRowsPerDot]) {
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

template <typename T>
void linear_cols(const kernels::LinearParams& p, int64_t n_begin, int64_t n_end) {
  using E = num::Epi<T>;
  using C = typename E::C;
  const T* ws = static_cast<const T*>(p.weight_scale);
  const T* bias = static_cast<const T*>(p.bias);
  T* out = static_cast<T*>(p.out);
  T static_scale;
  std::memcpy(&static_scale, &p.static_scale_bits, sizeof(T));
  const T* row_scale = static_cast<const T*>(p.row_scale);
  for (int64_t nb = n_begin; nb < n_end; nb += kColBlock) {
    const int64_t ne = std::min(nb + kColBlock, n_end);
    for (int64_t m = 0; m < p.m; ++m) {
      const int8_t* a = p.act + m * p.ld_act;
      const C rs = E::to_c(row_scale ? row_scale[m] : static_scale);
      T* y = out + m * p.ld_out;
      for (int64_t n = nb; n < ne; n += kRowsPerDot) {
        const int8_t* b[kRowsPerDot];
        for (int j = 0; j < kRowsPerDot; ++j) b[j] = p.weight + std::min(n + j, ne - 1) * p.ld_weight;
        int32_t acc[kRowsPerDot];
        dot4(a, b[0], b[1], b[2], b[3], p.k, acc);
        for (int j = 0; j < kRowsPerDot && n + j < ne; ++j) {
          const int64_t c = n + j;
          y[c] = num::scale_acc<T>(acc[j], rs, E::to_c(ws[c]), bias != nullptr, bias ? E::to_c(bias[c]) : C(0));
        }
      }
    }
  }
}

// Never fails (throws nothing): what it allocates (the thread pool's storage) it allocates before it
// writes anything, falling back to the calling thread when it cannot; a worker thread that cannot
// start leaves its columns to the calling thread (as host_quantize does with its rows). So a run that
// passed validation succeeds, and QUANTIZED_LINEAR never fails after its quantizer wrote the scratch.
template <typename T>
void linear_typed(const kernels::LinearParams& p, unsigned threads) {
  const int64_t work = static_cast<int64_t>(p.m) * p.n * p.k;
  int64_t nthreads = std::min<int64_t>(threads, std::max<int64_t>(1, work / kMinWorkPerThread));
  nthreads = std::min<int64_t>(nthreads, (p.n + kColBlock - 1) / kColBlock);
  std::vector<std::thread> pool;
  if (nthreads > 1) {
    try {
      pool.reserve(static_cast<size_t>(nthreads - 1));
    } catch (...) {
      nthreads = 1;  // no memory for the pool: the calling thread does all the work
    }
  }
  // The fill of the activation-scale scratch (static plans): (T)act_scale in every row.
  if (p.row_scale_out != nullptr) {
    T s;
    std::memcpy(&s, &p.static_scale_bits, sizeof(T));
    T* dst = static_cast<T*>(p.row_scale_out);
    for (int64_t m = 0; m < p.m; ++m) dst[m] = s;
  }
  if (nthreads <= 1) {
    linear_cols<T>(p, 0, p.n);
    return;
  }
  // Split the columns in whole blocks; each output element is computed by one thread. Share t runs on
  // worker t (t >= 1) or, for share 0 and every share whose worker did not start, the calling thread.
  const int64_t blocks = (p.n + kColBlock - 1) / kColBlock;
  auto share = [&](int64_t t, int64_t* n0, int64_t* n1) {
    const int64_t b0 = blocks * t / nthreads, b1 = blocks * (t + 1) / nthreads;
    *n0 = b0 * kColBlock;
    *n1 = std::min<int64_t>(b1 * kColBlock, p.n);
  };
  int64_t t = 1;
  try {
    for (; t < nthreads; ++t) {
      int64_t n0, n1;
      share(t, &n0, &n1);
      pool.emplace_back([&p, n0, n1] { linear_cols<T>(p, n0, n1); });  // no reallocation: reserved
    }
  } catch (...) {
    // Worker t could not start (std::system_error, or std::bad_alloc for its state): the shares from
    // t on are done below by the calling thread.
  }
  for (int64_t u = 0; u < nthreads; ++u) {
    if (u >= 1 && u < t) continue;  // running on a worker
    int64_t n0, n1;
    share(u, &n0, &n1);
    linear_cols<T>(p, n0, n1);
  }
  for (auto& th : pool) th.join();
}

}  // namespace

void host_linear(const kernels::LinearParams& p, unsigned threads) {
  switch (p.dtype) {
    case kernels::Dtype::F32: linear_typed<float>(p, threads); break;
    case kernels::Dtype::F64: linear_typed<double>(p, threads); break;
    case kernels::Dtype::F16: linear_typed<num::f16>(p, threads); break;
    case kernels::Dtype::BF16: linear_typed<num::bf16>(p, threads); break;
  }
}

}  // namespace sq
