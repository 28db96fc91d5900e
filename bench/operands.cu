// ShapeOperands (method.cuh): the rotated operands of one shape, device_diff, and the host-plan checks' helpers
// (sample_index, gather_rows, run_host_plan).
#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include <functional>

#include "method.cuh"

namespace sqbench {
namespace {

constexpr double kWeightScaleLo = 1.0e-3, kWeightScaleHi = 2.0e-2;
constexpr double kActScaleLo = 5.0e-3, kActScaleHi = 5.0e-2;  // act_scale, and the peers' per-token scales
constexpr float kXMagLo = 0.05f, kXMagHi = 8.0f;              // per-row magnitude of the dynamic input
// The peers' fp8 operands: the int8 values times 448/128, so that they span e4m3's range (+-448) as a
// per-tensor or per-row fp8 quantization makes them.
constexpr float kFp8Spread = 448.0f / 128.0f;
constexpr uint64_t kTokenScaleSeed = 0x7f4a7c159e3779b9ull;  // the per-token scales' stream
constexpr uint64_t kSampleSeed = 0xabcdefull;
constexpr uint64_t kXSeed = 0x5bd1e995ull;
constexpr uint64_t kZeroPointSeed = 0x2545f4914f6cdd1dull;  // the asymmetric methods' zero points
constexpr int kSumThreads = 256;                            // row_sums_u8's block
constexpr size_t kHostAlign = 16;                           // host workspace alignment (sq_plan_run)

// Uniform in [0, 1) from the top 24 bits of a hash.
__host__ __device__ inline float unit_float(uint64_t h) {
  return static_cast<float>(h >> 40) * (1.0f / 16777216.0f);
}

// bf16 x [rows, cols]: uniform in (-mag_row, mag_row), mag_row random per row.
__global__ void fill_x_bf16(__nv_bfloat16* p, int64_t rows, int64_t cols, uint64_t seed) {
  const size_t n = static_cast<size_t>(rows) * static_cast<size_t>(cols);
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x) {
    const uint64_t row = i / static_cast<size_t>(cols);
    const float mag = kXMagLo + unit_float(mix64(seed + row)) * (kXMagHi - kXMagLo);
    const float u = unit_float(mix64(seed ^ (i * 0xd1b54a32d192ed03ull)));
    p[i] = __float2bfloat16_rn((2.0f * u - 1.0f) * mag);
  }
}

// e4m3 copy of int8 values: (e4m3)(v * spread), round to nearest, saturating.
__global__ void to_fp8(const int8_t* src, __nv_fp8_e4m3* dst, size_t n, float spread) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x)
    dst[i] = __nv_fp8_e4m3(__fmul_rn(static_cast<float>(src[i]), spread));
}

// bf16 copy of int8 rows, each row times its scale: (bf16)(v * scale[row]).
__global__ void to_bf16_rows(const int8_t* src, const float* scale, __nv_bfloat16* dst, int64_t rows,
                             int64_t cols) {
  const size_t n = static_cast<size_t>(rows) * static_cast<size_t>(cols);
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x)
    dst[i] = __float2bfloat16_rn(__fmul_rn(static_cast<float>(src[i]), scale[i / static_cast<size_t>(cols)]));
}

// sums[r] = sum over the row's bytes read as u8 (exact: K * 255 < 2^31). One block per row, grid-stride.
__global__ void row_sums_u8(const uint8_t* p, int64_t rows, int64_t cols, int32_t* sums) {
  __shared__ int32_t part[kSumThreads];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    int32_t s = 0;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) s += p[r * cols + c];
    part[threadIdx.x] = s;
    __syncthreads();
    for (int w = kSumThreads / 2; w > 0; w /= 2) {
      if (threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
      __syncthreads();
    }
    if (threadIdx.x == 0) sums[r] = part[0];
    __syncthreads();
  }
}

// Counts elements whose bits differ; remembers the first such index.
template <typename U>
__global__ void count_diff(const U* a, const U* b, size_t n, unsigned long long* count, unsigned long long* first) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x) {
    if (a[i] != b[i]) {
      atomicAdd(count, 1ull);
      atomicMin(first, static_cast<unsigned long long>(i));
    }
  }
}

// Rotated buffers made on first use: `bufs` gets `copies` buffers of `bytes`, each filled by fill(j, p).
template <typename Fill>
void make_rotated(std::vector<DevBuf>& bufs, int copies, size_t bytes, cudaStream_t stream, Fill fill) {
  if (!bufs.empty()) return;
  for (int j = 0; j < copies; ++j) {
    bufs.emplace_back(bytes);
    fill(j, bufs.back().p);
    CK_CUDA(cudaGetLastError());
  }
  CK_CUDA(cudaStreamSynchronize(stream));
}

template <typename T>
std::vector<T> row_of(cudaStream_t stream, const void* base, int64_t row, int64_t cols) {
  std::vector<T> r(static_cast<size_t>(cols));
  copy_to_host(stream, r.data(), static_cast<const T*>(base) + row * cols, r.size());
  return r;
}

}  // namespace

unsigned long long device_diff(Env& env, const void* a, const void* b, size_t n, size_t elem,
                               unsigned long long* first) {
  const unsigned long long init[2] = {0, ~0ull};
  CK_CUDA(cudaMemcpyAsync(env.diff.p, init, sizeof init, cudaMemcpyHostToDevice, env.stream));
  auto* cnt = env.diff.as<unsigned long long>();
  switch (elem) {
    case 8:
      count_diff<uint64_t><<<grid_for(n), kThreads, 0, env.stream>>>(
          static_cast<const uint64_t*>(a), static_cast<const uint64_t*>(b), n, cnt, cnt + 1);
      break;
    case 4:
      count_diff<uint32_t><<<grid_for(n), kThreads, 0, env.stream>>>(
          static_cast<const uint32_t*>(a), static_cast<const uint32_t*>(b), n, cnt, cnt + 1);
      break;
    case 2:
      count_diff<uint16_t><<<grid_for(n), kThreads, 0, env.stream>>>(
          static_cast<const uint16_t*>(a), static_cast<const uint16_t*>(b), n, cnt, cnt + 1);
      break;
    default: die("device_diff: no comparison for %zu-byte elements", elem);
  }
  CK_CUDA(cudaGetLastError());
  unsigned long long out[2];
  CK_CUDA(cudaMemcpyAsync(out, env.diff.p, sizeof out, cudaMemcpyDeviceToHost, env.stream));
  CK_CUDA(cudaStreamSynchronize(env.stream));
  *first = out[1];
  return out[0];
}

ShapeOperands::ShapeOperands(Env& env, const Shape& s, size_t out_min_bytes, size_t out_max_bytes)
    : env_(env), s_(s) {
  const int64_t M = s.m, N = s.n;
  seed_ = mix64(std::hash<std::string>{}(s.tag) ^ mix64(M) ^ mix64(N * 31 + s.k));
  // Copies: the smallest working set of any timed method (act + weight + its output) times the copy
  // count exceeds kRotationL2Multiple x L2.
  copies_ = rotation_copies(double(mk() + nk() + out_min_bytes * mn()), env.l2_bytes);
  for (int i = 0; i < copies_; ++i) {
    act_.emplace_back(mk());
    wgt_.emplace_back(nk());
    out_.emplace_back(out_max_bytes * mn());
    fill_s8<<<grid_for(mk()), kThreads, 0, env.stream>>>(act_[i].as<int8_t>(), mk(), seed_ + 2 * i);
    fill_s8<<<grid_for(nk()), kThreads, 0, env.stream>>>(wgt_[i].as<int8_t>(), nk(), seed_ + 2 * i + 1);
    CK_CUDA(cudaGetLastError());
  }
  ref_ = DevBuf(out_max_bytes * mn());
  scratch_ = DevBuf(out_max_bytes * std::max<int64_t>(M, 1));
  CK_CUDA(cudaStreamSynchronize(env.stream));

  // Scales: random positive doubles; each dtype's buffers hold (T)value, and the host reference rounds
  // the same doubles to T.
  std::mt19937_64 rng(seed_);
  std::uniform_real_distribution<double> wdist(kWeightScaleLo, kWeightScaleHi);
  std::uniform_real_distribution<double> adist(kActScaleLo, kActScaleHi);
  act_scale_ = adist(rng);
  ws_.resize(static_cast<size_t>(N));
  for (double& w : ws_) w = wdist(rng);
  std::mt19937_64 trng(seed_ ^ kTokenScaleSeed);
  ts_.resize(static_cast<size_t>(M));
  for (double& t : ts_) t = adist(trng);

  // The asymmetric methods' zero points: random u8 per output channel, one per-tensor value never 0.
  std::mt19937_64 zrng(seed_ ^ kZeroPointSeed);
  wzp_.resize(static_cast<size_t>(N));
  for (uint8_t& z : wzp_) z = static_cast<uint8_t>(zrng() >> 56);
  act_zp_ = 1 + static_cast<int>(zrng() % 255);

  // Sampled (m, n) positions: the four corners and random ones.
  samples_ = {{0, 0}, {0, N - 1}, {M - 1, 0}, {M - 1, N - 1}};
  std::mt19937_64 srng(seed_ ^ kSampleSeed);
  for (int i = 0; i < kRandomSamples; ++i)
    samples_.push_back({static_cast<int64_t>(srng() % static_cast<uint64_t>(M)),
                        static_cast<int64_t>(srng() % static_cast<uint64_t>(N))});
}

int32_t* ShapeOperands::acc(int j) {
  make_rotated(acc_, copies_, sizeof(int32_t) * mn(), env_.stream, [](int, void*) {});
  return acc_[j].as<int32_t>();
}

const void* ShapeOperands::x_bf16(int j) {
  make_rotated(x_, copies_, 2 * mk(), env_.stream, [&](int i, void* p) {
    fill_x_bf16<<<grid_for(mk()), kThreads, 0, env_.stream>>>(static_cast<__nv_bfloat16*>(p), s_.m, s_.k,
                                                                seed_ ^ kXSeed * (i + 1));
  });
  return x_[j].p;
}

const void* ShapeOperands::act_fp8(int j) {
  make_rotated(act_fp8_, copies_, mk(), env_.stream, [&](int i, void* p) {
    to_fp8<<<grid_for(mk()), kThreads, 0, env_.stream>>>(act(i), static_cast<__nv_fp8_e4m3*>(p), mk(), kFp8Spread);
  });
  return act_fp8_[j].p;
}

const void* ShapeOperands::weight_fp8(int j) {
  make_rotated(wgt_fp8_, copies_, nk(), env_.stream, [&](int i, void* p) {
    to_fp8<<<grid_for(nk()), kThreads, 0, env_.stream>>>(weight(i), static_cast<__nv_fp8_e4m3*>(p), nk(),
                                                          kFp8Spread);
  });
  return wgt_fp8_[j].p;
}

const float* ShapeOperands::token_scale_f32() {
  if (!ts_f32_.p) {
    std::vector<float> h(ts_.begin(), ts_.end());
    ts_f32_ = DevBuf(sizeof(float) * h.size());
    CK_CUDA(cudaMemcpyAsync(ts_f32_.p, h.data(), sizeof(float) * h.size(), cudaMemcpyHostToDevice, env_.stream));
    CK_CUDA(cudaStreamSynchronize(env_.stream));
  }
  return ts_f32_.as<const float>();
}

const float* ShapeOperands::weight_scale_f32() {
  if (!ws_f32_.p) {
    std::vector<float> h(ws_.begin(), ws_.end());
    ws_f32_ = DevBuf(sizeof(float) * h.size());
    CK_CUDA(cudaMemcpyAsync(ws_f32_.p, h.data(), sizeof(float) * h.size(), cudaMemcpyHostToDevice, env_.stream));
    CK_CUDA(cudaStreamSynchronize(env_.stream));
  }
  return ws_f32_.as<const float>();
}

const void* ShapeOperands::act_bf16(int j) {
  const float* ts = token_scale_f32();
  make_rotated(act_bf16_, copies_, 2 * mk(), env_.stream, [&](int i, void* p) {
    to_bf16_rows<<<grid_for(mk()), kThreads, 0, env_.stream>>>(act(i), ts, static_cast<__nv_bfloat16*>(p), s_.m,
                                                                 s_.k);
  });
  return act_bf16_[j].p;
}

const void* ShapeOperands::weight_bf16(int j) {
  const float* ws = weight_scale_f32();
  make_rotated(wgt_bf16_, copies_, 2 * nk(), env_.stream, [&](int i, void* p) {
    to_bf16_rows<<<grid_for(nk()), kThreads, 0, env_.stream>>>(weight(i), ws, static_cast<__nv_bfloat16*>(p),
                                                                 s_.n, s_.k);
  });
  return wgt_bf16_[j].p;
}

int32_t* ShapeOperands::act_sums_u8(int j) {
  make_rotated(act_sums_, copies_, sizeof(int32_t) * s_.m, env_.stream, [&](int i, void* p) {
    row_sums_u8<<<grid_for(s_.m), kSumThreads, 0, env_.stream>>>(reinterpret_cast<const uint8_t*>(act(i)), s_.m,
                                                                   s_.k, static_cast<int32_t*>(p));
  });
  return act_sums_[j].as<int32_t>();
}

const int32_t* ShapeOperands::weight_sums_u8(int j) {
  make_rotated(wgt_sums_, copies_, sizeof(int32_t) * s_.n, env_.stream, [&](int i, void* p) {
    row_sums_u8<<<grid_for(s_.n), kSumThreads, 0, env_.stream>>>(reinterpret_cast<const uint8_t*>(weight(i)), s_.n,
                                                                   s_.k, static_cast<int32_t*>(p));
  });
  return wgt_sums_[j].as<const int32_t>();
}

const uint8_t* ShapeOperands::weight_zp_u8() {
  if (!wzp_dev_.p) {
    wzp_dev_ = DevBuf(wzp_.size());
    CK_CUDA(cudaMemcpyAsync(wzp_dev_.p, wzp_.data(), wzp_.size(), cudaMemcpyHostToDevice, env_.stream));
    CK_CUDA(cudaStreamSynchronize(env_.stream));
  }
  return wzp_dev_.as<const uint8_t>();
}

std::vector<int8_t> ShapeOperands::act_row(int64_t m) const { return row_of<int8_t>(env_.stream, act(0), m, s_.k); }
std::vector<int8_t> ShapeOperands::weight_row(int64_t n) const {
  return row_of<int8_t>(env_.stream, weight(0), n, s_.k);
}
std::vector<uint16_t> ShapeOperands::x_row(int64_t m) { return row_of<uint16_t>(env_.stream, x_bf16(0), m, s_.k); }
std::vector<uint8_t> ShapeOperands::act_fp8_row(int64_t m) {
  return row_of<uint8_t>(env_.stream, act_fp8(0), m, s_.k);
}
std::vector<uint8_t> ShapeOperands::weight_fp8_row(int64_t n) {
  return row_of<uint8_t>(env_.stream, weight_fp8(0), n, s_.k);
}
std::vector<uint16_t> ShapeOperands::act_bf16_row(int64_t m) {
  return row_of<uint16_t>(env_.stream, act_bf16(0), m, s_.k);
}
std::vector<uint16_t> ShapeOperands::weight_bf16_row(int64_t n) {
  return row_of<uint16_t>(env_.stream, weight_bf16(0), n, s_.k);
}

SampleIndex sample_index(const ShapeOperands& ops) {
  SampleIndex si;
  auto index_of = [](std::vector<int64_t>& v, int64_t x) {
    const auto it = std::find(v.begin(), v.end(), x);
    if (it != v.end()) return static_cast<size_t>(it - v.begin());
    v.push_back(x);
    return v.size() - 1;
  };
  for (const auto& [m, n] : ops.samples()) {
    const size_t r = index_of(si.rows, m);
    si.at.emplace_back(r, index_of(si.cols, n));
  }
  return si;
}

std::vector<unsigned char> gather_rows(cudaStream_t stream, const void* base, size_t row_bytes,
                                       const std::vector<int64_t>& rows) {
  std::vector<unsigned char> h(row_bytes * rows.size());
  for (size_t i = 0; i < rows.size(); ++i)
    CK_CUDA(cudaMemcpyAsync(h.data() + i * row_bytes, static_cast<const char*>(base) + size_t(rows[i]) * row_bytes,
                            row_bytes, cudaMemcpyDeviceToHost, stream));
  CK_CUDA(cudaStreamSynchronize(stream));
  return h;
}

void run_host_plan(const sq_plan_desc& desc, sq_run_args args) {
  sq_plan plan = nullptr;
  CK_SQ(sq_plan_select(nullptr, &desc, SQ_PREFERENCE_HOST_REFERENCE, &plan));
  size_t ws = 0;
  CK_SQ(sq_plan_workspace_size(plan, &ws));
  std::vector<unsigned char> work(ws + kHostAlign);
  void* aligned = work.data() + (kHostAlign - reinterpret_cast<uintptr_t>(work.data()) % kHostAlign) % kHostAlign;
  CK_SQ(sq_plan_run(plan, nullptr, ws ? aligned : nullptr, ws, &args));
  CK_SQ(sq_plan_destroy(plan));
}

bool select_or_note(Env& env, const sq_plan_desc& d, const std::string& key, const Shape& s, sq_plan* plan,
                    std::string* note) {
  const sq_status st = sq_plan_select(reinterpret_cast<sq_stream>(env.stream), &d, SQ_PREFERENCE_FASTEST, plan);
  if (st == SQ_STATUS_SUCCESS) return true;
  *note = std::string(sq_status_string(st)) + ": " + sq_last_error_message();
  std::fprintf(stderr, "%s: warning: %s %s m=%lld n=%lld k=%lld: sq_plan_select: %s (not timed on this row)\n",
               g_tool, key.c_str(), s.tag.c_str(), (long long)s.m, (long long)s.n, (long long)s.k, note->c_str());
  *plan = nullptr;
  return false;
}

void check_all_written(Env& env, CheckContext& cc, const char* what, const void* out, size_t n, size_t elem) {
  DevBuf poison(elem * n);
  CK_CUDA(cudaMemsetAsync(poison.p, kPoisonOut, elem * n, env.stream));
  unsigned long long first = 0;
  const unsigned long long same = n - device_diff(env, out, poison.p, n, elem, &first);
  if (same) {
    ++cc.failures;
    const Shape& s = cc.ops.shape();
    std::fprintf(stderr, "CHECK FAIL %s %s m=%lld n=%lld k=%lld %s: %llu outputs still hold the poison\n", what,
                 s.tag.c_str(), (long long)s.m, (long long)s.n, (long long)s.k, cc.row.od.name, same);
  }
}

}  // namespace sqbench
