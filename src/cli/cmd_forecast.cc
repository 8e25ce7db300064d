// certcast forecast: the risk table as of a time, with reasons.
#include <cstdio>
#include <iostream>

#include "cli/command.h"
#include "cli/scoring_inputs.h"
#include "core/clock.h"
#include "core/strings.h"
#include "core/time.h"
#include "model/forecaster.h"
#include "nlohmann/json.hpp"
#include "store/store.h"

namespace certcast::cli {
namespace {

struct ForecastFlags {
  std::string db, model, at;
  size_t limit = 50;
  bool json = false;
  int threads = 2;
};

std::string Days(absl::Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fd", absl::ToDoubleHours(d) / 24);
  return buf;
}

int RunForecast(const ForecastFlags& flags) {
  auto inputs = LoadScoringInputs(flags.db, flags.model, flags.at);
  if (!inputs.ok()) return Fail(inputs.status());
  const Forecaster* forecaster = &inputs->forecaster;
  const absl::Time at = inputs->at;
  const std::vector<Event>* events = &inputs->events;
  ScoreOptions options;
  options.threads = flags.threads;
  auto forecasts = forecaster->ScoreAll(*events, at, options);
  if (!forecasts.ok()) return Fail(forecasts.status());
  size_t shown = 0;
  if (!flags.json) {
    std::printf("forecast at %s, horizon %s, alert threshold %.3f, %zu lineages\n", FormatRfc3339(at).c_str(),
                Days(forecaster->horizon()).c_str(), forecaster->alert_threshold(), forecasts->size());
    if (forecaster->info().prior_only) std::printf("model %s: %s\n", flags.model.c_str(), std::string(kPriorOnlyReason).c_str());
    std::printf("%-32s %6s %5s %9s %9s  %s\n", "cert", "risk", "alert", "next try", "TTF(AFT)", "top reasons");
  }
  for (const LineageForecast& f : *forecasts) {
    if (shown++ >= flags.limit) break;
    if (flags.json) {
      nlohmann::json j;
      j["cert"] = f.cert;
      j["risk"] = f.risk;
      j["alert"] = f.alert;
      j["in_episode"] = f.in_episode;
      j["anomaly"] = f.anomaly;
      if (forecaster->info().prior_only) j["prior_only"] = true;
      if (f.next_attempt) j["next_attempt"] = FormatRfc3339(*f.next_attempt);
      if (f.expected_time_to_failure) j["expected_days_to_failure"] = absl::ToDoubleHours(*f.expected_time_to_failure) / 24;
      j["reasons"] = nlohmann::json::array();
      for (const Reason& r : f.reasons) j["reasons"].push_back({{"feature", r.feature}, {"contribution", r.contribution}, {"sentence", r.sentence}});
      std::cout << j.dump() << "\n";
      continue;
    }
    std::string reasons;
    for (const Reason& r : f.reasons) reasons += (reasons.empty() ? "" : " | ") + r.sentence;
    if (f.in_episode) reasons = "FAILING NOW (renewal failed, no success since)" + (reasons.empty() ? "" : " | " + reasons);
    std::printf("%-32s %6.3f %5s %9s %9s  %s\n", f.cert.c_str(), f.risk, f.alert ? "yes" : "", 
                f.next_attempt ? Days(*f.next_attempt - at).c_str() : "-",
                f.expected_time_to_failure ? Days(*f.expected_time_to_failure).c_str() : "-", reasons.c_str());
  }
  return kExitOk;
}

const bool registered = RegisterCommand({
    .name = "forecast",
    .summary = "Risk of a renewal failure within the horizon, per lineage, with reasons",
    .order = 32,
    .setup =
        [](CLI::App& sub) {
          auto flags = std::make_shared<ForecastFlags>();
          sub.description(
              "Scores every lineage with a config event from the events before --at and prints the "
              "lineages by risk (calibrated probability of a first failed renewal within the model's "
              "horizon) with the reasons that raised it most (TreeSHAP contributions in words).");
          sub.add_option("--db", flags->db, "Store file (SQLite)")->required();
          sub.add_option("--model", flags->model, "Model file from `certcast train`")->required();
          sub.add_option("--at", flags->at, "Forecast as of TS (default: now)")->check(RequireTimestamp());
          sub.add_option("--limit", flags->limit, "Rows to print")->capture_default_str();
          sub.add_flag("--json", flags->json, "One JSON object per lineage instead of a table");
          sub.add_option("--threads", flags->threads, "Scoring threads")->capture_default_str()->check(CLI::Range(1, 256));
          sub.footer("Example:\n  certcast forecast --db fleet.db --model fleet.model --at 2026-11-28T00:00:00Z");
          return [flags] { return RunForecast(*flags); };
        },
});

}  // namespace
}  // namespace certcast::cli
