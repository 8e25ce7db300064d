#include "model/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/strings.h"

namespace certcast {

double AveragePrecision(const std::vector<float>& scores, const std::vector<uint8_t>& labels,
                        std::vector<std::pair<double, double>>* curve) {
  std::vector<uint32_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return scores[a] > scores[b]; });
  const int64_t total_pos = std::count(labels.begin(), labels.end(), 1);
  if (total_pos == 0) return 0;
  double ap = 0, prev_recall = 0;
  int64_t tp = 0, seen = 0;
  size_t points = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    tp += labels[order[i]];
    ++seen;
    if (i + 1 < order.size() && scores[order[i + 1]] == scores[order[i]]) continue;  // tie block
    const double recall = static_cast<double>(tp) / total_pos;
    const double precision = static_cast<double>(tp) / seen;
    ap += (recall - prev_recall) * precision;
    prev_recall = recall;
    if (curve != nullptr && (points++ % std::max<size_t>(1, order.size() / 400) == 0 || i + 1 == order.size())) {
      curve->emplace_back(recall, precision);
    }
  }
  return ap;
}

namespace {

const std::vector<Episode>& EpisodesOf(const std::vector<const std::vector<Episode>*>& episodes, uint32_t li) {
  static const std::vector<Episode> kNone;
  return li < episodes.size() && episodes[li] != nullptr ? *episodes[li] : kNone;
}

// Recall, precision, F1 and lead-time summary from the counts and lead days.
void FinishAlertMetrics(ForecastMetrics& m) {
  m.recall = m.episodes > 0 ? static_cast<double>(m.caught) / m.episodes : 0;
  m.precision = m.alerts > 0 ? static_cast<double>(m.true_alerts) / m.alerts : 0;
  m.f1 = (m.recall + m.precision) > 0 ? 2 * m.recall * m.precision / (m.recall + m.precision) : 0;
  if (!m.lead_days.empty()) {
    std::vector<double> sorted = m.lead_days;
    std::sort(sorted.begin(), sorted.end());
    m.median_lead_days = sorted[sorted.size() / 2];
    m.share_lead_at_least_1d =
        static_cast<double>(std::count_if(sorted.begin(), sorted.end(), [](double d) { return d >= 1; })) / sorted.size();
  }
}

}  // namespace

ForecastMetrics Evaluate(const std::vector<ScoredDay>& rows,
                         const std::vector<const std::vector<Episode>*>& episodes,
                         absl::Time from, absl::Time to, absl::Duration horizon,
                         const std::vector<std::map<absl::Time, std::string>>* causes) {
  ForecastMetrics m = EvaluateAlerts(rows, episodes, from, to, horizon, causes);
  std::vector<float> scores;
  std::vector<uint8_t> labels;
  double brier = 0;
  constexpr int kBins = 10;
  std::vector<double> bin_risk(kBins), bin_pos(kBins);
  std::vector<int64_t> bin_n(kBins);
  for (const ScoredDay& r : rows) {
    const auto& e = EpisodesOf(episodes, r.lineage);
    if (InEpisodeAt(e, r.day)) continue;
    const bool y = OnsetIn(e, r.day, r.day + horizon) != nullptr;
    scores.push_back(r.risk);
    labels.push_back(y);
    brier += (r.risk - y) * (r.risk - y);
    const int bin = std::clamp(static_cast<int>(r.risk * kBins), 0, kBins - 1);
    bin_risk[bin] += r.risk;
    bin_pos[bin] += y;
    ++bin_n[bin];
  }
  m.scored_days = static_cast<int64_t>(scores.size());
  m.positive_days = std::count(labels.begin(), labels.end(), 1);
  m.pr_auc = AveragePrecision(scores, labels, &m.pr_curve);
  m.brier = scores.empty() ? 0 : brier / scores.size();
  for (int b = 0; b < kBins; ++b) {
    if (bin_n[b] > 0) m.calibration.emplace_back(bin_risk[b] / bin_n[b], bin_pos[b] / bin_n[b], bin_n[b]);
  }
  return m;
}

ForecastMetrics EvaluateAlerts(const std::vector<ScoredDay>& rows,
                               const std::vector<const std::vector<Episode>*>& episodes,
                               absl::Time from, absl::Time to, absl::Duration horizon,
                               const std::vector<std::map<absl::Time, std::string>>* causes) {
  ForecastMetrics m;
  // Rows per lineage in day order (for episode recall and de-duplicated precision).
  std::vector<std::vector<const ScoredDay*>> by_lineage(episodes.size());
  for (const ScoredDay& r : rows) {
    if (r.lineage >= by_lineage.size()) by_lineage.resize(r.lineage + 1);
    by_lineage[r.lineage].push_back(&r);
  }
  for (size_t li = 0; li < by_lineage.size(); ++li) {
    auto& days = by_lineage[li];
    std::sort(days.begin(), days.end(), [](const ScoredDay* a, const ScoredDay* b) { return a->day < b->day; });
    const auto& e = EpisodesOf(episodes, static_cast<uint32_t>(li));
    // Episode recall and lead time.
    for (const Episode& ep : e) {
      const absl::Time first_window_day = ep.onset - horizon;
      const absl::Time last_window_day = ep.onset - absl::Hours(24);
      if (last_window_day < from || ep.onset >= to + horizon || first_window_day >= to) continue;
      ++m.episodes;
      std::string cause = ErrorCause(ep.error);
      if (causes != nullptr && li < causes->size()) {
        if (auto it = (*causes)[li].find(ep.onset); it != (*causes)[li].end()) cause = it->second;
      }
      auto& c = m.by_cause[cause];
      ++c.episodes;
      for (const ScoredDay* d : days) {
        if (d->day >= first_window_day && d->day <= last_window_day && d->alert) {
          ++m.caught;
          ++c.caught;
          m.lead_days.push_back(absl::ToDoubleHours(ep.onset - d->day) / 24.0);
          break;
        }
      }
    }
    // Alert precision, de-duplicated: an alert within a horizon of the last counted one is the
    // same alert repeated.
    absl::Time last_counted = absl::InfinitePast();
    for (const ScoredDay* d : days) {
      if (!d->alert) continue;
      if (last_counted != absl::InfinitePast() && d->day - last_counted < horizon) continue;
      last_counted = d->day;
      ++m.alerts;
      if (OnsetIn(e, d->day, d->day + horizon) != nullptr) ++m.true_alerts;
    }
  }
  FinishAlertMetrics(m);
  return m;
}

AlertCurve::AlertCurve(const std::vector<ScoredDay>& rows, const std::vector<const std::vector<Episode>*>& episodes,
                       absl::Time from, absl::Time to, absl::Duration horizon)
    : horizon_(horizon) {
  // The same grouping, episode selection and cause naming as EvaluateAlerts (without ground truth).
  std::vector<std::vector<const ScoredDay*>> by_lineage(episodes.size());
  for (const ScoredDay& r : rows) {
    if (r.lineage >= by_lineage.size()) by_lineage.resize(r.lineage + 1);
    by_lineage[r.lineage].push_back(&r);
  }
  days_.reserve(rows.size());
  for (size_t li = 0; li < by_lineage.size(); ++li) {
    auto& days = by_lineage[li];
    std::sort(days.begin(), days.end(), [](const ScoredDay* a, const ScoredDay* b) { return a->day < b->day; });
    const auto& e = EpisodesOf(episodes, static_cast<uint32_t>(li));
    const uint32_t first = static_cast<uint32_t>(days_.size());
    for (const ScoredDay* d : days) {
      days_.push_back({d->risk, OnsetIn(e, d->day, d->day + horizon) != nullptr, d->day});
    }
    const uint32_t last = static_cast<uint32_t>(days_.size());
    lineage_end_.push_back(last);
    for (const Episode& ep : e) {
      const absl::Time first_window_day = ep.onset - horizon;
      const absl::Time last_window_day = ep.onset - absl::Hours(24);
      if (last_window_day < from || ep.onset >= to + horizon || first_window_day >= to) continue;
      uint32_t begin = first;
      while (begin < last && days_[begin].day < first_window_day) ++begin;
      uint32_t end = begin;
      while (end < last && days_[end].day <= last_window_day) ++end;
      windows_.push_back({begin, end, ep.onset, ErrorCause(ep.error)});
    }
  }
}

ForecastMetrics AlertCurve::At(float threshold) const {
  ForecastMetrics m;
  for (const Window& w : windows_) {
    ++m.episodes;
    auto& c = m.by_cause[w.cause];
    ++c.episodes;
    for (uint32_t k = w.begin; k < w.end; ++k) {
      if (days_[k].risk >= threshold) {
        ++m.caught;
        ++c.caught;
        m.lead_days.push_back(absl::ToDoubleHours(w.onset - days_[k].day) / 24.0);
        break;
      }
    }
  }
  uint32_t k = 0;
  for (uint32_t end : lineage_end_) {
    absl::Time last_counted = absl::InfinitePast();
    for (; k < end; ++k) {
      const Day& d = days_[k];
      if (!(d.risk >= threshold)) continue;
      if (last_counted != absl::InfinitePast() && d.day - last_counted < horizon_) continue;
      last_counted = d.day;
      ++m.alerts;
      m.true_alerts += d.onset_follows;
    }
  }
  FinishAlertMetrics(m);
  return m;
}

std::string MetricsToJson(const ForecastMetrics& m) {
  // The PR curve thinned to at most kJsonCurvePoints points (always keeping the last), and the
  // calibration bins: what the dashboard's Model page draws, small enough for the model metadata.
  constexpr size_t kJsonCurvePoints = 100;
  std::string curve;
  const size_t step = std::max<size_t>(1, (m.pr_curve.size() + kJsonCurvePoints - 1) / kJsonCurvePoints);
  for (size_t i = 0; i < m.pr_curve.size(); ++i) {
    if (i % step != 0 && i + 1 != m.pr_curve.size()) continue;
    if (!curve.empty()) curve += ",";
    curve += StrCat("[", m.pr_curve[i].first, ",", m.pr_curve[i].second, "]");
  }
  std::string bins;
  for (const auto& [mean_risk, observed, rows] : m.calibration) {
    if (!bins.empty()) bins += ",";
    bins += StrCat("[", mean_risk, ",", observed, ",", rows, "]");
  }
  std::string causes;
  for (const auto& [cause, c] : m.by_cause) {
    if (!causes.empty()) causes += ",";
    causes += StrCat("\"", cause, "\":{\"episodes\":", c.episodes, ",\"caught\":", c.caught, "}");
  }
  return StrCat("{\"scored_days\":", m.scored_days, ",\"positive_days\":", m.positive_days,
                ",\"pr_auc\":", m.pr_auc, ",\"brier\":", m.brier, ",\"episodes\":", m.episodes,
                ",\"caught\":", m.caught, ",\"recall\":", m.recall, ",\"alerts\":", m.alerts,
                ",\"true_alerts\":", m.true_alerts, ",\"precision\":", m.precision,
                ",\"median_lead_days\":", m.median_lead_days, ",\"by_cause\":{", causes,
                "},\"pr_curve\":[", curve, "],\"calibration_bins\":[", bins, "]}");
}

}  // namespace certcast
