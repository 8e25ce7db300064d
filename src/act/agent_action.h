// What the server hands an agent with a queued action (Store::QueuedAction::parameters_json) and
// the one codec both sides use: the planned action exactly as `plan` prints it, the policy's
// reason code, and the lineage's latest config event, which the executors need (client, names,
// challenge) and which the agent would otherwise have to rediscover.
//
//   {"action": {ActionToJson}, "reason_code": "ExpiryImminent", "lineage": {config event}}
#pragma once

#include <string>
#include <string_view>

#include "core/action.h"
#include "core/event.h"
#include "core/status.h"

namespace certcast::act {

struct AgentActionParameters {
  PlannedAction action;
  std::string reason_code;
  ConfigEvent lineage;
  absl::Time decided;  // the decision's time, used as the config event's ts
  bool operator==(const AgentActionParameters&) const = default;
};

std::string AgentActionParametersToJson(const AgentActionParameters& parameters);
// Strict: InvalidArgument naming the field ("lineage: ...") for anything else, including a
// lineage that is not a config event or whose cert differs from the action's.
StatusOr<AgentActionParameters> ParseAgentActionParameters(std::string_view json);

}  // namespace certcast::act
