// Backtest (docs/evaluation.md section 1): one row per lineage per day D (00:00Z) in [from, to) for
// every lineage with a config event before D, risk from events with ts < D only, scored against
// the episode onsets in all the events given, beside simple rules computed on the same data.
#pragma once

#include <functional>
#include <map>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/event.h"
#include "core/status.h"
#include "model/forecaster.h"
#include "model/metrics.h"

namespace certcast {

struct BacktestOptions {
  absl::Time from;
  absl::Time to;
  absl::Duration horizon = absl::Hours(24 * 7);
  int threads = 2;
  // Optional ground truth: cert -> (onset -> cause), e.g. from the simulator's truth file; used
  // for recall per cause instead of the onset's ACME error.
  const std::map<std::string, std::map<absl::Time, std::string>>* causes = nullptr;
  // Recalibrate each day's risk on the outcomes already observed (recalibration.h); the alert
  // stays the model's own operating point. Off by default: it helped a model scored on a fleet it
  // was not trained on (Brier 0.00458 -> 0.00412) but not models scored on their own fleet's later
  // days, the evaluator's protocol (held-out PR-AUC -0.018 to +0.002; docs/forecast.md).
  bool recalibrate = false;
  std::function<void(const std::string&)> progress;
};

struct BacktestResult {
  ForecastMetrics model;
  // Simple rules on the same rows: name -> metrics.
  std::vector<std::pair<std::string, ForecastMetrics>> baselines;
  int64_t rows = 0;
  int64_t lineages = 0;
  double threshold = 0;
  double seconds_features_and_scoring = 0;
  // The recalibration map at the last day (identity when off or before any outcome).
  double recalibration_slope = 1, recalibration_intercept = 0;
  int64_t recalibration_outcomes = 0;
  // Time-to-failure accuracy (issue #14): for each caught episode, on its first alert day, the
  // error in days of the predicted onset against the real one. "attempt": the onset is the next
  // attempt under the client's rule (the attempt model's footing); "aft": the day plus the AFT
  // survival model's median time to failure. Medians over the episodes that have the prediction.
  int64_t onset_time_attempt_count = 0, onset_time_aft_count = 0;
  double onset_time_attempt_median_days = 0, onset_time_aft_median_days = 0;
};

// Writes the CSV (header `day,cert,risk,alert`) to `csv` and returns the metrics.
// Converts P(onset within model_horizon) into P(onset within horizon) under a constant hazard,
// for backtests asked for a horizon the model was not trained on (--horizon).
double RescaleRisk(double risk, absl::Duration model_horizon, absl::Duration horizon);

StatusOr<BacktestResult> RunBacktest(const Forecaster& forecaster, std::span<const Event> events_in_ts_order,
                                     const BacktestOptions& options, std::ostream& csv);

// A self-contained HTML page (inline SVG, no scripts or external files): PR curves, calibration,
// lead-time histogram, recall per cause, and the metrics table.
std::string RenderBacktestReport(const BacktestResult& result, const BacktestOptions& options,
                                 const ModelInfo& info);

// Parses a ground-truth file: JSON Lines with "cert", "onset" (or "ts") and "cause" fields;
// lines without them are skipped.
StatusOr<std::map<std::string, std::map<absl::Time, std::string>>> ReadCauses(const std::string& path);

}  // namespace certcast
