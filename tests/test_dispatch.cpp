// Host tests of the dispatch, family by family, and of the launch plan: which kernel variant a shape
// takes, and with which launch flags, on the 132-SM H100 the cost models were fitted on. No GPU needed
// (the dispatch is arithmetic on the shape); links the kernel objects, whose symbols the .so hides.
// What each kernel computes is tested on the GPU (test_gpu_variants.cpp, test_gpu_linear.cpp); every
// choice on a large grid of shapes is held against a golden table (test_dispatch_golden.cpp).
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <tuple>

#include "dispatch/launch_plan.hpp"
#include "registry.hpp"

namespace {

constexpr int32_t kH100Sms = 132;
constexpr int32_t kHopperSm = 90;
constexpr int64_t kTile = 128;  // the ping-pong kernel's tile rows and columns

constexpr int32_t kAlign16 = sq::kernels::kOperandAlign16;
constexpr int32_t kAlign8 = sq::kernels::kOperandAlign8;
constexpr int32_t kAlign1 = sq::kernels::kOperandAlign1;

const sq::DeviceFacts kH100 = sq::device_facts(kHopperSm, kH100Sms);

std::string choose(int64_t m, int64_t n, int64_t k, int32_t out_bytes, int32_t align = kAlign16,
                   bool out_aligned = true) {
  return sq::sm90_choose(sq::LinearShape{m, n, k, out_bytes, align, out_aligned}, kH100).name;
}

// One run's facts: m rows, operands aligned to `align`, out's rows 16-byte aligned.
sq::RunFacts run(int64_t m, int32_t align = kAlign16, bool row_sums_pass = false) {
  return sq::RunFacts{m, align, true, row_sums_pass};
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

bool is_pingpong(const std::string& name) { return name.rfind("sm90_wgmma_pp_", 0) == 0; }

}  // namespace

TEST_CASE("Hopper dispatch: families by M and alignment", "[dispatch]") {
  CHECK(choose(1, 4096, 4096, 2).rfind("decode_mma_", 0) == 0);
  CHECK(choose(16, 57344, 8192, 4).rfind("decode_mma_", 0) == 0);
  CHECK(choose(64, 8192, 28672, 2).rfind("sm90_wgmma_splitk_64x", 0) == 0);
  // M = 17..32: the decode kernels up to a 16 MiB weight, split-K above [D-split-weight].
  CHECK(choose(32, 4096, 4096, 2).rfind("decode_mma_", 0) == 0);
  CHECK(choose(17, 6144, 4096, 2).rfind("sm90_wgmma_splitk_64x", 0) == 0);
  CHECK(choose(17, 4096, 14336, 2).rfind("sm90_wgmma_splitk_64x", 0) == 0);
  CHECK(choose(32, 8192, 8192, 4).rfind("sm90_wgmma_splitk_64x", 0) == 0);
  CHECK(choose(2048, 8192, 8192, 4).rfind("sm90_wgmma_ws_", 0) == 0);
  // M = 33..64 on a weight up to 16 MiB with K < 4096: the narrowest one-CTA split-K tile whose tiles fit
  // one wave [D-decode-small-weight].
  for (int64_t m : {33, 48, 64}) {
    CAPTURE(m);
    CHECK(choose(m, 4608, 3584, 2) == "sm90_wgmma_splitk_64x64x128_s14_c1");
    CHECK(choose(m, 2048, 1408, 4) == "sm90_wgmma_splitk_64x64x128_s14_c1");
    CHECK(choose(m, 16384, 1024, 2) == "sm90_wgmma_splitk_64x128x128_s9_c1");  // 256 tiles of 64: two waves
  }
  // M = 17..32: the same where the 16-row decode CTAs need a second wave (N > 132 x 2 x 16), else decode.
  CHECK(choose(32, 4608, 3584, 2) == "sm90_wgmma_splitk_64x64x128_s14_c1");
  CHECK(choose(17, 4352, 2048, 4) == "sm90_wgmma_splitk_64x64x128_s14_c1");
  CHECK(choose(32, 4096, 3584, 2).rfind("decode_mma_", 0) == 0);
  CHECK(choose(16, 4608, 3584, 2).rfind("decode_mma_", 0) == 0);  // M <= 16: the decode kernels
  // Split-K: one CTA per tile unless a cluster fills the SMs more than 1 / 0.9 times better
  // [D-split-cluster-weight]: 128 tiles of 64 against 64 clusters of 2 (equal fill), 116 tiles of 160
  // against 192 clusters of 2 of 96 (two waves); 2560 x 20480 has 40 tiles at most, so clusters still win.
  for (int64_t m : {33, 48, 64}) {
    CAPTURE(m);
    CHECK(choose(m, 8192, 8192, 2) == "sm90_wgmma_splitk_64x64x128_s14_c1");
    CHECK(choose(m, 18432, 3072, 4) == "sm90_wgmma_splitk_64x160x128_s8_c1");
    const std::string long_k = choose(m, 2560, 20480, 2);
    CHECK(long_k.rfind("sm90_wgmma_splitk_64x", 0) == 0);
    CHECK(long_k.substr(long_k.size() - 3) != "_c1");
  }
  // 16-bit out at M = 65..192: split-K with one CTA per tile where such a grid fills one wave well
  // [D-one-wave]; not with f32 out, not where the tiles pad M by a quarter (M = 96), not at M = 256.
  CHECK(choose(128, 4096, 4096, 2) == "sm90_wgmma_splitk_64x64x128_s14_c1");
  CHECK(choose(128, 8192, 8192, 2) == "sm90_wgmma_splitk_128x64x128_s9_c1");
  CHECK(choose(192, 8192, 8192, 2) == "sm90_wgmma_splitk_64x224x128_s6_c1");
  CHECK(choose(128, 8192, 8192, 4).rfind("sm90_wgmma_ws_", 0) == 0);
  CHECK(choose(96, 8192, 8192, 2).rfind("sm90_wgmma_ws_", 0) == 0);
  // ... also where the grid fills 0.6-0.8 of the SMs with no padded rows (3072 x 3072 at M = 128: 96 CTAs of
  // 64x64), not under 0.6 (1280 x 8192: 40 CTAs).
  CHECK(choose(128, 3072, 3072, 2) == "sm90_wgmma_splitk_64x64x128_s14_c1");
  CHECK(choose(192, 4352, 9216, 2) == "sm90_wgmma_splitk_64x128x128_s9_c1");
  CHECK(choose(128, 1280, 8192, 2) != "sm90_wgmma_splitk_64x64x128_s14_c1");
  CHECK(choose(256, 8192, 8192, 2).rfind("sm90_wgmma_ws_", 0) == 0);
  CHECK(choose(128, 57344, 8192, 2) == "sm90_wgmma_pp_128x128x128_s6");  // two waves of c1 tiles
  // ... and past one wave, where 128-row tiles pad M by over a fifth and 64-row ones do not (M = 154..192)
  // and the persistent choice needs more than one wave, the one-CTA 64-row split-K width whose waves of
  // (64 + width) bytes per K byte finish first [D-short-tiles]: 224 for 24576 x 4096 at M = 192 (where by width
  // alone the 96-wide tiles' 5.8 waves would count least); not where the persistent tiles fit one wave
  // (14336 x 4096 on 128 x 256 tiles: 112 of 132), not at M = 153 or 193, not with f32 out.
  CHECK(choose(192, 57344, 8192, 2) == "sm90_wgmma_splitk_64x224x128_s6_c1");
  CHECK(choose(192, 24576, 4096, 2) == "sm90_wgmma_splitk_64x224x128_s6_c1");
  CHECK(choose(160, 11008, 5120, 2) == "sm90_wgmma_splitk_64x128x128_s9_c1");
  CHECK(choose(192, 14336, 4096, 2).rfind("sm90_wgmma_ws_", 0) == 0);
  CHECK(choose(192, 14784, 8192, 2).rfind("sm90_wgmma_ws_", 0) == 0);
  CHECK(choose(153, 57344, 8192, 2).rfind("sm90_wgmma_splitk_64x", 0) != 0);
  CHECK(choose(193, 57344, 8192, 2).rfind("sm90_wgmma_splitk_64x", 0) != 0);
  CHECK(choose(192, 57344, 8192, 4).rfind("sm90_wgmma_splitk_64x", 0) != 0);
  // Above M = 64 with long K a split replaces the narrow persistent kernel only where it fills the SMs at
  // least twice as well [D-split-gain]: 4096 x 14336 at M = 96 f32 (128 clusters of 2 against 32 tiles of
  // 128) splits; at M = 256 (64 x 2 tiles of 64 against 64 of 128) and 5632 x 24576 at M = 256 it does not.
  CHECK(choose(96, 4096, 14336, 4) == "sm90_wgmma_splitk_128x64x128_s9_c2");
  CHECK(choose(256, 4096, 14336, 2).rfind("sm90_wgmma_ws_", 0) == 0);
  CHECK(choose(256, 5632, 24576, 2).rfind("sm90_wgmma_ws_", 0) == 0);
  // Unaligned operands (K % 8 != 0 and the like) take the portable family at every M.
  for (int64_t m : {1, 64, 2048}) CHECK(choose(m, 4096, 4100, 2, kAlign1).rfind("sm80_", 0) == 0);
  // 8-byte aligned operands (K % 16 == 8: tensor-parallel shards) take the 8-byte-load decode variants
  // up to their largest bucket [D-decode-align8], the portable tiles' 8-byte cp.async twins above it
  // [D-sm80-align8].
  for (int64_t m : {1, 16, 17, 64}) {
    CAPTURE(m);
    const std::string name = choose(m, 2048, 1368, 2, kAlign8);
    CHECK(name.rfind("decode_mma_", 0) == 0);
    CHECK(ends_with(name, "_a8"));
  }
  CHECK(choose(65, 2048, 1368, 2, kAlign8) == sq::kernels::kSm80MediumA8.name);
  CHECK(choose(4096, 2048, 1368, 2, kAlign8) == sq::kernels::kSm80MediumA8.name);
}

TEST_CASE("Hopper dispatch: the ping-pong kernel only where its rule holds", "[dispatch]") {
  // Measured choices [D-pingpong]: bf16 at K <= 8192 with 2..32 of its tiles per SM and
  // a wave-cost win; f32 and f64 out, long K, too few or too many tiles keep the cooperative kernels.
  CHECK(choose(2048, 4096, 4096, 2) == "sm90_wgmma_pp_128x128x128_s6");
  CHECK(choose(1024, 57344, 8192, 2) == "sm90_wgmma_pp_128x128x128_s6");
  CHECK(choose(2048, 4096, 4096, 4) == "sm90_wgmma_ws_128x256x128_s4");
  CHECK(choose(2048, 4096, 4096, 8) == "sm90_wgmma_ws_128x256x128_s4");
  CHECK(choose(4096, 4096, 14336, 2) == "sm90_wgmma_ws_128x256x128_s4");  // K > 8192
  CHECK(choose(8192, 57344, 8192, 2) == "sm90_wgmma_ws_128x256x128_s4");  // 217 tiles per SM
  CHECK(choose(512, 10240, 8192, 2) == "sm90_wgmma_ws_128x160x128_s6");   // its waves fill worse
  CHECK_FALSE(is_pingpong(choose(256, 4096, 4096, 2)));                   // under 2 tiles per SM

  // Over the benchmark's Llama and square shapes: never for 32- or 64-bit out or K > 8192, and
  // only with 2..32 tiles per SM.
  const int64_t nks[][2] = {{6144, 4096},  {4096, 4096},  {28672, 4096}, {4096, 14336}, {10240, 8192},
                            {8192, 8192},  {57344, 8192}, {8192, 28672}, {16384, 16384}};
  int taken = 0;
  for (const auto& nk : nks) {
    for (int64_t m : {128, 256, 512, 1024, 2048, 4096, 8192, 16384}) {
      for (int32_t out_bytes : {2, 4, 8}) {
        const std::string name = choose(m, nk[0], nk[1], out_bytes);
        if (!is_pingpong(name)) continue;
        CAPTURE(m, nk[0], nk[1], out_bytes, name);
        ++taken;
        CHECK(out_bytes == 2);
        CHECK(nk[1] <= 8192);
        const int64_t tiles = ((m + kTile - 1) / kTile) * ((nk[0] + kTile - 1) / kTile);
        CHECK(tiles >= 2 * kH100Sms);
        CHECK(tiles <= 32 * kH100Sms);
      }
    }
  }
  CHECK(taken > 0);
}

TEST_CASE("Hopper dispatch: out rows not 16-byte aligned take the widths that stage them", "[dispatch]") {
  // [D-out-align-dispatch] Where out's rows are not 16-byte aligned, above the decode regime: no ping-pong
  // kernel and no one-wave split-K (their stores go one element at a time), and only the cooperative widths
  // whose epilogue stages such rows; f64 (staged by none) and the decode regime choose as for aligned rows.
  CHECK(choose(1024, 13653, 4096, 2) == "sm90_wgmma_pp_128x128x128_s6");
  CHECK(choose(1024, 13653, 4096, 2, kAlign16, false) == "sm90_wgmma_ws_128x128x128_s6");
  CHECK(choose(1024, 13653, 4096, 4) == "sm90_wgmma_ws_128x96x128_s8");
  CHECK(choose(1024, 13653, 4096, 4, kAlign16, false) == "sm90_wgmma_ws_128x128x128_s6");
  CHECK(choose(128, 13653, 4096, 2) == "sm90_wgmma_splitk_64x224x128_s6_c1");
  CHECK(choose(128, 13653, 4096, 2, kAlign16, false) == "sm90_wgmma_ws_128x128x128_s6");
  int staged = 0;
  for (int64_t n : {100, 1000, 4096, 6144, 13653, 28672}) {
    for (int64_t k : {1024, 4096, 14336}) {
      for (int32_t out_bytes : {2, 4, 8}) {
        for (int64_t m : {1, 16, 32, 64, 65, 128, 192, 256, 1024, 4096, 16384}) {
          CAPTURE(n, k, out_bytes, m);
          const sq::kernels::KernelVariant& v =
              sq::sm90_choose(sq::LinearShape{m, n, k, out_bytes, kAlign16, false}, kH100);
          const std::string aligned = choose(m, n, k, out_bytes);
          if (out_bytes == 8 || m <= 64) {
            CHECK(v.name == aligned);
            continue;
          }
          if (v.family == sq::kernels::Family::kSm90Wgmma) {
            CHECK(v.schedule == sq::kernels::Schedule::kCooperative);
            CHECK(v.out_stage_max_bytes >= out_bytes);
            ++staged;
          } else {
            // Only a split-K kernel chosen for the split's gain in SM fill (split_choose), never the
            // one-wave regime's: what f32 out (no one-wave regime) takes on aligned rows.
            CHECK(v.family == sq::kernels::Family::kSm90SplitK);
            CHECK(v.name == choose(m, n, k, 4));
          }
        }
      }
    }
  }
  CHECK(staged > 0);
  // The staging widths as the kernels declare them: the cooperative 128- and 256-wide tiles, f16/bf16/f32.
  for (const sq::kernels::KernelVariant& v : sq::kernels::sm90_wgmma_variants()) {
    CAPTURE(v.name);
    const bool stages = v.schedule == sq::kernels::Schedule::kCooperative && (v.tile_n == 128 || v.tile_n == 256);
    CHECK(v.out_stage_max_bytes == (stages ? 4 : 0));
  }
}

TEST_CASE("Portable dispatch: decode, medium and large tiles, the generic loader", "[dispatch]") {
  auto choose80 = [](int64_t m, int64_t n, int64_t k, int32_t align = kAlign16) {
    return std::string(sq::sm80_choose(sq::LinearShape{m, n, k, 2, align, true}, kH100).name);
  };
  // The decode kernels up to their largest bucket, by token bucket.
  CHECK(choose80(1, 4096, 4096).rfind("decode_mma_", 0) == 0);
  CHECK(choose80(16, 4096, 4096).find("_t16") != std::string::npos);
  CHECK(choose80(17, 4096, 4096).find("_t32") != std::string::npos);
  CHECK(choose80(64, 4096, 4096).find("_t64") != std::string::npos);
  // Then the medium tile up to M = 128, the large one where its tiles fill 3/4 of a wave.
  CHECK(choose80(65, 4096, 4096) == sq::kernels::kSm80Medium.name);
  CHECK(choose80(128, 57344, 8192) == sq::kernels::kSm80Medium.name);
  CHECK(choose80(512, 4096, 4096) == sq::kernels::kSm80Medium.name);  // 64 large tiles for 132 SMs
  CHECK(choose80(1024, 4096, 4096) == sq::kernels::kSm80Large.name);  // 128 large tiles
  // Unaligned operands take the generic loader at every M, decode sizes included.
  for (int64_t m : {1, 64, 2048}) CHECK(choose80(m, 4096, 4100, kAlign1) == sq::kernels::kSm80Generic.name);
  // 8-byte aligned ones the 8-byte-load decode variants by the same token buckets, then the medium tile's
  // 8-byte cp.async twin at every M [D-sm80-align8].
  CHECK(choose80(1, 4096, 3592, kAlign8) == "decode_mma_r16_t16_a8");
  CHECK(choose80(17, 4096, 3592, kAlign8) == "decode_mma_r16_t32_a8");
  CHECK(choose80(64, 4096, 3592, kAlign8) == "decode_mma_r16_t64_a8");
  CHECK(choose80(65, 4096, 3592, kAlign8) == sq::kernels::kSm80MediumA8.name);
  CHECK(choose80(512, 4096, 3592, kAlign8) == sq::kernels::kSm80MediumA8.name);
  CHECK(choose80(1024, 4096, 3592, kAlign8) == sq::kernels::kSm80MediumA8.name);
  CHECK(choose80(8192, 4096, 3592, kAlign8) == sq::kernels::kSm80MediumA8.name);
}

TEST_CASE("Decode dispatch: the smallest token bucket, 32-row CTAs by wave fill", "[dispatch]") {
  auto decode = [](int64_t m, int64_t n) {
    const sq::kernels::KernelVariant* v = sq::decode_choose(sq::LinearShape{m, n, 4096, 2, kAlign16, true}, kH100);
    return v != nullptr ? std::string(v->name) : std::string();
  };
  CHECK(decode(65, 4096).empty());  // past the largest bucket
  CHECK(sq::decode_choose(sq::LinearShape{1, 4096, 4100, 2, kAlign1, true}, kH100) == nullptr);
  // 16-byte aligned shapes never take an 8-byte-load variant; 8-byte aligned ones only those, whose
  // buckets hold one CTA width (16 rows).
  for (int64_t m : {1, 16, 17, 32, 33, 64}) {
    for (int64_t n : {1, 2048, 4096, 8192, 57344}) {
      CAPTURE(m, n);
      const sq::kernels::KernelVariant* v16 = sq::decode_choose(sq::LinearShape{m, n, 4096, 2, kAlign16, true}, kH100);
      const sq::kernels::KernelVariant* v8 = sq::decode_choose(sq::LinearShape{m, n, 4088, 2, kAlign8, true}, kH100);
      REQUIRE(v16 != nullptr);
      REQUIRE(v8 != nullptr);
      CHECK(v16->min_align == kAlign16);
      CHECK(v8->min_align == kAlign8);
      CHECK(v8->tile_n == 16);
      CHECK(v8->max_m == v16->max_m);  // the same token bucket
      CHECK(ends_with(v8->name, "_a8"));
    }
  }
  CHECK(sq::decode_choose(sq::LinearShape{65, 4096, 4088, 2, kAlign8, true}, kH100) == nullptr);
  // N = 4096: 256 16-row CTAs fill one wave of 264 slots; 128 32-row CTAs fill half of one.
  CHECK(decode(32, 4096) == "decode_mma_r16_t32");
  // N = 8192 at M = 17..64: both fill their waves equally, so the 32-row CTAs (half the reads).
  CHECK(decode(32, 8192) == "decode_mma_r32_t32");
  // M <= 16: the 32-row CTAs only where the 16-row ones spill into a largely empty last wave.
  CHECK(decode(16, 6144) == "decode_mma_r32_t16");   // 384 CTAs: 1.45 waves
  CHECK(decode(16, 8192) == "decode_mma_r16_t16");   // 512 CTAs: 1.94 waves
  // Every decode variant honours programmatic launch; buckets are the registry's max_m; each needs the
  // alignment of its loads (16 bytes, or 8 for the "_a8" variants).
  for (const sq::kernels::KernelVariant& v : sq::kernels::decode_variants()) {
    CAPTURE(v.name);
    CHECK(v.honours_programmatic);
    CHECK(v.max_m == v.tile_m);
    CHECK(v.min_align == (ends_with(v.name, "_a8") ? kAlign8 : kAlign16));
  }
}

TEST_CASE("Launch plan: programmatic launches, quantizer row splits, kernel names", "[dispatch]") {
  using sq::GpuFamily;
  using sq::Op;
  auto plan = [](Op op, GpuFamily family, int32_t sm, int64_t n, int64_t k, int64_t m, int32_t align = kAlign16) {
    return sq::plan_launch(sq::PlanFacts{op, family, sq::device_facts(sm, kH100Sms), n, k, 2, 2}, run(m, align));
  };
  // Static linear on sm_90: every kernel that honours it starts as a programmatic dependent.
  const sq::LaunchPlan decode = plan(Op::kStaticLinear, GpuFamily::kHopper, 90, 4096, 4096, 1);
  CHECK(decode.quantizer.name == nullptr);
  CHECK(decode.linear.programmatic);
  CHECK(std::string(decode.kernel_name()) == decode.linear.variant->name);
  const sq::LaunchPlan generic = plan(Op::kStaticLinear, GpuFamily::kHopper, 90, 4096, 4100, 1, kAlign1);
  CHECK(generic.linear.variant == &sq::kernels::kSm80Generic);
  CHECK_FALSE(generic.linear.programmatic);  // the portable kernels do not honour it
  // An 8-byte aligned run at decode M: the "_a8" decode variant, a programmatic dependent like the others
  // (static plan), and after the quantizer in the smallest bucket (dynamic plan).
  const sq::LaunchPlan a8 = plan(Op::kStaticLinear, GpuFamily::kHopper, 90, 2048, 1368, 1, kAlign8);
  CHECK(std::string(a8.kernel_name()) == "decode_mma_r16_t16_a8");
  CHECK(a8.linear.programmatic);
  CHECK(plan(Op::kDynamicLinear, GpuFamily::kHopper, 90, 2048, 1368, 1, kAlign8).linear.programmatic);
  CHECK(plan(Op::kStaticLinear, GpuFamily::kPortable, 80, 2048, 1368, 64, kAlign8).linear.variant->min_align == kAlign8);
  // Not on other devices (their images do not wait).
  CHECK_FALSE(plan(Op::kStaticLinear, GpuFamily::kPortable, 80, 4096, 4096, 1).linear.programmatic);
  // The dynamic plan: the quantizer splits long rows and overlaps its predecessor; the linear follows it
  // as a dependent only in the smallest decode bucket.
  const sq::LaunchPlan d1 = plan(Op::kDynamicLinear, GpuFamily::kHopper, 90, 4096, 14336, 1);
  CHECK(std::string(d1.quantizer.name) == "quantize_dynamic");
  CHECK(d1.quantizer.row_splits == 4);  // 28 KiB of bf16 x: one CTA per 8 KiB
  CHECK(d1.quantizer.programmatic);
  CHECK(d1.linear.programmatic);
  CHECK(std::string(d1.kernel_name()) == d1.linear.variant->name);
  // 40 rows x 4 CTAs would not fit 132 SMs; 17 rows take the 32-token decode bucket.
  CHECK(plan(Op::kDynamicLinear, GpuFamily::kHopper, 90, 4096, 14336, 40).quantizer.row_splits == 3);
  CHECK_FALSE(plan(Op::kDynamicLinear, GpuFamily::kHopper, 90, 4096, 14336, 17).linear.programmatic);
  // Quantize ops: named by their quantizer; the static one never splits or overlaps.
  const sq::LaunchPlan st = plan(Op::kStaticQuantize, GpuFamily::kHopper, 90, 0, 28672, 1);
  CHECK(std::string(st.kernel_name()) == "quantize_static");
  CHECK(st.quantizer.row_splits == 1);
  CHECK_FALSE(st.quantizer.programmatic);
  CHECK(st.linear.variant == nullptr);
  CHECK(plan(Op::kDynamicQuantize, GpuFamily::kPortable, 80, 0, 28672, 1).quantizer.row_splits == 1);
}

TEST_CASE("Launch plan of the 0.2 ops: quantizer modes and producers, the row-sums pre-pass, SCALE_ACCUMULATORS",
          "[dispatch]") {
  using sq::GpuFamily;
  using sq::Op;
  using sq::QuantFact;
  auto facts = [](Op op, int32_t sm, int64_t n, int64_t k, QuantFact q = QuantFact::kOpDefault, bool zw = false) {
    return sq::PlanFacts{op, sm == 90 ? GpuFamily::kHopper : GpuFamily::kPortable, sq::device_facts(sm, kH100Sms), n, k, 2, 2, q, zw};
  };
  // Quantizer names: producer, then mode; the default mode is the op's own.
  struct Name {
    Op op;
    QuantFact q;
    const char* name;
  };
  for (const Name& n : {Name{Op::kDynamicQuantize, QuantFact::kOpDefault, "quantize_dynamic"},
                        Name{Op::kDynamicQuantize, QuantFact::kDynamicAsym, "quantize_dynamic_asymmetric"},
                        Name{Op::kDynamicQuantize, QuantFact::kAbsmax, "quantize_absmax"},
                        Name{Op::kDynamicQuantize, QuantFact::kFromAbsmax, "quantize_from_absmax"},
                        Name{Op::kStaticQuantize, QuantFact::kOpDefault, "quantize_static"},
                        Name{Op::kStaticQuantize, QuantFact::kStatic, "quantize_static"},
                        Name{Op::kRmsNormQuantize, QuantFact::kOpDefault, "rmsnorm_quantize_dynamic"},
                        Name{Op::kRmsNormQuantize, QuantFact::kStatic, "rmsnorm_quantize_static"},
                        Name{Op::kRmsNormQuantize, QuantFact::kDynamicAsym, "rmsnorm_quantize_dynamic_asymmetric"},
                        Name{Op::kRmsNormQuantize, QuantFact::kAbsmax, "rmsnorm_quantize_absmax"},
                        Name{Op::kRmsNormQuantize, QuantFact::kFromAbsmax, "rmsnorm_quantize_from_absmax"},
                        Name{Op::kSiluMulQuantize, QuantFact::kDynamic, "silu_mul_quantize_dynamic"},
                        Name{Op::kSiluMulQuantize, QuantFact::kStatic, "silu_mul_quantize_static"},
                        Name{Op::kSiluMulQuantize, QuantFact::kDynamicAsym, "silu_mul_quantize_dynamic_asymmetric"},
                        Name{Op::kSiluMulQuantize, QuantFact::kAbsmax, "silu_mul_quantize_absmax"},
                        Name{Op::kSiluMulQuantize, QuantFact::kFromAbsmax, "silu_mul_quantize_from_absmax"}}) {
    CAPTURE(n.name);
    for (int32_t sm : {90, 80}) {
      const sq::LaunchPlan p = sq::plan_launch(facts(n.op, sm, 0, 28672, n.q), run(1));
      CHECK(std::string(p.kernel_name()) == n.name);
      CHECK(p.linear.variant == nullptr);
      CHECK(p.row_sums.name == nullptr);
      CHECK(p.scale_accumulators.name == nullptr);
      // Per-token modes overlap their predecessor on sm_90; the static quantizer does not.
      const bool per_token = std::string(n.name).find("static") == std::string::npos;
      CHECK(p.quantizer.programmatic == (per_token && sm == 90));
      // M = 1 with a 56 KiB row: split over a cluster on sm_90 (every quantizer but the plain static one:
      // [D-quant-row-split], [D-quant-row-split-02]), never elsewhere.
      const bool splits = sm == 90 && n.op != Op::kStaticQuantize;
      CHECK((p.quantizer.row_splits > 1) == splits);
      // At M = 1024 only a quantizer that keeps its row between passes (RMSNorm always; the others in the
      // per-token modes that need the whole row first) splits, where its share would not fit the row cache
      // (SiLU-mul's two halves at K = 28672 do not).
      const sq::LaunchPlan big = sq::plan_launch(facts(n.op, sm, 0, 28672, n.q), run(1024));
      const bool keeps_row = n.op == Op::kRmsNormQuantize ||
                             (n.op != Op::kStaticQuantize && n.q != QuantFact::kStatic && n.q != QuantFact::kFromAbsmax);
      if (sm == 80 || !keeps_row) CHECK(big.quantizer.row_splits == 1);
      if (sm == 90 && keeps_row && n.op == Op::kSiluMulQuantize) CHECK(big.quantizer.row_splits > 1);
    }
  }
  // QUANTIZED_LINEAR with the asymmetric quantizer: rows split like the symmetric one's, the same linear.
  const sq::LaunchPlan sym = sq::plan_launch(facts(Op::kDynamicLinear, 90, 4096, 14336), run(1));
  const sq::LaunchPlan asym = sq::plan_launch(facts(Op::kDynamicLinear, 90, 4096, 14336, QuantFact::kDynamicAsym, true), run(1));
  CHECK(std::string(asym.quantizer.name) == "quantize_dynamic_asymmetric");
  CHECK(asym.quantizer.row_splits == sym.quantizer.row_splits);
  CHECK(asym.quantizer.programmatic);
  CHECK(asym.linear.variant == sym.linear.variant);
  CHECK(asym.linear.programmatic == sym.linear.programmatic);
  CHECK(asym.row_sums.name == nullptr);  // its row sums come from the quantizer
  CHECK(std::string(asym.kernel_name()) == asym.linear.variant->name);
  // The zero-point linears: the pre-pass only for a run that asks for it, first and programmatic on sm_90;
  // the linear after it is not programmatic; the same variant either way.
  for (Op op : {Op::kStaticLinear, Op::kScaledLinear}) {
    for (int32_t sm : {90, 80}) {
      for (int64_t m : {1, 16, 64, 300}) {
        CAPTURE(static_cast<int>(op), sm, m);
        const sq::PlanFacts f = facts(op, sm, 4096, 4096, QuantFact::kOpDefault, true);
        const sq::LaunchPlan plain = sq::plan_launch(f, run(m));
        const sq::LaunchPlan pre = sq::plan_launch(f, run(m, kAlign16, true));
        CHECK(plain.row_sums.name == nullptr);
        CHECK(std::string(pre.row_sums.name) == "row_sums");
        CHECK(pre.row_sums.programmatic == (sm == 90));
        CHECK(pre.linear.variant == plain.linear.variant);
        CHECK_FALSE(pre.linear.programmatic);
        CHECK(std::string(pre.kernel_name()) == plain.linear.variant->name);
        CHECK(pre.quantizer.name == nullptr);
        // A plan without SQ_PLAN_WEIGHT_ZERO_POINT never launches it.
        CHECK(sq::plan_launch(facts(op, sm, 4096, 4096), run(m, kAlign16, true)).row_sums.name == nullptr);
      }
    }
  }
  // SCALE_ACCUMULATORS: one kernel, programmatic on sm_90.
  for (int32_t sm : {90, 80}) {
    const sq::LaunchPlan p = sq::plan_launch(facts(Op::kScaleAccumulators, sm, 4096, 0), run(7));
    CHECK(std::string(p.kernel_name()) == "scale_accumulators");
    CHECK(p.scale_accumulators.programmatic == (sm == 90));
    CHECK(p.linear.variant == nullptr);
    CHECK(p.quantizer.name == nullptr);
  }
}

TEST_CASE("Launch plan: unaligned operands staged on Hopper above decode M where the workspace has room and the copy pays", "[dispatch][stage]") {
  using sq::GpuFamily;
  using sq::Op;
  // A plan with the staging area (K % 16 != 0, no zero points) and a run with or without it.
  auto facts = [](Op op, int32_t sm, int64_t n, int64_t k) {
    return sq::PlanFacts{op, sm == 90 ? GpuFamily::kHopper : GpuFamily::kPortable, sq::device_facts(sm, kH100Sms), n, k,
                         2, 1, sq::QuantFact::kOpDefault, false, true};
  };
  auto staged_run = [](int64_t m, int32_t align, bool room) { return sq::RunFacts{m, align, true, false, room}; };
  for (int32_t sm : {90, 80}) {
    for (Op op : {Op::kStaticLinear, Op::kScaledLinear}) {
      for (const auto& [n, k, align] : {std::tuple<int64_t, int64_t, int32_t>{4096, 3592, kAlign8},
                                        {2048, 1368, kAlign8}, {4096, 4100, kAlign1}, {1000, 77, kAlign1}}) {
        const int64_t k_pad = (k + 15) / 16 * 16;
        for (int64_t m : {1, 16, 64, 65, 128, 256, 1024, 4096}) {
          CAPTURE(sm, static_cast<int>(op), n, k, m);
          const sq::PlanFacts f = facts(op, sm, n, k);
          const sq::LaunchPlan without = sq::plan_launch(f, staged_run(m, align, false));
          const sq::LaunchPlan with = sq::plan_launch(f, staged_run(m, align, true));
          CHECK(without.stage.name == nullptr);
          if (sm == 80 || without.linear.variant->family == sq::kernels::Family::kDecode) {
            // The copy is measured on Hopper only; at decode M the decode kernels read the weight once.
            CHECK(with.stage.name == nullptr);
            CHECK(with.linear.variant == without.linear.variant);
            continue;
          }
          REQUIRE(with.stage.name != nullptr);
          CHECK(std::string(with.stage.name) == "stage_rows");
          CHECK(with.stage.k_pad == k_pad);
          CHECK(with.stage.programmatic == (sm == 90));
          // The linear is the 16-byte aligned choice for k_pad columns, and what kernel_name reports.
          const sq::LaunchPlan aligned =
              sq::plan_launch(facts(op, sm, n, k_pad), staged_run(m, kAlign16, false));
          CHECK(with.linear.variant == aligned.linear.variant);
          CHECK(with.linear.variant->min_align == kAlign16);
          CHECK(std::string(with.kernel_name()) == with.linear.variant->name);
          CHECK(with.quantizer.name == nullptr);
          CHECK(with.row_sums.name == nullptr);
        }
        // A plan without the staging area never stages.
        sq::PlanFacts none = facts(op, sm, n, k);
        none.stage_unaligned = false;
        CHECK(sq::plan_launch(none, staged_run(1024, align, true)).stage.name == nullptr);
      }
    }
    // Staging needs the area, the flag and unaligned operands together.
    CHECK(sq::plan_launch(facts(Op::kStaticLinear, sm, 4096, 3592), staged_run(1024, kAlign16, true)).stage.name ==
          nullptr);
  }
  // Where the copy costs more than the 8-byte tiles lose, no staging: large weights at small M. The H100's
  // measured rows (bench/shapes_fit_stage_rule.csv) that staging_pays calls right, on both sides.
  for (const auto& [n, k, m, staged] : {std::tuple<int64_t, int64_t, int64_t, bool>{14336, 4104, 80, false},
                                        {14336, 4104, 128, false}, {14336, 4104, 192, true},
                                        {28672, 4088, 128, false}, {28672, 4088, 256, true},
                                        {8192, 8184, 128, false}, {8192, 8184, 192, true},
                                        {8192, 28664, 128, false}, {4096, 14328, 80, true},
                                        {57344, 8184, 128, false}, {2048, 1368, 80, true}}) {
    CAPTURE(n, k, m);
    const sq::PlanFacts f = facts(Op::kStaticLinear, 90, n, k);
    CHECK((sq::plan_launch(f, staged_run(m, kAlign8, true)).stage.name != nullptr) == staged);
  }
  // sq_plan_kernel_name answers for the whole workspace: packed runs of such a plan stage above decode M.
  const sq::PlanFacts f = facts(Op::kStaticLinear, 90, 4096, 3592);
  CHECK(sq::packed_run(f, 1024).stage_room);
  CHECK(sq::plan_launch(f, sq::packed_run(f, 1024)).stage.name != nullptr);
  CHECK(sq::plan_launch(f, sq::packed_run(f, 1)).stage.name == nullptr);
}
