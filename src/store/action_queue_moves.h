// The action queue's moves (lease, report, approve, cancel, queue), made once for both backends.
// A backend provides the rows (ActionRows: read and lock, write, audit, each inside the
// transaction it opened for the whole move); these functions read through it, decide with the
// rules of action_queue_rules.h and write back, so SQLite and PostgreSQL make the same moves in
// the same order. Locking differs by backend and is the ActionRows' business: PostgreSQL locks
// the rows it reads (and skips rows another server holds while leasing), SQLite's single writer
// holds everything already.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/status.h"
#include "store/store.h"

namespace certcast::action_queue {

class ActionRows {
 public:
  virtual ~ActionRows() = default;
  // The host's actions a lease at `now` may start or end (queued, and leased with the lease
  // expired or without an expiry), in id order; locked to the end of the transaction.
  virtual StatusOr<std::vector<QueuedAction>> LockLeasable(const std::string& host,
                                                           absl::Time now) = 0;
  // Action `id` (nullopt: none), locked to the end of the transaction.
  virtual StatusOr<std::optional<QueuedAction>> LockAction(int64_t id) = 0;
  // The queued and leased actions of (host, cert, kind), in id order: a queued one is what a new
  // one supersedes (locked), a leased one may hold the new one back (not locked).
  virtual StatusOr<std::vector<QueuedAction>> OpenLike(const NewQueuedAction& action) = 0;
  // Stores `action`'s lease (state leased, attempts, lease id, holder, expiry).
  virtual Status WriteLease(const QueuedAction& action) = 0;
  // Stores `action`'s end (state, outcome, finished).
  virtual Status WriteEnd(const QueuedAction& action) = 0;
  // Stores `action`'s approved_by.
  virtual Status WriteApproval(const QueuedAction& action) = 0;
  // Inserts `action` as queued, decided by `decision`; returns its id.
  virtual StatusOr<int64_t> InsertQueued(const NewQueuedAction& action,
                                         const AuditRecord& decision) = 0;
  // Appends one audit record at the chain's end.
  virtual StatusOr<AuditRecord> AuditInTransaction(absl::Time at, const std::string& kind,
                                            const std::string& record_json) = 0;
};

// Store::LeaseActions, Store::ReportActionOutcome, Store::ApproveAction and Store::CancelAction
// (their contracts are store.h's), inside the caller's transaction.
StatusOr<std::vector<QueuedAction>> Lease(ActionRows& rows, const std::string& host, int max,
                                          absl::Duration lease, const ActionActor& actor);
StatusOr<ReportedAction> Report(ActionRows& rows, int64_t id, const std::string& host,
                                const std::string& lease_id, const ActionOutcome& outcome,
                                const ActionActor& actor);
StatusOr<ReportedAction> Approve(ActionRows& rows, int64_t id, const ActionActor& actor);
StatusOr<ReportedAction> Cancel(ActionRows& rows, int64_t id, const ActionActor& actor);

// Copying finished actions into a store, for `certcast migrate` only: not on Store, whose
// interface is what the running system (plan, serve, agents) uses. Both backends implement it.
class FinishedActionImporter {
 public:
  virtual ~FinishedActionImporter() = default;
  // Stores finished actions (done, failed, cancelled, expired) with every field as given, all in
  // one transaction or none, and appends no audit record (migrate copies their history, the
  // audit log, apart). keep_ids: each keeps its id (AlreadyExists naming it when the store has
  // that id already; later actions take ids past it); otherwise each gets a new one.
  // InvalidArgument, naming the action and its state, for one not finished.
  virtual Status ImportFinishedActions(std::span<const QueuedAction> actions, bool keep_ids) = 0;
};

// `store`'s ImportFinishedActions (Unimplemented for a store that has none).
Status ImportFinishedActions(Store& store, std::span<const QueuedAction> actions, bool keep_ids);

// Queues `action` for a plan whose decision is `decision`, after expiring the queued actions it
// supersedes (their rows locked by the caller first, see Store::Commit); returns the audit
// records appended, in order.
StatusOr<std::vector<AuditRecord>> Queue(ActionRows& rows, const NewQueuedAction& action,
                                         const AuditRecord& decision);

}  // namespace certcast::action_queue
