// The Hopper family's split-K cluster kernel (sm_90a only), for small M and few output tiles:
// one output tile per thread-block cluster of S CTAs along K, the exact int32 partials reduced in
// rank order through distributed shared memory. See sm90_splitk.hpp.
#include "sm90_splitk.hpp"

#include <array>
#include <climits>
#include <cstdint>
#include <cstring>
#include <utility>

#include "epilogue.cuh"
#include "launch.hpp"
#include "sm90_common.cuh"
#include "variant_glue.cuh"

namespace sq {
namespace kernels {
namespace {

using namespace sm90;

// The built tiles: heights (output rows per cluster), widths (output columns), splits 1 .. kMaxSplit.
// A height of 64 (one wgmma of rows) carries no zero-filled A rows in its stages at M <= 64.
constexpr int kTileHeights[] = {128, 64};
constexpr int kTileWidths[] = {224, 160, 128, 96, 64};
constexpr int kMaxSplit = 3;
constexpr int32_t kSplitKMaxM = 256;  // the small-M range these variants are meant for
constexpr int kMaxSplitStages = 16;   // pipeline depth cap
constexpr int kPartialPadInts = 8;    // int32 padding per partial row (see partial_pitch)
constexpr int kBankWords = 32;        // shared-memory banks of 4 bytes
constexpr int kMaxClusterSplit = 8;   // portable cluster size
constexpr int kStoreBytes = 16;       // one vector store of the staged epilogue

// Stages of the TM x BN tile that fit in the dynamic shared memory (with the barriers and the
// alignment slack), at most kMaxSplitStages.
constexpr int split_stages(int tm, int bn) {
  const int stage_bytes = tm * kTileK + bn * kTileK;
  const int fit = (kMaxDynamicSmem - kSmemAlign - 2 * kMaxSplitStages * 8) / stage_bytes;
  return fit < kMaxSplitStages ? fit : kMaxSplitStages;
}
// int32 elements between partial rows: BN plus padding such that the fragment stores (8-byte
// stores; a half-warp covers 4 rows x 32 bytes) of 4 consecutive rows fall in distinct 8-bank
// groups, i.e. the pitch is 8 or 24 modulo 32 banks.
constexpr int partial_pitch(int bn) {
  int pitch = bn + kPartialPadInts;
  while (pitch % kBankWords != 8 && pitch % kBankWords != 24) pitch += kPartialPadInts;
  return pitch;
}

template <int TM, int BN>
struct SplitTile {
  static constexpr int kStages = split_stages(TM, BN);
  using Cfg = TileConfig<BN, kStages, TM>;
  static constexpr int kPartialPitch = partial_pitch(BN);
  static_assert(kStages >= 2, "pipeline depth");
  static_assert(TM * kPartialPitch * static_cast<int>(sizeof(int32_t)) <= kStages * Cfg::kStageBytes,
                "the int32 partial tile fits in the stage ring");
  static_assert(Cfg::kABytes % kSwizzleAtomBytes == 0 && Cfg::kBBytes % kSwizzleAtomBytes == 0,
                "every stage's A and B tiles start on a swizzle atom");
  static_assert((kPartialPitch * sizeof(int32_t)) % kStoreBytes == 0, "16-byte aligned partial rows");
};

// ------------------------------------------------------------------ the split-K kernel
// One output tile per cluster; the cluster's S CTAs (cluster dims S x 1 x 1, consecutive in x) split
// the K blocks evenly. Not persistent: grid = tiles * S, tiles in M-fastest order (the CTAs of the
// M tiles of one N tile run together and share the weight through L2).
template <int KCOLS> struct PartialLoad;
template <> struct PartialLoad<2> {
  __device__ static __forceinline__ void load(uint32_t addr, int32_t (&v)[2]) { ld_cluster_v2(addr, v); }
};
template <> struct PartialLoad<4> {
  __device__ static __forceinline__ void load(uint32_t addr, int32_t (&v)[4]) { ld_cluster_v4(addr, v); }
};
template <> struct PartialLoad<8> {
  __device__ static __forceinline__ void load(uint32_t addr, int32_t (&v)[8]) {
    int32_t lo[4], hi[4];
    ld_cluster_v4(addr, lo);
    ld_cluster_v4(addr + sizeof(lo), hi);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      v[i] = lo[i];
      v[4 + i] = hi[i];
    }
  }
};

// The reduction of rows [r_first, r_end) (step kRowsPerPass) of the tile at (m0, col - cidx) over the S
// partials in rank order, the zero-point correction (p.zero_points) and the scale epilogue (kScaled; or
// the S32 output), kCols columns from col per thread. cs, cb: the columns' scales and bias (kScaled).
template <typename T, bool kScaled, Dtype A, Dtype W, int kCols, int kRowsPerPass, int kPartialPitch>
__device__ __forceinline__ void reduce_and_store(const LinearParams& p, uint32_t part, uint32_t split, int32_t m0,
                                                 int32_t r_first, int32_t r_end, int cidx, int32_t col,
                                                 const typename Epi<T>::C (&cs)[kCols],
                                                 const typename Epi<T>::C (&cb)[kCols], bool has_bias, bool vec_ok) {
  using C = typename Epi<T>::C;
  T* out = static_cast<T*>(p.out);
  // The columns' zero-point parts: loaded after the main loop (no registers held across it), from L1
  // (prefetched before it).
  ColZeroPoint cz[kCols];
  if (p.zero_points) {
#pragma unroll
    for (int i = 0; i < kCols; ++i) cz[i] = col + i < p.n ? col_zero_point<W>(p, col + i) : ColZeroPoint{0u, 0u};
  }
  for (int32_t r = r_first; r < r_end; r += kRowsPerPass) {
    const uint32_t addr = part + static_cast<uint32_t>((r * kPartialPitch + cidx) * sizeof(int32_t));
    int32_t sum[kCols];
    PartialLoad<kCols>::load(map_cluster(addr, 0), sum);
    for (uint32_t q = 1; q < split; ++q) {  // fixed rank order (the int32 sums are exact anyway)
      int32_t v[kCols];
      PartialLoad<kCols>::load(map_cluster(addr, q), v);
#pragma unroll
      for (int i = 0; i < kCols; ++i) sum[i] += v[i];
    }
    const int32_t row = m0 + r;
    if (p.zero_points) {
      const RowZeroPoint rz = row_zero_point<A>(p, row);
#pragma unroll
      for (int i = 0; i < kCols; ++i) sum[i] = apply_zero_points(sum[i], rz, cz[i]);
    }
    const C rs = kScaled ? row_scale_of<T>(p, row) : C(0);
    T v[kCols];
#pragma unroll
    for (int i = 0; i < kCols; ++i) v[i] = output_of<T, kScaled>(sum[i], rs, cs[i], has_bias, cb[i]);
    T* orow = out + static_cast<int64_t>(row) * p.ld_out;
    if (vec_ok) {
      uint4 u;
      memcpy(&u, v, sizeof(u));
      *reinterpret_cast<uint4*>(orow + col) = u;
    } else {
#pragma unroll
      for (int i = 0; i < kCols; ++i)
        if (col + i < p.n) orow[col + i] = v[i];
    }
  }
}

template <typename T, Dtype A, Dtype W, int TILE_M, int TILE_N>
__global__ void __launch_bounds__(kThreads, 1)
    sm90_wgmma_splitk_kernel(const __grid_constant__ CUtensorMap tmap_a, const __grid_constant__ CUtensorMap tmap_b,
                             const __grid_constant__ LinearParams p) {
  using Tile = SplitTile<TILE_M, TILE_N>;
  using Cfg = typename Tile::Cfg;
  constexpr int TM = Cfg::kTileRows;
  constexpr int BN = Cfg::kTileN;
  constexpr int kPartialPitch = Tile::kPartialPitch;
  using E = Epi<T>;
  using C = typename E::C;

  extern __shared__ uint8_t smem_raw[];
  const StageRing<Cfg> ring(smem_raw);
  typename StageRing<Cfg>::Pos pos;

  const uint32_t split = cluster_nctarank();
  const uint32_t rank = cluster_ctarank();
  const int32_t m_tiles = (p.m + TM - 1) / TM;
  const int32_t tile = static_cast<int32_t>(blockIdx.x / split);
  const int32_t mt = tile % m_tiles;
  const int32_t nt = tile / m_tiles;
  const int32_t k_blocks = (p.k + kTileK - 1) / kTileK;
  const int32_t kb_begin = static_cast<int32_t>(static_cast<int64_t>(k_blocks) * rank / split);
  const int32_t kb_end = static_cast<int32_t>(static_cast<int64_t>(k_blocks) * (rank + 1) / split);
  const int32_t rows_valid = min(TM, p.m - mt * TM);  // rows of this tile inside the matrix
  const int warpgroup = threadIdx.x / kWarpgroupThreads;
  const int lane = threadIdx.x % 32;

  if (threadIdx.x == 0) ring.init();
  __syncthreads();
  // Programmatic dependent launch (src/ sets p.programmatic in the static plan on sm_90; the
  // launcher then sets the attribute): the next kernel may be scheduled as this grid's CTAs finish,
  // and nothing is read from or written to global memory before the previous grid has completed.
  if (p.programmatic) grid_launch_dependents();
  grid_wait_previous();

  if (warpgroup == 0) {
    // ---------------- producer warpgroup
    const int warp = enter_producer();
    if (warp == 0) {
      if (tma_issuer(&tmap_a, &tmap_b, lane)) {
        for (int32_t kb = kb_begin; kb < kb_end; ++kb) ring.load(pos, &tmap_a, &tmap_b, kb, mt * TM, nt * BN);
      }
      __syncwarp();
    } else if (p.row_scale_out != nullptr && nt == 0 && rank == 0 && !accumulator_only<T>(p)) {
      // Fused scratch fill: rank 0 of the clusters of N tile 0 owns rows [m0, m0 + rows_valid).
      const T scale = E::from_bits(p.static_scale_bits);
      T* dst = static_cast<T*>(p.row_scale_out);
      for (int r = threadIdx.x - 32; r < rows_valid; r += kWarpgroupThreads - 32) dst[mt * TM + r] = scale;
    }
    cluster_sync();  // the partials are written
    cluster_sync();  // every CTA has read them
    return;
  }

  // ---------------- consumer warpgroups
  setmaxnreg_inc<kConsumerRegs>();
  // The reduction's mapping and its column scales and bias, loaded before the main loop so that
  // their latency is hidden under it (they are only read after the cluster barrier).
  // kCols consecutive columns per thread: one 16-byte store of T.
  // kThreadsPerRow threads cover one row; kRowsPerPass rows per pass. When kThreadsPerRow does not
  // divide kConsumerThreads (e.g. BN = 96, 160 or 224 with 8 columns per thread), the last
  // kConsumerThreads - kReduceThreads threads take no rows.
  constexpr int kCols = kStoreBytes / static_cast<int>(sizeof(T));
  constexpr int kThreadsPerRow = BN / kCols;
  constexpr int kRowsPerPass = kConsumerThreads / kThreadsPerRow;
  constexpr int kReduceThreads = kRowsPerPass * kThreadsPerRow;
  static_assert(BN % kCols == 0 && kRowsPerPass >= 1, "reduction mapping");
  const int ct = threadIdx.x - kWarpgroupThreads;  // 0 .. kConsumerThreads-1
  const int cidx = (ct % kThreadsPerRow) * kCols;  // first column of this thread inside the tile
  const int32_t col = nt * BN + cidx;
  const int32_t r_begin = static_cast<int32_t>(static_cast<int64_t>(rows_valid) * rank / split);
  const int32_t r_end = static_cast<int32_t>(static_cast<int64_t>(rows_valid) * (rank + 1) / split);

  // The S32 output (T = float) reads no scale and no bias.
  const bool scaled = !accumulator_only<T>(p);
  const T* wscale = static_cast<const T*>(p.weight_scale);
  const T* bias = static_cast<const T*>(p.bias);
  const bool has_bias = scaled && bias != nullptr;
  const bool vec_ok = (p.ld_out * static_cast<int64_t>(sizeof(T))) % kStoreBytes == 0 &&
                      reinterpret_cast<uintptr_t>(p.out) % kStoreBytes == 0 && col + kCols <= p.n;
  C cs[kCols], cb[kCols];
#pragma unroll
  for (int i = 0; i < kCols; ++i) {
    const bool ok = scaled && col + i < p.n;
    cs[i] = ok ? E::to_c(__ldg(wscale + col + i)) : C(0);
    cb[i] = (ok && has_bias) ? E::to_c(__ldg(bias + col + i)) : C(0);
  }
  // The zero-point vectors of the tile into L1 (their loads come after the main loop).
  if (p.zero_points) prefetch_tile_zero_points(p, mt * TM, TM, nt * BN, BN, ct, kConsumerThreads);
  const int cwg = warpgroup - 1;
  const int warp_in_wg = (threadIdx.x / 32) % 4;
  // A warpgroup whose 64 rows all lie past M (or past a 64-row tile) only keeps the ring turning.
  const bool active = cwg * kWgmmaM < rows_valid;

  const uint32_t part = smem_u32(ring.a);
  if (active) {
    // Zeroed up front, so that a CTA without K blocks (S > K blocks) holds a zero partial and every
    // wgmma accumulates.
    int32_t acc[Wgmma<BN>::kAccRegs];
#pragma unroll
    for (int i = 0; i < Wgmma<BN>::kAccRegs; ++i) acc[i] = 0;
    ring.template mma_blocks<Accumulate::kOnto, BN, A, W>(pos, cwg * kWgmmaM * kTileK, kb_end - kb_begin, acc,
                                                          lane);
    // Both warpgroups are done reading the ring (and every TMA write into it has landed: each
    // stage was waited for): it now takes this CTA's partial tile, int32 [TM][kPartialPitch].
    consumer_sync();
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int row = cwg * kWgmmaM + warp_in_wg * 16 + lane / 4 + 8 * h;
      if (row >= rows_valid) continue;
#pragma unroll
      for (int j = 0; j < BN / 8; ++j) {
        const int col = 8 * j + 2 * (lane % 4);
        st_shared_v2(part + static_cast<uint32_t>((row * kPartialPitch + col) * sizeof(int32_t)), acc[4 * j + 2 * h],
                     acc[4 * j + 2 * h + 1]);
      }
    }
  } else {
    // A warpgroup whose rows all lie past M: release each stage once it has landed.
    ring.release_blocks(pos, kb_end - kb_begin, lane);
    consumer_sync();
  }
  cluster_sync();

  // ---------------- reduction and epilogue of rows [r_begin, r_end) of the tile (mapping above)
  const int32_t r_first = ct < kReduceThreads ? r_begin + ct / kThreadsPerRow : r_end;
  with_output_mode<T>(p, [&](auto mode) {
    reduce_and_store<T, decltype(mode)::value, A, W, kCols, kRowsPerPass, kPartialPitch>(
        p, part, split, mt * TM, r_first, r_end, cidx, col, cs, cb, has_bias, vec_ok);
  });
  cluster_sync();  // no CTA leaves (freeing its shared memory) while a peer may still read it
}

// "sm90_wgmma_splitk_<TM>x<BN>x128_s<stages>_c<S>".
template <int TILE_M, int TILE_N, int SPLIT>
constexpr VariantName kSplitName =
    tile_variant_name("sm90_wgmma_splitk_", TILE_M, TILE_N, SplitTile<TILE_M, TILE_N>::kStages, SPLIT);

// The glue of the variants of one TILE_M x TILE_N tile: one prepare for every T and operand pair (shared by
// the tile's splits); a launch of clusters of SPLIT CTAs along K, one cluster per tile (M-fastest order).
template <typename T, typename Ops, int TILE_M, int TILE_N>
constexpr auto kKernel = &sm90_wgmma_splitk_kernel<T, Ops::kAct, Ops::kWeight, TILE_M, TILE_N>;

template <int TILE_M, int TILE_N>
struct SplitK {
  using Cfg = typename SplitTile<TILE_M, TILE_N>::Cfg;

  static cudaError_t prepare() {
    if (tensor_map_encoder() == nullptr) return cudaErrorNotSupported;
    return for_each_instance([](auto t, auto ops) {
      return prepare_kernel<kKernel<typename decltype(t)::type, decltype(ops), TILE_M, TILE_N>>(Cfg::kSmemBytes);
    });
  }

  template <int SPLIT>
  static cudaError_t launch(const LinearParams& p, int32_t /*num_sms*/, cudaStream_t stream) {
    static_assert(SPLIT >= 1 && SPLIT <= kMaxClusterSplit, "portable cluster size");
    CUtensorMap map_a, map_b;
    cudaError_t e = encode_kmajor(&map_a, p.act, p.m, p.k, p.ld_act, Cfg::kTileRows);
    if (e != cudaSuccess) return e;
    e = encode_kmajor(&map_b, p.weight, p.n, p.k, p.ld_weight, Cfg::kTileN);
    if (e != cudaSuccess) return e;
    const int64_t tiles = ((static_cast<int64_t>(p.m) + Cfg::kTileRows - 1) / Cfg::kTileRows) *
                          ((static_cast<int64_t>(p.n) + Cfg::kTileN - 1) / Cfg::kTileN);
    if (tiles * SPLIT > INT32_MAX) return cudaErrorInvalidConfiguration;
    LaunchConfig cfg;
    cfg.grid = static_cast<unsigned>(tiles * SPLIT);
    cfg.block = kThreads;
    cfg.smem = Cfg::kSmemBytes;
    cfg.stream = stream;
    cfg.programmatic = p.programmatic;
    // A split of one launches without the cluster attribute: each CTA is then a cluster of one (the
    // cluster barriers and the rank-0 reduction work unchanged), and the launch is cheaper [D-splitk-c1].
    cfg.cluster = SPLIT;
    const KernelRef k = kernel_for(p, [](auto t, auto ops) {
      return kernel_ref<kKernel<typename decltype(t)::type, decltype(ops), TILE_M, TILE_N>>();
    });
    return kernels::launch(k, cfg, map_a, map_b, p);
  }

  template <int SPLIT>
  static constexpr KernelVariant variant() {
    return {kSplitName<TILE_M, TILE_N, SPLIT>.text,
            Family::kSm90SplitK,
            Schedule::kClusterSplitK,
            TILE_M,
            TILE_N,
            kTileK,
            Cfg::kStages,
            SPLIT,
            /*ctas_per_sm=*/1,
            kSplitKMaxM,
            /*min_sm=*/90,
            /*min_align=*/kOperandAlign16,
            /*out_stage_max_bytes=*/0,
            /*honours_programmatic=*/true,
            &prepare,
            &launch<SPLIT>};
  }
};

// Entry I: tile height kTileHeights[I / (widths x splits)], then the width kTileWidths[...], then the
// split 1 .. kMaxSplit, so that the tallest, widest tiles and the smallest splits come first (the
// dispatch's order of preference) and the splits of one tile, which share its prepare, stand together.
constexpr size_t kWidthCount = sizeof(kTileWidths) / sizeof(kTileWidths[0]);
constexpr size_t kHeightCount = sizeof(kTileHeights) / sizeof(kTileHeights[0]);
constexpr size_t kEntriesPerHeight = kWidthCount * kMaxSplit;
template <size_t I>
constexpr KernelVariant entry() {
  constexpr int tile_m = kTileHeights[I / kEntriesPerHeight];
  constexpr int tile_n = kTileWidths[I % kEntriesPerHeight / kMaxSplit];
  return SplitK<tile_m, tile_n>::template variant<static_cast<int>(I % kMaxSplit) + 1>();
}
template <size_t... I>
constexpr std::array<KernelVariant, sizeof...(I)> table(std::index_sequence<I...>) {
  return {entry<I>()...};
}
constexpr std::array<KernelVariant, kHeightCount * kEntriesPerHeight> kVariants =
    table(std::make_index_sequence<kHeightCount * kEntriesPerHeight>{});

}  // namespace

VariantSpan sm90_splitk_variants() { return {kVariants.data(), kVariants.size()}; }

}  // namespace kernels
}  // namespace sq
