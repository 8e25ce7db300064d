#include "policy/sim_policy.h"

#include <chrono>

#if CERTCAST_HAVE_MODEL
#include "features/lineage_state.h"
#include "model/forecaster.h"
#endif

namespace certcast::policy {

struct SimPolicy::State {
  FleetViewBuilder builder;
  FleetMemory memory;
#if CERTCAST_HAVE_MODEL
  std::vector<Event> events;  // every event so far, ts order (the forecaster's FleetState input)
  FleetState fleet;
  size_t cursor = 0;
#endif
};

SimPolicy::SimPolicy(PolicyConfig config, const Forecaster* forecaster, std::string name)
    : config_(std::move(config)),
      forecaster_(forecaster),
      name_(std::move(name)),
      state_(std::make_unique<State>()) {}

SimPolicy::~SimPolicy() = default;

std::vector<PlannedAction> SimPolicy::Decide(absl::Time day_end,
                                             std::span<const Event> todays_events) {
  const auto start = std::chrono::steady_clock::now();
  for (const Event& e : todays_events) state_->builder.Add(e);
  absl::flat_hash_map<std::string, ForecastView> forecasts;
#if CERTCAST_HAVE_MODEL
  if (forecaster_) {
    state_->events.insert(state_->events.end(), todays_events.begin(), todays_events.end());
    Status advanced = state_->fleet.AdvanceTo(state_->events, day_end, &state_->cursor);
    StatusOr<std::vector<LineageForecast>> scored =
        advanced.ok() ? forecaster_->ScoreState(state_->fleet, day_end) : advanced;
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
    } else {
      ++forecast_failures_;
    }
  }
#endif
  const std::vector<LineageView> views = state_->builder.Build(day_end);
  PlanResult result = PlanFleet(views, forecasts, state_->memory, config_, day_end);
  std::vector<PlannedAction> actions;
  actions.reserve(result.items.size());
  for (PlannedItem& item : result.items) actions.push_back(std::move(item.action));
  decide_seconds_ +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return actions;
}

}  // namespace certcast::policy
