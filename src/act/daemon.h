// The daemon loop behind `certcast run`: collect on schedule, ingest, score, plan, act, record.
//
// One cycle (RunCycle) at the clock's now:
//   1. every collector whose `every` has elapsed runs (argv, timeout); its stdout lines are
//      events-v1 and are stored; a failing or hanging collector is logged and skipped;
//   2. plan (policy::RunPlan: memory and decision audit records in the store);
//   3. each planned action is executed (Executor); its result events are stored and an "action"
//      audit record names the argv, attempts, outcome and reason; a failing executor is logged
//      and the cycle goes on.
// Run() repeats cycles every `interval` until Stop() (SIGTERM/SIGINT in `certcast run`); a stop
// request lets the action in progress finish, then returns.
//
// Logs are JSON lines ({"ts","level","msg",...fields}) on the given stream.
// Thread safety: Stop() may be called from any thread or a signal-handling thread; the rest from
// one thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>

#include "act/config.h"
#include "act/executor.h"
#include "core/clock.h"
#include "core/status.h"
#include "policy/plan_state.h"
#include "policy/planner.h"

namespace certcast {
class Store;
class Forecaster;
}  // namespace certcast

namespace certcast::act {

struct CycleReport {
  int collectors_run = 0, collectors_failed = 0;
  int64_t events_stored = 0, events_rejected = 0;
  int actions_planned = 0, actions_succeeded = 0, actions_failed = 0, actions_skipped = 0;
};

class Daemon {
 public:
  // `forecaster` may be null (facts alone). Store and forecaster must outlive the daemon.
  Daemon(DaemonConfig config, Store& store, const Forecaster* forecaster, const Clock& clock,
         std::ostream& log, std::function<void(absl::Duration)> sleep = nullptr);

  StatusOr<CycleReport> RunCycle();
  // Cycles until Stop(); `wait` blocks for up to the given time or until Stop() (tests pass a
  // function that advances a FakeClock).
  Status Run(const std::function<void(absl::Duration)>& wait);
  void Stop() { stop_.store(true); }
  // Sends the alerts decided in the last `lookback` whose sending the audit log does not show
  // (the daemon died between planning and acting) and records each as an action. Run() calls it
  // at start. Returns how many went out.
  int ResendUnsentAlerts(absl::Duration lookback);
  bool stopping() const { return stop_.load(); }

  // For `certcast serve` (src/api), which runs this daemon without collectors:
  // Called in every cycle after the plan is stored and before any action runs, with the plan
  // (its views and memory kept, RunPlanOptions::keep_views) and the folded state it came from.
  using PlanObserver = std::function<void(const policy::RunPlanOutput& plan, absl::Time at,
                                          const policy::PlanState& state)>;
  void SetPlanObserver(PlanObserver observer) { observer_ = std::move(observer); }
  // false: cycles plan and record their decisions (memory, audit) but carry nothing out.
  void SetActing(bool acting) { acting_ = acting; }
  // A plan at `at` over the daemon's folded state that stores nothing (no memory, audit records
  // or checkpoint) and carries nothing out: what the next cycle would decide.
  StatusOr<policy::RunPlanOutput> Preview(absl::Time at);
  const policy::PlanState& plan_state() const { return plan_state_; }

 private:
  // Appends an "action" audit record about `cert`; a failure is logged (the cycle goes on).
  void RecordAction(const std::string& cert, const std::string& record_json);
  void Log(std::string_view level, std::string_view msg,
           const std::vector<std::pair<std::string, std::string>>& fields = {});
  DaemonConfig config_;
  Store& store_;
  const Forecaster* forecaster_;
  const Clock& clock_;
  std::ostream& log_;
  Executor executor_;
  std::map<std::string, absl::Time> collector_last_run_;
  // The events folded so far, advanced each cycle by what was stored since (plan_state.h): a
  // cycle reads the new events only, not the history.
  policy::PlanState plan_state_;
  std::atomic<bool> stop_{false};
  PlanObserver observer_;
  bool acting_ = true;
};

}  // namespace certcast::act
