// Small-M (decode) W8A8 linear: out[m,n] per the numerics contract, M <= the variant's max_m, operands
// aligned to the variant's load width: 16 bytes, or 8 for the "_a8" variants (src/ validates and
// dispatches; nothing is checked here).
//
// Layout of the work (see decode_mma.hpp):
//   out^T = W * act^T with mma.sync.m16n8k32.row.col.s32.<weight type>.<act type>.s32 (each s8 or u8):
//     A = 16 weight rows x 32 of K, B = 32 of K x 8 tokens, C = 16 rows x 8 tokens (int32).
//   One CTA = kRowWarps row tiles of 16 weight rows x all of K, kWarps warps: warp w computes row
//   tile w % kRowWarps over the K chunks of its K group w / kRowWarps. K is cut into 64-byte
//   chunks; a K group takes kChunksPerIter consecutive chunks out of every
//   (kWarps / kRowWarps) * kChunksPerIter. With kRowWarps > 1 the row warps of one K group read
//   the same activation bytes at about the same time and mostly share them through L1.
//   Each lane loads, per chunk, one 16-byte piece of each of its two weight rows (fragment rows
//   g and g + 8) and one 16-byte piece of each of its tokens straight into registers (the weight
//   with L1::no_allocate and an L2 evict-first policy) with one 16-byte load. The "_a8" variants
//   (kLoadBytes = 8: K % 16 == 8 and 8-byte aligned rows, as in tensor-parallel shards) keep the weight's
//   16-byte loads too: a row tile holds 16 rows whose bases share one offset mod 16 (with ld_weight % 16
//   == 8, every other row of a 32-row block: RowMap), and its K windows start 8 bytes before K's start
//   where that offset is 8 (kWindowShift), so every window is 16-byte aligned; only a row's first and last
//   half-windows take one 8-byte load, each half bounds-checked on K. Activation pieces are one 16-byte
//   load where the warp's token rows are aligned to the window, else two 8-byte loads (L1 hits)
//   [D-decode-align8]. Bytes outside K are zero in both operands and add nothing to the exact int32 sums.
//   The 64 bytes of K a lane quad covers are
//   fed to two m16n8k32 with one fixed permutation of K shared by A and B, which integer
//   accumulation does not see: for lane quad q, mma 0 takes bytes [16q, 16q + 8) and mma 1
//   bytes [16q + 8, 16q + 16) of the chunk.
//   The K groups' exact int32 partials meet in shared memory and are summed in K-group order,
//   then the zero-point correction (p.zero_points) and the scale epilogue (epilogue.cuh; or the S32
//   output) write out, bounds-checked on N and M, each output column at its weight row (RowMap).
// Programmatic dependent launch (PDL): when src/ sets LinearParams::programmatic, the launcher takes
// the kPdl instantiation with programmatic stream serialization: its CTAs may start while the previous
// kernel on the stream still runs, prefetch to L2 the weight bytes of their first loop iteration (a
// prefetch changes no memory), then griddepcontrol.wait until the previous grid has completed and its
// memory is visible, and only then read act and row_scale and write anything. Every other launch takes
// the plain instantiation, whose code has no PDL prologue at all (even a skipped one costs time:
// bench/DECISIONS.md [D-decode-pdl]).
#include "decode_mma.hpp"

#include <atomic>
#include <cstdint>
#include <cuda_runtime.h>

#include "epilogue.cuh"
#include "launch.hpp"
#include "mma_sync.cuh"
#include "variant_glue.cuh"

namespace sq {
namespace kernels {
namespace decode_detail {

constexpr int kWarpSize = 32;
constexpr int kTileRows = 16;       // weight rows of one row tile: the mma's m16
constexpr int kHalfRows = 8;        // a lane holds fragment rows g and g + kHalfRows
constexpr int kTokensPerTile = 8;   // the mma's n8
constexpr int kLanesPerRow = 4;     // lanes of one fragment row (threadID_in_group)
constexpr int kPieceBytes = 16;     // bytes of K per lane, row and chunk: 8 for each of the two mmas
constexpr int kKPerChunk = kPieceBytes * kLanesPerRow;  // 64 bytes of K = two m16n8k32
// Load widths: a piece in one 16-byte load (operands aligned to 16 bytes), or in two 8-byte loads, so
// that K % 16 == 8 and 8-byte aligned rows (tensor-parallel shards) stay on these kernels
// [D-decode-align8].
constexpr int kLoad16 = 16;
constexpr int kLoad8 = 8;
// "_a8": the window start of a row tile whose rows begin 8 bytes past a 16-byte boundary.
constexpr int kWindowShift = -kLoad8;
constexpr int kWarpsPerSm = 16;    // resident warps per SM: register budget 128 per thread
// Padding (int32) of one token's row in the reduction buffer: with a pitch of 16 * rw + 4 the
// fragment stores (8 groups x 4 quads, quads 2 tokens apart) land on 32 distinct banks.
constexpr int kRedPad = 4;
// Kernel images compiled for this virtual architecture or later execute griddepcontrol.wait
// (the PTX instruction needs sm_90); older images (sm_80, or compute_80 PTX JIT-compiled for a
// newer GPU) do not wait, so they must never be launched as programmatic dependents.
constexpr int kPdlMinPtxVersion = 90;

// Variants: n8 token tiles, chunks per warp and iteration (weight + activation registers),
// row tiles per CTA (rw > 1: the row warps of a K group share activations through L1, fewer
// CTAs), warps per CTA [D-decode-shape].
constexpr int kM16TokenTiles = 2;
constexpr int kM16ChunksPerIter = 4;  // 16 rows x 256 B = 4 KiB of weight in registers per warp
constexpr int kM16RowWarps = 1;       // activations are at most the weight bytes here
constexpr int kM16Warps = 8;
constexpr int kM32TokenTiles = 4;
constexpr int kM32ChunksPerIter = 2;  // 2 KiB of weight + 4 KiB of activations per warp
constexpr int kM32Warps = 8;
constexpr int kM64TokenTiles = 8;
constexpr int kM64ChunksPerIter = 1;  // 1 KiB of weight + 4 KiB of activations per warp
constexpr int kM64Warps = 8;
constexpr int kNarrowRowWarps = 1;    // 16-row CTAs: most CTAs, for N up to a few thousand
constexpr int kWideRowWarps = 2;      // 32-row CTAs: half the activation reads, for large N

// Token tiles (rows of M) up to which a kPdl instantiation is compiled: every decode variant.
constexpr int kPdlMaxTokens = kM64TokenTiles * kTokensPerTile;
constexpr int32_t kMinSm = 80;  // mma.sync m16n8k32 s8: Ampere and later
static_assert(kTileRows == 2 * kHalfRows, "m16 = two halves");

// L2 policy for the weight stream: read once, evict first.
__device__ __forceinline__ uint64_t weight_policy() {
  uint64_t policy;
  asm("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(policy));
  return policy;
}

__device__ __forceinline__ uint4 load_weight16(const int8_t* ptr, uint64_t policy) {
  uint4 v;
  asm("ld.global.nc.L1::no_allocate.L2::cache_hint.L2::256B.v4.u32 {%0, %1, %2, %3}, [%4], %5;"
      : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
      : "l"(ptr), "l"(policy));
  return v;
}

__device__ __forceinline__ uint2 load_weight8(const int8_t* ptr, uint64_t policy) {
  uint2 v;
  asm("ld.global.nc.L1::no_allocate.L2::cache_hint.L2::256B.v2.u32 {%0, %1}, [%2], %3;"
      : "=r"(v.x), "=r"(v.y)
      : "l"(ptr), "l"(policy));
  return v;
}

// Activations are read by every CTA: keep them in L1/L2.
__device__ __forceinline__ uint4 load_act16(const int8_t* ptr) {
  return __ldg(reinterpret_cast<const uint4*>(ptr));
}

__device__ __forceinline__ uint2 load_act8(const int8_t* ptr) {
  return __ldg(reinterpret_cast<const uint2*>(ptr));
}

// Which of a 16-byte piece's two 8-byte halves lie inside K (K % 8 == 0 on every path here).
struct PieceIn {
  bool lo, hi;
  __device__ __forceinline__ bool any() const { return lo || hi; }
  __device__ __forceinline__ bool whole() const { return lo && hi; }
};

// The piece of K starting at k_lo (a multiple of 8, at least kWindowShift).
__device__ __forceinline__ PieceIn piece_in(int k_lo, int k) {
  return {k_lo >= 0 && k_lo < k, k_lo + kLoad8 < k};
}

// One lane's "_a8" piece of a weight row (ptr: the piece's start, 16-byte aligned where the piece is
// whole): one 16-byte load, or one 8-byte load of the half inside K; v stays zero where nothing is loaded.
__device__ __forceinline__ void load_weight_piece8(uint4& v, const int8_t* ptr, PieceIn in, uint64_t policy) {
  static_assert(2 * kLoad8 == kPieceBytes, "a piece is two 8-byte halves");
  if (in.whole()) {
    v = load_weight16(ptr, policy);
  } else if (in.lo) {
    const uint2 lo = load_weight8(ptr, policy);
    v.x = lo.x;
    v.y = lo.y;
  } else if (in.hi) {
    const uint2 hi = load_weight8(ptr + kLoad8, policy);
    v.z = hi.x;
    v.w = hi.y;
  }
}

// The same for a piece of an activation row: one 16-byte load where `vec16` (the warp's token rows are
// 16-byte aligned at the window: warp-uniform) and the piece is whole, else an 8-byte load per half.
__device__ __forceinline__ void load_act_piece8(uint4& v, const int8_t* ptr, PieceIn in, bool vec16) {
  if (vec16 && in.whole()) {
    v = load_act16(ptr);
    return;
  }
  if (in.lo) {
    const uint2 lo = load_act8(ptr);
    v.x = lo.x;
    v.y = lo.y;
  }
  if (in.hi) {
    const uint2 hi = load_act8(ptr + kLoad8);
    v.z = hi.x;
    v.w = hi.y;
  }
}

// The weight rows of row tile `tile` (16 rows, fragment row i at first + step * i). 16-byte loads: 16
// consecutive rows. "_a8" with ld_weight % 16 == 8 (every other row 16-byte aligned): tiles 2b and 2b + 1
// take the even and the odd rows of the 32-row block b, so that a tile's rows share their offset mod 16.
struct RowMap {
  int64_t first;
  int step;
  __device__ __forceinline__ int64_t row(int i) const { return first + static_cast<int64_t>(step) * i; }
};

// Whether a variant of this load width interleaves the tiles' rows for this weight stride.
__host__ __device__ constexpr bool interleaves_rows(int load_bytes, int64_t ld_weight) {
  return load_bytes == kLoad8 && ld_weight % kLoad16 != 0;
}

template <int kLoadBytes>
__device__ __forceinline__ RowMap row_map(const LinearParams& p, int64_t tile) {
  if (interleaves_rows(kLoadBytes, p.ld_weight)) return {(tile >> 1) * (2 * kTileRows) + (tile & 1), 2};
  return {tile * kTileRows, 1};
}

// The weight row of row r of a CTA whose first row tile is cta_tile0 (its tiles' rows in order).
template <int kLoadBytes>
__device__ __forceinline__ int64_t cta_row(const LinearParams& p, int64_t cta_tile0, int r) {
  return row_map<kLoadBytes>(p, cta_tile0 + r / kTileRows).row(r % kTileRows);
}

// Row tiles of the launch: the pairs of 32-row blocks where rows interleave, else one per 16 rows.
__host__ __device__ inline int64_t row_tiles(int64_t n, int64_t ld_weight, int load_bytes) {
  if (interleaves_rows(load_bytes, ld_weight)) return 2 * ((n + 2 * kTileRows - 1) / (2 * kTileRows));
  return (n + kTileRows - 1) / kTileRows;
}

// PDL prologue (sm_90+): an L2 prefetch of the 16-byte granules inside [ptr, ptr + bytes) (the
// instruction needs a 16-byte aligned address and size; with 16-byte aligned operands that is the whole
// range, with 8-byte aligned ones up to 8 bytes at each end are left to the loads). A hint: it changes
// no memory and touches nothing outside the range.
__device__ __forceinline__ void prefetch_l2(const int8_t* ptr, int bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  constexpr uintptr_t kGranule = 16;  // cp.async.bulk's address and size alignment
  const uintptr_t first = (reinterpret_cast<uintptr_t>(ptr) + kGranule - 1) & ~(kGranule - 1);
  const uintptr_t last = (reinterpret_cast<uintptr_t>(ptr) + static_cast<uintptr_t>(bytes)) & ~(kGranule - 1);
  if (last > first)
    asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(first), "r"(static_cast<uint32_t>(last - first))
                 : "memory");
#endif
}

// Waits until the grids this one depends on programmatically (the quantizer) have completed and
// their memory operations are visible; returns at once when the kernel was launched without the
// programmatic attribute. Compiled for sm_90+ only (kPdlMinPtxVersion).
__device__ __forceinline__ void wait_for_producer() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// The weight is the mma's A operand (type W) and the activations its B operand (type A).
template <Dtype A, Dtype W>
__device__ __forceinline__ void mma_i8(int32_t (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                       uint32_t b0, uint32_t b1) {
  mma_m16n8k32<W, A, /*kVolatile=*/false>(c, a0, a1, a2, a3, b0, b1);
}

// The shape of one instantiation.
template <int kTokenTiles, int kRowWarps, int kWarps>
struct CtaShape {
  static constexpr int kThreads = kWarps * kWarpSize;
  static constexpr int kMinCtasPerSm = kWarpsPerSm / kWarps;
  static constexpr int kTokens = kTokenTiles * kTokensPerTile;
  static constexpr int kKGroups = kWarps / kRowWarps;
  static constexpr int kRows = kTileRows * kRowWarps;
  static constexpr int kRedPitch = kRows + kRedPad;
  // partial[kKGroups][kTokens][kRedPitch] int32 (dynamic shared memory)
  static constexpr int kSmemBytes =
      kKGroups * kTokens * kRedPitch * static_cast<int>(sizeof(int32_t));
  static_assert(kWarps % kRowWarps == 0, "row warps divide the CTA");
  static_assert(kWarpsPerSm % kWarps == 0, "whole CTAs per SM");
  static_assert(kTokens <= kThreads, "one thread per row of M writes the fused scratch fill");
  static_assert(kRows <= kThreads, "one thread per weight row issues the PDL prefetch");
};

// kPdl: the programmatic-dependent instantiation (see the top of this file).
// The epilogue of the CTA's outputs (tiles token tiles x kCtaRows weight rows) from the K groups'
// partials: their exact sum in K-group order, the zero-point correction (p.zero_points), then the scale
// epilogue (kScaled) or the accumulator's bits (the S32 output).
template <typename T, bool kScaled, Dtype A, Dtype W, int kKGroups, int kCtaRows, int kThreads, int kLoadBytes,
          typename Partial>
__device__ __forceinline__ void store_outputs(const LinearParams& p, const Partial& partial, int tiles,
                                              int64_t cta_tile0) {
  using E = Epi<T>;
  using C = typename E::C;
  const T* weight_scale = static_cast<const T*>(p.weight_scale);
  const T* bias = static_cast<const T*>(p.bias);
  const bool has_bias = kScaled && bias != nullptr;
  T* out = static_cast<T*>(p.out);
  const int outputs = tiles * kTokensPerTile * kCtaRows;
#pragma unroll 1
  for (int i = static_cast<int>(threadIdx.x); i < outputs; i += kThreads) {
    const int r = i % kCtaRows;
    const int tok = i / kCtaRows;
    const int64_t row = cta_row<kLoadBytes>(p, cta_tile0, r);
    if (tok < p.m && row < p.n) {
      int32_t sum = 0;
#pragma unroll
      for (int g = 0; g < kKGroups; ++g) sum += partial[g][tok][r];  // exact, fixed order
      // Output row tok, output column (weight row) row.
      if (p.zero_points)
        sum = apply_zero_points(sum, row_zero_point<A>(p, tok), col_zero_point<W>(p, static_cast<int32_t>(row)));
      C rs = C(0), col = C(0), b = C(0);
      if constexpr (kScaled) {
        rs = row_scale_of<T>(p, tok);
        col = E::to_c(weight_scale[row]);
        b = has_bias ? E::to_c(bias[row]) : C(0);
      }
      out[static_cast<int64_t>(tok) * p.ld_out + row] = output_of<T, kScaled>(sum, rs, col, has_bias, b);
    }
  }
}

template <typename T, Dtype A, Dtype W, int kTokenTiles, int kChunksPerIter, int kRowWarps, int kWarps, int kLoadBytes,
          bool kPdl>
__global__ void __launch_bounds__(CtaShape<kTokenTiles, kRowWarps, kWarps>::kThreads,
                                  CtaShape<kTokenTiles, kRowWarps, kWarps>::kMinCtasPerSm)
    decode_mma_kernel(const LinearParams p) {
  using E = Epi<T>;
  using C = typename E::C;
  using S = CtaShape<kTokenTiles, kRowWarps, kWarps>;
  constexpr int kKGroups = S::kKGroups;
  constexpr int kCtaRows = S::kRows;
  constexpr int kThreads = S::kThreads;
  extern __shared__ int32_t smem[];
  auto partial = reinterpret_cast<int32_t(*)[S::kTokens][S::kRedPitch]>(smem);

  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const int row_warp = warp % kRowWarps;
  const int kgroup = warp / kRowWarps;
  const int group = lane / kLanesPerRow;  // fragment row (A, C) and token (B) of this lane
  const int quad = lane % kLanesPerRow;   // threadID_in_group
  const int64_t cta_tile0 = static_cast<int64_t>(blockIdx.x) * kRowWarps;  // the CTA's first row tile
  const RowMap rows = row_map<kLoadBytes>(p, cta_tile0 + row_warp);
  const int m = p.m;
  const int64_t n = p.n;
  const int k = p.k;
  const int tiles = (m + kTokensPerTile - 1) / kTokensPerTile;  // token tiles holding rows of M

  if constexpr (kPdl) {
    if (p.programmatic) {  // always true where the launcher takes kPdl
      // Before the wait: prefetch to L2 what the first loop iteration reads of this CTA's weight
      // rows (one row per thread; prefetch_l2 keeps to the 16-byte granules of 8-byte aligned rows).
      constexpr int kFirstIterBytes = kKGroups * kChunksPerIter * kKPerChunk;
      const int r = static_cast<int>(threadIdx.x);
      const int64_t row = cta_row<kLoadBytes>(p, cta_tile0, r);
      if (r < kCtaRows && row < n)
        prefetch_l2(p.weight + row * p.ld_weight, k < kFirstIterBytes ? k : kFirstIterBytes);
    }
    wait_for_producer();  // act and row_scale are the quantizer's; nothing is written before this
  }

  // Fused scratch fill: CTA 0 writes row_scale_out[0..m) once (never with the S32 output).
  if (p.row_scale_out != nullptr && blockIdx.x == 0 && static_cast<int>(threadIdx.x) < m && !accumulator_only<T>(p)) {
    static_cast<T*>(p.row_scale_out)[threadIdx.x] = E::from_bits(p.static_scale_bits);
  }

  const bool lo_ok = rows.row(group) < n;
  const bool hi_ok = rows.row(group + kHalfRows) < n;
  // K window start: 0, or for "_a8" kWindowShift where the tile's rows begin 8 bytes past a 16-byte
  // boundary (all its rows alike: RowMap), so that whole windows are 16-byte loads.
  int ws = 0;
  bool act_vec16 = false;  // "_a8": the warp's token rows are 16-byte aligned at the window
  if constexpr (kLoadBytes == kLoad8) {
    const uintptr_t first = reinterpret_cast<uintptr_t>(p.weight + rows.first * p.ld_weight);
    ws = first % kLoad16 == 0 ? 0 : kWindowShift;
    act_vec16 = p.ld_act % kLoad16 == 0 && (reinterpret_cast<uintptr_t>(p.act) + ws) % kLoad16 == 0;
  }
  const int64_t lane_k = static_cast<int64_t>(ws) + quad * kPieceBytes;  // the lane's piece in a chunk
  const int8_t* w_lo = p.weight + (lo_ok ? rows.row(group) : 0) * p.ld_weight + lane_k;
  const int8_t* w_hi = p.weight + (hi_ok ? rows.row(group + kHalfRows) : 0) * p.ld_weight + lane_k;
  const int8_t* a_base = p.act + static_cast<int64_t>(group) * p.ld_act + lane_k;
  const int64_t a_tile_stride = static_cast<int64_t>(kTokensPerTile) * p.ld_act;
  const uint64_t policy = weight_policy();

  int32_t acc[kTokenTiles][4];
#pragma unroll
  for (int t = 0; t < kTokenTiles; ++t) {
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[t][j] = 0;
  }

  const int chunks = (k - ws + kKPerChunk - 1) / kKPerChunk;
#pragma unroll 1
  for (int c0 = kgroup * kChunksPerIter; c0 < chunks; c0 += kKGroups * kChunksPerIter) {
    uint4 wl[kChunksPerIter], wh[kChunksPerIter], av[kChunksPerIter][kTokenTiles];
    // All loads of the iteration first: 16 rows x kChunksPerIter x 64 bytes in flight per warp.
#pragma unroll
    for (int u = 0; u < kChunksPerIter; ++u) {
      const int kc = (c0 + u) * kKPerChunk;
      wl[u] = make_uint4(0, 0, 0, 0);
      wh[u] = make_uint4(0, 0, 0, 0);
      const int8_t* a_tile = a_base + kc;
      if constexpr (kLoadBytes == kLoad16) {
        const bool k_ok = kc + quad * kPieceBytes < k;  // the piece is all inside K or all outside (k % 16 == 0)
        if (k_ok && lo_ok) wl[u] = load_weight16(w_lo + kc, policy);
        if (k_ok && hi_ok) wh[u] = load_weight16(w_hi + kc, policy);
#pragma unroll
        for (int t = 0; t < kTokenTiles; ++t, a_tile += a_tile_stride) {
          av[u][t] = make_uint4(0, 0, 0, 0);
          if (t < tiles && k_ok && t * kTokensPerTile + group < m) av[u][t] = load_act16(a_tile);
        }
      } else {
        const PieceIn in = piece_in(ws + kc + quad * kPieceBytes, k);
        if (lo_ok) load_weight_piece8(wl[u], w_lo + kc, in, policy);
        if (hi_ok) load_weight_piece8(wh[u], w_hi + kc, in, policy);
#pragma unroll
        for (int t = 0; t < kTokenTiles; ++t, a_tile += a_tile_stride) {
          av[u][t] = make_uint4(0, 0, 0, 0);
          if (t < tiles && in.any() && t * kTokensPerTile + group < m) load_act_piece8(av[u][t], a_tile, in, act_vec16);
        }
      }
    }
#pragma unroll
    for (int u = 0; u < kChunksPerIter; ++u) {
      if (ws + (c0 + u) * kKPerChunk >= k) break;  // warp-uniform
#pragma unroll
      for (int t = 0; t < kTokenTiles; ++t) {
        if (t < tiles) {  // warp-uniform
          mma_i8<A, W>(acc[t], wl[u].x, wh[u].x, wl[u].y, wh[u].y, av[u][t].x, av[u][t].y);
          mma_i8<A, W>(acc[t], wl[u].z, wh[u].z, wl[u].w, wh[u].w, av[u][t].z, av[u][t].w);
        }
      }
    }
  }

  // C fragment: c0, c1 = (row g, tokens 2q, 2q+1); c2, c3 = (row g + 8, same tokens).
  const int r_lo = row_warp * kTileRows + group;
#pragma unroll
  for (int t = 0; t < kTokenTiles; ++t) {
    if (t < tiles) {
      const int tok = t * kTokensPerTile + 2 * quad;
      partial[kgroup][tok][r_lo] = acc[t][0];
      partial[kgroup][tok + 1][r_lo] = acc[t][1];
      partial[kgroup][tok][r_lo + kHalfRows] = acc[t][2];
      partial[kgroup][tok + 1][r_lo + kHalfRows] = acc[t][3];
    }
  }
  __syncthreads();

  with_output_mode<T>(p, [&](auto scaled) {
    store_outputs<T, decltype(scaled)::value, A, W, kKGroups, kCtaRows, kThreads, kLoadBytes>(p, partial, tiles,
                                                                                               cta_tile0);
  });
}

// Whether the decode kernels may be launched as programmatic dependents. Set by prepare (once
// per plan, on its device) from the kernel image the device runs: on only while every device
// prepared so far runs images that wait (kPdlMinPtxVersion); one device whose image does not wait
// turns it off for the process (those runs then launch the plain instantiation).
enum PdlState : int { kPdlUnknown = 0, kPdlOn = 1, kPdlOff = 2 };
namespace {
std::atomic<int> g_pdl_state{kPdlUnknown};
}  // namespace

void note_image(const cudaFuncAttributes& attr) {
  if (attr.ptxVersion >= kPdlMinPtxVersion) {
    int expected = kPdlUnknown;
    g_pdl_state.compare_exchange_strong(expected, kPdlOn);
  } else {
    g_pdl_state.store(kPdlOff);
  }
}

// Variants whose M range lies within kPdlMaxTokens have a kPdl instantiation.
template <int kTokenTiles>
constexpr bool has_pdl() {
  return kTokenTiles * kTokensPerTile <= kPdlMaxTokens;
}

// One variant's glue: its CTA shape, prepare (every T and operand pair, the kPdl instantiations too) and
// launch.
template <typename T, Dtype A, Dtype W, int kTokenTiles, int kChunksPerIter, int kRowWarps, int kWarps, int kLoadBytes,
          bool kPdl>
constexpr auto kKernel =
    &decode_mma_kernel<T, A, W, kTokenTiles, kChunksPerIter, kRowWarps, kWarps, kLoadBytes, kPdl>;

template <int kTokenTiles, int kChunksPerIter, int kRowWarps, int kWarps, int kLoadBytes = kLoad16>
struct Decode {
  using S = CtaShape<kTokenTiles, kRowWarps, kWarps>;
  static_assert(kLoadBytes == kLoad16 || kLoadBytes == kLoad8, "16- or 8-byte loads");
  template <typename T, Dtype A, Dtype W, bool kPdl>
  static constexpr auto kernel() {
    return kKernel<T, A, W, kTokenTiles, kChunksPerIter, kRowWarps, kWarps, kLoadBytes, kPdl>;
  }

  // Fails when the binary has no image for the device; notes (kPdl) whether that image waits for a
  // programmatic dependency; opts in to more than the default shared memory where needed.
  template <typename T, Dtype A, Dtype W, bool kPdl>
  static cudaError_t prepare_instance() {
    cudaFuncAttributes attr;
    const cudaError_t e = cudaFuncGetAttributes(&attr, kernel<T, A, W, kPdl>());
    if (e != cudaSuccess) return e;
    if (kPdl) note_image(attr);
    return prepare_kernel<kernel<T, A, W, kPdl>()>(S::kSmemBytes);
  }

  static cudaError_t prepare() {
    return for_each_instance([](auto t, auto ops) -> cudaError_t {
      using T = typename decltype(t)::type;
      constexpr Dtype A = decltype(ops)::kAct, W = decltype(ops)::kWeight;
      const cudaError_t e = prepare_instance<T, A, W, false>();
      if constexpr (has_pdl<kTokenTiles>()) {
        if (e != cudaSuccess) return e;
        return prepare_instance<T, A, W, true>();
      }
      return e;
    });
  }

  static cudaError_t launch(const LinearParams& p, int32_t /*num_sms*/, cudaStream_t stream) {
    LaunchConfig cfg;
    cfg.grid = static_cast<unsigned>((row_tiles(p.n, p.ld_weight, kLoadBytes) + kRowWarps - 1) / kRowWarps);
    cfg.block = S::kThreads;
    cfg.smem = S::kSmemBytes;
    cfg.stream = stream;
    // src/ decided (programmatic); the image check is a safety net for images that would not wait (then
    // the plain instantiation runs, still correct).
    bool pdl = false;
    if constexpr (has_pdl<kTokenTiles>()) pdl = p.programmatic && g_pdl_state.load(std::memory_order_relaxed) == kPdlOn;
    cfg.programmatic = pdl;
    const KernelRef k = kernel_for(p, [pdl](auto t, auto ops) {
      using T = typename decltype(t)::type;
      constexpr Dtype A = decltype(ops)::kAct, W = decltype(ops)::kWeight;
      if constexpr (has_pdl<kTokenTiles>()) {
        if (pdl) return kernel_ref<kernel<T, A, W, true>()>();
      }
      return kernel_ref<kernel<T, A, W, false>()>();
    });
    return kernels::launch(k, cfg, p);
  }

  static constexpr KernelVariant variant(const char* name) {
    return {name,
            Family::kDecode,
            Schedule::kWarpSplitK,
            S::kTokens,
            S::kRows,
            kKPerChunk,
            /*stages=*/1,
            /*split=*/1,
            S::kMinCtasPerSm,
            /*max_m=*/S::kTokens,
            kMinSm,
            /*min_align=*/kLoadBytes == kLoad16 ? kOperandAlign16 : kOperandAlign8,
            /*out_stage_max_bytes=*/0,
            /*honours_programmatic=*/true,
            &prepare,
            &launch};
  }
};

// The 16-byte-load variants by token bucket (the dispatch takes the smallest that holds M), 16-row CTAs
// before 32-row ones; then the 8-byte-load ("_a8") variants the same way: only the 16-row CTAs, the most
// CTAs for the N of a tensor-parallel shard (and half the instantiations) [D-decode-align8].
constexpr KernelVariant kVariants[] = {
    Decode<kM16TokenTiles, kM16ChunksPerIter, kM16RowWarps, kM16Warps>::variant("decode_mma_r16_t16"),
    Decode<kM16TokenTiles, kM16ChunksPerIter, kWideRowWarps, kM16Warps>::variant("decode_mma_r32_t16"),
    Decode<kM32TokenTiles, kM32ChunksPerIter, kNarrowRowWarps, kM32Warps>::variant("decode_mma_r16_t32"),
    Decode<kM32TokenTiles, kM32ChunksPerIter, kWideRowWarps, kM32Warps>::variant("decode_mma_r32_t32"),
    Decode<kM64TokenTiles, kM64ChunksPerIter, kNarrowRowWarps, kM64Warps>::variant("decode_mma_r16_t64"),
    Decode<kM64TokenTiles, kM64ChunksPerIter, kWideRowWarps, kM64Warps>::variant("decode_mma_r32_t64"),
    Decode<kM16TokenTiles, kM16ChunksPerIter, kM16RowWarps, kM16Warps, kLoad8>::variant("decode_mma_r16_t16_a8"),
    Decode<kM32TokenTiles, kM32ChunksPerIter, kNarrowRowWarps, kM32Warps, kLoad8>::variant("decode_mma_r16_t32_a8"),
    Decode<kM64TokenTiles, kM64ChunksPerIter, kNarrowRowWarps, kM64Warps, kLoad8>::variant("decode_mma_r16_t64_a8"),
};

}  // namespace decode_detail

VariantSpan decode_variants() {
  return {decode_detail::kVariants, sizeof(decode_detail::kVariants) / sizeof(decode_detail::kVariants[0])};
}

}  // namespace kernels
}  // namespace sq
