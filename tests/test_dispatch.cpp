// Host tests of the Hopper dispatch (src/dispatch_sm90.cpp): which kernel variant a shape takes on
// the 132-SM H100 the cost models were fitted on. No GPU needed (the dispatch is arithmetic on the
// shape); links the kernel objects, whose symbols the .so hides. What each kernel computes is
// tested on the GPU (test_gpu_variants.cpp, test_gpu_linear.cpp).
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "families.hpp"

namespace {

constexpr int32_t kH100Sms = 132;
constexpr int32_t kHopperSm = 90;
constexpr int64_t kTile = 128;  // the ping-pong kernel's tile rows and columns

std::string choose(int64_t m, int64_t n, int64_t k, int32_t out_bytes, bool aligned16 = true) {
  return sq::sm90_choose(sq::LinearShape{m, n, k, kH100Sms, kHopperSm, aligned16, out_bytes}).name;
}

bool is_pingpong(const std::string& name) { return name.rfind("sm90_wgmma_pp_", 0) == 0; }

}  // namespace

TEST_CASE("Hopper dispatch: families by M and alignment", "[dispatch]") {
  CHECK(choose(1, 4096, 4096, 2).rfind("decode_mma_", 0) == 0);
  CHECK(choose(16, 57344, 8192, 4).rfind("decode_mma_", 0) == 0);
  CHECK(choose(64, 8192, 28672, 2).rfind("sm90_wgmma_splitk_64x", 0) == 0);
  // M = 17..32: the decode kernels up to a 32 MiB weight, split-K above (v0.1.7).
  CHECK(choose(32, 6144, 4096, 2).rfind("decode_mma_", 0) == 0);
  CHECK(choose(17, 4096, 14336, 2).rfind("sm90_wgmma_splitk_64x", 0) == 0);
  CHECK(choose(32, 8192, 8192, 4).rfind("sm90_wgmma_splitk_64x", 0) == 0);
  CHECK(choose(2048, 8192, 8192, 4).rfind("sm90_wgmma_ws_", 0) == 0);
  // 16-bit out at M = 65..192: split-K with one CTA per tile where such a grid fills one wave well
  // (v0.1.7); not with f32 out, not where the tiles pad M by a quarter (M = 96), not at M = 256.
  CHECK(choose(128, 4096, 4096, 2) == "sm90_wgmma_splitk_64x64x128_s14_c1");
  CHECK(choose(128, 8192, 8192, 2) == "sm90_wgmma_splitk_128x64x128_s9_c1");
  CHECK(choose(192, 8192, 8192, 2) == "sm90_wgmma_splitk_64x224x128_s6_c1");
  CHECK(choose(128, 8192, 8192, 4).rfind("sm90_wgmma_ws_", 0) == 0);
  CHECK(choose(96, 8192, 8192, 2).rfind("sm90_wgmma_ws_", 0) == 0);
  CHECK(choose(256, 8192, 8192, 2).rfind("sm90_wgmma_ws_", 0) == 0);
  CHECK(choose(128, 57344, 8192, 2) == "sm90_wgmma_pp_128x128x128_s6");  // two waves of c1 tiles
  // Unaligned operands (K % 16 != 0 and the like) take the portable family at every M.
  for (int64_t m : {1, 64, 2048}) CHECK(choose(m, 4096, 4100, 2, false).rfind("sm80_", 0) == 0);
}

TEST_CASE("Hopper dispatch: the ping-pong kernel only where its rule holds", "[dispatch]") {
  // Measured choices (bench/NOTES.md v0.1.6): bf16 at K <= 8192 with 2..32 of its tiles per SM and
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
