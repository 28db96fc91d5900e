// Launchers of the Hopper building-block test kernels (tests/sm90_blocks.cu, sm_90a): plain C++ so that
// the Catch2 tests (test_gpu_sm90_blocks.cpp) need no CUDA compiler. Each returns a CUDA error code
// (0: success) and fills host-side results.
#pragma once

#include <cstdint>
#include <vector>

namespace sqt {

// The stage ring (kernels/sm90_common.cuh StageRing, RingPos) driven through TMA loads: `blocks` K blocks
// of a [a_rows, K] and a [b_rows, K] int8 matrix, loaded into a ring of 4 stages of 64-row tiles
// (rows past a_rows / b_rows zero-filled by TMA). alternate = false: every consumer warp checks every
// stage; true: the two consumer warpgroups take the blocks in turn (ring positions skipped with
// RingPos::skip), as the ping-pong kernel does. Results per K block and tile row: the row's byte sum
// seen in shared memory (A rows then B rows), and per consumer warp and block the stage and phase its
// RingPos held.
struct RingResult {
  std::vector<int32_t> row_sums;  // [block][64 A rows + 64 B rows]
  std::vector<int32_t> stages;    // [block][consumer warp]: -1 where the warp did not take the block
  std::vector<int32_t> phases;    // [block][consumer warp]
};
constexpr int kRingStages = 4;
constexpr int kRingTileRows = 64;
constexpr int kRingConsumerWarps = 8;
int run_ring(const std::vector<int8_t>& a, int a_rows, const std::vector<int8_t>& b, int b_rows, int k, int blocks,
             bool alternate, RingResult* out);

// quad_exchange<n>(lo, hi, keep_hi, mask) in one warp: lane L holds lo = {L*16 + w}, hi = {1000 + L*16 + w}
// (w < n) and keeps half (L & mask) != 0. out: [lane][2n] words.
int run_quad_exchange(int n, int mask, std::vector<uint32_t>* out);

// store_fragment<T, 64> (kernels/sm90_epilogue.cuh) of one warpgroup's accumulator fragment whose element
// at tile row r, column c is r * 64 + c, scales 1, no bias, into out[m, n] (row stride ld_out, from
// element offset `offset`) bounds-checked against m, n <= 64. bytes: sizeof(T) (2: __half, 4: float,
// 8: double). out: the whole buffer of (m + 1) * ld_out + offset elements as doubles, poisoned with NaN
// where nothing was stored.
int run_store_fragment(int bytes, int m, int n, int64_t ld_out, int64_t offset, bool staged,
                       std::vector<double>* out);

// The S32 output of the same fragment (store_fragment<float, 64> with p.dtype = S32: no scale read,
// weight_scale null), after apply_fragment_zero_points<U8, S8, 64> when zero_points: za[r] (u8, per row),
// zw[c] (s8), act_sums[r] and weight_sums[c] given, k the K of the formula. out: the whole buffer of
// (m + 1) * ld_out + offset int32 elements, poisoned with 0xA5A5A5A5 where nothing was stored.
struct FragmentZeroPoints {
  int32_t k;
  std::vector<uint8_t> za;         // [64]
  std::vector<int8_t> zw;          // [64]
  std::vector<int32_t> act_sums;   // [64]
  std::vector<int32_t> weight_sums;  // [64]
};
int run_store_fragment_s32(int m, int n, int64_t ld_out, int64_t offset, const FragmentZeroPoints* zero_points,
                           std::vector<int32_t>* out);

// tile_coords (kernels/sm90_order.hpp) evaluated on the device for every tile: [tile][2] = (mt, nt).
int run_tile_coords(int32_t m_tiles, int32_t n_tiles, std::vector<int32_t>* out);

// Whether the current device is an sm_90 GPU (these kernels are built for sm_90a only).
bool device_is_sm90();

}  // namespace sqt
