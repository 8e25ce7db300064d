// The store: events and everything derived from them, behind one interface. SQLite is the
// embedded default (one file, WAL); PostgreSQL (`--db postgresql://...`, store_backends.h) serves
// several servers sharing one fleet.
//
// Thread safety: a Store object is used from one thread at a time (the daemon gives each worker
// its own). Several processes may open the same SQLite file; SQLite's locking serialises writers.
//
// Durability: when AppendEvents returns OK, the batch is on disk (synchronous=FULL) and survives
// kill -9 and power loss; a batch interrupted before that is absent as a whole, never half there.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "core/event.h"
#include "core/status.h"

namespace certcast {

struct StoreOptions {
  // Create the file (and schema) when missing. Commands that only read set this false, so a typo
  // in --db is an error instead of an empty new database.
  bool create_if_missing = true;
  // Page cache per connection. Large enough that ingest does not re-read index pages it just
  // wrote; SQLite's default (2 MB) halves ingest throughput past a few million events.
  int64_t cache_bytes = 256ll << 20;
};

struct AppendResult {
  int64_t inserted = 0;    // new events stored
  int64_t duplicates = 0;  // events already stored (same canonical form), not stored again
};

struct EventFilter {
  // Only events whose subject (see EventSubject) is one of these; empty = all.
  std::vector<std::string> subjects;
  std::optional<EventType> type;
  std::optional<absl::Time> since;  // ts >= since
  std::optional<absl::Time> until;  // ts < until
};

// A trained model as stored: the serialized model file and its metadata (JSON).
struct StoredModel {
  int64_t id = 0;
  absl::Time created;
  std::string name;
  std::string metadata_json;
  std::string blob;
};

// One record of the hash-chained audit log.
struct AuditRecord {
  int64_t seq = 0;
  absl::Time at;
  std::string kind;         // "decision", "action", ...
  std::string record_json;  // what happened, why, which model and features
  std::string prev_hash;    // hex SHA-256 of the previous record ("" for the first)
  std::string hash;         // hex SHA-256 over prev_hash, at, kind, record_json
};

// One audit record to append (AppendAudits).
struct AuditEntry {
  absl::Time at;
  std::string kind;
  std::string record_json;
};

// An API token as stored (`certcast token`, src/api/token.h). Never holds the secret: `hash` is
// a keyed hash of it, and `id` is the public part of the secret used to find the row.
struct TokenRecord {
  std::string id;                    // public lookup id (unique)
  std::string name;                  // operator's name; unique among tokens not revoked
  std::vector<std::string> scopes;   // scope names, as given (validated by the caller)
  std::optional<std::string> host;   // the only host whose events the token may write
  std::string hash;                  // keyed hash of the secret (binary)
  absl::Time created;
  std::optional<absl::Time> last_used;
  std::optional<absl::Time> revoked;
};

// The action queue (schema 4; docs/api.md "Actions carried out by agents"). The server plans
// for the fleet; an action for a host that has an agent is queued here instead of run on the
// server, and that host's agent leases it, carries it out and reports the outcome.
//
// States and the only moves between them:
//   queued  -> leased     LeaseActions (approved first when needs_approval)
//   queued  -> cancelled  CancelAction
//   queued  -> expired    its decision no longer holds: `expires` passed, or a newer decision
//                         for the same host, lineage and kind was queued (superseded)
//   leased  -> done|failed  ReportActionOutcome with the current lease id
//   leased  -> leased     LeaseActions again once the lease expired without a report (the agent
//                         died); attempts + 1 and a new lease id, so a report naming the old
//                         lease is refused as stale
//   leased  -> failed     the lease expired kMaxActionLeases times without a report, or expired
//                         after the decision did (nobody will report: the planner decides again)
// done, failed, cancelled and expired are final. A leased action is never cancelled or expired
// while its lease runs: the agent may be carrying it out.
enum class ActionState : uint8_t { kQueued, kLeased, kDone, kFailed, kCancelled, kExpired };
std::string_view ToString(ActionState state);
std::optional<ActionState> ActionStateFromString(std::string_view name);

inline constexpr int kMaxActionLeases = 3;

struct QueuedAction {
  int64_t id = 0;
  std::string host;             // the agent's host (the token's); never taken from a request
  std::string cert;             // the lineage
  std::string kind;             // ActionKind name: renew, dry_run, reload
  std::string parameters_json;  // what the agent needs: {"action": ActionToJson, "reason_code",
                                // "lineage": the lineage's config event (events-v1)}
  int64_t decision_seq = 0;     // audit seq of the decision record behind it
  bool needs_approval = false;
  std::string approved_by;      // token name; "" = not approved
  ActionState state = ActionState::kQueued;
  absl::Time created;
  absl::Time expires;           // not handed out after this
  std::string lease_holder;     // token name of the last lease ("" = never leased)
  std::string lease_id;         // "<id>.<attempt>": unique per lease of this action
  std::optional<absl::Time> lease_expires;
  int attempts = 0;             // leases handed out
  std::string outcome_json;     // the reported outcome, or why the store ended it ("" = none)
  std::optional<absl::Time> finished;
};

// One action to queue with a plan (StoreCommit::actions).
struct NewQueuedAction {
  std::string host, cert, kind, parameters_json;
  bool needs_approval = false;
  absl::Time expires;
  // Index in StoreCommit::audit of the decision record; its seq becomes decision_seq.
  int decision_audit_index = -1;
};

// Who changes a queued action and when: every change appends an audit record naming `name` (a
// token's name, never its secret) in the same transaction as the change.
struct ActionActor {
  std::string name;
  absl::Time at;
};

struct ActionFilter {
  std::optional<std::string> host;
  std::optional<ActionState> state;
  int64_t after_id = 0;  // paging: ids greater than this
  int64_t limit = 100;
};

// What the agent says happened (ReportActionOutcome).
struct ActionOutcome {
  bool success = false;       // done or failed
  std::string outcome_json;   // the agent's report as stored (bounded by the caller)
};

struct ReportedAction {
  QueuedAction action;
  bool repeated = false;  // the same report was already stored: nothing changed, nothing audited
};

// An incident as stored (schema 5): the alerts that share one cause key (src/alert/incident.h).
// The store keeps the fields it filters and sorts on as columns and the rest (affected and
// recovered lineages, notifications sent) as the alert core's JSON document, which it does not
// interpret.
struct IncidentRecord {
  std::string id;             // unique, stable for the incident's life ("inc-...")
  std::string cause_key;      // "dns:ns1.example.net,ns2.example.net", "ca:...", "host:web1", ...
  std::string severity;       // "page", "ticket", "info" or "watch" (the highest it reached)
  bool open = true;           // false once resolved
  absl::Time opened;
  absl::Time updated;
  std::optional<absl::Time> resolved;
  std::string document_json;  // the alert core's document (IncidentToJson)
  bool operator==(const IncidentRecord&) const = default;
};

struct IncidentFilter {
  std::optional<bool> open;  // only open (true) or only resolved (false) incidents; absent = all
  int64_t limit = 1000;      // at most this many, most recently updated first
};

// A silence (schema 5): while in force (created <= now < until and not ended early), alerts that
// match it are recorded but not sent. Rows are never deleted: who silenced what, until when, and
// who ended it early stay on record.
struct SilenceRecord {
  std::string id;             // unique ("sil-...")
  std::string matcher;        // "lineage", "host", "cause" or "label"
  std::string value;          // the cert, host name, cause key, or "name=value" for a label
  std::string comment;        // why (free text, operator's)
  std::string created_by;     // token or operator name, never a secret
  absl::Time created;
  absl::Time until;
  std::optional<absl::Time> ended;  // ended early (DELETE /v1/silences/{id})
  std::string ended_by;
  bool operator==(const SilenceRecord&) const = default;
  bool InForce(absl::Time now) const { return created <= now && now < until && !ended; }
};

// Everything one plan writes (RunPlan), committed in one transaction by Store::Commit: state
// (planner memory), checkpoints and audit records are all stored, or none is. A plan whose
// audit append fails must not leave memory saying its actions were done.
struct StoreCommit {
  std::vector<std::pair<std::string, std::string>> state;        // PutState(key, value)
  std::vector<std::pair<std::string, std::string>> checkpoints;  // PutCheckpoint(key, value)
  std::vector<AuditEntry> audit;                                 // AppendAudits, in order
  // Queued after the audit records (each names its decision's record); each also appends an
  // "action_queued" audit record and supersedes (expires) the queued, not yet leased actions of
  // the same host, lineage and kind -- unless one of those is leased and not ended: then the new
  // action is not queued (the leased one may have been carried out; its outcome decides).
  std::vector<NewQueuedAction> actions;
  std::vector<IncidentRecord> incidents;                         // PutIncidents
};

// The audit chain head kept outside the store: the seq and hash of the newest audit record this
// process (or another) appended, in the file AuditHeadPath(store path), 0600, replaced
// atomically after every audit commit. Deleting records from the end of the store leaves the
// head naming a record the store no longer has, which `audit --verify` reports.
struct AuditHead {
  int64_t seq = 0;
  std::string hash;
};
// "<store path>-audit-head", beside the SQLite file and its -wal / -shm.
std::string AuditHeadPath(const std::string& store_path);
// The head file's one line "certcast-audit-head 1 SEQ HASH"; DataLoss naming the path otherwise.
StatusOr<AuditHead> ParseAuditHead(std::string_view text, const std::string& path);

// What was appended to the events table since an earlier point (EventAppendsSince).
struct EventAppends {
  int64_t last_seq = 0;                    // newest append sequence number (0: none yet)
  std::optional<absl::Time> earliest_ts;   // earliest ts stored by appends after the given seq
};

// Where a page of one subject's events ended (SubjectEvents): the key of the last row read, in
// the events table's own key (ts, hash). The next page holds the rows strictly older.
struct EventCursor {
  int64_t ts_micros = 0;
  int64_t hash = 0;
  bool operator==(const EventCursor&) const = default;
};

// One page of a subject's events, newest first (SubjectEvents).
struct SubjectEventsPage {
  std::vector<Event> events;
  // Set when older rows remain: pass it as `before` for the next page. Absent on the last page.
  std::optional<EventCursor> next;
};

// A stored event row that does not parse (written by a binary that let an invalid byte through,
// or changed in the file). Identified by its key in the events table, (ts, hash).
struct UnreadableEvent {
  int64_t ts_micros = 0;  // events.ts
  int64_t hash = 0;       // events.hash
  std::string reason;     // the parser's message
};

// The unreadable rows a store met while scanning, counted once each however often scanned.
struct UnreadableEvents {
  static constexpr size_t kMaxListed = 10;
  int64_t count = 0;
  std::vector<UnreadableEvent> first;  // the first kMaxListed met
};

// One line for a person: how many rows were skipped, which (ts, hash), why, and the SQL that
// removes them. "" when none.
std::string DescribeUnreadable(const UnreadableEvents& unreadable);

// The hash of an audit record as stored (hex SHA-256 over its fields and prev_hash). Exposed so
// `audit --verify` recomputes the chain with the same function that wrote it.
std::string AuditHash(const AuditRecord& r);

class Store {
 public:
  virtual ~Store() = default;

  // Opens (and migrates) the store `db` names, a --db value: a PostgreSQL database for a
  // postgresql:// or postgres:// URI (OpenPostgres, store_backends.h), a SQLite file otherwise.
  // Refuses a store whose schema is newer than this binary with FailedPrecondition naming both
  // versions.
  static StatusOr<std::unique_ptr<Store>> Open(const std::string& db, const StoreOptions& options = {});
  // The factory's name before PostgreSQL (2026-12-05): kept for branches written against it;
  // the same as Open. New code calls Open.
  static StatusOr<std::unique_ptr<Store>> OpenSqlite(const std::string& db,
                                                     const StoreOptions& options = {}) {
    return Open(db, options);
  }

  // Schema version the store is at.
  virtual int SchemaVersion() const = 0;

  // Stores `events` in one transaction. An event whose canonical JSON is already stored is
  // counted as a duplicate and not stored twice.
  virtual StatusOr<AppendResult> AppendEvents(std::span<const Event> events) = 0;

  // Calls `fn` for each stored event matching `filter`, in (ts, insertion) order. Stops and
  // returns fn's error if it returns one. A row that does not parse is skipped and recorded in
  // unreadable_events(), never an error: one bad row must not stop every plan, and the rest of
  // the store is still true. Callers that read events say so (DescribeUnreadable) and carry on.
  virtual Status ScanEvents(const EventFilter& filter,
                            const std::function<Status(const Event&)>& fn) = 0;

  // The events whose subject (EventSubject) is `subject`, newest first ((ts, hash) descending),
  // at most `limit` (>= 1) of them, older than `before` when given. Reads the subject index
  // (schema 6), so the cost follows the page, not the table. Rows that do not parse are skipped
  // and recorded as ScanEvents does; they still count towards the page and move the cursor, so a
  // page may hold fewer than `limit` events while `next` is set.
  virtual StatusOr<SubjectEventsPage> SubjectEvents(const std::string& subject, int64_t limit,
                                                    std::optional<EventCursor> before) = 0;

  // The rows ScanEvents skipped since this store was opened.
  virtual UnreadableEvents unreadable_events() const = 0;

  // All matching events in ts order.
  StatusOr<std::vector<Event>> LoadEvents(const EventFilter& filter = {});

  virtual StatusOr<int64_t> CountEvents() = 0;

  // Models.
  virtual StatusOr<int64_t> PutModel(const StoredModel& model) = 0;
  virtual StatusOr<std::optional<StoredModel>> LatestModel(const std::string& name) = 0;
  // Every stored model, newest first, with an empty blob (GET /v1/models lists metadata only).
  virtual StatusOr<std::vector<StoredModel>> ListModels() = 0;

  // Audit log: Append computes prev_hash/hash and seq; records are never updated or deleted.
  virtual StatusOr<AuditRecord> AppendAudit(absl::Time at, const std::string& kind,
                                            const std::string& record_json) = 0;
  virtual Status ScanAudit(const std::function<Status(const AuditRecord&)>& fn) = 0;
  // The same from the record after `after_seq` on (the server pages the log and indexes only what
  // is new since its last look).
  virtual Status ScanAuditAfter(int64_t after_seq,
                                const std::function<Status(const AuditRecord&)>& fn) = 0;
  // Appends `entries` in order in one transaction (one disk sync for a plan's hundreds of
  // decisions instead of one each); all or none are stored.
  virtual StatusOr<std::vector<AuditRecord>> AppendAudits(std::span<const AuditEntry> entries) = 0;
  // Stores all of `commit` in one transaction, or nothing; returns the audit records appended.
  virtual StatusOr<std::vector<AuditRecord>> Commit(const StoreCommit& commit) = 0;
  // The audit chain head file (AuditHead); nullopt when it does not exist (no audit record was
  // ever appended through this version, or the store is in memory). The head is written after
  // each commit that appends audit records; a failure to write it does not fail the commit (the
  // records are stored): it leaves the head behind, which verification reports as records the
  // head does not cover.
  virtual StatusOr<std::optional<AuditHead>> ReadAuditHead() = 0;

  // Every AppendEvents that stores at least one new event gets the next sequence number and
  // remembers the earliest ts it stored. State derived from the events before a watermark W and
  // saved at sequence S is still exact iff EventAppendsSince(S).earliest_ts is absent or >= W;
  // otherwise an event arrived late (a re-delivered old log line) and the state must be rebuilt.
  virtual StatusOr<EventAppends> EventAppendsSince(int64_t after_seq) = 0;

  // Checkpoints: binary state derived from events, rebuildable from them (the planner's folded
  // lineage views). Stored whole under a key; the caller versions its format.
  virtual Status PutCheckpoint(const std::string& key, std::string_view value) = 0;
  virtual StatusOr<std::optional<std::string>> GetCheckpoint(const std::string& key) = 0;
  virtual Status DeleteCheckpoint(const std::string& key) = 0;

  // Tokens (schema 3). CreateToken fails with AlreadyExists when a token not revoked has the
  // same name or id. FindToken looks a token up by id, revoked or not. RevokeToken marks the
  // token named `name` revoked at `at` (NotFound when no token of that name is in force).
  // TouchTokens records last use, many at once, so a server writes it coalesced rather than per
  // request; a token's last_used never moves backwards.
  virtual Status CreateToken(const TokenRecord& token) = 0;
  virtual StatusOr<std::optional<TokenRecord>> FindToken(const std::string& id) = 0;
  virtual StatusOr<std::vector<TokenRecord>> ListTokens() = 0;  // by created, then name
  virtual Status RevokeToken(const std::string& name, absl::Time at) = 0;
  virtual Status TouchTokens(std::span<const std::pair<std::string, absl::Time>> id_and_time) = 0;

  // The action queue (see ActionState for the states and moves; schema 4). Every method that
  // changes an action appends its audit record in the same transaction ("action_leased",
  // "action_outcome", "action_approved", "action_cancelled", "action_expired"), naming the actor.
  //
  // LeaseActions: first ends what can no longer run (queued actions past `expires` -> expired;
  // leases expired kMaxActionLeases times or past `expires` -> failed), then leases up to `max`
  // of `host`'s actions, oldest first: queued ones (approved when needs_approval) and leased
  // ones whose lease expired. Each gets attempts + 1, lease id "<id>.<attempts>", the actor as
  // holder and lease_expires = actor.at + lease.
  virtual StatusOr<std::vector<QueuedAction>> LeaseActions(const std::string& host, int max,
                                                           absl::Duration lease,
                                                           const ActionActor& actor) = 0;
  // Records the outcome of action `id` of `host` leased as `lease_id`. NotFound when `host` has
  // no action `id` (another host's action is not shown to exist). The same report again (same
  // lease, same success and outcome) is `repeated` and changes nothing. FailedPrecondition, the
  // message naming the action, its state and the lease in force: a lease id that is not the
  // action's latest (stale: leased again since), an action already reported differently, or one
  // that was cancelled, expired or failed by the store. The lease's expiry is not checked: a late
  // report from the holder of the latest lease is still the truth about what ran.
  virtual StatusOr<ReportedAction> ReportActionOutcome(int64_t id, const std::string& host,
                                                       const std::string& lease_id,
                                                       const ActionOutcome& outcome,
                                                       const ActionActor& actor) = 0;
  // Approves a queued action that needs approval (repeated when approved already).
  // FailedPrecondition when it does not need approval or is not queued; NotFound for no action.
  virtual StatusOr<ReportedAction> ApproveAction(int64_t id, const ActionActor& actor) = 0;
  // Cancels a queued action (repeated when cancelled already). FailedPrecondition for a leased
  // (it may be running) or otherwise finished action; NotFound for no action.
  virtual StatusOr<ReportedAction> CancelAction(int64_t id, const ActionActor& actor) = 0;
  // By id ascending, at most filter.limit.
  virtual StatusOr<std::vector<QueuedAction>> ListActions(const ActionFilter& filter) = 0;
  virtual StatusOr<std::optional<QueuedAction>> GetAction(int64_t id) = 0;
  // Incidents (schema 5). PutIncidents inserts or replaces each record by id, all in one
  // transaction or none. GetIncident: nullopt when no incident has that id. ListIncidents: most
  // recently updated first (then id), at most filter.limit.
  virtual Status PutIncidents(std::span<const IncidentRecord> incidents) = 0;
  virtual StatusOr<std::optional<IncidentRecord>> GetIncident(const std::string& id) = 0;
  virtual StatusOr<std::vector<IncidentRecord>> ListIncidents(const IncidentFilter& filter) = 0;

  // Silences (schema 5). CreateSilence: AlreadyExists when the id is taken. ListSilences: every
  // silence ever set, ended or not, by created then id (callers filter with InForce).
  // EndSilence marks a silence in force as ended at `at` by `by`; NotFound when no silence with
  // that id is in force at `at` (unknown, already ended, expired or not yet started).
  virtual Status CreateSilence(const SilenceRecord& silence) = 0;
  virtual StatusOr<std::vector<SilenceRecord>> ListSilences() = 0;
  virtual Status EndSilence(const std::string& id, absl::Time at, const std::string& by) = 0;

  // Small key/value state for coordinators (e.g. the daemon's last run, a lineage's lock owner).
  virtual Status PutState(const std::string& key, const std::string& value) = 0;
  virtual StatusOr<std::optional<std::string>> GetState(const std::string& key) = 0;
};

}  // namespace certcast
