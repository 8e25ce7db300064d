#include "model/model.h"
#include "model/backtest.h"

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <numeric>
#include <random>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "core/event_json.h"
#include "core/strings.h"
#include "core/time.h"
#include "features/accumulators.h"
#include "features/fleet_state.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/forecaster.h"
#include "model/metrics.h"
#include "model/recalibration.h"
#include "nlohmann/json.hpp"

namespace certcast {
namespace {

absl::Time T(const char* text) { return *ParseRfc3339(text); }
absl::Time Day(int d) { return T("2026-01-01T00:00:00Z") + absl::Hours(24) * d; }

TEST(Metrics, EpisodeRecallLeadTimeAndDeduplicatedPrecision) {
  // Lineage 0: onset on day 10 at noon; alerts on days 5, 6 (same alert, de-duplicated) and 20.
  // Lineage 1: no onset; one alert on day 3.
  std::vector<Episode> e0 = {Episode{Day(10) + absl::Hours(12), Day(12), "urn:ietf:params:acme:error:connection"}};
  std::vector<Episode> e1;
  std::vector<ScoredDay> rows;
  for (int d = 0; d < 30; ++d) {
    rows.push_back({0, Day(d), d == 5 || d == 6 || d == 20 ? 0.9f : 0.1f, d == 5 || d == 6 || d == 20});
    rows.push_back({1, Day(d), d == 3 ? 0.8f : 0.05f, d == 3});
  }
  ForecastMetrics m = Evaluate(rows, {&e0, &e1}, Day(0), Day(30), absl::Hours(24 * 7));
  EXPECT_EQ(m.episodes, 1);
  EXPECT_EQ(m.caught, 1);
  EXPECT_NEAR(m.lead_days.at(0), 5.5, 1e-9);  // first alert in [onset - 7d, onset - 1d] is day 5
  EXPECT_EQ(m.alerts, 3);                      // day 5 (6 is a repeat), day 20, lineage 1's day 3
  EXPECT_EQ(m.true_alerts, 1);
  EXPECT_EQ(m.by_cause["connection"].caught, 1);
  // Only day 11 is inside the episode (onset day 10 noon, success at day 12 00:00).
  EXPECT_EQ(m.scored_days, 60 - 1);
}

TEST(Metrics, AlertCurveAgreesWithEvaluateAlertsAtEveryThreshold) {
  // 40 lineages x 60 days in shuffled order, random risks (with ties and a NaN), episodes some of
  // whose alert windows fall outside [from, to): every alert metric must match EvaluateAlerts.
  std::mt19937_64 rng(11);
  std::vector<std::vector<Episode>> episodes(41);  // lineage 40 has an episode but no rows
  for (size_t li = 0; li < episodes.size(); ++li) {
    for (int d = static_cast<int>(rng() % 12); d < 75; d += 9 + static_cast<int>(rng() % 20)) {
      const char* error = li % 3 ? "urn:ietf:params:acme:error:dns" : "urn:ietf:params:acme:error:rateLimited";
      episodes[li].push_back({Day(d) + absl::Hours(rng() % 24), Day(d + 1 + static_cast<int>(rng() % 3)), error});
    }
  }
  std::vector<ScoredDay> rows;
  for (uint32_t li = 0; li < 40; ++li) {
    for (int d = 0; d < 60; ++d) {
      const float risk = li == 7 && d == 30 ? NAN : static_cast<float>(rng() % 50) / 50.0f;
      rows.push_back({li, Day(d), risk, false});
    }
  }
  std::shuffle(rows.begin(), rows.end(), rng);
  std::vector<const std::vector<Episode>*> eps;
  for (const auto& e : episodes) eps.push_back(&e);
  const absl::Time from = Day(10), to = Day(50);
  const absl::Duration horizon = absl::Hours(24 * 7);
  const AlertCurve curve(rows, eps, from, to, horizon);
  int thresholds_with_alerts = 0;
  for (float t : {0.0f, 0.02f, 0.3f, 0.5f, 0.9f, 0.98f, 1.5f}) {
    for (ScoredDay& r : rows) r.alert = r.risk >= t;
    const ForecastMetrics want = EvaluateAlerts(rows, eps, from, to, horizon);
    const ForecastMetrics got = curve.At(t);
    thresholds_with_alerts += want.alerts > 0;
    EXPECT_EQ(got.episodes, want.episodes) << t;
    EXPECT_EQ(got.caught, want.caught) << t;
    EXPECT_EQ(got.alerts, want.alerts) << t;
    EXPECT_EQ(got.true_alerts, want.true_alerts) << t;
    EXPECT_EQ(got.lead_days, want.lead_days) << t;
    EXPECT_EQ(got.f1, want.f1) << t;
    EXPECT_EQ(got.median_lead_days, want.median_lead_days) << t;
    ASSERT_EQ(got.by_cause.size(), want.by_cause.size()) << t;
    for (const auto& [cause, c] : want.by_cause) {
      EXPECT_EQ(got.by_cause.at(cause).episodes, c.episodes) << t << " " << cause;
      EXPECT_EQ(got.by_cause.at(cause).caught, c.caught) << t << " " << cause;
    }
  }
  EXPECT_GE(thresholds_with_alerts, 5);  // not vacuous: most thresholds raise alerts
}

TEST(OperatingPoint, WilsonBoundRefusesAFloorClearedByFewAlerts) {
  EXPECT_NEAR(WilsonLowerBound(30, 75, 1), 0.3451, 1e-4);
  EXPECT_NEAR(WilsonLowerBound(10, 10, 1.645), 0.7870, 1e-4);
  EXPECT_EQ(WilsonLowerBound(0, 0, 1), 0);
  // 12 lineages fail on day 20 and 10 never do. At risk 0.9 10 of the failing ones alert on day 15
  // (10/10 true); at 0.5 the other 2 and the 10 healthy ones alert too (12/22 = 0.545 true, all
  // 12 episodes caught).
  std::vector<std::vector<Episode>> episodes(22);
  std::vector<ScoredDay> rows;
  for (uint32_t li = 0; li < 22; ++li) {
    if (li < 12) episodes[li].push_back({Day(20) + absl::Hours(6), Day(21), "urn:ietf:params:acme:error:dns"});
    for (int d = 0; d < 30; ++d) rows.push_back({li, Day(d), d == 15 ? (li < 10 ? 0.9f : 0.5f) : 0.01f, false});
  }
  std::vector<const std::vector<Episode>*> eps;
  for (const auto& e : episodes) eps.push_back(&e);
  const AlertCurve curve(rows, eps, Day(0), Day(30), absl::Hours(24 * 7));
  struct Case { OperatingPointRule rule; double threshold; int caught; bool floor; };
  const Case cases[] = {
      {{.min_precision = 0.4, .wilson_z = 0}, 0.5, 12, true},     // point estimate 0.545 clears 0.4
      {{.min_precision = 0.4, .wilson_z = 1.645}, 0.9, 10, true},  // its lower bound (0.37) does not
      {{.min_precision = 0.4, .wilson_z = 0, .min_true_alerts = 11}, 0.5, 12, true},
      {{.min_precision = 0.4, .wilson_z = 0, .min_true_alerts = 13}, 0.9, 10, false},  // none: best F1
      // Ceilings only ever lower the chosen threshold.
      {{.min_precision = 0.4, .wilson_z = 1.645, .max_threshold = 0.5}, 0.5, 12, true},
      {{.min_precision = 0.4, .wilson_z = 0, .max_threshold = 0.95}, 0.5, 12, true},
      {{.min_precision = 0.4, .wilson_z = 1.645, .min_recall = 1}, 0.5, 12, true},    // only 0.5 catches all 12
      {{.min_precision = 0.4, .wilson_z = 1.645, .min_recall = 0.5}, 0.9, 10, true},  // 0.9 catches 10 of 12
  };
  for (const Case& c : cases) {
    const OperatingPoint op = ChooseOperatingPoint(curve, {0.9f, 0.5f}, c.rule);
    EXPECT_FLOAT_EQ(op.threshold, c.threshold) << c.rule.wilson_z << " " << c.rule.min_true_alerts;
    EXPECT_EQ(op.metrics.caught, c.caught) << c.rule.wilson_z << " " << c.rule.min_true_alerts;
    EXPECT_EQ(op.reached_floor, c.floor) << c.rule.wilson_z << " " << c.rule.min_true_alerts;
  }
}

TEST(Metrics, AveragePrecisionOfAPerfectAndARandomRanking) {
  EXPECT_DOUBLE_EQ(AveragePrecision({0.9f, 0.8f, 0.1f, 0.0f}, {1, 1, 0, 0}), 1.0);
  EXPECT_NEAR(AveragePrecision({0.0f, 0.1f, 0.8f, 0.9f}, {1, 1, 0, 0}), (1.0 / 3 + 2.0 / 4) / 2, 1e-9);
}

TEST(Calibration, RecoversAKnownLogisticMapping) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> n(0, 2);
  std::vector<float> margins, anomalies;
  std::vector<uint8_t> labels;
  for (int i = 0; i < 20000; ++i) {
    const double m = n(rng);
    margins.push_back(static_cast<float>(m));
    anomalies.push_back(0.5f);
    const double p = 1 / (1 + std::exp(-(0.5 * m - 2)));
    labels.push_back(std::uniform_real_distribution<double>(0, 1)(rng) < p);
  }
  Calibration c = Calibration::Fit(margins, anomalies, labels);
  EXPECT_NEAR(c.a, 0.5, 0.08);
  EXPECT_NEAR(c.b + 0.5 * c.c, -2, 0.15);
}

TEST(Calibration, WeighsTheAttemptModelInAndOutOfTheWindow) {
  // Outcomes drawn from a known blend: the attempt logit counts fully when the next attempt is in
  // the horizon, a tenth outside it; the fit must find both weights and the in-window offset.
  std::mt19937_64 rng(5);
  std::normal_distribution<double> n(0, 1.5);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<float> margins, anomalies;
  std::vector<uint8_t> labels;
  std::vector<AttemptInput> attempts;
  for (int i = 0; i < 40000; ++i) {
    const double m = n(rng), logit = n(rng) - 2;
    const bool in = u(rng) < 0.3;
    margins.push_back(static_cast<float>(m));
    anomalies.push_back(0.5f);
    attempts.push_back({logit, in});
    const double z = 0.4 * m - 3 + (in ? 1.0 * logit + 0.5 : 0.1 * logit);
    labels.push_back(u(rng) < 1 / (1 + std::exp(-z)));
  }
  const Calibration c = Calibration::Fit(margins, anomalies, labels, attempts);
  EXPECT_NEAR(c.a, 0.4, 0.08);
  EXPECT_NEAR(c.d_in, 1.0, 0.15);
  EXPECT_NEAR(c.d_out, 0.1, 0.15);
  EXPECT_NEAR(c.e, 0.5, 0.3);
  // Without an attempt model the terms stay 0 and Apply ignores an attempt input.
  const Calibration plain = Calibration::Fit(margins, anomalies, labels);
  EXPECT_EQ(plain.d_in, 0);
  EXPECT_EQ(plain.d_out, 0);
  EXPECT_EQ(plain.e, 0);
  EXPECT_EQ(plain.Apply(1, 0.5, {-1, true}), plain.Apply(1, 0.5));
}

TEST(AttemptModel, ComposesTheAttemptWithTheScheduleAndMasksTiming) {
  std::vector<float> features(kFeatureCount, 2.0f);
  features[kDaysToNextAttempt] = 3;
  const AttemptInput in = ComposeAttempt(0.5, features.data(), absl::Hours(24 * 7));
  EXPECT_TRUE(in.in_window);
  EXPECT_NEAR(in.logit, 0, 1e-9);
  features[kDaysToNextAttempt] = 8;
  EXPECT_FALSE(ComposeAttempt(0.5, features.data(), absl::Hours(24 * 7)).in_window);
  features[kDaysToNextAttempt] = kMissing;  // no certificate: no schedule
  EXPECT_FALSE(ComposeAttempt(0.5, features.data(), absl::Hours(24 * 7)).in_window);
  // A probability of 0 or 1 stays a finite logit.
  EXPECT_TRUE(std::isfinite(ComposeAttempt(0, features.data(), absl::Hours(1)).logit));
  EXPECT_TRUE(std::isfinite(ComposeAttempt(1, features.data(), absl::Hours(1)).logit));
  std::vector<float> row(kAttemptWidth);
  AttemptRowFromFeatures(features.data(), true, row.data());
  EXPECT_TRUE(std::isnan(row[kDaysToDue]));
  EXPECT_TRUE(std::isnan(row[kDaysToExpiry]));
  EXPECT_EQ(row[kHttp01FailDays4], 2.0f);
  EXPECT_EQ(row[kAttemptDryRunColumn], 1.0f);
}

TEST(IsolationForest, ScoresAnOutlierAboveOrdinaryRows) {
  std::mt19937_64 rng(5);
  std::normal_distribution<float> n(0, 1);
  const size_t cols = 3;
  std::vector<float> rows;
  for (int i = 0; i < 2000; ++i) for (size_t c = 0; c < cols; ++c) rows.push_back(n(rng));
  const int columns[] = {0, 1, 2};
  IsolationForest forest = IsolationForest::Fit(rows, cols, columns, {});
  const float ordinary[] = {0.1f, -0.2f, 0.0f};
  const float outlier[] = {8.0f, -7.0f, 9.0f};
  EXPECT_GT(forest.Score(outlier), 0.65);
  EXPECT_LT(forest.Score(ordinary), 0.5);
  auto back = IsolationForest::FromJson(forest.ToJson(), cols);
  ASSERT_TRUE(back.ok());
  EXPECT_DOUBLE_EQ(back->Score(outlier), forest.Score(outlier));
  auto bad = IsolationForest::FromJson(forest.ToJson(), 2);  // column 2 outside a 2-wide row
  EXPECT_EQ(bad.status().code(), StatusCode::kDataLoss);
}

TEST(IsolationForest, BlockScoringMatchesTheTreeWalkOfThePaper) {
  // Scores of many rows at once (blocks of rows, transposed columns, branchless walk) against a
  // plain walk of the stored trees: value < split goes left, path = depth + c(leaf size),
  // score = 2^(-mean path / c(sample size)). Missing values (NaN) and a row count that is not a
  // multiple of the block size included.
  std::mt19937_64 rng(17);
  std::normal_distribution<float> normal(0, 1);
  const size_t cols = 5;
  std::vector<float> rows(1000 * cols);  // row i misses column i % 7 (none when that is 5 or 6)
  for (size_t k = 0; k < rows.size(); ++k) rows[k] = k % cols == (k / cols) % 7 ? NAN : normal(rng) * (k % cols + 1);
  const int columns[] = {0, 2, 3, 4};
  IsolationForest forest = IsolationForest::Fit(rows, cols, columns, {.trees = 30, .sample_size = 64, .seed = 4});
  const auto json = nlohmann::json::parse(forest.ToJson());
  auto c = [](double size) {
    return size <= 1 ? 0.0 : size == 2 ? 1.0 : 2.0 * (std::log(size - 1) + 0.5772156649) - 2.0 * (size - 1) / size;
  };
  const size_t count = 203;
  std::vector<double> got(count);
  forest.ScoreRows(rows.data(), count, cols, got.data());
  for (size_t r = 0; r < count; ++r) {
    double total = 0;
    for (const auto& tree : json.at("trees")) {
      size_t node = 0;
      int depth = 0;
      while (tree[node][0].get<int>() >= 0) {
        const float v = rows[r * cols + tree[node][0].get<int>()];
        node = (std::isnan(v) ? -1e9f : v) < tree[node][1].get<float>() ? tree[node][2].get<size_t>()
                                                                           : tree[node][3].get<size_t>();
        ++depth;
      }
      total += depth + c(tree[node][4].get<double>());
    }
    const double want = std::pow(2.0, -(total / json.at("trees").size()) / c(64));
    EXPECT_DOUBLE_EQ(got[r], want) << r;
    EXPECT_DOUBLE_EQ(forest.Score(&rows[r * cols]), want) << r;
  }
}

TEST(TailSurprise, FlagsOneExtremeColumnInItsHarmfulDirectionOnly) {
  // Column 0: mostly 0 (a failure count), harmful when high. Column 1: free disk share around 0.5,
  // harmful when low. Column 2: not watched.
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<float> u(0.3f, 0.7f);
  const size_t cols = 3;
  std::vector<float> rows;
  for (int i = 0; i < 5000; ++i) {
    rows.push_back(i % 100 == 0 ? 1.0f : 0.0f);
    rows.push_back(u(rng));
    rows.push_back(u(rng));
  }
  const TailSurprise::Column columns[] = {{0, 1}, {1, -1}};
  TailSurprise tail = TailSurprise::Fit(rows, cols, columns, 4096, 1);
  struct Case { float row[3]; int which; double min, max; };
  const Case cases[] = {
      {{0.0f, 0.5f, 0.5f}, 1, 0.25, 0.35},          // ordinary: the median free disk, p = 0.5
      {{0.0f, 0.9f, 100.0f}, -1, 0.0, 0.0},         // a full disk and an unwatched column are not harmful
      {{NAN, NAN, 0.5f}, -1, 0.0, 0.0},             // missing says nothing
      {{1.0f, 0.5f, 0.5f}, 0, 1.8, 2.2},            // 1 % of rows have a failure: -log10(0.01) = 2
      {{0.0f, 0.0f, 0.5f}, 1, 3.5, 3.7},            // below every training value: p = 1 / 4097
      {{1.0f, 0.0f, 0.5f}, 1, 3.5, 3.7},            // the rarer of two wins
  };
  for (const Case& c : cases) {
    int which = -2;
    const double score = tail.Score(c.row, &which);
    EXPECT_EQ(which, c.which) << c.row[0] << " " << c.row[1];
    EXPECT_GE(score, c.min) << c.row[0] << " " << c.row[1];
    EXPECT_LE(score, c.max) << c.row[0] << " " << c.row[1];
  }
  auto back = TailSurprise::FromJson(tail.ToJson(), cols);
  ASSERT_TRUE(back.ok()) << back.status();
  const float extreme[] = {1.0f, 0.0f, 0.5f};
  EXPECT_DOUBLE_EQ(back->Score(extreme), tail.Score(extreme));
  struct Bad { std::string json; std::string error; };
  const Bad bad[] = {
      {R"([{"column":3,"direction":1,"sorted":[0]}])", "tail surprise: column entry 0: column is 3, outside [0, 2]"},
      {R"([{"column":0,"direction":0,"sorted":[0]}])", "tail surprise: column entry 0: direction must be 1 or -1"},
      {R"([{"column":0,"direction":1,"sorted":[2,1]}])", "tail surprise: column entry 0: values not sorted"},
  };
  for (const Bad& b : bad) EXPECT_EQ(TailSurprise::FromJson(b.json, cols).status().message(), b.error) << b.json;
  EXPECT_EQ(TailSurprise::FromJson("{", cols).status().code(), StatusCode::kDataLoss);
}

TEST(TailSurprise, TailProbabilityCountsTiesAndMatchesADirectCount) {
  // Values with many ties (a count column) and a continuous one; every query is checked against
  // a plain count of training values at least as extreme.
  std::mt19937_64 rng(4);
  std::uniform_int_distribution<int> small(0, 5);
  std::uniform_real_distribution<float> real(-3, 3);
  std::vector<float> rows;
  for (int i = 0; i < 777; ++i) {
    rows.push_back(static_cast<float>(small(rng)));
    rows.push_back(real(rng));
  }
  const TailSurprise::Column columns[] = {{0, 1}, {1, -1}};
  TailSurprise tail = TailSurprise::Fit(rows, 2, columns, 4096, 1);
  for (int q = 0; q < 400; ++q) {
    for (int column : {0, 1}) {
      const float v = column == 0 ? static_cast<float>(small(rng)) + (q % 3 == 0 ? 0.5f : 0.0f) : real(rng);
      size_t count = 0;
      for (size_t i = 0; i < rows.size() / 2; ++i) {
        const float x = rows[i * 2 + column];
        count += column == 0 ? x >= v : x <= v;
      }
      const double p = (count + 1.0) / (rows.size() / 2 + 1.0);
      EXPECT_NEAR(tail.ColumnScore(column, v), p >= 1 ? 0.0 : -std::log10(p), 1e-12) << column << " " << v;
    }
  }
}

// A small fleet where lineages whose HTTP-01 probe starts failing fail their next renewal.
// With `failures` false nothing breaks: a healthy fleet with no episode onset.
std::vector<Event> SyntheticFleet(int lineages, int days, uint64_t seed, bool failures = true) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> lines;
  auto ts = [](absl::Time t) { return FormatRfc3339(t); };
  for (int l = 0; l < lineages; ++l) {
    const std::string cert = StrCat("c", l), name = StrCat("c", l, ".example.com");
    lines.push_back(StrCat(R"({"ts":")", ts(Day(0)), R"(","type":"config","cert":")", cert, R"(","host":"h)", l,
                           R"(","names":[")", name, R"("],"client":"certbot","ca":"https://ca.example/dir","challenge":"http-01","ari":false,"renew_rule":"days_left:30"})"));
    // Certificates issued at staggered times; renewal 30 days before expiry, daily retries.
    absl::Time not_before = Day(0) - absl::Hours(24) * static_cast<int>(rng() % 60);
    const bool breaks = rng() % 3 == 0 && failures;
    const int break_day = 5 + static_cast<int>(rng() % (days - 10));
    lines.push_back(StrCat(R"({"ts":")", ts(Day(0)), R"(","type":"issued","cert":")", cert, R"(","serial":"s0","not_before":")",
                           ts(not_before), R"(","not_after":")", ts(not_before + absl::Hours(24 * 90)), R"(","ca":"x"})"));
    for (int d = 0; d < days; ++d) {
      const bool broken = breaks && d >= break_day && d < break_day + 12;
      lines.push_back(StrCat(R"({"ts":")", ts(Day(d) + absl::Hours(1)), R"(","type":"http01_probe","name":")", name,
                             R"(","outcome":")", broken ? "error" : "ok", R"("})"));
      const absl::Time due = not_before + absl::Hours(24 * 60);
      if (Day(d) + absl::Hours(6) >= due) {
        if (broken) {
          lines.push_back(StrCat(R"({"ts":")", ts(Day(d) + absl::Hours(6)), R"(","type":"renewal","cert":")", cert,
                                 R"(","outcome":"failure","error":"urn:ietf:params:acme:error:connection"})"));
        } else {
          lines.push_back(StrCat(R"({"ts":")", ts(Day(d) + absl::Hours(6)), R"(","type":"renewal","cert":")", cert, R"(","outcome":"success"})"));
          not_before = Day(d) + absl::Hours(6);
          lines.push_back(StrCat(R"({"ts":")", ts(not_before), R"(","type":"issued","cert":")", cert, R"(","serial":"s)", d,
                                 R"(","not_before":")", ts(not_before), R"(","not_after":")", ts(not_before + absl::Hours(24 * 90)), R"(","ca":"x"})"));
        }
      }
    }
  }
  std::vector<Event> events;
  for (const std::string& l : lines) {
    auto e = ParseEventLine(l);
    EXPECT_TRUE(e.ok()) << l << " " << e.status();
    if (e.ok()) events.push_back(*e);
  }
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.ts < b.ts; });
  return events;
}

class TrainedModel : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    events_ = new std::vector<Event>(SyntheticFleet(150, 120, 7));
    TrainOptions options;
    options.threads = 1;
    options.max_rounds = 60;
    options.attempt_model = true;  // the forecaster's tests then cover the blend too
    auto set = BuildTrainingSet(*events_, Day(120), options);
    ASSERT_TRUE(set.ok()) << set.status();
    auto report = TrainModel(*set, options);
    ASSERT_TRUE(report.ok()) << report.status();
    // One file per process: ctest runs each test of this suite in its own process, two at a
    // time, and a shared path let one process read the model while another rewrote it.
    path_ = new std::string(testing::TempDir() + "/certcast_model_test." +
                            std::to_string(::getpid()) + ".model");
    ASSERT_TRUE(WriteModelFile(*path_, report->bundle).ok());
  }
  static std::vector<Event>* events_;
  static std::string* path_;
};
std::vector<Event>* TrainedModel::events_ = nullptr;
std::string* TrainedModel::path_ = nullptr;

TEST_F(TrainedModel, RanksFailingLineagesOnAFreshFleetAndSaysWhy) {
  auto forecaster = Forecaster::Load(*path_);
  ASSERT_TRUE(forecaster.ok()) << forecaster.status();
  // A fresh fleet (another seed), scored day by day against its own onsets.
  auto fleet = SyntheticFleet(80, 60, 11);
  auto episodes = ComputeEpisodes(fleet);
  std::vector<float> risks;
  std::vector<uint8_t> labels;
  std::vector<std::pair<double, bool>> risk_and_http01_reason;
  for (int d = 10; d < 50; ++d) {
    auto forecasts = forecaster->ScoreAll(fleet, Day(d));
    ASSERT_TRUE(forecasts.ok()) << forecasts.status();
    for (const LineageForecast& f : *forecasts) {
      EXPECT_GE(f.risk, 0.0);
      EXPECT_LE(f.risk, 1.0);
      const auto& eps = episodes[f.cert];
      if (InEpisodeAt(eps, Day(d))) continue;
      risks.push_back(static_cast<float>(f.risk));
      labels.push_back(OnsetIn(eps, Day(d), Day(d) + absl::Hours(24 * 7)) != nullptr);
      bool http01 = false;
      for (const Reason& r : f.reasons) http01 = http01 || r.sentence.find("HTTP-01") != std::string::npos;
      risk_and_http01_reason.emplace_back(f.risk, http01);
    }
  }
  const double base_rate = std::accumulate(labels.begin(), labels.end(), 0.0) / labels.size();
  const double ap = AveragePrecision(risks, labels);
  EXPECT_GT(ap, 3 * base_rate);
  // The riskiest cert-days are explained by the one cause this fleet has.
  std::sort(risk_and_http01_reason.begin(), risk_and_http01_reason.end(), std::greater<>());
  int explained = 0;
  for (size_t i = 0; i < 20; ++i) explained += risk_and_http01_reason[i].second;
  EXPECT_GE(explained, 10);
}

TEST_F(TrainedModel, AttemptRowsSeeOnlyTheStateBeforeTheirAttempt) {
  TrainOptions options;
  auto set = BuildTrainingSet(*events_, Day(120), options);
  ASSERT_TRUE(set.ok()) << set.status();
  // Every renewal outside an episode of a configured lineage is one row, in order, labelled by
  // its outcome; the first failure of each episode is among them, its retries are not.
  size_t expected = 0, failures = 0;
  auto episodes = ComputeEpisodes(*events_);
  for (const Event& e : *events_) {
    const auto* r = e.As<RenewalEvent>();
    // The day loop's last day is the last D; attempts before it are seen.
    if (r == nullptr || e.ts >= set->last_day) continue;
    if (InEpisodeAt(episodes[r->cert], e.ts - absl::Nanoseconds(1))) continue;
    ++expected;
    failures += r->outcome == Outcome::kFailure;
  }
  ASSERT_GT(failures, 0u);
  EXPECT_EQ(set->attempt_y.size(), expected);
  EXPECT_EQ(std::accumulate(set->attempt_y.begin(), set->attempt_y.end(), 0.0), static_cast<double>(failures));
  EXPECT_EQ(set->attempt_x.size(), expected * kAttemptWidth);
  EXPECT_TRUE(std::is_sorted(set->attempt_ts.begin(), set->attempt_ts.end()));
  // A row equals the features of a state that has applied only events before the attempt: the
  // attempt's own outcome is not in it.
  const size_t i = std::find(set->attempt_y.begin(), set->attempt_y.end(), 1.0f) - set->attempt_y.begin();
  FleetState state;
  size_t cursor = 0;
  ASSERT_TRUE(state.AdvanceTo(*events_, set->attempt_ts[i], &cursor).ok());
  auto fx = FeatureExtractor::Create(state, set->attempt_ts[i]);
  ASSERT_TRUE(fx.ok());
  const Event* attempt = nullptr;
  for (const Event& e : *events_) {
    const auto* r = e.As<RenewalEvent>();
    if (e.ts == set->attempt_ts[i] && r != nullptr && r->outcome == Outcome::kFailure) attempt = &e;
  }
  ASSERT_NE(attempt, nullptr);
  std::vector<float> features(kFeatureCount), row(kAttemptWidth);
  fx->Extract(*state.IndexOf(attempt->As<RenewalEvent>()->cert), features.data());
  AttemptRowFromFeatures(features.data(), false, row.data());
  for (int k = 0; k < kAttemptWidth; ++k) {
    const float got = set->attempt_x[i * kAttemptWidth + k];
    EXPECT_TRUE(got == row[k] || (std::isnan(got) && std::isnan(row[k]))) << ModelFeatureNames()[k];
  }
  EXPECT_EQ(features[kValidationFailures], 0.0f);  // the failing attempt itself is not counted yet
}

TEST_F(TrainedModel, CarriesAnAttemptModelThatTheCalibrationWeighs) {
  auto bundle = ReadModelFile(*path_);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_FALSE(bundle->attempt_ubj.empty());
  EXPECT_NE(bundle->calibration.d_in, 0.0);
  // The default, without the attempt model, trains and scores as before issue #14's second step.
  TrainOptions options;
  options.threads = 1;
  options.max_rounds = 20;
  ASSERT_FALSE(options.attempt_model);
  auto set = BuildTrainingSet(*events_, Day(120), options);
  ASSERT_TRUE(set.ok());
  auto report = TrainModel(*set, options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->bundle.attempt_ubj.empty());
  EXPECT_EQ(report->bundle.calibration.d_in, 0.0);
  const std::string path = *path_ + ".plain";
  ASSERT_TRUE(WriteModelFile(path, report->bundle).ok());
  EXPECT_TRUE(Forecaster::Load(path).ok());
  std::remove(path.c_str());
}

// The out-of-fold operating point (issue #14): blocks before the validation slice, each scored by
// a model that saw only earlier days, pooled with the validation slice for the threshold; the
// final model is the one trained without folds.
TEST_F(TrainedModel, OutOfFoldBlocksAreScoredWithoutTheirFuture) {
  TrainOptions plain;
  plain.threads = 1;
  plain.max_rounds = 20;
  TrainOptions folds = plain;
  folds.oof_folds = 2;
  folds.oof_rounds = 10;
  auto set = BuildTrainingSet(*events_, Day(120), plain);
  ASSERT_TRUE(set.ok());
  TrainingSet copy = *set;
  auto without = TrainModel(*set, plain);
  auto with = TrainModel(copy, folds);
  ASSERT_TRUE(without.ok() && with.ok());
  EXPECT_TRUE(without->pooled_rows.empty());
  EXPECT_EQ(with->bundle.classifier_ubj, without->bundle.classifier_ubj);
  EXPECT_EQ(with->validation_rows.size(), without->validation_rows.size());
  // Two blocks of half the validation slice's days each come just before it.
  const absl::Time valid_from = with->validation_from;
  const int64_t block_days = std::llround((with->validation_to - valid_from) / absl::Hours(24) * 0.5);
  ASSERT_GT(block_days, 0);
  ASSERT_EQ(with->pooled_from, valid_from - absl::Hours(24) * (2 * block_days));
  size_t before = 0;
  for (const ScoredDay& r : with->pooled_rows) {
    EXPECT_GE(r.day, with->pooled_from);
    EXPECT_LT(r.day, with->validation_to);
    before += r.day < valid_from;
  }
  EXPECT_EQ(with->pooled_rows.size(), before + with->validation_rows.size());
  EXPECT_GT(before, 0u);
  // The threshold is the default rule's on the pool.
  std::vector<const std::vector<Episode>*> eps;
  for (const auto& e : copy.episodes) eps.push_back(&e);
  const AlertCurve pooled(with->pooled_rows, eps, with->pooled_from, with->validation_to, folds.horizon);
  std::vector<float> risks;
  for (const ScoredDay& r : with->pooled_rows) risks.push_back(r.risk);
  EXPECT_FLOAT_EQ(with->bundle.info.alert_threshold,
                  ChooseOperatingPoint(pooled, ThresholdCandidates(risks), folds.operating_point).threshold);
  // No block sees its future: labels from the second block on, rewritten, leave the first
  // block's risks as they were (its fold trained on earlier days, its calibration on itself).
  const absl::Time second = with->pooled_from + absl::Hours(24) * block_days;
  TrainingSet changed = *set;
  for (size_t i = 0; i < changed.size(); ++i) {
    if (changed.rows[i].day >= second && i % 3 == 0) changed.y[i] = 1 - changed.y[i];
  }
  auto again = TrainModel(changed, folds);
  ASSERT_TRUE(again.ok());
  size_t compared = 0, moved = 0;
  for (size_t k = 0; k < with->pooled_rows.size() && k < again->pooled_rows.size(); ++k) {
    const ScoredDay &a = with->pooled_rows[k], &b = again->pooled_rows[k];
    ASSERT_EQ(a.day, b.day);
    if (a.day < second) {
      ++compared;
      EXPECT_FLOAT_EQ(a.risk, b.risk);
    } else {
      moved += a.risk != b.risk;
    }
  }
  EXPECT_GT(compared, 0u);
  EXPECT_GT(moved, 0u);  // and the test could fail: later blocks do see the rewritten labels
}

TEST_F(TrainedModel, BacktestTimesTheOnsetsOfCaughtEpisodes) {
  auto forecaster = Forecaster::Load(*path_);
  ASSERT_TRUE(forecaster.ok()) << forecaster.status();
  // In this fleet a broken lineage fails at its first attempt on or after the due time (2/3 of a
  // 90-day lifetime, the rule NextScheduledAttempt knows), once a day at 06:00: the next
  // scheduled attempt names the onset within a day. The AFT model only guesses a distribution.
  auto fleet = SyntheticFleet(400, 90, 11);
  BacktestOptions options;
  options.from = Day(10);
  options.to = Day(85);
  std::ostringstream csv;
  auto result = RunBacktest(*forecaster, fleet, options, csv);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_GT(result->model.caught, 0);
  EXPECT_EQ(result->onset_time_attempt_count, result->model.caught);
  EXPECT_EQ(result->onset_time_aft_count, result->model.caught);
  EXPECT_LT(result->onset_time_attempt_median_days, 1.0);
  EXPECT_GT(result->onset_time_aft_median_days, 0.0);
}

TEST_F(TrainedModel, RefusesAFileWithAnotherSchema) {
  std::ifstream in(*path_, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  const std::string id = ModelSchemaId();
  const size_t at = text.find(id);
  ASSERT_NE(at, std::string::npos);
  std::string other = id;
  other[other.size() - 3] = other[other.size() - 3] == 'x' ? 'y' : 'x';
  text.replace(at, id.size(), other);
  const std::string bad = testing::TempDir() + "/certcast_model_test_other_schema.model";
  std::ofstream(bad, std::ios::binary) << text;
  auto loaded = Forecaster::Load(bad);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(loaded.status().message(), StrCat("model ", bad, " was trained with feature schema ", other,
                                              " but this certcast computes ", id, ": retrain it with `certcast train`"));
}

TEST_F(TrainedModel, RefusesFilesThatAreNotModels) {
  const std::string bad = testing::TempDir() + "/certcast_not_a_model";
  std::ofstream(bad) << "hello\n";
  EXPECT_EQ(Forecaster::Load(bad).status().message(), StrCat(bad, " is not a certcast model file"));
  EXPECT_EQ(Forecaster::Load(bad + ".missing").status().code(), StatusCode::kNotFound);
}

TEST_F(TrainedModel, ScoresIgnoreEventsAtOrAfterAt) {
  auto forecaster = Forecaster::Load(*path_);
  ASSERT_TRUE(forecaster.ok());
  const absl::Time at = Day(40);
  std::vector<Event> past;
  for (const Event& e : *events_) if (e.ts < at) past.push_back(e);
  auto a = forecaster->ScoreAll(past, at);
  auto b = forecaster->ScoreAll(*events_, at);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), b->size());
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].cert, (*b)[i].cert);
    EXPECT_EQ((*a)[i].risk, (*b)[i].risk);
  }
}

// The planner scores the fleet without reasons and asks for the reasons of a few lineages later
// (ScoreOptions::certs): they must be exactly those of a scoring of the whole fleet, also above
// 2,000 lineages where the fleet gets the approximate SHAP contributions.
TEST_F(TrainedModel, ScoringSomeLineagesGivesThemTheReasonsOfAFullScoring) {
  auto forecaster = Forecaster::Load(*path_);
  ASSERT_TRUE(forecaster.ok());
  for (int lineages : {80, 2100}) {
    SCOPED_TRACE(StrCat(lineages, " lineages"));
    const auto fleet = SyntheticFleet(lineages, 40, 11);
    const absl::Time at = Day(30);
    auto all = forecaster->ScoreAll(fleet, at);
    ASSERT_TRUE(all.ok()) << all.status();
    ASSERT_EQ(all->size(), static_cast<size_t>(lineages));
    // The five riskiest (with reasons), the calmest, and a name the fleet does not have.
    absl::flat_hash_set<std::string> wanted = {"no-such-lineage", all->back().cert};
    for (size_t i = 0; i < 5; ++i) wanted.insert((*all)[i].cert);
    ScoreOptions options;
    options.certs = &wanted;
    auto some = forecaster->ScoreAll(fleet, at, options);
    ASSERT_TRUE(some.ok()) << some.status();
    ASSERT_EQ(some->size(), 6u);
    size_t with_reasons = 0;
    for (const LineageForecast& f : *some) {
      auto same = std::find_if(all->begin(), all->end(),
                               [&](const LineageForecast& g) { return g.cert == f.cert; });
      ASSERT_NE(same, all->end()) << f.cert;
      EXPECT_EQ(f.risk, same->risk) << f.cert;
      ASSERT_EQ(f.reasons.size(), same->reasons.size()) << f.cert;
      for (size_t r = 0; r < f.reasons.size(); ++r) {
        EXPECT_EQ(f.reasons[r].feature, same->reasons[r].feature) << f.cert;
        EXPECT_EQ(f.reasons[r].contribution, same->reasons[r].contribution) << f.cert;
        EXPECT_EQ(f.reasons[r].sentence, same->reasons[r].sentence) << f.cert;
      }
      with_reasons += !f.reasons.empty();
    }
    EXPECT_GE(with_reasons, 5u);
  }
}

}  // namespace
}  // namespace certcast

namespace certcast {
namespace {

TEST(TrainingSet, SubsamplesTrainingNegativesWithWeightsAndKeepsValidation) {
  auto events = SyntheticFleet(100, 80, 3);
  TrainOptions all;
  auto full = BuildTrainingSet(events, Day(80), all);
  ASSERT_TRUE(full.ok());
  TrainOptions bounded;
  bounded.max_rows = full->size() / 4;
  auto sub = BuildTrainingSet(events, Day(80), bounded);
  ASSERT_TRUE(sub.ok());
  EXPECT_LT(sub->size(), full->size() / 2);
  const double full_pos = std::accumulate(full->y.begin(), full->y.end(), 0.0);
  const double sub_pos = std::accumulate(sub->y.begin(), sub->y.end(), 0.0);
  EXPECT_EQ(full_pos, sub_pos);  // every positive kept
  // Weighted row count stays close to the full count: the class balance is unchanged.
  const double weighted = std::accumulate(sub->w.begin(), sub->w.end(), 0.0);
  EXPECT_NEAR(weighted / full->size(), 1.0, 0.15);
  auto report = TrainModel(*sub, bounded);
  EXPECT_TRUE(report.ok()) << report.status();
}

}  // namespace
}  // namespace certcast

namespace certcast {
namespace {

TEST(RescaleRisk, SameHorizonIsIdentityAndOtherHorizonsFollowAConstantHazard) {
  const absl::Duration week = absl::Hours(24 * 7);
  EXPECT_DOUBLE_EQ(RescaleRisk(0.3, week, week), 0.3);
  // Two weeks at 30% per week: 1 - 0.7^2 = 0.51.
  EXPECT_NEAR(RescaleRisk(0.3, week, 2 * week), 0.51, 1e-12);
  // Half a week: 1 - sqrt(0.7).
  EXPECT_NEAR(RescaleRisk(0.3, week, week / 2), 1 - std::sqrt(0.7), 1e-12);
  EXPECT_DOUBLE_EQ(RescaleRisk(0.0, week, 2 * week), 0.0);
  EXPECT_DOUBLE_EQ(RescaleRisk(1.0, week, week / 7), 1.0);
  // Monotone: a longer horizon never lowers risk.
  EXPECT_LT(RescaleRisk(0.2, week, week), RescaleRisk(0.2, week, 3 * week));
}

}  // namespace
}  // namespace certcast

namespace certcast {
namespace {

// A healthy fleet has no onset to learn from; training must still give a model that backtest and
// forecast run on, and that says it is only a prior.
TEST(PriorOnlyModel, HealthyFleetTrainsBacktestsAndForecastsFromTheBaseRate) {
  auto events = SyntheticFleet(40, 90, 5, /*failures=*/false);
  size_t onsets = 0;
  for (const auto& [cert, episodes] : ComputeEpisodes(events)) onsets += episodes.size();
  ASSERT_EQ(onsets, 0u);
  TrainOptions options;
  options.threads = 1;
  auto set = BuildTrainingSet(events, Day(60), options);
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_GT(set->size(), 1000u);
  auto report = TrainModel(*set, options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->bundle.info.prior_only);
  EXPECT_EQ(report->bundle.info.algorithm, "prior");
  EXPECT_TRUE(report->bundle.classifier_ubj.empty());
  // Jeffreys estimate with no onsets: 0.5 / (cert-days + 1).
  const double expected = 0.5 / (set->size() + 1.0);
  EXPECT_NEAR(report->bundle.calibration.Apply(3.0, 0.9), expected, expected * 1e-6);
  EXPECT_EQ(report->validation.episodes, 0);
  EXPECT_EQ(report->validation.alerts, 0);

  const std::string path = testing::TempDir() + "/certcast_prior_only.model";
  ASSERT_TRUE(WriteModelFile(path, report->bundle).ok());
  auto forecaster = Forecaster::Load(path);
  ASSERT_TRUE(forecaster.ok()) << forecaster.status();
  EXPECT_TRUE(forecaster->info().prior_only);
  EXPECT_NE(forecaster->info().metrics_json.find("\"prior_only\":true"), std::string::npos);
  auto forecasts = forecaster->ScoreAll(events, Day(70));
  ASSERT_TRUE(forecasts.ok()) << forecasts.status();
  ASSERT_EQ(forecasts->size(), 40u);
  for (const LineageForecast& f : *forecasts) {
    EXPECT_NEAR(f.risk, expected, expected * 1e-6) << f.cert;
    EXPECT_FALSE(f.alert) << f.cert;
    EXPECT_FALSE(f.expected_time_to_failure.has_value());
    ASSERT_EQ(f.reasons.size(), 1u);
    EXPECT_EQ(f.reasons[0].sentence, kPriorOnlyReason);
  }

  // The backtest runs on it, against a fleet that does fail: the prior catches nothing and its
  // PR-AUC is the base rate (every row tied), which is what a prior is worth.
  auto failing = SyntheticFleet(40, 90, 6);
  BacktestOptions backtest;
  backtest.from = Day(5);
  backtest.to = Day(85);
  backtest.recalibrate = false;
  std::ostringstream csv;
  auto result = RunBacktest(*forecaster, failing, backtest, csv);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->rows, 40 * 80);
  EXPECT_EQ(result->model.alerts, 0);
  EXPECT_EQ(result->model.caught, 0);
  ASSERT_GT(result->model.positive_days, 0);
  EXPECT_NEAR(result->model.pr_auc, static_cast<double>(result->model.positive_days) / result->model.scored_days, 1e-9);
  EXPECT_EQ(csv.str().substr(0, 19), "day,cert,risk,alert");

  // Recalibrated on arrival, the same prior learns the failing fleet's rate from outcomes whose
  // horizon has passed (the last day's risk near the observed rate, far above the prior), the
  // alerts stay the model's, and the first days (no outcome known yet) are exactly the model's
  // risk, since an outcome known earlier would be a leak.
  backtest.recalibrate = true;
  std::ostringstream recalibrated_csv;
  auto recalibrated = RunBacktest(*forecaster, failing, backtest, recalibrated_csv);
  ASSERT_TRUE(recalibrated.ok()) << recalibrated.status();
  EXPECT_GT(recalibrated->recalibration_outcomes, 40 * 60);
  EXPECT_EQ(recalibrated->model.alerts, 0);
  const double rate = static_cast<double>(recalibrated->model.positive_days) / recalibrated->model.scored_days;
  const std::string last_csv = recalibrated_csv.str();
  const std::string last_line = last_csv.substr(last_csv.rfind('\n', last_csv.size() - 2) + 1);
  const double last_risk = std::stod(last_line.substr(last_line.find(',', last_line.find(',') + 1) + 1));
  EXPECT_GT(last_risk, expected * 10) << last_line;
  EXPECT_GT(last_risk, rate / 3) << last_line;
  EXPECT_LT(last_risk, rate * 3) << last_line;
  std::istringstream raw_lines(csv.str()), new_lines(recalibrated_csv.str());
  std::string raw_line, new_line;
  int same_days_rows = 0, later_changed = 0;
  const std::string first_changeable = FormatRfc3339(Day(5 + 8));
  while (std::getline(raw_lines, raw_line) && std::getline(new_lines, new_line)) {
    if (raw_line.substr(0, first_changeable.size()) < first_changeable || raw_line.starts_with("day,")) {
      EXPECT_EQ(new_line, raw_line);
      ++same_days_rows;
    } else if (new_line != raw_line) {
      ++later_changed;
    }
  }
  EXPECT_EQ(same_days_rows, 1 + 40 * 8);
  EXPECT_GT(later_changed, 40 * 60);
}

TEST(OutcomeRecalibration, MovesAsFarAsTheOutcomesSay) {
  struct Case {
    std::string name;
    double forecast, observed;  // every forecast `forecast`, outcomes at rate `observed`
    int rows;
    double expect_low, expect_high;  // Apply(forecast) lies in this range
  };
  const Case cases[] = {
      {"calibrated forecasts stay", 0.02, 0.02, 100000, 0.0195, 0.0205},
      {"a doubled rate is learnt from many outcomes", 0.01, 0.02, 200000, 0.018, 0.021},
      {"a halved rate too", 0.04, 0.02, 200000, 0.0185, 0.0215},
      {"a few outcomes move it a little", 0.01, 0.2, 10, 0.0101, 0.05},
  };
  for (const Case& c : cases) {
    OutcomeRecalibration r;
    const int positives = static_cast<int>(std::lround(c.rows * c.observed));
    for (int i = 0; i < c.rows; ++i) r.Add(c.forecast, i < positives);
    r.Refit();
    EXPECT_EQ(r.observations(), c.rows) << c.name;
    EXPECT_EQ(r.positives(), positives) << c.name;
    EXPECT_GE(r.Apply(c.forecast), c.expect_low) << c.name;
    EXPECT_LE(r.Apply(c.forecast), c.expect_high) << c.name;
  }
}

TEST(OutcomeRecalibration, KeepsTheRankingAndRefusesBadInputs) {
  OutcomeRecalibration r;
  EXPECT_EQ(r.Apply(0.3), 0.3);  // nothing observed: the identity
  // Outcomes that reverse the ranking (high risk never fails, low risk always does) cannot make
  // the map decreasing: the slope stays positive, so the ranking of today's forecasts holds.
  for (int i = 0; i < 1000; ++i) {
    r.Add(0.9, false);
    r.Add(0.001, true);
  }
  r.Add(std::nan(""), true);  // ignored
  r.Add(0.0, false);          // clamped, not -infinity
  r.Add(1.0, true);
  r.Refit();
  EXPECT_EQ(r.observations(), 2002);
  EXPECT_GT(r.slope(), 0);
  EXPECT_TRUE(std::isfinite(r.intercept()));
  EXPECT_LT(r.Apply(0.001), r.Apply(0.9));
  EXPECT_TRUE(std::isnan(r.Apply(std::nan(""))));
  for (double p : {0.0, 1e-9, 0.5, 1.0}) {
    EXPECT_GE(r.Apply(p), 0.0) << p;
    EXPECT_LE(r.Apply(p), 1.0) << p;
  }
}

TEST(PriorOnlyModel, RefusesAFileThatClaimsPriorOnlyButCarriesAClassifier) {
  auto events = SyntheticFleet(20, 60, 5, /*failures=*/false);
  TrainOptions options;
  auto set = BuildTrainingSet(events, Day(50), options);
  ASSERT_TRUE(set.ok());
  auto report = TrainModel(*set, options);
  ASSERT_TRUE(report.ok());
  report->bundle.classifier_ubj = "not a booster";
  const std::string path = testing::TempDir() + "/certcast_prior_only_bad.model";
  ASSERT_TRUE(WriteModelFile(path, report->bundle).ok());
  EXPECT_EQ(Forecaster::Load(path).status().message(),
            StrCat(path, ": model says prior-only but carries a classifier"));
}

// ---------------------------------------------------------------------------------------------
// Hostile model files (issue #12, finding 8): each is refused quickly, with an exact message.

// A small valid prior-only model: a 3-tree forest over 8-point samples and a 2-column tail.
ModelBundle SmallBundle() {
  std::mt19937_64 rng(3);
  std::normal_distribution<float> n(0, 1);
  std::vector<float> rows;
  for (int i = 0; i < 64 * kModelWidth; ++i) rows.push_back(n(rng));
  ModelBundle b;
  b.info.schema_id = ModelSchemaId();
  b.info.feature_names = ModelFeatureNames();
  b.info.train_from = Day(0);
  b.info.train_until = Day(30);
  b.info.horizon = absl::Hours(24 * 7);
  b.info.algorithm = "prior";
  b.info.prior_only = true;
  b.info.alert_threshold = 1.0;
  b.info.metrics_json = R"({"prior_only":true})";
  b.calibration = Calibration{0, -5, 0};
  const int columns[] = {0, 1};
  b.anomaly = IsolationForest::Fit(rows, kModelWidth, columns, {.trees = 3, .sample_size = 8, .seed = 1});
  const TailSurprise::Column tail[] = {{0, 1}, {1, -1}};
  b.tail = TailSurprise::Fit(rows, kModelWidth, tail, 16, 1);
  return b;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The metadata of SmallBundle's file, to be edited into a hostile one.
nlohmann::json SmallMetadata() {
  const std::string path = testing::TempDir() + "/certcast_small." + std::to_string(::getpid()) + ".model";
  EXPECT_TRUE(WriteModelFile(path, SmallBundle()).ok());
  const std::string bytes = ReadAll(path);
  std::remove(path.c_str());
  const size_t header = bytes.find('\n', bytes.find('\n') + 1) + 1;
  return nlohmann::json::parse(bytes.substr(header));
}

std::string ModelFile(const nlohmann::json& meta, std::string_view blobs = "") {
  return JoinModelFile(meta.dump(), blobs);
}

// Node i splits into (i + 1, i + 2): every node from 2 on has two parents, and the walk from the
// root took Fibonacci(nodes) paths before the loader checked that trees are trees.
nlohmann::json SharedNodeTree(int nodes) {
  nlohmann::json tree = nlohmann::json::array();
  for (int i = 0; i < nodes; ++i) {
    if (i + 2 < nodes) tree.push_back({0, 0.5, i + 1, i + 2, 1});
    else tree.push_back({-1, 0, -1, -1, 1});
  }
  return tree;
}

// A right spine `depth` splits deep: node 2k splits into a leaf (2k + 1) and the next spine node.
nlohmann::json DeepTree(int depth) {
  nlohmann::json tree = nlohmann::json::array();
  for (int k = 0; k < depth; ++k) {
    tree.push_back({0, 0.5, 2 * k + 1, 2 * k + 2, 1});
    tree.push_back({-1, 0, -1, -1, 1});
  }
  tree.push_back({-1, 0, -1, -1, 1});
  return tree;
}

TEST(ModelFile, SmallBundleRoundTripsWithTheSameScores) {
  const ModelBundle b = SmallBundle();
  auto back = ParseModelFile(ModelFile(SmallMetadata()), "m");
  ASSERT_TRUE(back.ok()) << back.status();
  std::vector<float> row(kModelWidth, 0.25f);
  row[0] = 9;
  EXPECT_EQ(back->anomaly.Score(row.data()), b.anomaly.Score(row.data()));
  EXPECT_EQ(back->tail.Score(row.data()), b.tail.Score(row.data()));
  EXPECT_TRUE(back->info.prior_only);
  EXPECT_EQ(back->info.horizon, absl::Hours(24 * 7));
}

TEST(ModelFile, RefusesHostileFilesWithExactErrors) {
  const std::string width = std::to_string(kModelWidth - 1);
  struct Case {
    const char* name;
    std::function<void(nlohmann::json&)> edit;
    std::string blobs;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"nodes shared between parents (exponential walk)",
       [](nlohmann::json& m) { m["anomaly"]["sample_size"] = 256; m["anomaly"]["trees"][0] = SharedNodeTree(511); },
       "", "m: corrupt model metadata: anomaly model: tree 0 node 1 shares its child 2 with node 0"},
      {"a cycle back to the root",
       [](nlohmann::json& m) { m["anomaly"]["trees"][1] = {{0, 0.5, 1, 2, 2}, {0, 0.5, 0, 1, 1}, {-1, 0, -1, -1, 1}}; },
       "", "m: corrupt model metadata: anomaly model: tree 1 node 1 has a child that is not after it"},
      {"a child beyond the tree",
       [](nlohmann::json& m) { m["anomaly"]["trees"][0] = {{0, 0.5, 1, 2, 2}, {-1, 0, -1, -1, 1}}; },
       "", "m: corrupt model metadata: anomaly model: tree 0 node 0: right child is 2, outside [-1, 1]"},
      {"a node no parent points at",
       [](nlohmann::json& m) { m["anomaly"]["trees"][0] = {{-1, 0, -1, -1, 1}, {-1, 0, -1, -1, 1}}; },
       "", "m: corrupt model metadata: anomaly model: tree 0 node 1 has no parent"},
      {"a leaf with children",
       [](nlohmann::json& m) { m["anomaly"]["trees"][0] = {{-1, 0, 1, 2, 1}, {-1, 0, -1, -1, 1}, {-1, 0, -1, -1, 1}}; },
       "", "m: corrupt model metadata: anomaly model: tree 0 node 0 is a leaf with children"},
      {"deeper than the limit",
       [](nlohmann::json& m) { m["anomaly"]["sample_size"] = 256; m["anomaly"]["trees"][0] = DeepTree(65); },
       "", "m: corrupt model metadata: anomaly model: tree 0 is deeper than the limit of 64"},
      {"more nodes than the sample allows",
       [](nlohmann::json& m) { m["anomaly"]["trees"][0] = DeepTree(8); },
       "", "m: corrupt model metadata: anomaly model: tree 0 has 17 nodes, more than 2 * sample_size - 1 = 15"},
      {"a split column outside the row",
       [](nlohmann::json& m) { m["anomaly"]["trees"][0][0][0] = 4000000000LL; },
       "", "m: corrupt model metadata: anomaly model: tree 0 node 0: column is 4000000000, outside [-1, " + width + "]"},
      {"a split beyond a float",
       [](nlohmann::json& m) { m["anomaly"]["trees"][0] = {{0, 1e39, 1, 2, 2}, {-1, 0, -1, -1, 1}, {-1, 0, -1, -1, 1}}; },
       "", "m: corrupt model metadata: anomaly model: tree 0 node 0: split is 1e+39, beyond a float's range"},
      {"a float where an index belongs",
       [](nlohmann::json& m) { m["anomaly"]["trees"][0] = {{0, 0.5, 1.5, 2, 2}, {-1, 0, -1, -1, 1}, {-1, 0, -1, -1, 1}}; },
       "", "m: corrupt model metadata: anomaly model: tree 0 node 0: left child is not an integer"},
      {"a 4 GiB blob",
       [](nlohmann::json& m) { m["blobs"][0]["bytes"] = 4294967296LL; },
       "", "m: corrupt model metadata: blob classifier bytes is 4294967296, outside [0, 268435456]"},
      {"a blob longer than the file",
       [](nlohmann::json& m) { m["blobs"][1]["bytes"] = 1000; },
       "0123456789", "m: truncated model file: blob survival of 1000 bytes, 10 left"},
      {"bytes after the last blob", [](nlohmann::json&) {}, "xyz", "m: 3 bytes after the model's last blob"},
      {"a blob listed twice",
       [](nlohmann::json& m) { m["blobs"][1]["name"] = "classifier"; },
       "", "m: corrupt model metadata: blob classifier listed twice"},
      {"an unknown blob",
       [](nlohmann::json& m) { m["blobs"][1]["name"] = "payload"; },
       "", "m: corrupt model metadata: unknown blob \"payload\""},
      {"a missing blob",
       [](nlohmann::json& m) { m["blobs"].erase(1); },
       "", "m: corrupt model metadata: blob survival missing"},
      {"metrics nested 100 deep",
       [](nlohmann::json& m) {
         nlohmann::json deep = 1;
         for (int i = 0; i < 100; ++i) deep = nlohmann::json::array({deep});
         m["metrics"] = deep;
       },
       "", "m: corrupt model metadata: JSON nested deeper than 32 levels"},
      {"a horizon of 1e300 seconds",
       [](nlohmann::json& m) { m["horizon_seconds"] = 1e300; },
       "", "m: corrupt model metadata: horizon_seconds is not an integer"},
      {"a negative horizon",
       [](nlohmann::json& m) { m["horizon_seconds"] = -5; },
       "", "m: corrupt model metadata: horizon_seconds is -5, outside [1, 31622400]"},
      {"a threshold that is no probability",
       [](nlohmann::json& m) { m["alert_threshold"] = 7; },
       "", "m: corrupt model metadata: alert_threshold 7 is not a probability"},
      {"calibration with two numbers",
       [](nlohmann::json& m) { m["calibration"] = {1, 2}; },
       "", "m: corrupt model metadata: calibration is not [a, b, c] or [a, b, c, d_in, d_out, e]"},
      {"attempt terms without an attempt model",
       [](nlohmann::json& m) { m["calibration"] = {1, 2, 0, 1, 0, 0}; },
       "", "m: corrupt model metadata: attempt calibration terms without an attempt model"},
      {"an attempt model without its terms",
       [](nlohmann::json& m) { m["blobs"].push_back({{"name", "attempt"}, {"bytes", 3}}); },
       "abc", "m: corrupt model metadata: an attempt model without its calibration terms"},
      {"an attempt model listed twice",
       [](nlohmann::json& m) {
         m["calibration"] = {1, 2, 0, 1, 0, 0};
         m["blobs"].push_back({{"name", "attempt"}, {"bytes", 1}});
         m["blobs"].push_back({{"name", "attempt"}, {"bytes", 1}});
       },
       "ab", "m: corrupt model metadata: blob attempt listed twice"},
      {"tail values out of order",
       [](nlohmann::json& m) { m["tail_surprise"][0]["sorted"] = {3, 1}; },
       "", "m: corrupt model metadata: tail surprise: column entry 0: values not sorted"},
      {"a tail direction of 0",
       [](nlohmann::json& m) { m["tail_surprise"][1]["direction"] = 0; },
       "", "m: corrupt model metadata: tail surprise: column entry 1: direction must be 1 or -1"},
      {"other feature names",
       [](nlohmann::json& m) { m["feature_names"][0] = "x"; },
       "", "model m lists other feature names than this certcast"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    nlohmann::json meta = SmallMetadata();
    c.edit(meta);
    auto loaded = ParseModelFile(ModelFile(meta, c.blobs), "m");
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().message(), c.error);
  }
}

TEST(ModelFile, RefusesHostileHeaders) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"certcast-model 1\n4294967296\n{}", "m: corrupt model header (no metadata length)"},
      {"certcast-model 1\n999999999\n{}", "m: model metadata of 999999999 bytes, more than the limit of 16777216"},
      {"certcast-model 1\n100\n{}", "m: truncated model file: metadata of 100 bytes, 2 left"},
      {"certcast-model 1\n-2\n{}", "m: corrupt model header (no metadata length)"},
      {"certcast-model 1\n2", "m: corrupt model header (no metadata length)"},
      {"certcast-model 2\n2\n{}", "m is not a certcast model file"},
  };
  for (const auto& [bytes, error] : cases) {
    EXPECT_EQ(ParseModelFile(bytes, "m").status().message(), error) << bytes;
    // The header is read by SplitModelFile alone (ParseModelFile and the fuzz target call it).
    EXPECT_EQ(SplitModelFile(bytes, "m").status().message(), error) << bytes;
  }
  // An endless file is refused at its first bytes, not read until memory runs out.
  EXPECT_EQ(ReadModelFile("/dev/zero").status().message(), "/dev/zero is not a certcast model file");
}

TEST(ModelFile, SplitsAtTheHeaderWhatJoinWrote) {
  const std::string file = JoinModelFile("{\"a\":1}", "blob\nbytes");
  EXPECT_EQ(file, "certcast-model 1\n7\n{\"a\":1}blob\nbytes");
  auto parts = SplitModelFile(file, "m");
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(parts->metadata, "{\"a\":1}");
  EXPECT_EQ(parts->blobs, "blob\nbytes");
  // A file written by WriteModelFile splits into its metadata and the three blobs' bytes.
  ModelBundle b = SmallBundle();
  const std::string path = testing::TempDir() + "/split.model";
  ASSERT_TRUE(WriteModelFile(path, b).ok());
  std::ifstream in(path, std::ios::binary);
  const std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto split = SplitModelFile(written, path);
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->blobs, StrCat(b.classifier_ubj, b.survival_ubj, b.attempt_ubj));
  EXPECT_EQ(nlohmann::json::parse(split->metadata).at("schema_id"), ModelSchemaId());
}

// The seeds of fuzz/fuzz_model_file, with this build's schema put in as the target does, must be
// model files this build reads, but for the hostile-file regressions (regression_*), which must be
// refused: seeds that fail further on (a new required key, a changed detector) would leave the
// target fuzzing the metadata's checks and nothing behind them, as an old schema did until
// 5acbc40. Run from the repository's root (ctest does).
TEST(ModelFile, FuzzSeedsAreModelFilesThisBuildReads) {
  const std::filesystem::path dir = "fuzz/corpus/fuzz_model_file";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir << " not found: run from the repository's root";
  int read = 0, refused = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto current = WithThisBuildsModelSchema(bytes, entry.path().string());
    ASSERT_TRUE(current.ok()) << current.status();
    const bool hostile = entry.path().filename().string().starts_with("regression_");
    auto bundle = ParseModelFile(*current, entry.path().string());
    EXPECT_EQ(bundle.ok(), !hostile) << entry.path() << ": " << bundle.status();
    ++(bundle.ok() ? read : refused);
  }
  EXPECT_EQ(read, 3);
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(WithThisBuildsModelSchema(JoinModelFile("[1]", ""), "m").status().message(),
            "m: corrupt model metadata: not an object");
}

TEST(ModelFile, WriteRefusesAHorizonTheReaderWouldRefuse) {
  ModelBundle b = SmallBundle();
  b.info.horizon = absl::Hours(24 * 400);
  EXPECT_EQ(WriteModelFile(testing::TempDir() + "/never.model", b).message(),
            "model horizon 9600h is outside (0, 366 days]");
}

}  // namespace
}  // namespace certcast
