// The offline helpers (sq_smooth_factors, sq_smooth_apply_to_norm, sq_smooth_apply_to_weight,
// sq_quantize_weight_per_channel, sq_static_act_scale, sq_weight_sums,
// sq_quantize_weight_per_channel_asymmetric) against formulas written out here (or the oracle of
// host_oracle.hpp), on random inputs, plus every rejected argument: a clear status, a message, and no
// output written.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "host_oracle.hpp"
#include "test_util.hpp"

using namespace sqt;

namespace {

const sq_dtype kFloats[] = {SQ_DTYPE_F32, SQ_DTYPE_F64, SQ_DTYPE_F16, SQ_DTYPE_BF16};

sq_matrix_view view_of(const Buf& b, int64_t rows, int64_t cols, int64_t ld) {
  sq_matrix_view v;
  std::memset(&v, 0, sizeof(v));
  v.struct_size = sizeof(v);
  v.dtype = b.dtype;
  v.rows = rows;
  v.cols = cols;
  v.ld = ld;
  v.data = b.data();
  return v;
}

std::vector<float> random_absmax(int64_t k, double lo, double hi) {
  std::uniform_real_distribution<double> u(std::log(lo), std::log(hi));
  std::vector<float> v(static_cast<size_t>(k));
  for (auto& x : v) x = static_cast<float>(std::exp(u(rng())));
  return v;
}

int8_t rne_sat(double v) {
  if (std::isnan(v)) return 0;
  if (v >= 127.0) return 127;
  if (v <= -128.0) return -128;
  const double f = std::floor(v), frac = v - f;
  return static_cast<int8_t>((frac > 0.5 || (frac == 0.5 && std::fmod(f, 2.0) != 0.0)) ? f + 1.0 : f);
}

}  // namespace

TEST_CASE("sq_smooth_factors follows SmoothQuant's formula over several weights", "[offline]") {
  for (sq_dtype d : kFloats) {
    for (float alpha : {0.0f, 0.5f, 0.85f, 1.0f}) {
      CAPTURE(dtype_str(d), alpha);
      const int64_t k = 37;
      const auto act = random_absmax(k, 1e-3, 60.0);
      Buf w0 = random_values(d, static_cast<size_t>(5 * 40), -0.5, 0.5);  // ld 40 > k
      Buf w1 = random_values(d, static_cast<size_t>(3 * k), -2.0, 2.0);
      w1.set(4, 0.0);  // column 4 of w1 row 0 zero; w0 may still be non-zero there
      sq_matrix_view views[2] = {view_of(w0, 5, k, 40), view_of(w1, 3, k, 0)};
      std::vector<float> s(static_cast<size_t>(k), -1.0f);
      REQUIRE(sq_smooth_factors(k, act.data(), views, 2, alpha, s.data()) == SQ_STATUS_SUCCESS);
      CHECK(last_error().empty());
      for (int64_t c = 0; c < k; ++c) {
        float wmax = 0.0f;
        for (int64_t r = 0; r < 5; ++r) wmax = std::max(wmax, static_cast<float>(std::fabs(w0.get(r * 40 + c))));
        for (int64_t r = 0; r < 3; ++r) wmax = std::max(wmax, static_cast<float>(std::fabs(w1.get(r * k + c))));
        wmax = std::max(wmax, 1e-5f);
        const double want_d = std::pow(static_cast<double>(act[c]), static_cast<double>(alpha)) /
                              std::pow(static_cast<double>(wmax), static_cast<double>(1.0f - alpha));
        const float want = std::max(1e-5f, static_cast<float>(want_d));
        INFO("channel " << c);
        CHECK(s[c] == want);
      }
    }
  }
  // A zero activation channel and an all-zero weight column both hit the 1e-5 clamps.
  const float act[2] = {0.0f, 4.0f};
  Buf w(SQ_DTYPE_F32, 2);
  w.set(0, 3.0);
  w.set(1, 0.0);
  sq_matrix_view v = view_of(w, 1, 2, 0);
  float s[2];
  REQUIRE(sq_smooth_factors(2, act, &v, 1, 0.5f, s) == SQ_STATUS_SUCCESS);
  CHECK(s[0] == 1e-5f);
  CHECK(s[1] == static_cast<float>(2.0 / std::pow(static_cast<double>(1e-5f), 0.5)));
}

TEST_CASE("sq_smooth_factors rejects bad arguments and writes nothing", "[offline]") {
  const int64_t k = 4;
  const float act[k] = {1, 2, 3, 4};
  Buf w = random_values(SQ_DTYPE_F32, 8, -1, 1);
  sq_matrix_view v = view_of(w, 2, k, 0);
  float s[k] = {-7, -7, -7, -7};
  auto untouched = [&] { return s[0] == -7 && s[1] == -7 && s[2] == -7 && s[3] == -7; };
  CHECK(sq_smooth_factors(0, act, &v, 1, 0.5f, s) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("k must be >= 1") != std::string::npos);
  CHECK(sq_smooth_factors(k, nullptr, &v, 1, 0.5f, s) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(sq_smooth_factors(k, act, nullptr, 1, 0.5f, s) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(sq_smooth_factors(k, act, &v, 0, 0.5f, s) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(sq_smooth_factors(k, act, &v, 1, 0.5f, nullptr) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(sq_smooth_factors(k, act, &v, 1, 1.5f, s) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(sq_smooth_factors(k, act, &v, 1, -0.1f, s) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(sq_smooth_factors(k, act, &v, 1, std::numeric_limits<float>::quiet_NaN(), s) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("alpha") != std::string::npos);
  const float bad_act[k] = {1, -2, 3, 4};
  CHECK(sq_smooth_factors(k, bad_act, &v, 1, 0.5f, s) == SQ_STATUS_INVALID_ARGUMENT);
  const float inf_act[k] = {1, 2, std::numeric_limits<float>::infinity(), 4};
  CHECK(sq_smooth_factors(k, inf_act, &v, 1, 0.5f, s) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("act_absmax[2]") != std::string::npos);
  sq_matrix_view bad = v;
  bad.cols = 3;
  CHECK(sq_smooth_factors(k, act, &bad, 1, 0.5f, s) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("must equal k") != std::string::npos);
  bad = v;
  bad.struct_size = 8;
  CHECK(sq_smooth_factors(k, act, &bad, 1, 0.5f, s) == SQ_STATUS_INVALID_STRUCT_SIZE);
  bad = v;
  bad.dtype = SQ_DTYPE_S8;
  CHECK(sq_smooth_factors(k, act, &bad, 1, 0.5f, s) == SQ_STATUS_NOT_SUPPORTED);
  bad = v;
  bad.rows = 0;
  CHECK(sq_smooth_factors(k, act, &bad, 1, 0.5f, s) == SQ_STATUS_INVALID_ARGUMENT);
  bad = v;
  bad.ld = 3;
  CHECK(sq_smooth_factors(k, act, &bad, 1, 0.5f, s) == SQ_STATUS_INVALID_ARGUMENT);
  bad = v;
  bad.data = nullptr;
  CHECK(sq_smooth_factors(k, act, &bad, 1, 0.5f, s) == SQ_STATUS_INVALID_ARGUMENT);
  // A NaN weight in the second view: rejected although the first view is fine.
  Buf wn = random_values(SQ_DTYPE_F16, 8, -1, 1);
  wn.set(6, std::numeric_limits<double>::quiet_NaN());
  sq_matrix_view two[2] = {v, view_of(wn, 2, k, 0)};
  CHECK(sq_smooth_factors(k, act, two, 2, 0.5f, s) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("weights[1][1, 2]") != std::string::npos);
  CHECK(untouched());
}

TEST_CASE("sq_smooth_apply_to_norm and _to_weight fold the factors with one rounding", "[offline]") {
  for (sq_dtype d : kFloats) {
    CAPTURE(dtype_str(d));
    const int64_t k = 29, rows = 6, ld = 31;
    const auto s = random_absmax(k, 0.05, 30.0);
    Buf nw = random_values(d, static_cast<size_t>(k), 0.5, 2.0), nb = random_values(d, static_cast<size_t>(k), -1, 1);
    Buf nw0 = nw, nb0 = nb;
    REQUIRE(sq_smooth_apply_to_norm(k, s.data(), d, nw.data(), nb.data()) == SQ_STATUS_SUCCESS);
    Buf w = random_values(d, static_cast<size_t>(rows * ld), -1, 1), w0 = w;
    REQUIRE(sq_smooth_apply_to_weight(k, s.data(), d, rows, ld, w.data()) == SQ_STATUS_SUCCESS);
    Buf want_nw(d, static_cast<size_t>(k)), want_nb(d, static_cast<size_t>(k)), want_w = w0;
    for (int64_t i = 0; i < k; ++i) {
      if (d == SQ_DTYPE_F64) {
        want_nw.set(i, nw0.get(i) / static_cast<double>(s[i]));
        want_nb.set(i, nb0.get(i) / static_cast<double>(s[i]));
      } else {  // f32 math, rounded once to f32 (exact through double), then once to D
        want_nw.set(i, static_cast<float>(nw0.get(i) / static_cast<double>(s[i])));
        want_nb.set(i, static_cast<float>(nb0.get(i) / static_cast<double>(s[i])));
      }
    }
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < k; ++c) {
        const double x = w0.get(r * ld + c);
        want_w.set(r * ld + c, d == SQ_DTYPE_F64 ? x * static_cast<double>(s[c])
                                                 : static_cast<double>(static_cast<float>(x * static_cast<double>(s[c]))));
      }
    CHECK(first_bit_difference(nw, want_nw) == -1);
    CHECK(first_bit_difference(nb, want_nb) == -1);
    CHECK(first_bit_difference(w, want_w) == -1);  // the padding columns k..ld stay as they were
    // Without a bias only the weight changes.
    Buf nw2 = nw0;
    REQUIRE(sq_smooth_apply_to_norm(k, s.data(), d, nw2.data(), nullptr) == SQ_STATUS_SUCCESS);
    CHECK(first_bit_difference(nw2, want_nw) == -1);
  }
}

TEST_CASE("sq_smooth_apply_* reject bad arguments and write nothing", "[offline]") {
  const int64_t k = 3;
  float s[k] = {1.0f, 2.0f, 0.5f};
  Buf nw = random_values(SQ_DTYPE_F32, k, 1, 2), nw0 = nw;
  CHECK(sq_smooth_apply_to_norm(0, s, SQ_DTYPE_F32, nw.data(), nullptr) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(sq_smooth_apply_to_norm(k, nullptr, SQ_DTYPE_F32, nw.data(), nullptr) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(sq_smooth_apply_to_norm(k, s, SQ_DTYPE_F32, nullptr, nullptr) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(sq_smooth_apply_to_norm(k, s, SQ_DTYPE_S8, nw.data(), nullptr) == SQ_STATUS_NOT_SUPPORTED);
  CHECK(sq_smooth_apply_to_norm(k, s, SQ_DTYPE_F32, static_cast<unsigned char*>(nw.data()) + 2, nullptr) ==
        SQ_STATUS_MISALIGNED);
  s[1] = 0.0f;
  CHECK(sq_smooth_apply_to_norm(k, s, SQ_DTYPE_F32, nw.data(), nullptr) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("smooth[1]") != std::string::npos);
  s[1] = std::numeric_limits<float>::quiet_NaN();
  CHECK(sq_smooth_apply_to_weight(k, s, SQ_DTYPE_F32, 1, 0, nw.data()) == SQ_STATUS_INVALID_ARGUMENT);
  s[1] = 2.0f;
  CHECK(sq_smooth_apply_to_weight(k, s, SQ_DTYPE_F32, 0, 0, nw.data()) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(sq_smooth_apply_to_weight(k, s, SQ_DTYPE_F32, 1, 2, nw.data()) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(sq_smooth_apply_to_weight(k, s, SQ_DTYPE_F32, 1, 0, nullptr) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(sq_smooth_apply_to_weight(k, s, SQ_DTYPE_INVALID, 1, 0, nw.data()) == SQ_STATUS_NOT_SUPPORTED);
  CHECK(first_bit_difference(nw, nw0) == -1);
}

TEST_CASE("sq_quantize_weight_per_channel is the dynamic quantizer over weight rows", "[offline]") {
  for (sq_dtype d : kFloats) {
    for (sq_dtype sd : kFloats) {
      CAPTURE(dtype_str(d), dtype_str(sd));
      const int64_t rows = 9, cols = 23, ld = 25, ldq = 27;
      Buf w = random_values(d, static_cast<size_t>(rows * ld), -0.3, 0.3);
      for (int64_t c = 0; c < ld; ++c) w.set(3 * ld + c, 0.0);  // a zero row
      for (int64_t c = 0; c < cols; ++c) w.set(5 * ld + c, c == 1 ? 1.5 : 0.0625);  // one large weight
      sq_matrix_view v = view_of(w, rows, cols, ld);
      std::vector<int8_t> q(static_cast<size_t>(rows * ldq), int8_t(0x5a));
      Buf scale(sd, static_cast<size_t>(rows));
      scale.poison();
      REQUIRE(sq_quantize_weight_per_channel(&v, q.data(), ldq, sd, scale.data()) == SQ_STATUS_SUCCESS);
      const bool f64 = d == SQ_DTYPE_F64;
      for (int64_t r = 0; r < rows; ++r) {
        double amax = 0.0;
        for (int64_t c = 0; c < cols; ++c) amax = std::max(amax, std::fabs(w.get(r * ld + c)));
        const double raw = f64 ? amax / 127.0 : static_cast<double>(static_cast<float>(amax / 127.0));
        Buf want_s(sd, 1);
        want_s.set(0, raw);
        const double sc = f64 ? want_s.get(0) : static_cast<double>(static_cast<float>(want_s.get(0)));
        INFO("row " << r);
        CHECK(std::memcmp(scale.at(r), want_s.at(0), dtype_size(sd)) == 0);
        for (int64_t c = 0; c < ldq; ++c) {
          int8_t want = int8_t(0x5a);
          if (c < cols) {
            const double x = w.get(r * ld + c);
            const double qv = f64 ? x / sc : static_cast<double>(static_cast<float>(x / sc));
            want = sc > 0 ? rne_sat(qv) : int8_t(0);
          }
          INFO("col " << c);
          CHECK(int(q[r * ldq + c]) == int(want));
        }
      }
      CHECK(scale.get(3) == 0.0);
    }
  }
}

TEST_CASE("sq_quantize_weight_per_channel rejects bad arguments and writes nothing", "[offline]") {
  Buf w = random_values(SQ_DTYPE_F32, 12, -1, 1);
  sq_matrix_view v = view_of(w, 3, 4, 0);
  std::vector<int8_t> q(12, int8_t(0x5a));
  Buf scale(SQ_DTYPE_F16, 3);
  scale.poison();
  const Buf scale0 = scale;
  CHECK(sq_quantize_weight_per_channel(nullptr, q.data(), 0, SQ_DTYPE_F16, scale.data()) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(sq_quantize_weight_per_channel(&v, nullptr, 0, SQ_DTYPE_F16, scale.data()) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(sq_quantize_weight_per_channel(&v, q.data(), 0, SQ_DTYPE_F16, nullptr) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(sq_quantize_weight_per_channel(&v, q.data(), 0, SQ_DTYPE_S32, scale.data()) == SQ_STATUS_NOT_SUPPORTED);
  CHECK(sq_quantize_weight_per_channel(&v, q.data(), 3, SQ_DTYPE_F16, scale.data()) == SQ_STATUS_INVALID_ARGUMENT);
  sq_matrix_view bad = v;
  bad.struct_size = sizeof(sq_matrix_view) - 8;
  CHECK(sq_quantize_weight_per_channel(&bad, q.data(), 0, SQ_DTYPE_F16, scale.data()) == SQ_STATUS_INVALID_STRUCT_SIZE);
  // A larger struct_size is accepted only with an all-zero tail.
  struct Bigger {
    sq_matrix_view v;
    uint64_t extra;
  } big{v, 1};
  big.v.struct_size = sizeof(Bigger);
  CHECK(sq_quantize_weight_per_channel(&big.v, q.data(), 0, SQ_DTYPE_F16, scale.data()) ==
        SQ_STATUS_INVALID_STRUCT_SIZE);
  w.set(10, std::numeric_limits<double>::infinity());
  CHECK(sq_quantize_weight_per_channel(&v, q.data(), 0, SQ_DTYPE_F16, scale.data()) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("weight[2, 2]") != std::string::npos);
  w.set(10, 1e7);  // scale 1e7 / 127 overflows f16
  CHECK(sq_quantize_weight_per_channel(&v, q.data(), 0, SQ_DTYPE_F16, scale.data()) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("overflows") != std::string::npos);
  CHECK(q == std::vector<int8_t>(12, int8_t(0x5a)));
  CHECK(first_bit_difference(scale, scale0) == -1);
  big.extra = 0;  // zero tail: accepted (and f32 scales hold 1e7 / 127)
  Buf s32(SQ_DTYPE_F32, 3);
  CHECK(sq_quantize_weight_per_channel(&big.v, q.data(), 0, SQ_DTYPE_F32, s32.data()) == SQ_STATUS_SUCCESS);
  CHECK(q[10] == 127);
}

TEST_CASE("sq_static_act_scale is max(absmax / smooth) / 127 in f32", "[offline]") {
  const int64_t k = 50;
  const auto act = random_absmax(k, 0.01, 80.0);
  const auto s = random_absmax(k, 0.1, 10.0);
  double scale = -1.0;
  REQUIRE(sq_static_act_scale(k, act.data(), s.data(), &scale) == SQ_STATUS_SUCCESS);
  float m = 0.0f;
  for (int64_t i = 0; i < k; ++i) m = std::max(m, static_cast<float>(static_cast<double>(act[i]) / s[i]));
  CHECK(scale == static_cast<double>(static_cast<float>(static_cast<double>(m) / 127.0)));
  REQUIRE(sq_static_act_scale(k, act.data(), nullptr, &scale) == SQ_STATUS_SUCCESS);
  m = *std::max_element(act.begin(), act.end());
  CHECK(scale == static_cast<double>(static_cast<float>(static_cast<double>(m) / 127.0)));

  double out = -3.0;
  const std::vector<float> zeros(4, 0.0f);
  CHECK(sq_static_act_scale(4, zeros.data(), nullptr, &out) == SQ_STATUS_INVALID_ARGUMENT);  // scale 0
  CHECK(last_error().find("finite and > 0") != std::string::npos);
  const std::vector<float> big(1, 3e38f), tiny(1, 1e-30f);
  CHECK(sq_static_act_scale(1, big.data(), tiny.data(), &out) == SQ_STATUS_INVALID_ARGUMENT);  // overflow
  CHECK(sq_static_act_scale(0, act.data(), nullptr, &out) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(sq_static_act_scale(k, nullptr, nullptr, &out) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(sq_static_act_scale(k, act.data(), nullptr, nullptr) == SQ_STATUS_INVALID_ARGUMENT);
  std::vector<float> bad_s = s;
  bad_s[7] = -1.0f;
  CHECK(sq_static_act_scale(k, act.data(), bad_s.data(), &out) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("smooth[7]") != std::string::npos);
  CHECK(out == -3.0);
}

// Issue 18 (found by the fuzz target): the helpers checked only k >= 1, and then read k values of
// their [k] arrays: k = INT64_MAX / 2 read past any array (an AddressSanitizer report, or a crash).
TEST_CASE("issue 18: a k no array can have is INVALID_ARGUMENT before any [k] array is read", "[offline]") {
  std::vector<float> absmax(4, 1.0f), smooth(4, 2.0f), out(4, -1.0f), norm(4, 3.0f);
  std::vector<float> w(4, 0.5f);
  sq_matrix_view v;
  std::memset(&v, 0, sizeof(v));
  v.struct_size = sizeof(v);
  v.dtype = SQ_DTYPE_F32;
  v.rows = 1;
  v.cols = 4;
  v.data = w.data();
  double scale = -1.0;
  for (int64_t k : {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max() / 2,
                    std::numeric_limits<int64_t>::max() / 8 + 1}) {
    CAPTURE(k);
    CHECK(sq_smooth_factors(k, absmax.data(), &v, 1, 0.5f, out.data()) == SQ_STATUS_INVALID_ARGUMENT);
    CHECK_THAT(std::string(sq_last_error_message()), Catch::Contains("k is"));
    CHECK(sq_smooth_apply_to_norm(k, smooth.data(), SQ_DTYPE_F32, norm.data(), nullptr) == SQ_STATUS_INVALID_ARGUMENT);
    CHECK_THAT(std::string(sq_last_error_message()), Catch::Contains("k is"));
    CHECK(sq_smooth_apply_to_weight(k, smooth.data(), SQ_DTYPE_F32, 1, 0, w.data()) == SQ_STATUS_INVALID_ARGUMENT);
    CHECK_THAT(std::string(sq_last_error_message()), Catch::Contains("k is"));
    CHECK(sq_static_act_scale(k, absmax.data(), smooth.data(), &scale) == SQ_STATUS_INVALID_ARGUMENT);
    CHECK_THAT(std::string(sq_last_error_message()), Catch::Contains("k is"));
  }
  for (float f : out) CHECK(f == -1.0f);
  for (float f : norm) CHECK(f == 3.0f);
  for (float f : w) CHECK(f == 0.5f);
  CHECK(scale == -1.0);
}

namespace {

// A view of bytes (S8 or U8).
sq_matrix_view int8_view(const std::vector<uint8_t>& b, sq_dtype d, int64_t rows, int64_t cols, int64_t ld) {
  sq_matrix_view v;
  std::memset(&v, 0, sizeof(v));
  v.struct_size = sizeof(v);
  v.dtype = d;
  v.rows = rows;
  v.cols = cols;
  v.ld = ld;
  v.data = b.data();
  return v;
}

}  // namespace

TEST_CASE("sq_weight_sums: exact column sums of S8 and U8 weights", "[offline]") {
  std::uniform_int_distribution<int> d(0, 255);
  for (sq_dtype t : {SQ_DTYPE_S8, SQ_DTYPE_U8}) {
    for (int64_t ld : {int64_t{0}, int64_t{130}}) {
      CAPTURE(t, ld);
      const int64_t rows = 9, cols = 127;
      std::vector<uint8_t> w(static_cast<size_t>(rows * (ld ? ld : cols)));
      for (auto& b : w) b = static_cast<uint8_t>(d(rng()));
      std::vector<int32_t> sums(static_cast<size_t>(rows + 1), 0x5a5a5a5a);
      const sq_matrix_view v = int8_view(w, t, rows, cols, ld);
      REQUIRE(sq_weight_sums(&v, sums.data()) == SQ_STATUS_SUCCESS);
      CHECK(last_error().empty());
      for (int64_t r = 0; r < rows; ++r) {
        int64_t want = 0;
        for (int64_t c = 0; c < cols; ++c) want += sqo::value_of(t, w[r * (ld ? ld : cols) + c]);
        REQUIRE(sums[r] == want);
      }
      CHECK(sums[rows] == 0x5a5a5a5a);
    }
  }
  // The int32 limit: 8421504 * 255 = 2147483520 fits, one more 255 does not (U8); -128 * 2^24 = -2^31 fits,
  // one more -128 does not (S8).
  const int64_t u8_fit = 8421504, s8_fit = int64_t{1} << 24;
  std::vector<uint8_t> row(static_cast<size_t>(s8_fit + 1), 0xff);
  int32_t sum = 7;
  sq_matrix_view v = int8_view(row, SQ_DTYPE_U8, 1, u8_fit, 0);
  REQUIRE(sq_weight_sums(&v, &sum) == SQ_STATUS_SUCCESS);
  CHECK(sum == 2147483520);
  v.cols = u8_fit + 1;
  sum = 7;
  CHECK(sq_weight_sums(&v, &sum) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("does not fit int32") != std::string::npos);
  CHECK(last_error().find("row 0") != std::string::npos);
  CHECK(sum == 7);
  std::fill(row.begin(), row.end(), uint8_t{0x80});
  v = int8_view(row, SQ_DTYPE_S8, 1, s8_fit, 0);
  REQUIRE(sq_weight_sums(&v, &sum) == SQ_STATUS_SUCCESS);
  CHECK(sum == std::numeric_limits<int32_t>::min());
  v.cols = s8_fit + 1;
  sum = 7;
  CHECK(sq_weight_sums(&v, &sum) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(sum == 7);
  // Two rows: the second overflows, the first is not written either.
  std::vector<uint8_t> two(static_cast<size_t>(2 * (u8_fit + 1)), 0xff);
  std::fill(two.begin(), two.begin() + u8_fit + 1, uint8_t{1});
  v = int8_view(two, SQ_DTYPE_U8, 2, u8_fit + 1, 0);
  int32_t sums2[2] = {7, 7};
  CHECK(sq_weight_sums(&v, sums2) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("row 1") != std::string::npos);
  CHECK((sums2[0] == 7 && sums2[1] == 7));
}

TEST_CASE("sq_weight_sums rejects bad arguments and writes nothing", "[offline]") {
  std::vector<uint8_t> w(16, 3);
  int32_t sums[4] = {7, 7, 7, 7};
  sq_matrix_view v = int8_view(w, SQ_DTYPE_U8, 4, 4, 0);
  CHECK(sq_weight_sums(nullptr, sums) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("weight_q") != std::string::npos);
  CHECK(sq_weight_sums(&v, nullptr) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("sums_out") != std::string::npos);
  CHECK(sq_weight_sums(&v, reinterpret_cast<int32_t*>(reinterpret_cast<char*>(sums) + 1)) == SQ_STATUS_MISALIGNED);
  for (sq_dtype bad : std::vector<sq_dtype>{SQ_DTYPE_F32, SQ_DTYPE_S32, SQ_DTYPE_INVALID, 99}) {
    sq_matrix_view b = v;
    b.dtype = bad;
    CHECK(sq_weight_sums(&b, sums) == SQ_STATUS_NOT_SUPPORTED);
    CHECK(last_error().find("dtype") != std::string::npos);
  }
  sq_matrix_view b = v;
  b.rows = 0;
  CHECK(sq_weight_sums(&b, sums) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("rows") != std::string::npos);
  b = v;
  b.cols = 0;
  CHECK(sq_weight_sums(&b, sums) == SQ_STATUS_INVALID_ARGUMENT);
  b = v;
  b.ld = 3;
  CHECK(sq_weight_sums(&b, sums) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("ld") != std::string::npos);
  b = v;
  b.data = nullptr;
  CHECK(sq_weight_sums(&b, sums) == SQ_STATUS_INVALID_ARGUMENT);
  b = v;
  b.rows = std::numeric_limits<int64_t>::max() / 2;
  CHECK(sq_weight_sums(&b, sums) == SQ_STATUS_INVALID_ARGUMENT);
  b = v;
  b.struct_size = 8;
  CHECK(sq_weight_sums(&b, sums) == SQ_STATUS_INVALID_STRUCT_SIZE);
  CHECK((sums[0] == 7 && sums[1] == 7 && sums[2] == 7 && sums[3] == 7));
  REQUIRE(sq_weight_sums(&v, sums) == SQ_STATUS_SUCCESS);
  CHECK(sums[3] == 12);
}

TEST_CASE("sq_quantize_weight_per_channel_asymmetric is the asymmetric quantizer over weight rows", "[offline]") {
  for (sq_dtype wd : kFloats)
    for (sq_dtype qd : {SQ_DTYPE_U8, SQ_DTYPE_S8})
      for (sq_dtype sd : kFloats) {
        CAPTURE(dtype_str(wd), qd, dtype_str(sd));
        const int64_t rows = 7, cols = 33, ld = 35, ld_q = 40;
        Buf w = random_values(wd, static_cast<size_t>(rows * ld), -0.1, 0.4);
        for (int64_t c = 0; c < ld; ++c) w.set(static_cast<size_t>(2 * ld + c), 0.0);  // zero row
        w.set(static_cast<size_t>(4 * ld + 1), -3.0);
        const sq_matrix_view v = view_of(w, rows, cols, ld);
        std::vector<uint8_t> q(static_cast<size_t>(rows * ld_q), 0xa5), zp(static_cast<size_t>(rows + 1), 0xa5);
        Buf scale(sd, static_cast<size_t>(rows + 1));
        scale.poison();
        REQUIRE(sq_quantize_weight_per_channel_asymmetric(&v, qd, q.data(), ld_q, sd, scale.data(), zp.data()) ==
                SQ_STATUS_SUCCESS);
        CHECK(last_error().empty());
        sqo::QuantIn in;
        in.mode = sqo::Mode::kDynamicAsym;
        in.m = rows;
        in.k = cols;
        in.x = &w;
        in.ldx = ld;
        in.q_dtype = qd;
        in.s_dtype = sd;
        const sqo::QuantOut want = sqo::oracle_quantize(in);
        for (int64_t r = 0; r < rows; ++r) {
          REQUIRE(sqo::bits_at(scale, r) == sqo::bits_at(want.scale, r));
          REQUIRE(sqo::value_of(qd, zp[r]) == want.za[r]);
          for (int64_t c = 0; c < ld_q; ++c) {
            if (c < cols)
              REQUIRE(sqo::value_of(qd, q[r * ld_q + c]) == want.q[r * cols + c]);
            else
              REQUIRE(q[r * ld_q + c] == 0xa5);
          }
        }
        CHECK(zp[rows] == 0xa5);
        CHECK(sqo::bits_at(scale, 2) == 0u);  // the zero row: scale +0, zw 0, q 0
        CHECK(zp[2] == 0);
      }
}

TEST_CASE("sq_quantize_weight_per_channel_asymmetric rejects bad arguments and writes nothing", "[offline]") {
  Buf w = random_values(SQ_DTYPE_F32, 12, -1, 1);
  sq_matrix_view v = view_of(w, 3, 4, 0);
  std::vector<uint8_t> q(12, 0x5a), zp(3, 0x5a);
  Buf scale(SQ_DTYPE_F16, 3);
  scale.poison();
  const Buf scale0 = scale;
  auto call = [&](const sq_matrix_view* view, sq_dtype qd, void* qo, int64_t ldq, sq_dtype sd, void* so, void* zo) {
    return sq_quantize_weight_per_channel_asymmetric(view, qd, qo, ldq, sd, so, zo);
  };
  const sq_dtype U8 = SQ_DTYPE_U8, F16 = SQ_DTYPE_F16;
  CHECK(call(nullptr, U8, q.data(), 0, F16, scale.data(), zp.data()) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("weight") != std::string::npos);
  CHECK(call(&v, SQ_DTYPE_F32, q.data(), 0, F16, scale.data(), zp.data()) == SQ_STATUS_NOT_SUPPORTED);
  CHECK(last_error().find("q_dtype") != std::string::npos);
  CHECK(call(&v, SQ_DTYPE_INVALID, q.data(), 0, F16, scale.data(), zp.data()) == SQ_STATUS_NOT_SUPPORTED);
  CHECK(call(&v, U8, nullptr, 0, F16, scale.data(), zp.data()) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("q_out") != std::string::npos);
  CHECK(call(&v, U8, q.data(), 0, SQ_DTYPE_S8, scale.data(), zp.data()) == SQ_STATUS_NOT_SUPPORTED);
  CHECK(last_error().find("scale_dtype") != std::string::npos);
  CHECK(call(&v, U8, q.data(), 0, F16, nullptr, zp.data()) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("scale_out") != std::string::npos);
  CHECK(call(&v, U8, q.data(), 0, F16, static_cast<char*>(scale.data()) + 1, zp.data()) == SQ_STATUS_MISALIGNED);
  CHECK(call(&v, U8, q.data(), 0, F16, scale.data(), nullptr) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("zero_point_out") != std::string::npos);
  CHECK(call(&v, U8, q.data(), 3, F16, scale.data(), zp.data()) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("ld_q") != std::string::npos);
  sq_matrix_view bad = v;
  bad.dtype = SQ_DTYPE_U8;  // integer views are for sq_weight_sums only
  CHECK(call(&bad, U8, q.data(), 0, F16, scale.data(), zp.data()) == SQ_STATUS_NOT_SUPPORTED);
  bad = v;
  bad.struct_size = sizeof(sq_matrix_view) - 8;
  CHECK(call(&bad, U8, q.data(), 0, F16, scale.data(), zp.data()) == SQ_STATUS_INVALID_STRUCT_SIZE);
  w.set(10, std::numeric_limits<double>::quiet_NaN());
  CHECK(call(&v, U8, q.data(), 0, F16, scale.data(), zp.data()) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("weight[2, 2]") != std::string::npos);
  w.set(10, 2e7);  // row 2: (2e7 - min(0, ...)) / 255 > 65504: overflows f16
  CHECK(call(&v, U8, q.data(), 0, F16, scale.data(), zp.data()) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(last_error().find("row 2") != std::string::npos);
  CHECK(last_error().find("overflows") != std::string::npos);
  w.set(10, 3e38);  // f32 weights: hi - lo overflows f32 itself
  w.set(11, -3e38);
  CHECK(call(&v, U8, q.data(), 0, SQ_DTYPE_F64, scale.data(), zp.data()) == SQ_STATUS_INVALID_ARGUMENT);
  CHECK(q == std::vector<uint8_t>(12, 0x5a));
  CHECK(zp == std::vector<uint8_t>(3, 0x5a));
  CHECK(first_bit_difference(scale, scale0) == -1);
  w.set(10, 1e4);  // 1e4 / 255 fits f16
  w.set(11, 0.5);
  REQUIRE(call(&v, U8, q.data(), 0, F16, scale.data(), zp.data()) == SQ_STATUS_SUCCESS);
  CHECK(int(q[10]) == 255);
}
