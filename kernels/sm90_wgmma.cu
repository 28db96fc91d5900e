// The Hopper family's persistent kernels (sm_90a only): warp-specialized W8A8 GEMM.
//   wgmma.mma_async m64nNk32 s32.s8.s8, both operands K-major in 128-byte-swizzled shared memory,
//   fed by TMA (cp.async.bulk.tensor) through an mbarrier-guarded multi-stage ring; the scale
//   epilogue of kernels/epilogue.cuh runs on the register accumulators. See sm90_wgmma.hpp.
#include "sm90_wgmma.hpp"

#include <cstdint>

#include "epilogue.cuh"
#include "sm90_common.cuh"

namespace sq {
namespace kernels {
namespace {

using namespace sm90;

constexpr int kRasterGroupM = 8;   // M tiles per raster group (tile order for L2 reuse)
constexpr int kEpilogueBatch = 8;  // 8-column groups whose scales the epilogue loads at once

using WideConfig = TileConfig<256, 4>;
using NarrowConfig = TileConfig<128, 6>;
static_assert((WideConfig::kTileN / 8) % kEpilogueBatch == 0, "epilogue batches");
static_assert((NarrowConfig::kTileN / 8) % kEpilogueBatch == 0, "epilogue batches");

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

}  // namespace

const KernelVariant kSm90Wide = {"sm90_wgmma_ws_128x256x128_s4", 90, true, &prepare_config<WideConfig>,
                                 &launch_config<WideConfig>};
const KernelVariant kSm90Narrow = {"sm90_wgmma_ws_128x128x128_s6", 90, true, &prepare_config<NarrowConfig>,
                                   &launch_config<NarrowConfig>};

}  // namespace kernels
}  // namespace sq
