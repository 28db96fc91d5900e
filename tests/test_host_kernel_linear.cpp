// host_linear (src/host/host_linear.cpp), called directly, against the int64 oracle of the contract's
// formula acc = sum_k (a - za[m]) (w - zw[n]) and its epilogue: every operand pair S8/U8 x S8/U8, with
// and without zero points (per tensor, per token, weight), sums given or computed by the kernel, S32
// output, every T, every row-scale kind, at the extreme values and the K limits of the contract.
#include <catch2/catch.hpp>

#include <limits>

#include "host/host_testing.hpp"
#include "host_kernel_run.hpp"

using namespace sqk;
using sqo::Operands;

namespace {

const sq_dtype kOperandTypes[] = {SQ_DTYPE_S8, SQ_DTYPE_U8};

// Runs the body once per dot-product path of this CPU: the portable one, and AVX-512 VNNI where it exists.
template <typename F>
void for_each_dot_path(F&& body) {
  for (bool portable : {true, false}) {
    if (!portable && !sq::host::vnni_dot_products_available()) {
      WARN("this CPU has no AVX-512 VNNI: only the portable dot products were tested");
      continue;
    }
    sq::host::use_portable_dot_products_for_testing(portable);
    INFO("dot products: " << (portable ? "portable" : "AVX-512 VNNI"));
    body();
  }
  sq::host::use_portable_dot_products_for_testing(false);
}
const sq_dtype kOutTypes[] = {SQ_DTYPE_F32, SQ_DTYPE_F64, SQ_DTYPE_F16, SQ_DTYPE_BF16, SQ_DTYPE_S32};

const char* name(sq_dtype d) { return d == SQ_DTYPE_U8 ? "u8" : d == SQ_DTYPE_S32 ? "s32" : sqt::dtype_str(d); }

std::vector<uint8_t> random_bytes(size_t n) {
  std::uniform_int_distribution<int> d(0, 255);
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(d(sqt::rng()));
  return v;
}
int random_in(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(sqt::rng()); }
int random_zero_point(sq_dtype t) { return t == SQ_DTYPE_U8 ? random_in(0, 255) : random_in(-128, 127); }

// The expected output of the oracle: acc (checked to fit int32), then the contract's epilogue
// (test_util's oracle_epilogue: CUDA's own conversions) or the accumulators themselves for S32.
Buf expected(const LinearIn& in) {
  const auto acc64 = sqo::oracle_acc64(in.m, in.n, in.k, in.ops);
  REQUIRE(sqo::fits_int32(acc64));
  const auto acc = sqo::narrow(acc64);
  const sq_dtype storage = in.t == SQ_DTYPE_S32 ? SQ_DTYPE_F32 : in.t;
  Buf out(storage, static_cast<size_t>(in.m * in.ldo));
  out.poison();
  if (in.t == SQ_DTYPE_S32) {
    for (int64_t m = 0; m < in.m; ++m)
      std::memcpy(out.at(static_cast<size_t>(m * in.ldo)), acc.data() + m * in.n, static_cast<size_t>(in.n) * 4);
    return out;
  }
  Buf rows(in.t, static_cast<size_t>(in.m));
  for (int64_t m = 0; m < in.m; ++m) {
    if (in.row_scale_kind == 0) rows.set(static_cast<size_t>(m), in.static_scale);
    const int64_t src = in.row_scale_kind == 1 ? m : 0;
    if (in.row_scale_kind != 0)
      std::memcpy(rows.at(static_cast<size_t>(m)), in.row_scale->at(static_cast<size_t>(src)), sqt::dtype_size(in.t));
  }
  sqt::oracle_epilogue(in.m, in.n, acc, *in.weight_scale, in.bias, rows, out, in.ldo);
  return out;
}

struct Case {
  sq_dtype a, w, t;
  int64_t m, n, k, pad;
  bool zw, za, za_per_token, sums_given, bias;
  int row_scale_kind;
  unsigned threads;
};

void check_case(const Case& c) {
  CAPTURE(name(c.a), name(c.w), name(c.t), c.m, c.n, c.k, c.pad, c.zw, c.za, c.za_per_token, c.sums_given, c.bias,
          c.row_scale_kind, c.threads);
  const int64_t lda = c.k + c.pad, ldw = c.k + c.pad;
  const auto a = random_bytes(static_cast<size_t>(c.m * lda)), w = random_bytes(static_cast<size_t>(c.n * ldw));
  const sq_dtype t = c.t == SQ_DTYPE_S32 ? SQ_DTYPE_F32 : c.t;
  Buf ws = sqt::random_scales(t, static_cast<size_t>(c.n));
  Buf bias = sqt::random_values(t, static_cast<size_t>(c.n), -2.0, 2.0);
  Buf rs = sqt::random_scales(t, static_cast<size_t>(c.m), 1e-3, 0.1);
  LinearIn in;
  in.m = c.m;
  in.n = c.n;
  in.k = c.k;
  in.ops = Operands{c.a, c.w, a.data(), lda, w.data(), ldw, {}, {}};
  in.zero_points = c.zw || c.za;
  if (c.za) {
    const int per_tensor = random_zero_point(c.a);
    for (int64_t m = 0; m < c.m; ++m) in.ops.za.push_back(c.za_per_token ? random_zero_point(c.a) : per_tensor);
  }
  if (c.zw)
    for (int64_t n = 0; n < c.n; ++n) in.ops.zw.push_back(random_zero_point(c.w));
  in.za_per_token = c.za_per_token;
  in.give_act_sums = in.give_weight_sums = c.sums_given;
  in.t = c.t;
  in.row_scale_kind = c.t == SQ_DTYPE_S32 ? 0 : c.row_scale_kind;
  in.static_scale = 0.0123;
  in.row_scale = &rs;
  in.weight_scale = &ws;
  in.bias = c.bias && c.t != SQ_DTYPE_S32 ? &bias : nullptr;
  in.fill_scratch = c.t != SQ_DTYPE_S32 && c.row_scale_kind == 0;
  in.ldo = c.n + c.pad;
  const LinearRan got = run_linear(in, c.threads);
  const Buf want = expected(in);
  const int64_t diff = sqt::first_bit_difference(got.out, want);
  INFO("first difference at element " << diff);
  REQUIRE(diff == -1);  // padding included: poisoned in both
  // The scratch fill: (T)act_scale in rows [0, m) of static plans, nothing past m; nothing otherwise.
  for (int64_t m = 0; m <= c.m; ++m) {
    Buf cell(t, 1);
    if (in.fill_scratch && m < c.m)
      cell.set(0, in.static_scale);
    else
      cell.poison();
    REQUIRE(std::memcmp(got.scratch.at(static_cast<size_t>(m)), cell.data(), sqt::dtype_size(t)) == 0);
  }
}

// An S32 run of the given operands (no scales): the accumulators.
std::vector<int32_t> accumulators(const LinearIn& base, unsigned threads = 1) {
  LinearIn in = base;
  in.t = SQ_DTYPE_S32;
  in.row_scale_kind = 0;
  in.ldo = in.n;
  in.fill_scratch = false;
  const LinearRan r = run_linear(in, threads);
  std::vector<int32_t> acc(static_cast<size_t>(in.m * in.n));
  std::memcpy(acc.data(), r.out.data(), acc.size() * 4);
  return acc;
}

}  // namespace

TEST_CASE("host_linear: every operand pair, zero points, T and row scale against the int64 oracle",
          "[host_kernels][linear]") {
  for_each_dot_path([&] {
  const struct {
    int64_t m, n, k, pad;
  } shapes[] = {{1, 1, 1, 0}, {3, 5, 17, 0}, {7, 70, 33, 3}, {17, 131, 64, 1}};
  for (sq_dtype a : kOperandTypes)
    for (sq_dtype w : kOperandTypes)
      for (sq_dtype t : kOutTypes)
        for (const auto& s : shapes)
          for (int zp = 0; zp < 5; ++zp) {
            // 0: none; 1: zw only; 2: per-tensor za only; 3: per-token za and zw; 4: both, sums computed.
            const bool zw = zp == 1 || zp >= 3, za = zp >= 2, per_token = zp == 3, sums = zp != 4;
            check_case({a, w, t, s.m, s.n, s.k, s.pad, zw, za, per_token, sums, (zp & 1) != 0, zp % 3, 1});
          }
  });
}

TEST_CASE("host_linear: threads do not change the bits", "[host_kernels][linear]") {
  for_each_dot_path([&] {
  for (unsigned threads : {2u, 3u, 7u}) {
    check_case({SQ_DTYPE_U8, SQ_DTYPE_U8, SQ_DTYPE_BF16, 64, 300, 256, 5, true, true, true, true, true, 1, threads});
    check_case({SQ_DTYPE_S8, SQ_DTYPE_S8, SQ_DTYPE_F32, 130, 520, 96, 0, false, false, false, true, false, 0, threads});
    check_case({SQ_DTYPE_S8, SQ_DTYPE_U8, SQ_DTYPE_S32, 40, 700, 160, 2, true, true, false, false, false, 0, threads});
  }
  });
}

TEST_CASE("host_linear: extreme operands and zero points at the K limits stay exact", "[host_kernels][linear]") {
  for_each_dot_path([&] {
  // The contract's max_k: min(131071, floor((2^31 - 1) / (A * W))).
  struct Extreme {
    sq_dtype a, w;
    bool zp;
    int64_t k;
    std::vector<int> a_values, w_values, za_values, zw_values;
  };
  const int64_t kZp = 33025;    // 255 * 255 * 33025 < 2^31
  const int64_t kS8 = 131071;   // 128 * 128 * 131071 < 2^31
  const int64_t kMixed = 65793; // 255 * 128 * 65793 < 2^31
  CHECK(255LL * 255 * kZp < (1LL << 31));
  CHECK(255LL * 255 * (kZp + 1) >= (1LL << 31));
  CHECK(128LL * 255 * kMixed < (1LL << 31));
  const Extreme cases[] = {
      {SQ_DTYPE_U8, SQ_DTYPE_U8, true, kZp, {0, 255}, {0, 255}, {0, 255}, {0, 255}},
      {SQ_DTYPE_S8, SQ_DTYPE_S8, true, kZp, {-128, 127}, {-128, 127}, {-128, 127}, {-128, 127}},
      {SQ_DTYPE_U8, SQ_DTYPE_S8, true, kZp, {0, 255}, {-128, 127}, {0, 255}, {-128, 127}},
      {SQ_DTYPE_S8, SQ_DTYPE_U8, true, kZp, {-128, 127}, {0, 255}, {127, -128}, {255, 0}},
      {SQ_DTYPE_S8, SQ_DTYPE_S8, false, kS8, {-128, 127}, {-128, 127}, {}, {}},
      {SQ_DTYPE_U8, SQ_DTYPE_S8, false, kMixed, {0, 255}, {-128, 127}, {}, {}},
      {SQ_DTYPE_S8, SQ_DTYPE_U8, false, kMixed, {-128, 127}, {0, 255}, {}, {}},
      {SQ_DTYPE_U8, SQ_DTYPE_U8, false, kZp, {0, 255}, {0, 255}, {}, {}},
  };
  for (const Extreme& e : cases) {
    CAPTURE(name(e.a), name(e.w), e.zp, e.k);
    // Rows of act: every value of a_values (constant rows) and an all-zero row; the same for weight.
    // With zero points: every za of za_values on the act rows, every zw of zw_values on the weight rows.
    std::vector<int> a_rows = e.a_values, w_rows = e.w_values;
    a_rows.push_back(0);
    w_rows.push_back(0);
    const int na = static_cast<int>(a_rows.size()), nw = static_cast<int>(w_rows.size());
    const int zas = e.zp ? static_cast<int>(e.za_values.size()) : 1, zws = e.zp ? static_cast<int>(e.zw_values.size()) : 1;
    const int64_t M = na * zas, N = nw * zws, K = e.k;
    std::vector<uint8_t> a(static_cast<size_t>(M * K)), w(static_cast<size_t>(N * K));
    Operands ops{e.a, e.w, a.data(), K, w.data(), K, {}, {}};
    for (int i = 0; i < na; ++i)
      for (int z = 0; z < zas; ++z) {
        const int64_t row = i * zas + z;
        std::fill(a.begin() + row * K, a.begin() + (row + 1) * K, static_cast<uint8_t>(a_rows[i]));
        if (e.zp) ops.za.push_back(e.za_values[z]);
      }
    for (int i = 0; i < nw; ++i)
      for (int z = 0; z < zws; ++z) {
        const int64_t row = i * zws + z;
        std::fill(w.begin() + row * K, w.begin() + (row + 1) * K, static_cast<uint8_t>(w_rows[i]));
        if (e.zp) ops.zw.push_back(e.zw_values[z]);
      }
    LinearIn in;
    in.m = M;
    in.n = N;
    in.k = K;
    in.ops = ops;
    in.zero_points = e.zp;
    in.za_per_token = true;
    in.ldo = N;
    const auto want64 = sqo::oracle_acc64(M, N, K, ops);
    REQUIRE(sqo::fits_int32(want64));
    int64_t largest = 0;
    for (int64_t v : want64) largest = std::max(largest, v < 0 ? -v : v);
    CHECK(largest > (int64_t{1} << 30));  // the limit is really exercised
    for (bool sums : {true, false}) {
      in.give_act_sums = in.give_weight_sums = sums;
      CHECK(accumulators(in, 2) == sqo::narrow(want64));
    }
    // And through an epilogue: f64 keeps every int32 exactly.
    Buf ws(SQ_DTYPE_F64, static_cast<size_t>(N));
    for (int64_t n = 0; n < N; ++n) ws.set(static_cast<size_t>(n), 1.0);
    in.t = SQ_DTYPE_F64;
    in.static_scale = 1.0;
    in.weight_scale = &ws;
    const LinearRan r = run_linear(in, 1);
    for (int64_t i = 0; i < M * N; ++i) REQUIRE(r.out.get(static_cast<size_t>(i)) == static_cast<double>(want64[i]));
  }
  });
}

TEST_CASE("host_linear: a u8 weight with zero point 128 equals the s8 weight with its top bit flipped",
          "[host_kernels][linear]") {
  for_each_dot_path([&] {
  const int64_t M = 9, N = 37, K = 301;
  for (sq_dtype a_type : kOperandTypes)
    for (sq_dtype t : kOutTypes)
      for (bool za : {false, true}) {
        CAPTURE(name(a_type), name(t), za);
        const auto a = random_bytes(static_cast<size_t>(M * K));
        const auto w_s8 = random_bytes(static_cast<size_t>(N * K));
        std::vector<uint8_t> w_u8(w_s8);
        for (auto& b : w_u8) b ^= 0x80;  // u8 = s8 + 128
        Buf ws = sqt::random_scales(t == SQ_DTYPE_S32 ? SQ_DTYPE_F32 : t, N);
        Buf bias = sqt::random_values(t == SQ_DTYPE_S32 ? SQ_DTYPE_F32 : t, N, -1, 1);
        LinearIn s8;
        s8.m = M;
        s8.n = N;
        s8.k = K;
        s8.ops = Operands{a_type, SQ_DTYPE_S8, a.data(), K, w_s8.data(), K, {}, {}};
        if (za) s8.ops.za.assign(M, random_zero_point(a_type));
        s8.zero_points = za;
        s8.t = t;
        s8.static_scale = 0.07;
        s8.weight_scale = &ws;
        s8.bias = t == SQ_DTYPE_S32 ? nullptr : &bias;
        s8.ldo = N;
        LinearIn u8 = s8;
        u8.ops.w_type = SQ_DTYPE_U8;
        u8.ops.w = w_u8.data();
        u8.ops.zw.assign(N, 128);
        u8.zero_points = true;
        const LinearRan rs = run_linear(s8, 1), ru = run_linear(u8, 1);
        CHECK(sqt::first_bit_difference(rs.out, ru.out) == -1);
        CHECK(sqt::first_bit_difference(rs.out, expected(s8)) == -1);
      }
  });
}

TEST_CASE("host_linear: row r alone equals row r inside M = 1000", "[host_kernels][linear][batch]") {
  for_each_dot_path([&] {
  const int64_t M = 1000, N = 67, K = 129;
  for (sq_dtype t : {SQ_DTYPE_BF16, SQ_DTYPE_F32, SQ_DTYPE_S32}) {
    CAPTURE(name(t));
    const auto a = random_bytes(static_cast<size_t>(M * K)), w = random_bytes(static_cast<size_t>(N * K));
    const sq_dtype st = t == SQ_DTYPE_S32 ? SQ_DTYPE_F32 : t;
    Buf ws = sqt::random_scales(st, N), rs = sqt::random_scales(st, M);
    LinearIn all;
    all.m = M;
    all.n = N;
    all.k = K;
    all.ops = Operands{SQ_DTYPE_U8, SQ_DTYPE_S8, a.data(), K, w.data(), K, {}, {}};
    for (int64_t m = 0; m < M; ++m) all.ops.za.push_back(random_zero_point(SQ_DTYPE_U8));
    for (int64_t n = 0; n < N; ++n) all.ops.zw.push_back(random_zero_point(SQ_DTYPE_S8));
    all.zero_points = true;
    all.za_per_token = true;
    all.t = t;
    all.row_scale_kind = t == SQ_DTYPE_S32 ? 0 : 1;
    all.row_scale = &rs;
    all.weight_scale = &ws;
    all.ldo = N;
    const LinearRan whole = run_linear(all, 3);
    const size_t es = 4 * (t == SQ_DTYPE_S32) + sqt::dtype_size(t) * (t != SQ_DTYPE_S32);
    for (int64_t r : {int64_t{0}, int64_t{1}, int64_t{499}, int64_t{998}, int64_t{999}}) {
      LinearIn one = all;
      one.m = 1;
      one.ops.a = a.data() + r * K;
      one.ops.za = {all.ops.za[static_cast<size_t>(r)]};
      Buf rs1(st, 1);
      std::memcpy(rs1.data(), rs.at(static_cast<size_t>(r)), sqt::dtype_size(st));
      one.row_scale = &rs1;
      const LinearRan alone = run_linear(one, 1);
      REQUIRE(std::memcmp(alone.out.data(), static_cast<const uint8_t*>(whole.out.data()) + r * N * es,
                          static_cast<size_t>(N) * es) == 0);
    }
  }
  });
}
