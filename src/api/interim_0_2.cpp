// INTERIM, until the host-reference branch (src/host/, src/offline/) is merged: DELETE THIS FILE (and its
// line in CMakeLists.txt) at that merge; the link then fails on duplicate definitions until it is gone.
// It gives this branch the 0.2 entry points that branch owns, so that the library links and the plan's
// 0.2 paths run here:
//   - host_row_sums, host_scale_accumulators: plain single-threaded versions of the contract;
//   - sq_weight_sums: a plain version; sq_quantize_weight_per_channel_asymmetric: NOT_SUPPORTED (the
//     dlopen table v2 points at both).
#include <cstdint>
#include <cstring>

#include "base/abi_structs.hpp"
#include "base/error.hpp"
#include "host/host_kernels.hpp"
#include "host/numerics.hpp"

namespace sq {

void host_row_sums(const kernels::RowSumsParams& p, unsigned /*threads*/) {
  for (int64_t r = 0; r < p.m; ++r) {
    const int8_t* a = p.a + r * p.ld_a;
    int32_t s = 0;
    for (int64_t k = 0; k < p.k; ++k)
      s += p.a_type == kernels::Dtype::U8 ? static_cast<int32_t>(static_cast<uint8_t>(a[k])) : a[k];
    p.sums[r] = s;
  }
}

namespace {
template <typename T>
void scale_accumulators_typed(const kernels::ScaleAccumulatorsParams& p) {
  using E = num::Epi<T>;
  const T* rs = static_cast<const T*>(p.row_scale);
  const T* ws = static_cast<const T*>(p.weight_scale);
  const T* bias = static_cast<const T*>(p.bias);
  T* out = static_cast<T*>(p.out);
  for (int64_t m = 0; m < p.m; ++m) {
    const auto r = E::to_c(rs[p.row_scale_per_tensor ? 0 : m]);
    for (int64_t n = 0; n < p.n; ++n)
      out[m * p.ld_out + n] = num::scale_acc<T>(p.acc[m * p.ld_acc + n], r, E::to_c(ws[n]), bias != nullptr,
                                                bias ? E::to_c(bias[n]) : typename E::C(0));
  }
}
}  // namespace

void host_scale_accumulators(const kernels::ScaleAccumulatorsParams& p, unsigned /*threads*/) {
  switch (p.dtype) {
    case kernels::Dtype::F32: scale_accumulators_typed<float>(p); break;
    case kernels::Dtype::F64: scale_accumulators_typed<double>(p); break;
    case kernels::Dtype::F16: scale_accumulators_typed<num::f16>(p); break;
    case kernels::Dtype::BF16: scale_accumulators_typed<num::bf16>(p); break;
    default: break;
  }
}

}  // namespace sq

extern "C" {

// A plain version of the contract (the consumers call it through the dlopen table).
SQ_API sq_status sq_weight_sums(const sq_matrix_view* view, int32_t* sums_out) {
  sq_matrix_view v;
  const sq_status st = sq::read_struct(view, sizeof(sq_matrix_view), sizeof(sq_matrix_view), &v, "weight_q");
  if (st != SQ_STATUS_SUCCESS) return st;
  if (v.dtype != SQ_DTYPE_S8 && v.dtype != SQ_DTYPE_U8)
    return sq::fail(SQ_STATUS_INVALID_ARGUMENT, "sq_weight_sums: weight_q->dtype is %d: expected S8 or U8", v.dtype);
  if (v.rows < 1 || v.cols < 1 || v.cols > 8421504 || v.data == nullptr || sums_out == nullptr ||
      (v.ld != 0 && v.ld < v.cols) || v.rows > INT64_MAX / 8 / (v.ld ? v.ld : v.cols))
    return sq::fail(SQ_STATUS_INVALID_ARGUMENT, "sq_weight_sums: bad view or output");
  const int64_t ld = v.ld ? v.ld : v.cols;
  const auto* w = static_cast<const unsigned char*>(v.data);
  for (int64_t r = 0; r < v.rows; ++r) {
    int64_t s = 0;
    for (int64_t c = 0; c < v.cols; ++c)
      s += v.dtype == SQ_DTYPE_U8 ? int64_t{w[r * ld + c]} : int64_t{static_cast<int8_t>(w[r * ld + c])};
    sums_out[r] = static_cast<int32_t>(s);
  }
  return sq::ok();
}

SQ_API sq_status sq_quantize_weight_per_channel_asymmetric(const sq_matrix_view*, sq_dtype, void*, int64_t, sq_dtype,
                                                           void*, void*) {
  return sq::fail(SQ_STATUS_NOT_SUPPORTED, "sq_quantize_weight_per_channel_asymmetric: not in this build yet (interim)");
}

}  // extern "C"
