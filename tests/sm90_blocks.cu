// Small sm_90a kernels that drive the Hopper building blocks one at a time (see sm90_blocks.hpp): the
// stage ring through TMA, the epilogue's quad exchange and fragment stores, the tile order.
#include "sm90_blocks.hpp"

#include <cuda.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "kernel_params.hpp"
#include "sm90_common.cuh"
#include "sm90_epilogue.cuh"
#include "sm90_order.hpp"

namespace sqt {

namespace {

namespace k = sq::kernels;
namespace sm90 = sq::kernels::sm90;

// ---------------------------------------------------------------- the stage ring
using RingCfg = sm90::TileConfig<kRingTileRows, kRingStages, kRingTileRows>;
constexpr int kRowBytes = sm90::kTileK;  // one tile row of a stage: 128 bytes of K
constexpr int kRowsPerBlock = 2 * kRingTileRows;
constexpr int kWarpsPerWarpgroup = sm90::kWarpgroupThreads / 32;

static_assert(kRingConsumerWarps == sm90::kConsumerWarpgroups * kWarpsPerWarpgroup, "consumer warps");

// Thread 0 loads every K block in order; the consumer warps wait for each stage they take, record their
// ring position, sum the bytes of their share of the stage's rows (a 128-byte row keeps its bytes under
// the 128-byte swizzle, which only permutes its 16-byte chunks), and release the stage.
__global__ void __launch_bounds__(sm90::kThreads, 1)
    ring_kernel(const __grid_constant__ CUtensorMap map_a, const __grid_constant__ CUtensorMap map_b, int blocks,
                bool alternate, int32_t* row_sums, int32_t* stages, int32_t* phases) {
  extern __shared__ uint8_t smem_raw[];
  const sm90::StageRing<RingCfg> ring(smem_raw);
  typename sm90::StageRing<RingCfg>::Pos pos;
  const int warpgroup = threadIdx.x / sm90::kWarpgroupThreads;
  const int lane = threadIdx.x % 32;
  if (threadIdx.x == 0) ring.init(alternate ? kWarpsPerWarpgroup : kRingConsumerWarps);
  __syncthreads();
  if (warpgroup == 0) {
    if (threadIdx.x == 0)
      for (int kb = 0; kb < blocks; ++kb) ring.load(pos, &map_a, &map_b, kb, 0, 0);
    return;
  }
  const int cwg = warpgroup - 1;
  const int cw = (threadIdx.x - sm90::kWarpgroupThreads) / 32;  // consumer warp 0 .. 7
  const int warps = alternate ? kWarpsPerWarpgroup : kRingConsumerWarps;
  const int first_row = alternate ? cw % kWarpsPerWarpgroup : cw;
  const int step = alternate ? sm90::kConsumerWarpgroups : 1;
  if (alternate) pos.skip(cwg);
  for (int kb = alternate ? cwg : 0; kb < blocks; kb += step) {
    sm90::mbar_wait(&ring.full[pos.stage], pos.phase);
    if (lane == 0) {
      stages[kb * kRingConsumerWarps + cw] = pos.stage;
      phases[kb * kRingConsumerWarps + cw] = static_cast<int32_t>(pos.phase);
    }
    for (int row = first_row; row < kRowsPerBlock; row += warps) {
      const uint8_t* tile = row < kRingTileRows ? ring.a + pos.stage * RingCfg::kABytes
                                                : ring.b + pos.stage * RingCfg::kBBytes;
      const int8_t* bytes = reinterpret_cast<const int8_t*>(tile) + (row % kRingTileRows) * kRowBytes + lane * 4;
      int32_t sum = bytes[0] + bytes[1] + bytes[2] + bytes[3];
      for (int o = 16; o > 0; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o);
      if (lane == 0) row_sums[kb * kRowsPerBlock + row] = sum;
    }
    __syncwarp();
    if (lane == 0) sm90::mbar_arrive(&ring.empty[pos.stage]);
    pos.advance();
    if (alternate) pos.skip(step - 1);
  }
}

// ---------------------------------------------------------------- the quad exchange
template <int n>
__global__ void quad_exchange_kernel(int mask, uint32_t* out) {
  const int lane = threadIdx.x;
  uint32_t lo[n], hi[n], o[2 * n];
  for (int w = 0; w < n; ++w) {
    lo[w] = static_cast<uint32_t>(lane * 16 + w);
    hi[w] = static_cast<uint32_t>(1000 + lane * 16 + w);
  }
  sm90::quad_exchange<n>(lo, hi, (lane & mask) != 0 ? 1 : 0, mask, o);
  for (int i = 0; i < 2 * n; ++i) out[lane * 2 * n + i] = o[i];
}

// ---------------------------------------------------------------- the fragment stores
constexpr int kFragmentN = 64;

// One warpgroup: the wgmma accumulator layout (acc[4j + 2h + e] is row warp*16 + lane/4 + 8h, column
// 8j + 2*(lane%4) + e) filled with row * 64 + column, then store_fragment (staged, for the staged element
// types: each warp with its out-staging slice, which it uses where the out rows are not 16-byte aligned).
template <typename T>
__global__ void store_fragment_kernel(const __grid_constant__ k::LinearParams p, bool staged) {
  __shared__ __align__(sm90::kStageAlign) uint8_t stage[sm90::kWarpgroupThreads / 32 * sm90::kWarpStageBytes];
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  int32_t acc[sm90::Wgmma<kFragmentN>::kAccRegs];
  for (int j = 0; j < kFragmentN / 8; ++j)
    for (int h = 0; h < 2; ++h)
      for (int e = 0; e < 2; ++e)
        acc[4 * j + 2 * h + e] = (warp * 16 + lane / 4 + 8 * h) * kFragmentN + 8 * j + 2 * (lane % 4) + e;
  if constexpr (sm90::kStagedElem<T>) {
    if (staged) {
      sm90::store_fragment<T, kFragmentN, true>(p, acc, 0, 0, warp, lane, stage + warp * sm90::kWarpStageBytes);
      return;
    }
  }
  sm90::store_fragment<T, kFragmentN>(p, acc, 0, 0, warp, lane);
}

// The same fragment, corrected for the zero points (p.zero_points: u8 activations, s8 weight) before
// the store.
__global__ void store_fragment_zp_kernel(const __grid_constant__ k::LinearParams p) {
  const int warp = threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  int32_t acc[sm90::Wgmma<kFragmentN>::kAccRegs];
  for (int j = 0; j < kFragmentN / 8; ++j)
    for (int h = 0; h < 2; ++h)
      for (int e = 0; e < 2; ++e)
        acc[4 * j + 2 * h + e] = (warp * 16 + lane / 4 + 8 * h) * kFragmentN + 8 * j + 2 * (lane % 4) + e;
  if (p.zero_points) sm90::apply_fragment_zero_points<k::Dtype::U8, k::Dtype::S8, kFragmentN>(p, acc, 0, 0, warp, lane);
  sm90::store_fragment<float, kFragmentN>(p, acc, 0, 0, warp, lane);
}

// ---------------------------------------------------------------- the tile order
__global__ void tile_coords_kernel(int32_t m_tiles, int32_t n_tiles, int32_t* out) {
  const int32_t tile = static_cast<int32_t>(blockIdx.x * blockDim.x + threadIdx.x);
  if (tile >= m_tiles * n_tiles) return;
  int32_t mt, nt;
  sm90::tile_coords(tile, m_tiles, n_tiles, mt, nt);
  out[2 * tile] = mt;
  out[2 * tile + 1] = nt;
}

// An owning device buffer.
struct Dev {
  void* p = nullptr;
  explicit Dev(size_t bytes) {
    if (cudaMalloc(&p, bytes > 0 ? bytes : 1) != cudaSuccess) p = nullptr;
  }
  ~Dev() { cudaFree(p); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
};

#define SQT_CHECK(x)                           \
  do {                                         \
    const cudaError_t e_ = (x);                \
    if (e_ != cudaSuccess) return static_cast<int>(e_); \
  } while (0)

template <typename T>
double as_double(const void* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return static_cast<double>(v);
}
template <>
double as_double<__half>(const void* p) {
  __half v;
  std::memcpy(&v, p, sizeof(v));
  return static_cast<double>(__half2float(v));
}

template <typename T>
int store_fragment_typed(int m, int n, int64_t ld_out, int64_t offset, bool staged, std::vector<double>* out) {
  const size_t count = static_cast<size_t>((m + 1) * ld_out + offset);
  Dev d_out(count * sizeof(T)), d_ones(kFragmentN * sizeof(T));
  if (d_out.p == nullptr || d_ones.p == nullptr) return static_cast<int>(cudaErrorMemoryAllocation);
  std::vector<T> ones(kFragmentN, T(1.0f));
  SQT_CHECK(cudaMemcpy(d_ones.p, ones.data(), kFragmentN * sizeof(T), cudaMemcpyHostToDevice));
  SQT_CHECK(cudaMemset(d_out.p, 0xFF, count * sizeof(T)));  // NaN in every float type
  k::LinearParams p{};
  p.m = m;
  p.n = n;
  p.weight_scale = d_ones.p;
  const T one = T(1.0f);
  std::memcpy(&p.static_scale_bits, &one, sizeof(T));
  p.out = static_cast<T*>(d_out.p) + offset;
  p.ld_out = ld_out;
  store_fragment_kernel<T><<<1, sm90::kWarpgroupThreads>>>(p, staged);
  SQT_CHECK(cudaGetLastError());
  SQT_CHECK(cudaDeviceSynchronize());
  std::vector<unsigned char> raw(count * sizeof(T));
  SQT_CHECK(cudaMemcpy(raw.data(), d_out.p, raw.size(), cudaMemcpyDeviceToHost));
  out->resize(count);
  for (size_t i = 0; i < count; ++i) (*out)[i] = as_double<T>(&raw[i * sizeof(T)]);
  return 0;
}

}  // namespace

bool device_is_sm90() {
  int dev = 0, major = 0, minor = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return false;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev);
  return major == 9 && minor == 0;
}

int run_ring(const std::vector<int8_t>& a, int a_rows, const std::vector<int8_t>& b, int b_rows, int kk, int blocks,
             bool alternate, RingResult* out) {
  Dev d_a(a.size()), d_b(b.size());
  const size_t sums = static_cast<size_t>(blocks) * kRowsPerBlock;
  const size_t marks = static_cast<size_t>(blocks) * kRingConsumerWarps;
  Dev d_sums(sums * sizeof(int32_t)), d_stages(marks * sizeof(int32_t)), d_phases(marks * sizeof(int32_t));
  SQT_CHECK(cudaMemcpy(d_a.p, a.data(), a.size(), cudaMemcpyHostToDevice));
  SQT_CHECK(cudaMemcpy(d_b.p, b.data(), b.size(), cudaMemcpyHostToDevice));
  SQT_CHECK(cudaMemset(d_stages.p, 0xFF, marks * sizeof(int32_t)));  // -1: not taken
  SQT_CHECK(cudaMemset(d_phases.p, 0xFF, marks * sizeof(int32_t)));
  CUtensorMap map_a, map_b;
  SQT_CHECK(sm90::encode_kmajor(&map_a, static_cast<const int8_t*>(d_a.p), a_rows, kk, kk, kRingTileRows));
  SQT_CHECK(sm90::encode_kmajor(&map_b, static_cast<const int8_t*>(d_b.p), b_rows, kk, kk, kRingTileRows));
  SQT_CHECK(cudaFuncSetAttribute(ring_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, RingCfg::kSmemBytes));
  ring_kernel<<<1, sm90::kThreads, RingCfg::kSmemBytes>>>(map_a, map_b, blocks, alternate,
                                                          static_cast<int32_t*>(d_sums.p),
                                                          static_cast<int32_t*>(d_stages.p),
                                                          static_cast<int32_t*>(d_phases.p));
  SQT_CHECK(cudaGetLastError());
  SQT_CHECK(cudaDeviceSynchronize());
  out->row_sums.resize(sums);
  out->stages.resize(marks);
  out->phases.resize(marks);
  SQT_CHECK(cudaMemcpy(out->row_sums.data(), d_sums.p, sums * sizeof(int32_t), cudaMemcpyDeviceToHost));
  SQT_CHECK(cudaMemcpy(out->stages.data(), d_stages.p, marks * sizeof(int32_t), cudaMemcpyDeviceToHost));
  SQT_CHECK(cudaMemcpy(out->phases.data(), d_phases.p, marks * sizeof(int32_t), cudaMemcpyDeviceToHost));
  return 0;
}

int run_quad_exchange(int n, int mask, std::vector<uint32_t>* out) {
  const size_t words = 32 * 2 * static_cast<size_t>(n);
  Dev d_out(words * sizeof(uint32_t));
  switch (n) {
    case 1: quad_exchange_kernel<1><<<1, 32>>>(mask, static_cast<uint32_t*>(d_out.p)); break;
    case 2: quad_exchange_kernel<2><<<1, 32>>>(mask, static_cast<uint32_t*>(d_out.p)); break;
    case 4: quad_exchange_kernel<4><<<1, 32>>>(mask, static_cast<uint32_t*>(d_out.p)); break;
    default: return static_cast<int>(cudaErrorInvalidValue);
  }
  SQT_CHECK(cudaGetLastError());
  SQT_CHECK(cudaDeviceSynchronize());
  out->resize(words);
  SQT_CHECK(cudaMemcpy(out->data(), d_out.p, words * sizeof(uint32_t), cudaMemcpyDeviceToHost));
  return 0;
}

int run_store_fragment(int bytes, int m, int n, int64_t ld_out, int64_t offset, bool staged,
                       std::vector<double>* out) {
  switch (bytes) {
    case 2: return store_fragment_typed<__half>(m, n, ld_out, offset, staged, out);
    case 4: return store_fragment_typed<float>(m, n, ld_out, offset, staged, out);
    case 8: return store_fragment_typed<double>(m, n, ld_out, offset, staged, out);
    default: return static_cast<int>(cudaErrorInvalidValue);
  }
}

int run_store_fragment_s32(int m, int n, int64_t ld_out, int64_t offset, const FragmentZeroPoints* zero_points,
                           std::vector<int32_t>* out) {
  constexpr int kPoison = 0xA5;
  const size_t count = static_cast<size_t>((m + 1) * ld_out + offset);
  Dev d_out(count * sizeof(int32_t)), d_za(kFragmentN), d_zw(kFragmentN), d_sa(kFragmentN * sizeof(int32_t)),
      d_sw(kFragmentN * sizeof(int32_t));
  if (d_out.p == nullptr || d_za.p == nullptr || d_zw.p == nullptr || d_sa.p == nullptr || d_sw.p == nullptr)
    return static_cast<int>(cudaErrorMemoryAllocation);
  SQT_CHECK(cudaMemset(d_out.p, kPoison, count * sizeof(int32_t)));
  k::LinearParams p{};
  p.m = m;
  p.n = n;
  p.out = static_cast<int32_t*>(d_out.p) + offset;
  p.ld_out = ld_out;
  p.dtype = k::Dtype::S32;  // weight_scale, row_scale and bias null: nothing of them may be read
  if (zero_points != nullptr) {
    SQT_CHECK(cudaMemcpy(d_za.p, zero_points->za.data(), kFragmentN, cudaMemcpyHostToDevice));
    SQT_CHECK(cudaMemcpy(d_zw.p, zero_points->zw.data(), kFragmentN, cudaMemcpyHostToDevice));
    SQT_CHECK(cudaMemcpy(d_sa.p, zero_points->act_sums.data(), kFragmentN * sizeof(int32_t), cudaMemcpyHostToDevice));
    SQT_CHECK(
        cudaMemcpy(d_sw.p, zero_points->weight_sums.data(), kFragmentN * sizeof(int32_t), cudaMemcpyHostToDevice));
    p.k = zero_points->k;
    p.zero_points = true;
    p.act_zp = d_za.p;
    p.weight_zp = d_zw.p;
    p.act_sums = static_cast<const int32_t*>(d_sa.p);
    p.weight_sums = static_cast<const int32_t*>(d_sw.p);
  }
  store_fragment_zp_kernel<<<1, sm90::kWarpgroupThreads>>>(p);
  SQT_CHECK(cudaGetLastError());
  SQT_CHECK(cudaDeviceSynchronize());
  out->resize(count);
  SQT_CHECK(cudaMemcpy(out->data(), d_out.p, count * sizeof(int32_t), cudaMemcpyDeviceToHost));
  return 0;
}

int run_tile_coords(int32_t m_tiles, int32_t n_tiles, std::vector<int32_t>* out) {
  const int32_t tiles = m_tiles * n_tiles;
  Dev d_out(static_cast<size_t>(tiles) * 2 * sizeof(int32_t));
  constexpr int kBlock = 128;
  tile_coords_kernel<<<(tiles + kBlock - 1) / kBlock, kBlock>>>(m_tiles, n_tiles, static_cast<int32_t*>(d_out.p));
  SQT_CHECK(cudaGetLastError());
  SQT_CHECK(cudaDeviceSynchronize());
  out->resize(static_cast<size_t>(tiles) * 2);
  SQT_CHECK(cudaMemcpy(out->data(), d_out.p, out->size() * sizeof(int32_t), cudaMemcpyDeviceToHost));
  return 0;
}

}  // namespace sqt
