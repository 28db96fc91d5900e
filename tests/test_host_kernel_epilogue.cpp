// host_row_sums and host_scale_accumulators (src/host/), called directly, against the oracle; the
// tensor-parallel identity (S32 linears on K slices, an integer sum, SCALE_ACCUMULATORS == the linear
// with the same row scales on the whole K); and kernels/sq_math.hpp against the header's recipe and
// against exp in double.
#include <catch2/catch.hpp>

#include <limits>

#include "host_kernel_run.hpp"
#include "sq_math.hpp"

using namespace sqk;

namespace {

std::vector<uint8_t> random_bytes(size_t n) {
  std::uniform_int_distribution<int> d(0, 255);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(d(sqt::rng()));
  return v;
}

uint32_t float_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
float bits_float(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// Distance in units in the last place of f32 between a float and a double (the double's exact value
// against the float grid around it).
double ulp_error(float got, double want) {
  const double ulp = std::ldexp(1.0, std::max(std::ilogb(static_cast<float>(want)), -126) - 23);
  return std::fabs(static_cast<double>(got) - want) / ulp;
}

Buf run_scale_accumulators(sq_dtype t, int64_t m, int64_t n, const std::vector<int32_t>& acc, int64_t ld_acc,
                           const Buf& rs, bool per_tensor, const Buf& ws, const Buf* bias, int64_t ldo,
                           unsigned threads) {
  Buf out(t, static_cast<size_t>(m * ldo));
  out.poison();
  kern::ScaleAccumulatorsParams p{};
  p.m = static_cast<int32_t>(m);
  p.n = static_cast<int32_t>(n);
  p.acc = acc.data();
  p.ld_acc = ld_acc;
  p.row_scale = rs.data();
  p.row_scale_per_tensor = per_tensor;
  p.weight_scale = ws.data();
  p.bias = bias ? bias->data() : nullptr;
  p.out = out.data();
  p.ld_out = ldo;
  p.dtype = kd(t);
  sq::host_scale_accumulators(p, threads);
  return out;
}

}  // namespace

TEST_CASE("host_row_sums: exact sums of S8 and U8 rows", "[host_kernels][sums]") {
  for (sq_dtype t : {SQ_DTYPE_S8, SQ_DTYPE_U8})
    for (unsigned threads : {1u, 3u}) {
      const int64_t m = 67, k = 4099, ld = 4101;
      auto a = random_bytes(static_cast<size_t>(m * ld));
      // Extreme rows: all -128 / all 127 (S8), all 0 / all 255 (U8) at the largest K of a zero-point plan.
      std::vector<int32_t> sums(static_cast<size_t>(m + 1), kPoisonSum);
      kern::RowSumsParams p{};
      p.m = static_cast<int32_t>(m);
      p.k = static_cast<int32_t>(k);
      p.a = reinterpret_cast<const int8_t*>(a.data());
      p.ld_a = ld;
      p.a_type = kd(t);
      p.sums = sums.data();
      sq::host_row_sums(p, threads);
      const auto want = raw_row_sums(t, a.data(), m, k, ld);
      for (int64_t r = 0; r < m; ++r) REQUIRE(sums[r] == want[r]);
      REQUIRE(sums[m] == kPoisonSum);
      const int64_t big = 131071;
      for (uint8_t byte : {uint8_t{0x80}, uint8_t{0x7f}, uint8_t{0xff}, uint8_t{0}}) {
        std::vector<uint8_t> row(static_cast<size_t>(big), byte);
        int32_t s = 0;
        p.m = 1;
        p.k = static_cast<int32_t>(big);
        p.a = reinterpret_cast<const int8_t*>(row.data());
        p.ld_a = big;
        p.sums = &s;
        sq::host_row_sums(p, threads);
        REQUIRE(s == static_cast<int32_t>(sqo::value_of(t, byte) * big));
      }
    }
}

TEST_CASE("host_scale_accumulators: the linears' epilogue on given accumulators", "[host_kernels][scale_acc]") {
  const int64_t m = 23, n = 77, ld_acc = 80, ldo = 79;
  for (sq_dtype t : {SQ_DTYPE_F32, SQ_DTYPE_F64, SQ_DTYPE_F16, SQ_DTYPE_BF16})
    for (bool per_tensor : {false, true})
      for (bool with_bias : {false, true}) {
        CAPTURE(sqt::dtype_str(t), per_tensor, with_bias);
        std::uniform_int_distribution<int32_t> d(std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
        std::vector<int32_t> acc(static_cast<size_t>(m * ld_acc));
        for (auto& v : acc) v = d(sqt::rng());
        acc[0] = std::numeric_limits<int32_t>::min();
        acc[1] = std::numeric_limits<int32_t>::max();
        acc[2] = 0;
        acc[3] = 16777217;  // not exact in f32: (float)acc rounds
        Buf rs = sqt::random_scales(t, static_cast<size_t>(m), 1e-6, 1e-3);
        Buf ws = sqt::random_scales(t, static_cast<size_t>(n), 1e-4, 1e-2);
        Buf bias = sqt::random_values(t, static_cast<size_t>(n), -3, 3);
        const Buf got = run_scale_accumulators(t, m, n, acc, ld_acc, rs, per_tensor, ws, with_bias ? &bias : nullptr,
                                               ldo, 2);
        std::vector<int32_t> packed(static_cast<size_t>(m * n));
        for (int64_t r = 0; r < m; ++r)
          for (int64_t c = 0; c < n; ++c) packed[r * n + c] = acc[r * ld_acc + c];
        Buf rows(t, static_cast<size_t>(m));
        for (int64_t r = 0; r < m; ++r)
          std::memcpy(rows.at(r), rs.at(per_tensor ? 0 : r), sqt::dtype_size(t));
        Buf want(t, static_cast<size_t>(m * ldo));
        want.poison();
        sqt::oracle_epilogue(m, n, packed, ws, with_bias ? &bias : nullptr, rows, want, ldo);
        REQUIRE(sqt::first_bit_difference(got, want) == -1);
      }
}

TEST_CASE("S32 linears on K slices, summed, then SCALE_ACCUMULATORS == the linear on the whole K",
          "[host_kernels][scale_acc][tp]") {
  const int64_t m = 19, n = 45, k = 515;
  for (sq_dtype t : {SQ_DTYPE_F32, SQ_DTYPE_F64, SQ_DTYPE_F16, SQ_DTYPE_BF16})
    for (bool zero_points : {false, true})
      for (bool per_tensor : {false, true}) {
        CAPTURE(sqt::dtype_str(t), zero_points, per_tensor);
        const auto a = random_bytes(static_cast<size_t>(m * k)), w = random_bytes(static_cast<size_t>(n * k));
        Buf rs = sqt::random_scales(t, static_cast<size_t>(m)), ws = sqt::random_scales(t, static_cast<size_t>(n));
        Buf bias = sqt::random_values(t, static_cast<size_t>(n), -1, 1);
        LinearIn whole;
        whole.m = m;
        whole.n = n;
        whole.k = k;
        whole.ops = sqo::Operands{SQ_DTYPE_U8, SQ_DTYPE_U8, a.data(), k, w.data(), k, {}, {}};
        if (zero_points) {
          for (int64_t r = 0; r < m; ++r) whole.ops.za.push_back(static_cast<int>((r * 37) % 256));
          for (int64_t c = 0; c < n; ++c) whole.ops.zw.push_back(static_cast<int>((c * 91 + 5) % 256));
        }
        whole.zero_points = zero_points;
        whole.za_per_token = true;
        whole.t = t;
        whole.row_scale_kind = per_tensor ? 2 : 1;
        whole.row_scale = &rs;
        whole.weight_scale = &ws;
        whole.bias = &bias;
        whole.ldo = n;
        const LinearRan direct = run_linear(whole, 1);
        std::vector<int32_t> total(static_cast<size_t>(m * n), 0);
        const int64_t cuts[] = {0, 100, 333, k};
        for (int s = 0; s < 3; ++s) {
          LinearIn part = whole;
          part.k = cuts[s + 1] - cuts[s];
          part.ops.a = a.data() + cuts[s];
          part.ops.w = w.data() + cuts[s];
          part.t = SQ_DTYPE_S32;
          part.row_scale_kind = 0;
          part.bias = nullptr;
          const LinearRan r = run_linear(part, 2);
          for (size_t i = 0; i < total.size(); ++i) {
            int32_t v;
            std::memcpy(&v, r.out.at(i), 4);
            total[i] = static_cast<int32_t>(static_cast<uint32_t>(total[i]) + static_cast<uint32_t>(v));
          }
        }
        const Buf scaled = run_scale_accumulators(t, m, n, total, n, rs, per_tensor, ws, &bias, n, 1);
        REQUIRE(sqt::first_bit_difference(scaled, direct.out) == -1);
      }
}

TEST_CASE("sq_math constants are the header's", "[host_kernels][sq_math]") {
  CHECK(float_bits(88.72283935546875f) == sq::math::kExpOverflowBits);
  CHECK(float_bits(static_cast<float>(-103.972084045410156)) == sq::math::kExpUnderflowBits);
  CHECK(float_bits(0x1.715476p+0f) == sq::math::kLog2eBits);
  CHECK(float_bits(0x1.62e4p-1f) == sq::math::kLn2HiBits);
  CHECK(float_bits(0x1.7f7d1cp-20f) == sq::math::kLn2LoBits);
  CHECK(float_bits(static_cast<float>(1.0 / 2)) == sq::math::kExpC2Bits);
  CHECK(float_bits(static_cast<float>(1.0 / 6)) == sq::math::kExpC3Bits);
  CHECK(float_bits(static_cast<float>(1.0 / 24)) == sq::math::kExpC4Bits);
  CHECK(float_bits(static_cast<float>(1.0 / 120)) == sq::math::kExpC5Bits);
  CHECK(float_bits(static_cast<float>(1.0 / 720)) == sq::math::kExpC6Bits);
  CHECK(float_bits(static_cast<float>(1.0 / 5040)) == sq::math::kExpC7Bits);
  CHECK(sq::math::kRmsLanes == 2048);
}

TEST_CASE("sq_exp: the header's recipe bit for bit, within 2 ulp of exp", "[host_kernels][sq_math]") {
  // Every 61st f32 from -104 to 89 (both signs of the bit patterns), plus the boundaries.
  double worst = 0.0;
  float worst_at = 0.0f;
  int64_t checked = 0, mismatches = 0;
  uint32_t first_mismatch = 0;
  auto one = [&](float t) {  // plain comparisons in the loop (a REQUIRE per point would dominate the time)
    const float got = sq::math::exp(t);
    const double recipe = sqo::oracle_exp(static_cast<double>(t));
    const bool same = std::isnan(recipe) ? std::isnan(got) : float_bits(got) == float_bits(static_cast<float>(recipe));
    if (!same && mismatches++ == 0) first_mismatch = float_bits(t);
    const double exact = std::exp(static_cast<double>(t));
    if (std::isfinite(exact) && exact <= std::numeric_limits<float>::max() && exact >= 0x1p-149) {
      const double e = ulp_error(got, exact);
      if (e > worst) worst = e, worst_at = t;
    }
    ++checked;
  };
  for (uint32_t b = 0; b <= 0x42b20000u; b += 61) one(bits_float(b));          // +0 .. 89
  for (uint32_t b = 0x80000000u; b <= 0xc2d00000u; b += 61) one(bits_float(b));  // -0 .. -104
  for (uint32_t b : {0x42b17218u, 0x42b17219u, 0x42b17217u, 0xc2cff1b5u, 0xc2cff1b6u, 0xc2cff1b4u, 0x7f800000u,
                     0xff800000u, 0x7fc00000u, 0x00000001u, 0x80000001u, 0x42b00000u, 0xc2ae0000u})
    one(bits_float(b));
  INFO("first t whose bits differ from the recipe: bits 0x" << std::hex << first_mismatch);
  REQUIRE(mismatches == 0);
  INFO("worst error " << worst << " ulp at t = " << worst_at << ", " << checked << " points");
  CHECK(checked > 30000000);
  CHECK(worst <= 2.0);
  WARN("sq_exp: worst error " << worst << " ulp at t = " << worst_at << " over " << checked << " points");
  // The contract's special values.
  CHECK(sq::math::exp(std::numeric_limits<float>::infinity()) == std::numeric_limits<float>::infinity());
  CHECK(float_bits(sq::math::exp(-std::numeric_limits<float>::infinity())) == 0u);
  CHECK(float_bits(sq::math::exp(bits_float(0xc2cff1b6u))) == 0u);  // just below the underflow bound: +0
  CHECK(sq::math::exp(bits_float(0x42b17219u)) == std::numeric_limits<float>::infinity());
  CHECK(sq::math::exp(0.0f) == 1.0f);
}

TEST_CASE("silu and the RMSNorm reciprocal are the header's operations", "[host_kernels][sq_math]") {
  std::uniform_real_distribution<float> u(-120.0f, 120.0f);
  for (int i = 0; i < 200000; ++i) {
    const float g = u(sqt::rng());
    REQUIRE(float_bits(sq::math::silu(g)) == float_bits(static_cast<float>(sqo::oracle_silu(g))));
  }
  std::uniform_real_distribution<float> ssd(0.0f, 1e6f);
  for (int i = 0; i < 100000; ++i) {
    const float ss = ssd(sqt::rng()), eps = 1e-6f;
    const int64_t k = 1 + i % 30000;
    const double want = sqo::kF32.div(
        1.0, sqo::kF32.sqrt(sqo::kF32.add(sqo::kF32.div(ss, sqo::kF32.r(static_cast<double>(k))), eps)));
    REQUIRE(float_bits(sq::math::rms_reciprocal(ss, k, eps)) == float_bits(static_cast<float>(want)));
  }
}

TEST_CASE("host_row_sums and host_scale_accumulators: row r alone equals row r inside M = 1000",
          "[host_kernels][batch]") {
  const int64_t m = 1000, n = 96, k = 777;
  const auto a = random_bytes(static_cast<size_t>(m * k));
  std::vector<int32_t> all(static_cast<size_t>(m));
  kern::RowSumsParams p{};
  p.m = static_cast<int32_t>(m);
  p.k = static_cast<int32_t>(k);
  p.a = reinterpret_cast<const int8_t*>(a.data());
  p.ld_a = k;
  p.a_type = kern::Dtype::U8;
  p.sums = all.data();
  sq::host_row_sums(p, 3);
  std::uniform_int_distribution<int32_t> d(-(1 << 30), 1 << 30);
  std::vector<int32_t> acc(static_cast<size_t>(m * n));
  for (auto& v : acc) v = d(sqt::rng());
  Buf rs = sqt::random_scales(SQ_DTYPE_BF16, static_cast<size_t>(m), 1e-6, 1e-3);
  Buf ws = sqt::random_scales(SQ_DTYPE_BF16, static_cast<size_t>(n));
  Buf bias = sqt::random_values(SQ_DTYPE_BF16, static_cast<size_t>(n), -1, 1);
  const Buf whole = run_scale_accumulators(SQ_DTYPE_BF16, m, n, acc, n, rs, false, ws, &bias, n, 3);
  for (int64_t r : {int64_t{0}, int64_t{1}, int64_t{640}, int64_t{999}}) {
    int32_t one = 0;
    p.m = 1;
    p.a = reinterpret_cast<const int8_t*>(a.data() + r * k);
    p.sums = &one;
    sq::host_row_sums(p, 1);
    REQUIRE(one == all[r]);
    const std::vector<int32_t> row(acc.begin() + r * n, acc.begin() + (r + 1) * n);
    Buf rs1(SQ_DTYPE_BF16, 1);
    std::memcpy(rs1.data(), rs.at(r), 2);
    const Buf alone = run_scale_accumulators(SQ_DTYPE_BF16, 1, n, row, n, rs1, false, ws, &bias, n, 1);
    REQUIRE(std::memcmp(alone.data(), whole.at(r * n), static_cast<size_t>(n) * 2) == 0);
  }
}
