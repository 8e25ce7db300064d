// The server's planner: keeps the fleet view (fleet_snapshot.h) up to date and, with --act,
// carries the plan out, as `certcast run` does (it drives an act::Daemon without collectors).
//
// A background thread runs a daemon cycle every `plan_interval` (plan, record decisions in the
// audit log and the planner's memory, and with `act` run the executors) and, between cycles, a
// preview plan (nothing recorded) `ingest_debounce` after the last ingest that stored events, so
// the view reflects new telemetry within seconds without re-planning once per request. Each
// refresh builds a new immutable FleetSnapshot and publishes it with an atomic swap: readers
// (snapshot()) never wait for a plan.
//
// Thread safety: snapshot(), NotifyIngest() and Stop() from any thread; DryPlan() from any thread
// (it waits for a refresh in progress).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "act/config.h"
#include "api/fleet_snapshot.h"
#include "api/metrics.h"
#include "core/clock.h"
#include "core/status.h"
#include "plan/planner.h"

namespace certcast {
class Store;
class Forecaster;
namespace act {
class Daemon;
}
}  // namespace certcast

namespace certcast::api {

struct FleetServiceOptions {
  std::string db;
  // Model file; "" = the newest model stored in the store under kStoredModelName (none: risks
  // are null and the plan runs on facts alone).
  std::string model_file;
  absl::Duration plan_interval = absl::Hours(1);
  absl::Duration ingest_debounce = absl::Seconds(5);
  // Carry the plan out through the executors (`serve --act`); off: plan and record only.
  bool act = false;
  // Executors, policy thresholds and limits (the [policy], [client], [reload], [alert] tables of
  // the daemon's config; collectors are ignored: telemetry comes in through POST /v1/events).
  act::DaemonConfig daemon;
  // Reasons (TreeSHAP) for this many of the highest-risk lineages beyond those the planner
  // explained; the rest show their risk without reasons.
  int explain_top = 200;
};

// Name under which `certcast train --db` stores models and the server looks for the newest.
inline constexpr char kStoredModelName[] = "forecaster";
// Store state key of the daily forecast alerts the precision and recall KPIs are judged on.
inline constexpr char kForecastHistoryKey[] = "api.forecast_history.v1";

// One decision or action audit record about a lineage.
struct AuditBrief {
  int64_t seq = 0;
  absl::Time at;
  std::string kind;  // "decision" or "action"
  std::string record_json;
};
// Kept per lineage and kind in memory for GET /v1/lineages/{cert}.
inline constexpr size_t kAuditKeptPerLineage = 20;

class FleetService {
 public:
  // Opens its own store connection and the model; does not plan yet.
  static StatusOr<std::unique_ptr<FleetService>> Create(FleetServiceOptions options, const Clock& clock,
                                                        ServerMetrics& metrics, std::ostream& log);
  ~FleetService();

  // Plans once (a daemon cycle) and publishes the first snapshot, then starts the thread.
  Status Start();
  // Stops the thread; an action in progress finishes first.
  void Stop();

  // The latest snapshot; null before the first plan finished.
  std::shared_ptr<const FleetSnapshot> snapshot() const { return std::atomic_load(&snapshot_); }

  // Events were stored: refresh the view after the debounce delay.
  void NotifyIngest();

  // POST /v1/plan: a plan at `at` that stores and carries out nothing; also refreshes the view.
  StatusOr<plan::RunPlanOutput> DryPlan(absl::Time at);

  // The lineage's latest decisions and actions (oldest first), as of the latest refresh.
  std::vector<AuditBrief> RecentAudit(const std::string& cert) const;

  bool has_model() const;
  absl::Duration horizon() const;
  double alert_threshold() const;

 private:
  FleetService(FleetServiceOptions options, const Clock& clock, ServerMetrics& metrics, std::ostream& log);
  void Loop();
  // Runs a cycle (`record`) or a preview at now and publishes the snapshot. Caller holds plan_mu_.
  Status Refresh(bool record);
  // Indexes the audit records appended since the last call. Caller holds plan_mu_.
  void IndexAudit();
  void Publish(const plan::RunPlanOutput& plan, absl::Time at, const plan::PlanState& state,
               bool record, double seconds);

  FleetServiceOptions options_;
  const Clock& clock_;
  ServerMetrics& metrics_;
  std::ostream& log_;
  std::unique_ptr<Store> store_;
  struct Model;
  std::unique_ptr<Model> model_;
  std::unique_ptr<act::Daemon> daemon_;
  std::shared_ptr<const FleetSnapshot> snapshot_;

  mutable std::shared_mutex audit_mu_;  // guards the audit index
  int64_t audit_seq_ = 0;               // last record indexed
  absl::flat_hash_map<std::string, std::deque<AuditBrief>> audit_index_;

  std::mutex plan_mu_;  // one plan at a time (the daemon and store are single-threaded)
  std::mutex mu_;       // guards the fields below
  std::condition_variable wake_;
  bool stop_ = false;
  std::optional<absl::Duration> ingest_at_;  // Clock::Monotonic of the last ingest not yet reflected
  std::thread thread_;
};

}  // namespace certcast::api
