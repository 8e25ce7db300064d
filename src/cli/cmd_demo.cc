// certcast demo: the main job end to end on a simulated fleet, in one command and under two
// minutes: simulate -> store -> train -> backtest -> summary and HTML report, then certcast's
// plans and alerts in the loop on the same fleet (pages, incidents, expired hours). Uses the same
// library calls as `simulate`, `ingest`, `train`, `backtest` and bench/plan_closed_loop.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <thread>

#include "alert/alert.h"
#include "alert/from_plan.h"
#include "api/fleet_service.h"
#include "api/fleet_snapshot.h"
#include "api/token.h"
#include "cli/command.h"
#include "cli/progress.h"
#include "cli/serve_loop.h"
#include "cli/stats.h"
#include "collect/sim/simulator.h"
#include "core/clock.h"
#include "core/strings.h"
#include "core/time.h"
#include "model/backtest.h"
#include "model/model.h"
#include "plan/plan_state.h"
#include "plan/planner.h"
#include "policy/sim_policy.h"
#include "store/store.h"

namespace certcast::cli {
namespace {

struct DemoFlags {
  std::string dir = "out/demo";
  int64_t lineages = 600;
  int days = 300;
  uint64_t seed = 1;
  std::string start = "2026-01-01T00:00:00Z";
  std::string preset = "small";
  bool serve = false;
  std::string listen = "127.0.0.1:8440";
};

// Streams the simulator's events into the store in transactions of ~20k events.
class StoreSink final : public sim::EventSink {
 public:
  explicit StoreSink(Store& store) : store_(store) {}
  Status Consume(std::span<const Event> events) override {
    buffer_.insert(buffer_.end(), events.begin(), events.end());
    if (buffer_.size() >= 20000) return Flush();
    return OkStatus();
  }
  Status Flush() {
    if (buffer_.empty()) return OkStatus();
    ASSIGN_OR_RETURN(AppendResult r, store_.AppendEvents(buffer_));
    stored_ += r.inserted;
    buffer_.clear();
    return OkStatus();
  }
  int64_t stored() const { return stored_; }

 private:
  Store& store_;
  std::vector<Event> buffer_;
  int64_t stored_ = 0;
};

void Metric(const std::string& name, const ForecastMetrics& m) {
  // Long rule names get a line of their own so the figures stay in columns.
  if (name.size() > 34) std::printf("  %s\n", name.c_str());
  std::printf("  %-34s PR-AUC %.3f  Brier %.4f  recall %5.1f%% (%d/%d)  precision %5.1f%%  lead %.1f d\n",
              name.size() > 34 ? "" : name.c_str(), m.pr_auc, m.brier, 100 * m.recall, m.caught, m.episodes, 100 * m.precision,
              m.median_lead_days);
}

// The backtest's daily forecasts (CSV `day,cert,risk,alert`) as the server's forecast history:
// what the model said each day, so the served fleet has risk over time and trailing forecast
// precision and recall from the first page on.
StatusOr<std::vector<api::ForecastDay>> ForecastHistoryFromBacktest(const std::string& csv_path) {
  std::ifstream in(csv_path);
  if (!in) return UnavailableError(StrCat(csv_path, ": cannot read"));
  std::map<absl::Time, std::vector<std::pair<std::string, double>>> days;
  std::map<absl::Time, std::vector<std::string>> alerted;
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    if (++number == 1) continue;  // header
    // day,cert,risk,alert with the cert possibly quoted: the day is the first field and risk and
    // alert the last two, so the cert is what lies between.
    const size_t first = line.find(',');
    const size_t last = line.rfind(',');
    const size_t risk_at = last == std::string::npos ? last : line.rfind(',', last - 1);
    if (first == std::string::npos || risk_at == std::string::npos || risk_at <= first) {
      return DataLossError(StrCat(csv_path, ":", number, ": expected day,cert,risk,alert"));
    }
    auto day = ParseRfc3339(line.substr(0, first));
    if (!day.ok()) return DataLossError(StrCat(csv_path, ":", number, ": ", day.status().message()));
    std::string cert = line.substr(first + 1, risk_at - first - 1);
    if (cert.size() >= 2 && cert.front() == '"' && cert.back() == '"') {
      cert = cert.substr(1, cert.size() - 2);
      for (size_t i = cert.find("\"\""); i != std::string::npos; i = cert.find("\"\"", i + 1)) cert.erase(i, 1);
    }
    const double risk = std::strtod(line.c_str() + risk_at + 1, nullptr);
    days[*day].emplace_back(cert, risk);
    if (line.substr(last + 1) == "1") alerted[*day].push_back(cert);
  }
  std::vector<api::ForecastDay> history;
  for (auto& [day, risks] : days) {
    api::ForecastDay d{day, std::move(alerted[day]), {}};
    std::sort(risks.begin(), risks.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    if (risks.size() > api::kRiskHistoryKept) risks.resize(api::kRiskHistoryKept);
    for (const auto& [cert, risk] : risks) {
      d.risks.emplace_back(cert, static_cast<int>(std::lround(risk * api::kRiskUnits)));
    }
    std::sort(d.alerted.begin(), d.alerted.end());
    std::sort(d.risks.begin(), d.risks.end());
    history.push_back(std::move(d));
  }
  return history;
}

// The alert step (docs/alerts.md) replayed once a day over the simulated history's last
// kIncidentReplayDays, as `certcast run` with `[alert] incidents = true` would have run it on this
// fleet: the Incidents page then shows open and resolved incidents of this fleet. The server
// itself only plans (it runs no alert step without --act), so nothing else writes incidents here.
// Plans replayed here leave no decisions, memory or checkpoint behind (audit, remember and
// checkpoint off); only the incidents are stored. Returns how many are open and resolved.
constexpr int kIncidentReplayDays = 14;

StatusOr<std::pair<int, int>> ReplayIncidents(Store& store, const Forecaster& forecaster,
                                              absl::Time end) {
  plan::PlanState state(/*with_fleet=*/true);
  plan::RunPlanOptions options;
  options.audit = false;
  options.remember = false;
  options.checkpoint = false;
  options.keep_views = true;
  const alert::AlertPolicy alerting;
  std::vector<alert::Incident> incidents;
  for (int day = kIncidentReplayDays; day >= 0; --day) {
    const absl::Time at = end - absl::Hours(24) * day;
    ASSIGN_OR_RETURN(plan::RunPlanOutput plan, plan::RunPlan(store, &forecaster, at, options, state));
    const std::vector<alert::AlertCandidate> candidates =
        alert::CandidatesFromPlan(plan.result, plan.views);
    alert::Step(incidents, candidates, {}, alerting, at);
  }
  std::vector<IncidentRecord> records;
  std::pair<int, int> open_resolved{0, 0};
  for (const alert::Incident& incident : incidents) {
    records.push_back(alert::ToRecord(incident));
    (records.back().open ? open_resolved.first : open_resolved.second) += 1;
  }
  RETURN_IF_ERROR(store.PutIncidents(records));
  return open_resolved;
}

std::string Fixed1(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// Step 4's lines: pages and incidents as people received them in the closed loop (scored against
// the simulator's truth, sim/paging.h), and its outcome beside the clients alone (`none`).
void PrintLoopSummary(const sim::Metrics& loop, const sim::Metrics& none) {
  const sim::PagingMetrics& p = loop.paging;
  const std::string share = p.pages ? StrCat(Fixed1(100 * p.page_share_real()), "%") : "-";
  std::printf("   pages:     %lld, %lld at a real cause (%s); %.2f per 1,000 lineage-weeks\n",
              static_cast<long long>(p.pages), static_cast<long long>(p.pages_real), share.c_str(),
              p.pages_per_kilo_lineage_weeks());
  std::printf("   tickets:   %lld, %lld at a real cause; info %s and watch %s lineage-plans "
              "(recorded, not sent)\n",
              static_cast<long long>(p.tickets), static_cast<long long>(p.tickets_real),
              Thousands(p.lineage_plans_info).c_str(), Thousands(p.lineage_plans_watched).c_str());
  std::printf("   incidents (opened, resolved): %lld, %lld\n",
              static_cast<long long>(p.incidents_opened), static_cast<long long>(p.incidents_resolved));
  std::printf("   expired-certificate hours %.1f (clients alone %.1f); issuances %s (clients alone "
              "%s, %+.1f%%)\n",
              loop.outage_hours, none.outage_hours, Thousands(loop.issuances).c_str(),
              Thousands(none.issuances).c_str(),
              none.issuances ? 100.0 * double(loop.issuances) / double(none.issuances) - 100 : 0.0);
}

// `demo --serve`: the dashboard and the API on the demo's store, on a clock that starts where the
// simulated history ends, signed in with a read-only token made for this run.
int ServeDemo(const DemoFlags& flags, const std::string& db, const std::string& model_path,
              const std::string& csv_path, absl::Time end) {
  static OffsetClock clock(end - SystemClock::Get().Now());
  std::string secret;
  {
    auto store = Store::Open(db);
    if (!store.ok()) return Fail(store.status());
    auto history = ForecastHistoryFromBacktest(csv_path);
    if (!history.ok()) return Fail(history.status());
    if (Status s = (*store)->PutState(api::kForecastHistoryKey, api::ForecastHistoryToJson(*history));
        !s.ok()) {
      return Fail(s);
    }
    // The model goes into the store as `train --db` puts it: the server serves the newest stored
    // model and GET /v1/models (the dashboard's Model page) lists it with its validation figures.
    auto bundle = ReadModelFile(model_path);
    if (!bundle.ok()) return Fail(bundle.status());
    std::ifstream model_in(model_path, std::ios::binary);
    StoredModel stored{.created = clock.Now(), .name = api::kStoredModelName,
                       .metadata_json = ModelInfoJson(bundle->info),
                       .blob = std::string(std::istreambuf_iterator<char>(model_in), {})};
    if (!model_in || stored.blob.empty()) return Fail(InternalError(StrCat("reading back ", model_path)));
    if (auto put = (*store)->PutModel(stored); !put.ok()) return Fail(put.status());
    auto forecaster = Forecaster::Load(model_path);
    if (!forecaster.ok()) return Fail(forecaster.status());
    auto replayed = ReplayIncidents(**store, *forecaster, end);
    if (!replayed.ok()) return Fail(replayed.status().WithPrefix("replaying the alert step"));
    std::printf("   incidents: %d open, %d resolved (the alert step replayed over the last %d days)\n",
                replayed->first, replayed->second, kIncidentReplayDays);
    auto key = api::TokenKey::Load(api::DefaultTokenKeyPath(db), /*create=*/true);
    if (!key.ok()) return Fail(key.status());
    api::NewToken request;
    request.name = StrCat("demo-dashboard-", absl::ToUnixSeconds(SystemClock::Get().Now()));
    request.scopes = api::Bit(api::Scope::kRead);
    auto created = api::CreateToken(**store, *key, request, clock.Now());
    if (!created.ok()) return Fail(created.status());
    secret = *created;
  }
  api::ServerOptions options;
  options.db = db;
  options.listen = flags.listen;
  options.threads = 8;
  options.access_log = false;  // the demo's terminal shows the address, not every request
  const std::string host = flags.listen.substr(0, flags.listen.rfind(':'));
  std::printf("\n5. serving the dashboard on the demo fleet as of %s (Ctrl-C stops) ...\n",
              FormatRfc3339(end).c_str());
  std::fflush(stdout);
  return ServeUntilSignal(options, clock, [&](int port) {
    std::printf("dashboard: http://%s:%d/?token=%s\n", host.c_str(), port, secret.c_str());
    std::fflush(stdout);
  });
}

int RunDemo(const DemoFlags& flags) {
  if (flags.serve) {
    // The server's signal thread waits for SIGTERM/SIGINT with sigwait, which needs them blocked
    // in every thread; training starts worker threads that inherit this thread's mask, so block
    // them now (a signal during the demo's steps then stops the server as soon as it starts).
    sigset_t signals;
    sigemptyset(&signals);
    for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&signals, s);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  }
  const absl::Time wall_start = SystemClock::Get().Now();
  auto seconds = [&] { return absl::ToDoubleSeconds(SystemClock::Get().Now() - wall_start); };
  std::error_code ec;
  std::filesystem::create_directories(flags.dir, ec);
  if (ec) return Fail(UnavailableError(StrCat(flags.dir, ": ", ec.message())));
  const std::string db = flags.dir + "/fleet.db";
  const std::string model_path = flags.dir + "/fleet.model";
  const std::string csv_path = flags.dir + "/backtest.csv";
  const std::string report_path = flags.dir + "/report.html";
  const std::string truth_path = flags.dir + "/fleet.truth.jsonl";
  // A fresh store each run, so the demo shows the same thing every time.
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix, ec);

  // 1. Simulate a fleet straight into the store.
  auto config = sim::PresetConfig(flags.preset);
  if (!config.ok()) return Fail(config.status());
  config->lineages = flags.lineages;
  config->days = flags.days;
  config->seed = flags.seed;
  config->start = *ParseRfc3339(flags.start);
  if (Status s = sim::ValidateConfig(*config); !s.ok()) return Fail(s);
  // Step 4's closed loop (certcast's plans acting on the same fleet every day, facts alone, the
  // alert core on) needs nothing from steps 1-3, so it runs beside them: steps 1-3 wait on the
  // store and training, and the demo takes no longer. Joined before step 4 (or on any return).
  StatusOr<sim::RunResult> in_loop = InternalError("not run");
  std::jthread loop_thread([&in_loop, loop_config = *config] {
    policy::SimPolicy certcast(policy::PolicyConfig{}, nullptr);
    certcast.EnableIncidents(alert::AlertPolicy{});
    in_loop = sim::RunClosedLoop(loop_config, certcast, nullptr);
  });
  auto store = Store::Open(db);
  if (!store.ok()) return Fail(store.status());
  std::printf("certcast demo: %lld lineages (%s preset, seed %llu), %d days from %s\n",
              static_cast<long long>(flags.lineages), flags.preset.c_str(),
              static_cast<unsigned long long>(flags.seed), flags.days, flags.start.c_str());
  std::printf("1. simulating the fleet into %s ...\n", db.c_str());
  std::fflush(stdout);
  ProgressLine progress;
  StoreSink sink(**store);
  sim::RunOptions run_options;
  run_options.progress = [&](int day, int days) {
    progress.Show(StrCat("simulate: day ", day, " of ", days));
  };
  auto run = sim::RunOpenLoop(*config, &sink, run_options);
  progress.Done();
  if (!run.ok()) return Fail(run.status());
  if (Status s = sink.Flush(); !s.ok()) return Fail(s);
  {
    std::string truth;
    sim::WriteTruthJsonl(*config, run->truth, truth);
    std::ofstream(truth_path, std::ios::trunc) << truth;
  }
  auto summary = Summarize(**store);
  if (!summary.ok()) return Fail(summary.status());
  PrintSummary(*summary, stdout);

  // 2. Train on the first two thirds, in time order.
  const absl::Time end = config->start + absl::Hours(24) * flags.days;
  const absl::Time split = FloorToDay(config->start + (end - config->start) * 2 / 3);
  std::printf("\n2. training on events before %s ...\n", FormatRfc3339(split).c_str());
  std::fflush(stdout);
  auto train_events = (*store)->LoadEvents({.until = split});
  if (!train_events.ok()) return Fail(train_events.status());
  TrainOptions train_options;
  train_options.progress = [&](const std::string& line) { progress.Show("train: " + line); };
  auto set = BuildTrainingSet(*train_events, split, train_options);
  if (!set.ok()) return Fail(set.status());
  auto report = TrainModel(*set, train_options);
  progress.Done();
  if (!report.ok()) return Fail(report.status());
  if (Status s = WriteModelFile(model_path, report->bundle); !s.ok()) return Fail(s);
  train_events->clear();
  train_events->shrink_to_fit();
  if (report->bundle.info.prior_only) {
    // A fleet this small or healthy may have no onset before the split: say so rather than print
    // validation figures of a model that learned nothing.
    std::printf("   model %s: %s; every lineage gets the base rate, nothing alerts\n", model_path.c_str(),
                std::string(kPriorOnlyReason).c_str());
  } else {
    std::printf("   model %s: %d rounds; validation on the newest quarter of training days:\n",
                model_path.c_str(), report->rounds);
    Metric("validation", report->validation);
  }

  // 3. Backtest the last third: features from events before each day only.
  std::printf("\n3. backtesting %s .. %s (one row per lineage per day) ...\n",
              FormatRfc3339(split).c_str(), FormatRfc3339(FloorToDay(end)).c_str());
  std::fflush(stdout);
  auto forecaster = Forecaster::Load(model_path);
  if (!forecaster.ok()) return Fail(forecaster.status());
  std::map<std::string, std::map<absl::Time, std::string>> causes;
  for (const auto& episode : run->truth.episodes) {
    if (episode.labelled) causes[episode.cert][episode.onset] = episode.cause;
  }
  BacktestOptions options;
  options.from = split;
  options.to = FloorToDay(end);
  options.horizon = forecaster->horizon();
  options.causes = &causes;
  options.progress = [&](const std::string& line) { progress.Show(line); };
  auto events = (*store)->LoadEvents({});
  if (!events.ok()) return Fail(events.status());
  std::ofstream csv(csv_path, std::ios::trunc);
  auto result = RunBacktest(*forecaster, *events, options, csv);
  progress.Done();
  if (!result.ok()) return Fail(result.status());
  csv.close();
  std::printf("   %s cert-days; alert threshold %.3f; horizon %lld days\n",
              Thousands(result->rows).c_str(), result->threshold,
              static_cast<long long>(absl::ToInt64Hours(options.horizon) / 24));
  Metric("certcast", result->model);
  for (const auto& [name, m] : result->baselines) Metric("rule: " + name, m);
  std::printf("   recall per cause (certcast):");
  for (const auto& [cause, c] : result->model.by_cause) {
    std::printf(" %s %d/%d;", cause.c_str(), c.caught, c.episodes);
  }
  std::printf("\n");
  {
    std::ofstream html(report_path, std::ios::trunc);
    html << RenderBacktestReport(*result, options, forecaster->info());
  }

  // 4. The same fleet with certcast in the loop, against the clients alone (step 1's run).
  std::printf("\n4. alerting: the same fleet with certcast's plans acting every day (facts alone, "
              "alert core on) ...\n");
  std::fflush(stdout);
  loop_thread.join();
  if (!in_loop.ok()) return Fail(in_loop.status().WithPrefix("closed loop"));
  PrintLoopSummary(in_loop->metrics, run->metrics);
  std::printf("\nwrote %s, %s, %s and %s (%.0f s)\n", csv_path.c_str(), report_path.c_str(),
              model_path.c_str(), truth_path.c_str(), seconds());
  if (flags.serve) return ServeDemo(flags, db, model_path, csv_path, end);
  std::printf("next: certcast forecast --db %s --model %s --at %s\n", db.c_str(),
              model_path.c_str(), FormatRfc3339(FloorToDay(end)).c_str());
  std::printf("      certcast demo --serve   (the same, then the dashboard in a browser)\n");
  return kExitOk;
}

const bool registered = RegisterCommand({
    .name = "demo",
    .summary = "Run the main job end to end on a simulated fleet",
    .order = 1,
    .setup =
        [](CLI::App& sub) {
          auto flags = std::make_shared<DemoFlags>();
          sub.description(
              "Simulates a fleet (docs/simulator.md) into a fresh SQLite store, trains the "
              "forecaster on the first two thirds of its history, backtests the last third day by "
              "day (features from events before each day only) and prints the forecast's quality "
              "beside simple alerting rules; then runs the same fleet with certcast's plans acting "
              "every day (the closed loop, facts alone, alert core on) and prints its pages "
              "(with the share at a real cause by the simulator's truth and pages per 1,000 "
              "lineage-weeks), tickets, incidents opened and resolved, and expired-certificate "
              "hours and issuances beside the clients alone. Writes the store, model, backtest "
              "CSV, HTML report and the simulator's ground truth under --dir. With --serve it "
              "then serves the "
              "dashboard (docs/dashboard.md) on that store.");
          sub.add_option("--dir", flags->dir, "Output directory")->capture_default_str();
          sub.add_option("--lineages", flags->lineages, "Certificate lineages")
              ->capture_default_str()
              ->check(CLI::Range(10, 1000000));
          sub.add_option("--days", flags->days, "Days simulated")
              ->capture_default_str()
              ->check(CLI::Range(60, 3660));
          sub.add_option("--seed", flags->seed, "Simulator seed")->capture_default_str();
          sub.add_option("--start", flags->start, "First simulated day")
              ->capture_default_str()
              ->check(RequireTimestamp());
          sub.add_option("--preset", flags->preset, "small, hosting or k8s")
              ->capture_default_str()
              ->check(CLI::IsMember({"small", "hosting", "k8s"}));
          sub.add_flag("--serve", flags->serve,
                       "Then serve the dashboard and the API on the demo's store until "
                       "interrupted, on a clock that starts where the simulated history ends; "
                       "prints `dashboard: http://ADDR:PORT/?token=SECRET` (a read-only token "
                       "made for this run; opening the address signs in)");
          sub.add_option("--listen", flags->listen, "ADDR:PORT for --serve; port 0 picks a free one")
              ->capture_default_str();
          sub.footer("Example:\n  certcast demo\n  certcast demo --lineages 2000 --preset hosting\n"
                     "  certcast demo --serve --listen 127.0.0.1:8440   # then open the printed address");
          return [flags] { return RunDemo(*flags); };
        },
});

}  // namespace
}  // namespace certcast::cli
