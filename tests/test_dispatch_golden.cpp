// The dispatch golden table (tests/data/dispatch_golden.txt): what the dispatch answers today for every
// shape of the grid in tests/dispatch_golden.hpp, held against the committed table. A change of any
// choice fails here, with the first line that differs; a change that a measurement justifies rewrites the
// table: SQ_WRITE_GOLDEN=tests/data/dispatch_golden.txt build/tests/sq_dispatch_tests "[golden]".
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "dispatch_golden.hpp"
#include "families.hpp"

namespace {

// As src/gpu.cpp quantize_row_splits and quantizer_params (local there).
constexpr int32_t kQuantizeSm90Image = 90;
constexpr int64_t kQuantizeMaxRowSplits = 8;
constexpr int64_t kQuantizeShareBytes = 8192;

int32_t quantize_row_splits(const golden::QuantizerFacts& f, int64_t m) {
  if (!f.dynamic || f.sm != kQuantizeSm90Image) return 1;
  const int64_t row_bytes = f.k * static_cast<int64_t>(f.act_bytes);
  int64_t splits = std::min(kQuantizeMaxRowSplits, (row_bytes + kQuantizeShareBytes - 1) / kQuantizeShareBytes);
  while (splits > 1 && m * splits > f.num_sms) --splits;
  return static_cast<int32_t>(std::max<int64_t>(splits, 1));
}

std::string table() {
  std::ostringstream os;
  golden::write_table(
      os,
      [](const golden::LinearFacts& f, int64_t m) {
        const sq::LinearShape s{m, f.n, f.k, f.num_sms, f.sm, f.aligned16, f.out_bytes};
        const sq::kernels::KernelVariant& v =
            std::strcmp(f.family, "sm90") == 0 ? sq::sm90_choose(s) : sq::sm80_choose(s);
        // The portable kernels ignore LinearParams::programmatic (their launch never sets the attribute).
        const bool honours = std::strncmp(v.name, "sm80_", 5) != 0;
        return golden::LinearChoice{v.name, sq::linear_overlap_previous(s) && honours,
                                    sq::decode_overlap_quantizer(s) && honours};
      },
      [](const golden::QuantizerFacts& f, int64_t m) {
        return golden::QuantizerChoice{quantize_row_splits(f, m), f.dynamic && f.sm == kQuantizeSm90Image};
      });
  return os.str();
}

}  // namespace

TEST_CASE("the dispatch answers as the golden table on every shape of the grid", "[golden]") {
  const std::string got = table();
  if (const char* out = std::getenv("SQ_WRITE_GOLDEN")) {
    std::ofstream(out) << got;
    WARN("wrote the golden table to " << out);
    return;
  }
  std::ifstream file(SQ_DISPATCH_GOLDEN);
  REQUIRE(file.good());
  std::stringstream want;
  want << file.rdbuf();
  std::istringstream g(got), w(want.str());
  std::string gl, wl;
  int line = 0;
  while (true) {
    const bool more_g = static_cast<bool>(std::getline(g, gl));
    const bool more_w = static_cast<bool>(std::getline(w, wl));
    ++line;
    if (!more_g && !more_w) break;
    CAPTURE(line, wl, gl);
    REQUIRE(more_g == more_w);
    REQUIRE(gl == wl);
  }
}
