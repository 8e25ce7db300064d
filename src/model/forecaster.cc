#include "model/forecaster.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <numeric>

#include "core/strings.h"
#include "core/time.h"
#include "features/features.h"
#include "model/model.h"
#include "model/scoring.h"
#include "model/xgb.h"

namespace certcast {

class ForecasterImpl {
 public:
  ModelBundle bundle;
  std::optional<xgb::Booster> classifier;
  std::optional<xgb::Booster> survival;
  std::optional<xgb::Booster> attempt;  // P(attempt fails), blended by the calibration (model.h)
  // XGBoost's nthread is a booster parameter: changing it between a batch and a single-row call
  // must not race with another thread's prediction.
  mutable std::mutex predict_mutex;

  static StatusOr<Forecaster> Make(ModelBundle bundle) {
    auto impl = std::make_unique<ForecasterImpl>();
    // A prior-only model (no onset in its training history) has no classifier to load.
    if (!bundle.info.prior_only) {
      ASSIGN_OR_RETURN(xgb::Booster c, xgb::Booster::FromBuffer(bundle.classifier_ubj));
      impl->classifier.emplace(std::move(c));
    }
    if (!bundle.survival_ubj.empty()) {
      ASSIGN_OR_RETURN(xgb::Booster s, xgb::Booster::FromBuffer(bundle.survival_ubj));
      impl->survival.emplace(std::move(s));
    }
    if (!bundle.attempt_ubj.empty()) {
      ASSIGN_OR_RETURN(xgb::Booster a, xgb::Booster::FromBuffer(bundle.attempt_ubj));
      impl->attempt.emplace(std::move(a));
    }
    impl->bundle = std::move(bundle);
    return Forecaster(std::move(impl));
  }

  StatusOr<std::vector<float>> Predict(const xgb::Booster& booster, const std::vector<float>& x, size_t rows,
                                       bool margin, int threads, size_t width = kModelWidth) const {
    std::lock_guard<std::mutex> lock(predict_mutex);
    const int n = rows <= 1 ? 1 : (threads <= 0 ? static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) : threads);
    RETURN_IF_ERROR(const_cast<xgb::Booster&>(booster).SetParam("nthread", std::to_string(n)));
    return booster.PredictDense(x, rows, width, margin);
  }
};

Forecaster::Forecaster(std::unique_ptr<ForecasterImpl> impl) : impl_(std::move(impl)) {}
Forecaster::Forecaster(Forecaster&&) noexcept = default;
Forecaster& Forecaster::operator=(Forecaster&&) noexcept = default;
Forecaster::~Forecaster() = default;

StatusOr<Forecaster> Forecaster::Load(const std::string& path) {
  ASSIGN_OR_RETURN(ModelBundle bundle, ReadModelFile(path));
  return ForecasterImpl::Make(std::move(bundle));
}

double Forecaster::alert_threshold() const { return impl_->bundle.info.alert_threshold; }
absl::Duration Forecaster::horizon() const { return impl_->bundle.info.horizon; }
const ModelInfo& Forecaster::info() const { return impl_->bundle.info; }

namespace {

std::string InDays(absl::Duration d) {
  const double days = absl::ToDoubleHours(d) / 24.0;
  if (days < 1.0 / 48) return "due now";
  if (days < 1) return StrCat(std::lround(days * 24), " hours");
  return StrCat(std::lround(days), std::lround(days) == 1 ? " day" : " days");
}

}  // namespace

StatusOr<std::vector<LineageForecast>> Forecaster::ScoreState(const FleetState& state, absl::Time at,
                                                              const ScoreOptions& options) const {
  ASSIGN_OR_RETURN(FeatureExtractor fx, FeatureExtractor::Create(state, at));
  std::vector<size_t> lineages;
  size_t fleet = 0;  // lineages with a config: picks the SHAP method below, however many are scored
  for (size_t li = 0; li < state.lineage_count(); ++li) {
    if (!fx.HasConfig(li)) continue;
    ++fleet;
    if (options.certs == nullptr || options.certs->contains(state.lineage(li).cert)) {
      lineages.push_back(li);
    }
  }
  std::vector<LineageForecast> out(lineages.size());
  if (lineages.empty()) return out;
  std::vector<float> x = ExtractModelRows(fx, lineages, options.threads);
  FillDetectorColumns(impl_->bundle.anomaly, impl_->bundle.tail, x.data(), lineages.size(), options.threads);
  std::vector<float> margins(lineages.size(), 0.0f);  // prior-only: calibration ignores the margin
  if (impl_->classifier) {
    ASSIGN_OR_RETURN(margins, impl_->Predict(*impl_->classifier, x, lineages.size(), true, options.threads));
  }
  std::vector<float> times;
  if (impl_->survival) {
    ASSIGN_OR_RETURN(times, impl_->Predict(*impl_->survival, x, lineages.size(), false, options.threads));
  }
  std::vector<float> p_fail;
  if (impl_->attempt) {
    ASSIGN_OR_RETURN(p_fail, impl_->Predict(*impl_->attempt, AttemptRows(x.data(), lineages.size()), lineages.size(),
                                            false, options.threads, kAttemptWidth));
  }
  const Calibration& cal = impl_->bundle.calibration;
  const double threshold = alert_threshold();
  for (size_t i = 0; i < lineages.size(); ++i) {
    const LineageState& s = state.lineage(lineages[i]);
    LineageForecast& f = out[i];
    f.cert = s.cert;
    f.anomaly = x[i * kModelWidth + kAnomalyColumn];
    f.risk = cal.Apply(margins[i], f.anomaly,
                       p_fail.empty() ? AttemptInput{} : ComposeAttempt(p_fail[i], &x[i * kModelWidth], horizon()));
    f.in_episode = InEpisode(s);
    f.alert = !f.in_episode && f.risk >= threshold;
    f.next_attempt = NextScheduledAttempt(s, at);
    if (!times.empty() && std::isfinite(times[i]) && times[i] > 0) {
      f.expected_time_to_failure = absl::Seconds(std::min(times[i], 3650.0f) * 86400.0);
    }
  }
  if (options.with_reasons && !impl_->classifier) {
    for (LineageForecast& f : out) f.reasons.push_back(Reason{"prior_only", 0, std::string(kPriorOnlyReason)});
  }
  if (options.with_reasons && impl_->classifier) {
    ASSIGN_OR_RETURN(xgb::DMatrix d, xgb::DMatrix::Dense(x, lineages.size(), kModelWidth, 1));
    // Exact TreeSHAP runs ~400 rows/s per thread; above a few thousand lineages the approximate
    // (Saabas) contributions keep a fleet-wide forecast interactive. Chosen by the fleet's size so
    // that scoring a few lineages (options.certs) gives them the reasons a full scoring gives.
    const int type = fleet <= 2000 ? 2 : 3;
    std::vector<float> contributions;
    {
      std::lock_guard<std::mutex> lock(impl_->predict_mutex);
      RETURN_IF_ERROR(impl_->classifier->SetParam("nthread", std::to_string(lineages.size() <= 1 ? 1 : std::max(1, options.threads))));
      ASSIGN_OR_RETURN(contributions, impl_->classifier->Predict(d, type));
    }
    const size_t stride = kModelWidth + 1;
    if (contributions.size() != lineages.size() * stride) return InternalError("unexpected SHAP output shape");
    for (size_t i = 0; i < lineages.size(); ++i) {
      const float* c = &contributions[i * stride];
      std::vector<std::pair<double, int>> ranked;
      for (int k = 0; k < kModelWidth; ++k) {
        double v = c[k] * cal.a;
        if (k == kAnomalyColumn) v += cal.c * (out[i].anomaly - 0.5);
        if (v > 1e-3) ranked.emplace_back(v, k);
      }
      std::sort(ranked.begin(), ranked.end(), std::greater<>());
      // Concrete reasons first: "unlike the training history" says nothing a person can act on,
      // so it only follows the named causes (it still counts towards the risk).
      // Likewise the timing features say *when* (the next attempt is appended to the first reason
      // anyway), the others say *why*: causes first, then timing, then the anomaly sentence.
      auto group = [](int k) {
        switch (k) {
          case kAnomalyColumn: return 2;
          case kDaysToExpiry: case kLifetimeDays: case kLifetimeElapsed: case kDaysToDue: case kDaysToNextAttempt:
          case kAriWindowStartDays: case kDaysSinceSuccess: case kDaysSinceConfigChange: case kDaysObserved:
          case kAriEnabled: case kNamesCount: case kHostLineages: case kWarningSignals:
            return 1;
          default: return 0;
        }
      };
      std::stable_sort(ranked.begin(), ranked.end(), [&](const auto& a, const auto& b) { return group(a.second) < group(b.second); });
      for (const auto& [value, k] : ranked) {
        if (out[i].reasons.size() >= options.max_reasons) break;
        std::string sentence;
        if (k == kAnomalyColumn) {
          sentence = StrCat("telemetry unlike anything in the training history (anomaly score ",
                            std::lround(out[i].anomaly * 100) / 100.0, ")");
        } else if (k == kTailColumn) {
          // Name the rare value itself, unless its own feature is already a reason.
          int which = -1;
          const float* row = &x[i * kModelWidth];
          const double surprise = impl_->bundle.tail.Score(row, &which);
          if (which < 0 || std::any_of(out[i].reasons.begin(), out[i].reasons.end(),
                                       [&](const Reason& r) { return r.feature == ModelFeatureNames()[which]; })) {
            continue;
          }
          sentence = DescribeFeature(which, row[which], state, lineages[i]);
          if (!sentence.empty()) {
            char share[32];
            std::snprintf(share, sizeof share, "%.2f", 100 * (1 - std::pow(10.0, -surprise)));
            sentence += StrCat(" (rarer than on ", share, "% of training cert-days)");
          }
        } else {
          sentence = DescribeFeature(k, x[i * kModelWidth + k], state, lineages[i]);
        }
        if (sentence.empty()) continue;
        // The configured challenge's probe and the probe by type can say the same thing.
        if (std::any_of(out[i].reasons.begin(), out[i].reasons.end(), [&](const Reason& r) { return r.sentence == sentence; })) continue;
        out[i].reasons.push_back(Reason{ModelFeatureNames()[k], value, std::move(sentence)});
      }
      if (!out[i].reasons.empty() && out[i].next_attempt && out[i].reasons.front().feature != "days_to_next_attempt") {
        const std::string when = InDays(*out[i].next_attempt - at);
        out[i].reasons.front().sentence += when == "due now" ? "; next renewal attempt due now" : StrCat("; next renewal attempt in ", when);
      }
    }
  }
  return out;
}

StatusOr<std::vector<LineageForecast>> Forecaster::ScoreAll(std::span<const Event> events, absl::Time at,
                                                            const ScoreOptions& options) const {
  FleetState state;
  size_t cursor = 0;
  RETURN_IF_ERROR(state.AdvanceTo(events, at, &cursor));
  ASSIGN_OR_RETURN(std::vector<LineageForecast> out, ScoreState(state, at, options));
  std::stable_sort(out.begin(), out.end(), [](const LineageForecast& a, const LineageForecast& b) { return a.risk > b.risk; });
  return out;
}

}  // namespace certcast
