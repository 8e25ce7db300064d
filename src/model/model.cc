#include "model/model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>
#include <thread>

#include <time.h>

#include "absl/container/flat_hash_set.h"

#include "core/file_safety.h"
#include "core/json_checked.h"
#include "core/strings.h"
#include "core/time.h"
#include "features/fleet_state.h"
#include "model/scoring.h"
#include "model/xgb.h"
#include "nlohmann/json.hpp"

namespace certcast {

namespace {

constexpr std::string_view kMagic = "certcast-model 1\n";
// A horizon is days to weeks; a year bounds it far above any trained one.
constexpr int64_t kMaxHorizonSeconds = int64_t{366} * 86400;

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

double Sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// Wall and process CPU time of the XGBoost calls made through it: what "XGBoost alone" would
// spend, so that the rest of TrainModel is its overhead.
class XgbTime {
 public:
  template <typename Call>
  auto operator()(Call call) {
    const auto wall = std::chrono::steady_clock::now();
    const double cpu = ProcessCpuSeconds();
    auto result = call();
    seconds += Seconds(wall);
    cpu_seconds += ProcessCpuSeconds() - cpu;
    return result;
  }
  double seconds = 0, cpu_seconds = 0;
};

}  // namespace

double ProcessCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + t.tv_nsec * 1e-9;
}

std::string ModelSchemaId() { return StrCat(FeatureSchemaId(), "+anomaly_score:1+tail_surprise:1"); }

std::vector<std::string> ModelFeatureNames() {
  std::vector<std::string> names;
  for (const FeatureSpec& f : FeatureCatalogue()) names.emplace_back(f.name);
  names.emplace_back("anomaly_score");
  names.emplace_back("tail_surprise");
  return names;
}

std::span<const int> AnomalyColumns() {
  static const int kColumns[] = {
      kChallengeProbeFailRate, kChallengeProbeFailDays4, kHttp01FailRate, kDns01FailRate,
      kDns01PropagationRatio, kAddressForeignFraction, kDnsErrorDays4, kCaaForbidsCa,
      kDnssecBogusDays4, kRrsigMarginDays, kServedStaleDays, kTlsErrorDays4, kCaProbeErrorRate,
      kCaLatencyRatio, kCaFleetFailureRate, kClockOffsetAbsSeconds, kClockSlopeAbsSecondsPerDay,
      kDiskFreeFraction, kDiskDaysToFull, kDiskMarginDays, kSchedulerStaleDays, kHostEventsRecent,
      kCredentialMarginDays, kDomainMarginDays, kIssued7dNameSet, kAttemptsPerDay, kWarningSignals};
  return kColumns;
}

std::span<const TailSurprise::Column> TailColumns() {
  // +1: high is harmful (failure shares, error days, ratios, counts); -1: low is (free disk,
  // margins before the next attempt, days since a change).
  static const TailSurprise::Column kColumns[] = {
      {kChallengeProbeFailRate, 1}, {kChallengeProbeFailDays4, 1}, {kHttp01FailRate, 1},
      {kHttp01ConsecutiveFailures, 1}, {kDns01FailRate, 1}, {kDns01PropagationRatio, 1},
      {kAddressChangeDays, -1}, {kAddressForeignFraction, 1}, {kDnsErrorDays4, 1}, {kNsChangeDays, -1},
      {kCaaForbidsCa, 1}, {kCaaChangeDays, -1}, {kDnssecBogusDays4, 1}, {kRrsigMarginDays, -1},
      {kServedStaleDays, 1}, {kTlsErrorDays4, 1}, {kDeployFailedDays, -1}, {kCaProbeErrorRate, 1},
      {kCaLatencyRatio, 1}, {kCaFleetFailureRate, 1}, {kClockOffsetAbsSeconds, 1},
      {kClockSlopeAbsSecondsPerDay, 1}, {kClockUnsynced, 1}, {kDiskFreeFraction, -1}, {kDiskDaysToFull, -1},
      {kDiskMarginDays, -1}, {kSchedulerStaleDays, 1}, {kHostEventsRecent, 1}, {kClientChangeDays, -1},
      {kCredentialMarginDays, -1}, {kCredentialMissing, 1}, {kDomainMarginDays, -1}, {kDomainStatusBad, 1},
      {kIssued7dRegisteredDomain, 1}, {kIssued7dNameSet, 1}, {kAttemptsPerDay, 1}, {kDryRunFailures, 1},
      {kHostEpisodeFraction, 1}, {kNsGroupEpisodeFraction, 1}, {kWarningSignals, 1}};
  return kColumns;
}

// ---------------------------------------------------------------------------------------------
void AttemptRowFromFeatures(const float* features, bool dry_run, float* out) {
  std::copy(features, features + kFeatureCount, out);
  // Timing: near zero at every attempt, days before it on a day row. Kept, they would let the
  // attempt model learn "an attempt is now", which a day row never is.
  for (int k : {kDaysToExpiry, kLifetimeElapsed, kDaysToDue, kDaysToNextAttempt, kAriWindowStartDays,
                kDaysSinceSuccess, kBlockedAttemptDays, kAttemptsPerDay}) {
    out[k] = kMissing;
  }
  out[kAttemptDryRunColumn] = dry_run ? 1 : 0;
}

AttemptInput ComposeAttempt(double p_fail, const float* features, absl::Duration horizon) {
  AttemptInput in;
  const double p = std::clamp(p_fail, 1e-5, 1 - 1e-5);
  in.logit = std::log(p / (1 - p));
  const float next = features[kDaysToNextAttempt];
  in.in_window = std::isfinite(next) && next <= absl::ToDoubleHours(horizon) / 24.0;
  return in;
}

double Calibration::Apply(double margin, double anomaly, AttemptInput attempt) const {
  double z = a * margin + b + c * (std::isfinite(anomaly) ? anomaly : 0);
  if (std::isfinite(attempt.logit)) z += attempt.in_window ? d_in * attempt.logit + e : d_out * attempt.logit;
  return Sigmoid(z);
}

Calibration Calibration::Fit(const std::vector<float>& margins, const std::vector<float>& anomalies,
                             const std::vector<uint8_t>& labels, const std::vector<AttemptInput>& attempts) {
  // Newton's method on the logistic log-likelihood with a small ridge (keeps it finite when the
  // validation slice separates perfectly), first with the anomaly term, then without it if its
  // weight comes out negative: an anomaly may raise risk, history says nothing about lowering it.
  // The anomaly input is centred and scaled so that a near-constant anomaly score does not make
  // the Hessian singular (it would be collinear with the intercept). The attempt terms (inputs
  // 3-5) take part only when `attempts` has one entry per margin.
  double mean = 0, var = 0;
  size_t finite = 0;
  for (float z : anomalies) if (std::isfinite(z)) { mean += z; ++finite; }
  mean = finite ? mean / finite : 0;
  for (float z : anomalies) if (std::isfinite(z)) var += (z - mean) * (z - mean);
  const double scale = finite > 1 && var > 0 ? std::sqrt(var / (finite - 1)) : 1.0;
  const double ridge = 1e-3 + 1e-6 * margins.size();
  const bool with_attempts = !attempts.empty() && attempts.size() == margins.size();
  constexpr int kMax = 6;
  auto fit = [&](bool with_anomaly) {
    // Active inputs: margin, intercept, [anomaly], [attempt logit in window, out of it, in window].
    std::vector<int> active = {0, 1};
    if (with_anomaly) active.push_back(2);
    if (with_attempts) active.insert(active.end(), {3, 4, 5});
    const int k = static_cast<int>(active.size());
    double w[kMax] = {1, 0, 0, 0, 0, 0};
    auto features = [&](size_t i, double* x) {
      double all[kMax];
      all[0] = margins[i];
      all[1] = 1.0;
      all[2] = std::isfinite(anomalies[i]) ? (anomalies[i] - mean) / scale : 0.0;
      all[3] = all[4] = all[5] = 0;
      if (with_attempts && std::isfinite(attempts[i].logit)) {
        (attempts[i].in_window ? all[3] : all[4]) = attempts[i].logit;
        all[5] = attempts[i].in_window ? 1 : 0;
      }
      for (int j = 0; j < k; ++j) x[j] = all[active[j]];
    };
    // Penalised negative log-likelihood, for the line search.
    auto loss = [&](const double* v) {
      double total = 0;
      for (size_t i = 0; i < margins.size(); ++i) {
        double x[kMax];
        features(i, x);
        double z = 0;
        for (int j = 0; j < k; ++j) z += v[j] * x[j];
        // log(1 + e^z) - y z, computed without overflow.
        total += (z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z))) - labels[i] * z;
      }
      for (int j = 0; j < k; ++j) total += 0.5 * ridge * (v[j] - (j == 0 ? 1 : 0)) * (v[j] - (j == 0 ? 1 : 0));
      return total;
    };
    double current = loss(w);
    for (int iter = 0; iter < 100; ++iter) {
      double g[kMax] = {0}, h[kMax][kMax] = {{0}};
      for (size_t i = 0; i < margins.size(); ++i) {
        double x[kMax];
        features(i, x);
        double z = 0;
        for (int j = 0; j < k; ++j) z += w[j] * x[j];
        const double p = Sigmoid(z);
        const double r = p - labels[i];
        const double s = std::max(p * (1 - p), 1e-9);
        for (int j = 0; j < k; ++j) {
          g[j] += r * x[j];
          for (int l = 0; l < k; ++l) h[j][l] += s * x[j] * x[l];
        }
      }
      for (int j = 0; j < k; ++j) {
        g[j] += ridge * (w[j] - (j == 0 ? 1 : 0));
        h[j][j] += ridge;
      }
      // Solve h * d = g (k <= 6) by Gauss-Jordan elimination with partial pivoting.
      double m[kMax][kMax + 1];
      for (int j = 0; j < k; ++j) {
        for (int l = 0; l < k; ++l) m[j][l] = h[j][l];
        m[j][k] = g[j];
      }
      for (int col = 0; col < k; ++col) {
        int pivot = col;
        for (int r = col + 1; r < k; ++r) if (std::abs(m[r][col]) > std::abs(m[pivot][col])) pivot = r;
        for (int l = 0; l <= k; ++l) std::swap(m[col][l], m[pivot][l]);
        if (std::abs(m[col][col]) < 1e-12) return Calibration{};
        for (int r = 0; r < k; ++r) {
          if (r == col) continue;
          const double f = m[r][col] / m[col][col];
          for (int l = col; l <= k; ++l) m[r][l] -= f * m[col][l];
        }
      }
      double d[kMax] = {0};
      for (int j = 0; j < k; ++j) d[j] = std::clamp(m[j][k] / m[j][j], -2.0, 2.0);
      // Backtracking: a Newton step from saturated scores (random-forest margins) can overshoot
      // and oscillate; halve it until the loss goes down.
      double step = 1, next = current, trial[kMax];
      std::copy(w, w + kMax, trial);
      for (int halving = 0; halving < 30; ++halving, step /= 2) {
        for (int j = 0; j < k; ++j) trial[j] = w[j] - step * d[j];
        next = loss(trial);
        if (next <= current) break;
      }
      if (next > current) break;
      double moved = 0;
      for (int j = 0; j < k; ++j) {
        moved = std::max(moved, std::abs(trial[j] - w[j]));
        w[j] = trial[j];
      }
      current = next;
      if (moved < 1e-7) break;
    }
    double all[kMax] = {0};
    for (int j = 0; j < k; ++j) all[active[j]] = w[j];
    // Back to the raw anomaly scale: c * (z - mean) / scale = (c / scale) z - c mean / scale.
    const double c = with_anomaly ? all[2] / scale : 0;
    return Calibration{all[0], all[1] - c * mean, c, all[3], all[4], all[5]};
  };
  if (margins.empty()) return Calibration{};
  Calibration c = fit(true);
  if (c.c < 0 || !std::isfinite(c.c)) c = fit(false);
  if (!std::isfinite(c.a) || !std::isfinite(c.b) || !std::isfinite(c.d_in) || !std::isfinite(c.d_out) ||
      !std::isfinite(c.e)) {
    return Calibration{};
  }
  return c;
}

// ---------------------------------------------------------------------------------------------
std::string ModelInfoJson(const ModelInfo& info) {
  nlohmann::json meta;
  meta["schema_id"] = info.schema_id;
  meta["feature_names"] = info.feature_names;
  meta["train_from"] = FormatRfc3339(info.train_from);
  meta["train_until"] = FormatRfc3339(info.train_until);
  meta["horizon_seconds"] = absl::ToInt64Seconds(info.horizon);
  meta["algorithm"] = info.algorithm;
  meta["alert_threshold"] = info.alert_threshold;
  meta["prior_only"] = info.prior_only;
  meta["metrics"] = nlohmann::json::parse(info.metrics_json.empty() ? "{}" : info.metrics_json);
  return meta.dump();
}

Status WriteModelFile(const std::string& path, const ModelBundle& bundle) {
  if (bundle.info.horizon < absl::Seconds(1) || bundle.info.horizon > absl::Seconds(kMaxHorizonSeconds)) {
    return InvalidArgumentError(StrCat("model horizon ", absl::FormatDuration(bundle.info.horizon),
                                       " is outside (0, 366 days]"));
  }
  nlohmann::json meta = nlohmann::json::parse(ModelInfoJson(bundle.info));
  const Calibration& cal = bundle.calibration;
  meta["calibration"] = {cal.a, cal.b, cal.c};
  // Only a model with an attempt model writes the attempt terms, so a file without one reads as
  // before.
  if (!bundle.attempt_ubj.empty()) meta["calibration"] = {cal.a, cal.b, cal.c, cal.d_in, cal.d_out, cal.e};
  meta["anomaly"] = nlohmann::json::parse(bundle.anomaly.ToJson());
  meta["tail_surprise"] = nlohmann::json::parse(bundle.tail.ToJson());
  meta["blobs"] = {{{"name", "classifier"}, {"bytes", bundle.classifier_ubj.size()}},
                   {{"name", "survival"}, {"bytes", bundle.survival_ubj.size()}}};
  if (!bundle.attempt_ubj.empty()) meta["blobs"].push_back({{"name", "attempt"}, {"bytes", bundle.attempt_ubj.size()}});
  const std::string text = meta.dump();
  // Atomically, through a temporary of an unpredictable name opened O_EXCL|O_NOFOLLOW: a reader
  // never sees half a model, and a symlink planted at "PATH.tmp" in a shared directory is not
  // written through.
  RETURN_IF_ERROR(WriteFileAtomically(
      path, JoinModelFile(text, StrCat(bundle.classifier_ubj, bundle.survival_ubj, bundle.attempt_ubj)), 0644));
  return OkStatus();
}

StatusOr<ModelBundle> ReadModelFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(StrCat("model file ", path, " not found (train one with `certcast train`)"));
  // Read in chunks and stop past the limit: the file's size is not trusted either (a FIFO or
  // /dev/zero named as the model would otherwise be read until memory runs out).
  std::string bytes;
  std::vector<char> chunk(1 << 16);
  while (in.read(chunk.data(), static_cast<std::streamsize>(chunk.size())) || in.gcount() > 0) {
    bytes.append(chunk.data(), static_cast<size_t>(in.gcount()));
    if (bytes.size() >= kMagic.size() && !bytes.starts_with(kMagic)) break;  // ParseModelFile says what it is not
    if (bytes.size() > kMaxModelFileBytes) {
      return DataLossError(StrCat(path, ": model file larger than the limit of ", kMaxModelFileBytes, " bytes"));
    }
  }
  if (in.bad()) return UnavailableError(StrCat("reading model file ", path, " failed"));
  return ParseModelFile(bytes, path);
}

StatusOr<ModelFileParts> SplitModelFile(std::string_view bytes, std::string_view path) {
  if (!bytes.starts_with(kMagic)) return FailedPreconditionError(StrCat(path, " is not a certcast model file"));
  std::string_view rest = bytes.substr(kMagic.size());
  const size_t end_of_line = rest.find('\n');
  const std::string_view digits = rest.substr(0, end_of_line);
  if (end_of_line == std::string_view::npos || digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return DataLossError(StrCat(path, ": corrupt model header (no metadata length)"));
  }
  const size_t length = std::stoul(std::string(digits));
  rest.remove_prefix(end_of_line + 1);
  if (length > kMaxModelMetadataBytes) {
    return DataLossError(StrCat(path, ": model metadata of ", length, " bytes, more than the limit of ",
                                kMaxModelMetadataBytes));
  }
  if (length > rest.size()) {
    return DataLossError(StrCat(path, ": truncated model file: metadata of ", length, " bytes, ", rest.size(), " left"));
  }
  return ModelFileParts{.metadata = rest.substr(0, length), .blobs = rest.substr(length)};
}

std::string JoinModelFile(std::string_view metadata, std::string_view blobs) {
  return StrCat(kMagic, metadata.size(), "\n", metadata, blobs);
}

StatusOr<std::string> WithThisBuildsModelSchema(std::string_view bytes, std::string_view name) {
  ASSIGN_OR_RETURN(const ModelFileParts parts, SplitModelFile(bytes, name));
  nlohmann::json meta;
  try {
    meta = json_checked::Parse(parts.metadata);
  } catch (const std::exception& e) {
    return DataLossError(StrCat(name, ": corrupt model metadata: ", e.what()));
  }
  if (!meta.is_object()) return DataLossError(StrCat(name, ": corrupt model metadata: not an object"));
  meta["schema_id"] = ModelSchemaId();
  meta["feature_names"] = ModelFeatureNames();
  return JoinModelFile(meta.dump(), parts.blobs);
}

StatusOr<ModelBundle> ParseModelFile(std::string_view bytes, std::string_view path) {
  using json_checked::Integer;
  ASSIGN_OR_RETURN(const ModelFileParts parts, SplitModelFile(bytes, path));
  const std::string_view text = parts.metadata;
  std::string_view rest = parts.blobs;
  ModelBundle b;
  try {
    const nlohmann::json meta = json_checked::Parse(text);
    b.info.schema_id = meta.at("schema_id").get<std::string>();
    if (b.info.schema_id != ModelSchemaId()) {
      if (b.info.schema_id.size() > 1000) b.info.schema_id = StrCat("of ", b.info.schema_id.size(), " bytes");
      return FailedPreconditionError(StrCat("model ", path, " was trained with feature schema ", b.info.schema_id,
                                            " but this certcast computes ", ModelSchemaId(),
                                            ": retrain it with `certcast train`"));
    }
    b.info.feature_names = meta.at("feature_names").get<std::vector<std::string>>();
    if (b.info.feature_names != ModelFeatureNames()) {
      return FailedPreconditionError(StrCat("model ", path, " lists other feature names than this certcast"));
    }
    ASSIGN_OR_RETURN(b.info.train_from, ParseRfc3339(meta.at("train_from").get<std::string>()));
    ASSIGN_OR_RETURN(b.info.train_until, ParseRfc3339(meta.at("train_until").get<std::string>()));
    b.info.horizon = absl::Seconds(Integer(meta.at("horizon_seconds"), 1, kMaxHorizonSeconds, "horizon_seconds"));
    b.info.algorithm = meta.at("algorithm").get<std::string>();
    b.info.alert_threshold = json_checked::Finite(meta.at("alert_threshold"), "alert_threshold");
    if (b.info.alert_threshold < 0 || b.info.alert_threshold > 1) {
      return DataLossError(StrCat(path, ": corrupt model metadata: alert_threshold ", b.info.alert_threshold,
                                  " is not a probability"));
    }
    b.info.metrics_json = meta.at("metrics").dump();
    // Files written before prior-only models existed have no such key: they all had a classifier.
    b.info.prior_only = meta.value("prior_only", false);
    const nlohmann::json& cal = meta.at("calibration");
    if (!cal.is_array() || (cal.size() != 3 && cal.size() != 6)) {
      return DataLossError(StrCat(path, ": corrupt model metadata: calibration is not [a, b, c] or [a, b, c, d_in, d_out, e]"));
    }
    b.calibration = Calibration{json_checked::Finite(cal[0], "calibration a"), json_checked::Finite(cal[1], "calibration b"),
                                json_checked::Finite(cal[2], "calibration c")};
    if (cal.size() == 6) {
      b.calibration.d_in = json_checked::Finite(cal[3], "calibration d_in");
      b.calibration.d_out = json_checked::Finite(cal[4], "calibration d_out");
      b.calibration.e = json_checked::Finite(cal[5], "calibration e");
    }
    StatusOr<IsolationForest> anomaly = IsolationForest::FromJson(meta.at("anomaly").dump(), kModelWidth);
    if (!anomaly.ok()) return DataLossError(StrCat(path, ": corrupt model metadata: ", anomaly.status().message()));
    b.anomaly = *std::move(anomaly);
    StatusOr<TailSurprise> tail = TailSurprise::FromJson(meta.at("tail_surprise").dump(), kModelWidth);
    if (!tail.ok()) return DataLossError(StrCat(path, ": corrupt model metadata: ", tail.status().message()));
    b.tail = *std::move(tail);
    // Exactly the blobs WriteModelFile writes (classifier, survival, and the attempt model when
    // there is one), each once, each within the limit and what is left of the file, and nothing
    // after them.
    const nlohmann::json& blobs = meta.at("blobs");
    if (!blobs.is_array()) return DataLossError(StrCat(path, ": corrupt model metadata: blobs is not a list"));
    bool seen_classifier = false, seen_survival = false, seen_attempt = false;
    for (const auto& blob : blobs) {
      const std::string name = blob.at("name").get<std::string>();
      const size_t size = static_cast<size_t>(Integer(blob.at("bytes"), 0, kMaxModelBlobBytes, StrCat("blob ", name, " bytes")));
      bool* seen = name == "classifier" ? &seen_classifier
                   : name == "survival" ? &seen_survival
                   : name == "attempt"  ? &seen_attempt
                                        : nullptr;
      if (seen == nullptr) return DataLossError(StrCat(path, ": corrupt model metadata: unknown blob \"", name, "\""));
      if (*seen) return DataLossError(StrCat(path, ": corrupt model metadata: blob ", name, " listed twice"));
      *seen = true;
      if (size > rest.size()) {
        return DataLossError(StrCat(path, ": truncated model file: blob ", name, " of ", size, " bytes, ", rest.size(), " left"));
      }
      (name == "classifier" ? b.classifier_ubj : name == "survival" ? b.survival_ubj : b.attempt_ubj)
          .assign(rest.substr(0, size));
      rest.remove_prefix(size);
    }
    if (seen_attempt != (cal.size() == 6)) {
      return DataLossError(StrCat(path, ": corrupt model metadata: ",
                                  seen_attempt ? "an attempt model without its calibration terms"
                                               : "attempt calibration terms without an attempt model"));
    }
    if (!seen_classifier || !seen_survival) {
      return DataLossError(StrCat(path, ": corrupt model metadata: blob ", seen_classifier ? "survival" : "classifier",
                                  " missing"));
    }
  } catch (const std::exception& e) {
    return DataLossError(StrCat(path, ": corrupt model metadata: ", e.what()));
  }
  if (!rest.empty()) return DataLossError(StrCat(path, ": ", rest.size(), " bytes after the model's last blob"));
  if (b.classifier_ubj.empty() && !b.info.prior_only) return DataLossError(StrCat(path, ": model has no classifier"));
  if (!b.classifier_ubj.empty() && b.info.prior_only) {
    return DataLossError(StrCat(path, ": model says prior-only but carries a classifier"));
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
StatusOr<TrainingSet> BuildTrainingSet(std::span<const Event> events, absl::Time until, const TrainOptions& options) {
  // Only events before `until` exist for training, for features and labels alike.
  const size_t end = std::lower_bound(events.begin(), events.end(), until,
                                      [](const Event& e, absl::Time t) { return e.ts < t; }) - events.begin();
  events = events.subspan(0, end);
  if (events.empty()) return FailedPreconditionError(StrCat("no events before ", FormatRfc3339(until), " to train on"));
  auto episodes_by_cert = ComputeEpisodes(events);
  TrainingSet set;
  set.until = until;
  set.first_day = FloorToDay(events.front().ts) + absl::Hours(24);
  set.last_day = FloorToDay(until - options.horizon);
  if (set.last_day < set.first_day) {
    return FailedPreconditionError(StrCat("training window ", FormatRfc3339(events.front().ts), " .. ",
                                          FormatRfc3339(until), " is shorter than the horizon plus a day"));
  }
  FleetState state;
  size_t cursor = 0;
  std::vector<float> row(kFeatureCount);
  const int64_t total_days = (set.last_day - set.first_day) / absl::Hours(24) + 1;
  // Memory bound for big fleets: negatives before the validation slice are kept with probability
  // `keep` (estimated from lineages x days) and weighted 1/keep, so the class balance the model
  // sees is unchanged. Validation rows are all kept: calibration and the threshold need the true
  // rates.
  const int64_t valid_days = std::max<int64_t>(1, std::llround(total_days * options.validation_fraction));
  const absl::Time split = set.last_day - absl::Hours(24) * (valid_days - 1);
  absl::flat_hash_set<std::string> configured;
  for (const Event& e : events) if (const auto* c = e.As<ConfigEvent>()) configured.insert(c->cert);
  const double estimated_rows = static_cast<double>(configured.size()) * total_days;
  const double keep = std::clamp(options.max_rows / std::max(1.0, estimated_rows), 0.02, 1.0);
  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> uniform(0, 1);
  if (keep < 1 && options.progress) {
    options.progress(StrCat("about ", static_cast<int64_t>(estimated_rows), " cert-days: keeping ", keep * 100,
                            "% of training-period negatives (weighted)"));
  }
  int64_t day_number = 0;
  std::vector<float> attempt_row(kAttemptWidth);
  for (absl::Time day = set.first_day; day <= set.last_day; day += absl::Hours(24), ++day_number) {
    // The day's renewal attempts, each seen from the state just before it (events with ts < the
    // attempt's): rows of the attempt model. Attempts inside an episode are retries of a failure
    // that already happened, which no forecast is asked about.
    for (size_t next = cursor; next < events.size() && events[next].ts < day; ++next) {
      const auto* renewal = events[next].As<RenewalEvent>();
      if (renewal == nullptr) continue;
      const absl::Time ts = events[next].ts;
      RETURN_IF_ERROR(state.AdvanceTo(events, ts, &cursor));
      const std::optional<size_t> li = state.IndexOf(renewal->cert);
      if (!li || !state.lineage(*li).config || InEpisode(state.lineage(*li))) continue;
      ASSIGN_OR_RETURN(FeatureExtractor at_attempt, FeatureExtractor::Create(state, ts));
      at_attempt.Extract(*li, row.data());
      AttemptRowFromFeatures(row.data(), renewal->dry_run, attempt_row.data());
      set.attempt_x.insert(set.attempt_x.end(), attempt_row.begin(), attempt_row.end());
      set.attempt_y.push_back(renewal->outcome == Outcome::kFailure ? 1 : 0);
      set.attempt_ts.push_back(ts);
    }
    RETURN_IF_ERROR(state.AdvanceTo(events, day, &cursor));
    ASSIGN_OR_RETURN(FeatureExtractor fx, FeatureExtractor::Create(state, day));
    while (set.certs.size() < state.lineage_count()) {
      const std::string& cert = state.lineage(set.certs.size()).cert;
      set.certs.push_back(cert);
      auto it = episodes_by_cert.find(cert);
      set.episodes.push_back(it == episodes_by_cert.end() ? std::vector<Episode>{} : it->second);
    }
    for (size_t li = 0; li < state.lineage_count(); ++li) {
      if (!fx.HasConfig(li)) continue;
      const auto& eps = set.episodes[li];
      if (InEpisodeAt(eps, day)) continue;
      const bool positive = OnsetIn(eps, day, day + options.horizon) != nullptr;
      float weight = 1;
      if (!positive && day < split && keep < 1) {
        if (uniform(rng) > keep) continue;
        weight = static_cast<float>(1 / keep);
      }
      fx.Extract(li, row.data());
      set.x.insert(set.x.end(), row.begin(), row.end());
      set.x.push_back(kMissing);  // anomaly and tail columns, filled once the detectors are fitted
      set.x.push_back(kMissing);
      set.y.push_back(positive ? 1 : 0);
      set.w.push_back(weight);
      const Episode* next = OnsetIn(eps, day, absl::InfiniteFuture());
      if (next != nullptr) {
        const float t = static_cast<float>(std::max(absl::ToDoubleHours(next->onset - day) / 24.0, 0.04));
        set.time_lower.push_back(t);
        set.time_upper.push_back(t);
      } else {
        set.time_lower.push_back(static_cast<float>(std::max(absl::ToDoubleHours(until - day) / 24.0, 0.04)));
        set.time_upper.push_back(std::numeric_limits<float>::infinity());
      }
      set.rows.push_back(ScoredDay{static_cast<uint32_t>(li), day, 0, false});
    }
    if (options.progress && (day_number % 30 == 29 || day_number + 1 == total_days)) {
      options.progress(StrCat("features: day ", day_number + 1, "/", total_days, ", ", set.size(), " cert-days"));
    }
  }
  return set;
}

// ---------------------------------------------------------------------------------------------
std::vector<float> ThresholdCandidates(std::vector<float> risks) {
  std::sort(risks.begin(), risks.end(), std::greater<>());
  std::vector<float> thresholds;
  // The risk of the row at each of 40 top shares, log-spaced from 0.02 % to 20 % of the rows
  // (alerts are rare, so the fine steps are at the top), then round numbers.
  for (int k = 0; k < 40 && !risks.empty(); ++k) {
    const double q = 0.0002 * std::pow(1000.0, k / 39.0);
    thresholds.push_back(risks[std::min(risks.size() - 1, static_cast<size_t>(q * risks.size()))]);
  }
  for (float t : {0.05f, 0.1f, 0.2f, 0.3f, 0.5f}) thresholds.push_back(t);
  return thresholds;
}

double WilsonLowerBound(int64_t successes, int64_t trials, double z) {
  if (trials <= 0) return 0;
  const double n = static_cast<double>(trials), p = successes / n, z2 = z * z;
  return (p + z2 / (2 * n) - z * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n))) / (1 + z2 / n);
}

OperatingPoint ChooseOperatingPoint(const AlertCurve& curve, const std::vector<float>& candidates,
                                    const OperatingPointRule& rule) {
  std::vector<ForecastMetrics> metrics;
  std::vector<bool> reaches;
  for (float t : candidates) {
    metrics.push_back(curve.At(t));
    const ForecastMetrics& m = metrics.back();
    const double precision = rule.wilson_z > 0 ? WilsonLowerBound(m.true_alerts, m.alerts, rule.wilson_z) : m.precision;
    reaches.push_back(m.alerts > 0 && precision >= rule.min_precision && m.true_alerts >= rule.min_true_alerts);
  }
  OperatingPoint best{0.5, {}, false}, best_f1{0.5, {}, false};
  double best_f1_value = -1;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const ForecastMetrics& m = metrics[i];
    if (m.f1 > best_f1_value + 1e-9) {
      best_f1_value = m.f1;
      best_f1 = {candidates[i], m, false};
    }
    bool qualifies = reaches[i];
    for (size_t j = 0; rule.contiguous && qualifies && j < candidates.size(); ++j) {
      if (candidates[j] > candidates[i] && metrics[j].alerts > 0 && !reaches[j]) qualifies = false;
    }
    if (!qualifies) continue;
    // The most recall; ties: the more precise.
    if (!best.reached_floor || m.recall > best.metrics.recall + 1e-9 ||
        (m.recall > best.metrics.recall - 1e-9 && m.precision > best.metrics.precision)) {
      best = {candidates[i], m, true};
    }
  }
  OperatingPoint chosen = best.reached_floor ? best : best_f1;
  double ceiling = rule.max_threshold;
  if (rule.min_recall > 0) {
    double highest = -1;  // the highest candidate that still catches min_recall of the episodes
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (metrics[i].episodes > 0 && metrics[i].recall >= rule.min_recall - 1e-9) highest = std::max<double>(highest, candidates[i]);
    }
    if (highest >= 0) ceiling = std::min(ceiling, highest);
  }
  if (chosen.threshold > ceiling) chosen = {ceiling, curve.At(static_cast<float>(ceiling)), chosen.reached_floor};
  return chosen;
}

// ---------------------------------------------------------------------------------------------
namespace {

std::vector<float> Gather(const std::vector<float>& v, const std::vector<size_t>& idx, size_t width) {
  std::vector<float> out;
  out.reserve(idx.size() * width);
  for (size_t i : idx) out.insert(out.end(), v.begin() + i * width, v.begin() + (i + 1) * width);
  return out;
}

// The model-matrix rows `idx` of `x`. Rows are in day order, so a time slice is usually one
// contiguous run of the matrix: that run is handed over instead of a copy (tens of MB per
// fleet-year); otherwise they are gathered into `copy`.
std::span<const float> RowsOf(const std::vector<float>& x, const std::vector<size_t>& idx, std::vector<float>& copy) {
  if (!idx.empty() && idx.back() - idx.front() + 1 == idx.size()) {
    return std::span<const float>(x).subspan(idx.front() * kModelWidth, idx.size() * kModelWidth);
  }
  copy = Gather(x, idx, kModelWidth);
  return copy;
}

// A healthy (or tiny) fleet has no onset to learn from. Rather than no model, which would leave
// backtest, forecast and plan with nothing to run, the model is the base rate: the Jeffreys
// estimate (onsets + 1/2) / (weighted cert-days + 1) with no onsets, the same for every lineage.
// Nothing alerts (the threshold is above any risk it gives); the file and every forecast say so.
StatusOr<TrainReport> TrainPriorOnly(const TrainingSet& set, const TrainOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  TrainReport report;
  const double weighted_days = std::accumulate(set.w.begin(), set.w.end(), 0.0);
  const double rate = 0.5 / (weighted_days + 1);
  if (options.progress) {
    options.progress(StrCat("no episode onset in ", set.size(), " cert-days before ", FormatRfc3339(set.until),
                            ": prior-only model, risk ", rate, " for every lineage, no alerts"));
  }
  ModelBundle& bundle = report.bundle;
  // risk = sigmoid(a * margin + b + c * anomaly) with a = c = 0: the prior whatever the inputs.
  bundle.calibration = Calibration{0, std::log(rate / (1 - rate)), 0};
  // Measured on the training rows like any validation, by the same code: with no onsets it has no
  // episodes to catch and raises no alerts, which the stored metrics show.
  std::vector<ScoredDay> rows = set.rows;
  for (ScoredDay& r : rows) {
    r.risk = static_cast<float>(rate);
    r.alert = false;
  }
  std::vector<const std::vector<Episode>*> eps;
  for (const auto& e : set.episodes) eps.push_back(&e);
  report.validation = Evaluate(rows, eps, set.first_day, set.last_day + absl::Hours(24), options.horizon);
  ModelInfo& info = bundle.info;
  info.schema_id = ModelSchemaId();
  info.feature_names = ModelFeatureNames();
  info.train_from = set.first_day;
  info.train_until = set.until;
  info.horizon = options.horizon;
  info.algorithm = "prior";
  info.prior_only = true;
  info.alert_threshold = 1.0;  // risk is rate < 1: a prior says nothing about one lineage
  info.metrics_json = StrCat("{\"prior_only\":true,\"reason\":\"", kPriorOnlyReason, "\",\"train_rows\":", set.size(),
                             ",\"weighted_cert_days\":", weighted_days, ",\"base_rate\":", rate,
                             ",\"validation\":", MetricsToJson(report.validation), "}");
  report.rounds = 0;
  report.total_seconds = Seconds(start);
  return report;
}

}  // namespace

StatusOr<OutOfFold> OutOfFoldRows(const TrainingSet& set, const TrainOptions& options,
                                  const std::vector<std::pair<std::string, std::string>>& classifier_params,
                                  absl::Time validation_from, int64_t validation_days, double* xgboost_seconds,
                                  double* xgboost_cpu_seconds) {
  // Each block of days just before the validation slice is scored by a model that saw only days
  // whose label window ends before the block, and calibrated on the block, as the final model is
  // on the validation slice. Oldest block first.
  XgbTime xgb_time;
  OutOfFold out;
  const bool rf = options.algorithm == "rf";
  const int64_t block_days = std::max<int64_t>(1, std::llround(validation_days * options.oof_block_fraction));
  for (int k = options.oof_folds; k >= 1; --k) {
    const absl::Time block_from = validation_from - absl::Hours(24) * (block_days * k);
    const absl::Time block_to = block_from + absl::Hours(24) * block_days;
    std::vector<size_t> fold_train, block;
    double fold_pos = 0, fold_weight = 0, block_pos = 0;
    for (size_t i = 0; i < set.size(); ++i) {
      const absl::Time day = set.rows[i].day;
      if (day >= block_from && day < block_to) {
        block.push_back(i);
        block_pos += set.y[i];
      } else if (day + options.horizon <= block_from) {
        fold_train.push_back(i);
        fold_pos += set.y[i];
        fold_weight += set.w[i];
      }
    }
    // A block with no onset says nothing about precision, and a fold without onsets trains nothing.
    if (fold_pos < 1 || block_pos < 1) continue;
    std::vector<float> fold_copy, block_copy;
    const std::span<const float> fold_x = RowsOf(set.x, fold_train, fold_copy);
    const std::span<const float> block_x = RowsOf(set.x, block, block_copy);
    std::vector<float> fold_y, fold_w;
    for (size_t i : fold_train) { fold_y.push_back(set.y[i]); fold_w.push_back(set.w[i]); }
    ASSIGN_OR_RETURN(xgb::DMatrix d_fold, xgb_time([&] {
                       return xgb::DMatrix::Dense(fold_x, fold_train.size(), kModelWidth, options.threads);
                     }));
    RETURN_IF_ERROR(xgb_time([&] { return d_fold.SetFloat("label", fold_y); }));
    RETURN_IF_ERROR(xgb_time([&] { return d_fold.SetFloat("weight", fold_w); }));
    // The class weighting of TrainModel, from the fold's own rows.
    const double fold_neg = fold_weight - fold_pos;
    const double pos_weight = std::clamp(std::sqrt(fold_neg / std::max(1.0, fold_pos)), 1.0, 30.0);
    const double base_score = std::clamp(fold_pos * pos_weight / (fold_pos * pos_weight + fold_neg), 1e-4, 0.5);
    const xgb::DMatrix* cache[] = {&d_fold};
    ASSIGN_OR_RETURN(xgb::Booster booster, xgb_time([&] { return xgb::Booster::Create(cache); }));
    for (const auto& [key, value] : classifier_params) {
      const std::string v = key == "base_score"         ? std::to_string(base_score)
                            : key == "scale_pos_weight" ? std::to_string(pos_weight)
                                                        : value;
      RETURN_IF_ERROR(booster.SetParam(key, v));
    }
    const int rounds = rf ? 1 : options.oof_rounds;
    for (int round = 0; round < rounds; ++round) {
      RETURN_IF_ERROR(xgb_time([&] { return booster.UpdateOneIter(round, d_fold); }));
    }
    ASSIGN_OR_RETURN(std::vector<float> margins, xgb_time([&] {
                       return booster.PredictDense(block_x, block.size(), kModelWidth, true);
                     }));
    std::vector<float> anomalies;
    std::vector<uint8_t> labels;
    for (size_t j = 0; j < block.size(); ++j) {
      anomalies.push_back(block_x[j * kModelWidth + kAnomalyColumn]);
      labels.push_back(set.y[block[j]] > 0.5f);
    }
    const Calibration calibration = Calibration::Fit(margins, anomalies, labels);
    if (out.rows.empty()) out.from = block_from;
    for (size_t j = 0; j < block.size(); ++j) {
      ScoredDay r = set.rows[block[j]];
      r.risk = static_cast<float>(calibration.Apply(margins[j], anomalies[j]));
      out.rows.push_back(r);
    }
  }
  if (xgboost_seconds != nullptr) *xgboost_seconds += xgb_time.seconds;
  if (xgboost_cpu_seconds != nullptr) *xgboost_cpu_seconds += xgb_time.cpu_seconds;
  return out;
}

StatusOr<TrainReport> TrainModel(TrainingSet& set, const TrainOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const double start_cpu = ProcessCpuSeconds();
  TrainReport report;
  const double positives = std::accumulate(set.y.begin(), set.y.end(), 0.0);
  if (set.size() == 0) {
    return FailedPreconditionError(StrCat("no cert-days to learn from: no lineage has a config event between ",
                                          FormatRfc3339(set.first_day), " and ", FormatRfc3339(set.last_day)));
  }
  if (positives < 1) return TrainPriorOnly(set, options);
  auto mark = start;
  double mark_cpu = start_cpu;
  auto phase = [&](const char* name) {
    const double cpu = ProcessCpuSeconds();
    report.phases.push_back({name, Seconds(mark), cpu - mark_cpu});
    mark = std::chrono::steady_clock::now();
    mark_cpu = cpu;
  };
  XgbTime xgb_time;
  // Time-ordered split. Training rows whose label window reaches into the validation period are
  // purged, otherwise the validation onsets would leak into training labels.
  const int64_t days = (set.last_day - set.first_day) / absl::Hours(24) + 1;
  const int64_t valid_days = std::max<int64_t>(1, std::llround(days * options.validation_fraction));
  const absl::Time split = set.last_day - absl::Hours(24) * (valid_days - 1);
  std::vector<size_t> train_idx, valid_idx;
  for (size_t i = 0; i < set.size(); ++i) {
    if (set.rows[i].day >= split) valid_idx.push_back(i);
    else if (set.rows[i].day + options.horizon <= split) train_idx.push_back(i);
  }
  double train_pos = 0, valid_pos = 0, train_weight = 0;
  for (size_t i : train_idx) { train_pos += set.y[i]; train_weight += set.w[i]; }
  for (size_t i : valid_idx) valid_pos += set.y[i];
  bool in_sample = false;
  if (train_pos < 1 || valid_pos < 1) {
    // Too few onsets to hold some out: fit and calibrate on everything, and say so in the metrics.
    if (options.progress) options.progress("too few onsets for a time-ordered hold-out: validating in-sample");
    in_sample = true;
    train_idx.clear();
    valid_idx.clear();
    for (size_t i = 0; i < set.size(); ++i) { train_idx.push_back(i); valid_idx.push_back(i); }
    train_pos = valid_pos = positives;
    train_weight = std::accumulate(set.w.begin(), set.w.end(), 0.0);
  }
  if (options.progress) {
    options.progress(StrCat("training on ", train_idx.size(), " cert-days (", train_pos, " positive), validating on ",
                            valid_idx.size(), " (", valid_pos, " positive) from ", FormatRfc3339(split)));
  }

  // Anomaly detector on training rows only.
  {
    std::vector<float> sample;
    std::mt19937_64 rng(options.seed);
    const size_t want = std::min<size_t>(train_idx.size(), 50000);
    std::vector<size_t> pick = train_idx;
    std::shuffle(pick.begin(), pick.end(), rng);
    pick.resize(want);
    sample = Gather(set.x, pick, kModelWidth);
    report.bundle.anomaly = IsolationForest::Fit(sample, kModelWidth, AnomalyColumns(), {.trees = 100, .sample_size = 256, .seed = options.seed});
    report.bundle.tail = TailSurprise::Fit(sample, kModelWidth, TailColumns(), 4096, options.seed);
  }
  phase("split, anomaly detectors fitted");
  FillDetectorColumns(report.bundle.anomaly, report.bundle.tail, set.x.data(), set.size(), options.threads);
  phase("anomaly detectors scored on every row");

  std::vector<float> x_train_copy, x_valid_copy;
  const std::span<const float> x_train = RowsOf(set.x, train_idx, x_train_copy);
  const std::span<const float> x_valid = RowsOf(set.x, valid_idx, x_valid_copy);
  std::vector<float> y_train, y_valid, w_train;
  for (size_t i : train_idx) { y_train.push_back(set.y[i]); w_train.push_back(set.w[i]); }
  for (size_t i : valid_idx) y_valid.push_back(set.y[i]);
  ASSIGN_OR_RETURN(xgb::DMatrix d_train, xgb_time([&] {
                     return xgb::DMatrix::Dense(x_train, train_idx.size(), kModelWidth, options.threads);
                   }));
  ASSIGN_OR_RETURN(xgb::DMatrix d_valid, xgb_time([&] {
                     return xgb::DMatrix::Dense(x_valid, valid_idx.size(), kModelWidth, options.threads);
                   }));
  RETURN_IF_ERROR(xgb_time([&] { return d_train.SetFloat("label", y_train); }));
  RETURN_IF_ERROR(xgb_time([&] { return d_train.SetFloat("weight", w_train); }));
  RETURN_IF_ERROR(xgb_time([&] { return d_valid.SetFloat("label", y_valid); }));
  phase("gather rows, XGBoost matrices");

  // Class imbalance: up-weight positives by sqrt of the imbalance (the full ratio over-fits rare
  // onsets); calibration afterwards maps scores back to probabilities.
  const double neg = train_weight - train_pos;  // weighted: subsampled negatives count 1/keep
  const double pos_weight = std::clamp(std::sqrt(neg / std::max(1.0, train_pos)), 1.0, 30.0);
  const double base_score = std::clamp(train_pos * pos_weight / (train_pos * pos_weight + neg), 1e-4, 0.5);
  const xgb::DMatrix* cache[] = {&d_train, &d_valid};
  ASSIGN_OR_RETURN(xgb::Booster booster, xgb_time([&] { return xgb::Booster::Create(cache); }));
  const bool rf = options.algorithm == "rf";
  std::vector<std::pair<std::string, std::string>> params = {
      {"objective", "binary:logistic"}, {"tree_method", "hist"}, {"nthread", std::to_string(options.threads)},
      {"base_score", std::to_string(base_score)}, {"scale_pos_weight", std::to_string(pos_weight)},
      {"eval_metric", "aucpr"}, {"seed", std::to_string(options.seed)}, {"max_bin", "128"},
      {"verbosity", "0"}};
  if (rf) {
    params.insert(params.end(), {{"num_parallel_tree", "100"}, {"eta", "1"}, {"subsample", "0.632"},
                                 {"colsample_bynode", "0.6"}, {"max_depth", "10"}, {"min_child_weight", "2"},
                                 {"lambda", "1e-5"}});
  } else {
    params.insert(params.end(), {{"eta", "0.05"}, {"max_depth", "4"}, {"min_child_weight", "5"},
                                 {"subsample", "0.8"}, {"colsample_bytree", "0.8"}, {"lambda", "5"}});
  }
  for (const auto& [k, v] : params) RETURN_IF_ERROR(booster.SetParam(k, v));
  report.classifier_params = params;
  // A fixed, regularised number of rounds instead of early stopping: onsets are rare, so the
  // validation PR-AUC is noisy round to round and early stopping picked 2-round models on some
  // fleets. Validation is still printed every 50 rounds.
  const int max_rounds = rf ? 1 : options.max_rounds;
  // The last round is always evaluated: that fills the booster's prediction cache for the
  // validation slice, from which the calibration's margins below are read instead of predicting
  // every validation row through every tree again.
  for (int round = 0; round < max_rounds; ++round) {
    RETURN_IF_ERROR(xgb_time([&] { return booster.UpdateOneIter(round, d_train); }));
    const bool last = round + 1 == max_rounds;
    if (last || (options.progress && round % 50 == 49)) {
      ASSIGN_OR_RETURN(std::string eval, xgb_time([&] { return booster.Eval(round, d_valid, "valid"); }));
      if (options.progress) options.progress(StrCat("round ", round + 1, ": ", eval));
    }
  }
  report.rounds = max_rounds;
  // Every round is kept, so the booster is saved as trained (slicing it to all its rounds made a
  // copy and predicted the validation slice again from scratch).
  ASSIGN_OR_RETURN(report.bundle.classifier_ubj, xgb_time([&] { return booster.SaveUbj(); }));
  phase("XGBoost boosting rounds and validation log");

  // Calibrate on the validation slice.
  ASSIGN_OR_RETURN(std::vector<float> margins, xgb_time([&] { return booster.Predict(d_valid, 1); }));
  phase("validation margins (from XGBoost's prediction cache)");

  // The attempt model, on the attempts before the validation slice only: its forecasts of the
  // validation days are then out of sample, and the calibration below weighs them honestly.
  std::vector<AttemptInput> attempt_inputs;
  if (options.attempt_model) {
    std::vector<float> ax, ay;
    for (size_t i = 0; i < set.attempt_y.size(); ++i) {
      if (set.attempt_ts[i] >= split) continue;
      ax.insert(ax.end(), set.attempt_x.begin() + i * kAttemptWidth, set.attempt_x.begin() + (i + 1) * kAttemptWidth);
      ay.push_back(set.attempt_y[i]);
    }
    const double failures = std::accumulate(ay.begin(), ay.end(), 0.0);
    report.attempt_rows = ay.size();
    report.attempt_failures = static_cast<size_t>(failures);
    // A few failures say nothing a calibration could weigh: no attempt model then.
    if (failures >= 10 && failures < static_cast<double>(ay.size())) {
      ASSIGN_OR_RETURN(xgb::DMatrix d_attempts, xgb_time([&] {
                         return xgb::DMatrix::Dense(ax, ay.size(), kAttemptWidth, options.threads);
                       }));
      RETURN_IF_ERROR(xgb_time([&] { return d_attempts.SetFloat("label", ay); }));
      const xgb::DMatrix* attempt_cache[] = {&d_attempts};
      ASSIGN_OR_RETURN(xgb::Booster attempt, xgb_time([&] { return xgb::Booster::Create(attempt_cache); }));
      // Probabilities as they are (no class weights): the calibration needs P(fail), not a rank.
      const double base = std::clamp(failures / ay.size(), 1e-4, 0.5);
      report.attempt_params = {
          {"objective", "binary:logistic"}, {"tree_method", "hist"}, {"nthread", std::to_string(options.threads)},
          {"base_score", std::to_string(base)}, {"eta", "0.05"}, {"max_depth", "4"}, {"min_child_weight", "3"},
          {"subsample", "0.8"}, {"colsample_bytree", "0.8"}, {"lambda", "5"}, {"max_bin", "128"},
          {"seed", std::to_string(options.seed)}, {"verbosity", "0"}};
      for (const auto& [k, v] : report.attempt_params) RETURN_IF_ERROR(attempt.SetParam(k, v));
      for (int round = 0; round < 150; ++round) {
        RETURN_IF_ERROR(xgb_time([&] { return attempt.UpdateOneIter(round, d_attempts); }));
      }
      ASSIGN_OR_RETURN(report.bundle.attempt_ubj, xgb_time([&] { return attempt.SaveUbj(); }));
      std::vector<float> valid_attempt_rows = AttemptRows(x_valid.data(), valid_idx.size());
      ASSIGN_OR_RETURN(std::vector<float> p_fail, xgb_time([&] {
                         return attempt.PredictDense(valid_attempt_rows, valid_idx.size(), kAttemptWidth, false);
                       }));
      for (size_t k = 0; k < valid_idx.size(); ++k) {
        attempt_inputs.push_back(ComposeAttempt(p_fail[k], &x_valid[k * kModelWidth], options.horizon));
      }
      if (options.progress) {
        options.progress(StrCat("attempt model: ", ay.size(), " attempts before ", FormatRfc3339(split), ", ",
                                failures, " failed"));
      }
    } else if (options.progress) {
      options.progress(StrCat("no attempt model: ", failures, " failed attempts in ", ay.size()));
    }
    phase("attempt model");
  }

  std::vector<float> anomalies;
  std::vector<uint8_t> labels;
  for (size_t k = 0; k < valid_idx.size(); ++k) {
    anomalies.push_back(x_valid[k * kModelWidth + kAnomalyColumn]);
    labels.push_back(y_valid[k] > 0.5f);
  }
  report.bundle.calibration = Calibration::Fit(margins, anomalies, labels, attempt_inputs);
  phase("calibration fitted");

  // Operating point: chosen by the alert metrics of the validation slice, the same scoring the
  // backtest reports.
  std::vector<ScoredDay> valid_rows;
  std::vector<float> risks;
  for (size_t k = 0; k < valid_idx.size(); ++k) {
    ScoredDay r = set.rows[valid_idx[k]];
    r.risk = static_cast<float>(report.bundle.calibration.Apply(
        margins[k], anomalies[k], attempt_inputs.empty() ? AttemptInput{} : attempt_inputs[k]));
    risks.push_back(r.risk);
    valid_rows.push_back(r);
  }
  std::vector<const std::vector<Episode>*> eps;
  for (const auto& e : set.episodes) eps.push_back(&e);
  const absl::Time valid_from = valid_rows.empty() ? split : std::min_element(valid_rows.begin(), valid_rows.end(), [](auto& a, auto& b) { return a.day < b.day; })->day;
  const absl::Time valid_to = set.last_day + absl::Hours(24);
  // Out-of-fold blocks (TrainOptions::oof_folds) before the validation slice.
  std::vector<ScoredDay> pooled_rows;
  absl::Time pooled_from = valid_from;
  if (options.oof_folds > 0 && !in_sample) {
    ASSIGN_OR_RETURN(OutOfFold oof, OutOfFoldRows(set, options, params, split, valid_days, &xgb_time.seconds,
                                                  &xgb_time.cpu_seconds));
    pooled_rows = std::move(oof.rows);
    if (!pooled_rows.empty()) pooled_from = oof.from;
    if (options.progress) {
      options.progress(StrCat("out-of-fold operating point: ", pooled_rows.size(), " block cert-days from ",
                              FormatRfc3339(pooled_from), " pooled with the validation slice"));
    }
    phase("out-of-fold models for the operating point");
  }
  double threshold;
  if (!pooled_rows.empty()) {
    pooled_rows.insert(pooled_rows.end(), valid_rows.begin(), valid_rows.end());
    std::vector<float> pooled_risks;
    for (const ScoredDay& r : pooled_rows) pooled_risks.push_back(r.risk);
    const AlertCurve pooled(pooled_rows, eps, pooled_from, valid_to, options.horizon);
    threshold = ChooseOperatingPoint(pooled, ThresholdCandidates(pooled_risks), options.operating_point).threshold;
  } else {
    const AlertCurve curve(valid_rows, eps, valid_from, valid_to, options.horizon);
    threshold = ChooseOperatingPoint(curve, ThresholdCandidates(risks), options.operating_point).threshold;
  }
  report.pooled_rows = std::move(pooled_rows);
  report.pooled_from = pooled_from;
  // The ranking metrics (PR-AUC, Brier) do not depend on the threshold: computed once.
  for (auto& r : valid_rows) r.alert = r.risk >= threshold;
  report.validation = Evaluate(valid_rows, eps, valid_from, valid_to, options.horizon);
  report.validation_rows = std::move(valid_rows);
  report.validation_from = valid_from;
  report.validation_to = valid_to;
  if (options.progress) {
    options.progress(StrCat("validation: PR-AUC ", report.validation.pr_auc, ", Brier ", report.validation.brier,
                            ", recall ", report.validation.recall, ", precision ", report.validation.precision,
                            " at threshold ", threshold));
  }
  phase("operating point (threshold search)");

  // Survival (AFT): time to the next onset, right-censored at --until.
  if (options.survival) {
    std::vector<float> lower, upper;
    for (size_t i : train_idx) { lower.push_back(set.time_lower[i]); upper.push_back(set.time_upper[i]); }
    RETURN_IF_ERROR(xgb_time([&] { return d_train.SetFloat("label_lower_bound", lower); }));
    RETURN_IF_ERROR(xgb_time([&] { return d_train.SetFloat("label_upper_bound", upper); }));
    const xgb::DMatrix* survival_cache[] = {&d_train};
    ASSIGN_OR_RETURN(xgb::Booster aft, xgb_time([&] { return xgb::Booster::Create(survival_cache); }));
    std::vector<float> observed;
    for (size_t k = 0; k < lower.size(); ++k) if (std::isfinite(upper[k])) observed.push_back(lower[k]);
    std::nth_element(observed.begin(), observed.begin() + observed.size() / 2, observed.end());
    const double typical = observed.empty() ? 30.0 : std::max(0.5f, observed[observed.size() / 2]);
    report.survival_params = {
        {"objective", "survival:aft"}, {"eval_metric", "aft-nloglik"}, {"aft_loss_distribution", "logistic"},
        {"aft_loss_distribution_scale", "1.0"}, {"tree_method", "hist"}, {"max_depth", "4"}, {"eta", "0.1"},
        {"nthread", std::to_string(options.threads)}, {"base_score", std::to_string(typical)},
        {"max_bin", "128"}, {"verbosity", "0"}, {"seed", std::to_string(options.seed)}};
    for (const auto& [k, v] : report.survival_params) RETURN_IF_ERROR(aft.SetParam(k, v));
    for (int round = 0; round < 60; ++round) RETURN_IF_ERROR(xgb_time([&] { return aft.UpdateOneIter(round, d_train); }));
    ASSIGN_OR_RETURN(report.bundle.survival_ubj, xgb_time([&] { return aft.SaveUbj(); }));
  }
  phase("AFT survival model");

  ModelInfo& info = report.bundle.info;
  info.schema_id = ModelSchemaId();
  info.feature_names = ModelFeatureNames();
  info.train_from = set.first_day;
  info.train_until = set.until;
  info.horizon = options.horizon;
  info.algorithm = rf ? "rf" : "gbtree";
  info.alert_threshold = threshold;
  info.metrics_json = StrCat("{\"validation\":", MetricsToJson(report.validation), ",\"validation_from\":\"",
                             FormatRfc3339(valid_from), "\",\"min_alert_precision\":", options.operating_point.min_precision,
                             ",\"precision_wilson_z\":", options.operating_point.wilson_z, ",\"oof_folds\":", report.pooled_rows.empty() ? 0 : options.oof_folds, ",\"rounds\":", report.rounds, ",\"train_rows\":",
                             train_idx.size(), ",\"valid_rows\":", valid_idx.size(), ",\"scale_pos_weight\":",
                             pos_weight, ",\"base_score\":", base_score, ",\"calibration\":[",
                             report.bundle.calibration.a, ",", report.bundle.calibration.b, ",",
                             report.bundle.calibration.c, ",", report.bundle.calibration.d_in, ",",
                             report.bundle.calibration.d_out, ",", report.bundle.calibration.e,
                             "],\"attempt_rows\":", report.attempt_rows, ",\"attempt_failures\":",
                             report.attempt_failures, ",\"attempt_model\":", report.bundle.attempt_ubj.empty() ? "false" : "true", "}");
  report.xgboost_seconds = xgb_time.seconds;
  report.xgboost_cpu_seconds = xgb_time.cpu_seconds;
  report.total_seconds = Seconds(start);
  report.total_cpu_seconds = ProcessCpuSeconds() - start_cpu;
  return report;
}

}  // namespace certcast
