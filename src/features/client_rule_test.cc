#include "features/client_rule.h"

#include <string>
#include <vector>

#include "core/time.h"
#include "gtest/gtest.h"

namespace certcast {
namespace {

absl::Time T(const char* text) { return *ParseRfc3339(text); }

constexpr absl::Duration kDay = absl::Hours(24);
const absl::Time kNotBefore = T("2026-01-01T00:00:00Z");

// An ARI answer as a case states it: window offsets from not_before and when it was recorded
// relative to the certificate.
struct Ari {
  absl::Duration start, end;
  bool recorded_before_certificate = false;
};

struct RuleCase {
  const char* name = "";
  std::optional<Client> client = {};  // nullopt: no config seen yet
  std::optional<std::string> version = {};
  std::optional<std::string> rule = {};
  bool ari_enabled = false;
  absl::Duration lifetime = 45 * kDay;
  std::optional<Ari> ari = {};
  // Earlier certificates, newest first: (offset of not_before from the current one's, lifetime).
  std::vector<std::pair<absl::Duration, absl::Duration>> previous = {};
  absl::Duration expected = {};  // due time minus not_before
};

class ClientRule : public testing::TestWithParam<RuleCase> {};

TEST_P(ClientRule, DueTime) {
  const RuleCase& c = GetParam();
  ConfigEvent config;
  config.cert = "shop";
  if (c.client) config.client = *c.client;
  config.client_version = c.version;
  config.renew_rule = c.rule;
  config.ari = c.ari_enabled;
  IssuedEvent current;
  current.cert = "shop";
  current.serial = "02";
  current.not_before = kNotBefore;
  current.not_after = kNotBefore + c.lifetime;
  AriEvent ari;
  std::vector<std::pair<absl::Time, absl::Time>> previous;
  for (const auto& [offset, life] : c.previous) {
    previous.push_back({kNotBefore + offset, kNotBefore + offset + life});
  }

  ClientRuleInput in;
  in.config = c.client ? &config : nullptr;
  in.current = &current;
  in.current_recorded_at = kNotBefore + absl::Hours(1);
  if (c.ari) {
    ari.window_start = kNotBefore + c.ari->start;
    ari.window_end = kNotBefore + c.ari->end;
    in.ari = &ari;
    in.ari_recorded_at = c.ari->recorded_before_certificate ? kNotBefore : kNotBefore + absl::Hours(2);
  }
  in.previous = previous;
  std::optional<absl::Time> due = ClientRenewalDueTime(in);
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(*due - kNotBefore, c.expected) << "due " << absl::FormatTime(*due);
}

// 45-day certificate unless a case says otherwise: 2/3 is day 30, 30 days left is day 15. On a
// 200-day certificate 2/3 is day 133.3 and 30 days left day 170, so "the later of the two" shows.
const absl::Duration kTwoThirds45 = 30 * kDay, kThirtyLeft45 = 15 * kDay;
const absl::Duration kLife200 = 200 * kDay;
const absl::Duration kTwoThirds200 = kLife200 * (2.0 / 3.0), kThirtyLeft200 = 170 * kDay;

INSTANTIATE_TEST_SUITE_P(
    Table, ClientRule,
    testing::Values(
        // certbot: 2/3 from 4.0, 30 days left before (features used 2/3 for every version).
        RuleCase{.name = "CertbotFourRenewsAtTwoThirds", .client = Client::kCertbot, .version = "4.1.0", .expected = kTwoThirds45},
        RuleCase{.name = "CertbotFourWithLeadingVRenewsAtTwoThirds", .client = Client::kCertbot, .version = "v4.0.0", .expected = kTwoThirds45},
        RuleCase{.name = "CertbotThreeRenewsThirtyDaysBeforeExpiry", .client = Client::kCertbot, .version = "3.3.0", .expected = kThirtyLeft45},
        RuleCase{.name = "CertbotTwoOnALongCertificateThirtyDaysLeft", .client = Client::kCertbot, .version = "2.11.0", .lifetime = kLife200, .expected = kThirtyLeft200},
        RuleCase{.name = "CertbotWithoutVersionTakesTheLaterDefault", .client = Client::kCertbot, .lifetime = kLife200, .expected = kThirtyLeft200},
        RuleCase{.name = "CertbotWithEmptyVersionTakesTheLaterDefault", .client = Client::kCertbot, .version = "", .expected = kTwoThirds45},
        RuleCase{.name = "CertbotWithGarbageVersionTakesTheLaterDefault", .client = Client::kCertbot, .version = "unknown", .lifetime = kLife200, .expected = kThirtyLeft200},
        RuleCase{.name = "CertbotShortLivedRenewsAtHalf", .client = Client::kCertbot, .version = "4.1.0", .lifetime = absl::Hours(160), .expected = absl::Hours(80)},
        // lego: 30 days left before 5 (features: only 4.x), dynamic 2/3 from 5.
        RuleCase{.name = "LegoFourRenewsThirtyDaysBeforeExpiry", .client = Client::kLego, .version = "4.25.2", .expected = kThirtyLeft45},
        RuleCase{.name = "LegoThreeRenewsThirtyDaysBeforeExpiry", .client = Client::kLego, .version = "3.9.0", .expected = kThirtyLeft45},
        RuleCase{.name = "LegoFiveRenewsAtTwoThirds", .client = Client::kLego, .version = "5.0.1", .expected = kTwoThirds45},
        RuleCase{.name = "LegoFiveOnALongCertificateRenewsAtTwoThirds", .client = Client::kLego, .version = "5.1.0", .lifetime = kLife200, .expected = kTwoThirds200},
        RuleCase{.name = "LegoWithoutVersionTakesTheLaterDefault", .client = Client::kLego, .lifetime = kLife200, .expected = kThirtyLeft200},
        RuleCase{.name = "LegoFourOnAShortLivedCertificateRenewsAtIssuance", .client = Client::kLego, .version = "4.25.2", .lifetime = absl::Hours(160), .expected = absl::ZeroDuration()},
        // acme.sh: issuance + 29 d from 3.1.4, + 59 d before; unknown or empty version: the current one.
        RuleCase{.name = "AcmeShCurrentRenewsAfter29Days", .client = Client::kAcmeSh, .version = "3.1.4", .expected = 29 * kDay},
        RuleCase{.name = "AcmeShOldRenewsAfter59DaysEvenAfterExpiry", .client = Client::kAcmeSh, .version = "3.0.7", .expected = 59 * kDay},
        RuleCase{.name = "AcmeSh313IsStillOld", .client = Client::kAcmeSh, .version = "3.1.3", .expected = 59 * kDay},
        RuleCase{.name = "AcmeShWithoutVersionRenewsAfter29Days", .client = Client::kAcmeSh, .expected = 29 * kDay},
        RuleCase{.name = "AcmeShWithEmptyVersionRenewsAfter29Days", .client = Client::kAcmeSh, .version = "", .expected = 29 * kDay},
        // cert-manager, Caddy, other, no config: 2/3 (1/2 under 10 days).
        RuleCase{.name = "CertManagerRenewsAtTwoThirds", .client = Client::kCertManager, .expected = kTwoThirds45},
        RuleCase{.name = "CertManagerIgnoresRenewBeforeOfTheWholeLifetime", .client = Client::kCertManager, .rule = "days_left:60", .expected = kTwoThirds45},
        RuleCase{.name = "CertManagerKeepsAShorterRenewBefore", .client = Client::kCertManager, .rule = "days_left:10", .expected = 35 * kDay},
        RuleCase{.name = "CaddyRenewsAtTwoThirds", .client = Client::kCaddy, .lifetime = 90 * kDay, .expected = 60 * kDay},
        RuleCase{.name = "OtherShortLivedRenewsAtHalf", .client = Client::kOther, .lifetime = absl::Hours(160), .expected = absl::Hours(80)},
        RuleCase{.name = "NoConfigYetUsesTwoThirds", .expected = kTwoThirds45},
        // Written rules win over the default.
        RuleCase{.name = "FractionRule", .client = Client::kCertbot, .version = "3.0.0", .rule = "fraction:0.5", .expected = absl::Hours(540)},
        RuleCase{.name = "DaysLeftRule", .client = Client::kCertbot, .version = "4.1.0", .rule = "days_left:7", .expected = 38 * kDay},
        RuleCase{.name = "DaysLeftRuleNeverBeforeIssuance", .client = Client::kCertbot, .rule = "days_left:30", .lifetime = absl::Hours(160), .expected = absl::ZeroDuration()},
        RuleCase{.name = "AfterIssueRuleMayLieAfterExpiry", .client = Client::kAcmeSh, .rule = "after_issue_days:59", .expected = 59 * kDay},
        RuleCase{.name = "UnparsableRuleFallsBackToTheDefault", .client = Client::kLego, .version = "5.0.0", .rule = "weekly:1", .expected = kTwoThirds45},
        // ARI.
        RuleCase{.name = "AriEarlierWindowWins", .client = Client::kCertbot, .version = "4.1.0", .ari_enabled = true, .ari = Ari{20 * kDay, 21 * kDay}, .expected = 20 * kDay},
        RuleCase{.name = "AriLaterWindowDoesNotDelayCertbot", .client = Client::kCertbot, .version = "4.1.0", .ari_enabled = true, .ari = Ari{35 * kDay, 36 * kDay}, .expected = kTwoThirds45},
        RuleCase{.name = "AriLaterWindowDoesNotDelayAcmeSh", .client = Client::kAcmeSh, .version = "3.1.4", .ari_enabled = true, .ari = Ari{35 * kDay, 36 * kDay}, .expected = 29 * kDay},
        RuleCase{.name = "AriEarlierWindowWinsForAcmeSh", .client = Client::kAcmeSh, .version = "3.1.4", .ari_enabled = true, .ari = Ari{10 * kDay, 11 * kDay}, .expected = 10 * kDay},
        RuleCase{.name = "AriIgnoredWhenTheClientHasItOff", .client = Client::kLego, .version = "5.0.1", .ari = Ari{20 * kDay, 21 * kDay}, .expected = kTwoThirds45},
        RuleCase{.name = "AriAnswerForThePreviousCertificateIgnored", .client = Client::kLego, .version = "5.0.1", .ari_enabled = true, .ari = Ari{20 * kDay, 21 * kDay, true}, .expected = kTwoThirds45},
        RuleCase{.name = "AriEmptyWindowIgnored", .client = Client::kLego, .version = "5.0.1", .ari_enabled = true, .ari = Ari{20 * kDay, 20 * kDay}, .expected = kTwoThirds45},
        // History: never before the median point at which earlier certificates were replaced.
        // Replaced at 0.75, 0.70 and 0.80 of a 40-day lifetime: median 0.75 of 45 days.
        RuleCase{.name = "HistoryMedianDelaysTheRule", .client = Client::kCertbot, .version = "4.1.0",
                 .previous = {{-30 * kDay, 40 * kDay}, {-58 * kDay, 40 * kDay}, {-90 * kDay, 40 * kDay}},
                 .expected = absl::Hours(810)},
        // Two fractions (0.70, 0.80): the upper one.
        RuleCase{.name = "HistoryEvenCountTakesTheUpperMiddle", .client = Client::kCertbot, .version = "4.1.0",
                 .previous = {{-28 * kDay, 40 * kDay}, {-60 * kDay, 40 * kDay}}, .expected = 36 * kDay},
        RuleCase{.name = "HistoryEarlierThanTheRuleIsIgnored", .client = Client::kCertbot, .version = "4.1.0",
                 .previous = {{-20 * kDay, 40 * kDay}}, .expected = kTwoThirds45},
        // Replaced after expiry (a 2-day outage): the fraction is capped at the whole lifetime.
        RuleCase{.name = "HistoryLateRenewalCappedAtExpiry", .client = Client::kCertbot, .version = "4.1.0",
                 .previous = {{-42 * kDay, 40 * kDay}}, .expected = 45 * kDay},
        RuleCase{.name = "HistoryThenAriEarlierWindowWins", .client = Client::kCertbot, .version = "4.1.0", .ari_enabled = true,
                 .ari = Ari{20 * kDay, 21 * kDay}, .previous = {{-30 * kDay, 40 * kDay}}, .expected = 20 * kDay},
        // A lifetime change (90 -> 64 -> 45 days): history is read in the unit the rule counts in.
        // certbot 3 renews 30 days before expiry: day 60 of 90 and day 34 of 64 are both 30 days
        // left, so day 15 of 45 (read as fractions, 0.53 and 0.67: day 30).
        RuleCase{.name = "HistoryOfDaysLeftRuleSurvivesALifetimeChange", .client = Client::kCertbot, .version = "3.3.0",
                 .previous = {{-34 * kDay, 64 * kDay}, {-94 * kDay, 90 * kDay}, {-154 * kDay, 90 * kDay}},
                 .expected = kThirtyLeft45},
        // A written days_left:30 renewed 2 days late each time (a daily cron that failed once): 28
        // days left, day 17 of 45 (as fractions: day 31).
        RuleCase{.name = "HistoryOfWrittenDaysLeftRuleKeepsItsLateness", .client = Client::kLego, .version = "4.25.2", .rule = "days_left:30",
                 .previous = {{-36 * kDay, 64 * kDay}, {-98 * kDay, 90 * kDay}, {-160 * kDay, 90 * kDay}},
                 .expected = 17 * kDay},
        // Replaced within a day of issue (days_left:30 on 160-hour certificates renews on every run):
        // "at least the whole lifetime", not 148 hours before expiry, which would mean day 38.8.
        RuleCase{.name = "HistoryOfDaysLeftRenewedAtOnceDoesNotDelay", .client = Client::kLego, .version = "4.25.2",
                 .previous = {{-absl::Hours(12), absl::Hours(160)}, {-absl::Hours(24), absl::Hours(160)}},
                 .expected = kThirtyLeft45},
        // acme.sh counts days after issue: 45-day certificates replaced at day 31 say day 31 of a
        // 90-day one (as fractions, 0.69: day 62).
        RuleCase{.name = "HistoryOfAcmeShCountsDaysAfterIssue", .client = Client::kAcmeSh, .version = "3.1.4", .lifetime = 90 * kDay,
                 .previous = {{-31 * kDay, 45 * kDay}, {-62 * kDay, 45 * kDay}, {-93 * kDay, 45 * kDay}},
                 .expected = 31 * kDay},
        // certbot without a version renews at the later of 2/3 and 30 days left, a point that depends
        // on the lifetime: only certificates of the same lifetime teach it. 90-day ones replaced at
        // day 70 are ignored on a 45-day one (as fractions: day 35) ...
        RuleCase{.name = "HistoryOfUnknownVersionIgnoresOtherLifetimes", .client = Client::kCertbot,
                 .previous = {{-70 * kDay, 90 * kDay}, {-140 * kDay, 90 * kDay}},
                 .expected = kTwoThirds45},
        // ... and a 45-day one replaced at day 33 counts.
        RuleCase{.name = "HistoryOfUnknownVersionLearnsFromTheSameLifetime", .client = Client::kCertbot,
                 .previous = {{-33 * kDay, 45 * kDay}, {-103 * kDay, 90 * kDay}},
                 .expected = 33 * kDay},
        // Fractions do not cross 10 days: 0.8 of 90 days says nothing about a 160-hour certificate,
        // which certbot 4 renews at half (as a fraction: hour 128).
        RuleCase{.name = "HistoryOfFractionStaysOnItsSideOfTenDays", .client = Client::kCertbot, .version = "4.1.0",
                 .lifetime = absl::Hours(160), .previous = {{-72 * kDay, 90 * kDay}},
                 .expected = absl::Hours(80)},
        // Only the newest kRenewalHistoryKept count.
        // Fractions 0.7 x4, 1.0 x2 read (median 0.7); three more at 1.0 would make it 1.0.
        RuleCase{.name = "HistoryReadsAtMostSixCertificates", .client = Client::kCertbot, .version = "4.1.0",
                 .previous = {{-28 * kDay, 40 * kDay}, {-56 * kDay, 40 * kDay}, {-84 * kDay, 40 * kDay},
                              {-112 * kDay, 40 * kDay}, {-152 * kDay, 40 * kDay}, {-192 * kDay, 40 * kDay},
                              {-232 * kDay, 40 * kDay}, {-272 * kDay, 40 * kDay}, {-312 * kDay, 40 * kDay}},
                 .expected = absl::Hours(756)}),
    [](const testing::TestParamInfo<RuleCase>& info) { return std::string(info.param.name); });

TEST(ClientRule, NoCertificateNoDueTime) {
  ConfigEvent config;
  ClientRuleInput in;
  in.config = &config;
  EXPECT_FALSE(ClientRenewalDueTime(in).has_value());
}

TEST(ClientRule, RenewRuleDueForms) {
  const absl::Time not_after = kNotBefore + 90 * kDay;
  EXPECT_EQ(RenewRuleDue(*ParseRenewRule("fraction:0.667"), kNotBefore, not_after),
            kNotBefore + 90 * kDay * 0.667);
  EXPECT_EQ(RenewRuleDue(*ParseRenewRule("days_left:30"), kNotBefore, not_after), kNotBefore + 60 * kDay);
  EXPECT_EQ(RenewRuleDue(*ParseRenewRule("days_left:120"), kNotBefore, not_after), kNotBefore);
  EXPECT_EQ(RenewRuleDue(*ParseRenewRule("after_issue_days:100"), kNotBefore, not_after),
            kNotBefore + 100 * kDay);
}

struct RetryCase {
  const char* name = "";
  Client client = Client::kOther;
  int failures_so_far = 1;
  absl::Duration expected = {};
};

class ClientRetry : public testing::TestWithParam<RetryCase> {};

TEST_P(ClientRetry, Interval) {
  const RetryCase& c = GetParam();
  EXPECT_EQ(ClientRetryInterval(c.client, c.failures_so_far), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Clients, ClientRetry,
    testing::Values(
        // certbot: the snap timer twice a day, no backoff.
        RetryCase{.name = "CertbotRetriesAtItsNextRun", .client = Client::kCertbot, .failures_so_far = 1, .expected = absl::Hours(12)},
        RetryCase{.name = "CertbotHasNoBackoff", .client = Client::kCertbot, .failures_so_far = 20, .expected = absl::Hours(12)},
        // cert-manager: 1 h * 2^(n-1), capped at 32 h.
        RetryCase{.name = "CertManagerFirstFailureWaitsAnHour", .client = Client::kCertManager, .failures_so_far = 1, .expected = absl::Hours(1)},
        RetryCase{.name = "CertManagerThirdFailureWaitsFourHours", .client = Client::kCertManager, .failures_so_far = 3, .expected = absl::Hours(4)},
        RetryCase{.name = "CertManagerFifthFailureWaitsSixteenHours", .client = Client::kCertManager, .failures_so_far = 5, .expected = absl::Hours(16)},
        RetryCase{.name = "CertManagerSixthFailureReachesTheCap", .client = Client::kCertManager, .failures_so_far = 6, .expected = absl::Hours(32)},
        RetryCase{.name = "CertManagerStaysAtTheCap", .client = Client::kCertManager, .failures_so_far = 40, .expected = absl::Hours(32)},
        // Caddy: CertMagic's retryIntervals, one step per failure, the last step repeating.
        RetryCase{.name = "CaddyFirstRetryAfterAMinute", .client = Client::kCaddy, .failures_so_far = 1, .expected = absl::Minutes(1)},
        RetryCase{.name = "CaddyThirdRetryAfterTwoMinutes", .client = Client::kCaddy, .failures_so_far = 3, .expected = absl::Minutes(2)},
        RetryCase{.name = "CaddyFourthRetryAfterFiveMinutes", .client = Client::kCaddy, .failures_so_far = 4, .expected = absl::Minutes(5)},
        RetryCase{.name = "CaddySeventhRetryAfterTwentyMinutes", .client = Client::kCaddy, .failures_so_far = 7, .expected = absl::Minutes(20)},
        RetryCase{.name = "CaddyTenthRetryAfterAnHour", .client = Client::kCaddy, .failures_so_far = 10, .expected = absl::Hours(1)},
        RetryCase{.name = "CaddyEleventhRetryAfterThreeHours", .client = Client::kCaddy, .failures_so_far = 11, .expected = absl::Hours(3)},
        RetryCase{.name = "CaddyTwelfthRetryAfterSixHours", .client = Client::kCaddy, .failures_so_far = 12, .expected = absl::Hours(6)},
        RetryCase{.name = "CaddyStaysAtSixHours", .client = Client::kCaddy, .failures_so_far = 500, .expected = absl::Hours(6)},
        // lego, acme.sh, other: daily cron.
        RetryCase{.name = "LegoRetriesNextDay", .client = Client::kLego, .failures_so_far = 1, .expected = absl::Hours(24)},
        RetryCase{.name = "LegoHasNoBackoff", .client = Client::kLego, .failures_so_far = 9, .expected = absl::Hours(24)},
        RetryCase{.name = "AcmeShRetriesNextDay", .client = Client::kAcmeSh, .failures_so_far = 1, .expected = absl::Hours(24)},
        RetryCase{.name = "AcmeShHasNoBackoff", .client = Client::kAcmeSh, .failures_so_far = 30, .expected = absl::Hours(24)},
        RetryCase{.name = "OtherRetriesNextDay", .client = Client::kOther, .failures_so_far = 2, .expected = absl::Hours(24)},
        // No failure yet (or a negative count) reads as the first: the policy asks with
        // episode_failures, which is 0 before the first failure is recorded.
        RetryCase{.name = "CertManagerZeroFailuresReadsAsOne", .client = Client::kCertManager, .failures_so_far = 0, .expected = absl::Hours(1)},
        RetryCase{.name = "CaddyZeroFailuresReadsAsOne", .client = Client::kCaddy, .failures_so_far = 0, .expected = absl::Minutes(1)},
        RetryCase{.name = "CaddyNegativeFailuresReadAsOne", .client = Client::kCaddy, .failures_so_far = -3, .expected = absl::Minutes(1)}),
    [](const testing::TestParamInfo<RetryCase>& info) { return std::string(info.param.name); });

// The ladder adds up as CertMagic's comments say: 10 minutes after four failures, an hour after
// seven, two after nine, six after eleven.
TEST(ClientRetry, CaddyLadderElapsedTimes) {
  absl::Duration elapsed;
  std::vector<absl::Duration> checkpoints;
  for (int n = 1; n <= 11; ++n) {
    elapsed += ClientRetryInterval(Client::kCaddy, n);
    if (n == 4 || n == 7 || n == 9 || n == 11) checkpoints.push_back(elapsed);
  }
  EXPECT_EQ(checkpoints, (std::vector<absl::Duration>{absl::Minutes(10), absl::Hours(1),
                                                       absl::Hours(2), absl::Hours(6)}));
}

}  // namespace
}  // namespace certcast
