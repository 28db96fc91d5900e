// The asymmetric W8A8 methods (issue 19), timed in the row's interleaved group beside the symmetric s8 ones
// (sq, sq_dynamic), on the same bytes: act and weight read as u8 (method.cuh's ShapeOperands), so that
// sq_asym / sq and sq_dynamic_asym / sq_dynamic measure what the zero points cost on the same machine state.
//   sq_asym          SQ_OP_SMOOTHQUANT_LINEAR, act U8 with a per-tensor zero point (desc.act_zero_point), weight
//                    U8 with per-channel zero points (SQ_PLAN_WEIGHT_ZERO_POINT, args->weight_zero_point), the
//                    act row sums from the caller (args->act_sums, as a quantizer writes them) and the weight's
//                    column sums (args->weight_sums), out T; the main set's f32 and bf16 rows (every row with
//                    --asym-all). Checked against the contract's formula
//                    on the host (int64 sum of (a - za)(w - zw), then the epilogue): independent of the library
//   sq_dynamic_asym  SQ_OP_QUANTIZED_LINEAR, bf16 x, SQ_QUANT_DYNAMIC_ASYMMETRIC per token with quant_dtype U8,
//                    the same u8 weight and zero points, bf16 out (the main set's bf16 rows; with --asym-all
//                    every bf16 row, as sq_dynamic). Checked against
//                    the library's host plan on the sampled rows and columns (outputs and per-token scales)
// A plan the library refuses (select fails) leaves the method off the row with the message in <key>_note and a
// warning on stderr; report.py lists such rows among issue 19's misses.
#include "method.cuh"

namespace sqbench {
namespace {

// A linear of u8 weights with per-channel zero points.
sq_plan_desc asym_desc(sq_op op, sq_dtype act, sq_dtype t, const Shape& s) {
  sq_plan_desc d = linear_desc(op, act, SQ_DTYPE_U8, t, s);
  d.flags = SQ_PLAN_WEIGHT_ZERO_POINT;
  return d;
}

class SqAsym final : public Method {
 public:
  explicit SqAsym(Env& env) : Method("sq_asym", Scope::kRow, false, {"asym_kernel", "asym_note"}), env_(env) {}

  bool setup(ShapeOperands& ops, const RowOperands* row) override {
    if (row == nullptr || !env_.asym) return false;
    if (!env_.asym_all && (!row->main_set || row->od.type == OutType::F64)) return false;
    ops_ = &ops;
    row_ = row;
    sq_plan_desc d = asym_desc(SQ_OP_SMOOTHQUANT_LINEAR, SQ_DTYPE_U8, row->od.sq, ops.shape());
    d.act_scale = ops.act_scale();
    d.act_zero_point = ops.act_zp();
    if (!select_or_note(env_, d, key(), ops.shape(), &plan_, &note_)) return false;
    const char* name = nullptr;
    CK_SQ(sq_plan_kernel_name(plan_, ops.shape().m, &name));
    kernel_ = name;
    // Zero when the run passes act_sums; allocated whatever it says (a run may require it: see the report).
    CK_SQ(sq_plan_workspace_size(plan_, &ws_bytes_));
    work_ = DevBuf(ws_bytes_);
    ops.act_sums_u8(0);  // the sums and zero points now, not during the timing
    ops.weight_sums_u8(0);
    ops.weight_zp_u8();
    return true;
  }
  void run(int i) override {
    const sq_run_args a = args(ops_->set(i));
    CK_SQ(sq_plan_run(plan_, reinterpret_cast<sq_stream>(env_.stream), ws_bytes_ ? work_.p : nullptr, ws_bytes_, &a));
  }
  // Poisoned output, one run on set 0; sampled elements against the contract on the host:
  // acc = sum_k (a - za) * (w - zw) in int64 (the exact int32 value for K <= max_k), then the epilogue with
  // rs = (T)act_scale; every output written.
  void check(CheckContext& cc) override {
    const Shape& s = ops_->shape();
    const OutDesc& od = row_->od;
    const size_t osz = od.size;
    cc.sq_out = nullptr;  // out(0) is overwritten here
    CK_CUDA(cudaMemsetAsync(ops_->out(0), kPoisonOut, osz * ops_->mn(), env_.stream));
    run(0);
    CK_CUDA(cudaStreamSynchronize(env_.stream));
    int bad = 0;
    const int64_t za = ops_->act_zp();
    for (const auto& [m, n] : ops_->samples()) {
      const std::vector<int8_t> a = ops_->act_row(m), w = ops_->weight_row(n);
      const int64_t zw = ops_->weight_zp()[static_cast<size_t>(n)];
      int64_t acc = 0;
      for (int64_t k = 0; k < s.k; ++k)
        acc += (int64_t{static_cast<uint8_t>(a[k])} - za) * (int64_t{static_cast<uint8_t>(w[k])} - zw);
      if (acc > INT32_MAX || acc < INT32_MIN) die("sq_asym check: int32 overflow at K = %lld", (long long)s.k);
      const uint64_t want = contract::ref_bits(od.type, static_cast<int32_t>(acc), ops_->act_scale(),
                                               ops_->weight_scale()[n]);
      unsigned char g[sizeof(uint64_t)];
      copy_to_host(env_.stream, g, static_cast<const char*>(ops_->out(0)) + (size_t(m) * s.n + n) * osz, osz);
      const uint64_t got = bits_at(g, osz);
      if (want != got && bad++ < 3)
        std::fprintf(stderr, "CHECK FAIL sq_asym %s m=%lld n=%lld k=%lld %s: out[%lld,%lld] = 0x%llx, contract 0x%llx "
                     "(za %lld, zw %lld)\n", s.tag.c_str(), (long long)s.m, (long long)s.n, (long long)s.k, od.name,
                     (long long)m, (long long)n, (unsigned long long)got, (unsigned long long)want, (long long)za,
                     (long long)zw);
    }
    cc.failures += bad != 0;
    check_all_written(env_, cc, "sq_asym", ops_->out(0), ops_->mn(), osz);
  }
  void fields(Cell& cell) const override {
    cell.set("asym_kernel", kernel_.empty() ? "null" : json_str(kernel_));
    cell.set("asym_note", note_.empty() ? "null" : json_str(note_));
  }
  void teardown() override {
    if (plan_) CK_SQ(sq_plan_destroy(plan_));
    plan_ = nullptr;
    kernel_.clear();
    note_.clear();
    work_ = DevBuf();
    ws_bytes_ = 0;
  }

 private:
  sq_run_args args(int j) {
    sq_run_args a;
    std::memset(&a, 0, sizeof a);
    a.struct_size = sizeof a;
    a.m = ops_->shape().m;
    a.act = ops_->act(j);
    a.weight = ops_->weight(j);
    a.weight_scale = row_->weight_scale;
    a.act_scale_scratch = ops_->scratch();
    a.out = ops_->out(j);
    a.weight_zero_point = ops_->weight_zp_u8();
    a.weight_sums = ops_->weight_sums_u8(j);
    a.act_sums = ops_->act_sums_u8(j);  // read by the linear
    return a;
  }

  Env& env_;
  ShapeOperands* ops_ = nullptr;
  const RowOperands* row_ = nullptr;
  sq_plan plan_ = nullptr;
  std::string kernel_, note_;
  size_t ws_bytes_ = 0;
  DevBuf work_;
};

class SqDynamicAsym final : public Method {
 public:
  explicit SqDynamicAsym(Env& env)
      : Method("sq_dynamic_asym", Scope::kRow, false, {"dynamic_asym_kernel", "dynamic_asym_note"}), env_(env) {}

  bool setup(ShapeOperands& ops, const RowOperands* row) override {
    if (row == nullptr || !env_.asym || !env_.dynamic || row->od.type != OutType::BF16) return false;
    if (!env_.asym_all && !row->main_set) return false;
    ops_ = &ops;
    row_ = row;
    sq_plan_desc d = asym_desc(SQ_OP_QUANTIZED_LINEAR, SQ_DTYPE_BF16, SQ_DTYPE_BF16, ops.shape());
    d.quant_mode = SQ_QUANT_DYNAMIC_ASYMMETRIC;
    d.quant_dtype = SQ_DTYPE_U8;
    if (!select_or_note(env_, d, key(), ops.shape(), &plan_, &note_)) return false;
    desc_ = d;
    const char* name = nullptr;
    CK_SQ(sq_plan_kernel_name(plan_, ops.shape().m, &name));
    kernel_ = name;
    CK_SQ(sq_plan_workspace_size(plan_, &ws_bytes_));
    work_ = DevBuf(ws_bytes_);
    ops.x_bf16(0);
    ops.weight_sums_u8(0);
    ops.weight_zp_u8();
    return true;
  }
  void run(int i) override {
    const sq_run_args a = args(ops_->set(i));
    CK_SQ(sq_plan_run(plan_, reinterpret_cast<sq_stream>(env_.stream), ws_bytes_ ? work_.p : nullptr, ws_bytes_, &a));
  }
  // Poisoned output and scratch, one run on set 0; the host plan of the same descriptor on the sampled rows of x
  // and the sampled weight rows (their zero points, scales and sums): sampled outputs and those rows' per-token
  // scales bit for bit; every output written.
  void check(CheckContext& cc) override {
    const Shape& s = ops_->shape();
    cc.sq_out = nullptr;  // out(0) is overwritten here
    CK_CUDA(cudaMemsetAsync(ops_->out(0), kPoisonOut, 2 * ops_->mn(), env_.stream));
    CK_CUDA(cudaMemsetAsync(ops_->scratch(), kPoisonOut, 2 * s.m, env_.stream));
    run(0);
    CK_CUDA(cudaStreamSynchronize(env_.stream));
    const SampleIndex si = sample_index(*ops_);
    const int64_t mr = static_cast<int64_t>(si.rows.size()), nr = static_cast<int64_t>(si.cols.size());
    const std::vector<unsigned char> x = gather_rows(env_.stream, ops_->x_bf16(0), 2 * size_t(s.k), si.rows);
    const std::vector<unsigned char> w = gather_rows(env_.stream, ops_->weight(0), size_t(s.k), si.cols);
    const std::vector<unsigned char> ws = gather_rows(env_.stream, row_->weight_scale, 2, si.cols);
    const std::vector<unsigned char> dev_scale = gather_rows(env_.stream, ops_->scratch(), 2, si.rows);
    std::vector<uint8_t> zw(si.cols.size());
    std::vector<int32_t> sw(si.cols.size());
    for (size_t c = 0; c < si.cols.size(); ++c) {
      zw[c] = ops_->weight_zp()[static_cast<size_t>(si.cols[c])];
      int32_t sum = 0;  // the column sums from the host copy, not the device's
      for (int64_t k = 0; k < s.k; ++k) sum += w[c * size_t(s.k) + size_t(k)];
      sw[c] = sum;
    }
    std::vector<uint16_t> host_out(static_cast<size_t>(mr * nr)), host_scale(static_cast<size_t>(mr));
    sq_plan_desc d = desc_;
    d.n = nr;
    d.max_m = mr;
    sq_run_args a;
    std::memset(&a, 0, sizeof a);
    a.struct_size = sizeof a;
    a.m = mr;
    a.act = x.data();
    a.weight = w.data();
    a.weight_scale = ws.data();
    a.weight_zero_point = zw.data();
    a.weight_sums = sw.data();
    a.act_scale_scratch = host_scale.data();
    a.out = host_out.data();
    run_host_plan(d, a);
    int bad = 0;
    for (size_t i = 0; i < si.at.size(); ++i) {
      const auto [m, n] = ops_->samples()[i];
      const auto [r, c] = si.at[i];
      uint16_t got = 0, got_scale = 0;
      copy_to_host(env_.stream, &got, static_cast<const char*>(ops_->out(0)) + (size_t(m) * s.n + n) * 2, 1);
      std::memcpy(&got_scale, dev_scale.data() + 2 * r, 2);
      const uint16_t want = host_out[r * size_t(nr) + c], want_scale = host_scale[r];
      if ((want != got || want_scale != got_scale) && bad++ < 3)
        std::fprintf(stderr, "CHECK FAIL sq_dynamic_asym %s m=%lld n=%lld k=%lld: out[%lld,%lld] = 0x%x (host plan "
                     "0x%x), scale[%lld] = 0x%x (host plan 0x%x)\n", s.tag.c_str(), (long long)s.m, (long long)s.n,
                     (long long)s.k, (long long)m, (long long)n, got, want, (long long)m, got_scale, want_scale);
    }
    cc.failures += bad != 0;
    check_all_written(env_, cc, "sq_dynamic_asym", ops_->out(0), ops_->mn(), 2);
  }
  void fields(Cell& cell) const override {
    cell.set("dynamic_asym_kernel", kernel_.empty() ? "null" : json_str(kernel_));
    cell.set("dynamic_asym_note", note_.empty() ? "null" : json_str(note_));
  }
  void teardown() override {
    if (plan_) CK_SQ(sq_plan_destroy(plan_));
    plan_ = nullptr;
    kernel_.clear();
    note_.clear();
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
    a.weight_scale = row_->weight_scale;  // bf16: bf16 rows only
    a.act_scale_scratch = ops_->scratch();
    a.out = ops_->out(j);
    a.weight_zero_point = ops_->weight_zp_u8();
    a.weight_sums = ops_->weight_sums_u8(j);
    return a;
  }

  Env& env_;
  ShapeOperands* ops_ = nullptr;
  const RowOperands* row_ = nullptr;
  sq_plan plan_ = nullptr;
  sq_plan_desc desc_{};
  std::string kernel_, note_;
  size_t ws_bytes_ = 0;
  DevBuf work_;
};

}  // namespace

std::unique_ptr<Method> make_sq_asym(Env& env) { return std::make_unique<SqAsym>(env); }
std::unique_ptr<Method> make_sq_dynamic_asym(Env& env) { return std::make_unique<SqDynamicAsym>(env); }

}  // namespace sqbench
