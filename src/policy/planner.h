// The planner: applies the decision chain (policy.h) to a fleet, with memory of what certcast
// already did kept between calls, a cap on concurrent renewals, and the audit trail.
//
// `certcast plan` is called once per (simulated) day and must be stateless between calls except
// through the store: memory (alerts sent, renewals / dry runs / reloads planned, challenge or CA
// switches in force) is one JSON document under the store state key kMemoryStateKey, so a second
// call at the same instant repeats nothing.
//
// PlanFleet is pure (memory in, memory out). RunPlan is the coordinator: it reads the store, scores
// with the forecaster, plans, writes memory and audit records.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "core/action.h"
#include "core/status.h"
#include "policy/lineage_view.h"
#include "policy/plan_state.h"
#include "policy/policy.h"
#include "store/store.h"

namespace certcast {
class Store;
class Forecaster;
}  // namespace certcast

namespace certcast::policy {

inline constexpr char kMemoryStateKey[] = "policy.memory.v1";

using FleetMemory = absl::flat_hash_map<std::string, LineageMemory>;

// JSON round trip of the fleet memory. Unknown fields are ignored; a malformed document is
// DataLoss (the caller decides whether to start over).
std::string MemoryToJson(const FleetMemory& memory);
StatusOr<FleetMemory> MemoryFromJson(std::string_view json);

struct PlannedItem {
  PlannedAction action;       // exactly what `plan` prints
  std::string_view reason;    // kReason* constant (also the prefix of action.reason)
  Diagnosis diagnosis;
  const ForecastView* forecast = nullptr;  // points into the forecasts map passed in
  std::string alert_key;   // alerts: what memory deduplicates on
  double urgency = 0;
  bool safety_net = false;
};

struct HeldItem {
  std::string cert;
  Held held;
  // The lineage's diagnosis at this plan: an alert held because it was already sent still says
  // what the cause is (the alert core, src/alert, follows conditions that persist).
  Diagnosis diagnosis;
};

struct PlanResult {
  std::vector<PlannedItem> items;  // renewal-track actions first (by urgency), then alerts
  std::vector<HeldItem> held;
  int64_t lineages = 0;
};

using ForecastMap = absl::flat_hash_map<std::string, ForecastView>;

// Decides for every lineage and updates `memory` with what was planned. Lineages without a
// forecast get risk 0 (the chain's fact-based checks still apply).
PlanResult PlanFleet(const std::vector<LineageView>& lineages, const ForecastMap& forecasts,
                     FleetMemory& memory, const PolicyConfig& config, absl::Time now);

// Fills ForecastView::reasons and top_features of the named lineages' entries of `forecasts`
// (every name has an entry). Adds no entry: planned items point into the map. On failure it
// leaves them empty (the plan then goes out without those reasons).
using ExplainForecasts =
    std::function<void(const std::vector<std::string>& certs, ForecastMap& forecasts)>;

// The same for forecasts scored without reasons (their TreeSHAP pass costs more than the risks):
// decides every lineage, asks `explain` once for the reasons of the lineages whose decision
// proposes something (planned or held: the chain uses reasons only in the wording of proposal
// messages, and audit records exist only for planned actions), and decides those lineages again.
// The result and `memory` are what the first overload gives with every forecast's reasons.
PlanResult PlanFleet(const std::vector<LineageView>& lineages, ForecastMap& forecasts,
                     FleetMemory& memory, const PolicyConfig& config, absl::Time now,
                     const ExplainForecasts& explain);

struct RunPlanOptions {
  PolicyConfig config;
  // Record decisions in the audit log (one record per planned action plus one per run).
  bool audit = true;
  // Persist memory (a dry-run of the planner itself leaves no trace when false).
  bool remember = true;
  // Save the folded events as the store's checkpoint (plan_state.h) so the next plan reads only
  // newer events; skipped when no event was folded since the checkpoint (PlanState::unsaved). A
  // cache: it changes no output.
  bool checkpoint = true;
  // Also hand back the lineage views and the fleet memory the plan decided on (RunPlanOutput::
  // views, ::memory): the server builds its fleet view from them (src/api/fleet_snapshot.h).
  bool keep_views = false;
  // Actions carried out by an agent instead of here (the server's rule, src/api/agent_queue.h):
  // for a planned item and its lineage's config, the action to queue, or nullopt to keep the
  // item for the local executors. Called only when `audit` is set (a queued action names its
  // decision's audit record); the queued actions commit with the plan (StoreCommit::actions).
  using QueueForAgent =
      std::function<std::optional<NewQueuedAction>(const PlannedItem&, const ConfigEvent&)>;
  QueueForAgent queue_for_agent;
};

struct RunPlanOutput {
  PlanResult result;
  // Reasons only for the lineages with a proposal (planned or held), see PlanFleet.
  ForecastMap forecasts;
  std::string model_version;
  std::string forecast_error;  // non-empty when scoring failed and the plan used facts alone
  // Non-empty when the risks were scored but the reasons were not: messages and audit records of
  // this plan lack them.
  std::string reasons_error;
  // Latest config of every lineage, for executors that need the names, client and challenge.
  absl::flat_hash_map<std::string, ConfigEvent> configs;
  // Only with RunPlanOptions::keep_views: every lineage as of `at` (sorted by cert) and the
  // memory after this plan (stored only when `remember`).
  std::vector<LineageView> views;
  FleetMemory memory;
  // Where the time went (wall seconds): load = restoring the checkpoint + reading and folding
  // the events after it; views = building the lineage views; score = the forecaster (risks, and
  // the reasons PlanFleet asks for); decide = the rest of the chain (PlanFleet); save = encoding
  // memory and the checkpoint; audit = the audit records and the one transaction that commits
  // memory, checkpoint and audit records together (Store::Commit).
  double load_seconds = 0, views_seconds = 0, score_seconds = 0, decide_seconds = 0,
         save_seconds = 0, audit_seconds = 0;
  // Parallel to result.items: true for an item queued for an agent (queue_for_agent), which the
  // local executors must leave alone.
  std::vector<bool> queued;
  AdvanceStats advance;
  int64_t checkpoint_bytes = 0;  // 0 when not saved (also when nothing new was folded)
  double encode_seconds = 0;     // of save_seconds: serializing the checkpoint
};

// Plans as of `at` over every stored event with ts < at: brings `state` up to `at` (plan_state.h;
// it must have been built with_fleet when `forecaster` is not null), scores with `forecaster`
// (may be null: risk 0 everywhere), plans, and stores memory, audit records and the checkpoint.
// The daemon keeps one PlanState across cycles.
StatusOr<RunPlanOutput> RunPlan(Store& store, const Forecaster* forecaster, absl::Time at,
                                const RunPlanOptions& options, PlanState& state);
// The same for a one-off call: starts from the store's checkpoint.
StatusOr<RunPlanOutput> RunPlan(Store& store, const Forecaster* forecaster, absl::Time at,
                                const RunPlanOptions& options);

// Audit helpers shared by plan, the executors and `certcast audit`.
std::string DecisionAuditJson(const PlannedItem& item, absl::Time at, const std::string& model_version);

struct AuditVerification {
  int64_t records = 0;
  bool ok = true;
  int64_t first_bad_seq = 0;
  std::string problem;
  // The chain head outside the store (Store::ReadAuditHead): its seq (0: no head file), and how
  // many records follow it (appended after the last head update: a crash between the commit and
  // the head write, two writers racing, or records added by someone who can write the store).
  int64_t head_seq = 0;
  int64_t records_after_head = 0;
};
// Recomputes every record's hash and checks the chain links; reports the first broken record.
// Then compares the chain with the head kept outside the store: a head naming a record the store
// no longer has (the last rows or all rows deleted), or a record at the head's seq whose hash
// differs, is reported as tampering; a missing head file while the store has records too (it
// could have been deleted along with the rows). What this proves and does not: docs/security.md
// section "Audit chain".
StatusOr<AuditVerification> VerifyAudit(Store& store);

}  // namespace certcast::policy
