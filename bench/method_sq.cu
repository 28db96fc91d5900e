// The library's methods, through its C ABI (method.cuh):
//   sq          sq_plan_run, SQ_OP_SMOOTHQUANT_LINEAR (int8 act, static per-tensor act scale),
//               SQ_PREFERENCE_FASTEST, out T; checked against the host reference on sampled elements,
//               its act_scale_scratch, and (cublaslt_scaled's check) on every element
//   sq_dynamic  SQ_OP_QUANTIZED_LINEAR: bf16 x, per-token quantization into the workspace, then the
//               linear, bf16 out (bf16 rows only)
#include "method.cuh"

namespace sqbench {
namespace {

int32_t host_dot(const std::vector<int8_t>& a, const std::vector<int8_t>& w) {
  int64_t acc = 0;
  for (size_t i = 0; i < a.size(); ++i) acc += int64_t{a[i]} * int64_t{w[i]};
  if (acc > INT32_MAX || acc < INT32_MIN) die("host reference: int32 overflow (K too large)");
  return static_cast<int32_t>(acc);
}

class SqStatic final : public Method {
 public:
  explicit SqStatic(Env& env) : Method(keys::kSq, Scope::kRow, true, {"kernel"}), env_(env) {}

  bool setup(ShapeOperands& ops, const RowOperands* row) override {
    if (row == nullptr) return false;
    ops_ = &ops;
    row_ = row;
    sq_plan_desc d = linear_desc(SQ_OP_SMOOTHQUANT_LINEAR, SQ_DTYPE_S8, SQ_DTYPE_S8, row->od.sq, ops.shape());
    d.act_scale = ops.act_scale();
    CK_SQ(sq_plan_select(reinterpret_cast<sq_stream>(env_.stream), &d, SQ_PREFERENCE_FASTEST, &plan_));
    const char* name = nullptr;
    CK_SQ(sq_plan_kernel_name(plan_, ops.shape().m, &name));
    kernel_ = name;
    // The plan's workspace (K % 16 != 0: the staging area), as a user who follows the header passes it;
    // --sq-workspace none times the run without it (the operands read in place) [D-stage-unaligned].
    if (env_.sq_workspace) CK_SQ(sq_plan_workspace_size(plan_, &ws_bytes_));
    if (ws_bytes_ > 0) work_ = DevBuf(ws_bytes_);
    return true;
  }
  void run(int i) override {
    const sq_run_args a = args(ops_->set(i));
    CK_SQ(sq_plan_run(plan_, reinterpret_cast<sq_stream>(env_.stream), ws_bytes_ ? work_.p : nullptr, ws_bytes_, &a));
  }
  // Poisoned output and scratch, one run on set 0; sampled elements against the host reference, the
  // scratch against (T)act_scale. Publishes the output for cublaslt_scaled's full comparison.
  void check(CheckContext& cc) override {
    const Shape& s = ops_->shape();
    const OutDesc& od = row_->od;
    const size_t osz = od.size;
    CK_CUDA(cudaMemsetAsync(ops_->out(0), kPoisonOut, osz * ops_->mn(), env_.stream));
    CK_CUDA(cudaMemsetAsync(ops_->scratch(), kPoisonOut, osz * s.m, env_.stream));
    run(0);
    CK_CUDA(cudaStreamSynchronize(env_.stream));
    int bad = 0;
    for (const auto& [m, n] : ops_->samples()) {
      const int32_t dot = host_dot(ops_->act_row(m), ops_->weight_row(n));
      const uint64_t want = contract::ref_bits(od.type, dot, ops_->act_scale(), ops_->weight_scale()[n]);
      unsigned char g[sizeof(uint64_t)];
      copy_to_host(env_.stream, g, static_cast<const char*>(ops_->out(0)) + (size_t(m) * s.n + n) * osz, osz);
      const uint64_t got = bits_at(g, osz);
      if (want != got && bad++ < 3)
        std::fprintf(stderr, "CHECK FAIL %s m=%lld n=%lld k=%lld %s: out[%lld,%lld] = 0x%llx, host reference 0x%llx\n",
                     s.tag.c_str(), (long long)s.m, (long long)s.n, (long long)s.k, od.name, (long long)m,
                     (long long)n, (unsigned long long)got, (unsigned long long)want);
    }
    cc.failures += bad != 0;
    {  // the fused scratch fill: every row holds (T)act_scale
      std::vector<unsigned char> h(osz * s.m);
      copy_to_host(env_.stream, h.data(), ops_->scratch(), h.size());
      const uint64_t want = contract::bits_of(od.type, ops_->act_scale());
      int64_t wrong = 0;
      for (int64_t m = 0; m < s.m; ++m) wrong += bits_at(h.data() + m * osz, osz) != want;
      if (wrong) {
        ++cc.failures;
        std::fprintf(stderr, "CHECK FAIL %s m=%lld %s: %lld act_scale_scratch entries are not (T)act_scale\n",
                     s.tag.c_str(), (long long)s.m, od.name, (long long)wrong);
      }
    }
    cc.sq_out = ops_->out(0);
    // The host cost of one sq_plan_run call (once: the first shape's first dtype), and of a bare launch.
    if (std::isnan(env_.host_run_us)) {
      const sq_run_args a = args(0);
      env_.host_run_us = host_cost_us(env_.stream, [&] {
        CK_SQ(sq_plan_run(plan_, reinterpret_cast<sq_stream>(env_.stream), ws_bytes_ ? work_.p : nullptr, ws_bytes_, &a));
      });
      env_.host_launch_us = host_launch_us(env_.stream);
      env_.host_run_shape = s.tag + " m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) +
                            " k=" + std::to_string(s.k) + " " + od.name;
    }
  }
  void fields(Cell& cell) const override { cell.set("kernel", kernel_.empty() ? "null" : json_str(kernel_)); }
  void teardown() override {
    if (plan_) CK_SQ(sq_plan_destroy(plan_));
    plan_ = nullptr;
    kernel_.clear();
    work_ = DevBuf();
    ws_bytes_ = 0;
  }

 private:
  sq_run_args args(int j) const {
    sq_run_args a;
    std::memset(&a, 0, sizeof a);
    a.struct_size = sizeof a;
    a.m = ops_->shape().m;
    a.act = ops_->act(j);
    a.weight = ops_->weight(j);
    a.weight_scale = row_->weight_scale;
    a.act_scale_scratch = ops_->scratch();
    a.out = ops_->out(j);
    return a;
  }

  Env& env_;
  ShapeOperands* ops_ = nullptr;
  const RowOperands* row_ = nullptr;
  sq_plan plan_ = nullptr;
  std::string kernel_;
  DevBuf work_;
  size_t ws_bytes_ = 0;
};

class SqDynamic final : public Method {
 public:
  explicit SqDynamic(Env& env)
      : Method(keys::kDynamic, Scope::kRow, false, {"dynamic_kernel", "dynamic_floor_us"}), env_(env) {}

  bool setup(ShapeOperands& ops, const RowOperands* row) override {
    if (row == nullptr || !env_.dynamic || row->od.type != OutType::BF16) return false;
    ops_ = &ops;
    row_ = row;
    const Shape& s = ops.shape();
    const sq_plan_desc d = linear_desc(SQ_OP_QUANTIZED_LINEAR, SQ_DTYPE_BF16, SQ_DTYPE_S8, SQ_DTYPE_BF16, s);
    CK_SQ(sq_plan_select(reinterpret_cast<sq_stream>(env_.stream), &d, SQ_PREFERENCE_FASTEST, &plan_));
    const char* name = nullptr;
    CK_SQ(sq_plan_kernel_name(plan_, s.m, &name));
    kernel_ = name;
    CK_SQ(sq_plan_workspace_size(plan_, &ws_bytes_));
    work_ = DevBuf(ws_bytes_);
    ops.x_bf16(0);  // makes the inputs now, not during the timing
    // The floor with the bf16 input: 2 MK + NK + 2 (N + M) + 2 MN bytes at the copy bandwidth.
    floor_us_ = double(2 * ops.mk() + ops.nk() + 2 * (s.n + s.m) + 2 * ops.mn()) / (env_.copy_tbps * 1e12) * 1e6;
    return true;
  }
  void run(int i) override {
    const sq_run_args a = args(ops_->set(i));
    CK_SQ(sq_plan_run(plan_, reinterpret_cast<sq_stream>(env_.stream), ws_bytes_ ? work_.p : nullptr, ws_bytes_, &a));
  }
  // Poisoned output and scratch, one run on set 0; sampled outputs and per-token scales against the
  // contract on the host; every output written.
  void check(CheckContext& cc) override {
    const Shape& s = ops_->shape();
    const size_t mn = ops_->mn();
    cc.sq_out = nullptr;  // out(0) is overwritten here
    CK_CUDA(cudaMemsetAsync(ops_->out(0), kPoisonOut, 2 * mn, env_.stream));
    CK_CUDA(cudaMemsetAsync(ops_->scratch(), kPoisonOut, 2 * s.m, env_.stream));
    run(0);
    CK_CUDA(cudaStreamSynchronize(env_.stream));
    int bad = 0;
    std::vector<int8_t> q(static_cast<size_t>(s.k));
    for (const auto& [m, n] : ops_->samples()) {
      const std::vector<uint16_t> xr = ops_->x_row(m);
      const uint16_t sc = contract::quantize_row_bf16(xr.data(), s.k, q.data());
      const int32_t dot = host_dot(q, ops_->weight_row(n));
      const uint64_t want =
          contract::ref_bits(OutType::BF16, dot, double(contract::bf16_to_float(sc)), ops_->weight_scale()[n]);
      uint16_t got = 0, got_scale = 0;
      copy_to_host(env_.stream, &got, static_cast<const char*>(ops_->out(0)) + (size_t(m) * s.n + n) * 2, 1);
      copy_to_host(env_.stream, &got_scale, static_cast<const char*>(ops_->scratch()) + size_t(m) * 2, 1);
      if ((want != got || sc != got_scale) && bad++ < 3)
        std::fprintf(stderr, "CHECK FAIL dynamic %s m=%lld n=%lld k=%lld: out[%lld,%lld] = 0x%x (want 0x%llx), "
                     "scale[%lld] = 0x%x (want 0x%x)\n", s.tag.c_str(), (long long)s.m, (long long)s.n,
                     (long long)s.k, (long long)m, (long long)n, got, (unsigned long long)want, (long long)m,
                     got_scale, sc);
    }
    cc.failures += bad != 0;
    {  // every output written (no poison left)
      DevBuf poison(2 * mn);
      CK_CUDA(cudaMemsetAsync(poison.p, kPoisonOut, 2 * mn, env_.stream));
      unsigned long long first = 0;
      const unsigned long long same = mn - device_diff(env_, ops_->out(0), poison.p, mn, 2, &first);
      if (same) {
        ++cc.failures;
        std::fprintf(stderr, "CHECK FAIL dynamic %s m=%lld: %llu outputs still hold the poison\n", s.tag.c_str(),
                     (long long)s.m, same);
      }
    }
  }
  void fields(Cell& cell) const override {
    cell.set("dynamic_kernel", kernel_.empty() ? "null" : json_str(kernel_));
    cell.set("dynamic_floor_us", json_num(floor_us_));
  }
  void teardown() override {
    if (plan_) CK_SQ(sq_plan_destroy(plan_));
    plan_ = nullptr;
    kernel_.clear();
    floor_us_ = NAN;
    work_ = DevBuf();
    ws_bytes_ = 0;
  }

 private:
  sq_run_args args(int j) {
    sq_run_args a;
    std::memset(&a, 0, sizeof a);
    a.struct_size = sizeof a;
    a.m = ops_->shape().m;
    a.act = ops_->x_bf16(j);
    a.weight = ops_->weight(j);
    a.weight_scale = row_->weight_scale;  // bf16: the dynamic plan runs on bf16 rows only
    a.act_scale_scratch = ops_->scratch();
    a.out = ops_->out(j);
    return a;
  }

  Env& env_;
  ShapeOperands* ops_ = nullptr;
  const RowOperands* row_ = nullptr;
  sq_plan plan_ = nullptr;
  std::string kernel_;
  double floor_us_ = NAN;
  size_t ws_bytes_ = 0;
  DevBuf work_;
};

}  // namespace

std::unique_ptr<Method> make_sq_static(Env& env) { return std::make_unique<SqStatic>(env); }
std::unique_ptr<Method> make_sq_dynamic(Env& env) { return std::make_unique<SqDynamic>(env); }

}  // namespace sqbench
