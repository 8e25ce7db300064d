// From a plan to the alert core's candidates: every lineage whose decision proposes an alert at
// this plan, whether the planner sent it now or held it as already sent (the condition is still
// there), with what Classify needs from its lineage view.
#pragma once

#include <vector>

#include "absl/time/time.h"
#include "alert/alert.h"
#include "policy/lineage_view.h"
#include "policy/fleet_plan.h"

namespace certcast::alert {

// `views` are the lineage views the plan was made from (found by cert; an alert about a lineage
// without a view, such as a fleet-wide one, gets no expiry or due time).
std::vector<AlertCandidate> CandidatesFromPlan(const policy::PlanResult& plan,
                                               const std::vector<policy::LineageView>& views);

}  // namespace certcast::alert
