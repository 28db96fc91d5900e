// A plan-level test harness for every op: a case is a descriptor, M, strides and named operands (the
// sq_run_args fields they go in, inputs with their bytes, outputs with their sizes); a placement puts
// them in host memory (here) or device memory (tests/test_gpu_linear.cpp) and builds the run arguments.
// Also the linears' independent int64 oracle with U8 operands and zero points.
#pragma once

#include <cstdio>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "run_arg_fields.hpp"
#include "test_util.hpp"

namespace sqt {

// -------------------------------------------------------------------------------- operand data
// n random values of an int8 dtype (S8: -128..127, U8: 0..255), never all zero.
inline std::vector<unsigned char> random_int8(sq_dtype d, size_t n, int lo = -1000, int hi = 1000) {
  const int dlo = d == SQ_DTYPE_U8 ? 0 : -128, dhi = d == SQ_DTYPE_U8 ? 255 : 127;
  std::uniform_int_distribution<int> u(lo < dlo ? dlo : lo, hi > dhi ? dhi : hi);
  std::vector<unsigned char> v(n);
  for (auto& x : v) x = static_cast<unsigned char>(u(rng()));
  return v;
}
inline std::vector<unsigned char> bytes_of(const Buf& b) { return b.bytes; }
inline std::vector<unsigned char> int32_bytes(const std::vector<int32_t>& v) {
  std::vector<unsigned char> b(v.size() * 4);
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}
inline std::vector<int32_t> int32_values(const std::vector<unsigned char>& b) {
  std::vector<int32_t> v(b.size() / 4);
  if (!v.empty()) std::memcpy(v.data(), b.data(), v.size() * 4);
  return v;
}
// The value of element i of an int8 array of dtype d.
inline int32_t int8_at(const unsigned char* p, sq_dtype d, int64_t i) {
  return d == SQ_DTYPE_U8 ? static_cast<int32_t>(p[i]) : static_cast<int32_t>(static_cast<int8_t>(p[i]));
}

// sum_k w[n, k] per row n (what sq_weight_sums computes), independently.
inline std::vector<int32_t> row_sums_of(const unsigned char* w, sq_dtype d, int64_t rows, int64_t cols, int64_t ld) {
  std::vector<int32_t> s(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    int64_t t = 0;
    for (int64_t c = 0; c < cols; ++c) t += int8_at(w, d, r * ld + c);
    s[static_cast<size_t>(r)] = static_cast<int32_t>(t);
  }
  return s;
}

// The linears' accumulators per the contract, in int64 (then checked to fit int32):
//   acc[m, n] = sum_k (a[m,k] - za[m]) * (w[n,k] - zw[n])   (za, zw empty: 0)
inline std::vector<int32_t> oracle_acc_zp(int64_t M, int64_t N, int64_t K, const unsigned char* act, sq_dtype at,
                                          int64_t lda, const unsigned char* w, sq_dtype wt, int64_t ldw,
                                          const std::vector<int32_t>& za, const std::vector<int32_t>& zw) {
  std::vector<int32_t> acc(static_cast<size_t>(M * N));
  for (int64_t m = 0; m < M; ++m) {
    const int64_t zam = za.empty() ? 0 : za[static_cast<size_t>(m)];
    for (int64_t n = 0; n < N; ++n) {
      const int64_t zwn = zw.empty() ? 0 : zw[static_cast<size_t>(n)];
      int64_t s = 0;
      for (int64_t k = 0; k < K; ++k) s += (int8_at(act, at, m * lda + k) - zam) * (int8_at(w, wt, n * ldw + k) - zwn);
      if (s < INT32_MIN || s > INT32_MAX) throw std::runtime_error("oracle: the accumulator does not fit int32");
      acc[static_cast<size_t>(m * N + n)] = static_cast<int32_t>(s);
    }
  }
  return acc;
}

// ------------------------------------------------------------------------------------ the case
struct Operand {
  std::string field;
  std::vector<unsigned char> data;  // the initial bytes (inputs, in-place outputs), else only the size
  bool output = false;              // compared after a run
  bool init = true;                 // starts with `data` (else poisoned: 0xFF)
};
inline Operand input(const char* field, std::vector<unsigned char> data) {
  return Operand{field, std::move(data), false, true};
}
inline Operand output(const char* field, size_t bytes) {
  return Operand{field, std::vector<unsigned char>(bytes), true, false};
}
// An input the run also writes (an in-place output).
inline Operand inout(const char* field, std::vector<unsigned char> data) {
  return Operand{field, std::move(data), true, true};
}

struct OpCase {
  std::string name;
  sq_plan_desc desc;
  int64_t m = 0;
  std::vector<Operand> operands;
  // Only the ld_* fields are read (0: packed).
  int64_t ld_act = 0, ld_weight = 0, ld_out = 0, ld_residual = 0, ld_residual_out = 0;
  // Fields that point at another operand's buffer (first: the field, second: the operand it aliases).
  std::vector<std::pair<std::string, std::string>> aliases;
  const Operand& operand(const std::string& field) const {
    for (const Operand& o : operands)
      if (o.field == field) return o;
    throw std::runtime_error("no operand " + field);
  }
  bool has(const std::string& field) const {
    for (const Operand& o : operands)
      if (o.field == field) return true;
    return false;
  }
};

inline sq_plan_desc blank_desc(sq_op op) {
  sq_plan_desc d;
  std::memset(&d, 0, sizeof(d));
  d.struct_size = sizeof(d);
  d.op = op;
  return d;
}

// A plan for a case (throws with the library's message on failure).
inline sq_plan select_plan(const OpCase& c, sq_preference pref, sq_stream stream = nullptr) {
  sq_plan p = nullptr;
  const sq_status st = sq_plan_select(stream, &c.desc, pref, &p);
  if (st != SQ_STATUS_SUCCESS)
    throw std::runtime_error("sq_plan_select(" + c.name + "): " + sq_status_string(st) + ": " + last_error());
  return p;
}
inline size_t workspace_size_of(sq_plan p) {
  size_t b = 0;
  if (sq_plan_workspace_size(p, &b) != SQ_STATUS_SUCCESS) throw std::runtime_error("sq_plan_workspace_size");
  return b;
}

// A case's run arguments without its operands: M and the leading dimensions (the placements add the pointers).
inline sq_run_args case_args(const OpCase& c) {
  sq_run_args a = run_args();
  a.m = c.m;
  a.ld_act = c.ld_act;
  a.ld_weight = c.ld_weight;
  a.ld_out = c.ld_out;
  a.ld_residual = c.ld_residual;
  a.ld_residual_out = c.ld_residual_out;
  return a;
}

// A case's operands in host memory, each in its own 64-byte aligned block, and a workspace of `ws` bytes.
class HostPlaced {
 public:
  HostPlaced(const OpCase& c, size_t ws) : c_(c) {
    args_ = case_args(c);
    for (const Operand& o : c.operands) {
      void* p = alloc(o.data.size());
      ptrs_.push_back(p);
      set_arg(args_, o.field, p);
    }
    for (const auto& al : c.aliases) set_arg(args_, al.first, ptr(al.second));
    ws_bytes_ = ws;
    if (ws > 0) ws_ = alloc(ws);
    reset();
  }
  ~HostPlaced() {
    for (void* p : owned_) std::free(p);
  }
  HostPlaced(const HostPlaced&) = delete;
  HostPlaced& operator=(const HostPlaced&) = delete;

  sq_run_args& args() { return args_; }
  void* workspace() const { return ws_; }
  size_t workspace_bytes() const { return ws_bytes_; }
  void* ptr(const std::string& field) const {
    for (size_t i = 0; i < ptrs_.size(); ++i)
      if (c_.operands[i].field == field) return ptrs_[i];
    throw std::runtime_error("no operand " + field);
  }
  // The initial state: inputs (and in-place outputs) hold their data, outputs and the workspace 0xFF
  // (NaN in every float dtype, -1 / 255 in int8, -1 in int32).
  void reset() {
    for (size_t i = 0; i < ptrs_.size(); ++i) {
      const Operand& o = c_.operands[i];
      if (o.init) std::memcpy(ptrs_[i], o.data.data(), o.data.size());
      else std::memset(ptrs_[i], 0xFF, o.data.size());
    }
    if (ws_) std::memset(ws_, 0xFF, ws_bytes_);
  }
  std::vector<unsigned char> bytes(const std::string& field) const {
    for (size_t i = 0; i < ptrs_.size(); ++i)
      if (c_.operands[i].field == field) {
        const auto* p = static_cast<const unsigned char*>(ptrs_[i]);
        return std::vector<unsigned char>(p, p + c_.operands[i].data.size());
      }
    throw std::runtime_error("no operand " + field);
  }
  // Every byte the caller owns: each operand, then the workspace.
  std::vector<unsigned char> snapshot() const {
    std::vector<unsigned char> s;
    for (size_t i = 0; i < ptrs_.size(); ++i) {
      const auto* p = static_cast<const unsigned char*>(ptrs_[i]);
      s.insert(s.end(), p, p + c_.operands[i].data.size());
    }
    if (ws_) s.insert(s.end(), static_cast<unsigned char*>(ws_), static_cast<unsigned char*>(ws_) + ws_bytes_);
    return s;
  }
  // The outputs in operand order.
  std::vector<std::vector<unsigned char>> outputs() const {
    std::vector<std::vector<unsigned char>> v;
    for (size_t i = 0; i < ptrs_.size(); ++i)
      if (c_.operands[i].output) v.push_back(bytes(c_.operands[i].field));
    return v;
  }
  sq_status run(sq_plan p) { return sq_plan_run(p, nullptr, ws_, ws_bytes_, &args_); }

 private:
  void* alloc(size_t n) {
    const size_t b = (std::max<size_t>(n, 1) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, b);
    if (!p) throw std::runtime_error("out of host memory");
    owned_.push_back(p);
    return p;
  }
  const OpCase& c_;
  sq_run_args args_;
  std::vector<void*> ptrs_, owned_;
  void* ws_ = nullptr;
  size_t ws_bytes_ = 0;
};

// The names of a case's outputs, in operand order.
inline std::vector<std::string> output_names(const OpCase& c) {
  std::vector<std::string> v;
  for (const Operand& o : c.operands)
    if (o.output) v.push_back(o.field);
  return v;
}

// The host reference plan's outputs of a case (throws on failure).
inline std::vector<std::vector<unsigned char>> host_outputs(const OpCase& c) {
  sq_plan p = select_plan(c, SQ_PREFERENCE_HOST_REFERENCE);
  std::vector<std::vector<unsigned char>> out;
  {
    HostPlaced h(c, workspace_size_of(p));
    const sq_status st = h.run(p);
    if (st != SQ_STATUS_SUCCESS) {
      const std::string msg = "host run of " + c.name + ": " + sq_status_string(st) + ": " + last_error();
      sq_plan_destroy(p);
      throw std::runtime_error(msg);
    }
    out = h.outputs();
  }
  sq_plan_destroy(p);
  return out;
}

// "" when `got` equals `want` bit for bit, else which output first differs and where.
inline std::string first_mismatch(const OpCase& c, const std::vector<std::vector<unsigned char>>& got,
                                  const std::vector<std::vector<unsigned char>>& want) {
  const std::vector<std::string> names = output_names(c);
  for (size_t i = 0; i < want.size(); ++i) {
    if (got[i] == want[i]) continue;
    size_t b = 0;
    while (b < want[i].size() && b < got[i].size() && got[i][b] == want[i][b]) ++b;
    size_t differing = 0;
    for (size_t j = 0; j < want[i].size() && j < got[i].size(); ++j) differing += got[i][j] != want[i][j];
    // The 16 bytes around the first difference, got / want (to tell a wrong value from an unwritten one).
    auto hex16 = [b](const std::vector<unsigned char>& v) {
      std::string h;
      char buf[4];
      for (size_t j = b / 16 * 16; j < b / 16 * 16 + 16 && j < v.size(); ++j) {
        std::snprintf(buf, sizeof(buf), "%02x", v[j]);
        h += buf;
      }
      return h;
    };
    return c.name + ": output " + names[i] + " differs first at byte " + std::to_string(b) + " of " +
           std::to_string(want[i].size()) + " (" + std::to_string(differing) + " bytes differ; from byte " +
           std::to_string(b / 16 * 16) + ": got " + hex16(got[i]) + " want " + hex16(want[i]) + ")";
  }
  return "";
}

// ------------------------------------------------------------------------------ case builders
// A linear: SMOOTHQUANT_LINEAR (T or S32 out), SCALED_LINEAR or QUANTIZED_LINEAR, with every 0.2 option.
struct LinearSpec {
  sq_op op = SQ_OP_SMOOTHQUANT_LINEAR;
  sq_dtype act = SQ_DTYPE_S8;     // S8/U8 (QUANTIZED_LINEAR: x's float dtype)
  sq_dtype weight = SQ_DTYPE_S8;  // S8/U8
  sq_dtype t = SQ_DTYPE_F32;      // T, or S32 (SMOOTHQUANT_LINEAR accumulator only)
  int64_t m = 1, n = 1, k = 1, max_m = 0;  // max_m 0: m
  bool bias = false;
  int32_t act_zero_point = 0;      // SMOOTHQUANT_LINEAR's static za
  bool act_zero_points = false;    // SCALED_LINEAR: per-token za (SQ_PLAN_ACT_ZERO_POINT)
  bool weight_zero_points = false; // pass zw [N] (sets SQ_PLAN_WEIGHT_ZERO_POINT)
  bool weight_zp_flag = false;     // SQ_PLAN_WEIGHT_ZERO_POINT without passing zw
  bool act_sums = false;           // pass the activation row sums (else the plan finds them)
  bool per_tensor = false;         // SCALED_LINEAR: one scale read from memory
  sq_quant_mode mode = SQ_QUANT_DEFAULT;  // QUANTIZED_LINEAR's quantizer
  sq_dtype q = SQ_DTYPE_INVALID;          // QUANTIZED_LINEAR's q dtype (0: S8)
  int64_t pad_act = 0, pad_w = 0, pad_out = 0;  // extra elements per row
  int extreme = 0;  // +1 / -1: operands and zero points at the ends of their ranges (largest |differences|)
  double act_scale = 0.0;  // SMOOTHQUANT_LINEAR: 0 picks a random one
};

inline OpCase make_linear(const LinearSpec& s) {
  OpCase c;
  c.desc = blank_desc(s.op);
  sq_plan_desc& d = c.desc;
  const bool quantized = s.op == SQ_OP_QUANTIZED_LINEAR;
  const bool s32 = s.t == SQ_DTYPE_S32;
  d.act_dtype = s.act;
  d.weight_dtype = s.weight;
  d.out_dtype = s.t;
  d.scale_dtype = s32 ? SQ_DTYPE_INVALID : s.t;
  d.n = s.n;
  d.k = s.k;
  d.max_m = s.max_m > 0 ? s.max_m : s.m;
  if (s.op == SQ_OP_SMOOTHQUANT_LINEAR && !s32) {
    std::uniform_real_distribution<double> u(1e-3, 0.1);
    d.act_scale = s.act_scale > 0 ? s.act_scale : (s.extreme ? 1.0 / 1024 : u(rng()));
  }
  if (s.op == SQ_OP_SMOOTHQUANT_LINEAR) d.act_zero_point = s.act_zero_point;
  if (s.weight_zero_points || s.weight_zp_flag) d.flags |= SQ_PLAN_WEIGHT_ZERO_POINT;
  if (s.op == SQ_OP_SCALED_LINEAR && s.act_zero_points) d.flags |= SQ_PLAN_ACT_ZERO_POINT;
  if (s.op == SQ_OP_SCALED_LINEAR && s.per_tensor) d.flags |= SQ_PLAN_PER_TENSOR_ACT_SCALE;
  if (quantized) {
    d.quant_mode = s.mode;
    d.quant_dtype = s.q;
  }
  c.m = s.m;
  const int64_t lda = s.k + s.pad_act, ldw = s.k + s.pad_w, ldo = s.n + s.pad_out;
  c.ld_act = s.pad_act ? lda : 0;
  c.ld_weight = s.pad_w ? ldw : 0;
  c.ld_out = s.pad_out ? ldo : 0;
  c.name = std::string(quantized ? "QUANTIZED_LINEAR" : s.op == SQ_OP_SCALED_LINEAR ? "SCALED_LINEAR" : "SMOOTHQUANT_LINEAR") +
           " " + dtype_str(s.act) + "x" + dtype_str(s.weight) + "->" + (s32 ? "s32" : dtype_str(s.t)) + " m" +
           std::to_string(s.m) + " n" + std::to_string(s.n) + " k" + std::to_string(s.k);
  // Operands at the ends of their ranges: a at one end, w and the zero points at the other.
  auto fill = [&](sq_dtype dt, size_t count, bool low) {
    std::vector<unsigned char> v(count);
    const int x = dt == SQ_DTYPE_U8 ? (low ? 0 : 255) : (low ? -128 : 127);
    std::fill(v.begin(), v.end(), static_cast<unsigned char>(x));
    return v;
  };
  const bool a_low = s.extreme > 0;
  std::vector<unsigned char> act;
  if (quantized) {
    act = bytes_of(random_values(s.act, static_cast<size_t>(s.m * lda), -4.0, 4.0));
  } else {
    act = s.extreme ? fill(s.act, static_cast<size_t>(s.m * lda), a_low) : random_int8(s.act, static_cast<size_t>(s.m * lda));
  }
  const std::vector<unsigned char> w =
      s.extreme ? fill(s.weight, static_cast<size_t>(s.n * ldw), !a_low) : random_int8(s.weight, static_cast<size_t>(s.n * ldw));
  c.operands.push_back(input("act", act));
  if (s.op == SQ_OP_SCALED_LINEAR)
    c.operands.push_back(input("act_scale", bytes_of(random_scales(s.t, static_cast<size_t>(s.per_tensor ? 1 : s.m)))));
  c.operands.push_back(input("weight", w));
  if (!s32) c.operands.push_back(input("weight_scale", bytes_of(random_scales(s.t, static_cast<size_t>(s.n)))));
  if (s.bias && !s32) c.operands.push_back(input("bias", bytes_of(random_values(s.t, static_cast<size_t>(s.n), -4.0, 4.0))));
  if (quantized) c.operands.push_back(input("smooth", bytes_of(random_values(s.t, static_cast<size_t>(s.k), 0.5, 2.0))));
  bool act_zp = s.op == SQ_OP_SMOOTHQUANT_LINEAR && s.act_zero_point != 0;
  if (s.op == SQ_OP_SCALED_LINEAR && s.act_zero_points) {
    act_zp = true;
    c.operands.push_back(input("act_zero_point", s.extreme ? fill(s.act, static_cast<size_t>(s.m), !a_low)
                                                            : random_int8(s.act, static_cast<size_t>(s.m))));
  }
  if (quantized && (s.mode == SQ_QUANT_DYNAMIC_ASYMMETRIC)) act_zp = true;
  if (s.weight_zero_points)
    c.operands.push_back(input("weight_zero_point", s.extreme ? fill(s.weight, static_cast<size_t>(s.n), a_low)
                                                               : random_int8(s.weight, static_cast<size_t>(s.n))));
  if (act_zp || s.weight_zero_points)
    c.operands.push_back(input("weight_sums", int32_bytes(row_sums_of(w.data(), s.weight, s.n, s.k, ldw))));
  if (s.act_sums && !quantized)
    c.operands.push_back(input("act_sums", int32_bytes(row_sums_of(act.data(), s.act, s.m, s.k, lda))));
  if (s.op != SQ_OP_SCALED_LINEAR && !s32)
    c.operands.push_back(output("act_scale_scratch", static_cast<size_t>(s.m + 1) * dtype_size(s.t)));
  c.operands.push_back(output("out", static_cast<size_t>(s.m * ldo) * dtype_size(s.t)));
  return c;
}

// A quantizer: QUANTIZE_STATIC, QUANTIZE_DYNAMIC, RMSNORM_QUANTIZE or SILU_MUL_QUANTIZE, every mode.
enum class ResidualOut { kNone, kSeparate, kInPlaceResidual, kInPlaceX };
struct QuantSpec {
  sq_op op = SQ_OP_QUANTIZE_DYNAMIC;
  sq_dtype x = SQ_DTYPE_F32, s = SQ_DTYPE_F32, q = SQ_DTYPE_S8;
  sq_quant_mode mode = SQ_QUANT_DEFAULT;
  int64_t m = 1, k = 1, max_m = 0;
  bool smooth = false, act_sums = false;
  bool residual = false;  // RMSNORM_QUANTIZE
  ResidualOut residual_out = ResidualOut::kNone;
  double act_scale = 0.05;  // STATIC
  int32_t zero_point = 0;   // STATIC
  double eps = 1e-6;        // RMSNORM_QUANTIZE
  int64_t pad_x = 0, pad_out = 0, pad_residual = 0;
  double lo = -4.0, hi = 4.0;  // x's values
};

inline sq_quant_mode resolved(const QuantSpec& s) {
  if (s.mode != SQ_QUANT_DEFAULT) return s.mode;
  return s.op == SQ_OP_QUANTIZE_STATIC ? SQ_QUANT_STATIC : SQ_QUANT_DYNAMIC;
}

inline OpCase make_quantizer(const QuantSpec& s) {
  OpCase c;
  c.desc = blank_desc(s.op);
  sq_plan_desc& d = c.desc;
  const sq_quant_mode mode = resolved(s);
  d.act_dtype = s.x;
  d.out_dtype = s.q;
  d.scale_dtype = s.s;
  d.k = s.k;
  d.max_m = s.max_m > 0 ? s.max_m : s.m;
  d.quant_mode = s.mode;
  if (mode == SQ_QUANT_STATIC) {
    d.act_scale = s.act_scale;
    d.act_zero_point = s.zero_point;
  }
  if (s.op == SQ_OP_RMSNORM_QUANTIZE) d.eps = s.eps;
  c.m = s.m;
  const int64_t row = s.op == SQ_OP_SILU_MUL_QUANTIZE ? 2 * s.k : s.k;
  const int64_t ldx = row + s.pad_x, ldo = s.k + s.pad_out, ldr = s.k + s.pad_residual;
  c.ld_act = s.pad_x ? ldx : 0;
  c.ld_out = s.pad_out ? ldo : 0;
  static const char* kOps[] = {"", "", "", "QUANTIZE_STATIC", "QUANTIZE_DYNAMIC", "", "RMSNORM_QUANTIZE", "SILU_MUL_QUANTIZE"};
  static const char* kModes[] = {"default", "static", "dynamic", "asymmetric", "absmax", "from_absmax"};
  c.name = std::string(kOps[s.op]) + " " + kModes[s.mode] + " " + dtype_str(s.x) + "->" + dtype_str(s.q) + " m" +
           std::to_string(s.m) + " k" + std::to_string(s.k);
  const size_t xs = dtype_size(s.x), cs = s.x == SQ_DTYPE_F64 ? 8 : 4;
  c.operands.push_back(input("act", bytes_of(random_values(s.x, static_cast<size_t>(s.m * ldx), s.lo, s.hi))));
  if (s.op == SQ_OP_RMSNORM_QUANTIZE) {
    c.operands.push_back(input("norm_weight", bytes_of(random_values(s.x, static_cast<size_t>(s.k), 0.5, 1.5))));
    if (s.residual) {
      c.ld_residual = s.pad_residual ? ldr : 0;
      auto r = bytes_of(random_values(s.x, static_cast<size_t>(s.m * ldr), s.lo, s.hi));
      if (s.residual_out == ResidualOut::kInPlaceResidual) {
        c.operands.push_back(inout("residual", std::move(r)));
        c.aliases.push_back({"residual_out", "residual"});
        c.ld_residual_out = c.ld_residual;
      } else {
        c.operands.push_back(input("residual", std::move(r)));
      }
    }
    if (s.residual_out == ResidualOut::kSeparate) {
      c.operands.push_back(output("residual_out", static_cast<size_t>(s.m * s.k) * xs));
    } else if (s.residual_out == ResidualOut::kInPlaceX) {
      c.operands[0].output = true;  // act, written in place
      c.aliases.push_back({"residual_out", "act"});
      c.ld_residual_out = c.ld_act;
    }
  }
  if (s.smooth) c.operands.push_back(input("smooth", bytes_of(random_values(s.s, static_cast<size_t>(s.k), 0.5, 2.0))));
  if (mode == SQ_QUANT_FROM_ABSMAX) {
    Buf a(s.x == SQ_DTYPE_F64 ? SQ_DTYPE_F64 : SQ_DTYPE_F32, static_cast<size_t>(s.m));
    std::uniform_real_distribution<double> u(0.5, 8.0);
    for (size_t i = 0; i < a.count(); ++i) a.set(i, u(rng()));
    c.operands.push_back(input("absmax", bytes_of(a)));
  }
  if (mode == SQ_QUANT_ABSMAX) {
    c.operands.push_back(output("absmax", static_cast<size_t>(s.m) * cs));
    return c;
  }
  c.operands.push_back(output("out", static_cast<size_t>(s.m * ldo)));
  if (mode != SQ_QUANT_STATIC) c.operands.push_back(output("act_scale_scratch", static_cast<size_t>(s.m) * dtype_size(s.s)));
  if (mode == SQ_QUANT_DYNAMIC_ASYMMETRIC) c.operands.push_back(output("act_zero_point", static_cast<size_t>(s.m)));
  if (s.act_sums) c.operands.push_back(output("act_sums", static_cast<size_t>(s.m) * 4));
  return c;
}

// SCALE_ACCUMULATORS on random int32 accumulators.
inline OpCase make_scale_accumulators(sq_dtype t, int64_t m, int64_t n, bool bias, bool per_tensor, int64_t pad_acc = 0,
                                      int64_t pad_out = 0) {
  OpCase c;
  c.desc = blank_desc(SQ_OP_SCALE_ACCUMULATORS);
  c.desc.act_dtype = SQ_DTYPE_S32;
  c.desc.scale_dtype = c.desc.out_dtype = t;
  c.desc.n = n;
  c.desc.max_m = m;
  if (per_tensor) c.desc.flags = SQ_PLAN_PER_TENSOR_ACT_SCALE;
  c.m = m;
  c.name = std::string("SCALE_ACCUMULATORS ") + dtype_str(t) + " m" + std::to_string(m) + " n" + std::to_string(n);
  const int64_t lda = n + pad_acc, ldo = n + pad_out;
  c.ld_act = pad_acc ? lda : 0;
  c.ld_out = pad_out ? ldo : 0;
  std::uniform_int_distribution<int32_t> u(-(1 << 28), 1 << 28);
  std::vector<int32_t> acc(static_cast<size_t>(m * lda));
  for (auto& x : acc) x = u(rng());
  c.operands.push_back(input("act", int32_bytes(acc)));
  c.operands.push_back(input("act_scale", bytes_of(random_scales(t, static_cast<size_t>(per_tensor ? 1 : m)))));
  c.operands.push_back(input("weight_scale", bytes_of(random_scales(t, static_cast<size_t>(n)))));
  if (bias) c.operands.push_back(input("bias", bytes_of(random_values(t, static_cast<size_t>(n), -4.0, 4.0))));
  c.operands.push_back(output("out", static_cast<size_t>(m * ldo) * dtype_size(t)));
  return c;
}

}  // namespace sqt
