// certcast backtest: replay days, score every lineage from the past only, measure against onsets.
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/command.h"
#include "core/strings.h"
#include "core/time.h"
#include "model/backtest.h"
#include "store/store.h"

namespace certcast::cli {
namespace {

struct BacktestFlags {
  std::string db, model, from, to, out, horizon, report, truth;
  int threads = 2;
  bool recalibrate = false;
};

void PrintMetrics(const std::string& name, const ForecastMetrics& m) {
  std::printf("%-58s PR-AUC %.3f  Brier %.5f  recall %.3f (%d/%d)  precision %.3f (%lld/%lld)  median lead %.1f d\n",
              name.c_str(), m.pr_auc, m.brier, m.recall, m.caught, m.episodes, m.precision,
              static_cast<long long>(m.true_alerts), static_cast<long long>(m.alerts), m.median_lead_days);
}

int RunBacktestCommand(const BacktestFlags& flags) {
  auto forecaster = Forecaster::Load(flags.model);
  if (!forecaster.ok()) return Fail(forecaster.status());
  StoreOptions store_options;
  store_options.create_if_missing = false;
  auto store = Store::Open(flags.db, store_options);
  if (!store.ok()) return Fail(store.status());
  BacktestOptions options;
  options.from = *ParseRfc3339(flags.from);
  options.to = *ParseRfc3339(flags.to);
  options.horizon = flags.horizon.empty() ? forecaster->horizon() : *ParseDurationFlag(flags.horizon);
  options.threads = flags.threads;
  options.recalibrate = flags.recalibrate;
  options.progress = [](const std::string& line) { std::cerr << line << "\n"; };
  if (options.horizon != forecaster->horizon()) {
    std::cerr << "backtest: note: the model forecasts a " << absl::ToInt64Hours(forecaster->horizon()) / 24
              << "-day horizon; risk is rescaled to --horizon " << flags.horizon
              << " assuming a constant hazard (1 - (1 - p)^(h/H)), and metrics use it\n";
  }
  std::map<std::string, std::map<absl::Time, std::string>> causes;
  if (!flags.truth.empty()) {
    auto c = ReadCauses(flags.truth);
    if (!c.ok()) return Fail(c.status());
    causes = std::move(*c);
    options.causes = &causes;
  }
  std::cerr << "backtest: loading events\n";
  auto events = (*store)->LoadEvents({});
  if (!events.ok()) return Fail(events.status());
  WarnUnreadableEvents(**store);
  std::ofstream csv(flags.out, std::ios::trunc);
  if (!csv) return Fail(NotFoundError(StrCat("cannot write ", flags.out)));
  auto result = RunBacktest(*forecaster, *events, options, csv);
  if (!result.ok()) return Fail(result.status());
  csv.close();
  if (!csv) return Fail(UnavailableError(StrCat("writing ", flags.out, " failed")));
  std::printf("%lld cert-days, %lld lineages, %lld scored cert-days (%lld positive), alert threshold %.4f\n",
              static_cast<long long>(result->rows), static_cast<long long>(result->lineages),
              static_cast<long long>(result->model.scored_days), static_cast<long long>(result->model.positive_days),
              result->threshold);
  if (result->model.scored_days > 0) {
    const double base = static_cast<double>(result->model.positive_days) / result->model.scored_days;
    std::printf("base rate %.5f: its Brier score %.5f\n", base, base * (1 - base));
  }
  if (options.recalibrate) {
    std::printf("recalibrated on %lld observed outcomes: risk = sigmoid(%.3f * logit(model risk) + %.3f) on the last day\n",
                static_cast<long long>(result->recalibration_outcomes), result->recalibration_slope,
                result->recalibration_intercept);
  }
  PrintMetrics("certcast model", result->model);
  for (const auto& [name, m] : result->baselines) PrintMetrics(StrCat("rule: ", name), m);
  std::printf("onset time of caught episodes, median error: %.1f days from the next scheduled attempt (%lld), "
              "%.1f days from the AFT model (%lld)\n",
              result->onset_time_attempt_median_days, static_cast<long long>(result->onset_time_attempt_count),
              result->onset_time_aft_median_days, static_cast<long long>(result->onset_time_aft_count));
  std::printf("recall per cause (model):");
  for (const auto& [cause, c] : result->model.by_cause) std::printf("  %s %d/%d", cause.c_str(), c.caught, c.episodes);
  std::printf("\n");
  if (!flags.report.empty()) {
    std::ofstream html(flags.report, std::ios::trunc);
    html << RenderBacktestReport(*result, options, forecaster->info());
    if (!html) return Fail(UnavailableError(StrCat("writing ", flags.report, " failed")));
  }
  return kExitOk;
}

const bool registered = RegisterCommand({
    .name = "backtest",
    .summary = "Replay a period day by day and measure the forecast against what happened",
    .order = 31,
    .setup =
        [](CLI::App& sub) {
          auto flags = std::make_shared<BacktestFlags>();
          sub.description(
              "Writes CSV `day,cert,risk,alert`: one row per lineage per day D (00:00Z) in [from, to) "
              "for every lineage with a config event before D; risk = P(episode onset in (D, D + "
              "horizon]) from events before D only; alert = certcast's operating point. Prints "
              "PR-AUC and Brier over cert-days not inside an ongoing episode, episode recall (an "
              "alert in [onset - horizon, onset - 1 day]), lead time and alert precision "
              "(de-duplicated per lineage within a horizon), beside simple rules on the same data.");
          sub.add_option("--db", flags->db, "Store file (SQLite)")->required();
          sub.add_option("--model", flags->model, "Model file from `certcast train`")->required();
          sub.add_option("--from", flags->from, "First day (RFC 3339)")->required()->check(RequireTimestamp());
          sub.add_option("--to", flags->to, "End, exclusive (RFC 3339)")->required()->check(RequireTimestamp());
          sub.add_option("--out", flags->out, "CSV file to write")->required();
          sub.add_option("--horizon", flags->horizon, "Scoring horizon (default: the model's, 7d)")->check(RequireDuration());
          sub.add_option("--report", flags->report, "Also write a self-contained HTML report");
          sub.add_option("--truth", flags->truth, "Ground-truth causes (JSON Lines with cert, onset, cause) for recall per cause");
          sub.add_option("--threads", flags->threads, "Scoring threads")->capture_default_str()->check(CLI::Range(1, 256));
          sub.add_flag("--recalibrate", flags->recalibrate,
                       "Recalibrate each day's risk on the outcomes of earlier days whose horizon has passed "
                       "(risk = sigmoid(a * logit(p) + b), a prior at the identity); alerts stay the model's. "
                       "Helps a model scored on a fleet it was not trained on; off by default");
          sub.footer(
              "Example:\n  certcast backtest --db fleet.db --model fleet.model --from 2026-10-01T00:00:00Z "
              "--to 2026-11-01T00:00:00Z --out backtest.csv --report backtest.html");
          return [flags] { return RunBacktestCommand(*flags); };
        },
});

}  // namespace
}  // namespace certcast::cli
