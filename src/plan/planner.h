// The planning coordinator: brings the folded state up to an instant (plan_state.h), scores with
// the forecaster, applies the pure decision chain to the fleet (policy/fleet_plan.h), and records
// memory, checkpoint, audit records and queued actions in one store transaction.
//
// `certcast plan` is called once per (simulated) day and must be stateless between calls except
// through the store: memory (alerts sent, renewals / dry runs / reloads planned, challenge or CA
// switches in force) is one JSON document under the store state key kMemoryStateKey, so a second
// call at the same instant repeats nothing.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "core/action.h"
#include "core/status.h"
#include "plan/plan_state.h"
#include "policy/fleet_plan.h"
#include "policy/lineage_view.h"
#include "policy/policy.h"
#include "store/store.h"

namespace certcast {
class Forecaster;
}  // namespace certcast

namespace certcast::plan {

using policy::FleetMemory;
using policy::ForecastMap;
using policy::PlannedItem;
using policy::PlanResult;
using policy::PolicyConfig;
using policy::LineageView;

inline constexpr char kMemoryStateKey[] = "policy.memory.v1";

// JSON round trip of the fleet memory (the fields of policy::LineageMemory, listed once in
// planner.cc). Unknown fields are ignored; a malformed document is DataLoss naming the lineage
// and field (the caller decides whether to start over).
std::string MemoryToJson(const FleetMemory& memory);
StatusOr<FleetMemory> MemoryFromJson(std::string_view json);

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

// The audit record of a planned decision, shared by plan and the executors.
std::string DecisionAuditJson(const PlannedItem& item, absl::Time at, const std::string& model_version);

}  // namespace certcast::plan
