// Training and the model file. The forecaster (forecaster.h) is the serving side.
//
// Model file layout (one file, read back only by this code):
//   "certcast-model 1\n" <decimal length of metadata JSON> "\n" <metadata JSON> <blobs...>
// metadata JSON names each blob and its byte length (classifier and survival boosters as UBJ).
// The metadata carries the feature schema id; Load refuses a file whose id differs from this
// binary's, naming both.
//
// A model file is outside data (copied between hosts, read by a daemon that may run as root), so
// it is validated completely before anything uses it, within the limits below: every length is
// bounded by what remains of the file and by its limit, the isolation forest's trees are trees
// (anomaly.h: one parent per node, children in range, depth bounded), the feature schema and
// names are this binary's, and the blobs are exactly the classifier and the survival model with
// nothing after them. What XGBoost makes of the blobs is XGBoost's own loader's business.
#pragma once

#include <functional>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/event.h"
#include "core/status.h"
#include "features/features.h"
#include "features/labels.h"
#include "model/anomaly.h"
#include "model/forecaster.h"
#include "model/metrics.h"

namespace certcast {

// Columns of the model matrix: the feature catalogue, then the isolation forest's anomaly score,
// then the tail surprise (anomaly.h).
inline constexpr int kAnomalyColumn = kFeatureCount;
inline constexpr int kTailColumn = kFeatureCount + 1;
inline constexpr int kModelWidth = kFeatureCount + 2;
std::string ModelSchemaId();
std::vector<std::string> ModelFeatureNames();
// Catalogue columns the anomaly detector looks at: telemetry, not timing (timing is ordinary by
// construction and would drown the signal).
std::span<const int> AnomalyColumns();
// Catalogue columns the tail surprise looks at, with the direction in which a value is harmful.
std::span<const TailSurprise::Column> TailColumns();

// The attempt model (issue #14, "predict attempts, not calendar days"): P(a renewal attempt fails
// | the lineage's state just before it), learned from every attempt outside an episode, dry runs
// included. Its rows are the feature catalogue with the columns that only say *when* masked (at an
// attempt they are near zero by construction; a day row is days before its attempt), plus one
// column that is 1 for a dry run (0 when a day row asks about the next real attempt). Margins
// before the next attempt (credential, disk, domain, RRSIG) are already measured at the next
// attempt, so they keep their meaning in both rows.
inline constexpr int kAttemptDryRunColumn = kFeatureCount;
inline constexpr int kAttemptWidth = kFeatureCount + 1;
// Writes kAttemptWidth floats from kFeatureCount feature values.
void AttemptRowFromFeatures(const float* features, bool dry_run, float* out);
// What a day row's attempt-model probability means for the horizon: an onset is the first failed
// attempt, so P(onset in (D, D + horizon]) is P(fail) when the client's next attempt falls in the
// horizon, and far less when it does not (an attempt off the schedule). Both are passed to the
// calibration separately; `logit` is NaN without an attempt model.
struct AttemptInput {
  double logit = std::numeric_limits<double>::quiet_NaN();
  bool in_window = false;
};
// From the attempt model's probability and the day row's features (kDaysToNextAttempt).
AttemptInput ComposeAttempt(double p_fail, const float* features, absl::Duration horizon);

// p = sigmoid(a * margin + b + c * anomaly [+ attempt terms]): Platt scaling on a time-ordered
// validation slice, with the anomaly score as a second input so that "never seen before" raises
// the risk by as much as the validation data supports (c >= 0), and, with an attempt model, its
// logit as a third input: d_in * logit + e when the next attempt falls in the horizon, d_out *
// logit when it does not. The attempt model is trained on attempts before the validation slice,
// so the blend's weights are fitted on forecasts it did not see (no stacking leak).
struct Calibration {
  double a = 1, b = 0, c = 0;
  double d_in = 0, d_out = 0, e = 0;
  double Apply(double margin, double anomaly, AttemptInput attempt = {}) const;
  // `attempts` empty: no attempt terms (they stay 0).
  static Calibration Fit(const std::vector<float>& margins, const std::vector<float>& anomalies,
                         const std::vector<uint8_t>& labels, const std::vector<AttemptInput>& attempts = {});
};

// How TrainModel picks the alert threshold among candidates from the validation slice's alert
// metrics (episode recall, de-duplicated alert precision).
struct OperatingPointRule {
  // The threshold with the most validation episode recall whose validation alert precision is at
  // least this (docs/background.md's honest band is precision 0.3-0.6; 0.4 leaves room for the drop from
  // validation to later days). Best F1 when no candidate reaches it; > 1: best F1 always.
  double min_precision = 0.4;
  // > 0: the Wilson lower bound of the precision at this z must reach min_precision, not the
  // point estimate. z = 1 by default: the validation slice holds 19-88 alerts, and the point
  // estimate picked the candidate that only just cleared the floor by luck (h4: validation 0.400,
  // test 0.276). On nine simulated fleets (docs/forecast.md, "Operating point") z = 1 kept s1-s3
  // unchanged, put every fleet's precision in background.md's 0.3-0.6 band, lifted pooled precision
  // 0.430 -> 0.505 and F1 0.410 -> 0.429 for 17 of 345 catches.
  double wilson_z = 1;
  int64_t min_true_alerts = 0;  // and at least this many true validation alerts
  // And every stricter candidate (higher threshold, with alerts) reaches the floor too.
  bool contiguous = false;
  // Ceilings on the chosen threshold: they only ever lower it, so that a slice of a few episodes
  // cannot leave a fleet whose model ranks well silent (issue #14: study-k8s-206's 16 validation
  // episodes chose 0.510 on one true alert, and no test day reached it). Off here; TrainOptions
  // sets both (0.4 and 0.25) since 2026-12-05.
  // At most this risk. The risk is calibrated: a lineage at risk p has an onset within the horizon
  // with probability about p, so alerts at risk >= min_precision are expected to be right at least
  // that often without a higher threshold. 1: none.
  double max_threshold = 1;
  // At most the highest candidate that catches at least this share of the validation episodes
  // (a floor on validation recall). 0: none.
  double min_recall = 0;
};

struct OperatingPoint {
  double threshold = 0.5;
  ForecastMetrics metrics;     // alert metrics on the validation slice at that threshold
  bool reached_floor = false;  // false: the best-F1 fallback
};

// Candidate thresholds from the validation risks: the risk at 40 log-spaced top shares of the rows
// (0.02 % to 20 %) and 0.05, 0.1, 0.2, 0.3, 0.5.
std::vector<float> ThresholdCandidates(std::vector<float> risks);
OperatingPoint ChooseOperatingPoint(const AlertCurve& curve, const std::vector<float>& candidates,
                                    const OperatingPointRule& rule);
// Lower end of the Wilson score interval of a binomial proportion.
double WilsonLowerBound(int64_t successes, int64_t trials, double z);

struct ModelBundle {
  ModelInfo info;
  std::string classifier_ubj;
  std::string survival_ubj;  // empty: no survival model
  std::string attempt_ubj;   // empty: no attempt model (too few failed attempts, or an older file)
  IsolationForest anomaly;
  TailSurprise tail;
  Calibration calibration;
};

// Limits of a model file, far above what training writes: the metadata (isolation forest of at
// most 100 trees of 511 nodes, tail samples of at most 40 x 4096 values) is a few MB, a booster a
// few MB more. A horizon is at most 366 days.
inline constexpr size_t kMaxModelFileBytes = size_t{512} << 20;
inline constexpr size_t kMaxModelMetadataBytes = size_t{16} << 20;
inline constexpr size_t kMaxModelBlobBytes = size_t{256} << 20;

// InvalidArgument for a horizon outside (0, 366 days], which ReadModelFile would refuse.
Status WriteModelFile(const std::string& path, const ModelBundle& bundle);
// The model's description as JSON (schema id, feature names, training window, horizon_seconds,
// algorithm, alert threshold, prior_only, validation metrics): the model file's metadata without
// the calibration and blobs, and what `train` stores beside the model in the store.
std::string ModelInfoJson(const ModelInfo& info);
// Reads and validates a model file (at most kMaxModelFileBytes). NotFound when it cannot be read,
// FailedPrecondition when it is not a model of this binary's schema, DataLoss when it is corrupt;
// every message starts with the path and names what is wrong.
StatusOr<ModelBundle> ReadModelFile(const std::string& path);
// The same on the file's bytes; `name` stands for the path in messages.
StatusOr<ModelBundle> ParseModelFile(std::string_view bytes, std::string_view name);
// A model file is "certcast-model 1\n", the metadata's length in decimal digits and "\n", then
// the metadata (JSON) and the blobs it lists, back to back. SplitModelFile reads that header, for
// ParseModelFile and for fuzz/fuzz_model_file (which puts this build's schema in the metadata):
// FailedPrecondition when `bytes` are not a model file, DataLoss when the length is missing, over
// kMaxModelMetadataBytes or past the end; messages start with `name`. JoinModelFile writes it.
struct ModelFileParts {
  std::string_view metadata;
  std::string_view blobs;
};
StatusOr<ModelFileParts> SplitModelFile(std::string_view bytes, std::string_view name);
std::string JoinModelFile(std::string_view metadata, std::string_view blobs);
// `bytes` with this build's schema id and feature names in the metadata, the rest as it is
// (DataLoss when the metadata is not a JSON object). For fuzz/fuzz_model_file and its seeds' check
// in model_test: every feature change moves the schema, and ParseModelFile refuses a file of
// another schema before it reads the detectors.
StatusOr<std::string> WithThisBuildsModelSchema(std::string_view bytes, std::string_view name);

struct TrainOptions {
  absl::Duration horizon = absl::Hours(24 * 7);
  std::string algorithm = "gbtree";  // or "rf" (random-forest mode)
  int threads = 2;
  // Share of the most recent training days held out (time-ordered) for early stopping,
  // calibration and the alert threshold.
  double validation_fraction = 0.25;
  int max_rounds = 150;
  // The ceilings on (2026-12-05, docs/decisions.md "ceilings on the alert threshold by default"):
  // with the client rule's history fixed, the Wilson rule alone chose 0.53-0.83 on study fleets
  // whose 16 validation episodes held one to five true alerts, and left them silent or nearly.
  OperatingPointRule operating_point{.max_threshold = 0.4, .min_recall = 0.25};
  bool survival = true;
  // Out-of-fold operating point (issue #14, 2026-12-05): 0 = the threshold is chosen on the
  // validation slice alone (7-16 episodes on a 300-lineage fleet). N > 0: N blocks of
  // `oof_block_fraction` x the validation slice's days just before it are each scored by a model
  // trained (with `oof_rounds` rounds) only on days before the block, calibrated on its block,
  // and the threshold is chosen on those blocks and the validation slice pooled: time-ordered,
  // every classifier scoring days it did not train on (each calibration is fitted on its own
  // block, as the final model's is on the validation slice), 1.8-6.4 times the episodes on the
  // study fleets. The final model is trained as without folds; only its threshold differs. Off:
  // on the ten study fleets it caught 12-16 fewer of 499 episodes at lower pooled precision and
  // cost 28-65 % more training CPU (docs/forecast.md, "What the model still misses").
  int oof_folds = 0;
  double oof_block_fraction = 0.5;
  int oof_rounds = 50;
  // The attempt model (kAttemptWidth rows, blended in by the calibration). Off by default: on the
  // development fleets it did not raise PR-AUC or episode recall (docs/forecast.md, "attempt
  // model"); `train --attempt-model` turns it on.
  bool attempt_model = false;
  // Above about this many cert-days, training-period negatives are subsampled while the matrix is
  // built (memory bound) and weighted so the class balance stays honest.
  size_t max_rows = 2'000'000;
  uint64_t seed = 1;
  std::function<void(const std::string&)> progress;  // stderr lines for long work
};

// Daily cert-day rows (D at 00:00Z) with features from events before D and labels from events
// before `until`. In-episode days and days whose label window is not fully observed are left out.
struct TrainingSet {
  std::vector<float> x;             // rows x kModelWidth (detector columns filled later)
  std::vector<float> y;             // 1 = onset in (D, D + horizon]
  std::vector<float> w;             // row weight (1/keep for subsampled negatives)
  std::vector<float> time_lower;    // AFT: days from D to the next onset (or censoring)
  std::vector<float> time_upper;    // +inf when censored
  std::vector<ScoredDay> rows;      // lineage index and day per row
  std::vector<std::string> certs;   // lineage index -> cert
  std::vector<std::vector<Episode>> episodes;  // lineage index -> episodes before `until`
  // Attempt rows (kAttemptWidth each): every renewal attempt outside an episode, dry runs
  // included, features from events before the attempt; label 1 when it failed.
  std::vector<float> attempt_x;
  std::vector<float> attempt_y;
  std::vector<absl::Time> attempt_ts;
  absl::Time first_day, last_day;   // first and last D
  absl::Time until;
  size_t size() const { return y.size(); }
};

StatusOr<TrainingSet> BuildTrainingSet(std::span<const Event> events_in_ts_order, absl::Time until,
                                       const TrainOptions& options);

// CPU time of the whole process (every thread), seconds. Wall time alone misleads on a shared
// machine: XGBoost's OpenMP threads slow down far more than single-threaded code when another
// process holds a core, so a wall-time ratio mostly measures the neighbours.
double ProcessCpuSeconds();

struct TrainPhase {
  std::string name;
  double seconds = 0;      // wall
  double cpu_seconds = 0;  // process CPU (all threads)
};

struct TrainReport {
  ModelBundle bundle;
  ForecastMetrics validation;
  int rounds = 0;
  // Inside XGBoost calls (matrices, boosting rounds, evaluation, prediction, serialisation).
  double xgboost_seconds = 0, xgboost_cpu_seconds = 0;
  double total_seconds = 0, total_cpu_seconds = 0;
  // Time per step of TrainModel, in order (where training time goes: bench_forecast prints it).
  std::vector<TrainPhase> phases;
  // The XGBoost parameters of the classifier and the survival model as set, so that a benchmark
  // of XGBoost alone can train with exactly these.
  std::vector<std::pair<std::string, std::string>> classifier_params, survival_params, attempt_params;
  // Attempts the attempt model was trained on (before the validation slice) and how many failed.
  size_t attempt_rows = 0, attempt_failures = 0;
  // The validation slice as scored by the calibrated model (alert at the chosen threshold), and
  // the days it covers, [from, to).
  std::vector<ScoredDay> validation_rows;
  absl::Time validation_from, validation_to;
  // With oof_folds: the fold blocks' rows (each scored by its fold model) followed by the
  // validation rows, covering [pooled_from, validation_to); the threshold is chosen on them.
  std::vector<ScoredDay> pooled_rows;
  absl::Time pooled_from;
};

StatusOr<TrainReport> TrainModel(TrainingSet& set, const TrainOptions& options);

// The out-of-fold rows of TrainOptions::oof_folds (with its oof_block_fraction and oof_rounds):
// the blocks just before `validation_from`, oldest first, each scored by a classifier with
// `classifier_params` (TrainReport::classifier_params; the class weighting is recomputed from the
// fold's rows) trained on the days whose label window ends before the block, and calibrated on the
// block (margin and anomaly score; no attempt model). `set`'s detector columns must be filled
// (TrainModel fills them, with detectors fitted on the final model's training rows, which include
// the blocks: the one input of a block row not fitted on its past). Blocks without an onset, or
// whose fold has none, are left out. Time inside XGBoost is added to the two counters.
struct OutOfFold {
  std::vector<ScoredDay> rows;
  absl::Time from;  // the first block's first day (rows empty: unset)
};
StatusOr<OutOfFold> OutOfFoldRows(const TrainingSet& set, const TrainOptions& options,
                                  const std::vector<std::pair<std::string, std::string>>& classifier_params,
                                  absl::Time validation_from, int64_t validation_days,
                                  double* xgboost_seconds = nullptr, double* xgboost_cpu_seconds = nullptr);

}  // namespace certcast
