#include "features/client_rule.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <iterator>
#include <limits>
#include <string_view>
#include <tuple>
#include <vector>

namespace certcast {

namespace {

constexpr absl::Duration kDay = absl::Hours(24);

// major.minor.patch of a version string ("4.1.0", "v5.0.1", "3.1.4-beta"; missing parts are 0);
// nullopt when it does not start with a number, so "" and "unknown" fall back to the rule that
// covers every version.
std::optional<std::array<int, 3>> ParseVersion(const std::optional<std::string>& version) {
  if (!version) return std::nullopt;
  std::string_view v = *version;
  if (!v.empty() && v.front() == 'v') v.remove_prefix(1);
  if (v.empty() || !std::isdigit(static_cast<unsigned char>(v.front()))) return std::nullopt;
  std::array<int, 3> out{0, 0, 0};
  for (int i = 0; i < 3 && !v.empty(); ++i) {
    int n = 0;
    size_t k = 0;
    while (k < v.size() && std::isdigit(static_cast<unsigned char>(v[k]))) n = n * 10 + (v[k++] - '0');
    out[i] = n;
    v.remove_prefix(k);
    if (v.empty() || v.front() != '.') break;
    v.remove_prefix(1);
  }
  return out;
}

// 2/3 of the lifetime, 1/2 under 10 days: the default of certbot >= 4, lego >= 5, cert-manager,
// Caddy and LE's own recommendation (docs/background.md sections 3 and 5).
absl::Time TwoThirds(absl::Time not_before, absl::Time not_after) {
  const absl::Duration life = not_after - not_before;
  return not_before + life * (life < 10 * kDay ? 0.5 : 2.0 / 3.0);
}

// What the client's rule counts in, and so what its earlier replacements teach about the next one:
// a fraction of the lifetime (certbot >= 4, lego >= 5, cert-manager, Caddy, fraction:F), days
// before expiry (certbot < 4's renew_before_expiry, lego < 5's --days, days_left:N) or days after
// issue (acme.sh's Le_RenewalDays, after_issue_days:N). Read in the wrong unit, a lifetime change
// moves the learned point: 90-day certificates replaced 30 days before expiry are "2/3 of the
// lifetime", which on a 45-day certificate is 15 days later than the same client renews it.
enum class HistoryUnit { kFractionOfLifetime, kDaysBeforeExpiry, kDaysAfterIssue };

// Which earlier certificates are comparable with the current one. A fraction's default switches to
// 1/2 under 10 days, so a fraction learned on 90-day certificates says nothing about 160-hour ones;
// a client whose rule is unknown (certbot or lego without a version: the later of 2/3 and 30 days
// left) renews at a point that depends on the lifetime itself, so only certificates of the same
// lifetime (within 5 %) count.
enum class HistoryLifetimes { kAny, kSameSideOfTenDays, kSame };

struct HistoryReading {
  HistoryUnit unit;
  HistoryLifetimes lifetimes;
};

// The client defaults of ClientDefaultDue, named so that the due time and the history reading
// come from one decision per client and version.
enum class DefaultRule { kTwoThirds, kThirtyDaysLeft, kLaterOfBoth, kAfterIssue29, kAfterIssue59 };

DefaultRule ClientDefaultRule(Client client, const std::optional<std::string>& client_version) {
  const std::optional<std::array<int, 3>> version = ParseVersion(client_version);
  switch (client) {
    case Client::kCertbot:
      // certbot 4.0 moved from a hard-coded 30 days before expiry to 2/3 of the lifetime. Without a
      // version, the later of the two: "the client is late" is then never claimed for a client
      // that is merely on the other default.
      if (!version) return DefaultRule::kLaterOfBoth;
      return (*version)[0] >= 4 ? DefaultRule::kTwoThirds : DefaultRule::kThirtyDaysLeft;
    case Client::kLego:
      // lego 4 renews at --days 30; lego 5 is dynamic (2/3) by default. Versions before 4 had the
      // same --days 30 default.
      if (!version) return DefaultRule::kLaterOfBoth;
      return (*version)[0] >= 5 ? DefaultRule::kTwoThirds : DefaultRule::kThirtyDaysLeft;
    case Client::kAcmeSh: {
      // Le_RenewalDays default 30 (renew at issuance + 30 d - 1 d) since 3.1.4, 60 before.
      const bool before_3_1_4 =
          version && std::make_tuple((*version)[0], (*version)[1], (*version)[2]) <
                         std::make_tuple(3, 1, 4);
      return before_3_1_4 ? DefaultRule::kAfterIssue59 : DefaultRule::kAfterIssue29;
    }
    case Client::kCertManager:
    case Client::kCaddy:
    case Client::kOther:
      return DefaultRule::kTwoThirds;
  }
  return DefaultRule::kTwoThirds;
}

HistoryReading ReadingOf(RenewRule::Kind kind) {
  switch (kind) {
    case RenewRule::Kind::kFraction:
      return {HistoryUnit::kFractionOfLifetime, HistoryLifetimes::kSameSideOfTenDays};
    case RenewRule::Kind::kDaysLeft:
      return {HistoryUnit::kDaysBeforeExpiry, HistoryLifetimes::kAny};
    case RenewRule::Kind::kAfterIssueDays:
      return {HistoryUnit::kDaysAfterIssue, HistoryLifetimes::kAny};
  }
  return {HistoryUnit::kFractionOfLifetime, HistoryLifetimes::kSame};
}

HistoryReading ReadingOf(DefaultRule rule) {
  switch (rule) {
    case DefaultRule::kTwoThirds:
      return ReadingOf(RenewRule::Kind::kFraction);
    case DefaultRule::kThirtyDaysLeft:
      return ReadingOf(RenewRule::Kind::kDaysLeft);
    case DefaultRule::kAfterIssue29:
    case DefaultRule::kAfterIssue59:
      return ReadingOf(RenewRule::Kind::kAfterIssueDays);
    case DefaultRule::kLaterOfBoth:
      return {HistoryUnit::kFractionOfLifetime, HistoryLifetimes::kSame};
  }
  return {HistoryUnit::kFractionOfLifetime, HistoryLifetimes::kSame};
}

bool Comparable(HistoryLifetimes lifetimes, absl::Duration earlier, absl::Duration current) {
  switch (lifetimes) {
    case HistoryLifetimes::kAny:
      return true;
    case HistoryLifetimes::kSameSideOfTenDays:
      return (earlier < 10 * kDay) == (current < 10 * kDay);
    case HistoryLifetimes::kSame:
      return absl::AbsDuration(earlier - current) <= current / 20;
  }
  return false;
}

// The median point, in the rule's unit, at which the lineage's comparable earlier certificates
// were replaced, applied to the current certificate; nullopt without such history. Failures make
// some renewals late; the median ignores a few of those. A replacement after expiry counts as at
// expiry (the client's rule was not that late; an outage was).
std::optional<absl::Time> LearnedDue(const HistoryReading& reading, absl::Time not_before, absl::Time not_after,
                                     std::span<const std::pair<absl::Time, absl::Time>> previous) {
  const absl::Duration current_life = not_after - not_before;
  std::vector<double> points;  // fraction, or seconds before expiry / after issue
  absl::Time newer_not_before = not_before;
  for (size_t i = 0; i < previous.size() && i < kRenewalHistoryKept; ++i) {
    const auto& [earlier_not_before, earlier_not_after] = previous[i];
    const absl::Duration life = earlier_not_after - earlier_not_before;
    const absl::Time replaced_at = std::min(newer_not_before, earlier_not_after);
    newer_not_before = earlier_not_before;
    if (life <= absl::ZeroDuration() || replaced_at <= earlier_not_before ||
        !Comparable(reading.lifetimes, life, current_life)) {
      continue;
    }
    switch (reading.unit) {
      case HistoryUnit::kFractionOfLifetime:
        points.push_back(absl::FDivDuration(replaced_at - earlier_not_before, life));
        break;
      case HistoryUnit::kDaysBeforeExpiry:
        // Replaced within a day of issue: the rule's days were the whole lifetime or more (lego 4's
        // --days 30 on 160-hour certificates renews on every run), so all it says is "at least
        // this many days", which no longer delays anything: counted as renewing at once.
        points.push_back(replaced_at - earlier_not_before <= kDay
                             ? std::numeric_limits<double>::infinity()
                             : absl::ToDoubleSeconds(earlier_not_after - replaced_at));
        break;
      case HistoryUnit::kDaysAfterIssue:
        points.push_back(absl::ToDoubleSeconds(replaced_at - earlier_not_before));
        break;
    }
  }
  if (points.empty()) return std::nullopt;
  std::sort(points.begin(), points.end());
  const double median = points[points.size() / 2];
  switch (reading.unit) {
    case HistoryUnit::kFractionOfLifetime:
      return not_before + current_life * median;
    case HistoryUnit::kDaysBeforeExpiry:
      // As RenewRuleDue reads days_left: never before the certificate exists.
      if (!std::isfinite(median)) return not_before;
      return std::max(not_before, not_after - absl::Seconds(median));
    case HistoryUnit::kDaysAfterIssue:
      return not_before + absl::Seconds(median);
  }
  return std::nullopt;
}

}  // namespace

absl::Time RenewRuleDue(const RenewRule& rule, absl::Time not_before, absl::Time not_after) {
  switch (rule.kind) {
    case RenewRule::Kind::kFraction:
      return not_before + (not_after - not_before) * rule.value;
    case RenewRule::Kind::kDaysLeft:
      // lego 4's --days 30 on a 160-hour certificate renews on every run (docs/background.md section 5),
      // not before the certificate exists.
      return std::max(not_before, not_after - kDay * rule.value);
    case RenewRule::Kind::kAfterIssueDays:
      return not_before + kDay * rule.value;
  }
  return not_after;
}

absl::Time ClientDefaultDue(Client client, const std::optional<std::string>& client_version,
                            absl::Time not_before, absl::Time not_after) {
  const absl::Time two_thirds = TwoThirds(not_before, not_after);
  const absl::Time thirty_left = std::max(not_before, not_after - 30 * kDay);
  switch (ClientDefaultRule(client, client_version)) {
    case DefaultRule::kTwoThirds:
      return two_thirds;
    case DefaultRule::kThirtyDaysLeft:
      return thirty_left;
    case DefaultRule::kLaterOfBoth:
      return std::max(two_thirds, thirty_left);
    case DefaultRule::kAfterIssue29:
      return not_before + kDay * 29;
    case DefaultRule::kAfterIssue59:
      return not_before + kDay * 59;
  }
  return two_thirds;
}

std::optional<absl::Time> ClientRenewalDueTime(const ClientRuleInput& in) {
  if (!in.current) return std::nullopt;
  const absl::Time not_before = in.current->not_before, not_after = in.current->not_after;
  const Client client = in.config ? in.config->client : Client::kOther;
  const std::optional<std::string> no_version;
  const std::optional<std::string>& version = in.config ? in.config->client_version : no_version;

  std::optional<RenewRule> rule;
  if (in.config && in.config->renew_rule) rule = ParseRenewRule(*in.config->renew_rule);
  // cert-manager ignores a renewBefore of the whole duration or more and applies its default
  // (docs/background.md section 5).
  if (rule && client == Client::kCertManager && rule->kind == RenewRule::Kind::kDaysLeft &&
      kDay * rule->value >= not_after - not_before) {
    rule.reset();
  }
  absl::Time due = rule ? RenewRuleDue(*rule, not_before, not_after)
                        : ClientDefaultDue(client, version, not_before, not_after);

  const HistoryReading reading = rule ? ReadingOf(rule->kind) : ReadingOf(ClientDefaultRule(client, version));
  if (std::optional<absl::Time> learned = LearnedDue(reading, not_before, not_after, in.previous)) {
    due = std::max(due, *learned);
  }

  const bool ari_counts = in.config && in.config->ari && in.ari &&
                          in.ari_recorded_at >= in.current_recorded_at &&
                          in.ari->window_end > in.ari->window_start;
  if (ari_counts) {
    // certbot >= 4.1: "an earlier ARI time wins"; the others are taken to do the same. acme.sh lets
    // the window override its own rule even when later (docs/background.md section 5), but following
    // that here raised closed-loop outage hours (docs/decisions.md), so the earlier time stays the
    // due time and the policy's ClientNotRenewing check allows for acme.sh's later window itself.
    due = std::min(due, in.ari->window_start);
  }
  return due;
}

absl::Duration ClientRetryInterval(Client client, int failures_so_far) {
  const int n = std::max(1, failures_so_far);
  switch (client) {
    case Client::kCertbot:
      // The snap timer runs twice a day and certbot has no backoff of its own: every run retries.
      return absl::Hours(12);
    case Client::kCertManager:
      // failedIssuanceAttempts backoff: 1 h * 2^(n-1), capped at 32 h (reached at n = 6).
      return n >= 6 ? absl::Hours(32) : absl::Hours(1 << (n - 1));
    case Client::kCaddy: {
      // CertMagic retries a failed renewal inside the job itself (doWithRetry in async.go, not the
      // 10-minute maintenance check) after retryIntervals[n-1]; the last step repeats.
      static constexpr absl::Duration kLadder[] = {
          absl::Minutes(1),  absl::Minutes(2),  absl::Minutes(2),  absl::Minutes(5),
          absl::Minutes(10), absl::Minutes(20), absl::Minutes(20), absl::Minutes(30),
          absl::Minutes(30), absl::Hours(1),    absl::Hours(3),    absl::Hours(6)};
      constexpr int kSteps = static_cast<int>(std::size(kLadder));
      return kLadder[std::min(n, kSteps) - 1];
    }
    case Client::kLego:
    case Client::kAcmeSh:
    case Client::kOther:
      // Run from a daily cron (or timer); a failure waits for the next run.
      return absl::Hours(24);
  }
  return absl::Hours(24);
}

}  // namespace certcast
