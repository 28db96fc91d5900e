// The fused engine ops through the C ABI, the GPU plan bit for bit against the host reference plan:
// SQ_OP_RMSNORM_QUANTIZE (residual on and off, residual_out separate, in place over residual, in place
// over x, or none), SQ_OP_SILU_MUL_QUANTIZE, each with every quant mode, x dtype (f16, bf16, f32), scale
// dtype and q dtype, smoothing on and off, act_sums, strides and misaligned rows, zero / NaN / Inf /
// overflowing rows, the M = 1..17, 63..65, 1000 sweep up to K = 28672, batch invariance (a row alone
// equals that row inside M = 1000), CUDA graphs; and SQ_OP_SCALE_ACCUMULATORS.
#include <catch2/catch.hpp>

#include <cuda_runtime_api.h>

#include <cstring>
#include <vector>

#include "gpu_util.hpp"
#include "quant_plan_check.hpp"

using qt::Alias;
using qt::QC;

namespace {

const sq_dtype kFusedX[] = {SQ_DTYPE_F32, SQ_DTYPE_F16, SQ_DTYPE_BF16};
const sq_dtype kScales[] = {SQ_DTYPE_F32, SQ_DTYPE_F64, SQ_DTYPE_F16, SQ_DTYPE_BF16};
const sq_quant_mode kModes[] = {SQ_QUANT_STATIC, SQ_QUANT_DYNAMIC, SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_QUANT_ABSMAX,
                                SQ_QUANT_FROM_ABSMAX};

// A fused case with the optional parts cycled by v.
QC fused(sq_op op, sq_quant_mode mode, sq_dtype x, int64_t m, int64_t k, int v) {
  QC c;
  c.op = op;
  c.mode = mode;
  c.x = x;
  c.s = kScales[(v / 3) % 4];
  c.q = (mode == SQ_QUANT_STATIC || mode == SQ_QUANT_DYNAMIC_ASYMMETRIC) && v % 2 ? SQ_DTYPE_U8 : SQ_DTYPE_S8;
  c.zp = mode == SQ_QUANT_STATIC ? (c.q == SQ_DTYPE_U8 ? 128 : -5) : 0;
  c.m = m;
  c.k = k;
  c.smooth = v % 3 == 1;
  c.sums = v % 4 != 3;
  if (c.rms()) {
    c.residual = v % 5 != 0;
    c.alias = static_cast<Alias>(v % 4);
    if (!c.residual && c.alias == Alias::kResidual) c.alias = Alias::kX;
    c.eps = v % 2 ? 1e-6 : 1e-5;
  }
  c.seed = static_cast<uint64_t>(v) * 6151 + static_cast<uint64_t>(k * 17 + m);
  return c;
}

}  // namespace

TEST_CASE("RMSNORM_QUANTIZE and SILU_MUL_QUANTIZE: every mode, dtype, residual form and memory path", "[fused]") {
  int v = 0;
  for (sq_op op : {SQ_OP_RMSNORM_QUANTIZE, SQ_OP_SILU_MUL_QUANTIZE})
    for (sq_quant_mode mode : kModes)
      for (sq_dtype x : kFusedX)
        for (int variant = 0; variant < 4; ++variant) {
          QC a = fused(op, mode, x, 7, 4100, v);  // vectors, edge rows, padded rows
          a.edges = true;
          a.pad = 8;
          qt::check_plan(a, v % 3 == 2 ? SQ_PREFERENCE_GPU_PORTABLE : SQ_PREFERENCE_FASTEST);
          QC b = fused(op, mode, x, 3, 1001, v + 1);  // single elements (odd K, misaligned rows)
          b.offset = 1;
          b.pad = 1;
          qt::check_plan(b);
          ++v;
        }
}

TEST_CASE("RMSNORM_QUANTIZE: residual_out in place over residual and over x, residual on and off", "[fused]") {
  int v = 0;
  for (sq_dtype x : kFusedX)
    for (bool residual : {false, true})
      for (Alias alias : {Alias::kNone, Alias::kSeparate, Alias::kResidual, Alias::kX}) {
        if (alias == Alias::kResidual && !residual) continue;
        for (int64_t k : {int64_t{4096}, int64_t{8195}}) {
          QC c = fused(SQ_OP_RMSNORM_QUANTIZE, kModes[v % 5], x, 9, k, v);
          c.residual = residual;
          c.alias = alias;
          c.edges = true;
          qt::check_plan(c);
          ++v;
        }
      }
}

TEST_CASE("fused ops: M = 1..17, 63..65, 1000 and K up to 28672 (odd K too)", "[fused]") {
  int v = 0;
  for (sq_op op : {SQ_OP_RMSNORM_QUANTIZE, SQ_OP_SILU_MUL_QUANTIZE}) {
    const int64_t ks[] = {1, 9, 2048, 2049, 4096, 8192, 14336, 28672, 28673};
    for (int64_t m = 1; m <= 17; ++m) {
      QC c = fused(op, kModes[v % 5], kFusedX[v % 3], m, ks[v % 9], v);
      c.edges = m >= 6;
      qt::check_plan(c);
      ++v;
    }
    for (int64_t m : {63, 64, 65}) {
      QC c = fused(op, kModes[v % 5], kFusedX[v % 3], m, ks[4 + v % 5], v);
      c.edges = true;
      qt::check_plan(c);
      ++v;
    }
    QC big = fused(op, SQ_QUANT_DYNAMIC, SQ_DTYPE_BF16, 1000, op == SQ_OP_RMSNORM_QUANTIZE ? 8192 : 14336, v++);
    big.edges = true;
    qt::check_plan(big);
  }
  // The longest rows at decode sizes (split rows on sm_90) and in a full wave.
  for (int64_t m : {1, 5, 16, 65}) {
    QC r = fused(SQ_OP_RMSNORM_QUANTIZE, kModes[v % 5], kFusedX[v % 3], m, 28672, v);
    r.residual = true;
    r.alias = Alias::kResidual;
    r.edges = m >= 6;
    qt::check_plan(r);
    ++v;
    qt::check_plan(fused(SQ_OP_SILU_MUL_QUANTIZE, kModes[v % 5], kFusedX[v % 3], m, 28672, v));
    ++v;
  }
}

TEST_CASE("fused ops are batch invariant: a row alone equals that row inside M = 1000", "[fused]") {
  int v = 0;
  for (sq_quant_mode mode : kModes) {
    QC r = fused(SQ_OP_RMSNORM_QUANTIZE, mode, kFusedX[v % 3], 1000, v % 2 ? 8192 : 4096, v);
    r.residual = true;
    r.alias = Alias::kSeparate;
    r.sums = true;
    r.edges = true;
    qt::check_rows_alone(r, {0, 1, 2, 3, 4, 5, 517, 999});
    QC s = fused(SQ_OP_SILU_MUL_QUANTIZE, mode, kFusedX[(v + 1) % 3], 1000, v % 2 ? 14336 : 3584, v);
    s.sums = true;
    s.edges = true;
    qt::check_rows_alone(s, {0, 1, 2, 3, 4, 5, 517, 999});
    ++v;
  }
}

TEST_CASE("fused ops under CUDA graph capture and replay (in place, poisoned outputs)", "[fused][graph]") {
  int v = 0;
  for (sq_quant_mode mode : {SQ_QUANT_STATIC, SQ_QUANT_DYNAMIC, SQ_QUANT_DYNAMIC_ASYMMETRIC}) {
    for (int64_t m : {1, 16, 65}) {
      QC r = fused(SQ_OP_RMSNORM_QUANTIZE, mode, SQ_DTYPE_BF16, m, 4096, v);
      r.residual = true;
      r.alias = Alias::kResidual;
      r.edges = m >= 6;
      qt::check_plan(r, SQ_PREFERENCE_FASTEST, true);
      QC s = fused(SQ_OP_SILU_MUL_QUANTIZE, mode, SQ_DTYPE_BF16, m, 14336, v);
      qt::check_plan(s, SQ_PREFERENCE_FASTEST, true);
      ++v;
    }
  }
}

TEST_CASE("fused ops: a small set for compute-sanitizer", "[fused][sanitize]") {
  int v = 0;
  for (sq_op op : {SQ_OP_RMSNORM_QUANTIZE, SQ_OP_SILU_MUL_QUANTIZE})
    for (sq_quant_mode mode : kModes) {
      QC c = fused(op, mode, kFusedX[v % 3], 6, v % 2 ? 333 : 4100, v);
      c.edges = true;
      c.offset = v % 2;
      qt::check_plan(c);
      c.m = 1;  // a long row at M = 1: split rows on sm_90
      c.k = 16384;
      c.edges = false;
      c.offset = 0;
      qt::check_plan(c);
      ++v;
    }
}

// ------------------------------------------------------------------ SCALE_ACCUMULATORS
namespace {

struct SACase {
  sq_dtype t;
  int64_t m, n;
  int64_t pad;        // extra elements per row of acc and out
  int64_t offset;     // elements: acc, out, weight_scale and bias start past a 16-byte boundary
  bool per_tensor, bias;
  sq_preference pref;
};

void check_scale_accumulators(const SACase& c, bool graph = false) {
  CAPTURE(qt::dname(c.t), c.m, c.n, c.pad, c.offset, c.per_tensor, c.bias, qt::pref_name(c.pref), graph);
  qt::Rng rng(static_cast<uint64_t>(c.m * 31 + c.n));
  const int64_t ld = c.n + c.pad;
  qt::Arr acc(SQ_DTYPE_S32, static_cast<size_t>(c.m * ld));
  for (size_t i = 0; i < acc.n(); ++i)
    acc.set(i, static_cast<double>(static_cast<int32_t>(rng.next())) / (i % 7 ? 65536.0 : 1.0));
  qt::Arr rs(c.t, static_cast<size_t>(c.per_tensor ? 1 : c.m)), ws(c.t, static_cast<size_t>(c.n)), b(c.t, static_cast<size_t>(c.n));
  for (size_t i = 0; i < rs.n(); ++i) rs.set(i, rng.log_uniform(1e-4, 1e-1));
  for (size_t i = 0; i < ws.n(); ++i) ws.set(i, rng.log_uniform(1e-4, 1e-1));
  for (size_t i = 0; i < b.n(); ++i) b.set(i, rng.uniform(-1.0, 1.0));
  const qt::Arr out0 = qt::Arr::poisoned(c.t, static_cast<size_t>(c.m * ld));

  sq_plan_desc d;
  std::memset(&d, 0, sizeof(d));
  d.struct_size = sizeof(d);
  d.op = SQ_OP_SCALE_ACCUMULATORS;
  d.act_dtype = SQ_DTYPE_S32;
  d.scale_dtype = c.t;
  d.out_dtype = c.t;
  d.n = c.n;
  d.max_m = c.m + 1;
  d.flags = c.per_tensor ? SQ_PLAN_PER_TENSOR_ACT_SCALE : 0u;
  qt::Stream st;
  qt::Plans plans(d, c.pref, st.s);
  auto args = [&](const qt::Mem& a, const qt::Mem& r, const qt::Mem& w, const qt::Mem& bb, const qt::Mem& o) {
    sq_run_args x;
    std::memset(&x, 0, sizeof(x));
    x.struct_size = sizeof(x);
    x.m = c.m;
    x.act = a.p();
    x.ld_act = c.pad ? ld : 0;
    x.act_scale = r.p();
    x.weight_scale = w.p();
    x.bias = c.bias ? bb.p() : nullptr;
    x.out = o.p();
    x.ld_out = c.pad ? ld : 0;
    return x;
  };
  // Three row scales (one per run or replay: a graph must read the scale when it runs) and their results.
  std::vector<qt::Arr> scales, wants;
  qt::Mem ha(false, acc, c.offset), hw(false, ws, c.offset), hb(false, b, c.offset);
  for (int rep = 0; rep < 3; ++rep) {
    qt::Arr r = rs;
    if (rep > 0)
      for (size_t i = 0; i < r.n(); ++i) r.set(i, rng.log_uniform(1e-4, 1e-1));
    qt::Mem hr(false, r, 0), ho(false, out0, c.offset);
    qt::run_ok(plans.host, nullptr, args(ha, hr, hw, hb, ho));
    wants.push_back(ho.fetch());
    scales.push_back(r);
  }
  qt::Mem da(true, acc, c.offset), dr(true, rs, 0), dw(true, ws, c.offset), db(true, b, c.offset), dout(true, out0, c.offset);
  const sq_run_args ga = args(da, dr, dw, db, dout);
  REQUIRE(sq_plan_can_implement(plans.gpu, &ga) == SQ_STATUS_SUCCESS);
  int rep = -1;
  sqt::run_three_times(
      st.s, graph, [&] { qt::run_ok(plans.gpu, st.s, ga); },
      [&] {
        ++rep;
        dout.poison(st.s);
        dr.refill(scales[static_cast<size_t>(rep)], st.s);
      },
      [&] {
        const qt::Arr got = dout.fetch();
        const qt::Arr& want = wants[static_cast<size_t>(rep)];
        int64_t first = -1;
        for (size_t i = 0; i < got.n() && first < 0; ++i)
          if (std::memcmp(got.b.data() + i * qt::esize(c.t), want.b.data() + i * qt::esize(c.t), qt::esize(c.t)) != 0)
            first = static_cast<int64_t>(i);
        INFO("run " << rep << ": first difference at element " << first);
        CHECK(first == -1);
      });
}

}  // namespace

TEST_CASE("SCALE_ACCUMULATORS equals the host bit for bit", "[fused]") {
  int v = 0;
  for (sq_dtype t : {SQ_DTYPE_F32, SQ_DTYPE_F64, SQ_DTYPE_F16, SQ_DTYPE_BF16})
    for (bool per_tensor : {false, true})
      for (bool bias : {false, true}) {
        const sq_preference pref = v % 2 ? SQ_PREFERENCE_GPU_PORTABLE : SQ_PREFERENCE_FASTEST;
        check_scale_accumulators({t, 17, 4096, 0, 0, per_tensor, bias, pref});
        check_scale_accumulators({t, 5, 2051, 13, 0, per_tensor, bias, pref});  // a partial last vector
        check_scale_accumulators({t, 3, 333, 2, 1, per_tensor, bias, pref});    // elements: misaligned
        check_scale_accumulators({t, 1, 1, 0, 0, per_tensor, bias, pref});
        ++v;
      }
  for (int64_t m : {1, 2, 3, 8, 16, 17, 63, 64, 65, 1000})
    check_scale_accumulators({SQ_DTYPE_BF16, m, 1000 + m, 0, 0, m % 2 == 0, true, SQ_PREFERENCE_FASTEST});
}

TEST_CASE("SCALE_ACCUMULATORS under CUDA graph capture (per-tensor scale read when the graph runs)", "[fused][graph]") {
  check_scale_accumulators({SQ_DTYPE_BF16, 16, 4096, 0, 0, true, true, SQ_PREFERENCE_FASTEST}, true);
  check_scale_accumulators({SQ_DTYPE_F32, 7, 1000, 4, 0, false, false, SQ_PREFERENCE_FASTEST}, true);
}

TEST_CASE("SCALE_ACCUMULATORS: a small set for compute-sanitizer", "[fused][sanitize]") {
  check_scale_accumulators({SQ_DTYPE_F16, 3, 2051, 13, 0, false, true, SQ_PREFERENCE_FASTEST});
  check_scale_accumulators({SQ_DTYPE_F64, 2, 333, 2, 1, true, true, SQ_PREFERENCE_FASTEST});
}
