// PostgreSQL implementation of Store (`--db postgresql://...`). libpq is wrapped here and nowhere
// else. The same contract as sqlite_store.cc (store.h); where PostgreSQL differs, the comment
// says how the contract is still met:
//
// - Several processes write at once (several `certcast serve`), so what SQLite gets from its one
//   writer is taken explicitly: the audit chain and the event_appends sequence are extended under
//   transaction-level advisory locks held to the commit, so seq order is commit order.
// - Events are range-partitioned by ts (one partition per UTC month, created on demand), so old
//   months can be detached or dropped whole and scans by time touch only their months.
// - Ingest COPYs a batch straight into events when it expects every key to be new; a batch that
//   meets a stored key (COPY fails as a whole on the unique key) goes again through COPY into a
//   temporary staging table and one INSERT .. ON CONFLICT DO NOTHING. Either way a batch is one
//   transaction, all of it or none.
// - A dropped connection fails the call in progress with Unavailable (its transaction is rolled
//   back by the server, or committed without the answer reaching us: dedupe makes a retry safe)
//   and the next call reconnects.
#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "absl/time/civil_time.h"
#include "core/event_json.h"
#include "core/strings.h"
#include "store/action_queue_moves.h"
#include "store/action_queue_rules.h"
#include "store/store.h"
#include "store/store_backends.h"

#define XXH_INLINE_ALL
#include "xxhash.h"

namespace certcast {
namespace {

// Numbered schema migrations, one for one with SQLite's (the same version number means the same
// tables and columns). Append only.
constexpr std::array<const char*, 6> kMigrations = {
    // 1: events and the derived records.
    R"sql(
    -- Keyed by (ts, hash of the canonical JSON) as on SQLite: the key is the duplicate check.
    -- Partitioned by ts, one partition per UTC month (events_pYYYYMM), created on demand by the
    -- writer that first needs it.
    CREATE TABLE events (
      ts      bigint   NOT NULL,      -- microseconds since the Unix epoch, UTC
      hash    bigint   NOT NULL,      -- XXH3-64 of json
      type    smallint NOT NULL,      -- certcast::EventType
      subject text     NOT NULL,      -- certcast::EventSubject
      json    text     NOT NULL,      -- canonical events-v1 line
      PRIMARY KEY (ts, hash)
    ) PARTITION BY RANGE (ts);
    -- The API's per-lineage reads (a lineage's recent events) and ScanEvents by subject.
    CREATE INDEX events_by_subject ON events (subject, ts);

    CREATE TABLE models (
      id        bigserial PRIMARY KEY,
      created   bigint NOT NULL,
      name      text   NOT NULL,
      metadata  text   NOT NULL,
      blob      bytea  NOT NULL
    );
    CREATE INDEX models_by_name ON models (name, id);

    CREATE TABLE forecasts (
      cert     text   NOT NULL,
      at       bigint NOT NULL,
      model_id bigint,
      risk     double precision NOT NULL,
      reasons  text   NOT NULL,
      PRIMARY KEY (cert, at)
    );

    CREATE TABLE decisions (
      id      bigserial PRIMARY KEY,
      at      bigint NOT NULL,
      cert    text   NOT NULL,
      action  text   NOT NULL,
      reason  text   NOT NULL,
      risk    double precision NOT NULL,
      detail  text   NOT NULL
    );

    CREATE TABLE actions (
      id          bigserial PRIMARY KEY,
      decision_id bigint REFERENCES decisions(id),
      started     bigint NOT NULL,
      finished    bigint,
      status      text   NOT NULL,
      output      text   NOT NULL
    );

    -- Append-only, hash-chained; extended under an advisory lock (kAuditLock).
    CREATE TABLE audit (
      seq         bigint PRIMARY KEY,
      at          bigint NOT NULL,
      kind        text   NOT NULL,
      record      text   NOT NULL,
      prev_hash   text   NOT NULL,
      hash        text   NOT NULL
    );

    CREATE TABLE state (
      key   text PRIMARY KEY,
      value text NOT NULL
    );
    )sql",
    // 2: see sqlite_store.cc. seq is assigned max+1 under kAppendsLock, held to the commit.
    R"sql(
    CREATE TABLE event_appends (
      seq    bigint PRIMARY KEY,
      min_ts bigint NOT NULL
    );
    CREATE TABLE checkpoints (
      key   text  PRIMARY KEY,
      value bytea NOT NULL
    );
    )sql",
    // 3: API tokens.
    R"sql(
    CREATE TABLE tokens (
      id        text   PRIMARY KEY,
      name      text   NOT NULL,
      scopes    text   NOT NULL,
      host      text,
      hash      bytea  NOT NULL,
      created   bigint NOT NULL,
      last_used bigint,
      revoked   bigint
    );
    CREATE UNIQUE INDEX tokens_in_force_by_name ON tokens (name) WHERE revoked IS NULL;
    )sql",
    // 4: the action queue, as on SQLite. Leases claim rows with SELECT .. FOR UPDATE SKIP LOCKED,
    // so servers leasing at once never hand out one action twice and never wait on each other.
    R"sql(
    CREATE TABLE action_queue (
      id             bigserial PRIMARY KEY,
      host           text    NOT NULL,
      cert           text    NOT NULL,
      kind           text    NOT NULL,
      parameters     text    NOT NULL,
      decision_seq   bigint  NOT NULL,
      needs_approval integer NOT NULL,
      approved_by    text    NOT NULL DEFAULT '',
      state          text    NOT NULL,
      created        bigint  NOT NULL,
      expires        bigint  NOT NULL,
      lease_holder   text    NOT NULL DEFAULT '',
      lease_id       text    NOT NULL DEFAULT '',
      lease_expires  bigint,
      attempts       integer NOT NULL DEFAULT 0,
      outcome        text    NOT NULL DEFAULT '',
      finished       bigint
    );
    CREATE INDEX action_queue_open_by_host ON action_queue (host, id)
      WHERE state IN ('queued', 'leased');
    )sql",
    // 5: incidents and silences, as on SQLite (src/alert, docs/alerts.md).
    R"sql(
    CREATE TABLE incidents (
      id        text    PRIMARY KEY,
      cause_key text    NOT NULL,
      severity  text    NOT NULL,
      open      integer NOT NULL,     -- 1 open, 0 resolved
      opened    bigint  NOT NULL,     -- microseconds since the Unix epoch, UTC
      updated   bigint  NOT NULL,
      resolved  bigint,
      document  text    NOT NULL      -- JSON (src/alert/incident.h)
    );
    CREATE INDEX incidents_by_updated ON incidents (updated, id);
    CREATE INDEX incidents_open_by_cause ON incidents (cause_key) WHERE open = 1;

    CREATE TABLE silences (
      id         text    PRIMARY KEY,
      matcher    text    NOT NULL,
      value      text    NOT NULL,
      comment    text    NOT NULL,
      created_by text    NOT NULL,
      created    bigint  NOT NULL,
      until      bigint  NOT NULL,
      ended      bigint,
      ended_by   text    NOT NULL DEFAULT ''
    );
    )sql",
    // 6: SQLite's subject index. Here events_by_subject exists since schema 1; the number keeps
    // both backends' versions one for one.
    R"sql(
    CREATE INDEX IF NOT EXISTS events_by_subject ON events (subject, ts);
    )sql",
};

constexpr int kSchemaVersion = static_cast<int>(kMigrations.size());

// Advisory lock keys (pg_advisory_xact_lock / pg_advisory_lock take a bigint). One namespace
// prefix ("cc" in ASCII) so other applications sharing the database are unlikely to collide.
constexpr int64_t kLockBase = 0x6363000000000000ll;
constexpr int64_t kMigrateLock = kLockBase + 1;
constexpr int64_t kAuditLock = kLockBase + 2;
constexpr int64_t kAppendsLock = kLockBase + 3;
constexpr int64_t kPartitionLock = kLockBase + 4;
constexpr int64_t kLeadershipLockBase = kLockBase + 0x100;  // + hash of the role name

// Rows fetched per round trip when scanning (a cursor, so memory stays bounded).
constexpr int kFetchRows = 10000;

using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

// A query parameter: text, or binary for bytea; nullopt is SQL NULL.
struct Param {
  std::optional<std::string_view> value;
  bool binary = false;
};

std::string Trimmed(const char* message) {
  std::string m = message ? message : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

// Maps a failed result (or a connection without one) to the project's error model.
Status PgError(PGconn* conn, const PGresult* result) {
  std::string msg = Trimmed(result ? PQresultErrorMessage(result) : PQerrorMessage(conn));
  if (msg.empty()) msg = Trimmed(PQerrorMessage(conn));
  msg = StrCat("postgresql: ", msg);
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string_view code = state ? state : "";
  // Class 08 (connection), 57P01..03 (terminated by an administrator, shutdown), 40001/40P01
  // (serialization, deadlock: retry), 55P03 (lock not available): try again later.
  if (PQstatus(conn) != CONNECTION_OK || code.starts_with("08") || code.starts_with("57P") ||
      code == "40001" || code == "40P01" || code == "55P03") {
    return UnavailableError(msg);
  }
  if (code.starts_with("53")) return ResourceExhaustedError(msg);  // disk full, out of memory
  if (code == "XX001" || code == "XX002") return DataLossError(msg);
  return InternalError(msg);
}

bool IsUniqueViolation(const PGresult* r, std::string_view constraint) {
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  const char* name = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
  return state && std::string_view(state) == "23505" && name && std::string_view(name) == constraint;
}

int64_t ToInt(const PGresult* r, int row, int col) {
  return std::strtoll(PQgetvalue(r, row, col), nullptr, 10);
}
std::string_view ToText(const PGresult* r, int row, int col) {
  return std::string_view(PQgetvalue(r, row, col), PQgetlength(r, row, col));
}
std::string ToBytes(const PGresult* r, int row, int col) {
  size_t length = 0;
  unsigned char* raw =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, col)), &length);
  if (!raw) return "";
  std::string out(reinterpret_cast<const char*>(raw), length);
  PQfreemem(raw);
  return out;
}

// Appends `field` escaped for COPY's text format (backslash, tab, newline, carriage return).
void AppendCopyField(std::string_view field, std::string& out) {
  for (const char c : field) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out.push_back(c);
    }
  }
}

void AppendInt(int64_t value, std::string& out) {
  char buffer[24];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, end);
}

void IgnoreNotice(void*, const char*) {}

// Start (micros) of the UTC month holding `micros`, and of the month after.
std::pair<int64_t, int64_t> MonthRange(int64_t micros) {
  const absl::Time t = absl::FromUnixMicros(micros);
  const absl::CivilMonth month = absl::ToCivilMonth(t, absl::UTCTimeZone());
  return {absl::ToUnixMicros(absl::FromCivil(month, absl::UTCTimeZone())),
          absl::ToUnixMicros(absl::FromCivil(month + 1, absl::UTCTimeZone()))};
}

std::string PartitionName(int64_t month_start) {
  const absl::CivilMonth m =
      absl::ToCivilMonth(absl::FromUnixMicros(month_start), absl::UTCTimeZone());
  std::string name = StrCat("events_p", m.year() < 0 ? "m" : "", m.year() < 0 ? -m.year() : m.year());
  if (m.month() < 10) name += "0";
  return StrCat(name, m.month());
}

class PgStore final : public Store,
                      public action_queue::FinishedActionImporter,
                      private action_queue::ActionRows {
 public:
  PgStore(PGconn* conn, std::string name) : conn_(conn), name_(std::move(name)) {}
  ~PgStore() override { PQfinish(conn_); }

  Status Init(const StoreOptions& options) {
    RETURN_IF_ERROR(SessionSetup());
    ASSIGN_OR_RETURN(Result exists, Query("SELECT to_regclass('certcast_schema') IS NOT NULL"));
    const bool has_schema = ToText(exists.get(), 0, 0) == "t";
    if (!has_schema && !options.create_if_missing) {
      return NotFoundError(StrCat(name_, ": no such store (no certcast schema in this database; "
                                         "run `certcast ingest --db ", name_, " FILE` first)"));
    }
    int version = 0;
    if (has_schema) {
      ASSIGN_OR_RETURN(version, ReadVersion());
    }
    if (version > kSchemaVersion) return NewerSchema(version);
    if (version < kSchemaVersion) {
      RETURN_IF_ERROR(Begin());
      Status s = [&]() -> Status {
        // Another process may be migrating the same database: one at a time, and re-read after.
        RETURN_IF_ERROR(Query(StrCat("SELECT pg_advisory_xact_lock(", kMigrateLock, ")")).status());
        RETURN_IF_ERROR(Query("CREATE TABLE IF NOT EXISTS certcast_schema (version integer NOT NULL)")
                            .status());
        ASSIGN_OR_RETURN(int now, ReadVersion());
        if (now > kSchemaVersion) return NewerSchema(now);
        for (int v = now; v < kSchemaVersion; ++v) {
          RETURN_IF_ERROR(Query(kMigrations[v]).status().WithPrefix(
              StrCat(name_, ": migration to schema ", v + 1)));
        }
        RETURN_IF_ERROR(Query("DELETE FROM certcast_schema").status());
        return Query(StrCat("INSERT INTO certcast_schema (version) VALUES (", kSchemaVersion, ")"))
            .status();
      }();
      RETURN_IF_ERROR(Finish(s));
    }
    ASSIGN_OR_RETURN(version_, ReadVersion());
    return OkStatus();
  }

  int SchemaVersion() const override { return version_; }

  StatusOr<AppendResult> AppendEvents(std::span<const Event> events) override {
    AppendResult result;
    if (events.empty()) return result;
    // Serialize once: the canonical JSON is both the stored row and the duplicate key.
    std::string copy;
    copy.reserve(events.size() * 320);
    std::set<int64_t> months;
    std::string json;
    int64_t batch_earliest = std::numeric_limits<int64_t>::max();
    for (const Event& e : events) {
      json.clear();
      AppendEventJson(e, json);
      const int64_t ts = absl::ToUnixMicros(e.ts);
      const int64_t hash = static_cast<int64_t>(XXH3_64bits(json.data(), json.size()));
      batch_earliest = std::min(batch_earliest, ts);
      months.insert(MonthRange(ts).first);
      AppendInt(ts, copy);
      copy += '\t';
      AppendInt(hash, copy);
      copy += '\t';
      AppendInt(static_cast<int>(e.type()), copy);
      copy += '\t';
      AppendCopyField(EventSubject(e), copy);
      copy += '\t';
      AppendCopyField(json, copy);
      copy += '\n';
    }
    RETURN_IF_ERROR(EnsurePartitions(months));
    // Straight into events first, unless the previous batch met stored keys (a file ingested
    // again, a retried POST): then this one likely does too, and COPY would fail after writing
    // part of it. A batch all new is written once instead of twice (staging, then events).
    if (!last_batch_met_stored_) {
      std::string sqlstate;
      RETURN_IF_ERROR(Begin());
      Status s = CopyIn("COPY events (ts, hash, type, subject, json) FROM STDIN", copy, &sqlstate);
      if (s.ok()) s = RecordAppend(batch_earliest);
      if (sqlstate != "23505") {
        RETURN_IF_ERROR(Finish(s));
        result.inserted = static_cast<int64_t>(events.size());
        return result;
      }
      // A key already stored (or twice in this batch): nothing of the COPY stays; again below.
      Finish(std::move(s)).IgnoreError();
    }
    RETURN_IF_ERROR(Begin());
    Status s = [&]() -> Status {
      RETURN_IF_ERROR(EnsureStaging());
      RETURN_IF_ERROR(CopyIn("COPY events_staging (ts, hash, type, subject, json) FROM STDIN", copy));
      ASSIGN_OR_RETURN(Result inserted,
                       Query("WITH ins AS (INSERT INTO events (ts, hash, type, subject, json) "
                             "SELECT ts, hash, type, subject, json FROM events_staging "
                             "ON CONFLICT DO NOTHING RETURNING ts) "
                             "SELECT count(*), min(ts) FROM ins"));
      result.inserted = ToInt(inserted.get(), 0, 0);
      std::optional<int64_t> earliest;
      if (!PQgetisnull(inserted.get(), 0, 1)) earliest = ToInt(inserted.get(), 0, 1);
      if (result.inserted < static_cast<int64_t>(events.size())) {
        // Some rows met a stored key: exact duplicates, or (astronomically rare) a different
        // event with the same (ts, hash), which is stored at the next free hash as on SQLite.
        ASSIGN_OR_RETURN(Result collisions,
                         Query("SELECT s.ts, s.hash, s.type, s.subject, s.json FROM events_staging s "
                               "JOIN events e ON e.ts = s.ts AND e.hash = s.hash "
                               "WHERE e.json <> s.json"));
        for (int row = 0; row < PQntuples(collisions.get()); ++row) {
          ASSIGN_OR_RETURN(bool stored, Probe(collisions.get(), row));
          if (!stored) continue;
          ++result.inserted;
          const int64_t ts = ToInt(collisions.get(), row, 0);
          if (!earliest || ts < *earliest) earliest = ts;
        }
      }
      result.duplicates = static_cast<int64_t>(events.size()) - result.inserted;
      if (earliest) return RecordAppend(*earliest);
      return OkStatus();
    }();
    RETURN_IF_ERROR(Finish(s));
    last_batch_met_stored_ = result.duplicates > 0;
    return result;
  }

  Status ScanEvents(const EventFilter& filter,
                    const std::function<Status(const Event&)>& fn) override {
    std::string sql = "SELECT json, ts, hash FROM events WHERE true";
    std::vector<std::string> values;
    if (!filter.subjects.empty()) {
      sql += " AND subject IN (";
      for (size_t i = 0; i < filter.subjects.size(); ++i) {
        values.push_back(filter.subjects[i]);
        sql += StrCat(i ? ",$" : "$", values.size());
      }
      sql += ")";
    }
    if (filter.type) {
      values.push_back(StrCat(static_cast<int>(*filter.type)));
      sql += StrCat(" AND type = $", values.size());
    }
    if (filter.since) {
      values.push_back(StrCat(absl::ToUnixMicros(*filter.since)));
      sql += StrCat(" AND ts >= $", values.size());
    }
    if (filter.until) {
      values.push_back(StrCat(absl::ToUnixMicros(*filter.until)));
      sql += StrCat(" AND ts < $", values.size());
    }
    sql += " ORDER BY ts, hash";
    std::vector<Param> params;
    for (const auto& v : values) params.push_back(Param{v});
    EventParser parser;
    return ScanRows(sql, params, [&](const PGresult* r, int row) -> Status {
      auto event = parser.Parse(ToText(r, row, 0));
      if (!event.ok()) {
        NoteUnreadable(ToInt(r, row, 1), ToInt(r, row, 2), event.status().message());
        return OkStatus();
      }
      return fn(*event);
    });
  }

  StatusOr<SubjectEventsPage> SubjectEvents(const std::string& subject, int64_t limit,
                                            std::optional<EventCursor> before) override {
    if (limit < 1) return InvalidArgumentError(StrCat("subject events: limit ", limit, " < 1"));
    const std::string fetch = StrCat(limit + 1), ts = before ? StrCat(before->ts_micros) : "",
                      hash = before ? StrCat(before->hash) : "";
    std::vector<Param> params = {Param{subject}, Param{fetch}};
    if (before) params.insert(params.end(), {Param{ts}, Param{hash}});
    // One row more than the page tells whether another page follows.
    ASSIGN_OR_RETURN(Result r,
                     QueryPrepared(StrCat("SELECT json, ts, hash FROM events WHERE subject = $1",
                                          before ? " AND (ts, hash) < ($3, $4)" : "",
                                          " ORDER BY ts DESC, hash DESC LIMIT $2"),
                                   params));
    SubjectEventsPage page;
    EventParser parser;
    const int rows = PQntuples(r.get());
    for (int row = 0; row < rows && row < limit; ++row) {
      const EventCursor key{ToInt(r.get(), row, 1), ToInt(r.get(), row, 2)};
      page.next = key;
      auto event = parser.Parse(ToText(r.get(), row, 0));
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

  StatusOr<int64_t> CountEvents() override {
    ASSIGN_OR_RETURN(Result r, Query("SELECT count(*) FROM events"));
    return ToInt(r.get(), 0, 0);
  }

  StatusOr<int64_t> PutModel(const StoredModel& model) override {
    const std::string created = StrCat(absl::ToUnixMicros(model.created));
    ASSIGN_OR_RETURN(Result r, Query("INSERT INTO models (created, name, metadata, blob) VALUES "
                                     "($1, $2, $3, $4) RETURNING id",
                                     {Param{created}, Param{model.name}, Param{model.metadata_json},
                                      Param{model.blob, true}}));
    return ToInt(r.get(), 0, 0);
  }

  StatusOr<std::optional<StoredModel>> LatestModel(const std::string& name) override {
    ASSIGN_OR_RETURN(Result r, Query("SELECT id, created, name, metadata, blob FROM models WHERE "
                                     "name = $1 ORDER BY id DESC LIMIT 1",
                                     {Param{name}}));
    if (PQntuples(r.get()) == 0) return std::optional<StoredModel>();
    StoredModel m = ReadModel(r.get(), 0);
    m.blob = ToBytes(r.get(), 0, 4);
    return std::optional<StoredModel>(std::move(m));
  }

  StatusOr<std::vector<StoredModel>> ListModels() override {
    ASSIGN_OR_RETURN(Result r, Query("SELECT id, created, name, metadata FROM models ORDER BY id DESC"));
    std::vector<StoredModel> models;
    for (int row = 0; row < PQntuples(r.get()); ++row) models.push_back(ReadModel(r.get(), row));
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
    if (leadership_lost_) {
      // A plan begun as leader must not be committed by a connection made after the lock was
      // lost: the server that leads now may be planning the same lineages.
      return UnavailableError(StrCat(name_, ": the connection holding this server's leadership "
                                            "was lost; not committing (ask for leadership again)"));
    }
    RETURN_IF_ERROR(Begin());
    Status s = [&]() -> Status {
      for (const auto& [key, value] : commit.state) RETURN_IF_ERROR(PutState(key, value));
      for (const auto& [key, value] : commit.checkpoints) RETURN_IF_ERROR(PutCheckpoint(key, value));
      RETURN_IF_ERROR(PutIncidentsInTransaction(commit.incidents));
      // Row locks before the audit lock, in every transaction that takes both (see LeaseActions):
      // the queued actions these supersede are locked here, in id order, waiting for a lease
      // that holds one to finish, before this commit holds the chain's end.
      RETURN_IF_ERROR(LockSuperseded(commit.actions));
      for (const AuditEntry& e : commit.audit) {
        StatusOr<AuditRecord> r = AppendAuditInTransaction(e.at, e.kind, e.record_json);
        if (!r.ok()) return r.status().WithPrefix("audit append");
        records.push_back(std::move(*r));
      }
      for (const NewQueuedAction& a : commit.actions) {
        if (a.decision_audit_index < 0 || a.decision_audit_index >= static_cast<int>(records.size())) {
          return InvalidArgumentError(StrCat("queued action for ", a.cert, ": decision_audit_index ",
                                             a.decision_audit_index,
                                             " names no audit record of this commit"));
        }
        const AuditRecord decision = records[a.decision_audit_index];  // records grows below
        StatusOr<std::vector<AuditRecord>> queued = action_queue::Queue(*this, a, decision);
        if (!queued.ok()) return queued.status().WithPrefix("queue action");
        for (AuditRecord& r : *queued) records.push_back(std::move(r));
      }
      return OkStatus();
    }();
    RETURN_IF_ERROR(Finish(s));
    return records;
  }

  // The head file guards a SQLite file against its own truncation; a PostgreSQL store is guarded
  // by the server's roles and its WAL archive instead (docs/security.md), so there is none.
  StatusOr<std::optional<AuditHead>> ReadAuditHead() override { return std::optional<AuditHead>(); }

  Status ScanAudit(const std::function<Status(const AuditRecord&)>& fn) override {
    return ScanAuditAfter(std::numeric_limits<int64_t>::min(), fn);
  }

  Status ScanAuditAfter(int64_t after_seq,
                        const std::function<Status(const AuditRecord&)>& fn) override {
    const std::string after = StrCat(after_seq);
    const std::vector<Param> params = {Param{after}};
    return ScanRows("SELECT seq, at, kind, record, prev_hash, hash FROM audit WHERE seq > $1 "
                    "ORDER BY seq",
                    params, [&](const PGresult* res, int row) -> Status {
                      AuditRecord r;
                      r.seq = ToInt(res, row, 0);
                      r.at = absl::FromUnixMicros(ToInt(res, row, 1));
                      r.kind = ToText(res, row, 2);
                      r.record_json = ToText(res, row, 3);
                      r.prev_hash = ToText(res, row, 4);
                      r.hash = ToText(res, row, 5);
                      return fn(r);
                    });
  }

  StatusOr<EventAppends> EventAppendsSince(int64_t after_seq) override {
    const std::string after = StrCat(after_seq);
    ASSIGN_OR_RETURN(Result r, Query("SELECT (SELECT max(seq) FROM event_appends), (SELECT "
                                     "min(min_ts) FROM event_appends WHERE seq > $1)",
                                     {Param{after}}));
    EventAppends out;
    if (!PQgetisnull(r.get(), 0, 0)) out.last_seq = ToInt(r.get(), 0, 0);
    if (!PQgetisnull(r.get(), 0, 1)) out.earliest_ts = absl::FromUnixMicros(ToInt(r.get(), 0, 1));
    return out;
  }

  Status PutCheckpoint(const std::string& key, std::string_view value) override {
    return Query("INSERT INTO checkpoints (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE "
                 "SET value = excluded.value",
                 {Param{key}, Param{value, true}})
        .status()
        .WithPrefix(StrCat("checkpoint ", key));
  }

  StatusOr<std::optional<std::string>> GetCheckpoint(const std::string& key) override {
    ASSIGN_OR_RETURN(Result r, Query("SELECT value FROM checkpoints WHERE key = $1", {Param{key}}));
    if (PQntuples(r.get()) == 0) return std::optional<std::string>();
    return std::optional<std::string>(ToBytes(r.get(), 0, 0));
  }

  Status DeleteCheckpoint(const std::string& key) override {
    return Query("DELETE FROM checkpoints WHERE key = $1", {Param{key}}).status();
  }

  Status CreateToken(const TokenRecord& token) override {
    const std::string scopes = StrJoin(token.scopes, ",");
    const std::string created = StrCat(absl::ToUnixMicros(token.created));
    std::optional<std::string_view> host;
    if (token.host) host = *token.host;
    RETURN_IF_ERROR(Ready());
    Result r = Run("INSERT INTO tokens (id, name, scopes, host, hash, created) VALUES "
                   "($1, $2, $3, $4, $5, $6)",
                   {Param{token.id}, Param{token.name}, Param{scopes}, Param{host},
                    Param{token.hash, true}, Param{created}});
    if (PQresultStatus(r.get()) == PGRES_COMMAND_OK) return OkStatus();
    if (IsUniqueViolation(r.get(), "tokens_in_force_by_name")) {
      return AlreadyExistsError(StrCat("a token named \"", token.name, "\" exists; revoke it "
                                       "first or choose another name"));
    }
    if (IsUniqueViolation(r.get(), "tokens_pkey")) {
      return AlreadyExistsError(StrCat("token id ", token.id, " exists"));
    }
    return Failed(r.get());
  }

  StatusOr<std::optional<TokenRecord>> FindToken(const std::string& id) override {
    ASSIGN_OR_RETURN(Result r, QueryPrepared(StrCat(kTokenColumns, " WHERE id = $1"), {Param{id}}));
    if (PQntuples(r.get()) == 0) return std::optional<TokenRecord>();
    return std::optional<TokenRecord>(ReadToken(r.get(), 0));
  }

  StatusOr<std::vector<TokenRecord>> ListTokens() override {
    ASSIGN_OR_RETURN(Result r, Query(StrCat(kTokenColumns, " ORDER BY created, name")));
    std::vector<TokenRecord> tokens;
    for (int row = 0; row < PQntuples(r.get()); ++row) tokens.push_back(ReadToken(r.get(), row));
    return tokens;
  }

  Status RevokeToken(const std::string& name, absl::Time at) override {
    const std::string when = StrCat(absl::ToUnixMicros(at));
    ASSIGN_OR_RETURN(Result r, Query("UPDATE tokens SET revoked = $2 WHERE name = $1 AND revoked IS "
                                     "NULL",
                                     {Param{name}, Param{when}}));
    if (std::string_view(PQcmdTuples(r.get())) == "0") {
      return NotFoundError(StrCat("no token named \"", name, "\" in force (see `certcast token "
                                  "list`)"));
    }
    return OkStatus();
  }

  Status TouchTokens(std::span<const std::pair<std::string, absl::Time>> id_and_time) override {
    if (id_and_time.empty()) return OkStatus();
    RETURN_IF_ERROR(Begin());
    Status s = [&]() -> Status {
      for (const auto& [id, at] : id_and_time) {
        const std::string when = StrCat(absl::ToUnixMicros(at));
        RETURN_IF_ERROR(Query("UPDATE tokens SET last_used = $2 WHERE id = $1 AND (last_used IS "
                              "NULL OR last_used < $2)",
                              {Param{id}, Param{when}})
                            .status());
      }
      return OkStatus();
    }();
    return Finish(s);
  }

  Status PutState(const std::string& key, const std::string& value) override {
    return Query("INSERT INTO state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET "
                 "value = excluded.value",
                 {Param{key}, Param{value}})
        .status();
  }

  StatusOr<std::optional<std::string>> GetState(const std::string& key) override {
    ASSIGN_OR_RETURN(Result r, Query("SELECT value FROM state WHERE key = $1", {Param{key}}));
    if (PQntuples(r.get()) == 0) return std::optional<std::string>();
    return std::optional<std::string>(std::string(ToText(r.get(), 0, 0)));
  }

  // The action queue (action_queue_moves.h makes the moves through the ActionRows below). Every
  // transaction here locks the action rows it changes first and the audit chain's end
  // (kAuditLock, taken by its first audit record) after, as Commit does, so two servers never
  // wait on each other in a cycle.
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
    const std::string after = StrCat(filter.after_id), limit = StrCat(std::max<int64_t>(0, filter.limit));
    const std::string state = filter.state ? std::string(ToString(*filter.state)) : "";
    std::optional<std::string_view> host, state_param;
    if (filter.host) host = *filter.host;
    if (filter.state) state_param = state;
    const std::vector<Param> params = {Param{after}, Param{host}, Param{state_param}, Param{limit}};
    return SelectActions(StrCat(kActionColumns, " WHERE id > $1 AND ($2::text IS NULL OR host = $2) "
                                                "AND ($3::text IS NULL OR state = $3) ORDER BY id "
                                                "LIMIT $4"),
                         params);
  }

  Status ImportFinishedActions(std::span<const QueuedAction> actions, bool keep_ids) override {
    RETURN_IF_ERROR(action_queue::CheckFinished(actions));
    if (actions.empty()) return OkStatus();
    RETURN_IF_ERROR(Begin());
    Status s = [&]() -> Status {
      for (const QueuedAction& a : actions) {
        const std::string id = StrCat(a.id), decision = StrCat(a.decision_seq),
                          approval = a.needs_approval ? "1" : "0", state(ToString(a.state)),
                          created = StrCat(absl::ToUnixMicros(a.created)),
                          expires = StrCat(absl::ToUnixMicros(a.expires)),
                          lease_expires = a.lease_expires ? StrCat(absl::ToUnixMicros(*a.lease_expires)) : "",
                          attempts = StrCat(a.attempts),
                          finished = a.finished ? StrCat(absl::ToUnixMicros(*a.finished)) : "";
        std::optional<std::string_view> id_param, lease_param, finished_param;
        if (keep_ids) id_param = id;
        if (a.lease_expires) lease_param = lease_expires;
        if (a.finished) finished_param = finished;
        if (keep_ids) {
          ASSIGN_OR_RETURN(std::optional<QueuedAction> existing, SelectAction(a.id, ""));
          if (existing) return AlreadyExistsError(StrCat("action ", a.id, " exists already"));
        }
        const std::vector<Param> params = {
            Param{id_param},       Param{a.host},         Param{a.cert},
            Param{a.kind},         Param{a.parameters_json}, Param{decision},
            Param{approval},       Param{a.approved_by},  Param{state},
            Param{created},        Param{expires},        Param{a.lease_holder},
            Param{a.lease_id},     Param{lease_param},    Param{attempts},
            Param{a.outcome_json}, Param{finished_param}};
        // A NULL id takes the next of the sequence.
        RETURN_IF_ERROR(Query("INSERT INTO action_queue (id, host, cert, kind, parameters, "
                              "decision_seq, needs_approval, approved_by, state, created, expires, "
                              "lease_holder, lease_id, lease_expires, attempts, outcome, finished) "
                              "VALUES (coalesce($1::bigint, nextval(pg_get_serial_sequence("
                              "'action_queue', 'id'))), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
                              "$12, $13, $14, $15, $16, $17)",
                              params)
                            .status()
                            .WithPrefix(StrCat("action ", a.id)));
      }
      // Ids given explicitly do not move the sequence: the next queued action must not take one.
      return Query("SELECT setval(pg_get_serial_sequence('action_queue', 'id'), max(id)) FROM "
                   "action_queue HAVING max(id) IS NOT NULL")
          .status();
    }();
    return Finish(s);
  }

  StatusOr<std::optional<QueuedAction>> GetAction(int64_t id) override {
    return SelectAction(id, "");
  }

  Status PutIncidents(std::span<const IncidentRecord> incidents) override {
    if (incidents.empty()) return OkStatus();
    RETURN_IF_ERROR(Begin());
    return Finish(PutIncidentsInTransaction(incidents));
  }

  StatusOr<std::optional<IncidentRecord>> GetIncident(const std::string& id) override {
    ASSIGN_OR_RETURN(Result r, Query(StrCat(kIncidentColumns, " WHERE id = $1"), {Param{id}}));
    if (PQntuples(r.get()) == 0) return std::optional<IncidentRecord>();
    return std::optional<IncidentRecord>(ReadIncident(r.get(), 0));
  }

  StatusOr<std::vector<IncidentRecord>> ListIncidents(const IncidentFilter& filter) override {
    std::optional<std::string_view> open;
    if (filter.open) open = *filter.open ? "1" : "0";
    const std::string limit = StrCat(std::max<int64_t>(0, filter.limit));
    // COLLATE "C": ids compare as bytes, as SQLite's BINARY does, whatever the database's locale.
    ASSIGN_OR_RETURN(Result r, Query(StrCat(kIncidentColumns, " WHERE ($1::integer IS NULL OR open "
                                                              "= $1::integer) ORDER BY updated DESC, "
                                                              "id COLLATE \"C\" LIMIT $2"),
                                     {Param{open}, Param{limit}}));
    std::vector<IncidentRecord> out;
    for (int row = 0; row < PQntuples(r.get()); ++row) out.push_back(ReadIncident(r.get(), row));
    return out;
  }

  Status CreateSilence(const SilenceRecord& silence) override {
    const std::string created = StrCat(absl::ToUnixMicros(silence.created)),
                      until = StrCat(absl::ToUnixMicros(silence.until));
    std::optional<std::string> ended;
    if (silence.ended) ended = StrCat(absl::ToUnixMicros(*silence.ended));
    std::optional<std::string_view> ended_param;
    if (ended) ended_param = *ended;
    RETURN_IF_ERROR(Ready());
    Result r = Run("INSERT INTO silences (id, matcher, value, comment, created_by, created, until, "
                   "ended, ended_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                   {Param{silence.id}, Param{silence.matcher}, Param{silence.value},
                    Param{silence.comment}, Param{silence.created_by}, Param{created}, Param{until},
                    Param{ended_param}, Param{silence.ended_by}});
    if (PQresultStatus(r.get()) == PGRES_COMMAND_OK) return OkStatus();
    if (IsUniqueViolation(r.get(), "silences_pkey")) {
      return AlreadyExistsError(StrCat("silence id ", silence.id, " exists"));
    }
    return Failed(r.get());
  }

  StatusOr<std::vector<SilenceRecord>> ListSilences() override {
    ASSIGN_OR_RETURN(Result r, Query("SELECT id, matcher, value, comment, created_by, created, until, "
                                     "ended, ended_by FROM silences ORDER BY created, id COLLATE \"C\""));
    std::vector<SilenceRecord> out;
    for (int row = 0; row < PQntuples(r.get()); ++row) {
      SilenceRecord s;
      s.id = ToText(r.get(), row, 0);
      s.matcher = ToText(r.get(), row, 1);
      s.value = ToText(r.get(), row, 2);
      s.comment = ToText(r.get(), row, 3);
      s.created_by = ToText(r.get(), row, 4);
      s.created = absl::FromUnixMicros(ToInt(r.get(), row, 5));
      s.until = absl::FromUnixMicros(ToInt(r.get(), row, 6));
      if (!PQgetisnull(r.get(), row, 7)) s.ended = absl::FromUnixMicros(ToInt(r.get(), row, 7));
      s.ended_by = ToText(r.get(), row, 8);
      out.push_back(std::move(s));
    }
    return out;
  }

  Status EndSilence(const std::string& id, absl::Time at, const std::string& by) override {
    const std::string when = StrCat(absl::ToUnixMicros(at));
    ASSIGN_OR_RETURN(Result r, Query("UPDATE silences SET ended = $2, ended_by = $3 WHERE id = $1 "
                                     "AND ended IS NULL AND created <= $2 AND $2 < until",
                                     {Param{id}, Param{when}, Param{by}}));
    if (std::string_view(PQcmdTuples(r.get())) == "0") {
      return NotFoundError(StrCat("no silence \"", id, "\" in force (certcast silence list, GET /v1/silences)"));
    }
    return OkStatus();
  }

  StatusOr<std::vector<std::pair<std::string, std::string>>> ListState() {
    ASSIGN_OR_RETURN(Result r, Query("SELECT key, value FROM state ORDER BY key"));
    std::vector<std::pair<std::string, std::string>> out;
    for (int row = 0; row < PQntuples(r.get()); ++row) {
      out.emplace_back(ToText(r.get(), row, 0), ToText(r.get(), row, 1));
    }
    return out;
  }

  StatusOr<Leadership> HoldLeadership(std::string_view role) {
    RETURN_IF_ERROR(Ready());
    leadership_lost_ = false;
    const int64_t key = kLeadershipLockBase +
                        static_cast<int64_t>(XXH3_64bits(role.data(), role.size()) & 0xffff);
    const bool before = leader_roles_.contains(key);
    if (before) {
      // Held by this session unless the connection was lost (a reset clears leader_roles_); ask
      // the server, since a dropped and re-made connection would not hold it any more.
      ASSIGN_OR_RETURN(Result r, Query(StrCat("SELECT count(*) FROM pg_locks WHERE locktype = "
                                              "'advisory' AND pid = pg_backend_pid() AND granted "
                                              "AND ((classid::bigint << 32) | objid::bigint) = ",
                                              key)));
      if (ToInt(r.get(), 0, 0) > 0) return Leadership{.held = true, .changed = false};
      leader_roles_.erase(key);
    }
    ASSIGN_OR_RETURN(Result r, Query(StrCat("SELECT pg_try_advisory_lock(", key, ")")));
    const bool held = ToText(r.get(), 0, 0) == "t";
    if (held) leader_roles_.insert(key);
    return Leadership{.held = held, .changed = held != (before || lost_roles_.contains(key))};
  }



 private:
  static constexpr const char* kActionColumns =
      "SELECT id, host, cert, kind, parameters, decision_seq, needs_approval, approved_by, state, "
      "created, expires, lease_holder, lease_id, lease_expires, attempts, outcome, finished "
      "FROM action_queue";
  static constexpr const char* kIncidentColumns =
      "SELECT id, cause_key, severity, open, opened, updated, resolved, document FROM incidents";

  // Runs `body` in one transaction: commits when it succeeds, rolls back otherwise.
  template <typename T>
  StatusOr<T> InTransaction(const std::function<StatusOr<T>()>& body) {
    RETURN_IF_ERROR(Begin());
    StatusOr<T> result = body();
    RETURN_IF_ERROR(Finish(result.status()));
    return result;
  }

  StatusOr<std::vector<QueuedAction>> SelectActions(const std::string& sql,
                                                    std::span<const Param> params) {
    ASSIGN_OR_RETURN(Result r, Query(sql, params));
    std::vector<QueuedAction> out;
    for (int row = 0; row < PQntuples(r.get()); ++row) {
      const PGresult* res = r.get();
      QueuedAction a;
      a.id = ToInt(res, row, 0);
      a.host = ToText(res, row, 1);
      a.cert = ToText(res, row, 2);
      a.kind = ToText(res, row, 3);
      a.parameters_json = ToText(res, row, 4);
      a.decision_seq = ToInt(res, row, 5);
      a.needs_approval = ToInt(res, row, 6) != 0;
      a.approved_by = ToText(res, row, 7);
      const std::optional<ActionState> state = ActionStateFromString(ToText(res, row, 8));
      if (!state) {
        return DataLossError(StrCat("action_queue row ", a.id, ": unknown state \"",
                                    ToText(res, row, 8), "\""));
      }
      a.state = *state;
      a.created = absl::FromUnixMicros(ToInt(res, row, 9));
      a.expires = absl::FromUnixMicros(ToInt(res, row, 10));
      a.lease_holder = ToText(res, row, 11);
      a.lease_id = ToText(res, row, 12);
      if (!PQgetisnull(res, row, 13)) a.lease_expires = absl::FromUnixMicros(ToInt(res, row, 13));
      a.attempts = static_cast<int>(ToInt(res, row, 14));
      a.outcome_json = ToText(res, row, 15);
      if (!PQgetisnull(res, row, 16)) a.finished = absl::FromUnixMicros(ToInt(res, row, 16));
      out.push_back(std::move(a));
    }
    return out;
  }

  // Locks, in id order, the queued actions `actions` will supersede (same host, lineage, kind).
  Status LockSuperseded(std::span<const NewQueuedAction> actions) {
    if (actions.empty()) return OkStatus();
    std::string sql = "SELECT id FROM action_queue WHERE state = 'queued' AND (host, cert, kind) IN (";
    std::vector<Param> params;
    for (size_t i = 0; i < actions.size(); ++i) {
      sql += StrCat(i ? ", " : "", "($", 3 * i + 1, ", $", 3 * i + 2, ", $", 3 * i + 3, ")");
      params.push_back(Param{actions[i].host});
      params.push_back(Param{actions[i].cert});
      params.push_back(Param{actions[i].kind});
    }
    sql += ") ORDER BY id FOR UPDATE";
    return Query(sql, params).status();
  }

  // action_queue::ActionRows, inside the transaction InTransaction or Commit opened.
  StatusOr<std::vector<QueuedAction>> LockLeasable(const std::string& host,
                                                   absl::Time now) override {
    // SKIP LOCKED: an action another server is leasing, reporting or superseding right now is
    // not this call's to hand out; it is neither waited for nor handed out twice. Leases still
    // running are not locked at all (DecideLease would skip them).
    const std::string now_text = StrCat(absl::ToUnixMicros(now));
    const std::vector<Param> params = {Param{host}, Param{now_text}};
    return SelectActions(StrCat(kActionColumns, " WHERE host = $1 AND state IN ('queued', "
                                                "'leased') AND (state = 'queued' OR lease_expires "
                                                "IS NULL OR lease_expires <= $2) ORDER BY id FOR "
                                                "UPDATE SKIP LOCKED"),
                         params);
  }

  // A report, approval or cancellation of the same action on another server waits here, then
  // sees this one's result.
  StatusOr<std::optional<QueuedAction>> LockAction(int64_t id) override {
    return SelectAction(id, " FOR UPDATE");
  }

  // Action `id` (nullopt: none), read with `locking` (" FOR UPDATE", or "").
  StatusOr<std::optional<QueuedAction>> SelectAction(int64_t id, std::string_view locking) {
    const std::string id_text = StrCat(id);
    const std::vector<Param> params = {Param{id_text}};
    ASSIGN_OR_RETURN(std::vector<QueuedAction> found,
                     SelectActions(StrCat(kActionColumns, " WHERE id = $1", locking), params));
    if (found.empty()) return std::optional<QueuedAction>();
    return std::optional<QueuedAction>(std::move(found.front()));
  }

  // The queued ones locked already by Commit (LockSuperseded), before the audit chain's end; the
  // leased ones are read as they stand (a report ending one meanwhile holds back one decision,
  // which the planner makes again after its retry interval).
  StatusOr<std::vector<QueuedAction>> OpenLike(const NewQueuedAction& a) override {
    const std::vector<Param> key = {Param{a.host}, Param{a.cert}, Param{a.kind}};
    return SelectActions(StrCat(kActionColumns, " WHERE host = $1 AND cert = $2 AND kind = $3 "
                                                "AND state IN ('queued', 'leased') ORDER BY id"),
                         key);
  }

  Status WriteLease(const QueuedAction& a) override {
    const std::string id = StrCat(a.id), attempts = StrCat(a.attempts),
                      expires = StrCat(absl::ToUnixMicros(*a.lease_expires));
    return Query("UPDATE action_queue SET state = 'leased', attempts = $2, lease_id = $3, "
                 "lease_holder = $4, lease_expires = $5 WHERE id = $1",
                 {Param{id}, Param{attempts}, Param{a.lease_id}, Param{a.lease_holder},
                  Param{expires}})
        .status();
  }

  Status WriteEnd(const QueuedAction& a) override {
    const std::string id = StrCat(a.id), name(ToString(a.state)),
                      finished = StrCat(absl::ToUnixMicros(*a.finished));
    return Query("UPDATE action_queue SET state = $2, outcome = $3, finished = $4 WHERE id = $1",
                 {Param{id}, Param{name}, Param{a.outcome_json}, Param{finished}})
        .status();
  }

  Status WriteApproval(const QueuedAction& a) override {
    const std::string id = StrCat(a.id);
    return Query("UPDATE action_queue SET approved_by = $2 WHERE id = $1",
                 {Param{id}, Param{a.approved_by}})
        .status();
  }

  StatusOr<int64_t> InsertQueued(const NewQueuedAction& a, const AuditRecord& decision) override {
    const std::string seq = StrCat(decision.seq), approval = a.needs_approval ? "1" : "0",
                      created = StrCat(absl::ToUnixMicros(decision.at)),
                      expires = StrCat(absl::ToUnixMicros(a.expires));
    ASSIGN_OR_RETURN(Result inserted,
                     Query("INSERT INTO action_queue (host, cert, kind, parameters, decision_seq, "
                           "needs_approval, state, created, expires) VALUES ($1, $2, $3, $4, $5, "
                           "$6, 'queued', $7, $8) RETURNING id",
                           {Param{a.host}, Param{a.cert}, Param{a.kind}, Param{a.parameters_json},
                            Param{seq}, Param{approval}, Param{created}, Param{expires}}));
    return ToInt(inserted.get(), 0, 0);
  }

  StatusOr<AuditRecord> AuditInTransaction(absl::Time at, const std::string& kind,
                                           const std::string& record_json) override {
    return AppendAuditInTransaction(at, kind, record_json);
  }

  // Appends one record at the chain's end. The first append of a transaction takes kAuditLock,
  // held to the commit, so appenders on other servers wait and seq order is commit order; the
  // end it read is then this transaction's to extend.
  StatusOr<AuditRecord> AppendAuditInTransaction(absl::Time at, const std::string& kind,
                                                 const std::string& record_json) {
    if (!audit_tail_) {
      RETURN_IF_ERROR(Query(StrCat("SELECT pg_advisory_xact_lock(", kAuditLock, ")")).status());
      ASSIGN_OR_RETURN(Result last, Query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"));
      audit_tail_ = PQntuples(last.get())
                        ? std::make_pair(ToInt(last.get(), 0, 0), std::string(ToText(last.get(), 0, 1)))
                        : std::make_pair(int64_t{0}, std::string());
    }
    AuditRecord r{.seq = audit_tail_->first + 1, .at = at, .kind = kind, .record_json = record_json,
                  .prev_hash = audit_tail_->second, .hash = ""};
    r.hash = AuditHash(r);
    const std::string seq_text = StrCat(r.seq), at_text = StrCat(absl::ToUnixMicros(r.at));
    RETURN_IF_ERROR(Query("INSERT INTO audit (seq, at, kind, record, prev_hash, hash) VALUES "
                          "($1, $2, $3, $4, $5, $6)",
                          {Param{seq_text}, Param{at_text}, Param{r.kind}, Param{r.record_json},
                           Param{r.prev_hash}, Param{r.hash}})
                        .status());
    audit_tail_ = std::make_pair(r.seq, r.hash);
    return r;
  }

  Status PutIncidentsInTransaction(std::span<const IncidentRecord> incidents) {
    for (const IncidentRecord& r : incidents) {
      const std::string open = r.open ? "1" : "0", opened = StrCat(absl::ToUnixMicros(r.opened)),
                        updated = StrCat(absl::ToUnixMicros(r.updated));
      std::optional<std::string> resolved;
      if (r.resolved) resolved = StrCat(absl::ToUnixMicros(*r.resolved));
      std::optional<std::string_view> resolved_param;
      if (resolved) resolved_param = *resolved;
      RETURN_IF_ERROR(Query("INSERT INTO incidents (id, cause_key, severity, open, opened, updated, "
                            "resolved, document) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON "
                            "CONFLICT (id) DO UPDATE SET cause_key = excluded.cause_key, severity "
                            "= excluded.severity, open = excluded.open, opened = excluded.opened, "
                            "updated = excluded.updated, resolved = excluded.resolved, document = "
                            "excluded.document",
                            {Param{r.id}, Param{r.cause_key}, Param{r.severity}, Param{open},
                             Param{opened}, Param{updated}, Param{resolved_param},
                             Param{r.document_json}})
                          .status()
                          .WithPrefix(StrCat("incident ", r.id)));
    }
    return OkStatus();
  }

  static IncidentRecord ReadIncident(const PGresult* r, int row) {
    IncidentRecord i;
    i.id = ToText(r, row, 0);
    i.cause_key = ToText(r, row, 1);
    i.severity = ToText(r, row, 2);
    i.open = ToInt(r, row, 3) != 0;
    i.opened = absl::FromUnixMicros(ToInt(r, row, 4));
    i.updated = absl::FromUnixMicros(ToInt(r, row, 5));
    if (!PQgetisnull(r, row, 6)) i.resolved = absl::FromUnixMicros(ToInt(r, row, 6));
    i.document_json = ToText(r, row, 7);
    return i;
  }

  static constexpr const char* kTokenColumns =
      "SELECT id, name, scopes, host, hash, created, last_used, revoked FROM tokens";

  static TokenRecord ReadToken(const PGresult* r, int row) {
    TokenRecord t;
    t.id = ToText(r, row, 0);
    t.name = ToText(r, row, 1);
    const std::string_view scopes = ToText(r, row, 2);
    for (size_t pos = 0; pos < scopes.size();) {
      size_t comma = scopes.find(',', pos);
      if (comma == std::string_view::npos) comma = scopes.size();
      if (comma > pos) t.scopes.emplace_back(scopes.substr(pos, comma - pos));
      pos = comma + 1;
    }
    if (!PQgetisnull(r, row, 3)) t.host = std::string(ToText(r, row, 3));
    t.hash = ToBytes(r, row, 4);
    t.created = absl::FromUnixMicros(ToInt(r, row, 5));
    if (!PQgetisnull(r, row, 6)) t.last_used = absl::FromUnixMicros(ToInt(r, row, 6));
    if (!PQgetisnull(r, row, 7)) t.revoked = absl::FromUnixMicros(ToInt(r, row, 7));
    return t;
  }

  static StoredModel ReadModel(const PGresult* r, int row) {
    StoredModel m;
    m.id = ToInt(r, row, 0);
    m.created = absl::FromUnixMicros(ToInt(r, row, 1));
    m.name = ToText(r, row, 2);
    m.metadata_json = ToText(r, row, 3);
    return m;
  }

  Status NewerSchema(int version) const {
    return FailedPreconditionError(StrCat(
        name_, ": store schema is version ", version, " but this certcast knows only up to ",
        kSchemaVersion, "; upgrade certcast (the store was written by a newer version)"));
  }

  StatusOr<int> ReadVersion() {
    ASSIGN_OR_RETURN(Result r, Query("SELECT max(version) FROM certcast_schema"));
    return PQgetisnull(r.get(), 0, 0) ? 0 : static_cast<int>(ToInt(r.get(), 0, 0));
  }

  Status SessionSetup() {
    PQsetNoticeProcessor(conn_, IgnoreNotice, nullptr);
    staging_ready_ = false;
    prepared_.clear();  // a new session has none of the old one's prepared statements
    leader_roles_.clear();
    // Durability as on SQLite (synchronous=FULL): a batch reported committed is on disk, whatever
    // the database's default for synchronous_commit.
    RETURN_IF_ERROR(Query("SET synchronous_commit = on").status());
    // A server that loses power or network sends no FIN: PostgreSQL sees its session gone, and
    // frees the leadership lock it held, only by TCP keepalive, after the system's
    // tcp_keepalive_time (7,200 s by Linux's default). Probing an idle session after 10 s, every 5 s,
    // 3 times, frees it within about 25 s, well inside the two plan intervals the lead may take to
    // move (docs/scale.md). Ignored on a Unix-domain socket, which has no peer to lose.
    return Query("SELECT set_config('tcp_keepalives_idle', '10', false), "
                 "set_config('tcp_keepalives_interval', '5', false), set_config('tcp_keepalives_count', '3', false)")
        .status();
  }

  // Outside a transaction: reconnects a connection that was lost (the server restarted, or the
  // backend was terminated), so one failure does not fail every later call.
  Status Ready() {
    if (in_transaction_) return OkStatus();
    if (PQstatus(conn_) == CONNECTION_OK) return OkStatus();
    // A lock held by the lost connection is gone: another server may lead by now.
    if (!leader_roles_.empty()) leadership_lost_ = true;
    lost_roles_ = leader_roles_;
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      return UnavailableError(StrCat(name_, ": cannot reconnect: ", Trimmed(PQerrorMessage(conn_))));
    }
    return SessionSetup();
  }

  // Runs `sql` and returns the raw result, whatever its status.
  Result Run(std::string_view sql, std::initializer_list<Param> params = {}) {
    return Run(sql, std::span<const Param>(params.begin(), params.size()));
  }
  // With `prepared_name`, executes that statement (prepared from `sql`) instead of parsing `sql`.
  Result Run(std::string_view sql, std::span<const Param> params,
             const std::string& prepared_name = "") {
    const std::string owned(prepared_name.empty() ? sql : std::string_view());
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const Param& p : params) {
      values.push_back(p.value ? p.value->data() : nullptr);
      lengths.push_back(p.value ? static_cast<int>(p.value->size()) : 0);
      formats.push_back(p.binary ? 1 : 0);
    }
    // A text parameter is passed with its length ignored: it must end at a NUL. string_views
    // here come from std::string (NUL after size()) except binary ones, which carry a length.
    std::vector<std::string> copies;
    copies.reserve(params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      if (params[i].value && !params[i].binary) {
        copies.emplace_back(*params[i].value);
        values[i] = copies.back().c_str();
      }
    }
    if (!prepared_name.empty()) {
      return Result(PQexecPrepared(conn_, prepared_name.c_str(), static_cast<int>(params.size()),
                                   values.data(), lengths.data(), formats.data(), 0),
                    PQclear);
    }
    if (params.empty()) return Result(PQexec(conn_, owned.c_str()), PQclear);
    return Result(PQexecParams(conn_, owned.c_str(), static_cast<int>(params.size()), nullptr,
                               values.data(), lengths.data(), formats.data(), 0),
                  PQclear);
  }

  Status Failed(const PGresult* r) {
    Status s = PgError(conn_, r);
    return s;
  }

  StatusOr<Result> Query(std::string_view sql, std::initializer_list<Param> params = {}) {
    return Query(sql, std::span<const Param>(params.begin(), params.size()));
  }
  StatusOr<Result> Query(std::string_view sql, std::span<const Param> params) {
    RETURN_IF_ERROR(Ready());
    Result r = Run(sql, params);
    const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Failed(r.get());
    return r;
  }

  // As Query, for a statement the API runs on every request (a token check, a lineage's events):
  // prepared on this connection at its first use, then only bound and executed, so the server
  // parses and plans it once per connection instead of once per call (on the 100,000-lineage
  // fleet its planning took as long as its execution; docs/scale.md). `sql` is the key: only
  // fixed texts belong here, never one that embeds a value.
  StatusOr<Result> QueryPrepared(const std::string& sql, std::span<const Param> params) {
    RETURN_IF_ERROR(Ready());
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      // A fresh name each time: a statement whose execution failed is prepared again under a new
      // one (the old stays until the session ends), so no name is ever reused with another text.
      const std::string name = StrCat("certcast_stmt_", ++prepared_serial_);
      Result r(PQprepare(conn_, name.c_str(), sql.c_str(), static_cast<int>(params.size()), nullptr),
               PQclear);
      if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) return Failed(r.get());
      it = prepared_.emplace(sql, name).first;
    }
    Result r = Run(sql, params, it->second);
    const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      // E.g. "cached plan must not change result type" after another server migrated the schema.
      prepared_.erase(it);
      return Failed(r.get());
    }
    return r;
  }
  StatusOr<Result> QueryPrepared(const std::string& sql, std::initializer_list<Param> params) {
    return QueryPrepared(sql, std::span<const Param>(params.begin(), params.size()));
  }

  Status Begin() {
    if (in_transaction_) {
      // A scan holds its cursor in a transaction; a write from its callback would commit it.
      return InternalError(StrCat(name_, ": a store call that writes, made from inside a scan's "
                                         "callback, is not supported on PostgreSQL"));
    }
    RETURN_IF_ERROR(Ready());
    RETURN_IF_ERROR(Query("BEGIN").status());
    in_transaction_ = true;
    audit_tail_.reset();
    return OkStatus();
  }

  // Commits when `s` is OK, rolls back otherwise; returns the first error.
  Status Finish(Status s) {
    in_transaction_ = false;
    audit_tail_.reset();
    if (s.ok()) {
      s = Query("COMMIT").status();
      if (s.ok()) return s;
    }
    if (PQstatus(conn_) == CONNECTION_OK) Run("ROLLBACK");
    return s;
  }

  // `sql` streamed through a cursor, kFetchRows at a time, `fn` called on each row.
  Status ScanRows(const std::string& sql, std::span<const Param> params,
                  const std::function<Status(const PGresult*, int)>& fn) {
    const bool own_transaction = !in_transaction_;
    const std::string cursor = StrCat("certcast_scan_", ++cursor_serial_);
    if (own_transaction) RETURN_IF_ERROR(Begin());
    Status s = [&]() -> Status {
      RETURN_IF_ERROR(Query(StrCat("DECLARE ", cursor, " NO SCROLL CURSOR FOR ", sql), params).status());
      const std::string fetch = StrCat("FETCH FORWARD ", kFetchRows, " FROM ", cursor);
      while (true) {
        ASSIGN_OR_RETURN(Result r, Query(fetch));
        const int rows = PQntuples(r.get());
        for (int row = 0; row < rows; ++row) RETURN_IF_ERROR(fn(r.get(), row));
        if (rows < kFetchRows) break;
      }
      return Query(StrCat("CLOSE ", cursor)).status();
    }();
    if (own_transaction) return Finish(s);
    return s;
  }

  // `sqlstate`, when given, receives the SQLSTATE of the COPY's failure (empty on success).
  Status CopyIn(const std::string& sql, std::string_view data, std::string* sqlstate = nullptr) {
    Result start(PQexec(conn_, sql.c_str()), PQclear);
    if (PQresultStatus(start.get()) != PGRES_COPY_IN) return Failed(start.get());
    // In pieces: libpq buffers what it cannot send yet, and a single huge call would double the
    // batch's memory in its buffer.
    constexpr size_t kChunk = 1 << 20;
    for (size_t pos = 0; pos < data.size(); pos += kChunk) {
      const size_t n = std::min(kChunk, data.size() - pos);
      if (PQputCopyData(conn_, data.data() + pos, static_cast<int>(n)) != 1) {
        return UnavailableError(StrCat("postgresql: COPY: ", Trimmed(PQerrorMessage(conn_))));
      }
    }
    if (PQputCopyEnd(conn_, nullptr) != 1) {
      return UnavailableError(StrCat("postgresql: COPY: ", Trimmed(PQerrorMessage(conn_))));
    }
    Status s = OkStatus();
    while (PGresult* raw = PQgetResult(conn_)) {
      Result r(raw, PQclear);
      if (s.ok() && PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
        s = Failed(r.get());
        const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
        if (sqlstate && state) *sqlstate = state;
      }
    }
    return s;
  }

  // Numbers the append of events from `earliest` on, in the current transaction. The lock is held
  // to the commit: appends are numbered in commit order, so a reader that saw seq S has seen every
  // append numbered S or less (EventAppendsSince's contract).
  Status RecordAppend(int64_t earliest) {
    RETURN_IF_ERROR(Query(StrCat("SELECT pg_advisory_xact_lock(", kAppendsLock, ")")).status());
    const std::string min_ts = StrCat(earliest);
    return Query("INSERT INTO event_appends (seq, min_ts) SELECT coalesce(max(seq), 0) + 1, $1 "
                 "FROM event_appends",
                 {Param{min_ts}})
        .status();
  }

  Status EnsureStaging() {
    if (staging_ready_) return OkStatus();
    // Temporary: per connection, never logged, emptied by every commit or rollback.
    RETURN_IF_ERROR(Query("CREATE TEMPORARY TABLE IF NOT EXISTS events_staging (ts bigint, hash "
                          "bigint, type smallint, subject text, json text) ON COMMIT DELETE ROWS")
                        .status());
    staging_ready_ = true;
    return OkStatus();
  }

  // Creates the monthly partitions `months` (their start, micros) that do not exist yet. In its
  // own short transaction: creating a partition locks the parent table, which must not be held
  // for a whole batch; an empty partition left by a batch that then failed is harmless.
  Status EnsurePartitions(const std::set<int64_t>& months) {
    std::vector<int64_t> missing;
    for (const int64_t month : months) {
      if (!known_partitions_.contains(month)) missing.push_back(month);
    }
    if (missing.empty()) return OkStatus();
    for (const int64_t month : missing) {
      const std::string name = PartitionName(month);
      ASSIGN_OR_RETURN(Result r, Query(StrCat("SELECT to_regclass('", name, "') IS NOT NULL")));
      if (ToText(r.get(), 0, 0) == "t") {
        known_partitions_.insert(month);
        continue;
      }
      RETURN_IF_ERROR(Begin());
      Status s = [&]() -> Status {
        RETURN_IF_ERROR(Query(StrCat("SELECT pg_advisory_xact_lock(", kPartitionLock, ")")).status());
        return Query(StrCat("CREATE TABLE IF NOT EXISTS ", name, " PARTITION OF events FOR VALUES "
                            "FROM (", month, ") TO (", MonthRange(month).second, ")"))
            .status()
            .WithPrefix(StrCat("partition ", name));
      }();
      RETURN_IF_ERROR(Finish(s));
      known_partitions_.insert(month);
    }
    return OkStatus();
  }

  // Stores the colliding staged row `row` at the next free hash (as SQLite's linear probing).
  // Returns false when the identical event is already stored at a probed hash.
  StatusOr<bool> Probe(const PGresult* rows, int row) {
    const std::string ts(ToText(rows, row, 0)), type(ToText(rows, row, 2)),
        subject(ToText(rows, row, 3)), json(ToText(rows, row, 4));
    int64_t hash = ToInt(rows, row, 1);
    while (true) {
      ++hash;
      const std::string hash_text = StrCat(hash);
      ASSIGN_OR_RETURN(Result stored, Query("SELECT json FROM events WHERE ts = $1 AND hash = $2",
                                            {Param{ts}, Param{hash_text}}));
      if (PQntuples(stored.get()) == 0) {
        RETURN_IF_ERROR(Query("INSERT INTO events (ts, hash, type, subject, json) VALUES ($1, $2, "
                              "$3, $4, $5)",
                              {Param{ts}, Param{hash_text}, Param{type}, Param{subject}, Param{json}})
                            .status());
        return true;
      }
      if (ToText(stored.get(), 0, 0) == json) return false;
    }
  }

  void NoteUnreadable(int64_t ts, int64_t hash, std::string_view reason) {
    if (!unreadable_keys_.insert({ts, hash}).second) return;
    ++unreadable_.count;
    if (unreadable_.first.size() < UnreadableEvents::kMaxListed) {
      unreadable_.first.push_back({ts, hash, std::string(reason)});
    }
  }

  PGconn* conn_;
  std::string name_;  // the URI without its password, for messages
  int version_ = 0;
  bool in_transaction_ = false;
  bool staging_ready_ = false;
  // The previous AppendEvents met stored keys: the next goes through the staging table at once.
  bool last_batch_met_stored_ = false;
  int64_t cursor_serial_ = 0;
  std::map<std::string, std::string> prepared_;  // QueryPrepared's statements: text -> name
  int64_t prepared_serial_ = 0;
  std::set<int64_t> known_partitions_;
  // The chain's end (seq, hash) as this transaction extended it; set once kAuditLock is held.
  std::optional<std::pair<int64_t, std::string>> audit_tail_;
  std::set<int64_t> leader_roles_;
  bool leadership_lost_ = false;  // leader_roles_ was not empty when the connection was lost
  std::set<int64_t> lost_roles_;  // roles held by the connection last lost
  UnreadableEvents unreadable_;
  std::set<std::pair<int64_t, int64_t>> unreadable_keys_;
};

}  // namespace

std::string StoreDisplayName(const std::string& db) {
  if (!IsPostgresUri(db)) return db;
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(db.c_str(), &error);
  if (!options) {
    PQfreemem(error);
    return "postgresql://(unparsable URI)";
  }
  std::string user, host, port, dbname;
  for (PQconninfoOption* o = options; o->keyword; ++o) {
    if (!o->val) continue;
    const std::string_view k = o->keyword;
    if (k == "user") user = o->val;
    if (k == "host") host = o->val;
    if (k == "hostaddr" && host.empty()) host = o->val;
    if (k == "port") port = o->val;
    if (k == "dbname") dbname = o->val;
  }
  PQconninfoFree(options);
  // A password (in the URI or its query) is never shown; the rest names the database.
  return StrCat("postgresql://", user, user.empty() ? "" : "@", host, port.empty() ? "" : ":", port,
                "/", dbname);
}

namespace sqlite_backend {
StatusOr<Leadership> HoldLeadership(Store& store, std::string_view role);  // sqlite_store.cc
StatusOr<std::vector<std::pair<std::string, std::string>>> ListState(Store& store);
}  // namespace sqlite_backend

bool IsPostgresStore(const Store& store) { return dynamic_cast<const PgStore*>(&store) != nullptr; }

StatusOr<Leadership> HoldLeadership(Store& store, std::string_view role) {
  if (auto* pg = dynamic_cast<PgStore*>(&store)) return pg->HoldLeadership(role);
  return sqlite_backend::HoldLeadership(store, role);
}

StatusOr<std::vector<std::pair<std::string, std::string>>> ListState(Store& store) {
  if (auto* pg = dynamic_cast<PgStore*>(&store)) return pg->ListState();
  return sqlite_backend::ListState(store);
}

StatusOr<std::unique_ptr<Store>> OpenPostgres(const std::string& uri, const StoreOptions& options) {
  const std::string name = StoreDisplayName(uri);
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(uri.c_str(), &error);
  if (!parsed) {
    std::string why = Trimmed(error);
    PQfreemem(error);
    return InvalidArgumentError(StrCat(name, ": not a PostgreSQL connection URI: ", why));
  }
  PQconninfoFree(parsed);
  // connect_timeout and application_name first: the URI's own values, expanded from "dbname",
  // come later and win.
  const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"10", "certcast", uri.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keywords, values, 1);
  if (!conn) return ResourceExhaustedError(StrCat(name, ": cannot connect: out of memory"));
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = Trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    return UnavailableError(StrCat(name, ": cannot connect: ", why));
  }
  auto store = std::make_unique<PgStore>(conn, name);
  Status s = store->Init(options);
  if (!s.ok()) {
    if (s.message().rfind(name, 0) != 0) return s.WithPrefix(name);
    return s;
  }
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace certcast
