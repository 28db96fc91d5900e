// GPU side of issue 18 (hardening), label gpu: strides valid only because they span one row, which
// a tensor map cannot hold (the fast paths must not take them), compared with the host kernel.
#include <catch2/catch.hpp>

#include <cuda_runtime_api.h>

#include <vector>

#include "gpu_util.hpp"
#include "test_util.hpp"

using namespace sqt;

// n = 1 (one weight row) or m = 1 (one activation row): any row stride is valid, since it addresses
// only the first row. A stride of 2^41 bytes is past a TMA descriptor's limit (2^40): before the fix
// the Hopper family's aligned path failed to encode it (CUDA_ERROR for a valid call).
TEST_CASE("issue 18: one-row operands with strides of 2^41 run on every family and equal the host", "[linear]") {
  const int64_t huge = int64_t{1} << 41;
  struct Shape { int64_t m, n, k, ld_act, ld_weight; };
  const Shape shapes[] = {{512, 1, 256, 0, huge}, {64, 1, 128, 0, huge}, {1, 256, 128, huge, 0}, {1, 1, 64, huge, huge}};
  for (sq_preference pref : {SQ_PREFERENCE_FASTEST, SQ_PREFERENCE_GPU_PORTABLE, SQ_PREFERENCE_GPU_HOPPER}) {
    if (pref == SQ_PREFERENCE_GPU_HOPPER && !is_sm90()) continue;
    for (const Shape& s : shapes) {
      CAPTURE(pref, s.m, s.n, s.k, s.ld_act, s.ld_weight);
      sq_plan_desc d = linear_desc(SQ_DTYPE_F32, s.n, s.k, s.m, 0.0125);
      sq_plan host = nullptr, gpu = nullptr;
      REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &host) == SQ_STATUS_SUCCESS);
      REQUIRE(sq_plan_select(nullptr, &d, pref, &gpu) == SQ_STATUS_SUCCESS);
      auto act = random_s8(static_cast<size_t>(s.m * s.k)), w = random_s8(static_cast<size_t>(s.n * s.k));
      Buf ws = random_scales(SQ_DTYPE_F32, s.n), out(SQ_DTYPE_F32, s.m * s.n), scratch(SQ_DTYPE_F32, s.m);
      sq_run_args a = run_args();
      a.m = s.m;
      a.act = act.data();
      a.ld_act = s.ld_act;
      a.weight = w.data();
      a.ld_weight = s.ld_weight;
      a.weight_scale = ws.data();
      a.act_scale_scratch = scratch.data();
      a.out = out.data();
      REQUIRE(sq_plan_run(host, nullptr, nullptr, 0, &a) == SQ_STATUS_SUCCESS);
      DevBuf dact(act.size()), dw(w.size()), dws(ws.bytes.size()), dout(out.bytes.size()), dscr(scratch.bytes.size());
      dact.upload(act.data(), act.size());
      dw.upload(w.data(), w.size());
      dws.upload(ws.data(), ws.bytes.size());
      dout.poison();
      sq_run_args g = a;
      g.act = dact.p;
      g.weight = dw.p;
      g.weight_scale = dws.p;
      g.act_scale_scratch = dscr.p;
      g.out = dout.p;
      REQUIRE(sq_plan_run(gpu, nullptr, nullptr, 0, &g) == SQ_STATUS_SUCCESS);
      CUDA_REQUIRE(cudaDeviceSynchronize());
      Buf got(SQ_DTYPE_F32, s.m * s.n);
      dout.download(got.data(), got.bytes.size());
      CHECK(first_bit_difference(got, out) == -1);
      sq_plan_destroy(gpu);
      sq_plan_destroy(host);
    }
  }
}
