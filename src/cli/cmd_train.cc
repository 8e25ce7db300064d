// certcast train: learn P(episode onset within the horizon) from the store's history.
#include <fstream>
#include <iostream>
#include <iterator>

#include "api/fleet_service.h"
#include "cli/command.h"
#include "core/clock.h"
#include "core/strings.h"
#include "core/time.h"
#include "model/model.h"
#include "store/store.h"

namespace certcast::cli {
namespace {

struct TrainFlags {
  std::string db, model, until, horizon = "7d", algorithm = "gbtree";
  int threads = 2;
  bool no_survival = false;
  bool attempt_model = false;
};

int RunTrain(const TrainFlags& flags) {
  StoreOptions store_options;
  store_options.create_if_missing = false;
  auto store = Store::Open(flags.db, store_options);
  if (!store.ok()) return Fail(store.status());
  EventFilter filter;
  absl::Time until = absl::InfiniteFuture();
  if (!flags.until.empty()) {
    until = *ParseRfc3339(flags.until);
    filter.until = until;
  }
  std::cerr << "train: loading events\n";
  auto events = (*store)->LoadEvents(filter);
  if (!events.ok()) return Fail(events.status());
  WarnUnreadableEvents(**store);
  if (events->empty()) return Fail(FailedPreconditionError("the store holds no events to train on"));
  // Without --until, train on everything: the window ends just after the newest event.
  if (flags.until.empty()) until = events->back().ts + absl::Microseconds(1);
  TrainOptions options;
  options.horizon = *ParseDurationFlag(flags.horizon);
  options.algorithm = flags.algorithm;
  options.threads = flags.threads;
  options.survival = !flags.no_survival;
  options.attempt_model = flags.attempt_model;
  options.progress = [](const std::string& line) { std::cerr << "train: " << line << "\n"; };
  std::cerr << "train: " << events->size() << " events before " << FormatRfc3339(until) << "\n";
  auto set = BuildTrainingSet(*events, until, options);
  if (!set.ok()) return Fail(set.status());
  auto report = TrainModel(*set, options);
  if (!report.ok()) return Fail(report.status());
  Status written = WriteModelFile(flags.model, report->bundle);
  if (!written.ok()) return Fail(written);
  // The same file goes into the store too: `certcast serve` uses the newest stored model when it
  // is not given one, and GET /v1/models lists them.
  {
    std::ifstream in(flags.model, std::ios::binary);
    std::string blob((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    StoredModel stored{.created = SystemClock::Get().Now(), .name = api::kStoredModelName,
                       .metadata_json = ModelInfoJson(report->bundle.info), .blob = std::move(blob)};
    if (!in || stored.blob.empty()) return Fail(InternalError(StrCat("reading back ", flags.model)));
    auto put = (*store)->PutModel(stored);
    if (!put.ok()) return Fail(put.status().WithPrefix("storing the model in the store"));
  }
  const ForecastMetrics& v = report->validation;
  if (report->bundle.info.prior_only) {
    // Exit 0: a model that says "no failures seen" is a valid result for a healthy fleet, and
    // backtest, forecast and plan run on it.
    std::cout << "model " << flags.model << ": " << kPriorOnlyReason << " (" << set->size() << " cert-days from "
              << FormatRfc3339(set->first_day) << " .. " << FormatRfc3339(until) << ", no episode onset); risk "
              << report->bundle.calibration.Apply(0, 0) << " for every lineage, no alerts\n";
    return kExitOk;
  }
  std::cout << "model " << flags.model << ": " << report->bundle.info.algorithm << ", " << report->rounds
            << " rounds, horizon " << flags.horizon << ", trained on " << FormatRfc3339(set->first_day) << " .. "
            << FormatRfc3339(until) << "\n"
            << "validation (time-ordered hold-out): PR-AUC " << v.pr_auc << ", Brier " << v.brier << ", episode recall "
            << v.recall << " (" << v.caught << "/" << v.episodes << "), alert precision " << v.precision << " ("
            << v.true_alerts << "/" << v.alerts << "), median lead " << v.median_lead_days << " days\n"
            << "alert threshold " << report->bundle.info.alert_threshold << "; XGBoost " << report->xgboost_seconds
            << " s of " << report->total_seconds << " s training\n";
  return kExitOk;
}

const bool registered = RegisterCommand({
    .name = "train",
    .summary = "Train the renewal-failure forecaster on the store's history",
    .order = 30,
    .setup =
        [](CLI::App& sub) {
          auto flags = std::make_shared<TrainFlags>();
          sub.description(
              "Builds one row per lineage per day (features from events before that day), labels it "
              "with whether an episode onset (first failed renewal after a success) follows within "
              "the horizon, and trains an XGBoost classifier, an AFT survival model and an "
              "isolation-forest anomaly detector. The newest quarter of the days is held out, in "
              "time order, for calibration and the alert threshold (the most episode recall at a "
              "validation alert precision of at least 0.4); its metrics are printed and stored in "
              "the model file, which is also stored in the store (name \"forecaster\", for `certcast serve` and GET /v1/models). A history without any episode onset gives a prior-only model: the "
              "smoothed base rate for every lineage and no alerts, marked as such in the file and "
              "in every forecast.");
          sub.add_option("--db", flags->db, "Store file (SQLite)")->required();
          sub.add_option("--model", flags->model, "Model file to write")->required();
          sub.add_option("--until", flags->until, "Train on events before TS (default: all events)")
              ->check(RequireTimestamp());
          sub.add_option("--horizon", flags->horizon, "Forecast horizon")->capture_default_str()->check(RequireDuration());
          sub.add_option("--algorithm", flags->algorithm, "gbtree (gradient boosting) or rf (random forest)")
              ->capture_default_str()
              ->check(CLI::IsMember({"gbtree", "rf"}));
          sub.add_option("--threads", flags->threads, "Training threads")->capture_default_str()->check(CLI::Range(1, 256));
          sub.add_flag("--no-survival", flags->no_survival, "Skip the AFT time-to-failure model");
          sub.add_flag("--attempt-model", flags->attempt_model,
                       "Also learn P(a renewal attempt fails | the state before it) from every attempt outside "
                       "an episode (dry runs included), composed with the client's next scheduled attempt and "
                       "blended in by the calibration on the held-out days (off by default: it did not help on "
                       "the development fleets, docs/forecast.md)");
          sub.footer("Example:\n  certcast train --db fleet.db --model fleet.model --until 2026-10-01T00:00:00Z");
          return [flags] { return RunTrain(*flags); };
        },
});

}  // namespace
}  // namespace certcast::cli
