// GPU linear kernels, every family and dtype, bit for bit against the host reference kernel on
// random inputs, over shapes that hit every M bucket and tile edge; poisoned outputs; strided and
// misaligned rows; CUDA graph capture and replay; two plans on two streams at once. Since 0.2 (the
// second half): every operand pair (S8/U8) with and without zero points (per-tensor za, per-token za
// from QUANTIZED_LINEAR's asymmetric quantizer and from SCALED_LINEAR's caller, zw with the row-sums
// pre-pass or the caller's sums), S32 accumulators, the caller's per-token and per-tensor scales (a
// graph replayed after the scale changed), batch invariance over M = 1..256, the U8 zw = 128 identity.
#include <catch2/catch.hpp>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gpu_harness.hpp"
#include "gpu_util.hpp"
#include "test_util.hpp"

using namespace sqt;

namespace {

// The workspace a LinearRun passes: none, all of sq_plan_workspace_size (the staging area where the plan
// has one [D-stage-unaligned]), or one byte less (no staging).
constexpr int kNoWorkspace = 0, kFullWorkspace = 1, kShortWorkspace = 2;

struct Case {
  sq_preference pref;
  sq_dtype t;
  int64_t m, n, k;
  bool bias = false;
  int64_t pad_act = 0, pad_w = 0, pad_out = 0;  // extra elements per row (0 = packed)
  int64_t act_offset = 0;                       // bytes: a non-zero value misaligns act
  bool extreme = false;                         // all -128 (the overflow edge)
  int ws = kNoWorkspace;                        // the workspace the run gets (the staging area)
};

// One linear on the GPU and on the host reference kernel, compared bit for bit, including
// the poisoned padding of out and the element of the scratch past M. prepare() computes the host
// result and uploads; launch() enqueues on the stream; verify() waits and compares.
class LinearRun {
 public:
  LinearRun(const Case& c, cudaStream_t stream)
      : c_(c), stream_(stream), lda_(c.k + c.pad_act), ldw_(c.k + c.pad_w), ldo_(c.n + c.pad_out),
        act_(c.extreme ? std::vector<int8_t>(c.m * lda_, -128) : random_s8(c.m * lda_)),
        w_(c.extreme ? std::vector<int8_t>(c.n * ldw_, -128) : random_s8(c.n * ldw_)),
        ws_(random_scales(c.t, c.n)), bias_(random_values(c.t, c.n, -4.0, 4.0)),
        ref_(c.t, c.m * ldo_), ref_scratch_(c.t, c.m + 1),
        d_act_(act_.size() + c.act_offset), d_w_(w_.size()), d_ws_(ws_.bytes.size()), d_bias_(bias_.bytes.size()),
        d_out_(ref_.bytes.size()), d_scratch_(ref_scratch_.bytes.size()) {
    std::uniform_real_distribution<double> u(1e-3, 0.1);
    const double act_scale = c.extreme ? 1.0 / 1024 : u(rng());
    sq_plan_desc d = linear_desc(c.t, c.n, c.k, c.m + 5, act_scale);
    REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &host_plan_) == SQ_STATUS_SUCCESS);
    REQUIRE(sq_plan_select(reinterpret_cast<sq_stream>(stream), &d, c.pref, &gpu_plan_) == SQ_STATUS_SUCCESS);
    REQUIRE(sq_plan_kernel_name(gpu_plan_, c.m, &kernel_) == SQ_STATUS_SUCCESS);
    REQUIRE(sq_plan_workspace_size(gpu_plan_, &ws_bytes_) == SQ_STATUS_SUCCESS);
    if (c.ws == kNoWorkspace) ws_bytes_ = 0;
    if (c.ws == kShortWorkspace && ws_bytes_ > 0) --ws_bytes_;
    if (ws_bytes_ > 0) {  // poisoned: the copies' zero columns must be written
      d_work_ = std::make_unique<DevBuf>(ws_bytes_);
      d_work_->poison();
    }
    ref_.poison();
    ref_scratch_.poison();
    sq_run_args a = run_args();
    a.m = c.m;
    a.act = act_.data();
    a.ld_act = lda_;
    a.weight = w_.data();
    a.ld_weight = ldw_;
    a.weight_scale = ws_.data();
    a.bias = c.bias ? bias_.data() : nullptr;
    a.act_scale_scratch = ref_scratch_.data();
    a.out = ref_.data();
    a.ld_out = ldo_;
    REQUIRE(sq_plan_run(host_plan_, nullptr, nullptr, 0, &a) == SQ_STATUS_SUCCESS);
    CUDA_REQUIRE(cudaMemcpy(static_cast<char*>(d_act_.p) + c.act_offset, act_.data(), act_.size(),
                            cudaMemcpyHostToDevice));
    d_w_.upload(w_.data(), w_.size());
    d_ws_.upload(ws_.data(), ws_.bytes.size());
    d_bias_.upload(bias_.data(), bias_.bytes.size());
    d_out_.poison();
    d_scratch_.poison();
    g_ = a;
    g_.act = static_cast<char*>(d_act_.p) + c.act_offset;
    g_.weight = d_w_.p;
    g_.weight_scale = d_ws_.p;
    g_.bias = c.bias ? d_bias_.p : nullptr;
    g_.act_scale_scratch = d_scratch_.p;
    g_.out = d_out_.p;
    REQUIRE(sq_plan_can_implement(gpu_plan_, &g_) == SQ_STATUS_SUCCESS);
  }
  ~LinearRun() {
    sq_plan_destroy(gpu_plan_);
    sq_plan_destroy(host_plan_);
  }
  void launch() {
    REQUIRE(sq_plan_run(gpu_plan_, reinterpret_cast<sq_stream>(stream_), workspace(), ws_bytes_, &g_) ==
            SQ_STATUS_SUCCESS);
  }
  void* workspace() const { return d_work_ ? d_work_->p : nullptr; }
  size_t workspace_bytes() const { return ws_bytes_; }
  // What sq_plan_kernel_name reports for the GPU plan at M (the alignment K alone allows).
  std::string kernel() const { return kernel_; }
  // The GPU plan run on another stream than its own (the status, nothing checked).
  sq_status run_on(cudaStream_t other) {
    return sq_plan_run(gpu_plan_, reinterpret_cast<sq_stream>(other), nullptr, 0, &g_);
  }
  // can_implement with out replaced by `other_out`.
  sq_status can_implement_with_out(void* other_out) {
    sq_run_args a = g_;
    a.out = other_out;
    return sq_plan_can_implement(gpu_plan_, &a);
  }
  // out and the scratch still hold their poison (nothing was written).
  void require_untouched() {
    CUDA_REQUIRE(cudaDeviceSynchronize());
    Buf got(c_.t, c_.m * ldo_), got_scratch(c_.t, c_.m + 1), poison_out(c_.t, c_.m * ldo_),
        poison_scratch(c_.t, c_.m + 1);
    poison_out.poison();
    poison_scratch.poison();
    d_out_.download(got.data(), got.bytes.size());
    d_scratch_.download(got_scratch.data(), got_scratch.bytes.size());
    REQUIRE(first_bit_difference(got, poison_out) == -1);
    REQUIRE(first_bit_difference(got_scratch, poison_scratch) == -1);
  }
  void verify() {
    const Case& c = c_;
    CAPTURE(c.pref, dtype_str(c.t), c.m, c.n, c.k, c.bias, c.pad_act, c.pad_w, c.pad_out, c.act_offset, c.ws, kernel_);
    CUDA_REQUIRE(cudaStreamSynchronize(stream_));
    CUDA_REQUIRE(cudaGetLastError());
    Buf got(c.t, c.m * ldo_), got_scratch(c.t, c.m + 1);
    d_out_.download(got.data(), got.bytes.size());
    d_scratch_.download(got_scratch.data(), got_scratch.bytes.size());
    const int64_t diff = first_bit_difference(got, ref_);
    if (diff >= 0) {
      INFO("first difference at element " << diff << " (row " << diff / ldo_ << ", col " << diff % ldo_
                                          << "): gpu " << got.get(diff) << " host " << ref_.get(diff));
      REQUIRE(diff == -1);
    }
    REQUIRE(std::memcmp(got_scratch.data(), ref_scratch_.data(), (c.m + 1) * dtype_size(c.t)) == 0);
  }

 private:
  Case c_;
  cudaStream_t stream_;
  int64_t lda_, ldw_, ldo_;
  std::vector<int8_t> act_, w_;
  Buf ws_, bias_, ref_, ref_scratch_;
  DevBuf d_act_, d_w_, d_ws_, d_bias_, d_out_, d_scratch_;
  size_t ws_bytes_ = 0;
  std::unique_ptr<DevBuf> d_work_;
  sq_plan host_plan_ = nullptr, gpu_plan_ = nullptr;
  const char* kernel_ = "";
  sq_run_args g_;
};

void check_case(const Case& c, cudaStream_t stream = nullptr) {
  CAPTURE(c.pref, dtype_str(c.t), c.m, c.n, c.k, c.bias, c.pad_act, c.pad_w, c.pad_out, c.act_offset);
  LinearRun run(c, stream);
  run.launch();
  run.verify();
}

const sq_dtype kDtypes[] = {SQ_DTYPE_F32, SQ_DTYPE_F64, SQ_DTYPE_F16, SQ_DTYPE_BF16};
const int64_t kMs[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 63, 64, 65, 127, 128, 129, 1000};
struct NK {
  int64_t n, k;
};
// N and K not multiples of the tiles, plus the small-K edges (K = 1, 16, 32).
const NK kNKs[] = {{136, 16}, {17, 32}, {1000, 1024}, {8, 1}, {250, 48}, {64, 100}, {4096, 256}, {33, 4112}};

std::vector<sq_preference> families() {
  std::vector<sq_preference> f = {SQ_PREFERENCE_GPU_PORTABLE};
  if (is_sm90()) f.push_back(SQ_PREFERENCE_GPU_HOPPER);
  return f;
}

}  // namespace

TEST_CASE("every family and dtype equals the host kernel over the M buckets and tile edges", "[linear]") {
  for (sq_preference pref : families())
    for (sq_dtype t : kDtypes) {
      size_t i = 0;
      for (int64_t m : kMs) {
        const NK nk = kNKs[i++ % (sizeof(kNKs) / sizeof(kNKs[0]))];
        check_case({pref, t, m, nk.n, nk.k, (i % 2) == 0});
      }
    }
}

TEST_CASE("FASTEST picks the Hopper family on sm_90 and matches the host", "[linear]") {
  for (sq_dtype t : kDtypes)
    for (int64_t m : {1, 16, 64, 200, 2048}) check_case({SQ_PREFERENCE_FASTEST, t, m, 1000, 4096, m % 2 == 0});
}

TEST_CASE("decode kernels on both sides of the narrow/wide switch (N = 32 * SMs; 48 * SMs: wide at M <= 16 too)",
          "[linear]") {
  const int sms = num_sms();
  for (sq_preference pref : families())
    for (int64_t n : {int64_t{32} * sms, int64_t{32} * sms - 32, int64_t{48} * sms})
      for (int64_t m : {1, 16, 17, 33, 64}) check_case({pref, SQ_DTYPE_BF16, m, n, 512, m % 2 == 1});
}

struct Shape {
  int64_t m, n, k;
};

// What sq_plan_kernel_name reports for a Hopper plan of shape s with out dtype t at M = s.m.
std::string hopper_kernel_name(sq_dtype t, const Shape& s) {
  sq_plan_desc d = linear_desc(t, s.n, s.k, s.m, 0.01);
  sq_plan plan = nullptr;
  REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_GPU_HOPPER, &plan) == SQ_STATUS_SUCCESS);
  const char* name = nullptr;
  REQUIRE(sq_plan_kernel_name(plan, s.m, &name) == SQ_STATUS_SUCCESS);
  sq_plan_destroy(plan);
  return name;
}

// Every shape through the Hopper family in every dtype, packed with bias and with padded out rows
// (pad_out) without, against the host kernel; returns the distinct kernels the plan chose, sorted.
std::vector<std::string> check_hopper_shapes(const std::vector<Shape>& shapes, int64_t pad_out) {
  std::vector<std::string> names;
  for (const Shape& s : shapes) {
    names.push_back(hopper_kernel_name(SQ_DTYPE_F32, s));
    for (sq_dtype t : kDtypes)
      for (int64_t pad : {int64_t{0}, pad_out})
        check_case({SQ_PREFERENCE_GPU_HOPPER, t, s.m, s.n, s.k, pad == 0, 0, 0, pad});
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

TEST_CASE("Hopper split-K clusters (17 <= M <= 256) reduce exact partials in a fixed order", "[linear]") {
  if (!is_sm90()) {
    WARN("not an sm_90 GPU: the Hopper split-K kernels are not exercised");
    return;
  }
  // Shapes whose dispatch takes split-K variants of both tile heights (64 rows up to M = 64, else
  // 128), several tile widths and every split (S = 1, 2, 3).
  const std::vector<std::string> names =
      check_hopper_shapes({{40, 300, 65536}, {200, 136, 16384}, {48, 6144, 4096}, {64, 8192, 28672},
                           {64, 28672, 640}, {40, 10240, 2048}, {100, 4096, 4096}},
                          3);
  // The set above must keep reaching split-K kernels of several widths and every split, or it no
  // longer tests what it is for (a dispatch change would silently drop coverage).
  CAPTURE(names);
  int split_variants = 0;
  bool c1 = false, c2 = false, c3 = false, rows64 = false, rows128 = false;
  for (const std::string& n : names) {
    if (n.find("splitk") == std::string::npos) continue;
    ++split_variants;
    c1 = c1 || n.find("_c1") != std::string::npos;
    c2 = c2 || n.find("_c2") != std::string::npos;
    c3 = c3 || n.find("_c3") != std::string::npos;
    rows64 = rows64 || n.find("splitk_64x") != std::string::npos;
    rows128 = rows128 || n.find("splitk_128x") != std::string::npos;
  }
  CHECK(split_variants >= 5);
  CHECK((c1 && c2 && c3));
  CHECK((rows64 && rows128));
}

TEST_CASE("Hopper persistent kernels of every tile width (M > 256) equal the host kernel", "[linear]") {
  if (!is_sm90()) {
    WARN("not an sm_90 GPU: the Hopper persistent kernels are not exercised");
    return;
  }
  // On the 132-SM H100 the dispatch's cost model takes the 128, 96, 160 and 256 wide tiles here
  // (N not a multiple of the width, M not a multiple of 128, several K blocks).
  const std::vector<std::string> names =
      check_hopper_shapes({{257, 100, 400}, {257, 132, 400}, {513, 3332, 272}, {769, 3748, 144}}, 5);
  const int sms = num_sms();
  CAPTURE(names, sms);
  if (sms != 132) {
    WARN("not a 132-SM GPU: the dispatch may take other widths for these shapes; coverage not asserted");
    return;
  }
  for (const char* w : {"sm90_wgmma_ws_128x96x", "sm90_wgmma_ws_128x128x", "sm90_wgmma_ws_128x160x",
                        "sm90_wgmma_ws_128x256x"}) {
    CAPTURE(w);
    CHECK(std::any_of(names.begin(), names.end(), [&](const std::string& n) { return n.rfind(w, 0) == 0; }));
  }
}

TEST_CASE("Hopper: out rows not 16-byte aligned above the decode range run a staging cooperative kernel",
          "[linear]") {
  if (!is_sm90()) {
    WARN("not an sm_90 GPU: the Hopper out-staging dispatch is not exercised");
    return;
  }
  const int sms = num_sms();
  // Odd N (packed out rows not 16-byte aligned) where aligned rows would take the ping-pong kernel, the
  // 96-wide tile or one-wave split-K; packed and with odd padding, every staged dtype [D-out-align-dispatch].
  for (const Shape& s : {Shape{2100, 2301, 272}, Shape{1024, 3333, 512}, Shape{128, 4099, 1024}}) {
    for (sq_dtype t : {SQ_DTYPE_BF16, SQ_DTYPE_F16, SQ_DTYPE_F32}) {
      const std::string n = hopper_kernel_name(t, s);
      CAPTURE(s.m, s.n, s.k, t, n, sms);
      CHECK(n.find("_pp_") == std::string::npos);
      CHECK(n.find("_128x96x") == std::string::npos);
      CHECK(n.find("_128x160x") == std::string::npos);
      for (int64_t pad : {int64_t{0}, int64_t{3}})
        check_case({SQ_PREFERENCE_GPU_HOPPER, t, s.m, s.n, s.k, pad == 0, 0, 0, pad});
    }
  }
}

TEST_CASE("Hopper ping-pong kernel (16-bit out, 2 to 32 of its tiles per SM) equals the host kernel", "[linear]") {
  if (!is_sm90()) {
    WARN("not an sm_90 GPU: the Hopper ping-pong kernel is not exercised");
    return;
  }
  const int sms = num_sms();
  // 8 x 33 and 17 x 18 tiles of 128 x 128 (2.0 and 2.3 per SM on 132 SMs): each warpgroup takes
  // turns over several tiles; M and N not multiples of 128; several K blocks. f32 out of the same
  // shapes stays on the cooperative kernels. Packed and 8-padded out rows are 16-byte aligned (the
  // ping-pong kernel); 6-padded ones are not, and take a cooperative kernel that stages them
  // [D-out-align-dispatch].
  for (const Shape& s : {Shape{1000, 4200, 400}, Shape{2100, 2296, 272}}) {
    for (sq_dtype t : {SQ_DTYPE_BF16, SQ_DTYPE_F16, SQ_DTYPE_F32}) {
      const std::string name = hopper_kernel_name(t, s);
      CAPTURE(s.m, s.n, s.k, t, name, sms);
      if (sms == 132) CHECK((name.find("_pp_") != std::string::npos) == (t != SQ_DTYPE_F32));
      for (int64_t pad : {int64_t{0}, int64_t{6}, int64_t{8}})
        check_case({SQ_PREFERENCE_GPU_HOPPER, t, s.m, s.n, s.k, pad == 0, 0, 0, pad});
    }
  }
  if (sms != 132) WARN("not a 132-SM GPU: which kernel these shapes take is not asserted");
}

TEST_CASE("the largest legal K, extreme values, and odd K take exact paths", "[linear]") {
  for (sq_preference pref : families()) {
    check_case({pref, SQ_DTYPE_F64, 3, 5, SQ_MAX_K, false, 0, 0, 0, 0, true});
    check_case({pref, SQ_DTYPE_F32, 70, 9, 131056, true, 0, 0, 0, 0, true});
    check_case({pref, SQ_DTYPE_BF16, 2, 40, 131056});
    check_case({pref, SQ_DTYPE_F16, 129, 77, 999, true});
  }
}

TEST_CASE("strided and misaligned rows: aligned strides keep fast paths, others fall back", "[linear]") {
  for (sq_preference pref : families())
    for (sq_dtype t : {SQ_DTYPE_F32, SQ_DTYPE_BF16}) {
      check_case({pref, t, 5, 300, 512, true, 16, 32, 7});      // aligned strides, padded out
      check_case({pref, t, 130, 300, 512, false, 16, 48, 1});
      check_case({pref, t, 9, 100, 256, true, 1, 0, 0});        // odd ld_act: generic path
      check_case({pref, t, 200, 100, 256, false, 0, 3, 0});     // odd ld_weight
      check_case({pref, t, 12, 64, 128, true, 0, 0, 0, 1});     // act base misaligned by one byte
      check_case({pref, t, 300, 64, 128, false, 0, 0, 0, 8});   // act base 8-byte aligned only
    }
}

TEST_CASE("K % 16 == 8 with 8-byte aligned act at decode M takes the 8-byte-load decode kernels, bit-exact",
          "[linear]") {
  // Tensor-parallel shards (K = 10944 / 8 = 1368) [D-decode-align8]: act's base 8 bytes past a 16-byte
  // boundary, packed rows (ld % 16 == 8) or rows padded by 16; M across the token buckets. Both families
  // (the Hopper one takes the portable choice under 16-byte alignment).
  constexpr int64_t kOffset8 = 8;  // act base 8-byte but not 16-byte aligned
  constexpr int64_t kPad16 = 16;   // keeps ld % 16 == 8
  const char* kA8 = "_a8";
  auto is_a8 = [&](const std::string& name) {
    return name.rfind("decode_mma_", 0) == 0 && name.size() > 3 && name.compare(name.size() - 3, 3, kA8) == 0;
  };
  for (sq_preference pref : families())
    for (sq_dtype t : kDtypes)
      for (int64_t m : {1, 8, 17, 33, 64})
        for (const NK nk : {NK{2048, 1368}, NK{300, 72}, NK{77, 8}}) {
          const bool padded = m % 2 == 1;
          const Case c{pref, t, m, nk.n, nk.k, padded, padded ? kPad16 : 0, padded ? kPad16 : 0, 0, kOffset8};
          CAPTURE(pref, dtype_str(t), m, nk.n, nk.k, padded);
          LinearRun run(c, nullptr);
          CHECK(is_a8(run.kernel()));
          run.launch();
          run.verify();
        }
  for (sq_preference pref : families()) {
    // K % 16 == 0 with an 8-byte aligned act base at decode M: the same kernels (sq_plan_kernel_name answers
    // for 16-byte aligned operands); above the decode range: the generic kernel, as before.
    check_case({pref, SQ_DTYPE_BF16, 5, 300, 512, false, 0, 0, 0, kOffset8});
    check_case({pref, SQ_DTYPE_F32, 65, 2048, 1368, true, 0, 0, 0, kOffset8});
    // All -128 at the largest K with K % 16 == 8 (the sums reach -128 * -128 * K < 2^31).
    check_case({pref, SQ_DTYPE_F32, 3, 40, 131048, false, 0, 0, 0, 0, true});
  }
}

TEST_CASE("K not a multiple of 16 above decode M: staged through the workspace, bit-exact; with less, unstaged",
          "[linear][stage]") {
  // [D-stage-unaligned] K % 16 of 8, 4, 1 and 15; packed, padded and misaligned rows; M on both sides of the
  // decode range; every dtype. The same case with all of sq_plan_workspace_size (staged above decode M),
  // with one byte less and with none (the operands read where they are); each equals the host kernel.
  for (sq_preference pref : families())
    for (const NK nk : {NK{2048, 1368}, NK{300, 100}, NK{129, 33}, NK{64, 47}}) {
      size_t i = 0;
      for (int64_t m : {64, 65, 128, 300, 1000}) {
        const sq_dtype t = kDtypes[i % 4];
        const int64_t pad = i % 3 == 1 ? 3 : 0;       // odd strides on both operands
        const int64_t offset = i % 3 == 2 ? 1 : 0;    // act's base one byte past a boundary
        ++i;
        for (int ws : {kFullWorkspace, kShortWorkspace, kNoWorkspace}) {
          const Case c{pref, t, m, nk.n, nk.k, i % 2 == 0, pad, pad, 0, offset, false, ws};
          CAPTURE(pref, dtype_str(t), m, nk.n, nk.k, ws);
          LinearRun run(c, nullptr);
          // The Hopper plan has the staging area (these copies pay at every M); the portable one none.
          if (ws == kFullWorkspace) CHECK((run.workspace_bytes() > 0) == (pref == SQ_PREFERENCE_GPU_HOPPER));
          run.launch();
          run.verify();
        }
      }
    }
  // A GPU plan of K % 16 == 0, or with zero points, has no staging area.
  for (sq_preference pref : families()) {
    LinearRun aligned({pref, SQ_DTYPE_BF16, 300, 256, 512, false, 0, 0, 0, 0, false, kFullWorkspace}, nullptr);
    CHECK(aligned.workspace_bytes() == 0);
  }
  // A Hopper plan has the area only where a run of max_m rows stages: the wide 14336 x 4104 weight's copy
  // costs more than the 8-byte tiles lose up to M = 128, not from M = 192 (staging_pays).
  if (is_sm90())
    for (const auto& [max_m, area] : {std::pair<int64_t, bool>{128, false}, {192, true}}) {
      CAPTURE(max_m);
      sq_plan_desc d = linear_desc(SQ_DTYPE_BF16, 14336, 4104, max_m, 0.01);
      sq_plan plan = nullptr;
      REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_GPU_HOPPER, &plan) == SQ_STATUS_SUCCESS);
      size_t bytes = 0;
      REQUIRE(sq_plan_workspace_size(plan, &bytes) == SQ_STATUS_SUCCESS);
      CHECK((bytes >= size_t{14336} * 4104) == area);
      sq_plan_destroy(plan);
    }
  // The largest legal K % 16 != 0 with all -128 operands, staged (the zero columns add nothing).
  for (sq_preference pref : families())
    check_case({pref, SQ_DTYPE_F32, 70, 9, 131048, false, 0, 0, 0, 0, true, kFullWorkspace});
}

TEST_CASE("staged runs: small shapes of both families (sanitizer set)", "[linear][sanitize][stage]") {
  for (sq_preference pref : families())
    for (sq_dtype t : {SQ_DTYPE_F32, SQ_DTYPE_BF16}) {
      check_case({pref, t, 65, 40, 72, true, 0, 0, 0, 8, false, kFullWorkspace});
      check_case({pref, t, 130, 24, 7, false, 5, 1, 0, 3, false, kFullWorkspace});
    }
}

TEST_CASE("small shapes of every family and dtype (sanitizer set)", "[linear][sanitize]") {
  for (sq_preference pref : families())
    for (sq_dtype t : kDtypes) {
      check_case({pref, t, 1, 40, 64, true});
      check_case({pref, t, 17, 24, 48});
      check_case({pref, t, 130, 72, 96, true});
      check_case({pref, t, 3, 9, 7, false});
    }
  // 9 x 30 tiles of 128 x 128 with bf16 out: the Hopper dispatch takes the ping-pong kernel.
  if (is_sm90()) check_case({SQ_PREFERENCE_GPU_HOPPER, SQ_DTYPE_BF16, 1100, 3800, 32, true});
}

TEST_CASE("memory-space checks in can_implement", "[linear]") {
  sq_plan_desc d = linear_desc(SQ_DTYPE_F32, 8, 16, 4, 0.5);
  sq_plan gpu = nullptr, host = nullptr;
  REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_FASTEST, &gpu) == SQ_STATUS_SUCCESS);
  REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &host) == SQ_STATUS_SUCCESS);
  std::vector<int8_t> act = random_s8(64), w = random_s8(128);
  Buf ws = random_scales(SQ_DTYPE_F32, 8), out(SQ_DTYPE_F32, 32), scratch(SQ_DTYPE_F32, 4);
  DevBuf d_act(64), d_w(128), d_ws(32), d_out(128), d_scratch(16);
  sq_run_args h = run_args();
  h.m = 4;
  h.act = act.data();
  h.weight = w.data();
  h.weight_scale = ws.data();
  h.act_scale_scratch = scratch.data();
  h.out = out.data();
  sq_run_args g = h;
  g.act = d_act.p;
  g.weight = d_w.p;
  g.weight_scale = d_ws.p;
  g.act_scale_scratch = d_scratch.p;
  g.out = d_out.p;
  CHECK(sq_plan_can_implement(gpu, &g) == SQ_STATUS_SUCCESS);
  CHECK(sq_plan_can_implement(host, &h) == SQ_STATUS_SUCCESS);
  CHECK(sq_plan_can_implement(gpu, &h) == SQ_STATUS_WRONG_MEMORY_SPACE);
  CHECK_THAT(last_error(), Catch::Contains("pageable host memory"));
  CHECK(sq_plan_can_implement(host, &g) == SQ_STATUS_WRONG_MEMORY_SPACE);
  CHECK_THAT(last_error(), Catch::Contains("device memory"));
  sq_plan_info info;
  std::memset(&info, 0, sizeof(info));
  info.struct_size = sizeof(info);
  REQUIRE(sq_plan_get_info(gpu, &info) == SQ_STATUS_SUCCESS);
  CHECK(info.device == 0);
  CHECK(info.sm_version >= 80);
  CHECK(info.family != SQ_KERNEL_FAMILY_HOST);
  sq_plan_destroy(gpu);
  sq_plan_destroy(host);
}

TEST_CASE("a plan runs on its GPU from another current device; another GPU's stream or memory is WRONG_DEVICE",
          "[linear]") {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count < 2) {
    WARN("fewer than two GPUs: the cross-device checks are not exercised");
    return;
  }
  cudaStream_t s0, s1;
  CUDA_REQUIRE(cudaSetDevice(0));
  CUDA_REQUIRE(cudaStreamCreateWithFlags(&s0, cudaStreamNonBlocking));
  DevBuf device0_out(int64_t{16} * 1000 * 8);  // memory of device 0
  CUDA_REQUIRE(cudaSetDevice(1));
  CUDA_REQUIRE(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
  for (sq_preference pref : {SQ_PREFERENCE_FASTEST, SQ_PREFERENCE_GPU_PORTABLE}) {
    CAPTURE(pref);
    CUDA_REQUIRE(cudaSetDevice(1));
    LinearRun run({pref, SQ_DTYPE_BF16, 16, 1000, 1024, true}, s1);  // plan (from s1) and buffers on device 1
    CUDA_REQUIRE(cudaSetDevice(0));
    REQUIRE(run.run_on(s0) == SQ_STATUS_WRONG_DEVICE);
    CHECK(last_error().find("device 1") != std::string::npos);
    run.require_untouched();
    REQUIRE(run.can_implement_with_out(device0_out.p) == SQ_STATUS_WRONG_DEVICE);
    CHECK(last_error().find("device 0") != std::string::npos);
    run.launch();  // device 0 current: the run switches to the plan's device and back
    run.verify();
    int current = -1;
    CUDA_REQUIRE(cudaGetDevice(&current));
    CHECK(current == 0);
  }
  CUDA_REQUIRE(cudaSetDevice(1));
  CUDA_REQUIRE(cudaStreamDestroy(s1));
  CUDA_REQUIRE(cudaSetDevice(0));
  CUDA_REQUIRE(cudaStreamDestroy(s0));
}

TEST_CASE("a plan runs from a new host thread (no current context) and on the special streams", "[linear]") {
  // sq_plan_run's fast device check compares contexts (src/plan/device_check.cpp); a thread that has
  // made no CUDA call yet has none current, so it takes the runtime check; the per-thread and legacy
  // default streams are special handles, not streams created in a context. Each case must still run on
  // the plan's device.
  cudaStream_t created;
  CUDA_REQUIRE(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking));
  for (sq_preference pref : {SQ_PREFERENCE_FASTEST, SQ_PREFERENCE_GPU_PORTABLE}) {
    for (cudaStream_t s : {created, cudaStreamPerThread, cudaStreamLegacy}) {
      CAPTURE(pref, reinterpret_cast<uintptr_t>(s));
      for (int64_t m : {1, 100}) {
        LinearRun from_new_thread({pref, SQ_DTYPE_BF16, m, 1000, 1024, true}, s);
        CUDA_REQUIRE(cudaDeviceSynchronize());  // the poison and uploads are done
        sq_status st = SQ_STATUS_INTERNAL_ERROR;
        std::thread([&] { st = from_new_thread.run_on(s); }).join();
        REQUIRE(st == SQ_STATUS_SUCCESS);
        CUDA_REQUIRE(cudaDeviceSynchronize());
        from_new_thread.verify();
        LinearRun from_this_thread({pref, SQ_DTYPE_F32, m, 1000, 1024, false}, s);  // its context is current
        CUDA_REQUIRE(cudaDeviceSynchronize());
        from_this_thread.launch();
        CUDA_REQUIRE(cudaDeviceSynchronize());
        from_this_thread.verify();
      }
    }
  }
  CUDA_REQUIRE(cudaStreamDestroy(created));
}

TEST_CASE("CUDA graph capture and replay; two plans on two streams at once", "[graph]") {
  const int64_t M = 96, N = 520, K = 768;
  for (sq_preference pref : families()) {
    sq_plan_desc d = linear_desc(SQ_DTYPE_BF16, N, K, M, 0.02);
    cudaStream_t s;
    CUDA_REQUIRE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    sq_plan gpu = nullptr, host = nullptr;
    REQUIRE(sq_plan_select(reinterpret_cast<sq_stream>(s), &d, pref, &gpu) == SQ_STATUS_SUCCESS);
    REQUIRE(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &host) == SQ_STATUS_SUCCESS);
    DevBuf d_act(M * K), d_w(N * K), d_ws(N * 2), d_out(M * N * 2), d_scratch(M * 2);
    sq_run_args g = run_args();
    g.m = M;
    g.act = d_act.p;
    g.weight = d_w.p;
    g.weight_scale = d_ws.p;
    g.act_scale_scratch = d_scratch.p;
    g.out = d_out.p;
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    CUDA_REQUIRE(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
    REQUIRE(sq_plan_run(gpu, reinterpret_cast<sq_stream>(s), nullptr, 0, &g) == SQ_STATUS_SUCCESS);
    CUDA_REQUIRE(cudaStreamEndCapture(s, &graph));
    CUDA_REQUIRE(cudaGraphInstantiate(&exec, graph, 0));
    for (int replay = 0; replay < 3; ++replay) {  // new inputs each replay: the graph reads the buffers
      auto act = random_s8(M * K), w = random_s8(N * K);
      Buf ws = random_scales(SQ_DTYPE_BF16, N), ref(SQ_DTYPE_BF16, M * N), rs(SQ_DTYPE_BF16, M);
      d_act.upload(act.data(), act.size());
      d_w.upload(w.data(), w.size());
      d_ws.upload(ws.data(), ws.bytes.size());
      d_out.poison();
      CUDA_REQUIRE(cudaGraphLaunch(exec, s));
      CUDA_REQUIRE(cudaStreamSynchronize(s));
      sq_run_args h = g;
      h.act = act.data();
      h.weight = w.data();
      h.weight_scale = ws.data();
      h.act_scale_scratch = rs.data();
      h.out = ref.data();
      REQUIRE(sq_plan_run(host, nullptr, nullptr, 0, &h) == SQ_STATUS_SUCCESS);
      Buf got(SQ_DTYPE_BF16, M * N);
      d_out.download(got.data(), got.bytes.size());
      REQUIRE(first_bit_difference(got, ref) == -1);
    }
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    sq_plan_destroy(gpu);
    sq_plan_destroy(host);
    CUDA_REQUIRE(cudaStreamDestroy(s));
  }
  // Two plans (different dtypes and shapes) on two streams, enqueued before either is waited on.
  cudaStream_t s1, s2;
  CUDA_REQUIRE(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
  CUDA_REQUIRE(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  LinearRun r1({SQ_PREFERENCE_FASTEST, SQ_DTYPE_F32, 256, 1000, 1024, true}, s1);
  LinearRun r2({SQ_PREFERENCE_FASTEST, SQ_DTYPE_F16, 8, 3000, 2048, false}, s2);
  r1.launch();
  r2.launch();
  r1.verify();
  r2.verify();
  cudaStreamDestroy(s1);
  cudaStreamDestroy(s2);
}

TEST_CASE("a small-M linear reads what the kernel before it wrote (programmatic launch), eager and in a graph",
          "[graph]") {
  // A static quantizer writes act on the stream (x = q / 64 exactly, so the quantizer gives q back),
  // then the linear reads it with no host synchronization in between; act is poisoned first. On
  // sm_90 the linear's kernel (a decode kernel at M = 1 and 16, a split-K kernel at M = 64, a
  // persistent one at M = 256) starts as a programmatic dependent of the kernel before it and must
  // wait for that kernel's writes before reading act (and before writing out and the scratch).
  const int64_t N = 4096, K = 8192;
  const double kQuantScale = 1.0 / 64;
  for (const int64_t M : {int64_t{1}, int64_t{16}, int64_t{64}, int64_t{256}}) {
    for (const bool graph : {false, true}) {
      CAPTURE(M, graph);
      sq_plan_desc qd = quantize_desc(SQ_OP_QUANTIZE_STATIC, SQ_DTYPE_F32, SQ_DTYPE_INVALID, K, M, kQuantScale);
      sq_plan_desc ld = linear_desc(SQ_DTYPE_BF16, N, K, M, 0.02);
      cudaStream_t s;
      CUDA_REQUIRE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
      sq_plan quant = nullptr, lin = nullptr, host = nullptr;
      REQUIRE(sq_plan_select(reinterpret_cast<sq_stream>(s), &qd, SQ_PREFERENCE_FASTEST, &quant) == SQ_STATUS_SUCCESS);
      REQUIRE(sq_plan_select(reinterpret_cast<sq_stream>(s), &ld, SQ_PREFERENCE_FASTEST, &lin) == SQ_STATUS_SUCCESS);
      REQUIRE(sq_plan_select(nullptr, &ld, SQ_PREFERENCE_HOST_REFERENCE, &host) == SQ_STATUS_SUCCESS);
      const char* kname = nullptr;
      REQUIRE(sq_plan_kernel_name(lin, M, &kname) == SQ_STATUS_SUCCESS);
      CAPTURE(kname);
      if (is_sm90() && M == 64) REQUIRE(std::string(kname).find("_splitk_") != std::string::npos);
      if (is_sm90() && M == 256) REQUIRE(std::string(kname).find("_ws_") != std::string::npos);

      const std::vector<int8_t> q = random_s8(static_cast<size_t>(M * K)), w = random_s8(static_cast<size_t>(N * K));
      std::vector<float> x(q.size());
      for (size_t i = 0; i < q.size(); ++i) x[i] = static_cast<float>(q[i] * kQuantScale);
      Buf ws = random_scales(SQ_DTYPE_BF16, static_cast<size_t>(N)), ref(SQ_DTYPE_BF16, static_cast<size_t>(M * N)),
          ref_scratch(SQ_DTYPE_BF16, static_cast<size_t>(M));
      sq_run_args h = run_args();
      h.m = M;
      h.act = q.data();
      h.weight = w.data();
      h.weight_scale = ws.data();
      h.act_scale_scratch = ref_scratch.data();
      h.out = ref.data();
      REQUIRE(sq_plan_run(host, nullptr, nullptr, 0, &h) == SQ_STATUS_SUCCESS);

      DevBuf d_x(x.size() * sizeof(float)), d_q(q.size()), d_w(w.size()), d_ws(ws.bytes.size()),
          d_out(ref.bytes.size()), d_scratch(ref_scratch.bytes.size());
      d_x.upload(x.data(), x.size() * sizeof(float));
      d_w.upload(w.data(), w.size());
      d_ws.upload(ws.data(), ws.bytes.size());
      sq_run_args qa = run_args();
      qa.m = M;
      qa.act = d_x.p;
      qa.out = d_q.p;
      sq_run_args la = run_args();
      la.m = M;
      la.act = d_q.p;
      la.weight = d_w.p;
      la.weight_scale = d_ws.p;
      la.act_scale_scratch = d_scratch.p;
      la.out = d_out.p;
      auto enqueue = [&] {
        REQUIRE(sq_plan_run(quant, reinterpret_cast<sq_stream>(s), nullptr, 0, &qa) == SQ_STATUS_SUCCESS);
        REQUIRE(sq_plan_run(lin, reinterpret_cast<sq_stream>(s), nullptr, 0, &la) == SQ_STATUS_SUCCESS);
      };
      run_three_times(
          s, graph, enqueue,
          [&] {
            d_q.poison();
            d_out.poison();
            d_scratch.poison();
          },
          [&] {
            Buf got(SQ_DTYPE_BF16, static_cast<size_t>(M * N)), got_scratch(SQ_DTYPE_BF16, static_cast<size_t>(M));
            d_out.download(got.data(), got.bytes.size());
            d_scratch.download(got_scratch.data(), got_scratch.bytes.size());
            REQUIRE(first_bit_difference(got, ref) == -1);
            REQUIRE(first_bit_difference(got_scratch, ref_scratch) == -1);
          });
      sq_plan_destroy(quant);
      sq_plan_destroy(lin);
      sq_plan_destroy(host);
      CUDA_REQUIRE(cudaStreamDestroy(s));
    }
  }
}

// =====================================================================================================
// 0.2: operand pairs, zero points, S32 accumulators, the caller's scales, through the plan
// =====================================================================================================
namespace {

// One case on a GPU plan of `pref` and on the host plan, compared byte for byte (outputs and padding
// poisoned first); eagerly, or as a CUDA graph captured once and replayed three times.
void check_gpu(const OpCase& c, sq_preference pref, bool graph = false) {
  INFO(c.name << ", preference " << pref << (graph ? ", graph" : ""));
  const auto want = host_outputs(c);
  cudaStream_t s;
  CUDA_REQUIRE(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  sq_plan plan = select_plan(c, pref, reinterpret_cast<sq_stream>(s));
  const char* kernel = "";
  REQUIRE(sq_plan_kernel_name(plan, c.m, &kernel) == SQ_STATUS_SUCCESS);
  INFO("kernel " << kernel);
  {
    DevPlaced d(c, workspace_size_of(plan));
    const sq_status can = sq_plan_can_implement(plan, &d.args());
    INFO(last_error());
    REQUIRE(can == SQ_STATUS_SUCCESS);
    run_three_times(
        s, graph, [&] { REQUIRE(d.run(plan, s) == SQ_STATUS_SUCCESS); }, [&] { d.reset(); },
        [&] { REQUIRE(first_mismatch(c, d.outputs(), want) == ""); });
  }
  sq_plan_destroy(plan);
  CUDA_REQUIRE(cudaStreamDestroy(s));
}

const sq_dtype kPairs[][2] = {{SQ_DTYPE_S8, SQ_DTYPE_S8}, {SQ_DTYPE_S8, SQ_DTYPE_U8}, {SQ_DTYPE_U8, SQ_DTYPE_S8},
                              {SQ_DTYPE_U8, SQ_DTYPE_U8}};

// The zero-point and output configurations the tests rotate through.
enum Config {
  kPlain,          // SMOOTHQUANT_LINEAR, no zero points, bias
  kStaticZa,       // SMOOTHQUANT_LINEAR with desc.act_zero_point
  kZaZwPrePass,    // static za and zw; the plan's pre-pass finds the row sums
  kZwSums,         // zw with the caller's row sums
  kS32,            // accumulators only
  kS32ZaZwSums,    // accumulators with za, zw and the caller's sums
  kScaledToken,    // SCALED_LINEAR: per-token scales and za, zw (pre-pass)
  kScaledTensor,   // SCALED_LINEAR: one scale read from memory, bias
  kQuantizedAsym,  // QUANTIZED_LINEAR: the asymmetric quantizer (per-token za), zw
  kConfigs
};

LinearSpec spec(Config cfg, sq_dtype a, sq_dtype w, sq_dtype t, int64_t m, int64_t n, int64_t k) {
  LinearSpec s;
  s.act = a;
  s.weight = w;
  s.t = t;
  s.m = m, s.n = n, s.k = k;
  const int32_t za = a == SQ_DTYPE_U8 ? 131 : -5;
  switch (cfg) {
    case kPlain: s.bias = true; break;
    case kStaticZa: s.act_zero_point = za; break;
    case kZaZwPrePass: s.act_zero_point = za, s.weight_zero_points = true, s.bias = true; break;
    case kZwSums: s.weight_zero_points = true, s.act_sums = true; break;
    case kS32: s.t = SQ_DTYPE_S32; break;
    case kS32ZaZwSums: s.t = SQ_DTYPE_S32, s.act_zero_point = za, s.weight_zero_points = true, s.act_sums = true; break;
    case kScaledToken: s.op = SQ_OP_SCALED_LINEAR, s.act_zero_points = true, s.weight_zero_points = true; break;
    case kScaledTensor: s.op = SQ_OP_SCALED_LINEAR, s.per_tensor = true, s.bias = true; break;
    case kQuantizedAsym:
      s.op = SQ_OP_QUANTIZED_LINEAR, s.act = t, s.q = a, s.mode = SQ_QUANT_DYNAMIC_ASYMMETRIC;
      s.weight_zero_points = true, s.bias = true;
      break;
    default: break;
  }
  return s;
}

}  // namespace

TEST_CASE("0.2: every family and operand pair, with and without zero points, S32 and the caller's scales, equals "
          "the host plan over the M buckets and tile edges",
          "[linear][v02]") {
  for (sq_preference pref : families())
    for (const auto& pair : kPairs) {
      size_t i = 0;
      for (int64_t m : kMs) {
        const NK nk = kNKs[i % (sizeof(kNKs) / sizeof(kNKs[0]))];
        const Config cfg = static_cast<Config>(i % kConfigs);
        const sq_dtype t = kDtypes[(i / kConfigs + i) % 4];
        ++i;
        check_gpu(make_linear(spec(cfg, pair[0], pair[1], t, m, nk.n, nk.k)), pref);
      }
    }
}

TEST_CASE("0.2: strided and misaligned rows with zero points and S32 accumulators", "[linear][v02]") {
  struct Pad {
    int64_t act, w, out;
  };
  for (sq_preference pref : families())
    for (Config cfg : {kZaZwPrePass, kS32ZaZwSums, kScaledToken, kQuantizedAsym})
      for (const Pad pad : {Pad{16, 32, 7}, Pad{1, 0, 0}, Pad{0, 3, 2}})
        for (int64_t m : {5, 130}) {
          LinearSpec s = spec(cfg, SQ_DTYPE_U8, SQ_DTYPE_S8, SQ_DTYPE_BF16, m, 300, 512);
          if (cfg == kQuantizedAsym) s.pad_act = pad.act * 2;  // x rows: 16-byte steps of bf16, or odd
          else s.pad_act = pad.act;
          s.pad_w = pad.w;
          s.pad_out = pad.out;
          check_gpu(make_linear(s), pref);
        }
}

TEST_CASE("0.2 on the Hopper family: split-K clusters and persistent kernels with zero points and S32", "[linear][v02]") {
  if (!is_sm90()) {
    WARN("not an sm_90 GPU: the Hopper kernels are not exercised with zero points");
    return;
  }
  // Shapes whose dispatch takes split-K variants (17 <= M <= 256) and the persistent and ping-pong kernels.
  const Shape shapes[] = {{40, 300, 16384}, {200, 136, 16384}, {48, 6144, 4096}, {64, 28672, 640},
                          {100, 4096, 4096}, {257, 132, 400},  {513, 3332, 272}, {1000, 4200, 400}};
  for (const Shape& sh : shapes) {
    check_gpu(make_linear(spec(kZaZwPrePass, SQ_DTYPE_U8, SQ_DTYPE_U8, SQ_DTYPE_BF16, sh.m, sh.n, sh.k)),
              SQ_PREFERENCE_GPU_HOPPER);
    check_gpu(make_linear(spec(kS32ZaZwSums, SQ_DTYPE_S8, SQ_DTYPE_U8, SQ_DTYPE_S32, sh.m, sh.n, sh.k)),
              SQ_PREFERENCE_GPU_HOPPER);
    check_gpu(make_linear(spec(kScaledToken, SQ_DTYPE_U8, SQ_DTYPE_S8, SQ_DTYPE_F16, sh.m, sh.n, sh.k)),
              SQ_PREFERENCE_GPU_HOPPER);
  }
}

TEST_CASE("0.2: extreme operands and zero points at each plan's max_k stay exact", "[linear][v02]") {
  struct X {
    sq_dtype a, w;
    bool za, zw;
    int64_t k;
  };
  for (sq_preference pref : families())
    for (const X& x : {X{SQ_DTYPE_U8, SQ_DTYPE_U8, true, true, 33025}, X{SQ_DTYPE_S8, SQ_DTYPE_S8, true, true, 33025},
                       X{SQ_DTYPE_U8, SQ_DTYPE_S8, false, false, 65793}, X{SQ_DTYPE_S8, SQ_DTYPE_S8, false, true, 65793}})
      for (int extreme : {1, -1})
        for (int64_t m : {3, 70}) {
          LinearSpec s;
          s.op = SQ_OP_SCALED_LINEAR;
          s.act = x.a;
          s.weight = x.w;
          s.t = SQ_DTYPE_F64;
          s.m = m, s.n = 9, s.k = x.k;
          s.act_zero_points = x.za;
          s.weight_zero_points = x.zw;
          s.extreme = extreme;
          check_gpu(make_linear(s), pref);
          s.op = SQ_OP_SMOOTHQUANT_LINEAR;  // the same as accumulators
          s.t = SQ_DTYPE_S32;
          s.act_zero_points = false;
          s.act_zero_point = x.za ? (x.a == SQ_DTYPE_U8 ? (extreme > 0 ? 255 : 0) : (extreme > 0 ? 127 : -128)) : 0;
          check_gpu(make_linear(s), pref);
        }
}

TEST_CASE("0.2: graph capture and replay of the zero-point plans (pre-pass, workspace) and S32", "[graph][v02]") {
  for (sq_preference pref : families())
    for (Config cfg : {kZaZwPrePass, kS32ZaZwSums, kScaledToken, kScaledTensor, kQuantizedAsym})
      for (int64_t m : {1, 16, 96, 300}) check_gpu(make_linear(spec(cfg, SQ_DTYPE_U8, SQ_DTYPE_U8, SQ_DTYPE_F16, m, 520, 768)), pref, true);
}

TEST_CASE("SCALED_LINEAR reads its scales when the run executes: a graph captured once follows a changed scale",
          "[graph][v02]") {
  for (sq_preference pref : families())
    for (bool per_tensor : {true, false})
      for (int64_t m : {1, 40, 300}) {
        LinearSpec s = spec(kScaledTensor, SQ_DTYPE_S8, SQ_DTYPE_S8, SQ_DTYPE_BF16, m, 520, 768);
        s.per_tensor = per_tensor;
        OpCase c = make_linear(s);
        INFO(c.name << (per_tensor ? " per tensor" : " per token") << ", preference " << pref);
        cudaStream_t st;
        CUDA_REQUIRE(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
        sq_plan plan = select_plan(c, pref, reinterpret_cast<sq_stream>(st));
        DevPlaced d(c, workspace_size_of(plan));
        cudaGraph_t g;
        cudaGraphExec_t exec;
        CUDA_REQUIRE(cudaStreamBeginCapture(st, cudaStreamCaptureModeGlobal));
        REQUIRE(d.run(plan, st) == SQ_STATUS_SUCCESS);
        CUDA_REQUIRE(cudaStreamEndCapture(st, &g));
        CUDA_REQUIRE(cudaGraphInstantiate(&exec, g, 0));
        for (int replay = 0; replay < 3; ++replay) {
          // A new scale (or scales) in the same device buffer, then the same graph.
          for (Operand& o : c.operands)
            if (o.field == "act_scale") o.data = bytes_of(random_scales(SQ_DTYPE_BF16, per_tensor ? 1 : m, 1e-4, 1.0));
          d.reset();
          CUDA_REQUIRE(cudaGraphLaunch(exec, st));
          CUDA_REQUIRE(cudaStreamSynchronize(st));
          CUDA_REQUIRE(cudaGetLastError());
          INFO("replay " << replay);
          REQUIRE(first_mismatch(c, d.outputs(), host_outputs(c)) == "");
        }
        cudaGraphExecDestroy(exec);
        cudaGraphDestroy(g);
        sq_plan_destroy(plan);
        CUDA_REQUIRE(cudaStreamDestroy(st));
      }
}

TEST_CASE("0.2 batch invariance: row r of every M = 1..256 equals row r of M = 256, through every M bucket",
          "[linear][v02]") {
  const int64_t kMaxRows = 256, N = 1000, K = 1024;
  for (sq_preference pref : families())
    for (Config cfg : {kPlain, kZaZwPrePass, kS32ZaZwSums, kScaledToken, kQuantizedAsym}) {
      OpCase c = make_linear(spec(cfg, SQ_DTYPE_U8, SQ_DTYPE_S8, SQ_DTYPE_BF16, kMaxRows, N, K));
      INFO(c.name << ", preference " << pref);
      cudaStream_t st;
      CUDA_REQUIRE(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
      sq_plan plan = select_plan(c, pref, reinterpret_cast<sq_stream>(st));
      DevPlaced d(c, workspace_size_of(plan));
      REQUIRE(d.run(plan, st) == SQ_STATUS_SUCCESS);
      CUDA_REQUIRE(cudaStreamSynchronize(st));
      const std::vector<unsigned char> full = d.outputs().back();  // out: the last output
      REQUIRE(first_mismatch(c, d.outputs(), host_outputs(c)) == "");
      const size_t row_bytes = full.size() / kMaxRows;
      std::vector<unsigned char> got(full.size());
      for (int64_t m = 1; m < kMaxRows; ++m) {
        INFO("m " << m);
        d.reset();
        d.args().m = m;
        REQUIRE(d.run(plan, st) == SQ_STATUS_SUCCESS);
        CUDA_REQUIRE(cudaStreamSynchronize(st));
        const std::vector<unsigned char> out = d.outputs().back();
        size_t diff = 0;
        const size_t span = static_cast<size_t>(m) * row_bytes;
        while (diff < span && out[diff] == full[diff]) ++diff;
        INFO("first differing byte " << diff << " (row " << diff / row_bytes << "), bytes "
                                     << (diff < span ? int(out[diff]) : -1) << " vs " << (diff < span ? int(full[diff]) : -1));
        REQUIRE(diff == span);
        for (size_t b = static_cast<size_t>(m) * row_bytes; b < out.size(); ++b) REQUIRE(out[b] == 0xFF);
      }
      sq_plan_destroy(plan);
      CUDA_REQUIRE(cudaStreamDestroy(st));
    }
}

TEST_CASE("0.2: a U8 weight with zero point 128 gives the bits of the S8 weight with its top bit flipped",
          "[linear][v02]") {
  for (sq_preference pref : families())
    for (int64_t m : {1, 17, 64, 300}) {
      const OpCase sgn = make_linear(spec(kPlain, SQ_DTYPE_S8, SQ_DTYPE_S8, SQ_DTYPE_F32, m, 1000, 1024));
      OpCase u = sgn;
      u.desc.weight_dtype = SQ_DTYPE_U8;
      u.desc.flags = SQ_PLAN_WEIGHT_ZERO_POINT;
      for (Operand& o : u.operands)
        if (o.field == "weight")
          for (auto& b : o.data) b ^= 0x80;
      u.operands.push_back(input("weight_zero_point", std::vector<unsigned char>(1000, 128)));
      u.operands.push_back(input("weight_sums", int32_bytes(row_sums_of(u.operand("weight").data.data(), SQ_DTYPE_U8,
                                                                          1000, 1024, 1024))));
      const auto want = host_outputs(sgn);
      sq_plan plan = select_plan(u, pref);
      DevPlaced d(u, workspace_size_of(plan));
      REQUIRE(d.run(plan, nullptr) == SQ_STATUS_SUCCESS);
      CUDA_REQUIRE(cudaDeviceSynchronize());
      CHECK(first_mismatch(u, d.outputs(), want) == "");
      sq_plan_destroy(plan);
    }
}

TEST_CASE("SCALE_ACCUMULATORS on the GPU equals the host plan (per token, per tensor, strides, graph)",
          "[linear][v02]") {
  for (sq_preference pref : families())
    for (sq_dtype t : kDtypes)
      for (bool per_tensor : {false, true})
        for (int64_t m : {1, 37, 300}) {
          check_gpu(make_scale_accumulators(t, m, 1000, true, per_tensor), pref);
          check_gpu(make_scale_accumulators(t, m, 77, false, per_tensor, 3, 5), pref, true);
        }
}

TEST_CASE("0.2 small shapes of every configuration (sanitizer set)", "[linear][sanitize][v02]") {
  for (sq_preference pref : families())
    for (int cfg = 0; cfg < kConfigs; ++cfg)
      for (const auto& pair : kPairs) {
        check_gpu(make_linear(spec(static_cast<Config>(cfg), pair[0], pair[1], SQ_DTYPE_F16, 17, 24, 48)), pref);
        check_gpu(make_linear(spec(static_cast<Config>(cfg), pair[0], pair[1], SQ_DTYPE_F32, 3, 9, 7)), pref);
      }
}

TEST_CASE("0.2 memory-space checks: can_implement names each new array given in pageable host memory",
          "[linear][v02]") {
  std::vector<OpCase> cases = {make_linear(spec(kScaledToken, SQ_DTYPE_U8, SQ_DTYPE_S8, SQ_DTYPE_F32, 4, 64, 128)),
                               make_linear(spec(kZwSums, SQ_DTYPE_S8, SQ_DTYPE_U8, SQ_DTYPE_BF16, 4, 64, 128))};
  QuantSpec r;
  r.op = SQ_OP_RMSNORM_QUANTIZE;
  r.x = SQ_DTYPE_BF16;
  r.mode = SQ_QUANT_DYNAMIC_ASYMMETRIC;
  r.m = 4, r.k = 128;
  r.residual = true;
  r.residual_out = ResidualOut::kSeparate;
  r.act_sums = true;
  cases.push_back(make_quantizer(r));
  QuantSpec a;
  a.op = SQ_OP_SILU_MUL_QUANTIZE;
  a.mode = SQ_QUANT_FROM_ABSMAX;
  a.m = 4, a.k = 128;
  cases.push_back(make_quantizer(a));
  std::vector<unsigned char> host(1 << 16);  // pageable host memory, 64-byte aligned inside
  void* h = host.data() + (64 - reinterpret_cast<uintptr_t>(host.data()) % 64) % 64;
  for (const OpCase& c : cases) {
    INFO(c.name);
    sq_plan plan = select_plan(c, SQ_PREFERENCE_FASTEST);
    DevPlaced d(c, workspace_size_of(plan));
    REQUIRE(sq_plan_can_implement(plan, &d.args()) == SQ_STATUS_SUCCESS);
    for (const Operand& o : c.operands) {
      sq_run_args bad = d.args();
      set_arg(bad, o.field, h);
      INFO("field " << o.field);
      CHECK(sq_plan_can_implement(plan, &bad) == SQ_STATUS_WRONG_MEMORY_SPACE);
      CHECK_THAT(last_error(), Catch::Contains("args->" + o.field) && Catch::Contains("pageable host memory"));
    }
    sq_plan_destroy(plan);
  }
}
