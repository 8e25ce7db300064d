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
#include <map>
#include <memory>
#include <ostream>
#include <string>

#include "act/config.h"
#include "act/executor.h"
#include "core/clock.h"
#include "core/status.h"
#include "policy/plan_state.h"

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
  Daemon(DaemonConfig config, Store& store, const Forecaster* forecaster, Clock& clock,
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

 private:
  // Appends an "action" audit record about `cert`; a failure is logged (the cycle goes on).
  void RecordAction(const std::string& cert, const std::string& record_json);
  void Log(std::string_view level, std::string_view msg,
           const std::vector<std::pair<std::string, std::string>>& fields = {});
  DaemonConfig config_;
  Store& store_;
  const Forecaster* forecaster_;
  Clock& clock_;
  std::ostream& log_;
  Executor executor_;
  std::map<std::string, absl::Time> collector_last_run_;
  // The events folded so far, advanced each cycle by what was stored since (plan_state.h): a
  // cycle reads the new events only, not the history.
  policy::PlanState plan_state_;
  std::atomic<bool> stop_{false};
};

}  // namespace certcast::act
