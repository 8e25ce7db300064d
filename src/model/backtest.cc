#include "model/backtest.h"

#include "absl/container/flat_hash_set.h"

#include "core/cause.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include "core/strings.h"
#include "core/time.h"
#include "features/features.h"
#include "features/fleet_state.h"
#include "features/labels.h"
#include "model/recalibration.h"
#include "nlohmann/json.hpp"

namespace certcast {

namespace {

struct Rule {
  std::string name;
  // (features row, lineage state, day) -> (score, alert)
  std::function<std::pair<float, bool>(const float*, const LineageState&, absl::Time)> fn;
};

// A lineage name may hold any character (cert-manager's namespace/name, certbot's directory
// name): quote it as RFC 4180 says when it contains a comma, a quote or a line break.
void AppendCsvField(std::string_view field, std::string& out) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += field;
    return;
  }
  out += '"';
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

}  // namespace

double RescaleRisk(double risk, absl::Duration model_horizon, absl::Duration horizon) {
  // The model estimates P(onset within its own horizon). When asked for another horizon, assume
  // a constant hazard inside the window: P_h = 1 - (1 - P_H)^(h / H). Exact when onsets arrive as
  // a Poisson process; for short stretches it keeps the ranking and roughly the calibration.
  if (horizon == model_horizon || model_horizon <= absl::ZeroDuration()) return risk;
  const double ratio = absl::FDivDuration(horizon, model_horizon);
  const double p = std::clamp(risk, 0.0, 1.0);
  return 1.0 - std::pow(1.0 - p, ratio);
}

namespace {

std::vector<Rule> Baselines(absl::Duration horizon) {
  std::vector<Rule> rules;
  rules.push_back({"after a failed renewal (any failure, dry runs too, in the last horizon)",
                   [horizon](const float*, const LineageState& s, absl::Time day) {
                     bool recent = false;
                     for (const AttemptRecord& a : s.recent_attempts) {
                       if (a.outcome == Outcome::kFailure && a.ts >= day - horizon) recent = true;
                     }
                     return std::pair<float, bool>(recent ? 1.0f : 0.0f, recent);
                   }});
  rules.push_back({"days left <= 14",
                   [](const float* f, const LineageState&, absl::Time) {
                     const float days = f[kDaysToExpiry];
                     if (!std::isfinite(days)) return std::pair<float, bool>(0, false);
                     return std::pair<float, bool>(std::clamp(1.0f - days / 90.0f, 0.0f, 1.0f), days <= 14);
                   }});
  rules.push_back({"any DNS change or probe failure in the last 4 days",
                   [](const float* f, const LineageState&, absl::Time) {
                     auto recent_change = [&](int k) { return std::isfinite(f[k]) && f[k] <= 4; };
                     auto any = [&](int k) { return std::isfinite(f[k]) && f[k] >= 1; };
                     int signals = recent_change(kAddressChangeDays) + recent_change(kNsChangeDays) +
                                   recent_change(kCaaChangeDays) + any(kHttp01FailDays4) + any(kDns01FailDays4) +
                                   any(kDnsErrorDays4) + any(kTlsErrorDays4) + any(kDnssecBogusDays4);
                     return std::pair<float, bool>(std::min(1.0f, signals / 3.0f), signals > 0);
                   }});
  return rules;
}

std::string Fixed(double v, int digits = 3) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

StatusOr<std::map<std::string, std::map<absl::Time, std::string>>> ReadCauses(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFoundError(StrCat("truth file ", path, " not found"));
  std::map<std::string, std::map<absl::Time, std::string>> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    std::string cert, when, cause;
    if (j.contains("cert") && j["cert"].is_string()) cert = j["cert"];
    for (const char* key : {"onset", "first_failure", "start", "ts"}) {
      if (when.empty() && j.contains(key) && j[key].is_string()) when = j[key];
    }
    for (const char* key : {"cause", "kind", "type"}) {
      if (cause.empty() && j.contains(key) && j[key].is_string()) cause = j[key];
    }
    if (cert.empty() || when.empty() || cause.empty()) continue;
    auto t = ParseRfc3339(when);
    if (!t.ok()) continue;
    // Truth files written before the vocabulary was unified name some causes differently.
    if (std::optional<Cause> known = ParseCause(cause)) cause = std::string(ToString(*known));
    out[cert][*t] = cause;
  }
  return out;
}

StatusOr<BacktestResult> RunBacktest(const Forecaster& forecaster, std::span<const Event> events,
                                     const BacktestOptions& options, std::ostream& csv) {
  if (options.to <= options.from) return InvalidArgumentError("--to must be after --from");
  const absl::Time from = FloorToDay(options.from) == options.from ? options.from : FloorToDay(options.from) + absl::Hours(24);
  auto episodes_by_cert = ComputeEpisodes(events);
  BacktestResult result;
  result.threshold = forecaster.alert_threshold();
  std::vector<Rule> rules = Baselines(options.horizon);
  std::vector<std::vector<ScoredDay>> rule_rows(rules.size());
  std::vector<ScoredDay> rows;
  std::vector<std::string> certs;
  std::vector<const std::vector<Episode>*> episodes;
  static const std::vector<Episode> kNone;
  FleetState state;
  size_t cursor = 0;
  ScoreOptions score_options;
  score_options.with_reasons = false;
  score_options.threads = options.threads;
  csv << "day,cert,risk,alert\n";
  std::string line;
  const int64_t total_days = (options.to - from + absl::Hours(24) - absl::Nanoseconds(1)) / absl::Hours(24);
  int64_t day_number = 0;
  double scoring_seconds = 0;
  std::vector<float> f(kFeatureCount);
  // Recalibration from outcomes as they arrive: at day D, the forecasts of days D' with
  // D' + horizon < D have outcomes that events before D decide (an onset in (D', D' + horizon] and
  // whether D' was inside an episode depend only on events up to the onset or D'), so the
  // episodes computed from all events give the same answer for them as events before D would.
  OutcomeRecalibration recalibration;
  std::vector<float> model_risks;  // the model's risk of rows[i], before recalibration
  // rows[i]'s predicted onset in days after its day: the next scheduled attempt, and AFT's time to
  // failure (NaN: none). Floats: a backtest holds one per cert-day.
  std::vector<std::pair<float, float>> predicted_onsets;
  size_t matured = 0;
  for (absl::Time day = from; day < options.to; day += absl::Hours(24), ++day_number) {
    const auto t0 = std::chrono::steady_clock::now();
    RETURN_IF_ERROR(state.AdvanceTo(events, day, &cursor));
    ASSIGN_OR_RETURN(std::vector<LineageForecast> forecasts, forecaster.ScoreState(state, day, score_options));
    scoring_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (options.recalibrate) {
      const size_t before = matured;
      for (; matured < rows.size() && rows[matured].day + options.horizon < day; ++matured) {
        const ScoredDay& r = rows[matured];
        const std::vector<Episode>& eps = *episodes[r.lineage];
        if (InEpisodeAt(eps, r.day)) continue;
        recalibration.Add(model_risks[matured], OnsetIn(eps, r.day, r.day + options.horizon) != nullptr);
      }
      if (matured != before) recalibration.Refit();
    }
    ASSIGN_OR_RETURN(FeatureExtractor fx, FeatureExtractor::Create(state, day));
    while (certs.size() < state.lineage_count()) {
      certs.push_back(state.lineage(certs.size()).cert);
      auto it = episodes_by_cert.find(certs.back());
      episodes.push_back(it == episodes_by_cert.end() ? &kNone : &it->second);
    }
    const std::string day_text = FormatRfc3339(day);
    size_t k = 0;
    for (size_t li = 0; li < state.lineage_count(); ++li) {
      if (!fx.HasConfig(li)) continue;
      const LineageForecast& fc = forecasts[k++];
      const double model_risk = RescaleRisk(fc.risk, forecaster.horizon(), options.horizon);
      const double risk = options.recalibrate ? recalibration.Apply(model_risk) : model_risk;
      model_risks.push_back(static_cast<float>(model_risk));
      line.clear();
      line += day_text;
      line += ',';
      AppendCsvField(fc.cert, line);
      line += ',';
      line += Fixed(risk, 6);
      line += fc.alert ? ",1\n" : ",0\n";
      csv << line;
      rows.push_back(ScoredDay{static_cast<uint32_t>(li), day, static_cast<float>(risk), fc.alert});
      predicted_onsets.emplace_back(
          fc.next_attempt ? static_cast<float>(absl::ToDoubleHours(*fc.next_attempt - day) / 24) : kMissing,
          fc.expected_time_to_failure ? static_cast<float>(absl::ToDoubleHours(*fc.expected_time_to_failure) / 24) : kMissing);
      fx.Extract(li, f.data());
      for (size_t r = 0; r < rules.size(); ++r) {
        auto [score, alert] = rules[r].fn(f.data(), state.lineage(li), day);
        // A rule cannot alert inside an ongoing episode any more than the model does.
        rule_rows[r].push_back(ScoredDay{static_cast<uint32_t>(li), day, score, alert && !InEpisode(state.lineage(li))});
      }
    }
    if (options.progress && (day_number % 7 == 6 || day_number + 1 == total_days)) {
      options.progress(StrCat("backtest: day ", day_number + 1, "/", total_days, ", ", rows.size(), " rows"));
    }
  }
  if (!csv) return UnavailableError("writing the backtest CSV failed");
  std::vector<std::map<absl::Time, std::string>> causes;
  if (options.causes != nullptr) {
    causes.resize(certs.size());
    for (size_t li = 0; li < certs.size(); ++li) {
      auto it = options.causes->find(certs[li]);
      if (it == options.causes->end()) continue;
      for (const Episode& ep : *episodes[li]) {
        // The truth file's time may differ slightly from the first failed attempt: nearest
        // entry within 36 hours.
        auto best = it->second.end();
        absl::Duration best_gap = absl::Hours(36);
        for (auto c = it->second.lower_bound(ep.onset - absl::Hours(36));
             c != it->second.end() && c->first <= ep.onset + absl::Hours(36); ++c) {
          if (absl::AbsDuration(c->first - ep.onset) <= best_gap) { best = c; best_gap = absl::AbsDuration(c->first - ep.onset); }
        }
        if (best != it->second.end()) causes[li][ep.onset] = best->second;
      }
    }
  }
  const auto* cause_ptr = options.causes != nullptr ? &causes : nullptr;
  result.model = Evaluate(rows, episodes, from, options.to, options.horizon, cause_ptr);
  for (size_t r = 0; r < rules.size(); ++r) {
    result.baselines.emplace_back(rules[r].name, Evaluate(rule_rows[r], episodes, from, options.to, options.horizon, cause_ptr));
  }
  {
    // The first alert day of each caught episode (rows are in day order): [onset - horizon,
    // onset - 1 day], as episode recall counts it.
    absl::flat_hash_set<std::pair<uint32_t, int64_t>> seen;
    std::vector<double> attempt_errors, aft_errors;
    for (size_t i = 0; i < rows.size(); ++i) {
      const ScoredDay& r = rows[i];
      if (!r.alert) continue;
      // One alert day may catch several episodes of the lineage (short ones in a row), as
      // episode recall counts them: each is timed from its own first alert day.
      const std::vector<Episode>& eps = *episodes[r.lineage];
      for (const Episode* ep = OnsetIn(eps, r.day, r.day + options.horizon);
           ep != nullptr && ep != eps.data() + eps.size() && ep->onset <= r.day + options.horizon; ++ep) {
        // The episodes episode recall counts (metrics.cc): a window day inside [from, to).
        if (ep->onset - absl::Hours(24) < from || ep->onset >= options.to + options.horizon ||
            ep->onset - r.day < absl::Hours(24)) {
          continue;
        }
        if (!seen.insert({r.lineage, absl::ToUnixSeconds(ep->onset)}).second) continue;
        const auto [attempt, aft] = predicted_onsets[i];
        const double actual = absl::ToDoubleHours(ep->onset - r.day) / 24;
        if (std::isfinite(attempt)) attempt_errors.push_back(std::abs(attempt - actual));
        if (std::isfinite(aft)) aft_errors.push_back(std::abs(aft - actual));
      }
    }
    auto median = [](std::vector<double>& v) {
      if (v.empty()) return 0.0;
      std::sort(v.begin(), v.end());
      return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
    };
    result.onset_time_attempt_count = static_cast<int64_t>(attempt_errors.size());
    result.onset_time_aft_count = static_cast<int64_t>(aft_errors.size());
    result.onset_time_attempt_median_days = median(attempt_errors);
    result.onset_time_aft_median_days = median(aft_errors);
  }
  result.recalibration_slope = recalibration.slope();
  result.recalibration_intercept = recalibration.intercept();
  result.recalibration_outcomes = recalibration.observations();
  result.rows = static_cast<int64_t>(rows.size());
  result.lineages = static_cast<int64_t>(certs.size());
  result.seconds_features_and_scoring = scoring_seconds;
  return result;
}

// ---------------------------------------------------------------------------------------------
namespace {

constexpr const char* kColors[] = {"#c0392b", "#2471a3", "#27ae60", "#8e44ad", "#d68910"};

std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// A square plot frame with axes 0..1 (or given maxima), returns the opening of the svg.
std::string Frame(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                  double xmax, double ymax) {
  std::string s = StrCat("<figure><figcaption>", Escape(title), "</figcaption>",
                         "<svg width=\"420\" height=\"340\" viewBox=\"0 0 420 340\" xmlns=\"http://www.w3.org/2000/svg\">",
                         "<rect x=\"50\" y=\"10\" width=\"350\" height=\"280\" fill=\"#fff\" stroke=\"#333\"/>");
  for (int i = 0; i <= 4; ++i) {
    const double fx = 50 + 350.0 * i / 4, fy = 290 - 280.0 * i / 4;
    s += StrCat("<line x1=\"", fx, "\" y1=\"290\" x2=\"", fx, "\" y2=\"295\" stroke=\"#333\"/>",
                "<text x=\"", fx, "\" y=\"308\" font-size=\"10\" text-anchor=\"middle\">", Fixed(xmax * i / 4, 2), "</text>",
                "<line x1=\"45\" y1=\"", fy, "\" x2=\"50\" y2=\"", fy, "\" stroke=\"#333\"/>",
                "<text x=\"42\" y=\"", fy + 3, "\" font-size=\"10\" text-anchor=\"end\">", Fixed(ymax * i / 4, 2), "</text>");
  }
  s += StrCat("<text x=\"225\" y=\"330\" font-size=\"12\" text-anchor=\"middle\">", Escape(xlabel), "</text>",
              "<text x=\"12\" y=\"150\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 12 150)\">",
              Escape(ylabel), "</text>");
  return s;
}

std::string Px(double x, double xmax) { return Fixed(50 + 350.0 * std::clamp(x / xmax, 0.0, 1.0), 1); }
std::string Py(double y, double ymax) { return Fixed(290 - 280.0 * std::clamp(y / ymax, 0.0, 1.0), 1); }

}  // namespace

std::string RenderBacktestReport(const BacktestResult& r, const BacktestOptions& options, const ModelInfo& info) {
  std::string h = StrCat(
      "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>certcast backtest</title><style>",
      "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #bbb;"
      "padding:4px 8px;text-align:right}th{background:#eee}figure{display:inline-block;margin:1em;vertical-align:top}"
      "figcaption{font-weight:bold}pre{white-space:pre-wrap;overflow-wrap:anywhere}"
      "ul.legend{list-style:none;padding:0;margin:0 0 0 50px;max-width:370px;font-size:12px}"
      "ul.legend li{margin:2px 0}.swatch{display:inline-block;width:14px;height:3px;margin-right:6px;"
      "vertical-align:middle}</style></head><body>",
      "<h1>certcast backtest</h1><p>Days ", FormatRfc3339(options.from), " to ", FormatRfc3339(options.to),
      ", horizon ", absl::ToInt64Hours(options.horizon) / 24, " days; ", r.rows, " cert-days, ", r.lineages,
      " lineages. Model trained on ", FormatRfc3339(info.train_from), " .. ", FormatRfc3339(info.train_until),
      " (", Escape(info.algorithm), "), alert threshold ", Fixed(r.threshold, 4),
      ". Risk at day D uses events before D only; cert-days inside an ongoing episode are not scored.</p>");
  if (info.prior_only) h += StrCat("<p><strong>Model: ", Escape(kPriorOnlyReason), "</strong> (every lineage gets the base rate; nothing alerts).</p>");
  h += "<table><tr><th>forecaster</th><th>PR-AUC</th><th>Brier</th><th>episodes</th><th>caught</th><th>recall</th>"
       "<th>alerts (dedup)</th><th>precision</th><th>median lead (days)</th><th>lead &ge; 1 day</th></tr>";
  auto row = [&](const std::string& name, const ForecastMetrics& m) {
    h += StrCat("<tr><td style=\"text-align:left\">", Escape(name), "</td><td>", Fixed(m.pr_auc), "</td><td>",
                Fixed(m.brier, 4), "</td><td>", m.episodes, "</td><td>", m.caught, "</td><td>", Fixed(m.recall),
                "</td><td>", m.alerts, "</td><td>", Fixed(m.precision), "</td><td>", Fixed(m.median_lead_days, 1),
                "</td><td>", Fixed(m.share_lead_at_least_1d), "</td></tr>");
  };
  row("certcast model", r.model);
  for (const auto& [name, m] : r.baselines) row(StrCat("rule: ", name), m);
  h += "</table>";

  // PR curves.
  h += Frame("Precision-recall over scored cert-days", "recall", "precision", 1, 1);
  auto curve = [&](const ForecastMetrics& m, const char* color) {
    std::string pts;
    for (const auto& [rec, prec] : m.pr_curve) pts += StrCat(Px(rec, 1), ",", Py(prec, 1), " ");
    h += StrCat("<polyline fill=\"none\" stroke=\"", color, "\" stroke-width=\"2\" points=\"", pts, "\"/>");
  };
  curve(r.model, kColors[0]);
  for (size_t i = 0; i < r.baselines.size(); ++i) curve(r.baselines[i].second, kColors[1 + i % 4]);
  // The legend names each rule in full below the plot ("rule 1" said nothing without the table),
  // as HTML so that long names wrap instead of running off the frame.
  h += "</svg><ul class=\"legend\">";
  auto legend = [&](const std::string& name, const char* color) {
    h += StrCat("<li><span class=\"swatch\" style=\"background:", color, "\"></span>", Escape(name), "</li>");
  };
  legend("certcast model", kColors[0]);
  for (size_t i = 0; i < r.baselines.size(); ++i) legend(StrCat("rule: ", r.baselines[i].first), kColors[1 + i % 4]);
  h += "</ul></figure>";

  // Calibration.
  h += Frame("Calibration (10 bins of risk)", "mean forecast risk", "observed onset rate", 1, 1);
  h += "<line x1=\"50\" y1=\"290\" x2=\"400\" y2=\"10\" stroke=\"#999\" stroke-dasharray=\"4\"/>";
  for (const auto& [risk, rate, n] : r.model.calibration) {
    h += StrCat("<circle cx=\"", Px(risk, 1), "\" cy=\"", Py(rate, 1), "\" r=\"", Fixed(2 + std::log10(1.0 + n), 1),
                "\" fill=\"", kColors[0], "\"><title>", n, " cert-days</title></circle>");
  }
  h += "</svg></figure>";

  // Lead-time histogram.
  const int max_lead = std::max(1, static_cast<int>(std::ceil(absl::ToDoubleHours(options.horizon) / 24)));
  std::vector<int> bins(max_lead + 1);
  for (double d : r.model.lead_days) bins[std::clamp(static_cast<int>(d), 0, max_lead)]++;
  const int top = std::max(1, *std::max_element(bins.begin(), bins.end()));
  h += Frame("Lead time of caught episodes", "days before onset", "episodes", max_lead + 1, top);
  for (int b = 0; b <= max_lead; ++b) {
    const double x0 = 50 + 350.0 * b / (max_lead + 1), w = 350.0 / (max_lead + 1) - 2;
    const double height = 280.0 * bins[b] / top;
    h += StrCat("<rect x=\"", Fixed(x0 + 1, 1), "\" y=\"", Fixed(290 - height, 1), "\" width=\"", Fixed(w, 1),
                "\" height=\"", Fixed(height, 1), "\" fill=\"", kColors[1], "\"/>");
  }
  h += "</svg></figure>";

  // Recall per cause.
  const size_t causes = std::max<size_t>(1, r.model.by_cause.size());
  h += StrCat("<figure><figcaption>Episode recall per cause</figcaption><svg width=\"520\" height=\"",
              30 + 22 * causes, "\" xmlns=\"http://www.w3.org/2000/svg\">");
  int i = 0;
  for (const auto& [cause, c] : r.model.by_cause) {
    const double rec = c.episodes > 0 ? static_cast<double>(c.caught) / c.episodes : 0;
    const int y = 10 + 22 * i++;
    h += StrCat("<text x=\"175\" y=\"", y + 13, "\" font-size=\"11\" text-anchor=\"end\">", Escape(cause), "</text>",
                "<rect x=\"180\" y=\"", y, "\" width=\"250\" height=\"16\" fill=\"#eee\"/>",
                "<rect x=\"180\" y=\"", y, "\" width=\"", Fixed(250 * rec, 1), "\" height=\"16\" fill=\"", kColors[2], "\"/>",
                "<text x=\"435\" y=\"", y + 13, "\" font-size=\"11\">", c.caught, "/", c.episodes, "</text>");
  }
  h += "</svg></figure>";
  // The training metrics are one long JSON line: wrap it (pre-wrap above) instead of widening the
  // page past the window.
  h += StrCat("<h2>Model</h2><p>Validation metrics stored in the model file:</p><pre>",
              Escape(info.metrics_json), "</pre></body></html>\n");
  return h;
}

}  // namespace certcast
