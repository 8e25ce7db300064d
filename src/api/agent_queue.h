// The server's rule for who carries an action out (docs/api.md "Actions carried out by agents"):
// a planned renew, dry run or reload whose host has an agent (a token in force with the `agent`
// scope bound to that host) is queued for that agent instead of run by the server; alerts, and
// actions for hosts without an agent, stay with the server (`serve --act` runs them as `run`
// does). The host is the action's own (a reload names one) or the lineage's config host.
//
// A queued action holds while the policy would not propose it again: until `at` plus the
// policy's retry interval for its kind (renew_retry_interval, dry_run_interval,
// reload_retry_interval). After that it expires unleased, and the planner, which then proposes
// it again if it still should, queues a fresh one. Pure.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "core/event.h"
#include "plan/planner.h"
#include "policy/policy.h"
#include "store/store.h"

namespace certcast::api {

// Hosts with an agent: hosts of tokens not revoked whose scopes include "agent".
absl::flat_hash_set<std::string> AgentHosts(std::span<const TokenRecord> tokens);

// The action to queue for `item` decided at `at`, or nullopt when the server keeps it.
std::optional<NewQueuedAction> QueueForAgent(const policy::PlannedItem& item, const ConfigEvent& lineage,
                                             absl::Time at,
                                             const absl::flat_hash_set<std::string>& agent_hosts,
                                             const policy::PolicyConfig& policy);

}  // namespace certcast::api
