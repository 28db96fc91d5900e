// The dispatch golden table (tests/data/dispatch_golden.txt): what the dispatch answers today for every
// shape of the grid in tests/dispatch_golden.hpp, held against the committed table. A change of any
// choice fails here, with the first line that differs; a change that a measurement justifies rewrites the
// table: SQ_WRITE_GOLDEN=tests/data/dispatch_golden.txt build/tests/sq_dispatch_tests "[golden]".
#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "dispatch_golden.hpp"
#include "dispatch/launch_plan.hpp"

namespace {

// The launch plan of one op for the facts of a golden line (zero_points: a plan with weight zero points
// whose run needs the row-sums pre-pass).
sq::LaunchPlan launch(sq::Op op, const golden::LinearFacts& f, int64_t m, bool zero_points = false) {
  const sq::GpuFamily family = std::strcmp(f.family, "sm90") == 0 ? sq::GpuFamily::kHopper : sq::GpuFamily::kPortable;
  const sq::PlanFacts facts{op, family, sq::device_facts(f.sm, f.num_sms), f.n, f.k, f.out_bytes, 2,
                            sq::QuantFact::kOpDefault, zero_points};
  return sq::plan_launch(facts, sq::RunFacts{m, f.operand_align, f.out_aligned, zero_points});
}

std::string table() {
  std::ostringstream os;
  golden::write_table(
      os,
      [](const golden::LinearFacts& f, int64_t m) {
        const sq::LaunchPlan static_plan = launch(sq::Op::kStaticLinear, f, m);
        const sq::LaunchPlan dynamic_plan = launch(sq::Op::kDynamicLinear, f, m);
        if (static_plan.linear.variant != dynamic_plan.linear.variant) FAIL("the static and dynamic plans differ");
        // The 0.2 linears take the same kernel with the same flags as the static plan (SCALED_LINEAR; any
        // plan with weight zero points whose run needs no pre-pass); after the pre-pass, the same kernel.
        const sq::LaunchPlan scaled = launch(sq::Op::kScaledLinear, f, m);
        if (scaled.linear.variant != static_plan.linear.variant ||
            scaled.linear.programmatic != static_plan.linear.programmatic)
          FAIL("SCALED_LINEAR's launch differs from SMOOTHQUANT_LINEAR's");
        const sq::LaunchPlan pre = launch(sq::Op::kStaticLinear, f, m, true);
        if (pre.linear.variant != static_plan.linear.variant) FAIL("the pre-pass changed the linear's kernel");
        return golden::LinearChoice{static_plan.linear.variant->name, static_plan.linear.programmatic,
                                    dynamic_plan.linear.programmatic};
      },
      [](const golden::QuantizerFacts& f, int64_t m) {
        const sq::PlanFacts facts{f.dynamic ? sq::Op::kDynamicQuantize : sq::Op::kStaticQuantize,
                                  sq::GpuFamily::kHopper,
                                  sq::device_facts(f.sm, f.num_sms),
                                  0,
                                  f.k,
                                  0,
                                  f.act_bytes};
        const sq::LaunchPlan plan =
            sq::plan_launch(facts, sq::RunFacts{m, sq::kernels::kOperandAlign1, true, false});
        return golden::QuantizerChoice{plan.quantizer.row_splits, plan.quantizer.programmatic};
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
