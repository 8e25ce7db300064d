// Checkpoint codecs of the planner's two folds (plan_state.h): the forecaster's FleetState
// (features/fleet_state.h) and the policy's lineage views (policy/lineage_view_state.h), so that
// `plan` restores the folded state instead of re-applying months of events.
//
// Both are written through the Fields lists declared beside each struct (core/fields.h), one list
// for both directions. The FleetState's sizes are pinned in checkpoint_codec.cc with
// static_asserts, so a field added there without a Fields entry stops the build.
#pragma once

#include "core/status.h"
#include "features/lineage_state.h"
#include "policy/lineage_view.h"

namespace certcast::plan {

class BinaryWriter;
class BinaryReader;

void SaveFleetState(const FleetState& state, BinaryWriter& out);
// Replaces `state`. DataLoss on a corrupt input (the state is then empty).
Status LoadFleetState(BinaryReader& in, FleetState& state);

void SaveViews(const policy::FleetViewBuilder& views, BinaryWriter& out);
// Replaces `views`. DataLoss on a corrupt input (the builder is then empty).
Status LoadViews(BinaryReader& in, policy::FleetViewBuilder& views);

}  // namespace certcast::plan
