// The quantizer kernels (kernels/quantize.hpp), the row-sums pre-pass and SCALE_ACCUMULATORS
// (kernels/scale_accumulators.hpp) launched directly, below the plan, against the independent oracle of
// quant_test_util.hpp (the NUMERICS CONTRACT written out) and, for the epilogue, test_util.hpp's
// oracle_epilogue: every producer, quant mode, x / scale / q dtype, both memory paths (16-byte vectors and
// single elements), rows kept in shared memory and rows too long for it, and on sm_90 every row split
// (1..8 CTAs of a cluster, whatever src/'s launch plan would pick) and the programmatic launch. A row's
// result must not depend on the split, the CTA size or M: every case is checked against the same
// per-row oracle.
#include <catch2/catch.hpp>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "gpu_util.hpp"
#include "kernel_params.hpp"
#include "quant_test_util.hpp"
#include "quantize.hpp"
#include "scale_accumulators.hpp"
#include "test_util.hpp"

using qt::Alias;
using qt::QC;
namespace kn = sq::kernels;

namespace {

kn::Dtype kd(sq_dtype d) { return static_cast<kn::Dtype>(d); }

kn::Producer producer_of(sq_op op) {
  if (op == SQ_OP_RMSNORM_QUANTIZE) return kn::Producer::kRmsNorm;
  if (op == SQ_OP_SILU_MUL_QUANTIZE) return kn::Producer::kSiluMul;
  return kn::Producer::kPlain;
}

kn::QuantMode mode_of(sq_quant_mode m) {
  switch (m) {
    case SQ_QUANT_STATIC: return kn::QuantMode::kStatic;
    case SQ_QUANT_DYNAMIC_ASYMMETRIC: return kn::QuantMode::kDynamicAsym;
    case SQ_QUANT_ABSMAX: return kn::QuantMode::kAbsmax;
    case SQ_QUANT_FROM_ABSMAX: return kn::QuantMode::kFromAbsmax;
    default: return kn::QuantMode::kDynamic;
  }
}

// The parameter block src/ would build for this run (src/plan/params.cpp's job; here by hand).
kn::QuantizeParams params_of(const QC& c, const qt::RunSet& s) {
  kn::QuantizeParams p{};
  p.m = static_cast<int32_t>(c.m);
  p.k = static_cast<int32_t>(c.k);
  p.producer = producer_of(c.op);
  p.mode = mode_of(c.mode);
  p.x = s.x.p();
  p.ld_x = c.ld_x();
  p.x_dtype = kd(c.x);
  if (c.rms()) {
    p.residual = c.residual ? s.res.p() : nullptr;
    p.ld_residual = c.ld();
    p.residual_out = s.res_out_ptr();
    p.ld_residual_out = s.res_out_ld();
    p.norm_weight = s.w.p();
    p.eps = static_cast<float>(c.eps);
  }
  p.smooth = c.smooth ? s.smooth.p() : nullptr;
  p.smooth_dtype = kd(c.s);
  if (c.c() == SQ_DTYPE_F64) {
    const double v = c.act_scale;
    std::memcpy(&p.static_scale_bits, &v, 8);
  } else {
    const float v = static_cast<float>(c.act_scale);
    uint32_t b;
    std::memcpy(&b, &v, 4);
    p.static_scale_bits = b;
  }
  p.static_zp = c.mode == SQ_QUANT_STATIC ? c.zp : 0;
  p.scale_out = c.writes_scale() ? s.scale.p() : nullptr;
  p.scale_dtype = kd(c.s);
  p.zp_out = c.mode == SQ_QUANT_DYNAMIC_ASYMMETRIC ? s.zp.p() : nullptr;
  p.absmax = c.mode == SQ_QUANT_ABSMAX ? s.absmax.p() : (c.mode == SQ_QUANT_FROM_ABSMAX ? s.absmax_in.p() : nullptr);
  p.sums_out = c.sums && c.writes_q() ? static_cast<int32_t*>(s.sums.p()) : nullptr;
  p.q = c.writes_q() ? static_cast<int8_t*>(s.q.p()) : nullptr;
  p.ld_q = c.ld();
  p.q_type = kd(c.q);
  p.row_splits = c.splits;
  p.overlap_previous = c.overlap;
  return p;
}

void prepare_once() {
  static bool done = false;
  if (done) return;
  CUDA_REQUIRE(kn::quantize_prepare());
  CUDA_REQUIRE(kn::row_sums_prepare());
  CUDA_REQUIRE(kn::scale_accumulators_prepare());
  done = true;
}

// Runs the case on the GPU (outputs poisoned on the stream right before the launch, so an overlapped
// launch must wait for the poison) and compares with the oracle.
void check(QC c) {
  if (c.splits > 1 || c.overlap) {
    if (!sqt::is_sm90()) return;  // clusters and programmatic launches: the sm_90 image only
  }
  INFO(c.str());
  prepare_once();
  const qt::Inputs in = qt::make_inputs(c);
  const qt::Outputs want = qt::oracle(c, in);
  qt::RunSet s(c, in, true);
  cudaStream_t stream;
  CUDA_REQUIRE(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  s.reset(in, stream);
  CUDA_REQUIRE(kn::launch_quantize(params_of(c, s), stream));
  CUDA_REQUIRE(cudaStreamSynchronize(stream));
  CUDA_REQUIRE(cudaGetLastError());
  CUDA_REQUIRE(cudaStreamDestroy(stream));
  const std::string d = qt::diff(c, s.outputs(), want);
  INFO(d);
  CHECK(d.empty());
}

const sq_dtype kFloats[] = {SQ_DTYPE_F32, SQ_DTYPE_F64, SQ_DTYPE_F16, SQ_DTYPE_BF16};
const sq_dtype kFusedX[] = {SQ_DTYPE_F32, SQ_DTYPE_F16, SQ_DTYPE_BF16};
const sq_op kOps[] = {SQ_OP_QUANTIZE_DYNAMIC, SQ_OP_RMSNORM_QUANTIZE, SQ_OP_SILU_MUL_QUANTIZE};
const sq_quant_mode kModes[] = {SQ_QUANT_STATIC, SQ_QUANT_DYNAMIC, SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_QUANT_ABSMAX,
                                SQ_QUANT_FROM_ABSMAX};

// A case of op / mode / x / q with the rest cycled by v (smooth, residual and residual_out, sums, S).
QC cycled(sq_op op, sq_quant_mode mode, sq_dtype x, sq_dtype q, int v, int64_t m, int64_t k) {
  QC c;
  c.op = op == SQ_OP_QUANTIZE_DYNAMIC && mode == SQ_QUANT_STATIC ? SQ_OP_QUANTIZE_STATIC : op;
  c.mode = mode;
  c.x = x;
  c.q = q;
  c.s = kFloats[(v / 2) % 4];
  c.m = m;
  c.k = k;
  c.smooth = v % 2 == 1;
  c.residual = v % 3 != 0;
  c.alias = static_cast<Alias>(v % 4);
  if (!c.residual && c.alias == Alias::kResidual) c.alias = Alias::kX;
  c.sums = v % 5 != 1;
  c.zp = mode == SQ_QUANT_STATIC ? (q == SQ_DTYPE_U8 ? 128 - v % 3 : v % 2 ? -3 : 0) : 0;
  c.seed = static_cast<uint64_t>(v) * 7919 + static_cast<uint64_t>(k);
  return c;
}

std::vector<sq_dtype> x_types(sq_op op) {
  if (op == SQ_OP_QUANTIZE_DYNAMIC) return {std::begin(kFloats), std::end(kFloats)};
  return {std::begin(kFusedX), std::end(kFusedX)};
}
std::vector<sq_dtype> q_types(sq_quant_mode m) {
  if (m == SQ_QUANT_STATIC || m == SQ_QUANT_DYNAMIC_ASYMMETRIC) return {SQ_DTYPE_S8, SQ_DTYPE_U8};
  return {SQ_DTYPE_S8};
}

}  // namespace

TEST_CASE("quantizer kernels: every producer, mode, dtype and memory path against the oracle", "[quant_kernels]") {
  int v = 0;
  for (sq_op op : kOps)
    for (sq_quant_mode mode : kModes)
      for (sq_dtype x : x_types(op))
        for (sq_dtype q : q_types(mode)) {
          ++v;
          // Vector path with a partial last vector and edge rows; padded rows.
          QC a = cycled(op, mode, x, q, v, 7, 1029);
          a.edges = true;
          a.pad = 16;
          check(a);
          // Single elements: odd K, rows off 16-byte alignment.
          QC b = cycled(op, mode, x, q, v + 1, 3, 333);
          b.offset = 1;
          b.pad = 3;
          check(b);
          // One short row; two periods of the RMSNorm lanes plus a tail.
          check(cycled(op, mode, x, q, v + 2, 1, 5));
          check(cycled(op, mode, x, q, v + 3, 2, 2 * 2048 + 24));
        }
}

TEST_CASE("quantizer kernels: M and K sweep (one CTA per row)", "[quant_kernels]") {
  int v = 0;
  for (int64_t m : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 63, 64, 65}) {
    for (int64_t k : {1, 8, 31, 2047, 2048, 2049, 4096, 5003}) {
      const sq_op op = kOps[v % 3];
      const sq_quant_mode mode = kModes[(v / 3) % 5];
      const std::vector<sq_dtype> xs = x_types(op);
      const std::vector<sq_dtype> qs = q_types(mode);
      QC c = cycled(op, mode, xs[v % xs.size()], qs[v % qs.size()], v, m, k);
      c.edges = m >= 6 && v % 2 == 0;
      check(c);
      ++v;
    }
  }
}

TEST_CASE("quantizer kernels: rows split over a cluster (sm_90), lanes split, not K", "[quant_kernels]") {
  if (!sqt::is_sm90()) {
    WARN("not an sm_90 GPU: row splits are not used here");
    return;
  }
  int v = 0;
  for (sq_op op : kOps)
    for (int splits : {2, 3, 4, 5, 7, 8})
      for (int64_t k : {int64_t{4096}, int64_t{6151}, int64_t{14336}, int64_t{28672}}) {
        const sq_quant_mode mode = kModes[v % 5];
        const std::vector<sq_dtype> xs = x_types(op);
        QC c = cycled(op, mode, xs[v % xs.size()], q_types(mode)[v % q_types(mode).size()], v, v % 2 ? 1 : 6, k);
        c.splits = splits;
        c.edges = c.m >= 6;
        c.offset = k == 6151 ? 1 : 0;  // single elements
        c.overlap = v % 3 == 0;
        check(c);
        ++v;
      }
}

TEST_CASE("quantizer kernels: rows longer than the shared-memory cache re-read x", "[quant_kernels]") {
  // f32 rows of 28672 (112 KiB of v) and RMSNorm rows of 24576 f32 (96 KiB + the lanes) do not fit one
  // CTA's cache: x is read again in each pass; RMSNorm's residual_out (aliasing residual or x) is then
  // written only in the last pass. Split over 2 CTAs (sm_90) they fit again.
  int v = 0;
  for (int splits : {1, 2}) {
    for (sq_quant_mode mode : {SQ_QUANT_DYNAMIC, SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_QUANT_ABSMAX, SQ_QUANT_STATIC}) {
      for (Alias alias : {Alias::kResidual, Alias::kX, Alias::kSeparate}) {
        QC r = cycled(SQ_OP_RMSNORM_QUANTIZE, mode, SQ_DTYPE_F32, SQ_DTYPE_S8, v++, 6, 24576 + 5);
        r.residual = true;
        r.alias = alias;
        r.edges = true;
        r.splits = splits;
        check(r);
      }
      check([&] { QC c = cycled(SQ_OP_QUANTIZE_DYNAMIC, mode, SQ_DTYPE_F32, SQ_DTYPE_S8, v++, 6, 28672); c.edges = true; c.splits = splits; return c; }());
      check([&] { QC c = cycled(SQ_OP_QUANTIZE_DYNAMIC, mode, SQ_DTYPE_F64, SQ_DTYPE_S8, v++, 3, 14339); c.splits = splits; return c; }());
      check([&] { QC c = cycled(SQ_OP_SILU_MUL_QUANTIZE, mode, SQ_DTYPE_BF16, SQ_DTYPE_S8, v++, 6, 28672); c.edges = true; c.splits = splits; return c; }());
    }
  }
}

TEST_CASE("quantizer kernels: M = 1000 (more than one wave: two units per thread)", "[quant_kernels]") {
  QC r = cycled(SQ_OP_RMSNORM_QUANTIZE, SQ_QUANT_DYNAMIC, SQ_DTYPE_BF16, SQ_DTYPE_S8, 0, 1000, 4096);
  r.residual = true;
  r.alias = Alias::kResidual;
  r.sums = true;
  r.edges = true;
  check(r);
  QC s = cycled(SQ_OP_SILU_MUL_QUANTIZE, SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_DTYPE_F16, SQ_DTYPE_U8, 1, 1000, 3584);
  s.edges = true;
  check(s);
  QC p = cycled(SQ_OP_QUANTIZE_DYNAMIC, SQ_QUANT_DYNAMIC, SQ_DTYPE_BF16, SQ_DTYPE_S8, 2, 1000, 8192);
  p.edges = true;
  check(p);
}

TEST_CASE("quantizer kernels: a small set for compute-sanitizer", "[quant_kernels][sanitize]") {
  int v = 0;
  for (sq_op op : kOps)
    for (sq_quant_mode mode : kModes) {
      QC c = cycled(op, mode, SQ_DTYPE_BF16, SQ_DTYPE_S8, v, 6, v % 2 ? 333 : 2100);
      c.edges = true;
      c.offset = v % 2;
      check(c);
      c.splits = 3;  // sm_90 only
      c.overlap = true;
      check(c);
      ++v;
    }
  QC r = cycled(SQ_OP_RMSNORM_QUANTIZE, SQ_QUANT_DYNAMIC, SQ_DTYPE_F32, SQ_DTYPE_S8, 4, 2, 24581);  // no cache
  r.residual = true;
  r.alias = Alias::kX;
  check(r);
}

// ------------------------------------------------------------------ the row-sums pre-pass
namespace {

void check_row_sums(sq_dtype t, int64_t m, int64_t k, int64_t ld, int64_t offset) {
  CAPTURE(qt::dname(t), m, k, ld, offset);
  prepare_once();
  qt::Rng rng(static_cast<uint64_t>(m * 131 + k));
  qt::Arr a(t, static_cast<size_t>(m * ld));
  for (size_t i = 0; i < a.n(); ++i) a.set(i, t == SQ_DTYPE_U8 ? double(rng.next() % 256) : double(int(rng.next() % 256) - 128));
  if (m > 1)
    for (int64_t i = 0; i < k; ++i) a.set(static_cast<size_t>(ld + i), t == SQ_DTYPE_U8 ? 255 : -128);  // extremes
  std::vector<int32_t> want(static_cast<size_t>(m + 1), -1);
  for (int64_t r = 0; r < m; ++r) {
    int64_t s = 0;
    for (int64_t i = 0; i < k; ++i) s += static_cast<int64_t>(a.get(static_cast<size_t>(r * ld + i)));
    want[static_cast<size_t>(r)] = static_cast<int32_t>(s);
  }
  qt::Mem da(true, a, offset);
  qt::Mem ds(true, qt::Arr::poisoned(SQ_DTYPE_S32, static_cast<size_t>(m + 1)), 0);
  kn::RowSumsParams p{};
  p.m = static_cast<int32_t>(m);
  p.k = static_cast<int32_t>(k);
  p.a = static_cast<const int8_t*>(da.p());
  p.ld_a = ld;
  p.a_type = kd(t);
  p.sums = static_cast<int32_t*>(ds.p());
  CUDA_REQUIRE(kn::launch_row_sums(p, nullptr));
  CUDA_REQUIRE(cudaDeviceSynchronize());
  const qt::Arr got = ds.fetch();
  for (int64_t r = 0; r <= m; ++r) {
    INFO("row " << r);
    CHECK(static_cast<int32_t>(got.get(static_cast<size_t>(r))) == want[static_cast<size_t>(r)]);
  }
}

}  // namespace

TEST_CASE("row sums pre-pass: exact int32 sums of s8 and u8 rows", "[quant_kernels][sanitize]") {
  for (sq_dtype t : {SQ_DTYPE_S8, SQ_DTYPE_U8}) {
    check_row_sums(t, 1, 1, 1, 0);
    check_row_sums(t, 5, 4096, 4096, 0);        // 16-byte loads
    check_row_sums(t, 17, 1000, 1008, 0);       // with a tail
    check_row_sums(t, 3, 333, 335, 1);          // single bytes
    check_row_sums(t, 2, 33025, 33040, 0);      // the zero-point plans' max_k, every value extreme in row 1
    check_row_sums(t, 1000, 64, 64, 0);
  }
}

// ------------------------------------------------------------------ SCALE_ACCUMULATORS
namespace {

void check_scale_acc(sq_dtype t, int64_t m, int64_t n, int64_t ld_acc, int64_t ld_out, bool per_tensor, bool bias,
                     int64_t offset) {
  CAPTURE(qt::dname(t), m, n, ld_acc, ld_out, per_tensor, bias, offset);
  prepare_once();
  qt::Rng rng(static_cast<uint64_t>(m * 977 + n));
  qt::Arr acc(SQ_DTYPE_S32, static_cast<size_t>(m * ld_acc));
  for (size_t i = 0; i < acc.n(); ++i) acc.set(i, static_cast<double>(static_cast<int32_t>(rng.next())) / (i % 5 ? 4096.0 : 1.0));
  qt::Arr rs(t, static_cast<size_t>(per_tensor ? 1 : m)), ws(t, static_cast<size_t>(n)), b(t, static_cast<size_t>(n));
  for (size_t i = 0; i < rs.n(); ++i) rs.set(i, rng.log_uniform(1e-4, 1e-1));
  for (size_t i = 0; i < ws.n(); ++i) ws.set(i, rng.log_uniform(1e-4, 1e-1));
  for (size_t i = 0; i < b.n(); ++i) b.set(i, rng.uniform(-1, 1));
  // The oracle of test_util.hpp: acc [m, n] packed, a row scale per row.
  std::vector<int32_t> packed(static_cast<size_t>(m * n));
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < n; ++c) packed[static_cast<size_t>(r * n + c)] = static_cast<int32_t>(acc.get(static_cast<size_t>(r * ld_acc + c)));
  sqt::Buf wsb(t, static_cast<size_t>(n)), bb(t, static_cast<size_t>(n)), rsb(t, static_cast<size_t>(m)), outb(t, static_cast<size_t>(m * ld_out));
  std::memcpy(wsb.data(), ws.p(), ws.b.size());
  std::memcpy(bb.data(), b.p(), b.b.size());
  for (int64_t r = 0; r < m; ++r) std::memcpy(rsb.at(static_cast<size_t>(r)), rs.b.data() + (per_tensor ? 0 : r) * qt::esize(t), qt::esize(t));
  outb.poison();
  sqt::oracle_epilogue(m, n, packed, wsb, bias ? &bb : nullptr, rsb, outb, ld_out);

  qt::Mem dacc(true, acc, offset), drs(true, rs, 0), dws(true, ws, offset), db(true, b, offset);
  qt::Mem dout(true, qt::Arr::poisoned(t, static_cast<size_t>(m * ld_out)), offset);
  kn::ScaleAccumulatorsParams p{};
  p.m = static_cast<int32_t>(m);
  p.n = static_cast<int32_t>(n);
  p.acc = static_cast<const int32_t*>(dacc.p());
  p.ld_acc = ld_acc;
  p.row_scale = drs.p();
  p.row_scale_per_tensor = per_tensor;
  p.weight_scale = dws.p();
  p.bias = bias ? db.p() : nullptr;
  p.out = dout.p();
  p.ld_out = ld_out;
  p.dtype = kd(t);
  CUDA_REQUIRE(kn::launch_scale_accumulators(p, nullptr));
  CUDA_REQUIRE(cudaDeviceSynchronize());
  const qt::Arr got = dout.fetch();
  const int64_t first = [&] {
    for (size_t i = 0; i < got.n(); ++i)
      if (std::memcmp(got.b.data() + i * qt::esize(t), outb.at(i), qt::esize(t)) != 0) return static_cast<int64_t>(i);
    return int64_t{-1};
  }();
  INFO("first difference at element " << first);
  CHECK(first == -1);
}

}  // namespace

TEST_CASE("SCALE_ACCUMULATORS kernel: the linears' epilogue on int32 accumulators", "[quant_kernels][sanitize]") {
  for (sq_dtype t : {SQ_DTYPE_F32, SQ_DTYPE_F64, SQ_DTYPE_F16, SQ_DTYPE_BF16}) {
    for (bool per_tensor : {false, true}) {
      check_scale_acc(t, 5, 4096, 4096, 4096, per_tensor, true, 0);   // vectors
      check_scale_acc(t, 3, 2051, 2052, 2056, per_tensor, false, 0);  // vectors and a partial last vector
      check_scale_acc(t, 4, 333, 335, 337, per_tensor, true, 1);      // elements
      check_scale_acc(t, 1, 1, 1, 1, per_tensor, true, 0);
    }
    check_scale_acc(t, 1000, 96, 96, 100, false, true, 0);
    check_scale_acc(t, 2, 20000, 20000, 20000, false, true, 0);  // several tiles per row
  }
}

// ------------------------------------------------------------------ bandwidth (not run by default)
// `sq_quant_kernel_tests "[quant_perf]"`: each kernel's time against its read + write floor (the bytes
// below; norm_weight, smooth and the column vectors are read from L2 by every row and not counted), as a
// fraction of the device-to-device copy bandwidth measured in the same run (issue 20's target: >= 80% from
// 16 MB of traffic up). Inputs are a constant finite byte pattern: the time does not depend on the values.
namespace {

struct Timer {
  cudaEvent_t a, b;
  Timer() {
    CUDA_REQUIRE(cudaEventCreate(&a));
    CUDA_REQUIRE(cudaEventCreate(&b));
  }
  ~Timer() {
    cudaEventDestroy(a);
    cudaEventDestroy(b);
  }
  // Median of `reps` timed runs of f (after two warm-up runs), in microseconds.
  template <typename F>
  double median_us(F&& f, int reps = 20) {
    f();
    f();
    std::vector<float> t;
    for (int r = 0; r < reps; ++r) {
      CUDA_REQUIRE(cudaEventRecord(a));
      f();
      CUDA_REQUIRE(cudaEventRecord(b));
      CUDA_REQUIRE(cudaEventSynchronize(b));
      float ms = 0;
      CUDA_REQUIRE(cudaEventElapsedTime(&ms, a, b));
      t.push_back(ms);
    }
    std::sort(t.begin(), t.end());
    return 1000.0 * t[t.size() / 2];
  }
};

struct DevArr {
  void* p = nullptr;
  explicit DevArr(size_t bytes) {
    CUDA_REQUIRE(cudaMalloc(&p, std::max<size_t>(bytes, 16)));
    CUDA_REQUIRE(cudaMemset(p, 0x3C, std::max<size_t>(bytes, 16)));  // finite in every float dtype
  }
  ~DevArr() { cudaFree(p); }
};

// Copy bandwidth (bytes read + written per second) over `bytes` of traffic.
double copy_bandwidth(size_t bytes) {
  DevArr src(bytes / 2), dst(bytes / 2);
  Timer t;
  const double us = t.median_us([&] { CUDA_REQUIRE(cudaMemcpyAsync(dst.p, src.p, bytes / 2, cudaMemcpyDeviceToDevice)); });
  return static_cast<double>(bytes / 2 * 2) / (us * 1e-6);
}

void report(const char* what, int64_t m, int64_t k, double bytes, double us, double copy) {
  const double bw = bytes / (us * 1e-6);
  std::printf("%-44s M=%6lld K=%6lld  %9.1f MB  %9.2f us  %7.1f GB/s  %5.1f%% of copy\n", what, static_cast<long long>(m),
              static_cast<long long>(k), bytes / 1e6, us, bw / 1e9, 100.0 * bw / copy);
}

// One quantizer launch of m rows (bf16 x unless said) and its floor in bytes.
void time_quantize(Timer& t, double copy, const char* what, kn::Producer producer, kn::QuantMode mode, sq_dtype x,
                   int64_t m, int64_t k, bool residual, int splits = 1) {
  const size_t xs = qt::esize(x), cols = static_cast<size_t>(producer == kn::Producer::kSiluMul ? 2 * k : k);
  const size_t mk = static_cast<size_t>(m * k);
  DevArr dx(m * cols * xs), dres(residual ? mk * xs : 0), dw(k * xs), dq(mk), dscale(m * 4), dzp(m), dabs(m * 8);
  kn::QuantizeParams p{};
  p.m = static_cast<int32_t>(m);
  p.k = static_cast<int32_t>(k);
  p.producer = producer;
  p.mode = mode;
  p.x = dx.p;
  p.ld_x = static_cast<int64_t>(cols);
  p.x_dtype = kd(x);
  p.residual = residual ? dres.p : nullptr;
  p.ld_residual = k;
  p.residual_out = residual ? dres.p : nullptr;  // in place, as engines call it
  p.ld_residual_out = k;
  p.norm_weight = dw.p;
  p.eps = 1e-5f;
  const float one = 0.0117f;
  uint32_t bits;
  std::memcpy(&bits, &one, 4);
  p.static_scale_bits = bits;
  p.scale_out = dscale.p;
  p.scale_dtype = kn::Dtype::F32;
  p.zp_out = dzp.p;
  p.absmax = dabs.p;
  p.q = mode == kn::QuantMode::kAbsmax ? nullptr : static_cast<int8_t*>(dq.p);
  p.ld_q = k;
  p.q_type = kn::Dtype::S8;
  p.row_splits = splits;
  double bytes = static_cast<double>(m * cols * xs);                            // x
  if (residual) bytes += 2.0 * static_cast<double>(mk * xs);                     // residual in, residual_out
  if (mode != kn::QuantMode::kAbsmax) bytes += static_cast<double>(mk);          // q
  bytes += static_cast<double>(m) * (mode == kn::QuantMode::kStatic ? 0 : 4);    // scales / absmax
  const double us = t.median_us([&] { CUDA_REQUIRE(kn::launch_quantize(p, nullptr)); });
  report(what, m, k, bytes, us, copy);
}

}  // namespace

TEST_CASE("quantizer kernels: bandwidth against the copy bandwidth (prints a table)", "[.][quant_perf]") {
  prepare_once();
  const double copy = copy_bandwidth(size_t{256} << 20);
  std::printf("device-to-device copy: %.1f GB/s (read + write)\n", copy / 1e9);
  Timer t;
  using P = kn::Producer;
  using Q = kn::QuantMode;
  for (int64_t m : {512, 2048, 8192}) {
    for (int64_t k : {4096, 8192}) {
      time_quantize(t, copy, "rmsnorm bf16 +residual in place, dynamic", P::kRmsNorm, Q::kDynamic, SQ_DTYPE_BF16, m, k, true);
      time_quantize(t, copy, "rmsnorm bf16, dynamic", P::kRmsNorm, Q::kDynamic, SQ_DTYPE_BF16, m, k, false);
      time_quantize(t, copy, "rmsnorm bf16 +residual in place, static", P::kRmsNorm, Q::kStatic, SQ_DTYPE_BF16, m, k, true);
    }
    for (int64_t k : {4096, 14336}) {
      time_quantize(t, copy, "quantize bf16, dynamic", P::kPlain, Q::kDynamic, SQ_DTYPE_BF16, m, k, false);
      time_quantize(t, copy, "quantize bf16, dynamic asymmetric", P::kPlain, Q::kDynamicAsym, SQ_DTYPE_BF16, m, k, false);
      time_quantize(t, copy, "quantize bf16, static", P::kPlain, Q::kStatic, SQ_DTYPE_BF16, m, k, false);
      time_quantize(t, copy, "quantize f32, dynamic", P::kPlain, Q::kDynamic, SQ_DTYPE_F32, m, k, false);
    }
    for (int64_t k : {3584, 14336}) {
      time_quantize(t, copy, "silu_mul bf16, dynamic", P::kSiluMul, Q::kDynamic, SQ_DTYPE_BF16, m, k, false);
      time_quantize(t, copy, "silu_mul bf16, static", P::kSiluMul, Q::kStatic, SQ_DTYPE_BF16, m, k, false);
      time_quantize(t, copy, "silu_mul f32, dynamic", P::kSiluMul, Q::kDynamic, SQ_DTYPE_F32, m, k, false);
    }
  }
  if (sqt::is_sm90())
    for (int64_t m : {1, 8, 16})
      for (int splits : {1, 2, 4}) {
        time_quantize(t, copy, splits == 1 ? "decode rmsnorm bf16 +res, 1 CTA/row" : "decode rmsnorm bf16 +res, split", P::kRmsNorm,
                      Q::kDynamic, SQ_DTYPE_BF16, m, 8192, true, splits);
        time_quantize(t, copy, splits == 1 ? "decode silu_mul bf16, 1 CTA/row" : "decode silu_mul bf16, split", P::kSiluMul,
                      Q::kDynamic, SQ_DTYPE_BF16, m, 14336, false, splits);
      }
  // SCALE_ACCUMULATORS (bf16 out) and the row sums.
  for (int64_t m : {512, 4096}) {
    const int64_t n = 8192;
    DevArr acc(m * n * 4), out(m * n * 2), rs(m * 2), ws(n * 2), b(n * 2), sums(m * 4);
    kn::ScaleAccumulatorsParams p{};
    p.m = static_cast<int32_t>(m);
    p.n = static_cast<int32_t>(n);
    p.acc = static_cast<const int32_t*>(acc.p);
    p.ld_acc = n;
    p.row_scale = rs.p;
    p.weight_scale = ws.p;
    p.bias = b.p;
    p.out = out.p;
    p.ld_out = n;
    p.dtype = kn::Dtype::BF16;
    report("scale_accumulators int32 -> bf16 + bias", m, n, static_cast<double>(m * n * 6),
           t.median_us([&] { CUDA_REQUIRE(kn::launch_scale_accumulators(p, nullptr)); }), copy);
    kn::RowSumsParams r{};
    r.m = static_cast<int32_t>(m);
    r.k = static_cast<int32_t>(n);
    r.a = static_cast<const int8_t*>(acc.p);
    r.ld_a = n;
    r.a_type = kn::Dtype::S8;
    r.sums = static_cast<int32_t*>(sums.p);
    report("row sums s8", m, n, static_cast<double>(m * n + m * 4), t.median_us([&] { CUDA_REQUIRE(kn::launch_row_sums(r, nullptr)); }),
           copy);
  }
}
