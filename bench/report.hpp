// The benchmark's results and their report: one row per shape and output dtype, one cell per timed
// method, written as JSON (bench/README.md lists the fields) and as the compact table sq_bench prints
// last. Host-only C++ (no CUDA), so the writer is tested without a GPU (bench/report_test.cpp).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace sqbench {

// One method's timing (Timer::measure; NaN where it did not run).
struct Timing {
  double iso_us = NAN;  // median of isolated runs
  double b2b_us = NAN;  // median over batches of (time of R back-to-back runs) / R
};

// A method's sustained back-to-back runs (measure_energy; NaN where not measured).
struct Energy {
  double us = NAN;  // GPU time per run
  double mj = NAN;  // energy per run, millijoules
};

// A result column: one timed method. Its JSON fields on every row are <key>_us and <key>_b2b_us, with
// energy also <key>_sustained_us and <key>_mj, then its extra fields (null where the row has no value).
struct Column {
  std::string key;                  // JSON prefix, e.g. "sq", "cublaslt_int32"
  bool energy = false;              // measured sustained with --energy
  std::vector<std::string> extras;  // its own JSON fields, in order (e.g. "kernel")
};

// What one method measured on one row.
struct Cell {
  Timing t;
  Energy e;
  std::vector<std::pair<std::string, std::string>> extra;  // field -> JSON literal ("null", "3", "\"x\"")
  // The literal of extra field `name`, or "null".
  const std::string& get(const std::string& name) const;
  void set(const std::string& name, std::string literal);
};

struct Row {
  std::string set = "main";  // the shape set: "main" (bench/shapes.csv) or "heldout"
  std::string tag;
  int64_t m = 0, n = 0, k = 0;
  std::string out;           // output dtype T: "f32", "bf16" or "f64"
  double floor_us = NAN;     // act + weight + scales + output bytes at the copy bandwidth
  double f64_vs_f32 = NAN;   // f64 rows: f32 sq_us / f64 sq_us of the same shape
  Timing sq_peer;            // the peer row: the library timed again, interleaved with the peers
  int copies = 0;            // rotated buffer sets
  std::string check = "ok";
  std::vector<Cell> cells;   // one per Column, same order
};

// The run's facts (the JSON's top-level fields).
struct RunInfo {
  std::string device;
  int sm = 0, num_sms = 0;
  size_t l2_bytes = 0;
  std::string library_version;
  double copy_tbps = NAN, host_run_us = NAN, host_launch_us = NAN;
  Timing empty;  // the empty kernel, timed as every method is
  std::string host_run_shape;
  bool quick = false;
  double power_limit_w = NAN;
  double energy_window_ms = NAN;  // --energy: GPU time per method and round, and the rounds
  int energy_rounds = 0;
  std::string timing;  // how the timings were taken (the JSON's "timing" text)
  // Further top-level fields, in order, as JSON literals (the shape sets, library versions, ...).
  std::vector<std::pair<std::string, std::string>> extra;
  int failures = 0;
};

// The results: the columns (methods) and the rows, in measurement order.
struct Results {
  RunInfo info;
  std::vector<Column> columns;
  std::vector<Row> rows;
  // The column index of `key`, or -1.
  int column(const std::string& key) const;
  // Row r's timing / energy of method `key` (NaN when the method is not a column or did not run).
  Timing timing(const Row& r, const std::string& key) const;
  // What the peers' times are divided by on row r: the library's time from the peers' own group where the
  // row has it (the peer row), else the row's (sq_b2b_us), back to back.
  double peer_base_b2b(const Row& r) const;
  Energy energy(const Row& r, const std::string& key) const;
};

// JSON helpers.
std::string json_num(double v, int prec = 3);  // "null" when not finite
std::string json_str(const std::string& s);

// The whole results as JSON text, and written to `path` (parent folders created).
std::string to_json(const Results& res);
void write_json(const std::string& path, const Results& res);

// The compact table of the rows of one shape set and its summary lines (`title` heads it).
void print_compact(FILE* f, const Results& res, const std::string& set, const std::string& title);
// --energy rows: sustained time and energy per run of each method with energy, and ratios to sq.
void print_energy(FILE* f, const Results& res);

// Names of the method keys the compact table and summaries read (bench/README.md: "Methods").
namespace keys {
inline const char* const kSq = "sq";
inline const char* const kLtInt32 = "cublaslt_int32";
inline const char* const kLtScaled = "cublaslt_scaled";
inline const char* const kDynamic = "sq_dynamic";
inline const char* const kRead = "read";
inline const char* const kReadDep = "read_dep";
inline const char* const kFp8Fast = "cublaslt_fp8_fast";
inline const char* const kFp8 = "cublaslt_fp8";
inline const char* const kBf16 = "cublaslt_bf16";
}  // namespace keys

}  // namespace sqbench
