// The dlopen function table: one exported entry point, sq_get_api, hands out a static,
// versioned table of every public function. Hosts that load the library at run time
// resolve SQ_GET_API_SYMBOL with dlsym and need no other symbol.
//
// Growth rule (see sq_api_table in smoothquant.h): members are only ever appended;
// each append bumps SQ_API_TABLE_VERSION and adds one assignment below. The
// static_assert catches a header that grew without this file following it.
#include <cstddef>
#include <cstdint>

#include "smoothquant/smoothquant.h"

namespace {

// Members of version 1 of the table: the size/version header plus 17 function pointers.
constexpr std::size_t kTableHeaderBytes = 2 * sizeof(std::uint32_t);
constexpr std::size_t kTableFunctionsV1 = 17;

static_assert(offsetof(sq_api_table, version) == kTableHeaderBytes,
              "sq_api_table: the function pointers must follow struct_size and api_version");
// Interim (0.2 header ahead of the code): the header's table has version 2's two members, whose
// functions are not implemented yet. The table says it is version 1 and its struct_size ends before
// them, so SQ_API_TABLE_HAS(table, weight_sums) is false. Fill them and drop this once they land.
constexpr std::size_t kTableBytesV1 = kTableHeaderBytes + kTableFunctionsV1 * sizeof(void (*)(void));
static_assert(offsetof(sq_api_table, weight_sums) == kTableBytesV1,
              "sq_api_table: version 2's members must follow version 1's");
static_assert(SQ_API_TABLE_VERSION == 2u, "make_table() fills version 1 of the 0.2 table (interim)");

// Filled by member name (not by position), so two members of the same type cannot swap.
// constexpr: the table is constant-initialized (read-only data, no run-time init order).
constexpr sq_api_table make_table() noexcept {
  sq_api_table t{};
  t.struct_size = static_cast<std::uint32_t>(kTableBytesV1);
  t.api_version = 1u;
  // version 1
  t.version = &sq_version;
  t.version_string = &sq_version_string;
  t.status_string = &sq_status_string;
  t.last_error_message = &sq_last_error_message;
  t.plan_select = &sq_plan_select;
  t.plan_can_implement = &sq_plan_can_implement;
  t.plan_workspace_size = &sq_plan_workspace_size;
  t.plan_precision_guarantee = &sq_plan_precision_guarantee;
  t.plan_get_info = &sq_plan_get_info;
  t.plan_kernel_name = &sq_plan_kernel_name;
  t.plan_run = &sq_plan_run;
  t.plan_destroy = &sq_plan_destroy;
  t.smooth_factors = &sq_smooth_factors;
  t.smooth_apply_to_norm = &sq_smooth_apply_to_norm;
  t.smooth_apply_to_weight = &sq_smooth_apply_to_weight;
  t.quantize_weight_per_channel = &sq_quantize_weight_per_channel;
  t.static_act_scale = &sq_static_act_scale;
  return t;
}

constexpr sq_api_table kApiTable = make_table();

}  // namespace

extern "C" SQ_API const sq_api_table* sq_get_api(void) { return &kApiTable; }
