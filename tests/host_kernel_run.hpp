// Calls the host kernels (src/host/host_kernels.hpp) directly, below the plan, on test buffers: the
// tests of sq_host_kernel_tests compare what they write with the oracle of host_oracle.hpp.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "host/host_kernels.hpp"
#include "host_oracle.hpp"

namespace sqk {

using sqo::Buf;
namespace kern = sq::kernels;

inline kern::Dtype kd(sq_dtype d) { return static_cast<kern::Dtype>(d); }

constexpr uint8_t kPoisonByte = 0xA5;
constexpr int32_t kPoisonSum = 0x5a5a5a5a;

// ------------------------------------------------------------------ quantize
enum class ResOut { kNone, kSeparate, kIntoResidual, kIntoX };

struct QuantRunOpts {
  unsigned threads = 1;
  int64_t pad_q = 0;      // extra bytes per q row (must stay poisoned)
  ResOut res_out = ResOut::kNone;
  bool sums = true;
};

struct QuantRan {
  int64_t ldq = 0;
  std::vector<uint8_t> q;  // [m, ldq] bytes, plus one poisoned row
  Buf scale;               // [m + 1] of S, poisoned
  std::vector<uint8_t> zp;  // [m + 1]
  std::vector<int32_t> sums;  // [m + 1]
  Buf absmax;               // [m + 1] of C
  Buf residual_out;         // [m, k] of D (packed), in whichever buffer the kernel wrote it
};

inline QuantRan run_quantize(const sqo::QuantIn& in, const QuantRunOpts& o = {}) {
  const bool f64 = in.x->dtype == SQ_DTYPE_F64;
  const sq_dtype c_dtype = f64 ? SQ_DTYPE_F64 : SQ_DTYPE_F32;
  const int64_t m = in.m, k = in.k;
  Buf x = *in.x;  // copies: in-place runs write into them
  Buf residual = in.residual ? *in.residual : Buf();
  Buf separate(in.x->dtype, static_cast<size_t>(m * k));
  separate.poison();
  QuantRan r;
  r.ldq = k + o.pad_q;
  r.q.assign(static_cast<size_t>((m + 1) * r.ldq), kPoisonByte);
  r.scale = Buf(in.s_dtype, static_cast<size_t>(m + 1));
  r.scale.poison();
  r.zp.assign(static_cast<size_t>(m + 1), kPoisonByte);
  r.sums.assign(static_cast<size_t>(m + 1), kPoisonSum);
  r.absmax = Buf(c_dtype, static_cast<size_t>(m + 1));
  r.absmax.poison();
  if (in.absmax_in) std::memcpy(r.absmax.data(), in.absmax_in->data(), in.absmax_in->bytes.size());

  kern::QuantizeParams p{};
  p.m = static_cast<int32_t>(m);
  p.k = static_cast<int32_t>(k);
  p.producer = in.producer == sqo::Producer::kPlain     ? kern::Producer::kPlain
               : in.producer == sqo::Producer::kRmsNorm ? kern::Producer::kRmsNorm
                                                        : kern::Producer::kSiluMul;
  const kern::QuantMode modes[] = {kern::QuantMode::kStatic, kern::QuantMode::kDynamic, kern::QuantMode::kDynamicAsym,
                                   kern::QuantMode::kAbsmax, kern::QuantMode::kFromAbsmax};
  p.mode = modes[static_cast<int>(in.mode)];
  p.x = x.data();
  p.ld_x = in.ldx;
  p.x_dtype = kd(in.x->dtype);
  p.residual = in.residual ? residual.data() : nullptr;
  p.ld_residual = in.ldr;
  int64_t ld_ro = k;
  switch (o.res_out) {
    case ResOut::kNone: p.residual_out = nullptr; break;
    case ResOut::kSeparate: p.residual_out = separate.data(); break;
    case ResOut::kIntoResidual: p.residual_out = residual.data(), ld_ro = in.ldr; break;
    case ResOut::kIntoX: p.residual_out = x.data(), ld_ro = in.ldx; break;
  }
  p.ld_residual_out = ld_ro;
  p.norm_weight = in.norm_weight ? in.norm_weight->data() : nullptr;
  p.eps = static_cast<float>(in.eps);
  p.smooth = in.smooth ? in.smooth->data() : nullptr;
  p.smooth_dtype = in.smooth ? kd(in.smooth->dtype) : kern::Dtype::F32;
  if (f64) {
    std::memcpy(&p.static_scale_bits, &in.act_scale, 8);
  } else {
    const float s = static_cast<float>(in.act_scale);
    uint32_t b;
    std::memcpy(&b, &s, 4);
    p.static_scale_bits = b;
  }
  p.static_zp = in.za;
  p.scale_out = r.scale.data();
  p.scale_dtype = kd(in.s_dtype);
  p.zp_out = r.zp.data();
  p.absmax = r.absmax.data();
  p.sums_out = o.sums ? r.sums.data() : nullptr;
  p.q = in.mode == sqo::Mode::kAbsmax ? nullptr : reinterpret_cast<int8_t*>(r.q.data());
  p.ld_q = r.ldq;
  p.q_type = kd(in.q_dtype);
  p.row_splits = 1;
  sq::host_quantize(p, o.threads);

  if (o.res_out != ResOut::kNone) {
    const Buf& src = o.res_out == ResOut::kSeparate ? separate : o.res_out == ResOut::kIntoResidual ? residual : x;
    r.residual_out = Buf(in.x->dtype, static_cast<size_t>(m * k));
    const size_t es = sqt::dtype_size(in.x->dtype);
    for (int64_t row = 0; row < m; ++row)
      std::memcpy(r.residual_out.at(static_cast<size_t>(row * k)), src.at(static_cast<size_t>(row * ld_ro)),
                  static_cast<size_t>(k) * es);
  }
  return r;
}

// ------------------------------------------------------------------ linear
struct LinearIn {
  int64_t m = 0, n = 0, k = 0;
  sqo::Operands ops;
  bool zero_points = false;
  bool za_per_token = false;  // za from an [m] array (else ops.za[0] for every row as act_zp_value)
  bool give_act_sums = true, give_weight_sums = true;
  sq_dtype t = SQ_DTYPE_F32;  // out dtype (S32: accumulators)
  int row_scale_kind = 0;     // 0 static (static_scale), 1 per token, 2 per tensor
  double static_scale = 0.5;
  const Buf* row_scale = nullptr;  // [m] or [1] of T
  const Buf* weight_scale = nullptr;
  const Buf* bias = nullptr;
  bool fill_scratch = false;
  int64_t ldo = 0;
};

struct LinearRan {
  Buf out;  // [m, ldo] of T (S32: int32 in a Buf of F32 bytes)
  Buf scratch;  // [m + 1] of T
};

// The int32 sums of the raw operand rows (what sq_weight_sums and the pre-pass give).
inline std::vector<int32_t> raw_row_sums(sq_dtype t, const uint8_t* base, int64_t rows, int64_t cols, int64_t ld) {
  std::vector<int32_t> s(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    int64_t v = 0;
    for (int64_t c = 0; c < cols; ++c) v += sqo::value_of(t, base[r * ld + c]);
    s[static_cast<size_t>(r)] = static_cast<int32_t>(v);
  }
  return s;
}

inline LinearRan run_linear(const LinearIn& in, unsigned threads) {
  const sq_dtype storage = in.t == SQ_DTYPE_S32 ? SQ_DTYPE_F32 : in.t;  // 4-byte elements for S32
  LinearRan r;
  r.out = Buf(storage, static_cast<size_t>(in.m * in.ldo));
  r.out.poison();
  r.scratch = Buf(storage, static_cast<size_t>(in.m + 1));
  r.scratch.poison();
  std::vector<uint8_t> za_bytes, zw_bytes;
  for (int32_t v : in.ops.za) za_bytes.push_back(static_cast<uint8_t>(v));
  for (int32_t v : in.ops.zw) zw_bytes.push_back(static_cast<uint8_t>(v));
  const std::vector<int32_t> act_sums = raw_row_sums(in.ops.a_type, in.ops.a, in.m, in.k, in.ops.lda);
  const std::vector<int32_t> weight_sums = raw_row_sums(in.ops.w_type, in.ops.w, in.n, in.k, in.ops.ldw);

  kern::LinearParams p{};
  p.m = static_cast<int32_t>(in.m);
  p.n = static_cast<int32_t>(in.n);
  p.k = static_cast<int32_t>(in.k);
  p.act = reinterpret_cast<const int8_t*>(in.ops.a);
  p.ld_act = in.ops.lda;
  p.weight = reinterpret_cast<const int8_t*>(in.ops.w);
  p.ld_weight = in.ops.ldw;
  p.act_type = kd(in.ops.a_type);
  p.weight_type = kd(in.ops.w_type);
  p.weight_scale = in.weight_scale ? in.weight_scale->data() : nullptr;
  p.bias = in.bias ? in.bias->data() : nullptr;
  p.row_scale = in.row_scale_kind == 0 ? nullptr : in.row_scale->data();
  p.row_scale_per_tensor = in.row_scale_kind == 2;
  if (in.t != SQ_DTYPE_S32) {
    Buf one(in.t, 1);
    one.set(0, in.static_scale);
    std::memcpy(&p.static_scale_bits, one.data(), sqt::dtype_size(in.t));
  }
  p.row_scale_out = in.fill_scratch ? r.scratch.data() : nullptr;
  p.zero_points = in.zero_points;
  if (in.zero_points) {
    p.act_zp = in.za_per_token && !za_bytes.empty() ? za_bytes.data() : nullptr;
    p.act_zp_value = !in.za_per_token && !in.ops.za.empty() ? in.ops.za[0] : 0;
    p.weight_zp = zw_bytes.empty() ? nullptr : zw_bytes.data();
    p.act_sums = in.give_act_sums ? act_sums.data() : nullptr;
    p.weight_sums = in.give_weight_sums ? weight_sums.data() : nullptr;
  }
  p.out = r.out.data();
  p.ld_out = in.ldo;
  p.dtype = kd(in.t);
  sq::host_linear(p, threads);
  return r;
}

}  // namespace sqk
