// The decision chain (policy.h) applied to a whole fleet at one instant: every lineage decided,
// the fleet-wide budget (issuance per registered domain) and the concurrency cap applied, and
// the memory of what certcast already did updated with what was planned.
//
// Pure: views, forecasts, memory and the instant in; a plan and the new memory out. Reading the
// store, scoring and recording are the planning coordinator's (src/plan/planner.h).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "core/action.h"
#include "policy/lineage_view.h"
#include "policy/policy.h"

namespace certcast::policy {

using FleetMemory = absl::flat_hash_map<std::string, LineageMemory>;

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

}  // namespace certcast::policy
