// certcast migrate: copies a store (a single host's SQLite file) into another (the fleet's shared
// PostgreSQL), then checks the copy by counts and by the audit chain.
#include <algorithm>
#include <array>
#include <iostream>
#include <limits>

#include "cli/command.h"
#include "core/strings.h"
#include "store/action_queue_moves.h"
#include "store/store_backends.h"

namespace certcast::cli {
namespace {

struct MigrateFlags {
  std::string from;
  std::string to;
  bool into_non_empty = false;
};

constexpr size_t kEventBatch = 20000;
constexpr size_t kAuditBatch = 1000;

// What a store holds that the copy must account for.
struct Contents {
  int64_t events = 0, audit = 0, tokens = 0, models = 0, state = 0, incidents = 0, silences = 0;
  std::vector<QueuedAction> actions;  // every action, by id
  bool empty() const {
    return events == 0 && audit == 0 && tokens == 0 && models == 0 && state == 0 &&
           incidents == 0 && silences == 0 && actions.empty();
  }
  // Actions finished, per state: done, failed, cancelled, expired.
  std::array<int64_t, 4> Finished() const {
    std::array<int64_t, 4> n{};
    for (const QueuedAction& a : actions) {
      for (size_t i = 0; i < kFinishedStates.size(); ++i) n[i] += a.state == kFinishedStates[i];
    }
    return n;
  }
  static constexpr std::array<ActionState, 4> kFinishedStates = {
      ActionState::kDone, ActionState::kFailed, ActionState::kCancelled, ActionState::kExpired};
};

// Every incident, open or resolved.
StatusOr<std::vector<IncidentRecord>> AllIncidents(Store& store) {
  return store.ListIncidents({.open = std::nullopt, .limit = std::numeric_limits<int64_t>::max()});
}

StatusOr<Contents> Count(Store& store) {
  Contents c;
  ASSIGN_OR_RETURN(c.events, store.CountEvents());
  RETURN_IF_ERROR(store.ScanAudit([&](const AuditRecord&) {
    ++c.audit;
    return OkStatus();
  }));
  ASSIGN_OR_RETURN(std::vector<TokenRecord> tokens, store.ListTokens());
  c.tokens = static_cast<int64_t>(tokens.size());
  ASSIGN_OR_RETURN(std::vector<StoredModel> models, store.ListModels());
  c.models = static_cast<int64_t>(models.size());
  ASSIGN_OR_RETURN(auto state, ListState(store));
  c.state = static_cast<int64_t>(state.size());
  ASSIGN_OR_RETURN(std::vector<IncidentRecord> incidents, AllIncidents(store));
  c.incidents = static_cast<int64_t>(incidents.size());
  ASSIGN_OR_RETURN(std::vector<SilenceRecord> silences, store.ListSilences());
  c.silences = static_cast<int64_t>(silences.size());
  ASSIGN_OR_RETURN(c.actions, store.ListActions({.host = std::nullopt, .state = std::nullopt,
                                                 .after_id = 0,
                                                 .limit = std::numeric_limits<int64_t>::max()}));
  return c;
}

Status Migrate(const MigrateFlags& flags, std::ostream& out) {
  if (flags.from == flags.to) return InvalidArgumentError("--from and --to name the same store");
  ASSIGN_OR_RETURN(std::unique_ptr<Store> from, Store::Open(flags.from, {.create_if_missing = false}));
  ASSIGN_OR_RETURN(std::unique_ptr<Store> to, Store::Open(flags.to));
  const std::string to_name = StoreDisplayName(flags.to);
  ASSIGN_OR_RETURN(Contents before, Count(*to));
  if (!before.empty() && !flags.into_non_empty) {
    return FailedPreconditionError(StrCat(
        to_name, ": the target store is not empty (", before.events, " events, ", before.audit,
        " audit records, ", before.tokens, " tokens, ", before.models, " models, ", before.state,
        " state keys, ", before.incidents, " incidents, ", before.silences, " silences, ",
        before.actions.size(), " actions); nothing was copied. Pass --into-non-empty to add this store to it"));
  }
  // Actions queued or leased for agents are not moved: a lease names the store it was taken
  // from, and an agent reporting to the new store would report an action it does not hold.
  // Finished ones are copied below, beside the audit log that names them.
  int64_t open_actions = 0;
  for (const ActionState state : {ActionState::kQueued, ActionState::kLeased}) {
    ASSIGN_OR_RETURN(std::vector<QueuedAction> open,
                     from->ListActions({.host = std::nullopt, .state = state, .after_id = 0,
                                        .limit = std::numeric_limits<int64_t>::max()}));
    open_actions += static_cast<int64_t>(open.size());
  }
  if (open_actions > 0) {
    return FailedPreconditionError(StrCat(
        StoreDisplayName(flags.from), ": ", open_actions, " actions are queued or leased for "
        "agents; nothing was copied. Let the agents report them, or cancel them (POST "
        "/v1/queue/{id}/cancel), with the servers on this store stopped from planning, then "
        "migrate again"));
  }
  ASSIGN_OR_RETURN(Contents source, Count(*from));

  // Events, in batches: duplicates of events the target has are stored once.
  std::vector<Event> batch;
  AppendResult events;
  auto flush = [&]() -> Status {
    ASSIGN_OR_RETURN(AppendResult r, to->AppendEvents(batch));
    events.inserted += r.inserted;
    events.duplicates += r.duplicates;
    batch.clear();
    return OkStatus();
  };
  RETURN_IF_ERROR(from->ScanEvents({}, [&](const Event& e) {
    batch.push_back(e);
    return batch.size() >= kEventBatch ? flush() : OkStatus();
  }));
  if (!batch.empty()) RETURN_IF_ERROR(flush());
  const UnreadableEvents unreadable = from->unreadable_events();
  if (unreadable.count > 0) std::cerr << "certcast migrate: " << DescribeUnreadable(unreadable) << "\n";

  // The audit log, in order. Into an empty target the records keep their seq and hash (the
  // chain is computed the same way from the same fields), so the copy is checked record by
  // record; into a non-empty one they are chained after its own records.
  std::vector<AuditEntry> entries;
  std::vector<AuditRecord> source_audit;
  auto flush_audit = [&]() -> Status {
    RETURN_IF_ERROR(to->AppendAudits(entries).status());
    entries.clear();
    return OkStatus();
  };
  RETURN_IF_ERROR(from->ScanAudit([&](const AuditRecord& r) {
    if (AuditHash(r) != r.hash) {
      return DataLossError(StrCat(StoreDisplayName(flags.from), ": audit record ", r.seq,
                                  " does not match its hash; run `certcast audit --verify --db ",
                                  StoreDisplayName(flags.from), "` (nothing more was copied)"));
    }
    entries.push_back({r.at, r.kind, r.record_json});
    if (before.audit == 0) source_audit.push_back({.seq = r.seq, .at = {}, .kind = {}, .record_json = {},
                                                   .prev_hash = {}, .hash = r.hash});
    return entries.size() >= kAuditBatch ? flush_audit() : OkStatus();
  }));
  if (!entries.empty()) RETURN_IF_ERROR(flush_audit());

  // Tokens keep their id, hash, creation, last use and revocation.
  ASSIGN_OR_RETURN(std::vector<TokenRecord> tokens, from->ListTokens());
  int64_t tokens_copied = 0;
  for (const TokenRecord& t : tokens) {
    ASSIGN_OR_RETURN(std::optional<TokenRecord> existing, to->FindToken(t.id));
    if (existing) continue;  // the same token (its id is random) is already there
    RETURN_IF_ERROR(to->CreateToken(t).WithPrefix(StrCat("token ", t.name)));
    if (t.revoked) RETURN_IF_ERROR(to->RevokeToken(t.name, *t.revoked));
    if (t.last_used) {
      const std::vector<std::pair<std::string, absl::Time>> touch = {{t.id, *t.last_used}};
      RETURN_IF_ERROR(to->TouchTokens(touch));
    }
    ++tokens_copied;
  }
  // Models: the newest of each name (the only one anything loads), with its metadata.
  ASSIGN_OR_RETURN(std::vector<StoredModel> listed, from->ListModels());
  std::vector<std::string> names;
  for (auto it = listed.rbegin(); it != listed.rend(); ++it) {
    if (std::find(names.begin(), names.end(), it->name) == names.end()) names.push_back(it->name);
  }
  for (const std::string& name : names) {
    ASSIGN_OR_RETURN(std::optional<StoredModel> model, from->LatestModel(name));
    if (model) RETURN_IF_ERROR(to->PutModel(*model).status());
  }
  // The planner's memory (what it did, lineage locks); checkpoints are derived from events and
  // rebuilt by the first plan on the target.
  ASSIGN_OR_RETURN(auto state, ListState(*from));
  // Incidents (open ones go on being updated by the target's planner) and silences, ended or
  // not: who silenced what stays on record.
  ASSIGN_OR_RETURN(std::vector<IncidentRecord> incidents, AllIncidents(*from));
  StoreCommit commit;
  commit.state = state;
  commit.incidents = incidents;
  RETURN_IF_ERROR(to->Commit(commit).status());
  ASSIGN_OR_RETURN(std::vector<SilenceRecord> silences, from->ListSilences());
  int64_t silences_copied = 0;
  for (const SilenceRecord& silence : silences) {
    Status created = to->CreateSilence(silence);
    if (created.code() == StatusCode::kAlreadyExists) continue;  // ids are random: the same one
    RETURN_IF_ERROR(created.WithPrefix(StrCat("silence ", silence.id)));
    ++silences_copied;
  }

  // Finished actions (done, failed, cancelled, expired): the queue's record of who was handed
  // what and how it ended, beside the audit records that name them. Into an empty target each
  // keeps its id and its decision's seq, as the audit records keep theirs; into a non-empty one
  // they get new ids, and decision seqs moved past the target's own records, as the copied audit
  // records were.
  std::vector<QueuedAction> finished = source.actions;
  for (QueuedAction& a : finished) {
    if (!before.empty()) a.decision_seq += before.audit;
  }
  RETURN_IF_ERROR(action_queue::ImportFinishedActions(*to, finished, before.empty())
                      .WithPrefix("finished actions"));

  // Verification.
  ASSIGN_OR_RETURN(Contents after, Count(*to));
  const int64_t readable = source.events - unreadable.count;
  if (after.events < readable || (before.empty() && after.events != readable)) {
    return DataLossError(StrCat(to_name, ": holds ", after.events, " events after the copy, ",
                                "expected ", readable));
  }
  if (after.incidents < source.incidents || after.silences < source.silences) {
    return DataLossError(StrCat(to_name, ": holds ", after.incidents, " incidents and ",
                                after.silences, " silences after the copy, expected at least ",
                                source.incidents, " and ", source.silences));
  }
  const std::array<int64_t, 4> finished_before = before.Finished(),
                               finished_source = source.Finished(), finished_after = after.Finished();
  for (size_t i = 0; i < finished_after.size(); ++i) {
    if (finished_after[i] != finished_before[i] + finished_source[i]) {
      return DataLossError(StrCat(to_name, ": holds ", finished_after[i], " ",
                                  ToString(Contents::kFinishedStates[i]), " actions after the copy, "
                                  "expected ", finished_before[i] + finished_source[i]));
    }
  }
  if (after.audit != before.audit + source.audit) {
    return DataLossError(StrCat(to_name, ": holds ", after.audit, " audit records after the copy, "
                                "expected ", before.audit + source.audit));
  }
  size_t index = 0;
  std::string prev;
  int64_t head_seq = 0;
  Status chain = to->ScanAudit([&](const AuditRecord& r) -> Status {
    if (r.prev_hash != prev || AuditHash(r) != r.hash) {
      return DataLossError(StrCat(to_name, ": audit chain broken at record ", r.seq));
    }
    if (before.audit == 0 && (index >= source_audit.size() || source_audit[index].seq != r.seq ||
                              source_audit[index].hash != r.hash)) {
      return DataLossError(StrCat(to_name, ": audit record ", r.seq, " differs from the source's"));
    }
    ++index;
    prev = r.hash;
    head_seq = r.seq;
    return OkStatus();
  });
  RETURN_IF_ERROR(chain);
  out << "events: " << events.inserted << " copied, " << events.duplicates
      << " already there (source " << source.events << ", " << unreadable.count << " unreadable)\n"
      << "audit: " << source.audit << " records copied; chain verified to seq " << head_seq
      << (before.audit == 0 ? ", every hash equal to the source's" : ", chained after the target's own")
      << "\n"
      << "tokens: " << tokens_copied << " copied; models: " << names.size()
      << " (the newest of each name); state: " << state.size()
      << " keys; checkpoints: not copied (rebuilt from events by the first plan)\n"
      << "incidents: " << incidents.size() << " copied; silences: " << silences_copied
      << " copied; action queue: " << finished.size() << " finished actions copied ("
      << finished_source[0] << " done, " << finished_source[1] << " failed, " << finished_source[2]
      << " cancelled, " << finished_source[3] << " expired"
      << (before.empty() ? ", ids kept" : ", new ids") << "), none open\n";
  return OkStatus();
}

int RunMigrate(const MigrateFlags& flags) {
  Status s = Migrate(flags, std::cout);
  if (!s.ok()) return Fail(s);
  return kExitOk;
}

const bool registered = RegisterCommand({
    .name = "migrate",
    .summary = "Copy a store into another (a host's SQLite file into the fleet's PostgreSQL)",
    .order = 83,
    .setup =
        [](CLI::App& sub) {
          auto flags = std::make_shared<MigrateFlags>();
          sub.description(
              "Copies every event, the audit log, tokens (hashes only, as stored), the newest "
              "model of each name, the planner's state, incidents, silences and finished actions "
              "from --from into --to, then verifies the copy: event, audit and action counts, and "
              "the target's audit chain record by record "
              "(into an empty target every record keeps its seq and hash). Either side may be a "
              "SQLite file or a postgresql:// URI. Refuses a target that already holds anything "
              "unless --into-non-empty is given, and a source with actions still queued or leased "
              "for agents (finished ones are copied, with their ids into an empty target). "
              "Stop the servers writing to --from first: what they write during the copy is not "
              "copied.");
          sub.add_option("--from", flags->from, "Store to copy (SQLite file or postgresql:// URI)")
              ->required();
          sub.add_option("--to", flags->to, "Store to copy into; created when missing")->required();
          sub.add_flag("--into-non-empty", flags->into_non_empty,
                       "Add to a target that already holds events or records (events already "
                       "there are stored once; audit records are chained after its own). "
                       "Default: refuse");
          sub.footer(
              "Example:\n  certcast migrate --from /var/lib/certcast/fleet.db \\\n"
              "    --to postgresql://certcast@db.example:5432/certcast");
          return [flags] { return RunMigrate(*flags); };
        },
});

}  // namespace
}  // namespace certcast::cli
