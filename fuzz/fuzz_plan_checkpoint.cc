// Fuzzes the planner's checkpoint reader (plan/plan_state.h Deserialize, which reads the one
// FleetState, its facts and accumulators, through plan/checkpoint_codec.h): the checkpoint is stored
// data, and a corrupt one must be refused, never trusted. Beyond "no crash": an accepted
// checkpoint serializes to bytes that read back and serialize to the same bytes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "plan/plan_state.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using certcast::plan::PlanState;
  PlanState state(/*with_fleet=*/false);
  if (!state.Deserialize(std::string_view(reinterpret_cast<const char*>(data), size)).ok()) return 0;
  const std::string bytes = state.Serialize();
  PlanState again(/*with_fleet=*/false);
  if (!again.Deserialize(bytes).ok() || again.Serialize() != bytes) std::abort();
  return 0;
}
