#include "alert/alert.h"

#include "alert/alertmanager.h"
#include "alert/from_plan.h"
#include "alert/silence_request.h"
#include "nlohmann/json.hpp"

#include "core/strings.h"
#include "core/time.h"
#include "gtest/gtest.h"

namespace certcast::alert {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);
constexpr absl::Duration kHour = absl::Hours(1);
constexpr absl::Duration kDay = absl::Hours(24);

AlertCandidate Candidate(std::string cert, std::string cause_key, bool confirmed,
                         absl::Duration expires_in, absl::Duration due_in) {
  AlertCandidate c;
  c.cert = std::move(cert);
  c.host = "web1";
  c.cause_key = std::move(cause_key);
  c.cause = "caa_dnssec";
  c.reason = confirmed ? "RenewalFailing" : "PredictedFailure";
  c.message = "the next renewal is expected to fail: CAA lookup answers SERVFAIL";
  c.confirmed = confirmed;
  c.expiry = kNow + expires_in;
  c.renewal_due = kNow + due_in;
  return c;
}

TEST(ClassifyTest, PagesOnlyNearTheDeadlineAndWatchesYoungSoftConditions) {
  const AlertPolicy policy;
  struct Case {
    std::string name;
    bool confirmed;
    bool hard_fact;
    absl::Duration expires_in, due_in, age;
    Severity want;
  } cases[] = {
      // The issue's shape: a SERVFAIL a few hours old, renewal due in weeks.
      {"provider outage, renewal weeks away", false, false, 50 * kDay, 20 * kDay, 3 * kHour,
       Severity::kWatch},
      {"provider outage persisting, renewal weeks away", false, false, 50 * kDay, 20 * kDay,
       3 * kDay, Severity::kInfo},
      {"soft, young, but the renewal tries tomorrow", false, false, 20 * kDay, 1 * kDay,
       3 * kHour, Severity::kTicket},
      {"soft and young but the deadline is near: safety net", false, false, 7 * kDay, 10 * kDay,
       1 * kHour, Severity::kPage},
      {"confirmed failure, weeks left", true, false, 40 * kDay, -1 * kDay, 0 * kHour,
       Severity::kInfo},
      {"confirmed failure, deadline in 3 weeks", true, false, 20 * kDay, -1 * kDay, 0 * kHour,
       Severity::kTicket},
      {"confirmed failure, deadline in 5 days", true, false, 8 * kDay, -1 * kDay, 0 * kHour,
       Severity::kPage},
      {"hard fact, deadline in 10 days", false, true, 13 * kDay, 2 * kDay, 0 * kHour,
       Severity::kTicket},
  };
  for (const Case& c : cases) {
    AlertCandidate a = Candidate("shop", "domain:example.com", c.confirmed, c.expires_in, c.due_in);
    a.hard_fact = c.hard_fact;
    EXPECT_EQ(ToString(Classify(a, kNow - c.age, policy, kNow)), ToString(c.want)) << c.name;
  }
  // A configuration report (the client's rule renews after expiry) never pages: the expiry it
  // leads to has its own alert.
  for (const auto& [expires_in, want] :
       {std::pair{2 * kDay, Severity::kTicket}, {7 * kDay, Severity::kTicket},
        {20 * kDay, Severity::kTicket}, {40 * kDay, Severity::kInfo}}) {
    AlertCandidate rule = Candidate("shop", "lineage:shop", true, expires_in, expires_in);
    rule.reason = "RenewRuleTooLate";
    rule.config_report = true;
    EXPECT_EQ(ToString(Classify(rule, kNow - kDay, policy, kNow)), ToString(want))
        << "config report, expires in " << absl::FormatDuration(expires_in);
  }
  AlertCandidate rule_no_expiry = Candidate("shop", "lineage:shop", true, kDay, kDay);
  rule_no_expiry.config_report = true;
  rule_no_expiry.expiry.reset();
  EXPECT_EQ(Classify(rule_no_expiry, kNow, policy, kNow), Severity::kTicket);
  // No expiry known: not a page (no deadline to escalate on) but worth a ticket once persisting.
  AlertCandidate unknown = Candidate("shop", "k", true, kDay, kDay);
  unknown.expiry.reset();
  EXPECT_EQ(Classify(unknown, kNow, policy, kNow), Severity::kTicket);
}

// What the planner's alerts become: the candidates' labels (what a label silence matches), the
// configuration report flag, the cause key; a held alert (already sent) still counts.
// A lineage's view with a 45-day certificate that expires `left` from kNow.
policy::LineageView ViewOf(const std::string& cert, const std::string& host,
                           const std::string& name, absl::Duration left) {
  policy::LineageView view;
  view.cert = cert;
  view.config.cert = cert;
  view.config.host = host;
  view.config.names = {name};
  IssuedEvent current;
  current.cert = cert;
  current.not_before = kNow + left - 45 * kDay;
  current.not_after = kNow + left;
  view.current = current;
  return view;
}

TEST(CandidatesFromPlanTest, LabelsConfigReportAndHeldAlerts) {
  policy::LineageView view = ViewOf("shop", "web1", "shop.example.com", 5 * kDay);
  view.config.client = Client::kAcmeSh;
  view.config.ca = "https://acme.example/dir";
  view.config.challenge = Challenge::kDns01;
  policy::PlanResult plan;
  policy::PlannedItem rule;
  rule.action.cert = "shop";
  rule.action.kind = ActionKind::kAlert;
  rule.action.reason = "RenewRuleTooLate: renew_rule after_issue_days:59 renews after expiry";
  rule.reason = policy::kReasonRenewRuleTooLate;
  plan.items.push_back(rule);
  policy::PlannedItem renew = rule;  // not an alert: no candidate
  renew.action.kind = ActionKind::kRenew;
  plan.items.push_back(renew);
  policy::HeldItem held;
  held.cert = "shop";
  held.held.proposal.kind = ActionKind::kAlert;
  held.held.proposal.reason = policy::kReasonPredictedFailure;
  held.held.proposal.message = "the next renewal is expected to fail";
  held.held.why = policy::kHeldAlreadyDone;
  held.diagnosis.cause = Cause::kCaaDnssec;
  held.diagnosis.hard_fact = true;
  plan.held.push_back(held);
  policy::HeldItem gated = held;  // held by a gate, not because it was sent: no candidate
  gated.held.why = "HeldByGate";
  plan.held.push_back(gated);

  const std::vector<AlertCandidate> got = CandidatesFromPlan(plan, {view});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].config_report);
  EXPECT_EQ(got[0].cause_key, "lineage:shop");
  EXPECT_EQ(got[0].expiry, kNow + 5 * kDay);
  // Capped: five days from expiry would page anything else.
  EXPECT_EQ(Classify(got[0], kNow, AlertPolicy{}, kNow), Severity::kTicket);
  const std::map<std::string, std::string> want_labels = {
      {"cert", "shop"}, {"host", "web1"}, {"cause", "RenewRuleTooLate"},
      {"cause_key", "lineage:shop"}, {"reason", "RenewRuleTooLate"}, {"client", "acme.sh"},
      {"ca", "https://acme.example/dir"}, {"challenge", "dns-01"}};
  EXPECT_EQ(got[0].labels, want_labels);
  EXPECT_FALSE(got[1].config_report);
  EXPECT_EQ(got[1].cause_key, "domain:example.com");
  EXPECT_EQ(got[1].labels.at("cause"), "caa_dnssec");
  EXPECT_EQ(Classify(got[1], kNow, AlertPolicy{}, kNow), Severity::kPage);
  SilenceRecord by_client{.id = "sil-1", .matcher = "label", .value = "client=acme.sh",
                          .comment = "", .created_by = "alice", .created = kNow,
                          .until = kNow + kDay, .ended = std::nullopt, .ended_by = ""};
  EXPECT_TRUE(Matches(by_client, got[1]));
  by_client.value = "client=lego";
  EXPECT_FALSE(Matches(by_client, got[1]));
}

// A lineage no longer observed on a host that still reports (removed, most likely: hosting-62's
// 67 daily pages, issue #15) is a ticket even days from expiry, about itself alone: its domain's
// earlier DNS trouble does not put it into (and page it with) that domain's incident.
TEST(CandidatesFromPlanTest, ALineageNotObservedIsATicketOfItsOwn) {
  const policy::LineageView view = ViewOf("blog", "web4", "blog.example.org", 2 * kDay);
  policy::PlanResult plan;
  policy::PlannedItem item;
  item.action.cert = "blog";
  item.action.kind = ActionKind::kAlert;
  item.action.reason = "LineageNotObserved: blog has not been observed since ...";
  item.reason = policy::kReasonLineageNotObserved;
  item.diagnosis.cause = Cause::kDnsPointing;  // its name had moved away before it went quiet
  plan.items.push_back(item);
  policy::PlannedItem expiring = item;  // the same facts through the safety net: a page
  expiring.reason = policy::kReasonExpiryImminent;
  plan.items.push_back(expiring);

  const std::vector<AlertCandidate> got = CandidatesFromPlan(plan, {view});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].config_report);
  EXPECT_EQ(got[0].cause, "LineageNotObserved");
  EXPECT_EQ(got[0].cause_key, "lineage:blog");
  EXPECT_EQ(Classify(got[0], kNow, AlertPolicy{}, kNow), Severity::kTicket);
  EXPECT_FALSE(got[1].config_report);
  EXPECT_EQ(got[1].cause_key, "domain:example.org");
  EXPECT_EQ(Classify(got[1], kNow, AlertPolicy{}, kNow), Severity::kPage);
}

TEST(CauseKeyTest, SharedCausesShareAKey) {
  struct Case {
    std::string cause, scope, want;
  } cases[] = {
      {"caa_dnssec", "domain:example.com", "domain:example.com"},
      {"caa_dnssec", "", "domain:example.org"},
      {"dns01_automation", "", "domain:example.org"},
      {"ca_side", "", "ca:https://acme.example/dir"},
      {"rate_limited", "", "ca:https://acme.example/dir"},
      {"local_client", "", "host:web1"},
      {"clock", "", "host:web1"},
      {"account", "", "account:web1@https://acme.example/dir"},
      {"http01_unreachable", "", "lineage:shop"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(CauseKey(c.cause, c.scope, "shop", "web1", "https://acme.example/dir", "example.org"),
              c.want)
        << c.cause;
  }
}

TEST(SilenceTest, ValidatesWithExactErrors) {
  const SilenceRecord good{.id = "sil-1", .matcher = "label", .value = "team=payments",
                           .comment = "", .created_by = "alice", .created = kNow,
                           .until = kNow + kDay, .ended = std::nullopt, .ended_by = ""};
  EXPECT_TRUE(ValidateSilence(good).ok());
  struct Case {
    std::string name;
    void (*change)(SilenceRecord&);
    std::string error;
  } cases[] = {
      {"matcher", [](SilenceRecord& s) { s.matcher = "team"; },
       "matcher: unknown \"team\" (known: lineage, host, cause, label)"},
      {"empty value", [](SilenceRecord& s) { s.value = ""; },
       "value: 1..256 printable bytes, got 0 bytes"},
      {"control byte", [](SilenceRecord& s) { s.value = "a\nb"; },
       "value: 1..256 printable bytes, got 3 bytes"},
      {"label without =", [](SilenceRecord& s) { s.value = "team"; },
       "value: a label silence is \"name=value\", got \"team\""},
      {"comment", [](SilenceRecord& s) { s.comment = std::string(1001, 'x'); },
       "comment: at most 1000 printable bytes"},
      {"who", [](SilenceRecord& s) { s.created_by = ""; }, "created_by: empty"},
      {"until before", [](SilenceRecord& s) { s.until = s.created; },
       "until: 2027-01-15T08:00:00Z is not after the silence's start 2027-01-15T08:00:00Z"},
      {"too long", [](SilenceRecord& s) { s.until = s.created + absl::Hours(24 * 91); },
       "until: at most 90 days after the start (2027-04-15T08:00:00Z)"},
  };
  for (const Case& c : cases) {
    SilenceRecord s = good;
    c.change(s);
    Status status = ValidateSilence(s);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_EQ(status.message(), c.error) << c.name;
  }
  EXPECT_EQ(SilenceId(0xabc), "sil-0000000000000abc");
}

TEST(SilenceTest, MatchesLineageHostCauseAndLabel) {
  AlertCandidate c = Candidate("shop", "domain:example.com", true, kDay, kDay);
  c.labels["team"] = "payments";
  struct Case {
    std::string matcher, value;
    bool want;
  } cases[] = {
      {"lineage", "shop", true},           {"lineage", "blog", false},
      {"host", "web1", true},              {"host", "web2", false},
      {"cause", "domain:example.com", true}, {"cause", "caa_dnssec", true},
      {"cause", "ca:x", false},            {"label", "team=payments", true},
      {"label", "team=web", false},        {"label", "owner=payments", false},
  };
  for (const Case& x : cases) {
    SilenceRecord s;
    s.matcher = x.matcher;
    s.value = x.value;
    EXPECT_EQ(Matches(s, c), x.want) << x.matcher << " " << x.value;
  }
}

std::vector<AlertCandidate> Outage(int lineages, bool confirmed, absl::Duration expires_in) {
  std::vector<AlertCandidate> out;
  for (int i = 0; i < lineages; ++i) {
    out.push_back(Candidate(StrCat("site", i), "domain:provider.net", confirmed, expires_in,
                            expires_in - 30 * kDay));
  }
  return out;
}

// The issue's failure shape: a DNS provider fails for hours across 47 lineages whose renewals are
// weeks away. Before: 47 alerts a day. Now: one incident, watched, never sent, resolved quietly.
TEST(StepTest, AProviderOutageOfHoursIsOneWatchedIncidentAndNoNotice) {
  const AlertPolicy policy;
  std::vector<Incident> incidents;
  const auto outage = Outage(47, /*confirmed=*/false, 50 * kDay);
  StepResult r = Step(incidents, outage, {}, policy, kNow);
  ASSERT_EQ(incidents.size(), 1u);
  EXPECT_EQ(incidents[0].lineages.size(), 47u);
  EXPECT_EQ(incidents[0].severity, Severity::kWatch);
  EXPECT_TRUE(r.notifications.empty());
  EXPECT_EQ(r.changed, std::vector<std::string>{incidents[0].id});
  // Six hours later the provider is back: no candidate; resolved, and nothing was ever sent.
  r = Step(incidents, {}, {}, policy, kNow + 6 * kHour);
  EXPECT_FALSE(incidents[0].open);
  EXPECT_EQ(incidents[0].resolved, kNow + 6 * kHour);
  EXPECT_TRUE(r.notifications.empty());
  for (const IncidentLineage& l : incidents[0].lineages) EXPECT_EQ(l.recovered, kNow + 6 * kHour);
  // The next outage on the same cause is a new incident with another id.
  Step(incidents, outage, {}, policy, kNow + kDay);
  ASSERT_EQ(incidents.size(), 2u);
  EXPECT_NE(incidents[1].id, incidents[0].id);
  EXPECT_TRUE(incidents[1].open);
}

TEST(StepTest, ARealCauseNotifiesOnceEscalatesRenotifiesAndResolves) {
  const AlertPolicy policy;
  std::vector<Incident> incidents;
  // Confirmed failures with the deadline in 3 weeks: one ticket naming both lineages.
  auto two = Outage(2, /*confirmed=*/true, 20 * kDay);
  StepResult r = Step(incidents, two, {}, policy, kNow);
  ASSERT_EQ(r.notifications.size(), 1u);
  EXPECT_EQ(r.notifications[0].kind, Notification::Kind::kFiring);
  EXPECT_EQ(r.notifications[0].severity, Severity::kTicket);
  EXPECT_EQ(r.notifications[0].certs, (std::vector<std::string>{"site0", "site1"}));
  EXPECT_EQ(r.notifications[0].dedupe_key, StrCat(incidents[0].id, ":ticket"));
  EXPECT_EQ(r.notifications[0].summary,
            "caa_dnssec on domain:provider.net: 2 lineages affected; site0: the next renewal is "
            "expected to fail: CAA lookup answers SERVFAIL");
  // A day later, same state: no repeat (ticket re-notifies weekly).
  for (auto& c : two) c.expiry = *c.expiry;  // unchanged expiry, time moves on
  r = Step(incidents, two, {}, policy, kNow + kDay);
  EXPECT_TRUE(r.notifications.empty());
  // A third lineage joins; still the same incident and no new notice.
  auto three = Outage(3, true, 20 * kDay);
  r = Step(incidents, three, {}, policy, kNow + 2 * kDay);
  ASSERT_EQ(incidents.size(), 1u);
  EXPECT_EQ(incidents[0].lineages.size(), 3u);
  EXPECT_TRUE(r.notifications.empty());
  // Eight days on (12 days to expiry, 9 to the deadline): the weekly re-notification.
  r = Step(incidents, three, {}, policy, kNow + 8 * kDay);
  ASSERT_EQ(r.notifications.size(), 1u);
  EXPECT_EQ(r.notifications[0].severity, Severity::kTicket);
  // Deadline within 5 days: escalates to a page at once.
  r = Step(incidents, three, {}, policy, kNow + 13 * kDay);
  ASSERT_EQ(r.notifications.size(), 1u);
  EXPECT_EQ(r.notifications[0].severity, Severity::kPage);
  EXPECT_EQ(incidents[0].peak, Severity::kPage);
  // Two recover: they stay listed as recovered; no notice for a shrinking incident.
  r = Step(incidents, std::span(three).subspan(2), {}, policy, kNow + 13 * kDay + kHour);
  EXPECT_TRUE(r.notifications.empty());
  EXPECT_EQ(incidents[0].lineages[0].recovered, kNow + 13 * kDay + kHour);
  EXPECT_FALSE(incidents[0].lineages[2].recovered);
  // The last recovers: resolved, and a resolved notice follows the firing ones.
  r = Step(incidents, {}, {}, policy, kNow + 14 * kDay);
  ASSERT_EQ(r.notifications.size(), 1u);
  EXPECT_EQ(r.notifications[0].kind, Notification::Kind::kResolved);
  EXPECT_EQ(r.notifications[0].ends_at, kNow + 14 * kDay);
  EXPECT_EQ(r.notifications[0].dedupe_key, StrCat(incidents[0].id, ":resolved"));
  EXPECT_EQ(incidents[0].notifications, 4);
  EXPECT_FALSE(incidents[0].open);
}

TEST(StepTest, SilencesKeepLineagesOutOfNoticesWhileInForce) {
  const AlertPolicy policy;
  auto two = Outage(2, /*confirmed=*/true, 6 * kDay);  // page
  SilenceRecord lineage{.id = "sil-a", .matcher = "lineage", .value = "site0", .comment = "",
                        .created_by = "alice", .created = kNow - kHour, .until = kNow + kDay,
                        .ended = std::nullopt, .ended_by = ""};
  SilenceRecord cause{.id = "sil-b", .matcher = "cause", .value = "domain:provider.net",
                      .comment = "", .created_by = "bob", .created = kNow + 2 * kDay,
                      .until = kNow + 3 * kDay, .ended = std::nullopt, .ended_by = ""};
  std::vector<SilenceRecord> silences{lineage, cause};
  std::vector<Incident> incidents;
  StepResult r = Step(incidents, two, silences, policy, kNow);
  ASSERT_EQ(r.notifications.size(), 1u);
  EXPECT_EQ(r.notifications[0].certs, std::vector<std::string>{"site1"});
  EXPECT_EQ(incidents[0].lineages[0].silenced_by, "sil-a");
  // The cause silence in force: nothing goes out even after the re-notification interval.
  r = Step(incidents, two, silences, policy, kNow + 2 * kDay + kHour);
  EXPECT_TRUE(r.notifications.empty());
  EXPECT_EQ(incidents[0].lineages[1].silenced_by, "sil-b");
  // Ended early: the next plan notifies again.
  silences[1].ended = kNow + 2 * kDay + 2 * kHour;
  r = Step(incidents, two, silences, policy, kNow + 2 * kDay + 3 * kHour);
  ASSERT_EQ(r.notifications.size(), 1u);
  EXPECT_EQ(r.notifications[0].certs, (std::vector<std::string>{"site0", "site1"}));
}

TEST(RecordTest, RoundTripsAndRefusesABrokenDocument) {
  const AlertPolicy policy;
  std::vector<Incident> incidents;
  Step(incidents, Outage(2, true, 6 * kDay), {}, policy, kNow);
  Step(incidents, Outage(1, true, 6 * kDay), {}, policy, kNow + kHour);
  IncidentRecord record = ToRecord(incidents[0]);
  EXPECT_EQ(record.severity, "page");
  EXPECT_TRUE(record.open);
  auto back = FromRecord(record);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, incidents[0]);
  struct Case {
    std::string document, error;
  } cases[] = {
      {"[1]", "incident X: stored document is not a JSON object"},
      {"{", "incident X: stored document is not a JSON object"},
      {R"({"id":"X"})", "incident X: stored document: cause_key: missing or not a string"},
  };
  for (const Case& c : cases) {
    IncidentRecord bad = record;
    bad.id = "X";
    bad.document_json = c.document;
    auto parsed = FromRecord(bad);
    EXPECT_EQ(parsed.status().code(), StatusCode::kDataLoss);
    EXPECT_EQ(parsed.status().message(), c.error);
  }
}

// Alertmanager API v2: one alert per incident and severity; an escalation ends the lower
// severity's alert; resolution is an endsAt in the past.
TEST(AlertmanagerTest, IncidentsBecomePostableAlertsThatResolve) {
  const AlertPolicy policy;
  AlertmanagerSettings settings{.url = "http://127.0.0.1:9093",
                                .generator_url = "https://certcast.example/v1/incidents/",
                                .labels = {{"team", "web"}}};
  std::vector<Incident> incidents;
  auto two = Outage(2, /*confirmed=*/true, 20 * kDay);
  StepResult r = Step(incidents, two, {}, policy, kNow);  // ticket
  r = Step(incidents, two, {}, policy, kNow + 13 * kDay);  // page
  ASSERT_EQ(r.notifications.size(), 1u);
  auto j = nlohmann::json::parse(AlertmanagerBody(r.notifications, settings));
  ASSERT_EQ(j.size(), 2u);
  const std::string id = incidents[0].id;
  EXPECT_EQ(j[0]["labels"],
            nlohmann::json::parse(StrCat(R"({"team":"web","alertname":"CertcastIncident","incident":")",
                                         id, R"(","cause":"caa_dnssec","cause_key":"domain:provider.net","severity":"ticket"})")));
  EXPECT_EQ(j[0]["endsAt"], "2027-01-28T08:00:00Z");  // the ticket ends as the page starts
  EXPECT_EQ(j[1]["labels"]["severity"], "page");
  EXPECT_EQ(j[1]["startsAt"], "2027-01-15T08:00:00Z");
  EXPECT_EQ(j[1]["endsAt"], "2027-01-29T08:00:00Z");  // one page re-notification interval
  EXPECT_EQ(j[1]["generatorURL"], StrCat("https://certcast.example/v1/incidents/", id));
  EXPECT_EQ(j[1]["annotations"]["lineages"], "site0,site1");
  r = Step(incidents, {}, {}, policy, kNow + 14 * kDay);
  j = nlohmann::json::parse(AlertmanagerBody(r.notifications, settings));
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["labels"]["severity"], "page");
  EXPECT_EQ(j[0]["endsAt"], "2027-01-29T08:00:00Z");
  EXPECT_EQ(AlertmanagerBody({}, settings), "[]");
}

TEST(SilenceRequestTest, ParsesTheBodyAndNamesTheBadField) {
  auto ok = ParseSilenceRequest(
      R"({"matcher":"cause","value":"domain:example.com","duration":"4h","comment":"dns"})", kNow,
      "alice");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->until, kNow + 4 * kHour);
  EXPECT_EQ(ok->created, kNow);
  EXPECT_EQ(ok->created_by, "alice");
  EXPECT_EQ(ok->comment, "dns");
  auto until = ParseSilenceRequest(
      R"({"matcher":"label","value":"team=web","until":"2027-01-16T08:00:00Z"})", kNow, "bob");
  ASSERT_TRUE(until.ok()) << until.status();
  EXPECT_EQ(until->until, kNow + kDay);
  struct Case {
    std::string body, error;
  } cases[] = {
      {"[]", "body: not a JSON object"},
      {"{", "body: not a JSON object"},
      {R"({"matcher":"host","value":"web1"})", "until or duration: missing"},
      {R"({"value":"web1","duration":"1h"})", "matcher: missing"},
      {R"({"matcher":"host","value":"web1","duration":"1h","until":"2027-01-16T08:00:00Z"})",
       "give one of until and duration"},
      {R"({"matcher":"host","value":"web1","duration":"soon"})",
       "duration: " + ParseDurationFlag("soon").status().message()},
      {R"({"matcher":"host","value":"web1","duration":3600})", "duration: not a string"},
      {R"({"matcher":"host","value":"web1","duration":"1h","who":"x"})",
       "unknown field \"who\" (expected matcher, value, until or duration, comment)"},
      {R"({"matcher":"host","value":"web1","duration":"100d"})",
       "until: at most 90 days after the start (2027-04-15T08:00:00Z)"},
  };
  for (const Case& c : cases) {
    auto parsed = ParseSilenceRequest(c.body, kNow, "alice");
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << c.body;
    EXPECT_EQ(parsed.status().message(), c.error) << c.body;
  }
}

}  // namespace
}  // namespace certcast::alert
