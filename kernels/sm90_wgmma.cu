// The Hopper family's persistent kernels (sm_90a only): warp-specialized W8A8 GEMM.
//   wgmma.mma_async m64nNk32 s32.<act>.<weight> (s8 or u8 each), both operands K-major in
//   128-byte-swizzled shared memory, fed by TMA (cp.async.bulk.tensor) through an mbarrier-guarded
//   multi-stage ring; the zero-point correction and the scale epilogue of kernels/epilogue.cuh run on the
//   register accumulators. See sm90_wgmma.hpp.
#include "sm90_wgmma.hpp"

#include <cstdint>

#include "launch.hpp"
#include "sm90_common.cuh"
#include "sm90_epilogue.cuh"
#include "variant_glue.cuh"

namespace sq {
namespace kernels {
namespace {

using namespace sm90;

// The tile widths with as many stages as fit in the shared memory, except 128 (6 stages, as measured
// [D-persistent-widths]).
using Tile96 = TileConfig<96, 8>;
using Tile128 = TileConfig<128, 6>;
using Tile160 = TileConfig<160, 6>;
using Tile256 = TileConfig<256, 4>;
// ------------------------------------------------------------------ the kernel
// How the two consumer warpgroups share the work (Schedule):
//   kCooperative: both on each 128 x BN tile, 64 rows each; their epilogues leave the tensor cores idle.
//   kPingPong: each warpgroup computes whole 128 x BN tiles (two 64-row wgmma blocks per K step), the
//     two taking the CTA's tiles in turn; a warpgroup starts a tile's mainloop only once the other has
//     finished the previous tile's (mbarrier mainloop_done), so one's epilogue runs under the other's
//     mainloop. The producer's in-order loads are what each warpgroup's skipped ring positions assume,
//     and the turn keeps every wait within one phase of its stage's barrier.
template <typename Cfg, Schedule S>
struct KernelSmem {
  // The ring, then (ping-pong) one mainloop_done mbarrier per consumer warpgroup.
  static constexpr int kBytes = Cfg::kSmemBytes + (S == Schedule::kPingPong ? kConsumerWarpgroups * 8 : 0);
  static_assert(kBytes <= kMaxDynamicSmem, "shared memory");
  // Then, for runs whose out rows are not 16-byte aligned, the consumer warps' out-staging slices
  // (sm90_epilogue.cuh; behind the barrier slots and their alignment): cooperative kernels only, where
  // they fit beside the ring; the launch asks for them only for such runs. The ping-pong kernel keeps
  // the element stores: with the staged copy of its epilogue it ran 15-19% slower on aligned rows
  // [D-out-staged].
  static constexpr int kStageReserve = kOutStageBytes + kConsumerWarpgroups * 8 + kStageAlign;
  static constexpr bool kStageFits = S == Schedule::kCooperative && kBytes + kStageReserve <= kMaxDynamicSmem;
  // The consumer warp's slice (warp: its index among the consumer warps) behind the ring at `ring_end`.
  __device__ static __forceinline__ uint8_t* stage_slice(const uint64_t* ring_end, int warp) {
    const uintptr_t at = reinterpret_cast<uintptr_t>(ring_end + kConsumerWarpgroups);
    return reinterpret_cast<uint8_t*>((at + kStageAlign - 1) & ~static_cast<uintptr_t>(kStageAlign - 1)) +
           warp * kWarpStageBytes;
  }
};
constexpr int kWarpsPerWarpgroup = kWarpgroupThreads / 32;

template <typename T, Dtype A, Dtype W, typename Cfg, Schedule S, bool kZeroPoints>
__global__ void __launch_bounds__(kThreads, 1)
    sm90_wgmma_ws_kernel(const __grid_constant__ CUtensorMap tmap_a, const __grid_constant__ CUtensorMap tmap_b,
                         const __grid_constant__ LinearParams p) {
  constexpr int BN = Cfg::kTileN;
  constexpr bool kPingPong = S == Schedule::kPingPong;
  using E = Epi<T>;
  const bool zero_points = kZeroPoints && p.zero_points;  // warp-uniform

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
  // Programmatic dependent launch (p.programmatic; the launcher then sets the attribute): nothing is
  // read from or written to global memory before the previous grid has completed. Unlike the split-K
  // kernels these do not let the next kernel start early: its CTAs would wait on the SMs these
  // persistent CTAs hold [D-linear-pdl].
  grid_wait_previous();

  if (warpgroup == 0) {
    // ---------------- producer warpgroup
    const int warp = enter_producer();
    if (warp == 0) {
      if (tma_issuer(&tmap_a, &tmap_b, lane)) {
        for (int32_t tile = blockIdx.x; tile < num_tiles; tile += gridDim.x) {
          int32_t mt, nt;
          tile_coords(tile, m_tiles, n_tiles, mt, nt);
          for (int32_t kb = 0; kb < k_blocks; ++kb) ring.load(pos, &tmap_a, &tmap_b, kb, mt * kTileM, nt * BN);
        }
      }
    } else if (p.row_scale_out != nullptr && !accumulator_only<T>(p)) {
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
    using Smem = KernelSmem<Cfg, S>;
    constexpr bool kStaged = Smem::kStageFits && kStagedElem<T>;
    uint8_t* const out_stage =
        kStaged ? Smem::stage_slice(ring.empty + Cfg::kStages, cwg * kWarpsPerWarpgroup + warp_in_wg) : nullptr;
    if constexpr (!kPingPong) {
      // Rows [64*cwg, 64*cwg + 64) of every tile of this CTA.
      int32_t acc[Wgmma<BN>::kAccRegs];
      for (int32_t tile = blockIdx.x; tile < num_tiles; tile += gridDim.x) {
        int32_t mt, nt;
        tile_coords(tile, m_tiles, n_tiles, mt, nt);
        prefetch_tile_scales<T, kZeroPoints>(p, mt * kTileM, kTileM, nt * BN, BN, threadIdx.x - kWarpgroupThreads,
                                kConsumerThreads);
        // The tile's K blocks (K >= 1: at least one), the first wgmma overwriting the previous tile's acc.
        ring.template mma_blocks<Accumulate::kOverwriteFirst, BN, A, W>(pos, cwg * kWgmmaM * kTileK, k_blocks, acc,
                                                                         lane);
        if (zero_points)
          apply_fragment_zero_points<A, W, BN>(p, acc, mt * kTileM + cwg * kWgmmaM, nt * BN, warp_in_wg, lane);
        store_fragment<T, BN, kStaged>(p, acc, mt * kTileM + cwg * kWgmmaM, nt * BN, warp_in_wg, lane, out_stage);
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
        prefetch_tile_scales<T, kZeroPoints>(p, mt * kTileM, kTileM, nt * BN, BN, threadIdx.x % kWarpgroupThreads,
                                kWarpgroupThreads);
        // The turn: the other warpgroup's mainloop of tile j - 1 (its i-th for cwg 1, (i-1)-th for
        // cwg 0) has completed the phase of that number on its mainloop_done barrier.
        if (j > 0) mbar_wait(&mainloop_done[1 - cwg], static_cast<uint32_t>(cwg == 1 ? i : i - 1) & 1u);
        ring.template mma_row_blocks<Accumulate::kOverwriteFirst, BN, kConsumerWarpgroups, A, W>(pos, 0, k_blocks, acc,
                                                                                                 lane);
        if (lane == 0) mbar_arrive(&mainloop_done[cwg]);
        pos.skip(k_blocks);  // the other warpgroup's next tile
#pragma unroll
        for (int r = 0; r < kConsumerWarpgroups; ++r) {
          if (zero_points)
            apply_fragment_zero_points<A, W, BN>(p, acc[r], mt * kTileM + r * kWgmmaM, nt * BN, warp_in_wg, lane);
          store_fragment<T, BN>(p, acc[r], mt * kTileM + r * kWgmmaM, nt * BN, warp_in_wg, lane);
        }
      }
    }
  }
}

// One persistent variant's glue: prepare every instantiation (T x operand pair); launch one CTA per SM
// (the shared memory allows one), each striding over the tiles.
template <typename T, typename Ops, typename Cfg, Schedule S, bool kZeroPoints>
constexpr auto kKernel = &sm90_wgmma_ws_kernel<T, Ops::kAct, Ops::kWeight, Cfg, S, kZeroPoints>;

// Whether a schedule also gets a copy without the zero-point code, launched when a run has no zero points:
// the ping-pong kernel measured 6-9% slower at large M with the untaken zero-point branches in its
// epilogue; the cooperative kernels measured no cost and keep one copy [D-pp-zero-points].
template <Schedule S>
constexpr bool kZeroPointFreeCopy = S == Schedule::kPingPong;

template <typename Cfg, Schedule S>
struct Persistent {
  static constexpr int kSmem = KernelSmem<Cfg, S>::kBytes;
  static constexpr int kStageSmem = KernelSmem<Cfg, S>::kStageFits ? KernelSmem<Cfg, S>::kStageReserve : 0;

  static cudaError_t prepare() {
    if (tensor_map_encoder() == nullptr) return cudaErrorNotSupported;
    return for_each_instance([](auto t, auto ops) {
      using T = typename decltype(t)::type;
      cudaError_t e = prepare_kernel<kKernel<T, decltype(ops), Cfg, S, true>>(kSmem + kStageSmem);
      if constexpr (kZeroPointFreeCopy<S>) {
        if (e == cudaSuccess) e = prepare_kernel<kKernel<T, decltype(ops), Cfg, S, false>>(kSmem + kStageSmem);
      }
      return e;
    });
  }

  static cudaError_t launch(const LinearParams& p, int32_t num_sms, cudaStream_t stream) {
    CUtensorMap map_a, map_b;
    cudaError_t e = encode_kmajor(&map_a, p.act, p.m, p.k, p.ld_act, kTileM);
    if (e != cudaSuccess) return e;
    e = encode_kmajor(&map_b, p.weight, p.n, p.k, p.ld_weight, Cfg::kTileN);
    if (e != cudaSuccess) return e;
    const int64_t tiles = ((static_cast<int64_t>(p.m) + kTileM - 1) / kTileM) *
                          ((static_cast<int64_t>(p.n) + Cfg::kTileN - 1) / Cfg::kTileN);
    if (tiles > INT32_MAX) return cudaErrorInvalidConfiguration;
    LaunchConfig cfg;
    cfg.grid = static_cast<unsigned>(tiles < num_sms ? tiles : (num_sms > 0 ? num_sms : 1));
    cfg.block = kThreads;
    cfg.stream = stream;
    cfg.programmatic = p.programmatic;
    const bool zero_point_free = kZeroPointFreeCopy<S> && !p.zero_points;
    const KernelRef k = kernel_for(p, [zero_point_free, &cfg, &p](auto t, auto ops) {
      using T = typename decltype(t)::type;
      // The out-staging slices where the instantiation's epilogue takes them (the kernel's own test).
      cfg.smem = kSmem + (stages_out<T>(p) ? kStageSmem : 0);
      if constexpr (kZeroPointFreeCopy<S>) {
        if (zero_point_free) return kernel_ref<kKernel<T, decltype(ops), Cfg, S, false>>();
      }
      return kernel_ref<kKernel<T, decltype(ops), Cfg, S, true>>();
    });
    return kernels::launch(k, cfg, map_a, map_b, p);
  }

  // "sm90_wgmma_ws_128x<BN>x128_s<stages>" (cooperative) or "sm90_wgmma_pp_..." (ping-pong).
  static constexpr VariantName kName = tile_variant_name(S == Schedule::kPingPong ? "sm90_wgmma_pp_" : "sm90_wgmma_ws_",
                                                         kTileM, Cfg::kTileN, Cfg::kStages, /*split=*/0);

  static constexpr KernelVariant variant() {
    return {kName.text,
            Family::kSm90Wgmma,
            S,
            kTileM,
            Cfg::kTileN,
            kTileK,
            Cfg::kStages,
            /*split=*/1,
            /*ctas_per_sm=*/1,
            /*max_m=*/0,
            /*min_sm=*/90,
            /*min_align=*/kOperandAlign16,
            /*out_stage_max_bytes=*/KernelSmem<Cfg, S>::kStageFits ? static_cast<int32_t>(kStagedMaxElemBytes) : 0,
            /*honours_programmatic=*/true,
            &prepare,
            &launch};
  }
};

// The cooperative widths, widest first (the dispatch's order of preference), then the ping-pong kernel.
constexpr KernelVariant kVariants[] = {
    Persistent<Tile256, Schedule::kCooperative>::variant(), Persistent<Tile160, Schedule::kCooperative>::variant(),
    Persistent<Tile128, Schedule::kCooperative>::variant(), Persistent<Tile96, Schedule::kCooperative>::variant(),
    Persistent<Tile128, Schedule::kPingPong>::variant(),
};

}  // namespace

const KernelVariant& kSm90Narrow = kVariants[2];
const KernelVariant& kSm90PingPong = kVariants[4];

VariantSpan sm90_wgmma_variants() { return {kVariants, sizeof(kVariants) / sizeof(kVariants[0])}; }

}  // namespace kernels
}  // namespace sq
