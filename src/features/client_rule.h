// When a lineage's own ACME client first tries to renew its current certificate, and how soon it
// retries after a failure: the one implementation of the client's rule, shared by the forecaster's
// features (days to due, days to the next attempt) and the policy chain (ClientRenewalDue and
// AttemptsLeftBeforeExpiry in src/policy). The decisions behind each case, with their sources, are
// in docs/decisions.md ("one client renewal rule", "one client retry cadence").
//
// Contract: pure and clock-free. Everything it reads is passed in, and the caller passes only what
// it knew before the instant it decides for (the features' T, the plan's now): the latest config,
// the current certificate, the latest ARI answer and earlier certificates. It never reads `now`,
// so the same history gives the same due time whenever it is asked.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "core/event.h"

namespace certcast {

// A host clock off by more than this fails every attempt the client makes (the CA refuses the
// request's time, TLS to the CA fails): the policy's default clock_harm_ms and the forecaster's
// hard blocker read it, so that model and policy call the same clock harmful.
inline constexpr double kClockHarmSeconds = 5 * 60;

// How many earlier certificates the history rule looks at (newest first). Both lineage views keep
// this many.
inline constexpr size_t kRenewalHistoryKept = 6;

struct ClientRuleInput {
  // Latest config; nullptr before any was seen (the rule of Client::kOther without a renew_rule).
  const ConfigEvent* config = nullptr;
  // The current certificate (nullptr: nothing to renew) and when it was recorded (event ts).
  const IssuedEvent* current = nullptr;
  absl::Time current_recorded_at = absl::InfinitePast();
  // The latest ARI answer for the lineage (nullptr: none) and when it was recorded. It counts only
  // when the config has ARI on, it was recorded at or after the current certificate (an earlier
  // answer was about the certificate this one replaced, RFC 9773 section 4.2) and its window is
  // valid (end after start; otherwise "treated like no response").
  const AriEvent* ari = nullptr;
  absl::Time ari_recorded_at = absl::InfinitePast();
  // Earlier certificates of the lineage, (not_before, not_after), newest first; at most
  // kRenewalHistoryKept are read.
  std::span<const std::pair<absl::Time, absl::Time>> previous;
};

// The point a written renew_rule names for a certificate: fraction:F at not_before + F * lifetime;
// days_left:N at N days before not_after but never before not_before (the client renews on its
// first run after issuance); after_issue_days:N at not_before + N days, which may be after expiry
// (acme.sh <= 3.1.3 on certificates of 59 days or less).
absl::Time RenewRuleDue(const RenewRule& rule, absl::Time not_before, absl::Time not_after);

// The client's default renewal point when the config names no rule (docs/background.md section 5):
// certbot >= 4 and lego >= 5: 2/3 of the lifetime (1/2 under 10 days); certbot < 4 and lego < 5:
// 30 days left; either with an unknown version: the later of the two; acme.sh: not_before + 29 days
// (+ 59 days before 3.1.4); cert-manager, caddy, other: 2/3 (1/2 under 10 days). A version is
// unknown when absent or not starting with a number (an optional leading "v" is skipped).
absl::Time ClientDefaultDue(Client client, const std::optional<std::string>& client_version,
                            absl::Time not_before, absl::Time not_after);

// When the client first tries to renew the current certificate:
//  1. the config's renew_rule (RenewRuleDue), else the client default (ClientDefaultDue);
//     cert-manager ignores a renewBefore (days_left) of the whole lifetime or more and uses its
//     default;
//  2. never before the median point at which this lineage's earlier certificates were replaced,
//     when it has any: what the client does in practice. The point is read in the unit the rule
//     counts in, so that it survives a change of lifetime (90 -> 64 -> 45 days): a fraction of
//     the lifetime for fraction rules (2/3 defaults, fraction:F; only from certificates on the same
//     side of 10 days), days before expiry for days_left rules (certbot < 4, lego < 5), days after
//     issue for after_issue_days rules (acme.sh); a client whose default depends on the version
//     and has none learns a fraction from certificates of the same lifetime only;
//  3. ARI, when it counts (see ClientRuleInput::ari): whichever comes first, the window start or
//     the above (for acme.sh too, whose window may replace a rule that is earlier: see
//     docs/decisions.md).
// nullopt when there is no current certificate. The result may lie after not_after (a rule that
// renews after expiry); callers that need a deadline clamp it themselves.
std::optional<absl::Time> ClientRenewalDueTime(const ClientRuleInput& input);

// How long the client waits after its `failures_so_far`-th consecutive failed renewal before it
// tries again (values below 1 read as 1), from docs/background.md section 5: certbot 12 h (snap timer
// twice a day, no backoff); cert-manager 1 h * 2^(n-1), capped at 32 h; Caddy CertMagic's
// retryIntervals ladder (1, 2, 2, 5, 10, 20, 20, 30, 30 min, 1 h, 3 h, then 6 h); lego, acme.sh
// and other clients 24 h (daily cron). The one retry cadence of the features (NextScheduledAttempt)
// and the policy (AttemptsLeftBeforeExpiry, which divides it by its time_scale); the cases are in
// docs/decisions.md ("one client retry cadence").
absl::Duration ClientRetryInterval(Client client, int failures_so_far);

}  // namespace certcast
