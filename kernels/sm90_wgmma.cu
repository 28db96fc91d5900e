// The Hopper family's persistent kernels (sm_90a only): warp-specialized W8A8 GEMM.
//   wgmma.mma_async m64nNk32 s32.s8.s8, both operands K-major in 128-byte-swizzled shared memory,
//   fed by TMA (cp.async.bulk.tensor) through an mbarrier-guarded multi-stage ring; the scale
//   epilogue of kernels/epilogue.cuh runs on the register accumulators. See sm90_wgmma.hpp.
#include "sm90_wgmma.hpp"

#include <array>
#include <cstdint>

#include "epilogue.cuh"
#include "launch.hpp"
#include "sm90_common.cuh"

namespace sq {
namespace kernels {
namespace {

using namespace sm90;

constexpr int kRasterGroupM = 8;      // M tiles per raster group (tile order for L2 reuse)
constexpr int kMaxEpilogueBatch = 8;  // 8-column groups whose scales the epilogue loads at once, at most
constexpr int kColumnGroup = 8;       // columns of one accumulator group (the fragment's 8-column blocks)

// The tile widths (kPersistentTileWidths) with as many stages as fit in the shared memory, except
// 128 (6 stages, its measured configuration since v0.1.0).
using Tile96 = TileConfig<96, 8>;
using Tile128 = TileConfig<128, 6>;
using Tile160 = TileConfig<160, 6>;
using Tile256 = TileConfig<256, 4>;

// 8-column groups per epilogue batch for a tile width: the largest even divisor of its group count
// up to kMaxEpilogueBatch (even: the quad exchange of 16-bit outputs takes pairs of groups).
constexpr int epilogue_batch(int bn) {
  for (int b = kMaxEpilogueBatch; b >= 2; b -= 2)
    if ((bn / kColumnGroup) % b == 0) return b;
  return 0;
}

// ------------------------------------------------------------------ epilogue helpers
// The accumulator fragment gives each lane two consecutive columns (a "pair") of a row per
// 8-column group. Before storing, the lanes of a quad (the 4 lanes that hold one 8-column group of
// a row) exchange their pairs with warp shuffles so that each lane holds kLaneStoreBytes of
// consecutive elements of one row; a warp store then writes whole 32-byte sectors (16-bit T: a
// 4-lane transpose over 2 rows x 2 groups, 16 B per lane instead of 4; f32: a 2-lane exchange over
// the 2 rows, 16 B instead of 8; f64: pairs are 16 B already, no exchange). The values are the same
// f32/f64 numbers as without the exchange, rounded once to T (one cvt.rn.{bf16,f16}x2.f32 per pair
// for 16-bit T), so the output bits do not depend on it.
constexpr int kLaneStoreBytes = 16;  // bytes of one row each lane holds after the quad exchange
constexpr int kMaxVectorBytes = 16;  // widest global store (st.global.v4.b32)
constexpr int kQuadLanes = 4;        // lanes that share the 8 columns of one row in the fragment
constexpr int kWordBytes = 4;        // shuffles move 32-bit words
constexpr unsigned kFullWarp = 0xffffffffu;

// Lanes whose pairs are combined: 1 (no exchange), 2 (over the two rows of a lane) or 4 (over
// the two rows and two adjacent 8-column groups).
template <typename T>
struct QuadStore {
  static constexpr int kPairBytes = 2 * static_cast<int>(sizeof(T));
  static constexpr int kRaw = kLaneStoreBytes / kPairBytes;
  static constexpr int kLanes = kRaw < 1 ? 1 : (kRaw > kQuadLanes ? kQuadLanes : kRaw);
  static constexpr int kPairWords = kPairBytes / kWordBytes;  // 32-bit words of one pair
  static constexpr int kWords = kLanes * kPairWords;          // words of one row a lane stores
  static constexpr int kElems = 2 * kLanes;                   // elements of one row a lane stores
  static constexpr int kGroups = kLanes == kQuadLanes ? 2 : 1;  // 8-column groups per exchange
  static constexpr int kChunkBytes = kLanes * kPairBytes < kMaxVectorBytes ? kLanes * kPairBytes : kMaxVectorBytes;
  static constexpr int kChunkElems = kChunkBytes / static_cast<int>(sizeof(T));
  static constexpr int kChunkWords = kChunkBytes / kWordBytes;
  static constexpr int kChunks = kElems / kChunkElems;
  static_assert(kPairBytes % kWordBytes == 0, "pairs of whole 32-bit words");
  static_assert(kElems % kChunkElems == 0, "whole chunks");
  static_assert(kWords == kChunks * kChunkWords, "a lane's row words are whole chunks");
  static_assert(kLanes == 1 || 2 * kGroups == kLanes, "an exchange gives each lane one row of kGroups groups");
};

// The pair (v0, v1) of compute-type values, rounded once to T, as 32-bit words in memory order.
template <typename T> struct PairWords;
template <> struct PairWords<float> {
  __device__ static __forceinline__ void make(float v0, float v1, uint32_t* w) {
    w[0] = __float_as_uint(v0);
    w[1] = __float_as_uint(v1);
  }
};
template <> struct PairWords<double> {
  __device__ static __forceinline__ void make(double v0, double v1, uint32_t* w) {
    w[0] = static_cast<uint32_t>(__double2loint(v0));
    w[1] = static_cast<uint32_t>(__double2hiint(v0));
    w[2] = static_cast<uint32_t>(__double2loint(v1));
    w[3] = static_cast<uint32_t>(__double2hiint(v1));
  }
};
// One cvt.rn.f16x2.f32: round to nearest even of each value, the same bits as __float2half_rn.
template <> struct PairWords<__half> {
  __device__ static __forceinline__ void make(float v0, float v1, uint32_t* w) {
    const __half2 h = __floats2half2_rn(v0, v1);  // .x (low half, lower address) = v0
    w[0] = *reinterpret_cast<const uint32_t*>(&h);
  }
};
// One cvt.rn.bf16x2.f32: the same bits as __float2bfloat16_rn of each value.
template <> struct PairWords<__nv_bfloat16> {
  __device__ static __forceinline__ void make(float v0, float v1, uint32_t* w) {
    const __nv_bfloat162 h = __floats2bfloat162_rn(v0, v1);
    w[0] = *reinterpret_cast<const uint32_t*>(&h);
  }
};

// Element i of a lane's row words, stored alone (the fallback for unaligned out or the N edge).
template <int kBytes> struct ElemStore;
template <> struct ElemStore<2> {
  __device__ static __forceinline__ void store(void* dst, const uint32_t* w, int i) {
    *static_cast<uint16_t*>(dst) = static_cast<uint16_t>(w[i / 2] >> (16 * (i % 2)));
  }
};
template <> struct ElemStore<4> {
  __device__ static __forceinline__ void store(void* dst, const uint32_t* w, int i) {
    *static_cast<uint32_t*>(dst) = w[i];
  }
};
template <> struct ElemStore<8> {
  __device__ static __forceinline__ void store(void* dst, const uint32_t* w, int i) {
    *static_cast<uint2*>(dst) = make_uint2(w[2 * i], w[2 * i + 1]);
  }
};

// One aligned vector store of kWords (1, 2 or 4) 32-bit words.
template <int kWords>
__device__ __forceinline__ void vec_store(void* dst, const uint32_t* w) {
  static_assert(kWords == 1 || kWords == 2 || kWords == 4, "vector width");
  if constexpr (kWords == 4) {
    *static_cast<uint4*>(dst) = make_uint4(w[0], w[1], w[2], w[3]);
  } else if constexpr (kWords == 2) {
    *static_cast<uint2*>(dst) = make_uint2(w[0], w[1]);
  } else {
    *static_cast<uint32_t*>(dst) = w[0];
  }
}

// Exchange with the lane `mask` away (1 or 2 within the quad): this lane keeps half `keep_hi`
// (0: lo, 1: hi) of lo/hi and receives the partner's same half; the result is ordered by the
// source lane (the lane with the bit clear first). n words per half.
template <int n>
__device__ __forceinline__ void quad_exchange(const uint32_t* lo, const uint32_t* hi, int keep_hi, int mask,
                                              uint32_t* outw) {
#pragma unroll
  for (int w = 0; w < n; ++w) {
    const uint32_t send = keep_hi ? lo[w] : hi[w];
    const uint32_t keep = keep_hi ? hi[w] : lo[w];
    const uint32_t recv = __shfl_xor_sync(kFullWarp, send, mask);
    outw[w] = keep_hi ? recv : keep;
    outw[n + w] = keep_hi ? keep : recv;
  }
}

// prefetch.global.L1 of the 128-byte lines holding bytes [first, last], one line per thread of
// the `threads` that call it (ctid in [0, threads)).
constexpr int kL1LineBytes = 128;
__device__ __forceinline__ void prefetch_range_l1(const void* first, const void* last, int ctid, int threads) {
  const uintptr_t end = reinterpret_cast<uintptr_t>(last);
  for (uintptr_t line = (reinterpret_cast<uintptr_t>(first) & ~static_cast<uintptr_t>(kL1LineBytes - 1)) +
                        static_cast<uintptr_t>(ctid) * kL1LineBytes;
       line <= end; line += static_cast<uintptr_t>(threads) * kL1LineBytes) {
    asm volatile("prefetch.global.L1 [%0];" ::"l"(line));
  }
}

// The epilogue's column scales, bias and row scales of the tile at (row0, col0), rows x cols, into
// L1 before its mainloop, so that the loads after it hit L1 instead of waiting on L2 (measured: -3%
// cycles for bf16 at M=4096 N=28672 K=4096, neutral for f32/f64).
template <typename T>
__device__ __forceinline__ void prefetch_tile_scales(const LinearParams& p, int32_t row0, int32_t rows, int32_t col0,
                                                     int32_t cols, int ctid, int threads) {
  const int32_t c_last = min(col0 + cols, p.n) - 1;
  prefetch_range_l1(static_cast<const T*>(p.weight_scale) + col0, static_cast<const T*>(p.weight_scale) + c_last,
                    ctid, threads);
  if (p.bias != nullptr)
    prefetch_range_l1(static_cast<const T*>(p.bias) + col0, static_cast<const T*>(p.bias) + c_last, ctid, threads);
  if (p.row_scale != nullptr) {
    const T* rsp = static_cast<const T*>(p.row_scale);
    prefetch_range_l1(rsp + row0, rsp + min(row0 + rows, p.m) - 1, ctid, threads);
  }
}

// ------------------------------------------------------------------ the epilogue
// Scales and stores one warpgroup's 64 x BN accumulator fragment: rows [row_base, row_base + 64),
// columns [col_base, col_base + BN), bounds-checked against M and N.
template <typename T, int BN>
__device__ __forceinline__ void store_fragment(const LinearParams& p, const int32_t (&acc)[Wgmma<BN>::kAccRegs],
                                               int32_t row_base, int32_t col_base, int warp_in_wg, int lane) {
  constexpr int kEpilogueBatch = epilogue_batch(BN);
  static_assert(kEpilogueBatch >= 2 && BN % kColumnGroup == 0, "whole, even epilogue batches");
  using E = Epi<T>;
  using C = typename E::C;
  using Q = QuadStore<T>;
  const T* wscale = static_cast<const T*>(p.weight_scale);
  const T* bias = static_cast<const T*>(p.bias);
  const bool has_bias = bias != nullptr;
  T* out = static_cast<T*>(p.out);
  // Vector stores need every chunk of a row aligned: the out base and ld_out (in elements).
  const bool vec_ok = (p.ld_out % Q::kChunkElems == 0) && (reinterpret_cast<uintptr_t>(out) % Q::kChunkBytes == 0);
  const int quad_lane = lane % kQuadLanes;
  // acc[4j + 2h + e] is row warp_in_wg*16 + lane/4 + 8h, column 8j + 2*(lane%4) + e.
  // The column scales (and bias) of kEpilogueBatch column groups are loaded together, before any of
  // their stores, so their latencies overlap. They are plain loads, not ld.global.nc: the stores
  // may alias them for the compiler, which therefore cannot sink them next to their uses after
  // earlier stores (with __ldg ptxas did, to save registers, and exposed a load latency per group).
  // In an exchange unit every lane computes all its values (rows past M use row scale 0, columns
  // past N scale 0) so that the whole warp takes part in the shuffles; stores are bounds-checked.
  const int32_t row0 = row_base + warp_in_wg * 16 + lane / 4;
  const int32_t col0 = col_base + 2 * quad_lane;
  bool row_ok[2];
  C rs[2];
  T* orow[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int32_t row = row0 + 8 * h;
    row_ok[h] = row < p.m;
    rs[h] = row_ok[h] ? row_scale_of<T>(p, row) : C(0);
    orow[h] = out + static_cast<int64_t>(row_ok[h] ? row : 0) * p.ld_out;
  }
  // The row this lane stores after an exchange (selected, not indexed: no local memory).
  const int keep_row = quad_lane & 1;
  const int keep_group = (quad_lane >> 1) & 1;  // the 8-column group of a pair of groups (4 lanes)
  const bool keep_ok = keep_row ? row_ok[1] : row_ok[0];
  T* const keep_out = keep_row ? orow[1] : orow[0];
  // Stores the kElems consecutive elements (words w) of row `dst` (when ok) from column `col`.
  auto store_row = [&](bool ok, T* dst, int32_t col, const uint32_t* w) {
    if (!ok) return;
#pragma unroll
    for (int c = 0; c < Q::kChunks; ++c) {
      const int32_t cc = col + c * Q::kChunkElems;
      if (vec_ok && cc + Q::kChunkElems <= p.n) {
        vec_store<Q::kChunkWords>(dst + cc, w + c * Q::kChunkWords);
      } else {
#pragma unroll
        for (int i = 0; i < Q::kChunkElems; ++i) {
          if (cc + i < p.n) ElemStore<sizeof(T)>::store(dst + cc + i, w, c * Q::kChunkElems + i);
        }
      }
    }
  };
#pragma unroll
  for (int jb = 0; jb < BN / 8; jb += kEpilogueBatch) {
    C cs[kEpilogueBatch][2], cb[kEpilogueBatch][2];
#pragma unroll
    for (int j = 0; j < kEpilogueBatch; ++j) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int32_t col = col0 + 8 * (jb + j) + e;
        const bool ok = col < p.n;
        cs[j][e] = ok ? E::to_c(wscale[col]) : C(0);
        cb[j][e] = (ok && has_bias) ? E::to_c(bias[col]) : C(0);
      }
    }
    if constexpr (Q::kLanes == 1) {
      // No exchange: each lane stores its own pairs, row by row, skipping rows past M and
      // column groups past N.
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        if (!row_ok[h]) continue;
#pragma unroll
        for (int j = 0; j < kEpilogueBatch; ++j) {
          const int32_t col = col0 + 8 * (jb + j);
          if (col >= p.n) continue;
          const int a = 4 * (jb + j) + 2 * h;
          uint32_t w[Q::kPairWords];
          PairWords<T>::make(scale_acc<C>(acc[a], rs[h], cs[j][0], has_bias, cb[j][0]),
                             scale_acc<C>(acc[a + 1], rs[h], cs[j][1], has_bias, cb[j][1]), w);
          store_row(true, orow[h], col, w);
        }
      }
    } else {
      // One exchange unit (kGroups 8-column groups) at a time, skipped (warp-uniformly) past N:
      // its pairs are computed right before they are exchanged and stored.
#pragma unroll
      for (int j = 0; j < kEpilogueBatch; j += Q::kGroups) {
        const int32_t group_col = col_base + 8 * (jb + j);
        if (group_col >= p.n) continue;
        // The pair of group jb + j + g, row h: the contract's value in C (scale_acc of the
        // compute type: Epi<C>::finish is exact), rounded once to T by PairWords.
        uint32_t pw[Q::kGroups][2][Q::kPairWords];
#pragma unroll
        for (int g = 0; g < Q::kGroups; ++g) {
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            const int a = 4 * (jb + j + g) + 2 * h;
            PairWords<T>::make(scale_acc<C>(acc[a], rs[h], cs[j + g][0], has_bias, cb[j + g][0]),
                               scale_acc<C>(acc[a + 1], rs[h], cs[j + g][1], has_bias, cb[j + g][1]), pw[g][h]);
          }
        }
        uint32_t w[Q::kWords];
        if constexpr (Q::kLanes == 2) {
          quad_exchange<Q::kPairWords>(pw[0][0], pw[0][1], keep_row, 1, w);
          store_row(keep_ok, keep_out, group_col + 2 * (quad_lane & ~1), w);
        } else {
          uint32_t u[2][2 * Q::kPairWords];
          quad_exchange<Q::kPairWords>(pw[0][0], pw[0][1], keep_row, 1, u[0]);
          quad_exchange<Q::kPairWords>(pw[1][0], pw[1][1], keep_row, 1, u[1]);
          quad_exchange<2 * Q::kPairWords>(u[0], u[1], keep_group, 2, w);
          store_row(keep_ok, keep_out, group_col + 8 * keep_group, w);
        }
      }
    }
  }
}

// Tile order: groups of kRasterGroupM M tiles, N-major inside a group, so that the CTAs running
// at one time share few A and B tiles (L2 reuse).
__device__ __forceinline__ void tile_coords(int32_t tile, int32_t m_tiles, int32_t n_tiles, int32_t& mt,
                                            int32_t& nt) {
  const int32_t per_group = kRasterGroupM * n_tiles;
  const int32_t group = tile / per_group;
  const int32_t first_m = group * kRasterGroupM;
  const int32_t rows = min(m_tiles - first_m, kRasterGroupM);
  const int32_t in_group = tile - group * per_group;
  mt = first_m + in_group % rows;
  nt = in_group / rows;
}

// ------------------------------------------------------------------ the kernel
// How the two consumer warpgroups share the work.
enum class Schedule {
  // Both on each 128 x BN tile, 64 rows each; their epilogues leave the tensor cores idle.
  kCooperative,
  // Ping-pong: each warpgroup computes whole 128 x BN tiles (two 64-row wgmma blocks per K step),
  // the two taking the CTA's tiles in turn; a warpgroup starts a tile's mainloop only once the other
  // has finished the previous tile's (mbarrier mainloop_done), so one's epilogue runs under the
  // other's mainloop. The producer's in-order loads are what each warpgroup's skipped ring positions
  // assume, and the turn keeps every wait within one phase of its stage's barrier.
  kPingPong,
};

template <typename Cfg, Schedule S>
struct KernelSmem {
  // The ring, then (ping-pong) one mainloop_done mbarrier per consumer warpgroup.
  static constexpr int kBytes = Cfg::kSmemBytes + (S == Schedule::kPingPong ? kConsumerWarpgroups * 8 : 0);
  static_assert(kBytes <= kMaxDynamicSmem, "shared memory");
};
constexpr int kWarpsPerWarpgroup = kWarpgroupThreads / 32;

template <typename T, typename Cfg, Schedule S>
__global__ void __launch_bounds__(kThreads, 1)
    sm90_wgmma_ws_kernel(const __grid_constant__ CUtensorMap tmap_a, const __grid_constant__ CUtensorMap tmap_b,
                         const __grid_constant__ LinearParams p) {
  constexpr int BN = Cfg::kTileN;
  constexpr bool kPingPong = S == Schedule::kPingPong;
  using E = Epi<T>;

  extern __shared__ uint8_t smem_raw[];
  const StageRing<Cfg> ring(smem_raw);
  typename StageRing<Cfg>::Pos pos;
  uint64_t* const mainloop_done = ring.empty + Cfg::kStages;  // ping-pong only

  const int32_t m_tiles = (p.m + kTileM - 1) / kTileM;
  const int32_t n_tiles = (p.n + BN - 1) / BN;
  const int32_t num_tiles = m_tiles * n_tiles;
  const int32_t k_blocks = (p.k + kTileK - 1) / kTileK;
  const int warpgroup = threadIdx.x / kWarpgroupThreads;
  const int lane = threadIdx.x % 32;

  if (threadIdx.x == 0) {
    if constexpr (kPingPong) {
      for (int w = 0; w < kConsumerWarpgroups; ++w) mbar_init(&mainloop_done[w], kWarpsPerWarpgroup);
      ring.init(kWarpsPerWarpgroup);  // its fence covers the barriers above
    } else {
      ring.init();
    }
  }
  __syncthreads();
  // Programmatic dependent launch (src/ sets p.programmatic in the static plan on sm_90; the
  // launcher then sets the attribute): nothing is read from or written to global memory before the
  // previous grid has completed. Unlike the split-K kernels these do not let the next kernel start
  // early (its CTAs would wait on the SMs: +1..+16 us back to back at M = 256..512 on the H100).
  grid_wait_previous();

  if (warpgroup == 0) {
    // ---------------- producer warpgroup
    setmaxnreg_dec<kProducerRegs>();
    const int warp = threadIdx.x / 32;
    if (warp == 0) {
      if (lane == 0) {
        tma_prefetch_desc(&tmap_a);
        tma_prefetch_desc(&tmap_b);
        for (int32_t tile = blockIdx.x; tile < num_tiles; tile += gridDim.x) {
          int32_t mt, nt;
          tile_coords(tile, m_tiles, n_tiles, mt, nt);
          for (int32_t kb = 0; kb < k_blocks; ++kb) ring.load(pos, &tmap_a, &tmap_b, kb, mt * kTileM, nt * BN);
        }
      }
    } else if (p.row_scale_out != nullptr) {
      // Fused scratch fill by the other producer warps: N tile 0 owns rows [m0, m0 + kTileM).
      const T scale = E::from_bits(p.static_scale_bits);
      T* dst = static_cast<T*>(p.row_scale_out);
      for (int32_t tile = blockIdx.x; tile < num_tiles; tile += gridDim.x) {
        int32_t mt, nt;
        tile_coords(tile, m_tiles, n_tiles, mt, nt);
        if (nt != 0) continue;
        for (int r = threadIdx.x - 32; r < kTileM; r += kWarpgroupThreads - 32) {
          const int32_t row = mt * kTileM + r;
          if (row < p.m) dst[row] = scale;
        }
      }
    }
  } else {
    // ---------------- consumer warpgroups
    setmaxnreg_inc<kConsumerRegs>();
    const int cwg = warpgroup - 1;  // 0 or 1
    const int warp_in_wg = (threadIdx.x / 32) % kWarpsPerWarpgroup;
    if constexpr (!kPingPong) {
      // Rows [64*cwg, 64*cwg + 64) of every tile of this CTA.
      int32_t acc[Wgmma<BN>::kAccRegs];
      for (int32_t tile = blockIdx.x; tile < num_tiles; tile += gridDim.x) {
        int32_t mt, nt;
        tile_coords(tile, m_tiles, n_tiles, mt, nt);
        prefetch_tile_scales<T>(p, mt * kTileM, kTileM, nt * BN, BN, threadIdx.x - kWarpgroupThreads,
                                kConsumerThreads);
        // The tile's K blocks (K >= 1: at least one), the first wgmma overwriting the previous tile's acc.
        ring.template mma_blocks<true, BN>(pos, cwg * kWgmmaM * kTileK, k_blocks, acc, lane);
        store_fragment<T, BN>(p, acc, mt * kTileM + cwg * kWgmmaM, nt * BN, warp_in_wg, lane);
      }
    } else {
      // The CTA's tiles j = cwg, cwg + 2, ... (its i-th), all 128 rows of each.
      int32_t acc[kConsumerWarpgroups][Wgmma<BN>::kAccRegs];
      pos.skip(cwg * k_blocks);
      int32_t i = 0;
      for (int32_t j = cwg, tile = blockIdx.x + cwg * gridDim.x; tile < num_tiles;
           j += kConsumerWarpgroups, tile += kConsumerWarpgroups * gridDim.x, ++i) {
        int32_t mt, nt;
        tile_coords(tile, m_tiles, n_tiles, mt, nt);
        prefetch_tile_scales<T>(p, mt * kTileM, kTileM, nt * BN, BN, threadIdx.x % kWarpgroupThreads,
                                kWarpgroupThreads);
        // The turn: the other warpgroup's mainloop of tile j - 1 (its i-th for cwg 1, (i-1)-th for
        // cwg 0) has completed the phase of that number on its mainloop_done barrier.
        if (j > 0) mbar_wait(&mainloop_done[1 - cwg], static_cast<uint32_t>(cwg == 1 ? i : i - 1) & 1u);
        ring.template mma_row_blocks<true, BN, kConsumerWarpgroups>(pos, 0, k_blocks, acc, lane);
        if (lane == 0) mbar_arrive(&mainloop_done[cwg]);
        pos.skip(k_blocks);  // the other warpgroup's next tile
#pragma unroll
        for (int r = 0; r < kConsumerWarpgroups; ++r)
          store_fragment<T, BN>(p, acc[r], mt * kTileM + r * kWgmmaM, nt * BN, warp_in_wg, lane);
      }
    }
  }
}

template <typename Cfg, Schedule S>
struct Launch {
  const LinearParams& p;
  int32_t num_sms;
  cudaStream_t stream;
  template <typename T>
  cudaError_t operator()() const {
    CUtensorMap map_a, map_b;
    cudaError_t e = encode_kmajor(&map_a, p.act, p.m, p.k, p.ld_act, kTileM);
    if (e != cudaSuccess) return e;
    e = encode_kmajor(&map_b, p.weight, p.n, p.k, p.ld_weight, Cfg::kTileN);
    if (e != cudaSuccess) return e;
    const int64_t tiles = ((static_cast<int64_t>(p.m) + kTileM - 1) / kTileM) *
                          ((static_cast<int64_t>(p.n) + Cfg::kTileN - 1) / Cfg::kTileN);
    if (tiles > INT32_MAX) return cudaErrorInvalidConfiguration;
    // Persistent: one CTA per SM (the shared memory allows one), each striding over the tiles.
    const int64_t grid = tiles < num_sms ? tiles : (num_sms > 0 ? num_sms : 1);
    // A programmatic dependent of the previous kernel on the stream when src/ says so.
    LaunchConfig cfg;
    cfg.grid = static_cast<unsigned>(grid);
    cfg.block = kThreads;
    cfg.smem = KernelSmem<Cfg, S>::kBytes;
    cfg.stream = stream;
    cfg.programmatic = p.programmatic;
    return launch<&sm90_wgmma_ws_kernel<T, Cfg, S>>(cfg, map_a, map_b, p);
  }
};

template <typename Cfg, Schedule S>
struct Prepare {
  template <typename T>
  cudaError_t operator()() const {
    const cudaError_t e = cudaFuncSetAttribute(reinterpret_cast<const void*>(&sm90_wgmma_ws_kernel<T, Cfg, S>),
                                               cudaFuncAttributeMaxDynamicSharedMemorySize, KernelSmem<Cfg, S>::kBytes);
    if (e != cudaSuccess) return e;
    return prepare_launch<&sm90_wgmma_ws_kernel<T, Cfg, S>>();
  }
};

template <typename Cfg, Schedule S>
cudaError_t prepare_config() {
  if (tensor_map_encoder() == nullptr) return cudaErrorNotSupported;
  for (Dtype d : {Dtype::F32, Dtype::F64, Dtype::F16, Dtype::BF16}) {
    const cudaError_t e = dispatch_dtype(d, Prepare<Cfg, S>{});
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

template <typename Cfg, Schedule S>
cudaError_t launch_config(const LinearParams& p, int32_t num_sms, cudaStream_t stream) {
  return dispatch_dtype(p.dtype, Launch<Cfg, S>{p, num_sms, stream});
}

// "sm90_wgmma_ws_128x<BN>x128_s<stages>" (cooperative) or "sm90_wgmma_pp_..." (ping-pong), built at
// compile time.
template <typename Cfg, Schedule S>
constexpr VariantName kVariantName = tile_variant_name(S == Schedule::kPingPong ? "sm90_wgmma_pp_" : "sm90_wgmma_ws_",
                                                       kTileM, Cfg::kTileN, Cfg::kStages, /*split=*/0);
template <typename Cfg, Schedule S>
const KernelVariant kVariant = {kVariantName<Cfg, S>.text, 90, true, &prepare_config<Cfg, S>, &launch_config<Cfg, S>};
template <typename Cfg>
const KernelVariant& kPersistent = kVariant<Cfg, Schedule::kCooperative>;

}  // namespace

static_assert(kPersistentWidthCount == 4 && kPersistentTileWidths[0] == Tile96::kTileN &&
                  kPersistentTileWidths[1] == Tile128::kTileN && kPersistentTileWidths[2] == Tile160::kTileN &&
                  kPersistentTileWidths[3] == Tile256::kTileN,
              "one entry per built width, in kPersistentTileWidths order");
const std::array<PersistentVariant, kPersistentWidthCount> kSm90PersistentVariants = {{
    {Tile96::kTileN, &kPersistent<Tile96>},
    {Tile128::kTileN, &kPersistent<Tile128>},
    {Tile160::kTileN, &kPersistent<Tile160>},
    {Tile256::kTileN, &kPersistent<Tile256>},
}};
const KernelVariant& kSm90Wide = kPersistent<Tile256>;
const KernelVariant& kSm90PingPong = kVariant<Tile128, Schedule::kPingPong>;
const KernelVariant& kSm90Narrow = kPersistent<Tile128>;

}  // namespace kernels
}  // namespace sq
