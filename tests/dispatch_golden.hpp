// The grid and the text format of the dispatch golden table (tests/data/dispatch_golden.txt): for every
// plan family and device, SM count, N x K, output width, operand alignment (bytes: 16, 8 and 1, each
// where K allows it) and whether out's rows are 16-byte aligned (both for the Hopper family, the one
// whose dispatch reads it; aligned for the portable one), and every M of the grid, the
// linear kernel a run takes and whether it is launched as a programmatic dependent (in the static and in
// the dynamic plan); for every quantizer configuration, its row splits and programmatic flag. Consecutive
// M with the same answer are written as one range, so that a line is the whole M axis of one shape.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace golden {

// What a linear's dispatch may see. family: "sm90" or "sm80" (the plan's kernel family).
struct LinearFacts {
  const char* family;
  int32_t sm;
  int32_t num_sms;
  int64_t n, k;
  int32_t out_bytes;
  int32_t operand_align;  // LinearShape::operand_align
  bool out_aligned;       // LinearShape::out_aligned
};

// What it answers for one M: the variant's name and the programmatic flags its launch gets in the static
// plan (after whatever precedes it) and in the dynamic plan (after the quantizer); a flag counts only where
// the variant honours it.
struct LinearChoice {
  std::string variant;
  bool static_programmatic;
  bool dynamic_programmatic;
  bool operator==(const LinearChoice& o) const {
    return variant == o.variant && static_programmatic == o.static_programmatic &&
           dynamic_programmatic == o.dynamic_programmatic;
  }
};

struct QuantizerFacts {
  int32_t sm;
  int32_t num_sms;
  int64_t k;
  int32_t act_bytes;
  bool dynamic;
};

struct QuantizerChoice {
  int32_t row_splits;
  bool programmatic;
  bool operator==(const QuantizerChoice& o) const {
    return row_splits == o.row_splits && programmatic == o.programmatic;
  }
};

// M = 1..300, then larger powers and odd sizes up to 16384.
inline std::vector<int64_t> grid_ms() {
  std::vector<int64_t> ms;
  for (int64_t m = 1; m <= 300; ++m) ms.push_back(m);
  for (int64_t m : {384, 512, 1000, 1024, 2048, 4096, 8192, 16384}) ms.push_back(m);
  return ms;
}

// Every N x K of the benchmark's shape set (bench/shapes.csv when the table was made), then odd and
// unaligned N and K crossed, then tensor-parallel shards with K % 16 == 8 (issue 22).
inline std::vector<std::pair<int64_t, int64_t>> grid_nks() {
  std::vector<std::pair<int64_t, int64_t>> nks = {{6144, 4096},  {4096, 4096},  {28672, 4096},
                                                  {4096, 14336}, {10240, 8192}, {8192, 8192},
                                                  {57344, 8192}, {8192, 28672}, {16384, 16384}};
  for (int64_t n : {1, 7, 100, 1000, 4096, 6144, 10240, 13653, 28672, 57344})
    for (int64_t k : {16, 64, 100, 1024, 2048, 4096, 4097, 8192, 14336, 28672}) nks.push_back({n, k});
  for (const auto& nk : std::vector<std::pair<int64_t, int64_t>>{{2048, 1368}, {4096, 3592}}) nks.push_back(nk);
  return nks;
}

inline std::vector<int64_t> grid_quantizer_ks() {
  return {16, 64, 100, 1024, 2048, 4096, 4097, 8192, 14336, 16384, 28672};
}

inline std::vector<int32_t> grid_sms() { return {132, 114, 108, 78}; }

inline void write_choice(std::ostream& os, const LinearChoice& c) {
  os << c.variant << " s" << c.static_programmatic << " d" << c.dynamic_programmatic;
}
inline void write_choice(std::ostream& os, const QuantizerChoice& c) {
  os << "splits" << c.row_splits << " p" << c.programmatic;
}

// "lo-hi choice; lo-hi choice; ..." over the grid's M (hi: the last M of the grid with that choice).
template <typename Choice, typename Fn>
void write_ranges(std::ostream& os, Fn choose) {
  const std::vector<int64_t> ms = grid_ms();
  size_t i = 0;
  while (i < ms.size()) {
    const Choice c = choose(ms[i]);
    size_t j = i;
    while (j + 1 < ms.size() && choose(ms[j + 1]) == c) ++j;
    os << (i == 0 ? " | " : "; ") << ms[i] << "-" << ms[j] << " ";
    write_choice(os, c);
    i = j + 1;
  }
  os << "\n";
}

// The whole table. linear(facts, m) -> LinearChoice, quantizer(facts, m) -> QuantizerChoice.
template <typename LinearFn, typename QuantizerFn>
void write_table(std::ostream& os, LinearFn linear, QuantizerFn quantizer) {
  os << "# Dispatch golden table: every line one shape, its M axis as ranges of equal answers.\n"
        "# L family sm sms n k out_bytes operand_align out_aligned | m_lo-m_hi variant s<static programmatic> "
        "d<dynamic programmatic>; ...\n"
        "# Q sm sms k act_bytes static|dynamic | m_lo-m_hi splits<row splits> p<programmatic>; ...\n";
  struct Device {
    const char* family;
    int32_t sm;
  };
  for (const Device dev : {Device{"sm90", 90}, Device{"sm80", 90}, Device{"sm80", 80}}) {
    for (int32_t sms : grid_sms()) {
      for (const auto& nk : grid_nks()) {
        for (int32_t out_bytes : {2, 4, 8}) {
          // Every operand alignment a run of this K can have (validate.cpp: K is a multiple of it).
          for (int32_t align : {16, 8, 1}) {
            if (nk.second % align != 0) continue;
            for (bool out_aligned : {true, false}) {
              if (!out_aligned && std::string(dev.family) != "sm90") continue;
              const LinearFacts f{dev.family, dev.sm, sms, nk.first, nk.second, out_bytes, align, out_aligned};
              os << "L " << f.family << " " << f.sm << " " << f.num_sms << " " << f.n << " " << f.k << " "
                 << f.out_bytes << " " << f.operand_align << " " << f.out_aligned;
              write_ranges<LinearChoice>(os, [&](int64_t m) { return linear(f, m); });
            }
          }
        }
      }
    }
  }
  for (int32_t sm : {90, 80}) {
    for (int32_t sms : grid_sms()) {
      for (int64_t k : grid_quantizer_ks()) {
        for (int32_t act_bytes : {2, 4, 8}) {
          for (bool dynamic : {false, true}) {
            const QuantizerFacts f{sm, sms, k, act_bytes, dynamic};
            os << "Q " << f.sm << " " << f.num_sms << " " << f.k << " " << f.act_bytes << " "
               << (f.dynamic ? "dynamic" : "static");
            write_ranges<QuantizerChoice>(os, [&](int64_t m) { return quantizer(f, m); });
          }
        }
      }
    }
  }
}

}  // namespace golden
