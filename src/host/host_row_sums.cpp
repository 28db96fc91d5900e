// The host row sums of an S8/U8 matrix: sums[r] = sum_k a[r,k] of the raw values (the linears' pre-pass
// when the caller gives no act_sums). Exact (accumulated in int64), stored modulo 2^32 (exact for every
// K a linear plan takes: |sum| <= 255 * max_k < 2^31). Never fails (host/host_threads.hpp).
#include <cstdint>

#include "host/host_kernels.hpp"
#include "host/host_threads.hpp"

namespace sq {
namespace {

constexpr int64_t kMinElementsPerThread = int64_t{1} << 18;

template <typename E>
void row_sums(const kernels::RowSumsParams& p, unsigned threads) {
  const E* a = reinterpret_cast<const E*>(p.a);
  const int64_t k = p.k;
  host::run_shares(p.m, host::share_count(p.m, k, threads, kMinElementsPerThread), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const E* row = a + r * p.ld_a;
      int64_t s = 0;
      for (int64_t i = 0; i < k; ++i) s += row[i];
      p.sums[r] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(s)));
    }
  });
}

}  // namespace

void host_row_sums(const kernels::RowSumsParams& p, unsigned threads) {
  if (p.a_type == kernels::Dtype::U8)
    row_sums<uint8_t>(p, threads);
  else
    row_sums<int8_t>(p, threads);
}

}  // namespace sq
