// Fuzzes the planner's checkpoint reader (plan/plan_state.h Deserialize, which reads the one
// FleetState, its facts and accumulators, through plan/checkpoint_codec.h): the checkpoint is stored
// data, and a corrupt one must be refused, never trusted. Beyond "no crash": an accepted
// checkpoint serializes to bytes that read back and serialize to the same bytes.
//
// The reader refuses a checkpoint of another format or feature schema at its header, before the
// state. Until 2026-12-05 the seeds were of format 4 while certcast wrote 11, and libFuzzer had to
// guess its way past the header before any of the state's reader ran. So each input is read twice:
// as it is (the header's checks), and with this build's format and schema put in its header
// (WithThisBuildsCheckpointHeader), so that a schema bump, after which the state behind the header
// is mostly still readable, no longer strands the seeds. The seeds are written by this build's
// writer (PlanStateTest.FuzzSeedsAreCheckpointsOfThisFormat, which fails once they are of another
// format and says how to write them again).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "plan/plan_state.h"

namespace {

void Check(std::string_view bytes) {
  using certcast::plan::PlanState;
  PlanState state(/*with_fleet=*/false);
  if (!state.Deserialize(bytes).ok()) return;
  const std::string written = state.Serialize();
  PlanState again(/*with_fleet=*/false);
  if (!again.Deserialize(written).ok() || again.Serialize() != written) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  Check(in);
  if (auto current = certcast::plan::WithThisBuildsCheckpointHeader(in); current.ok() && *current != in) {
    Check(*current);
  }
  return 0;
}
