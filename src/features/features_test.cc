#include "features/features.h"

#include <cmath>
#include <cstring>
#include <random>
#include <set>

#include "core/strings.h"

#include "core/event_json.h"
#include "core/time.h"
#include "features/domains.h"
#include "features/fleet_state.h"
#include "features/labels.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace certcast {
namespace {

absl::Time T(const char* text) { return *ParseRfc3339(text); }

std::vector<Event> Parse(const std::vector<std::string>& lines) {
  std::vector<Event> out;
  for (const std::string& l : lines) {
    auto e = ParseEventLine(l);
    EXPECT_TRUE(e.ok()) << l << ": " << e.status();
    if (e.ok()) out.push_back(*e);
  }
  std::stable_sort(out.begin(), out.end(), [](const Event& a, const Event& b) { return a.ts < b.ts; });
  return out;
}

const std::vector<std::string> kShopBase = {
    R"({"ts":"2026-11-01T00:00:00Z","type":"config","cert":"shop","host":"web1","names":["shop.example.com"],"client":"certbot","ca":"https://acme-v02.api.letsencrypt.org/directory","challenge":"http-01","ari":false,"renew_rule":"days_left:30"})",
    R"({"ts":"2026-11-01T00:00:00Z","type":"issued","cert":"shop","serial":"04ab","not_before":"2026-10-31T23:00:00Z","not_after":"2027-01-29T23:00:00Z","ca":"https://acme-v02.api.letsencrypt.org/directory"})",
};

std::vector<float> FeaturesAt(std::span<const Event> events, absl::Time at, const std::string& cert) {
  FleetState state;
  size_t cursor = 0;
  EXPECT_TRUE(state.AdvanceTo(events, at, &cursor).ok());
  auto fx = FeatureExtractor::Create(state, at);
  EXPECT_TRUE(fx.ok());
  std::vector<float> out(kFeatureCount);
  fx->Extract(*state.IndexOf(cert), out.data());
  return out;
}

TEST(FeatureCatalogue, NamesAreUniqueAndSchemaIdIsStable) {
  std::set<std::string_view> names;
  for (const FeatureSpec& f : FeatureCatalogue()) EXPECT_TRUE(names.insert(f.name).second) << f.name;
  EXPECT_EQ(FeatureSchemaId(), FeatureSchemaId());
  EXPECT_THAT(FeatureSchemaId(), testing::StartsWith("features-v1/78/"));
}

struct ProbeCase {
  const char* name;
  std::vector<std::string> extra;
  const char* at;
  int feature;
  float expected;
};

class FeatureValues : public testing::TestWithParam<ProbeCase> {};

TEST_P(FeatureValues, MatchHandComputedValue) {
  std::vector<std::string> lines = kShopBase;
  lines.insert(lines.end(), GetParam().extra.begin(), GetParam().extra.end());
  auto events = Parse(lines);
  auto f = FeaturesAt(events, T(GetParam().at), "shop");
  if (std::isnan(GetParam().expected)) {
    EXPECT_TRUE(std::isnan(f[GetParam().feature])) << FeatureCatalogue()[GetParam().feature].name;
  } else {
    EXPECT_NEAR(f[GetParam().feature], GetParam().expected, 1e-3) << FeatureCatalogue()[GetParam().feature].name;
  }
}

const std::string kProbeFail1 = R"({"ts":"2026-11-20T06:05:00Z","type":"http01_probe","name":"shop.example.com","outcome":"error","error":"timeout"})";
const std::string kProbeFail2 = R"({"ts":"2026-11-21T06:05:00Z","type":"http01_probe","name":"shop.example.com","outcome":"error","error":"timeout"})";
const std::string kProbeOk3 = R"({"ts":"2026-11-22T06:05:00Z","type":"http01_probe","name":"shop.example.com","outcome":"ok"})";
const std::string kProbeFail4 = R"({"ts":"2026-11-23T06:05:00Z","type":"http01_probe","name":"shop.example.com","outcome":"error","error":"timeout"})";

// The same probes, each from a vantage ("server": outside, "web1": the host's agent, inside).
std::string From(const std::string& probe, const char* vantage) {
  return StrCat(probe.substr(0, probe.size() - 1), R"(,"vantage":")", vantage, "\"}");
}

std::string WrongContentAt(const char* ts) {
  return StrCat(R"({"ts":")", ts, R"(","type":"http01_probe","name":"shop.example.com","outcome":"error","error":"wrong_content","status":404,"vantage":"server"})");
}
std::string ServerOkAt(const char* ts, int status) {
  return StrCat(R"({"ts":")", ts, R"(","type":"http01_probe","name":"shop.example.com","outcome":"ok","status":)", status,
                R"(,"vantage":"server"})");
}

std::string IssuedAt(const char* ts, const char* serial) {
  return StrCat(R"({"ts":")", ts, R"(","type":"issued","cert":"shop","serial":")", serial, R"(","not_before":")", ts,
                R"(","not_after":"2027-02-20T00:00:00Z","ca":"https://acme-v02.api.letsencrypt.org/directory"})");
}
const std::string kIssue1119 = IssuedAt("2026-11-19T08:00:00Z", "b0");
const std::string kIssue1120 = IssuedAt("2026-11-20T08:00:00Z", "b1");
const std::string kIssue1122 = IssuedAt("2026-11-22T12:00:00Z", "b2");
const std::string kIssue1123a = IssuedAt("2026-11-23T06:00:00Z", "b3");
const std::string kIssue1123b = IssuedAt("2026-11-23T20:00:00Z", "b4");
std::string FailedWith(const char* ts, const char* error) {
  return StrCat(R"({"ts":")", ts, R"(","type":"renewal","cert":"shop","outcome":"failure","error":"urn:ietf:params:acme:error:)",
                error, R"("})");
}
const std::string kClockYearOff = R"({"ts":"2026-11-20T00:00:00Z","type":"clock","host":"web1","offset_ms":-31500000000,"synced":false})";
const std::string kClockMinuteOff = R"({"ts":"2026-11-20T00:00:00Z","type":"clock","host":"web1","offset_ms":60000,"synced":true})";
const std::string kCaDown1123 = R"({"ts":"2026-11-23T10:00:00Z","type":"ca_probe","ca":"https://acme-v02.api.letsencrypt.org/directory","outcome":"error","latency_ms":900})";
const std::string kCaOk1123 = R"({"ts":"2026-11-23T10:00:00Z","type":"ca_probe","ca":"https://acme-v02.api.letsencrypt.org/directory","outcome":"ok","latency_ms":90})";

INSTANTIATE_TEST_SUITE_P(
    Table, FeatureValues,
    testing::Values(
        ProbeCase{"http01_failed_3_of_last_4_days", {kProbeFail1, kProbeFail2, kProbeOk3, kProbeFail4},
                  "2026-11-24T00:00:00Z", kHttp01FailDays4, 3},
        ProbeCase{"challenge_probe_follows_http01", {kProbeFail1, kProbeFail2, kProbeOk3, kProbeFail4},
                  "2026-11-24T00:00:00Z", kChallengeProbeFailDays4, 3},
        ProbeCase{"old_failure_leaves_the_4_day_window", {kProbeFail1, kProbeFail2, kProbeOk3, kProbeFail4},
                  "2026-11-25T00:00:00Z", kHttp01FailDays4, 2},
        ProbeCase{"consecutive_failures_reset_by_ok", {kProbeFail1, kProbeFail2, kProbeOk3, kProbeFail4},
                  "2026-11-24T00:00:00Z", kHttp01ConsecutiveFailures, 1},
        // Per vantage (issue #17): a success seen from one place ends only that place's run.
        ProbeCase{"inside_ok_does_not_end_the_outside_run",
                  {From(kProbeFail1, "server"), From(kProbeFail2, "server"), From(kProbeOk3, "web1")},
                  "2026-11-24T00:00:00Z", kHttp01ConsecutiveFailures, 2},
        ProbeCase{"outside_ok_does_not_end_the_inside_run",
                  {From(kProbeFail1, "web1"), From(kProbeOk3, "server"), From(kProbeFail4, "web1")},
                  "2026-11-24T00:00:00Z", kHttp01ConsecutiveFailures, 2},
        ProbeCase{"same_vantage_ok_ends_its_run",
                  {From(kProbeFail1, "server"), From(kProbeFail2, "server"), From(kProbeOk3, "server")},
                  "2026-11-24T00:00:00Z", kHttp01ConsecutiveFailures, 0},
        ProbeCase{"longest_run_of_the_vantages",
                  {From(kProbeFail1, "server"), From(kProbeFail2, "web1"), From(kProbeOk3, "server"), From(kProbeFail4, "web1")},
                  "2026-11-24T00:00:00Z", kHttp01ConsecutiveFailures, 2},
        // A proof of HTTP-01 origin answered by another host (wrong_content) is ended by its body
        // served back (200), not by the server's plain probe answered 404 by that other host.
        ProbeCase{"plain_404_does_not_end_a_wrong_content_run",
                  {WrongContentAt("2026-11-20T06:05:00Z"), ServerOkAt("2026-11-21T06:05:00Z", 404),
                   WrongContentAt("2026-11-22T06:05:00Z")},
                  "2026-11-24T00:00:00Z", kHttp01ConsecutiveFailures, 2},
        ProbeCase{"the_body_served_back_ends_a_wrong_content_run",
                  {WrongContentAt("2026-11-20T06:05:00Z"), WrongContentAt("2026-11-21T06:05:00Z"),
                   ServerOkAt("2026-11-22T06:05:00Z", 200)},
                  "2026-11-24T00:00:00Z", kHttp01ConsecutiveFailures, 0},
        ProbeCase{"no_probe_is_missing_not_zero", {}, "2026-11-24T00:00:00Z", kHttp01FailDays4, NAN},
        ProbeCase{"days_to_expiry", {}, "2026-11-29T23:00:00Z", kDaysToExpiry, 61},
        ProbeCase{"days_to_due_under_days_left_30", {}, "2026-11-29T23:00:00Z", kDaysToDue, 31},
        ProbeCase{"caa_without_the_ca_forbids",
                  {R"({"ts":"2026-11-20T00:00:00Z","type":"dns","name":"shop.example.com","rtype":"CAA","rcode":"NOERROR","values":["0 issue \"sectigo.com\""]})"},
                  "2026-11-24T00:00:00Z", kCaaForbidsCa, 1},
        ProbeCase{"caa_naming_the_ca_permits",
                  {R"({"ts":"2026-11-20T00:00:00Z","type":"dns","name":"shop.example.com","rtype":"CAA","rcode":"NOERROR","values":["0 issue \"letsencrypt.org\""]})"},
                  "2026-11-24T00:00:00Z", kCaaForbidsCa, 0},
        ProbeCase{"address_moved_off_the_host",
                  {R"({"ts":"2026-10-31T00:00:00Z","type":"dns","name":"shop.example.com","rtype":"A","rcode":"NOERROR","values":["203.0.113.9"]})",
                   R"({"ts":"2026-11-02T00:00:00Z","type":"renewal","cert":"shop","outcome":"success"})",
                   R"({"ts":"2026-11-20T00:00:00Z","type":"dns","name":"shop.example.com","rtype":"A","rcode":"NOERROR","values":["198.51.100.7"]})"},
                  "2026-11-24T00:00:00Z", kAddressForeignFraction, 1},
        ProbeCase{"address_change_age",
                  {R"({"ts":"2026-10-31T00:00:00Z","type":"dns","name":"shop.example.com","rtype":"A","rcode":"NOERROR","values":["203.0.113.9"]})",
                   R"({"ts":"2026-11-20T00:00:00Z","type":"dns","name":"shop.example.com","rtype":"A","rcode":"NOERROR","values":["198.51.100.7"]})"},
                  "2026-11-24T00:00:00Z", kAddressChangeDays, 4},
        ProbeCase{"served_serial_lags_issued",
                  {R"({"ts":"2026-11-02T00:00:00Z","type":"issued","cert":"shop","serial":"05cd","not_before":"2026-11-02T00:00:00Z","not_after":"2027-01-31T00:00:00Z","ca":"https://acme-v02.api.letsencrypt.org/directory"})",
                   R"({"ts":"2026-11-05T00:00:00Z","type":"tls_probe","endpoint":"web1:443","sni":"shop.example.com","outcome":"ok","serial":"04ab"})"},
                  "2026-11-06T00:00:00Z", kServedStaleDays, 4},
        ProbeCase{"credential_expiring_before_next_attempt",
                  {R"({"ts":"2026-11-20T00:00:00Z","type":"credential","kind":"account_key","cert":"shop","expires":"2026-12-20T23:00:00Z"})"},
                  "2026-11-24T00:00:00Z", kCredentialMarginDays, -10},
        // Let's Encrypt does not use External Account Binding: an expiring EAB key is not its problem.
        ProbeCase{"eab_does_not_matter_at_a_ca_without_eab",
                  {R"({"ts":"2026-11-20T00:00:00Z","type":"credential","kind":"eab","cert":"shop","expires":"2026-12-20T23:00:00Z"})"},
                  "2026-11-24T00:00:00Z", kCredentialMarginDays, NAN},
        ProbeCase{"dns_api_token_does_not_matter_to_http01",
                  {R"({"ts":"2026-11-20T00:00:00Z","type":"credential","kind":"dns_api_token","cert":"shop","expires":"2026-12-20T23:00:00Z"})"},
                  "2026-11-24T00:00:00Z", kCredentialMarginDays, NAN},
        ProbeCase{"account_credential_of_a_sibling_host_applies",
                  {R"({"ts":"2026-11-20T00:00:00Z","type":"host","host":"web1","event":"restart"})",
                   R"({"ts":"2026-11-20T00:00:00Z","type":"credential","kind":"eab","host":"web9.example.com","expires":"2026-12-20T23:00:00Z"})"},
                  "2026-11-24T00:00:00Z", kCredentialMarginDays, NAN},
        ProbeCase{"rate_limit_name_set_counts_7_days",
                  {R"({"ts":"2026-11-20T00:00:00Z","type":"issued","cert":"shop","serial":"a1","not_before":"2026-11-20T00:00:00Z","not_after":"2027-02-18T00:00:00Z","ca":"x"})",
                   R"({"ts":"2026-11-21T00:00:00Z","type":"issued","cert":"shop","serial":"a2","not_before":"2026-11-21T00:00:00Z","not_after":"2027-02-19T00:00:00Z","ca":"x"})"},
                  "2026-11-24T00:00:00Z", kIssued7dNameSet, 2},
        ProbeCase{"nothing_blocks_the_next_attempt", {}, "2026-11-24T00:00:00Z", kBlockedAttemptDays, 365},
        ProbeCase{"no_blocker_counted", {}, "2026-11-24T00:00:00Z", kHardBlockers, 0},
        ProbeCase{"full_disk_is_a_hard_blocker",
                  {R"({"ts":"2026-11-20T00:00:00Z","type":"host","host":"web1","disk_free_bytes":0,"disk_total_bytes":100})"},
                  "2026-11-24T00:00:00Z", kHardBlockers, 1},
        // Due at notAfter - 30 d = 2026-12-30T23:00Z, 36.958 days after T.
        ProbeCase{"full_disk_blocks_the_next_attempt",
                  {R"({"ts":"2026-11-20T00:00:00Z","type":"host","host":"web1","disk_free_bytes":0,"disk_total_bytes":100})"},
                  "2026-11-24T00:00:00Z", kBlockedAttemptDays, 36.958f},
        ProbeCase{"disk_with_room_blocks_nothing",
                  {R"({"ts":"2026-11-20T00:00:00Z","type":"host","host":"web1","disk_free_bytes":50,"disk_total_bytes":100})"},
                  "2026-11-24T00:00:00Z", kBlockedAttemptDays, 365},
        // A clock reset to another year (the simulator's rtc reset) fails every attempt: the policy's
        // hard fact, and now the model's; a clock a minute off does not.
        ProbeCase{"clock_a_year_off_is_a_hard_blocker", {kClockYearOff}, "2026-11-24T00:00:00Z", kHardBlockers, 1},
        ProbeCase{"clock_a_year_off_blocks_the_next_attempt", {kClockYearOff}, "2026-11-24T00:00:00Z", kBlockedAttemptDays, 36.958f},
        ProbeCase{"clock_a_minute_off_blocks_nothing", {kClockMinuteOff}, "2026-11-24T00:00:00Z", kHardBlockers, 0},
        ProbeCase{"credential_expiring_before_next_attempt_blocks_it",
                  {R"({"ts":"2026-11-20T00:00:00Z","type":"credential","kind":"account_key","cert":"shop","expires":"2026-12-20T23:00:00Z"})"},
                  "2026-11-24T00:00:00Z", kHardBlockers, 1},
        // Rate limits: issuances of the exact name set (the base certificate was issued 2026-11-01).
        ProbeCase{"issued_24h_counts_only_the_last_day", {kIssue1122, kIssue1123a, kIssue1123b},
                  "2026-11-24T00:00:00Z", kIssued24hNameSet, 2},
        // 3 in the week, 3 in 2 days: (3 - 1) / 2 = 1 a day beyond a renewal, 2 certificates left.
        ProbeCase{"budget_days_at_the_loop_pace", {kIssue1122, kIssue1123a, kIssue1123b},
                  "2026-11-24T00:00:00Z", kRateLimitBudgetDays, 2},
        ProbeCase{"budget_spent_at_5_a_week", {kIssue1119, kIssue1120, kIssue1122, kIssue1123a, kIssue1123b},
                  "2026-11-24T00:00:00Z", kRateLimitBudgetDays, 0},
        ProbeCase{"one_renewal_spends_no_budget", {kIssue1123a}, "2026-11-24T00:00:00Z", kRateLimitBudgetDays, 365},
        ProbeCase{"budget_of_a_lineage_that_never_issued_again", {}, "2026-11-24T00:00:00Z", kRateLimitBudgetDays, 365},
        // 2026-11-02 replaces a certificate 1 of 90 days old: premature; 3 days later exp(-1).
        ProbeCase{"premature_issuance_decays",
                  {R"({"ts":"2026-11-02T00:00:00Z","type":"issued","cert":"shop","serial":"p1","not_before":"2026-11-02T00:00:00Z","not_after":"2027-01-31T00:00:00Z","ca":"x"})"},
                  "2026-11-05T00:00:00Z", kPrematureIssuances, 0.3679f},
        ProbeCase{"renewal_at_two_thirds_is_not_premature",
                  {R"({"ts":"2026-12-30T00:00:00Z","type":"issued","cert":"shop","serial":"r1","not_before":"2026-12-30T00:00:00Z","not_after":"2027-03-30T00:00:00Z","ca":"x"})"},
                  "2026-12-31T00:00:00Z", kPrematureIssuances, 0},
        ProbeCase{"failed_validations_in_the_last_hour",
                  {FailedWith("2026-11-23T22:30:00Z", "connection"), FailedWith("2026-11-23T23:10:00Z", "connection"),
                   FailedWith("2026-11-23T23:30:00Z", "unauthorized"), FailedWith("2026-11-23T23:50:00Z", "dns")},
                  "2026-11-24T00:00:00Z", kFailedValidations1h, 3},
        ProbeCase{"a_rate_limit_is_not_a_failed_validation",
                  {FailedWith("2026-11-23T23:50:00Z", "rateLimited")}, "2026-11-24T00:00:00Z", kFailedValidations1h, 0},
        ProbeCase{"days_since_rate_limited",
                  {FailedWith("2026-11-20T00:00:00Z", "rateLimited")}, "2026-11-24T00:00:00Z", kDaysSinceRateLimited, 4},
        ProbeCase{"never_rate_limited_is_missing", {}, "2026-11-24T00:00:00Z", kDaysSinceRateLimited, NAN},
        // Persistence: fail 11-20, 11-21, ok 11-22, fail 11-23.
        ProbeCase{"probe_failure_run_ends_at_the_last_ok", {kProbeFail1, kProbeFail2, kProbeOk3, kProbeFail4},
                  "2026-11-24T00:00:00Z", kChallengeProbeFailRunDays, 1},
        ProbeCase{"probe_failure_run_of_two_days", {kProbeFail1, kProbeFail2},
                  "2026-11-22T00:00:00Z", kChallengeProbeFailRunDays, 2},
        ProbeCase{"probe_failures_in_30_days", {kProbeFail1, kProbeFail2, kProbeOk3, kProbeFail4},
                  "2026-11-24T00:00:00Z", kChallengeProbeFailDays30, 3},
        ProbeCase{"probe_trend_last_4_minus_previous_4", {kProbeFail1, kProbeFail2, kProbeOk3, kProbeFail4},
                  "2026-11-28T00:00:00Z", kChallengeProbeTrend, -3},
        ProbeCase{"no_challenge_probe_no_persistence", {}, "2026-11-24T00:00:00Z", kChallengeProbeFailRunDays, NAN},
        ProbeCase{"ca_probe_failures_in_4_days", {kCaDown1123}, "2026-11-24T00:00:00Z", kCaProbeFailDays4, 1},
        // Due at notAfter - 30 d = 2026-12-30T23:00Z, 36.958 days after T.
        ProbeCase{"degraded_ca_meets_the_next_attempt", {kCaDown1123}, "2026-11-24T00:00:00Z", kCaDegradedAttemptDays, 36.958f},
        ProbeCase{"healthy_ca_is_not_degraded", {kCaOk1123}, "2026-11-24T00:00:00Z", kCaDegradedAttemptDays, 365}),
    [](const testing::TestParamInfo<ProbeCase>& info) { return std::string(info.param.name); });

// Features at T must not change when events at or after T exist: build a rich history, then
// append future events of every kind that would move each feature, and compare bit for bit.
TEST(NoFutureLeak, FeaturesAtTIgnoreEventsAtOrAfterT) {
  std::vector<std::string> history = kShopBase;
  history.insert(history.end(), {kProbeFail1, kProbeFail2, kProbeOk3});
  const std::vector<std::string> future = {
      R"({"ts":"2026-11-23T00:00:00Z","type":"renewal","cert":"shop","outcome":"failure","error":"urn:ietf:params:acme:error:connection"})",
      R"({"ts":"2026-11-23T00:00:00Z","type":"http01_probe","name":"shop.example.com","outcome":"error","error":"timeout"})",
      R"({"ts":"2026-11-23T00:00:01Z","type":"dns","name":"shop.example.com","rtype":"A","rcode":"SERVFAIL","values":[]})",
      // Issue #14's diagnosed facts: a rate-limit refusal and a burst of issuances.
      R"({"ts":"2026-11-23T00:00:02Z","type":"renewal","cert":"shop","outcome":"failure","error":"urn:ietf:params:acme:error:rateLimited"})",
      R"({"ts":"2026-11-23T00:00:03Z","type":"issued","cert":"shop","serial":"98","not_before":"2026-11-23T00:00:03Z","not_after":"2027-02-21T00:00:00Z","ca":"x"})",
      R"({"ts":"2026-11-24T00:00:00Z","type":"issued","cert":"shop","serial":"99","not_before":"2026-11-24T00:00:00Z","not_after":"2027-02-22T00:00:00Z","ca":"x"})",
      R"({"ts":"2026-11-25T00:00:00Z","type":"config","cert":"shop","host":"web2","names":["shop.example.com"],"client":"lego","ca":"x","challenge":"dns-01","ari":true})",
      R"({"ts":"2026-11-25T00:00:00Z","type":"clock","host":"web1","offset_ms":90000,"synced":false})",
      R"({"ts":"2026-11-25T00:00:00Z","type":"host","host":"web1","disk_free_bytes":1,"disk_total_bytes":100,"event":"upgrade"})",
      R"({"ts":"2026-11-25T00:00:00Z","type":"ca_probe","ca":"https://acme-v02.api.letsencrypt.org/directory","outcome":"error"})",
      R"({"ts":"2026-11-25T00:00:00Z","type":"domain","name":"example.com","expires":"2026-11-26T00:00:00Z","status":"clientHold"})",
      R"({"ts":"2026-11-25T00:00:00Z","type":"ari","cert":"shop","ca":"x","window_start":"2026-11-25T00:00:00Z","window_end":"2026-11-26T00:00:00Z"})",
  };
  const absl::Time at = T("2026-11-23T00:00:00Z");
  auto past = Parse(history);
  std::vector<std::string> all = history;
  all.insert(all.end(), future.begin(), future.end());
  auto everything = Parse(all);
  ASSERT_GT(everything.size(), past.size());
  auto a = FeaturesAt(past, at, "shop");
  auto b = FeaturesAt(everything, at, "shop");
  ASSERT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
  // And the future really would move features (the test is not vacuous).
  auto c = FeaturesAt(everything, T("2026-11-26T00:00:00Z"), "shop");
  EXPECT_NE(0, std::memcmp(a.data(), c.data(), a.size() * sizeof(float)));
}

TEST(NoFutureLeak, ExtractorRefusesAStateThatSawT) {
  auto events = Parse(kShopBase);
  FleetState state;
  for (const Event& e : events) ASSERT_TRUE(state.Apply(e).ok());
  auto fx = FeatureExtractor::Create(state, T("2026-11-01T00:00:00Z"));
  ASSERT_FALSE(fx.ok());
  EXPECT_EQ(fx.status().message(),
            "features at 2026-11-01T00:00:00Z asked of a state that has seen 2026-11-01T00:00:00Z: that "
            "would read the future");
}

TEST(FleetState, RefusesOutOfOrderEvents) {
  auto events = Parse(kShopBase);
  FleetState state;
  ASSERT_TRUE(state.Apply(events[1]).ok());
  Event older = events[0];
  older.ts -= absl::Hours(1);
  Status s = state.Apply(older);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "event at 2026-10-31T23:00:00Z is older than 2026-11-01T00:00:00Z: feed events in ts order");
}

struct LabelCase {
  const char* name;
  std::vector<std::string> lines;
  std::vector<std::pair<const char*, const char*>> episodes;  // onset, end ("" = ongoing)
};

class Labels : public testing::TestWithParam<LabelCase> {};

TEST_P(Labels, EpisodesFollowEventsV1) {
  auto events = Parse(GetParam().lines);
  auto episodes = ComputeEpisodes(events);
  const auto& list = episodes["shop"];
  ASSERT_EQ(list.size(), GetParam().episodes.size());
  for (size_t i = 0; i < list.size(); ++i) {
    EXPECT_EQ(list[i].onset, T(GetParam().episodes[i].first));
    const char* end = GetParam().episodes[i].second;
    EXPECT_EQ(list[i].end, *end ? T(end) : absl::InfiniteFuture());
  }
}

const char* kFail1 = R"({"ts":"2026-12-01T00:00:00Z","type":"renewal","cert":"shop","outcome":"failure","error":"timeout"})";
const char* kFail2 = R"({"ts":"2026-12-01T12:00:00Z","type":"renewal","cert":"shop","outcome":"failure","error":"timeout"})";
const char* kOk = R"({"ts":"2026-12-02T00:00:00Z","type":"renewal","cert":"shop","outcome":"success"})";
const char* kDryFail = R"({"ts":"2026-11-30T00:00:00Z","type":"renewal","cert":"shop","outcome":"failure","dry_run":true})";
const char* kIssue = R"({"ts":"2026-12-03T00:00:00Z","type":"issued","cert":"shop","serial":"1","not_before":"2026-12-03T00:00:00Z","not_after":"2027-03-03T00:00:00Z","ca":"x"})";
const char* kFail3 = R"({"ts":"2026-12-02T12:00:00Z","type":"renewal","cert":"shop","outcome":"failure"})";

INSTANTIATE_TEST_SUITE_P(
    Table, Labels,
    testing::Values(
        LabelCase{"first_failure_is_the_onset_later_ones_are_not", {kFail1, kFail2}, {{"2026-12-01T00:00:00Z", ""}}},
        LabelCase{"success_ends_the_episode", {kFail1, kFail2, kOk}, {{"2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z"}}},
        LabelCase{"dry_run_failure_is_never_an_onset", {kDryFail}, {}},
        LabelCase{"issuance_ends_the_episode_and_a_new_one_can_start",
                  {kFail1, kFail3, kIssue, R"({"ts":"2026-12-04T00:00:00Z","type":"renewal","cert":"shop","outcome":"failure"})"},
                  {{"2026-12-01T00:00:00Z", "2026-12-03T00:00:00Z"}, {"2026-12-04T00:00:00Z", ""}}}),
    [](const testing::TestParamInfo<LabelCase>& info) { return std::string(info.param.name); });

TEST(Labels, InEpisodeAndOnsetWindows) {
  auto episodes = ComputeEpisodes(Parse({kFail1, kFail2, kOk}))["shop"];
  EXPECT_FALSE(InEpisodeAt(episodes, T("2026-11-30T00:00:00Z")));
  EXPECT_TRUE(InEpisodeAt(episodes, T("2026-12-01T00:00:00Z")));  // failure at D counts (at or before)
  EXPECT_FALSE(InEpisodeAt(episodes, T("2026-12-02T00:00:00Z")));
  EXPECT_NE(OnsetIn(episodes, T("2026-11-24T00:00:00Z"), T("2026-12-01T00:00:00Z")), nullptr);
  EXPECT_EQ(OnsetIn(episodes, T("2026-12-01T00:00:00Z"), T("2026-12-08T00:00:00Z")), nullptr);  // (from, to]
  EXPECT_EQ(ErrorCause("urn:ietf:params:acme:error:connection"), "connection");
  EXPECT_EQ(ErrorCause(""), "unknown");
}

struct DueCase {
  const char* name;
  const char* config;
  const char* expected_due;
};

class RenewalDue : public testing::TestWithParam<DueCase> {};

TEST_P(RenewalDue, FollowsClientRule) {
  auto events = Parse({GetParam().config,
                       R"({"ts":"2026-11-01T00:00:00Z","type":"issued","cert":"shop","serial":"1","not_before":"2026-11-01T00:00:00Z","not_after":"2027-01-30T00:00:00Z","ca":"x"})"});
  FleetState state;
  for (const Event& e : events) ASSERT_TRUE(state.Apply(e).ok());
  auto due = RenewalDueTime(*state.Find("shop"));
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(*due, T(GetParam().expected_due));
}

INSTANTIATE_TEST_SUITE_P(
    Table, RenewalDue,
    testing::Values(
        DueCase{"certbot_default_two_thirds", R"({"ts":"2026-11-01T00:00:00Z","type":"config","cert":"shop","host":"h","names":["a.example.com"],"client":"certbot","ca":"x","challenge":"http-01","ari":false})", "2026-12-31T00:00:00Z"},
        DueCase{"lego_v4_thirty_days_left", R"({"ts":"2026-11-01T00:00:00Z","type":"config","cert":"shop","host":"h","names":["a.example.com"],"client":"lego","client_version":"4.20.1","ca":"x","challenge":"http-01","ari":false})", "2026-12-31T00:00:00Z"},
        DueCase{"acme_sh_new_default_29_days", R"({"ts":"2026-11-01T00:00:00Z","type":"config","cert":"shop","host":"h","names":["a.example.com"],"client":"acme.sh","client_version":"3.1.4","ca":"x","challenge":"http-01","ari":false})", "2026-11-30T00:00:00Z"},
        DueCase{"acme_sh_old_default_59_days", R"({"ts":"2026-11-01T00:00:00Z","type":"config","cert":"shop","host":"h","names":["a.example.com"],"client":"acme.sh","client_version":"3.0.7","ca":"x","challenge":"http-01","ari":false})", "2026-12-30T00:00:00Z"},
        DueCase{"explicit_rule_wins", R"({"ts":"2026-11-01T00:00:00Z","type":"config","cert":"shop","host":"h","names":["a.example.com"],"client":"certbot","ca":"x","challenge":"http-01","ari":false,"renew_rule":"after_issue_days:10"})", "2026-11-11T00:00:00Z"}),
    [](const testing::TestParamInfo<DueCase>& info) { return std::string(info.param.name); });

// The fleet state after `lines`, applied in order.
FleetState StateAfter(const std::vector<std::string>& lines) {
  FleetState state;
  for (const Event& e : Parse(lines)) EXPECT_TRUE(state.Apply(e).ok());
  return state;
}

// The state keeps the certificates a lineage replaced, so the due time learns from them, and an
// ARI answer about the replaced certificate stops counting once the new one is issued.
TEST(RenewalDue, StateKeepsHistoryAndDropsTheReplacedCertificatesAri) {
  const char* config = R"({"ts":"2026-06-01T00:00:00Z","type":"config","cert":"shop","host":"h","names":["a.example.com"],"client":"certbot","client_version":"4.1.0","ca":"x","challenge":"http-01","ari":true})";
  // Replaced at day 75 of 90 (not_before 2026-06-01 -> 2026-08-15): 0.833 of the lifetime.
  const FleetState state = StateAfter({config,
      R"({"ts":"2026-06-01T00:00:00Z","type":"issued","cert":"shop","serial":"1","not_before":"2026-06-01T00:00:00Z","not_after":"2026-08-30T00:00:00Z","ca":"x"})",
      R"({"ts":"2026-06-01T00:10:00Z","type":"ari","cert":"shop","ca":"x","window_start":"2026-07-20T00:00:00Z","window_end":"2026-07-22T00:00:00Z"})",
      R"({"ts":"2026-08-15T00:00:00Z","type":"issued","cert":"shop","serial":"2","not_before":"2026-08-15T00:00:00Z","not_after":"2026-11-13T00:00:00Z","ca":"x"})",
      // The same certificate reported again by another collector is not a renewal.
      R"({"ts":"2026-08-15T06:00:00Z","type":"issued","cert":"shop","serial":"2","not_before":"2026-08-15T00:00:00Z","not_after":"2026-11-13T00:00:00Z","ca":"x"})"});
  const LineageState& s = *state.Find("shop");
  ASSERT_EQ(s.previous_certificates.size(), 1u);
  EXPECT_EQ(s.previous_certificates[0].first, T("2026-06-01T00:00:00Z"));
  // 2/3 would be 2026-10-14; the history says 75 of 90 days: 2026-10-29. The July window was for
  // certificate 1 and no longer counts.
  EXPECT_EQ(*RenewalDueTime(s), T("2026-10-29T00:00:00Z"));
}

// Let's Encrypt's lifetimes shorten 90 -> 64 -> 45 days; a days_left:30 client renews 30 days
// before expiry on each. Its history, read as a fraction of the lifetime (2/3 of 90 days), would
// put the 45-day certificate's renewal at day 30 instead of day 15 (issue #14: an onset on
// study-hosting-202 predicted 9 days late).
TEST(RenewalDue, LifetimeChangeKeepsTheDaysBeforeExpiry) {
  const FleetState state = StateAfter({
      R"({"ts":"2027-01-01T00:00:00Z","type":"config","cert":"shop","host":"h","names":["a.example.com"],"client":"lego","client_version":"4.20.1","ca":"x","challenge":"http-01","ari":false,"renew_rule":"days_left:30"})",
      R"({"ts":"2027-01-01T00:00:00Z","type":"issued","cert":"shop","serial":"1","not_before":"2027-01-01T00:00:00Z","not_after":"2027-04-01T00:00:00Z","ca":"x"})",
      R"({"ts":"2027-03-02T00:00:00Z","type":"issued","cert":"shop","serial":"2","not_before":"2027-03-02T00:00:00Z","not_after":"2027-05-05T00:00:00Z","ca":"x"})",
      R"({"ts":"2027-04-05T00:00:00Z","type":"issued","cert":"shop","serial":"3","not_before":"2027-04-05T00:00:00Z","not_after":"2027-05-20T00:00:00Z","ca":"x"})"});
  const LineageState& s = *state.Find("shop");
  ASSERT_EQ(s.previous_certificates.size(), 2u);
  EXPECT_EQ(*RenewalDueTime(s), T("2027-04-20T00:00:00Z"));
  EXPECT_EQ(*NextScheduledAttempt(s, T("2027-04-10T00:00:00Z")), T("2027-04-20T00:00:00Z"));
}

TEST(NextAttempt, CertManagerBacksOffExponentially) {
  std::vector<std::string> lines = {
      R"({"ts":"2026-11-01T00:00:00Z","type":"config","cert":"shop","host":"h","names":["a.example.com"],"client":"cert-manager","ca":"x","challenge":"http-01","ari":false})",
      R"({"ts":"2026-11-01T00:00:00Z","type":"issued","cert":"shop","serial":"1","not_before":"2026-09-01T00:00:00Z","not_after":"2026-11-30T00:00:00Z","ca":"x"})"};
  for (int i = 0; i < 3; ++i) {
    lines.push_back(StrCat(R"({"ts":"2026-11-02T0)", i, R"(:00:00Z","type":"renewal","cert":"shop","outcome":"failure"})"));
  }
  auto events = Parse(lines);
  FleetState state;
  for (const Event& e : events) ASSERT_TRUE(state.Apply(e).ok());
  // Three failures: backoff 1h * 2^2 = 4h after the last failure at 02:00.
  EXPECT_EQ(*NextScheduledAttempt(*state.Find("shop"), T("2026-11-02T03:00:00Z")), T("2026-11-02T06:00:00Z"));
}

// Caddy retries on CertMagic's ladder, not on its 10-minute maintenance check: after eleven
// failures the next try is 3 hours after the last one.
TEST(NextAttempt, CaddyFollowsCertMagicsRetryLadder) {
  std::vector<std::string> lines = {
      R"({"ts":"2026-11-01T00:00:00Z","type":"config","cert":"shop","host":"h","names":["a.example.com"],"client":"caddy","ca":"x","challenge":"http-01","ari":false})",
      R"({"ts":"2026-11-01T00:00:00Z","type":"issued","cert":"shop","serial":"1","not_before":"2026-09-01T00:00:00Z","not_after":"2026-11-30T00:00:00Z","ca":"x"})"};
  for (int i = 0; i < 11; ++i) {
    lines.push_back(StrCat(R"({"ts":"2026-11-02T)", i < 10 ? "0" : "", i, R"(:00:00Z","type":"renewal","cert":"shop","outcome":"failure"})"));
  }
  auto events = Parse(lines);
  FleetState state;
  for (const Event& e : events) ASSERT_TRUE(state.Apply(e).ok());
  EXPECT_EQ(*NextScheduledAttempt(*state.Find("shop"), T("2026-11-02T10:30:00Z")), T("2026-11-02T13:00:00Z"));
}

// The features read CAA through the one evaluation (core/caa.h) with the CA's identities from its
// directory URL: a critical unknown property and ZeroSSL's Sectigo identity used to be missed here.
TEST(Caa, AllowsCaTable) {
  const std::string le = "https://acme-v02.api.letsencrypt.org/directory";
  const std::string zerossl = "https://acme.zerossl.com/v2/DV90";
  struct Case {
    std::vector<std::string> values;
    std::string ca;
    bool wildcard;
    bool want;
  };
  const std::vector<Case> cases = {
      {{}, le, false, true},
      {{"0 iodef \"mailto:a@b.c\""}, le, false, true},
      {{"0 issue \"letsencrypt.org\""}, le, false, true},
      {{"0 issue \"LetsEncrypt.ORG\""}, le, false, true},
      {{"0 issue \"letsencrypt.org; validationmethods=dns-01\""}, le, false, true},
      {{"0 issue \"sectigo.com\""}, le, false, false},
      {{"0 issue \";\""}, le, false, false},
      {{"0 issue \"letsencrypt.org\"", "0 issuewild \"sectigo.com\""}, le, true, false},
      {{"0 issue \"letsencrypt.org\"", "0 issuewild \"sectigo.com\""}, le, false, true},
      {{"0 issue \"sectigo.com\"", "0 issuewild \"letsencrypt.org\""}, le, true, true},
      {{"0 issue \"letsencrypt.org\"", "128 tbs \"unknown\""}, le, false, false},
      {{"0 issue \"sectigo.com\""}, zerossl, false, true},
      {{"0 issue \"zerossl.com\""}, zerossl, false, true},
      {{"0 issue \"letsencrypt.org\""}, zerossl, false, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(CaaAllowsCa(c.values, c.ca, c.wildcard).permitted, c.want)
        << StrJoin(c.values, " | ") << " for " << c.ca << (c.wildcard ? " (wildcard)" : "");
  }
}

TEST(RegisteredDomain, UsesThePublicSuffixList) {
  EXPECT_EQ(RegisteredDomain("www.shop.example.co.uk"), "example.co.uk");
  EXPECT_EQ(RegisteredDomain("*.api.example.com"), "example.com");
  EXPECT_EQ(RegisteredDomain("localhost"), "localhost");
}

TEST(UrlHost, Table) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"https://Acme.Example:14000/dir", "acme.example"},
      {"https://user@acme.example./dir?x#y", "acme.example"},
      {"https://[::1]:14000/dir", "::1"},
      {"acme.example", "acme.example"},
      {"", ""},
  };
  for (const auto& [url, want] : cases) EXPECT_EQ(UrlHost(url), want) << url;
}

TEST(CaaIdentities, HostRegisteredDomainAndAlias) {
  EXPECT_EQ(CaaIdentities("https://acme-v02.api.letsencrypt.org/directory"),
            (std::vector<std::string>{"acme-v02.api.letsencrypt.org", "letsencrypt.org"}));
  EXPECT_EQ(CaaIdentities("https://acme.zerossl.com/v2/DV90"),
            (std::vector<std::string>{"acme.zerossl.com", "zerossl.com", "sectigo.com"}));
  EXPECT_EQ(CaaIdentities(""), std::vector<std::string>{});
}

// Credentials one host reports apply to its siblings under the same parent domain, never to
// every host under a shared registered domain (two customers of one provider).
TEST(OrganisationOfHost, ParentDomainNeverShorterThanTheRegisteredDomain) {
  const std::pair<const char*, const char*> cases[] = {
      {"web3.shop.example.com", "shop.example.com"},
      {"web3.example.com", "example.com"},
      {"example.com", "example.com"},
      {"web1", "web1"},
      {"web1.alpha.example.net", "alpha.example.net"},
      {"node.shop.example.co.uk", "shop.example.co.uk"},
      {"shop.example.co.uk", "example.co.uk"},
  };
  for (const auto& [host, organisation] : cases) EXPECT_EQ(OrganisationOfHost(host), organisation) << host;
  EXPECT_NE(OrganisationOfHost("web1.alpha.example.net"), OrganisationOfHost("web2.beta.example.net"));
}

TEST(CaRequiresEab, ByTheCasDocumentation) {
  EXPECT_TRUE(CaRequiresEab("https://acme.zerossl.com/v2/DV90"));
  EXPECT_TRUE(CaRequiresEab("https://dv.acme-v02.api.pki.goog/directory"));
  EXPECT_FALSE(CaRequiresEab("https://acme-v02.api.letsencrypt.org/directory"));
  EXPECT_FALSE(CaRequiresEab("https://api.buypass.com/acme/directory"));
  EXPECT_FALSE(CaRequiresEab(""));
  EXPECT_FALSE(CaRequiresEab("not a url"));
}

}  // namespace
}  // namespace certcast
