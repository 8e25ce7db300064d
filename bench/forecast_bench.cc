// Forecast speed benchmark (docs/forecast.md, "Speed").
//
// 1. Scoring: builds a FleetState of --lineages synthetic lineages (config, certificate, DNS,
//    HTTP-01 probes, clock, disk, CA probes; some failing), then times Forecaster::ScoreState
//    without reasons — features for every lineage, anomaly score, classifier and survival
//    prediction, calibration — on --threads threads. Target: 1,000,000 lineages <= 5 s on 2 cores.
// 2. Training overhead (with --db): builds the training matrix from a store, then --pairs times
//    TrainModel and XGBoost alone on the same matrix with the same parameters and rounds, back to
//    back in alternating order, and prints the paired overheads (wall and process CPU), their
//    median and range, and whether every run gave the same model. Target: <= 10 %.
//
// Usage: bench_forecast --model FILE [--lineages N] [--threads T]
//                       [--db DB --until TS [--pairs 5] [--write-model FILE] [--study-to TS [--truth FILE]
//                        [--oof-folds N [--oof-rounds R[,R...]]]]]
// 3. Operating-point study (with --db and --study-to): see Study below.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/strings.h"
#include "core/time.h"
#include "features/fleet_state.h"
#include "model/backtest.h"
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

struct Timed {
  double wall = 0, cpu = 0;
};

template <typename Fn>
Timed Time(Fn fn) {
  const auto wall = std::chrono::steady_clock::now();
  const double cpu = ProcessCpuSeconds();
  fn();
  return {Since(wall), ProcessCpuSeconds() - cpu};
}

// XGBoost alone: the matrices, the classifier with TrainModel's parameters and round count (and
// the validation evaluation every 50 rounds that `certcast train` logs), then the AFT rounds.
// Errors are ignored: TrainModel ran the same calls successfully just before.
struct XgbAlone {
  std::vector<float> xt, xv, yt, yv, wt, lower, upper;
};

void RunXgbAlone(const XgbAlone& m, const TrainReport& report, int threads) {
  auto dt = xgb::DMatrix::Dense(m.xt, m.yt.size(), kModelWidth, threads);
  auto dv = xgb::DMatrix::Dense(m.xv, m.yv.size(), kModelWidth, threads);
  if (!dt.ok() || !dv.ok()) return;
  (void)dt->SetFloat("label", m.yt);
  (void)dt->SetFloat("weight", m.wt);
  (void)dv->SetFloat("label", m.yv);
  const xgb::DMatrix* cache[] = {&*dt, &*dv};
  auto booster = xgb::Booster::Create(cache);
  if (!booster.ok()) return;
  for (const auto& [k, v] : report.classifier_params) (void)booster->SetParam(k, v);
  for (int r = 0; r < report.rounds; ++r) {
    (void)booster->UpdateOneIter(r, *dt);
    if (r % 50 == 49 || r + 1 == report.rounds) (void)booster->Eval(r, *dv, "valid");
  }
  (void)booster->SaveUbj();
  if (report.survival_params.empty()) return;
  (void)dt->SetFloat("label_lower_bound", m.lower);
  (void)dt->SetFloat("label_upper_bound", m.upper);
  const xgb::DMatrix* aft_cache[] = {&*dt};
  auto aft = xgb::Booster::Create(aft_cache);
  if (!aft.ok()) return;
  for (const auto& [k, v] : report.survival_params) (void)aft->SetParam(k, v);
  for (int r = 0; r < 60; ++r) (void)aft->UpdateOneIter(r, *dt);
  (void)aft->SaveUbj();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : (v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2);
}

void PrintSpread(const char* what, const std::vector<double>& v) {
  std::printf("%s: median %.1f %%, min %.1f %%, max %.1f %% (%zu)\n", what, Median(v),
              *std::min_element(v.begin(), v.end()), *std::max_element(v.begin(), v.end()), v.size());
}

bool SameModel(const ModelBundle& a, const ModelBundle& b) {
  return a.classifier_ubj == b.classifier_ubj && a.survival_ubj == b.survival_ubj &&
         a.info.metrics_json == b.info.metrics_json && a.info.alert_threshold == b.info.alert_threshold &&
         a.anomaly.ToJson() == b.anomaly.ToJson() && a.tail.ToJson() == b.tail.ToJson();
}

// Training overhead, measured in pairs in one process: XGBoost's own time swings by +-50 % between
// runs on a shared machine, so a ratio to a separate XGBoost-alone run is mostly noise. Each pair
// runs TrainModel and XGBoost alone back to back (alternating which goes first) and the paired
// ratios are summarised; process CPU time beside wall time.
int Training(const std::string& db, const std::string& until_text, int threads, int pairs,
             const std::string& write_model) {
  StoreOptions store_options;
  store_options.create_if_missing = false;
  auto store = Store::Open(db, store_options);
  if (!store.ok()) { std::fprintf(stderr, "%s\n", store.status().ToString().c_str()); return 1; }
  const absl::Time until = *ParseRfc3339(until_text);
  EventFilter filter;
  filter.until = until;
  auto events = (*store)->LoadEvents(filter);
  if (!events.ok()) { std::fprintf(stderr, "%s\n", events.status().ToString().c_str()); return 1; }
  TrainOptions options;
  options.threads = threads;
  // The progress lines are dropped, but with a callback TrainModel evaluates every 50 rounds as
  // `certcast train` does (and as XGBoost alone below does).
  options.progress = [](const std::string&) {};
  auto t0 = std::chrono::steady_clock::now();
  auto set = BuildTrainingSet(*events, until, options);
  if (!set.ok()) { std::fprintf(stderr, "%s\n", set.status().ToString().c_str()); return 1; }
  std::printf("training matrix: %zu rows x %d columns built in %.2f s (features, not part of the overhead)\n",
              set->size(), kModelWidth, Since(t0));
  // A first TrainModel (not counted) fills the detector columns XGBoost alone trains on too.
  auto first = TrainModel(*set, options);
  if (!first.ok()) { std::fprintf(stderr, "%s\n", first.status().ToString().c_str()); return 1; }
  if (!write_model.empty()) {
    // For `cmp` against `certcast train` and across thread counts.
    Status written = WriteModelFile(write_model, first->bundle);
    if (!written.ok()) { std::fprintf(stderr, "%s\n", written.ToString().c_str()); return 1; }
  }
  // The same time-ordered split TrainModel makes (same formula), copied out once, untimed.
  const int64_t days = (set->last_day - set->first_day) / absl::Hours(24) + 1;
  const int64_t valid_days = std::max<int64_t>(1, std::llround(days * options.validation_fraction));
  const absl::Time split = set->last_day - absl::Hours(24) * (valid_days - 1);
  XgbAlone alone;
  for (size_t i = 0; i < set->size(); ++i) {
    const bool valid = set->rows[i].day >= split;
    if (!valid && set->rows[i].day + options.horizon > split) continue;
    auto& x = valid ? alone.xv : alone.xt;
    x.insert(x.end(), set->x.begin() + i * kModelWidth, set->x.begin() + (i + 1) * kModelWidth);
    (valid ? alone.yv : alone.yt).push_back(set->y[i]);
    if (!valid) {
      alone.lower.push_back(set->time_lower[i]);
      alone.upper.push_back(set->time_upper[i]);
      alone.wt.push_back(set->w[i]);
    }
  }
  std::vector<double> wall_ratio, cpu_ratio, inside_wall, inside_cpu;
  bool identical = true;
  for (int pair = 0; pair < pairs; ++pair) {
    StatusOr<TrainReport> report = InternalError("not run");
    auto train = [&] { report = TrainModel(*set, options); };
    auto xgb_only = [&] { RunXgbAlone(alone, *first, threads); };
    Timed a, b;
    if (pair % 2 == 0) {
      b = Time(xgb_only);
      a = Time(train);
    } else {
      a = Time(train);
      b = Time(xgb_only);
    }
    if (!report.ok()) { std::fprintf(stderr, "%s\n", report.status().ToString().c_str()); return 1; }
    identical = identical && SameModel(report->bundle, first->bundle);
    wall_ratio.push_back(100.0 * (a.wall - b.wall) / b.wall);
    cpu_ratio.push_back(100.0 * (a.cpu - b.cpu) / b.cpu);
    inside_wall.push_back(100.0 * (report->total_seconds - report->xgboost_seconds) / report->xgboost_seconds);
    inside_cpu.push_back(100.0 * (report->total_cpu_seconds - report->xgboost_cpu_seconds) / report->xgboost_cpu_seconds);
    std::printf("pair %d (%s first): TrainModel %.2f s wall / %.2f s CPU (XGBoost calls inside it %.2f / %.2f s), "
                "XGBoost alone %.2f / %.2f s: overhead %.1f %% wall, %.1f %% CPU\n",
                pair + 1, pair % 2 == 0 ? "XGBoost alone" : "TrainModel", a.wall, a.cpu, report->xgboost_seconds,
                report->xgboost_cpu_seconds, b.wall, b.cpu, wall_ratio.back(), cpu_ratio.back());
    for (const TrainPhase& p : report->phases) {
      std::printf("  TrainModel step: %-52s %6.3f s wall %6.3f s CPU\n", p.name.c_str(), p.seconds, p.cpu_seconds);
    }
  }
  std::printf("TrainModel: %d rounds + %d AFT, %d threads; model identical in every run: %s\n", first->rounds,
              first->survival_params.empty() ? 0 : 60, threads, identical ? "yes" : "NO");
  PrintSpread("overhead of TrainModel over XGBoost alone, paired, wall", wall_ratio);
  PrintSpread("overhead of TrainModel over XGBoost alone, paired, process CPU", cpu_ratio);
  PrintSpread("TrainModel outside its XGBoost calls / inside them, wall", inside_wall);
  PrintSpread("TrainModel outside its XGBoost calls / inside them, process CPU", inside_cpu);
  return identical ? 0 : 1;
}

// Operating-point study (--study-to): trains on events before --until as `certcast train` does,
// backtests [until, study-to) as `certcast backtest` does, then for each threshold rule picks the
// threshold from the validation slice only (time-ordered, before --until) and reports what that
// threshold gives on the backtest days. The backtest risks do not depend on the threshold, so one
// training and one backtest serve every rule.
struct NamedRule {
  const char* name;
  OperatingPointRule rule;
};

int Study(const std::string& db, const std::string& until_text, const std::string& to_text, int threads,
          const std::string& truth, int oof_folds, const std::vector<int>& oof_rounds) {
  StoreOptions store_options;
  store_options.create_if_missing = false;
  auto store = Store::Open(db, store_options);
  if (!store.ok()) { std::fprintf(stderr, "%s\n", store.status().ToString().c_str()); return 1; }
  const absl::Time until = *ParseRfc3339(until_text), to = *ParseRfc3339(to_text);
  EventFilter before;
  before.until = until;
  auto train_events = (*store)->LoadEvents(before);
  auto all_events = (*store)->LoadEvents({});
  if (!train_events.ok() || !all_events.ok()) { std::fprintf(stderr, "cannot load events\n"); return 1; }
  TrainOptions options;
  options.threads = threads;
  options.oof_folds = oof_folds;
  options.oof_rounds = oof_rounds.empty() ? 50 : oof_rounds.front();
  auto set = BuildTrainingSet(*train_events, until, options);
  if (!set.ok()) { std::fprintf(stderr, "%s\n", set.status().ToString().c_str()); return 1; }
  auto report = TrainModel(*set, options);
  if (!report.ok()) { std::fprintf(stderr, "%s\n", report.status().ToString().c_str()); return 1; }
  // Where training time went, the out-of-fold models apart (the issue: training no slower).
  for (const TrainPhase& p : report->phases) {
    std::printf("  train phase %-55s %8.2f s wall %8.2f s CPU\n", p.name.c_str(), p.seconds, p.cpu_seconds);
  }
  std::printf("  train total %.2f s wall, %.2f s CPU (out-of-fold folds %d, %d rounds)\n", report->total_seconds,
              report->total_cpu_seconds, oof_folds, options.oof_rounds);
  // The pool of every --oof-rounds value: the first is TrainModel's, the others are made again
  // from the same set (the fold models only; the final model does not depend on them).
  struct Pool {
    int rounds;
    std::vector<ScoredDay> rows;
    absl::Time from;
  };
  std::vector<Pool> pools;
  if (!report->pooled_rows.empty()) pools.push_back({options.oof_rounds, report->pooled_rows, report->pooled_from});
  for (size_t k = 1; k < oof_rounds.size() && !pools.empty(); ++k) {
    TrainOptions other = options;
    other.oof_rounds = oof_rounds[k];
    const auto wall = std::chrono::steady_clock::now();
    const double cpu = ProcessCpuSeconds();
    auto oof = OutOfFoldRows(*set, other, report->classifier_params, report->validation_from,
                             (report->validation_to - report->validation_from) / absl::Hours(24));
    if (!oof.ok()) { std::fprintf(stderr, "%s\n", oof.status().ToString().c_str()); return 1; }
    std::printf("  out-of-fold folds %d, %d rounds: %.2f s wall, %.2f s CPU\n", oof_folds, other.oof_rounds,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count(), ProcessCpuSeconds() - cpu);
    oof->rows.insert(oof->rows.end(), report->validation_rows.begin(), report->validation_rows.end());
    pools.push_back({other.oof_rounds, std::move(oof->rows), oof->from});
  }
  train_events->clear();
  const std::string model_path = StrCat(db, ".study.model");
  Status written = WriteModelFile(model_path, report->bundle);
  auto forecaster = written.ok() ? Forecaster::Load(model_path) : StatusOr<Forecaster>(written);
  if (!forecaster.ok()) { std::fprintf(stderr, "%s\n", forecaster.status().ToString().c_str()); return 1; }
  std::map<std::string, std::map<absl::Time, std::string>> causes;
  BacktestOptions backtest;
  backtest.from = until;
  backtest.to = to;
  backtest.threads = threads;
  if (!truth.empty()) {
    auto read = ReadCauses(truth);
    if (!read.ok()) { std::fprintf(stderr, "%s\n", read.status().ToString().c_str()); return 1; }
    causes = std::move(*read);
    backtest.causes = &causes;
  }
  std::stringstream csv;
  auto result = RunBacktest(*forecaster, *all_events, backtest, csv);
  if (!result.ok()) { std::fprintf(stderr, "%s\n", result.status().ToString().c_str()); return 1; }
  // Kept beside the store for per-cause looks at the same risks (day,cert,risk,alert).
  std::ofstream(StrCat(db, ".study.csv")) << csv.str();
  // The backtest rows back from the CSV; a row inside an ongoing episode never alerts (the
  // forecaster's rule), so it gets no risk here.
  const auto episodes_by_cert = ComputeEpisodes(*all_events);
  static const std::vector<Episode> kNone;
  std::map<std::string, uint32_t> index;
  std::vector<const std::vector<Episode>*> test_eps;
  std::vector<ScoredDay> test_rows;
  std::string line;
  std::getline(csv, line);  // header
  while (std::getline(csv, line)) {
    const size_t first = line.find(','), last = line.rfind(','), risk_at = line.rfind(',', last - 1);
    std::string cert = line.substr(first + 1, risk_at - first - 1);
    if (cert.size() >= 2 && cert.front() == '"') cert = cert.substr(1, cert.size() - 2);  // no quotes inside here
    auto [it, added] = index.emplace(cert, static_cast<uint32_t>(test_eps.size()));
    if (added) {
      auto e = episodes_by_cert.find(cert);
      test_eps.push_back(e == episodes_by_cert.end() ? &kNone : &e->second);
    }
    const absl::Time day = *ParseRfc3339(line.substr(0, first));
    float risk = std::stof(line.substr(risk_at + 1, last - risk_at - 1));
    if (InEpisodeAt(*test_eps[it->second], day)) risk = -INFINITY;
    test_rows.push_back({it->second, day, risk, false});
  }
  const AlertCurve test(test_rows, test_eps, FloorToDay(until), to, options.horizon);
  std::vector<const std::vector<Episode>*> valid_eps;
  for (const auto& e : set->episodes) valid_eps.push_back(&e);
  const AlertCurve valid(report->validation_rows, valid_eps, report->validation_from, report->validation_to,
                         options.horizon);
  std::vector<float> risks;
  for (const ScoredDay& r : report->validation_rows) risks.push_back(r.risk);
  const std::vector<float> candidates = ThresholdCandidates(risks);
  const ForecastMetrics& m = result->model;
  const ForecastMetrics check = test.At(static_cast<float>(result->threshold));
  std::printf("%s: test PR-AUC %.3f, Brier %.4f; at the trained threshold %.3f: recall %d/%d, precision %lld/%lld "
              "(re-scored from the CSV: %d/%d, %lld/%lld)\n",
              db.c_str(), m.pr_auc, m.brier, result->threshold, m.caught, m.episodes,
              static_cast<long long>(m.true_alerts), static_cast<long long>(m.alerts), check.caught, check.episodes,
              static_cast<long long>(check.true_alerts), static_cast<long long>(check.alerts));
  for (const auto& [name, b] : result->baselines) {
    std::printf("  rule %-70s PR-AUC %.3f Brier %.4f recall %.3f (%d/%d) precision %.3f (%lld/%lld) lead %.1f d\n",
                name.c_str(), b.pr_auc, b.brier, b.recall, b.caught, b.episodes, b.precision,
                static_cast<long long>(b.true_alerts), static_cast<long long>(b.alerts), b.median_lead_days);
  }
  const NamedRule rules[] = {
      {"recall at validation precision >= 0.4 (point estimate; default until 2026-11-28)",
       {.min_precision = 0.4, .wilson_z = 0}},
      {"best validation F1 (before 2026-11-28)", {.min_precision = 2, .wilson_z = 0}},
      {"precision >= 0.5", {.min_precision = 0.5, .wilson_z = 0}},
      {"Wilson lower bound (z=1) of precision >= 0.4 (default until 2026-12-05)", {.min_precision = 0.4, .wilson_z = 1}},
      {"Wilson lower bound (z=1.645) of precision >= 0.4", {.min_precision = 0.4, .wilson_z = 1.645}},
      {"Wilson lower bound (z=1) of precision >= 0.3", {.min_precision = 0.3, .wilson_z = 1}},
      {"precision >= 0.4 and >= 10 true alerts", {.min_precision = 0.4, .wilson_z = 0, .min_true_alerts = 10}},
      {"precision >= 0.4 at this and every stricter threshold",
       {.min_precision = 0.4, .wilson_z = 0, .contiguous = true}},
      {"Wilson (z=1) >= 0.4 at this and every stricter threshold",
       {.min_precision = 0.4, .wilson_z = 1, .contiguous = true}},
      // Ceilings (issue #14, 2026-12-05): a threshold chosen on a few validation episodes that no
      // later day reaches leaves a fleet silent.
      {"Wilson (z=1) >= 0.4 and >= 3 true alerts", {.min_precision = 0.4, .wilson_z = 1, .min_true_alerts = 3}},
      {"Wilson (z=1) >= 0.4, at most 0.4 (calibrated ceiling)", {.min_precision = 0.4, .wilson_z = 1, .max_threshold = 0.4}},
      {"Wilson (z=1) >= 0.4, at most 0.3", {.min_precision = 0.4, .wilson_z = 1, .max_threshold = 0.3}},
      {"Wilson (z=1) >= 0.4, validation recall >= 0.25", {.min_precision = 0.4, .wilson_z = 1, .min_recall = 0.25}},
      {"Wilson (z=1) >= 0.4, validation recall >= 0.4", {.min_precision = 0.4, .wilson_z = 1, .min_recall = 0.4}},
      {"Wilson (z=1) >= 0.4, at most 0.4 and validation recall >= 0.25 (default since 2026-12-05)",
       {.min_precision = 0.4, .wilson_z = 1, .max_threshold = 0.4, .min_recall = 0.25}},
  };
  // The same rules on each out-of-fold pool (fold blocks + validation slice).
  std::vector<AlertCurve> pooled;
  std::vector<std::vector<float>> pooled_candidates;
  for (const Pool& p : pools) {
    pooled.emplace_back(p.rows, valid_eps, p.from, report->validation_to, options.horizon);
    std::vector<float> risks;
    for (const ScoredDay& r : p.rows) risks.push_back(r.risk);
    pooled_candidates.push_back(ThresholdCandidates(risks));
  }
  for (const NamedRule& r : rules) {
    for (size_t k = 0; k < pools.size(); ++k) {
      const OperatingPoint op = ChooseOperatingPoint(pooled[k], pooled_candidates[k], r.rule);
      const ForecastMetrics t = test.At(static_cast<float>(op.threshold));
      std::printf("  pooled r%d: %-52s threshold %.3f%s | pooled recall %.3f (%d/%d) precision %.3f (%lld/%lld) | test recall "
                  "%.3f (%d/%d) precision %.3f (%lld/%lld) lead %.1f d\n",
                  pools[k].rounds, r.name, op.threshold, op.reached_floor ? "" : " (best F1)", op.metrics.recall, op.metrics.caught,
                  op.metrics.episodes, op.metrics.precision, static_cast<long long>(op.metrics.true_alerts),
                  static_cast<long long>(op.metrics.alerts), t.recall, t.caught, t.episodes, t.precision,
                  static_cast<long long>(t.true_alerts), static_cast<long long>(t.alerts), t.median_lead_days);
    }
    const OperatingPoint op = ChooseOperatingPoint(valid, candidates, r.rule);
    const ForecastMetrics t = test.At(static_cast<float>(op.threshold));
    std::printf("  %-60s threshold %.3f%s | validation recall %.3f (%d/%d) precision %.3f (%lld/%lld) | test recall "
                "%.3f (%d/%d) precision %.3f (%lld/%lld) lead %.1f d\n",
                r.name, op.threshold, op.reached_floor ? "" : " (best F1)", op.metrics.recall, op.metrics.caught,
                op.metrics.episodes, op.metrics.precision, static_cast<long long>(op.metrics.true_alerts),
                static_cast<long long>(op.metrics.alerts), t.recall, t.caught, t.episodes, t.precision,
                static_cast<long long>(t.true_alerts), static_cast<long long>(t.alerts), t.median_lead_days);
  }
  std::printf("  curve: threshold | validation caught/episodes true/alerts | test caught/episodes true/alerts\n");
  std::vector<float> sorted = candidates;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  for (float c : sorted) {
    const ForecastMetrics v = valid.At(c), t = test.At(c);
    std::printf("  curve: %.4f | %d/%d %lld/%lld | %d/%d %lld/%lld\n", c, v.caught, v.episodes,
                static_cast<long long>(v.true_alerts), static_cast<long long>(v.alerts), t.caught, t.episodes,
                static_cast<long long>(t.true_alerts), static_cast<long long>(t.alerts));
  }
  std::remove(model_path.c_str());
  return check.caught == m.caught && check.alerts == m.alerts && check.true_alerts == m.true_alerts ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, db, until, write_model, study_to, truth;
  int64_t lineages = 1'000'000;
  int threads = 2, pairs = 5, oof_folds = 0;
  std::vector<int> oof_rounds;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--model")) model = argv[i + 1];
    else if (!std::strcmp(argv[i], "--lineages")) lineages = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--db")) db = argv[i + 1];
    else if (!std::strcmp(argv[i], "--until")) until = argv[i + 1];
    else if (!std::strcmp(argv[i], "--pairs")) pairs = std::max(1, std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--write-model")) write_model = argv[i + 1];
    else if (!std::strcmp(argv[i], "--study-to")) study_to = argv[i + 1];
    else if (!std::strcmp(argv[i], "--truth")) truth = argv[i + 1];
    else if (!std::strcmp(argv[i], "--oof-folds")) oof_folds = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--oof-rounds")) {
      // A comma-separated list; parsing stops at the first thing that is not a number.
      char* end = argv[i + 1];
      for (const char* r = argv[i + 1]; *r != '\0'; r = end + (*end == ',')) {
        const long n = std::strtol(r, &end, 10);
        if (end == r || n <= 0) break;
        oof_rounds.push_back(static_cast<int>(n));
      }
    }
  }
  if (model.empty() && db.empty()) {
    std::fprintf(stderr, "usage: bench_forecast --model FILE [--lineages N] [--threads T] [--db DB --until TS [--pairs 5] [--write-model FILE] [--study-to TS [--truth FILE] [--oof-folds N [--oof-rounds R[,R...]]]]]\n");
    return 2;
  }
  int rc = 0;
  if (!model.empty()) rc |= Scoring(model, lineages, threads);
  if (!db.empty() && !study_to.empty()) return Study(db, until, study_to, threads, truth, oof_folds, oof_rounds);
  if (!db.empty()) rc |= Training(db, until, threads, pairs, write_model);
  return rc;
}
