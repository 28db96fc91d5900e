// host_quantize (src/host/host_quantize.cpp), called directly, against the oracle of host_oracle.hpp
// (the header's formulas, written independently): every quant mode on every x dtype, q dtype and scale
// dtype, the three producers (plain, RMSNorm, SiLU-mul), ties, NaN/Inf/zero rows, subnormals, scales
// that underflow or overflow S, batch invariance, in-place residuals, and the ABSMAX -> max ->
// FROM_ABSMAX == DYNAMIC identity on K slices.
#include <catch2/catch.hpp>

#include <limits>

#include "host_kernel_run.hpp"

using namespace sqk;
using sqo::Mode;
using sqo::Producer;
using sqo::QuantIn;

namespace {

const double kInf = std::numeric_limits<double>::infinity();
const double kNan = std::numeric_limits<double>::quiet_NaN();
const sq_dtype kFloats[] = {SQ_DTYPE_F32, SQ_DTYPE_F64, SQ_DTYPE_F16, SQ_DTYPE_BF16};
const sq_dtype kFusedX[] = {SQ_DTYPE_F32, SQ_DTYPE_F16, SQ_DTYPE_BF16};

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::kStatic: return "static";
    case Mode::kDynamic: return "dynamic";
    case Mode::kDynamicAsym: return "asymmetric";
    case Mode::kAbsmax: return "absmax";
    case Mode::kFromAbsmax: return "from_absmax";
  }
  return "?";
}
const char* producer_name(Producer p) {
  return p == Producer::kPlain ? "plain" : p == Producer::kRmsNorm ? "rmsnorm" : "silu_mul";
}
const char* qname(sq_dtype q) { return q == SQ_DTYPE_U8 ? "u8" : "s8"; }

// q types a mode takes: S8 and U8 for STATIC and ASYMMETRIC, S8 for the symmetric ones.
std::vector<sq_dtype> q_types(Mode m) {
  if (m == Mode::kStatic || m == Mode::kDynamicAsym) return {SQ_DTYPE_S8, SQ_DTYPE_U8};
  return {SQ_DTYPE_S8};
}
const Mode kModes[] = {Mode::kStatic, Mode::kDynamic, Mode::kDynamicAsym, Mode::kAbsmax, Mode::kFromAbsmax};

// Compares everything the kernel wrote with the oracle, bit for bit, and the poison around it.
void compare(const QuantIn& in, const QuantRan& got, const QuantRunOpts& o) {
  const sqo::QuantOut want = sqo::oracle_quantize(in);
  const int64_t m = in.m, k = in.k;
  const bool writes_q = in.mode != Mode::kAbsmax;
  for (int64_t r = 0; r < m; ++r) {
    INFO("row " << r);
    for (int64_t i = 0; i < got.ldq; ++i) {
      const uint8_t byte = got.q[static_cast<size_t>(r * got.ldq + i)];
      if (i < k && writes_q) {
        INFO("q column " << i << " v = " << want.v[r][i]);
        REQUIRE(sqo::value_of(in.q_dtype, byte) == want.q[static_cast<size_t>(r * k + i)]);
      } else {
        REQUIRE(byte == kPoisonByte);
      }
    }
    const bool scaled = in.mode == Mode::kDynamic || in.mode == Mode::kDynamicAsym || in.mode == Mode::kFromAbsmax;
    if (scaled) REQUIRE(sqo::bits_at(got.scale, r) == sqo::bits_at(want.scale, r));
    if (in.mode == Mode::kDynamicAsym) {
      REQUIRE(sqo::value_of(in.q_dtype, got.zp[r]) == want.za[r]);
    } else {
      REQUIRE(got.zp[r] == kPoisonByte);
    }
    if (in.mode == Mode::kAbsmax) {
      REQUIRE(sqo::bits_at(got.absmax, r) == sqo::bits_at(want.absmax, r));
    }
    REQUIRE(got.sums[r] == (writes_q && o.sums ? want.sums[r] : kPoisonSum));
  }
  // Nothing past row m.
  for (int64_t i = 0; i < got.ldq; ++i) REQUIRE(got.q[static_cast<size_t>(m * got.ldq + i)] == kPoisonByte);
  Buf poison(in.s_dtype, 1);
  poison.poison();
  REQUIRE(sqo::bits_at(got.scale, m) == sqo::bits_at(poison, 0));
  if (in.mode != Mode::kFromAbsmax) {
    Buf cpoison(got.absmax.dtype, 1);
    cpoison.poison();
    for (int64_t r = 0; r <= m; ++r)
      if (in.mode != Mode::kAbsmax || r == m) REQUIRE(sqo::bits_at(got.absmax, r) == sqo::bits_at(cpoison, 0));
  }
  if (o.res_out != ResOut::kNone) REQUIRE(sqt::first_bit_difference(got.residual_out, want.residual_out) == -1);
}

// Random x with a few outlier channels (never all zero).
Buf random_x(sq_dtype d, int64_t rows, int64_t ld, double range) {
  Buf b = sqt::random_values(d, static_cast<size_t>(rows * ld), -range, range);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 3; c < ld; c += 11)
      b.set(static_cast<size_t>(r * ld + c), b.get(static_cast<size_t>(r * ld + c)) * 25.0);
  return b;
}

// FROM_ABSMAX inputs: the true maxima of the oracle (most rows) and hostile values.
Buf absmax_for(const QuantIn& base) {
  QuantIn a = base;
  a.mode = Mode::kAbsmax;
  Buf out = sqo::oracle_quantize(a).absmax;
  const double hostile[] = {kNan, -kNan, kInf, 0.0, -0.0, -1.0, 1e-45, 0.5};
  for (int64_t r = 0; r < base.m; r += 3) out.set(static_cast<size_t>(r), hostile[(r / 3) % 8]);
  if (base.m > 0 && out.dtype == SQ_DTYPE_F32) {  // a NaN with a payload and the sign bit
    const uint32_t odd_nan = 0xffc12345u;
    std::memcpy(out.at(0), &odd_nan, 4);
  }
  return out;
}

struct Inputs {
  Buf x, residual, norm_weight, smooth, absmax;
};

QuantIn make_in(Producer prod, Mode mode, sq_dtype xd, sq_dtype sd, sq_dtype qd, bool smooth, int64_t m, int64_t k,
                int64_t pad, Inputs& bufs, bool residual = false) {
  QuantIn in;
  in.producer = prod;
  in.mode = mode;
  in.m = m;
  in.k = k;
  const int64_t cols = prod == Producer::kSiluMul ? 2 * k : k;
  in.ldx = cols + pad;
  bufs.x = random_x(xd, m, in.ldx, prod == Producer::kSiluMul ? 6.0 : 2.0);
  in.x = &bufs.x;
  if (prod == Producer::kRmsNorm) {
    bufs.norm_weight = sqt::random_values(xd, static_cast<size_t>(k), 0.2, 2.0);
    in.norm_weight = &bufs.norm_weight;
    in.eps = static_cast<double>(1e-6f);
    if (residual) {
      in.ldr = k + 2 * pad;
      bufs.residual = random_x(xd, m, in.ldr, 1.0);
      in.residual = &bufs.residual;
    }
  }
  if (smooth) {
    bufs.smooth = sqt::random_scales(sd, static_cast<size_t>(k), 0.05, 20.0);
    in.smooth = &bufs.smooth;
  }
  in.q_dtype = qd;
  in.s_dtype = sd;
  const bool f64 = xd == SQ_DTYPE_F64;
  in.act_scale = f64 ? 0.0371 : static_cast<double>(0.0371f);
  in.za = mode == Mode::kStatic ? (qd == SQ_DTYPE_U8 ? 131 : -5) : 0;
  if (mode == Mode::kFromAbsmax) {
    bufs.absmax = absmax_for(in);
    in.absmax_in = &bufs.absmax;
  }
  return in;
}

void check(const QuantIn& in, const QuantRunOpts& o = {}) {
  CAPTURE(producer_name(in.producer), mode_name(in.mode), sqt::dtype_str(in.x->dtype), sqt::dtype_str(in.s_dtype),
          qname(in.q_dtype), in.smooth != nullptr, in.residual != nullptr, in.m, in.k, o.threads, o.pad_q,
          static_cast<int>(o.res_out), o.sums);
  compare(in, run_quantize(in, o), o);
}

// Rows given as doubles (rounded to xd), plain producer, k = row length.
struct Rows {
  Buf x;
  Buf absmax;
  QuantIn in;
};
void fill_rows(Rows& r, sq_dtype xd, const std::vector<std::vector<double>>& rows) {
  const int64_t m = static_cast<int64_t>(rows.size()), k = static_cast<int64_t>(rows[0].size());
  r.x = Buf(xd, static_cast<size_t>(m * k));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < k; ++j) r.x.set(static_cast<size_t>(i * k + j), rows[i][j]);
  r.in = QuantIn{};
  r.in.m = m;
  r.in.k = k;
  r.in.x = &r.x;
  r.in.ldx = k;
}
std::vector<int> q_row(const QuantRan& r, const QuantIn& in, int64_t row) {
  std::vector<int> v;
  for (int64_t i = 0; i < in.k; ++i) v.push_back(sqo::value_of(in.q_dtype, r.q[static_cast<size_t>(row * r.ldq + i)]));
  return v;
}

}  // namespace

TEST_CASE("host_quantize: plain x, every mode, x dtype, scale dtype and q dtype against the oracle",
          "[host_kernels][quantize]") {
  for (Mode mode : kModes)
    for (sq_dtype q : q_types(mode))
      for (sq_dtype x : kFloats)
        for (sq_dtype s : kFloats)
          for (bool smooth : {false, true}) {
            Inputs b;
            const QuantIn in = make_in(Producer::kPlain, mode, x, s, q, smooth, 7, 45, smooth ? 3 : 0, b);
            check(in, {1, smooth ? 2 : 0, ResOut::kNone, !smooth});
          }
}

TEST_CASE("host_quantize: RMSNorm, every mode and dtype, residual on and off, in place", "[host_kernels][rmsnorm]") {
  for (Mode mode : kModes)
    for (sq_dtype q : q_types(mode))
      for (sq_dtype x : kFusedX)
        for (sq_dtype s : {SQ_DTYPE_F32, SQ_DTYPE_BF16, SQ_DTYPE_F64})
          for (int variant = 0; variant < 4; ++variant) {
            const bool residual = variant >= 1, smooth = variant == 3;
            const ResOut ro = variant == 0 ? ResOut::kNone
                              : variant == 1 ? ResOut::kSeparate
                              : variant == 2 ? ResOut::kIntoResidual
                                             : ResOut::kIntoX;
            Inputs b;
            const QuantIn in = make_in(Producer::kRmsNorm, mode, x, s, q, smooth, 5, 2051, variant, b, residual);
            check(in, {1, 0, ro, true});
          }
}

TEST_CASE("host_quantize: RMSNorm sum of squares in the fixed order at every K shape", "[host_kernels][rmsnorm]") {
  for (int64_t k : {int64_t{1}, int64_t{2}, int64_t{7}, int64_t{2047}, int64_t{2048}, int64_t{2049}, int64_t{4095},
                    int64_t{4097}, int64_t{6144}, int64_t{28672}}) {
    for (sq_dtype x : kFusedX) {
      Inputs b;
      QuantIn in = make_in(Producer::kRmsNorm, Mode::kDynamic, x, SQ_DTYPE_F32, SQ_DTYPE_S8, false, 3, k, 0, b, true);
      check(in, {2, 0, ResOut::kSeparate, true});
      // The fixed order is an RMSNorm: v against a float64 RMSNorm of the same h, within a few f32 ulp.
      const sqo::QuantOut want = sqo::oracle_quantize(in);
      for (int64_t r = 0; r < in.m; ++r) {
        double ss = 0.0;
        std::vector<double> h(static_cast<size_t>(k));
        for (int64_t i = 0; i < k; ++i) {
          h[i] = static_cast<double>(static_cast<float>(in.x->get(r * in.ldx + i) + in.residual->get(r * in.ldr + i)));
          ss += h[i] * h[i];
        }
        const double r64 = 1.0 / std::sqrt(ss / static_cast<double>(k) + in.eps);
        for (int64_t i = 0; i < k; ++i) {
          const double v64 = h[i] * r64 * in.norm_weight->get(i);
          REQUIRE(std::fabs(want.v[r][i] - v64) <= 1e-5 * std::fabs(v64) + 1e-30);
        }
      }
    }
  }
}

TEST_CASE("host_quantize: SiLU-mul, every mode and dtype", "[host_kernels][silu]") {
  for (Mode mode : kModes)
    for (sq_dtype q : q_types(mode))
      for (sq_dtype x : kFusedX)
        for (sq_dtype s : {SQ_DTYPE_F32, SQ_DTYPE_F16, SQ_DTYPE_F64})
          for (bool smooth : {false, true}) {
            Inputs b;
            const QuantIn in = make_in(Producer::kSiluMul, mode, x, s, q, smooth, 6, 333, smooth ? 5 : 0, b);
            check(in, {1, 1, ResOut::kNone, true});
          }
}

TEST_CASE("host_quantize: SiLU at large |g|, infinities and NaN", "[host_kernels][silu]") {
  // gate values, then up = 1 (f32): v = silu(g) exactly as the header writes it.
  const std::vector<double> gates = {0.0, -0.0, 1.0, -1.0, 20.0, -20.0, 88.0, -88.0, 88.8, -88.8, 90.0, -90.0,
                                     103.0, -103.0, 104.0, -104.0, 1e30, -1e30, kInf, -kInf, kNan, 1e-40, -1e-40, 0.5};
  std::vector<double> row(gates);
  row.insert(row.end(), gates.size(), 1.0);
  Rows r;
  fill_rows(r, SQ_DTYPE_F32, {row});
  r.in.producer = Producer::kSiluMul;
  r.in.k = static_cast<int64_t>(gates.size());
  r.in.mode = Mode::kAbsmax;  // v itself is checked through the oracle, and the row's absmax (NaN here)
  check(r.in);
  const sqo::QuantOut o = sqo::oracle_quantize(r.in);
  const auto& v = o.v[0];
  // The header's formula, read off: +Inf gate -> +Inf; -Inf gate -> -Inf / (1 + Inf) = NaN; a large
  // negative gate -> -0 (g / +Inf); NaN -> NaN.
  CHECK(v[18] == kInf);
  CHECK(std::isnan(v[19]));
  CHECK(std::isnan(v[20]));
  CHECK(v[17] == 0.0);
  CHECK(std::signbit(v[17]));
  CHECK(v[16] == 1e30f);
  CHECK(v[4] == static_cast<double>(static_cast<float>(20.0 / (1.0 + std::exp(-20.0)))));
  // Without the NaN producers the row quantizes dynamically against the same oracle.
  std::vector<double> finite_row;
  for (double g : gates)
    if (!std::isnan(g) && g != -kInf) finite_row.push_back(g);
  const size_t n = finite_row.size();
  finite_row.insert(finite_row.end(), n, 0.75);
  Rows f;
  fill_rows(f, SQ_DTYPE_F32, {finite_row});
  f.in.producer = Producer::kSiluMul;
  f.in.k = static_cast<int64_t>(n);
  f.in.mode = Mode::kDynamicAsym;
  f.in.q_dtype = SQ_DTYPE_U8;
  check(f.in);  // holds +Inf (from the +Inf gate): scale +Inf, za 0, q 0
}

TEST_CASE("host_quantize: ABSMAX of one-element rows shows v = silu(g) * u bit for bit", "[host_kernels][silu]") {
  // |v| of each row is its absmax (f32, exact): every row one gate in [-110, 110] and one up value.
  for (sq_dtype x : kFusedX) {
    CAPTURE(sqt::dtype_str(x));
    const int64_t m = 20000;
    Buf xs(x, static_cast<size_t>(2 * m));
    std::uniform_real_distribution<double> g(-110.0, 110.0), u(-3.0, 3.0);
    for (int64_t r = 0; r < m; ++r) {
      xs.set(static_cast<size_t>(2 * r), r % 4 == 0 ? g(sqt::rng()) / 16 : g(sqt::rng()));
      xs.set(static_cast<size_t>(2 * r + 1), r % 2 ? 1.0 : u(sqt::rng()));
    }
    QuantIn in;
    in.producer = Producer::kSiluMul;
    in.mode = Mode::kAbsmax;
    in.m = m;
    in.k = 1;
    in.x = &xs;
    in.ldx = 2;
    check(in, {2, 0, ResOut::kNone, true});
  }
}

TEST_CASE("host_quantize: static ties, saturation, zero points, NaN and infinities", "[host_kernels][quantize]") {
  // act_scale 0.25: v / scale = 4 v exactly.
  const std::vector<double> row = {0.625, 0.875, -0.625, 0.125, -0.125, 31.875, -32.125, -31.875, 1e6, -1e6,
                                   kNan,  kInf,  -kInf,  0.0,   -0.0,   0.375,  63.625,  -63.625};
  for (sq_dtype x : kFloats) {
    for (sq_dtype q : {SQ_DTYPE_S8, SQ_DTYPE_U8}) {
      for (int za : q == SQ_DTYPE_U8 ? std::vector<int>{0, 128, 255} : std::vector<int>{-128, 0, 3, 127}) {
        CAPTURE(sqt::dtype_str(x), qname(q), za);
        Rows r;
        fill_rows(r, x, {row});
        r.in.mode = Mode::kStatic;
        r.in.act_scale = 0.25;
        r.in.za = za;
        r.in.q_dtype = q;
        check(r.in);
        const QuantRan got = run_quantize(r.in);
        const int lo = sqo::qmin_of(q), hi = sqo::qmax_of(q);
        auto s = [&](int v) { return std::min(hi, std::max(lo, v + za)); };
        // 2.5 -> 2, 3.5 -> 4, -2.5 -> -2, 0.5 -> 0, -0.5 -> 0, 127.5 -> 128, -128.5 -> -128, -127.5 -> -128,
        // NaN -> za, +Inf -> qmax, -Inf -> qmin, 1.5 -> 2, 254.5 -> 254, -254.5 -> -254.
        const std::vector<int> want = {s(2),   s(4),  s(-2), s(0),  s(0), s(128), s(-128), s(-128), hi,
                                       lo,     za,    hi,    lo,    s(0), s(0),   s(2),    s(254),  s(-254)};
        CHECK(q_row(got, r.in, 0) == want);
      }
    }
  }
}

TEST_CASE("host_quantize: dynamic and asymmetric zero, NaN and Inf rows, ties, subnormals, tiny and huge scales",
          "[host_kernels][quantize]") {
  const double sub32 = 1e-40;  // an f32 subnormal
  const std::vector<std::vector<double>> rows = {
      {127, 2.5, 3.5, -0.5, 0.5, 1.5, -1.5, -127},  // amax 127: scale 1, ties to even
      {0, -0.0, 0, 0, 0, 0, 0, 0},                  // zeros (and -0)
      {-0.0, -0.0, -0.0, -0.0, -0.0, -0.0, -0.0, -0.0},
      {1, 2, kNan, 3, 4, 5, 6, 7},
      {1, kInf, 3, 4, 5, 6, 7, 8},
      {-kInf, 2, 3, 4, 5, 6, 7, 8},
      {kInf, kNan, -kInf, 4, 5, 6, 7, 8},
      {0, 255, 2.5, 3.5, 254.5, 127.5, 128.5, 1},  // asymmetric u8: scale 1, za 0 (s8: za -128)
      {-255, 0, -2.5, -3.5, -254.5, -127.5, -128.5, -1},
      {sub32, -sub32, 3 * sub32, 0, 0, 0, 0, sub32},  // subnormal x (f32 and f64)
      {1e-9, -2e-9, 3e-10, 0, 0, 0, 0, 0},            // the f16 scale underflows to 0
      {1e7, 1.0, -1e7, 0, 0, 0, 0, 0},                // the f16 scale overflows to +Inf
      {3e38, -3e38, 1, 0, 0, 0, 0, 0},                // f32: hi - lo overflows C
      {6e4, -6e4, 1, 2, 3, 4, 5, 6},                  // f16 x at its range
  };
  for (Mode mode : {Mode::kDynamic, Mode::kDynamicAsym, Mode::kAbsmax})
    for (sq_dtype q : q_types(mode))
      for (sq_dtype x : kFloats)
        for (sq_dtype s : kFloats) {
          CAPTURE(mode_name(mode), qname(q), sqt::dtype_str(x), sqt::dtype_str(s));
          Rows r;
          fill_rows(r, x, rows);
          r.in.mode = mode;
          r.in.q_dtype = q;
          r.in.s_dtype = s;
          check(r.in);
          check(r.in, {3, 1, ResOut::kNone, true});
          const QuantRan got = run_quantize(r.in);
          if (mode == Mode::kDynamic) {
            CHECK(q_row(got, r.in, 0) == std::vector<int>{127, 2, 4, 0, 0, 2, -2, -127});
            CHECK(r.x.get(0) == 127.0);
            CHECK(got.scale.get(0) == 1.0);
          }
          if (mode == Mode::kDynamicAsym && q == SQ_DTYPE_U8) {
            CHECK(q_row(got, r.in, 7) == std::vector<int>{0, 255, 2, 4, 254, 128, 128, 1});
            CHECK(int(got.zp[7]) == 0);
            CHECK(q_row(got, r.in, 8) == std::vector<int>{0, 255, 253, 251, 1, 127, 127, 254});  // za = 255
            CHECK(int(got.zp[8]) == 255);
          }
          if (mode == Mode::kAbsmax) {
            const uint64_t cnan = sqo::canonical_nan_bits(x == SQ_DTYPE_F64 ? SQ_DTYPE_F64 : SQ_DTYPE_F32);
            CHECK(sqo::bits_at(got.absmax, 1) == 0u);  // +0, never -0
            CHECK(sqo::bits_at(got.absmax, 2) == 0u);
            CHECK(sqo::bits_at(got.absmax, 3) == cnan);
            CHECK(sqo::bits_at(got.absmax, 6) == cnan);
            CHECK(got.absmax.get(4) == kInf);
            continue;
          }
          // Zero rows: scale +0 (never -0), za 0, q 0; NaN rows: the canonical NaN of S; Inf rows: +Inf.
          for (int row : {1, 2}) {
            CHECK(sqo::bits_at(got.scale, row) == 0u);
            CHECK(q_row(got, r.in, row) == std::vector<int>(8, 0));
          }
          CHECK(sqo::bits_at(got.scale, 3) == sqo::canonical_nan_bits(s));
          CHECK(sqo::bits_at(got.scale, 6) == sqo::canonical_nan_bits(s));
          CHECK(got.scale.get(4) == kInf);
          CHECK(got.scale.get(5) == kInf);
          for (int row : {3, 4, 5, 6}) {
            CHECK(q_row(got, r.in, row) == std::vector<int>(8, 0));
            if (mode == Mode::kDynamicAsym) CHECK(int(got.zp[row]) == 0);
          }
          if (x == SQ_DTYPE_F32 && s == SQ_DTYPE_F16) {
            CHECK(sqo::bits_at(got.scale, 10) == 0u);  // underflow: q 0
            CHECK(q_row(got, r.in, 10) == std::vector<int>(8, 0));
            CHECK(got.scale.get(11) == kInf);  // overflow: q 0
            CHECK(q_row(got, r.in, 11) == std::vector<int>(8, 0));
          }
        }
}

TEST_CASE("host_quantize: FROM_ABSMAX uses the given maximum as it is", "[host_kernels][quantize]") {
  for (sq_dtype x : kFloats)
    for (sq_dtype s : kFloats) {
      Inputs b;
      const QuantIn in = make_in(Producer::kPlain, Mode::kFromAbsmax, x, s, SQ_DTYPE_S8, false, 24, 19, 0, b);
      check(in);
      const QuantRan got = run_quantize(in);
      // Row 0: a NaN (any sign, any payload) -> the canonical NaN; rows 3k: the hostile list.
      CHECK(sqo::bits_at(got.scale, 0) == sqo::canonical_nan_bits(s));
      CHECK(sqo::bits_at(got.scale, 3) == sqo::canonical_nan_bits(s));  // -NaN
      CHECK(got.scale.get(6) == kInf);
      CHECK(sqo::bits_at(got.scale, 9) == 0u);  // +0 / 127
      Buf minus_zero(s, 1);
      minus_zero.set(0, -0.0);
      CHECK(sqo::bits_at(got.scale, 12) == sqo::bits_at(minus_zero, 0));  // -0 / 127 = -0, q 0
      CHECK(got.scale.get(15) < 0);  // negative: computed, q 0
      for (int row : {0, 3, 6, 9, 12, 15}) CHECK(q_row(got, in, row) == std::vector<int>(19, 0));
    }
  // A NaN element in a row whose given maximum is finite and > 0: q = 0 (sat_Q(rne(NaN)) is za = 0).
  Rows r;
  fill_rows(r, SQ_DTYPE_F32, {{1.0, kNan, -2.0, kInf, -kInf}});
  r.absmax = Buf(SQ_DTYPE_F32, 1);
  r.absmax.set(0, 127.0);
  r.in.mode = Mode::kFromAbsmax;
  r.in.absmax_in = &r.absmax;
  check(r.in);
  CHECK(q_row(run_quantize(r.in), r.in, 0) == std::vector<int>{1, 0, -2, 127, -128});
}

TEST_CASE("host_quantize: ABSMAX on K slices, max, FROM_ABSMAX on each slice == DYNAMIC on the row",
          "[host_kernels][quantize][tp]") {
  const int64_t m = 9, k = 301;
  for (Producer prod : {Producer::kPlain, Producer::kSiluMul})
    for (sq_dtype x : kFloats) {
      if (prod == Producer::kSiluMul && x == SQ_DTYPE_F64) continue;
      for (sq_dtype s : kFloats)
        for (int slices : {1, 2, 3, 4}) {
          CAPTURE(producer_name(prod), sqt::dtype_str(x), sqt::dtype_str(s), slices);
          Inputs b;
          QuantIn whole = make_in(prod, Mode::kDynamic, x, s, SQ_DTYPE_S8, true, m, k, 0, b);
          // Special rows: zeros, a NaN, an Inf, a NaN and an Inf in different slices.
          const int64_t cols = prod == Producer::kSiluMul ? 2 * k : k;
          for (int64_t c = 0; c < cols; ++c) b.x.set(static_cast<size_t>(1 * whole.ldx + c), 0.0);
          b.x.set(static_cast<size_t>(2 * whole.ldx + 250), kNan);
          b.x.set(static_cast<size_t>(3 * whole.ldx + 7), prod == Producer::kPlain ? kInf : 1.0);
          b.x.set(static_cast<size_t>(3 * whole.ldx + k + 7), kInf);
          b.x.set(static_cast<size_t>(4 * whole.ldx + 3), kNan);
          b.x.set(static_cast<size_t>(4 * whole.ldx + 290), -kInf);
          const QuantRan dyn = run_quantize(whole);
          // Slice boundaries (uneven).
          std::vector<int64_t> cut = {0};
          for (int i = 1; i < slices; ++i) cut.push_back(k * i / slices + (i % 2 ? 5 : -3));
          cut.push_back(k);
          const bool f64 = x == SQ_DTYPE_F64;
          const size_t cs = f64 ? 8 : 4;
          std::vector<uint64_t> amax(m, 0);
          std::vector<QuantIn> parts;
          std::vector<Buf> smooths, xs;
          xs.reserve(slices);
          smooths.reserve(slices);
          for (int i = 0; i < slices; ++i) {
            const int64_t c0 = cut[i], c1 = cut[i + 1];
            // The slice's x: gate columns [c0, c1) (and up [k + c0, k + c1)), its smooth [c0, c1).
            const int64_t w = c1 - c0, slice_cols = prod == Producer::kSiluMul ? 2 * w : w;
            xs.emplace_back(x, static_cast<size_t>(m * slice_cols));
            smooths.emplace_back(s, static_cast<size_t>(w));
            for (int64_t r = 0; r < m; ++r)
              for (int64_t c = 0; c < w; ++c) {
                std::memcpy(xs.back().at(r * slice_cols + c), b.x.at(r * whole.ldx + c0 + c), sqt::dtype_size(x));
                if (prod == Producer::kSiluMul)
                  std::memcpy(xs.back().at(r * slice_cols + w + c), b.x.at(r * whole.ldx + k + c0 + c),
                              sqt::dtype_size(x));
              }
            for (int64_t c = 0; c < w; ++c)
              std::memcpy(smooths.back().at(c), b.smooth.at(c0 + c), sqt::dtype_size(s));
            QuantIn part = whole;
            part.k = w;
            part.x = &xs.back();
            part.ldx = slice_cols;
            part.smooth = &smooths.back();
            part.mode = Mode::kAbsmax;
            const QuantRan am = run_quantize(part);
            for (int64_t r = 0; r < m; ++r) {  // the unsigned integer max of the bit patterns
              uint64_t bits = 0;
              std::memcpy(&bits, am.absmax.at(r), cs);
              amax[r] = std::max(amax[r], bits);
            }
            parts.push_back(part);
          }
          Buf given(f64 ? SQ_DTYPE_F64 : SQ_DTYPE_F32, static_cast<size_t>(m));
          for (int64_t r = 0; r < m; ++r) std::memcpy(given.at(r), &amax[r], cs);
          for (int i = 0; i < slices; ++i) {
            QuantIn part = parts[i];
            part.mode = Mode::kFromAbsmax;
            part.absmax_in = &given;
            const QuantRan fa = run_quantize(part);
            for (int64_t r = 0; r < m; ++r) {
              REQUIRE(sqo::bits_at(fa.scale, r) == sqo::bits_at(dyn.scale, r));
              for (int64_t c = 0; c < part.k; ++c)
                REQUIRE(fa.q[r * fa.ldq + c] == dyn.q[r * dyn.ldq + cut[i] + c]);
            }
          }
        }
    }
}

TEST_CASE("host_quantize: row r alone equals row r inside M = 1000, every producer and mode",
          "[host_kernels][quantize][batch]") {
  const int64_t m = 1000, k = 2100;
  for (Producer prod : {Producer::kPlain, Producer::kRmsNorm, Producer::kSiluMul})
    for (Mode mode : kModes) {
      CAPTURE(producer_name(prod), mode_name(mode));
      const sq_dtype q = mode == Mode::kDynamicAsym ? SQ_DTYPE_U8 : SQ_DTYPE_S8;
      Inputs b;
      const QuantIn all = make_in(prod, mode, SQ_DTYPE_BF16, SQ_DTYPE_F32, q, true, m, k, 1, b, true);
      const QuantRunOpts o{4, 0, prod == Producer::kRmsNorm ? ResOut::kSeparate : ResOut::kNone, true};
      const QuantRan whole = run_quantize(all, o);
      for (int64_t r : {int64_t{0}, int64_t{3}, int64_t{500}, int64_t{999}}) {
        Buf x1(all.x->dtype, static_cast<size_t>(all.ldx)), res1, am1;
        std::memcpy(x1.data(), all.x->at(static_cast<size_t>(r * all.ldx)), x1.bytes.size());
        QuantIn one = all;
        one.m = 1;
        one.x = &x1;
        if (all.residual) {
          res1 = Buf(all.x->dtype, static_cast<size_t>(all.ldr));
          std::memcpy(res1.data(), all.residual->at(static_cast<size_t>(r * all.ldr)), res1.bytes.size());
          one.residual = &res1;
        }
        if (all.absmax_in) {
          am1 = Buf(all.absmax_in->dtype, 1);
          std::memcpy(am1.data(), all.absmax_in->at(static_cast<size_t>(r)), am1.bytes.size());
          one.absmax_in = &am1;
        }
        const QuantRan alone = run_quantize(one, {1, 0, o.res_out, true});
        REQUIRE(std::memcmp(alone.q.data(), whole.q.data() + r * whole.ldq, static_cast<size_t>(k)) == 0);
        REQUIRE(sqo::bits_at(alone.scale, 0) == sqo::bits_at(whole.scale, r));
        REQUIRE(alone.zp[0] == whole.zp[r]);
        REQUIRE(alone.sums[0] == whole.sums[r]);
        REQUIRE(sqo::bits_at(alone.absmax, 0) == sqo::bits_at(whole.absmax, r));
        if (o.res_out != ResOut::kNone)
          REQUIRE(std::memcmp(alone.residual_out.data(), whole.residual_out.at(static_cast<size_t>(r * k)),
                              static_cast<size_t>(k) * sqt::dtype_size(all.x->dtype)) == 0);
      }
    }
}

TEST_CASE("host_quantize: threads do not change the bits", "[host_kernels][quantize]") {
  for (unsigned threads : {2u, 5u, 0u}) {
    Inputs b1, b2, b3;
    check(make_in(Producer::kPlain, Mode::kDynamicAsym, SQ_DTYPE_F16, SQ_DTYPE_F16, SQ_DTYPE_U8, true, 37, 4099, 1, b1),
          {threads, 3, ResOut::kNone, true});
    check(make_in(Producer::kRmsNorm, Mode::kStatic, SQ_DTYPE_BF16, SQ_DTYPE_F32, SQ_DTYPE_S8, false, 29, 4097, 0, b2,
                  true),
          {threads, 0, ResOut::kIntoResidual, true});
    check(make_in(Producer::kSiluMul, Mode::kDynamic, SQ_DTYPE_F32, SQ_DTYPE_F64, SQ_DTYPE_S8, false, 33, 3000, 2, b3),
          {threads, 0, ResOut::kNone, false});
  }
}
