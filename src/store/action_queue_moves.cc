#include "store/action_queue_moves.h"

#include "core/strings.h"
#include "store/action_queue_rules.h"

namespace certcast::action_queue {
namespace {

// Moves `action` (its row locked) to the final `state` and audits it as `audit_kind`.
StatusOr<AuditRecord> End(ActionRows& rows, QueuedAction& action, ActionState state,
                          const std::string& outcome, const std::string& audit_kind,
                          const ActionActor& actor) {
  const std::string audit = ApplyEnd(action, state, outcome, actor);
  RETURN_IF_ERROR(rows.WriteEnd(action));
  return rows.AuditInTransaction(actor.at, audit_kind, audit);
}

}  // namespace

StatusOr<std::vector<QueuedAction>> Lease(ActionRows& rows, const std::string& host, int max,
                                          absl::Duration lease, const ActionActor& actor) {
  ASSIGN_OR_RETURN(std::vector<QueuedAction> open, rows.LockLeasable(host, actor.at));
  std::vector<QueuedAction> leased;
  for (QueuedAction& a : open) {
    const LeaseStep step = DecideLease(a, actor.at, static_cast<int>(leased.size()) < max);
    if (step.kind == LeaseStep::kSkip) continue;
    if (step.kind == LeaseStep::kEnd) {
      RETURN_IF_ERROR(End(rows, a, step.end_state, step.reason, "action_expired", actor).status());
      continue;
    }
    const std::string audit = ApplyLease(a, lease, actor);
    RETURN_IF_ERROR(rows.WriteLease(a));
    RETURN_IF_ERROR(rows.AuditInTransaction(actor.at, "action_leased", audit).status());
    leased.push_back(std::move(a));
  }
  return leased;
}

StatusOr<ReportedAction> Report(ActionRows& rows, int64_t id, const std::string& host,
                                const std::string& lease_id, const ActionOutcome& outcome,
                                const ActionActor& actor) {
  ASSIGN_OR_RETURN(std::optional<QueuedAction> found, rows.LockAction(id));
  ASSIGN_OR_RETURN(Verdict verdict, CheckReport(found, id, host, lease_id, outcome));
  if (verdict == Verdict::kRepeated) return ReportedAction{std::move(*found), true};
  RETURN_IF_ERROR(End(rows, *found, ReportedState(outcome), outcome.outcome_json, "action_outcome",
                      actor)
                      .status());
  return ReportedAction{std::move(*found), false};
}

StatusOr<ReportedAction> Approve(ActionRows& rows, int64_t id, const ActionActor& actor) {
  ASSIGN_OR_RETURN(std::optional<QueuedAction> found, rows.LockAction(id));
  ASSIGN_OR_RETURN(Verdict verdict, CheckApprove(found, id));
  if (verdict == Verdict::kRepeated) return ReportedAction{std::move(*found), true};
  found->approved_by = actor.name;
  RETURN_IF_ERROR(rows.WriteApproval(*found));
  RETURN_IF_ERROR(
      rows.AuditInTransaction(actor.at, "action_approved", ApprovedAuditJson(*found, actor)).status());
  return ReportedAction{std::move(*found), false};
}

StatusOr<ReportedAction> Cancel(ActionRows& rows, int64_t id, const ActionActor& actor) {
  ASSIGN_OR_RETURN(std::optional<QueuedAction> found, rows.LockAction(id));
  ASSIGN_OR_RETURN(Verdict verdict, CheckCancel(found, id));
  if (verdict == Verdict::kRepeated) return ReportedAction{std::move(*found), true};
  RETURN_IF_ERROR(End(rows, *found, ActionState::kCancelled, StrCat("cancelled by ", actor.name),
                      "action_cancelled", actor)
                      .status());
  return ReportedAction{std::move(*found), false};
}

Status ImportFinishedActions(Store& store, std::span<const QueuedAction> actions, bool keep_ids) {
  auto* importer = dynamic_cast<FinishedActionImporter*>(&store);
  if (!importer) return InternalError("this store cannot import actions");
  return importer->ImportFinishedActions(actions, keep_ids);
}

StatusOr<std::vector<AuditRecord>> Queue(ActionRows& rows, const NewQueuedAction& action,
                                         const AuditRecord& decision) {
  std::vector<AuditRecord> records;
  const ActionActor planner = Planner(decision.at);
  ASSIGN_OR_RETURN(std::vector<QueuedAction> open, rows.OpenLike(action));
  // The same work leased to an agent and not reported may have been done: its outcome is what the
  // next plan should learn from. A second action would run the client again: a server back from
  // an outage longer than the retry interval plans before the agent has reported, and the lease
  // (30 min) ran out long before. It holds until it ends (reported, or given up by the lease rules).
  for (const QueuedAction& old : open) {
    if (old.state == ActionState::kLeased) return records;
  }
  for (QueuedAction& old : open) {
    if (old.state != ActionState::kQueued) continue;
    ASSIGN_OR_RETURN(AuditRecord r, End(rows, old, ActionState::kExpired,
                                        SupersededReason(decision.seq), "action_expired", planner));
    records.push_back(std::move(r));
  }
  QueuedAction queued;
  ASSIGN_OR_RETURN(queued.id, rows.InsertQueued(action, decision));
  queued.host = action.host;
  queued.cert = action.cert;
  queued.kind = action.kind;
  queued.decision_seq = decision.seq;
  ASSIGN_OR_RETURN(AuditRecord r,
                   rows.AuditInTransaction(decision.at, "action_queued",
                                    QueuedAuditJson(queued, action.needs_approval, action.expires,
                                                    planner)));
  records.push_back(std::move(r));
  return records;
}

}  // namespace certcast::action_queue
