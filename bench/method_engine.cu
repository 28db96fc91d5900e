// The engine methods (issue 20): the fused quantizers an inference engine calls between its layers, and the
// decode-step chain they make with the linear that takes the caller's scales. bf16 rows of the main set only.
//   norm_quant  SQ_OP_RMSNORM_QUANTIZE: bf16 x [M,K] + residual [M,K] (residual_out [M,K] written, not in
//               place), bf16 norm_weight [K], dynamic per token, q s8 [M,K], bf16 scales [M]; on the rows of the
//               *_qkv tags (K = the hidden size, the norm before QKV and gate/up)
//   silu_quant  SQ_OP_SILU_MUL_QUANTIZE: bf16 x [M,2K] (gate then up), dynamic per token, q s8 [M,K], bf16
//               scales [M]; on the rows of the *_down tags (K = the intermediate size)
//               Both against their read + write bandwidth floor (<key>_bytes at the copy bandwidth), on buffers
//               of their own, rotated past 2x L2 for their own working set
//   sq_chain    RMSNORM_QUANTIZE (no residual: the same input as sq_dynamic) -> SQ_OP_SCALED_LINEAR with those
//               per-token scales, bf16 out: one decode step's linear as an engine runs it, timed beside
//               sq_dynamic (SQ_OP_QUANTIZED_LINEAR on the same bf16 x) and chain_bf16 (method_peers.cu: the bf16
//               cuBLASLt matmul of the same layer); rows: chain_row (method.cuh)
// Checks: poisoned outputs, one run on set 0, then the library's host plans of the same descriptors on the
// sampled rows (and, for the chain's linear, the sampled weight rows): q rows, scales and residual_out rows bit
// for bit, the chain's sampled outputs bit for bit, every chain output written.
#include <cuda_bf16.h>

#include "method.cuh"

namespace sqbench {
namespace {

constexpr double kEps = 1e-5;                             // Llama 3's rms_norm_eps
constexpr float kXMagLo = 0.05f, kXMagHi = 8.0f;          // per-row magnitude of x, residual, gate and up
constexpr float kGammaLo = 0.5f, kGammaHi = 1.5f;         // the norm weight
constexpr uint64_t kEngineSeed = 0x94d049bb133111ebull;   // the engine methods' own inputs

__device__ inline float unit01(uint64_t h) { return static_cast<float>(h >> 40) * (1.0f / 16777216.0f); }

// bf16 [rows, cols]: uniform in (-mag_row, mag_row), mag_row uniform in [kXMagLo, kXMagHi) per row.
__global__ void fill_rows_bf16(__nv_bfloat16* p, int64_t rows, int64_t cols, uint64_t seed) {
  const size_t n = static_cast<size_t>(rows) * static_cast<size_t>(cols);
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x) {
    const uint64_t row = i / static_cast<size_t>(cols);
    const float mag = __fadd_rn(kXMagLo, __fmul_rn(unit01(mix64(seed + row)), kXMagHi - kXMagLo));
    const float u = unit01(mix64(seed ^ (i * 0xd1b54a32d192ed03ull)));
    p[i] = __float2bfloat16_rn(__fmul_rn(__fsub_rn(__fmul_rn(2.0f, u), 1.0f), mag));
  }
}

// bf16 [n]: uniform in [lo, hi).
__global__ void fill_uniform_bf16(__nv_bfloat16* p, size_t n, uint64_t seed, float lo, float hi) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n; i += size_t{gridDim.x} * blockDim.x)
    p[i] = __float2bfloat16_rn(__fadd_rn(lo, __fmul_rn(unit01(mix64(seed ^ (i * 0x9e3779b97f4a7c15ull))), hi - lo)));
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

sq_plan_desc fused_desc(sq_op op, int64_t m, int64_t k) {
  sq_plan_desc d;
  std::memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  d.op = op;
  d.act_dtype = SQ_DTYPE_BF16;
  d.out_dtype = SQ_DTYPE_S8;
  d.scale_dtype = SQ_DTYPE_BF16;
  d.k = k;
  d.max_m = m;
  d.quant_mode = SQ_QUANT_DYNAMIC;
  if (op == SQ_OP_RMSNORM_QUANTIZE) d.eps = kEps;
  return d;
}

sq_run_args blank_args(int64_t m) {
  sq_run_args a;
  std::memset(&a, 0, sizeof a);
  a.struct_size = sizeof a;
  a.m = m;
  return a;
}

// The kernel a plan runs for m rows, or "" where the library names none.
std::string kernel_of(sq_plan plan, int64_t m) {
  const char* name = nullptr;
  return sq_plan_kernel_name(plan, m, &name) == SQ_STATUS_SUCCESS && name ? name : "";
}

// The norm weight [K] on the device and its host copy (bf16 bits).
struct NormWeight {
  DevBuf dev;
  std::vector<unsigned char> host;
  void make(Env& env, int64_t k, uint64_t seed) {
    dev = DevBuf(2 * size_t(k));
    fill_uniform_bf16<<<grid_for(size_t(k)), kThreads, 0, env.stream>>>(dev.as<__nv_bfloat16>(), size_t(k), seed,
                                                                         kGammaLo, kGammaHi);
    CK_CUDA(cudaGetLastError());
    host.resize(2 * size_t(k));
    copy_to_host(env.stream, host.data(), dev.p, host.size());
  }
};

// Rows `rows` of device rows of row_bytes at set j, against the host plan's rows (concatenated): the rows
// that differ.
int64_t rows_differ(cudaStream_t stream, const void* dev, size_t row_bytes, const std::vector<int64_t>& rows,
                    const unsigned char* want) {
  const std::vector<unsigned char> got = gather_rows(stream, dev, row_bytes, rows);
  int64_t bad = 0;
  for (size_t r = 0; r < rows.size(); ++r) bad += std::memcmp(got.data() + r * row_bytes, want + r * row_bytes, row_bytes) != 0;
  return bad;
}

void report_rows(CheckContext& cc, const char* key, const char* what, int64_t bad, size_t rows) {
  if (!bad) return;
  ++cc.failures;
  const Shape& s = cc.ops.shape();
  std::fprintf(stderr, "CHECK FAIL %s %s m=%lld n=%lld k=%lld: %lld of %zu sampled rows of %s differ from the host "
               "plan\n", key, s.tag.c_str(), (long long)s.m, (long long)s.n, (long long)s.k, (long long)bad, rows, what);
}

// norm_quant and silu_quant: one fused quantizer on buffers of its own.
class FusedQuant final : public Method {
 public:
  enum class Kind { kNorm, kSilu };

  FusedQuant(Env& env, Kind kind)
      : Method(key_of(kind), Scope::kRow, false,
               {key_of(kind) + "_kernel", key_of(kind) + "_bytes", key_of(kind) + "_floor_us", key_of(kind) + "_note"}),
        env_(env), kind_(kind) {}

  bool setup(ShapeOperands& ops, const RowOperands* row) override {
    if (row == nullptr || !env_.engine || !row->main_set || row->od.type != OutType::BF16) return false;
    const Shape& s = ops.shape();
    if (!ends_with(s.tag, kind_ == Kind::kNorm ? "_qkv" : "_down")) return false;
    ops_ = &ops;
    m_ = s.m;
    k_ = s.k;
    const size_t mk = size_t(m_) * size_t(k_);
    const bool norm = kind_ == Kind::kNorm;
    // Bytes read and written per run: x (+ residual read, residual_out written) and norm_weight; q; scales.
    bytes_ = norm ? 7 * mk + 2 * size_t(k_) + 2 * size_t(m_) : 5 * mk + 2 * size_t(m_);
    floor_us_ = double(bytes_) / (env_.copy_tbps * 1e12) * 1e6;
    desc_ = fused_desc(norm ? SQ_OP_RMSNORM_QUANTIZE : SQ_OP_SILU_MUL_QUANTIZE, m_, k_);
    if (!select_or_note(env_, desc_, key(), s, &plan_, &note_)) return false;
    kernel_ = kernel_of(plan_, m_);
    CK_SQ(sq_plan_workspace_size(plan_, &ws_bytes_));
    work_ = DevBuf(ws_bytes_);
    copies_ = rotation_copies(double(norm ? 7 * mk : 5 * mk) + 2.0 * double(m_), env_.l2_bytes);
    const uint64_t seed = mix64(kEngineSeed ^ std::hash<std::string>{}(key() + s.tag) ^ mix64(m_ * 131 + k_));
    for (int j = 0; j < copies_; ++j) {
      const size_t x_elems = norm ? mk : 2 * mk;
      x_.emplace_back(2 * x_elems);
      fill_rows_bf16<<<grid_for(x_elems), kThreads, 0, env_.stream>>>(x_.back().as<__nv_bfloat16>(), m_,
                                                                        norm ? k_ : 2 * k_, seed + 4 * j);
      if (norm) {
        res_.emplace_back(2 * mk);
        fill_rows_bf16<<<grid_for(mk), kThreads, 0, env_.stream>>>(res_.back().as<__nv_bfloat16>(), m_, k_,
                                                                     seed + 4 * j + 1);
        res_out_.emplace_back(2 * mk);
      }
      q_.emplace_back(mk);
      scale_.emplace_back(2 * size_t(m_));
      CK_CUDA(cudaGetLastError());
    }
    if (norm) gamma_.make(env_, k_, seed ^ 0x5851f42d4c957f2dull);
    CK_CUDA(cudaStreamSynchronize(env_.stream));
    return true;
  }
  void run(int i) override {
    const sq_run_args a = args(i % copies_);
    CK_SQ(sq_plan_run(plan_, reinterpret_cast<sq_stream>(env_.stream), ws_bytes_ ? work_.p : nullptr, ws_bytes_, &a));
  }
  // Poisoned q, scales and residual_out of set 0, one run; the host plan on the sampled rows.
  void check(CheckContext& cc) override {
    const bool norm = kind_ == Kind::kNorm;
    const size_t mk = size_t(m_) * size_t(k_);
    CK_CUDA(cudaMemsetAsync(q_[0].p, kPoisonOut, mk, env_.stream));
    CK_CUDA(cudaMemsetAsync(scale_[0].p, kPoisonOut, 2 * size_t(m_), env_.stream));
    if (norm) CK_CUDA(cudaMemsetAsync(res_out_[0].p, kPoisonOut, 2 * mk, env_.stream));
    run(0);
    CK_CUDA(cudaStreamSynchronize(env_.stream));
    const std::vector<int64_t> rows = sample_index(*ops_).rows;
    const int64_t mr = static_cast<int64_t>(rows.size());
    const std::vector<unsigned char> x = gather_rows(env_.stream, x_[0].p, (norm ? 2 : 4) * size_t(k_), rows);
    std::vector<unsigned char> res, host_res_out(norm ? 2 * size_t(mr * k_) : 0);
    std::vector<unsigned char> host_q(size_t(mr * k_)), host_scale(2 * size_t(mr));
    sq_plan_desc d = desc_;
    d.max_m = mr;
    sq_run_args a = blank_args(mr);
    a.act = x.data();
    a.out = host_q.data();
    a.act_scale_scratch = host_scale.data();
    if (norm) {
      res = gather_rows(env_.stream, res_[0].p, 2 * size_t(k_), rows);
      a.residual = res.data();
      a.residual_out = host_res_out.data();
      a.norm_weight = gamma_.host.data();
    }
    run_host_plan(d, a);
    const char* k = key().c_str();
    report_rows(cc, k, "q", rows_differ(env_.stream, q_[0].p, size_t(k_), rows, host_q.data()), rows.size());
    report_rows(cc, k, "the scales", rows_differ(env_.stream, scale_[0].p, 2, rows, host_scale.data()), rows.size());
    if (norm)
      report_rows(cc, k, "residual_out",
                  rows_differ(env_.stream, res_out_[0].p, 2 * size_t(k_), rows, host_res_out.data()), rows.size());
  }
  void fields(Cell& cell) const override {
    const bool on = ops_ != nullptr && plan_ != nullptr;
    cell.set(key() + "_kernel", on && !kernel_.empty() ? json_str(kernel_) : "null");
    cell.set(key() + "_bytes", bytes_ ? std::to_string(bytes_) : "null");
    cell.set(key() + "_floor_us", bytes_ ? json_num(floor_us_) : "null");
    cell.set(key() + "_note", note_.empty() ? "null" : json_str(note_));
  }
  void teardown() override {
    if (plan_) CK_SQ(sq_plan_destroy(plan_));
    plan_ = nullptr;
    ops_ = nullptr;
    kernel_.clear();
    note_.clear();
    bytes_ = 0;
    floor_us_ = NAN;
    work_ = DevBuf();
    ws_bytes_ = 0;
    x_.clear();
    res_.clear();
    res_out_.clear();
    q_.clear();
    scale_.clear();
    gamma_ = NormWeight{};
    copies_ = 1;
  }

 private:
  static std::string key_of(Kind k) { return k == Kind::kNorm ? "norm_quant" : "silu_quant"; }

  sq_run_args args(int j) const {
    sq_run_args a = blank_args(m_);
    a.act = x_[j].p;
    a.out = q_[j].p;
    a.act_scale_scratch = scale_[j].p;
    if (kind_ == Kind::kNorm) {
      a.residual = res_[j].p;
      a.residual_out = res_out_[j].p;
      a.norm_weight = gamma_.dev.p;
    }
    return a;
  }

  Env& env_;
  Kind kind_;
  ShapeOperands* ops_ = nullptr;
  int64_t m_ = 0, k_ = 0;
  sq_plan_desc desc_{};
  sq_plan plan_ = nullptr;
  std::string kernel_, note_;
  size_t bytes_ = 0;
  double floor_us_ = NAN;
  size_t ws_bytes_ = 0;
  DevBuf work_;
  int copies_ = 1;
  std::vector<DevBuf> x_, res_, res_out_, q_, scale_;
  NormWeight gamma_;
};

// sq_chain: RMSNORM_QUANTIZE -> SCALED_LINEAR on the shape's bf16 x, s8 weight and bf16 weight scales.
class SqChain final : public Method {
 public:
  explicit SqChain(Env& env)
      : Method("sq_chain", Scope::kRow, false, {"chain_kernel", "chain_norm_kernel", "chain_note"}), env_(env) {}

  bool setup(ShapeOperands& ops, const RowOperands* row) override {
    if (row == nullptr || !chain_row(env_, ops, *row)) return false;
    ops_ = &ops;
    row_ = row;
    const Shape& s = ops.shape();
    norm_desc_ = fused_desc(SQ_OP_RMSNORM_QUANTIZE, s.m, s.k);
    lin_desc_ = linear_desc(SQ_OP_SCALED_LINEAR, SQ_DTYPE_S8, SQ_DTYPE_S8, SQ_DTYPE_BF16, s);
    if (!select_or_note(env_, norm_desc_, key(), s, &norm_, &note_) ||
        !select_or_note(env_, lin_desc_, key(), s, &lin_, &note_)) {
      teardown_plans();
      return false;
    }
    lin_kernel_ = kernel_of(lin_, s.m);
    norm_kernel_ = kernel_of(norm_, s.m);
    CK_SQ(sq_plan_workspace_size(norm_, &norm_ws_bytes_));
    CK_SQ(sq_plan_workspace_size(lin_, &lin_ws_bytes_));
    norm_work_ = DevBuf(norm_ws_bytes_);
    lin_work_ = DevBuf(lin_ws_bytes_);
    for (int j = 0; j < ops.copies(); ++j) {
      q_.emplace_back(ops.mk());
      scale_.emplace_back(2 * size_t(s.m));
    }
    gamma_.make(env_, s.k, mix64(kEngineSeed ^ std::hash<std::string>{}(s.tag) ^ mix64(s.k)));
    ops.x_bf16(0);  // the inputs now, not during the timing
    return true;
  }
  void run(int i) override {
    const int j = ops_->set(i);
    const sq_stream st = reinterpret_cast<sq_stream>(env_.stream);
    const sq_run_args n = norm_args(j), l = lin_args(j);
    CK_SQ(sq_plan_run(norm_, st, norm_ws_bytes_ ? norm_work_.p : nullptr, norm_ws_bytes_, &n));
    CK_SQ(sq_plan_run(lin_, st, lin_ws_bytes_ ? lin_work_.p : nullptr, lin_ws_bytes_, &l));
  }
  // Poisoned q, scales and output of set 0, one run; the host plans of both steps on the sampled rows of x
  // (and the sampled weight rows for the linear, fed with the host's own q and scales): q rows, scales and
  // the sampled outputs bit for bit; every output written.
  void check(CheckContext& cc) override {
    const Shape& s = ops_->shape();
    cc.sq_out = nullptr;  // out(0) is overwritten here
    CK_CUDA(cudaMemsetAsync(ops_->out(0), kPoisonOut, 2 * ops_->mn(), env_.stream));
    CK_CUDA(cudaMemsetAsync(q_[0].p, kPoisonOut, ops_->mk(), env_.stream));
    CK_CUDA(cudaMemsetAsync(scale_[0].p, kPoisonOut, 2 * size_t(s.m), env_.stream));
    run(0);
    CK_CUDA(cudaStreamSynchronize(env_.stream));
    const SampleIndex si = sample_index(*ops_);
    const int64_t mr = static_cast<int64_t>(si.rows.size()), nr = static_cast<int64_t>(si.cols.size());
    const std::vector<unsigned char> x = gather_rows(env_.stream, ops_->x_bf16(0), 2 * size_t(s.k), si.rows);
    std::vector<unsigned char> host_q(size_t(mr * s.k)), host_scale(2 * size_t(mr));
    sq_plan_desc nd = norm_desc_;
    nd.max_m = mr;
    sq_run_args na = blank_args(mr);
    na.act = x.data();
    na.norm_weight = gamma_.host.data();
    na.out = host_q.data();
    na.act_scale_scratch = host_scale.data();
    run_host_plan(nd, na);
    report_rows(cc, "sq_chain", "q", rows_differ(env_.stream, q_[0].p, size_t(s.k), si.rows, host_q.data()),
                si.rows.size());
    report_rows(cc, "sq_chain", "the scales", rows_differ(env_.stream, scale_[0].p, 2, si.rows, host_scale.data()),
                si.rows.size());
    const std::vector<unsigned char> w = gather_rows(env_.stream, ops_->weight(0), size_t(s.k), si.cols);
    const std::vector<unsigned char> ws = gather_rows(env_.stream, row_->weight_scale, 2, si.cols);
    std::vector<uint16_t> host_out(size_t(mr * nr));
    sq_plan_desc ld = lin_desc_;
    ld.n = nr;
    ld.max_m = mr;
    sq_run_args la = blank_args(mr);
    la.act = host_q.data();
    la.act_scale = host_scale.data();
    la.weight = w.data();
    la.weight_scale = ws.data();
    la.out = host_out.data();
    run_host_plan(ld, la);
    int bad = 0;
    for (size_t i = 0; i < si.at.size(); ++i) {
      const auto [m, n] = ops_->samples()[i];
      const auto [r, c] = si.at[i];
      uint16_t got = 0;
      copy_to_host(env_.stream, &got, static_cast<const char*>(ops_->out(0)) + (size_t(m) * s.n + n) * 2, 1);
      const uint16_t want = host_out[r * size_t(nr) + c];
      if (want != got && bad++ < 3)
        std::fprintf(stderr, "CHECK FAIL sq_chain %s m=%lld n=%lld k=%lld: out[%lld,%lld] = 0x%x, host plans 0x%x\n",
                     s.tag.c_str(), (long long)s.m, (long long)s.n, (long long)s.k, (long long)m, (long long)n, got,
                     want);
    }
    cc.failures += bad != 0;
    check_all_written(env_, cc, "sq_chain", ops_->out(0), ops_->mn(), 2);
  }
  void fields(Cell& cell) const override {
    cell.set("chain_kernel", lin_kernel_.empty() ? "null" : json_str(lin_kernel_));
    cell.set("chain_norm_kernel", norm_kernel_.empty() ? "null" : json_str(norm_kernel_));
    cell.set("chain_note", note_.empty() ? "null" : json_str(note_));
  }
  void teardown() override {
    teardown_plans();
    lin_kernel_.clear();
    norm_kernel_.clear();
    note_.clear();
    norm_work_ = DevBuf();
    lin_work_ = DevBuf();
    norm_ws_bytes_ = lin_ws_bytes_ = 0;
    q_.clear();
    scale_.clear();
    gamma_ = NormWeight{};
  }

 private:
  void teardown_plans() {
    if (norm_) CK_SQ(sq_plan_destroy(norm_));
    if (lin_) CK_SQ(sq_plan_destroy(lin_));
    norm_ = lin_ = nullptr;
  }
  sq_run_args norm_args(int j) const {
    sq_run_args a = blank_args(ops_->shape().m);
    a.act = ops_->x_bf16(j);
    a.norm_weight = gamma_.dev.p;
    a.out = q_[j].p;
    a.act_scale_scratch = scale_[j].p;
    return a;
  }
  sq_run_args lin_args(int j) const {
    sq_run_args a = blank_args(ops_->shape().m);
    a.act = q_[j].p;
    a.act_scale = scale_[j].p;
    a.weight = ops_->weight(j);
    a.weight_scale = row_->weight_scale;  // bf16: bf16 rows only
    a.out = ops_->out(j);
    return a;
  }

  Env& env_;
  ShapeOperands* ops_ = nullptr;
  const RowOperands* row_ = nullptr;
  sq_plan_desc norm_desc_{}, lin_desc_{};
  sq_plan norm_ = nullptr, lin_ = nullptr;
  std::string lin_kernel_, norm_kernel_, note_;
  size_t norm_ws_bytes_ = 0, lin_ws_bytes_ = 0;
  DevBuf norm_work_, lin_work_;
  std::vector<DevBuf> q_, scale_;
  NormWeight gamma_;
};

}  // namespace

bool chain_row(const Env& env, const ShapeOperands& ops, const RowOperands& row) {
  const Shape& s = ops.shape();
  return env.engine && row.main_set && row.od.type == OutType::BF16 && s.tag != "square" &&
         std::find(std::begin(kChainMs), std::end(kChainMs), s.m) != std::end(kChainMs);
}

std::unique_ptr<Method> make_norm_quant(Env& env) {
  return std::make_unique<FusedQuant>(env, FusedQuant::Kind::kNorm);
}
std::unique_ptr<Method> make_silu_quant(Env& env) {
  return std::make_unique<FusedQuant>(env, FusedQuant::Kind::kSilu);
}
std::unique_ptr<Method> make_sq_chain(Env& env) { return std::make_unique<SqChain>(env); }

}  // namespace sqbench
