#include "api/probe_service.h"

#include "core/event_json.h"
#include "core/strings.h"
#include "core/time.h"
#include "nlohmann/json.hpp"
#include "store/ingest.h"
#include "store/store.h"

namespace certcast::api {

StatusOr<std::unique_ptr<ProbeService>> ProbeService::Create(
    ProbeServiceOptions options, const Clock& clock, std::function<std::shared_ptr<const FleetSnapshot>()> snapshot,
    std::function<void()> on_stored, std::ostream& log) {
  std::unique_ptr<ProbeService> service(new ProbeService(std::move(options), clock, log));
  ASSIGN_OR_RETURN(service->store_, Store::Open(service->options_.db));
  service->snapshot_ = std::move(snapshot);
  service->on_stored_ = std::move(on_stored);
  return service;
}

ProbeService::~ProbeService() { Stop(); }

void ProbeService::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void ProbeService::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ProbeService::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    auto round = RunRound();
    nlohmann::ordered_json j;
    j["ts"] = FormatRfc3339(clock_.Now());
    if (round.ok()) {
      j["level"] = "info";
      j["msg"] = "server probe round";
      j["targets"] = round->targets;
      j["truncated"] = round->truncated;
      j["errors"] = round->errors;
      j["stored"] = round->stored;
    } else {
      j["level"] = "error";
      j["msg"] = "server probe round failed";
      j["error"] = std::string(round.status().message());
    }
    log_ << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    log_.flush();
    lock.lock();
    wake_.wait_for(lock, absl::ToChronoMilliseconds(options_.interval), [this] { return stop_; });
  }
}

StatusOr<ProbeRound> ProbeService::RunRound() {
  ProbeRound round;
  std::shared_ptr<const FleetSnapshot> snapshot = snapshot_ ? snapshot_() : nullptr;
  if (!snapshot) return round;
  const ProbeTargetList list = ServerProbeTargets(*snapshot, options_.targets);
  round.targets = list.targets.size();
  round.truncated = list.truncated;
  if (list.targets.empty()) return round;
  // A new challenge token each round (the seed advances), as a CA's validation would use.
  ProbeRunOptions run = options_.run;
  run.seed = options_.run.seed + rounds_++;
  const probe::ScanResult result = probe::RunScan(PlanProbes(list.targets, run, clock_));
  round.errors = result.errors.size();
  std::string text;
  for (const Event& e : result.events) {
    text += EventToJson(e);
    text += '\n';
  }
  IngestOptions ingest;
  ingest.clock = &clock_;
  ASSIGN_OR_RETURN(IngestStats stats, IngestText(*store_, text, "server probes", ingest));
  round.stored = stats.inserted;
  if (stats.inserted > 0) {
    nlohmann::json audit;
    audit["token"] = "server-probe";
    audit["route"] = "server probe round";
    audit["stored"] = stats.inserted;
    audit["duplicates"] = stats.duplicates;
    audit["rejected"] = stats.rejected;
    RETURN_IF_ERROR(store_->AppendAudit(clock_.Now(), "ingest", audit.dump()).status());
    if (on_stored_) on_stored_();
  }
  return round;
}

}  // namespace certcast::api
