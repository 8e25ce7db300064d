// certcast's planner in the simulator's closed loop: every action it emits is one the simulator
// accepts (no invalid host, challenge or CA), and the same seed gives the same outcome.
#include "policy/sim_policy.h"

#include "gtest/gtest.h"

namespace certcast::policy {
namespace {

sim::Metrics RunFleet(uint64_t seed) {
  auto config = sim::PresetConfig("small");
  EXPECT_TRUE(config.ok());
  config->lineages = 150;
  config->days = 120;
  config->seed = seed;
  SimPolicy policy(PolicyConfig{}, nullptr);
  auto result = sim::RunClosedLoop(*config, policy, nullptr);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? result->metrics : sim::Metrics{};
}

TEST(SimPolicyTest, EveryActionIsOneTheSimulatorAccepts) {
  const sim::Metrics m = RunFleet(4);
  EXPECT_EQ(m.invalid_actions, 0);
  EXPECT_GT(m.alerts + m.reloads + m.forced_renewals + m.dry_runs, 0);
}

TEST(SimPolicyTest, TheSameSeedGivesTheSameOutcome) {
  const sim::Metrics a = RunFleet(9), b = RunFleet(9);
  EXPECT_EQ(a.outage_hours, b.outage_hours);
  EXPECT_EQ(a.issuances, b.issuances);
  EXPECT_EQ(a.alerts, b.alerts);
  EXPECT_EQ(a.alerts_true, b.alerts_true);
}

}  // namespace
}  // namespace certcast::policy
