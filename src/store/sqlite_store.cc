// SQLite implementation of Store. sqlite3 is wrapped here and nowhere else.
#include <fcntl.h>
#include <sys/file.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include <openssl/sha.h>

#include "core/event_json.h"
#include "core/file_safety.h"
#include "core/strings.h"
#include "core/time.h"
#include "store/action_queue_moves.h"
#include "store/action_queue_rules.h"
#include "store/store.h"
#include "store/store_backends.h"

#define XXH_INLINE_ALL
#include "xxhash.h"

namespace certcast {
namespace {

// Numbered schema migrations. Migration i (1-based) takes the schema from version i-1 to i.
// Append only: a released migration is never edited, because stores in the field are already
// at its version.
constexpr std::array<const char*, 6> kMigrations = {
    // 1: events and the derived records later steps fill in.
    R"sql(
    -- Keyed by (ts, hash of the canonical JSON). Exact duplicates share both, so the primary
    -- key is the duplicate check and no extra index is needed; and because telemetry arrives
    -- roughly in time order, inserts land at the end of the b-tree instead of all over it (a
    -- hash-only key rewrote most of the table's pages on every batch: 37k events/s). On the
    -- (astronomically rare) collision of two different events at the same ts, the second is
    -- stored at the next free hash value.
    CREATE TABLE events (
      ts      INTEGER NOT NULL,      -- microseconds since the Unix epoch, UTC
      hash    INTEGER NOT NULL,      -- XXH3-64 of json
      type    INTEGER NOT NULL,      -- certcast::EventType
      subject TEXT    NOT NULL,      -- certcast::EventSubject
      json    TEXT    NOT NULL,      -- canonical events-v1 line
      PRIMARY KEY (ts, hash)
    ) WITHOUT ROWID;

    CREATE TABLE models (
      id        INTEGER PRIMARY KEY AUTOINCREMENT,
      created   INTEGER NOT NULL,
      name      TEXT    NOT NULL,
      metadata  TEXT    NOT NULL,
      blob      BLOB    NOT NULL
    );
    CREATE INDEX models_by_name ON models (name, id);

    CREATE TABLE forecasts (
      cert     TEXT    NOT NULL,
      at       INTEGER NOT NULL,
      model_id INTEGER,
      risk     REAL    NOT NULL,
      reasons  TEXT    NOT NULL,       -- JSON
      PRIMARY KEY (cert, at)
    );

    CREATE TABLE decisions (
      id      INTEGER PRIMARY KEY AUTOINCREMENT,
      at      INTEGER NOT NULL,
      cert    TEXT    NOT NULL,
      action  TEXT    NOT NULL,
      reason  TEXT    NOT NULL,
      risk    REAL    NOT NULL,
      detail  TEXT    NOT NULL        -- JSON
    );

    CREATE TABLE actions (
      id          INTEGER PRIMARY KEY AUTOINCREMENT,
      decision_id INTEGER REFERENCES decisions(id),
      started     INTEGER NOT NULL,
      finished    INTEGER,
      status      TEXT    NOT NULL,
      output      TEXT    NOT NULL
    );

    -- Append-only, hash-chained: each record's hash covers the previous record's hash.
    CREATE TABLE audit (
      seq         INTEGER PRIMARY KEY,
      at          INTEGER NOT NULL,
      kind        TEXT    NOT NULL,
      record      TEXT    NOT NULL,
      prev_hash   TEXT    NOT NULL,
      hash        TEXT    NOT NULL
    );

    CREATE TABLE state (
      key   TEXT PRIMARY KEY,
      value TEXT NOT NULL
    );
    )sql",
    // 2: state derived from events (the planner's checkpoint) must know whether events older than
    // its watermark arrived after it was saved (collectors re-deliver old log lines). The events
    // table has no insertion order, so each append that stores something logs its earliest ts.
    R"sql(
    CREATE TABLE event_appends (
      seq    INTEGER PRIMARY KEY,    -- increases with every append that stored an event
      min_ts INTEGER NOT NULL        -- earliest ts among the events that append stored
    );
    -- Rebuildable derived state, binary; losing a row costs time, never correctness.
    CREATE TABLE checkpoints (
      key   TEXT PRIMARY KEY,
      value BLOB NOT NULL
    );
    )sql",
    // 3: API tokens (`certcast token`, `certcast serve`). Only a keyed hash of each secret is
    // stored; `id` is the secret's public part, so a request finds its row without a scan.
    // Revoked rows stay (who had access, until when); a name is unique among tokens in force so
    // an operator can reuse it after revoking.
    R"sql(
    CREATE TABLE tokens (
      id        TEXT    PRIMARY KEY,
      name      TEXT    NOT NULL,
      scopes    TEXT    NOT NULL,     -- comma-separated scope names
      host      TEXT,                 -- NULL: not bound to a host
      hash      BLOB    NOT NULL,     -- HMAC-SHA256 of the secret under the server's token key
      created   INTEGER NOT NULL,     -- microseconds since the Unix epoch, UTC
      last_used INTEGER,
      revoked   INTEGER
    );
    CREATE UNIQUE INDEX tokens_in_force_by_name ON tokens (name) WHERE revoked IS NULL;
    )sql",
    // 4: the action queue (Store::LeaseActions): actions planned for hosts with an agent, leased
    // by that agent and reported back. Rows are never deleted (the audit log names their ids).
    R"sql(
    CREATE TABLE action_queue (
      id             INTEGER PRIMARY KEY AUTOINCREMENT,
      host           TEXT    NOT NULL,
      cert           TEXT    NOT NULL,
      kind           TEXT    NOT NULL,
      parameters     TEXT    NOT NULL,     -- JSON
      decision_seq   INTEGER NOT NULL,     -- audit.seq of the decision
      needs_approval INTEGER NOT NULL,
      approved_by    TEXT    NOT NULL DEFAULT '',
      state          TEXT    NOT NULL,     -- queued, leased, done, failed, cancelled, expired
      created        INTEGER NOT NULL,     -- microseconds since the Unix epoch, UTC
      expires        INTEGER NOT NULL,
      lease_holder   TEXT    NOT NULL DEFAULT '',
      lease_id       TEXT    NOT NULL DEFAULT '',
      lease_expires  INTEGER,
      attempts       INTEGER NOT NULL DEFAULT 0,
      outcome        TEXT    NOT NULL DEFAULT '',
      finished       INTEGER
    );
    -- A lease looks up one host's open actions.
    CREATE INDEX action_queue_open_by_host ON action_queue (host, id)
      WHERE state IN ('queued', 'leased');
    )sql",
    // 5: incidents and silences (src/alert, docs/alerts.md). An incident's lineages and
    // notifications live in its JSON document; the columns are what the API filters and sorts on.
    // Silences are never deleted, so who silenced what and until when stays on record.
    R"sql(
    CREATE TABLE incidents (
      id        TEXT    PRIMARY KEY,
      cause_key TEXT    NOT NULL,
      severity  TEXT    NOT NULL,
      open      INTEGER NOT NULL,     -- 1 open, 0 resolved
      opened    INTEGER NOT NULL,     -- microseconds since the Unix epoch, UTC
      updated   INTEGER NOT NULL,
      resolved  INTEGER,
      document  TEXT    NOT NULL      -- JSON (src/alert/incident.h)
    );
    CREATE INDEX incidents_by_updated ON incidents (updated, id);
    CREATE INDEX incidents_open_by_cause ON incidents (cause_key) WHERE open = 1;

    CREATE TABLE silences (
      id         TEXT    PRIMARY KEY,
      matcher    TEXT    NOT NULL,    -- lineage | host | cause | label
      value      TEXT    NOT NULL,
      comment    TEXT    NOT NULL,
      created_by TEXT    NOT NULL,
      created    INTEGER NOT NULL,
      until      INTEGER NOT NULL,
      ended      INTEGER,
      ended_by   TEXT    NOT NULL DEFAULT ''
    );
    )sql",
    // 6: a lineage's own events (Store::SubjectEvents, GET /v1/lineages/{cert}) without a scan
    // of the whole table: the (ts, hash) key orders by time only. The index's entries end with
    // that key (WITHOUT ROWID), so one subject's rows are read newest first straight from it.
    // PostgreSQL has had the same index since its schema 1.
    R"sql(
    CREATE INDEX events_by_subject ON events (subject, ts);
    )sql",
};

constexpr int kSchemaVersion = static_cast<int>(kMigrations.size());

// RAII for a prepared statement; Step/Bind return Status with SQLite's message.
class Stmt {
 public:
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept {
    std::swap(db_, o.db_);
    std::swap(stmt_, o.stmt_);
    return *this;
  }
  ~Stmt() { sqlite3_finalize(stmt_); }

  static StatusOr<Stmt> Prepare(sqlite3* db, std::string_view sql) {
    Stmt s;
    s.db_ = db;
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                           SQLITE_PREPARE_PERSISTENT, &s.stmt_, nullptr) != SQLITE_OK) {
      return InternalError(StrCat("sqlite prepare: ", sqlite3_errmsg(db), " in: ", sql));
    }
    return s;
  }

  void BindInt(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void BindDouble(int i, double v) { sqlite3_bind_double(stmt_, i, v); }
  void BindText(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void BindBlob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }

  // Returns true while a row is available, false when done.
  StatusOr<bool> Step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Error(rc);
  }
  Status Run() {
    auto r = Step();
    if (!r.ok()) return r.status();
    return OkStatus();
  }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  sqlite3_stmt* raw() const { return stmt_; }
  double Double(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string_view Text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string_view(p, sqlite3_column_bytes(stmt_, col)) : std::string_view();
  }
  std::string_view Blob(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p ? std::string_view(p, sqlite3_column_bytes(stmt_, col)) : std::string_view();
  }

 private:
  Status Error(int rc) const {
    std::string msg = StrCat("sqlite: ", sqlite3_errmsg(db_));
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return UnavailableError(msg);
    if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) return DataLossError(msg);
    return InternalError(msg);
  }
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

std::string HexSha256(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * sizeof digest);
  for (unsigned char c : digest) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

class SqliteStore final : public Store,
                          public action_queue::FinishedActionImporter,
                          private action_queue::ActionRows {
 public:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  ~SqliteStore() override {
    for (const auto& [role, fd] : leader_files_) ::close(fd);
    // Statements must be finalized before the connection closes.
    insert_event_ = Stmt();
    select_event_json_ = Stmt();
    insert_append_ = Stmt();
    sqlite3_close_v2(db_);
  }

  Status Init(const std::string& path, const StoreOptions& options) {
    // An in-memory or URI store has no directory to keep a head file in.
    path_ = path;
    if (path != ":memory:" && !path.starts_with("file:")) head_path_ = AuditHeadPath(path);
    sqlite3_busy_timeout(db_, 10000);
    // 16 KiB pages: event rows (~200-400 bytes) sit inside the primary-key b-tree, and bigger
    // pages keep it shallow. Takes effect only on a new file.
    RETURN_IF_ERROR(Exec("PRAGMA page_size=16384"));
    RETURN_IF_ERROR(Exec("PRAGMA journal_mode=WAL"));
    // FULL: a batch reported committed survives power loss, not only kill -9.
    RETURN_IF_ERROR(Exec("PRAGMA synchronous=FULL"));
    RETURN_IF_ERROR(Exec("PRAGMA foreign_keys=ON"));
    RETURN_IF_ERROR(Exec(StrCat("PRAGMA cache_size=-", options.cache_bytes / 1024)));
    RETURN_IF_ERROR(Exec("PRAGMA temp_store=MEMORY"));
    ASSIGN_OR_RETURN(int version, UserVersion());
    if (version > kSchemaVersion) {
      return FailedPreconditionError(StrCat(
          path, ": store schema is version ", version, " but this certcast knows only up to ",
          kSchemaVersion, "; upgrade certcast (the store was written by a newer version)"));
    }
    for (int v = version; v < kSchemaVersion; ++v) {
      RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
      // Re-read inside the write lock: another process may have migrated meanwhile.
      ASSIGN_OR_RETURN(int now, UserVersion());
      if (now > v) {
        RETURN_IF_ERROR(Exec("COMMIT"));
        v = now - 1;
        continue;
      }
      Status s = Exec(kMigrations[v]);
      if (s.ok()) s = Exec(StrCat("PRAGMA user_version=", v + 1));
      if (!s.ok()) {
        Exec("ROLLBACK").IgnoreError();
        return s.WithPrefix(StrCat(path, ": migration to schema ", v + 1));
      }
      RETURN_IF_ERROR(Exec("COMMIT"));
    }
    ASSIGN_OR_RETURN(version_, UserVersion());
    ASSIGN_OR_RETURN(insert_event_,
                     Stmt::Prepare(db_, "INSERT OR IGNORE INTO events (hash, ts, type, subject, json) "
                                        "VALUES (?1, ?2, ?3, ?4, ?5)"));
    ASSIGN_OR_RETURN(select_event_json_,
                     Stmt::Prepare(db_, "SELECT json FROM events WHERE ts = ?2 AND hash = ?1"));
    ASSIGN_OR_RETURN(insert_append_,
                     Stmt::Prepare(db_, "INSERT INTO event_appends (min_ts) VALUES (?1)"));
    return OkStatus();
  }

  int SchemaVersion() const override { return version_; }

  // An flock, released by the kernel when the process dies (kill -9 included), like the
  // PostgreSQL store's session advisory lock. An in-memory store is alone: always the leader.
  StatusOr<Leadership> HoldLeadership(std::string_view role) {
    const std::string key(role);
    if (head_path_.empty() || leader_files_.contains(key)) {
      const bool changed = !memory_leader_.contains(key);
      memory_leader_.insert(key);
      return Leadership{.held = true, .changed = changed};
    }
    const std::string path = StrCat(path_, "-leader-", role);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return UnavailableError(StrCat(path, ": cannot open: ", std::strerror(errno)));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      ::close(fd);
      if (error == EWOULDBLOCK) return Leadership{.held = false, .changed = false};
      return UnavailableError(StrCat(path, ": cannot lock: ", std::strerror(error)));
    }
    leader_files_.emplace(key, fd);
    memory_leader_.insert(key);
    return Leadership{.held = true, .changed = true};
  }

  StatusOr<AppendResult> AppendEvents(std::span<const Event> events) override {
    AppendResult result;
    if (events.empty()) return result;
    RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    Status s = AppendInTransaction(events, result);
    if (!s.ok()) {
      Exec("ROLLBACK").IgnoreError();
      return s;
    }
    RETURN_IF_ERROR(Exec("COMMIT"));
    return result;
  }

  Status ScanEvents(const EventFilter& filter,
                    const std::function<Status(const Event&)>& fn) override {
    std::string sql = "SELECT json, ts, hash FROM events WHERE 1";
    if (!filter.subjects.empty()) {
      sql += " AND subject IN (";
      for (size_t i = 0; i < filter.subjects.size(); ++i) sql += i ? ",?" : "?";
      sql += ")";
    }
    if (filter.type) sql += " AND type = ?";
    if (filter.since) sql += " AND ts >= ?";
    if (filter.until) sql += " AND ts < ?";
    sql += " ORDER BY ts, hash";
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, sql));
    int i = 1;
    for (const auto& subject : filter.subjects) stmt.BindText(i++, subject);
    if (filter.type) stmt.BindInt(i++, static_cast<int>(*filter.type));
    if (filter.since) stmt.BindInt(i++, absl::ToUnixMicros(*filter.since));
    if (filter.until) stmt.BindInt(i++, absl::ToUnixMicros(*filter.until));
    EventParser parser;
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      auto event = parser.Parse(stmt.Text(0));
      if (!event.ok()) {
        NoteUnreadable(stmt.Int(1), stmt.Int(2), event.status().message());
        continue;
      }
      RETURN_IF_ERROR(fn(*event));
    }
    return OkStatus();
  }

  StatusOr<SubjectEventsPage> SubjectEvents(const std::string& subject, int64_t limit,
                                            std::optional<EventCursor> before) override {
    if (limit < 1) return InvalidArgumentError(StrCat("subject events: limit ", limit, " < 1"));
    // `ts <= ?2` bounds the index range; the OR drops the rows at ?2 not older than the cursor.
    ASSIGN_OR_RETURN(
        Stmt stmt,
        Stmt::Prepare(db_, StrCat("SELECT json, ts, hash FROM events WHERE subject = ?1",
                                  before ? " AND ts <= ?2 AND (ts < ?2 OR hash < ?3)" : "",
                                  " ORDER BY ts DESC, hash DESC LIMIT ?4")));
    stmt.BindText(1, subject);
    if (before) {
      stmt.BindInt(2, before->ts_micros);
      stmt.BindInt(3, before->hash);
    }
    // One row more than the page tells whether another page follows.
    stmt.BindInt(4, limit + 1);
    SubjectEventsPage page;
    EventParser parser;
    int64_t rows = 0;
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      if (++rows > limit) break;
      const EventCursor key{stmt.Int(1), stmt.Int(2)};
      page.next = key;
      auto event = parser.Parse(stmt.Text(0));
      if (!event.ok()) {
        NoteUnreadable(key.ts_micros, key.hash, event.status().message());
        continue;
      }
      page.events.push_back(std::move(*event));
    }
    if (rows <= limit) page.next.reset();
    return page;
  }

  UnreadableEvents unreadable_events() const override { return unreadable_; }

  void NoteUnreadable(int64_t ts, int64_t hash, std::string_view reason) {
    if (!unreadable_keys_.insert({ts, hash}).second) return;  // met in an earlier scan
    ++unreadable_.count;
    if (unreadable_.first.size() < UnreadableEvents::kMaxListed) {
      unreadable_.first.push_back({ts, hash, std::string(reason)});
    }
  }

  StatusOr<int64_t> CountEvents() override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "SELECT count(*) FROM events"));
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? stmt.Int(0) : 0;
  }

  StatusOr<int64_t> PutModel(const StoredModel& model) override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "INSERT INTO models (created, name, metadata, "
                                                   "blob) VALUES (?1, ?2, ?3, ?4)"));
    stmt.BindInt(1, absl::ToUnixMicros(model.created));
    stmt.BindText(2, model.name);
    stmt.BindText(3, model.metadata_json);
    stmt.BindBlob(4, model.blob);
    RETURN_IF_ERROR(stmt.Run());
    return sqlite3_last_insert_rowid(db_);
  }

  StatusOr<std::optional<StoredModel>> LatestModel(const std::string& name) override {
    ASSIGN_OR_RETURN(Stmt stmt,
                     Stmt::Prepare(db_, "SELECT id, created, name, metadata, blob FROM models "
                                        "WHERE name = ?1 ORDER BY id DESC LIMIT 1"));
    stmt.BindText(1, name);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<StoredModel>();
    StoredModel m;
    m.id = stmt.Int(0);
    m.created = absl::FromUnixMicros(stmt.Int(1));
    m.name = stmt.Text(2);
    m.metadata_json = stmt.Text(3);
    m.blob = stmt.Blob(4);
    return std::optional<StoredModel>(std::move(m));
  }

  StatusOr<std::vector<StoredModel>> ListModels() override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "SELECT id, created, name, metadata FROM models "
                                                   "ORDER BY id DESC"));
    std::vector<StoredModel> models;
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      StoredModel m;
      m.id = stmt.Int(0);
      m.created = absl::FromUnixMicros(stmt.Int(1));
      m.name = stmt.Text(2);
      m.metadata_json = stmt.Text(3);
      models.push_back(std::move(m));
    }
    return models;
  }

  StatusOr<AuditRecord> AppendAudit(absl::Time at, const std::string& kind,
                                    const std::string& record_json) override {
    StoreCommit commit;
    commit.audit.push_back({at, kind, record_json});
    ASSIGN_OR_RETURN(std::vector<AuditRecord> records, Commit(commit));
    return std::move(records.front());
  }

  StatusOr<std::vector<AuditRecord>> AppendAudits(std::span<const AuditEntry> entries) override {
    StoreCommit commit;
    commit.audit.assign(entries.begin(), entries.end());
    return Commit(commit);
  }

  StatusOr<std::vector<AuditRecord>> Commit(const StoreCommit& commit) override {
    std::vector<AuditRecord> records;
    if (commit.state.empty() && commit.checkpoints.empty() && commit.audit.empty() &&
        commit.actions.empty() && commit.incidents.empty()) {
      return records;
    }
    RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    Status s = OkStatus();
    for (const auto& [key, value] : commit.state) {
      if (s.ok()) s = PutState(key, value);
    }
    for (const auto& [key, value] : commit.checkpoints) {
      if (s.ok()) s = PutCheckpoint(key, value);
    }
    if (s.ok()) s = PutIncidentsInTransaction(commit.incidents);
    for (const AuditEntry& e : commit.audit) {
      if (!s.ok()) break;
      auto r = AppendAuditInTransaction(e.at, e.kind, e.record_json);
      if (!r.ok()) {
        s = r.status().WithPrefix("audit append");
        break;
      }
      records.push_back(std::move(*r));
    }
    for (const NewQueuedAction& a : commit.actions) {
      if (!s.ok()) break;
      if (a.decision_audit_index < 0 || a.decision_audit_index >= static_cast<int>(records.size())) {
        s = InvalidArgumentError(StrCat("queued action for ", a.cert, ": decision_audit_index ",
                                        a.decision_audit_index, " names no audit record of this commit"));
        break;
      }
      auto queued = action_queue::Queue(*this, a, records[a.decision_audit_index]);
      if (!queued.ok()) {
        s = queued.status().WithPrefix("queue action");
        break;
      }
      for (AuditRecord& r : *queued) records.push_back(std::move(r));
    }
    if (s.ok()) s = Exec("COMMIT");
    if (!s.ok()) {
      Exec("ROLLBACK").IgnoreError();
      return s;
    }
    if (!records.empty()) WriteAuditHead(records.back());
    return records;
  }

  StatusOr<std::optional<AuditHead>> ReadAuditHead() override {
    if (head_path_.empty()) return std::optional<AuditHead>();
    auto text = ReadFileNoFollow(head_path_, 4096);
    if (!text.ok()) {
      if (text.status().code() == StatusCode::kNotFound) return std::optional<AuditHead>();
      return text.status();
    }
    ASSIGN_OR_RETURN(AuditHead head, ParseAuditHead(*text, head_path_));
    return std::optional<AuditHead>(std::move(head));
  }

  Status ScanAudit(const std::function<Status(const AuditRecord&)>& fn) override {
    return ScanAuditAfter(std::numeric_limits<int64_t>::min(), fn);
  }

  Status ScanAuditAfter(int64_t after_seq,
                        const std::function<Status(const AuditRecord&)>& fn) override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "SELECT seq, at, kind, record, prev_hash, "
                                                   "hash FROM audit WHERE seq > ?1 ORDER BY seq"));
    stmt.BindInt(1, after_seq);
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      AuditRecord r;
      r.seq = stmt.Int(0);
      r.at = absl::FromUnixMicros(stmt.Int(1));
      r.kind = stmt.Text(2);
      r.record_json = stmt.Text(3);
      r.prev_hash = stmt.Text(4);
      r.hash = stmt.Text(5);
      RETURN_IF_ERROR(fn(r));
    }
    return OkStatus();
  }

  // The action queue: action_queue_moves.h makes the moves through the ActionRows below, in one
  // BEGIN IMMEDIATE transaction each (SQLite's one writer: the rows read are held already).
  StatusOr<std::vector<QueuedAction>> LeaseActions(const std::string& host, int max,
                                                   absl::Duration lease,
                                                   const ActionActor& actor) override {
    return InTransaction<std::vector<QueuedAction>>(
        [&] { return action_queue::Lease(*this, host, max, lease, actor); });
  }

  StatusOr<ReportedAction> ReportActionOutcome(int64_t id, const std::string& host,
                                               const std::string& lease_id,
                                               const ActionOutcome& outcome,
                                               const ActionActor& actor) override {
    return InTransaction<ReportedAction>(
        [&] { return action_queue::Report(*this, id, host, lease_id, outcome, actor); });
  }

  StatusOr<ReportedAction> ApproveAction(int64_t id, const ActionActor& actor) override {
    return InTransaction<ReportedAction>([&] { return action_queue::Approve(*this, id, actor); });
  }

  StatusOr<ReportedAction> CancelAction(int64_t id, const ActionActor& actor) override {
    return InTransaction<ReportedAction>([&] { return action_queue::Cancel(*this, id, actor); });
  }

  StatusOr<std::vector<QueuedAction>> ListActions(const ActionFilter& filter) override {
    std::string sql = StrCat(kActionColumns, " WHERE id > ?1");
    if (filter.host) sql += " AND host = ?2";
    if (filter.state) sql += " AND state = ?3";
    sql += " ORDER BY id LIMIT ?4";
    const std::string state = filter.state ? std::string(ToString(*filter.state)) : "";
    return SelectActions(sql, [&](Stmt& stmt) {
      stmt.BindInt(1, filter.after_id);
      if (filter.host) stmt.BindText(2, *filter.host);
      if (filter.state) stmt.BindText(3, state);
      stmt.BindInt(4, filter.limit);
    });
  }

  Status ImportFinishedActions(std::span<const QueuedAction> actions, bool keep_ids) override {
    RETURN_IF_ERROR(action_queue::CheckFinished(actions));
    if (actions.empty()) return OkStatus();
    RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    Status s = [&]() -> Status {
      // ?1 unbound (NULL) gives a new id; unbound ?14 and ?17 store no lease expiry, no finish.
      ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "INSERT INTO action_queue (id, host, cert, "
                                                     "kind, parameters, decision_seq, "
                                                     "needs_approval, approved_by, state, created, "
                                                     "expires, lease_holder, lease_id, "
                                                     "lease_expires, attempts, outcome, finished) "
                                                     "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,"
                                                     "?12,?13,?14,?15,?16,?17)"));
      for (const QueuedAction& a : actions) {
        if (keep_ids) {
          ASSIGN_OR_RETURN(std::optional<QueuedAction> existing, GetAction(a.id));
          if (existing) return AlreadyExistsError(StrCat("action ", a.id, " exists already"));
          stmt.BindInt(1, a.id);
        }
        const std::string state(ToString(a.state));
        stmt.BindText(2, a.host);
        stmt.BindText(3, a.cert);
        stmt.BindText(4, a.kind);
        stmt.BindText(5, a.parameters_json);
        stmt.BindInt(6, a.decision_seq);
        stmt.BindInt(7, a.needs_approval ? 1 : 0);
        stmt.BindText(8, a.approved_by);
        stmt.BindText(9, state);
        stmt.BindInt(10, absl::ToUnixMicros(a.created));
        stmt.BindInt(11, absl::ToUnixMicros(a.expires));
        stmt.BindText(12, a.lease_holder);
        stmt.BindText(13, a.lease_id);
        if (a.lease_expires) stmt.BindInt(14, absl::ToUnixMicros(*a.lease_expires));
        stmt.BindInt(15, a.attempts);
        stmt.BindText(16, a.outcome_json);
        if (a.finished) stmt.BindInt(17, absl::ToUnixMicros(*a.finished));
        RETURN_IF_ERROR(stmt.Run().WithPrefix(StrCat("action ", a.id)));
        stmt.Reset();
      }
      return OkStatus();
    }();
    if (s.ok()) s = Exec("COMMIT");
    if (!s.ok()) Exec("ROLLBACK").IgnoreError();
    return s;
  }

  StatusOr<std::optional<QueuedAction>> GetAction(int64_t id) override {
    ASSIGN_OR_RETURN(std::vector<QueuedAction> found,
                     SelectActions(StrCat(kActionColumns, " WHERE id = ?1"),
                                   [&](Stmt& stmt) { stmt.BindInt(1, id); }));
    if (found.empty()) return std::optional<QueuedAction>();
    return std::optional<QueuedAction>(std::move(found.front()));
  }

  Status PutState(const std::string& key, const std::string& value) override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "INSERT INTO state (key, value) VALUES (?1, ?2) "
                                                   "ON CONFLICT(key) DO UPDATE SET value = ?2"));
    stmt.BindText(1, key);
    stmt.BindText(2, value);
    return stmt.Run();
  }

  StatusOr<EventAppends> EventAppendsSince(int64_t after_seq) override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "SELECT (SELECT max(seq) FROM event_appends), "
                                                   "(SELECT min(min_ts) FROM event_appends WHERE "
                                                   "seq > ?1)"));
    stmt.BindInt(1, after_seq);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    EventAppends out;
    if (!row) return out;
    out.last_seq = stmt.Int(0);  // NULL (no append yet) reads as 0
    if (sqlite3_column_type(stmt.raw(), 1) != SQLITE_NULL) {
      out.earliest_ts = absl::FromUnixMicros(stmt.Int(1));
    }
    return out;
  }

  Status PutCheckpoint(const std::string& key, std::string_view value) override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "INSERT INTO checkpoints (key, value) VALUES "
                                                   "(?1, ?2) ON CONFLICT(key) DO UPDATE SET "
                                                   "value = ?2"));
    stmt.BindText(1, key);
    stmt.BindBlob(2, value);
    return stmt.Run().WithPrefix(StrCat("checkpoint ", key));
  }

  StatusOr<std::optional<std::string>> GetCheckpoint(const std::string& key) override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "SELECT value FROM checkpoints WHERE key = ?1"));
    stmt.BindText(1, key);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(std::string(stmt.Blob(0)));
  }

  Status DeleteCheckpoint(const std::string& key) override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "DELETE FROM checkpoints WHERE key = ?1"));
    stmt.BindText(1, key);
    return stmt.Run();
  }

  Status CreateToken(const TokenRecord& token) override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "INSERT INTO tokens (id, name, scopes, host, "
                                                   "hash, created) VALUES (?1,?2,?3,?4,?5,?6)"));
    stmt.BindText(1, token.id);
    stmt.BindText(2, token.name);
    const std::string scopes = StrJoin(token.scopes, ",");
    stmt.BindText(3, scopes);
    if (token.host) stmt.BindText(4, *token.host);
    stmt.BindBlob(5, token.hash);
    stmt.BindInt(6, absl::ToUnixMicros(token.created));
    Status s = stmt.Run();
    if (!s.ok() && sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_UNIQUE) {
      return AlreadyExistsError(StrCat("a token named \"", token.name, "\" exists; revoke it "
                                       "first or choose another name"));
    }
    if (!s.ok() && sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return AlreadyExistsError(StrCat("token id ", token.id, " exists"));
    }
    return s;
  }

  StatusOr<std::optional<TokenRecord>> FindToken(const std::string& id) override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, StrCat(kTokenColumns, " WHERE id = ?1")));
    stmt.BindText(1, id);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<TokenRecord>();
    return std::optional<TokenRecord>(ReadToken(stmt));
  }

  StatusOr<std::vector<TokenRecord>> ListTokens() override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, StrCat(kTokenColumns, " ORDER BY created, name")));
    std::vector<TokenRecord> tokens;
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      tokens.push_back(ReadToken(stmt));
    }
    return tokens;
  }

  Status RevokeToken(const std::string& name, absl::Time at) override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "UPDATE tokens SET revoked = ?2 WHERE name = ?1 "
                                                   "AND revoked IS NULL"));
    stmt.BindText(1, name);
    stmt.BindInt(2, absl::ToUnixMicros(at));
    RETURN_IF_ERROR(stmt.Run());
    if (sqlite3_changes(db_) == 0) {
      return NotFoundError(StrCat("no token named \"", name, "\" in force (see `certcast token "
                                  "list`)"));
    }
    return OkStatus();
  }

  Status TouchTokens(std::span<const std::pair<std::string, absl::Time>> id_and_time) override {
    if (id_and_time.empty()) return OkStatus();
    RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    Status s = [&]() -> Status {
      ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "UPDATE tokens SET last_used = ?2 WHERE id = "
                                                     "?1 AND (last_used IS NULL OR last_used < ?2)"));
      for (const auto& [id, at] : id_and_time) {
        stmt.Reset();
        stmt.BindText(1, id);
        stmt.BindInt(2, absl::ToUnixMicros(at));
        RETURN_IF_ERROR(stmt.Run());
      }
      return OkStatus();
    }();
    if (!s.ok()) {
      Exec("ROLLBACK").IgnoreError();
      return s;
    }
    return Exec("COMMIT");
  }

  Status PutIncidents(std::span<const IncidentRecord> incidents) override {
    if (incidents.empty()) return OkStatus();
    RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    Status s = PutIncidentsInTransaction(incidents);
    if (s.ok()) s = Exec("COMMIT");
    if (!s.ok()) Exec("ROLLBACK").IgnoreError();
    return s;
  }

  StatusOr<std::optional<IncidentRecord>> GetIncident(const std::string& id) override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, StrCat(kIncidentColumns, " WHERE id = ?1")));
    stmt.BindText(1, id);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<IncidentRecord>();
    return std::optional<IncidentRecord>(ReadIncident(stmt));
  }

  StatusOr<std::vector<IncidentRecord>> ListIncidents(const IncidentFilter& filter) override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, StrCat(kIncidentColumns,
                                                          " WHERE (?1 IS NULL OR open = ?1) "
                                                          "ORDER BY updated DESC, id LIMIT ?2")));
    if (filter.open) stmt.BindInt(1, *filter.open ? 1 : 0);
    stmt.BindInt(2, std::max<int64_t>(0, filter.limit));
    std::vector<IncidentRecord> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      out.push_back(ReadIncident(stmt));
    }
    return out;
  }

  Status CreateSilence(const SilenceRecord& silence) override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "INSERT INTO silences (id, matcher, value, "
                                                   "comment, created_by, created, until, ended, "
                                                   "ended_by) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)"));
    stmt.BindText(1, silence.id);
    stmt.BindText(2, silence.matcher);
    stmt.BindText(3, silence.value);
    stmt.BindText(4, silence.comment);
    stmt.BindText(5, silence.created_by);
    stmt.BindInt(6, absl::ToUnixMicros(silence.created));
    stmt.BindInt(7, absl::ToUnixMicros(silence.until));
    if (silence.ended) stmt.BindInt(8, absl::ToUnixMicros(*silence.ended));
    stmt.BindText(9, silence.ended_by);
    Status s = stmt.Run();
    if (!s.ok() && sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return AlreadyExistsError(StrCat("silence id ", silence.id, " exists"));
    }
    return s;
  }

  StatusOr<std::vector<SilenceRecord>> ListSilences() override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "SELECT id, matcher, value, comment, created_by, "
                                                   "created, until, ended, ended_by FROM silences "
                                                   "ORDER BY created, id"));
    std::vector<SilenceRecord> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      SilenceRecord r;
      r.id = stmt.Text(0);
      r.matcher = stmt.Text(1);
      r.value = stmt.Text(2);
      r.comment = stmt.Text(3);
      r.created_by = stmt.Text(4);
      r.created = absl::FromUnixMicros(stmt.Int(5));
      r.until = absl::FromUnixMicros(stmt.Int(6));
      if (sqlite3_column_type(stmt.raw(), 7) != SQLITE_NULL) r.ended = absl::FromUnixMicros(stmt.Int(7));
      r.ended_by = stmt.Text(8);
      out.push_back(std::move(r));
    }
    return out;
  }

  Status EndSilence(const std::string& id, absl::Time at, const std::string& by) override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "UPDATE silences SET ended = ?2, ended_by = ?3 "
                                                   "WHERE id = ?1 AND ended IS NULL AND "
                                                   "created <= ?2 AND ?2 < until"));
    stmt.BindText(1, id);
    stmt.BindInt(2, absl::ToUnixMicros(at));
    stmt.BindText(3, by);
    RETURN_IF_ERROR(stmt.Run());
    if (sqlite3_changes(db_) == 0) {
      return NotFoundError(StrCat("no silence \"", id, "\" in force (certcast silence list, GET /v1/silences)"));
    }
    return OkStatus();
  }

  StatusOr<std::optional<std::string>> GetState(const std::string& key) override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "SELECT value FROM state WHERE key = ?1"));
    stmt.BindText(1, key);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(std::string(stmt.Text(0)));
  }

  StatusOr<std::vector<std::pair<std::string, std::string>>> ListState() {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "SELECT key, value FROM state ORDER BY key"));
    std::vector<std::pair<std::string, std::string>> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      out.emplace_back(stmt.Text(0), stmt.Text(1));
    }
    return out;
  }

 private:
  static constexpr const char* kActionColumns =
      "SELECT id, host, cert, kind, parameters, decision_seq, needs_approval, approved_by, state, "
      "created, expires, lease_holder, lease_id, lease_expires, attempts, outcome, finished "
      "FROM action_queue";

  StatusOr<std::vector<QueuedAction>> SelectActions(const std::string& sql,
                                                    const std::function<void(Stmt&)>& bind) {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, sql));
    bind(stmt);
    std::vector<QueuedAction> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      QueuedAction a;
      a.id = stmt.Int(0);
      a.host = stmt.Text(1);
      a.cert = stmt.Text(2);
      a.kind = stmt.Text(3);
      a.parameters_json = stmt.Text(4);
      a.decision_seq = stmt.Int(5);
      a.needs_approval = stmt.Int(6) != 0;
      a.approved_by = stmt.Text(7);
      const std::optional<ActionState> state = ActionStateFromString(stmt.Text(8));
      if (!state) {
        return DataLossError(StrCat("action_queue row ", a.id, ": unknown state \"", stmt.Text(8), "\""));
      }
      a.state = *state;
      a.created = absl::FromUnixMicros(stmt.Int(9));
      a.expires = absl::FromUnixMicros(stmt.Int(10));
      a.lease_holder = stmt.Text(11);
      a.lease_id = stmt.Text(12);
      if (sqlite3_column_type(stmt.raw(), 13) != SQLITE_NULL) a.lease_expires = absl::FromUnixMicros(stmt.Int(13));
      a.attempts = static_cast<int>(stmt.Int(14));
      a.outcome_json = stmt.Text(15);
      if (sqlite3_column_type(stmt.raw(), 16) != SQLITE_NULL) a.finished = absl::FromUnixMicros(stmt.Int(16));
      out.push_back(std::move(a));
    }
    return out;
  }

  // Runs `body` in one write transaction; commits when it succeeds, rolls back otherwise, and
  // writes the audit head after a commit that appended audit records.
  template <typename T>
  StatusOr<T> InTransaction(const std::function<StatusOr<T>()>& body) {
    RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    last_audit_in_transaction_.reset();
    StatusOr<T> result = body();
    Status s = result.ok() ? Exec("COMMIT") : result.status();
    if (!s.ok()) {
      Exec("ROLLBACK").IgnoreError();
      last_audit_in_transaction_.reset();
      return s;
    }
    if (last_audit_in_transaction_) WriteAuditHead(*last_audit_in_transaction_);
    last_audit_in_transaction_.reset();
    return result;
  }

  // action_queue::ActionRows, inside the transaction InTransaction or Commit opened.
  StatusOr<std::vector<QueuedAction>> LockLeasable(const std::string& host, absl::Time) override {
    return SelectActions(StrCat(kActionColumns, " WHERE host = ?1 AND state IN ('queued', "
                                                "'leased') ORDER BY id"),
                         [&](Stmt& stmt) { stmt.BindText(1, host); });
  }

  StatusOr<std::optional<QueuedAction>> LockAction(int64_t id) override { return GetAction(id); }

  StatusOr<std::vector<QueuedAction>> OpenLike(const NewQueuedAction& a) override {
    return SelectActions(StrCat(kActionColumns, " WHERE host = ?1 AND cert = ?2 AND kind = ?3 AND "
                                                "state IN ('queued', 'leased') ORDER BY id"),
                         [&](Stmt& stmt) {
                           stmt.BindText(1, a.host);
                           stmt.BindText(2, a.cert);
                           stmt.BindText(3, a.kind);
                         });
  }

  Status WriteLease(const QueuedAction& a) override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "UPDATE action_queue SET state = 'leased', "
                                                   "attempts = ?2, lease_id = ?3, lease_holder = "
                                                   "?4, lease_expires = ?5 WHERE id = ?1"));
    stmt.BindInt(1, a.id);
    stmt.BindInt(2, a.attempts);
    stmt.BindText(3, a.lease_id);
    stmt.BindText(4, a.lease_holder);
    stmt.BindInt(5, absl::ToUnixMicros(*a.lease_expires));
    return stmt.Run();
  }

  Status WriteEnd(const QueuedAction& a) override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "UPDATE action_queue SET state = ?2, outcome = "
                                                   "?3, finished = ?4 WHERE id = ?1"));
    const std::string name(ToString(a.state));
    stmt.BindInt(1, a.id);
    stmt.BindText(2, name);
    stmt.BindText(3, a.outcome_json);
    stmt.BindInt(4, absl::ToUnixMicros(*a.finished));
    return stmt.Run();
  }

  Status WriteApproval(const QueuedAction& a) override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "UPDATE action_queue SET approved_by = ?2 "
                                                   "WHERE id = ?1"));
    stmt.BindInt(1, a.id);
    stmt.BindText(2, a.approved_by);
    return stmt.Run();
  }

  StatusOr<int64_t> InsertQueued(const NewQueuedAction& a, const AuditRecord& decision) override {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "INSERT INTO action_queue (host, cert, kind, "
                                                   "parameters, decision_seq, needs_approval, state, "
                                                   "created, expires) VALUES (?1,?2,?3,?4,?5,?6,"
                                                   "'queued',?7,?8)"));
    stmt.BindText(1, a.host);
    stmt.BindText(2, a.cert);
    stmt.BindText(3, a.kind);
    stmt.BindText(4, a.parameters_json);
    stmt.BindInt(5, decision.seq);
    stmt.BindInt(6, a.needs_approval ? 1 : 0);
    stmt.BindInt(7, absl::ToUnixMicros(decision.at));
    stmt.BindInt(8, absl::ToUnixMicros(a.expires));
    RETURN_IF_ERROR(stmt.Run());
    return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
  }

  // Remembers the record: InTransaction writes the head file after the commit.
  StatusOr<AuditRecord> AuditInTransaction(absl::Time at, const std::string& kind,
                                           const std::string& record_json) override {
    ASSIGN_OR_RETURN(AuditRecord r, AppendAuditInTransaction(at, kind, record_json));
    last_audit_in_transaction_ = r;
    return r;
  }


  // Best effort after the commit (see Store::ReadAuditHead): the records are stored whatever
  // happens here, and a head left behind is reported by verification, not as tampering.
  void WriteAuditHead(const AuditRecord& last) {
    if (head_path_.empty()) return;
    WriteFileAtomically(head_path_, StrCat("certcast-audit-head 1 ", last.seq, " ", last.hash, "\n"),
                        0600)
        .IgnoreError();
  }

  Status Exec(std::string_view sql) {
    char* err = nullptr;
    const std::string owned(sql);
    if (sqlite3_exec(db_, owned.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errmsg(db_);
      sqlite3_free(err);
      const int rc = sqlite3_errcode(db_);
      if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return UnavailableError("sqlite: " + msg);
      if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) return DataLossError("sqlite: " + msg);
      return InternalError("sqlite: " + msg);
    }
    return OkStatus();
  }

  StatusOr<int> UserVersion() {
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "PRAGMA user_version"));
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row ? static_cast<int>(stmt.Int(0)) : 0;
  }

  // Inside a transaction the caller holds (PutIncidents, Commit).
  Status PutIncidentsInTransaction(std::span<const IncidentRecord> incidents) {
    if (incidents.empty()) return OkStatus();
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "INSERT INTO incidents (id, cause_key, severity, "
                                                   "open, opened, updated, resolved, document) "
                                                   "VALUES (?1,?2,?3,?4,?5,?6,?7,?8) ON "
                                                   "CONFLICT(id) DO UPDATE SET cause_key = ?2, "
                                                   "severity = ?3, open = ?4, opened = ?5, "
                                                   "updated = ?6, resolved = ?7, document = ?8"));
    for (const IncidentRecord& r : incidents) {
      stmt.Reset();
      stmt.BindText(1, r.id);
      stmt.BindText(2, r.cause_key);
      stmt.BindText(3, r.severity);
      stmt.BindInt(4, r.open ? 1 : 0);
      stmt.BindInt(5, absl::ToUnixMicros(r.opened));
      stmt.BindInt(6, absl::ToUnixMicros(r.updated));
      if (r.resolved) stmt.BindInt(7, absl::ToUnixMicros(*r.resolved));
      stmt.BindText(8, r.document_json);
      RETURN_IF_ERROR(stmt.Run().WithPrefix(StrCat("incident ", r.id)));
    }
    return OkStatus();
  }

  static constexpr const char* kIncidentColumns =
      "SELECT id, cause_key, severity, open, opened, updated, resolved, document FROM incidents";

  static IncidentRecord ReadIncident(const Stmt& stmt) {
    IncidentRecord r;
    r.id = stmt.Text(0);
    r.cause_key = stmt.Text(1);
    r.severity = stmt.Text(2);
    r.open = stmt.Int(3) != 0;
    r.opened = absl::FromUnixMicros(stmt.Int(4));
    r.updated = absl::FromUnixMicros(stmt.Int(5));
    if (sqlite3_column_type(stmt.raw(), 6) != SQLITE_NULL) r.resolved = absl::FromUnixMicros(stmt.Int(6));
    r.document_json = stmt.Text(7);
    return r;
  }

  static constexpr const char* kTokenColumns =
      "SELECT id, name, scopes, host, hash, created, last_used, revoked FROM tokens";

  static TokenRecord ReadToken(const Stmt& stmt) {
    TokenRecord t;
    t.id = stmt.Text(0);
    t.name = stmt.Text(1);
    const std::string_view scopes = stmt.Text(2);
    for (size_t pos = 0; pos < scopes.size();) {
      size_t comma = scopes.find(',', pos);
      if (comma == std::string_view::npos) comma = scopes.size();
      if (comma > pos) t.scopes.emplace_back(scopes.substr(pos, comma - pos));
      pos = comma + 1;
    }
    if (sqlite3_column_type(stmt.raw(), 3) != SQLITE_NULL) t.host = std::string(stmt.Text(3));
    t.hash = stmt.Blob(4);
    t.created = absl::FromUnixMicros(stmt.Int(5));
    if (sqlite3_column_type(stmt.raw(), 6) != SQLITE_NULL) t.last_used = absl::FromUnixMicros(stmt.Int(6));
    if (sqlite3_column_type(stmt.raw(), 7) != SQLITE_NULL) t.revoked = absl::FromUnixMicros(stmt.Int(7));
    return t;
  }

  Status AppendInTransaction(std::span<const Event> events, AppendResult& result) {
    std::string json;
    std::optional<absl::Time> earliest_inserted;
    for (const Event& e : events) {
      json.clear();
      AppendEventJson(e, json);
      int64_t id = static_cast<int64_t>(XXH3_64bits(json.data(), json.size()));
      // Linear probing on hash collision; terminates because each step either inserts, finds
      // the identical event, or moves to the next id.
      while (true) {
        insert_event_.Reset();
        insert_event_.BindInt(1, id);
        insert_event_.BindInt(2, absl::ToUnixMicros(e.ts));
        insert_event_.BindInt(3, static_cast<int>(e.type()));
        insert_event_.BindText(4, EventSubject(e));
        insert_event_.BindText(5, json);
        RETURN_IF_ERROR(insert_event_.Run());
        if (sqlite3_changes(db_) == 1) {
          ++result.inserted;
          if (!earliest_inserted || e.ts < *earliest_inserted) earliest_inserted = e.ts;
          break;
        }
        select_event_json_.Reset();
        select_event_json_.BindInt(1, id);
        select_event_json_.BindInt(2, absl::ToUnixMicros(e.ts));
        ASSIGN_OR_RETURN(bool row, select_event_json_.Step());
        if (row && select_event_json_.Text(0) == json) {
          ++result.duplicates;
          break;
        }
        ++id;
      }
    }
    insert_event_.Reset();
    select_event_json_.Reset();
    // Duplicates change nothing derived from events, so only an append that stored one is logged.
    if (earliest_inserted) {
      insert_append_.Reset();
      insert_append_.BindInt(1, absl::ToUnixMicros(*earliest_inserted));
      RETURN_IF_ERROR(insert_append_.Run());
      insert_append_.Reset();
    }
    return OkStatus();
  }

  StatusOr<AuditRecord> AppendAuditInTransaction(absl::Time at, const std::string& kind,
                                                 const std::string& record_json) {
    AuditRecord r;
    r.at = at;
    r.kind = kind;
    r.record_json = record_json;
    {
      ASSIGN_OR_RETURN(Stmt last, Stmt::Prepare(db_, "SELECT seq, hash FROM audit ORDER BY seq "
                                                     "DESC LIMIT 1"));
      ASSIGN_OR_RETURN(bool row, last.Step());
      r.seq = row ? last.Int(0) + 1 : 1;
      r.prev_hash = row ? std::string(last.Text(1)) : std::string();
    }
    r.hash = AuditHash(r);
    ASSIGN_OR_RETURN(Stmt stmt, Stmt::Prepare(db_, "INSERT INTO audit (seq, at, kind, record, "
                                                   "prev_hash, hash) VALUES (?1,?2,?3,?4,?5,?6)"));
    stmt.BindInt(1, r.seq);
    stmt.BindInt(2, absl::ToUnixMicros(r.at));
    stmt.BindText(3, r.kind);
    stmt.BindText(4, r.record_json);
    stmt.BindText(5, r.prev_hash);
    stmt.BindText(6, r.hash);
    RETURN_IF_ERROR(stmt.Run());
    return r;
  }

  sqlite3* db_;
  std::string path_;
  std::map<std::string, int> leader_files_;  // role -> locked file descriptor
  std::set<std::string> memory_leader_;      // roles reported held (Leadership::changed)
  std::string head_path_;  // "" = no head file (in-memory store)
  int version_ = 0;
  Stmt insert_event_;
  Stmt select_event_json_;
  Stmt insert_append_;
  UnreadableEvents unreadable_;
  std::optional<AuditRecord> last_audit_in_transaction_;  // newest audit record of InTransaction
  std::set<std::pair<int64_t, int64_t>> unreadable_keys_;  // (ts, hash) of every row counted
};

}  // namespace

std::string AuditHash(const AuditRecord& r) {
  // Length-prefixed fields so no two different records serialize to the same bytes.
  std::string material = StrCat(r.prev_hash.size(), ":", r.prev_hash, "|", r.seq, "|",
                                absl::ToUnixMicros(r.at), "|", r.kind.size(), ":", r.kind, "|",
                                r.record_json.size(), ":", r.record_json);
  return HexSha256(material);
}

std::string_view ToString(ActionState state) {
  switch (state) {
    case ActionState::kQueued: return "queued";
    case ActionState::kLeased: return "leased";
    case ActionState::kDone: return "done";
    case ActionState::kFailed: return "failed";
    case ActionState::kCancelled: return "cancelled";
    case ActionState::kExpired: return "expired";
  }
  return "?";
}

std::optional<ActionState> ActionStateFromString(std::string_view name) {
  for (ActionState s : {ActionState::kQueued, ActionState::kLeased, ActionState::kDone,
                        ActionState::kFailed, ActionState::kCancelled, ActionState::kExpired}) {
    if (ToString(s) == name) return s;
  }
  return std::nullopt;
}

std::string AuditHeadPath(const std::string& store_path) { return store_path + "-audit-head"; }

StatusOr<AuditHead> ParseAuditHead(std::string_view text, const std::string& path) {
  static constexpr std::string_view kMagic = "certcast-audit-head 1 ";
  auto bad = [&](std::string_view why) {
    return DataLossError(StrCat(path, ": not an audit chain head (", why, ")"));
  };
  if (!text.starts_with(kMagic)) return bad("expected \"certcast-audit-head 1 SEQ HASH\"");
  text.remove_prefix(kMagic.size());
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  const size_t space = text.find(' ');
  if (space == std::string_view::npos) return bad("no hash after the seq");
  const std::string_view seq = text.substr(0, space), hash = text.substr(space + 1);
  AuditHead head;
  if (seq.empty() || seq.size() > 18) return bad("seq is not a number");
  for (const char c : seq) {
    if (c < '0' || c > '9') return bad("seq is not a number");
    head.seq = head.seq * 10 + (c - '0');
  }
  if (head.seq < 1) return bad("seq is not positive");
  if (hash.size() != 64) return bad("hash is not 64 hex digits");
  for (const char c : hash) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return bad("hash is not 64 hex digits");
  }
  head.hash = std::string(hash);
  return head;
}

namespace {

// The store holds the audit log (argv, outcomes), planner memory, token hashes and whatever a
// collector or a client's output put in an event: readable by its owner only. Created 0600 here
// (SQLite would use 0644 less the umask); SQLite gives its -wal and -shm files the database
// file's mode. An existing store that others may read is tightened (the "other" bits removed
// from the file and its -wal/-shm); a store owned by someone else is left as it is.
Status MakeStorePrivate(const std::string& path, bool exists) {
  if (!exists) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ::close(fd);
      return OkStatus();
    }
    if (errno == EEXIST) return OkStatus();  // created meanwhile by another process
    return UnavailableError(StrCat(path, ": cannot create store: ", std::strerror(errno)));
  }
  for (const std::string& file : {path, path + "-wal", path + "-shm"}) {
    struct stat st = {};
    if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if ((st.st_mode & S_IRWXO) != 0 && st.st_uid == ::geteuid()) {
      ::chmod(file.c_str(), st.st_mode & 07770);
    }
  }
  return OkStatus();
}

}  // namespace

std::string DescribeUnreadable(const UnreadableEvents& unreadable) {
  if (unreadable.count == 0) return "";
  std::vector<std::string> rows;
  for (const UnreadableEvent& u : unreadable.first) {
    rows.push_back(StrCat("ts=", u.ts_micros, " (", FormatRfc3339(absl::FromUnixMicros(u.ts_micros)),
                          ") hash=", u.hash, ": ", u.reason));
  }
  const auto& f = unreadable.first.front();
  return StrCat(unreadable.count, " stored event", unreadable.count == 1 ? "" : "s",
                " unreadable, skipped (the rest were read): ", StrJoin(rows, "; "),
                unreadable.count > static_cast<int64_t>(rows.size()) ? "; ..." : "",
                ". Remove one with: sqlite3 STORE \"DELETE FROM events WHERE ts=", f.ts_micros,
                " AND hash=", f.hash, "\"");
}

StatusOr<std::vector<Event>> Store::LoadEvents(const EventFilter& filter) {
  std::vector<Event> events;
  RETURN_IF_ERROR(ScanEvents(filter, [&](const Event& e) {
    events.push_back(e);
    return OkStatus();
  }));
  return events;
}

bool IsPostgresUri(std::string_view db) {
  return db.starts_with("postgresql://") || db.starts_with("postgres://");
}

namespace sqlite_backend {
StatusOr<Leadership> HoldLeadership(Store& store, std::string_view role) {
  auto* sqlite = dynamic_cast<SqliteStore*>(&store);
  if (!sqlite) return InternalError("not a SQLite store");
  return sqlite->HoldLeadership(role);
}
StatusOr<std::vector<std::pair<std::string, std::string>>> ListState(Store& store) {
  auto* sqlite = dynamic_cast<SqliteStore*>(&store);
  if (!sqlite) return InternalError("not a SQLite store");
  return sqlite->ListState();
}
}  // namespace sqlite_backend

// Every --db comes here (store_backends.h): a PostgreSQL URI goes to OpenPostgres.
StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path, const StoreOptions& options) {
  if (IsPostgresUri(path)) return OpenPostgres(path, options);
  if (path.empty()) return InvalidArgumentError("store path is empty");
  std::error_code ec;
  const bool exists = std::filesystem::exists(path, ec);
  if (!exists && !options.create_if_missing) {
    return NotFoundError(StrCat(path, ": no such store (run `certcast ingest --db ", path,
                                " FILE` first)"));
  }
  RETURN_IF_ERROR(MakeStorePrivate(path, exists));
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (options.create_if_missing) flags |= SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    return UnavailableError(StrCat(path, ": cannot open store: ", msg));
  }
  auto store = std::make_unique<SqliteStore>(db);
  Status s = store->Init(path, options);
  if (!s.ok()) {
    if (s.code() == StatusCode::kDataLoss &&
        s.message().find("not a database") != std::string::npos) {
      return DataLossError(StrCat(path, ": not a certcast store (file is not a SQLite database)"));
    }
    if (s.message().rfind(path, 0) != 0) return s.WithPrefix(path);
    return s;
  }
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace certcast
