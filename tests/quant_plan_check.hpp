// The quantize ops through the C ABI: a GPU plan against the host reference plan on the same inputs, bit
// for bit (test_gpu_quantize.cpp, test_gpu_fused.cpp). Inputs, outputs and their comparison come from
// quant_test_util.hpp.
#pragma once

#include <catch2/catch.hpp>

#include <cuda_runtime_api.h>

#include <initializer_list>
#include <string>

#include "gpu_util.hpp"
#include "quant_test_util.hpp"
#include "smoothquant/smoothquant.h"

namespace qt {

inline const char* pref_name(sq_preference p) {
  switch (p) {
    case SQ_PREFERENCE_FASTEST: return "FASTEST";
    case SQ_PREFERENCE_GPU_PORTABLE: return "GPU_PORTABLE";
    case SQ_PREFERENCE_GPU_HOPPER: return "GPU_HOPPER";
    default: return "HOST_REFERENCE";
  }
}

inline sq_stream as_sq(cudaStream_t s) { return reinterpret_cast<sq_stream>(s); }

// A host reference plan and a GPU plan of one descriptor.
struct Plans {
  sq_plan host = nullptr, gpu = nullptr;
  Plans(const sq_plan_desc& d, sq_preference pref, cudaStream_t s) {
    const sq_status hs = sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &host);
    INFO("host select: " << sq_last_error_message());
    REQUIRE(hs == SQ_STATUS_SUCCESS);
    const sq_status gs = sq_plan_select(as_sq(s), &d, pref, &gpu);
    INFO("GPU select: " << sq_last_error_message());
    REQUIRE(gs == SQ_STATUS_SUCCESS);
  }
  ~Plans() {
    sq_plan_destroy(gpu);
    sq_plan_destroy(host);
  }
  Plans(const Plans&) = delete;
  Plans& operator=(const Plans&) = delete;
};

struct Stream {
  cudaStream_t s = nullptr;
  Stream() { REQUIRE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) == cudaSuccess); }
  ~Stream() { cudaStreamDestroy(s); }
};

inline void run_ok(sq_plan plan, cudaStream_t s, const sq_run_args& a) {
  const sq_status st = sq_plan_run(plan, as_sq(s), nullptr, 0, &a);
  INFO("run: " << sq_last_error_message());
  REQUIRE(st == SQ_STATUS_SUCCESS);
}

// The GPU plan (pref) against the host plan, outputs poisoned and compared bit for bit (padding and the
// entries past M must keep their poison). graph: the GPU run is captured once and replayed three times,
// outputs poisoned and aliased inputs restored before each replay; else it runs three times eagerly.
inline void check_plan(const QC& c, sq_preference pref = SQ_PREFERENCE_FASTEST, bool graph = false) {
  INFO(c.str() << " pref=" << pref_name(pref) << " graph=" << graph);
  const Inputs in = make_inputs(c);
  Stream st;
  Plans plans(desc_of(c, c.m + 2), pref, st.s);
  const char* name = nullptr;
  REQUIRE(sq_plan_kernel_name(plans.gpu, c.m, &name) == SQ_STATUS_SUCCESS);
  INFO("GPU kernel: " << name);
  RunSet h(c, in, false);
  run_ok(plans.host, nullptr, args_of(h));
  const Outputs want = h.outputs();
  RunSet g(c, in, true);
  const sq_run_args ga = args_of(g);
  {
    const sq_status ci = sq_plan_can_implement(plans.gpu, &ga);
    INFO("can_implement: " << sq_last_error_message());
    REQUIRE(ci == SQ_STATUS_SUCCESS);
  }
  sqt::run_three_times(
      st.s, graph, [&] { run_ok(plans.gpu, st.s, ga); }, [&] { g.reset(in, st.s); },
      [&] {
        const std::string d = diff(c, g.outputs(), want);
        INFO(d);
        CHECK(d.empty());
      });
}

// Run arguments of row r alone (m = 1): every row-indexed pointer moved to row r.
inline sq_run_args row_args(const QC& c, sq_run_args a, int64_t r) {
  auto mv = [](const void* p, int64_t elems, sq_dtype d) -> void* {
    return p ? const_cast<char*>(static_cast<const char*>(p)) + elems * static_cast<int64_t>(esize(d)) : nullptr;
  };
  a.m = 1;
  a.act = mv(a.act, r * c.ld_x(), c.x);
  a.out = mv(a.out, r * c.ld(), c.q);
  a.act_scale_scratch = mv(a.act_scale_scratch, r, c.s);
  a.act_zero_point = mv(a.act_zero_point, r, c.q);
  a.act_sums = static_cast<int32_t*>(mv(a.act_sums, r, SQ_DTYPE_S32));
  a.absmax = mv(a.absmax, r, c.c());
  a.residual = mv(a.residual, r * c.ld(), c.x);
  a.residual_out = mv(a.residual_out, r * c.ld(), c.x);
  return a;
}

// The outputs of row r of one run against row r of another.
inline std::string row_diff(const QC& c, const Outputs& got, const Outputs& want, int64_t r) {
  auto pick = [&](const Arr& a, int64_t first, int64_t count) {
    Arr o(a.d, a.empty() ? 0 : static_cast<size_t>(count));
    if (!a.empty())
      std::memcpy(o.p(), a.b.data() + static_cast<size_t>(first) * esize(a.d), static_cast<size_t>(count) * esize(a.d));
    return o;
  };
  auto row = [&](const Outputs& o) {
    Outputs x;
    x.q = pick(o.q, r * c.ld(), c.ld());
    x.scale = pick(o.scale, r, 1);
    x.zp = pick(o.zp, r, 1);
    x.sums = pick(o.sums, r, 1);
    x.absmax = pick(o.absmax, r, 1);
    x.res = pick(o.res, r * c.ld(), c.ld());
    return x;
  };
  QC one = c;
  one.m = 1;
  return diff(one, row(got), row(want));
}

// Batch invariance on the GPU plan: each row of `rows` run alone (M = 1) gives the bits of the same row
// inside the M-row run (itself checked against the host plan). residual_out must not alias an input.
inline void check_rows_alone(const QC& c, std::initializer_list<int64_t> rows, sq_preference pref = SQ_PREFERENCE_FASTEST) {
  INFO(c.str() << " pref=" << pref_name(pref));
  REQUIRE((c.alias == Alias::kNone || c.alias == Alias::kSeparate));
  const Inputs in = make_inputs(c);
  Stream st;
  Plans plans(desc_of(c, c.m), pref, st.s);
  RunSet h(c, in, false);
  run_ok(plans.host, nullptr, args_of(h));
  RunSet g(c, in, true);
  g.reset(in, st.s);
  const sq_run_args all = args_of(g);
  run_ok(plans.gpu, st.s, all);
  REQUIRE(cudaStreamSynchronize(st.s) == cudaSuccess);
  const Outputs whole = g.outputs();
  {
    const std::string d = diff(c, whole, h.outputs());
    INFO("M rows against the host: " << d);
    CHECK(d.empty());
  }
  g.reset(in, st.s);
  for (const int64_t r : rows) {
    const char* name = nullptr;
    REQUIRE(sq_plan_kernel_name(plans.gpu, 1, &name) == SQ_STATUS_SUCCESS);
    INFO("row " << r << " alone, kernel " << name);
    run_ok(plans.gpu, st.s, row_args(c, all, r));
  }
  REQUIRE(cudaStreamSynchronize(st.s) == cudaSuccess);
  const Outputs alone = g.outputs();
  for (const int64_t r : rows) {
    const std::string d = row_diff(c, alone, whole, r);
    INFO("row " << r << " alone against row " << r << " of M = " << c.m << ": " << d);
    CHECK(d.empty());
  }
}

}  // namespace qt
