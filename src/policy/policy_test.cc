// Decision chain tests: each case is a small event history, an instant and what certcast must do.
#include "policy/policy.h"

#include <functional>
#include <string>
#include <vector>

#include "core/event_json.h"
#include "core/strings.h"
#include "core/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/lineage_view.h"
#include "policy/fleet_plan.h"

namespace certcast::policy {
namespace {

absl::Time T(const char* text) { return *ParseRfc3339(text); }

const char* kConfigHttp =
    R"({"ts":"2026-09-01T00:00:00Z","type":"config","cert":"shop","host":"web1","names":["shop.example.com"],"client":"certbot","client_version":"4.1.0","ca":"https://acme.example/dir","challenge":"http-01","alt_challenges":["dns-01"],"ari":false})";
const char* kConfigHttpNoAlt =
    R"({"ts":"2026-09-01T00:00:00Z","type":"config","cert":"shop","host":"web1","names":["shop.example.com"],"client":"certbot","client_version":"4.1.0","ca":"https://acme.example/dir","challenge":"http-01","ari":false})";
const char* kConfigDns =
    R"({"ts":"2026-09-01T00:00:00Z","type":"config","cert":"shop","host":"web1","names":["shop.example.com"],"client":"lego","client_version":"4.20.0","ca":"https://acme.example/dir","challenge":"dns-01","ari":false})";
const char* kConfigAltCa =
    R"({"ts":"2026-09-01T00:00:00Z","type":"config","cert":"shop","host":"web1","names":["shop.example.com"],"client":"certbot","client_version":"4.1.0","ca":"https://acme.example/dir","challenge":"http-01","alt_cas":["https://other.example/dir"],"ari":false})";
// 90-day certificate issued 2026-09-01: certbot 4 renews at 2/3 = 2026-10-31, expiry 2026-11-30.
const char* kIssued =
    R"({"ts":"2026-09-01T00:00:00Z","type":"issued","cert":"shop","serial":"0a","not_before":"2026-09-01T00:00:00Z","not_after":"2026-11-30T00:00:00Z","ca":"https://acme.example/dir"})";

struct Expected {
  ActionKind kind;
  std::string_view reason;
  std::optional<Challenge> challenge = std::nullopt;
  std::optional<std::string> ca = std::nullopt;
  std::optional<std::string> host = std::nullopt;
};

struct Case {
  std::string name;
  std::vector<std::string> events;
  const char* now;
  std::vector<Expected> expected;
  double risk = 0;
  std::function<void(LineageMemory&)> memory = nullptr;
  std::function<void(PolicyConfig&)> config = nullptr;
  std::vector<std::string_view> held = {};  // kHeld* reasons expected among held proposals
  std::string alert_says = "";              // text the alert's message must contain
};

std::string ToString(const Expected& e) {
  return StrCat(ToString(e.kind), " ", e.reason, e.challenge ? StrCat(" challenge=", ToString(*e.challenge)) : "",
                e.ca ? " ca=" + *e.ca : "", e.host ? " host=" + *e.host : "");
}

class DecideTest : public ::testing::TestWithParam<Case> {};

TEST_P(DecideTest, ProposesExactlyTheExpectedActions) {
  const Case& c = GetParam();
  std::vector<Event> events;
  for (const std::string& line : c.events) {
    auto e = ParseEventLine(line);
    ASSERT_TRUE(e.ok()) << e.status() << " in " << line;
    events.push_back(*e);
  }
  const absl::Time now = T(c.now);
  std::vector<LineageView> views = ViewsOfEvents(std::move(events), now);
  // The lineage decided is "shop"; other lineages (a neighbour on the same host) are context.
  std::erase_if(views, [](const LineageView& v) { return v.cert != "shop"; });
  ASSERT_EQ(views.size(), 1u);
  ForecastView forecast;
  forecast.risk = c.risk;
  LineageMemory memory;
  if (c.memory) c.memory(memory);
  PolicyConfig config;
  if (c.config) c.config(config);
  absl::flat_hash_map<std::string, int> per_domain;
  FleetBudget budget{&per_domain};
  Decision d = Decide(PolicyInput{views[0], forecast, memory, config, budget, now});
  std::vector<std::string> got, want;
  for (const Proposal& p : d.actions) {
    got.push_back(ToString(Expected{p.kind, p.reason, p.challenge, p.ca, p.host}));
    EXPECT_THAT(ReasonText(p), ::testing::StartsWith(StrCat(p.reason, ": ")));
  }
  for (const Expected& e : c.expected) want.push_back(ToString(e));
  EXPECT_EQ(got, want) << "diagnosis: " << ToString(d.diagnosis.cause) << " "
                       << d.diagnosis.evidence;
  std::vector<std::string_view> held;
  for (const Held& h : d.held) held.push_back(h.why);
  for (std::string_view why : c.held) EXPECT_THAT(held, ::testing::Contains(why));
  if (!c.alert_says.empty()) {
    std::vector<std::string> messages;
    for (const Proposal& p : d.actions) {
      if (p.kind == ActionKind::kAlert) messages.push_back(p.message);
    }
    EXPECT_THAT(messages, ::testing::ElementsAre(::testing::HasSubstr(c.alert_says)));
  }
}

std::string Renewal(const char* ts, const char* outcome, const char* error = nullptr,
                    const char* challenge = "http-01", bool dry_run = false) {
  return StrCat(R"({"ts":")", ts, R"(","type":"renewal","cert":"shop","outcome":")", outcome, "\"",
                error ? StrCat(R"(,"error":"urn:ietf:params:acme:error:)", error, "\"") : "",
                R"(,"challenge":")", challenge, "\"", dry_run ? R"(,"dry_run":true)" : "", "}");
}

// `vantage`: where the probe ran ("server" outside, an agent's host name inside; "" = not said).
std::string Http01(const char* ts, bool ok, const char* vantage = "") {
  return StrCat(R"({"ts":")", ts, R"(","type":"http01_probe","name":"shop.example.com","outcome":")",
                ok ? "ok\"" : R"(error","error":"timeout")",
                *vantage ? StrCat(R"(,"vantage":")", vantage, "\"") : "", "}");
}

// The server's proof answered by another host's web server (404), and its plain probe (404).
std::string WrongContent(const char* ts) {
  return StrCat(R"({"ts":")", ts, R"(","type":"http01_probe","name":"shop.example.com","outcome":"error","error":"wrong_content","status":404,"vantage":"server"})");
}
std::string PlainOk(const char* ts) {
  return StrCat(R"({"ts":")", ts, R"(","type":"http01_probe","name":"shop.example.com","outcome":"ok","status":404,"vantage":"server"})");
}

// lego keeps no challenge in its state: every config event reports what its cron's flags say.
std::string LegoConfig(const char* ts, const char* challenge) {
  return StrCat(R"({"ts":")", ts, R"(","type":"config","cert":"shop","host":"web1","names":["shop.example.com"],"client":"lego","client_version":"4.9.1","ca":"https://acme.example/dir","challenge":")",
                challenge, R"(","alt_challenges":["http-01","dns-01"],"ari":false})");
}
// certcast's switched renewal of 2026-11-01 (serial 0b), lego's JSON rewritten a minute later.
const char* kIssuedBySwitch =
    R"({"ts":"2026-11-01T00:05:00Z","type":"issued","cert":"shop","serial":"0b","not_before":"2026-11-01T00:05:00Z","not_after":"2027-01-30T00:05:00Z","ca":"https://acme.example/dir"})";
// A lego lineage on http-01 that certcast switched to dns-01 on 2026-11-01: lego's JSON, rewritten
// by the switched renewal, reports `reported` again; then two HTTP-01 probes.
std::vector<std::string> AfterSwitch(const char* reported, bool probes_ok) {
  return {LegoConfig("2026-09-01T00:00:00Z", "http-01"), kIssued, kIssuedBySwitch,
          LegoConfig("2026-11-01T00:06:00Z", reported), Http01("2026-11-02T00:00:00Z", probes_ok),
          Http01("2026-11-02T18:00:00Z", probes_ok)};
}
void SwitchedToDns01(LineageMemory& m) {
  m.switched_challenge = Challenge::kDns01;
  m.switched_at = T("2026-11-01T00:00:00Z");
  m.last_renew_at = T("2026-11-01T00:00:00Z");
  m.last_renew_serial = "0a";
}

// acme.sh <= 3.1.3's after_issue_days:59 on a 45-day certificate (2026-09-01 to 2026-10-16): the
// client would renew 2026-10-30, after expiry; 2/3 of the lifetime is 2026-10-01.
const char* kConfigAcmeShLate =
    R"({"ts":"2026-09-01T00:00:00Z","type":"config","cert":"shop","host":"web1","names":["shop.example.com"],"client":"acme.sh","ca":"https://acme.example/dir","challenge":"http-01","ari":false,"renew_rule":"after_issue_days:59"})";
const char* kIssued45 =
    R"({"ts":"2026-09-01T00:00:00Z","type":"issued","cert":"shop","serial":"0a","not_before":"2026-09-01T00:00:00Z","not_after":"2026-10-16T00:00:00Z","ca":"https://acme.example/dir"})";
std::string CertbotWithRule(const char* rule) {
  return StrCat(R"({"ts":"2026-09-01T00:00:00Z","type":"config","cert":"shop","host":"web1","names":["shop.example.com"],"client":"certbot","client_version":"4.1.0","ca":"https://acme.example/dir","challenge":"http-01","ari":false,"renew_rule":")",
                rule, R"("})");
}

// The host's agent probing what web1:443 serves for the lineage's name (serial 0a); `by_cert`:
// the probe names the lineage (a target derived from it) rather than only the name.
std::string ServedProbe(const char* ts, bool by_cert = false) {
  return StrCat(R"({"ts":")", ts, R"(","type":"tls_probe","endpoint":"web1:443","sni":"shop.example.com",)",
                by_cert ? R"("cert":"shop",)" : "",
                R"("outcome":"ok","serial":"0a","not_after":"2026-11-30T00:00:00Z"})");
}
// web1's daily host report: its client's scheduler last ran at `ran`.
std::string HostScheduler(const char* ts, const char* ran) {
  return StrCat(R"({"ts":")", ts, R"(","type":"host","host":"web1","disk_free_bytes":1000000000,"disk_total_bytes":2000000000,"scheduler_last_run":")",
                ran, R"("})");
}

// web1 serving another lineage's certificate (serial ff) for the lineage's name.
std::string ForeignProbe(const char* ts, bool by_cert = false) {
  return StrCat(R"({"ts":")", ts, R"(","type":"tls_probe","endpoint":"web1:443","sni":"shop.example.com",)",
                by_cert ? R"("cert":"shop",)" : "",
                R"("outcome":"ok","serial":"ff","not_after":"2027-02-01T00:00:00Z"})");
}
// The same other certificate served for the name by another host (web2).
std::string ForeignProbeElsewhere(const char* ts) {
  return StrCat(R"({"ts":")", ts, R"(","type":"tls_probe","endpoint":"web2:443","sni":"shop.example.com","outcome":"ok","serial":"ff","not_after":"2027-02-01T00:00:00Z"})");
}

// Two days before the 0a certificate's expiry, nothing renewed: the safety net renews and pages.
Case PagedAtExpiry(std::string name, std::vector<std::string> events) {
  return Case{std::move(name), std::move(events), "2026-11-28T00:00:00Z",
              {{ActionKind::kRenew, kReasonExpiryImminent}, {ActionKind::kAlert, kReasonExpiryImminent}}};
}

// Caddy on web1: no scheduler report (it renews in-process). "shop" and a neighbour, "blog".
const char* kConfigCaddy =
    R"({"ts":"2026-09-01T00:00:00Z","type":"config","cert":"shop","host":"web1","names":["shop.example.com"],"client":"caddy","ca":"https://acme.example/dir","challenge":"http-01","ari":false})";
const char* kConfigCaddyNeighbour =
    R"({"ts":"2026-09-01T00:00:00Z","type":"config","cert":"blog","host":"web1","names":["blog.example.com"],"client":"caddy","ca":"https://acme.example/dir","challenge":"http-01","ari":false})";
const char* kIssuedNeighbour =
    R"({"ts":"2026-09-01T00:00:00Z","type":"issued","cert":"blog","serial":"1a","not_before":"2026-09-01T00:00:00Z","not_after":"2026-11-30T00:00:00Z","ca":"https://acme.example/dir"})";
// The host's agent probing what web1:443 serves for the neighbour's name.
std::string NeighbourProbe(const char* ts) {
  return StrCat(R"({"ts":")", ts, R"(","type":"tls_probe","endpoint":"web1:443","sni":"blog.example.com","outcome":"ok","serial":"1a","not_after":"2026-11-30T00:00:00Z"})");
}
// The same lineage on another host (web2) and that host's agent probing it.
const char* kConfigCaddyElsewhere =
    R"({"ts":"2026-09-01T00:00:00Z","type":"config","cert":"blog","host":"web2","names":["blog.example.com"],"client":"caddy","ca":"https://acme.example/dir","challenge":"http-01","ari":false})";

INSTANTIATE_TEST_SUITE_P(
    Chain, DecideTest,
    ::testing::Values(
        Case{"AHealthyLineageMidLifeGetsNoAction", {kConfigHttp, kIssued}, "2026-10-01T00:00:00Z", {}},
        Case{"ACertificateTwoDaysFromExpiryThatWasNeverRenewedGetsARenewalAndAnAlert",
             {kConfigHttp, kIssued, Renewal("2026-11-01T00:00:00Z", "success")},
             "2026-11-28T00:00:00Z",
             {{ActionKind::kRenew, kReasonExpiryImminent},
              {ActionKind::kAlert, kReasonExpiryImminent}}},
        // hosting-62 (issue #15): a lineage probed daily, then removed from its host (the site
        // moved away): no probe, attempt or report since 2026-11-02 while the host's scheduler
        // still runs. Its expiry is not a failure to wake anyone for: one report (a ticket in the
        // alert core), not a daily ExpiryImminent page; certcast's renewal is still proposed.
        Case{"ALineageSilentForDaysWhileItsHostReportsIsReportedAsNotObservedNotPaged",
             {kConfigHttp, kIssued, ServedProbe("2026-11-01T00:00:00Z"),
              ServedProbe("2026-11-02T00:00:00Z"), HostScheduler("2026-11-27T12:00:00Z", "2026-11-27T00:00:00Z")},
             "2026-11-28T00:00:00Z",
             {{ActionKind::kRenew, kReasonExpiryImminent},
              {ActionKind::kAlert, kReasonLineageNotObserved}},
             0.0, nullptr, nullptr, {},
             "has not been observed since 2026-11-02T00:00:00Z"},
        // Issue #15: the lineage was replaced on its host (web1 now serves another certificate,
        // ff, for its name) and its host sends nothing else. The probes that found ff are no
        // observation of this lineage, and they show the agent still looks at the name: one
        // report (a ticket), not a daily ExpiryImminent page.
        Case{"ALineageWhoseHostServesAnotherCertificateForItsNameIsReportedAsNotObserved",
             {kConfigCaddy, kIssued, ServedProbe("2026-11-01T00:00:00Z"),
              ServedProbe("2026-11-02T00:00:00Z"), ForeignProbe("2026-11-03T00:00:00Z"),
              ForeignProbe("2026-11-27T00:00:00Z")},
             "2026-11-28T00:00:00Z",
             {{ActionKind::kRenew, kReasonExpiryImminent},
              {ActionKind::kAlert, kReasonLineageNotObserved}},
             0.0, nullptr, nullptr, {},
             "since 2026-11-02T00:00:00Z (no probe, attempt or configuration report) while "
             "web1:443 served another certificate (ff) for shop.example.com at "
             "2026-11-27T00:00:00Z"},
        // The same through probes that name the lineage, beside a scheduler report: the foreign
        // serial is no observation either way.
        Case{"AProbeNamingTheLineageThatFoundAnotherCertificateIsNoObservationOfIt",
             {kConfigHttp, kIssued, ServedProbe("2026-11-02T00:00:00Z", true),
              ForeignProbe("2026-11-26T00:00:00Z", true),
              HostScheduler("2026-11-26T12:00:00Z", "2026-11-26T00:00:00Z")},
             "2026-11-28T00:00:00Z",
             {{ActionKind::kRenew, kReasonExpiryImminent},
              {ActionKind::kAlert, kReasonLineageNotObserved}},
             0.0, nullptr, nullptr, {},
             "has not been observed since 2026-11-02T00:00:00Z"},
        // Another certificate for the name on another host (web2: a shared name's other server)
        // says nothing about web1: the lineage is only silent, and the safety net pages.
        PagedAtExpiry("AnotherCertificateForTheNameOnAnotherHostStillPagesAtExpiry",
                      {kConfigCaddy, kIssued, ServedProbe("2026-11-02T00:00:00Z"),
                       ForeignProbeElsewhere("2026-11-27T00:00:00Z")}),
        // Another certificate on its own host, but its own certificate was probed 40 h ago
        // (inside observation_lapse): still observed, still paged.
        PagedAtExpiry("AnotherCertificateSoonAfterItsOwnWasSeenStillPagesAtExpiry",
                      {kConfigCaddy, kIssued, ServedProbe("2026-11-26T08:00:00Z"),
                       ForeignProbe("2026-11-27T00:00:00Z")}),
        // The same silence, but the host's reports stopped with it (the agent or the machine is
        // down): the certificate may still be served and expire: the safety net pages.
        Case{"ALineageSilentWithItsWholeHostStillPagesAtExpiry",
             {kConfigHttp, kIssued, ServedProbe("2026-11-02T00:00:00Z"),
              HostScheduler("2026-11-02T06:00:00Z", "2026-11-02T00:00:00Z")},
             "2026-11-28T00:00:00Z",
             {{ActionKind::kRenew, kReasonExpiryImminent},
              {ActionKind::kAlert, kReasonExpiryImminent}}},
        // Probed until 40 h ago, inside observation_lapse (72 h): still observed.
        Case{"ALineageProbedRecentlyStillPagesAtExpiry",
             {kConfigHttp, kIssued, ServedProbe("2026-11-26T08:00:00Z"),
              HostScheduler("2026-11-27T12:00:00Z", "2026-11-27T00:00:00Z")},
             "2026-11-28T00:00:00Z",
             {{ActionKind::kRenew, kReasonExpiryImminent},
              {ActionKind::kAlert, kReasonExpiryImminent}}},
        // hosting-93, -98, k8s-95 (issue #15): the same removal on a Caddy host, which sends no
        // scheduler report; its other lineage is still probed daily, so the host is alive and
        // reporting: one report (a ticket), not a daily page.
        Case{"ALineageSilentWhileItsHostsOtherLineageIsProbedIsReportedAsNotObservedNotPaged",
             {kConfigCaddy, kIssued, ServedProbe("2026-11-01T00:00:00Z"),
              ServedProbe("2026-11-02T00:00:00Z"), kConfigCaddyNeighbour, kIssuedNeighbour,
              NeighbourProbe("2026-11-02T00:00:00Z"), NeighbourProbe("2026-11-27T00:00:00Z")},
             "2026-11-28T00:00:00Z",
             {{ActionKind::kRenew, kReasonExpiryImminent},
              {ActionKind::kAlert, kReasonLineageNotObserved}},
             0.0, nullptr, nullptr, {},
             "while blog on the same host web1 was observed at 2026-11-27T00:00:00Z"},
        // The neighbour fell silent with it (the agent or the machine is down): the safety net
        // pages.
        Case{"ALineageSilentWithItsHostsOtherLineagesStillPagesAtExpiry",
             {kConfigCaddy, kIssued, ServedProbe("2026-11-02T00:00:00Z"), kConfigCaddyNeighbour,
              kIssuedNeighbour, NeighbourProbe("2026-11-03T00:00:00Z")},
             "2026-11-28T00:00:00Z",
             {{ActionKind::kRenew, kReasonExpiryImminent},
              {ActionKind::kAlert, kReasonExpiryImminent}}},
        // The neighbour is still probed but so is this lineage (its certificate simply was not
        // renewed): a real failure on a live host, paged.
        Case{"ALineageStillProbedBesideAnObservedNeighbourStillPagesAtExpiry",
             {kConfigCaddy, kIssued, ServedProbe("2026-11-27T00:00:00Z"), kConfigCaddyNeighbour,
              kIssuedNeighbour, NeighbourProbe("2026-11-27T00:00:00Z")},
             "2026-11-28T00:00:00Z",
             {{ActionKind::kRenew, kReasonExpiryImminent},
              {ActionKind::kAlert, kReasonExpiryImminent}}},
        // The only lineage seen lately runs on another host: nothing says web1 is alive.
        Case{"ALineageSilentWhileOnlyAnotherHostReportsStillPagesAtExpiry",
             {kConfigCaddy, kIssued, ServedProbe("2026-11-02T00:00:00Z"), kConfigCaddyElsewhere,
              kIssuedNeighbour, NeighbourProbe("2026-11-27T00:00:00Z")},
             "2026-11-28T00:00:00Z",
             {{ActionKind::kRenew, kReasonExpiryImminent},
              {ActionKind::kAlert, kReasonExpiryImminent}}},
        // One lineage on a host without a scheduler report: a removed lineage and a dead agent
        // look the same, so the safety net pages.
        Case{"TheOnlyLineageOfAHostWithoutSchedulerReportStillPagesAtExpiry",
             {kConfigCaddy, kIssued, ServedProbe("2026-11-02T00:00:00Z")},
             "2026-11-28T00:00:00Z",
             {{ActionKind::kRenew, kReasonExpiryImminent},
              {ActionKind::kAlert, kReasonExpiryImminent}}},
        // Never probed (a deployment without probes): silence means nothing; the safety net pages.
        Case{"ALineageNeverProbedStillPagesAtExpiry",
             {kConfigHttp, kIssued, HostScheduler("2026-11-27T12:00:00Z", "2026-11-27T00:00:00Z")},
             "2026-11-28T00:00:00Z",
             {{ActionKind::kRenew, kReasonExpiryImminent},
              {ActionKind::kAlert, kReasonExpiryImminent}}},
        Case{"TheSafetyNetIgnoresALowForecastAndTheMaintenanceWindow",
             {kConfigHttp, kIssued, Renewal("2026-11-01T00:00:00Z", "success")},
             "2026-11-28T00:00:00Z",
             {{ActionKind::kRenew, kReasonExpiryImminent},
              {ActionKind::kAlert, kReasonExpiryImminent}},
             0.0, nullptr,
             [](PolicyConfig& c) { c.maintenance_windows = {{0x01, 60, 120}}; }},
        Case{"AHostServingThePreviousSerialADayAfterIssuanceIsReloaded",
             {kConfigHttp, kIssued,
              R"({"ts":"2026-10-31T00:00:00Z","type":"issued","cert":"shop","serial":"0b","not_before":"2026-10-31T00:00:00Z","not_after":"2027-01-29T00:00:00Z","ca":"https://acme.example/dir"})",
              R"({"ts":"2026-11-02T00:00:00Z","type":"tls_probe","endpoint":"web1:443","sni":"shop.example.com","outcome":"ok","serial":"0a","not_after":"2026-11-30T00:00:00Z"})"},
             "2026-11-02T12:00:00Z",
             {{ActionKind::kReload, kReasonServedStale, std::nullopt, std::nullopt, "web1"}}},
        Case{"AStaleServerInsideTheGracePeriodIsLeftAlone",
             {kConfigHttp, kIssued,
              R"({"ts":"2026-10-31T00:00:00Z","type":"issued","cert":"shop","serial":"0b","not_before":"2026-10-31T00:00:00Z","not_after":"2027-01-29T00:00:00Z","ca":"https://acme.example/dir"})",
              R"({"ts":"2026-10-31T06:00:00Z","type":"tls_probe","endpoint":"web1:443","sni":"shop.example.com","outcome":"ok","serial":"0a","not_after":"2026-11-30T00:00:00Z"})"},
             "2026-10-31T12:00:00Z", {}},
        Case{"AReloadThatDidNotHelpIsReportedToAPerson",
             {kConfigHttp, kIssued,
              R"({"ts":"2026-10-31T00:00:00Z","type":"issued","cert":"shop","serial":"0b","not_before":"2026-10-31T00:00:00Z","not_after":"2027-01-29T00:00:00Z","ca":"https://acme.example/dir"})",
              R"({"ts":"2026-11-03T06:00:00Z","type":"tls_probe","endpoint":"web1:443","sni":"shop.example.com","outcome":"ok","serial":"0a","not_after":"2026-11-30T00:00:00Z"})"},
             "2026-11-03T12:00:00Z",
             {{ActionKind::kReload, kReasonServedStale, std::nullopt, std::nullopt, "web1"},
              {ActionKind::kAlert, kReasonReloadNotEffective}},
             0.0,
             [](LineageMemory& m) {
               m.last_reload_at = T("2026-11-02T12:00:00Z");
               m.last_reload_serial = "0b";
             }},
        Case{"Http01FailuresWithDns01AvailableSwitchTheChallengeInsteadOfAlerting",
             {kConfigHttp, kIssued, Http01("2026-10-30T00:00:00Z", false),
              Http01("2026-10-30T18:00:00Z", false),
              Renewal("2026-10-31T06:00:00Z", "failure", "connection")},
             "2026-10-31T23:59:59Z",
             {{ActionKind::kRenew, kReasonSwitchChallenge, Challenge::kDns01}}},
        // The switch used to be refused when the evidence's words contained "registration of"
        // (meant for a lapsed domain); a client's error detail saying so must not decide anything.
        Case{"AnErrorDetailMentioningARegistrationDoesNotBlockTheSwitch",
             {kConfigHttp, kIssued,
              R"({"ts":"2026-10-30T00:00:00Z","type":"dns","name":"shop.example.com","rtype":"A","rcode":"NXDOMAIN","values":[]})",
              R"({"ts":"2026-10-31T06:00:00Z","type":"renewal","cert":"shop","outcome":"failure","error":"urn:ietf:params:acme:error:dns","detail":"no valid A records; registration of shop.example.com pending","challenge":"http-01"})"},
             "2026-10-31T23:59:59Z",
             {{ActionKind::kRenew, kReasonSwitchChallenge, Challenge::kDns01}}},
        Case{"ASwitchThatTheClientsConfigUndoesWhileTheCauseStandsIsReportedToAPerson",
             AfterSwitch("http-01", false),
             "2026-11-03T00:00:00Z",
             // The dry run confirms the cause again; the alert asks for the lasting fix.
             {{ActionKind::kDryRun, kReasonSuspectedCauseDryRun},
              {ActionKind::kAlert, kReasonSwitchNotKept}},
             0.0, SwitchedToDns01, nullptr, {},
             "lego on web1 is configured for http-01 instead of dns-01 again (configuration "
             "reported at 2026-11-01T00:06:00Z, certcast switched at 2026-11-01T00:00:00Z) while "
             "http01_unreachable still stands"},
        Case{"AConfigWrittenInTheSwitchsOwnSecondIsAfterIt",  // discover stamps whole seconds
             AfterSwitch("http-01", false),
             "2026-11-03T00:00:00Z",
             {{ActionKind::kDryRun, kReasonSuspectedCauseDryRun},
              {ActionKind::kAlert, kReasonSwitchNotKept}},
             0.0,
             [](LineageMemory& m) {
               SwitchedToDns01(m);
               m.switched_at = T("2026-11-01T00:06:00.400Z");
             }},
        Case{"ASwitchTheClientKeptNeedsNobody",
             AfterSwitch("dns-01", false),
             "2026-11-03T00:00:00Z", {}, 0.0, SwitchedToDns01},
        Case{"GoingBackAfterTheCauseWentAwayNeedsNobody",
             AfterSwitch("http-01", true),
             "2026-11-03T00:00:00Z", {}, 0.0, SwitchedToDns01},
        Case{"Http01FailuresWithNoAlternativeAlertAPersonWithCauseAndFix",
             {kConfigHttpNoAlt, kIssued, Http01("2026-10-30T00:00:00Z", false),
              Http01("2026-10-30T18:00:00Z", false),
              Renewal("2026-10-31T06:00:00Z", "failure", "connection")},
             "2026-10-31T23:59:59Z",
             {{ActionKind::kAlert, kReasonRenewalFailing}}},
        Case{"ASingleTransientCaErrorIsLeftToTheClientsOwnRetry",
             {kConfigHttp, kIssued, Renewal("2026-10-31T06:00:00Z", "failure", "serverInternal")},
             "2026-10-31T23:59:59Z", {}},
        Case{"AnAlertAlreadySentForThisEpisodeIsNotRepeated",
             {kConfigHttpNoAlt, kIssued, Renewal("2026-10-31T06:00:00Z", "failure", "unauthorized"),
              Renewal("2026-10-31T18:00:00Z", "failure", "unauthorized")},
             "2026-11-01T23:59:59Z",
             {},
             0.0,
             [](LineageMemory& m) {
               m.alerted.push_back({"episode:2026-10-31T06:00:00Z", T("2026-10-31T23:59:59Z")});
             },
             nullptr,
             {kHeldAlreadyDone}},
        Case{"AClientThatMadeNoAttemptTwoDaysAfterItsDueTimeIsRenewedAndReported",
             {kConfigHttp, kIssued}, "2026-11-03T00:00:00Z",
             {{ActionKind::kRenew, kReasonClientNotRenewing},
              {ActionKind::kAlert, kReasonClientNotRenewing}}},
        Case{"ADnsApiTokenExpiringJustBeforeTheNextRenewalTriggersEarlyRenewal",
             {kConfigDns, kIssued,
              R"({"ts":"2026-10-20T00:00:00Z","type":"credential","kind":"dns_api_token","host":"web1","expires":"2026-10-28T00:00:00Z"})"},
             "2026-10-25T00:00:00Z",
             {{ActionKind::kRenew, kReasonHazardEarlyRenewal}}},
        Case{"AHazardFarAheadIsLeftForRoutineRotation",
             {kConfigDns, kIssued,
              R"({"ts":"2026-10-01T00:00:00Z","type":"credential","kind":"dns_api_token","host":"web1","expires":"2026-10-20T00:00:00Z"})"},
             "2026-10-02T00:00:00Z", {}},
        Case{"AnExpiredDnsApiTokenIsAFactWorthAPersonBeforeAnyFailure",
             {kConfigDns, kIssued,
              R"({"ts":"2026-10-10T12:00:00Z","type":"credential","kind":"dns_api_token","host":"web1","expires":"2026-10-10T00:00:00Z"})"},
             "2026-10-11T00:00:00Z",
             {{ActionKind::kAlert, kReasonPredictedFailure}}},
        Case{"ATokenReportedBeforeItsExpiryMayHaveBeenRotatedSinceSoItIsNoFact",
             {kConfigDns, kIssued,
              R"({"ts":"2026-10-05T00:00:00Z","type":"credential","kind":"dns_api_token","host":"web1","expires":"2026-10-10T00:00:00Z"})"},
             "2026-10-11T00:00:00Z", {}},
        Case{"AHazardAlertCanBeEnabled",
             {kConfigDns, kIssued,
              R"({"ts":"2026-10-01T00:00:00Z","type":"credential","kind":"dns_api_token","host":"web1","expires":"2026-10-20T00:00:00Z"})"},
             "2026-10-02T00:00:00Z",
             {{ActionKind::kAlert, kReasonHazardAhead}},
             0.0, nullptr,
             [](PolicyConfig& c) { c.hazard_alert_horizon = absl::Hours(24 * 21); }},
        Case{"ADnsApiTokenIsNoHazardForAnHttp01Lineage",
             {kConfigHttp, kIssued,
              R"({"ts":"2026-10-01T00:00:00Z","type":"credential","kind":"dns_api_token","host":"web1","expires":"2026-10-10T00:00:00Z"})"},
             "2026-10-02T00:00:00Z", {}},
        Case{"ARenewalIsHeldWhenTheNameSetAlmostExhaustedItsWeeklyLimit",
             {kConfigHttp,
              R"({"ts":"2026-11-26T00:00:00Z","type":"issued","cert":"shop","serial":"01","not_before":"2026-11-26T00:00:00Z","not_after":"2026-11-28T00:00:00Z","ca":"https://acme.example/dir"})",
              R"({"ts":"2026-11-27T00:00:00Z","type":"issued","cert":"shop","serial":"02","not_before":"2026-11-27T00:00:00Z","not_after":"2026-11-29T00:00:00Z","ca":"https://acme.example/dir"})",
              R"({"ts":"2026-11-28T00:00:00Z","type":"issued","cert":"shop","serial":"03","not_before":"2026-11-28T00:00:00Z","not_after":"2026-11-30T00:00:00Z","ca":"https://acme.example/dir"})",
              R"({"ts":"2026-11-29T00:00:00Z","type":"issued","cert":"shop","serial":"04","not_before":"2026-11-29T00:00:00Z","not_after":"2026-12-01T00:00:00Z","ca":"https://acme.example/dir"})"},
             "2026-11-30T18:00:00Z",
             {{ActionKind::kAlert, kReasonExpiryImminent}},
             0.0, nullptr, nullptr, {kHeldRateLimit}},
        Case{"OutsideTheMaintenanceWindowANonUrgentRenewalIsHeld",
             {kConfigHttp, kIssued}, "2026-11-03T00:00:00Z",
             {{ActionKind::kAlert, kReasonClientNotRenewing}},
             0.0, nullptr,
             [](PolicyConfig& c) { c.maintenance_windows = {{0x7f, 120, 240}}; },
             {kHeldMaintenanceWindow}},
        Case{"ARepeatedProbeFailureLeadsToAStagingDryRun",
             {kConfigHttp, kIssued, Http01("2026-10-20T00:00:00Z", false),
              Http01("2026-10-20T12:00:00Z", false)},
             "2026-10-20T18:00:00Z",
             {{ActionKind::kDryRun, kReasonSuspectedCauseDryRun}}},
        // The proof of HTTP-01 origin answered by another host, twice, with the server's plain
        // probe (404 from that host) between: a failing HTTP-01 as the CA would see it.
        Case{"AWrongContentProofLeadsToAStagingDryRunDespiteAPlainSuccess",
             {kConfigHttp, kIssued, WrongContent("2026-10-20T00:00:00Z"), PlainOk("2026-10-20T06:00:00Z"),
              WrongContent("2026-10-20T12:00:00Z")},
             "2026-10-20T18:00:00Z",
             {{ActionKind::kDryRun, kReasonSuspectedCauseDryRun}}},
        // Per vantage (issue #17): the agent's own web server answering from inside does not end
        // the streak the server sees from outside, where the CA validates.
        Case{"AnInsideSuccessDoesNotHideARepeatedOutsideFailure",
             {kConfigHttp, kIssued, Http01("2026-10-20T00:00:00Z", false, "server"),
              Http01("2026-10-20T06:00:00Z", true, "web1"),
              Http01("2026-10-20T12:00:00Z", false, "server"),
              Http01("2026-10-20T13:00:00Z", true, "web1")},
             "2026-10-20T18:00:00Z",
             {{ActionKind::kDryRun, kReasonSuspectedCauseDryRun}}},
        Case{"AnOutsideSuccessDoesNotHideARepeatedInsideFailure",
             {kConfigHttp, kIssued, Http01("2026-10-20T00:00:00Z", false, "web1"),
              Http01("2026-10-20T06:00:00Z", true, "server"),
              Http01("2026-10-20T12:00:00Z", false, "web1"),
              Http01("2026-10-20T13:00:00Z", true, "server")},
             "2026-10-20T18:00:00Z",
             {{ActionKind::kDryRun, kReasonSuspectedCauseDryRun}}},
        Case{"ASuccessFromTheSameVantageEndsItsStreak",
             {kConfigHttp, kIssued, Http01("2026-10-20T00:00:00Z", false, "server"),
              Http01("2026-10-20T12:00:00Z", false, "server"),
              Http01("2026-10-20T13:00:00Z", true, "server")},
             "2026-10-20T18:00:00Z", {}},
        Case{"OneFailureFromEachVantageIsNoStreak",
             {kConfigHttp, kIssued, Http01("2026-10-20T00:00:00Z", false, "server"),
              Http01("2026-10-20T12:00:00Z", false, "web1")},
             "2026-10-20T18:00:00Z", {}},
        Case{"ASingleProbeFailureIsTreatedAsAFlake",
             {kConfigHttp, kIssued, Http01("2026-10-20T00:00:00Z", false)},
             "2026-10-20T12:00:00Z", {}},
        Case{"AHighForecastWithoutEvidenceAlsoLeadsToADryRunNotAnAlert",
             {kConfigHttp, kIssued}, "2026-10-10T00:00:00Z",
             {{ActionKind::kDryRun, kReasonSuspectedCauseDryRun}}, 0.55},
        Case{"AFailedDryRunWithNoSwitchAlertsBeforeTheRenewalIsDue",
             {kConfigHttpNoAlt, kIssued,
              Renewal("2026-10-20T06:00:00Z", "failure", "unauthorized", "http-01", true)},
             "2026-10-20T12:00:00Z",
             {{ActionKind::kAlert, kReasonPredictedFailure}}},
        Case{"CaaThatForbidsTheCaFarFromTheRenewalWaitsToSwitchWithTheRenewal",
             {kConfigAltCa, kIssued,
              R"({"ts":"2026-10-15T00:00:00Z","type":"dns","name":"shop.example.com","rtype":"CAA","rcode":"NOERROR","values":["0 issue \"other.example\""]})"},
             "2026-10-16T00:00:00Z", {}},
        Case{"CaaThatForbidsTheCaSwitchesCaWhenTheRenewalIsNear",
             {kConfigAltCa, kIssued,
              R"({"ts":"2026-10-28T00:00:00Z","type":"dns","name":"shop.example.com","rtype":"CAA","rcode":"NOERROR","values":["0 issue \"other.example\""]})"},
             "2026-10-29T00:00:00Z",
             {{ActionKind::kRenew, kReasonSwitchCa, std::nullopt, "https://other.example/dir"}}},
        // RFC 8659 section 4.3 through the one evaluation (core/caa.h): a wildcard name is ruled by
        // issuewild, which the policy used to ignore (it let the CA issue and switched nothing).
        Case{"AWildcardThatIssuewildForbidsTheCaSwitchesCaWhenTheRenewalIsNear",
             {R"({"ts":"2026-09-01T00:00:00Z","type":"config","cert":"shop","host":"web1","names":["*.shop.example.com"],"client":"certbot","client_version":"4.1.0","ca":"https://acme.example/dir","challenge":"dns-01","alt_cas":["https://other.example/dir"],"ari":false})",
              kIssued,
              R"({"ts":"2026-10-28T00:00:00Z","type":"dns","name":"shop.example.com","rtype":"CAA","rcode":"NOERROR","values":["0 issue \"acme.example\"","0 issuewild \"other.example\""]})"},
             "2026-10-29T00:00:00Z",
             {{ActionKind::kRenew, kReasonSwitchCa, std::nullopt, "https://other.example/dir"}}},
        // Issuer domain names are compared case-insensitively (RFC 8659 section 4.2): the policy
        // used to read "ACME.Example" as another CA and switched away from a permitted one.
        Case{"ACaaIssuerInOtherCaseStillPermitsTheCa",
             {kConfigAltCa, kIssued,
              R"({"ts":"2026-10-28T00:00:00Z","type":"dns","name":"shop.example.com","rtype":"CAA","rcode":"NOERROR","values":["0 issue \"ACME.Example\""]})"},
             "2026-10-29T00:00:00Z", {}},
        Case{"AnAriWindowMovedIntoThePastRenewsNow",
             {kConfigHttp, kIssued,
              R"({"ts":"2026-09-20T00:00:00Z","type":"ari","cert":"shop","ca":"https://acme.example/dir","window_start":"2026-09-19T00:00:00Z","window_end":"2026-09-19T12:00:00Z"})"},
             "2026-09-20T06:00:00Z",
             {{ActionKind::kRenew, kReasonAriWindowPassed}}},
        Case{"ARenewRuleThatRenewsAfterExpiryIsReported",
             {R"({"ts":"2026-09-01T00:00:00Z","type":"config","cert":"shop","host":"web1","names":["shop.example.com"],"client":"acme.sh","ca":"https://acme.example/dir","challenge":"http-01","ari":false,"renew_rule":"after_issue_days:59"})",
              R"({"ts":"2026-09-01T00:00:00Z","type":"issued","cert":"shop","serial":"0a","not_before":"2026-09-01T00:00:00Z","not_after":"2026-10-16T00:00:00Z","ca":"https://acme.example/dir"})"},
             "2026-09-02T00:00:00Z",
             {{ActionKind::kAlert, kReasonRenewRuleTooLate}}},
        // Issue #15: a client rule that renews inside the safety window leaves the renewal to the
        // certificate's last days, where the safety net pages; certcast renews at the normal
        // point instead (2/3 of the lifetime, or the ARI window's start) and pages only if it fails.
        Case{"AClientRuleRenewingAfterExpiryIsRenewedAtTwoThirdsOfTheLifetime",
             {kConfigAcmeShLate, kIssued45},
             "2026-10-01T06:00:00Z",
             {{ActionKind::kRenew, kReasonClientRenewsTooLate},
              {ActionKind::kAlert, kReasonRenewRuleTooLate}}},
        Case{"AClientRuleRenewingTooLateWaitsForTwoThirdsOfTheLifetime",
             {kConfigAcmeShLate, kIssued45},
             "2026-09-30T23:00:00Z",
             {{ActionKind::kAlert, kReasonRenewRuleTooLate}}},
        Case{"ARenewalAtTheNormalPointThatFailedIsNotRepeatedAtOnceAndPagesNobodyYet",
             {kConfigAcmeShLate, kIssued45, Renewal("2026-10-01T00:10:00Z", "failure", "connection")},
             "2026-10-01T12:00:00Z",
             {},
             0.0,
             [](LineageMemory& m) {
               m.last_renew_at = T("2026-10-01T00:00:00Z");
               m.last_renew_serial = "0a";
               m.renewals_for_serial = 1;
               m.alerted.push_back({"rule:after_issue_days:59:45d", T("2026-09-02T00:00:00Z")});
             },
             nullptr,
             {kHeldAlreadyDone}},
        Case{"ACurrentAriWindowIsTheNormalPointForAClientRuleThatRenewsTooLate",
             {kConfigAcmeShLate, kIssued45,
              R"({"ts":"2026-09-28T00:00:00Z","type":"ari","cert":"shop","ca":"https://acme.example/dir","window_start":"2026-09-28T00:00:00Z","window_end":"2026-09-29T00:00:00Z"})"},
             "2026-09-28T12:00:00Z",
             {{ActionKind::kRenew, kReasonClientRenewsTooLate},
              {ActionKind::kAlert, kReasonRenewRuleTooLate}}},
        Case{"DaysLeftThreeOnANinetyDayCertificateIsRenewedAtTwoThirds",
             {CertbotWithRule("days_left:3"), kIssued},
             "2026-10-31T06:00:00Z",
             {{ActionKind::kRenew, kReasonClientRenewsTooLate}}},
        Case{"DaysLeftSevenOnANinetyDayCertificateIsTheClientsOwnBusiness",
             {CertbotWithRule("days_left:7"), kIssued},
             "2026-10-31T06:00:00Z", {}},
        Case{"NearExpiryTheSafetyNetFiresEvenForATransientError",
             {kConfigHttp, kIssued, Renewal("2026-11-27T12:00:00Z", "failure", "serverInternal")},
             "2026-11-27T13:00:00Z",
             {{ActionKind::kRenew, kReasonExpiryImminent},
              {ActionKind::kAlert, kReasonExpiryImminent}}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

// The fold's HTTP-01 streak (Evidence::http01): counted per vantage, the worst (longest running)
// one shown. A success ends only the streak of the place it was seen from.
struct StreakCase {
  std::string name;
  std::vector<std::string> probes;
  int count;
  const char* since;  // nullptr = no streak
};
class Http01StreakTest : public ::testing::TestWithParam<StreakCase> {};
TEST_P(Http01StreakTest, CountsEachVantageOnItsOwn) {
  const StreakCase& c = GetParam();
  std::vector<std::string> lines = {kConfigHttp, kIssued};
  lines.insert(lines.end(), c.probes.begin(), c.probes.end());
  std::vector<Event> events;
  for (const std::string& line : lines) {
    auto e = ParseEventLine(line);
    ASSERT_TRUE(e.ok()) << e.status() << " in " << line;
    events.push_back(*e);
  }
  std::vector<LineageView> views = ViewsOfEvents(std::move(events), T("2026-10-21T00:00:00Z"));
  ASSERT_EQ(views.size(), 1u);
  const FailureStreak& s = views[0].evidence.http01;
  EXPECT_EQ(s.count, c.count);
  if (c.since == nullptr) {
    EXPECT_FALSE(s.since.has_value());
  } else {
    ASSERT_TRUE(s.since.has_value());
    EXPECT_EQ(*s.since, T(c.since));
    EXPECT_EQ(s.subject, "shop.example.com");
  }
}
INSTANTIATE_TEST_SUITE_P(
    Vantages, Http01StreakTest,
    ::testing::Values(
        StreakCase{"InsideSuccessKeepsOutsideStreak",
                   {Http01("2026-10-20T00:00:00Z", false, "server"), Http01("2026-10-20T01:00:00Z", false, "server"),
                    Http01("2026-10-20T02:00:00Z", true, "web1")},
                   2, "2026-10-20T00:00:00Z"},
        StreakCase{"OutsideSuccessKeepsInsideStreak",
                   {Http01("2026-10-20T00:00:00Z", false, "web1"), Http01("2026-10-20T01:00:00Z", true, "server"),
                    Http01("2026-10-20T02:00:00Z", false, "web1")},
                   2, "2026-10-20T00:00:00Z"},
        // A proof of HTTP-01 origin that another host answers (wrong_content, api/http01_proof.h)
        // is a failure as the CA sees it; the server's plain probe between, answered 404 by that
        // other host, does not end the run; the body served back (200) does.
        StreakCase{"APlainSuccessDoesNotEndAWrongContentRun",
                   {WrongContent("2026-10-20T00:00:00Z"), PlainOk("2026-10-20T01:00:00Z"),
                    WrongContent("2026-10-20T02:00:00Z")},
                   2, "2026-10-20T00:00:00Z"},
        StreakCase{"TheProofsBodyServedBackEndsAWrongContentRun",
                   {WrongContent("2026-10-20T00:00:00Z"), WrongContent("2026-10-20T01:00:00Z"),
                    R"({"ts":"2026-10-20T02:00:00Z","type":"http01_probe","name":"shop.example.com","outcome":"ok","status":200,"vantage":"server"})"},
                   0, nullptr},
        StreakCase{"APlainSuccessStillEndsAnUnreachableRun",
                   {Http01("2026-10-20T00:00:00Z", false, "server"), PlainOk("2026-10-20T01:00:00Z"),
                    Http01("2026-10-20T02:00:00Z", false, "server")},
                   1, "2026-10-20T02:00:00Z"},
        StreakCase{"SameVantageSuccessEndsIt",
                   {Http01("2026-10-20T00:00:00Z", false, "server"), Http01("2026-10-20T01:00:00Z", true, "server")},
                   0, nullptr},
        StreakCase{"UnsaidVantageIsAPlaceOfItsOwn",
                   {Http01("2026-10-20T00:00:00Z", false), Http01("2026-10-20T01:00:00Z", true, "web1"),
                    Http01("2026-10-20T02:00:00Z", false)},
                   2, "2026-10-20T00:00:00Z"},
        StreakCase{"TheLongestRunningStreakIsShown",
                   {Http01("2026-10-20T00:00:00Z", false, "server"), Http01("2026-10-20T01:00:00Z", false, "web1"),
                    Http01("2026-10-20T02:00:00Z", false, "web1"), Http01("2026-10-20T03:00:00Z", false, "web1")},
                   1, "2026-10-20T00:00:00Z"},
        StreakCase{"TwoAgentsAreTwoVantages",
                   {Http01("2026-10-20T00:00:00Z", false, "web1"), Http01("2026-10-20T01:00:00Z", true, "web2"),
                    Http01("2026-10-20T02:00:00Z", false, "web1")},
                   2, "2026-10-20T00:00:00Z"},
        StreakCase{"EverySuccessfulVantageIsNoStreak",
                   {Http01("2026-10-20T00:00:00Z", false, "server"), Http01("2026-10-20T01:00:00Z", false, "web1"),
                    Http01("2026-10-20T02:00:00Z", true, "web1"), Http01("2026-10-20T03:00:00Z", true, "server")},
                   0, nullptr}),
    [](const ::testing::TestParamInfo<StreakCase>& info) { return info.param.name; });

TEST(PlanFleetTest, ASecondPlanAtTheSameInstantRepeatsNothing) {
  const absl::Time now = T("2026-11-28T00:00:00Z");
  std::vector<LineageView> views = ViewsOfEvents({*ParseEventLine(kConfigHttp), *ParseEventLine(kIssued)}, now);
  absl::flat_hash_map<std::string, ForecastView> forecasts;
  FleetMemory memory;
  PolicyConfig config;
  PlanResult first = PlanFleet(views, forecasts, memory, config, now);
  ASSERT_EQ(first.items.size(), 2u);
  EXPECT_EQ(first.items[0].action.kind, ActionKind::kRenew);
  EXPECT_EQ(first.items[1].action.kind, ActionKind::kAlert);
  PlanResult second = PlanFleet(views, forecasts, memory, config, now + absl::Hours(1));
  EXPECT_TRUE(second.items.empty());
  // A day later the renewal (still not done) is tried again; the alert is not repeated.
  PlanResult third = PlanFleet(views, forecasts, memory, config, now + absl::Hours(24));
  ASSERT_EQ(third.items.size(), 1u);
  EXPECT_EQ(third.items[0].action.kind, ActionKind::kRenew);
}

TEST(PlanFleetTest, MaxConcurrentRenewalsKeepsTheMostUrgent) {
  std::vector<Event> events;
  for (int i = 0; i < 3; ++i) {
    events.push_back(*ParseEventLine(StrCat(
        R"({"ts":"2026-09-01T00:00:00Z","type":"config","cert":"c)", i,
        R"(","host":"web1","names":["c)", i,
        R"(.example.com"],"client":"certbot","ca":"https://acme.example/dir","challenge":"http-01","ari":false})")));
    events.push_back(*ParseEventLine(StrCat(
        R"({"ts":"2026-09-01T00:00:00Z","type":"issued","cert":"c)", i,
        R"(","serial":"0)", i, R"(","not_before":"2026-09-01T00:00:00Z","not_after":"2026-11-30T0)", i,
        R"(:00:00Z","ca":"https://acme.example/dir"})")));
  }
  const absl::Time now = T("2026-11-05T00:00:00Z");  // all three overdue, none near expiry
  absl::flat_hash_map<std::string, ForecastView> forecasts;
  FleetMemory memory;
  PolicyConfig config;
  config.max_concurrent_renewals = 2;
  PlanResult r = PlanFleet(ViewsOfEvents(events, now), forecasts, memory, config, now);
  std::vector<std::string> renewed;
  for (const auto& item : r.items) {
    if (item.action.kind == ActionKind::kRenew) renewed.push_back(item.action.cert);
  }
  EXPECT_THAT(renewed, ::testing::ElementsAre("c0", "c1"));
  ASSERT_EQ(r.held.size(), 1u);
  EXPECT_EQ(r.held[0].cert, "c2");
  EXPECT_EQ(r.held[0].held.why, kHeldConcurrency);
}

// The attempts the client still makes before expiry follow the retry cadence the features use
// (ClientRetryInterval), divided by time_scale.
struct AttemptsLeftCase {
  const char* name = "";
  Client client = Client::kOther;
  int failures = 1;                   // episode failures, the latest at `now`
  absl::Duration until_expiry;
  double time_scale = 1;
  int expected = 0;
};

class AttemptsLeftTest : public testing::TestWithParam<AttemptsLeftCase> {};

TEST_P(AttemptsLeftTest, CountsTheClientsRetries) {
  const AttemptsLeftCase& c = GetParam();
  const absl::Time now = T("2026-11-02T12:00:00Z");
  LineageView v;
  v.config.client = c.client;
  IssuedEvent issued;
  issued.not_before = now - absl::Hours(24 * 40);
  issued.not_after = now + c.until_expiry;
  v.current = issued;
  v.episode_onset = now - absl::Hours(1);
  v.episode_failures = c.failures;
  Attempt failure;
  failure.at = now;
  failure.outcome = Outcome::kFailure;
  v.last_attempt = failure;
  EXPECT_EQ(AttemptsLeftBeforeExpiry(v, now, c.time_scale), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Clients, AttemptsLeftTest,
    testing::Values(
        // CertMagic's ladder after one failure: retries at +1, 3, 5, 10, 20, 40, 60, 90 minutes;
        // the one at 120 is expiry itself.
        AttemptsLeftCase{.name = "CaddyLadderInTwoHours", .client = Client::kCaddy, .failures = 1, .until_expiry = absl::Hours(2), .expected = 8},
        AttemptsLeftCase{.name = "CaddyLadderScaledBySixty", .client = Client::kCaddy, .failures = 1, .until_expiry = absl::Minutes(2), .time_scale = 60, .expected = 8},
        // Twelve failures in: 6 h steps.
        AttemptsLeftCase{.name = "CaddyAtTheTopOfTheLadder", .client = Client::kCaddy, .failures = 12, .until_expiry = absl::Hours(20), .expected = 3},
        // cert-manager after three failures: +4 h, +8 h, +16 h (28 h), then +32 h is too late.
        AttemptsLeftCase{.name = "CertManagerBackoff", .client = Client::kCertManager, .failures = 3, .until_expiry = absl::Hours(30), .expected = 3},
        AttemptsLeftCase{.name = "CertbotTwiceADay", .client = Client::kCertbot, .failures = 4, .until_expiry = absl::Hours(49), .expected = 4},
        AttemptsLeftCase{.name = "AcmeShDaily", .client = Client::kAcmeSh, .failures = 2, .until_expiry = absl::Hours(72), .expected = 2},
        AttemptsLeftCase{.name = "LegoDailyScaledByTwentyFour", .client = Client::kLego, .failures = 2, .until_expiry = absl::Hours(72), .time_scale = 24, .expected = 71}),
    [](const testing::TestParamInfo<AttemptsLeftCase>& info) { return std::string(info.param.name); });

TEST(MaintenanceWindowTest, AWindowAcrossMidnightBelongsToItsStartDay) {
  // Saturday 23:00 - 02:00; 2026-11-29 is a Sunday.
  std::vector<MaintenanceWindow> w = {{1 << 6, 23 * 60, 120}};
  EXPECT_TRUE(InMaintenanceWindow(w, T("2026-11-28T23:30:00Z")));
  EXPECT_TRUE(InMaintenanceWindow(w, T("2026-11-29T01:30:00Z")));
  EXPECT_FALSE(InMaintenanceWindow(w, T("2026-11-29T23:30:00Z")));
  EXPECT_TRUE(InMaintenanceWindow({}, T("2026-11-29T23:30:00Z")));
}

// ---- Gates: each named gate alone, one row per reason to hold and per reason not to ----
struct GateCase {
  std::string name;
  Gate gate;
  ActionKind kind;
  bool safety_net;
  std::function<void(LineageView&, LineageMemory&, PolicyConfig&)> setup;
  std::optional<std::string_view> want;  // kHeld*, or nullopt: the gate lets it pass
  std::string detail = "";
};

TEST(GatesTest, EachGateAlone) {
  const absl::Time now = T("2026-10-29T12:00:00Z");
  const auto renewed_at = [&](absl::Duration ago) {
    return [=](LineageView&, LineageMemory& m, PolicyConfig&) {
      m.last_renew_at = now - ago;
      m.last_renew_serial = "0a";
    };
  };
  const std::vector<GateCase> cases = {
      {"renewal planned 2 h ago is held", GateRenewalRecentlyPlanned, ActionKind::kRenew, false,
       renewed_at(absl::Hours(2)), kHeldAlreadyDone, "certcast planned a renewal at 2026-10-29T10:00:00Z"},
      {"renewal planned 21 h ago passes", GateRenewalRecentlyPlanned, ActionKind::kRenew, false,
       renewed_at(absl::Hours(21)), std::nullopt},
      {"a dry run is not a renewal", GateRenewalRecentlyPlanned, ActionKind::kDryRun, false,
       renewed_at(absl::Hours(2)), std::nullopt},
      {"three renewals for this serial are enough", GateRenewalsForCertificateSpent, ActionKind::kRenew, false,
       [](LineageView&, LineageMemory& m, PolicyConfig&) { m.last_renew_serial = "0a"; m.renewals_for_serial = 3; },
       kHeldAlreadyDone, "3 certcast renewals already tried for this certificate"},
      {"the safety net goes on before expiry", GateRenewalsForCertificateSpent, ActionKind::kRenew, true,
       [](LineageView&, LineageMemory& m, PolicyConfig&) { m.last_renew_serial = "0a"; m.renewals_for_serial = 3; },
       std::nullopt},
      {"another serial starts the count again", GateRenewalsForCertificateSpent, ActionKind::kRenew, false,
       [](LineageView&, LineageMemory& m, PolicyConfig&) { m.last_renew_serial = "09"; m.renewals_for_serial = 3; },
       std::nullopt},
      {"four of five certificates for the name set in 7 d", GateExactSetRateLimit, ActionKind::kRenew, true,
       [](LineageView& v, LineageMemory&, PolicyConfig&) { v.issued_last_7d = 4; },
       kHeldRateLimit, "4 certificates for this name set in 7 d (limit 5, 1 kept for the client)"},
      {"three certificates leave room", GateExactSetRateLimit, ActionKind::kRenew, false,
       [](LineageView& v, LineageMemory&, PolicyConfig&) { v.issued_last_7d = 3; }, std::nullopt},
      {"four failed authorizations in the hour", GateFailedAuthorizations, ActionKind::kRenew, false,
       [](LineageView& v, LineageMemory&, PolicyConfig&) { v.failures_last_hour = 4; },
       kHeldRateLimit, "4 failed attempts in the last hour (limit 5 failed authorizations per hour)"},
      {"three failed authorizations pass", GateFailedAuthorizations, ActionKind::kRenew, false,
       [](LineageView& v, LineageMemory&, PolicyConfig&) { v.failures_last_hour = 3; }, std::nullopt},
      {"unchanged name set: no new order", GateRegisteredDomainLimit, ActionKind::kRenew, false,
       [](LineageView& v, LineageMemory&, PolicyConfig&) { v.current->names = v.config.names; }, std::nullopt},
      {"dry run 1 d ago is held", GateDryRunRecentlyPlanned, ActionKind::kDryRun, false,
       [&](LineageView&, LineageMemory& m, PolicyConfig&) { m.last_dry_run_at = now - absl::Hours(24); },
       kHeldAlreadyDone, "certcast planned a dry run at 2026-10-28T12:00:00Z"},
      {"dry run 4 d ago passes", GateDryRunRecentlyPlanned, ActionKind::kDryRun, false,
       [&](LineageView&, LineageMemory& m, PolicyConfig&) { m.last_dry_run_at = now - absl::Hours(96); },
       std::nullopt},
      {"reload of this serial 1 h ago is held", GateReloadRecentlyPlanned, ActionKind::kReload, false,
       [&](LineageView&, LineageMemory& m, PolicyConfig&) {
         m.last_reload_at = now - absl::Hours(1);
         m.last_reload_serial = "0a";
       },
       kHeldAlreadyDone, "certcast planned a reload at 2026-10-29T11:00:00Z"},
      {"reload of an older serial passes", GateReloadRecentlyPlanned, ActionKind::kReload, false,
       [&](LineageView&, LineageMemory& m, PolicyConfig&) {
         m.last_reload_at = now - absl::Hours(1);
         m.last_reload_serial = "09";
       },
       std::nullopt},
      {"outside the only window", GateMaintenanceWindow, ActionKind::kRenew, false,
       [](LineageView&, LineageMemory&, PolicyConfig& c) { c.maintenance_windows = {{0x7f, 0, 60}}; },
       kHeldMaintenanceWindow, "outside every maintenance window"},
      {"the safety net ignores windows", GateMaintenanceWindow, ActionKind::kRenew, true,
       [](LineageView&, LineageMemory&, PolicyConfig& c) { c.maintenance_windows = {{0x7f, 0, 60}}; },
       std::nullopt},
      {"alerts ignore windows", GateMaintenanceWindow, ActionKind::kAlert, false,
       [](LineageView&, LineageMemory&, PolicyConfig& c) { c.maintenance_windows = {{0x7f, 0, 60}}; },
       std::nullopt},
      {"no window configured: always inside", GateMaintenanceWindow, ActionKind::kReload, false,
       [](LineageView&, LineageMemory&, PolicyConfig&) {}, std::nullopt},
      {"an alert key already sent", GateAlertAlreadySent, ActionKind::kAlert, false,
       [&](LineageView&, LineageMemory& m, PolicyConfig&) { m.alerted.push_back({"k", now}); },
       kHeldAlreadyDone, "alert k already sent"},
      {"a new alert key", GateAlertAlreadySent, ActionKind::kAlert, false,
       [&](LineageView&, LineageMemory& m, PolicyConfig&) { m.alerted.push_back({"other", now}); },
       std::nullopt},
  };
  for (const GateCase& c : cases) {
    std::vector<LineageView> views = ViewsOfEvents({*ParseEventLine(kConfigHttp), *ParseEventLine(kIssued)}, now);
    ASSERT_EQ(views.size(), 1u);
    LineageMemory memory;
    PolicyConfig config;
    c.setup(views[0], memory, config);
    ForecastView forecast;
    absl::flat_hash_map<std::string, int> per_domain;
    FleetBudget budget{&per_domain};
    Proposal p;
    p.kind = c.kind;
    p.track = c.kind == ActionKind::kAlert ? Track::kAlert : Track::kRenewal;
    p.safety_net = c.safety_net;
    p.alert_key = "k";
    std::optional<GateHold> got = c.gate(PolicyInput{views[0], forecast, memory, config, budget, now}, p);
    ASSERT_EQ(got.has_value(), c.want.has_value()) << c.name;
    if (got) {
      EXPECT_EQ(got->why, *c.want) << c.name;
      EXPECT_EQ(got->detail, c.detail) << c.name;
    }
  }
}

// A changed name set is a new order: the registered domain's budget counts.
TEST(GatesTest, RegisteredDomainLimitCountsANewNameSet) {
  const absl::Time now = T("2026-10-29T12:00:00Z");
  std::vector<LineageView> views = ViewsOfEvents({*ParseEventLine(kConfigHttp), *ParseEventLine(kIssued)}, now);
  ASSERT_EQ(views.size(), 1u);
  views[0].current->names = {"old.example.com"};
  LineageMemory memory;
  PolicyConfig config;
  ForecastView forecast;
  absl::flat_hash_map<std::string, int> per_domain = {{"example.com", 49}};
  FleetBudget budget{&per_domain};
  Proposal p;
  p.kind = ActionKind::kRenew;
  std::optional<GateHold> got = GateRegisteredDomainLimit(PolicyInput{views[0], forecast, memory, config, budget, now}, p);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->why, kHeldRateLimit);
  EXPECT_EQ(got->detail, "49 certificates for example.com in 7 d");
  per_domain["example.com"] = 48;
  EXPECT_FALSE(GateRegisteredDomainLimit(PolicyInput{views[0], forecast, memory, config, budget, now}, p));
}

TEST(GatesTest, TheTableNamesEveryGateOnceInOrder) {
  std::vector<std::string_view> names;
  for (const NamedGate& g : Gates()) names.push_back(g.name);
  EXPECT_EQ(names, (std::vector<std::string_view>{
                       "renewal_recently_planned", "renewals_for_certificate_spent", "exact_set_rate_limit",
                       "failed_authorizations", "registered_domain_limit", "dry_run_recently_planned",
                       "reload_recently_planned", "maintenance_window", "alert_already_sent"}));
}

}  // namespace
}  // namespace certcast::policy
