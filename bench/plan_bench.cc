// How long the policy takes for a fleet, after events are loaded and the model has scored:
// building lineage views from events, and the decision chain over every lineage (PlanFleet).
// The fleet comes from the simulator (10,000 lineages, 120 days, preset "small").
//
//   build-pol/bench/bench_plan --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include "collect/sim/simulator.h"
#include "policy/fleet_plan.h"

namespace certcast::policy {
namespace {

class CollectSink : public sim::EventSink {
 public:
  Status Consume(std::span<const Event> events) override {
    events_.insert(events_.end(), events.begin(), events.end());
    return OkStatus();
  }
  std::vector<Event> events_;
};

const std::vector<Event>& Fleet() {
  static const std::vector<Event> events = [] {
    auto config = sim::PresetConfig("small");
    config->lineages = 10000;
    config->days = 120;
    config->seed = 11;
    CollectSink sink;
    auto result = sim::RunOpenLoop(*config, &sink);
    if (!result.ok()) std::abort();
    return std::move(sink.events_);
  }();
  return events;
}

absl::Time End() { return Fleet().back().ts + absl::Seconds(1); }

// The one fold of the fleet's events, facts only (what a plan without a model folds).
FleetState FactsOf(const std::vector<Event>& events) {
  FleetState fleet(/*with_features=*/false);
  for (const Event& e : events) {
    if (!fleet.Apply(e).ok()) std::abort();  // the simulator emits events in ts order
  }
  return fleet;
}

void BM_BuildViews(benchmark::State& state) {
  const FleetState fleet = FactsOf(Fleet());
  for (auto _ : state) {
    std::vector<LineageView> views = BuildViews(fleet, End());
    benchmark::DoNotOptimize(views.data());
  }
  state.counters["lineages"] = static_cast<double>(BuildViews(fleet, End()).size());
}
BENCHMARK(BM_BuildViews)->Unit(benchmark::kMillisecond);

void BM_FoldFacts(benchmark::State& state) {
  const auto& events = Fleet();
  for (auto _ : state) {
    FleetState fleet = FactsOf(events);
    benchmark::DoNotOptimize(fleet.watermark());
  }
  state.counters["events"] = static_cast<double>(events.size());
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(events.size()));
}
BENCHMARK(BM_FoldFacts)->Unit(benchmark::kMillisecond);

void BM_DecideFleet(benchmark::State& state) {
  const auto& events = Fleet();
  const std::vector<LineageView> views = BuildViews(FactsOf(events), End());
  absl::flat_hash_map<std::string, ForecastView> forecasts;
  for (const LineageView& v : views) forecasts[v.cert].risk = 0.1;  // no threshold crossed
  PolicyConfig config;
  size_t actions = 0;
  for (auto _ : state) {
    FleetMemory memory;  // fresh: a first plan, the most actions
    PlanResult r = PlanFleet(views, forecasts, memory, config, End());
    actions = r.items.size();
    benchmark::DoNotOptimize(r.items.data());
  }
  state.counters["lineages"] = static_cast<double>(views.size());
  state.counters["actions"] = static_cast<double>(actions);
}
BENCHMARK(BM_DecideFleet)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace certcast::policy

BENCHMARK_MAIN();
