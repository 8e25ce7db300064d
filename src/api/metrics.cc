#include "api/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/strings.h"

namespace certcast::api {
namespace {

// Shortest text that reads back as the same double; Prometheus's own special values.
std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  // Timestamps and counts as plain integers (1798588800, not 1.7985888e+09).
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buffer, sizeof buffer, "%.0f", v);
    return buffer;
  }
  std::snprintf(buffer, sizeof buffer, "%.17g", v);
  std::string shortest = buffer;
  for (int precision = 1; precision < 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, v);
    if (std::strtod(buffer, nullptr) == v) {
      shortest = buffer;
      break;
    }
  }
  return shortest;
}

std::string Seconds(absl::Time t) { return Number(absl::ToDoubleSeconds(t - absl::UnixEpoch())); }

void Header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += StrCat("# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

void WriteHistogram(std::string& out, std::string_view name, const std::string& labels,
                    const Histogram::Reading& r) {
  const std::string prefix = labels.empty() ? "" : StrCat(labels, ",");
  for (size_t i = 0; i <= r.bounds.size(); ++i) {
    const std::string le = i < r.bounds.size() ? Number(r.bounds[i]) : "+Inf";
    out += StrCat(name, "_bucket{", prefix, "le=\"", le, "\"} ", r.cumulative[i], "\n");
  }
  const std::string braces = labels.empty() ? "" : StrCat("{", labels, "}");
  out += StrCat(name, "_sum", braces, " ", Number(r.sum), "\n");
  out += StrCat(name, "_count", braces, " ", r.count, "\n");
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(new std::atomic<int64_t>[bounds_.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double seconds) {
  if (!(seconds >= 0)) seconds = 0;
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), seconds) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(std::llround(seconds * 1e6)), std::memory_order_relaxed);
}

Histogram::Reading Histogram::Read() const {
  Reading r;
  r.bounds = bounds_;
  int64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    r.cumulative.push_back(running);
  }
  // The count is the +Inf bucket so that a reading taken during an Observe stays consistent.
  r.count = running;
  r.sum = static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
  return r;
}

std::vector<double> RequestBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}
std::vector<double> PlanBuckets() { return {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300}; }

ServerMetrics::ServerMetrics() : plan_duration(PlanBuckets()) {}

Histogram& ServerMetrics::RequestHistogram(const std::string& method, const std::string& route) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = requests_[{method, route}];
  if (!slot) slot = std::make_unique<Histogram>(RequestBuckets());
  return *slot;
}

std::vector<ServerMetrics::RouteReading> ServerMetrics::ReadRequests() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<RouteReading> out;
  for (const auto& [key, histogram] : requests_) {
    out.push_back({key.first, key.second, histogram->Read()});
  }
  return out;
}

std::string RenderMetrics(const FleetSnapshot* snapshot, const ServerMetrics& server) {
  std::string out;
  if (snapshot != nullptr) {
    const FleetSnapshot& s = *snapshot;
    std::vector<std::string> labels;
    labels.reserve(s.lineages.size());
    for (const LineageEntry& e : s.lineages) {
      labels.push_back(StrCat("cert=\"", EscapeLabelValue(e.cert), "\",host=\"",
                              EscapeLabelValue(e.host), "\",ca=\"", EscapeLabelValue(e.ca),
                              "\",client=\"", EscapeLabelValue(e.client), "\""));
    }
    auto per_cert = [&](std::string_view name, std::string_view type, std::string_view help,
                        const auto& value) {
      Header(out, name, type, help);
      for (size_t i = 0; i < s.lineages.size(); ++i) {
        const std::optional<std::string> v = value(s.lineages[i]);
        if (v) out += StrCat(name, "{", labels[i], "} ", *v, "\n");
      }
    };
    per_cert("certcast_certificate_expiration_timestamp_seconds", "gauge",
             "The date after which the lineage's newest issued certificate expires (not_after), "
             "in Unix seconds.",
             [](const LineageEntry& e) -> std::optional<std::string> {
               if (!e.not_after) return std::nullopt;
               return Seconds(*e.not_after);
             });
    per_cert("certcast_certificate_renewal_timestamp_seconds", "gauge",
             "When the lineage's ACME client itself first tries to renew the newest certificate "
             "(its rule, history and ARI), in Unix seconds.",
             [](const LineageEntry& e) -> std::optional<std::string> {
               if (!e.renewal_due) return std::nullopt;
               return Seconds(*e.renewal_due);
             });
    per_cert("certcast_certificate_renewal_failure_risk", "gauge",
             "Forecast probability that the lineage's renewal fails within the model's horizon "
             "(absent without a model).",
             [](const LineageEntry& e) -> std::optional<std::string> {
               if (!e.risk) return std::nullopt;
               return Number(*e.risk);
             });
    per_cert("certcast_certificate_served_current", "gauge",
             "1 when every probed endpoint of the lineage serves its newest issued certificate, "
             "0 when one serves an older one or fails its TLS probe (absent when never probed).",
             [](const LineageEntry& e) -> std::optional<std::string> {
               if (e.served_state == kServedUnknown) return std::nullopt;
               return std::string(e.served_state == kServedCurrent ? "1" : "0");
             });
    per_cert("certcast_certificate_ready_status", "gauge",
             "1 when the lineage has an unexpired certificate and its renewals are not failing "
             "(like cert-manager's Ready condition).",
             [&](const LineageEntry& e) -> std::optional<std::string> {
               const bool ready = e.not_after && *e.not_after > s.at && e.episode_failures == 0;
               return std::string(ready ? "1" : "0");
             });
    Header(out, "certcast_lineages", "gauge", "Lineages in the fleet view.");
    out += StrCat("certcast_lineages ", s.lineages.size(), "\n");
    Header(out, "certcast_plan_timestamp_seconds", "gauge",
           "The instant of the plan behind the fleet view, in Unix seconds.");
    out += StrCat("certcast_plan_timestamp_seconds ", Seconds(s.at), "\n");
    const FleetKpis& k = s.kpis;
    const std::string window = "window=\"30d\"";
    auto optional_gauge = [&](std::string_view name, std::string_view help,
                              const std::optional<double>& v) {
      Header(out, name, "gauge", help);
      if (v) out += StrCat(name, "{", window, "} ", Number(*v), "\n");
    };
    optional_gauge("certcast_renewal_success_ratio",
                   "Succeeded / attempted renewals (dry runs excluded) over the trailing window.",
                   k.success_ratio);
    optional_gauge("certcast_renewal_mean_time_to_repair_seconds",
                   "Mean time from a lineage's first failed renewal to the success that ends the "
                   "run, over runs ended in the trailing window.",
                   k.mean_time_to_repair_seconds);
    optional_gauge("certcast_forecast_precision",
                   "Judged forecast alerts (lineage-days at or above the alert threshold) in the "
                   "trailing window followed by a renewal failure onset within the horizon.",
                   k.forecast_precision);
    optional_gauge("certcast_forecast_recall",
                   "Renewal failure onsets in the trailing window that a forecast alert within "
                   "the horizon before them foresaw.",
                   k.forecast_recall);
  }
  Header(out, "certcast_ingest_requests_total", "counter", "POST /v1/events requests answered.");
  out += StrCat("certcast_ingest_requests_total ", server.ingest_requests.value(), "\n");
  Header(out, "certcast_ingest_events_total", "counter",
         "Event lines received by POST /v1/events, by result.");
  out += StrCat("certcast_ingest_events_total{result=\"stored\"} ", server.events_stored.value(), "\n");
  out += StrCat("certcast_ingest_events_total{result=\"duplicate\"} ", server.events_duplicate.value(), "\n");
  out += StrCat("certcast_ingest_events_total{result=\"rejected\"} ", server.events_rejected.value(), "\n");
  Header(out, "certcast_plans_total", "counter", "Plans the server ran, by result.");
  out += StrCat("certcast_plans_total{result=\"success\"} ", server.plans_succeeded.value(), "\n");
  out += StrCat("certcast_plans_total{result=\"failure\"} ", server.plans_failed.value(), "\n");
  Header(out, "certcast_plan_duration_seconds", "histogram",
         "Wall time of one plan (fold, score, decide, record) and fleet view refresh.");
  WriteHistogram(out, "certcast_plan_duration_seconds", "", server.plan_duration.Read());
  Header(out, "certcast_http_request_duration_seconds", "histogram",
         "Time from a request's arrival to its answer, by method and route pattern.");
  for (const ServerMetrics::RouteReading& r : server.ReadRequests()) {
    WriteHistogram(out, "certcast_http_request_duration_seconds",
                   StrCat("method=\"", EscapeLabelValue(r.method), "\",route=\"",
                          EscapeLabelValue(r.route), "\""),
                   r.reading);
  }
  return out;
}

}  // namespace certcast::api
