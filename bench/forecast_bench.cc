// Forecast speed benchmark (docs/forecast.md, "Speed").
//
// 1. Scoring: builds a FleetState of --lineages synthetic lineages (config, certificate, DNS,
//    HTTP-01 probes, clock, disk, CA probes; some failing), then times Forecaster::ScoreState
//    without reasons — features for every lineage, anomaly score, classifier and survival
//    prediction, calibration — on --threads threads. Target: 1,000,000 lineages <= 5 s on 2 cores.
// 2. Training overhead (with --db): builds the training matrix from a store, times TrainModel,
//    then XGBoost alone on the same matrix with the same parameters and rounds, and prints the
//    overhead. Target: <= 10 %.
//
// Usage: bench_forecast --model FILE [--lineages N] [--threads T] [--db DB --until TS]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/strings.h"
#include "core/time.h"
#include "features/fleet_state.h"
#include "model/forecaster.h"
#include "model/model.h"
#include "model/xgb.h"
#include "store/store.h"

using namespace certcast;

namespace {

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Status BuildFleet(FleetState& state, int64_t lineages, absl::Time start, int days) {
  std::mt19937_64 rng(42);
  const char* cas[] = {"https://acme-v02.api.letsencrypt.org/directory", "https://acme.zerossl.com/v2/DV90"};
  // Events must be applied in ts order: per day, every lineage's events at increasing offsets.
  for (int d = 0; d < days; ++d) {
    const absl::Time day = start + absl::Hours(24) * d;
    for (int64_t l = 0; l < lineages; ++l) {
      const absl::Time t = day + absl::Microseconds(l * 80);  // spread over ~80 s per day per 1M
      const std::string cert = StrCat("c", l);
      const std::string name = StrCat("www.site", l, ".example.com");
      const std::string host = StrCat("web", l / 4, ".org", l / 64, ".example.net");
      if (d == 0) {
        ConfigEvent c;
        c.cert = cert;
        c.host = host;
        c.names = {name};
        c.client = static_cast<Client>(l % 5);
        c.ca = cas[l % 2];
        c.challenge = l % 3 == 0 ? Challenge::kDns01 : Challenge::kHttp01;
        c.ari = l % 2 == 0;
        RETURN_IF_ERROR(state.Apply(Event{t, c}));
        IssuedEvent i;
        i.cert = cert;
        i.serial = StrCat(l);
        i.not_before = start - absl::Hours(24) * static_cast<int>(rng() % 80);
        i.not_after = i.not_before + absl::Hours(24 * 90);
        i.ca = c.ca;
        RETURN_IF_ERROR(state.Apply(Event{t, i}));
      }
      DnsEvent a;
      a.name = name;
      a.values = {StrCat("198.51.", l % 250, ".", (l / 250) % 250 + (d == days - 1 && l % 97 == 0 ? 1 : 0))};
      RETURN_IF_ERROR(state.Apply(Event{t, a}));
      Http01ProbeEvent h;
      h.name = name;
      h.outcome = (l % 53 == 0 && d >= days - 3) ? ProbeOutcome::kError : ProbeOutcome::kOk;
      RETURN_IF_ERROR(state.Apply(Event{t, h}));
      if (l % 4 == 0) {
        ClockEvent c;
        c.host = host;
        c.offset_ms = static_cast<double>(rng() % 200);
        RETURN_IF_ERROR(state.Apply(Event{t, c}));
        HostEvent he;
        he.host = host;
        he.disk_total_bytes = 100'000'000'000;
        he.disk_free_bytes = 20'000'000'000 - d * 100'000'000 * static_cast<int64_t>(l % 7);
        RETURN_IF_ERROR(state.Apply(Event{t, he}));
      }
    }
    for (const char* ca : cas) {
      CaProbeEvent p;
      p.ca = ca;
      p.latency_ms = 100 + d;
      RETURN_IF_ERROR(state.Apply(Event{day + absl::Hours(23), p}));
    }
  }
  return OkStatus();
}

int Scoring(const std::string& model, int64_t lineages, int threads) {
  auto forecaster = Forecaster::Load(model);
  if (!forecaster.ok()) {
    std::fprintf(stderr, "%s\n", forecaster.status().ToString().c_str());
    return 1;
  }
  FleetState state;
  const absl::Time start = *ParseRfc3339("2026-06-01T00:00:00Z");
  const int days = 5;
  auto t0 = std::chrono::steady_clock::now();
  Status built = BuildFleet(state, lineages, start, days);
  if (!built.ok()) {
    std::fprintf(stderr, "%s\n", built.ToString().c_str());
    return 1;
  }
  std::printf("fleet state: %lld lineages, %d days of telemetry applied in %.2f s\n",
              static_cast<long long>(lineages), days, Since(t0));
  const absl::Time at = start + absl::Hours(24) * days;
  ScoreOptions options;
  options.with_reasons = false;
  options.threads = threads;
  for (int run = 0; run < 3; ++run) {
    t0 = std::chrono::steady_clock::now();
    auto scored = forecaster->ScoreState(state, at, options);
    const double seconds = Since(t0);
    if (!scored.ok()) {
      std::fprintf(stderr, "%s\n", scored.status().ToString().c_str());
      return 1;
    }
    size_t alerts = 0;
    for (const auto& f : *scored) alerts += f.alert;
    std::printf("score run %d: %zu lineages in %.3f s (%.0f lineages/s) on %d threads, %zu alerts\n", run + 1,
                scored->size(), seconds, scored->size() / seconds, threads, alerts);
  }
  return 0;
}

int Training(const std::string& db, const std::string& until_text, int threads) {
  StoreOptions store_options;
  store_options.create_if_missing = false;
  auto store = Store::OpenSqlite(db, store_options);
  if (!store.ok()) { std::fprintf(stderr, "%s\n", store.status().ToString().c_str()); return 1; }
  const absl::Time until = *ParseRfc3339(until_text);
  EventFilter filter;
  filter.until = until;
  auto events = (*store)->LoadEvents(filter);
  if (!events.ok()) { std::fprintf(stderr, "%s\n", events.status().ToString().c_str()); return 1; }
  TrainOptions options;
  options.threads = threads;
  auto t0 = std::chrono::steady_clock::now();
  auto set = BuildTrainingSet(*events, until, options);
  if (!set.ok()) { std::fprintf(stderr, "%s\n", set.status().ToString().c_str()); return 1; }
  const double build_seconds = Since(t0);
  const size_t rows = set->size();
  t0 = std::chrono::steady_clock::now();
  auto report = TrainModel(*set, options);
  if (!report.ok()) { std::fprintf(stderr, "%s\n", report.status().ToString().c_str()); return 1; }
  const double train_seconds = Since(t0);
  // XGBoost alone: the same time-ordered split TrainModel makes (same formula), the same
  // parameters, the same number of rounds it ran (best + patience), plus the AFT rounds.
  const int rounds = report->rounds;
  const int64_t days = (set->last_day - set->first_day) / absl::Hours(24) + 1;
  const int64_t valid_days = std::max<int64_t>(1, std::llround(days * options.validation_fraction));
  const absl::Time split = set->last_day - absl::Hours(24) * (valid_days - 1);
  std::vector<float> xt, xv, yt, yv, wt, lower, upper;
  double positives = 0;
  for (size_t i = 0; i < rows; ++i) {
    const bool valid = set->rows[i].day >= split;
    if (!valid && set->rows[i].day + options.horizon > split) continue;
    auto& x = valid ? xv : xt;
    x.insert(x.end(), set->x.begin() + i * kModelWidth, set->x.begin() + (i + 1) * kModelWidth);
    (valid ? yv : yt).push_back(set->y[i]);
    if (!valid) {
      lower.push_back(set->time_lower[i]);
      upper.push_back(set->time_upper[i]);
      wt.push_back(set->w[i]);
      positives += set->y[i];
    }
  }
  t0 = std::chrono::steady_clock::now();
  auto dt = xgb::DMatrix::Dense(xt, yt.size(), kModelWidth, threads);
  auto dv = xgb::DMatrix::Dense(xv, yv.size(), kModelWidth, threads);
  if (!dt.ok() || !dv.ok()) return 1;
  (void)dt->SetFloat("label", yt);
  (void)dt->SetFloat("weight", wt);
  (void)dv->SetFloat("label", yv);
  const xgb::DMatrix* cache[] = {&*dt, &*dv};
  auto booster = xgb::Booster::Create(cache);
  if (!booster.ok()) return 1;
  const double weight = std::clamp(std::sqrt((yt.size() - positives) / std::max(1.0, positives)), 1.0, 30.0);
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"objective", "binary:logistic"}, {"tree_method", "hist"}, {"nthread", std::to_string(threads)},
           {"base_score", "0.05"}, {"scale_pos_weight", std::to_string(weight)}, {"eval_metric", "aucpr"},
           {"max_bin", "128"}, {"eta", "0.05"}, {"max_depth", "4"}, {"min_child_weight", "5"},
           {"subsample", "0.8"}, {"colsample_bytree", "0.8"}, {"lambda", "5"}, {"verbosity", "0"}}) {
    (void)booster->SetParam(k, v);
  }
  for (int r = 0; r < rounds; ++r) {
    (void)booster->UpdateOneIter(r, *dt);
    if (r % 50 == 49 || r + 1 == rounds) (void)booster->Eval(r, *dv, "valid");
  }
  (void)dt->SetFloat("label_lower_bound", lower);
  (void)dt->SetFloat("label_upper_bound", upper);
  const xgb::DMatrix* aft_cache[] = {&*dt};
  auto aft = xgb::Booster::Create(aft_cache);
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"objective", "survival:aft"}, {"aft_loss_distribution", "logistic"}, {"tree_method", "hist"},
           {"nthread", std::to_string(threads)}, {"base_score", "30"}, {"max_depth", "4"}, {"eta", "0.1"},
           {"max_bin", "128"}, {"verbosity", "0"}}) {
    (void)aft->SetParam(k, v);
  }
  for (int r = 0; r < 60; ++r) (void)aft->UpdateOneIter(r, *dt);
  const double xgb_alone = Since(t0);
  std::printf("training matrix: %zu rows x %d columns built in %.2f s (features, not part of the overhead)\n", rows,
              kModelWidth, build_seconds);
  std::printf("TrainModel: %.2f s (of which inside XGBoost calls %.2f s), %d rounds + 60 AFT\n",
              train_seconds, report->xgboost_seconds, report->rounds);
  for (const auto& [name, seconds] : report->phases) std::printf("  TrainModel step: %-52s %6.2f s\n", name.c_str(), seconds);
  std::printf("XGBoost alone on the same matrix, same rounds: %.2f s\n", xgb_alone);
  std::printf("overhead of TrainModel over XGBoost alone: %.1f %%\n", 100.0 * (train_seconds - xgb_alone) / xgb_alone);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, db, until;
  int64_t lineages = 1'000'000;
  int threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--model")) model = argv[i + 1];
    else if (!std::strcmp(argv[i], "--lineages")) lineages = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--db")) db = argv[i + 1];
    else if (!std::strcmp(argv[i], "--until")) until = argv[i + 1];
  }
  if (model.empty() && db.empty()) {
    std::fprintf(stderr, "usage: bench_forecast --model FILE [--lineages N] [--threads T] [--db DB --until TS]\n");
    return 2;
  }
  int rc = 0;
  if (!model.empty()) rc |= Scoring(model, lineages, threads);
  if (!db.empty()) rc |= Training(db, until, threads);
  return rc;
}
