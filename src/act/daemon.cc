#include "act/daemon.h"

#include <algorithm>
#include <limits>
#include <sstream>

#include "act/collector.h"
#include "act/process.h"
#include "alert/alertmanager.h"
#include "alert/from_plan.h"
#include "core/event_json.h"
#include "core/json_text.h"
#include "core/redact.h"
#include "core/strings.h"
#include "core/utf8.h"
#include "core/time.h"
#include "nlohmann/json.hpp"
#include "plan/planner.h"
#include "store/store.h"

namespace certcast::act {
namespace {

// The audit record of one action; the outcome fields come from the executor's report.
nlohmann::ordered_json ActionAudit(const PlannedAction& action, std::string_view reason_code,
                                   bool dry_run, const ExecutionReport& r) {
  nlohmann::ordered_json audit;
  audit["cert"] = action.cert;
  audit["action"] = std::string(ToString(action.kind));
  audit["reason_code"] = std::string(reason_code);
  audit["risk"] = action.risk;
  audit["dry_run"] = dry_run;
  audit["outcome"] = r.refused ? "refused" : r.skipped ? "skipped" : r.success ? "success" : "failure";
  audit["attempts"] = r.attempts;
  audit["detail"] = r.detail;
  audit["commands"] = r.commands;
  return audit;
}

}  // namespace

Daemon::Daemon(DaemonConfig config, Store& store, const Forecaster* forecaster, const Clock& clock,
               std::ostream& log, std::function<void(absl::Duration)> sleep)
    : config_(std::move(config)),
      store_(store),
      forecaster_(forecaster),
      clock_(clock),
      log_(log),
      executor_(config_, clock, std::move(sleep), &stop_),
      plan_state_(/*with_fleet=*/forecaster != nullptr) {}

void Daemon::RecordAction(const std::string& cert, const std::string& record_json) {
  // The executor redacts what it reports; this is the last look before the record is permanent.
  std::string record = record_json;
  if (!actor_.empty()) {
    auto j = nlohmann::ordered_json::parse(record_json, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) {
      j["by"] = actor_;
      record = Dump(j);
    }
  }
  auto appended = store_.AppendAudit(clock_.Now(), "action", RedactSecrets(record));
  if (!appended.ok()) {
    Log("error", "audit append failed", {{"cert", cert}, {"error", appended.status().message()}});
  }
}

void Daemon::Log(std::string_view level, std::string_view msg,
                 const std::vector<std::pair<std::string, std::string>>& fields) {
  WriteLogLine(log_, clock_.Now(), level, msg, fields);
}

StatusOr<CycleReport> Daemon::RunCycle() {
  CycleReport report;
  const absl::Time now = clock_.Now();
  // 1. Collect. "Due" on the monotonic clock: a wall clock stepped back a month must not keep
  // the collectors quiet for a month.
  const absl::Duration monotonic_now = clock_.Monotonic();
  for (const CollectorSettings& c : config_.collectors) {
    if (stopping()) break;
    auto last = collector_last_run_.find(c.name);
    if (last != collector_last_run_.end() && monotonic_now - last->second < c.every) continue;
    collector_last_run_[c.name] = monotonic_now;
    ++report.collectors_run;
    CollectorRun run = RunCollector(c);
    if (!run.failure.empty()) {
      ++report.collectors_failed;
      Log("warn", "collector failed", {{"collector", c.name}, {"error", run.failure}});
    }
    report.events_rejected += run.rejected;
    for (const auto& [number, reason] : run.first_rejections) {
      Log("warn", "collector line rejected",
          {{"collector", c.name}, {"line", std::to_string(number)}, {"error", reason}});
    }
    if (run.events.empty()) continue;
    std::vector<Event>& events = run.events;
    auto stored = store_.AppendEvents(events);
    if (!stored.ok()) {
      Log("error", "storing collected events failed",
          {{"collector", c.name}, {"error", stored.status().message()}});
      continue;
    }
    report.events_stored += stored->inserted;
  }
  if (stopping()) return report;

  // 2. Plan.
  plan::RunPlanOptions plan_options;
  plan_options.config = config_.policy;
  // In dry-run mode nothing is carried out, so nothing may be remembered as done.
  plan_options.remember = !config_.dry_run;
  // The alert step needs the views (expiry, due time, host of each alerting lineage).
  plan_options.keep_views = observer_ != nullptr || config_.alert.incidents;
  // Queued only when the decisions are recorded: dry-run mode remembers nothing.
  if (!config_.dry_run) plan_options.queue_for_agent = agent_queue_;
  auto plan = plan::RunPlan(store_, forecaster_, now, plan_options, plan_state_);
  if (const UnreadableEvents unreadable = store_.unreadable_events();
      unreadable.count > unreadable_reported_) {
    // Planned without them (a row that does not parse never stops a cycle); said once per row.
    Log("warn", "stored events unreadable, skipped",
        {{"new", std::to_string(unreadable.count - unreadable_reported_)},
         {"rows", DescribeUnreadable(unreadable)}});
    unreadable_reported_ = unreadable.count;
  }
  if (!plan.ok()) {
    Log("error", "plan failed", {{"error", plan.status().message()}});
    return plan.status();
  }
  LogRebuild(*plan);
  if (!plan->forecast_error.empty()) {
    Log("warn", "scoring failed; planned on facts alone", {{"error", ToValidUtf8(plan->forecast_error, 300)}});
  }
  if (!plan->reasons_error.empty()) {
    Log("warn", "forecast reasons failed; planned with the risks, messages without reasons",
        {{"error", ToValidUtf8(plan->reasons_error, 300)}});
  }
  report.actions_planned = static_cast<int>(plan->result.items.size());
  auto queued = [&](size_t i) { return i < plan->queued.size() && plan->queued[i]; };
  for (size_t i = 0; i < plan->result.items.size(); ++i) {
    if (!queued(i)) continue;
    ++report.actions_queued;
    const PlannedAction& a = plan->result.items[i].action;
    Log("info", "action queued for an agent",
        {{"cert", a.cert}, {"action", std::string(ToString(a.kind))}});
  }
  if (observer_) observer_(*plan, now, plan_state_);
  if (!acting_) {
    Log("info", "cycle done (planned only: acting is off)",
        {{"actions", std::to_string(report.actions_planned)}});
    return report;
  }

  // 3. Act. Alerts first: a page must not wait behind a client hung on its CA. Then what the
  // last cycle deferred, then the rest, each started only within the action budget.
  std::vector<Deferred> queue;
  if (config_.alert.incidents) {
    RunIncidents(*plan, now, report);
  } else {
    for (size_t i = 0; i < plan->result.items.size(); ++i) {
      const policy::PlannedItem& item = plan->result.items[i];
      if (item.action.kind != ActionKind::kAlert || queued(i)) continue;
      queue.push_back({item.action, std::string(item.reason), LineageOf(*plan, item.action.cert)});
    }
  }
  const size_t alerts = queue.size();
  std::vector<Deferred> carried = std::move(deferred_);
  deferred_.clear();
  for (Deferred& d : carried) queue.push_back(std::move(d));
  for (size_t i = 0; i < plan->result.items.size(); ++i) {
    const policy::PlannedItem& item = plan->result.items[i];
    if (item.action.kind == ActionKind::kAlert || queued(i)) continue;
    const bool carried_already = std::any_of(queue.begin() + alerts, queue.end(), [&](const Deferred& d) {
      return d.action.cert == item.action.cert && d.action.kind == item.action.kind;
    });
    if (carried_already) continue;
    queue.push_back({item.action, std::string(item.reason), LineageOf(*plan, item.action.cert)});
  }
  std::optional<absl::Duration> budget_start;
  for (size_t i = 0; i < queue.size(); ++i) {
    if (stopping()) break;
    const Deferred& next = queue[i];
    if (i >= alerts) {
      if (!budget_start) budget_start = clock_.Monotonic();
      if (clock_.Monotonic() - *budget_start >= config_.action_budget) {
        Defer(queue, i, report);
        break;
      }
    }
    Act(next.action, next.reason_code, next.lineage, report);
  }
  Log("info", "cycle done",
      {{"collectors", std::to_string(report.collectors_run)},
       {"collectors_failed", std::to_string(report.collectors_failed)},
       {"events", std::to_string(report.events_stored)},
       {"actions", std::to_string(report.actions_planned)},
       {"succeeded", std::to_string(report.actions_succeeded)},
       {"failed", std::to_string(report.actions_failed)},
       {"skipped", std::to_string(report.actions_skipped)},
       {"refused", std::to_string(report.actions_refused)},
       {"deferred", std::to_string(report.actions_deferred)},
       {"queued", std::to_string(report.actions_queued)}});
  return report;
}

StatusOr<plan::RunPlanOutput> Daemon::Preview(absl::Time at) {
  plan::RunPlanOptions options;
  options.config = config_.policy;
  options.remember = options.audit = options.checkpoint = false;
  options.keep_views = true;
  auto plan = plan::RunPlan(store_, forecaster_, at, options, plan_state_);
  if (plan.ok()) LogRebuild(*plan);
  return plan;
}

// A rebuild folds the whole store (minutes on a large fleet); the server's previews share the
// state with the cycles, so either one's rebuild is said.
void Daemon::LogRebuild(const plan::RunPlanOutput& plan) {
  if (plan.advance.rebuilt_because.empty()) return;
  Log("info", "plan state rebuilt from every stored event",
      {{"why", plan.advance.rebuilt_because},
       {"events", std::to_string(plan.advance.events_folded)},
       {"seconds", std::to_string(plan.load_seconds)}});
}

ConfigEvent Daemon::LineageOf(const plan::RunPlanOutput& plan, const std::string& cert) {
  auto config = plan.configs.find(cert);
  if (config != plan.configs.end()) return config->second;
  ConfigEvent lineage;
  lineage.cert = cert;
  return lineage;
}

void Daemon::Defer(const std::vector<Deferred>& queue, size_t from, CycleReport& report) {
  for (size_t i = from; i < queue.size(); ++i) {
    const Deferred& d = queue[i];
    ++report.actions_deferred;
    ExecutionReport none;
    none.detail = StrCat("not started within action_budget ",
                         absl::FormatDuration(config_.action_budget), "; deferred to the next cycle");
    nlohmann::ordered_json audit = ActionAudit(d.action, d.reason_code, config_.dry_run, none);
    audit["outcome"] = "deferred";
    Log("warn", "action deferred to the next cycle",
        {{"cert", d.action.cert},
         {"action", std::string(ToString(d.action.kind))},
         {"budget", absl::FormatDuration(config_.action_budget)}});
    RecordAction(d.action.cert, Dump(audit));
    deferred_.push_back(d);
  }
}

void Daemon::Act(const PlannedAction& action, const std::string& reason_code,
                 const ConfigEvent& lineage, CycleReport& report) {
  auto executed = executor_.Execute(action, lineage, reason_code);
  nlohmann::ordered_json audit;
  if (!executed.ok()) {
    ++report.actions_failed;
    audit = ActionAudit(action, reason_code, config_.dry_run, ExecutionReport{});
    audit["outcome"] = "error";
    audit["detail"] = executed.status().message();
    Log("error", "executor failed", {{"cert", action.cert}, {"error", executed.status().message()}});
  } else {
    const ExecutionReport& r = *executed;
    if (r.refused) ++report.actions_refused;
    else if (r.skipped) ++report.actions_skipped;
    else if (r.success) ++report.actions_succeeded;
    else ++report.actions_failed;
    audit = ActionAudit(action, reason_code, config_.dry_run, r);
    if (!r.events.empty()) {
      auto stored = store_.AppendEvents(r.events);
      if (!stored.ok()) {
        Log("error", "storing action results failed", {{"cert", action.cert}, {"error", stored.status().message()}});
      }
    }
    std::string argv;
    for (const auto& command : r.commands) argv = StrJoin(command, " ");
    Log(r.refused ? "error" : r.success || r.skipped ? "info" : "warn",
        r.refused ? "action refused" : r.skipped ? "action skipped" : r.success ? "action done" : "action failed",
        {{"cert", action.cert},
         {"action", std::string(ToString(action.kind))},
         {"reason", reason_code},
         {"detail", r.detail},
         {"command", argv}});
  }
  RecordAction(action.cert, Dump(audit));
}

int Daemon::ResendUnsentAlerts(absl::Duration lookback) {
  // Planning stores "alerted" in memory before the alert goes out (so a second planner never
  // repeats it); a daemon killed in between would lose the alert for good. The audit log tells:
  // an alert decision with no alert action for the same lineage and reason after it.
  struct Pending {
    std::string cert, reason_code, reason;
    double risk = 0;
  };
  std::vector<Pending> pending;
  const absl::Time since = clock_.Now() - lookback;
  const Status scanned = store_.ScanAudit([&](const AuditRecord& r) -> Status {
    if (r.at < since || (r.kind != "decision" && r.kind != "action")) return OkStatus();
    const auto j = nlohmann::json::parse(r.record_json, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || j.value("action", "") != "alert") return OkStatus();
    const std::string cert = j.value("cert", ""), code = j.value("reason_code", "");
    if (r.kind == "decision") {
      pending.push_back({cert, code, j.value("reason", ""), j.value("risk", 0.0)});
      return OkStatus();
    }
    auto sent = std::find_if(pending.begin(), pending.end(), [&](const Pending& p) {
      return p.cert == cert && p.reason_code == code;
    });
    if (sent != pending.end()) pending.erase(sent);
    return OkStatus();
  });
  if (!scanned.ok()) {
    Log("error", "reading the audit log for unsent alerts failed", {{"error", scanned.message()}});
    return 0;
  }
  int resent = 0;
  for (const Pending& p : pending) {
    PlannedAction action;
    action.cert = p.cert;
    action.kind = ActionKind::kAlert;
    action.reason = p.reason;
    action.risk = p.risk;
    const ExecutionReport r = executor_.SendAlert(action, ConfigEvent{}, p.reason_code);
    nlohmann::ordered_json audit = ActionAudit(action, p.reason_code, /*dry_run=*/false, r);
    audit["detail"] = StrCat("resent after a restart: ", r.detail);
    RecordAction(p.cert, Dump(audit));
    Log(r.success ? "info" : "warn", "unsent alert resent",
        {{"cert", p.cert}, {"reason", p.reason_code}, {"detail", r.detail}});
    resent += r.success ? 1 : 0;
  }
  return resent;
}

namespace {
constexpr char kOutboxKey[] = "alert.alertmanager.outbox.v1";
// A receiver down for weeks must not grow the store without bound: the oldest bodies go first
// (each later body restates the incidents it names, so the newest matter most).
constexpr size_t kOutboxMax = 1000;
}  // namespace

void Daemon::RunIncidents(const plan::RunPlanOutput& plan, absl::Time now, CycleReport& report) {
  const std::vector<alert::AlertCandidate> candidates =
      alert::CandidatesFromPlan(plan.result, plan.views);
  std::vector<alert::Incident> incidents;
  IncidentFilter open;
  open.open = true;
  open.limit = std::numeric_limits<int64_t>::max();
  auto records = store_.ListIncidents(open);
  if (!records.ok()) {
    Log("error", "reading incidents failed; no notices this cycle",
        {{"error", records.status().message()}});
    return;
  }
  for (const IncidentRecord& r : *records) {
    auto incident = alert::FromRecord(r);
    if (!incident.ok()) {
      // Left as stored (the API shows it with the reason); its cause opens a new incident.
      Log("warn", "stored incident unreadable, skipped", {{"error", incident.status().message()}});
      continue;
    }
    incidents.push_back(std::move(*incident));
  }
  auto silences = store_.ListSilences();
  if (!silences.ok()) {
    Log("error", "reading silences failed; no notices this cycle",
        {{"error", silences.status().message()}});
    return;
  }
  const alert::StepResult step =
      alert::Step(incidents, candidates, *silences, config_.alert.policy, now);
  if (config_.dry_run) {
    Log("info", "dry run: incident notices not sent",
        {{"notifications", std::to_string(step.notifications.size())}});
    return;
  }
  std::vector<IncidentRecord> changed;
  for (const alert::Incident& in : incidents) {
    if (std::find(step.changed.begin(), step.changed.end(), in.id) != step.changed.end()) {
      changed.push_back(alert::ToRecord(in));
    }
  }
  // Stored before anything is sent: a notice sent for a state the store does not have would be
  // sent again after a crash; one stored and not sent is at worst re-sent at its interval.
  Status stored = store_.PutIncidents(changed);
  if (!stored.ok()) {
    Log("error", "storing incidents failed; no notices this cycle", {{"error", stored.message()}});
    return;
  }
  for (const alert::Notification& n : step.notifications) {
    const ExecutionReport r = executor_.SendNotification(n);
    nlohmann::ordered_json audit;
    audit["notification"] = n.kind == alert::Notification::Kind::kFiring ? "firing" : "resolved";
    audit["incident"] = n.incident_id;
    audit["cause_key"] = n.cause_key;
    audit["severity"] = alert::ToString(n.severity);
    audit["dedupe_key"] = n.dedupe_key;
    audit["certs"] = n.certs;
    audit["summary"] = n.summary;
    audit["success"] = r.success;
    audit["detail"] = r.detail;
    RecordAction(n.incident_id, Dump(audit));
    Log(r.success ? "info" : "warn", "incident notice",
        {{"incident", n.incident_id}, {"severity", std::string(alert::ToString(n.severity))},
         {"kind", audit["notification"].get<std::string>()}, {"detail", r.detail}});
    ++report.notifications;
  }
  if (!config_.alert.alertmanager.url.empty()) {
    FlushAlertmanager(step.notifications.empty()
                          ? ""
                          : alert::AlertmanagerBody(step.notifications, config_.alert.alertmanager));
    auto pending = store_.GetState(kOutboxKey);
    if (pending.ok() && pending->has_value()) {
      auto j = nlohmann::json::parse(**pending, nullptr, false);
      report.alertmanager_pending = j.is_array() ? static_cast<int>(j.size()) : 0;
    }
  }
}

void Daemon::FlushAlertmanager(const std::string& body) {
  std::vector<std::string> outbox;
  auto stored = store_.GetState(kOutboxKey);
  if (stored.ok() && stored->has_value()) {
    auto j = nlohmann::json::parse(**stored, nullptr, /*allow_exceptions=*/false);
    if (j.is_array()) {
      for (const auto& item : j) {
        if (item.is_string()) outbox.push_back(item.get<std::string>());
      }
    } else {
      Log("warn", "Alertmanager outbox unreadable, dropped", {{"key", kOutboxKey}});
    }
  }
  if (!body.empty()) outbox.push_back(body);
  if (outbox.size() > kOutboxMax) outbox.erase(outbox.begin(), outbox.end() - kOutboxMax);
  size_t sent = 0;
  const std::string url = StrCat(config_.alert.alertmanager.url, "/api/v2/alerts");
  for (; sent < outbox.size(); ++sent) {
    const HttpResult r = PostJson(url, outbox[sent], config_.alert.alertmanager.timeout);
    if (r.status >= 200 && r.status < 300) continue;
    Log("warn", "Alertmanager did not take the alerts; kept for the next cycle",
        {{"url", config_.alert.alertmanager.url},
         {"status", std::to_string(r.status)},
         {"error", r.error},
         {"pending", std::to_string(outbox.size() - sent)}});
    break;
  }
  outbox.erase(outbox.begin(), outbox.begin() + static_cast<std::ptrdiff_t>(sent));
  nlohmann::json rest = outbox;
  Status saved = store_.PutState(kOutboxKey, rest.dump());
  if (!saved.ok()) Log("error", "saving the Alertmanager outbox failed", {{"error", saved.message()}});
}

Status Daemon::Run(const std::function<void(absl::Duration)>& wait) {
  Log("info", "daemon started", {{"db", config_.db}, {"interval", absl::FormatDuration(config_.interval)},
                                 {"dry_run", config_.dry_run ? "true" : "false"}});
  if (!config_.dry_run && acting_) ResendUnsentAlerts(absl::Hours(24));
  while (!stopping()) {
    // The monotonic reading: a wall clock stepped back by a month during the cycle would make
    // `interval - elapsed` a month longer.
    const absl::Duration started = clock_.Monotonic();
    auto cycle = RunCycle();
    if (!cycle.ok()) {
      // A failed cycle (store busy, disk full) is retried at the next interval, not fatal: a
      // daemon that exits stops protecting every certificate.
      Log("error", "cycle failed", {{"error", cycle.status().message()}});
    }
    if (stopping()) break;
    const absl::Duration elapsed = clock_.Monotonic() - started;
    if (elapsed < config_.interval) {
      if (wait) wait(config_.interval - elapsed);
      else stop_.WaitFor(config_.interval - elapsed);
    }
  }
  Log("info", "daemon stopped");
  return OkStatus();
}

}  // namespace certcast::act
