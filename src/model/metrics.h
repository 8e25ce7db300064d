// Forecast scoring exactly as docs/evaluation.md section 1 defines it, so that train (validation),
// backtest and the baselines are all measured by the same code.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "features/labels.h"

namespace certcast {

// One (lineage, day) row of a forecast.
struct ScoredDay {
  uint32_t lineage;  // index into the `certs` vector passed to Evaluate
  absl::Time day;    // 00:00Z
  float risk;
  bool alert;
};

struct CauseRecall {
  int episodes = 0;
  int caught = 0;
};

struct ForecastMetrics {
  int64_t scored_days = 0;     // rows not inside an ongoing episode
  int64_t positive_days = 0;   // scored rows with an onset in (D, D + horizon]
  double pr_auc = 0;           // average precision of risk over scored rows
  double brier = 0;
  int episodes = 0;            // onsets whose alert window has at least one day in [from, to)
  int caught = 0;              // alert = 1 on some day in [onset - horizon, onset - 1 day]
  double recall = 0;
  int64_t alerts = 0;          // alert days de-duplicated per lineage within a horizon
  int64_t true_alerts = 0;     // ... followed by an onset within the horizon
  double precision = 0;
  double f1 = 0;               // of episode recall and alert precision
  std::vector<double> lead_days;  // per caught episode: onset - first alert day in the window
  double median_lead_days = 0;
  double share_lead_at_least_1d = 0;
  std::map<std::string, CauseRecall> by_cause;
  // PR curve points (recall, precision), and calibration bins (mean risk, observed rate, count).
  std::vector<std::pair<double, double>> pr_curve;
  std::vector<std::tuple<double, double, int64_t>> calibration;
};

// `rows` in any order; `episodes[i]` are the episodes of lineage i (from ComputeEpisodes over all
// known events); `causes[i]` optionally overrides the cause of each episode by onset (ground truth).
ForecastMetrics Evaluate(const std::vector<ScoredDay>& rows,
                         const std::vector<const std::vector<Episode>*>& episodes,
                         absl::Time from, absl::Time to, absl::Duration horizon,
                         const std::vector<std::map<absl::Time, std::string>>* causes = nullptr);

// Only the alert metrics of Evaluate (episodes, recall, lead time, de-duplicated precision, F1):
// what choosing a threshold needs, without sorting every row for PR-AUC each time.
ForecastMetrics EvaluateAlerts(const std::vector<ScoredDay>& rows,
                               const std::vector<const std::vector<Episode>*>& episodes,
                               absl::Time from, absl::Time to, absl::Duration horizon,
                               const std::vector<std::map<absl::Time, std::string>>* causes = nullptr);

// EvaluateAlerts at many thresholds over the same rows (alert = risk >= threshold): the rows are
// grouped by lineage and sorted once, and the episode windows and "an onset follows within the
// horizon" flags are computed once, so each threshold costs one pass. Choosing the operating point
// tries 45 thresholds; EvaluateAlerts for each regrouped and resorted every row each time.
class AlertCurve {
 public:
  AlertCurve(const std::vector<ScoredDay>& rows, const std::vector<const std::vector<Episode>*>& episodes,
             absl::Time from, absl::Time to, absl::Duration horizon);
  // The same metrics as EvaluateAlerts on the rows with alert = (risk >= threshold).
  ForecastMetrics At(float threshold) const;

 private:
  struct Day {
    float risk;
    bool onset_follows;  // an onset in (day, day + horizon]
    absl::Time day;
  };
  struct Window {
    uint32_t begin, end;  // the lineage's days in [onset - horizon, onset - 1 day], in days_
    absl::Time onset;
    std::string cause;
  };
  std::vector<Day> days_;            // by lineage, each lineage's days in day order
  std::vector<uint32_t> lineage_end_;  // days_ index one past each lineage's last day
  std::vector<Window> windows_;      // counted episodes, by lineage
  absl::Duration horizon_;
};

// Average precision of `scores` against `labels` (ties handled as one threshold step).
double AveragePrecision(const std::vector<float>& scores, const std::vector<uint8_t>& labels,
                        std::vector<std::pair<double, double>>* curve = nullptr);

// The metrics as JSON: the figures, recall per cause, the PR curve (at most 100 [recall,
// precision] points) and the calibration bins ([mean risk, observed rate, rows]).
std::string MetricsToJson(const ForecastMetrics& m);

}  // namespace certcast
