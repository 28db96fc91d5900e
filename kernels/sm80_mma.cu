// The portable tensor-core family (see sm80_mma.hpp): acc = act[M,K] x weight[N,K]^T in int32
// with mma.sync m16n8k32 (act as A, weight as B, each s8 or u8), then the zero-point correction and the
// scale epilogue of epilogue.cuh, stored straight to global.
//
// Shared memory: each stage holds an A tile [BM][BK] and a B tile [BN][BK] of int8, K
// contiguous, in rows of BK = 64 or 128 bytes (4 or 8 chunks of 16 bytes) with an XOR chunk
// swizzle (see swizzled()), so the 8 row addresses of every ldmatrix 8x8 matrix hit 8 distinct
// 16-byte bank groups and the cp.async / st.shared stores of the loaders stay conflict-free as well
// (compute-sanitizer racecheck: clean).
//
// Fragments: ldmatrix.x4 (b16 view) hands thread t the 4 bytes at row t/4, bytes 4*(t%4) of each
// 8x16-byte matrix, which is exactly the 8-bit A (row) and B (col) operand layout of m16n8k32.
#include "sm80_mma.hpp"

#include <climits>
#include <cstdint>
#include <cuda_runtime.h>

#include "epilogue.cuh"
#include "launch.hpp"
#include "mma_sync.cuh"
#include "variant_glue.cuh"

namespace sq {
namespace kernels {
namespace {

constexpr int kWarpSize = 32;
constexpr int kChunkBytes = 16;      // one ldmatrix row; one cp.async of the 16-byte loader
constexpr int kMmaM = 16;            // mma.sync m16n8k32
constexpr int kMmaN = 8;
constexpr int kMmaK = 32;
constexpr int kBankLineBytes = 128;  // 32 banks x 4 bytes: one conflict-free smem wavefront
constexpr int kChunksPerBankLine = kBankLineBytes / kChunkBytes;
constexpr int kRasterGroupM = 8;     // CTA order: groups of 8 M tiles sweep the N tiles (L2 reuse)
constexpr int kPortableSmemLimit = 96 * 1024;  // fits every sm_80+ GPU (sm_86/89: 99 KiB)

// How a stage is filled: cp.async of 16-byte chunks (operands 16-byte aligned), of 8-byte pieces (8-byte
// aligned: K % 16 == 8, as tensor-parallel shards of K have) [D-sm80-align8], or predicated loads of any
// alignment through registers (the generic kernel).
enum class Loader { kCpAsync16, kCpAsync8, kRegisters };
constexpr int kCpAsync8Bytes = 8;

template <int BM_, int BN_, int BK_, int WARPS_M_, int WARPS_N_, int STAGES_, Loader LOADER_,
          int MIN_BLOCKS_, bool PORTABLE_ = true>
struct TileConfig {
  static constexpr int BM = BM_;
  static constexpr int BN = BN_;
  static constexpr int BK = BK_;
  static constexpr int WARPS_M = WARPS_M_;
  static constexpr int WARPS_N = WARPS_N_;
  static constexpr int STAGES = STAGES_;
  static constexpr Loader kLoader = LOADER_;
  static constexpr bool ALIGNED = LOADER_ != Loader::kRegisters;  // the cp.async ring, or generic loads
  static constexpr int kPieceBytes = LOADER_ == Loader::kCpAsync8 ? kCpAsync8Bytes : kChunkBytes;  // one cp.async
  static constexpr int kPiecesPerRow = BK / kPieceBytes;
  static constexpr int MIN_BLOCKS = MIN_BLOCKS_;  // __launch_bounds__ occupancy target
  static constexpr bool kPortable = PORTABLE_;     // shipped configs: must fit kPortableSmemLimit

  static constexpr int kThreads = WARPS_M * WARPS_N * kWarpSize;
  static constexpr int WM = BM / WARPS_M;  // warp tile
  static constexpr int WN = BN / WARPS_N;
  static constexpr int MI = WM / kMmaM;    // mma tiles per warp
  static constexpr int NI = WN / kMmaN;
  static constexpr int kChunksPerRow = BK / kChunkBytes;
  static constexpr int kAChunks = BM * kChunksPerRow;
  static constexpr int kBChunks = BN * kChunksPerRow;
  static constexpr int kAIters = kAChunks / kThreads;  // chunks each thread moves per stage
  static constexpr int kBIters = kBChunks / kThreads;
  static constexpr int kATileBytes = BM * BK;
  static constexpr int kStageBytes = (BM + BN) * BK;
  static constexpr int kSmemBytes = kStageBytes * STAGES;

  static_assert(BK == 64 || BK == 128, "the swizzle handles rows of 4 or 8 chunks");
  static_assert(BK % kMmaK == 0, "BK must be a multiple of the mma K");
  static_assert(WM % kMmaM == 0 && WN % (2 * kMmaN) == 0, "warp tile vs mma / ldmatrix.x4 shape");
  static_assert(kAIters * kThreads == kAChunks && kBIters * kThreads == kBChunks, "loader coverage");
  static_assert(BM * kPiecesPerRow % kThreads == 0 && BN * kPiecesPerRow % kThreads == 0, "cp.async coverage");
  static_assert(ALIGNED ? STAGES >= 2 : STAGES == 2, "generic path is register double-buffered");
  static_assert(kSmemBytes <= kPortableSmemLimit || !kPortable, "too much smem for sm_86/89");
};

// Shared memory stays <= 96 KiB per CTA so every variant runs on every sm_80+ GPU (sm_86/89
// allow 99 KiB per block). Template arguments: BM, BN, BK, WARPS_M, WARPS_N, STAGES, aligned,
// min CTAs per SM.
// 128x256x64, 4 stages: 96 KiB, 8 warps of 64x64, 1 CTA per SM.
using CfgLarge = TileConfig<128, 256, 64, 2, 4, 4, Loader::kCpAsync16, 1>;
// 64x128x128, 3 stages: 72 KiB, 4 warps of 32x64, 2 CTAs per SM.
using CfgMedium = TileConfig<64, 128, 128, 2, 2, 3, Loader::kCpAsync16, 2>;
// The same two tiles filled by 8-byte cp.async [D-sm80-align8].
using CfgLargeA8 = TileConfig<128, 256, 64, 2, 4, 4, Loader::kCpAsync8, 1>;
using CfgMediumA8 = TileConfig<64, 128, 128, 2, 2, 3, Loader::kCpAsync8, 2>;
// Generic 64x128x128, register double buffer: 48 KiB, 4 warps of 32x64, 2 CTAs per SM.
using CfgGeneric = TileConfig<64, 128, 128, 2, 2, 2, Loader::kRegisters, 2>;

// Byte offset of 16-byte chunk `chunk` of smem row `row` in a tile of BK-byte rows. The chunk
// index is XORed with the row's 128-byte line index, so the 8 rows of an ldmatrix 8x8 matrix
// (8 consecutive rows, one logical chunk) occupy 8 distinct 16-byte bank groups:
// BK = 128: chunk ^ (row % 8); BK = 64 (two rows per line): chunk ^ ((row / 2) % 4).
template <int BK>
__device__ __forceinline__ int swizzled(int row, int chunk) {
  constexpr int kChunks = BK / kChunkBytes;
  constexpr int kRowsPerLine = kChunksPerBankLine / kChunks;
  return row * BK + ((chunk ^ ((row / kRowsPerLine) % kChunks)) * kChunkBytes);
}

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte async copy; src_bytes = 0 zero-fills the destination without reading.
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(src_bytes)
               : "memory");
}
// 8-byte async copy (.ca: .cg takes only 16 bytes); src_bytes = 0 zero-fills without reading.
__device__ __forceinline__ void cp_async8(uint32_t dst, const void* src, int src_bytes) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// act (A, row) x weight (B, col), of operand types A and W.
template <Dtype A, Dtype W>
__device__ __forceinline__ void mma_i8(int32_t (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  mma_m16n8k32<A, W, /*kVolatile=*/true>(c, a[0], a[1], a[2], a[3], b0, b1);
}

// The 16-byte chunk that thread tid moves in its i-th load of a tile: row r, chunk c of the row.
template <class Cfg>
struct TileChunk {
  int r, c;
  __device__ __forceinline__ TileChunk(int tid, int i)
      : r((tid + i * Cfg::kThreads) / Cfg::kChunksPerRow), c((tid + i * Cfg::kThreads) % Cfg::kChunksPerRow) {}
};

// ---------------------------------------------------------------- aligned (cp.async) loader
// Rows [row0, row0 + ROWS) of a [rows, K] int8 matrix, K bytes [k0, k0 + BK), into one tile, in pieces of
// Cfg::kPieceBytes (a whole 16-byte chunk, or either half of one). Requires K, the base and ld to be
// multiples of the piece: a piece is entirely in or out of range. Consecutive threads take consecutive
// pieces of a row (coalesced reads; a warp's stores fill whole 128-byte lines of the tile).
template <class Cfg, int ROWS>
__device__ __forceinline__ void load_tile_async(uint8_t* tile, const int8_t* base, int64_t ld,
                                                int32_t rows, int32_t k, int64_t row0, int32_t k0,
                                                int tid) {
  constexpr int kPiece = Cfg::kPieceBytes;
  constexpr int kRowsPerIter = Cfg::kThreads / Cfg::kPiecesPerRow;  // a thread keeps its piece column
  static_assert(Cfg::kThreads % Cfg::kPiecesPerRow == 0 && ROWS % kRowsPerIter == 0, "whole rows per round");
  static_assert(kRowsPerIter % kChunksPerBankLine == 0, "rounds keep the swizzle phase (period: 8 rows)");
  const int r0 = tid / Cfg::kPiecesPerRow;
  const int byte = (tid % Cfg::kPiecesPerRow) * kPiece;  // within the tile row
  const bool k_ok = k0 + byte < k;
  const int8_t* src = base + (row0 + r0) * ld + k0 + byte;
  const uint32_t dst = smem_addr(tile + swizzled<Cfg::BK>(r0, byte / kChunkBytes) + byte % kChunkBytes);
#pragma unroll
  for (int i = 0; i < ROWS / kRowsPerIter; ++i) {
    // Rows r0 + i * kRowsPerIter: the same swizzle phase (kRowsPerIter is a multiple of the swizzle's
    // row period), so the destination moves by whole rows.
    const bool ok = k_ok && row0 + r0 + i * kRowsPerIter < rows;
    const int8_t* from = ok ? src + i * kRowsPerIter * ld : base;
    const uint32_t to = dst + static_cast<uint32_t>(i * kRowsPerIter * Cfg::BK);
    if constexpr (kPiece == kChunkBytes) {
      cp_async16(to, from, ok ? kPiece : 0);
    } else {
      cp_async8(to, from, ok ? kPiece : 0);
    }
  }
}

// ---------------------------------------------------------------- generic (predicated) loader
// One 16-byte chunk starting at K byte gk of a row (row == nullptr: out of range), zero-filled
// beyond K. Uses the widest access the address allows.
__device__ __forceinline__ uint4 load_chunk_generic(const int8_t* row, int32_t gk, int32_t k) {
  uint4 v = make_uint4(0u, 0u, 0u, 0u);
  if (row == nullptr || gk >= k) return v;
  const int8_t* src = row + gk;
  const int n = min(kChunkBytes, k - gk);
  const uintptr_t a = reinterpret_cast<uintptr_t>(src);
  if (n == kChunkBytes && (a % 16) == 0) return __ldg(reinterpret_cast<const uint4*>(src));
  if (n == kChunkBytes && (a % 4) == 0) {
    const uint32_t* s = reinterpret_cast<const uint32_t*>(src);
    return make_uint4(__ldg(s), __ldg(s + 1), __ldg(s + 2), __ldg(s + 3));
  }
  uint32_t w[4] = {0u, 0u, 0u, 0u};
  const uint8_t* sb = reinterpret_cast<const uint8_t*>(src);
#pragma unroll
  for (int j = 0; j < kChunkBytes; ++j) {
    if (j < n) w[j / 4] |= static_cast<uint32_t>(__ldg(sb + j)) << (8 * (j % 4));
  }
  return make_uint4(w[0], w[1], w[2], w[3]);
}

template <class Cfg, int ITERS>
__device__ __forceinline__ void load_regs_generic(uint4 (&regs)[ITERS], const int8_t* base,
                                                  int64_t ld, int32_t rows, int32_t k,
                                                  int64_t row0, int32_t k0, int tid) {
#pragma unroll
  for (int i = 0; i < ITERS; ++i) {
    const TileChunk<Cfg> t(tid, i);
    const int64_t gr = row0 + t.r;
    const int8_t* row = gr < rows ? base + gr * ld : nullptr;
    regs[i] = load_chunk_generic(row, k0 + t.c * kChunkBytes, k);
  }
}

template <class Cfg, int ITERS>
__device__ __forceinline__ void store_regs_generic(uint8_t* tile, const uint4 (&regs)[ITERS],
                                                   int tid) {
#pragma unroll
  for (int i = 0; i < ITERS; ++i) {
    const TileChunk<Cfg> t(tid, i);
    *reinterpret_cast<uint4*>(tile + swizzled<Cfg::BK>(t.r, t.c)) = regs[i];
  }
}

// ---------------------------------------------------------------- math on one smem stage
template <Dtype A, Dtype W, class Cfg>
__device__ __forceinline__ void mma_stage(const uint8_t* stage, int warp_m, int warp_n, int lane,
                                          int32_t (&acc)[Cfg::MI][Cfg::NI][4]) {
  const uint8_t* sa = stage;
  const uint8_t* sb = stage + Cfg::kATileBytes;
  // ldmatrix row addresses: A matrices (rows 0-7 | 8-15) x (k bytes 0-15 | 16-31) -> a0..a3;
  // B matrices (n 0-7: k 0-15, k 16-31 | n 8-15: k 0-15, k 16-31) -> b[ni][0..1], b[ni+1][0..1].
  const int a_row = warp_m * Cfg::WM + (lane % 8) + ((lane / 8) % 2) * 8;
  const int a_chunk = lane / 16;
  const int b_row = warp_n * Cfg::WN + (lane % 8) + (lane / 16) * 8;
  const int b_chunk = (lane / 8) % 2;
  constexpr int kChunksPerMmaK = kMmaK / kChunkBytes;
  constexpr int kSteps = Cfg::BK / kMmaK;
  // Fragments double-buffered across the K steps: step ks + 1 loads while step ks multiplies.
  uint32_t a[2][Cfg::MI][4];
  uint32_t b[2][Cfg::NI][2];
  auto load_frags = [&](int buf, int ks) {
#pragma unroll
    for (int mi = 0; mi < Cfg::MI; ++mi)
      ldmatrix_x4(a[buf][mi], smem_addr(sa + swizzled<Cfg::BK>(a_row + mi * kMmaM,
                                                      ks * kChunksPerMmaK + a_chunk)));
#pragma unroll
    for (int nj = 0; nj < Cfg::NI / 2; ++nj) {
      uint32_t r[4];
      ldmatrix_x4(r, smem_addr(sb + swizzled<Cfg::BK>(b_row + nj * 2 * kMmaN,
                                             ks * kChunksPerMmaK + b_chunk)));
      b[buf][2 * nj][0] = r[0];
      b[buf][2 * nj][1] = r[1];
      b[buf][2 * nj + 1][0] = r[2];
      b[buf][2 * nj + 1][1] = r[3];
    }
  };
  load_frags(0, 0);
#pragma unroll
  for (int ks = 0; ks < kSteps; ++ks) {
    if (ks + 1 < kSteps) load_frags((ks + 1) % 2, ks + 1);
#pragma unroll
    for (int mi = 0; mi < Cfg::MI; ++mi)
#pragma unroll
      for (int ni = 0; ni < Cfg::NI; ++ni)
        mma_i8<A, W>(acc[mi][ni], a[ks % 2][mi], b[ks % 2][ni][0], b[ks % 2][ni][1]);
  }
}

template <typename T>
struct alignas(2 * sizeof(T)) Pair {
  T x, y;
};

// ---------------------------------------------------------------- the epilogue
// The accumulator fragment: acc[mi][ni][2h + e] is row row_base + 16 mi + 8 h, column col_base + 8 ni + e.

// The zero-point correction of the fragment, in place (p.zero_points).
template <Dtype A, Dtype W, class Cfg>
__device__ __forceinline__ void apply_fragment_zero_points(const LinearParams& p, int32_t (&acc)[Cfg::MI][Cfg::NI][4],
                                                           int64_t row_base, int64_t col_base) {
  RowZeroPoint rz[Cfg::MI][2];
#pragma unroll
  for (int mi = 0; mi < Cfg::MI; ++mi)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t r = row_base + mi * kMmaM + h * 8;
      rz[mi][h] = r < p.m ? row_zero_point<A>(p, static_cast<int32_t>(r)) : RowZeroPoint{0u, 0u};
    }
#pragma unroll
  for (int ni = 0; ni < Cfg::NI; ++ni) {
    const int64_t c0 = col_base + ni * kMmaN;
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const ColZeroPoint cz = c0 + e < p.n ? col_zero_point<W>(p, static_cast<int32_t>(c0 + e)) : ColZeroPoint{0u, 0u};
#pragma unroll
      for (int mi = 0; mi < Cfg::MI; ++mi)
#pragma unroll
        for (int h = 0; h < 2; ++h) acc[mi][ni][2 * h + e] = apply_zero_points(acc[mi][ni][2 * h + e], rz[mi][h], cz);
    }
  }
}

// Scales (kScaled) or passes through (the S32 output) the fragment and stores it, bounds-checked on M and N.
template <typename T, bool kScaled, class Cfg>
__device__ __forceinline__ void store_fragment(const LinearParams& p, const int32_t (&acc)[Cfg::MI][Cfg::NI][4],
                                               int64_t row_base, int64_t col_base) {
  using E = Epi<T>;
  using C = typename E::C;
  const bool has_bias = kScaled && p.bias != nullptr;
  const T* wscale = static_cast<const T*>(p.weight_scale);
  const T* bias = static_cast<const T*>(p.bias);
  T* out = static_cast<T*>(p.out);
  const bool pair_ok =
      (reinterpret_cast<uintptr_t>(p.out) % sizeof(Pair<T>)) == 0 && (p.ld_out % 2) == 0;

  C rscale[Cfg::MI][2];
#pragma unroll
  for (int mi = 0; mi < Cfg::MI; ++mi)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t r = row_base + mi * kMmaM + h * 8;
      rscale[mi][h] = kScaled && r < p.m ? row_scale_of<T>(p, static_cast<int32_t>(r)) : C(0);
    }

#pragma unroll
  for (int ni = 0; ni < Cfg::NI; ++ni) {
    const int64_t c0 = col_base + ni * kMmaN;
    C cs[2] = {C(0), C(0)};
    C cb[2] = {C(0), C(0)};
    if constexpr (kScaled) {
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        if (c0 + j < p.n) {
          cs[j] = E::to_c(wscale[c0 + j]);
          if (has_bias) cb[j] = E::to_c(bias[c0 + j]);
        }
      }
    }
#pragma unroll
    for (int mi = 0; mi < Cfg::MI; ++mi)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int64_t r = row_base + mi * kMmaM + h * 8;
        if (r >= p.m || c0 >= p.n) continue;
        const T v0 = output_of<T, kScaled>(acc[mi][ni][2 * h], rscale[mi][h], cs[0], has_bias, cb[0]);
        const T v1 = output_of<T, kScaled>(acc[mi][ni][2 * h + 1], rscale[mi][h], cs[1], has_bias, cb[1]);
        T* dst = out + r * p.ld_out + c0;
        if (c0 + 1 < p.n) {
          if (pair_ok) {
            *reinterpret_cast<Pair<T>*>(dst) = Pair<T>{v0, v1};
          } else {
            dst[0] = v0;
            dst[1] = v1;
          }
        } else {
          dst[0] = v0;
        }
      }
  }
}

// ---------------------------------------------------------------- the kernel
template <typename T, Dtype A, Dtype W, class Cfg>
__global__ void __launch_bounds__(Cfg::kThreads, Cfg::MIN_BLOCKS)
    sm80_mma_kernel(const LinearParams p) {
  using E = Epi<T>;
  using C = typename E::C;
  extern __shared__ __align__(128) uint8_t smem[];

  // Tile order: groups of kRasterGroupM M tiles walk along N together.
  // Row/column indices are int64: M or N near 2^31 - 1 must not overflow at the last tile.
  const int32_t tiles_m = (p.m - 1) / Cfg::BM + 1;
  const int32_t tiles_n = (p.n - 1) / Cfg::BN + 1;
  const int32_t pid = static_cast<int32_t>(blockIdx.x);
  const int32_t per_group = kRasterGroupM * tiles_n;
  const int32_t first_m = (pid / per_group) * kRasterGroupM;
  const int32_t group_rows = min(tiles_m - first_m, kRasterGroupM);
  const int32_t tm = first_m + (pid % per_group) % group_rows;
  const int32_t tn = (pid % per_group) / group_rows;
  const int64_t bm = static_cast<int64_t>(tm) * Cfg::BM;
  const int64_t bn = static_cast<int64_t>(tn) * Cfg::BN;

  const int tid = static_cast<int>(threadIdx.x);
  const int lane = tid % kWarpSize;
  const int warp = tid / kWarpSize;
  const int warp_m = warp / Cfg::WARPS_N;
  const int warp_n = warp % Cfg::WARPS_N;

  // Fused scratch fill: the first N tile owns rows [bm, bm + BM) (never with the S32 output).
  if (p.row_scale_out != nullptr && tn == 0 && !accumulator_only<T>(p)) {
    T* rs_out = static_cast<T*>(p.row_scale_out);
    const T v = E::from_bits(p.static_scale_bits);
    for (int i = tid; i < Cfg::BM; i += Cfg::kThreads)
      if (bm + i < p.m) rs_out[bm + i] = v;
  }

  int32_t acc[Cfg::MI][Cfg::NI][4];
#pragma unroll
  for (int mi = 0; mi < Cfg::MI; ++mi)
#pragma unroll
    for (int ni = 0; ni < Cfg::NI; ++ni)
#pragma unroll
      for (int j = 0; j < 4; ++j) acc[mi][ni][j] = 0;

  const int32_t k_tiles = (p.k + Cfg::BK - 1) / Cfg::BK;

  if constexpr (Cfg::ALIGNED) {
    // Multi-stage cp.async pipeline: STAGES - 1 tiles in flight while one is consumed.
#pragma unroll
    for (int s = 0; s < Cfg::STAGES - 1; ++s) {
      if (s < k_tiles) {
        uint8_t* st = smem + s * Cfg::kStageBytes;
        load_tile_async<Cfg, Cfg::BM>(st, p.act, p.ld_act, p.m, p.k, bm, s * Cfg::BK, tid);
        load_tile_async<Cfg, Cfg::BN>(st + Cfg::kATileBytes, p.weight, p.ld_weight, p.n, p.k, bn, s * Cfg::BK, tid);
      }
      cp_async_commit();
    }
    for (int32_t kt = 0; kt < k_tiles; ++kt) {
      cp_async_wait<Cfg::STAGES - 2>();
      __syncthreads();  // tile kt visible to all; stage (kt - 1) % STAGES free for reuse
      const int32_t next = kt + Cfg::STAGES - 1;
      if (next < k_tiles) {
        uint8_t* st = smem + (next % Cfg::STAGES) * Cfg::kStageBytes;
        load_tile_async<Cfg, Cfg::BM>(st, p.act, p.ld_act, p.m, p.k, bm, next * Cfg::BK, tid);
        load_tile_async<Cfg, Cfg::BN>(st + Cfg::kATileBytes, p.weight, p.ld_weight, p.n, p.k, bn, next * Cfg::BK,
                                      tid);
      }
      cp_async_commit();
      mma_stage<A, W, Cfg>(smem + (kt % Cfg::STAGES) * Cfg::kStageBytes, warp_m, warp_n, lane, acc);
    }
    cp_async_wait<0>();
  } else {
    // Generic: predicated global loads into registers for tile kt + 1 overlap the math on kt.
    uint4 ra[Cfg::kAIters];
    uint4 rb[Cfg::kBIters];
    load_regs_generic<Cfg>(ra, p.act, p.ld_act, p.m, p.k, bm, 0, tid);
    load_regs_generic<Cfg>(rb, p.weight, p.ld_weight, p.n, p.k, bn, 0, tid);
    store_regs_generic<Cfg>(smem, ra, tid);
    store_regs_generic<Cfg>(smem + Cfg::kATileBytes, rb, tid);
    __syncthreads();
    for (int32_t kt = 0; kt < k_tiles; ++kt) {
      const bool more = kt + 1 < k_tiles;
      if (more) {
        load_regs_generic<Cfg>(ra, p.act, p.ld_act, p.m, p.k, bm, (kt + 1) * Cfg::BK, tid);
        load_regs_generic<Cfg>(rb, p.weight, p.ld_weight, p.n, p.k, bn, (kt + 1) * Cfg::BK,
                               tid);
      }
      mma_stage<A, W, Cfg>(smem + (kt % 2) * Cfg::kStageBytes, warp_m, warp_n, lane, acc);
      if (more) {
        uint8_t* st = smem + ((kt + 1) % 2) * Cfg::kStageBytes;
        store_regs_generic<Cfg>(st, ra, tid);
        store_regs_generic<Cfg>(st + Cfg::kATileBytes, rb, tid);
      }
      __syncthreads();
    }
  }

  // Epilogue on the accumulators: c0,c1 -> row g, cols 2t, 2t+1; c2,c3 -> row g + 8.
  const int g = lane / 4;
  const int t4 = lane % 4;
  const int64_t row_base = bm + warp_m * Cfg::WM + g;
  const int64_t col_base = bn + warp_n * Cfg::WN + t4 * 2;
  if (p.zero_points) apply_fragment_zero_points<A, W, Cfg>(p, acc, row_base, col_base);
  with_output_mode<T>(p, [&](auto scaled) {
    store_fragment<T, decltype(scaled)::value, Cfg>(p, acc, row_base, col_base);
  });
}

// ---------------------------------------------------------------- host side
// One variant's glue: prepare every instantiation (T x operand pair: shared-memory opt-in, the carveout, the
// launch handle); launch one grid of tiles.
template <class Cfg>
cudaError_t prepare_cfg() {
  return for_each_instance([](auto t, auto ops) -> cudaError_t {
    constexpr auto kernel = &sm80_mma_kernel<typename decltype(t)::type, decltype(ops)::kAct, decltype(ops)::kWeight, Cfg>;
    const cudaError_t e = cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel),
                                               cudaFuncAttributePreferredSharedMemoryCarveout,
                                               cudaSharedmemCarveoutMaxShared);
    if (e != cudaSuccess) return e;
    return prepare_kernel<kernel>(Cfg::kSmemBytes);
  });
}

template <class Cfg>
cudaError_t launch_cfg(const LinearParams& p, int32_t /*num_sms*/, cudaStream_t stream) {
  if (p.m < 1 || p.n < 1 || p.k < 1) return cudaErrorInvalidValue;
  const int64_t tiles_m = (static_cast<int64_t>(p.m) + Cfg::BM - 1) / Cfg::BM;
  const int64_t tiles_n = (static_cast<int64_t>(p.n) + Cfg::BN - 1) / Cfg::BN;
  // The kernel's tile arithmetic is int32 (a larger grid would not fit in device memory).
  if (tiles_m * tiles_n > INT_MAX || tiles_n * kRasterGroupM > INT_MAX) return cudaErrorInvalidValue;
  LaunchConfig cfg;
  cfg.grid = static_cast<unsigned>(tiles_m * tiles_n);
  cfg.block = Cfg::kThreads;
  cfg.smem = Cfg::kSmemBytes;
  cfg.stream = stream;
  const KernelRef k = kernel_for(p, [](auto t, auto ops) {
    return kernel_ref<&sm80_mma_kernel<typename decltype(t)::type, decltype(ops)::kAct, decltype(ops)::kWeight, Cfg>>();
  });
  return launch(k, cfg, p);
}

template <class Cfg>
constexpr KernelVariant variant(const char* name) {
  return {name,
          Family::kSm80,
          Cfg::ALIGNED ? Schedule::kMultistage : Schedule::kRegisterStaged,
          Cfg::BM,
          Cfg::BN,
          Cfg::BK,
          Cfg::STAGES,
          /*split=*/1,
          Cfg::MIN_BLOCKS,
          /*max_m=*/0,
          /*min_sm=*/80,
          /*min_align=*/Cfg::kLoader == Loader::kCpAsync16  ? kOperandAlign16
                        : Cfg::kLoader == Loader::kCpAsync8 ? kOperandAlign8
                                                             : kOperandAlign1,
          /*out_stage_max_bytes=*/0,
          /*honours_programmatic=*/false,
          &prepare_cfg<Cfg>,
          &launch_cfg<Cfg>};
}

// In the order the dispatch prefers them: large tiles, medium tiles, the generic loader; then the two
// tiles for 8-byte aligned operands.
constexpr KernelVariant kVariants[] = {
    variant<CfgLarge>("sm80_mma_128x256x64_s4"),         variant<CfgMedium>("sm80_mma_64x128x128_s3"),
    variant<CfgGeneric>("sm80_mma_generic_64x128x128"), variant<CfgLargeA8>("sm80_mma_128x256x64_s4_a8"),
    variant<CfgMediumA8>("sm80_mma_64x128x128_s3_a8"),
};

}  // namespace

const KernelVariant& kSm80Large = kVariants[0];
const KernelVariant& kSm80Medium = kVariants[1];
const KernelVariant& kSm80Generic = kVariants[2];
const KernelVariant& kSm80LargeA8 = kVariants[3];
const KernelVariant& kSm80MediumA8 = kVariants[4];

VariantSpan sm80_variants() { return {kVariants, sizeof(kVariants) / sizeof(kVariants[0])}; }

}  // namespace kernels
}  // namespace sq
