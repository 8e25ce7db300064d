#include "store/action_queue_rules.h"

#include "core/json_text.h"
#include "core/strings.h"
#include "core/time.h"
#include "nlohmann/json.hpp"

namespace certcast::action_queue {
namespace {

nlohmann::ordered_json Base(const QueuedAction& a, const ActionActor& actor) {
  nlohmann::ordered_json j;
  j["id"] = a.id;
  j["cert"] = a.cert;
  j["action"] = a.kind;
  j["host"] = a.host;
  j["decision_seq"] = a.decision_seq;
  j["by"] = actor.name;
  return j;
}

}  // namespace

LeaseStep DecideLease(const QueuedAction& a, absl::Time now, bool room) {
  const bool lease_running = a.state == ActionState::kLeased && a.lease_expires && *a.lease_expires > now;
  if (lease_running) return {};
  const bool decision_expired = a.expires <= now;
  if (a.state == ActionState::kQueued && decision_expired) {
    return {LeaseStep::kEnd, ActionState::kExpired, "the decision expired before any agent leased it"};
  }
  if (a.state == ActionState::kLeased && (decision_expired || a.attempts >= kMaxActionLeases)) {
    return {LeaseStep::kEnd, ActionState::kFailed,
            decision_expired
                ? StrCat("lease ", a.lease_id, " expired without a report after the decision expired")
                : StrCat("leased ", a.attempts, " times, never reported")};
  }
  if (a.state == ActionState::kQueued && a.needs_approval && a.approved_by.empty()) return {};
  if (!room) return {};
  return {LeaseStep::kLease, ActionState::kLeased, ""};
}

std::string ApplyLease(QueuedAction& a, absl::Duration lease, const ActionActor& actor) {
  const bool relapsed = a.state == ActionState::kLeased;
  a.state = ActionState::kLeased;
  ++a.attempts;
  a.lease_id = StrCat(a.id, ".", a.attempts);
  a.lease_holder = actor.name;
  a.lease_expires = actor.at + lease;
  nlohmann::ordered_json audit = Base(a, actor);
  audit["lease_id"] = a.lease_id;
  audit["lease_expires"] = FormatRfc3339(*a.lease_expires);
  audit["attempt"] = a.attempts;
  if (relapsed) audit["detail"] = "the previous lease expired without a report";
  return Dump(audit);
}

std::string ApplyEnd(QueuedAction& a, ActionState state, const std::string& outcome,
                     const ActionActor& actor) {
  a.state = state;
  a.outcome_json = outcome;
  a.finished = actor.at;
  nlohmann::ordered_json audit = Base(a, actor);
  audit["state"] = std::string(ToString(state));
  if (!a.lease_id.empty()) audit["lease_id"] = a.lease_id;
  // An outcome is the agent's JSON report; the store's own reasons are sentences.
  nlohmann::ordered_json parsed = nlohmann::ordered_json::parse(outcome, nullptr, false);
  if (!parsed.is_discarded() && parsed.is_object()) audit["outcome"] = std::move(parsed);
  else audit["detail"] = outcome;
  return Dump(audit);
}

std::string QueuedAuditJson(const QueuedAction& queued, bool needs_approval, absl::Time expires,
                            const ActionActor& planner) {
  nlohmann::ordered_json audit = Base(queued, planner);
  audit["needs_approval"] = needs_approval;
  audit["expires"] = FormatRfc3339(expires);
  return Dump(audit);
}

std::string ApprovedAuditJson(const QueuedAction& a, const ActionActor& actor) {
  return Dump(Base(a, actor));
}

std::string SupersededReason(int64_t decision_seq) {
  return StrCat("superseded by the decision of audit record ", decision_seq);
}

ActionActor Planner(absl::Time at) { return ActionActor{"planner", at}; }

StatusOr<Verdict> CheckReport(const std::optional<QueuedAction>& found, int64_t id,
                              const std::string& host, const std::string& lease_id,
                              const ActionOutcome& outcome) {
  if (!found || found->host != host) {
    return NotFoundError(StrCat("no action ", id, " for host \"", host, "\""));
  }
  const QueuedAction& a = *found;
  if (a.lease_id != lease_id || a.lease_id.empty()) {
    return FailedPreconditionError(StrCat(
        "stale lease: action ", id, " is ", ToString(a.state),
        a.lease_id.empty() ? " and was never leased" : StrCat(" under lease ", a.lease_id),
        "; the report names lease \"", lease_id, "\" (lease the action again)"));
  }
  if (a.state == ActionState::kLeased) return Verdict::kChange;
  if ((a.state == ActionState::kDone || a.state == ActionState::kFailed) &&
      a.state == ReportedState(outcome) && a.outcome_json == outcome.outcome_json) {
    return Verdict::kRepeated;
  }
  return FailedPreconditionError(StrCat("action ", id, " is ", ToString(a.state), " already (lease ",
                                        a.lease_id, "); a different report for it is refused"));
}

StatusOr<Verdict> CheckApprove(const std::optional<QueuedAction>& found, int64_t id) {
  if (!found) return NotFoundError(StrCat("no action ", id));
  const QueuedAction& a = *found;
  if (!a.needs_approval) return FailedPreconditionError(StrCat("action ", id, " does not need approval"));
  if (!a.approved_by.empty()) return Verdict::kRepeated;
  if (a.state != ActionState::kQueued) {
    return FailedPreconditionError(StrCat("action ", id, " is ", ToString(a.state),
                                          "; only a queued action can be approved"));
  }
  return Verdict::kChange;
}

StatusOr<Verdict> CheckCancel(const std::optional<QueuedAction>& found, int64_t id) {
  if (!found) return NotFoundError(StrCat("no action ", id));
  const QueuedAction& a = *found;
  if (a.state == ActionState::kCancelled) return Verdict::kRepeated;
  if (a.state == ActionState::kLeased) {
    return FailedPreconditionError(StrCat("action ", id, " is leased by \"", a.lease_holder,
                                          "\" (lease ", a.lease_id, ") and may be running; "
                                          "it cannot be cancelled"));
  }
  if (a.state != ActionState::kQueued) {
    return FailedPreconditionError(StrCat("action ", id, " is ", ToString(a.state),
                                          "; only a queued action can be cancelled"));
  }
  return Verdict::kChange;
}

Status CheckFinished(std::span<const QueuedAction> actions) {
  for (const QueuedAction& a : actions) {
    if (a.state == ActionState::kQueued || a.state == ActionState::kLeased) {
      return InvalidArgumentError(StrCat("action ", a.id, " is ", ToString(a.state),
                                         ", not finished: only finished actions are imported"));
    }
  }
  return OkStatus();
}

}  // namespace certcast::action_queue
