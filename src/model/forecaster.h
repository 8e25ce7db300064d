// The forecaster: loads a trained model file and scores lineages as of a time.
//
// risk = calibrated P(an episode onset of the lineage falls in (at, at + horizon]) computed from
// events with ts < at only (docs/evaluation.md section 1). Reasons are the model's largest positive
// TreeSHAP contributions, each turned into a sentence a person can act on.
//
// Stable API for policy (src/policy) and the CLI; extended only additively.
// Thread safety: a loaded Forecaster is immutable; Score* may be called from several threads.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "core/event.h"
#include "core/status.h"
#include "features/lineage_state.h"

namespace certcast {

struct Reason {
  std::string feature;        // catalogue name, e.g. "http01_fail_days_4"
  double contribution = 0;    // SHAP contribution in log-odds (positive = raises risk)
  std::string sentence;       // e.g. "port 80 timed out from outside on 3 of the last 4 days"
};

struct LineageForecast {
  std::string cert;
  double risk = 0;  // calibrated P(onset within horizon), in [0, 1]
  // AFT survival model's median time to the next failure; nullopt when the model has none.
  std::optional<absl::Duration> expected_time_to_failure;
  std::vector<Reason> reasons;  // most important first; empty when nothing stands out
  bool in_episode = false;      // already failing: risk is not a forecast then (it is 1 in effect)
  bool alert = false;           // risk >= alert_threshold() and not in_episode
  double anomaly = 0;           // 0..1, how unlike the training history the telemetry is
  // Next attempt under the lineage's client rule (features/lineage_state.h), if known.
  std::optional<absl::Time> next_attempt;
};

struct ScoreOptions {
  // Reasons cost a TreeSHAP pass; scoring a million lineages for a backtest does not need them.
  bool with_reasons = true;
  size_t max_reasons = 3;
  // 0 = all cores for batches; single rows always use one thread (XGBoost threads collapse when
  // another process holds a core: docs/forecast.md, "Speed").
  int threads = 0;
  // Score only these lineages (by cert; null = every lineage). The planner scores the fleet
  // without reasons, decides, then asks for the reasons of the few lineages whose decision uses
  // them: each lineage's risk and reasons are exactly those of a scoring of the whole fleet (the
  // SHAP method follows the fleet's size, not the number of lineages scored).
  const absl::flat_hash_set<std::string>* certs = nullptr;
};

// Metadata stored in a model file.
struct ModelInfo {
  std::string schema_id;           // feature catalogue id (name + version of every feature)
  std::vector<std::string> feature_names;
  absl::Time train_from;
  absl::Time train_until;
  absl::Duration horizon;
  std::string algorithm;           // "gbtree" or "rf"
  double alert_threshold = 0.5;
  std::string metrics_json;        // validation metrics as JSON
  // No episode onset in the training history: there is no classifier, every lineage gets the
  // smoothed base rate and nothing alerts. Forecasts carry kPriorOnlyReason.
  bool prior_only = false;
};

// The reason a prior-only model gives for every forecast.
inline constexpr std::string_view kPriorOnlyReason = "no failures in training history: risk from the prior only";

class ForecasterImpl;
class Forecaster {
 public:
  // Loads a model file written by `certcast train`. A file whose feature schema differs from this
  // binary's catalogue is refused with FailedPrecondition naming both schema ids.
  static StatusOr<Forecaster> Load(const std::string& path);

  Forecaster(Forecaster&&) noexcept;
  Forecaster& operator=(Forecaster&&) noexcept;
  ~Forecaster();

  // Scores every lineage that has a config event before `at`, from events with ts < at (events
  // at or after `at` in the span are ignored). Order: by risk, highest first.
  StatusOr<std::vector<LineageForecast>> ScoreAll(std::span<const Event> events_in_ts_order,
                                                  absl::Time at,
                                                  const ScoreOptions& options = {}) const;

  // Same from an already advanced FleetState (state.watermark() < at), for incremental daily
  // re-scoring: keep a FleetState, AdvanceTo the new day, score again. Order: lineage index.
  StatusOr<std::vector<LineageForecast>> ScoreState(const FleetState& state, absl::Time at,
                                                    const ScoreOptions& options = {}) const;

  double alert_threshold() const;
  absl::Duration horizon() const;
  const ModelInfo& info() const;

 private:
  explicit Forecaster(std::unique_ptr<ForecasterImpl> impl);
  std::unique_ptr<ForecasterImpl> impl_;
  friend class ForecasterImpl;
};

}  // namespace certcast
