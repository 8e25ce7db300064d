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

  // What people received over the run with the alert core on (EnableIncidents): its firing
  // notices, incidents opened and resolved, and the lineage-plans it kept as watch or info; the
  // closed loop scores it (sim/paging.h). nullptr without EnableIncidents: every alert pages.
  const sim::AlertLog* alert_log() const override { return alerting_ ? &alert_log_ : nullptr; }

  // Each firing notice in detail, for studying them (bench/plan_closed_loop CERTCAST_DEBUG_PAGES).
  struct NotificationLog {
    absl::Time at;
    alert::Severity severity;
    std::string incident_id;
    std::vector<std::string> certs;
    std::string cause_key;
    std::vector<std::string> messages;  // each cert's own message (which renewal fails, why)
  };
  const std::vector<NotificationLog>& firing() const { return firing_; }

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
  sim::AlertLog alert_log_;
  std::vector<NotificationLog> firing_;
  double decide_seconds_ = 0;
  int64_t forecast_failures_ = 0;
};

}  // namespace certcast::policy
