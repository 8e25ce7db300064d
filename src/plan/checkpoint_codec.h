// Checkpoint codec of the planner's one fold (plan_state.h): the FleetState with its facts
// (features/fleet_facts.h) and, with a model, its accumulators (features/fleet_state.h), so that
// `plan` restores the folded state instead of re-applying months of events.
//
// Written through the Fields lists declared beside each struct (core/fields.h), one list for both
// directions. The structs' sizes are pinned in checkpoint_codec.cc with static_asserts, so a field
// added without a Fields entry stops the build.
#pragma once

#include "core/status.h"
#include "features/lineage_state.h"

namespace certcast::plan {

class BinaryWriter;
class BinaryReader;

void SaveFleetState(const FleetState& state, BinaryWriter& out);
// Replaces `state`. DataLoss on a corrupt input (the state is then empty).
Status LoadFleetState(BinaryReader& in, FleetState& state);

}  // namespace certcast::plan
