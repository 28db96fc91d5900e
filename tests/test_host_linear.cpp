// The host reference linear against an independent oracle (naive int64 accumulation and
// CUDA's own host conversions), bit for bit, on random inputs.
#include <catch2/catch.hpp>

#include <chrono>

#include "test_util.hpp"

using namespace sqt;

namespace {

struct Shape {
  int64_t m, n, k;
};

// Runs one host-plan linear with optional padding in every row stride, and compares with
// the oracle. Also checks the scratch fill and that padding was not written.
void check_linear(sq_dtype t, Shape s, bool bias_on, int64_t pad, unsigned threads) {
  CAPTURE(dtype_str(t), s.m, s.n, s.k, bias_on, pad, threads);
  const int64_t lda = s.k + pad, ldw = s.k + pad, ldo = s.n + pad;
  auto act = random_s8(static_cast<size_t>(s.m * lda));
  auto w = random_s8(static_cast<size_t>(s.n * ldw));
  Buf ws = random_scales(t, static_cast<size_t>(s.n));
  Buf bias = random_values(t, static_cast<size_t>(s.n), -2.0, 2.0);
  std::uniform_real_distribution<double> u(1e-3, 0.2);
  const double act_scale = u(rng());
  sq_plan_desc d = linear_desc(t, s.n, s.k, s.m + 3, act_scale);
  d.host_threads = threads;
  sq_plan plan = nullptr;
  REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &plan) == SQ_STATUS_SUCCESS);
  Buf out(t, static_cast<size_t>(s.m * ldo)), scratch(t, static_cast<size_t>(s.m + 1));
  out.poison();
  scratch.poison();
  sq_run_args a = run_args();
  a.m = s.m;
  a.act = act.data();
  a.ld_act = pad ? lda : 0;
  a.weight = w.data();
  a.ld_weight = pad ? ldw : 0;
  a.weight_scale = ws.data();
  a.bias = bias_on ? bias.data() : nullptr;
  a.act_scale_scratch = scratch.data();
  a.out = out.data();
  a.ld_out = pad ? ldo : 0;
  REQUIRE(sq_plan_run(plan, nullptr, nullptr, 0, &a) == SQ_STATUS_SUCCESS);
  sq_plan_destroy(plan);

  Buf row(t, static_cast<size_t>(s.m));
  for (int64_t m = 0; m < s.m; ++m) row.set(static_cast<size_t>(m), act_scale);  // (T)act_scale, one rounding
  for (int64_t m = 0; m < s.m; ++m)
    REQUIRE(std::memcmp(scratch.at(static_cast<size_t>(m)), row.at(static_cast<size_t>(m)), dtype_size(t)) == 0);
  for (unsigned char c : std::vector<unsigned char>(scratch.bytes.end() - dtype_size(t), scratch.bytes.end()))
    REQUIRE(c == 0xFF);  // the element past M is not written
  Buf expect(t, static_cast<size_t>(s.m * ldo));
  expect.poison();
  oracle_linear(s.m, s.n, s.k, act.data(), lda, w.data(), ldw, ws, bias_on ? &bias : nullptr, row, expect, ldo);
  const int64_t diff = first_bit_difference(out, expect);
  INFO("first difference at element " << diff);
  REQUIRE(diff == -1);  // includes the padding: still poisoned in both
}

}  // namespace

TEST_CASE("host linear equals the oracle bit for bit on random inputs", "[host_linear]") {
  const Shape shapes[] = {{1, 1, 1},   {1, 7, 13},   {3, 1, 64},  {2, 5, 1},    {17, 33, 45},
                          {8, 64, 16}, {31, 65, 100}, {64, 130, 257}, {5, 200, 1000}};
  for (sq_dtype t : {SQ_DTYPE_F32, SQ_DTYPE_F64, SQ_DTYPE_F16, SQ_DTYPE_BF16})
    for (const Shape& s : shapes)
      for (bool bias : {false, true}) check_linear(t, s, bias, 0, 1);
}

TEST_CASE("host linear with strided rows and threads", "[host_linear]") {
  for (sq_dtype t : {SQ_DTYPE_F32, SQ_DTYPE_BF16}) {
    check_linear(t, {9, 70, 50}, true, 3, 1);
    check_linear(t, {40, 300, 96}, false, 16, 0);
    check_linear(t, {33, 513, 64}, true, 1, 4);
  }
}

TEST_CASE("the largest legal K with extreme values stays exact", "[host_linear]") {
  const int64_t K = SQ_MAX_K, M = 2, N = 3;
  std::vector<int8_t> act(static_cast<size_t>(M * K), -128), w(static_cast<size_t>(N * K), -128);
  for (int64_t k = 0; k < K; ++k) w[static_cast<size_t>(2 * K + k)] = 127;  // row 2: -128 * 127
  for (sq_dtype t : {SQ_DTYPE_F64, SQ_DTYPE_F32}) {
    sq_plan_desc d = linear_desc(t, N, K, M, 1.0);
    sq_plan plan = nullptr;
    REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &plan) == SQ_STATUS_SUCCESS);
    Buf ws(t, N), out(t, M * N), scratch(t, M);
    for (int n = 0; n < N; ++n) ws.set(n, 1.0);
    sq_run_args a = run_args();
    a.m = M;
    a.act = act.data();
    a.weight = w.data();
    a.weight_scale = ws.data();
    a.act_scale_scratch = scratch.data();
    a.out = out.data();
    REQUIRE(sq_plan_run(plan, nullptr, nullptr, 0, &a) == SQ_STATUS_SUCCESS);
    sq_plan_destroy(plan);
    const double full = 16384.0 * K;  // 2147467264 < 2^31: exact in int32
    CHECK(full < 2147483648.0);
    for (int m = 0; m < M; ++m) {
      if (t == SQ_DTYPE_F64) {
        CHECK(out.get(m * N + 0) == full);
        CHECK(out.get(m * N + 2) == -16256.0 * K);
      } else {
        CHECK(out.get(m * N + 0) == static_cast<double>(static_cast<float>(2147467264)));
        CHECK(out.get(m * N + 2) == static_cast<double>(static_cast<float>(-16256LL * K)));
      }
    }
  }
}

TEST_CASE("a 512x4096x4096 layer on the host kernel (time printed)", "[host_linear]") {
  const int64_t M = 512, N = 4096, K = 4096;
  auto act = random_s8(M * K), w = random_s8(N * K);
  Buf ws = random_scales(SQ_DTYPE_F32, N), out(SQ_DTYPE_F32, M * N), scratch(SQ_DTYPE_F32, M);
  sq_plan_desc d = linear_desc(SQ_DTYPE_F32, N, K, M, 0.01);
  sq_plan plan = nullptr;
  REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &plan) == SQ_STATUS_SUCCESS);
  sq_run_args a = run_args();
  a.m = M;
  a.act = act.data();
  a.weight = w.data();
  a.weight_scale = ws.data();
  a.act_scale_scratch = scratch.data();
  a.out = out.data();
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(sq_plan_run(plan, nullptr, nullptr, 0, &a) == SQ_STATUS_SUCCESS);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  sq_plan_destroy(plan);
  WARN("host kernel 512x4096x4096 f32: " << s << " s");
  // Spot-check a few elements against the oracle on their rows only.
  Buf row(SQ_DTYPE_F32, 1);
  row.set(0, 0.01);
  for (int64_t m : {int64_t{0}, int64_t{511}}) {
    Buf expect(SQ_DTYPE_F32, N);
    oracle_linear(1, N, K, act.data() + m * K, K, w.data(), K, ws, nullptr, row, expect, N);
    REQUIRE(std::memcmp(expect.data(), static_cast<unsigned char*>(out.data()) + m * N * 4, N * 4) == 0);
  }
}
