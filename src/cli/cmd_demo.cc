// certcast demo: the main job end to end on a simulated fleet, in one command and under two
// minutes: simulate -> store -> train -> backtest -> summary and HTML report. Uses the same
// library calls as `simulate`, `ingest`, `train` and `backtest`.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/command.h"
#include "cli/progress.h"
#include "cli/stats.h"
#include "collect/sim/simulator.h"
#include "core/clock.h"
#include "core/strings.h"
#include "core/time.h"
#include "model/backtest.h"
#include "model/model.h"
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

int RunDemo(const DemoFlags& flags) {
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
  auto store = Store::OpenSqlite(db);
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
  std::printf("\nwrote %s, %s, %s and %s (%.0f s)\n", csv_path.c_str(), report_path.c_str(),
              model_path.c_str(), truth_path.c_str(), seconds());
  std::printf("next: certcast forecast --db %s --model %s --at %s\n", db.c_str(),
              model_path.c_str(), FormatRfc3339(FloorToDay(end)).c_str());
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
              "beside simple alerting rules. Writes the store, model, backtest CSV, HTML report and "
              "the simulator's ground truth under --dir.");
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
          sub.footer("Example:\n  certcast demo\n  certcast demo --lineages 2000 --preset hosting");
          return [flags] { return RunDemo(*flags); };
        },
});

}  // namespace
}  // namespace certcast::cli
