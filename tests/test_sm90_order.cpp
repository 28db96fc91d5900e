// Host tests of the Hopper kernels' integer bookkeeping (kernels/sm90_order.hpp): the stage ring's
// positions and the persistent kernels' tile order. The device side runs the same functions
// (__host__ __device__); test_gpu_sm90_blocks.cpp checks them on the GPU as well.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "sm90_order.hpp"

namespace sm90 = sq::kernels::sm90;

TEMPLATE_TEST_CASE_SIG("RingPos: advance wraps the stages and flips the phase; skip(n) is n advances",
                       "[sm90]", ((int S), S), 1, 2, 4, 6, 8, 11, 16) {
  sm90::RingPos<S> pos;
  for (int32_t use = 0; use < 5 * S + 3; ++use) {
    CAPTURE(S, use);
    // The use-th use of the ring is stage use % S in its (use / S)-th pass: parity (use / S) & 1.
    CHECK(pos.stage == use % S);
    CHECK(pos.phase == static_cast<uint32_t>((use / S) & 1));
    pos.advance();
  }
  for (int32_t start = 0; start < 2 * S; ++start) {
    for (int32_t n = 0; n <= 3 * S + 1; ++n) {
      sm90::RingPos<S> a, b;
      for (int32_t i = 0; i < start; ++i) a.advance();
      b = a;
      a.skip(n);
      for (int32_t i = 0; i < n; ++i) b.advance();
      CAPTURE(S, start, n);
      CHECK(a.stage == b.stage);
      CHECK(a.phase == b.phase);
    }
  }
}

TEST_CASE("tile_coords: every tile once, in raster groups of kRasterGroupM M tiles, N-major inside", "[sm90]") {
  for (int32_t m_tiles : {1, 2, 7, 8, 9, 16, 17, 33}) {
    for (int32_t n_tiles : {1, 3, 8, 13}) {
      CAPTURE(m_tiles, n_tiles);
      std::set<std::pair<int32_t, int32_t>> seen;
      for (int32_t tile = 0; tile < m_tiles * n_tiles; ++tile) {
        int32_t mt = -1, nt = -1;
        sm90::tile_coords(tile, m_tiles, n_tiles, mt, nt);
        REQUIRE(mt >= 0);
        REQUIRE(mt < m_tiles);
        REQUIRE(nt >= 0);
        REQUIRE(nt < n_tiles);
        CHECK(seen.insert({mt, nt}).second);
        // The group of a tile: its M tile's group of kRasterGroupM; the groups come one after the other.
        const int32_t group = mt / sm90::kRasterGroupM;
        const int32_t first_m = group * sm90::kRasterGroupM;
        const int32_t rows = std::min(m_tiles - first_m, sm90::kRasterGroupM);
        CHECK(tile / (sm90::kRasterGroupM * n_tiles) == group);
        // Inside a group the M tile runs fastest: consecutive tiles walk down the group's rows, then the
        // next N tile.
        const int32_t in_group = tile - group * sm90::kRasterGroupM * n_tiles;
        CHECK(mt - first_m == in_group % rows);
        CHECK(nt == in_group / rows);
      }
      CHECK(static_cast<int32_t>(seen.size()) == m_tiles * n_tiles);
    }
  }
}
