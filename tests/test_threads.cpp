// Threads (issue 18): the header's promises under concurrency, meant to run under ThreadSanitizer
// (tests/sanitize/run.sh) as well as plainly. "Any number of threads may run one plan at once (each
// with its own buffers); select and destroy may be called from any thread"; the last-error message is
// thread-local. Each test checks the results too (bits equal to a single-threaded run).
#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "test_util.hpp"

using namespace sqt;

namespace {

constexpr int kThreads = 8;

template <typename F>
void on_threads(int n, F f) {
  std::vector<std::thread> th;
  std::atomic<int> ready{0};
  for (int t = 0; t < n; ++t)
    th.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < n) std::this_thread::yield();  // start together
      f(t);
    });
  for (auto& x : th) x.join();
}

sq_plan_desc quantized_linear_desc(int64_t n, int64_t k, int64_t max_m, unsigned threads) {
  sq_plan_desc d = linear_desc(SQ_DTYPE_F16, n, k, max_m, 0);
  d.op = SQ_OP_QUANTIZED_LINEAR;
  d.act_dtype = SQ_DTYPE_BF16;
  d.act_scale = 0;
  d.host_threads = threads;
  return d;
}

}  // namespace

TEST_CASE("threads: many threads run one plan (with its own worker threads) and get the same bits", "[threads]") {
  const int64_t M = 6, N = 160, K = 96;
  for (unsigned host_threads : {1u, 3u}) {
    CAPTURE(host_threads);
    // A QUANTIZED_LINEAR plan: quantizer + linear, the workspace per thread.
    sq_plan_desc d = quantized_linear_desc(N, K, M, host_threads);
    sq_plan plan = nullptr;
    REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &plan) == SQ_STATUS_SUCCESS);
    size_t ws_bytes = 0;
    REQUIRE(sq_plan_workspace_size(plan, &ws_bytes) == SQ_STATUS_SUCCESS);
    Buf x = random_values(SQ_DTYPE_BF16, M * K, -2.0, 2.0);
    std::vector<int8_t> w = random_s8(N * K);
    Buf wscale = random_scales(SQ_DTYPE_F16, N), bias = random_values(SQ_DTYPE_F16, N, -1.0, 1.0);
    auto args = [&](Buf& out, Buf& scr) {
      sq_run_args a = run_args();
      a.m = M;
      a.act = x.data();
      a.weight = w.data();
      a.weight_scale = wscale.data();
      a.bias = bias.data();
      a.act_scale_scratch = scr.data();
      a.out = out.data();
      return a;
    };
    Buf ref(SQ_DTYPE_F16, M * N), ref_scr(SQ_DTYPE_F16, M);
    HostWorkspace ws0(ws_bytes);
    sq_run_args a0 = args(ref, ref_scr);
    REQUIRE(sq_plan_run(plan, nullptr, ws0.data(), ws_bytes, &a0) == SQ_STATUS_SUCCESS);
    std::vector<Buf> outs(kThreads, Buf(SQ_DTYPE_F16, M * N)), scrs(kThreads, Buf(SQ_DTYPE_F16, M));
    std::vector<int> bad(kThreads, 0);
    on_threads(kThreads, [&](int t) {
      HostWorkspace ws(ws_bytes);
      for (int it = 0; it < 10; ++it) {
        outs[t].poison();
        sq_run_args a = args(outs[t], scrs[t]);
        if (sq_plan_run(plan, nullptr, ws.data(), ws_bytes, &a) != SQ_STATUS_SUCCESS) ++bad[t];
        if (first_bit_difference(outs[t], ref) != -1 || first_bit_difference(scrs[t], ref_scr) != -1) ++bad[t];
        if (sq_plan_can_implement(plan, &a) != SQ_STATUS_SUCCESS) ++bad[t];
      }
    });
    for (int t = 0; t < kThreads; ++t) CHECK(bad[t] == 0);
    CHECK(sq_plan_destroy(plan) == SQ_STATUS_SUCCESS);
  }
}

TEST_CASE("threads: selecting, querying, running and destroying plans at once", "[threads]") {
  // A shared live plan that every thread queries while the threads select and destroy their own.
  sq_plan_desc shared_desc = linear_desc(SQ_DTYPE_F32, 8, 16, 4, 0.5);
  sq_plan shared = nullptr;
  REQUIRE(sq_plan_select(nullptr, &shared_desc, SQ_PREFERENCE_HOST_REFERENCE, &shared) == SQ_STATUS_SUCCESS);
  std::vector<int> bad(kThreads, 0);
  const std::vector<int8_t> act = random_s8(4 * 16), w = random_s8(8 * 16);  // read by every thread
  on_threads(kThreads, [&](int t) {
    std::vector<float> ws(8, 0.25f), scr(4), out(4 * 8);
    std::vector<float> x(4 * 16, 1.5f);
    std::vector<int8_t> q(4 * 16);
    for (int it = 0; it < 60; ++it) {
      sq_plan_desc d = (it + t) % 3 == 0 ? quantize_desc(SQ_OP_QUANTIZE_DYNAMIC, SQ_DTYPE_F32, SQ_DTYPE_F32, 16, 4, 0)
                       : (it + t) % 3 == 1 ? quantize_desc(SQ_OP_QUANTIZE_STATIC, SQ_DTYPE_F32, 0, 16, 4, 0.02)
                                           : linear_desc(SQ_DTYPE_F32, 8, 16, 4, 0.5);
      d.host_threads = 1 + (it % 2);
      sq_plan p = nullptr;
      if (sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &p) != SQ_STATUS_SUCCESS) { ++bad[t]; continue; }
      sq_run_args a = run_args();
      a.m = 4;
      if (d.op == SQ_OP_SMOOTHQUANT_LINEAR) {
        a.act = act.data();
        a.weight = w.data();
        a.weight_scale = ws.data();
        a.act_scale_scratch = scr.data();
        a.out = out.data();
      } else {
        a.act = x.data();
        a.out = q.data();
        if (d.op == SQ_OP_QUANTIZE_DYNAMIC) a.act_scale_scratch = scr.data();
      }
      if (sq_plan_run(p, nullptr, nullptr, 0, &a) != SQ_STATUS_SUCCESS) ++bad[t];
      sq_plan_info info;
      std::memset(&info, 0, sizeof(info));
      info.struct_size = sizeof(info);
      if (sq_plan_get_info(shared, &info) != SQ_STATUS_SUCCESS || info.n != 8) ++bad[t];
      size_t bytes = 0;
      const char* name = nullptr;
      if (sq_plan_workspace_size(shared, &bytes) != SQ_STATUS_SUCCESS) ++bad[t];
      if (sq_plan_kernel_name(shared, 1, &name) != SQ_STATUS_SUCCESS) ++bad[t];
      if (sq_plan_destroy(p) != SQ_STATUS_SUCCESS) ++bad[t];
    }
  });
  for (int t = 0; t < kThreads; ++t) CHECK(bad[t] == 0);
  CHECK(sq_plan_destroy(shared) == SQ_STATUS_SUCCESS);
}

TEST_CASE("threads: many threads destroy one plan: exactly one succeeds, the rest are INVALID_HANDLE", "[threads]") {
  sq_plan_desc d = linear_desc(SQ_DTYPE_F32, 4, 4, 2, 1.0);
  for (int round = 0; round < 40; ++round) {
    sq_plan p = nullptr;
    REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &p) == SQ_STATUS_SUCCESS);
    std::atomic<int> ok{0}, invalid{0}, other{0};
    on_threads(kThreads, [&](int) {
      const sq_status st = sq_plan_destroy(p);
      (st == SQ_STATUS_SUCCESS ? ok : st == SQ_STATUS_INVALID_HANDLE ? invalid : other).fetch_add(1);
    });
    REQUIRE(ok == 1);
    REQUIRE(invalid == kThreads - 1);
    REQUIRE(other == 0);
  }
}

TEST_CASE("threads: the last-error message is each thread's own", "[threads]") {
  std::vector<int> bad(kThreads, 0);
  on_threads(kThreads, [&](int t) {
    for (int it = 0; it < 200; ++it) {
      sq_plan_desc d = linear_desc(SQ_DTYPE_F32, 4, 4, 2, 1.0);
      d.k = -(t * 1000 + it) - 1;  // a value only this thread uses
      sq_plan p = nullptr;
      if (sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &p) != SQ_STATUS_INVALID_ARGUMENT) ++bad[t];
      const std::string want = "desc->k is " + std::to_string(d.k);
      if (std::string(sq_last_error_message()).find(want) == std::string::npos) ++bad[t];
      if (sq_plan_destroy(nullptr) != SQ_STATUS_SUCCESS || sq_last_error_message()[0] != '\0') ++bad[t];
    }
  });
  for (int t = 0; t < kThreads; ++t) CHECK(bad[t] == 0);
}

TEST_CASE("threads: offline helpers on separate buffers at once", "[threads]") {
  const int64_t k = 64, rows = 16;
  Buf wsrc = random_values(SQ_DTYPE_BF16, rows * k, -3.0, 3.0);
  std::vector<float> absmax(k);
  for (int64_t i = 0; i < k; ++i) absmax[i] = 0.5f + static_cast<float>(i % 7);
  std::vector<float> ref_s(k);
  sq_matrix_view v;
  std::memset(&v, 0, sizeof(v));
  v.struct_size = sizeof(v);
  v.dtype = SQ_DTYPE_BF16;
  v.rows = rows;
  v.cols = k;
  v.data = wsrc.data();
  REQUIRE(sq_smooth_factors(k, absmax.data(), &v, 1, 0.5f, ref_s.data()) == SQ_STATUS_SUCCESS);
  std::vector<int> bad(kThreads, 0);
  on_threads(kThreads, [&](int t) {
    for (int it = 0; it < 20; ++it) {
      std::vector<float> s(k);
      if (sq_smooth_factors(k, absmax.data(), &v, 1, 0.5f, s.data()) != SQ_STATUS_SUCCESS || s != ref_s) ++bad[t];
      std::vector<int8_t> q(rows * k);
      std::vector<float> scale(rows);
      if (sq_quantize_weight_per_channel(&v, q.data(), 0, SQ_DTYPE_F32, scale.data()) != SQ_STATUS_SUCCESS) ++bad[t];
      Buf w = wsrc;
      if (sq_smooth_apply_to_weight(k, s.data(), SQ_DTYPE_BF16, rows, 0, w.data()) != SQ_STATUS_SUCCESS) ++bad[t];
    }
  });
  for (int t = 0; t < kThreads; ++t) CHECK(bad[t] == 0);
}
