// certcast's planner as a closed-loop policy of the fleet simulator (sim::Policy, docs/evaluation.md
// section 2): it sees only the day's events, keeps its own view of the fleet incrementally, scores
// with an optional forecaster, and returns exactly the actions `certcast plan` would print.
// A separate target (certcast_policy_sim) so that neither certcast_policy nor certcast_sim depends
// on the other.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "alert/alert.h"
#include "policy/fleet_plan.h"
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

  // Routes the planner's alerts through the alert core (src/alert) as `certcast run` does: only
  // firing notifications reach people, as one alert per lineage they name, its reason starting
  // with the severity ("page: ...", "ticket: ..."); watches and info notices reach nobody.
  // Without it, every planned alert goes out as the planner wrote it (the "before" of issue #15).
  void EnableIncidents(alert::AlertPolicy policy);

  // What the alert core did over the run (EnableIncidents).
  struct NotificationLog {
    absl::Time at;
    alert::Severity severity;
    std::string incident_id;
    std::vector<std::string> certs;
    std::string cause_key;
    std::vector<std::string> messages;  // each cert's own message (which renewal fails, why)
  };
  struct AlertStats {
    int64_t incidents = 0;               // opened
    int64_t lineage_plans_watched = 0;   // a lineage alerting at a plan, classified watch
    int64_t lineage_plans_info = 0;
    int64_t resolved_notices = 0;
    std::vector<NotificationLog> firing;  // every firing notification
  };
  const AlertStats& alert_stats() const { return alert_stats_; }

  // Seconds spent deciding (views + scoring + chain) over the run, for the report.
  double decide_seconds() const { return decide_seconds_; }
  int64_t forecast_failures() const { return forecast_failures_; }

 private:
  struct State;
  PolicyConfig config_;
  const Forecaster* forecaster_;
  std::string name_;
  std::unique_ptr<State> state_;
  std::optional<alert::AlertPolicy> alerting_;
  AlertStats alert_stats_;
  double decide_seconds_ = 0;
  int64_t forecast_failures_ = 0;
};

}  // namespace certcast::policy
