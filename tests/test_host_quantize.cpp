// The host activation quantizers (SQ_OP_QUANTIZE_STATIC, SQ_OP_QUANTIZE_DYNAMIC) and the host
// SQ_OP_QUANTIZED_LINEAR, through the C API, against an independent oracle written here: divisions
// of f32 values done in double and rounded once to f32 (exact for +-*/), round half to even and
// saturation written out with floor, scale rounding through CUDA's own host conversions.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "test_util.hpp"

using namespace sqt;

namespace {

// Canonical quiet NaN of each scale dtype: what a dynamic row holding a NaN stores.
uint64_t canonical_nan_bits(sq_dtype d) {
  switch (d) {
    case SQ_DTYPE_F32: return 0x7fc00000u;
    case SQ_DTYPE_F64: return 0x7ff8000000000000ull;
    case SQ_DTYPE_F16: return 0x7e00u;
    case SQ_DTYPE_BF16: return 0x7fc0u;
    default: return 0;
  }
}

uint64_t bits_at(const Buf& b, size_t i) {
  uint64_t v = 0;
  std::memcpy(&v, b.at(i), dtype_size(b.dtype));
  return v;
}

// Round half to even, then saturate to int8; NaN -> 0. Written without nearbyint.
int8_t oracle_sat_rne(double v) {
  if (std::isnan(v)) return 0;
  if (v >= 127.0) return 127;
  if (v <= -128.0) return -128;
  const double f = std::floor(v);
  const double frac = v - f;  // exact: |v| < 2^8
  double r = f;
  if (frac > 0.5 || (frac == 0.5 && std::fmod(f, 2.0) != 0.0)) r = f + 1.0;
  return static_cast<int8_t>(r);
}

// a / b in the compute type: f64 directly; f32 through double, rounded once (innocuous for /).
double div_c(bool f64, double a, double b) {
  if (f64) return a / b;
  return static_cast<double>(static_cast<float>(static_cast<double>(static_cast<float>(a)) /
                                                static_cast<double>(static_cast<float>(b))));
}
double to_c(bool f64, double v) { return f64 ? v : static_cast<double>(static_cast<float>(v)); }

// The contract's quantizers. q: m x ldq (only [m, k] written); scale: [m] of its dtype (dynamic).
void oracle_quantize(bool dynamic, const Buf& x, int64_t ldx, const Buf* smooth, double act_scale, int64_t m,
                     int64_t k, std::vector<int8_t>& q, int64_t ldq, Buf* scale) {
  const bool f64 = x.dtype == SQ_DTYPE_F64;
  std::vector<double> v(static_cast<size_t>(k));
  for (int64_t r = 0; r < m; ++r) {
    bool nan = false;
    double amax = 0.0;
    for (int64_t i = 0; i < k; ++i) {
      const double xi = to_c(f64, x.get(static_cast<size_t>(r * ldx + i)));
      v[i] = smooth ? div_c(f64, xi, to_c(f64, smooth->get(static_cast<size_t>(i)))) : xi;
      if (std::isnan(v[i])) nan = true;
      else amax = std::max(amax, std::fabs(v[i]));
    }
    double s = to_c(f64, act_scale);
    bool ok = true;
    if (dynamic) {
      const double raw = div_c(f64, amax, 127.0);
      scale->set(static_cast<size_t>(r), raw);
      if (nan) {
        const uint64_t b = canonical_nan_bits(scale->dtype);
        std::memcpy(scale->at(static_cast<size_t>(r)), &b, dtype_size(scale->dtype));
      }
      s = to_c(f64, scale->get(static_cast<size_t>(r)));
      ok = std::isfinite(s) && s > 0.0;
    }
    for (int64_t i = 0; i < k; ++i)
      q[static_cast<size_t>(r * ldq + i)] = ok ? oracle_sat_rne(div_c(f64, v[i], s)) : int8_t(0);
  }
}

// Random activations in [-range, range] with a few outlier channels (never all zero).
Buf random_x(sq_dtype d, int64_t rows, int64_t ld, double range) {
  Buf b = random_values(d, static_cast<size_t>(rows * ld), -range, range);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < ld; c += 7) b.set(static_cast<size_t>(r * ld + c), b.get(static_cast<size_t>(r * ld + c)) * 20.0);
  return b;
}

struct Case {
  sq_dtype x, scale;  // scale: dynamic scale dtype / smooth dtype (INVALID: static without smooth)
  bool dynamic, smooth;
  int64_t m, k, pad;
  unsigned threads;
};

// Runs one quantize op on the host plan and compares q (and the scales) bit for bit with the oracle.
// Padding of q and the scale entry past m must keep their poison.
void check_quantize(const Case& c) {
  CAPTURE(dtype_str(c.x), dtype_str(c.scale), c.dynamic, c.smooth, c.m, c.k, c.pad, c.threads);
  const int64_t ldx = c.k + c.pad, ldq = c.k + c.pad;
  Buf x = random_x(c.x, c.m, ldx, 1.0);
  Buf smooth;
  if (c.smooth) smooth = random_scales(c.scale, static_cast<size_t>(c.k), 0.05, 20.0);
  const double act_scale = 0.03125 * 0.37;
  sq_plan_desc d = quantize_desc(c.dynamic ? SQ_OP_QUANTIZE_DYNAMIC : SQ_OP_QUANTIZE_STATIC, c.x, c.scale, c.k,
                                 c.m + 2, c.dynamic ? 0.0 : act_scale);
  d.host_threads = c.threads;
  sq_plan plan = nullptr;
  REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &plan) == SQ_STATUS_SUCCESS);
  std::vector<int8_t> q(static_cast<size_t>(c.m * ldq), int8_t(0x5a)), want(q);
  Buf scale(c.dynamic ? c.scale : SQ_DTYPE_F32, static_cast<size_t>(c.m + 1));
  Buf want_scale = scale;
  scale.poison();
  sq_run_args a = run_args();
  a.m = c.m;
  a.act = x.data();
  a.ld_act = c.pad ? ldx : 0;
  a.smooth = c.smooth ? smooth.data() : nullptr;
  a.act_scale_scratch = c.dynamic ? scale.data() : nullptr;
  a.out = q.data();
  a.ld_out = c.pad ? ldq : 0;
  REQUIRE(sq_plan_run(plan, nullptr, nullptr, 0, &a) == SQ_STATUS_SUCCESS);
  oracle_quantize(c.dynamic, x, ldx, c.smooth ? &smooth : nullptr, act_scale, c.m, c.k, want, ldq, &want_scale);
  for (size_t i = 0; i < q.size(); ++i) {
    INFO("q element " << i << " (row " << i / ldq << ", col " << i % ldq << ")");
    REQUIRE(int(q[i]) == int(want[i]));
  }
  if (c.dynamic) {
    for (int64_t r = 0; r < c.m; ++r) {
      INFO("scale row " << r);
      REQUIRE(bits_at(scale, static_cast<size_t>(r)) == bits_at(want_scale, static_cast<size_t>(r)));
    }
    Buf poison(c.scale, 1);
    poison.poison();
    REQUIRE(bits_at(scale, static_cast<size_t>(c.m)) == bits_at(poison, 0));
  }
  REQUIRE(sq_plan_destroy(plan) == SQ_STATUS_SUCCESS);
}

const sq_dtype kFloats[] = {SQ_DTYPE_F32, SQ_DTYPE_F64, SQ_DTYPE_F16, SQ_DTYPE_BF16};

// Runs op on rows given as doubles (converted to x_dtype), returns q and (dynamic) the scale buffer.
struct Ran {
  std::vector<int8_t> q;
  Buf scale;
};
Ran run_rows(bool dynamic, sq_dtype xd, sq_dtype sd, const std::vector<std::vector<double>>& rows, double act_scale,
             const Buf* smooth = nullptr) {
  const int64_t m = static_cast<int64_t>(rows.size()), k = static_cast<int64_t>(rows[0].size());
  Buf x(xd, static_cast<size_t>(m * k));
  for (int64_t r = 0; r < m; ++r)
    for (int64_t i = 0; i < k; ++i) x.set(static_cast<size_t>(r * k + i), rows[r][i]);
  sq_plan_desc d = quantize_desc(dynamic ? SQ_OP_QUANTIZE_DYNAMIC : SQ_OP_QUANTIZE_STATIC, xd, sd, k, m, act_scale);
  d.host_threads = 1;
  sq_plan plan = nullptr;
  REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &plan) == SQ_STATUS_SUCCESS);
  Ran out;
  out.q.assign(static_cast<size_t>(m * k), int8_t(0x5a));
  out.scale = Buf(dynamic ? sd : SQ_DTYPE_F32, static_cast<size_t>(m));
  out.scale.poison();
  sq_run_args a = run_args();
  a.m = m;
  a.act = x.data();
  a.smooth = smooth ? smooth->data() : nullptr;
  a.act_scale_scratch = dynamic ? out.scale.data() : nullptr;
  a.out = out.q.data();
  REQUIRE(sq_plan_run(plan, nullptr, nullptr, 0, &a) == SQ_STATUS_SUCCESS);
  REQUIRE(sq_plan_destroy(plan) == SQ_STATUS_SUCCESS);
  return out;
}

std::vector<int> as_ints(const std::vector<int8_t>& q, size_t begin, size_t n) {
  std::vector<int> v;
  for (size_t i = 0; i < n; ++i) v.push_back(q[begin + i]);
  return v;
}

}  // namespace

TEST_CASE("host static quantize matches the oracle for every input and smooth dtype", "[host_quantize]") {
  for (sq_dtype x : kFloats) {
    check_quantize({x, SQ_DTYPE_INVALID, false, false, 5, 67, 0, 1});
    for (sq_dtype s : kFloats) check_quantize({x, s, false, true, 4, 33, 3, 1});
  }
}

TEST_CASE("host dynamic quantize matches the oracle for every input and scale dtype", "[host_quantize]") {
  for (sq_dtype x : kFloats) {
    for (sq_dtype s : kFloats) {
      check_quantize({x, s, true, false, 5, 45, 0, 1});
      check_quantize({x, s, true, true, 3, 130, 5, 1});
    }
  }
  check_quantize({SQ_DTYPE_F32, SQ_DTYPE_F32, true, true, 1, 1, 0, 1});  // M = 1, K = 1
}

TEST_CASE("host quantize: threads do not change the bits", "[host_quantize]") {
  // Large enough that the row range is split over threads.
  check_quantize({SQ_DTYPE_F16, SQ_DTYPE_F16, true, true, 37, 4099, 1, 4});
  check_quantize({SQ_DTYPE_BF16, SQ_DTYPE_F32, false, true, 37, 4099, 0, 3});
  check_quantize({SQ_DTYPE_F64, SQ_DTYPE_F64, true, false, 29, 4097, 0, 0});
}

TEST_CASE("host static quantize: ties to even, saturation, NaN and infinities", "[host_quantize]") {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  // act_scale 0.25: v / scale = 4 v exactly.
  const std::vector<double> row = {0.625, 0.875, -0.625, 0.125, -0.125, 31.875, -32.125, -31.875, 1e6, -1e6,
                                   nan,   inf,   -inf,   0.0,   -0.0,   0.375};
  const std::vector<int> want = {2, 4, -2, 0, 0, 127, -128, -128, 127, -128, 0, 127, -128, 0, 0, 2};
  for (sq_dtype x : kFloats) {
    CAPTURE(dtype_str(x));
    Ran r = run_rows(false, x, SQ_DTYPE_INVALID, {row}, 0.25);
    CHECK(as_ints(r.q, 0, row.size()) == want);
  }
}

TEST_CASE("host dynamic quantize: zero, NaN and infinite rows, ties, tiny scales", "[host_quantize]") {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  for (sq_dtype x : kFloats) {
    for (sq_dtype s : kFloats) {
      CAPTURE(dtype_str(x), dtype_str(s));
      // Row 0: amax 127 -> scale 1; ties go to even. Row 1: zeros. Row 2: a NaN. Row 3: +Inf.
      // Row 4: -Inf. Row 5: NaN and Inf (NaN wins).
      const std::vector<std::vector<double>> rows = {
          {127, 2.5, 3.5, -0.5, 0.5, 1.5, -1.5, -127},
          {0, -0.0, 0, 0, 0, 0, 0, 0},
          {1, 2, nan, 3, 4, 5, 6, 7},
          {1, inf, 3, 4, 5, 6, 7, 8},
          {-inf, 2, 3, 4, 5, 6, 7, 8},
          {inf, nan, 3, 4, 5, 6, 7, 8},
      };
      Ran r = run_rows(true, x, s, rows, 0.0);
      CHECK(as_ints(r.q, 0, 8) == std::vector<int>{127, 2, 4, 0, 0, 2, -2, -127});
      CHECK(r.scale.get(0) == 1.0);
      for (int row = 1; row < 6; ++row) CHECK(as_ints(r.q, static_cast<size_t>(row * 8), 8) == std::vector<int>(8, 0));
      uint64_t zero = 0;
      CHECK(bits_at(r.scale, 1) == zero);  // +0: |-0| = +0
      CHECK(bits_at(r.scale, 2) == canonical_nan_bits(s));
      CHECK(std::isinf(r.scale.get(3)));
      CHECK(r.scale.get(3) > 0);
      CHECK(std::isinf(r.scale.get(4)));
      CHECK(r.scale.get(4) > 0);
      CHECK(bits_at(r.scale, 5) == canonical_nan_bits(s));
    }
  }
  // A scale that rounds to 0 in S (f16 underflow) gives q 0; one that overflows S gives +Inf and q 0.
  Ran tiny = run_rows(true, SQ_DTYPE_F32, SQ_DTYPE_F16, {{1e-9, -2e-9, 3e-10}}, 0.0);
  CHECK(bits_at(tiny.scale, 0) == 0u);
  CHECK(as_ints(tiny.q, 0, 3) == std::vector<int>{0, 0, 0});
  Ran huge = run_rows(true, SQ_DTYPE_F32, SQ_DTYPE_F16, {{1e7, 1.0, -5e6}}, 0.0);
  CHECK(std::isinf(huge.scale.get(0)));
  CHECK(as_ints(huge.q, 0, 3) == std::vector<int>{0, 0, 0});
}

TEST_CASE("host dynamic quantize: fused smoothing divides before the abs-max", "[host_quantize]") {
  // smooth 2 and 0.5: v = {127, 2.5 * ... }; x / s then amax / 127.
  Buf smooth(SQ_DTYPE_F32, 4);
  smooth.set(0, 2.0);
  smooth.set(1, 0.5);
  smooth.set(2, 4.0);
  smooth.set(3, 1.0);
  Ran r = run_rows(true, SQ_DTYPE_F32, SQ_DTYPE_F32, {{254.0, 1.25, 14.0, -127.0}}, 0.0, &smooth);
  CHECK(r.scale.get(0) == 1.0);
  CHECK(as_ints(r.q, 0, 4) == std::vector<int>{127, 2, 4, -127});  // 2.5 -> 2, 3.5 -> 4
}

TEST_CASE("host quantized linear equals dynamic quantize then the linear oracle", "[host_quantize]") {
  for (sq_dtype t : kFloats) {
    for (sq_dtype x : kFloats) {
      for (int variant = 0; variant < 2; ++variant) {
        const bool with_bias = variant == 0, with_smooth = variant == 1;
        const int64_t m = 5, n = 7, k = 41;
        CAPTURE(dtype_str(t), dtype_str(x), with_bias, with_smooth);
        Buf xs = random_x(x, m, k, 3.0);
        auto w = random_s8(static_cast<size_t>(n * k));
        Buf ws = random_scales(t, static_cast<size_t>(n));
        Buf bias = random_values(t, static_cast<size_t>(n), -1.0, 1.0);
        Buf smooth = random_scales(t, static_cast<size_t>(k), 0.1, 10.0);
        sq_plan_desc d = linear_desc(t, n, k, m, 0.0);
        d.op = SQ_OP_QUANTIZED_LINEAR;
        d.act_dtype = x;
        d.host_threads = 2;
        sq_plan plan = nullptr;
        REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &plan) == SQ_STATUS_SUCCESS);
        size_t ws_bytes = 0;
        REQUIRE(sq_plan_workspace_size(plan, &ws_bytes) == SQ_STATUS_SUCCESS);
        REQUIRE(ws_bytes >= static_cast<size_t>(m * k));
        HostWorkspace workspace(ws_bytes);
        void* wsp = workspace.data();
        Buf out(t, static_cast<size_t>(m * n)), scratch(t, static_cast<size_t>(m));
        out.poison();
        scratch.poison();
        sq_run_args a = run_args();
        a.m = m;
        a.act = xs.data();
        a.weight = w.data();
        a.weight_scale = ws.data();
        a.bias = with_bias ? bias.data() : nullptr;
        a.smooth = with_smooth ? smooth.data() : nullptr;
        a.act_scale_scratch = scratch.data();
        a.out = out.data();
        REQUIRE(sq_plan_run(plan, nullptr, wsp, ws_bytes, &a) == SQ_STATUS_SUCCESS);
        std::vector<int8_t> q(static_cast<size_t>(m * k));
        Buf want_scale(t, static_cast<size_t>(m)), want(t, static_cast<size_t>(m * n));
        oracle_quantize(true, xs, k, with_smooth ? &smooth : nullptr, 0.0, m, k, q, k, &want_scale);
        oracle_linear(m, n, k, q.data(), k, w.data(), k, ws, with_bias ? &bias : nullptr, want_scale, want, n);
        CHECK(first_bit_difference(scratch, want_scale) == -1);
        CHECK(first_bit_difference(out, want) == -1);
        REQUIRE(sq_plan_destroy(plan) == SQ_STATUS_SUCCESS);
      }
    }
  }
}

TEST_CASE("host quantize: bad arguments fail clearly and write nothing", "[host_quantize]") {
  sq_plan plan = nullptr;
  sq_plan_desc d = quantize_desc(SQ_OP_QUANTIZE_STATIC, SQ_DTYPE_F32, SQ_DTYPE_INVALID, 8, 2, 0.0);
  CHECK(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &plan) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("act_scale") != std::string::npos);
  d.act_scale = std::numeric_limits<double>::quiet_NaN();
  CHECK(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &plan) == SQ_STATUS_INVALID_ARGUMENT);
  d.act_scale = 1e-50;  // > 0 in f64 but 0 in f32, the compute type of f32 input
  CHECK(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &plan) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(plan == nullptr);

  d = quantize_desc(SQ_OP_QUANTIZE_DYNAMIC, SQ_DTYPE_F16, SQ_DTYPE_F32, 8, 2, 0.0);
  REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &plan) == SQ_STATUS_SUCCESS);
  Buf x = random_values(SQ_DTYPE_F16, 16, -1, 1);
  std::vector<int8_t> q(16, int8_t(0x5a));
  Buf scale(SQ_DTYPE_F32, 2);
  scale.poison();
  sq_run_args a = run_args();
  a.m = 2;
  a.act = x.data();
  a.out = q.data();
  a.act_scale_scratch = nullptr;  // the dynamic op needs somewhere for the scales
  CHECK(sq_plan_run(plan, nullptr, nullptr, 0, &a) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(!last_error().empty());
  a.act_scale_scratch = scale.data();
  a.m = 3;  // > max_m
  CHECK(sq_plan_run(plan, nullptr, nullptr, 0, &a) == SQ_STATUS_INVALID_ARGUMENT);
  a.m = 2;
  a.ld_act = 5;  // < k
  CHECK(sq_plan_run(plan, nullptr, nullptr, 0, &a) == SQ_STATUS_INVALID_ARGUMENT);
  a.ld_act = 0;
  a.act = static_cast<const unsigned char*>(x.data()) + 1;  // misaligned f16
  CHECK(sq_plan_run(plan, nullptr, nullptr, 0, &a) == SQ_STATUS_MISALIGNED);
  CHECK(q == std::vector<int8_t>(16, int8_t(0x5a)));
  Buf poison(SQ_DTYPE_F32, 2);
  poison.poison();
  CHECK(first_bit_difference(scale, poison) == -1);
  a.act = x.data();
  REQUIRE(sq_plan_run(plan, nullptr, nullptr, 0, &a) == SQ_STATUS_SUCCESS);
  CHECK(q != std::vector<int8_t>(16, int8_t(0x5a)));
  REQUIRE(sq_plan_destroy(plan) == SQ_STATUS_SUCCESS);
}
