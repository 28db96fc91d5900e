// The Hopper family (sm_90a only): persistent, warp-specialized W8A8 GEMM.
//   wgmma.mma_async m64nNk32 s32.s8.s8, both operands K-major in 128-byte-swizzled shared memory,
//   fed by TMA (cp.async.bulk.tensor) through an mbarrier-guarded multi-stage ring; the scale
//   epilogue of kernels/epilogue.cuh runs on the register accumulators. See sm90_wgmma.hpp.
#include "sm90_wgmma.hpp"

#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "epilogue.cuh"

namespace sq {
namespace kernels {
namespace {

// ------------------------------------------------------------------ tile configuration
constexpr int kTileM = 128;                // rows of a CTA tile (two consumer warpgroups of 64)
constexpr int kTileK = 128;                // bytes (= int8 elements) of K per stage: one 128B swizzle row
constexpr int kWgmmaM = 64;                // rows of one wgmma
constexpr int kWgmmaK = 32;                // K of one s8 wgmma
constexpr int kKSteps = kTileK / kWgmmaK;  // wgmmas per stage per warpgroup
constexpr int kWarpgroupThreads = 128;
constexpr int kConsumerWarpgroups = kTileM / kWgmmaM;
constexpr int kThreads = kWarpgroupThreads * (1 + kConsumerWarpgroups);  // producer WG + consumers
constexpr int kProducerRegs = 40;          // setmaxnreg.dec for the producer warpgroup
constexpr int kConsumerRegs = 232;         // setmaxnreg.inc for the consumer warpgroups
constexpr int kRasterGroupM = 8;           // M tiles per raster group (tile order for L2 reuse)
constexpr int kEpilogueBatch = 8;          // 8-column groups whose scales the epilogue loads at once
constexpr int kSwizzleAtomBytes = 1024;    // 8 rows x 128 bytes: the 128B-swizzle atom
constexpr int kSmemAlign = kSwizzleAtomBytes;
constexpr int kMaxDynamicSmem = 227 * 1024;

static_assert(kTileK == 128, "the 128-byte swizzle needs 128-byte tile rows");
static_assert(kProducerRegs * kWarpgroupThreads + kConsumerRegs * kWarpgroupThreads * kConsumerWarpgroups <= 65536,
              "register file");

// BN: tile columns; STAGES: pipeline depth.
template <int BN, int STAGES>
struct TileConfig {
  static constexpr int kTileN = BN;
  static constexpr int kStages = STAGES;
  static constexpr int kABytes = kTileM * kTileK;
  static constexpr int kBBytes = BN * kTileK;
  static constexpr int kStageBytes = kABytes + kBBytes;
  static constexpr int kBarrierBytes = 2 * STAGES * 8;
  static constexpr int kSmemBytes = STAGES * kStageBytes + kBarrierBytes + kSmemAlign;
  static_assert(kSmemBytes <= kMaxDynamicSmem, "shared memory");
  static_assert(BN <= 256 && BN % 16 == 0, "wgmma N / TMA box");
  static_assert((BN / 8) % kEpilogueBatch == 0, "epilogue batches");
};

using WideConfig = TileConfig<256, 4>;
using NarrowConfig = TileConfig<128, 6>;

// The split-K variant (small M): one 128 x kSplitTileN tile per cluster of S CTAs along K. Each CTA
// accumulates an exact int32 partial over its K range into its (drained) stage ring, and after a
// cluster barrier CTA r reduces rows [r*R/S, (r+1)*R/S) of the tile over all S partials in rank
// order through distributed shared memory, applies the epilogue and stores 16 bytes per thread.
constexpr int kSplitTileN = 128;
constexpr int kSplitStages = 6;
using SplitConfig = TileConfig<kSplitTileN, kSplitStages>;
constexpr int kPartialPadInts = 8;  // int32 padding per partial row: fragment stores without bank conflicts
constexpr int kPartialPitch = kSplitTileN + kPartialPadInts;  // int32 elements between partial rows
constexpr int kMaxClusterSplit = 8;  // portable cluster size
constexpr int kConsumerThreads = kWarpgroupThreads * kConsumerWarpgroups;
constexpr int kConsumerBarrier = 1;  // named barrier of the consumer warpgroups (0 is __syncthreads)
constexpr int kStoreBytes = 16;      // one vector store of the staged epilogue
static_assert(kTileM * kPartialPitch * static_cast<int>(sizeof(int32_t)) <= kSplitStages * SplitConfig::kStageBytes,
              "the int32 partial tile fits in the stage ring");

// ------------------------------------------------------------------ PTX wrappers
__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void mbar_init(uint64_t* bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_u32(bar)), "r"(count) : "memory");
}

__device__ __forceinline__ void mbar_arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_u32(bar)), "r"(bytes)
               : "memory");
}

__device__ __forceinline__ void mbar_arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smem_u32(bar)) : "memory");
}

__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t parity) {
  const uint32_t addr = smem_u32(bar);
  uint32_t done;
  do {
    asm volatile(
        "{\n.reg .pred p;\n"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        "selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(addr), "r"(parity)
        : "memory");
  } while (!done);
}

__device__ __forceinline__ void tma_prefetch_desc(const CUtensorMap* map) {
  asm volatile("prefetch.tensormap [%0];" ::"l"(reinterpret_cast<uint64_t>(map)) : "memory");
}

// 2D TMA load of one box at (c0 = k, c1 = row) into shared memory, completing on `bar`.
__device__ __forceinline__ void tma_load_2d(void* dst, const CUtensorMap* map, uint64_t* bar, int32_t c0,
                                            int32_t c1) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], [%2];" ::"r"(
          smem_u32(dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(smem_u32(bar)), "r"(c0), "r"(c1)
      : "memory");
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
}

__device__ __forceinline__ uint32_t cluster_ctarank() {
  uint32_t r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;" : "=r"(r));
  return r;
}
__device__ __forceinline__ uint32_t cluster_nctarank() {
  uint32_t r;
  asm volatile("mov.u32 %0, %%cluster_nctarank;" : "=r"(r));
  return r;
}
// Every thread of every CTA of the cluster arrives; release/acquire orders shared-memory accesses.
__device__ __forceinline__ void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release;\nbarrier.cluster.wait.acquire;" ::: "memory");
}
// Barrier of the consumer warpgroups only (not .aligned: lanes may arrive from divergent spins).
__device__ __forceinline__ void consumer_sync() {
  asm volatile("barrier.sync %0, %1;" ::"n"(kConsumerBarrier), "n"(kConsumerThreads) : "memory");
}
// The address of shared-memory byte `addr` of cluster CTA `rank`.
__device__ __forceinline__ uint32_t map_cluster(uint32_t addr, uint32_t rank) {
  uint32_t r;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(r) : "r"(addr), "r"(rank));
  return r;
}
__device__ __forceinline__ void ld_cluster_v2(uint32_t addr, int32_t (&v)[2]) {
  asm volatile("ld.shared::cluster.v2.s32 {%0, %1}, [%2];" : "=r"(v[0]), "=r"(v[1]) : "r"(addr) : "memory");
}
__device__ __forceinline__ void ld_cluster_v4(uint32_t addr, int32_t (&v)[4]) {
  asm volatile("ld.shared::cluster.v4.s32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v[0]), "=r"(v[1]), "=r"(v[2]), "=r"(v[3])
               : "r"(addr)
               : "memory");
}
__device__ __forceinline__ void st_shared_v2(uint32_t addr, int32_t a, int32_t b) {
  asm volatile("st.shared.v2.s32 [%0], {%1, %2};" ::"r"(addr), "r"(a), "r"(b) : "memory");
}

template <int R>
__device__ __forceinline__ void setmaxnreg_inc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(R));
}
template <int R>
__device__ __forceinline__ void setmaxnreg_dec() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(R));
}

// wgmma shared-memory matrix descriptor for a K-major tile with 128-byte swizzle: rows of
// 128 bytes, 8-row atoms 1024 bytes apart (stride byte offset); the leading byte offset is
// unused for this layout. The tile base must be 1024-byte aligned (base offset 0).
constexpr uint64_t kDescLayoutSwizzle128 = 1;
constexpr uint64_t kDescLeadingByteOffset = 1;  // ignored for swizzled K-major layouts
constexpr uint64_t kDescStrideByteOffset = kSwizzleAtomBytes >> 4;
__device__ __forceinline__ uint64_t make_desc_sw128(uint32_t smem_addr) {
  return static_cast<uint64_t>((smem_addr & 0x3FFFF) >> 4) | (kDescLeadingByteOffset << 16) |
         (kDescStrideByteOffset << 32) | (kDescLayoutSwizzle128 << 62);
}
// Descriptor start-address units per K step of 32 bytes.
constexpr uint64_t kDescKStep = kWgmmaK >> 4;

// wgmma.mma_async m64nNk32 s32.s8.s8, A and B from shared memory. accumulate == 0 overwrites d.
template <int N> struct Wgmma;

template <> struct Wgmma<256> {
  static constexpr int kAccRegs = 128;
  __device__ static __forceinline__ void mma(int32_t (&d)[128], uint64_t desc_a, uint64_t desc_b, int32_t accumulate) {
    asm volatile(
        "{\n.reg .pred p;\n"
        "setp.ne.b32 p, %130, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k32.s32.s8.s8 "
        "{"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
        "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
        "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
        "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
        "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
        "}, %128, %129, p;\n}\n"
        : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]),
          "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]),
          "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]),
          "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]),
          "+r"(d[32]), "+r"(d[33]), "+r"(d[34]), "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]),
          "+r"(d[40]), "+r"(d[41]), "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]),
          "+r"(d[48]), "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]),
          "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]), "+r"(d[63]),
          "+r"(d[64]), "+r"(d[65]), "+r"(d[66]), "+r"(d[67]), "+r"(d[68]), "+r"(d[69]), "+r"(d[70]), "+r"(d[71]),
          "+r"(d[72]), "+r"(d[73]), "+r"(d[74]), "+r"(d[75]), "+r"(d[76]), "+r"(d[77]), "+r"(d[78]), "+r"(d[79]),
          "+r"(d[80]), "+r"(d[81]), "+r"(d[82]), "+r"(d[83]), "+r"(d[84]), "+r"(d[85]), "+r"(d[86]), "+r"(d[87]),
          "+r"(d[88]), "+r"(d[89]), "+r"(d[90]), "+r"(d[91]), "+r"(d[92]), "+r"(d[93]), "+r"(d[94]), "+r"(d[95]),
          "+r"(d[96]), "+r"(d[97]), "+r"(d[98]), "+r"(d[99]), "+r"(d[100]), "+r"(d[101]), "+r"(d[102]), "+r"(d[103]),
          "+r"(d[104]), "+r"(d[105]), "+r"(d[106]), "+r"(d[107]), "+r"(d[108]), "+r"(d[109]), "+r"(d[110]), "+r"(d[111]),
          "+r"(d[112]), "+r"(d[113]), "+r"(d[114]), "+r"(d[115]), "+r"(d[116]), "+r"(d[117]), "+r"(d[118]), "+r"(d[119]),
          "+r"(d[120]), "+r"(d[121]), "+r"(d[122]), "+r"(d[123]), "+r"(d[124]), "+r"(d[125]), "+r"(d[126]), "+r"(d[127])
        : "l"(desc_a), "l"(desc_b), "r"(accumulate));
  }
};

template <> struct Wgmma<128> {
  static constexpr int kAccRegs = 64;
  __device__ static __forceinline__ void mma(int32_t (&d)[64], uint64_t desc_a, uint64_t desc_b, int32_t accumulate) {
    asm volatile(
        "{\n.reg .pred p;\n"
        "setp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 "
        "{"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
        "}, %64, %65, p;\n}\n"
        : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]), "+r"(d[7]),
          "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]), "+r"(d[14]), "+r"(d[15]),
          "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]), "+r"(d[21]), "+r"(d[22]), "+r"(d[23]),
          "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]), "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]),
          "+r"(d[32]), "+r"(d[33]), "+r"(d[34]), "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]),
          "+r"(d[40]), "+r"(d[41]), "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]),
          "+r"(d[48]), "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]),
          "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]), "+r"(d[63])
        : "l"(desc_a), "l"(desc_b), "r"(accumulate));
  }
};

// ------------------------------------------------------------------ epilogue helpers
template <typename T> struct PairOf;
template <> struct PairOf<float> {
  using type = float2;
  __device__ static __forceinline__ type make(float a, float b) { return make_float2(a, b); }
};
template <> struct PairOf<double> {
  using type = double2;
  __device__ static __forceinline__ type make(double a, double b) { return make_double2(a, b); }
};
template <> struct PairOf<__half> {
  using type = __half2;
  __device__ static __forceinline__ type make(__half a, __half b) { return __halves2half2(a, b); }
};
template <> struct PairOf<__nv_bfloat16> {
  using type = __nv_bfloat162;
  __device__ static __forceinline__ type make(__nv_bfloat16 a, __nv_bfloat16 b) { return __halves2bfloat162(a, b); }
};

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
template <typename T, typename Cfg>
__global__ void __launch_bounds__(kThreads, 1)
    sm90_wgmma_ws_kernel(const __grid_constant__ CUtensorMap tmap_a, const __grid_constant__ CUtensorMap tmap_b,
                         const __grid_constant__ LinearParams p) {
  constexpr int BN = Cfg::kTileN;
  constexpr int STAGES = Cfg::kStages;
  using E = Epi<T>;
  using C = typename E::C;

  extern __shared__ uint8_t smem_raw[];
  uint8_t* smem = reinterpret_cast<uint8_t*>(
      (reinterpret_cast<uintptr_t>(smem_raw) + (kSmemAlign - 1)) & ~static_cast<uintptr_t>(kSmemAlign - 1));
  uint8_t* smem_a = smem;
  uint8_t* smem_b = smem + STAGES * Cfg::kABytes;
  uint64_t* full_bar = reinterpret_cast<uint64_t*>(smem_b + STAGES * Cfg::kBBytes);
  uint64_t* empty_bar = full_bar + STAGES;

  const int32_t m_tiles = (p.m + kTileM - 1) / kTileM;
  const int32_t n_tiles = (p.n + BN - 1) / BN;
  const int32_t num_tiles = m_tiles * n_tiles;
  const int32_t k_blocks = (p.k + kTileK - 1) / kTileK;
  const int warpgroup = threadIdx.x / kWarpgroupThreads;
  const int lane = threadIdx.x % 32;

  if (threadIdx.x == 0) {
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(&full_bar[s], 1);                          // the producer's arrive.expect_tx
      mbar_init(&empty_bar[s], kConsumerWarpgroups * 4);  // one arrive per consumer warp
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();

  if (warpgroup == 0) {
    // ---------------- producer warpgroup
    setmaxnreg_dec<kProducerRegs>();
    const int warp = threadIdx.x / 32;
    if (warp == 0) {
      if (lane == 0) {
        tma_prefetch_desc(&tmap_a);
        tma_prefetch_desc(&tmap_b);
        int stage = 0;
        uint32_t phase = 0;
        for (int32_t tile = blockIdx.x; tile < num_tiles; tile += gridDim.x) {
          int32_t mt, nt;
          tile_coords(tile, m_tiles, n_tiles, mt, nt);
          for (int32_t kb = 0; kb < k_blocks; ++kb) {
            mbar_wait(&empty_bar[stage], phase ^ 1);
            mbar_arrive_expect_tx(&full_bar[stage], Cfg::kStageBytes);
            tma_load_2d(smem_a + stage * Cfg::kABytes, &tmap_a, &full_bar[stage], kb * kTileK, mt * kTileM);
            tma_load_2d(smem_b + stage * Cfg::kBBytes, &tmap_b, &full_bar[stage], kb * kTileK, nt * BN);
            if (++stage == STAGES) {
              stage = 0;
              phase ^= 1;
            }
          }
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
  const int cwg = warpgroup - 1;            // 0 or 1: rows [64*cwg, 64*cwg + 64) of the tile
  const int warp_in_wg = (threadIdx.x / 32) % 4;
  const uint32_t a_base = smem_u32(smem_a) + cwg * kWgmmaM * kTileK;
  const uint32_t b_base = smem_u32(smem_b);

  const T* wscale = static_cast<const T*>(p.weight_scale);
  const T* bias = static_cast<const T*>(p.bias);
  const bool has_bias = bias != nullptr;
  T* out = static_cast<T*>(p.out);
  const bool pair_ok = (p.ld_out % 2 == 0) && (reinterpret_cast<uintptr_t>(out) % (2 * sizeof(T)) == 0);

  int32_t acc[Wgmma<BN>::kAccRegs];
  int stage = 0;
  uint32_t phase = 0;
  for (int32_t tile = blockIdx.x; tile < num_tiles; tile += gridDim.x) {
    int32_t mt, nt;
    tile_coords(tile, m_tiles, n_tiles, mt, nt);

    int prev_stage = 0;
    for (int32_t kb = 0; kb < k_blocks; ++kb) {
      mbar_wait(&full_bar[stage], phase);
      const uint64_t da = make_desc_sw128(a_base + stage * Cfg::kABytes);
      const uint64_t db = make_desc_sw128(b_base + stage * Cfg::kBBytes);
      wgmma_fence();
#pragma unroll
      for (int ks = 0; ks < kKSteps; ++ks) {
        Wgmma<BN>::mma(acc, da + ks * kDescKStep, db + ks * kDescKStep, (kb | ks) != 0);
      }
      wgmma_commit();
      // Keep one group in flight; the previous stage's wgmmas are done: release it.
      wgmma_wait<1>();
      if (kb > 0 && lane == 0) mbar_arrive(&empty_bar[prev_stage]);
      prev_stage = stage;
      if (++stage == STAGES) {
        stage = 0;
        phase ^= 1;
      }
    }
    wgmma_wait<0>();
    if (lane == 0) mbar_arrive(&empty_bar[prev_stage]);

    // ---------------- epilogue on the accumulator fragment:
    // acc[4j + 2h + e] is row warp_in_wg*16 + lane/4 + 8h, column 8j + 2*(lane%4) + e.
    // The column scales (and bias) of kEpilogueBatch column groups are loaded together, before
    // any of their stores, so their latencies overlap (the stores may alias them for the compiler).
    const int32_t row0 = mt * kTileM + cwg * kWgmmaM + warp_in_wg * 16 + lane / 4;
    const int32_t col0 = nt * BN + 2 * (lane % 4);
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
#pragma unroll
    for (int jb = 0; jb < BN / 8; jb += kEpilogueBatch) {
      C cs[kEpilogueBatch][2], cb[kEpilogueBatch][2];
#pragma unroll
      for (int j = 0; j < kEpilogueBatch; ++j) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int32_t col = col0 + 8 * (jb + j) + e;
          const bool ok = col < p.n;
          cs[j][e] = ok ? E::to_c(__ldg(wscale + col)) : C(0);
          cb[j][e] = (ok && has_bias) ? E::to_c(__ldg(bias + col)) : C(0);
        }
      }
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        if (!row_ok[h]) continue;
#pragma unroll
        for (int j = 0; j < kEpilogueBatch; ++j) {
          const int32_t col = col0 + 8 * (jb + j);
          if (col >= p.n) continue;
          const int a = 4 * (jb + j) + 2 * h;
          const T v0 = scale_acc<T>(acc[a], rs[h], cs[j][0], has_bias, cb[j][0]);
          if (col + 1 < p.n) {
            const T v1 = scale_acc<T>(acc[a + 1], rs[h], cs[j][1], has_bias, cb[j][1]);
            if (pair_ok) {
              *reinterpret_cast<typename PairOf<T>::type*>(orow[h] + col) = PairOf<T>::make(v0, v1);
            } else {
              orow[h][col] = v0;
              orow[h][col + 1] = v1;
            }
          } else {
            orow[h][col] = v0;
          }
        }
      }
    }
  }
  }  // consumer warpgroups
}

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

template <typename T>
__global__ void __launch_bounds__(kThreads, 1)
    sm90_wgmma_splitk_kernel(const __grid_constant__ CUtensorMap tmap_a, const __grid_constant__ CUtensorMap tmap_b,
                             const __grid_constant__ LinearParams p) {
  using Cfg = SplitConfig;
  constexpr int BN = Cfg::kTileN;
  constexpr int STAGES = Cfg::kStages;
  using E = Epi<T>;
  using C = typename E::C;

  extern __shared__ uint8_t smem_raw[];
  uint8_t* smem = reinterpret_cast<uint8_t*>(
      (reinterpret_cast<uintptr_t>(smem_raw) + (kSmemAlign - 1)) & ~static_cast<uintptr_t>(kSmemAlign - 1));
  uint8_t* smem_a = smem;
  uint8_t* smem_b = smem + STAGES * Cfg::kABytes;
  uint64_t* full_bar = reinterpret_cast<uint64_t*>(smem_b + STAGES * Cfg::kBBytes);
  uint64_t* empty_bar = full_bar + STAGES;

  const uint32_t split = cluster_nctarank();
  const uint32_t rank = cluster_ctarank();
  const int32_t m_tiles = (p.m + kTileM - 1) / kTileM;
  const int32_t tile = static_cast<int32_t>(blockIdx.x / split);
  const int32_t mt = tile % m_tiles;
  const int32_t nt = tile / m_tiles;
  const int32_t k_blocks = (p.k + kTileK - 1) / kTileK;
  const int32_t kb_begin = static_cast<int32_t>(static_cast<int64_t>(k_blocks) * rank / split);
  const int32_t kb_end = static_cast<int32_t>(static_cast<int64_t>(k_blocks) * (rank + 1) / split);
  const int32_t rows_valid = min(kTileM, p.m - mt * kTileM);  // rows of this tile inside the matrix
  const int warpgroup = threadIdx.x / kWarpgroupThreads;
  const int lane = threadIdx.x % 32;

  if (threadIdx.x == 0) {
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(&full_bar[s], 1);
      mbar_init(&empty_bar[s], kConsumerWarpgroups * 4);
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();

  if (warpgroup == 0) {
    // ---------------- producer warpgroup
    setmaxnreg_dec<kProducerRegs>();
    const int warp = threadIdx.x / 32;
    if (warp == 0) {
      if (lane == 0) {
        tma_prefetch_desc(&tmap_a);
        tma_prefetch_desc(&tmap_b);
        int stage = 0;
        uint32_t phase = 0;
        for (int32_t kb = kb_begin; kb < kb_end; ++kb) {
          mbar_wait(&empty_bar[stage], phase ^ 1);
          mbar_arrive_expect_tx(&full_bar[stage], Cfg::kStageBytes);
          tma_load_2d(smem_a + stage * Cfg::kABytes, &tmap_a, &full_bar[stage], kb * kTileK, mt * kTileM);
          tma_load_2d(smem_b + stage * Cfg::kBBytes, &tmap_b, &full_bar[stage], kb * kTileK, nt * BN);
          if (++stage == STAGES) {
            stage = 0;
            phase ^= 1;
          }
        }
      }
      __syncwarp();
    } else if (p.row_scale_out != nullptr && nt == 0 && rank == 0) {
      // Fused scratch fill: rank 0 of the clusters of N tile 0 owns rows [m0, m0 + rows_valid).
      const T scale = E::from_bits(p.static_scale_bits);
      T* dst = static_cast<T*>(p.row_scale_out);
      for (int r = threadIdx.x - 32; r < rows_valid; r += kWarpgroupThreads - 32) dst[mt * kTileM + r] = scale;
    }
    cluster_sync();  // the partials are written
    cluster_sync();  // every CTA has read them
    return;
  }

  // ---------------- consumer warpgroups
  setmaxnreg_inc<kConsumerRegs>();
  const int cwg = warpgroup - 1;
  const int warp_in_wg = (threadIdx.x / 32) % 4;
  // A warpgroup whose 64 rows all lie past M only keeps the ring turning (M <= 64).
  const bool active = cwg * kWgmmaM < rows_valid;
  const uint32_t a_base = smem_u32(smem_a) + cwg * kWgmmaM * kTileK;
  const uint32_t b_base = smem_u32(smem_b);

  const uint32_t part = smem_u32(smem);
  if (active) {
    // Zeroed up front, so that a CTA without K blocks (S > K blocks) holds a zero partial and every
    // wgmma accumulates.
    int32_t acc[Wgmma<BN>::kAccRegs];
#pragma unroll
    for (int i = 0; i < Wgmma<BN>::kAccRegs; ++i) acc[i] = 0;
    int stage = 0;
    uint32_t phase = 0;
    int prev_stage = 0;
    for (int32_t kb = kb_begin; kb < kb_end; ++kb) {
      mbar_wait(&full_bar[stage], phase);
      const uint64_t da = make_desc_sw128(a_base + stage * Cfg::kABytes);
      const uint64_t db = make_desc_sw128(b_base + stage * Cfg::kBBytes);
      wgmma_fence();
#pragma unroll
      for (int ks = 0; ks < kKSteps; ++ks) Wgmma<BN>::mma(acc, da + ks * kDescKStep, db + ks * kDescKStep, 1);
      wgmma_commit();
      wgmma_wait<1>();
      if (kb > kb_begin && lane == 0) mbar_arrive(&empty_bar[prev_stage]);
      prev_stage = stage;
      if (++stage == STAGES) {
        stage = 0;
        phase ^= 1;
      }
    }
    wgmma_wait<0>();
    if (kb_end > kb_begin && lane == 0) mbar_arrive(&empty_bar[prev_stage]);
    // Both warpgroups are done reading the ring (and every TMA write into it has landed: each
    // stage was waited for): it now takes this CTA's partial tile, int32 [kTileM][kPartialPitch].
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
    int stage = 0;
    uint32_t phase = 0;
    for (int32_t kb = kb_begin; kb < kb_end; ++kb) {
      mbar_wait(&full_bar[stage], phase);
      if (lane == 0) mbar_arrive(&empty_bar[stage]);
      if (++stage == STAGES) {
        stage = 0;
        phase ^= 1;
      }
    }
    consumer_sync();
  }
  cluster_sync();

  // ---------------- reduction and epilogue of rows [r_begin, r_end) of the tile
  // kCols consecutive columns per thread: one 16-byte store of T.
  constexpr int kCols = kStoreBytes / static_cast<int>(sizeof(T));
  constexpr int kThreadsPerRow = BN / kCols;
  constexpr int kRowsPerPass = kConsumerThreads / kThreadsPerRow;
  static_assert(BN % kCols == 0 && kConsumerThreads % kThreadsPerRow == 0, "reduction mapping");
  const int ct = threadIdx.x - kWarpgroupThreads;  // 0 .. kConsumerThreads-1
  const int cidx = (ct % kThreadsPerRow) * kCols;  // first column of this thread inside the tile
  const int32_t col = nt * BN + cidx;
  const int32_t r_begin = static_cast<int32_t>(static_cast<int64_t>(rows_valid) * rank / split);
  const int32_t r_end = static_cast<int32_t>(static_cast<int64_t>(rows_valid) * (rank + 1) / split);

  const T* wscale = static_cast<const T*>(p.weight_scale);
  const T* bias = static_cast<const T*>(p.bias);
  const bool has_bias = bias != nullptr;
  T* out = static_cast<T*>(p.out);
  const bool vec_ok = (p.ld_out * static_cast<int64_t>(sizeof(T))) % kStoreBytes == 0 &&
                      reinterpret_cast<uintptr_t>(out) % kStoreBytes == 0 && col + kCols <= p.n;
  C cs[kCols], cb[kCols];
#pragma unroll
  for (int i = 0; i < kCols; ++i) {
    const bool ok = col + i < p.n;
    cs[i] = ok ? E::to_c(__ldg(wscale + col + i)) : C(0);
    cb[i] = (ok && has_bias) ? E::to_c(__ldg(bias + col + i)) : C(0);
  }
  for (int32_t r = r_begin + ct / kThreadsPerRow; r < r_end; r += kRowsPerPass) {
    const uint32_t addr = part + static_cast<uint32_t>((r * kPartialPitch + cidx) * sizeof(int32_t));
    int32_t sum[kCols];
    PartialLoad<kCols>::load(map_cluster(addr, 0), sum);
    for (uint32_t q = 1; q < split; ++q) {  // fixed rank order (the int32 sums are exact anyway)
      int32_t v[kCols];
      PartialLoad<kCols>::load(map_cluster(addr, q), v);
#pragma unroll
      for (int i = 0; i < kCols; ++i) sum[i] += v[i];
    }
    const int32_t row = mt * kTileM + r;
    const C rs = row_scale_of<T>(p, row);
    T v[kCols];
#pragma unroll
    for (int i = 0; i < kCols; ++i) v[i] = scale_acc<T>(sum[i], rs, cs[i], has_bias, cb[i]);
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
  cluster_sync();  // no CTA leaves (freeing its shared memory) while a peer may still read it
}

// ------------------------------------------------------------------ host side
PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* f = nullptr;
    cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
    constexpr unsigned kEncodeTiledVersion = 12000;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, kEncodeTiledVersion, cudaEnableDefault, &q) !=
            cudaSuccess ||
        q != cudaDriverEntryPointSuccess) {
      return static_cast<PFN_cuTensorMapEncodeTiled_v12000>(nullptr);
    }
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(f);
  }();
  return fn;
}

// A K-major int8 matrix [rows, k] with row stride ld (bytes), boxes of box_rows x kTileK, 128B swizzle.
cudaError_t encode_kmajor(CUtensorMap* map, const int8_t* base, int64_t rows, int64_t k, int64_t ld,
                          uint32_t box_rows) {
  const PFN_cuTensorMapEncodeTiled_v12000 encode = tensor_map_encoder();
  if (encode == nullptr) return cudaErrorNotSupported;
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(k), static_cast<cuuint64_t>(rows)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(ld)};
  const cuuint32_t box[2] = {static_cast<cuuint32_t>(kTileK), box_rows};
  const cuuint32_t elem_strides[2] = {1, 1};
  const CUresult r = encode(map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, const_cast<int8_t*>(base), dims, strides, box,
                            elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                            CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  return r == CUDA_SUCCESS ? cudaSuccess : cudaErrorInvalidValue;
}

template <typename Cfg>
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
    LinearParams params = p;
    void* args[] = {&map_a, &map_b, &params};
    return cudaLaunchKernel(reinterpret_cast<const void*>(&sm90_wgmma_ws_kernel<T, Cfg>),
                            dim3(static_cast<unsigned>(grid)), dim3(kThreads), args, Cfg::kSmemBytes, stream);
  }
};

template <typename Cfg>
struct Prepare {
  template <typename T>
  cudaError_t operator()() const {
    return cudaFuncSetAttribute(reinterpret_cast<const void*>(&sm90_wgmma_ws_kernel<T, Cfg>),
                                cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::kSmemBytes);
  }
};

template <typename Cfg>
cudaError_t prepare_config() {
  if (tensor_map_encoder() == nullptr) return cudaErrorNotSupported;
  for (Dtype d : {Dtype::F32, Dtype::F64, Dtype::F16, Dtype::BF16}) {
    const cudaError_t e = dispatch_dtype(d, Prepare<Cfg>{});
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

template <typename Cfg>
cudaError_t launch_config(const LinearParams& p, int32_t num_sms, cudaStream_t stream) {
  return dispatch_dtype(p.dtype, Launch<Cfg>{p, num_sms, stream});
}

// The split-K variant: clusters of SPLIT CTAs along K, one cluster per 128 x kSplitTileN tile.
template <int SPLIT>
struct LaunchSplit {
  static_assert(SPLIT >= 1 && SPLIT <= kMaxClusterSplit, "portable cluster size");
  const LinearParams& p;
  cudaStream_t stream;
  template <typename T>
  cudaError_t operator()() const {
    CUtensorMap map_a, map_b;
    cudaError_t e = encode_kmajor(&map_a, p.act, p.m, p.k, p.ld_act, kTileM);
    if (e != cudaSuccess) return e;
    e = encode_kmajor(&map_b, p.weight, p.n, p.k, p.ld_weight, SplitConfig::kTileN);
    if (e != cudaSuccess) return e;
    const int64_t tiles = ((static_cast<int64_t>(p.m) + kTileM - 1) / kTileM) *
                          ((static_cast<int64_t>(p.n) + SplitConfig::kTileN - 1) / SplitConfig::kTileN);
    if (tiles * SPLIT > INT32_MAX) return cudaErrorInvalidConfiguration;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = SPLIT;
    attr[0].val.clusterDim.y = 1;
    attr[0].val.clusterDim.z = 1;
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(static_cast<unsigned>(tiles * SPLIT));
    cfg.blockDim = dim3(kThreads);
    cfg.dynamicSmemBytes = SplitConfig::kSmemBytes;
    cfg.stream = stream;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    LinearParams params = p;
    void* args[] = {&map_a, &map_b, &params};
    return cudaLaunchKernelExC(&cfg, reinterpret_cast<const void*>(&sm90_wgmma_splitk_kernel<T>), args);
  }
};

struct PrepareSplit {
  template <typename T>
  cudaError_t operator()() const {
    return cudaFuncSetAttribute(reinterpret_cast<const void*>(&sm90_wgmma_splitk_kernel<T>),
                                cudaFuncAttributeMaxDynamicSharedMemorySize, SplitConfig::kSmemBytes);
  }
};

cudaError_t prepare_split() {
  if (tensor_map_encoder() == nullptr) return cudaErrorNotSupported;
  for (Dtype d : {Dtype::F32, Dtype::F64, Dtype::F16, Dtype::BF16}) {
    const cudaError_t e = dispatch_dtype(d, PrepareSplit{});
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

template <int SPLIT>
cudaError_t launch_split(const LinearParams& p, int32_t /*num_sms*/, cudaStream_t stream) {
  return dispatch_dtype(p.dtype, LaunchSplit<SPLIT>{p, stream});
}

}  // namespace

const KernelVariant kSm90SplitK2 = {"sm90_wgmma_splitk_128x128x128_s6_c2", 90, true, &prepare_split,
                                    &launch_split<2>};
const KernelVariant kSm90SplitK3 = {"sm90_wgmma_splitk_128x128x128_s6_c3", 90, true, &prepare_split,
                                    &launch_split<3>};

const KernelVariant kSm90Wide = {"sm90_wgmma_ws_128x256x128_s4", 90, true, &prepare_config<WideConfig>,
                                 &launch_config<WideConfig>};
const KernelVariant kSm90Narrow = {"sm90_wgmma_ws_128x128x128_s6", 90, true, &prepare_config<NarrowConfig>,
                                   &launch_config<NarrowConfig>};

}  // namespace kernels
}  // namespace sq
