// The benchmark's report writer (report.hpp): JSON and the compact table. Host-only.
#include "report.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sqbench {
namespace {

constexpr double kF64TargetRatio = 0.8;     // f64 throughput target, relative to f32
constexpr int kDecodeMaxM = 16;             // decode rows of the back-to-back summary
constexpr int kReadSummaryMaxM = 64;        // rows of the summary against the plain read
constexpr double kDecodeFloorTarget = 0.6;  // issue 4: M <= 16 at >= 60% of the floor
constexpr double kSmallMFloorRatio = 1.11;  // issue 5: M <= 64 within 1.11x of the floor
constexpr int kBatchedMinM = 17;            // issue 22: batched decode, 17 <= M <= 64
constexpr int kBatchedMaxM = 64;
constexpr int kLargeMinM = 1024;            // issue 22: M >= 1024
constexpr double kLargeLtTarget = 1.05;     // issue 22: >= 1.05x cuBLASLt int32 at M >= 1024

const std::string kNull = "null";

// A table cell: the value, or "-" where there is none (NaN).
std::string cell(double v, int width, int prec) {
  char b[64];
  if (std::isfinite(v)) std::snprintf(b, sizeof b, "%*.*f", width, prec, v);
  else std::snprintf(b, sizeof b, "%*s", width, "-");
  return b;
}

double tops_of(const Row& r, double us) { return 2.0 * double(r.m) * double(r.n) * double(r.k) / (us * 1e6); }

// Statistics of a ratio over rows: range, geometric mean, and the row with the lowest value.
struct RatioStats {
  int count = 0, below = 0;  // rows with a value; rows under the threshold
  double lo = INFINITY, hi = -INFINITY, log_sum = 0.0;
  const Row* worst = nullptr;
  void add(const Row& r, double v, double threshold) {
    if (!std::isfinite(v) || v <= 0) return;
    ++count;
    below += v < threshold;
    log_sum += std::log(v);
    hi = std::max(hi, v);
    if (v < lo) {
      lo = v;
      worst = &r;
    }
  }
  double geomean() const { return count ? std::exp(log_sum / count) : NAN; }
};

}  // namespace

const std::string& Cell::get(const std::string& name) const {
  for (const auto& [k, v] : extra)
    if (k == name) return v;
  return kNull;
}

void Cell::set(const std::string& name, std::string literal) {
  for (auto& [k, v] : extra)
    if (k == name) {
      v = std::move(literal);
      return;
    }
  extra.emplace_back(name, std::move(literal));
}

int Results::column(const std::string& key) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i].key == key) return static_cast<int>(i);
  return -1;
}

Timing Results::timing(const Row& r, const std::string& key) const {
  const int c = column(key);
  return c >= 0 && size_t(c) < r.cells.size() ? r.cells[c].t : Timing{};
}

double Results::peer_base_b2b(const Row& r) const {
  return std::isfinite(r.sq_peer.b2b_us) ? r.sq_peer.b2b_us : timing(r, keys::kSq).b2b_us;
}

Energy Results::energy(const Row& r, const std::string& key) const {
  const int c = column(key);
  return c >= 0 && size_t(c) < r.cells.size() ? r.cells[c].e : Energy{};
}

std::string json_num(double v, int prec) {
  if (!std::isfinite(v)) return "null";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

std::string json_str(const std::string& s) {
  std::string r = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') r += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    r += c;
  }
  return r + "\"";
}

std::string to_json(const Results& res) {
  const RunInfo& in = res.info;
  std::ostringstream j;
  j << "{\n  \"device\": " << json_str(in.device) << ",\n"
    << "  \"sm\": " << in.sm << ",\n"
    << "  \"num_sms\": " << in.num_sms << ",\n"
    << "  \"l2_bytes\": " << in.l2_bytes << ",\n"
    << "  \"library_version\": " << json_str(in.library_version) << ",\n"
    << "  \"copy_tbps\": " << json_num(in.copy_tbps, 4) << ",\n"
    << "  \"host_run_us\": " << json_num(in.host_run_us, 3) << ",\n"
    << "  \"host_launch_us\": " << json_num(in.host_launch_us, 3) << ",\n"
    << "  \"empty_kernel_us\": " << json_num(in.empty.iso_us, 3) << ",\n"
    << "  \"empty_kernel_b2b_us\": " << json_num(in.empty.b2b_us, 3) << ",\n"
    << "  \"host_run_shape\": " << json_str(in.host_run_shape) << ",\n"
    << "  \"quick\": " << (in.quick ? "true" : "false") << ",\n"
    << "  \"power_limit_w\": " << json_num(in.power_limit_w, 1) << ",\n"
    << "  \"timing\": " << json_str(in.timing) << ",\n";
  for (const auto& [k, v] : in.extra) j << "  " << json_str(k) << ": " << v << ",\n";
  j << "  \"failures\": " << in.failures << ",\n"
    << "  \"rows\": [";
  const int sq = res.column(keys::kSq);
  for (size_t i = 0; i < res.rows.size(); ++i) {
    const Row& r = res.rows[i];
    j << (i ? ",\n" : "\n") << "    {\"tag\": " << json_str(r.tag) << ", \"m\": " << r.m << ", \"n\": " << r.n
      << ", \"k\": " << r.k << ", \"out_dtype\": " << json_str(r.out) << ", \"set\": " << json_str(r.set);
    for (size_t c = 0; c < res.columns.size(); ++c) {
      const Column& col = res.columns[c];
      const Cell empty;
      const Cell& ce = c < r.cells.size() ? r.cells[c] : empty;
      j << ", \"" << col.key << "_us\": " << json_num(ce.t.iso_us) << ", \"" << col.key
        << "_b2b_us\": " << json_num(ce.t.b2b_us);
      if (col.energy)
        j << ", \"" << col.key << "_sustained_us\": " << json_num(ce.e.us) << ", \"" << col.key
          << "_mj\": " << json_num(ce.e.mj, 1);
      if (int(c) == sq) j << ", \"sq_tops\": " << json_num(tops_of(r, ce.t.iso_us), 2);
    }
    j << ", \"sq_peer_us\": " << json_num(r.sq_peer.iso_us) << ", \"sq_peer_b2b_us\": " << json_num(r.sq_peer.b2b_us);
    j << ", \"floor_us\": " << json_num(r.floor_us) << ", \"f64_vs_f32\": " << json_num(r.f64_vs_f32, 3);
    for (size_t c = 0; c < res.columns.size(); ++c)
      for (const std::string& x : res.columns[c].extras)
        j << ", " << json_str(x) << ": " << (c < r.cells.size() ? r.cells[c].get(x) : kNull);
    j << ", \"copies\": " << r.copies << ", \"check\": " << json_str(r.check) << "}";
  }
  j << "\n  ]\n}\n";
  return j.str();
}

void write_json(const std::string& path, const Results& res) {
  const std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) throw std::runtime_error("cannot create directory '" + p.parent_path().string() + "': " + ec.message());
  }
  // Written beside, then renamed: a run stopped mid-write (device-run.sh's deadline) leaves the last whole file.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) throw std::runtime_error("cannot write '" + tmp + "'");
    f << to_json(res);
    if (!f.flush()) throw std::runtime_error("cannot write '" + tmp + "'");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw std::runtime_error("cannot rename '" + tmp + "' to '" + path + "': " + ec.message());
}

void print_compact(FILE* f, const Results& res, const std::string& set, const std::string& title) {
  using namespace keys;
  const RunInfo& in = res.info;
  std::vector<const Row*> rows;
  for (const Row& r : res.rows)
    if (r.set == set) rows.push_back(&r);
  if (rows.empty()) return;
  const bool peers = res.column(kFp8Fast) >= 0 || res.column(kFp8) >= 0 || res.column(kBf16) >= 0;
  std::fprintf(f, "=== %s (us; TOPS of sq; %%floor = floor_us/sq_us at %.2f TB/s; xLt = cuBLASLt "
               "time / sq time; f64/f32 = f32 sq_us / f64 sq_us, target >= %.2f; *_b2b: the same "
               "from back-to-back runs, b2b_us = sq_b2b_us; xRead = read_us / sq_us, the plain read "
               "of act + weight against sq%s) ===\n",
               title.c_str(), in.copy_tbps, kF64TargetRatio,
               peers ? "; xF8f_b2b / xF8_b2b / xBf_b2b = the peer's back-to-back time / the library's: cuBLASLt "
                       "fp8 e4m3 per-token x per-channel scales with fast accumulation / without, bf16 dense, all "
                       "bf16 out, timed once per shape with the library on bf16 (sq_peer_b2b_us, the base on the "
                       "bf16 row; other rows divide by their own sq_b2b_us)" : "");
  std::fprintf(f, "%-18s %6s %6s %6s %-4s %9s %7s %6s %7s %7s %6s %9s %7s %9s %8s %9s %7s%s %s\n", "tag", "m",
               "n", "k", "out", "sq_us", "TOPS", "%floor", "xLt32", "xLt+s", "xRead", "b2b_us", "%fl_b2b",
               "xLt+s_b2b", "xRd_b2b", "dyn_us", "f64/f32", peers ? " xF8f_b2b  xF8_b2b  xBf_b2b" : "", "check");
  const Row* worst = nullptr;  // the f64 row with the lowest f64/f32
  int f64_rows = 0, f64_below = 0;
  const Row* worst_decode = nullptr;  // the M <= kDecodeMaxM row with the lowest b2b %floor
  double worst_decode_fl = INFINITY;
  int lt_rows = 0, slower_iso = 0, slower_b2b = 0;  // rows where sq is slower than cuBLASLt+scale
  // M <= kReadSummaryMaxM: the range of read_us / sq_us (isolated, back to back)
  double rd_lo = INFINITY, rd_hi = -INFINITY, rd_b2b_lo = INFINITY, rd_b2b_hi = -INFINITY;
  // M <= kDecodeMaxM rows under kDecodeFloorTarget of the floor isolated, and of those the rows
  // where the plain read is under it too
  int decode_rows = 0, decode_below = 0, decode_read_below = 0;
  // M <= kReadSummaryMaxM, back to back: rows over kSmallMFloorRatio x the floor, and of those the rows
  // where the dependent read is over it too; the range of sq_b2b_us / read_dep_b2b_us
  int small_rows = 0, small_over = 0, small_dep_over = 0;
  double dep_lo = INFINITY, dep_hi = -INFINITY;
  // issue 22, back to back: peer / sq at M >= kLargeMinM, and the batched-decode rows slower than a peer
  RatioStats large_fp8f, large_fp8, large_bf16, large_lt32, all_fp8f, all_fp8, all_bf16;
  int batched_rows = 0, batched_slower = 0;
  for (const Row* rp : rows) {
    const Row& r = *rp;
    const Timing sq = res.timing(r, kSq), lt32 = res.timing(r, kLtInt32), lts = res.timing(r, kLtScaled);
    const Timing rd = res.timing(r, kRead), rdep = res.timing(r, kReadDep), dyn = res.timing(r, kDynamic);
    const Timing f8f = res.timing(r, kFp8Fast), f8 = res.timing(r, kFp8), bf = res.timing(r, kBf16);
    const double base = res.peer_base_b2b(r);
    std::string peer_cells;
    if (peers)
      peer_cells = " " + cell(f8f.b2b_us / base, 8, 2) + " " + cell(f8.b2b_us / base, 8, 2) + " " +
                   cell(bf.b2b_us / base, 8, 2);
    std::fprintf(f, "%-18s %6lld %6lld %6lld %-4s %s %s %s %s %s %s %s %s %s %s %s %s%s %s\n", r.tag.c_str(),
                 (long long)r.m, (long long)r.n, (long long)r.k, r.out.c_str(), cell(sq.iso_us, 9, 2).c_str(),
                 cell(tops_of(r, sq.iso_us), 7, 1).c_str(), cell(100.0 * r.floor_us / sq.iso_us, 6, 1).c_str(),
                 cell(lt32.iso_us / sq.iso_us, 7, 2).c_str(), cell(lts.iso_us / sq.iso_us, 7, 2).c_str(),
                 cell(rd.iso_us / sq.iso_us, 6, 2).c_str(), cell(sq.b2b_us, 9, 2).c_str(),
                 cell(100.0 * r.floor_us / sq.b2b_us, 7, 1).c_str(), cell(lts.b2b_us / sq.b2b_us, 9, 2).c_str(),
                 cell(rd.b2b_us / sq.b2b_us, 8, 2).c_str(), cell(dyn.iso_us, 9, 2).c_str(),
                 cell(r.f64_vs_f32, 7, 2).c_str(), peer_cells.c_str(), r.check.c_str());
    if (std::isfinite(r.f64_vs_f32)) {
      ++f64_rows;
      f64_below += r.f64_vs_f32 < kF64TargetRatio;
      if (!worst || r.f64_vs_f32 < worst->f64_vs_f32) worst = &r;
    }
    const double fl_b2b = r.floor_us / sq.b2b_us;
    if (r.m <= kDecodeMaxM && std::isfinite(fl_b2b) && (!worst_decode || fl_b2b < worst_decode_fl)) {
      worst_decode = &r;
      worst_decode_fl = fl_b2b;
    }
    if (r.m <= kReadSummaryMaxM && std::isfinite(rd.iso_us)) {
      rd_lo = std::min(rd_lo, rd.iso_us / sq.iso_us);
      rd_hi = std::max(rd_hi, rd.iso_us / sq.iso_us);
      rd_b2b_lo = std::min(rd_b2b_lo, rd.b2b_us / sq.b2b_us);
      rd_b2b_hi = std::max(rd_b2b_hi, rd.b2b_us / sq.b2b_us);
    }
    if (r.m <= kReadSummaryMaxM && std::isfinite(rdep.b2b_us) && std::isfinite(sq.b2b_us)) {
      ++small_rows;
      if (sq.b2b_us > kSmallMFloorRatio * r.floor_us) {
        ++small_over;
        small_dep_over += rdep.b2b_us > kSmallMFloorRatio * r.floor_us;
      }
      dep_lo = std::min(dep_lo, sq.b2b_us / rdep.b2b_us);
      dep_hi = std::max(dep_hi, sq.b2b_us / rdep.b2b_us);
    }
    if (r.m <= kDecodeMaxM && std::isfinite(r.floor_us / sq.iso_us)) {
      ++decode_rows;
      if (r.floor_us / sq.iso_us < kDecodeFloorTarget) {
        ++decode_below;
        decode_read_below += r.floor_us / rd.iso_us < kDecodeFloorTarget;
      }
    }
    if (std::isfinite(lts.iso_us)) {
      ++lt_rows;
      slower_iso += sq.iso_us > lts.iso_us;
      slower_b2b += sq.b2b_us > lts.b2b_us;
    }
    if (r.out == "bf16" || r.out == "f32") {  // issue 22's targets: bf16 and f32 out
      all_fp8f.add(r, f8f.b2b_us / base, 1.0);
      all_fp8.add(r, f8.b2b_us / base, 1.0);
      all_bf16.add(r, bf.b2b_us / base, 1.0);
      if (r.m >= kLargeMinM) {
        large_fp8f.add(r, f8f.b2b_us / base, 1.0);
        large_fp8.add(r, f8.b2b_us / base, 1.0);
        large_bf16.add(r, bf.b2b_us / base, 1.0);
        large_lt32.add(r, lt32.b2b_us / sq.b2b_us, kLargeLtTarget);
      }
      if (r.m >= kBatchedMinM && r.m <= kBatchedMaxM &&
          (std::isfinite(lt32.b2b_us) || std::isfinite(f8f.b2b_us) || std::isfinite(f8.b2b_us))) {
        ++batched_rows;
        batched_slower += sq.b2b_us > lt32.b2b_us || base > f8f.b2b_us || base > f8.b2b_us;
      }
    }
  }
  if (worst)
    std::fprintf(f, "f64/f32 throughput: lowest %.2f (%s m=%lld), %d of %d shapes below %.2f\n",
                 worst->f64_vs_f32, worst->tag.c_str(), (long long)worst->m, f64_below, f64_rows, kF64TargetRatio);
  if (worst_decode)
    std::fprintf(f, "back-to-back: M<=%d lowest %%floor %.1f (%s m=%lld %s), ", kDecodeMaxM, 100.0 * worst_decode_fl,
                 worst_decode->tag.c_str(), (long long)worst_decode->m, worst_decode->out.c_str());
  else
    std::fprintf(f, "back-to-back: M<=%d lowest %%floor - (no such rows), ", kDecodeMaxM);
  std::fprintf(f, "shapes slower than cuBLASLt+scale: %d (isolated) / %d (b2b) of %d rows\n", slower_iso, slower_b2b,
               lt_rows);
  if (std::isfinite(rd_lo))
    std::fprintf(f, "plain read / sq at M<=%d: %.2f-%.2f isolated, %.2f-%.2f b2b (1 = as fast as reading act + "
                 "weight)\n", kReadSummaryMaxM, rd_lo, rd_hi, rd_b2b_lo, rd_b2b_hi);
  if (small_rows > 0)
    std::fprintf(f, "back-to-back: M<=%d rows over %.2fx the floor: %d of %d (the dependent read itself is over it on "
                 "%d of them); sq / dependent read %.2f-%.2f\n", kReadSummaryMaxM, kSmallMFloorRatio, small_over,
                 small_rows, small_dep_over, dep_lo, dep_hi);
  if (decode_rows > 0)
    std::fprintf(f, "isolated: M<=%d rows under %.0f%% of the floor: %d of %d (the plain read itself is under it on "
                 "%d of them)\n", kDecodeMaxM, 100.0 * kDecodeFloorTarget, decode_below, decode_rows,
                 decode_read_below);
  auto peer_line = [&](const char* name, const RatioStats& all, const RatioStats& large, double threshold) {
    if (all.count == 0 && large.count == 0) return;
    std::fprintf(f, "peer %-22s / sq, b2b, bf16+f32 rows: %.2f-%.2f over %d rows", name, all.lo, all.hi, all.count);
    if (large.count)
      std::fprintf(f, "; M>=%d: lowest %.2f (%s m=%lld %s), geomean %.3f, %d of %d rows under %.2f", kLargeMinM,
                   large.lo, large.worst->tag.c_str(), (long long)large.worst->m, large.worst->out.c_str(),
                   large.geomean(), large.below, large.count, threshold);
    std::fprintf(f, "\n");
  };
  RatioStats lt32_all;  // the int32 line reports only M >= kLargeMinM
  for (const Row* rp : rows)
    if (rp->out == "bf16" || rp->out == "f32")
      lt32_all.add(*rp, res.timing(*rp, kLtInt32).b2b_us / res.timing(*rp, kSq).b2b_us, kLargeLtTarget);
  if (peers) {
    peer_line("cuBLASLt int32 (raw)", lt32_all, large_lt32, kLargeLtTarget);
    peer_line("fp8 rowwise fast-accum", all_fp8f, large_fp8f, 1.0);
    peer_line("fp8 rowwise", all_fp8, large_fp8, 1.0);
    peer_line("bf16 dense", all_bf16, large_bf16, 1.0);
    std::fprintf(f, "batched decode (%d<=M<=%d, bf16+f32 rows): %d of %d rows slower than cuBLASLt int32 or an fp8 "
                 "rowwise peer, back to back\n", kBatchedMinM, kBatchedMaxM, batched_slower, batched_rows);
  }
}

void print_energy(FILE* f, const Results& res) {
  std::vector<int> cols;
  for (size_t c = 0; c < res.columns.size(); ++c)
    if (res.columns[c].energy) cols.push_back(static_cast<int>(c));
  const int sq = res.column(keys::kSq);
  bool any = false;
  for (const Row& r : res.rows)
    for (int c : cols) any = any || (size_t(c) < r.cells.size() && std::isfinite(r.cells[c].e.mj));
  if (!any || sq < 0) return;
  std::fprintf(f, "=== energy (--energy: sustained back-to-back runs, about %.0f ms per method x %d rounds; us and mJ "
               "per run, W = mJ / us; power limit %.0f W; x = method / sq) ===\n", res.info.energy_window_ms,
               res.info.energy_rounds, res.info.power_limit_w);
  std::fprintf(f, "%-18s %6s %6s %6s %-4s %-22s %9s %8s %5s %6s %6s\n", "tag", "m", "n", "k", "out", "method", "us",
               "mJ", "W", "x_us", "x_mJ");
  for (const Row& r : res.rows) {
    if (size_t(sq) >= r.cells.size() || !std::isfinite(r.cells[sq].e.mj)) continue;
    const Energy s = r.cells[sq].e;
    for (int c : cols) {
      const Energy e = size_t(c) < r.cells.size() ? r.cells[c].e : Energy{};
      if (!std::isfinite(e.mj)) continue;
      std::fprintf(f, "%-18s %6lld %6lld %6lld %-4s %-22s %s %s %s %s %s\n", r.tag.c_str(), (long long)r.m,
                   (long long)r.n, (long long)r.k, r.out.c_str(), res.columns[c].key.c_str(), cell(e.us, 9, 1).c_str(),
                   cell(e.mj, 8, 1).c_str(), cell(1000.0 * e.mj / e.us, 5, 0).c_str(), cell(e.us / s.us, 6, 3).c_str(),
                   cell(e.mj / s.mj, 6, 3).c_str());
    }
  }
}

}  // namespace sqbench
