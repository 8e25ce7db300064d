// Checkpoint codec for the forecaster's FleetState (features/fleet_state.h), so that `plan` can
// restore the folded fleet telemetry instead of re-applying months of events before scoring.
//
// It reads and writes the public internals of FleetStateImpl field by field. Those structs belong
// to src/features; fleet_state_codec.cc pins their sizes with static_asserts, so a field added
// there stops the build with a message pointing here instead of being silently dropped from the
// checkpoint (a restored state would then score differently from a rebuilt one).
#pragma once

#include "core/status.h"
#include "features/lineage_state.h"

namespace certcast::policy {

class BinaryWriter;
class BinaryReader;

void SaveFleetState(const FleetState& state, BinaryWriter& out);
// Replaces `state`. DataLoss on a corrupt input (the state is then empty).
Status LoadFleetState(BinaryReader& in, FleetState& state);

}  // namespace certcast::policy
