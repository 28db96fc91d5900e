// The 0.2 offline helpers against the kernels they promise to equal: sq_quantize_weight_per_channel_asymmetric
// == the asymmetric quantizer (host_quantize, DYNAMIC_ASYMMETRIC) on the rows, and sq_weight_sums == the
// row sums (host_row_sums), both also against the oracle. (The helpers' validation is tested through
// the library in test_offline.cpp.)
#include <catch2/catch.hpp>

#include "host_kernel_run.hpp"

using namespace sqk;

TEST_CASE("sq_quantize_weight_per_channel_asymmetric == the asymmetric quantizer on the rows",
          "[host_kernels][offline]") {
  const int64_t rows = 13, cols = 71, ld = 75, ld_q = 73;
  for (sq_dtype wd : {SQ_DTYPE_F32, SQ_DTYPE_F64, SQ_DTYPE_F16, SQ_DTYPE_BF16})
    for (sq_dtype qd : {SQ_DTYPE_U8, SQ_DTYPE_S8})
      for (sq_dtype sd : {SQ_DTYPE_F32, SQ_DTYPE_F64, SQ_DTYPE_F16, SQ_DTYPE_BF16}) {
        CAPTURE(sqt::dtype_str(wd), qd == SQ_DTYPE_U8 ? "u8" : "s8", sqt::dtype_str(sd));
        Buf w = sqt::random_values(wd, static_cast<size_t>(rows * ld), -0.3, 0.2);
        for (int64_t c = 0; c < ld; ++c) {
          w.set(static_cast<size_t>(0 * ld + c), 0.0);                  // a zero row: scale 0, zw 0, q 0
          w.set(static_cast<size_t>(1 * ld + c), 0.01 * (c % 7 + 1));   // only positive: lo = 0
          w.set(static_cast<size_t>(2 * ld + c), -0.02 * (c % 5 + 1));  // only negative: hi = 0
        }
        w.set(static_cast<size_t>(3 * ld + 4), 2.5);  // an outlier
        sq_matrix_view view;
        std::memset(&view, 0, sizeof(view));
        view.struct_size = sizeof(view);
        view.dtype = wd;
        view.rows = rows;
        view.cols = cols;
        view.ld = ld;
        view.data = w.data();
        std::vector<uint8_t> q(static_cast<size_t>(rows * ld_q), kPoisonByte), zp(static_cast<size_t>(rows));
        Buf scale(sd, static_cast<size_t>(rows));
        REQUIRE(sq_quantize_weight_per_channel_asymmetric(&view, qd, q.data(), ld_q, sd, scale.data(), zp.data()) ==
                SQ_STATUS_SUCCESS);
        sqo::QuantIn in;
        in.mode = sqo::Mode::kDynamicAsym;
        in.m = rows;
        in.k = cols;
        in.x = &w;
        in.ldx = ld;
        in.q_dtype = qd;
        in.s_dtype = sd;
        const QuantRan kernel = run_quantize(in, {1, ld_q - cols, ResOut::kNone, false});
        const sqo::QuantOut oracle = sqo::oracle_quantize(in);
        REQUIRE(q == std::vector<uint8_t>(kernel.q.begin(), kernel.q.begin() + rows * ld_q));
        REQUIRE(std::equal(zp.begin(), zp.end(), kernel.zp.begin()));
        for (int64_t r = 0; r < rows; ++r) {
          REQUIRE(sqo::bits_at(scale, r) == sqo::bits_at(kernel.scale, r));
          REQUIRE(sqo::bits_at(scale, r) == sqo::bits_at(oracle.scale, r));
          REQUIRE(sqo::value_of(qd, zp[r]) == oracle.za[r]);
          for (int64_t c = 0; c < cols; ++c)
            REQUIRE(sqo::value_of(qd, q[r * ld_q + c]) == oracle.q[static_cast<size_t>(r * cols + c)]);
        }
        CHECK(sqo::bits_at(scale, 0) == 0u);
        CHECK(zp[0] == 0);
        CHECK(sqo::value_of(qd, zp[1]) == sqo::qmin_of(qd));  // lo = 0: za = qmin
        // hi = 0: za = rne(qmin + 255 * (lo / (S)(lo / 255)))): qmax, or qmax - 1 where S rounded the scale up.
        CHECK(sqo::value_of(qd, zp[2]) >= sqo::qmax_of(qd) - 1);
      }
}

TEST_CASE("sq_weight_sums == the row sums of the kernels", "[host_kernels][offline]") {
  const int64_t rows = 31, cols = 1000, ld = 1003;
  for (sq_dtype t : {SQ_DTYPE_S8, SQ_DTYPE_U8}) {
    std::uniform_int_distribution<int> d(0, 255);
    std::vector<uint8_t> w(static_cast<size_t>(rows * ld));
    for (auto& b : w) b = static_cast<uint8_t>(d(sqt::rng()));
    sq_matrix_view view;
    std::memset(&view, 0, sizeof(view));
    view.struct_size = sizeof(view);
    view.dtype = t;
    view.rows = rows;
    view.cols = cols;
    view.ld = ld;
    view.data = w.data();
    std::vector<int32_t> sums(static_cast<size_t>(rows)), kernel(static_cast<size_t>(rows));
    REQUIRE(sq_weight_sums(&view, sums.data()) == SQ_STATUS_SUCCESS);
    kern::RowSumsParams p{};
    p.m = static_cast<int32_t>(rows);
    p.k = static_cast<int32_t>(cols);
    p.a = reinterpret_cast<const int8_t*>(w.data());
    p.ld_a = ld;
    p.a_type = kd(t);
    p.sums = kernel.data();
    sq::host_row_sums(p, 1);
    CHECK(sums == kernel);
    CHECK(sums == raw_row_sums(t, w.data(), rows, cols, ld));
  }
}
