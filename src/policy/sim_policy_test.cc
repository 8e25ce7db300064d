// certcast's planner in the simulator's closed loop: every action it emits is one the simulator
// accepts (no invalid host, challenge or CA), and the same seed gives the same outcome.
#include "policy/sim_policy.h"

#include "core/event_json.h"
#include "core/time.h"
#include "gtest/gtest.h"

namespace certcast::policy {
namespace {

struct FleetRun {
  sim::Metrics metrics;
  size_t firing = 0;  // the alert core's firing notices
};

FleetRun RunFleet(const char* preset, uint64_t seed, bool incidents, int days) {
  auto config = sim::PresetConfig(preset);
  EXPECT_TRUE(config.ok());
  config->lineages = 150;
  config->days = days;
  config->seed = seed;
  SimPolicy policy(PolicyConfig{}, nullptr);
  if (incidents) policy.EnableIncidents(alert::AlertPolicy{});
  auto result = sim::RunClosedLoop(*config, policy, nullptr);
  EXPECT_TRUE(result.ok()) << result.status();
  return {result.ok() ? result->metrics : sim::Metrics{}, policy.firing().size()};
}

TEST(SimPolicyTest, EveryActionIsOneTheSimulatorAccepts) {
  const sim::Metrics m = RunFleet("small", 4, /*incidents=*/false, 120).metrics;
  EXPECT_EQ(m.invalid_actions, 0);
  EXPECT_GT(m.alerts + m.reloads + m.forced_renewals + m.dry_runs, 0);
  // Without the alert core every planned alert is a page about its lineage.
  EXPECT_FALSE(m.paging.incidents);
  EXPECT_EQ(m.paging.pages, m.alerts);
}

// With the alert core on (a hosting fleet, 96 days: long enough for incidents to open and resolve).
TEST(SimPolicyTest, TheSameSeedGivesTheSameOutcomeAndTheLoopScoresTheAlertCoresNotices) {
  const FleetRun a = RunFleet("hosting", 62, /*incidents=*/true, 96),
                 b = RunFleet("hosting", 62, /*incidents=*/true, 96);
  EXPECT_EQ(a.metrics.outage_hours, b.metrics.outage_hours);
  EXPECT_EQ(a.metrics.issuances, b.metrics.issuances);
  EXPECT_EQ(a.metrics.alerts, b.metrics.alerts);
  EXPECT_EQ(a.metrics.alerts_true, b.metrics.alerts_true);
  EXPECT_EQ(a.metrics.paging.pages, b.metrics.paging.pages);
  EXPECT_EQ(a.metrics.paging.pages_real, b.metrics.paging.pages_real);
  // The loop scores the alert core's notices (pages and tickets), not the per-lineage alerts.
  const sim::PagingMetrics& p = a.metrics.paging;
  EXPECT_TRUE(p.incidents);
  EXPECT_EQ(p.pages + p.tickets, static_cast<int64_t>(a.firing));
  EXPECT_GT(p.incidents_opened, 0);
  EXPECT_GT(p.incidents_resolved, 0);
  EXPECT_LE(p.incidents_resolved, p.incidents_opened);
  EXPECT_GT(p.lineage_plans_info + p.lineage_plans_watched, 0);
  EXPECT_LE(p.pages_real, p.pages);
}

// An event held over from the day before (at or after that day's end) and a later day's event
// older than it: both are folded, in time order, and the day's forecast does not fail.
TEST(SimPolicyTest, ADaysEventOlderThanOneHeldOverIsFoldedInOrder) {
  auto event = [](const char* line) {
    StatusOr<Event> e = ParseEventLine(line);
    EXPECT_TRUE(e.ok()) << e.status();
    return *e;
  };
  const std::vector<Event> day1 = {
      event(R"({"ts":"2026-09-01T00:00:00Z","type":"config","cert":"shop","host":"web1","names":["shop.example.com"],"client":"certbot","ca":"https://acme.example/dir","challenge":"http-01","ari":false})"),
      event(R"({"ts":"2026-09-02T06:00:00Z","type":"renewal","cert":"shop","outcome":"failure","error":"urn:ietf:params:acme:error:connection"})")};
  const std::vector<Event> day2 = {
      event(R"({"ts":"2026-09-02T03:00:00Z","type":"renewal","cert":"shop","outcome":"failure","error":"urn:ietf:params:acme:error:dns"})")};
  SimPolicy policy(PolicyConfig{}, nullptr);
  policy.Decide(*ParseRfc3339("2026-09-02T00:00:00Z"), day1);  // the 06:00 failure is held over
  EXPECT_EQ(policy.forecast_failures(), 0);
  policy.Decide(*ParseRfc3339("2026-09-03T00:00:00Z"), day2);
  EXPECT_EQ(policy.forecast_failures(), 0);
}

}  // namespace
}  // namespace certcast::policy
