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

}  // namespace
}  // namespace certcast
