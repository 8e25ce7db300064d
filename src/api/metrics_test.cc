// The /metrics renderer: exact exposition lines for a known snapshot, label escaping, histograms.
#include "api/metrics.h"

#include <string>
#include <vector>

#include "core/strings.h"
#include "core/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace certcast::api {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

absl::Time T(const char* text) { return *ParseRfc3339(text); }

FleetSnapshot Snapshot() {
  FleetSnapshot s;
  s.at = T("2026-11-02T00:00:00Z");
  LineageEntry a;
  a.cert = "shop";
  a.host = "web1";
  a.ca = "https://acme.example/dir";
  a.client = "certbot";
  a.not_after = T("2026-12-30T00:00:00Z");    // 1798588800
  a.renewal_due = T("2026-11-30T00:00:00Z");  // 1795996800
  a.risk = 0.25;
  a.served_state = kServedStale;
  LineageEntry b;
  b.cert = "odd\"name\\with\nbreak";
  b.host = "web2";
  b.client = "lego";
  b.served_state = kServedUnknown;  // no probe, no certificate, no risk: only ready_status 0
  s.lineages = {a, b};
  s.kpis.success_ratio = 0.75;
  s.kpis.mean_time_to_repair_seconds = 3600;
  return s;
}

TEST(RenderMetrics, PerCertificateSeriesWithLabels) {
  ServerMetrics server;
  const FleetSnapshot snapshot = Snapshot();
  const std::string text = RenderMetrics(&snapshot, server);
  const std::string shop = R"(cert="shop",host="web1",ca="https://acme.example/dir",client="certbot")";
  const std::vector<std::string> present = {
      StrCat("certcast_certificate_expiration_timestamp_seconds{", shop, "} 1798588800\n"),
      StrCat("certcast_certificate_renewal_timestamp_seconds{", shop, "} 1795996800\n"),
      StrCat("certcast_certificate_renewal_failure_risk{", shop, "} 0.25\n"),
      StrCat("certcast_certificate_served_current{", shop, "} 0\n"),
      StrCat("certcast_certificate_ready_status{", shop, "} 1\n"),
      "certcast_certificate_ready_status{cert=\"odd\\\"name\\\\with\\nbreak\",host=\"web2\",ca=\"\",client=\"lego\"} 0\n",
      "certcast_lineages 2\n",
      "certcast_plan_timestamp_seconds 1793577600\n",
      "certcast_renewal_success_ratio{window=\"30d\"} 0.75\n",
      "certcast_renewal_mean_time_to_repair_seconds{window=\"30d\"} 3600\n",
      "# TYPE certcast_forecast_precision gauge\n",
      "certcast_ingest_events_total{result=\"stored\"} 0\n",
      "# TYPE certcast_plan_duration_seconds histogram\n",
  };
  for (const std::string& line : present) EXPECT_THAT(text, HasSubstr(line));
  // Absent values are absent series, never a made-up 0.
  EXPECT_THAT(text, Not(HasSubstr("certcast_forecast_precision{")));
  EXPECT_THAT(text, Not(HasSubstr("risk{cert=\"odd")));
  EXPECT_THAT(text, Not(HasSubstr("served_current{cert=\"odd")));
}

TEST(RenderMetrics, WithoutSnapshotOnlyServerMetrics) {
  ServerMetrics server;
  server.ingest_requests.Add(3);
  server.events_stored.Add(10);
  server.events_rejected.Add(2);
  const std::string text = RenderMetrics(nullptr, server);
  EXPECT_THAT(text, Not(HasSubstr("certcast_certificate_")));
  EXPECT_THAT(text, HasSubstr("certcast_ingest_requests_total 3\n"));
  EXPECT_THAT(text, HasSubstr("certcast_ingest_events_total{result=\"stored\"} 10\n"));
  EXPECT_THAT(text, HasSubstr("certcast_ingest_events_total{result=\"rejected\"} 2\n"));
}

TEST(Histogram, CumulativeBucketsSumAndCount) {
  ServerMetrics server;
  for (double s : {0.001, 0.005, 0.2, 30.0}) server.RequestHistogram("GET", "/v1/lineages").Observe(s);
  server.plan_duration.Observe(0.5);
  const std::string text = RenderMetrics(nullptr, server);
  const std::string route = R"(method="GET",route="/v1/lineages")";
  for (const std::string& line : std::vector<std::string>{
           StrCat("certcast_http_request_duration_seconds_bucket{", route, ",le=\"0.005\"} 2\n"),
           StrCat("certcast_http_request_duration_seconds_bucket{", route, ",le=\"0.1\"} 2\n"),
           StrCat("certcast_http_request_duration_seconds_bucket{", route, ",le=\"0.25\"} 3\n"),
           StrCat("certcast_http_request_duration_seconds_bucket{", route, ",le=\"10\"} 3\n"),
           StrCat("certcast_http_request_duration_seconds_bucket{", route, ",le=\"+Inf\"} 4\n"),
           StrCat("certcast_http_request_duration_seconds_sum{", route, "} 30.206\n"),
           StrCat("certcast_http_request_duration_seconds_count{", route, "} 4\n"),
           "certcast_plan_duration_seconds_bucket{le=\"0.1\"} 0\n",
           "certcast_plan_duration_seconds_bucket{le=\"0.5\"} 1\n",
           "certcast_plan_duration_seconds_count 1\n",
       }) {
    EXPECT_THAT(text, HasSubstr(line));
  }
}

TEST(EscapeLabelValue, EscapesWhatTheFormatRequires) {
  struct Case {
    std::string in, out;
  };
  for (const Case& c : std::vector<Case>{{"plain", "plain"},
                                         {"a\"b", "a\\\"b"},
                                         {"a\\b", "a\\\\b"},
                                         {"a\nb", "a\\nb"},
                                         {"", ""}}) {
    EXPECT_EQ(EscapeLabelValue(c.in), c.out);
  }
}

}  // namespace
}  // namespace certcast::api
