// GPU activation quantizers and SQ_OP_QUANTIZED_LINEAR, bit for bit against the host reference
// kernel (itself checked against an independent oracle in test_host_quantize.cpp), through the C
// API with SQ_PREFERENCE_FASTEST and SQ_PREFERENCE_GPU_PORTABLE: every input dtype and scale/smooth
// dtype, odd K, M = 1, rows long enough for every kernel path (vector and scalar loads, the shared
// memory row cache with and without its opt-in size, no cache, rows split over a thread-block cluster
// on sm_90), zero / NaN / Inf rows, strided and misaligned rows, poisoned outputs (padding and the
// scale past M must keep their poison). Since 0.2 (the second half of this file): every quant mode
// (STATIC with zero points and U8, DYNAMIC, DYNAMIC_ASYMMETRIC, ABSMAX, FROM_ABSMAX), act_sums, the
// M = 1..17, 63..65, 1000 sweep up to K = 28672, batch invariance (a row alone equals that row inside
// M = 1000), CUDA graphs, and ABSMAX on K slices -> max -> FROM_ABSMAX equal to DYNAMIC on the whole row.
#include <catch2/catch.hpp>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gpu_util.hpp"
#include "quant_plan_check.hpp"
#include "test_util.hpp"

using namespace sqt;

namespace {

const sq_dtype kFloats[] = {SQ_DTYPE_F32, SQ_DTYPE_F64, SQ_DTYPE_F16, SQ_DTYPE_BF16};
const sq_preference kGpuPrefs[] = {SQ_PREFERENCE_FASTEST, SQ_PREFERENCE_GPU_PORTABLE};

const char* pref_str(sq_preference p) { return p == SQ_PREFERENCE_FASTEST ? "FASTEST" : "GPU_PORTABLE"; }

// Random activations in [-1, 1] with every 7th channel an outlier (x20); with `edges` and m >= 5,
// row 1 is all zeros, row 2 holds a NaN, row 3 a +Inf, row 4 a -Inf and a value that saturates.
Buf make_x(sq_dtype d, int64_t m, int64_t k, int64_t ld, bool edges) {
  Buf b = random_values(d, static_cast<size_t>(m * ld), -1.0, 1.0);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < k; c += 7) b.set(static_cast<size_t>(r * ld + c), b.get(static_cast<size_t>(r * ld + c)) * 20.0);
  if (edges && m >= 5) {
    for (int64_t c = 0; c < k; ++c) b.set(static_cast<size_t>(1 * ld + c), 0.0);
    b.set(static_cast<size_t>(2 * ld + k / 2), std::numeric_limits<double>::quiet_NaN());
    b.set(static_cast<size_t>(3 * ld + k - 1), std::numeric_limits<double>::infinity());
    b.set(static_cast<size_t>(4 * ld), -std::numeric_limits<double>::infinity());
  }
  return b;
}

struct QCase {
  sq_preference pref;
  bool dynamic;
  sq_dtype x, scale;  // scale: dynamic scale dtype and smooth dtype; static: smooth dtype or INVALID
  bool smooth;
  int64_t m, k;
  int64_t pad = 0;       // extra elements per row of x and q
  size_t x_offset = 0;   // elements: a non-zero value moves x off 16-byte alignment (scalar path)
  bool edges = false;
};

void check_quantize(const QCase& c) {
  CAPTURE(pref_str(c.pref), c.dynamic, dtype_str(c.x), dtype_str(c.scale), c.smooth, c.m, c.k, c.pad, c.x_offset,
          c.edges);
  const int64_t ld = c.k + c.pad;
  const size_t xs = dtype_size(c.x);
  Buf x = make_x(c.x, c.m, c.k, ld, c.edges);
  Buf smooth;
  if (c.smooth) smooth = random_scales(c.scale, static_cast<size_t>(c.k), 0.05, 20.0);
  const double act_scale = 0.0117;
  const sq_dtype scale_dt = c.dynamic ? c.scale : SQ_DTYPE_F32;
  sq_plan_desc d = quantize_desc(c.dynamic ? SQ_OP_QUANTIZE_DYNAMIC : SQ_OP_QUANTIZE_STATIC, c.x, c.scale, c.k,
                                 c.m + 2, c.dynamic ? 0.0 : act_scale);
  sq_plan host = nullptr, gpu = nullptr;
  REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &host) == SQ_STATUS_SUCCESS);
  REQUIRE(sq_plan_select(nullptr, &d, c.pref, &gpu) == SQ_STATUS_SUCCESS);
  const char* name = nullptr;
  REQUIRE(sq_plan_kernel_name(gpu, c.m, &name) == SQ_STATUS_SUCCESS);
  CAPTURE(name);

  // Host reference, outputs poisoned like the GPU's.
  std::vector<int8_t> q_ref(static_cast<size_t>(c.m * ld), int8_t(-1));
  Buf scale_ref(scale_dt, static_cast<size_t>(c.m + 1));
  scale_ref.poison();
  sq_run_args a = run_args();
  a.m = c.m;
  a.act = x.data();
  a.ld_act = c.pad ? ld : 0;
  a.smooth = c.smooth ? smooth.data() : nullptr;
  a.act_scale_scratch = c.dynamic ? scale_ref.data() : nullptr;
  a.out = q_ref.data();
  a.ld_out = c.pad ? ld : 0;
  REQUIRE(sq_plan_run(host, nullptr, nullptr, 0, &a) == SQ_STATUS_SUCCESS);

  DevBuf dx(x.bytes.size() + c.x_offset * xs), ds(std::max<size_t>(smooth.bytes.size(), 1)),
      dq(q_ref.size()), dscale(scale_ref.bytes.size());
  dx.upload(x.data(), x.bytes.size(), c.x_offset * xs);
  if (c.smooth) ds.upload(smooth.data(), smooth.bytes.size());
  dq.poison();
  dscale.poison();
  cudaStream_t stream;
  CUDA_REQUIRE(cudaStreamCreate(&stream));
  a.act = static_cast<char*>(dx.p) + c.x_offset * xs;
  a.smooth = c.smooth ? ds.p : nullptr;
  a.act_scale_scratch = c.dynamic ? dscale.p : nullptr;
  a.out = dq.p;
  REQUIRE(sq_plan_can_implement(gpu, &a) == SQ_STATUS_SUCCESS);
  REQUIRE(sq_plan_run(gpu, reinterpret_cast<sq_stream>(stream), nullptr, 0, &a) == SQ_STATUS_SUCCESS);
  CUDA_REQUIRE(cudaStreamSynchronize(stream));
  CUDA_REQUIRE(cudaStreamDestroy(stream));
  std::vector<int8_t> q_gpu(q_ref.size());
  dq.download(q_gpu.data(), q_gpu.size());
  Buf scale_gpu(scale_dt, static_cast<size_t>(c.m + 1));
  dscale.download(scale_gpu.data(), scale_gpu.bytes.size());
  const auto mismatch = std::mismatch(q_gpu.begin(), q_gpu.end(), q_ref.begin());
  if (mismatch.first != q_gpu.end()) {
    const auto i = mismatch.first - q_gpu.begin();
    INFO("first q difference at element " << i << " (row " << i / ld << ", col " << i % ld << "): gpu "
                                          << int(*mismatch.first) << ", host " << int(*mismatch.second));
    CHECK(false);
  }
  if (c.dynamic) {
    INFO("first scale difference at row " << first_bit_difference(scale_gpu, scale_ref));
    CHECK(first_bit_difference(scale_gpu, scale_ref) == -1);
  }
  REQUIRE(sq_plan_destroy(gpu) == SQ_STATUS_SUCCESS);
  REQUIRE(sq_plan_destroy(host) == SQ_STATUS_SUCCESS);
}

}  // namespace

TEST_CASE("GPU static quantize equals the host bit for bit, every dtype", "[quantize]") {
  for (sq_preference pref : kGpuPrefs) {
    for (sq_dtype x : kFloats) {
      check_quantize({pref, false, x, SQ_DTYPE_INVALID, false, 37, 4096});
      check_quantize({pref, false, x, SQ_DTYPE_INVALID, false, 1, 7});
      for (sq_dtype s : kFloats) {
        check_quantize({pref, false, x, s, true, 6, 1027, 0, 0, true});
        check_quantize({pref, false, x, s, true, 3, 333, 5, 1});  // scalar path: odd stride, misaligned
      }
    }
  }
}

TEST_CASE("GPU dynamic quantize equals the host bit for bit, every dtype", "[quantize]") {
  for (sq_preference pref : kGpuPrefs) {
    for (sq_dtype x : kFloats) {
      for (sq_dtype s : kFloats) {
        check_quantize({pref, true, x, s, false, 9, 4096, 0, 0, true});
        check_quantize({pref, true, x, s, true, 1, 1});
        check_quantize({pref, true, x, s, true, 5, 4101, 0, 0, true});  // vector body + tail
        check_quantize({pref, true, x, s, true, 6, 511, 3, 1, true});  // scalar path
      }
    }
  }
}

TEST_CASE("GPU dynamic quantize: long rows (opt-in cache, no cache)", "[quantize]") {
  for (sq_dtype x : kFloats) {
    // 13000 f32 values (52 KB) need the opt-in shared memory; 13000 f64 values (104 KB) and
    // 40000 of anything do not fit the cache and take the two-read path.
    check_quantize({SQ_PREFERENCE_FASTEST, true, x, SQ_DTYPE_F32, true, 7, 13000, 0, 0, true});
    check_quantize({SQ_PREFERENCE_FASTEST, true, x, SQ_DTYPE_BF16, false, 3, 40000, 0, 0, true});
    check_quantize({SQ_PREFERENCE_GPU_PORTABLE, true, x, SQ_DTYPE_F16, true, 2, 40001, 1, 1});
  }
  check_quantize({SQ_PREFERENCE_FASTEST, false, SQ_DTYPE_F16, SQ_DTYPE_F32, true, 4, 70001});
}

TEST_CASE("GPU dynamic quantize: long rows at decode M (split rows)", "[quantize]") {
  // On sm_90, the launch plan (src/dispatch/launch_plan.cpp) splits a row of more than 8 KiB of x over
  // a cluster of up to 8 CTAs while M x CTAs per row fits the SMs: these rows take 2..8 CTAs each
  // (M = 40: fewer, by the SM count), vector and scalar (odd stride, misaligned) paths; one CTA per row
  // on other GPUs. Edge rows (zeros, NaN in the middle, +Inf in the last share, -Inf in the first) at
  // M >= 5.
  int v = 0;
  for (sq_dtype x : kFloats) {
    for (int64_t m : {1, 3, 5, 8, 16, 40}) {
      const sq_dtype s = kFloats[v++ % 4];
      check_quantize({SQ_PREFERENCE_FASTEST, true, x, s, (v & 1) != 0, m, 28672, 0, 0, true});
      check_quantize({SQ_PREFERENCE_FASTEST, true, x, s, (v & 1) == 0, m, 14339, 5, 1, true});
    }
    check_quantize({SQ_PREFERENCE_FASTEST, true, x, SQ_DTYPE_F32, true, 16, 9001, 0, 0, true});
    check_quantize({SQ_PREFERENCE_FASTEST, true, x, SQ_DTYPE_BF16, false, 2, 300007, 0, 0, false});  // shares past the cache
  }
}

namespace {

struct LCase {
  sq_preference pref;
  sq_dtype t, x;
  int64_t m, n, k;
  bool bias, smooth;
};

// SQ_OP_QUANTIZED_LINEAR on the GPU against the host plan: out, and the per-token scales in
// act_scale_scratch (with the entry past M still poisoned).
void check_quantized_linear(const LCase& c) {
  CAPTURE(pref_str(c.pref), dtype_str(c.t), dtype_str(c.x), c.m, c.n, c.k, c.bias, c.smooth);
  Buf x = make_x(c.x, c.m, c.k, c.k, true);
  auto w = random_s8(static_cast<size_t>(c.n * c.k));
  Buf ws = random_scales(c.t, static_cast<size_t>(c.n));
  Buf bias = random_values(c.t, static_cast<size_t>(c.n), -1.0, 1.0);
  Buf smooth = random_scales(c.t, static_cast<size_t>(c.k), 0.1, 10.0);
  sq_plan_desc d = linear_desc(c.t, c.n, c.k, c.m + 1, 0.0);
  d.op = SQ_OP_QUANTIZED_LINEAR;
  d.act_dtype = c.x;
  sq_plan host = nullptr, gpu = nullptr;
  REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &host) == SQ_STATUS_SUCCESS);
  REQUIRE(sq_plan_select(nullptr, &d, c.pref, &gpu) == SQ_STATUS_SUCCESS);
  const char* name = nullptr;
  REQUIRE(sq_plan_kernel_name(gpu, c.m, &name) == SQ_STATUS_SUCCESS);
  CAPTURE(name);
  size_t hbytes = 0, gbytes = 0;
  REQUIRE(sq_plan_workspace_size(host, &hbytes) == SQ_STATUS_SUCCESS);
  REQUIRE(sq_plan_workspace_size(gpu, &gbytes) == SQ_STATUS_SUCCESS);
  HostWorkspace hws(hbytes);
  Buf out_ref(c.t, static_cast<size_t>(c.m * c.n)), scratch_ref(c.t, static_cast<size_t>(c.m + 1));
  out_ref.poison();
  scratch_ref.poison();
  sq_run_args a = run_args();
  a.m = c.m;
  a.act = x.data();
  a.weight = w.data();
  a.weight_scale = ws.data();
  a.bias = c.bias ? bias.data() : nullptr;
  a.smooth = c.smooth ? smooth.data() : nullptr;
  a.act_scale_scratch = scratch_ref.data();
  a.out = out_ref.data();
  REQUIRE(sq_plan_run(host, nullptr, hws.data(), hbytes, &a) == SQ_STATUS_SUCCESS);

  DevBuf dx(x.bytes.size()), dw(w.size()), dws(ws.bytes.size()), dbias(bias.bytes.size()),
      dsmooth(smooth.bytes.size()), dout(out_ref.bytes.size()), dscratch(scratch_ref.bytes.size()), dwork(gbytes);
  dx.upload(x.data(), x.bytes.size());
  dw.upload(w.data(), w.size());
  dws.upload(ws.data(), ws.bytes.size());
  dbias.upload(bias.data(), bias.bytes.size());
  dsmooth.upload(smooth.data(), smooth.bytes.size());
  dout.poison();
  dscratch.poison();
  a.act = dx.p;
  a.weight = dw.p;
  a.weight_scale = dws.p;
  a.bias = c.bias ? dbias.p : nullptr;
  a.smooth = c.smooth ? dsmooth.p : nullptr;
  a.act_scale_scratch = dscratch.p;
  a.out = dout.p;
  REQUIRE(sq_plan_run(gpu, nullptr, dwork.p, gbytes, &a) == SQ_STATUS_SUCCESS);
  CUDA_REQUIRE(cudaDeviceSynchronize());
  Buf out(c.t, out_ref.count()), scratch(c.t, scratch_ref.count());
  dout.download(out.data(), out.bytes.size());
  dscratch.download(scratch.data(), scratch.bytes.size());
  INFO("first out difference " << first_bit_difference(out, out_ref) << ", first scale difference "
                               << first_bit_difference(scratch, scratch_ref));
  CHECK(first_bit_difference(scratch, scratch_ref) == -1);
  // NaN outputs (rows with a NaN or Inf scale) may differ in payload: compare those as "both NaN".
  bool same = true;
  for (size_t i = 0; i < out.count(); ++i) {
    const double g = out.get(i), h = out_ref.get(i);
    if (std::isnan(g) && std::isnan(h)) continue;
    if (std::memcmp(out.at(i), out_ref.at(i), dtype_size(c.t)) != 0) {
      INFO("out element " << i << ": gpu " << g << ", host " << h);
      same = false;
      CHECK(same);
      break;
    }
  }
  CHECK(same);
  REQUIRE(sq_plan_destroy(gpu) == SQ_STATUS_SUCCESS);
  REQUIRE(sq_plan_destroy(host) == SQ_STATUS_SUCCESS);
}

}  // namespace

TEST_CASE("GPU quantized linear equals the host bit for bit (bias and smooth on/off)", "[quantize]") {
  for (sq_preference pref : kGpuPrefs) {
    for (sq_dtype t : kFloats) {
      for (sq_dtype x : kFloats) {
        for (int v = 0; v < 4; ++v) {
          const bool bias = v & 1, smooth = v & 2;
          check_quantized_linear({pref, t, x, 6, 40, 96, bias, smooth});
          check_quantized_linear({pref, t, x, 1, 24, 33, bias, smooth});  // M = 1, odd K
        }
      }
      check_quantized_linear({pref, t, SQ_DTYPE_F16, 130, 272, 1024, true, true});
    }
  }
}

TEST_CASE("GPU quantized linear at decode sizes (the linear overlaps the quantizer on sm_90)", "[quantize]") {
  for (sq_dtype t : {SQ_DTYPE_BF16, SQ_DTYPE_F32})
    for (int64_t m : {1, 8, 16})
      for (int64_t k : {4096, 8192, 14336}) check_quantized_linear({SQ_PREFERENCE_FASTEST, t, t, m, 4096, k, m != 8, m == 16});
}

TEST_CASE("GPU quantized linear with long rows at decode sizes (split quantizer rows)", "[quantize]") {
  for (sq_dtype t : kFloats)
    for (int64_t m : {1, 5, 16}) {
      check_quantized_linear({SQ_PREFERENCE_FASTEST, t, t, m, 72, 28672, m != 5, m != 1});
      check_quantized_linear({SQ_PREFERENCE_FASTEST, t, SQ_DTYPE_BF16, m, 40, 14336, true, m == 5});
    }
}

TEST_CASE("GPU quantized linear under CUDA graph capture and replay (decode size)", "[quantize][graph]") {
  const int64_t M = 8, N = 4096, K = 4096;
  const sq_dtype t = SQ_DTYPE_BF16;
  sq_plan_desc d = linear_desc(t, N, K, M, 0.0);
  d.op = SQ_OP_QUANTIZED_LINEAR;
  d.act_dtype = t;
  cudaStream_t s;
  CUDA_REQUIRE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  sq_plan host = nullptr, gpu = nullptr;
  REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &host) == SQ_STATUS_SUCCESS);
  REQUIRE(sq_plan_select(reinterpret_cast<sq_stream>(s), &d, SQ_PREFERENCE_FASTEST, &gpu) == SQ_STATUS_SUCCESS);
  size_t bytes = 0;
  REQUIRE(sq_plan_workspace_size(gpu, &bytes) == SQ_STATUS_SUCCESS);
  HostWorkspace hws(bytes);
  DevBuf dx(M * K * 2), dw(N * K), dws(N * 2), dout(M * N * 2), dscratch(M * 2), dwork(bytes);
  sq_run_args g = run_args();
  g.m = M;
  g.act = dx.p;
  g.weight = dw.p;
  g.weight_scale = dws.p;
  g.act_scale_scratch = dscratch.p;
  g.out = dout.p;
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CUDA_REQUIRE(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  REQUIRE(sq_plan_run(gpu, reinterpret_cast<sq_stream>(s), dwork.p, bytes, &g) == SQ_STATUS_SUCCESS);
  REQUIRE(sq_plan_run(gpu, reinterpret_cast<sq_stream>(s), dwork.p, bytes, &g) == SQ_STATUS_SUCCESS);  // twice: reuse
  CUDA_REQUIRE(cudaStreamEndCapture(s, &graph));
  CUDA_REQUIRE(cudaGraphInstantiate(&exec, graph, 0));
  for (int replay = 0; replay < 3; ++replay) {
    Buf x = make_x(t, M, K, K, replay == 1);
    auto w = random_s8(static_cast<size_t>(N * K));
    Buf ws = random_scales(t, N), ref(t, M * N), ref_scale(t, M), got(t, M * N), got_scale(t, M);
    dx.upload(x.data(), x.bytes.size());
    dw.upload(w.data(), w.size());
    dws.upload(ws.data(), ws.bytes.size());
    dout.poison();
    dscratch.poison();
    CUDA_REQUIRE(cudaGraphLaunch(exec, s));
    CUDA_REQUIRE(cudaStreamSynchronize(s));
    sq_run_args h = g;
    h.act = x.data();
    h.weight = w.data();
    h.weight_scale = ws.data();
    h.act_scale_scratch = ref_scale.data();
    h.out = ref.data();
    REQUIRE(sq_plan_run(host, nullptr, hws.data(), bytes, &h) == SQ_STATUS_SUCCESS);
    dout.download(got.data(), got.bytes.size());
    dscratch.download(got_scale.data(), got_scale.bytes.size());
    REQUIRE(first_bit_difference(got_scale, ref_scale) == -1);
    for (size_t i = 0; i < got.count(); ++i) {
      if (std::isnan(got.get(i)) && std::isnan(ref.get(i))) continue;  // rows with a NaN/Inf scale
      REQUIRE(std::memcmp(got.at(i), ref.at(i), 2) == 0);
    }
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  sq_plan_destroy(gpu);
  sq_plan_destroy(host);
  CUDA_REQUIRE(cudaStreamDestroy(s));
}

TEST_CASE("the dynamic plan reads x that the kernel before it wrote (programmatic launch), eager and in a graph",
          "[quantize][graph]") {
  // A static linear writes x (its bf16 out) on the stream, then SQ_OP_QUANTIZED_LINEAR reads it with
  // no host synchronization in between; x, q (workspace), out and the scales are poisoned first (a
  // poisoned x is NaN: every scale would be NaN). On sm_90 the quantizer starts as a programmatic
  // dependent of the linear before it and must wait for its writes; rows of 14336 split (M = 1, 16,
  // 64). At M = 64 the first linear is a split-K kernel, which lets the quantizer start as soon as its
  // own CTAs do (griddepcontrol.launch_dependents), so the quantizer's wait is all that orders them.
  const int64_t N1 = 14336, N2 = 320;
  const sq_dtype t = SQ_DTYPE_BF16;
  for (const int64_t M : {int64_t{1}, int64_t{16}, int64_t{64}}) {
    const int64_t K1 = M == 64 ? 2048 : 256;  // 2048: a weight over the decode kernels' small-weight limit
    for (const bool graph : {false, true}) {
      CAPTURE(M, graph);
      sq_plan_desc d1 = linear_desc(t, N1, K1, M, 0.013);
      sq_plan_desc d2 = linear_desc(t, N2, N1, M, 0.0);
      d2.op = SQ_OP_QUANTIZED_LINEAR;
      d2.act_dtype = t;
      cudaStream_t s;
      CUDA_REQUIRE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
      sq_plan g1 = nullptr, g2 = nullptr, h1 = nullptr, h2 = nullptr;
      REQUIRE(sq_plan_select(reinterpret_cast<sq_stream>(s), &d1, SQ_PREFERENCE_FASTEST, &g1) == SQ_STATUS_SUCCESS);
      REQUIRE(sq_plan_select(reinterpret_cast<sq_stream>(s), &d2, SQ_PREFERENCE_FASTEST, &g2) == SQ_STATUS_SUCCESS);
      REQUIRE(sq_plan_select(nullptr, &d1, SQ_PREFERENCE_HOST_REFERENCE, &h1) == SQ_STATUS_SUCCESS);
      REQUIRE(sq_plan_select(nullptr, &d2, SQ_PREFERENCE_HOST_REFERENCE, &h2) == SQ_STATUS_SUCCESS);
      const char* k1 = nullptr;
      REQUIRE(sq_plan_kernel_name(g1, M, &k1) == SQ_STATUS_SUCCESS);
      CAPTURE(k1);
      if (is_sm90() && M == 64) REQUIRE(std::string(k1).find("_splitk_") != std::string::npos);
      size_t bytes = 0;
      REQUIRE(sq_plan_workspace_size(g2, &bytes) == SQ_STATUS_SUCCESS);
      HostWorkspace hws(bytes);

      const std::vector<int8_t> act = random_s8(static_cast<size_t>(M * K1)), w1 = random_s8(static_cast<size_t>(N1 * K1)),
                                w2 = random_s8(static_cast<size_t>(N2 * N1));
      Buf ws1 = random_scales(t, static_cast<size_t>(N1)), ws2 = random_scales(t, static_cast<size_t>(N2));
      Buf x_ref(t, static_cast<size_t>(M * N1)), scr1_ref(t, static_cast<size_t>(M)), out_ref(t, static_cast<size_t>(M * N2)),
          scale_ref(t, static_cast<size_t>(M));
      sq_run_args a1 = run_args();
      a1.m = M;
      a1.act = act.data();
      a1.weight = w1.data();
      a1.weight_scale = ws1.data();
      a1.act_scale_scratch = scr1_ref.data();
      a1.out = x_ref.data();
      REQUIRE(sq_plan_run(h1, nullptr, nullptr, 0, &a1) == SQ_STATUS_SUCCESS);
      sq_run_args a2 = run_args();
      a2.m = M;
      a2.act = x_ref.data();
      a2.weight = w2.data();
      a2.weight_scale = ws2.data();
      a2.act_scale_scratch = scale_ref.data();
      a2.out = out_ref.data();
      REQUIRE(sq_plan_run(h2, nullptr, hws.data(), bytes, &a2) == SQ_STATUS_SUCCESS);

      DevBuf d_act(act.size()), d_w1(w1.size()), d_w2(w2.size()), d_ws1(ws1.bytes.size()), d_ws2(ws2.bytes.size()),
          d_x(x_ref.bytes.size()), d_scr1(scr1_ref.bytes.size()), d_out(out_ref.bytes.size()),
          d_scale(scale_ref.bytes.size()), d_work(bytes);
      d_act.upload(act.data(), act.size());
      d_w1.upload(w1.data(), w1.size());
      d_w2.upload(w2.data(), w2.size());
      d_ws1.upload(ws1.data(), ws1.bytes.size());
      d_ws2.upload(ws2.data(), ws2.bytes.size());
      a1.act = d_act.p;
      a1.weight = d_w1.p;
      a1.weight_scale = d_ws1.p;
      a1.act_scale_scratch = d_scr1.p;
      a1.out = d_x.p;
      a2.act = d_x.p;
      a2.weight = d_w2.p;
      a2.weight_scale = d_ws2.p;
      a2.act_scale_scratch = d_scale.p;
      a2.out = d_out.p;
      auto enqueue = [&] {
        REQUIRE(sq_plan_run(g1, reinterpret_cast<sq_stream>(s), nullptr, 0, &a1) == SQ_STATUS_SUCCESS);
        REQUIRE(sq_plan_run(g2, reinterpret_cast<sq_stream>(s), d_work.p, bytes, &a2) == SQ_STATUS_SUCCESS);
      };
      run_three_times(
          s, graph, enqueue,
          [&] {
            d_x.poison();
            d_work.poison();
            d_out.poison();
            d_scale.poison();
          },
          [&] {
            Buf got(t, out_ref.count()), got_scale(t, scale_ref.count());
            d_out.download(got.data(), got.bytes.size());
            d_scale.download(got_scale.data(), got_scale.bytes.size());
            REQUIRE(first_bit_difference(got_scale, scale_ref) == -1);
            REQUIRE(first_bit_difference(got, out_ref) == -1);
          });
      sq_plan_destroy(g1);
      sq_plan_destroy(g2);
      sq_plan_destroy(h1);
      sq_plan_destroy(h2);
      CUDA_REQUIRE(cudaStreamDestroy(s));
    }
  }
}

TEST_CASE("GPU quantize: a small case for compute-sanitizer", "[quantize][sanitize]") {
  check_quantize({SQ_PREFERENCE_FASTEST, true, SQ_DTYPE_F16, SQ_DTYPE_F32, true, 6, 77, 0, 0, true});
  check_quantize({SQ_PREFERENCE_FASTEST, true, SQ_DTYPE_F32, SQ_DTYPE_BF16, false, 3, 13001, 0, 0, true});
  check_quantize({SQ_PREFERENCE_FASTEST, false, SQ_DTYPE_BF16, SQ_DTYPE_F64, true, 2, 45, 3, 1});
  check_quantized_linear({SQ_PREFERENCE_FASTEST, SQ_DTYPE_BF16, SQ_DTYPE_BF16, 3, 16, 40, true, true});
  check_quantized_linear({SQ_PREFERENCE_FASTEST, SQ_DTYPE_BF16, SQ_DTYPE_BF16, 5, 40, 64, true, false});  // overlapped
  check_quantize({SQ_PREFERENCE_FASTEST, true, SQ_DTYPE_BF16, SQ_DTYPE_BF16, true, 5, 14339, 5, 1, true});  // split
  check_quantized_linear({SQ_PREFERENCE_FASTEST, SQ_DTYPE_BF16, SQ_DTYPE_BF16, 6, 24, 16384, true, true});    // split
}

// ================================================================== 0.2: quant modes, zero points, U8
namespace {

using qt::QC;

const sq_dtype kAllFloats[] = {SQ_DTYPE_F32, SQ_DTYPE_F64, SQ_DTYPE_F16, SQ_DTYPE_BF16};
const sq_quant_mode kDynModes[] = {SQ_QUANT_DYNAMIC, SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_QUANT_ABSMAX, SQ_QUANT_FROM_ABSMAX};

QC plain(sq_quant_mode mode, sq_dtype x, sq_dtype s, sq_dtype q, int64_t m, int64_t k, int v) {
  QC c;
  c.op = mode == SQ_QUANT_STATIC ? SQ_OP_QUANTIZE_STATIC : SQ_OP_QUANTIZE_DYNAMIC;
  c.mode = mode;
  c.x = x;
  c.s = s;
  c.q = q;
  c.m = m;
  c.k = k;
  c.smooth = v % 2 == 0;
  c.sums = v % 3 != 2;
  c.seed = static_cast<uint64_t>(v) * 104729 + static_cast<uint64_t>(k * 31 + m);
  return c;
}

}  // namespace

TEST_CASE("QUANTIZE_STATIC with zero points, S8 and U8 q, every dtype", "[quantize]") {
  int v = 0;
  for (sq_dtype x : kAllFloats)
    for (sq_dtype q : {SQ_DTYPE_S8, SQ_DTYPE_U8})
      for (int32_t zp : q == SQ_DTYPE_U8 ? std::vector<int32_t>{0, 128, 255} : std::vector<int32_t>{-128, -3, 0, 127}) {
        QC a = plain(SQ_QUANT_STATIC, x, kAllFloats[v % 4], q, 6, 1029, v);
        a.zp = zp;
        a.edges = true;
        a.pad = 16;
        qt::check_plan(a);
        QC b = plain(SQ_QUANT_STATIC, x, kAllFloats[(v + 1) % 4], q, 3, 333, v + 1);
        b.zp = zp;
        b.pad = 3;
        b.offset = 1;  // single elements
        qt::check_plan(b, kGpuPrefs[v % 2]);
        ++v;
      }
}

TEST_CASE("QUANTIZE_DYNAMIC: every quant mode, x dtype and scale dtype", "[quantize]") {
  int v = 0;
  for (sq_quant_mode mode : kDynModes)
    for (sq_dtype x : kAllFloats)
      for (sq_dtype s : kAllFloats) {
        const sq_dtype q = mode == SQ_QUANT_DYNAMIC_ASYMMETRIC && v % 2 ? SQ_DTYPE_U8 : SQ_DTYPE_S8;
        QC a = plain(mode, x, s, q, 11, 4101, v);
        a.edges = true;
        qt::check_plan(a, kGpuPrefs[v % 2]);
        QC b = plain(mode, x, s, q, 6, 511, v + 1);
        b.pad = 3;
        b.offset = 1;
        b.edges = true;
        qt::check_plan(b);
        ++v;
      }
}

TEST_CASE("quantize ops: M = 1..17, 63..65, 1000 and K up to 28672 (odd K too)", "[quantize]") {
  const sq_quant_mode modes[] = {SQ_QUANT_STATIC, SQ_QUANT_DYNAMIC, SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_QUANT_ABSMAX,
                                 SQ_QUANT_FROM_ABSMAX};
  const int64_t ks[] = {1, 7, 127, 4096, 4099, 14336, 28672, 28673};
  int v = 0;
  for (int64_t m = 1; m <= 17; ++m)
    for (int64_t k : ks) {
      const sq_quant_mode mode = modes[v % 5];
      const sq_dtype q = (mode == SQ_QUANT_STATIC || mode == SQ_QUANT_DYNAMIC_ASYMMETRIC) && v % 3 == 0 ? SQ_DTYPE_U8 : SQ_DTYPE_S8;
      QC c = plain(mode, kAllFloats[v % 4], kAllFloats[(v / 4) % 4], q, m, k, v);
      c.zp = mode == SQ_QUANT_STATIC && q == SQ_DTYPE_U8 ? 128 : 0;
      c.edges = m >= 6;
      qt::check_plan(c);
      ++v;
    }
  for (int64_t m : {63, 64, 65, 1000})
    for (int64_t k : {int64_t{4096}, int64_t{4099}, int64_t{28672}}) {
      if (m == 1000 && k == 28672) continue;  // below, once per dtype is enough
      QC c = plain(modes[v % 5], kAllFloats[v % 4], kAllFloats[(v + 1) % 4], SQ_DTYPE_S8, m, k, v);
      c.edges = true;
      qt::check_plan(c);
      ++v;
    }
  for (sq_dtype x : {SQ_DTYPE_BF16, SQ_DTYPE_F32}) {
    QC c = plain(SQ_QUANT_DYNAMIC, x, x, SQ_DTYPE_S8, 1000, 28672, v++);
    c.edges = true;
    qt::check_plan(c);
  }
}

TEST_CASE("quantize ops are batch invariant: a row alone equals that row inside M = 1000", "[quantize]") {
  int v = 0;
  for (sq_quant_mode mode : {SQ_QUANT_STATIC, SQ_QUANT_DYNAMIC, SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_QUANT_ABSMAX, SQ_QUANT_FROM_ABSMAX}) {
    const sq_dtype x = kAllFloats[v % 4];
    QC c = plain(mode, x, x, mode == SQ_QUANT_DYNAMIC_ASYMMETRIC ? SQ_DTYPE_U8 : SQ_DTYPE_S8, 1000, v % 2 ? 14336 : 4096, v);
    c.sums = true;
    c.edges = true;
    qt::check_rows_alone(c, {0, 1, 2, 3, 4, 5, 517, 999});
    ++v;
  }
}

TEST_CASE("quantize ops under CUDA graph capture and replay", "[quantize][graph]") {
  int v = 0;
  for (sq_quant_mode mode : {SQ_QUANT_STATIC, SQ_QUANT_DYNAMIC, SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_QUANT_ABSMAX, SQ_QUANT_FROM_ABSMAX}) {
    for (int64_t m : {1, 16, 65}) {
      QC c = plain(mode, SQ_DTYPE_BF16, SQ_DTYPE_F32, SQ_DTYPE_S8, m, m == 1 ? 28672 : 4096, v++);
      c.edges = m >= 6;
      qt::check_plan(c, SQ_PREFERENCE_FASTEST, true);
    }
  }
}

namespace {

// ABSMAX on each of R slices of K, the element-wise max of the R results (as unsigned integers of their
// bits), then FROM_ABSMAX on each slice, against DYNAMIC on the whole rows (op: QUANTIZE_DYNAMIC, or
// SILU_MUL_QUANTIZE whose slices hold their own gate and up halves, as tensor-parallel ranks do).
void check_absmax_identity(sq_op op, sq_dtype x, sq_dtype s, int64_t m, int64_t k, int r_slices, int v) {
  CAPTURE(op, qt::dname(x), qt::dname(s), m, k, r_slices);
  QC whole = plain(SQ_QUANT_DYNAMIC, x, s, SQ_DTYPE_S8, m, k, v);
  whole.op = op;
  whole.edges = true;
  whole.sums = true;
  const qt::Inputs in = qt::make_inputs(whole);
  qt::Stream st;
  sq_plan pw = nullptr;
  {
    const sq_plan_desc d = qt::desc_of(whole, m);
    REQUIRE(sq_plan_select(qt::as_sq(st.s), &d, SQ_PREFERENCE_FASTEST, &pw) == SQ_STATUS_SUCCESS);
  }
  qt::RunSet gw(whole, in, true);
  gw.reset(in, st.s);
  qt::run_ok(pw, st.s, qt::args_of(gw));
  REQUIRE(cudaStreamSynchronize(st.s) == cudaSuccess);
  const qt::Outputs want = gw.outputs();
  sq_plan_destroy(pw);

  // The slices [k0, k1): their own x ([m, k1 - k0], or [m, 2 (k1 - k0)] for SiLU) and smooth.
  std::vector<QC> cs;
  std::vector<qt::Inputs> ins;
  for (int i = 0; i < r_slices; ++i) {
    const int64_t k0 = k * i / r_slices, k1 = k * (i + 1) / r_slices;
    QC c = whole;
    c.k = k1 - k0;
    c.mode = SQ_QUANT_ABSMAX;
    qt::Inputs si;
    si.x = qt::Arr(x, static_cast<size_t>(m * c.ld_x()));
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < c.k; ++j) {
        std::memcpy(static_cast<char*>(si.x.p()) + (r * c.ld_x() + j) * qt::esize(x),
                    static_cast<const char*>(in.x.p()) + (r * whole.ld_x() + k0 + j) * qt::esize(x), qt::esize(x));
        if (whole.silu())
          std::memcpy(static_cast<char*>(si.x.p()) + (r * c.ld_x() + c.k + j) * qt::esize(x),
                      static_cast<const char*>(in.x.p()) + (r * whole.ld_x() + k + k0 + j) * qt::esize(x), qt::esize(x));
      }
    if (whole.smooth) {
      si.smooth = qt::Arr(s, static_cast<size_t>(c.k));
      std::memcpy(si.smooth.p(), static_cast<const char*>(in.smooth.p()) + k0 * qt::esize(s), si.smooth.b.size());
    }
    cs.push_back(c);
    ins.push_back(std::move(si));
  }
  // ABSMAX per slice, then the max of the bit patterns.
  const size_t cb = qt::esize(whole.c());
  std::vector<uint64_t> amax(static_cast<size_t>(m), 0);
  for (int i = 0; i < r_slices; ++i) {
    sq_plan p = nullptr;
    const sq_plan_desc d = qt::desc_of(cs[i], m);
    REQUIRE(sq_plan_select(qt::as_sq(st.s), &d, SQ_PREFERENCE_FASTEST, &p) == SQ_STATUS_SUCCESS);
    qt::RunSet g(cs[i], ins[i], true);
    g.reset(ins[i], st.s);
    qt::run_ok(p, st.s, qt::args_of(g));
    REQUIRE(cudaStreamSynchronize(st.s) == cudaSuccess);
    const qt::Arr a = g.outputs().absmax;
    for (int64_t r = 0; r < m; ++r) {
      uint64_t bits = 0;
      std::memcpy(&bits, a.b.data() + static_cast<size_t>(r) * cb, cb);
      amax[static_cast<size_t>(r)] = std::max(amax[static_cast<size_t>(r)], bits);
    }
    sq_plan_destroy(p);
  }
  // FROM_ABSMAX per slice: the scales and q of the whole row.
  for (int i = 0; i < r_slices; ++i) {
    const int64_t k0 = k * i / r_slices;
    QC c = cs[i];
    c.mode = SQ_QUANT_FROM_ABSMAX;
    ins[i].absmax = qt::Arr(whole.c(), static_cast<size_t>(m));
    for (int64_t r = 0; r < m; ++r) std::memcpy(ins[i].absmax.b.data() + static_cast<size_t>(r) * cb, &amax[static_cast<size_t>(r)], cb);
    sq_plan p = nullptr;
    const sq_plan_desc d = qt::desc_of(c, m);
    REQUIRE(sq_plan_select(qt::as_sq(st.s), &d, SQ_PREFERENCE_FASTEST, &p) == SQ_STATUS_SUCCESS);
    qt::RunSet g(c, ins[i], true);
    g.reset(ins[i], st.s);
    qt::run_ok(p, st.s, qt::args_of(g));
    REQUIRE(cudaStreamSynchronize(st.s) == cudaSuccess);
    const qt::Outputs o = g.outputs();
    sq_plan_destroy(p);
    INFO("slice " << i << " [" << k0 << ", " << k0 + c.k << ")");
    CHECK(std::memcmp(o.scale.b.data(), want.scale.b.data(), static_cast<size_t>(m) * qt::esize(s)) == 0);
    bool same = true;
    for (int64_t r = 0; r < m && same; ++r)
      same = std::memcmp(o.q.b.data() + r * c.ld(), want.q.b.data() + r * whole.ld() + k0, static_cast<size_t>(c.k)) == 0;
    CHECK(same);
  }
}

}  // namespace

TEST_CASE("ABSMAX on K slices -> max -> FROM_ABSMAX equals DYNAMIC on the whole rows", "[quantize]") {
  int v = 0;
  for (sq_dtype x : kAllFloats)
    for (int r : {2, 3, 4}) {
      check_absmax_identity(SQ_OP_QUANTIZE_DYNAMIC, x, kAllFloats[v % 4], 7, r == 3 ? 12289 : 12288, r, v);
      ++v;
    }
  for (sq_dtype x : {SQ_DTYPE_F32, SQ_DTYPE_F16, SQ_DTYPE_BF16}) check_absmax_identity(SQ_OP_SILU_MUL_QUANTIZE, x, x, 6, 14336, 2, v++);
}

TEST_CASE("GPU quantize 0.2 modes: a small set for compute-sanitizer", "[quantize][sanitize]") {
  int v = 0;
  for (sq_quant_mode mode : {SQ_QUANT_STATIC, SQ_QUANT_DYNAMIC, SQ_QUANT_DYNAMIC_ASYMMETRIC, SQ_QUANT_ABSMAX, SQ_QUANT_FROM_ABSMAX}) {
    QC c = plain(mode, kAllFloats[v % 4], SQ_DTYPE_F32, mode == SQ_QUANT_STATIC ? SQ_DTYPE_U8 : SQ_DTYPE_S8, 6, v % 2 ? 77 : 14339, v);
    c.zp = mode == SQ_QUANT_STATIC ? 100 : 0;
    c.edges = true;
    c.offset = v % 2;
    qt::check_plan(c);
    c.m = 2;  // M = 2, K = 14339: split rows on sm_90
    c.edges = false;
    qt::check_plan(c);
    ++v;
  }
}
