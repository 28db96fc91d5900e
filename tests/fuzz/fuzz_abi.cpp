// The fuzz target over the whole C ABI on the host reference plan (issue 18). One input is one
// scenario: a plan (any op of the 0.2 header, and beyond), an offline helper, or handle misuse. Every
// field is decoded from the input bytes; a byte that is missing reads 0, and 0 always picks the valid
// default, so short inputs are valid calls and the checked-in seeds stay small. Mutations then set
// single fields to hostile values (tables below). Checked on every call:
//   - no crash, no sanitizer report, a known status, a message after every failure;
//   - after a failed call, no byte the caller owns changed: inputs and outputs, every buffer, the
//     structs, the handle out-parameter; after any call, the bytes around every buffer (guards, poisoned
//     for AddressSanitizer) and every input are unchanged;
//   - after a successful run, every output equals the independent oracle (oracle.hpp) of the numerics
//     contract, and every array the op does not write is unchanged.
// For ops the library refuses (NOT_SUPPORTED, INVALID_ARGUMENT), only the no-write rule is checked.
// Entry points: LLVMFuzzerTestOneInput (libFuzzer, or replay_main.cpp for a plain build).
#include <cinttypes>
#include <cstddef>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "oracle.hpp"
#include "smoothquant/smoothquant.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SQF_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SQF_ASAN 1
#endif
#ifdef SQF_ASAN
#include <sanitizer/asan_interface.h>
#define SQF_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define SQF_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define SQF_POISON(p, n) ((void)(p), (void)(n))
#define SQF_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

using oracle::Elem;

namespace {

// ------------------------------------------------------------------ failures
[[noreturn]] void die(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string g_context;  // what the current input is doing (printed with a failure)
void die(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "\nFUZZ FINDING: ");
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "\n  context: %s\n  last error message: \"%s\"\n", g_context.c_str(), sq_last_error_message());
  std::fflush(stderr);
  std::abort();
}
#define FZ_CHECK(cond, ...) \
  do {                      \
    if (!(cond)) die(__VA_ARGS__); \
  } while (0)

void note(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void note(const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (!g_context.empty()) g_context += "; ";
  g_context += buf;
}

// ------------------------------------------------------------------ statistics
struct Stats {
  uint64_t inputs = 0, calls = 0, failed = 0, runs_ok[10] = {}, runs_refused[10] = {}, elements = 0, helpers_ok = 0;
  uint64_t by_status[16] = {};
} g_stats;
void count(sq_status st) {
  ++g_stats.calls;
  if (st != SQ_STATUS_SUCCESS) ++g_stats.failed;
  if (st >= 0 && st < 16) ++g_stats.by_status[st];
}

// Every status a call returns must be one the header defines, with a message when it failed.
const bool g_verbose = std::getenv("SQ_FUZZ_VERBOSE") != nullptr;  // print every call's status
void check_status(sq_status st, const char* fn) {
  count(st);
  if (g_verbose) std::fprintf(stderr, "  %s: %s \"%s\" [%s]\n", fn, sq_status_string(st), sq_last_error_message(), g_context.c_str());
  FZ_CHECK(st >= SQ_STATUS_SUCCESS && st <= SQ_STATUS_INTERNAL_ERROR, "%s returned an unknown status %d", fn, st);
  if (st != SQ_STATUS_SUCCESS)
    FZ_CHECK(sq_last_error_message()[0] != '\0', "%s failed (%s) without a message", fn, sq_status_string(st));
  else
    FZ_CHECK(sq_last_error_message()[0] == '\0', "%s succeeded but the message is \"%s\"", fn, sq_last_error_message());
  // A host-reference scenario never touches a GPU: an internal error or a CUDA error is a finding.
  FZ_CHECK(st != SQ_STATUS_INTERNAL_ERROR && st != SQ_STATUS_CUDA_ERROR, "%s: %s", fn, sq_status_string(st));
}

// ------------------------------------------------------------------ input
struct Reader {
  const uint8_t* p;
  size_t n, i = 0;
  uint8_t u8() { return i < n ? p[i++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  uint32_t u32() { return u16() | (static_cast<uint32_t>(u16()) << 16); }
  uint64_t u64() { return u32() | (static_cast<uint64_t>(u32()) << 32); }
  double f64() {
    const uint64_t u = u64();
    double d;
    std::memcpy(&d, &u, 8);
    return d;
  }
};

// Small deterministic generator for the data (the input picks its seed and style).
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * (static_cast<double>(next() >> 11) * 0x1.0p-53); }
  uint32_t below(uint32_t n) { return n ? static_cast<uint32_t>(next() % n) : 0; }
};

// Hostile values of each kind of field.
int64_t pick_size(Reader& r) {
  static const int64_t table[] = {0, -1, 1, 2, 3, 7, 15, 16, 17, 33, 64, 2048, 2049, INT32_MAX,
                                  int64_t{INT32_MAX} + 1, INT64_MAX, INT64_MIN, INT64_MAX / 2, INT64_MAX / 8 + 1,
                                  int64_t{1} << 40, (int64_t{1} << 40) + 16, -(int64_t{1} << 40), 131071, 131072,
                                  33025, 33026, 65535, 1 << 20};
  const uint8_t s = r.u8();
  if (s < sizeof(table) / sizeof(table[0])) return table[s];
  return static_cast<int64_t>(r.u64());
}
int32_t pick_enum(Reader& r) {
  static const int32_t table[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, -1, 100, INT32_MIN, INT32_MAX, 255, 256};
  const uint8_t s = r.u8();
  if (s < sizeof(table) / sizeof(table[0])) return table[s];
  return static_cast<int32_t>(r.u32());
}
double pick_double(Reader& r) {
  static const double table[] = {0.0, -0.0, 1.0, -1.0, 0.5, 1e-3, 4.9e-324, 2.2250738585072014e-308,
                                 1.1754943508222875e-38, 1e-39, 1e-46, 1e-50, 3.4028234663852886e38, 3.5e38, 1e39,
                                 1.7976931348623157e308, INFINITY, -INFINITY, NAN, -NAN, 65504.0, 65520.0, 6e-8,
                                 1.0 / 127};
  const uint8_t s = r.u8();
  if (s < sizeof(table) / sizeof(table[0])) return table[s];
  return r.f64();
}
uint32_t pick_struct_size(Reader& r, uint32_t exact, uint32_t v01) {
  const uint32_t table[] = {exact, 0, 1, 4, 8, v01 - 1, v01, v01 + 1, exact - 1, exact + 1, exact + 8, 2 * exact,
                            SQ_MAX_STRUCT_SIZE, SQ_MAX_STRUCT_SIZE + 1, 65536, UINT32_MAX};
  const uint8_t s = r.u8();
  if (s < sizeof(table) / sizeof(table[0])) return table[s];
  return r.u32() % (3 * exact);
}

// Float data: mostly ordinary values, with NaN/Inf/denormal/huge specials at a rate the input picks.
double special(Rng& g, sq_dtype d) {
  switch (g.below(12)) {
    case 0: return NAN;
    case 1: return INFINITY;
    case 2: return -INFINITY;
    case 3: return 0.0;
    case 4: return -0.0;
    case 5: return d == SQ_DTYPE_F16 ? 6e-8 : d == SQ_DTYPE_F64 ? 4.9e-324 : 1e-40;  // a denormal
    case 6: return d == SQ_DTYPE_F16 ? 65504.0 : d == SQ_DTYPE_F64 ? 1.7e308 : 3.4e38;  // the largest
    case 7: return d == SQ_DTYPE_F16 ? -60000.0 : -1e30;
    case 8: return 1e-30;
    case 9: return 127.0;
    case 10: return -128.5;
    default: return g.uniform(-1e4, 1e4);
  }
}
struct Style {
  uint8_t specials = 0;  // 0: none; else about specials/1024 of the values are specials
  uint8_t range = 0;     // 0: [-4, 4]; 1: [-0.01, 0.01]; 2: [0, 100]; 3: all zero
};
double data_value(Rng& g, sq_dtype d, const Style& s) {
  if (s.specials && g.below(1024) < s.specials) return special(g, d);
  switch (s.range % 4) {
    case 1: return g.uniform(-0.01, 0.01);
    case 2: return g.uniform(0.0, 100.0);
    case 3: return 0.0;
    default: return g.uniform(-4.0, 4.0);
  }
}

// ------------------------------------------------------------------ buffers
// One caller buffer: exactly `size` bytes at `data` (offset `skew` from a 64-byte aligned base, for
// misaligned pointers), with guard bytes before and after (poisoned for AddressSanitizer, so that an
// access is reported; checked byte for byte after every call).
constexpr size_t kGuard = 64;
uint8_t guard_byte(size_t i) { return static_cast<uint8_t>(0xA5 ^ (i * 31)); }

struct Buffer {
  std::string name;
  size_t size = 0, skew = 0;
  uint8_t* raw = nullptr;
  uint8_t* data = nullptr;
  std::vector<uint8_t> snapshot;
  Buffer(const char* n, size_t bytes, size_t skew_) : name(n), size(bytes), skew(skew_) {
    const size_t total = kGuard + skew + size + kGuard;
    raw = static_cast<uint8_t*>(std::aligned_alloc(64, (total + 63) / 64 * 64));
    if (raw == nullptr) std::abort();
    data = raw + kGuard + skew;
    for (size_t i = 0; i < kGuard + skew; ++i) raw[i] = guard_byte(i);
    for (size_t i = 0; i < kGuard; ++i) data[size + i] = guard_byte(i + 7);
    std::memset(data, 0, size);
    poison();
  }
  ~Buffer() {
    SQF_UNPOISON(raw, kGuard + skew + size + kGuard);
    std::free(raw);
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  void poison() {
    SQF_POISON(raw, kGuard + skew);
    SQF_POISON(data + size, kGuard);
  }
  void check_guards() {
    SQF_UNPOISON(raw, kGuard + skew + size + kGuard);
    for (size_t i = 0; i < kGuard + skew; ++i)
      FZ_CHECK(raw[i] == guard_byte(i), "a byte before buffer %s (at -%zu) was written", name.c_str(), kGuard + skew - i);
    for (size_t i = 0; i < kGuard; ++i)
      FZ_CHECK(data[size + i] == guard_byte(i + 7), "a byte after buffer %s (at +%zu) was written", name.c_str(), i);
    poison();
  }
  void take() { snapshot.assign(data, data + size); }
  bool unchanged() const { return std::memcmp(snapshot.data(), data, size) == 0; }
  size_t first_change() const {
    for (size_t i = 0; i < size; ++i)
      if (snapshot[i] != data[i]) return i;
    return size;
  }
};

struct Arena {
  std::vector<std::unique_ptr<Buffer>> bufs;
  Buffer* make(const char* name, size_t bytes, size_t skew = 0) {
    bufs.emplace_back(new Buffer(name, bytes, skew));
    return bufs.back().get();
  }
  void take() {
    for (auto& b : bufs) b->take();
  }
  // After a failed call: every byte as it was; after any call: the guards.
  void check_untouched(const char* fn) {
    for (auto& b : bufs) {
      b->check_guards();
      FZ_CHECK(b->unchanged(), "%s failed but wrote buffer %s (byte %zu)", fn, b->name.c_str(), b->first_change());
    }
  }
  void check_guards() {
    for (auto& b : bufs) b->check_guards();
  }
};

// ------------------------------------------------------------------ the plan scenario
enum Arr {
  kAct, kWeight, kWeightScale, kBias, kSmooth, kScratch, kOut, kActScale, kWeightZp, kWeightSums, kActZp,
  kActSums, kAbsmax, kResidual, kResidualOut, kNormWeight, kNumArr
};
const char* const kArrName[kNumArr] = {"act", "weight", "weight_scale", "bias", "smooth", "act_scale_scratch",
                                       "out", "act_scale", "weight_zero_point", "weight_sums", "act_zero_point",
                                       "act_sums", "absmax", "residual", "residual_out", "norm_weight"};

enum PtrMode : uint8_t { kNormal, kNull, kMisaligned, kAliasAct, kAliasResidual, kExtra };

// Whether the library can make a GPU plan here (a GPU and a driver): asked once, through the ABI.
bool machine_has_gpu() {
  static const bool has = [] {
    sq_plan_desc d;
    std::memset(&d, 0, sizeof(d));
    d.struct_size = sizeof(d);
    d.op = SQ_OP_QUANTIZE_STATIC;
    d.act_dtype = SQ_DTYPE_F32;
    d.out_dtype = SQ_DTYPE_S8;
    d.k = 16;
    d.max_m = 1;
    d.act_scale = 1.0;
    sq_plan p = nullptr;
    if (sq_plan_select(nullptr, &d, SQ_PREFERENCE_FASTEST, &p) != SQ_STATUS_SUCCESS) return false;
    sq_plan_destroy(p);
    return true;
  }();
  return has;
}

struct Spec {
  // descriptor (the caller's intent; the struct is built from it, then mutated)
  sq_plan_desc desc;
  uint32_t desc_size = sizeof(sq_plan_desc);
  uint8_t desc_tail = 0;  // a non-zero byte in the tail past sizeof (must be refused)
  bool desc_null = false, plan_out_null = false;
  sq_preference pref = SQ_PREFERENCE_HOST_REFERENCE;
  // run arguments
  int64_t m = 1;
  int64_t ld[kNumArr] = {};
  bool present[kNumArr] = {};
  PtrMode mode[kNumArr] = {};
  uint8_t skew[kNumArr] = {};
  uint32_t args_size = sizeof(sq_run_args);
  uint8_t args_tail = 0;
  uint32_t args_reserved = 0;
  bool args_null = false;
  int workspace_mode = 0;  // 0 exact, 1 null, 2 one byte short, 3 misaligned, 4 larger
  bool wrong_sums = false;
  int runs = 1;
  int64_t m2 = 1;
  Style style[kNumArr];
  uint64_t seed = 0;
};

// The effective descriptor the library must see: the caller's first desc_size bytes, the rest 0.
sq_plan_desc effective_desc(const Spec& s) {
  sq_plan_desc d;
  std::memset(&d, 0, sizeof(d));
  std::memcpy(&d, &s.desc, s.desc_size < sizeof(d) ? s.desc_size : sizeof(d));
  return d;
}

bool is_linear(sq_op op) { return op == SQ_OP_SMOOTHQUANT_LINEAR || op == SQ_OP_QUANTIZED_LINEAR || op == SQ_OP_SCALED_LINEAR; }
bool is_quantizer_op(sq_op op) {
  return op == SQ_OP_QUANTIZE_STATIC || op == SQ_OP_QUANTIZE_DYNAMIC || op == SQ_OP_RMSNORM_QUANTIZE ||
         op == SQ_OP_SILU_MUL_QUANTIZE;
}
// The effective quant mode of an op (SQ_QUANT_DEFAULT resolved).
sq_quant_mode effective_mode(const sq_plan_desc& d) {
  if (d.quant_mode != SQ_QUANT_DEFAULT) return d.quant_mode;
  return d.op == SQ_OP_QUANTIZE_STATIC ? SQ_QUANT_STATIC : SQ_QUANT_DYNAMIC;
}
// Q of an op: out_dtype for the quantize and fused ops, quant_dtype (0 = S8) for QUANTIZED_LINEAR.
sq_dtype q_dtype_of(const sq_plan_desc& d) {
  if (d.op == SQ_OP_QUANTIZED_LINEAR) return d.quant_dtype == 0 ? SQ_DTYPE_S8 : d.quant_dtype;
  return d.out_dtype;
}
// C of a quantizer: f64 for f64 data, f32 otherwise (the fused ops: f32).
sq_dtype c_dtype_of(const sq_plan_desc& d) {
  if (d.op == SQ_OP_RMSNORM_QUANTIZE || d.op == SQ_OP_SILU_MUL_QUANTIZE) return SQ_DTYPE_F32;
  return d.act_dtype == SQ_DTYPE_F64 ? SQ_DTYPE_F64 : SQ_DTYPE_F32;
}

// One array's shape as the arguments describe it: rows x cols of dtype, row stride ld (0 = cols).
struct Shape {
  sq_dtype dtype = SQ_DTYPE_INVALID;
  int64_t rows = 0, cols = 0;
  bool strided = false;  // the array has a leading dimension in the args
};

// Shapes of every array for op d and m rows (what the header's op lists describe).
void shapes(const sq_plan_desc& d, int64_t m, Shape sh[kNumArr]) {
  const sq_op op = d.op;
  const int64_t n = d.n, k = d.k;
  const sq_dtype T = d.scale_dtype;
  for (int i = 0; i < kNumArr; ++i) sh[i] = Shape{};
  auto set = [&](Arr a, sq_dtype dt, int64_t rows, int64_t cols, bool strided = false) {
    sh[a] = Shape{dt, rows, cols, strided};
  };
  const sq_dtype q = q_dtype_of(d);
  const sq_dtype c = c_dtype_of(d);
  switch (op) {
    case SQ_OP_SMOOTHQUANT_LINEAR:
    case SQ_OP_QUANTIZED_LINEAR:
    case SQ_OP_SCALED_LINEAR:
      set(kAct, d.act_dtype, m, k, true);
      set(kWeight, d.weight_dtype, n, k, true);
      set(kWeightScale, T, 1, n);
      set(kBias, T, 1, n);
      set(kScratch, T, 1, m);
      set(kOut, d.out_dtype, m, n, true);
      set(kActScale, T, 1, (d.flags & SQ_PLAN_PER_TENSOR_ACT_SCALE) ? 1 : m);
      set(kWeightZp, d.weight_dtype, 1, n);
      set(kWeightSums, SQ_DTYPE_S32, 1, n);
      set(kActZp, op == SQ_OP_QUANTIZED_LINEAR ? q : d.act_dtype, 1, m);
      set(kActSums, SQ_DTYPE_S32, 1, m);
      set(kSmooth, T, 1, k);
      break;
    case SQ_OP_SCALE_ACCUMULATORS:
      set(kAct, SQ_DTYPE_S32, m, n, true);
      set(kWeightScale, T, 1, n);
      set(kBias, T, 1, n);
      set(kOut, d.out_dtype, m, n, true);
      set(kActScale, T, 1, (d.flags & SQ_PLAN_PER_TENSOR_ACT_SCALE) ? 1 : m);
      break;
    default: {  // the quantizers (and unknown ops: shaped like them)
      const int64_t xcols = op == SQ_OP_SILU_MUL_QUANTIZE ? 2 * k : k;
      set(kAct, d.act_dtype, m, xcols, true);
      set(kOut, q, m, k, true);
      set(kSmooth, d.scale_dtype, 1, k);
      set(kScratch, d.scale_dtype, 1, m);
      set(kActZp, q, 1, m);
      set(kActSums, SQ_DTYPE_S32, 1, m);
      set(kAbsmax, c, 1, m);
      set(kResidual, d.act_dtype, m, k, true);
      set(kResidualOut, d.act_dtype, m, k, true);
      set(kNormWeight, d.act_dtype, 1, k);
      break;
    }
  }
}

// Bytes an array of this shape spans with stride ld (0 = packed), as unsigned 128-bit arithmetic;
// UINT64_MAX when it is negative or past any address space.
uint64_t span_bytes(const Shape& s, int64_t ld) {
  const size_t es = oracle::esize(s.dtype) ? oracle::esize(s.dtype) : 1;
  if (s.rows < 1 || s.cols < 1) return 0;
  const int64_t stride = ld == 0 ? s.cols : ld;
  if (stride < s.cols) return UINT64_MAX;  // invalid: the library must refuse (we allocate a row)
  const unsigned __int128 v = (static_cast<unsigned __int128>(s.rows - 1) * static_cast<unsigned __int128>(stride) +
                               static_cast<unsigned __int128>(s.cols)) * es;
  return v > static_cast<unsigned __int128>(UINT64_MAX / 2) ? UINT64_MAX : static_cast<uint64_t>(v);
}
constexpr uint64_t kMaxAlloc = uint64_t{1} << 20;  // larger described arrays: can_implement only

// ------------------------------------------------------------------ decoding a plan spec
sq_dtype pick_T(uint8_t b) {
  static const sq_dtype t[] = {SQ_DTYPE_F32, SQ_DTYPE_F16, SQ_DTYPE_BF16, SQ_DTYPE_F64};
  return t[b % 4];
}

void decode_plan(Reader& r, Spec& s) {
  sq_plan_desc& d = s.desc;
  std::memset(&d, 0, sizeof(d));
  d.struct_size = sizeof(d);
  const uint8_t op_sel = r.u8();
  d.op = 1 + op_sel % 8;
  d.max_m = 1 + r.u8() % 8;
  s.m = 1 + r.u8() % d.max_m;
  const uint8_t nsel = r.u8(), ksel = r.u8();
  d.n = 1 + nsel % 24;
  static const int64_t big_k[] = {64, 127, 128, 255, 256, 1024, 2047, 2048, 2049, 4099, 6145};
  d.k = ksel < 200 ? 1 + ksel % 40 : big_k[ksel % (sizeof(big_k) / sizeof(big_k[0]))];
  const uint8_t tsel = r.u8(), xsel = r.u8(), wsel = r.u8(), modesel = r.u8(), flagsel = r.u8(), zpsel = r.u8();
  const uint8_t optsel = r.u8();  // optional arrays
  d.host_threads = r.u8() % 4;
  const sq_dtype T = pick_T(tsel);
  const sq_dtype X = pick_T(xsel);
  const sq_dtype W = (wsel & 1) ? SQ_DTYPE_U8 : SQ_DTYPE_S8;
  const double act_scale_table[] = {0.05, 0.0125, 1.0 / 127, 0.25, 3.0, 1e-3};
  auto opt = [&](int bit) { return ((optsel >> bit) & 1) != 0; };
  s.present[kAct] = s.present[kOut] = true;
  switch (d.op) {
    case SQ_OP_SMOOTHQUANT_LINEAR: {
      d.act_dtype = (xsel & 1) ? SQ_DTYPE_U8 : SQ_DTYPE_S8;
      d.weight_dtype = W;
      const bool s32 = (tsel >> 4) % 4 == 1;
      d.scale_dtype = s32 ? 0 : T;
      d.out_dtype = s32 ? SQ_DTYPE_S32 : T;
      d.act_scale = act_scale_table[modesel % 6];
      if (zpsel % 3 == 1) d.act_zero_point = d.act_dtype == SQ_DTYPE_U8 ? zpsel % 256 : static_cast<int8_t>(zpsel * 7);
      if (flagsel & 1) d.flags = SQ_PLAN_WEIGHT_ZERO_POINT;
      s.present[kWeight] = true;
      s.present[kWeightScale] = !s32;
      s.present[kScratch] = !s32;
      s.present[kBias] = !s32 && opt(0);
      s.present[kWeightZp] = (d.flags & SQ_PLAN_WEIGHT_ZERO_POINT) && opt(1);
      s.present[kActSums] = opt(2);
      s.present[kWeightSums] = d.act_zero_point != 0 || opt(3);
      break;
    }
    case SQ_OP_QUANTIZED_LINEAR: {
      d.act_dtype = X;
      d.weight_dtype = W;
      d.scale_dtype = d.out_dtype = T;
      const bool asym = modesel & 1;
      d.quant_mode = asym ? SQ_QUANT_DYNAMIC_ASYMMETRIC : ((modesel & 2) ? SQ_QUANT_DYNAMIC : SQ_QUANT_DEFAULT);
      d.quant_dtype = asym && (modesel & 4) ? SQ_DTYPE_U8 : ((modesel & 8) ? SQ_DTYPE_S8 : 0);
      if (flagsel & 1) d.flags = SQ_PLAN_WEIGHT_ZERO_POINT;
      s.present[kWeight] = s.present[kWeightScale] = s.present[kScratch] = true;
      s.present[kBias] = opt(0);
      s.present[kWeightZp] = (d.flags & SQ_PLAN_WEIGHT_ZERO_POINT) && opt(1);
      s.present[kSmooth] = opt(2);
      s.present[kWeightSums] = asym || opt(3);
      break;
    }
    case SQ_OP_SCALED_LINEAR: {
      d.act_dtype = (xsel & 1) ? SQ_DTYPE_U8 : SQ_DTYPE_S8;
      d.weight_dtype = W;
      d.scale_dtype = d.out_dtype = T;
      d.flags = flagsel & 7;
      s.present[kWeight] = s.present[kWeightScale] = s.present[kActScale] = true;
      s.present[kBias] = opt(0);
      s.present[kWeightZp] = (d.flags & SQ_PLAN_WEIGHT_ZERO_POINT) && opt(1);
      s.present[kActZp] = (d.flags & SQ_PLAN_ACT_ZERO_POINT) != 0;
      s.present[kWeightSums] = s.present[kActZp] || opt(3);
      s.present[kActSums] = opt(2);
      break;
    }
    case SQ_OP_SCALE_ACCUMULATORS: {
      d.act_dtype = SQ_DTYPE_S32;
      d.scale_dtype = d.out_dtype = T;
      d.k = 0;
      d.flags = flagsel & SQ_PLAN_PER_TENSOR_ACT_SCALE;
      s.present[kWeightScale] = s.present[kActScale] = true;
      s.present[kBias] = opt(0);
      break;
    }
    default: {  // QUANTIZE_STATIC/DYNAMIC, RMSNORM_QUANTIZE, SILU_MUL_QUANTIZE
      d.n = 0;
      const bool fused = d.op == SQ_OP_RMSNORM_QUANTIZE || d.op == SQ_OP_SILU_MUL_QUANTIZE;
      d.act_dtype = fused ? (X == SQ_DTYPE_F64 ? SQ_DTYPE_F32 : X) : X;
      d.scale_dtype = T;
      sq_quant_mode mode;
      if (d.op == SQ_OP_QUANTIZE_STATIC) {
        mode = (modesel & 1) ? SQ_QUANT_STATIC : SQ_QUANT_DEFAULT;
        if (modesel & 2) d.scale_dtype = 0;  // no smooth dtype
      } else {
        static const sq_quant_mode modes[] = {SQ_QUANT_DEFAULT, SQ_QUANT_DYNAMIC, SQ_QUANT_DYNAMIC_ASYMMETRIC,
                                              SQ_QUANT_ABSMAX, SQ_QUANT_FROM_ABSMAX, SQ_QUANT_STATIC};
        mode = modes[modesel % (fused ? 6 : 5)];
      }
      d.quant_mode = mode;
      const sq_quant_mode em = effective_mode(d);
      d.out_dtype = em == SQ_QUANT_STATIC || em == SQ_QUANT_DYNAMIC_ASYMMETRIC ? ((wsel & 2) ? SQ_DTYPE_U8 : SQ_DTYPE_S8)
                                                                                : SQ_DTYPE_S8;
      if (em == SQ_QUANT_STATIC) {
        d.act_scale = act_scale_table[(modesel >> 3) % 6];
        if (zpsel % 3 == 1) d.act_zero_point = d.out_dtype == SQ_DTYPE_U8 ? zpsel % 256 : static_cast<int8_t>(zpsel * 7);
      }
      if (d.op == SQ_OP_RMSNORM_QUANTIZE) {
        static const double eps[] = {1e-5, 1e-6, 1e-3, 0.5};
        d.eps = eps[(flagsel >> 2) % 4];
        s.present[kNormWeight] = true;
        s.present[kResidual] = opt(4);
        s.present[kResidualOut] = opt(5);
        if (opt(6) && s.present[kResidualOut]) s.mode[kResidualOut] = s.present[kResidual] ? kAliasResidual : kAliasAct;
      }
      const bool writes_q = em != SQ_QUANT_ABSMAX;
      s.present[kOut] = writes_q;
      s.present[kScratch] = em == SQ_QUANT_DYNAMIC || em == SQ_QUANT_DYNAMIC_ASYMMETRIC || em == SQ_QUANT_FROM_ABSMAX;
      s.present[kActZp] = em == SQ_QUANT_DYNAMIC_ASYMMETRIC;
      s.present[kAbsmax] = em == SQ_QUANT_ABSMAX || em == SQ_QUANT_FROM_ABSMAX;
      s.present[kSmooth] = d.scale_dtype != 0 && opt(2);
      s.present[kActSums] = writes_q && opt(3);
      break;
    }
  }
  // Row strides: 0 (packed) or the row plus a few elements.
  for (int a = 0; a < kNumArr; ++a) {
    const uint8_t b = r.u8();
    s.ld[a] = b < 128 ? 0 : -(b % 6);  // negative: "row + pad", resolved below
  }
  s.seed = r.u64();
  for (int a = 0; a < kNumArr; ++a) {
    const uint8_t b = r.u8();
    s.style[a].specials = static_cast<uint8_t>(b & 0xF0) >> 2;
    s.style[a].range = b & 3;
  }
  s.runs = 1 + r.u8() % 2;
  s.m2 = 1 + r.u8() % d.max_m;
  s.desc.reserved = 0;
}

// Resolves "row + pad" strides for the spec's current desc.
void resolve_strides(Spec& s) {
  Shape sh[kNumArr];
  shapes(effective_desc(s), s.m, sh);
  for (int a = 0; a < kNumArr; ++a) {
    if (s.ld[a] < 0 && s.ld[a] > -8) s.ld[a] = sh[a].strided ? sh[a].cols + (-s.ld[a] - 1) : 0;
    if (s.ld[a] == -8) s.ld[a] = 0;
  }
}

// Hostile edits of single fields.
void mutate(Reader& r, Spec& s) {
  const int count = r.u8() % 4;
  for (int i = 0; i < count; ++i) {
    const uint8_t f = r.u8();
    sq_plan_desc& d = s.desc;
    switch (f % 40) {
      case 0: s.desc_size = pick_struct_size(r, sizeof(sq_plan_desc), SQ_PLAN_DESC_SIZE_0_1); break;
      case 1: d.op = pick_enum(r); break;
      case 2: d.act_dtype = pick_enum(r); break;
      case 3: d.weight_dtype = pick_enum(r); break;
      case 4: d.scale_dtype = pick_enum(r); break;
      case 5: d.out_dtype = pick_enum(r); break;
      case 6: d.n = pick_size(r); break;
      case 7: d.k = pick_size(r); break;
      case 8: d.max_m = pick_size(r); break;
      case 9: d.act_scale = pick_double(r); break;
      case 10: d.host_threads = r.u8() < 128 ? r.u8() % 9 : r.u32(); break;
      case 11: d.reserved = r.u32() | 1; break;
      case 12: d.quant_mode = pick_enum(r); break;
      case 13: d.quant_dtype = pick_enum(r); break;
      case 14: d.act_zero_point = r.u8() < 128 ? static_cast<int32_t>(r.u16() % 600) - 300 : pick_enum(r); break;
      case 15: d.flags = r.u8() < 200 ? (r.u8() & 7) : r.u32(); break;
      case 16: d.eps = pick_double(r); break;
      case 17: s.desc_tail = r.u8() | 1; break;
      case 18: s.desc_null = true; break;
      case 19: s.plan_out_null = true; break;
      case 20: s.pref = pick_enum(r); break;
      case 21: s.m = pick_size(r); break;
      case 22: s.args_size = pick_struct_size(r, sizeof(sq_run_args), SQ_RUN_ARGS_SIZE_0_1); break;
      case 23: s.args_reserved = r.u32() | 1; break;
      case 24: s.args_tail = r.u8() | 1; break;
      case 25: s.args_null = true; break;
      case 26: s.workspace_mode = 1 + r.u8() % 4; break;
      case 27: s.wrong_sums = true; break;
      case 28: case 29: case 30: case 31: {  // a stride
        const int a = r.u8() % kNumArr;
        s.ld[a] = pick_size(r);
        break;
      }
      case 32: case 33: case 34: {  // a pointer: null, misaligned or present where the op takes none
        const int a = r.u8() % kNumArr;
        const uint8_t how = r.u8();
        if (how % 3 == 0) s.mode[a] = kNull;
        else if (how % 3 == 1) { s.mode[a] = kMisaligned; s.skew[a] = 1 + (how >> 2) % 15; }
        else if (!s.present[a]) { s.present[a] = true; s.mode[a] = kExtra; }
        break;
      }
      case 35: {  // an alias: one array's pointer is another's
        const int a = r.u8() % kNumArr;
        s.mode[a] = (r.u8() & 1) ? kAliasAct : kAliasResidual;
        s.present[a] = true;
        break;
      }
      case 36: s.m2 = pick_size(r); s.runs = 2; break;
      case 37: {  // data specials everywhere
        for (auto& st : s.style) st.specials = 255;
        break;
      }
      case 38: d.n = d.n == 0 ? 1 : 0; break;
      default: d.k = r.u8() % 2 && d.k < INT64_MAX ? d.k + 1 : 0; break;  // K one past (0 at INT64_MAX), or 0
    }
  }
}

// ------------------------------------------------------------------ filling the data
void fill_float(Buffer* b, sq_dtype dt, Rng& g, const Style& st, bool positive) {
  const size_t es = oracle::esize(dt);
  if (!es) return;
  for (size_t i = 0; i + es <= b->size; i += es) {
    double v = data_value(g, dt, st);
    if (positive && !(st.specials && g.below(1024) < st.specials)) v = g.uniform(1e-3, 0.1);
    oracle::store_f(b->data + i, dt, v);
  }
}
void fill_bytes(Buffer* b, Rng& g) {
  for (size_t i = 0; i < b->size; ++i) b->data[i] = static_cast<uint8_t>(g.next());
}

// ------------------------------------------------------------------ the oracle of one run
struct Arrays {
  uint8_t* p[kNumArr] = {};
  Buffer* buf[kNumArr] = {};
  int64_t ld[kNumArr] = {};  // resolved (0 -> cols)
};

// Expected outputs: for each output array, element index (row * ld + col) -> Elem.
struct Expect {
  bool writes[kNumArr] = {};
  std::vector<std::pair<size_t, Elem>> elems[kNumArr];
  sq_dtype dtype[kNumArr] = {};
  bool checkable = true;  // false: the contract does not define the result (e.g. wrong caller sums)
};

// Runs the contract on the inputs (as they were before the call: the snapshot), for op d and m rows.
void oracle_run(const sq_plan_desc& d, int64_t m, const Arrays& A, const Shape sh[kNumArr], Expect& E) {
  const sq_op op = d.op;
  auto in = [&](Arr a) -> const uint8_t* { return A.buf[a] ? A.buf[a]->snapshot.data() + (A.p[a] - A.buf[a]->data) : nullptr; };
  auto put = [&](Arr a, size_t idx, const Elem& e) {
    E.writes[a] = true;
    E.dtype[a] = sh[a].dtype;
    E.elems[a].emplace_back(idx, e);
  };
  const int64_t n = d.n, k = d.k;
  const sq_dtype T = d.scale_dtype;

  // The quantizer rows (quantize ops, fused ops, QUANTIZED_LINEAR's first half).
  std::vector<std::vector<int64_t>> qrows;  // q values per row (QUANTIZED_LINEAR)
  std::vector<int64_t> za_rows(static_cast<size_t>(m), 0);
  std::vector<double> rs_rows(static_cast<size_t>(m), 0.0);
  if (is_quantizer_op(op) || op == SQ_OP_QUANTIZED_LINEAR) {
    const sq_quant_mode mode = effective_mode(d);
    const sq_dtype q = q_dtype_of(d), c = c_dtype_of(d);
    const sq_dtype S = T;
    const sq_dtype smooth_dt = d.scale_dtype;
    const bool f64 = c == SQ_DTYPE_F64;
    for (int64_t r = 0; r < m; ++r) {
      std::vector<double> v64;
      std::vector<float> v32;
      const uint8_t* x = in(kAct);
      const int64_t ldx = A.ld[kAct];
      if (op == SQ_OP_RMSNORM_QUANTIZE) {
        std::vector<float> h(static_cast<size_t>(k));
        const uint8_t* res = in(kResidual);
        for (int64_t i = 0; i < k; ++i) {
          const float xv = oracle::load_f32(x, d.act_dtype, r * ldx + i);
          h[i] = res ? xv + oracle::load_f32(res, d.act_dtype, r * A.ld[kResidual] + i) : xv;
          if (A.p[kResidualOut])
            put(kResidualOut, r * A.ld[kResidualOut] + i,
                mode == SQ_QUANT_ABSMAX ? Elem{Elem::kAny, {}} : oracle::exact_f(d.act_dtype, h[i]));
        }
        const float ss = oracle::rms_sum_of_squares(h);
        const float rr = 1.0f / std::sqrt(ss / static_cast<float>(k) + static_cast<float>(d.eps));
        for (int64_t i = 0; i < k; ++i) {
          float v = (h[i] * rr) * oracle::load_f32(in(kNormWeight), d.act_dtype, i);
          if (in(kSmooth)) v = v / oracle::load_f32(in(kSmooth), smooth_dt, i);
          v32.push_back(v);
        }
      } else if (op == SQ_OP_SILU_MUL_QUANTIZE) {
        for (int64_t i = 0; i < k; ++i) {
          const float gv = oracle::load_f32(x, d.act_dtype, r * ldx + i);
          const float uv = oracle::load_f32(x, d.act_dtype, r * ldx + k + i);
          float v = (gv / (1.0f + oracle::sq_exp(-gv))) * uv;
          if (in(kSmooth)) v = v / oracle::load_f32(in(kSmooth), smooth_dt, i);
          v32.push_back(v);
        }
      } else {
        for (int64_t i = 0; i < k; ++i) {
          const double xv = oracle::load_f(x, d.act_dtype, r * ldx + i);
          if (f64) {
            v64.push_back(in(kSmooth) ? xv / oracle::load_f(in(kSmooth), smooth_dt, i) : xv);
          } else {
            const float xf = static_cast<float>(xv);
            v32.push_back(in(kSmooth) ? xf / oracle::load_f32(in(kSmooth), smooth_dt, i) : xf);
          }
        }
      }
      oracle::QuantRow qr;
      const double given = in(kAbsmax) ? oracle::load_f(in(kAbsmax), c, r) : 0.0;
      if (f64)
        qr = oracle::quantize_row<double>(v64, mode, q, S, c, d.act_scale, d.act_zero_point, given);
      else
        qr = oracle::quantize_row<float>(v32, mode, q, S, c, static_cast<float>(d.act_scale), d.act_zero_point,
                                         static_cast<float>(given));
      if (mode == SQ_QUANT_ABSMAX) {
        put(kAbsmax, r, qr.absmax);
        continue;
      }
      if (mode != SQ_QUANT_STATIC) {
        put(kScratch, r, qr.scale);
        rs_rows[r] = oracle::load_f(qr.scale.bytes, S, 0);
        if (qr.scale.kind == Elem::kExact && std::isnan(rs_rows[r])) rs_rows[r] = NAN;
      }
      if (mode == SQ_QUANT_DYNAMIC_ASYMMETRIC) {
        if (op != SQ_OP_QUANTIZED_LINEAR) put(kActZp, r, qr.zero_point);
        za_rows[r] = oracle::load_i(qr.zero_point.bytes, q, 0);
      }
      if (op == SQ_OP_QUANTIZED_LINEAR) {
        if (!qr.q_known) E.checkable = false;
        std::vector<int64_t> qv;
        for (auto& e : qr.q) qv.push_back(oracle::load_i(e.bytes, q, 0));
        qrows.push_back(qv);
        continue;
      }
      for (int64_t i = 0; i < k; ++i) put(kOut, r * A.ld[kOut] + i, qr.q[i]);
      if (A.p[kActSums]) {
        if (qr.q_known) put(kActSums, r, oracle::exact_i(SQ_DTYPE_S32, qr.sum));
        else put(kActSums, r, Elem{Elem::kAny, {}});
      }
    }
    if (op != SQ_OP_QUANTIZED_LINEAR) return;
  }

  // The linears and SCALE_ACCUMULATORS.
  const bool s32_out = d.out_dtype == SQ_DTYPE_S32;
  double static_rs = 0.0;
  if (op == SQ_OP_SMOOTHQUANT_LINEAR && !s32_out) {
    uint8_t b[8];
    oracle::store_f(b, T, d.act_scale);  // (T)act_scale, one RNE
    static_rs = oracle::load_f(b, T, 0);
    for (int64_t r = 0; r < m; ++r) put(kScratch, r, oracle::exact_f(T, static_rs, false));
  }
  for (int64_t r = 0; r < m; ++r) {
    double rs = 0.0;
    int64_t za = 0;
    if (op == SQ_OP_SMOOTHQUANT_LINEAR) {
      rs = static_rs;
      za = d.act_zero_point;
    } else if (op == SQ_OP_QUANTIZED_LINEAR) {
      rs = rs_rows[r];
      za = za_rows[r];
    } else {  // SCALED_LINEAR, SCALE_ACCUMULATORS
      rs = oracle::load_f(in(kActScale), T, (d.flags & SQ_PLAN_PER_TENSOR_ACT_SCALE) ? 0 : r);
      if (op == SQ_OP_SCALED_LINEAR && (d.flags & SQ_PLAN_ACT_ZERO_POINT) && in(kActZp))
        za = oracle::load_i(in(kActZp), d.act_dtype, r);
    }
    for (int64_t c = 0; c < n; ++c) {
      int64_t acc = 0;
      if (op == SQ_OP_SCALE_ACCUMULATORS) {
        acc = oracle::load_i(in(kAct), SQ_DTYPE_S32, r * A.ld[kAct] + c);
      } else {
        const int64_t zw = in(kWeightZp) && (d.flags & SQ_PLAN_WEIGHT_ZERO_POINT) ? oracle::load_i(in(kWeightZp), d.weight_dtype, c) : 0;
        for (int64_t i = 0; i < k; ++i) {
          const int64_t a = op == SQ_OP_QUANTIZED_LINEAR ? qrows[r][i] : oracle::load_i(in(kAct), d.act_dtype, r * A.ld[kAct] + i);
          const int64_t w = oracle::load_i(in(kWeight), d.weight_dtype, c * A.ld[kWeight] + i);
          acc += (a - za) * (w - zw);
        }
        if (acc < INT32_MIN || acc > INT32_MAX) E.checkable = false;  // past max_k: select must have refused
      }
      const size_t idx = static_cast<size_t>(r * A.ld[kOut] + c);
      if (s32_out) {
        put(kOut, idx, oracle::exact_i(SQ_DTYPE_S32, acc));
        continue;
      }
      const double ws = oracle::load_f(in(kWeightScale), T, c);
      const bool hb = in(kBias) != nullptr;
      const double b = hb ? oracle::load_f(in(kBias), T, c) : 0.0;
      put(kOut, idx, oracle::epilogue(T, static_cast<int32_t>(acc), rs, ws, hb, b));
    }
  }
}

// ------------------------------------------------------------------ running one plan spec
struct RawStruct {  // a caller struct of exactly `size` bytes (at least 4: the size field itself)
  Buffer* buf;
};

void run_plan_scenario(Reader& r) {
  Spec s;
  decode_plan(r, s);
  resolve_strides(s);
  mutate(r, s);
  note("plan op=%d act=%d w=%d scale=%d out=%d n=%" PRId64 " k=%" PRId64 " max_m=%" PRId64 " m=%" PRId64
       " mode=%d qd=%d flags=%u zp=%d size=%u pref=%d",
       s.desc.op, s.desc.act_dtype, s.desc.weight_dtype, s.desc.scale_dtype, s.desc.out_dtype, s.desc.n, s.desc.k,
       s.desc.max_m, s.m, s.desc.quant_mode, s.desc.quant_dtype, s.desc.flags, s.desc.act_zero_point, s.desc_size,
       s.pref);
  Arena arena;
  // The descriptor struct: exactly desc_size bytes (but at least the size field).
  const size_t dbytes = s.desc_size < 4 ? 4 : (s.desc_size > (1u << 16) ? 4 + SQ_MAX_STRUCT_SIZE : s.desc_size);
  Buffer* dbuf = arena.make("desc", dbytes);
  SQF_UNPOISON(dbuf->data, dbuf->size);
  std::memcpy(dbuf->data, &s.desc, dbytes < sizeof(s.desc) ? dbytes : sizeof(s.desc));
  std::memcpy(dbuf->data, &s.desc_size, 4);
  if (s.desc_tail && dbytes > sizeof(s.desc)) dbuf->data[sizeof(s.desc) + (s.desc_tail % (dbytes - sizeof(s.desc)))] = s.desc_tail;
  Buffer* hbuf = arena.make("plan_out", sizeof(sq_plan));
  const sq_plan sentinel = reinterpret_cast<sq_plan>(static_cast<uintptr_t>(0x5e5e5e5e5e5e5e5eull));
  std::memcpy(hbuf->data, &sentinel, sizeof(sentinel));
  arena.take();
  sq_plan* plan_out = s.plan_out_null ? nullptr : reinterpret_cast<sq_plan*>(hbuf->data);
  const sq_plan_desc* dptr = s.desc_null ? nullptr : reinterpret_cast<const sq_plan_desc*>(dbuf->data);
  // The host plan ignores the stream: any value. A GPU preference on a machine with a GPU gets the NULL
  // (default) stream: a garbage stream handle is undefined behaviour in the CUDA driver, not input this
  // target is about (it fuzzes the host plan; the GPU suites test GPU plans).
  const bool gpu_select = s.pref != SQ_PREFERENCE_HOST_REFERENCE && machine_has_gpu();
  sq_stream stream =
      gpu_select ? nullptr : reinterpret_cast<sq_stream>(static_cast<uintptr_t>(s.seed | 1));
  sq_status st = sq_plan_select(stream, dptr, s.pref, plan_out);
  if (gpu_select) {  // a GPU plan: its select is all this target checks (no run on host buffers)
    check_status(st, "sq_plan_select");
    if (st == SQ_STATUS_SUCCESS && plan_out != nullptr) {
      sq_plan gp;
      std::memcpy(&gp, hbuf->data, sizeof(gp));
      FZ_CHECK(sq_plan_destroy(gp) == SQ_STATUS_SUCCESS, "destroying a GPU plan");
    }
    return;
  }
  check_status(st, "sq_plan_select");
  const sq_plan_desc eff = effective_desc(s);
  // What the header decides alone, whatever the implementation.
  if (!s.desc_null && (s.desc_size < SQ_PLAN_DESC_SIZE_0_1 || s.desc_size > SQ_MAX_STRUCT_SIZE))
    FZ_CHECK(st == SQ_STATUS_INVALID_STRUCT_SIZE ||
                 (st != SQ_STATUS_SUCCESS && (s.plan_out_null || s.pref != SQ_PREFERENCE_HOST_REFERENCE)),
             "select with desc struct_size %u returned %s", s.desc_size, sq_status_string(st));
  if (s.desc_null || s.plan_out_null) FZ_CHECK(st != SQ_STATUS_SUCCESS, "select with a NULL pointer succeeded");
  if (st != SQ_STATUS_SUCCESS) {
    arena.check_untouched("sq_plan_select");
    return;
  }
  FZ_CHECK(s.pref == SQ_PREFERENCE_HOST_REFERENCE, "select succeeded for preference %d without a GPU", s.pref);
  FZ_CHECK(s.desc_tail == 0 || dbytes <= sizeof(s.desc), "select accepted a non-zero unknown tail byte");
  FZ_CHECK(eff.reserved == 0, "select accepted desc->reserved = %u", eff.reserved);
  dbuf->check_guards();
  FZ_CHECK(dbuf->unchanged(), "sq_plan_select wrote the caller's descriptor");
  sq_plan plan;
  std::memcpy(&plan, hbuf->data, sizeof(plan));
  FZ_CHECK(plan != nullptr && plan != sentinel, "select succeeded without writing the plan");
  const sq_plan_desc& d = eff;
  FZ_CHECK(d.max_m >= 1 && d.max_m <= INT32_MAX, "select accepted max_m %" PRId64, d.max_m);

  // Plan queries, with output structs of every size.
  {
    const uint32_t isz = pick_struct_size(r, sizeof(sq_plan_info), sizeof(sq_plan_info));
    const size_t ibytes = isz < 4 ? 4 : (isz > (1u << 16) ? 4 + SQ_MAX_STRUCT_SIZE : isz);
    Arena qa;
    Buffer* ib = qa.make("info", ibytes);
    SQF_UNPOISON(ib->data, ib->size);
    std::memset(ib->data, 0xCD, ibytes);
    std::memcpy(ib->data, &isz, 4);
    qa.take();
    const sq_status qs = sq_plan_get_info(plan, reinterpret_cast<sq_plan_info*>(ib->data));
    check_status(qs, "sq_plan_get_info");
    if (isz < sizeof(sq_plan_info) || isz > SQ_MAX_STRUCT_SIZE) FZ_CHECK(qs == SQ_STATUS_INVALID_STRUCT_SIZE, "get_info size %u: %d", isz, qs);
    if (qs != SQ_STATUS_SUCCESS) {
      qa.check_untouched("sq_plan_get_info");
    } else {
      qa.check_guards();
      sq_plan_info info;
      std::memset(&info, 0, sizeof(info));
      std::memcpy(&info, ib->data, ibytes < sizeof(info) ? ibytes : sizeof(info));
      FZ_CHECK(info.struct_size == isz, "get_info changed struct_size");
      if (isz >= sizeof(info)) {
        FZ_CHECK(info.family == SQ_KERNEL_FAMILY_HOST && info.op == d.op && info.device == -1 && info.n == d.n &&
                     info.k == d.k && info.max_m == d.max_m && info.sm_version == 0,
                 "get_info: wrong facts");
        for (size_t i = sizeof(info); i < ibytes; ++i) FZ_CHECK(ib->data[i] == 0, "get_info: tail byte %zu not zeroed", i);
      }
    }
    const uint32_t gsz = pick_struct_size(r, sizeof(sq_precision_guarantee), sizeof(sq_precision_guarantee));
    const size_t gbytes = gsz < 4 ? 4 : (gsz > (1u << 16) ? 4 + SQ_MAX_STRUCT_SIZE : gsz);
    Buffer* gb = qa.make("guarantee", gbytes);
    SQF_UNPOISON(gb->data, gb->size);
    std::memset(gb->data, 0xCD, gbytes);
    std::memcpy(gb->data, &gsz, 4);
    qa.take();
    const sq_status gs = sq_plan_precision_guarantee(plan, reinterpret_cast<sq_precision_guarantee*>(gb->data));
    check_status(gs, "sq_plan_precision_guarantee");
    if (gsz < sizeof(sq_precision_guarantee) || gsz > SQ_MAX_STRUCT_SIZE) FZ_CHECK(gs == SQ_STATUS_INVALID_STRUCT_SIZE, "guarantee size %u", gsz);
    if (gs != SQ_STATUS_SUCCESS) {
      qa.check_untouched("sq_plan_precision_guarantee");
    } else if (gsz >= sizeof(sq_precision_guarantee)) {
      qa.check_guards();
      sq_precision_guarantee g;
      std::memcpy(&g, gb->data, sizeof(g));
      FZ_CHECK(g.bit_exact_with_host == 1 && g.deterministic == 1, "guarantee: not exact/deterministic");
      if (is_linear(d.op)) {
        // max_k = min(SQ_MAX_K, floor((2^31 - 1) / (A * W)))
        const bool zw = (d.flags & SQ_PLAN_WEIGHT_ZERO_POINT) != 0;
        const int64_t A = (d.op == SQ_OP_QUANTIZED_LINEAR)
                              ? ((effective_mode(d) == SQ_QUANT_DYNAMIC_ASYMMETRIC || q_dtype_of(d) == SQ_DTYPE_U8) ? 255 : 128)
                          : (d.act_dtype == SQ_DTYPE_S8 && !(d.op == SQ_OP_SMOOTHQUANT_LINEAR && d.act_zero_point != 0) &&
                             !(d.op == SQ_OP_SCALED_LINEAR && (d.flags & SQ_PLAN_ACT_ZERO_POINT)))
                              ? 128
                              : 255;
        const int64_t W = d.weight_dtype == SQ_DTYPE_S8 && !zw ? 128 : 255;
        const int64_t max_k = std::min<int64_t>(SQ_MAX_K, (int64_t{2147483647}) / (A * W));
        FZ_CHECK(g.max_k == max_k, "guarantee: max_k %" PRId64 ", the contract's formula gives %" PRId64, g.max_k, max_k);
        FZ_CHECK(d.k <= max_k, "select accepted k = %" PRId64 " above max_k %" PRId64, d.k, max_k);
        FZ_CHECK(g.accumulate_dtype == SQ_DTYPE_S32, "guarantee: accumulate dtype %d", g.accumulate_dtype);
      }
    }
    size_t wsz = 1;
    const sq_status ws = sq_plan_workspace_size(plan, &wsz);
    check_status(ws, "sq_plan_workspace_size");
    FZ_CHECK(ws == SQ_STATUS_SUCCESS, "workspace_size failed on a live plan");
    const sq_status wsn = sq_plan_workspace_size(plan, nullptr);
    check_status(wsn, "sq_plan_workspace_size");
    FZ_CHECK(wsn == SQ_STATUS_INVALID_ARGUMENT, "workspace_size(NULL) returned %d", wsn);
    const int64_t km = static_cast<int64_t>(r.u8()) - 1;
    const char* name = reinterpret_cast<const char*>(0x1);
    const sq_status ks = sq_plan_kernel_name(plan, km, &name);
    check_status(ks, "sq_plan_kernel_name");
    FZ_CHECK((ks == SQ_STATUS_SUCCESS) == (km >= 1 && km <= d.max_m), "kernel_name(m = %" PRId64 ") returned %d", km, ks);
    if (ks == SQ_STATUS_SUCCESS) FZ_CHECK(name != nullptr && std::strlen(name) > 0, "kernel_name: empty");
    else FZ_CHECK(name == reinterpret_cast<const char*>(0x1), "kernel_name failed but wrote the name");
  }

  size_t ws_bytes = 0;
  sq_plan_workspace_size(plan, &ws_bytes);
  for (int run = 0; run < s.runs; ++run) {
    const int64_t m = run == 0 ? s.m : s.m2;
    g_context += run ? "; second run" : "";
    {  // which arrays the run passes, and how (kNormal 0, kNull 1, kMisaligned 2, aliases 3-4, kExtra 5)
      std::string arrays = "; arrays";
      for (int a = 0; a < kNumArr; ++a)
        if (s.present[a]) arrays += std::string(" ") + kArrName[a] + ":" + std::to_string(int(s.mode[a]));
      g_context += arrays;
    }
    Arena ra;
    Shape sh[kNumArr];
    shapes(d, m > 0 && m <= 64 ? m : 1, sh);
    // Pointers and buffers.
    Arrays A;
    bool overflowing = false, too_big = false;
    bool overflows[kNumArr] = {};  // its extent is past any address space (counts only if passed non-null)
    uint64_t bytes[kNumArr] = {};
    for (int a = 0; a < kNumArr; ++a) {
      if (!s.present[a] || s.mode[a] == kNull) continue;
      Shape shp = sh[a];
      if (shp.dtype == 0 || oracle::esize(shp.dtype) == 0) shp.dtype = SQ_DTYPE_F64;  // unknown: room for any
      if (shp.rows < 1) shp.rows = 1;
      if (shp.cols < 1) shp.cols = 1;
      // residual_out aliased to act or residual is passed with their leading dimension (see the args).
      const int64_t own_ld = a == kResidualOut && s.mode[a] == kAliasAct        ? s.ld[kAct]
                             : a == kResidualOut && s.mode[a] == kAliasResidual ? s.ld[kResidual]
                                                                               : s.ld[a];
      const int64_t ld = shp.strided ? own_ld : 0;
      const uint64_t b = span_bytes(shp, ld);
      if (b == UINT64_MAX) {
        if (s.mode[a] != kExtra) overflows[a] = true;  // negative, short or past any address space: refused
        bytes[a] = 64;  // the call must fail before it reads anything
      } else if (b > kMaxAlloc) {
        too_big = true;  // can_implement only (it reads no array)
        bytes[a] = 64;
      } else {
        bytes[a] = b;
      }
      A.ld[a] = ld == 0 ? shp.cols : ld;
    }
    // Aliases take the larger of the two sizes.
    for (int a = 0; a < kNumArr; ++a) {
      if (!s.present[a]) continue;
      if (s.mode[a] == kAliasAct && s.present[kAct] && s.mode[kAct] != kNull) bytes[kAct] = std::max(bytes[kAct], bytes[a]);
      if (s.mode[a] == kAliasResidual && s.present[kResidual] && s.mode[kResidual] != kNull)
        bytes[kResidual] = std::max(bytes[kResidual], bytes[a]);
    }
    Rng g{s.seed + static_cast<uint64_t>(run) * 7919};
    for (int a = 0; a < kNumArr; ++a) {
      if (!s.present[a] || s.mode[a] == kNull || s.mode[a] == kAliasAct || s.mode[a] == kAliasResidual) continue;
      Buffer* b = ra.make(kArrName[a], bytes[a], s.mode[a] == kMisaligned ? s.skew[a] : 0);
      A.buf[a] = b;
      A.p[a] = b->data;
      const sq_dtype dt = sh[a].dtype;
      if (a == kWeightScale || a == kActScale || a == kSmooth || a == kNormWeight)
        fill_float(b, dt, g, s.style[a], a != kNormWeight);
      else if (oracle::is_float(dt) && a != kOut && a != kScratch && a != kResidualOut)
        fill_float(b, dt, g, s.style[a], false);
      else
        fill_bytes(b, g);
      if (a == kAbsmax && effective_mode(d) == SQ_QUANT_FROM_ABSMAX && oracle::is_float(dt)) {
        // The caller's abs-max: about the data's (|x| <= 4), so that q spans the range, with specials.
        for (size_t i = 0; i + oracle::esize(dt) <= b->size; i += oracle::esize(dt))
          oracle::store_f(b->data + i, dt, s.style[a].specials && g.below(1024) < s.style[a].specials ? special(g, dt) : g.uniform(0.0, 6.0));
      }
    }
    for (int a = 0; a < kNumArr; ++a) {
      if (!s.present[a]) continue;
      if (s.mode[a] == kAliasAct) { A.p[a] = A.p[kAct]; A.buf[a] = A.buf[kAct]; A.ld[a] = A.ld[kAct]; }
      if (s.mode[a] == kAliasResidual) { A.p[a] = A.p[kResidual]; A.buf[a] = A.buf[kResidual]; A.ld[a] = A.ld[kResidual]; }
    }
    // An alias of an array the run does not pass is NULL (e.g. out in ABSMAX mode): nothing to overflow.
    for (int a = 0; a < kNumArr; ++a)
      if (overflows[a] && A.p[a] != nullptr) overflowing = true;
    // Sums the caller computes (sq_weight_sums's formula; act_sums for the linears from act), where it can.
    bool true_weight_sums = false, true_act_sums = false;
    const int64_t mm = m > 0 && m <= 64 ? m : 1;
    // Only over arrays the library would accept (rows at least K long): a short ld is refused by the library
    // before it reads anything, and the sums must not read past the buffers either.
    if (A.buf[kWeightSums] && s.mode[kWeightSums] == kNormal && A.p[kWeight] && oracle::is_int8(d.weight_dtype) &&
        !too_big && !overflowing && d.n >= 1 && d.k >= 1 && A.ld[kWeight] >= d.k && s.mode[kWeight] != kAliasAct &&
        s.mode[kWeight] != kAliasResidual) {
      true_weight_sums = true;
      for (int64_t c = 0; c < d.n; ++c) {
        int64_t sum = 0;
        for (int64_t i = 0; i < d.k; ++i) sum += oracle::load_i(A.p[kWeight], d.weight_dtype, c * A.ld[kWeight] + i);
        oracle::store_i(A.p[kWeightSums] + 4 * c, SQ_DTYPE_S32, sum + (s.wrong_sums ? 1 : 0));
      }
    }
    if (is_linear(d.op) && d.op != SQ_OP_QUANTIZED_LINEAR && A.buf[kActSums] && s.mode[kActSums] == kNormal &&
        A.p[kAct] && oracle::is_int8(d.act_dtype) && !too_big && !overflowing && d.k >= 1 && A.ld[kAct] >= d.k) {
      true_act_sums = mm == m;
      for (int64_t r2 = 0; r2 < mm; ++r2) {
        int64_t sum = 0;
        for (int64_t i = 0; i < d.k; ++i) sum += oracle::load_i(A.p[kAct], d.act_dtype, r2 * A.ld[kAct] + i);
        oracle::store_i(A.p[kActSums] + 4 * r2, SQ_DTYPE_S32, sum + (s.wrong_sums ? 1 : 0));
      }
    }
    // The args struct: exactly args_size bytes.
    sq_run_args a;
    std::memset(&a, 0, sizeof(a));
    a.struct_size = s.args_size;
    a.reserved = s.args_reserved;
    a.m = m;
    a.act = A.p[kAct];
    a.ld_act = s.ld[kAct];
    a.weight = A.p[kWeight];
    a.ld_weight = s.ld[kWeight];
    a.weight_scale = A.p[kWeightScale];
    a.bias = A.p[kBias];
    a.smooth = A.p[kSmooth];
    a.act_scale_scratch = A.p[kScratch];
    a.out = A.p[kOut];
    a.ld_out = s.ld[kOut];
    a.act_scale = A.p[kActScale];
    a.weight_zero_point = A.p[kWeightZp];
    a.weight_sums = reinterpret_cast<const int32_t*>(A.p[kWeightSums]);
    a.act_zero_point = A.p[kActZp];
    a.act_sums = reinterpret_cast<int32_t*>(A.p[kActSums]);
    a.absmax = A.p[kAbsmax];
    a.residual = A.p[kResidual];
    a.ld_residual = s.ld[kResidual];
    a.residual_out = A.p[kResidualOut];
    a.ld_residual_out = s.mode[kResidualOut] == kAliasAct        ? s.ld[kAct]
                        : s.mode[kResidualOut] == kAliasResidual ? s.ld[kResidual]
                                                                 : s.ld[kResidualOut];
    a.norm_weight = A.p[kNormWeight];
    // Fields past a smaller struct_size read as zero in the library (the header's growth rule): the oracle
    // must not see the arrays the library does not (their buffers stay, for the no-write checks).
    {
      const size_t kFieldOffset[kNumArr] = {
          offsetof(sq_run_args, act),          offsetof(sq_run_args, weight),
          offsetof(sq_run_args, weight_scale), offsetof(sq_run_args, bias),
          offsetof(sq_run_args, smooth),       offsetof(sq_run_args, act_scale_scratch),
          offsetof(sq_run_args, out),          offsetof(sq_run_args, act_scale),
          offsetof(sq_run_args, weight_zero_point), offsetof(sq_run_args, weight_sums),
          offsetof(sq_run_args, act_zero_point), offsetof(sq_run_args, act_sums),
          offsetof(sq_run_args, absmax),       offsetof(sq_run_args, residual),
          offsetof(sq_run_args, residual_out), offsetof(sq_run_args, norm_weight)};
      for (int x = 0; x < kNumArr; ++x)
        if (kFieldOffset[x] + sizeof(void*) > s.args_size) A.p[x] = nullptr, A.buf[x] = nullptr;
      if (offsetof(sq_run_args, ld_residual) + sizeof(int64_t) > s.args_size) A.ld[kResidual] = d.k;
      if (offsetof(sq_run_args, ld_residual_out) + sizeof(int64_t) > s.args_size) A.ld[kResidualOut] = d.k;
    }
    const size_t abytes = s.args_size < 4 ? 4 : (s.args_size > (1u << 16) ? 4 + SQ_MAX_STRUCT_SIZE : s.args_size);
    Buffer* ab = ra.make("args", abytes);
    SQF_UNPOISON(ab->data, ab->size);
    std::memcpy(ab->data, &a, abytes < sizeof(a) ? abytes : sizeof(a));
    if (s.args_tail && abytes > sizeof(a)) ab->data[sizeof(a) + (s.args_tail % (abytes - sizeof(a)))] = s.args_tail;
    ab->poison();
    // The workspace (one the plan says it needs but that is too large to allocate here: can_implement only).
    if (ws_bytes > kMaxAlloc) too_big = true;
    size_t wbytes = ws_bytes > kMaxAlloc ? 64 : ws_bytes;
    size_t wskew = 0;
    if (s.workspace_mode == 2 && wbytes > 0) wbytes -= 1;
    if (s.workspace_mode == 3) wskew = 8;
    if (s.workspace_mode == 4) wbytes += 100;
    Buffer* wb = ra.make("workspace", wbytes ? wbytes : 1, wskew);
    void* wptr = s.workspace_mode == 1 ? nullptr : (ws_bytes == 0 && s.workspace_mode == 0 ? nullptr : wb->data);
    ra.take();
    const sq_run_args* aptr = s.args_null ? nullptr : reinterpret_cast<const sq_run_args*>(ab->data);
    // can_implement: writes nothing, ever.
    const sq_status ci = sq_plan_can_implement(plan, aptr);
    check_status(ci, "sq_plan_can_implement");
    ra.check_untouched("sq_plan_can_implement");
    if (overflowing) FZ_CHECK(ci != SQ_STATUS_SUCCESS, "can_implement accepted an array past any address space");
    if (!s.args_null && (s.args_size < SQ_RUN_ARGS_SIZE_0_1 || s.args_size > SQ_MAX_STRUCT_SIZE))
      FZ_CHECK(ci == SQ_STATUS_INVALID_STRUCT_SIZE, "can_implement with args struct_size %u returned %d", s.args_size, ci);
    if (too_big && ci == SQ_STATUS_SUCCESS) {
      note("described arrays too large to allocate: run skipped");
      continue;
    }
    const sq_status rs = sq_plan_run(plan, stream, wptr, wbytes, aptr);
    check_status(rs, "sq_plan_run");
    const int opi = d.op >= 1 && d.op <= 8 ? d.op : 9;
    ++(rs == SQ_STATUS_SUCCESS ? g_stats.runs_ok : g_stats.runs_refused)[opi];
    if (rs != SQ_STATUS_SUCCESS) {
      ra.check_untouched("sq_plan_run");
      FZ_CHECK(ci != SQ_STATUS_SUCCESS || rs == SQ_STATUS_INSUFFICIENT_WORKSPACE || rs == SQ_STATUS_MISALIGNED,
               "can_implement succeeded but run failed with %s", sq_status_string(rs));
      continue;
    }
    FZ_CHECK(ci == SQ_STATUS_SUCCESS, "run succeeded but can_implement failed with %s", sq_status_string(ci));
    FZ_CHECK(!overflowing, "run accepted an array past any address space");
    FZ_CHECK(m >= 1 && m <= d.max_m, "run accepted m = %" PRId64, m);
    ra.check_guards();
    ab->check_guards();
    FZ_CHECK(ab->unchanged(), "sq_plan_run wrote the caller's args struct");
    // The header: QUANTIZED_LINEAR always needs its workspace; a zero-point linear only for a run that
    // passes weight_zero_point without act_sums (the row-sums pre-pass).
    const bool given_zw = s.present[kWeightZp] && s.mode[kWeightZp] != kNull;
    const bool given_sums = s.present[kActSums] && s.mode[kActSums] != kNull;
    const bool needs_ws = d.op == SQ_OP_QUANTIZED_LINEAR || (given_zw && !given_sums);
    if (ws_bytes > 0 && needs_ws) FZ_CHECK(wptr != nullptr && wbytes >= ws_bytes, "run accepted a short workspace");
    // The oracle. Aliased runs (other than the in-place residual the header allows) are not checked.
    bool aliased = false;
    for (int x = 0; x < kNumArr; ++x)
      if (s.present[x] && (s.mode[x] == kAliasAct || s.mode[x] == kAliasResidual) &&
          !(x == kResidualOut && d.op == SQ_OP_RMSNORM_QUANTIZE))
        aliased = true;
    Expect E;
    // Sums the harness did not fill with the true ones (a mutated or aliased pointer): the header leaves
    // the result unspecified then (host and GPU still agree), so there is nothing to check.
    const bool untrue_sums = (s.present[kWeightSums] && (s.mode[kWeightSums] != kNormal || !true_weight_sums)) ||
                             (is_linear(d.op) && d.op != SQ_OP_QUANTIZED_LINEAR && s.present[kActSums] &&
                              (s.mode[kActSums] != kNormal || !true_act_sums));
    if (!aliased && !s.wrong_sums && !untrue_sums) oracle_run(d, m, A, sh, E);
    else E.checkable = false;
    // Every buffer: inputs unchanged; outputs as the oracle says (and untouched padding).
    for (int x = 0; x < kNumArr; ++x) {
      Buffer* b = A.buf[x];
      if (!b || A.p[x] != b->data) continue;  // aliases are checked through their owner
      const bool owner_written = E.writes[x] || (x == kAct && E.writes[kResidualOut] && s.mode[kResidualOut] == kAliasAct) ||
                                 (x == kResidual && E.writes[kResidualOut] && s.mode[kResidualOut] == kAliasResidual);
      if (!E.checkable) continue;
      if (!owner_written) {
        FZ_CHECK(b->unchanged(), "run wrote %s, which op %d does not write (byte %zu)", kArrName[x], d.op,
                 b->first_change());
        continue;
      }
      // Expected image: the snapshot with the expected elements applied.
      const int xi = (x == kAct && s.mode[kResidualOut] == kAliasAct) || (x == kResidual && s.mode[kResidualOut] == kAliasResidual)
                         ? kResidualOut : x;
      const sq_dtype dt = E.dtype[xi];
      const size_t es = oracle::esize(dt);
      std::vector<uint8_t> img = b->snapshot;
      std::vector<uint8_t> mask(b->size, 0);  // 1: checked by an Elem
      for (auto& pe : E.elems[xi]) {
        const size_t off = pe.first * es;
        FZ_CHECK(off + es <= b->size, "oracle element outside %s", kArrName[xi]);
        for (size_t j = 0; j < es; ++j) mask[off + j] = 1;
        ++g_stats.elements;
        const uint8_t* got = b->data + off;
        if (!oracle::matches(pe.second, got, dt)) {
          char want[64] = "", have[64] = "";
          for (size_t j = 0; j < es; ++j) {
            std::snprintf(want + 2 * j, 3, "%02x", pe.second.bytes[es - 1 - j]);
            std::snprintf(have + 2 * j, 3, "%02x", got[es - 1 - j]);
          }
          die("run: %s element %zu is 0x%s, the contract gives 0x%s%s (op %d)", kArrName[xi], pe.first, have, want,
              pe.second.kind == Elem::kAnyNan ? " (any NaN)" : "", d.op);
        }
      }
      for (size_t j = 0; j < b->size; ++j)
        if (!mask[j]) FZ_CHECK(b->data[j] == b->snapshot[j], "run wrote byte %zu of %s outside its elements", j, kArrName[xi]);
    }
  }

  // Destroy, then every entry point on the destroyed handle.
  FZ_CHECK(sq_plan_destroy(plan) == SQ_STATUS_SUCCESS, "destroy failed");
  check_status(SQ_STATUS_SUCCESS, "sq_plan_destroy");
  sq_run_args a;
  std::memset(&a, 0, sizeof(a));
  a.struct_size = sizeof(a);
  size_t wsz = 77;
  const char* name = nullptr;
  FZ_CHECK(sq_plan_run(plan, nullptr, nullptr, 0, &a) == SQ_STATUS_INVALID_HANDLE, "run on a destroyed plan");
  FZ_CHECK(sq_plan_can_implement(plan, &a) == SQ_STATUS_INVALID_HANDLE, "can_implement on a destroyed plan");
  FZ_CHECK(sq_plan_workspace_size(plan, &wsz) == SQ_STATUS_INVALID_HANDLE && wsz == 77, "workspace_size on a destroyed plan");
  FZ_CHECK(sq_plan_kernel_name(plan, 1, &name) == SQ_STATUS_INVALID_HANDLE && name == nullptr, "kernel_name on a destroyed plan");
  FZ_CHECK(sq_plan_destroy(plan) == SQ_STATUS_INVALID_HANDLE, "double destroy");
}

// ------------------------------------------------------------------ handles
void run_handle_scenario(Reader& r) {
  note("handles");
  sq_plan_desc d;
  std::memset(&d, 0, sizeof(d));
  d.struct_size = sizeof(d);
  d.op = SQ_OP_SMOOTHQUANT_LINEAR;
  d.act_dtype = d.weight_dtype = SQ_DTYPE_S8;
  d.scale_dtype = d.out_dtype = SQ_DTYPE_F32;
  d.n = d.k = d.max_m = 2;
  d.act_scale = 1.0;
  sq_plan live = nullptr;
  FZ_CHECK(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &live) == SQ_STATUS_SUCCESS, "select");
  sq_plan dead = nullptr;
  FZ_CHECK(sq_plan_select(nullptr, &d, SQ_PREFERENCE_HOST_REFERENCE, &dead) == SQ_STATUS_SUCCESS, "select");
  FZ_CHECK(sq_plan_destroy(dead) == SQ_STATUS_SUCCESS, "destroy");
  std::vector<uint8_t> heap(256, r.u8());
  uint64_t stack_plan[16];
  std::memset(stack_plan, r.u8(), sizeof(stack_plan));
  const sq_plan bad[] = {dead,
                         reinterpret_cast<sq_plan>(heap.data()),
                         reinterpret_cast<sq_plan>(stack_plan),
                         reinterpret_cast<sq_plan>(reinterpret_cast<uintptr_t>(live) + 1 + r.u8() % 15),
                         reinterpret_cast<sq_plan>(static_cast<uintptr_t>(1)),
                         reinterpret_cast<sq_plan>(~static_cast<uintptr_t>(0)),
                         reinterpret_cast<sq_plan>(static_cast<uintptr_t>(r.u64()))};
  for (sq_plan h : bad) {
    if (h == live || h == nullptr) continue;
    sq_run_args a;
    std::memset(&a, 0, sizeof(a));
    a.struct_size = sizeof(a);
    size_t wsz = 5;
    const char* name = nullptr;
    sq_plan_info info;
    std::memset(&info, 0xEE, sizeof(info));
    info.struct_size = sizeof(info);
    const sq_plan_info before = info;
    sq_precision_guarantee g;
    std::memset(&g, 0xEE, sizeof(g));
    g.struct_size = sizeof(g);
    const sq_precision_guarantee gbefore = g;
    FZ_CHECK(sq_plan_run(h, nullptr, nullptr, 0, &a) == SQ_STATUS_INVALID_HANDLE, "run on a foreign handle");
    FZ_CHECK(sq_plan_can_implement(h, &a) == SQ_STATUS_INVALID_HANDLE, "can_implement on a foreign handle");
    FZ_CHECK(sq_plan_workspace_size(h, &wsz) == SQ_STATUS_INVALID_HANDLE && wsz == 5, "workspace_size");
    FZ_CHECK(sq_plan_kernel_name(h, 1, &name) == SQ_STATUS_INVALID_HANDLE && name == nullptr, "kernel_name");
    FZ_CHECK(sq_plan_get_info(h, &info) == SQ_STATUS_INVALID_HANDLE && std::memcmp(&info, &before, sizeof(info)) == 0,
             "get_info on a foreign handle");
    FZ_CHECK(sq_plan_precision_guarantee(h, &g) == SQ_STATUS_INVALID_HANDLE && std::memcmp(&g, &gbefore, sizeof(g)) == 0,
             "precision_guarantee on a foreign handle");
    FZ_CHECK(sq_plan_destroy(h) == SQ_STATUS_INVALID_HANDLE, "destroy of a foreign handle");
    check_status(SQ_STATUS_INVALID_HANDLE, "handle");
  }
  FZ_CHECK(sq_plan_can_implement(nullptr, nullptr) == SQ_STATUS_INVALID_HANDLE, "NULL plan");
  FZ_CHECK(sq_plan_destroy(nullptr) == SQ_STATUS_SUCCESS, "destroy(NULL)");
  FZ_CHECK(sq_last_error_message()[0] == '\0', "destroy(NULL) left a message");
  FZ_CHECK(sq_plan_destroy(live) == SQ_STATUS_SUCCESS, "destroy of the live plan");
  // Version, strings, the function table.
  FZ_CHECK(sq_version() == SQ_VERSION_NUMBER, "version");
  FZ_CHECK(sq_status_string(static_cast<sq_status>(r.u32())) != nullptr, "status_string");
  const sq_api_table* t = sq_get_api();
  FZ_CHECK(t != nullptr && t->struct_size >= offsetof(sq_api_table, weight_sums), "api table");
}

// ------------------------------------------------------------------ offline helpers
// A matrix view in a caller struct of exactly struct_size bytes, its data in a buffer of the span.
struct View {
  Buffer* sbuf = nullptr;  // the struct
  Buffer* dbuf = nullptr;  // the data
  sq_matrix_view v{};
  bool valid_shape = false;
  bool skip = false;  // addressable but too large to allocate here: not called
  int64_t ld = 0;
};

View make_view(Reader& r, Arena& ar, Rng& g, sq_dtype dtype, int64_t rows, int64_t cols, bool mutate_it, const Style& st,
               bool int_data) {
  View w;
  std::memset(&w.v, 0, sizeof(w.v));
  uint32_t size = sizeof(sq_matrix_view);
  w.v.dtype = dtype;
  w.v.rows = rows;
  w.v.cols = cols;
  const uint8_t lds = r.u8();
  w.v.ld = lds < 160 ? 0 : cols + lds % 4;
  bool null_data = false;
  size_t skew = 0;
  if (mutate_it) {
    switch (r.u8() % 10) {
      case 0: size = pick_struct_size(r, sizeof(sq_matrix_view), sizeof(sq_matrix_view)); break;
      case 1: w.v.dtype = pick_enum(r); break;
      case 2: w.v.rows = pick_size(r); break;
      case 3: w.v.cols = pick_size(r); break;
      case 4: w.v.ld = pick_size(r); break;
      case 5: null_data = true; break;
      case 6: skew = 1 + r.u8() % 7; break;
      default: break;
    }
  }
  w.v.struct_size = size;
  Shape sh{w.v.dtype, w.v.rows, w.v.cols, true};
  if (!oracle::esize(sh.dtype)) sh.dtype = SQ_DTYPE_F64;
  uint64_t b = span_bytes(sh, w.v.ld);
  w.valid_shape = b != UINT64_MAX && b <= kMaxAlloc && w.v.rows >= 1 && w.v.cols >= 1;
  w.skip = b != UINT64_MAX && b > kMaxAlloc;
  if (!w.valid_shape) b = 64;
  w.ld = w.v.ld == 0 ? w.v.cols : w.v.ld;
  w.dbuf = ar.make("view data", b, skew);
  if (int_data) fill_bytes(w.dbuf, g);
  else fill_float(w.dbuf, oracle::is_float(sh.dtype) ? sh.dtype : SQ_DTYPE_F32, g, st, false);
  w.v.data = null_data ? nullptr : w.dbuf->data;
  const size_t sbytes = size < 4 ? 4 : (size > (1u << 16) ? 4 + SQ_MAX_STRUCT_SIZE : size);
  w.sbuf = ar.make("view", sbytes);
  SQF_UNPOISON(w.sbuf->data, sbytes);
  std::memcpy(w.sbuf->data, &w.v, sbytes < sizeof(w.v) ? sbytes : sizeof(w.v));
  w.sbuf->poison();
  return w;
}

// k and a [k] float array (act_absmax, smooth) with hostile values at the input's rate.
// Hostile k values are ones no caller can have an array of (<= 0, or more bytes than any address space):
// the helpers must refuse them; a huge but addressable k would only be a caller's too-short buffer.
int64_t pick_k(Reader& r, bool mutate_it) {
  const uint8_t b = r.u8();
  if (mutate_it && (b & 0x80)) {
    static const int64_t bad[] = {0, -1, INT64_MIN, INT64_MAX, INT64_MAX / 2, INT64_MAX / 4 + 1, -(int64_t{1} << 40)};
    return bad[r.u8() % 7];
  }
  return 1 + b % 40;
}

void run_offline_scenario(Reader& r, int which) {
  Arena ar;
  const bool mut = (r.u8() & 3) == 3;
  Rng g{r.u64()};
  Style st;
  const uint8_t sb = r.u8();
  st.specials = static_cast<uint8_t>((sb & 0xF0) >> 2);
  st.range = sb & 3;
  const int64_t k = pick_k(r, mut);
  const bool k_ok = k >= 1 && k <= 4096;
  const int64_t kk = k_ok ? k : 4;
  auto farr = [&](const char* name, int64_t count, bool positive) {
    Buffer* b = ar.make(name, static_cast<size_t>(count) * 4);
    Style s2 = st;
    for (size_t i = 0; i + 4 <= b->size; i += 4) {
      double v = positive ? g.uniform(0.05, 20.0) : g.uniform(0.0, 50.0);
      if (s2.specials && g.below(1024) < s2.specials) v = special(g, SQ_DTYPE_F32);
      oracle::store_f(b->data + i, SQ_DTYPE_F32, v);
    }
    return b;
  };
  static const sq_dtype floats[] = {SQ_DTYPE_F32, SQ_DTYPE_F16, SQ_DTYPE_BF16, SQ_DTYPE_F64};
  switch (which) {
    case 0: {  // sq_smooth_factors
      note("smooth_factors k=%" PRId64, k);
      Buffer* absmax = farr("act_absmax", kk, false);
      const int nw = 1 + r.u8() % 3;
      static const int32_t bad_num[] = {0, -1, INT32_MIN};
      const uint8_t ns = r.u8();
      const int32_t num = mut && (ns & 1) ? ((ns & 2) ? bad_num[(ns >> 2) % 3] : 1) : nw;
      std::vector<View> views;
      const uint8_t vsel = r.u8();
      const uint32_t common = mut && (vsel & 0x80) ? pick_struct_size(r, sizeof(sq_matrix_view), sizeof(sq_matrix_view))
                                                    : sizeof(sq_matrix_view);
      (void)common;
      for (int i = 0; i < nw; ++i)
        views.push_back(make_view(r, ar, g, floats[(vsel >> (2 * i)) % 4], 1 + r.u8() % 6, kk, mut && i == 0, st, false));
      // The views must sit in one array whose element stride is their struct_size.
      const uint32_t stride = views[0].v.struct_size;
      const size_t sstride = stride < 4 ? 4 : (stride > (1u << 16) ? 4 + SQ_MAX_STRUCT_SIZE : stride);
      Buffer* arr = ar.make("weights[]", sstride * nw);
      SQF_UNPOISON(arr->data, arr->size);
      for (int i = 0; i < nw; ++i) {
        sq_matrix_view v = views[i].v;
        v.struct_size = stride;
        std::memcpy(arr->data + i * sstride, &v, std::min(sstride, sizeof(v)));
      }
      arr->poison();
      static const float alphas[] = {0.5f, 0.0f, 1.0f, 0.85f, -0.1f, 1.1f, NAN, INFINITY};
      const float alpha = alphas[mut ? r.u8() % 8 : r.u8() % 4];
      Buffer* out = ar.make("smooth_out", static_cast<size_t>(kk) * 4);
      for (auto& v : views)
        if (v.skip) return;
      ar.take();
      const sq_status st1 = sq_smooth_factors(k, reinterpret_cast<const float*>(absmax->data),
                                              num == 0 && (r.u8() & 1) ? nullptr : reinterpret_cast<const sq_matrix_view*>(arr->data),
                                              num, alpha, reinterpret_cast<float*>(out->data));
      check_status(st1, "sq_smooth_factors");
      if (st1 != SQ_STATUS_SUCCESS) { ar.check_untouched("sq_smooth_factors"); return; }
      ar.check_guards();
      FZ_CHECK(k_ok && num >= 1 && alpha >= 0.0f && alpha <= 1.0f, "smooth_factors accepted k/num/alpha");
      views.resize(static_cast<size_t>(num));
      // Oracle: wmax over every weight (f32), then the formula; NaN weights leave the max open.
      std::vector<float> wmax(static_cast<size_t>(k), 0.0f);
      bool open = false;
      for (auto& v : views) {
        FZ_CHECK(v.valid_shape && v.v.cols == k, "smooth_factors accepted a bad view");
        for (int64_t rr = 0; rr < v.v.rows; ++rr)
          for (int64_t c = 0; c < k; ++c) {
            const double x = oracle::load_f(v.dbuf->snapshot.data(), v.v.dtype, rr * v.ld + c);
            if (std::isnan(x)) open = true;
            const float a = static_cast<float>(std::fabs(x));
            if (a > wmax[c]) wmax[c] = a;
          }
      }
      for (int64_t c = 0; c < k && !open; ++c) {
        const float a = oracle::load_f32(absmax->snapshot.data(), SQ_DTYPE_F32, c);
        if (std::isnan(a)) continue;
        const float wm = std::max(1e-5f, wmax[c]);
        const double q = std::pow(static_cast<double>(a), static_cast<double>(alpha)) /
                         std::pow(static_cast<double>(wm), static_cast<double>(1 - alpha));
        const float want = std::max(1e-5f, static_cast<float>(q));
        const float got = oracle::load_f32(out->data, SQ_DTYPE_F32, c);
        FZ_CHECK(std::memcmp(&want, &got, 4) == 0 || (std::isnan(want) && std::isnan(got)),
                 "smooth_factors[%" PRId64 "] = %a, the formula gives %a", c, got, want);
      }
      FZ_CHECK(absmax->unchanged() && arr->unchanged(), "smooth_factors wrote an input");
      break;
    }
    case 1:    // sq_smooth_apply_to_norm
    case 2: {  // sq_smooth_apply_to_weight
      const sq_dtype dt = mut && (r.u8() & 1) ? pick_enum(r) : floats[r.u8() % 4];
      Buffer* smooth = farr("smooth", kk, true);
      const size_t es = oracle::esize(dt) ? oracle::esize(dt) : 4;
      int64_t rows = 1, ld = 0;
      if (which == 2) {
        rows = mut && (r.u8() & 1) ? pick_size(r) : 1 + r.u8() % 5;
        const uint8_t l = r.u8();
        ld = mut && (l & 0x80) ? pick_size(r) : (l < 128 ? 0 : kk + l % 3);
      }
      Shape sh{oracle::esize(dt) ? dt : SQ_DTYPE_F32, rows, kk, true};
      uint64_t b = span_bytes(sh, ld);
      if (b != UINT64_MAX && b > kMaxAlloc) return;  // addressable, too large to allocate here
      const bool shape_ok = b != UINT64_MAX && rows >= 1;
      if (!shape_ok) b = es * kk;
      const size_t skew = mut && (r.u8() % 4 == 0) ? 1 : 0;
      Buffer* w = ar.make(which == 1 ? "norm_weight" : "weight", b, skew);
      fill_float(w, sh.dtype, g, st, false);
      Buffer* nb = nullptr;
      if (which == 1 && (r.u8() & 1)) {
        nb = ar.make("norm_bias", b);
        fill_float(nb, sh.dtype, g, st, false);
      }
      ar.take();
      sq_status st1;
      if (which == 1) {
        note("apply_to_norm k=%" PRId64 " dtype=%d", k, dt);
        st1 = sq_smooth_apply_to_norm(k, reinterpret_cast<const float*>(smooth->data), dt, w->data, nb ? nb->data : nullptr);
      } else {
        note("apply_to_weight k=%" PRId64 " dtype=%d rows=%" PRId64 " ld=%" PRId64, k, dt, rows, ld);
        st1 = sq_smooth_apply_to_weight(k, reinterpret_cast<const float*>(smooth->data), dt, rows, ld, w->data);
      }
      check_status(st1, which == 1 ? "sq_smooth_apply_to_norm" : "sq_smooth_apply_to_weight");
      if (st1 != SQ_STATUS_SUCCESS) { ar.check_untouched("sq_smooth_apply"); return; }
      ar.check_guards();
      FZ_CHECK(k_ok && shape_ok && oracle::is_float(dt), "smooth_apply accepted k %" PRId64 " / shape / dtype %d", k, dt);
      const int64_t ldr = ld == 0 ? k : ld;
      for (Buffer* t : {w, nb}) {
        if (!t) continue;
        std::vector<uint8_t> img = t->snapshot;
        for (int64_t rr = 0; rr < rows; ++rr)
          for (int64_t c = 0; c < k; ++c) {
            const int64_t i = rr * ldr + c;
            const float sv = oracle::load_f32(smooth->snapshot.data(), SQ_DTYPE_F32, c);
            double res;
            if (dt == SQ_DTYPE_F64) {
              const double x = oracle::load_f(t->snapshot.data(), dt, i);
              res = which == 1 ? x / static_cast<double>(sv) : x * static_cast<double>(sv);
            } else {
              const float x = oracle::load_f32(t->snapshot.data(), dt, i);
              res = which == 1 ? x / sv : x * sv;
            }
            const Elem e = oracle::exact_f(dt, res);
            FZ_CHECK(oracle::matches(e, t->data + i * es, dt), "smooth_apply: element %" PRId64 " differs from the formula", i);
            std::memcpy(img.data() + i * es, t->data + i * es, es);
          }
        FZ_CHECK(std::memcmp(img.data(), t->data, t->size) == 0, "smooth_apply wrote padding");
      }
      FZ_CHECK(smooth->unchanged(), "smooth_apply wrote smooth");
      break;
    }
    case 3:    // sq_quantize_weight_per_channel
    case 5: {  // sq_quantize_weight_per_channel_asymmetric
      const sq_api_table* t = sq_get_api();
      if (which == 5 && !SQ_API_TABLE_HAS(t, quantize_weight_per_channel_asymmetric)) return;
      const sq_dtype wdt = floats[r.u8() % 4];
      View v = make_view(r, ar, g, wdt, 1 + r.u8() % 6, 1 + r.u8() % 40, mut, st, false);
      const sq_dtype sdt = mut && (r.u8() & 1) ? pick_enum(r) : floats[r.u8() % 4];
      const sq_dtype qdt = which == 3 ? SQ_DTYPE_S8 : (mut && (r.u8() & 1) ? pick_enum(r) : ((r.u8() & 1) ? SQ_DTYPE_U8 : SQ_DTYPE_S8));
      const uint8_t lq = r.u8();
      int64_t ld_q = mut && (lq & 0x80) ? pick_size(r) : (lq < 128 ? 0 : (v.v.cols > 0 ? v.v.cols : 1) + lq % 3);
      const int64_t rows = v.valid_shape ? v.v.rows : 1, cols = v.valid_shape ? v.v.cols : 1;
      Shape qs{SQ_DTYPE_S8, rows, cols, true};
      uint64_t qb = span_bytes(qs, ld_q);
      if (v.skip || (qb != UINT64_MAX && qb > kMaxAlloc)) return;
      const bool q_ok = qb != UINT64_MAX;
      if (!q_ok) qb = static_cast<uint64_t>(cols);
      Buffer* q = ar.make("q_out", qb);
      const size_t ses = oracle::esize(sdt) ? oracle::esize(sdt) : 8;
      Buffer* sc = ar.make("scale_out", ses * rows, mut && (r.u8() % 5 == 0) ? 1 : 0);
      Buffer* zp = which == 5 ? ar.make("zero_point_out", rows) : nullptr;
      fill_bytes(q, g);
      fill_bytes(sc, g);
      if (zp) fill_bytes(zp, g);
      ar.take();
      const sq_matrix_view* vp = reinterpret_cast<const sq_matrix_view*>(v.sbuf->data);
      sq_status st1;
      if (which == 3) {
        note("quantize_weight_per_channel");
        st1 = sq_quantize_weight_per_channel(vp, reinterpret_cast<int8_t*>(q->data), ld_q, sdt, sc->data);
      } else {
        note("quantize_weight_per_channel_asymmetric");
        st1 = t->quantize_weight_per_channel_asymmetric(vp, qdt, q->data, ld_q, sdt, sc->data, zp->data);
      }
      check_status(st1, "sq_quantize_weight_per_channel*");
      // Non-finite weights and scales that overflow S are INVALID_ARGUMENT (the header).
      bool finite = true;
      if (v.valid_shape && oracle::is_float(v.v.dtype))
        for (int64_t rr = 0; rr < rows; ++rr)
          for (int64_t c = 0; c < cols; ++c) finite = finite && std::isfinite(oracle::load_f(v.dbuf->snapshot.data(), v.v.dtype, rr * v.ld + c));
      if (st1 != SQ_STATUS_SUCCESS) { ar.check_untouched("sq_quantize_weight_per_channel*"); return; }
      ar.check_guards();
      FZ_CHECK(v.valid_shape && q_ok && finite && v.v.data != nullptr, "quantize_weight accepted a bad view / ld_q / non-finite weight");
      const sq_dtype c = v.v.dtype == SQ_DTYPE_F64 ? SQ_DTYPE_F64 : SQ_DTYPE_F32;
      const int64_t ldq = ld_q == 0 ? cols : ld_q;
      std::vector<uint8_t> img = q->snapshot;
      for (int64_t rr = 0; rr < rows; ++rr) {
        std::vector<double> r64;
        std::vector<float> r32;
        for (int64_t cc = 0; cc < cols; ++cc) {
          const double x = oracle::load_f(v.dbuf->snapshot.data(), v.v.dtype, rr * v.ld + cc);
          if (c == SQ_DTYPE_F64) r64.push_back(x); else r32.push_back(static_cast<float>(x));
        }
        const sq_quant_mode mode = which == 3 ? SQ_QUANT_DYNAMIC : SQ_QUANT_DYNAMIC_ASYMMETRIC;
        const oracle::QuantRow qr = c == SQ_DTYPE_F64 ? oracle::quantize_row<double>(r64, mode, qdt, sdt, c, 0, 0, 0)
                                                      : oracle::quantize_row<float>(r32, mode, qdt, sdt, c, 0, 0, 0);
        FZ_CHECK(oracle::matches(qr.scale, sc->data + rr * ses, sdt), "quantize_weight: scale[%" PRId64 "] differs", rr);
        FZ_CHECK(std::isfinite(oracle::load_f(sc->data, sdt, rr)), "quantize_weight accepted an overflowing scale");
        if (zp) FZ_CHECK(oracle::matches(qr.zero_point, zp->data + rr, qdt), "zero_point[%" PRId64 "] differs", rr);
        for (int64_t cc = 0; cc < cols; ++cc) {
          FZ_CHECK(oracle::matches(qr.q[cc], q->data + rr * ldq + cc, qdt), "quantize_weight: q[%" PRId64 ", %" PRId64 "] differs", rr, cc);
          img[rr * ldq + cc] = q->data[rr * ldq + cc];
        }
      }
      FZ_CHECK(std::memcmp(img.data(), q->data, q->size) == 0, "quantize_weight wrote q padding");
      break;
    }
    case 4: {  // sq_static_act_scale
      note("static_act_scale k=%" PRId64, k);
      Buffer* absmax = farr("act_absmax", kk, false);
      Buffer* smooth = (r.u8() & 1) ? farr("smooth", kk, true) : nullptr;
      Buffer* out = ar.make("act_scale_out", 8);
      ar.take();
      const sq_status st1 = sq_static_act_scale(k, reinterpret_cast<const float*>(absmax->data),
                                                smooth ? reinterpret_cast<const float*>(smooth->data) : nullptr,
                                                reinterpret_cast<double*>(out->data));
      check_status(st1, "sq_static_act_scale");
      if (st1 != SQ_STATUS_SUCCESS) { ar.check_untouched("sq_static_act_scale"); return; }
      ar.check_guards();
      FZ_CHECK(k_ok, "static_act_scale accepted k = %" PRId64, k);
      float amax = 0.0f;
      bool open = false;
      for (int64_t i = 0; i < k; ++i) {
        const float a = oracle::load_f32(absmax->snapshot.data(), SQ_DTYPE_F32, i);
        const float v = smooth ? a / oracle::load_f32(smooth->snapshot.data(), SQ_DTYPE_F32, i) : a;
        if (std::isnan(v)) open = true;
        if (v > amax) amax = v;
      }
      const float scale = amax / 127.0f;
      const double want = static_cast<double>(scale);
      double got;
      std::memcpy(&got, out->data, 8);
      if (!open) {
        FZ_CHECK(std::isfinite(scale) && scale > 0.0f, "static_act_scale succeeded with scale %g", want);
        FZ_CHECK(std::memcmp(&want, &got, 8) == 0, "static_act_scale %a, the formula gives %a", got, want);
      }
      break;
    }
    case 6: {  // sq_weight_sums
      const sq_api_table* t = sq_get_api();
      if (!SQ_API_TABLE_HAS(t, weight_sums)) return;
      const sq_dtype wdt = mut && (r.u8() & 1) ? pick_enum(r) : ((r.u8() & 1) ? SQ_DTYPE_U8 : SQ_DTYPE_S8);
      View v = make_view(r, ar, g, wdt, 1 + r.u8() % 6, 1 + r.u8() % 64, mut, st, true);
      if (v.skip) return;
      const int64_t rows = v.valid_shape ? v.v.rows : 1;
      Buffer* sums = ar.make("sums_out", 4 * rows);
      ar.take();
      note("weight_sums");
      const sq_status st1 = t->weight_sums(reinterpret_cast<const sq_matrix_view*>(v.sbuf->data),
                                           reinterpret_cast<int32_t*>(sums->data));
      check_status(st1, "sq_weight_sums");
      if (st1 != SQ_STATUS_SUCCESS) { ar.check_untouched("sq_weight_sums"); return; }
      ar.check_guards();
      FZ_CHECK(v.valid_shape && oracle::is_int8(v.v.dtype), "weight_sums accepted a bad view");
      for (int64_t rr = 0; rr < rows; ++rr) {
        int64_t sum = 0;
        for (int64_t c = 0; c < v.v.cols; ++c) sum += oracle::load_i(v.dbuf->snapshot.data(), v.v.dtype, rr * v.ld + c);
        FZ_CHECK(oracle::load_i(sums->data, SQ_DTYPE_S32, rr) == sum, "weight_sums[%" PRId64 "] differs", rr);
      }
      break;
    }
  }
}

}  // namespace

// The counts so far (replay_main.cpp prints them; libFuzzer builds print them at exit).
extern "C" void sq_fuzz_report(FILE* f) {
  std::fprintf(f, "sq_fuzz: %" PRIu64 " inputs, %" PRIu64 " library calls (%" PRIu64 " failed: ", g_stats.inputs, g_stats.calls,
               g_stats.failed);
  for (int i = 1; i < 16; ++i)
    if (g_stats.by_status[i]) std::fprintf(f, "%s %" PRIu64 " ", sq_status_string(i) + 10, g_stats.by_status[i]);
  std::fprintf(f, "), successful runs by op:");
  for (int i = 1; i < 10; ++i) std::fprintf(f, " %d:%" PRIu64 "/%" PRIu64, i, g_stats.runs_ok[i], g_stats.runs_ok[i] + g_stats.runs_refused[i]);
  std::fprintf(f, " (9 = unknown ops), %" PRIu64 " output elements checked against the oracle\n", g_stats.elements);
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::atexit([] { sq_fuzz_report(stderr); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  g_context.clear();
  ++g_stats.inputs;
  Reader r{data, size};
  const uint8_t scenario = r.u8();
  switch (scenario % 10) {
    case 0: case 1: case 2: case 8: run_plan_scenario(r); break;
    case 3: run_handle_scenario(r); break;
    default: {
      static const int which[] = {0, 0, 0, 0, 0, 1, 2, 3, 4};  // 4..7 -> helpers below
      (void)which;
      const uint8_t h = r.u8();
      run_offline_scenario(r, h % 7);
      break;
    }
  }
  return 0;
}
