#include "api/agent_queue.h"

#include <algorithm>

#include "act/agent_action.h"

namespace certcast::api {

absl::flat_hash_set<std::string> AgentHosts(std::span<const TokenRecord> tokens) {
  absl::flat_hash_set<std::string> hosts;
  for (const TokenRecord& t : tokens) {
    if (t.revoked || !t.host) continue;
    if (std::find(t.scopes.begin(), t.scopes.end(), "agent") != t.scopes.end()) hosts.insert(*t.host);
  }
  return hosts;
}

std::optional<NewQueuedAction> QueueForAgent(const policy::PlannedItem& item, const ConfigEvent& lineage,
                                             absl::Time at,
                                             const absl::flat_hash_set<std::string>& agent_hosts,
                                             const policy::PolicyConfig& policy) {
  const PlannedAction& action = item.action;
  absl::Duration holds;
  switch (action.kind) {
    case ActionKind::kAlert: return std::nullopt;  // webhooks and pagers are the server's
    case ActionKind::kRenew: holds = policy.renew_retry_interval; break;
    case ActionKind::kDryRun: holds = policy.dry_run_interval; break;
    case ActionKind::kReload: holds = policy.reload_retry_interval; break;
  }
  const std::string host = action.host ? *action.host : lineage.host;
  if (host.empty() || !agent_hosts.contains(host)) return std::nullopt;
  const std::string kind(ToString(action.kind));
  const bool switches = action.kind == ActionKind::kRenew && (action.ca || action.challenge);
  auto listed = [&](std::string_view name) {
    return std::find(policy.needs_approval.begin(), policy.needs_approval.end(), name) !=
           policy.needs_approval.end();
  };
  NewQueuedAction queued;
  queued.host = host;
  queued.cert = action.cert;
  queued.kind = kind;
  queued.parameters_json = act::AgentActionParametersToJson(
      {.action = action, .reason_code = std::string(item.reason), .lineage = lineage, .decided = at});
  queued.needs_approval = listed(kind) || (switches && listed("switch"));
  queued.expires = at + holds;
  return queued;
}

}  // namespace certcast::api
