// The integer bookkeeping of the Hopper kernels, free of CUDA types so that host tests can check it:
// the position of a consumer or producer in a stage ring, and the order in which a persistent CTA
// visits its tiles. Included by sm90_common.cuh.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define SQ_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define SQ_HOST_DEVICE inline
#endif

namespace sq {
namespace kernels {
namespace sm90 {

// A position in a ring of STAGES stages: the stage and the parity of its current use (the phase an
// mbarrier wait on that stage expects; it flips each time the position wraps around the ring).
template <int STAGES>
struct RingPos {
  int stage = 0;
  uint32_t phase = 0;
  SQ_HOST_DEVICE void advance() {
    if (++stage == STAGES) {
      stage = 0;
      phase ^= 1;
    }
  }
  // Advances by n >= 0 uses (the stages another warpgroup consumes): the same as n advance()s.
  SQ_HOST_DEVICE void skip(int32_t n) {
    const int32_t s = stage + n;
    stage = s % STAGES;
    phase ^= static_cast<uint32_t>(s / STAGES) & 1u;
  }
};

// M tiles per raster group of the persistent kernels.
constexpr int32_t kRasterGroupM = 8;

// Tile order of the persistent kernels: groups of kRasterGroupM M tiles (fewer in the last group),
// N-major inside a group, so that the CTAs running at one time share few A and B tiles (L2 reuse).
// Tile number `tile` (0 .. m_tiles * n_tiles - 1) is the tile at M tile mt, N tile nt.
SQ_HOST_DEVICE void tile_coords(int32_t tile, int32_t m_tiles, int32_t n_tiles, int32_t& mt, int32_t& nt) {
  const int32_t per_group = kRasterGroupM * n_tiles;
  const int32_t group = tile / per_group;
  const int32_t first_m = group * kRasterGroupM;
  const int32_t rows = m_tiles - first_m < kRasterGroupM ? m_tiles - first_m : kRasterGroupM;
  const int32_t in_group = tile - group * per_group;
  mt = first_m + in_group % rows;
  nt = in_group / rows;
}

}  // namespace sm90
}  // namespace kernels
}  // namespace sq
