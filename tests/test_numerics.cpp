// src/host/numerics.hpp: the host's exact conversions against CUDA's own host implementations.
#include <catch2/catch.hpp>

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <limits>

#include "host/numerics.hpp"
#include "test_util.hpp"

using namespace sq;

namespace {
uint16_t bits(__half h) { uint16_t b; std::memcpy(&b, &h, 2); return b; }
uint16_t bits(__nv_bfloat16 h) { uint16_t b; std::memcpy(&b, &h, 2); return b; }
bool both_nan16(uint16_t a, uint16_t b, uint16_t exp_mask, uint16_t mant_mask) {
  return (a & exp_mask) == exp_mask && (a & mant_mask) && (b & exp_mask) == exp_mask && (b & mant_mask);
}
}  // namespace

TEST_CASE("float and double to f16/bf16 round once to nearest even, like CUDA", "[numerics]") {
  std::uniform_int_distribution<uint32_t> u32;
  std::uniform_int_distribution<uint64_t> u64;
  int checked = 0;
  for (int i = 0; i < 2000000; ++i) {
    const float f = num::bit_cast<float>(u32(sqt::rng()));
    const uint16_t h_lib = num::to_f16(static_cast<double>(f)).bits, h_cuda = bits(__float2half_rn(f));
    const uint16_t b_lib = num::to_bf16(static_cast<double>(f)).bits, b_cuda = bits(__float2bfloat16_rn(f));
    if (!both_nan16(h_lib, h_cuda, 0x7c00, 0x03ff)) REQUIRE(h_lib == h_cuda);
    if (!both_nan16(b_lib, b_cuda, 0x7f80, 0x007f)) REQUIRE(b_lib == b_cuda);
    ++checked;
  }
  // Doubles near f16/bf16 rounding boundaries: one rounding, not two via float.
  for (int i = 0; i < 1000000; ++i) {
    const double d = std::ldexp(1.0 + static_cast<double>(u64(sqt::rng()) >> 12) * 0x1p-52,
                                static_cast<int>(u32(sqt::rng()) % 60) - 30) * ((i & 1) ? -1.0 : 1.0);
    REQUIRE(num::to_f16(d).bits == bits(__double2half(d)));
    REQUIRE(num::to_bf16(d).bits == bits(__double2bfloat16(d)));
  }
  // A double one float-ulp-ish above a half-way point of f16 that a double rounding would get wrong.
  const double tricky = 1.0 + 0x1p-11 + 0x1p-40;  // just above the tie between 1 and 1+2^-10
  CHECK(num::to_f16(tricky).bits == 0x3c01);
  CHECK(checked == 2000000);
}

TEST_CASE("f16 and bf16 widen exactly", "[numerics]") {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    __half h;
    const uint16_t b16 = static_cast<uint16_t>(b);
    std::memcpy(&h, &b16, 2);
    const float lib = num::to_float(num::f16{b16}), cuda = __half2float(h);
    if (std::isnan(cuda)) {
      REQUIRE(std::isnan(lib));
    } else {
      REQUIRE(num::bit_cast<uint32_t>(lib) == num::bit_cast<uint32_t>(cuda));
    }
    REQUIRE(num::bit_cast<uint32_t>(num::to_float(num::bf16{b16})) == (b << 16));
  }
}

TEST_CASE("sat_rne_s8 rounds half to even, saturates, and maps NaN to 0", "[numerics]") {
  CHECK(num::sat_rne_s8(0.5f) == 0);
  CHECK(num::sat_rne_s8(1.5f) == 2);
  CHECK(num::sat_rne_s8(2.5f) == 2);
  CHECK(num::sat_rne_s8(-0.5f) == 0);
  CHECK(num::sat_rne_s8(-1.5f) == -2);
  CHECK(num::sat_rne_s8(126.5f) == 126);
  CHECK(num::sat_rne_s8(127.5f) == 127);
  CHECK(num::sat_rne_s8(1e9f) == 127);
  CHECK(num::sat_rne_s8(-128.5f) == -128);
  CHECK(num::sat_rne_s8(-1e9) == -128);
  CHECK(num::sat_rne_s8(std::numeric_limits<float>::infinity()) == 127);
  CHECK(num::sat_rne_s8(-std::numeric_limits<double>::infinity()) == -128);
  CHECK(num::sat_rne_s8(std::numeric_limits<float>::quiet_NaN()) == 0);
}

TEST_CASE("scale_acc multiplies in the contract's order with no fused multiply-add", "[numerics]") {
  // acc * row first, then * col: chosen so that (acc*row)*col != acc*(row*col) in f32.
  const int32_t acc = 16777215;  // 2^24 - 1, exact in f32
  const float row = 1.0f + 0x1p-23f, col = 3.0f;
  const float expect = (static_cast<float>(acc) * row) * col;
  CHECK(num::scale_acc<float>(acc, row, col, false, 0.0f) == expect);
  // Bias added after the product, in f32, then rounded once to f16.
  const num::f16 h = num::scale_acc<num::f16>(acc, row, col, true, 1.0f);
  CHECK(h.bits == num::to_f16(static_cast<double>(expect + 1.0f)).bits);
}

TEST_CASE("sat_rne_q: rne(t) + za saturated to Q's range, NaN -> za", "[numerics]") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  // U8 with za 128: ties to even before the zero point is added.
  CHECK(num::sat_rne_q(2.5f, 128, 0, 255) == 130);
  CHECK(num::sat_rne_q(3.5f, 128, 0, 255) == 132);
  CHECK(num::sat_rne_q(-0.5f, 128, 0, 255) == 128);
  CHECK(num::sat_rne_q(-128.5f, 128, 0, 255) == 0);
  CHECK(num::sat_rne_q(-127.5f, 128, 0, 255) == 0);
  CHECK(num::sat_rne_q(-129.0f, 128, 0, 255) == 0);
  CHECK(num::sat_rne_q(126.5f, 128, 0, 255) == 254);
  CHECK(num::sat_rne_q(127.5f, 128, 0, 255) == 255);
  CHECK(num::sat_rne_q(1e30f, 128, 0, 255) == 255);
  CHECK(num::sat_rne_q(inf, 128, 0, 255) == 255);
  CHECK(num::sat_rne_q(-inf, 128, 0, 255) == 0);
  CHECK(num::sat_rne_q(nan, 128, 0, 255) == 128);
  CHECK(num::sat_rne_q(nan, 0, -128, 127) == 0);
  // S8 with za -128 (an asymmetric s8 row of non-negative values) and za 127.
  CHECK(num::sat_rne_q(254.5, -128, -128, 127) == 126);
  CHECK(num::sat_rne_q(255.5, -128, -128, 127) == 127);
  CHECK(num::sat_rne_q(-0.4, -128, -128, 127) == -128);
  CHECK(num::sat_rne_q(-255.5, 127, -128, 127) == -128);
  CHECK(num::sat_rne_q(-254.5, 127, -128, 127) == -127);
  CHECK(num::sat_rne_q(-std::numeric_limits<double>::denorm_min(), 5, -128, 127) == 5);
  // Every half-integer of [-300, 300] in both types against nearbyint.
  for (int twice = -600; twice <= 600; ++twice)
    for (int za : {-128, -3, 0, 77, 127}) {
      const double t = twice / 2.0;
      const int want = static_cast<int>(std::min(127.0, std::max(-128.0, std::nearbyint(t) + za)));
      REQUIRE(num::sat_rne_q(t, za, -128, 127) == want);
      REQUIRE(num::sat_rne_q(static_cast<float>(t), za, -128, 127) == want);
    }
}
