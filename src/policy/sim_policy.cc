#include "policy/sim_policy.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "alert/from_plan.h"
#include "core/strings.h"

#include "features/lineage_state.h"
#include "model/forecaster.h"

namespace certcast::policy {

struct SimPolicy::State {
  explicit State(bool with_features) : fleet(with_features) {}
  FleetMemory memory;
  std::vector<alert::Incident> incidents;  // open ones (resolved ones are dropped)
  FleetState fleet;             // the one fold of every event before the last day_end
  std::vector<Event> later;     // events at or after the last day_end, folded the next day
};

SimPolicy::SimPolicy(PolicyConfig config, const Forecaster* forecaster, std::string name)
    : config_(std::move(config)),
      forecaster_(forecaster),
      name_(std::move(name)),
      state_(std::make_unique<State>(forecaster_ != nullptr)) {}

SimPolicy::~SimPolicy() = default;

void SimPolicy::EnableIncidents(alert::AlertPolicy policy) { alerting_ = policy; }

std::vector<PlannedAction> SimPolicy::Decide(absl::Time day_end,
                                             std::span<const Event> todays_events) {
  const auto start = std::chrono::steady_clock::now();
  // Fold each event once, those before day_end; a refused one (out of order) fails the day's
  // forecast like a failed scoring did. Events held over from the day before come first in
  // `pending`, but a day's event can be older than one of them (its day_end fell between them):
  // sorted by time, stably so that events of one instant keep the simulator's order, the fold
  // sees them in order instead of refusing the older one.
  std::vector<Event> pending = std::move(state_->later);
  state_->later.clear();
  pending.insert(pending.end(), todays_events.begin(), todays_events.end());
  std::stable_sort(pending.begin(), pending.end(), [](const Event& a, const Event& b) { return a.ts < b.ts; });
  Status advanced = OkStatus();
  for (Event& e : pending) {
    if (e.ts >= day_end) {
      state_->later.push_back(std::move(e));
    } else if (Status s = state_->fleet.Apply(e); !s.ok() && advanced.ok()) {
      advanced = s;
    }
  }
  absl::flat_hash_map<std::string, ForecastView> forecasts;
  if (!advanced.ok()) ++forecast_failures_;
  if (forecaster_) {
    StatusOr<std::vector<LineageForecast>> scored =
        advanced.ok() ? forecaster_->ScoreState(state_->fleet, day_end) : StatusOr<std::vector<LineageForecast>>(advanced);
    if (scored.ok()) {
      for (LineageForecast& f : *scored) {
        ForecastView v;
        v.risk = f.risk;
        v.in_episode = f.in_episode;
        for (Reason& r : f.reasons) {
          v.reasons.push_back(std::move(r.sentence));
          v.top_features.emplace_back(std::move(r.feature), r.contribution);
        }
        forecasts.emplace(std::move(f.cert), std::move(v));
      }
    } else if (advanced.ok()) {
      ++forecast_failures_;
    }
  }
  const std::vector<LineageView> views = BuildViews(state_->fleet, day_end);
  PlanResult result = PlanFleet(views, forecasts, state_->memory, config_, day_end);
  std::vector<PlannedAction> actions;
  actions.reserve(result.items.size());
  if (!alerting_) {
    for (PlannedItem& item : result.items) actions.push_back(std::move(item.action));
  } else {
    for (PlannedItem& item : result.items) {
      if (item.action.kind != ActionKind::kAlert) actions.push_back(std::move(item.action));
    }
    const std::vector<alert::AlertCandidate> candidates = alert::CandidatesFromPlan(result, views);
    const size_t before = state_->incidents.size();
    alert::StepResult step = alert::Step(state_->incidents, candidates, {}, *alerting_, day_end);
    alert_log_.incidents = true;
    alert_log_.incidents_opened += static_cast<int64_t>(state_->incidents.size() - before);
    for (const alert::Incident& in : state_->incidents) {
      if (!in.open) ++alert_log_.incidents_resolved;
      for (const alert::IncidentLineage& l : in.lineages) {
        if (l.recovered || l.last_seen != day_end) continue;
        if (l.severity == alert::Severity::kWatch) ++alert_log_.lineage_plans_watched;
        if (l.severity == alert::Severity::kInfo) ++alert_log_.lineage_plans_info;
      }
    }
    std::map<std::string, const alert::IncidentLineage*> lineage_of;
    for (const alert::Incident& in : state_->incidents) {
      for (const alert::IncidentLineage& l : in.lineages) lineage_of[in.id + "\n" + l.cert] = &l;
    }
    for (const alert::Notification& n : step.notifications) {
      if (n.kind == alert::Notification::Kind::kResolved) continue;
      // Firing notices are tickets or pages (watch and info are never sent).
      alert_log_.notices.push_back({day_end,
                                    n.severity == alert::Severity::kPage ? sim::NoticeSeverity::kPage
                                                                         : sim::NoticeSeverity::kTicket,
                                    n.certs});
      NotificationLog logged{day_end, n.severity, n.incident_id, n.certs, n.cause_key, {}};
      for (const std::string& cert : n.certs) {
        auto it = lineage_of.find(n.incident_id + "\n" + cert);
        logged.messages.push_back(it == lineage_of.end() ? "" : it->second->message);
      }
      firing_.push_back(std::move(logged));
      for (const std::string& cert : n.certs) {
        PlannedAction a;
        a.cert = cert;
        a.kind = ActionKind::kAlert;
        auto it = lineage_of.find(n.incident_id + "\n" + cert);
        a.reason = StrCat(alert::ToString(n.severity), ": ",
                          it == lineage_of.end() ? n.summary : it->second->message);
        actions.push_back(std::move(a));
      }
    }
    // Resolved incidents are kept by `certcast run` in the store; the loop needs only open ones.
    std::erase_if(state_->incidents, [](const alert::Incident& in) { return !in.open; });
  }
  decide_seconds_ +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return actions;
}

}  // namespace certcast::policy
