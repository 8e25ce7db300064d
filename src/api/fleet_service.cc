#include "api/fleet_service.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "absl/container/flat_hash_set.h"
#include "act/daemon.h"
#include "api/agent_queue.h"
#include "core/json_text.h"
#include "core/strings.h"
#include "core/time.h"
#include "model/forecaster.h"
#include "nlohmann/json.hpp"
#include "store/store.h"
#include "store/store_backends.h"

namespace certcast::api {

struct FleetService::Model {
  std::optional<Forecaster> forecaster;
  std::string source;  // the file, or "store model #ID"
  const Forecaster* get() const {
    return forecaster ? &*forecaster : nullptr;
  }
};

namespace {

// Forecaster::Load reads a file: a stored model is written to a private temporary file first.
StatusOr<Forecaster> LoadStoredModel(const StoredModel& model) {
  char path[] = "/tmp/certcast-model-XXXXXX";
  const int fd = mkstemp(path);  // created 0600
  if (fd < 0) return InternalError(StrCat("temporary model file: ", std::strerror(errno)));
  size_t written = 0;
  while (written < model.blob.size()) {
    const ssize_t n = write(fd, model.blob.data() + written, model.blob.size() - written);
    if (n <= 0) {
      close(fd);
      unlink(path);
      return InternalError(StrCat("temporary model file: ", std::strerror(errno)));
    }
    written += static_cast<size_t>(n);
  }
  close(fd);
  auto loaded = Forecaster::Load(path);
  unlink(path);
  return loaded;
}

}  // namespace

FleetService::FleetService(FleetServiceOptions options, const Clock& clock, ServerMetrics& metrics,
                           std::ostream& log)
    : options_(std::move(options)), clock_(clock), metrics_(metrics), log_(log) {}

FleetService::~FleetService() { Stop(); }

StatusOr<std::unique_ptr<FleetService>> FleetService::Create(FleetServiceOptions options,
                                                             const Clock& clock, ServerMetrics& metrics,
                                                             std::ostream& log) {
  std::unique_ptr<FleetService> service(new FleetService(std::move(options), clock, metrics, log));
  FleetServiceOptions& o = service->options_;
  StoreOptions store_options;
  store_options.create_if_missing = false;
  ASSIGN_OR_RETURN(service->store_, Store::Open(o.db, store_options));
  service->model_ = std::make_unique<Model>();
  if (!o.model_file.empty()) {
    auto loaded = Forecaster::Load(o.model_file);
    if (!loaded.ok()) {
      return FailedPreconditionError(StrCat("--model ", o.model_file, ": ", loaded.status().message()));
    }
    service->model_->forecaster.emplace(std::move(*loaded));
    service->model_->source = o.model_file;
  } else {
    ASSIGN_OR_RETURN(std::optional<StoredModel> stored, service->store_->LatestModel(kStoredModelName));
    if (stored) {
      auto loaded = LoadStoredModel(*stored);
      if (loaded.ok()) {
        service->model_->forecaster.emplace(std::move(*loaded));
        service->model_->source = StrCat("store model #", stored->id);
      } else {
        // Facts alone still protect every certificate; a refused model must not stop the server.
        WriteLogLine(log, clock.Now(), "warn", "stored model not used; planning on facts alone",
                {{"model", StrCat(stored->id)}, {"error", loaded.status().message()}});
      }
    }
  }
  o.daemon.db = o.db;
  o.daemon.collectors.clear();
  service->daemon_ = std::make_unique<act::Daemon>(o.daemon, *service->store_,
                                                   service->model_->get(), clock, log);
  service->daemon_->SetActing(o.act);
  // The server's own actions name it in the audit, as an agent's name its token.
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  service->daemon_->SetActor(StrCat("certcast serve on ", host[0] ? host : "unknown host"));
  return service;
}

bool FleetService::has_model() const { return model_->get() != nullptr; }

absl::Duration FleetService::horizon() const {
  if (model_->get()) return model_->get()->horizon();
  return absl::ZeroDuration();
}

double FleetService::alert_threshold() const {
  if (model_->get()) return model_->get()->alert_threshold();
  return 1;
}

Status FleetService::Start() {
  {
    std::lock_guard<std::mutex> lock(plan_mu_);
    RETURN_IF_ERROR(Refresh(/*record=*/true));
  }
  thread_ = std::thread([this] { Loop(); });
  return OkStatus();
}

void FleetService::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  if (daemon_) daemon_->Stop();
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void FleetService::NotifyIngest() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // The first unreflected ingest starts the delay; later ones ride along, so a steady stream of
    // posts still refreshes once per debounce period instead of never.
    if (!ingest_at_) ingest_at_ = clock_.Monotonic();
  }
  wake_.notify_all();
}

void FleetService::Loop() {
  // Scheduled on the monotonic clock: a wall clock stepped back a month must not postpone the next
  // plan by a month (issue #12, finding 7).
  absl::Duration next_cycle = clock_.Monotonic() + options_.plan_interval;
  while (true) {
    bool cycle = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      while (!stop_) {
        const absl::Duration now = clock_.Monotonic();
        if (now >= next_cycle) {
          cycle = true;
          break;
        }
        if (ingest_at_ && now >= *ingest_at_ + options_.ingest_debounce) break;
        absl::Duration wait = next_cycle - now;
        if (ingest_at_) wait = std::min(wait, *ingest_at_ + options_.ingest_debounce - now);
        wake_.wait_for(lock, absl::ToChronoNanoseconds(wait));
      }
      if (stop_) return;
      ingest_at_.reset();
    }
    std::lock_guard<std::mutex> plan_lock(plan_mu_);
    const Status refreshed = Refresh(cycle);
    if (!refreshed.ok()) {
      WriteLogLine(log_, clock_.Now(), "error", cycle ? "plan cycle failed" : "fleet view refresh failed",
              {{"error", refreshed.message()}});
    }
    if (cycle) next_cycle = clock_.Monotonic() + options_.plan_interval;
  }
}

Status FleetService::Refresh(bool record) {
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  if (record) {
    // Several servers may share one store: exactly one plans and records (the leader); the others
    // preview, so their view still follows the shared events. A leader that dies releases the
    // lock with its connection, and the next cycle of another server takes it over.
    auto leader = HoldLeadership(*store_, "planner");
    if (!leader.ok()) return leader.status().WithPrefix("planner leadership");
    if (leader->changed) {
      WriteLogLine(log_, clock_.Now(), "info", leader->held ? "planning: this server leads" :
                                                   "not planning: another server leads",
              {{"db", StoreDisplayName(options_.db)}});
    }
    if (!leader->held) record = false;
  }
  if (record) {
    // Who has an agent now (a token revoked since the last cycle no longer does): the rule of
    // agent_queue.h, applied to this cycle's decisions.
    ASSIGN_OR_RETURN(std::vector<TokenRecord> tokens, store_->ListTokens());
    daemon_->SetAgentQueue([hosts = AgentHosts(tokens), at = clock_.Now(), policy = options_.daemon.policy](
                               const policy::PlannedItem& item, const ConfigEvent& lineage) {
      return QueueForAgent(item, lineage, at, hosts, policy);
    });
    bool published = false;
    daemon_->SetPlanObserver([&](const plan::RunPlanOutput& plan, absl::Time at,
                                 const plan::PlanState& state) {
      Publish(plan, at, state, /*record=*/true, elapsed());
      published = true;
    });
    auto cycle = daemon_->RunCycle();
    daemon_->SetPlanObserver(nullptr);
    metrics_.plan_duration.Observe(elapsed());
    if (!cycle.ok() || !published) {
      metrics_.plans_failed.Add();
      return cycle.ok() ? InternalError("the plan cycle ended before planning") : cycle.status();
    }
    metrics_.plans_succeeded.Add();
    return OkStatus();
  }
  const absl::Time at = clock_.Now();
  auto plan = daemon_->Preview(at);
  if (!plan.ok()) {
    metrics_.plans_failed.Add();
    return plan.status();
  }
  Publish(*plan, at, daemon_->plan_state(), /*record=*/false, elapsed());
  metrics_.plan_duration.Observe(elapsed());
  metrics_.plans_succeeded.Add();
  return OkStatus();
}

void FleetService::Publish(const plan::RunPlanOutput& plan, absl::Time at,
                           const plan::PlanState& state, bool record, double seconds) {
  const bool scored = has_model() && plan.forecast_error.empty();
  policy::ForecastMap forecasts = plan.forecasts;
  // The planner explained only the lineages it proposes something for; a person reading the
  // riskiest lineages wants theirs too.
  if (scored && options_.explain_top > 0 && state.fleet() != nullptr) {
    std::vector<std::pair<double, std::string>> unexplained;
    for (const auto& [cert, f] : forecasts) {
      if (f.reasons.empty()) unexplained.emplace_back(f.risk, cert);
    }
    const size_t top = std::min<size_t>(unexplained.size(), options_.explain_top);
    std::partial_sort(unexplained.begin(), unexplained.begin() + top, unexplained.end(),
                      [](const auto& a, const auto& b) { return a.first > b.first; });
    absl::flat_hash_set<std::string> wanted;
    for (size_t i = 0; i < top; ++i) wanted.insert(unexplained[i].second);
    if (!wanted.empty()) {
      ScoreOptions explain;
      explain.max_reasons = 3;
      explain.certs = &wanted;
      auto explained = model_->get()->ScoreState(*state.fleet(), at, explain);
      if (explained.ok()) {
        for (LineageForecast& f : *explained) {
          auto it = forecasts.find(f.cert);
          if (it == forecasts.end()) continue;
          for (Reason& r : f.reasons) it->second.reasons.push_back(std::move(r.sentence));
        }
      } else {
        WriteLogLine(log_, clock_.Now(), "warn", "forecast reasons for the fleet view failed",
                {{"error", explained.status().message()}});
      }
    }
  }
  auto snapshot = std::make_shared<FleetSnapshot>(
      BuildFleetSnapshot(plan.views, forecasts, scored, plan.result, plan.memory, at));
  snapshot->model_version = plan.model_version;
  snapshot->forecast_error = plan.forecast_error;
  snapshot->plan_seconds = seconds;
  snapshot->built = clock_.Now();

  // KPIs from the renewal and issuance events of the window (and a horizon before it, for the
  // episodes and failure runs that began earlier).
  FleetKpis& kpis = snapshot->kpis;
  EventFilter filter;
  filter.since = at - kpis.window - std::max(horizon(), kpis.window);
  filter.until = at;
  filter.type = EventType::kRenewal;
  auto renewals = store_->LoadEvents(filter);
  filter.type = EventType::kIssued;
  auto issued = store_->LoadEvents(filter);
  if (renewals.ok() && issued.ok()) {
    ComputeRenewalKpis(*renewals, at, kpis);
    std::vector<Event> merged;
    merged.reserve(renewals->size() + issued->size());
    std::merge(renewals->begin(), renewals->end(), issued->begin(), issued->end(),
               std::back_inserter(merged),
               [](const Event& a, const Event& b) { return a.ts < b.ts; });
    std::vector<ForecastDay> history;
    auto stored = store_->GetState(kForecastHistoryKey);
    if (stored.ok() && *stored) {
      auto parsed = ForecastHistoryFromJson(**stored);
      if (parsed.ok()) history = std::move(*parsed);
      else WriteLogLine(log_, clock_.Now(), "warn", "forecast history unreadable; starting over",
                   {{"error", parsed.status().message()}});
    }
    if (record && scored) {
      RecordForecastDay(*snapshot, alert_threshold(), kpis.window + horizon(), history);
      const Status put = store_->PutState(kForecastHistoryKey, ForecastHistoryToJson(history));
      if (!put.ok()) WriteLogLine(log_, clock_.Now(), "warn", "storing the forecast history failed", {{"error", put.message()}});
    }
    if (has_model()) ComputeForecastQuality(history, merged, horizon(), at, kpis);
    snapshot->forecast_history = std::move(history);
  } else {
    WriteLogLine(log_, clock_.Now(), "warn", "reading renewals for the KPIs failed",
            {{"error", (renewals.ok() ? issued.status() : renewals.status()).message()}});
  }
  IndexAudit();
  std::atomic_store(&snapshot_, std::shared_ptr<const FleetSnapshot>(std::move(snapshot)));
}

void FleetService::IndexAudit() {
  std::vector<AuditBrief> fresh;
  int64_t last = audit_seq_;
  const Status scanned = store_->ScanAuditAfter(audit_seq_, [&](const AuditRecord& r) {
    last = r.seq;
    if (r.kind == "decision" || r.kind == "action") {
      fresh.push_back({r.seq, r.at, r.kind, r.record_json});
    }
    return OkStatus();
  });
  if (!scanned.ok()) {
    WriteLogLine(log_, clock_.Now(), "warn", "indexing the audit log failed", {{"error", scanned.message()}});
    return;
  }
  std::unique_lock<std::shared_mutex> lock(audit_mu_);
  audit_seq_ = last;
  for (AuditBrief& brief : fresh) {
    const auto j = nlohmann::json::parse(brief.record_json, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("cert") || !j["cert"].is_string()) continue;
    std::deque<AuditBrief>& kept = audit_index_[j["cert"].get<std::string>()];
    kept.push_back(std::move(brief));
    // Bounded per kind: drop the oldest record of the kind just added once it has too many.
    const std::string& kind = kept.back().kind;
    size_t of_kind = 0;
    for (const AuditBrief& b : kept) of_kind += b.kind == kind;
    if (of_kind > kAuditKeptPerLineage) {
      kept.erase(std::find_if(kept.begin(), kept.end(),
                              [&](const AuditBrief& b) { return b.kind == kind; }));
    }
  }
}

std::vector<AuditBrief> FleetService::RecentAudit(const std::string& cert) const {
  std::shared_lock<std::shared_mutex> lock(audit_mu_);
  auto it = audit_index_.find(cert);
  if (it == audit_index_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

StatusOr<plan::RunPlanOutput> FleetService::DryPlan(absl::Time at) {
  std::lock_guard<std::mutex> lock(plan_mu_);
  const auto start = std::chrono::steady_clock::now();
  auto plan = daemon_->Preview(at);
  if (!plan.ok()) return plan.status();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Publish(*plan, at, daemon_->plan_state(), /*record=*/false, seconds);
  return plan;
}

}  // namespace certcast::api
