// The register epilogue of the Hopper persistent kernels (sm_90a only): corrects a warpgroup's wgmma
// accumulator fragment for the zero points, scales it per the numerics contract (epilogue.cuh; or passes
// it through for the S32 output) and stores it to global memory with whole-sector stores after a shuffle
// exchange within each 4-lane quad. Included by sm90_wgmma.cu and the tests of its building blocks.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "epilogue.cuh"
#include "sm90_common.cuh"

namespace sq {
namespace kernels {
namespace sm90 {

constexpr int kMaxEpilogueBatch = 8;  // 8-column groups whose scales the epilogue loads at once, at most
constexpr int kColumnGroup = 8;       // columns of one accumulator group (the fragment's 8-column blocks)

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

// The unsigned integer type of an element's bits.
template <size_t kBytes> struct RawOf;
template <> struct RawOf<2> { using type = uint16_t; };
template <> struct RawOf<4> { using type = uint32_t; };
template <> struct RawOf<8> { using type = uint64_t; };

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

// Whether every out row starts 16-byte aligned (the out base and ld_out): the vector stores' condition.
// The launcher (out staging, below) and the kernel both decide by it; src/'s dispatch fact
// (LinearShape::out_aligned) uses kOutRowAlign, which must be this same width.
static_assert(kOutRowAlign == kMaxVectorBytes, "the dispatch's out alignment is the epilogue's widest store");
__host__ __device__ __forceinline__ bool out_rows_aligned(const LinearParams& p, size_t elem_bytes) {
  return (static_cast<uint64_t>(p.ld_out) * elem_bytes) % kMaxVectorBytes == 0 &&
         reinterpret_cast<uintptr_t>(p.out) % kMaxVectorBytes == 0;
}

// ------------------------------------------------------------------ out staging (rows not 16-byte aligned)
// Where out rows are not 16-byte aligned (an odd N as ld_out, an offset base) the fragment's elements
// stored one by one write every 32-byte sector in 8-16 pieces from as many instructions [D-out-staged].
// Instead each consumer warp writes its 16 rows x OutStage<T>::kCols columns into its own shared-memory
// slice and then stores them with consecutive lanes on consecutive columns of a row.
constexpr int kStageRows = kWgmmaM / 4;  // rows of one warp's part of a fragment
constexpr int kStageRowBytes = 128;      // bytes of one staged row per flush
template <typename T>
struct OutStage {
  static constexpr int kCols = kStageRowBytes / static_cast<int>(sizeof(T));  // columns per flush
  static constexpr int kGroups = kCols / kColumnGroup;
  // Row pitch in bytes: the pad puts the fragment's 8 rows x 4 lanes of pair stores in distinct banks.
  static constexpr int kPitch = kStageRowBytes + kQuadLanes * 2 * static_cast<int>(sizeof(T));
  static constexpr int kBytes = kStageRows * kPitch;
};
// Element types up to 4 bytes are staged; f64 keeps the element stores (its pairs are whole 16 bytes, so
// half as many pieces per sector, and the staged copy of its epilogue made ptxas spill) [D-out-staged].
constexpr size_t kStagedMaxElemBytes = 4;
template <typename T>
constexpr bool kStagedElem = sizeof(T) <= kStagedMaxElemBytes;
constexpr int kWarpStageBytes = OutStage<float>::kBytes;  // the widest staged element's slice
static_assert(OutStage<__half>::kBytes <= kWarpStageBytes, "every staged element type's slice fits");
constexpr int kStageAlign = kMaxVectorBytes;  // the slices' alignment (at least the 8-byte f32 pair stores')
constexpr int kOutStageBytes = kConsumerWarpgroups * (kWarpgroupThreads / 32) * kWarpStageBytes;

// Whether a run's epilogue of element type T stores through the out-staging slices (where the kernel has
// them): the launcher asks for the slices' shared memory by the same test.
template <typename T>
__host__ __device__ __forceinline__ bool stages_out(const LinearParams& p) {
  return kStagedElem<T> && !out_rows_aligned(p, sizeof(T));
}

// Column groups per flush: the largest divisor of a tile's groups that fits a slice.
constexpr int flush_groups(int groups, int fit) {
  for (int f = fit < groups ? fit : groups; f > 1; --f)
    if (groups % f == 0) return f;
  return 1;
}

// The same result as store_fragment_as (the same values, rounded once to T) through the warp's slice
// `stage` (kWarpStageBytes, kStageAlign-aligned).
template <typename T, bool kScaled, int BN>
__device__ __forceinline__ void store_fragment_staged(const LinearParams& p, const int32_t (&acc)[Wgmma<BN>::kAccRegs],
                                                      int32_t row_base, int32_t col_base, int warp_in_wg, int lane,
                                                      uint8_t* stage) {
  using S = OutStage<T>;
  // Column groups per flush, their scales loaded together (fewer registers than an epilogue batch: the
  // stores, not the loads, bound this path).
  constexpr int kFlush = flush_groups(BN / kColumnGroup, S::kGroups);
  constexpr int kFlushCols = kFlush * kColumnGroup;
  using E = Epi<T>;
  using C = typename E::C;
  using Raw = typename RawOf<sizeof(T)>::type;
  constexpr int kPairWords = QuadStore<T>::kPairWords;
  const T* wscale = static_cast<const T*>(p.weight_scale);
  const T* bias = static_cast<const T*>(p.bias);
  const bool has_bias = kScaled && bias != nullptr;
  T* out = static_cast<T*>(p.out);
  const int32_t warp_row0 = row_base + warp_in_wg * kStageRows;
  // acc[4j + 2h + e] is row warp_row0 + lane/4 + 8h, column 8j + 2*(lane%4) + e (as store_fragment_as).
  const int frag_row = lane / kQuadLanes;
  const int frag_col = 2 * (lane % kQuadLanes);
  C rs[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int32_t row = warp_row0 + frag_row + 8 * h;
    rs[h] = kScaled && row < p.m ? row_scale_of<T>(p, row) : C(0);
  }
#pragma unroll
  for (int jf = 0; jf < BN / kColumnGroup; jf += kFlush) {
    const int32_t c0 = col_base + kColumnGroup * jf;
    if (c0 >= p.n) continue;  // warp-uniform
    C cs[kFlush][2], cb[kFlush][2];
#pragma unroll
    for (int f = 0; f < kFlush; ++f) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int32_t col = c0 + kColumnGroup * f + frag_col + e;
        const bool ok = kScaled && col < p.n;
        cs[f][e] = ok ? E::to_c(wscale[col]) : C(0);
        cb[f][e] = (ok && has_bias) ? E::to_c(bias[col]) : C(0);
      }
    }
#pragma unroll
    for (int f = 0; f < kFlush; ++f) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int a = 4 * (jf + f) + 2 * h;
        uint32_t w[kPairWords];
        PairWords<T>::make(output_of<C, kScaled>(acc[a], rs[h], cs[f][0], has_bias, cb[f][0]),
                           output_of<C, kScaled>(acc[a + 1], rs[h], cs[f][1], has_bias, cb[f][1]), w);
        vec_store<kPairWords>(stage + (frag_row + 8 * h) * S::kPitch + (kColumnGroup * f + frag_col) * sizeof(T), w);
      }
    }
    __syncwarp();
    const int32_t cols = min(kFlushCols, p.n - c0);
#pragma unroll 4
    for (int i = lane; i < kStageRows * kFlushCols; i += 32) {
      const int r = i / kFlushCols, c = i % kFlushCols;
      const int32_t row = warp_row0 + r;
      if (c < cols && row < p.m)
        *reinterpret_cast<Raw*>(out + static_cast<int64_t>(row) * p.ld_out + c0 + c) =
            *reinterpret_cast<const Raw*>(stage + r * S::kPitch + c * sizeof(T));
    }
    __syncwarp();  // the slice is read before the next flush writes it
  }
}

// The epilogue's column scales, bias and row scales (none for the S32 output; the one value of a
// per-tensor row scale) and zero-point vectors (sm90_common.cuh) of the tile at (row0, col0), rows x cols,
// into L1 before its mainloop, so that the loads after it hit L1 instead of waiting on L2
// [D-epilogue-stores]. kZeroPoints false: a copy of the kernel without the zero-point code [D-pp-zero-points].
template <typename T, bool kZeroPoints>
__device__ __forceinline__ void prefetch_tile_scales(const LinearParams& p, int32_t row0, int32_t rows, int32_t col0,
                                                     int32_t cols, int ctid, int threads) {
  if (!accumulator_only<T>(p)) {
    const int32_t c_last = min(col0 + cols, p.n) - 1;
    prefetch_range_l1(static_cast<const T*>(p.weight_scale) + col0, static_cast<const T*>(p.weight_scale) + c_last,
                      ctid, threads);
    if (p.bias != nullptr)
      prefetch_range_l1(static_cast<const T*>(p.bias) + col0, static_cast<const T*>(p.bias) + c_last, ctid, threads);
    if (p.row_scale != nullptr) {
      const T* rsp = static_cast<const T*>(p.row_scale);
      if (p.row_scale_per_tensor) {
        prefetch_range_l1(rsp, rsp, ctid, threads);
      } else {
        prefetch_range_l1(rsp + row0, rsp + min(row0 + rows, p.m) - 1, ctid, threads);
      }
    }
  }
  if (kZeroPoints && p.zero_points) prefetch_tile_zero_points(p, row0, rows, col0, cols, ctid, threads);
}

// ------------------------------------------------------------------ the epilogue
// The zero-point correction (epilogue.cuh) of one warpgroup's 64 x BN accumulator fragment, in place:
// rows [row_base, row_base + 64), columns [col_base, col_base + BN); the column parts of an epilogue batch
// of 8-column groups are loaded together. Called only when p.zero_points (warp-uniform).
template <Dtype A, Dtype W, int BN>
__device__ __forceinline__ void apply_fragment_zero_points(const LinearParams& p, int32_t (&acc)[Wgmma<BN>::kAccRegs],
                                                           int32_t row_base, int32_t col_base, int warp_in_wg,
                                                           int lane) {
  constexpr int kEpilogueBatch = epilogue_batch(BN);
  // acc[4j + 2h + e] is row warp_in_wg*16 + lane/4 + 8h, column 8j + 2*(lane%4) + e (as store_fragment).
  const int32_t row0 = row_base + warp_in_wg * 16 + lane / 4;
  const int32_t col0 = col_base + 2 * (lane % kQuadLanes);
  RowZeroPoint rz[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int32_t row = row0 + 8 * h;
    rz[h] = row < p.m ? row_zero_point<A>(p, row) : RowZeroPoint{0u, 0u};
  }
#pragma unroll
  for (int jb = 0; jb < BN / kColumnGroup; jb += kEpilogueBatch) {
    ColZeroPoint cz[kEpilogueBatch][2];
#pragma unroll
    for (int j = 0; j < kEpilogueBatch; ++j) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int32_t col = col0 + kColumnGroup * (jb + j) + e;
        cz[j][e] = col < p.n ? col_zero_point<W>(p, col) : ColZeroPoint{0u, 0u};
      }
    }
#pragma unroll
    for (int j = 0; j < kEpilogueBatch; ++j) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int a = 4 * (jb + j) + 2 * h + e;
          acc[a] = apply_zero_points(acc[a], rz[h], cz[j][e]);
        }
      }
    }
  }
}

// Scales (kScaled) or passes through (the S32 output) and stores one warpgroup's 64 x BN accumulator
// fragment: rows [row_base, row_base + 64), columns [col_base, col_base + BN), bounds-checked against M
// and N.
template <typename T, bool kScaled, int BN>
__device__ __forceinline__ void store_fragment_as(const LinearParams& p, const int32_t (&acc)[Wgmma<BN>::kAccRegs],
                                                  int32_t row_base, int32_t col_base, int warp_in_wg, int lane) {
  constexpr int kEpilogueBatch = epilogue_batch(BN);
  static_assert(kEpilogueBatch >= 2 && BN % kColumnGroup == 0, "whole, even epilogue batches");
  using E = Epi<T>;
  using C = typename E::C;
  using Q = QuadStore<T>;
  const T* wscale = static_cast<const T*>(p.weight_scale);
  const T* bias = static_cast<const T*>(p.bias);
  const bool has_bias = kScaled && bias != nullptr;
  T* out = static_cast<T*>(p.out);
  // Vector stores need every chunk of a row aligned: the out base and ld_out.
  static_assert(Q::kChunkBytes == kMaxVectorBytes, "one chunk is one widest store");
  const bool vec_ok = out_rows_aligned(p, sizeof(T));
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
    rs[h] = kScaled && row_ok[h] ? row_scale_of<T>(p, row) : C(0);
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
        const bool ok = kScaled && col < p.n;
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
          PairWords<T>::make(output_of<C, kScaled>(acc[a], rs[h], cs[j][0], has_bias, cb[j][0]),
                             output_of<C, kScaled>(acc[a + 1], rs[h], cs[j][1], has_bias, cb[j][1]), w);
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
        // compute type: Epi<C>::finish is exact), rounded once to T by PairWords (S32: the bits).
        uint32_t pw[Q::kGroups][2][Q::kPairWords];
#pragma unroll
        for (int g = 0; g < Q::kGroups; ++g) {
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            const int a = 4 * (jb + j + g) + 2 * h;
            PairWords<T>::make(output_of<C, kScaled>(acc[a], rs[h], cs[j + g][0], has_bias, cb[j + g][0]),
                               output_of<C, kScaled>(acc[a + 1], rs[h], cs[j + g][1], has_bias, cb[j + g][1]),
                               pw[g][h]);
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

// store_fragment_as in the run's output mode: scaled, or the S32 output (T = float); kStaged (a staged T
// only): through the warp's slice `stage` (store_fragment_staged) where the out rows are not 16-byte
// aligned. Without kStaged the staged path is not compiled in.
template <typename T, int BN, bool kStaged = false>
__device__ __forceinline__ void store_fragment(const LinearParams& p, const int32_t (&acc)[Wgmma<BN>::kAccRegs],
                                               int32_t row_base, int32_t col_base, int warp_in_wg, int lane,
                                               uint8_t* stage = nullptr) {
  static_assert(!kStaged || kStagedElem<T>, "f64 is not staged");
  with_output_mode<T>(p, [&](auto scaled) {
    if constexpr (kStaged) {
      if (stages_out<T>(p)) {
        store_fragment_staged<T, decltype(scaled)::value, BN>(p, acc, row_base, col_base, warp_in_wg, lane, stage);
        return;
      }
    }
    store_fragment_as<T, decltype(scaled)::value, BN>(p, acc, row_base, col_base, warp_in_wg, lane);
  });
}

}  // namespace sm90
}  // namespace kernels
}  // namespace sq
