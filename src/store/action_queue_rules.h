// The action queue's rules (store.h, ActionState), shared by both backends so that SQLite and
// PostgreSQL make the same moves, refuse with the same messages and audit with the same records.
// Pure: no storage, time comes in the arguments. Each backend reads the rows (locking them as it
// must), asks these functions what to do, writes the rows and appends the audit JSON returned.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "absl/time/time.h"
#include "core/status.h"
#include "store/store.h"

namespace certcast::action_queue {

// What LeaseActions does with one of the host's open actions at `now`. `room`: fewer than `max`
// actions have been leased by this call so far.
struct LeaseStep {
  enum Kind { kSkip, kEnd, kLease };
  Kind kind = kSkip;
  ActionState end_state = ActionState::kExpired;  // kEnd: kExpired or kFailed
  std::string reason;                             // kEnd: the outcome stored
};
LeaseStep DecideLease(const QueuedAction& action, absl::Time now, bool room);

// Leases `action` to `actor` for `lease` (attempts + 1, lease id "<id>.<attempts>"); returns the
// "action_leased" audit record's JSON.
std::string ApplyLease(QueuedAction& action, absl::Duration lease, const ActionActor& actor);

// Moves `action` to the final `state` with `outcome` (the agent's JSON report, or the store's
// reason as a sentence), finished at actor.at; returns the audit record's JSON.
std::string ApplyEnd(QueuedAction& action, ActionState state, const std::string& outcome,
                     const ActionActor& actor);

// The "action_queued" record of `queued` (id, host, cert, kind and decision_seq set).
std::string QueuedAuditJson(const QueuedAction& queued, bool needs_approval, absl::Time expires,
                            const ActionActor& planner);
// The "action_approved" record (after approved_by is set).
std::string ApprovedAuditJson(const QueuedAction& action, const ActionActor& actor);

// Why a queued action was expired by a newer decision (audit record `decision_seq`).
std::string SupersededReason(int64_t decision_seq);

// The actor a plan's queueing and superseding is recorded under.
ActionActor Planner(absl::Time at);

// The checks of ReportActionOutcome, ApproveAction and CancelAction on the action as stored
// (nullopt: no action with that id): kChange to make the move, kRepeated when it was made already
// (nothing to write), or the refusal store.h describes.
enum class Verdict { kChange, kRepeated };
StatusOr<Verdict> CheckReport(const std::optional<QueuedAction>& action, int64_t id,
                              const std::string& host, const std::string& lease_id,
                              const ActionOutcome& outcome);
StatusOr<Verdict> CheckApprove(const std::optional<QueuedAction>& action, int64_t id);
StatusOr<Verdict> CheckCancel(const std::optional<QueuedAction>& action, int64_t id);

// OK when every action is finished (done, failed, cancelled, expired); otherwise InvalidArgument
// naming the first that is not (FinishedActionImporter, action_queue_moves.h).
Status CheckFinished(std::span<const QueuedAction> actions);

// The final state a report moves a leased action to.
inline ActionState ReportedState(const ActionOutcome& outcome) {
  return outcome.success ? ActionState::kDone : ActionState::kFailed;
}

}  // namespace certcast::action_queue
