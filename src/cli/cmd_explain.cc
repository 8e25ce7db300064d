// certcast explain: one lineage's history, forecast and reasons.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "cli/command.h"
#include "cli/scoring_inputs.h"
#include "core/clock.h"
#include "core/event_json.h"
#include "core/strings.h"
#include "core/time.h"
#include "features/features.h"
#include "model/forecaster.h"
#include "store/store.h"

namespace certcast::cli {
namespace {

struct ExplainFlags {
  std::string db, model, cert, at;
  size_t history = 25;
};

int RunExplain(const ExplainFlags& flags) {
  auto inputs = LoadScoringInputs(flags.db, flags.model, flags.at);
  if (!inputs.ok()) return Fail(inputs.status());
  const Forecaster* forecaster = &inputs->forecaster;
  const absl::Time at = inputs->at;
  const std::vector<Event>* events = &inputs->events;
  FleetState state;
  size_t cursor = 0;
  Status advanced = state.AdvanceTo(*events, at, &cursor);
  if (!advanced.ok()) return Fail(advanced);
  auto index = state.IndexOf(flags.cert);
  if (!index || !state.lineage(*index).config) {
    return Fail(NotFoundError(StrCat("no lineage named ", flags.cert, " with a config event before ", FormatRfc3339(at))));
  }
  const LineageState& s = state.lineage(*index);
  // History: the lineage's own events and those about its names and host.
  std::vector<std::string> subjects = s.config->names;
  for (auto& n : subjects) if (n.starts_with("*.")) n = n.substr(2);
  subjects.push_back(s.cert);
  subjects.push_back(s.config->host);
  std::vector<const Event*> history;
  for (const Event& e : *events) {
    const std::string_view subject = EventSubject(e);
    if (std::find(subjects.begin(), subjects.end(), subject) != subjects.end()) history.push_back(&e);
  }
  std::printf("lineage %s on %s: %s, %s, CA %s, names %s\n", s.cert.c_str(), s.config->host.c_str(),
              std::string(ToString(s.config->client)).c_str(), std::string(ToString(s.config->challenge)).c_str(),
              s.config->ca.c_str(), StrJoin(s.config->names, " ").c_str());
  if (s.issued) {
    std::printf("current certificate %s valid %s .. %s\n", s.issued->serial.c_str(),
                FormatRfc3339(s.issued->not_before).c_str(), FormatRfc3339(s.issued->not_after).c_str());
  }
  if (auto due = RenewalDueTime(s)) std::printf("renewal due under the client's rule: %s\n", FormatRfc3339(*due).c_str());
  if (auto next = NextScheduledAttempt(s, at)) std::printf("next scheduled attempt: %s\n", FormatRfc3339(*next).c_str());
  std::printf("\nhistory (last %zu of %zu events before %s):\n", std::min(flags.history, history.size()), history.size(),
              FormatRfc3339(at).c_str());
  for (size_t i = history.size() > flags.history ? history.size() - flags.history : 0; i < history.size(); ++i) {
    std::printf("  %s\n", EventToJson(*history[i]).c_str());
  }
  ScoreOptions options;
  options.max_reasons = 8;
  options.threads = 1;
  auto forecasts = forecaster->ScoreState(state, at, options);
  if (!forecasts.ok()) return Fail(forecasts.status());
  for (const LineageForecast& f : *forecasts) {
    if (f.cert != flags.cert) continue;
    std::printf("\nforecast at %s: risk %.3f of a failed renewal within %lld days (alert threshold %.3f)%s%s\n",
                FormatRfc3339(at).c_str(), f.risk, static_cast<long long>(absl::ToInt64Hours(forecaster->horizon()) / 24),
                forecaster->alert_threshold(), f.alert ? ": ALERT" : "", f.in_episode ? "; already failing (in an episode)" : "");
    if (forecaster->info().prior_only) {
      std::printf("model %s: %s (trained on %s .. %s)\n", flags.model.c_str(), std::string(kPriorOnlyReason).c_str(),
                  FormatRfc3339(forecaster->info().train_from).c_str(), FormatRfc3339(forecaster->info().train_until).c_str());
    }
    if (f.expected_time_to_failure) {
      std::printf("survival model: median time to the next failure %.1f days\n", absl::ToDoubleHours(*f.expected_time_to_failure) / 24);
    }
    // A prior-only model has no anomaly detector: say nothing rather than "nan".
    if (std::isfinite(f.anomaly)) std::printf("anomaly score %.2f (0.5 ordinary, near 1 never seen in training)\n", f.anomaly);
    std::printf("\nreasons (contribution to log-odds):\n");
    if (f.reasons.empty()) std::printf("  nothing stands out\n");
    for (const Reason& r : f.reasons) std::printf("  %+.3f  %s  [%s]\n", r.contribution, r.sentence.c_str(), r.feature.c_str());
  }
  auto fx = FeatureExtractor::Create(state, at);
  if (!fx.ok()) return Fail(fx.status());
  std::vector<float> values(kFeatureCount);
  fx->Extract(*index, values.data());
  std::printf("\nfeatures:\n");
  for (int k = 0; k < kFeatureCount; ++k) {
    if (std::isnan(values[k])) continue;
    std::printf("  %-34s %10.3f  %s\n", std::string(FeatureCatalogue()[k].name).c_str(), values[k],
                std::string(FeatureCatalogue()[k].meaning).c_str());
  }
  return kExitOk;
}

const bool registered = RegisterCommand({
    .name = "explain",
    .summary = "One lineage: history, forecast and the reasons behind it",
    .order = 33,
    .setup =
        [](CLI::App& sub) {
          auto flags = std::make_shared<ExplainFlags>();
          sub.description("Shows a lineage's recent events (its own and those about its names and host), "
                          "its state under the client's renewal rule, the forecast with reasons, and every "
                          "feature value the model saw.");
          sub.add_option("--db", flags->db, "Store file (SQLite)")->required();
          sub.add_option("--model", flags->model, "Model file from `certcast train`")->required();
          sub.add_option("cert", flags->cert, "Lineage name")->required();
          sub.add_option("--at", flags->at, "As of TS (default: now)")->check(RequireTimestamp());
          sub.add_option("--history", flags->history, "Events of history to show")->capture_default_str();
          sub.footer("Example:\n  certcast explain --db fleet.db --model fleet.model shop --at 2026-11-28T00:00:00Z");
          return [flags] { return RunExplain(*flags); };
        },
});

}  // namespace
}  // namespace certcast::cli
