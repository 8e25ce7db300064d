// `certcast simulate`: run the fleet simulator (docs/simulator.md) open loop, writing events-v1
// JSON Lines and the hidden ground truth, or closed loop with a baseline policy, printing the
// metrics that docs/evaluation.md §2 scores.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "cli/command.h"
#include "collect/sim/simulator.h"
#include "core/file_safety.h"
#include "core/strings.h"
#include "core/time.h"

namespace certcast::cli {
namespace {

struct Flags {
  int64_t lineages = -1;
  int days = -1;
  std::string start;
  int64_t seed = -1;
  std::string out;
  std::string truth;
  std::string preset = "small";
  std::string config;
  bool closed_loop = false;
  std::string policy = "none";
  int expiry_days = 14;
  std::string metrics_json;
  bool no_randomize = false;
  bool quiet = false;
};

// A one-line progress bar on stderr, redrawn at most once per percent.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled) {}
  void operator()(int day, int days) {
    if (!enabled_) return;
    const int percent = day * 100 / days;
    if (percent == last_ && day != days) return;
    last_ = percent;
    const int width = 40, filled = percent * width / 100;
    std::fprintf(stderr, "\rsimulating [%.*s%*s] %3d%% day %d/%d", filled,
                 "########################################", width - filled, "", percent, day,
                 days);
    if (day == days) std::fprintf(stderr, "\n");
  }

 private:
  bool enabled_;
  int last_ = -1;
};

StatusOr<std::string> ReadFile(const std::string& path) {
  return ReadRegularFile(path, kMaxConfigBytes, "simulator config");
}

Status WriteFile(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return UnavailableError(StrCat("cannot write ", path));
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok) return UnavailableError(StrCat("write failed: ", path));
  return OkStatus();
}

int Run(const Flags& f) {
  auto config_or = sim::PresetConfig(f.preset);
  if (!config_or.ok()) return Fail(config_or.status());
  sim::SimConfig config = std::move(*config_or);
  if (!f.config.empty()) {
    auto text = ReadFile(f.config);
    if (!text.ok()) return Fail(text.status());
    Status s = sim::ApplyToml(*text, config);
    if (!s.ok()) return Fail(s.WithPrefix(f.config));
  }
  // Flags win over the file.
  if (f.lineages >= 0) config.lineages = f.lineages;
  if (f.days >= 0) config.days = f.days;
  if (f.seed >= 0) config.seed = uint64_t(f.seed);
  if (!f.start.empty()) config.start = *ParseRfc3339(f.start);
  if (f.no_randomize) config.randomize = false;
  if (Status s = sim::ValidateConfig(config); !s.ok()) return Fail(s);
  if (!f.closed_loop && f.out.empty()) {
    return Fail(InvalidArgumentError("--out is required (or use --closed-loop)"));
  }

  std::FILE* out = nullptr;
  std::unique_ptr<sim::JsonLinesSink> sink;
  if (!f.out.empty()) {
    out = f.out == "-" ? stdout : std::fopen(f.out.c_str(), "wb");
    if (!out) return Fail(UnavailableError(StrCat("cannot write ", f.out)));
    sink = std::make_unique<sim::JsonLinesSink>(out);
  }
  Progress progress(!f.quiet && isatty(STDERR_FILENO));
  sim::RunOptions options;
  options.progress = [&progress](int day, int days) { progress(day, days); };

  StatusOr<sim::RunResult> result = InternalError("not run");
  if (f.closed_loop) {
    auto policy = sim::MakeBaselinePolicy(f.policy, f.expiry_days);
    if (!policy.ok()) return Fail(policy.status());
    result = sim::RunClosedLoop(config, **policy, sink.get(), options);
  } else {
    result = sim::RunOpenLoop(config, sink.get(), options);
  }
  if (sink) {
    Status closed = sink->Close();  // waits for the writer thread
    if (!closed.ok() && result.ok()) result = closed.WithPrefix(f.out);
  }
  if (out && out != stdout && std::fclose(out) != 0) {
    return Fail(UnavailableError(StrCat("write failed: ", f.out)));
  }
  if (!result.ok()) return Fail(result.status());

  std::string truth_path = f.truth;
  if (truth_path.empty() && !f.out.empty() && f.out != "-") {
    truth_path = f.out;
    if (truth_path.size() > 6 && truth_path.ends_with(".jsonl")) truth_path.resize(truth_path.size() - 6);
    truth_path += ".truth.jsonl";
  }
  if (!truth_path.empty()) {
    std::string text;
    sim::WriteTruthJsonl(config, result->truth, text);
    if (Status s = WriteFile(truth_path, text); !s.ok()) return Fail(s);
  }
  const sim::Metrics& m = result->metrics;
  if (!f.metrics_json.empty()) {
    std::string text;
    sim::AppendMetricsJson(m, text);
    text += '\n';
    if (Status s = WriteFile(f.metrics_json, text); !s.ok()) return Fail(s);
  }
  std::FILE* report = f.out == "-" ? stderr : stdout;
  if (!f.quiet) {
    int64_t lookalikes = int64_t(result->truth.lookalikes.size());
    std::fprintf(report, "%lld events, %lld episodes (%lld with a usable warning, %.0f%% without), %lld look-alikes + %lld probe flakes + %lld CDN names\n",
                 (long long)m.events, (long long)m.episodes, (long long)m.episodes_warned,
                 m.episodes ? 100.0 * double(m.episodes - m.episodes_warned) / double(m.episodes) : 0.0,
                 (long long)lookalikes, (long long)result->truth.probe_flakes,
                 (long long)result->truth.cdn_names);
    std::fputs(sim::FormatMetricsTable(std::span(&m, 1)).c_str(), report);
  }
  return kExitOk;
}

const bool registered = RegisterCommand(Command{
    "simulate",
    "Simulate a fleet: events-v1 telemetry plus ground truth, or a policy in the loop",
    60,
    [](CLI::App& sub) -> std::function<int()> {
      auto flags = std::make_shared<Flags>();
      sub.description(
          "Simulates a fleet of certificate lineages day by day: ACME clients with their real "
          "renewal rules and retry cadences, ARI, rate limits, the 2027/2028 lifetime changes, "
          "failure causes with their precursors, harmless look-alikes, people who fix late. "
          "Writes events-v1 JSON Lines (--out) and the hidden ground truth (--truth). With "
          "--closed-loop a baseline policy acts every day and the outcome is scored (outage "
          "hours, issuances, rate-limited attempts, alerts and their precision, pages with "
          "their share at a real cause and pages per 1,000 lineage-weeks). The model is "
          "documented in docs/simulator.md.");
      sub.add_option("--lineages", flags->lineages, "Lineages in the fleet (default: 1000)");
      sub.add_option("--days", flags->days, "Simulated days (default: 365)");
      sub.add_option("--start", flags->start, "First simulated instant (default: 2026-11-28T00:00:00Z)")
          ->check(RequireTimestamp());
      sub.add_option("--seed", flags->seed, "Random seed; the same seed gives the same bytes (default: 1)")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--out", flags->out, "Events file, '-' for standard output");
      sub.add_option("--truth", flags->truth, "Ground-truth file (default: OUT with .truth.jsonl)");
      sub.add_option("--preset", flags->preset, "small, hosting or k8s (default: small)");
      sub.add_option("--config", flags->config, "TOML file overriding any rate (docs/simulator.md)");
      sub.add_flag("--closed-loop", flags->closed_loop, "Run a policy in the loop and print its metrics");
      sub.add_option("--policy", flags->policy,
                     "none, alert-on-failure, expiry-alert, or oracle (knows every fault: pages "
                     "exactly when a live fault will make a lineage's next renewal fail; the "
                     "ceiling) (default: none)");
      sub.add_option("--expiry-days", flags->expiry_days, "expiry-alert threshold in days (default: 14)");
      sub.add_option("--metrics-json", flags->metrics_json, "Also write the metrics as JSON to this file");
      sub.add_flag("--no-randomize", flags->no_randomize, "Use the rates exactly, without per-fleet jitter");
      sub.add_flag("--quiet", flags->quiet, "No progress bar or summary");
      sub.footer(
          "Examples:\n"
          "  certcast simulate --lineages 10000 --days 365 --seed 7 --out fleet.jsonl\n"
          "  certcast simulate --preset hosting --lineages 5000 --closed-loop --policy "
          "expiry-alert --expiry-days 7 --metrics-json m.json");
      return [flags] { return Run(*flags); };
    }});

}  // namespace
}  // namespace certcast::cli
