// certcast's planner as a closed-loop policy of the fleet simulator (sim::Policy, docs/evaluation.md
// section 2): it sees only the day's events, keeps its own view of the fleet incrementally, scores
// with an optional forecaster, and returns exactly the actions `certcast plan` would print.
// A separate target (certcast_policy_sim) so that neither certcast_policy nor certcast_sim depends
// on the other.
#pragma once

#include <memory>
#include <string>

#include "policy/planner.h"
#include "collect/sim/simulator.h"

namespace certcast {
class Forecaster;
}

namespace certcast::policy {

class SimPolicy : public sim::Policy {
 public:
  // `forecaster` may be null (facts alone, risk 0); it must outlive the policy.
  SimPolicy(PolicyConfig config, const Forecaster* forecaster, std::string name = "certcast");
  ~SimPolicy() override;

  std::string name() const override { return name_; }
  std::vector<PlannedAction> Decide(absl::Time day_end, std::span<const Event> todays_events) override;

  // Seconds spent deciding (views + scoring + chain) over the run, for the report.
  double decide_seconds() const { return decide_seconds_; }
  int64_t forecast_failures() const { return forecast_failures_; }

 private:
  struct State;
  PolicyConfig config_;
  const Forecaster* forecaster_;
  std::string name_;
  std::unique_ptr<State> state_;
  double decide_seconds_ = 0;
  int64_t forecast_failures_ = 0;
};

}  // namespace certcast::policy
