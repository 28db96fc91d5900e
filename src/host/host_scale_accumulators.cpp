// SQ_OP_SCALE_ACCUMULATORS on the host: the linears' epilogue (num::scale_acc, the contract's order)
// on given int32 accumulators, with the row scale of SCALED_LINEAR (row_scale[m], or row_scale[0] for
// every row when per tensor). Rows over threads; never fails (host/host_threads.hpp).
#include <cstdint>

#include "host/host_kernels.hpp"
#include "host/host_threads.hpp"
#include "host/numerics.hpp"

namespace sq {
namespace {

constexpr int64_t kMinElementsPerThread = int64_t{1} << 16;

template <typename T>
void scale_rows(const kernels::ScaleAccumulatorsParams& p, unsigned threads) {
  using E = num::Epi<T>;
  using C = typename E::C;
  const T* rs = static_cast<const T*>(p.row_scale);
  const T* ws = static_cast<const T*>(p.weight_scale);
  const T* bias = static_cast<const T*>(p.bias);
  T* out = static_cast<T*>(p.out);
  const int64_t n = p.n;
  host::run_shares(p.m, host::share_count(p.m, n, threads, kMinElementsPerThread), [&](int64_t b, int64_t e) {
    for (int64_t m = b; m < e; ++m) {
      const int32_t* acc = p.acc + m * p.ld_acc;
      T* y = out + m * p.ld_out;
      const C row = E::to_c(rs[p.row_scale_per_tensor ? 0 : m]);
      for (int64_t c = 0; c < n; ++c)
        y[c] = num::scale_acc<T>(acc[c], row, E::to_c(ws[c]), bias != nullptr, bias ? E::to_c(bias[c]) : C(0));
    }
  });
}

}  // namespace

void host_scale_accumulators(const kernels::ScaleAccumulatorsParams& p, unsigned threads) {
  switch (p.dtype) {
    case kernels::Dtype::F32: scale_rows<float>(p, threads); break;
    case kernels::Dtype::F64: scale_rows<double>(p, threads); break;
    case kernels::Dtype::F16: scale_rows<num::f16>(p, threads); break;
    case kernels::Dtype::BF16: scale_rows<num::bf16>(p, threads); break;
    default: break;  // src/ validates T
  }
}

}  // namespace sq
