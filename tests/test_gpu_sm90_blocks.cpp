// GPU tests of the Hopper kernels' building blocks, each driven by a small sm_90a kernel
// (sm90_blocks.cu): the stage ring through TMA (data and phases, every consumer on every stage, and two
// consumer warpgroups taking turns with RingPos::skip), the epilogue's quad exchange and fragment
// stores, the tile order. On a GPU that is not sm_90 they say so and pass nothing.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

#include "sm90_blocks.hpp"
#include "sm90_order.hpp"

namespace {

bool sm90_or_warn() {
  if (sqt::device_is_sm90()) return true;
  WARN("not an sm_90 GPU: the Hopper building blocks are not exercised");
  return false;
}

int8_t value_at(int row, int col) { return static_cast<int8_t>((row * 7 + col * 13) % 251 - 125); }

}  // namespace

TEST_CASE("stage ring: every K block lands in its stage with its phase, rows past the matrix zero-filled",
          "[sm90]") {
  if (!sm90_or_warn()) return;
  // 11 K blocks through 4 stages (the ring wraps twice and a bit); A has 50 rows (14 zero-filled), B 64.
  constexpr int kBlocks = 11, kK = kBlocks * 128, kARows = 50, kBRows = 64;
  std::vector<int8_t> a(static_cast<size_t>(kARows) * kK), b(static_cast<size_t>(kBRows) * kK);
  for (int r = 0; r < kARows; ++r)
    for (int c = 0; c < kK; ++c) a[static_cast<size_t>(r) * kK + c] = value_at(r, c);
  for (int r = 0; r < kBRows; ++r)
    for (int c = 0; c < kK; ++c) b[static_cast<size_t>(r) * kK + c] = value_at(r + 1000, c);
  for (bool alternate : {false, true}) {
    sqt::RingResult got;
    REQUIRE(sqt::run_ring(a, kARows, b, kBRows, kK, kBlocks, alternate, &got) == 0);
    for (int kb = 0; kb < kBlocks; ++kb) {
      CAPTURE(alternate, kb);
      for (int row = 0; row < 2 * sqt::kRingTileRows; ++row) {
        const bool is_a = row < sqt::kRingTileRows;
        const int r = row % sqt::kRingTileRows;
        int32_t want = 0;
        if (!is_a || r < kARows)
          for (int c = kb * 128; c < (kb + 1) * 128; ++c) want += is_a ? value_at(r, c) : value_at(r + 1000, c);
        CAPTURE(row);
        CHECK(got.row_sums[static_cast<size_t>(kb) * 2 * sqt::kRingTileRows + row] == want);
      }
      // The warps that took the block saw stage kb % 4 in pass kb / 4; with alternate, only the block's
      // warpgroup (kb % 2) took it.
      for (int w = 0; w < sqt::kRingConsumerWarps; ++w) {
        const bool took = !alternate || w / 4 == kb % 2;
        CAPTURE(w);
        CHECK(got.stages[static_cast<size_t>(kb) * sqt::kRingConsumerWarps + w] ==
              (took ? kb % sqt::kRingStages : -1));
        CHECK(got.phases[static_cast<size_t>(kb) * sqt::kRingConsumerWarps + w] ==
              (took ? (kb / sqt::kRingStages) % 2 : -1));
      }
    }
  }
}

TEST_CASE("quad exchange: a lane keeps its half, receives its partner's, ordered by source lane", "[sm90]") {
  if (!sm90_or_warn()) return;
  for (int n : {1, 2, 4}) {
    for (int mask : {1, 2}) {
      std::vector<uint32_t> got;
      REQUIRE(sqt::run_quad_exchange(n, mask, &got) == 0);
      for (int lane = 0; lane < 32; ++lane) {
        const int partner = lane ^ mask;
        const bool keep_hi = (lane & mask) != 0;
        for (int w = 0; w < n; ++w) {
          CAPTURE(n, mask, lane, w);
          // The lane with the bit clear first: [its lo, its partner's lo] or [the partner's hi, its hi].
          const uint32_t first = keep_hi ? 1000u + partner * 16 + w : static_cast<uint32_t>(lane * 16 + w);
          const uint32_t second = keep_hi ? 1000u + lane * 16 + w : static_cast<uint32_t>(partner * 16 + w);
          CHECK(got[static_cast<size_t>(lane) * 2 * n + w] == first);
          CHECK(got[static_cast<size_t>(lane) * 2 * n + n + w] == second);
        }
      }
    }
  }
}

TEST_CASE("epilogue stores: every fragment element lands at its row and column, nothing outside M x N",
          "[sm90]") {
  if (!sm90_or_warn()) return;
  // out[r, c] = r * 64 + c (the fragment's value, scales 1): exact in f64, f32 and, for r < 32, f16.
  // Vector stores (ld_out a multiple of the chunk, aligned base) and element stores (odd offset and
  // stride), full and partial tiles; each also with the out-staging slices, which the rows that are not
  // 16-byte aligned take (f32 rows of stride 66: 8-byte aligned only).
  struct Case {
    int bytes, m, n;
    int64_t ld_out, offset;
  };
  const Case cases[] = {{4, 64, 64, 64, 0}, {4, 50, 60, 72, 0}, {4, 33, 64, 67, 1}, {8, 64, 64, 64, 0},
                        {8, 17, 41, 45, 1}, {2, 32, 64, 64, 0}, {2, 20, 57, 72, 0}, {2, 31, 64, 65, 3},
                        {4, 64, 64, 66, 0}, {2, 31, 37, 37, 0}, {8, 64, 64, 65, 0}};
  for (const Case& c : cases)
    for (const bool staged : {false, true}) {
      std::vector<double> got;
      REQUIRE(sqt::run_store_fragment(c.bytes, c.m, c.n, c.ld_out, c.offset, staged, &got) == 0);
      for (int64_t i = 0; i < static_cast<int64_t>(got.size()); ++i) {
        const int64_t at = i - c.offset;
        const int64_t r = at >= 0 ? at / c.ld_out : -1, col = at >= 0 ? at % c.ld_out : -1;
        CAPTURE(c.bytes, c.m, c.n, c.ld_out, c.offset, staged, r, col);
        if (r >= 0 && r < c.m && col < c.n) {
          CHECK(got[static_cast<size_t>(i)] == static_cast<double>(r * 64 + col));
        } else {
          CHECK(std::isnan(got[static_cast<size_t>(i)]));  // poisoned, never written
        }
      }
    }
}

TEST_CASE("zero points and the S32 output: the corrected fragment's int32 bits at every row and column",
          "[sm90]") {
  if (!sm90_or_warn()) return;
  // acc[r, c] = r * 64 + c, then acc - zw[c] * (Sa[r] - K * za[r]) - za[r] * Sw[c] (wrapping int32 terms,
  // the expectation computed in int64 and reduced modulo 2^32), stored as int32 with no scale.
  sqt::FragmentZeroPoints zp;
  zp.k = 33025;
  for (int i = 0; i < 64; ++i) {
    zp.za.push_back(static_cast<uint8_t>(i * 37 % 256));
    zp.zw.push_back(static_cast<int8_t>(i * 53 % 256 - 128));
    zp.act_sums.push_back(255 * 33025 - i * 100003);
    zp.weight_sums.push_back(-128 * 33025 + i * 70001);
  }
  struct Case {
    int m, n;
    int64_t ld_out, offset;
    bool zero_points;
  };
  const Case cases[] = {{64, 64, 64, 0, false}, {50, 60, 72, 0, true}, {33, 64, 67, 1, true}, {64, 64, 64, 0, true}};
  for (const Case& c : cases) {
    std::vector<int32_t> got;
    REQUIRE(sqt::run_store_fragment_s32(c.m, c.n, c.ld_out, c.offset, c.zero_points ? &zp : nullptr, &got) == 0);
    for (int64_t i = 0; i < static_cast<int64_t>(got.size()); ++i) {
      const int64_t at = i - c.offset;
      const int64_t r = at >= 0 ? at / c.ld_out : -1, col = at >= 0 ? at % c.ld_out : -1;
      CAPTURE(c.m, c.n, c.ld_out, c.offset, c.zero_points, r, col);
      if (r >= 0 && r < c.m && col < c.n) {
        int64_t want = r * 64 + col;
        if (c.zero_points) {
          const int64_t za = zp.za[static_cast<size_t>(r)], zw = zp.zw[static_cast<size_t>(col)];
          want = want - zw * (zp.act_sums[static_cast<size_t>(r)] - int64_t{zp.k} * za) -
                 za * zp.weight_sums[static_cast<size_t>(col)];
        }
        CHECK(got[static_cast<size_t>(i)] == static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(want))));
      } else {
        CHECK(got[static_cast<size_t>(i)] == static_cast<int32_t>(0xA5A5A5A5u));  // poisoned, never written
      }
    }
  }
}

TEST_CASE("tile order on the device: the host's tile_coords, every tile once", "[sm90]") {
  if (!sm90_or_warn()) return;
  for (int32_t m_tiles : {1, 9, 17}) {
    for (int32_t n_tiles : {1, 13}) {
      std::vector<int32_t> got;
      REQUIRE(sqt::run_tile_coords(m_tiles, n_tiles, &got) == 0);
      std::vector<int> seen(static_cast<size_t>(m_tiles * n_tiles), 0);
      for (int32_t tile = 0; tile < m_tiles * n_tiles; ++tile) {
        int32_t mt, nt;
        sq::kernels::sm90::tile_coords(tile, m_tiles, n_tiles, mt, nt);
        CAPTURE(m_tiles, n_tiles, tile);
        CHECK(got[2 * static_cast<size_t>(tile)] == mt);
        CHECK(got[2 * static_cast<size_t>(tile) + 1] == nt);
        ++seen[static_cast<size_t>(mt * n_tiles + nt)];
      }
      for (int s : seen) CHECK(s == 1);
    }
  }
}
