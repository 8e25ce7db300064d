#include "policy/fleet_plan.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "core/strings.h"
#include "features/domains.h"

namespace certcast::policy {
namespace {

// Alert keys older than this are forgotten: every key names a certificate serial, an episode
// onset or a hazard instant, all of which are long gone by then.
constexpr absl::Duration kAlertMemory = absl::Hours(24 * 400);

}  // namespace

namespace {

// Both PlanFleet overloads. `explain`, when set, fills the reasons of the named lineages in
// `forecasts` (the caller's map, which it holds mutable).
PlanResult PlanFleetWith(const std::vector<LineageView>& lineages, const ForecastMap& forecasts,
                         FleetMemory& memory, const PolicyConfig& config, absl::Time now,
                         const std::function<void(const std::vector<std::string>&)>& explain) {
  PlanResult result;
  result.lineages = static_cast<int64_t>(lineages.size());
  // Issuance per registered domain over 7 d, for the new-order budget.
  absl::flat_hash_map<std::string, int> per_domain;
  for (const LineageView& v : lineages) {
    if (v.issued_last_7d > 0 && !v.config.names.empty()) {
      per_domain[RegisteredDomain(v.config.names.front())] += v.issued_last_7d;
    }
  }
  FleetBudget budget{&per_domain};
  static const ForecastView kNoForecast;
  static const LineageMemory kNoMemory;

  auto forecast_of = [&](const LineageView& v) -> const ForecastView& {
    auto f = forecasts.find(v.cert);
    return f == forecasts.end() ? kNoForecast : f->second;
  };
  auto decide = [&](const LineageView& v) {
    auto mem = memory.find(v.cert);
    const LineageMemory& m = mem == memory.end() ? kNoMemory : mem->second;
    return Decide(PolicyInput{v, forecast_of(v), m, config, budget, now});
  };
  // Lineage index and decision of the lineages that propose something (a few per cent): the
  // others add nothing to the result.
  std::vector<std::pair<size_t, Decision>> proposing;
  for (size_t i = 0; i < lineages.size(); ++i) {
    Decision d = decide(lineages[i]);
    if (!d.actions.empty() || !d.held.empty()) proposing.emplace_back(i, std::move(d));
  }
  if (explain) {
    // Reasons change only the wording of proposals, never whether there is one: a lineage
    // without a proposal now has none with its reasons either.
    std::vector<std::string> certs;
    for (const auto& [i, d] : proposing) {
      if (forecasts.contains(lineages[i].cert)) certs.push_back(lineages[i].cert);
    }
    if (!certs.empty()) {
      explain(certs);
      for (auto& [i, d] : proposing) {
        if (forecasts.contains(lineages[i].cert)) d = decide(lineages[i]);
      }
    }
  }

  std::vector<PlannedItem> renewals, alerts;
  for (auto& [i, d] : proposing) {
    const LineageView& v = lineages[i];
    const ForecastView& forecast = forecast_of(v);
    for (Held& h : d.held) result.held.push_back({v.cert, std::move(h), d.diagnosis});
    for (Proposal& p : d.actions) {
      PlannedItem item;
      item.action.cert = v.cert;
      item.action.kind = p.kind;
      item.action.challenge = p.challenge;
      item.action.ca = p.ca;
      item.action.host = p.host;
      item.action.reason = ReasonText(p);
      item.action.risk = std::clamp(forecast.risk, 0.0, 1.0);
      item.reason = p.reason;
      item.diagnosis = d.diagnosis;
      item.forecast = &forecast;
      item.alert_key = p.alert_key;
      item.urgency = p.urgency;
      item.safety_net = p.safety_net;
      (p.track == Track::kAlert ? alerts : renewals).push_back(std::move(item));
    }
  }
  // Safety net first, then most urgent (closest to expiry); ties by cert for determinism.
  std::stable_sort(renewals.begin(), renewals.end(), [](const PlannedItem& a, const PlannedItem& b) {
    if (a.safety_net != b.safety_net) return a.safety_net;
    if (a.urgency != b.urgency) return a.urgency > b.urgency;
    return a.action.cert < b.action.cert;
  });
  int limited_count = 0;
  for (PlannedItem& item : renewals) {
    // Renewals and dry runs load the CA and the hosts; reloads do not count.
    const bool limited =
        item.action.kind == ActionKind::kRenew || item.action.kind == ActionKind::kDryRun;
    if (limited && !item.safety_net && config.max_concurrent_renewals > 0 &&
        limited_count >= config.max_concurrent_renewals) {
      Proposal p;
      p.kind = item.action.kind;
      p.reason = item.reason;
      p.message = item.action.reason;
      result.held.push_back({item.action.cert,
                             Held{p, kHeldConcurrency,
                                  StrCat("more than ", config.max_concurrent_renewals,
                                         " renewals and dry runs in this run")},
                             item.diagnosis});
      continue;
    }
    if (limited) ++limited_count;
    result.items.push_back(std::move(item));
  }
  // Alerts about a shared cause ("scope:host:web1:local_client") go out once for the fleet; the
  // fleet's own memory lives under the empty cert name.
  LineageMemory& fleet = memory[""];
  for (PlannedItem& item : alerts) {
    if (item.alert_key.rfind("scope:", 0) == 0) {
      const bool sent = std::any_of(fleet.alerted.begin(), fleet.alerted.end(),
                                    [&](const auto& e) { return e.first == item.alert_key; });
      if (sent) {
        Proposal p;
        p.kind = item.action.kind;
        p.reason = item.reason;
        p.message = item.action.reason;
        p.alert_key = item.alert_key;
        result.held.push_back({item.action.cert,
                               Held{p, kHeldAlreadyDone,
                                    StrCat("alert ", item.alert_key, " already sent")},
                               item.diagnosis});
        continue;
      }
      fleet.alerted.emplace_back(item.alert_key, now);
    }
    result.items.push_back(std::move(item));
  }

  // Remember what was planned.
  absl::flat_hash_map<std::string_view, const LineageView*> by_cert;
  for (const LineageView& v : lineages) by_cert[v.cert] = &v;
  for (const PlannedItem& item : result.items) {
    LineageMemory& m = memory[item.action.cert];
    const LineageView* v = by_cert[item.action.cert];
    const std::string serial = v && v->current ? v->current->serial : "";
    switch (item.action.kind) {
      case ActionKind::kRenew:
        if (m.last_renew_serial != serial) m.renewals_for_serial = 0;
        m.last_renew_at = now;
        m.last_renew_serial = serial;
        ++m.renewals_for_serial;
        if (item.action.challenge || item.action.ca) {
          if (item.action.challenge) m.switched_challenge = item.action.challenge;
          if (item.action.ca) m.switched_ca = item.action.ca;
          m.switched_at = now;
        }
        break;
      case ActionKind::kDryRun:
        m.last_dry_run_at = now;
        break;
      case ActionKind::kReload:
        m.last_reload_at = now;
        m.last_reload_serial = serial;
        break;
      case ActionKind::kAlert:
        m.alerted.emplace_back(item.alert_key, now);
        break;
    }
  }
  for (auto& [cert, m] : memory) {
    std::erase_if(m.alerted, [&](const auto& entry) { return now - entry.second > kAlertMemory; });
  }
  return result;
}

}  // namespace

PlanResult PlanFleet(const std::vector<LineageView>& lineages, const ForecastMap& forecasts,
                     FleetMemory& memory, const PolicyConfig& config, absl::Time now) {
  return PlanFleetWith(lineages, forecasts, memory, config, now, nullptr);
}

PlanResult PlanFleet(const std::vector<LineageView>& lineages, ForecastMap& forecasts,
                     FleetMemory& memory, const PolicyConfig& config, absl::Time now,
                     const ExplainForecasts& explain) {
  std::function<void(const std::vector<std::string>&)> fill;
  if (explain) fill = [&](const std::vector<std::string>& certs) { explain(certs, forecasts); };
  return PlanFleetWith(lineages, forecasts, memory, config, now, fill);
}

}  // namespace certcast::policy
