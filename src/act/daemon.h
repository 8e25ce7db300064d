// The daemon loop behind `certcast run`: collect on schedule, ingest, score, plan, act, record.
//
// One cycle (RunCycle) at the clock's now:
//   1. every collector whose `every` has elapsed runs (argv, timeout); its stdout lines are
//      events-v1 and are stored; a failing or hanging collector is logged and skipped;
//   2. plan (plan::RunPlan: memory and decision audit records in the store);
//   3. each planned action is executed (Executor); its result events are stored and an "action"
//      audit record names the argv, attempts, outcome and reason; a failing executor is logged
//      and the cycle goes on. Alerts go first, so a hung CA never holds a page back; the other
//      actions (those deferred by the previous cycle first) start only within
//      `action_budget` of the first one; the rest are deferred to the next cycle, logged and
//      audited with outcome "deferred" (planner memory already counts them as done, so the
//      daemon keeps them itself; a restart loses them, and the planner proposes them again
//      when its retry interval has passed).
// Run() repeats cycles every `interval` until Stop() (SIGTERM/SIGINT in `certcast run`); a stop
// request lets the client run in progress finish, ends retry waits and the wait between cycles
// at once, then returns. The interval is measured on the clock's monotonic reading: a wall clock
// stepped back does not stretch it; so are the collectors' `every`.
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
#include <optional>
#include <string>
#include <vector>

#include "act/config.h"
#include "act/executor.h"
#include "act/stop_signal.h"
#include "core/clock.h"
#include "core/status.h"
#include "plan/plan_state.h"
#include "plan/planner.h"

namespace certcast {
class Store;
class Forecaster;
}  // namespace certcast

namespace certcast::act {

struct CycleReport {
  int collectors_run = 0, collectors_failed = 0;
  int64_t events_stored = 0, events_rejected = 0;
  int actions_planned = 0, actions_succeeded = 0, actions_failed = 0, actions_skipped = 0;
  int actions_refused = 0;   // not allowed by the configuration: an alert went out instead
  int actions_deferred = 0;  // not started within action_budget: left for the next cycle
  int actions_queued = 0;    // handed to an agent (SetAgentQueue): not carried out here
  int notifications = 0;     // incident notices sent (alert.incidents)
  int alertmanager_pending = 0;  // Alertmanager posts still in the outbox after this cycle
};

class Daemon {
 public:
  // `forecaster` may be null (facts alone). Store and forecaster must outlive the daemon.
  // `sleep` is the executors' wait between retries (null: a wait that Stop() interrupts).
  Daemon(DaemonConfig config, Store& store, const Forecaster* forecaster, const Clock& clock,
         std::ostream& log, std::function<void(absl::Duration)> sleep = nullptr);

  StatusOr<CycleReport> RunCycle();
  // Cycles until Stop(); `wait` blocks for up to the given time or until Stop() (tests pass a
  // function that advances a FakeClock; null: wait on the stop signal).
  Status Run(const std::function<void(absl::Duration)>& wait = nullptr);
  void Stop() { stop_.Stop(); }
  // Sends the alerts decided in the last `lookback` whose sending the audit log does not show
  // (the daemon died between planning and acting) and records each as an action. Run() calls it
  // at start. Returns how many went out.
  int ResendUnsentAlerts(absl::Duration lookback);
  bool stopping() const { return stop_.stopped(); }

  // For `certcast serve` (src/api), which runs this daemon without collectors:
  // Called in every cycle after the plan is stored and before any action runs, with the plan
  // (its views and memory kept, RunPlanOptions::keep_views) and the folded state it came from.
  using PlanObserver = std::function<void(const plan::RunPlanOutput& plan, absl::Time at,
                                          const plan::PlanState& state)>;
  void SetPlanObserver(PlanObserver observer) { observer_ = std::move(observer); }
  // Which planned actions an agent carries out instead of this daemon (the server's rule,
  // src/api/agent_queue.h): they are queued in the store with the plan and never run here,
  // whether acting is on or off. Null: every action stays here.
  void SetAgentQueue(plan::RunPlanOptions::QueueForAgent queue) { agent_queue_ = std::move(queue); }
  // false: cycles plan and record their decisions (memory, audit) but carry nothing out.
  void SetActing(bool acting) { acting_ = acting; }
  // Who carries this daemon's actions out, named as "by" in each action audit record (the
  // server: "certcast serve on HOST", beside an agent's token name in its action_outcome
  // records). Empty (`certcast run`): no "by" field, the records as before.
  void SetActor(std::string actor) { actor_ = std::move(actor); }
  // A plan at `at` over the daemon's folded state that stores nothing (no memory, audit records
  // or checkpoint) and carries nothing out: what the next cycle would decide.
  StatusOr<plan::RunPlanOutput> Preview(absl::Time at);
  const plan::PlanState& plan_state() const { return plan_state_; }

 private:
  struct Deferred;
  // Executes one action, stores its result events, logs it and records its audit record.
  void Act(const PlannedAction& action, const std::string& reason_code, const ConfigEvent& lineage,
           CycleReport& report);
  // Records queue[from...] as deferred (log, audit) and keeps them for the next cycle.
  void Defer(const std::vector<Deferred>& queue, size_t from, CycleReport& report);
  static ConfigEvent LineageOf(const plan::RunPlanOutput& plan, const std::string& cert);
  // The alert step (config alert.incidents): the plan's alerts through the alert core, incidents
  // stored, notifications sent to the webhook, the command and Alertmanager (through the
  // outbox, so nothing is lost while it is down).
  void RunIncidents(const plan::RunPlanOutput& plan, absl::Time now, CycleReport& report);
  // Posts the Alertmanager bodies waiting in the store's outbox (state key kOutboxKey), oldest
  // first, and `body` after them; what does not go through stays for the next cycle.
  void FlushAlertmanager(const std::string& body);
  // Appends an "action" audit record about `cert`; a failure is logged (the cycle goes on).
  void RecordAction(const std::string& cert, const std::string& record_json);
  void Log(std::string_view level, std::string_view msg,
           const std::vector<std::pair<std::string, std::string>>& fields = {});
  // Logs "plan state rebuilt from every stored event" with the reason, when the plan rebuilt.
  void LogRebuild(const plan::RunPlanOutput& plan);
  DaemonConfig config_;
  Store& store_;
  const Forecaster* forecaster_;
  const Clock& clock_;
  std::ostream& log_;
  StopSignal stop_;  // before executor_, which keeps a pointer to it
  Executor executor_;
  // Monotonic readings (Clock::Monotonic) of each collector's last run.
  std::map<std::string, absl::Duration> collector_last_run_;
  // Actions past the last cycle's budget, run first in the next cycle.
  struct Deferred {
    PlannedAction action;
    std::string reason_code;
    ConfigEvent lineage;
  };
  std::vector<Deferred> deferred_;
  int64_t unreadable_reported_ = 0;  // unreadable stored events already logged
  // The events folded so far, advanced each cycle by what was stored since (plan_state.h): a
  // cycle reads the new events only, not the history.
  plan::PlanState plan_state_;
  PlanObserver observer_;
  plan::RunPlanOptions::QueueForAgent agent_queue_;
  bool acting_ = true;
  std::string actor_;
};

}  // namespace certcast::act
