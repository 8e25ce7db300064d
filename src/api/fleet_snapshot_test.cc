// The fleet view: built from what the planner saw and decided, queried with filters, sorts and
// pages, and the KPIs (renewal success ratio, MTTR, forecast precision and recall).
#include "api/fleet_snapshot.h"

#include <string>
#include <vector>

#include "core/event_json.h"
#include "core/strings.h"
#include "core/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "plan/planner.h"

namespace certcast::api {
namespace {

using ::testing::ElementsAre;

absl::Time T(const char* text) { return *ParseRfc3339(text); }

std::vector<Event> Parse(const std::vector<std::string>& lines) {
  std::vector<Event> events;
  for (const std::string& line : lines) {
    auto e = ParseEventLine(line);
    EXPECT_TRUE(e.ok()) << e.status() << " in " << line;
    if (e.ok()) events.push_back(*e);
  }
  return events;
}

// A certbot 4.1 lineage on `host` with a 90-day certificate issued 2026-10-01 (renewal due at 2/3
// of the lifetime: 2026-11-30).
std::vector<std::string> Lineage(const std::string& cert, const std::string& host) {
  return {StrCat(R"({"ts":"2026-09-01T00:00:00Z","type":"config","cert":")", cert, R"(","host":")",
                 host, R"(","names":[")", cert,
                 R"(.example.com"],"client":"certbot","client_version":"4.1.0","ca":"https://acme.example/dir","challenge":"http-01","ari":false})"),
          StrCat(R"({"ts":"2026-10-01T00:00:00Z","type":"issued","cert":")", cert, R"(","serial":"new-)", cert,
                 R"(","not_before":"2026-10-01T00:00:00Z","not_after":"2026-12-30T00:00:00Z","ca":"https://acme.example/dir"})")};
}

std::string Probe(const std::string& cert, const std::string& serial, const char* outcome = "ok") {
  return StrCat(R"({"ts":"2026-11-01T00:00:00Z","type":"tls_probe","endpoint":")", cert,
                R"(.example.com:443","sni":")", cert, R"(.example.com","cert":")", cert,
                R"(","outcome":")", outcome, "\"",
                std::string(outcome) == "ok" ? StrCat(R"(,"serial":")", serial, "\"") : std::string(R"(,"error":"timeout")"),
                "}");
}

struct Built {
  std::vector<policy::LineageView> views;
  policy::ForecastMap forecasts;
  policy::PlanResult plan;
  policy::FleetMemory memory;
};

Built Plan(const std::vector<std::string>& lines, const policy::ForecastMap& forecasts, absl::Time now) {
  Built b;
  b.views = policy::ViewsOfEvents(Parse(lines), now);
  b.forecasts = forecasts;
  b.plan = policy::PlanFleet(b.views, b.forecasts, b.memory, policy::PolicyConfig{}, now);
  return b;
}

TEST(BuildFleetSnapshot, StateRiskReasonAndActionPerLineage) {
  std::vector<std::string> lines;
  for (const char* cert : {"alpha", "beta", "gamma"}) {
    for (std::string& l : Lineage(cert, StrCat("web-", cert))) lines.push_back(std::move(l));
  }
  // alpha's servers still serve the certificate before the newest one, which replaced it at 2/3 of
  // its lifetime (the fold reads events in ts order, so this one is alpha's renewal history: one
  // replaced at its expiry would move the due time to the new one's expiry).
  lines.push_back(
      R"({"ts":"2026-08-02T00:00:00Z","type":"issued","cert":"alpha","serial":"old-alpha","not_before":"2026-08-02T00:00:00Z","not_after":"2026-10-31T00:00:00Z","ca":"https://acme.example/dir"})");
  lines.push_back(Probe("alpha", "old-alpha"));
  lines.push_back(Probe("beta", "new-beta"));
  const absl::Time now = T("2026-11-02T12:00:00Z");
  policy::ForecastMap forecasts;
  forecasts["alpha"].risk = 0.1;
  forecasts["beta"].risk = 0.35;  // below every risk threshold of the policy
  forecasts["beta"].reasons = {"port 80 timed out from outside on 3 of the last 4 days"};
  forecasts["gamma"].risk = 0.2;
  Built b = Plan(lines, forecasts, now);
  const FleetSnapshot s = BuildFleetSnapshot(b.views, b.forecasts, /*has_model=*/true, b.plan, b.memory, now);

  ASSERT_EQ(s.lineages.size(), 3u);
  // Highest risk first.
  EXPECT_EQ(s.lineages[0].cert, "beta");
  EXPECT_EQ(s.lineages[1].cert, "gamma");
  EXPECT_EQ(s.lineages[2].cert, "alpha");
  struct Want {
    const char* cert;
    double risk;
    const char* served;
    const char* action;       // "" = none
    const char* reason_prefix;
  };
  for (const Want& w : std::vector<Want>{
           {"alpha", 0.1, kServedStale, "reload", "ServedStale"},
           {"beta", 0.35, kServedCurrent, "", "port 80 timed out"},
           {"gamma", 0.2, kServedUnknown, "", "no action needed"},
       }) {
    SCOPED_TRACE(w.cert);
    const LineageEntry* e = s.Find(w.cert);
    ASSERT_NE(e, nullptr);
    ASSERT_TRUE(e->risk.has_value());
    EXPECT_DOUBLE_EQ(*e->risk, w.risk);
    EXPECT_EQ(e->served_state, w.served);
    EXPECT_EQ(e->host, StrCat("web-", w.cert));
    EXPECT_EQ(e->client, "certbot");
    EXPECT_EQ(e->ca, "https://acme.example/dir");
    EXPECT_EQ(e->challenge, "http-01");
    EXPECT_EQ(e->serial, StrCat("new-", w.cert));
    EXPECT_EQ(e->not_after, T("2026-12-30T00:00:00Z"));
    // certbot >= 4 renews at 2/3 of the 90-day lifetime.
    EXPECT_EQ(e->renewal_due, T("2026-11-30T00:00:00Z"));
    EXPECT_EQ(e->action ? std::string(ToString(e->action->kind)) : "", w.action);
    EXPECT_EQ(e->reason.rfind(w.reason_prefix, 0), 0u) << e->reason;
  }
  EXPECT_EQ(s.Find("alpha")->action_reason_code, "ServedStale");
  EXPECT_EQ(s.Find("delta"), nullptr);
}

TEST(BuildFleetSnapshot, WithoutModelEveryRiskIsNull) {
  const absl::Time now = T("2026-11-02T12:00:00Z");
  Built b = Plan(Lineage("alpha", "web1"), {}, now);
  const FleetSnapshot s = BuildFleetSnapshot(b.views, b.forecasts, /*has_model=*/false, b.plan, b.memory, now);
  ASSERT_EQ(s.lineages.size(), 1u);
  EXPECT_FALSE(s.lineages[0].risk.has_value());
  const auto j = nlohmann::json::parse(LineageJson(s.lineages[0], /*detail=*/false));
  EXPECT_TRUE(j["risk"].is_null());
  EXPECT_EQ(j["cert"], "alpha");
  EXPECT_EQ(j["reason"], "no action needed");
}

TEST(BuildFleetSnapshot, FailedProbeIsErrorAndExpiryImminentIsPlanned) {
  std::vector<std::string> lines = Lineage("alpha", "web1");
  lines.push_back(Probe("alpha", "", "error"));
  // Two days before expiry, never renewed: the safety net renews.
  const absl::Time now = T("2026-12-28T00:00:00Z");
  Built b = Plan(lines, {}, now);
  const FleetSnapshot s = BuildFleetSnapshot(b.views, b.forecasts, false, b.plan, b.memory, now);
  const LineageEntry* e = s.Find("alpha");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->served_state, kServedError);
  ASSERT_TRUE(e->action.has_value());
  EXPECT_EQ(e->action->kind, ActionKind::kRenew);
  EXPECT_EQ(e->action_reason_code, "ExpiryImminent");
  const auto detail = nlohmann::json::parse(LineageJson(*e, /*detail=*/true));
  EXPECT_EQ(detail["endpoints"][0]["error"], "timeout");
  EXPECT_EQ(detail["action"]["reason_code"], "ExpiryImminent");
}

FleetSnapshot Fleet() {
  FleetSnapshot s;
  s.at = T("2026-11-02T00:00:00Z");
  auto add = [&](const char* cert, const char* host, const char* client, const char* ca,
                 std::optional<double> risk, const char* not_after) {
    LineageEntry e;
    e.cert = cert;
    e.host = host;
    e.hosts = {host};
    e.names = {StrCat(cert, ".example.com")};
    e.client = client;
    e.ca = ca;
    e.risk = risk;
    if (not_after[0]) e.not_after = T(not_after);
    s.lineages.push_back(e);
  };
  add("a", "web1", "certbot", "le", 0.9, "2026-12-05T00:00:00Z");
  add("b", "web2", "lego", "le", 0.5, "2026-11-20T00:00:00Z");
  add("c", "web1", "certbot", "zerossl", 0.2, "");
  add("d", "web3", "acme.sh", "le", std::nullopt, "2026-11-10T00:00:00Z");
  for (size_t i = 0; i < s.lineages.size(); ++i) s.index.emplace(s.lineages[i].cert, i);
  return s;
}

std::vector<std::string> Certs(const LineagePage& page) {
  std::vector<std::string> out;
  for (const LineageEntry* e : page.items) out.push_back(e->cert);
  return out;
}

TEST(QueryLineages, FiltersSortsAndPages) {
  const FleetSnapshot s = Fleet();
  struct Case {
    std::multimap<std::string, std::string> params;
    std::vector<std::string> certs;
    int64_t total;
    std::optional<int64_t> next;
  };
  const std::vector<Case> cases = {
      {{}, {"a", "b", "c", "d"}, 4, std::nullopt},
      {{{"host", "web1"}}, {"a", "c"}, 2, std::nullopt},
      {{{"name", "b.example.com"}}, {"b"}, 1, std::nullopt},
      {{{"client", "certbot"}, {"ca", "le"}}, {"a"}, 1, std::nullopt},
      {{{"min_risk", "0.5"}}, {"a", "b"}, 2, std::nullopt},
      {{{"min_risk", "0"}}, {"a", "b", "c"}, 3, std::nullopt},  // no risk never passes
      {{{"sort", "cert"}, {"limit", "2"}}, {"a", "b"}, 4, 2},
      {{{"sort", "cert"}, {"limit", "2"}, {"cursor", "2"}}, {"c", "d"}, 4, std::nullopt},
      {{{"sort", "not_after"}}, {"d", "b", "a", "c"}, 4, std::nullopt},
      {{{"offset", "10"}}, {}, 4, std::nullopt},
      {{{"host", "nowhere"}}, {}, 0, std::nullopt},
  };
  for (const Case& c : cases) {
    auto q = ParseLineageQuery(c.params);
    ASSERT_TRUE(q.ok()) << q.status();
    const LineagePage page = QueryLineages(s, *q);
    EXPECT_EQ(Certs(page), c.certs);
    EXPECT_EQ(page.total, c.total);
    EXPECT_EQ(page.next_offset, c.next);
  }
}

TEST(ParseLineageQuery, BadParametersNameThemselves) {
  struct Case {
    std::multimap<std::string, std::string> params;
    std::string error;
  };
  const std::vector<Case> cases = {
      {{{"limit", "0"}}, "limit: expected an integer in [1, 1000], got \"0\""},
      {{{"limit", "1001"}}, "limit: expected an integer in [1, 1000], got \"1001\""},
      {{{"limit", "ten"}}, "limit: expected an integer in [1, 1000], got \"ten\""},
      {{{"offset", "-1"}}, "offset: expected an integer in [0, 1099511627776], got \"-1\""},
      {{{"min_risk", "1.5"}}, "min_risk: expected a number in [0, 1], got \"1.5\""},
      {{{"min_risk", ""}}, "min_risk: expected a number in [0, 1], got \"\""},
      {{{"min_risk", "nan"}}, "min_risk: expected a number in [0, 1], got \"nan\""},
      {{{"sort", "size"}}, "sort: expected one of risk, cert, not_after, renewal_due, got \"size\""},
      {{{"host", "a"}, {"host", "b"}}, "host: given more than once"},
      {{{"hots", "a"}},
       "unknown query parameter \"hots\" (expected host, name, client, ca, challenge, cause, min_risk, "
       "sort, limit, offset, cursor)"},
  };
  for (const Case& c : cases) {
    auto q = ParseLineageQuery(c.params);
    ASSERT_FALSE(q.ok());
    EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(q.status().message(), c.error);
  }
}

TEST(LineagePageJson, CarriesCursorAndList) {
  const FleetSnapshot s = Fleet();
  LineageQuery q;
  q.limit = 3;
  const auto j = nlohmann::json::parse(LineagePageJson(s, QueryLineages(s, q), q));
  EXPECT_EQ(j["total"], 4);
  EXPECT_EQ(j["next_cursor"], "3");
  ASSERT_EQ(j["lineages"].size(), 3u);
  EXPECT_EQ(j["lineages"][0]["cert"], "a");
  EXPECT_DOUBLE_EQ(j["lineages"][0]["risk"].get<double>(), 0.9);
  EXPECT_TRUE(j["lineages"][0]["renewal_due"].is_null());
}

std::string Renewal(const char* ts, const char* cert, bool ok, bool dry_run = false) {
  return StrCat(R"({"ts":")", ts, R"(","type":"renewal","cert":")", cert, R"(","outcome":")",
                ok ? "success" : "failure", "\"", ok ? "" : R"(,"error":"timeout")",
                dry_run ? R"(,"dry_run":true)" : "", "}");
}

TEST(ComputeRenewalKpis, RatioAndMeanTimeToRepair) {
  const absl::Time at = T("2026-12-01T00:00:00Z");
  struct Case {
    const char* name;
    std::vector<std::string> lines;
    int64_t succeeded, failed, repairs;
    std::optional<double> ratio, mttr;
  };
  const std::vector<Case> cases = {
      {"nothing", {}, 0, 0, 0, std::nullopt, std::nullopt},
      {"one repaired run",
       {Renewal("2026-11-10T00:00:00Z", "a", false), Renewal("2026-11-10T12:00:00Z", "a", false),
        Renewal("2026-11-11T00:00:00Z", "a", true), Renewal("2026-11-12T00:00:00Z", "b", true)},
       2, 2, 1, 0.5, 86400.0},
      {"run started before the window is repaired in it",
       {Renewal("2026-10-20T00:00:00Z", "a", false), Renewal("2026-11-05T00:00:00Z", "a", true)},
       1, 0, 1, 1.0, 16 * 86400.0},
      {"dry runs and events at or after `at` do not count",
       {Renewal("2026-11-10T00:00:00Z", "a", false, true), Renewal("2026-11-10T00:00:00Z", "b", false),
        Renewal("2026-12-01T00:00:00Z", "b", true)},
       0, 1, 0, 0.0, std::nullopt},
      {"two lineages, two repairs",
       {Renewal("2026-11-02T00:00:00Z", "a", false), Renewal("2026-11-02T00:00:00Z", "b", false),
        Renewal("2026-11-02T01:00:00Z", "a", true), Renewal("2026-11-02T03:00:00Z", "b", true)},
       2, 2, 2, 0.5, 7200.0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    FleetKpis k;
    ComputeRenewalKpis(Parse(c.lines), at, k);
    EXPECT_EQ(k.renewals_succeeded, c.succeeded);
    EXPECT_EQ(k.renewals_failed, c.failed);
    EXPECT_EQ(k.repairs, c.repairs);
    EXPECT_EQ(k.success_ratio, c.ratio);
    EXPECT_EQ(k.mean_time_to_repair_seconds, c.mttr);
  }
}

TEST(ComputeForecastQuality, PrecisionAndRecallAgainstOnsets) {
  const absl::Time at = T("2026-12-01T00:00:00Z");
  const absl::Duration horizon = absl::Hours(24 * 7);
  const std::vector<ForecastDay> history = {
      {T("2026-11-02T00:00:00Z"), {"a", "b"}, {}},  // a fails on 11-03 (hit); b never (miss)
      {T("2026-11-20T00:00:00Z"), {"c"}, {}},       // c fails on 11-29 (beyond 7 d: miss)
      {T("2026-11-28T00:00:00Z"), {"d"}, {}},       // horizon not over, no onset: not judged
      {T("2026-11-29T00:00:00Z"), {"e"}, {}},       // e fails 11-30: judged early, hit
  };
  const std::vector<Event> events = Parse({
      Renewal("2026-11-03T00:00:00Z", "a", false),
      Renewal("2026-11-03T06:00:00Z", "a", false),  // same episode: not a new onset
      Renewal("2026-11-04T00:00:00Z", "a", true),
      Renewal("2026-11-10T00:00:00Z", "f", false),  // unforeseen onset
      Renewal("2026-11-29T00:00:00Z", "c", false),
      Renewal("2026-11-30T00:00:00Z", "e", false),
      Renewal("2026-11-30T00:00:00Z", "g", false, /*dry_run=*/true),  // not a renewal
  });
  FleetKpis k;
  ComputeForecastQuality(history, events, horizon, at, k);
  EXPECT_EQ(k.forecast_alerts_judged, 4);
  EXPECT_EQ(k.forecast_alerts_hit, 2);
  EXPECT_EQ(k.forecast_precision, 0.5);
  EXPECT_EQ(k.onsets, 4);  // a, f, c, e
  EXPECT_EQ(k.onsets_forecast, 2);  // a, e
  EXPECT_EQ(k.forecast_recall, 0.5);

  FleetKpis empty;
  ComputeForecastQuality({}, {}, horizon, at, empty);
  EXPECT_FALSE(empty.forecast_precision.has_value());
  EXPECT_FALSE(empty.forecast_recall.has_value());
}

TEST(ForecastHistory, RoundTripRecordAndBadInput) {
  FleetSnapshot s = Fleet();
  s.at = T("2026-11-02T13:00:00Z");
  std::vector<ForecastDay> history = {{T("2026-09-01T00:00:00Z"), {"old"}, {}},
                                      {T("2026-11-02T00:00:00Z"), {"replaced"}, {}}};
  RecordForecastDay(s, /*alert_threshold=*/0.5, absl::Hours(24 * 60), history);
  ASSERT_EQ(history.size(), 1u);  // the September day is older than 60 days; today replaced
  EXPECT_EQ(history[0].day, T("2026-11-02T00:00:00Z"));
  EXPECT_THAT(history[0].alerted, ElementsAre("a", "b"));
  auto back = ForecastHistoryFromJson(ForecastHistoryToJson(history));
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].day, history[0].day);
  EXPECT_EQ((*back)[0].alerted, history[0].alerted);

  struct Bad {
    const char* json;
    const char* error;
  };
  for (const Bad& b : std::vector<Bad>{
           {"", "forecast history: not an object with a \"days\" list"},
           {"{\"days\":{}}", "forecast history: not an object with a \"days\" list"},
           {"{\"days\":[{\"day\":\"x\",\"alerted\":[]}]}", "forecast history: day 0: "},
           {"{\"days\":[{\"day\":\"2026-11-02T00:00:00Z\",\"alerted\":[1]}]}",
            "forecast history: day 0: a cert is not a string"},
           {"{\"days\":[{\"alerted\":[]}]}", "forecast history: day 0: expected {day, alerted}"},
       }) {
    auto parsed = ForecastHistoryFromJson(b.json);
    ASSERT_FALSE(parsed.ok()) << b.json;
    EXPECT_EQ(parsed.status().code(), StatusCode::kDataLoss);
    EXPECT_EQ(parsed.status().message().rfind(b.error, 0), 0u) << parsed.status().message();
  }
}

}  // namespace
}  // namespace certcast::api

namespace certcast::api {
namespace {

// The dashboard's filters beyond GET /v1/lineages' first ones: challenge and diagnosed cause.
TEST(QueryLineages, ChallengeAndCauseFilters) {
  FleetSnapshot s = Fleet();
  s.lineages[0].challenge = "dns-01";
  s.lineages[1].challenge = "http-01";
  s.lineages[1].cause = "http01_unreachable";
  s.lineages[2].challenge = "http-01";
  struct Case {
    std::multimap<std::string, std::string> params;
    std::vector<std::string> want;
  };
  for (const Case& c : std::vector<Case>{
           {{{"challenge", "http-01"}}, {"b", "c"}},
           {{{"challenge", "dns-01"}}, {"a"}},
           {{{"cause", "http01_unreachable"}}, {"b"}},
           {{{"cause", "http01_unreachable"}, {"challenge", "dns-01"}}, {}},
           {{{"cause", "clock"}}, {}},
       }) {
    auto q = ParseLineageQuery(c.params);
    ASSERT_TRUE(q.ok()) << q.status();
    EXPECT_EQ(Certs(QueryLineages(s, *q)), c.want);
  }
  auto bad = ParseLineageQuery({{"cause", "a"}, {"cause", "b"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "cause: given more than once");
}

TEST(FleetSummaryJson, CountsTimelineKpisAndFacets) {
  FleetSnapshot s = Fleet();  // at 2026-11-02; a 0.9 (expires 12-05), b 0.5 (11-20), c 0.2, d none (11-10)
  s.lineages[1].in_episode = true;  // b is already failing: not an alert
  s.lineages[0].renewal_due = T("2026-11-03T00:00:00Z");
  s.lineages[2].renewal_due = T("2026-10-30T00:00:00Z");  // overdue
  s.lineages[3].not_after = T("2026-11-05T00:00:00Z");    // d expires within 7 days
  s.lineages[0].challenge = s.lineages[1].challenge = s.lineages[2].challenge = s.lineages[3].challenge = "http-01";
  s.kpis.renewals_succeeded = 9;
  s.kpis.renewals_failed = 1;
  s.kpis.success_ratio = 0.9;
  auto all = ParseLineageQuery({});
  ASSERT_TRUE(all.ok());
  auto j = nlohmann::json::parse(FleetSummaryJson(s, *all, 0.4, absl::Hours(24 * 7), 10, 3));
  EXPECT_EQ(j["certificates"], 4);
  EXPECT_EQ(j["fleet_certificates"], 4);
  // a alerts (0.9 >= 0.4); b fails; d expires 11-05; c (0.2, no expiry) is not at risk.
  EXPECT_EQ(j["at_risk_7d"]["total"], 3);
  EXPECT_EQ(j["at_risk_7d"]["alerting"], 1);
  EXPECT_EQ(j["at_risk_7d"]["failing"], 1);
  EXPECT_EQ(j["at_risk_7d"]["expiring"], 1);
  EXPECT_EQ(j["open_incidents"], 3);  // passed through: the route counts the store's open rows
  EXPECT_EQ(j["renewals"]["success_ratio"], 0.9);
  EXPECT_TRUE(j["repairs"]["mean_time_to_repair_seconds"].is_null());
  ASSERT_EQ(j["timeline"].size(), 10u);
  EXPECT_EQ(j["timeline"][0]["day"], "2026-11-02T00:00:00Z");
  EXPECT_EQ(j["timeline"][1]["renewals_due"], 1);  // a on 11-03
  EXPECT_EQ(j["timeline"][3]["expiries"], 1);      // d on 11-05
  EXPECT_EQ(j["renewals_overdue"], 1);             // c
  // Facets: the whole fleet, most frequent first.
  EXPECT_EQ(j["facets"]["host"][0]["value"], "web1");
  EXPECT_EQ(j["facets"]["host"][0]["lineages"], 2);
  EXPECT_EQ(j["facets"]["ca"][0]["value"], "le");
  EXPECT_EQ(j["facets"]["ca"][0]["lineages"], 3);

  // A filter narrows the counts, not the facets; no model: nothing alerts.
  auto web1 = ParseLineageQuery({{"host", "web1"}});
  ASSERT_TRUE(web1.ok());
  j = nlohmann::json::parse(FleetSummaryJson(s, *web1, std::nullopt, absl::Hours(24 * 7), 3, 0));
  EXPECT_EQ(j["certificates"], 2);
  EXPECT_EQ(j["at_risk_7d"]["alerting"], 0);
  EXPECT_EQ(j["at_risk_7d"]["total"], 0);
  EXPECT_TRUE(j["alert_threshold"].is_null());
  EXPECT_EQ(j["facets"]["host"].size(), 3u);
}

TEST(ForecastHistory, RisksRecordRoundTripAndHistoryOfOneLineage) {
  FleetSnapshot s = Fleet();
  s.at = T("2026-11-02T13:00:00Z");
  std::vector<ForecastDay> history = {{T("2026-11-01T00:00:00Z"), {"a"}, {{"a", 8000}, {"c", 3000}}}};
  RecordForecastDay(s, /*alert_threshold=*/0.5, absl::Hours(24 * 60), history);
  ASSERT_EQ(history.size(), 2u);
  // Kept: every risk present (d has none), sorted by cert, in 1/10000.
  EXPECT_EQ(history[1].risks, (std::vector<std::pair<std::string, int>>{{"a", 9000}, {"b", 5000}, {"c", 2000}}));
  auto back = ForecastHistoryFromJson(ForecastHistoryToJson(history));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)[0].risks, history[0].risks);
  EXPECT_EQ((*back)[1].risks, history[1].risks);

  const std::vector<RiskPoint> b = LineageRiskHistory(history, "b");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_FALSE(b[0].risk.has_value());  // not kept on 11-01: below that day's lowest kept risk
  EXPECT_EQ(b[0].below, 0.3);
  EXPECT_EQ(b[1].risk, 0.5);
  EXPECT_FALSE(b[1].below.has_value());
  // Days without risks (recorded before risks were kept) are skipped.
  EXPECT_TRUE(LineageRiskHistory({{T("2026-11-01T00:00:00Z"), {"a"}, {}}}, "a").empty());

  for (const char* bad : {
           R"({"days":[{"day":"2026-11-02T00:00:00Z","alerted":[],"risks":[]}]})",
           R"({"days":[{"day":"2026-11-02T00:00:00Z","alerted":[],"risks":{"a":0.5}}]})",
           R"({"days":[{"day":"2026-11-02T00:00:00Z","alerted":[],"risks":{"a":10001}}]})",
           R"({"days":[{"day":"2026-11-02T00:00:00Z","alerted":[],"risks":{"a":-1}}]})",
       }) {
    auto parsed = ForecastHistoryFromJson(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), StatusCode::kDataLoss);
    EXPECT_EQ(parsed.status().message().rfind("forecast history: day 0: risk", 0), 0u) << parsed.status().message();
  }
}

}  // namespace
}  // namespace certcast::api
