// The decision chain: lineage state + forecast + diagnosis + memory + clock in, actions with a
// named reason out. Pure: no clock, no I/O, no randomness; the same inputs give the same decision.
//
// Shape (after cert-manager's policy chain and certmagic's layered renewal decision): two ordered
// lists of checks, one for the renewal track (renew / dry_run / reload) and one for the alert
// track. Each check is a pure function returning a Proposal or nothing; the first that fires on a
// track wins. Then the gates (memory of what was already done, rate-limit budget, maintenance
// windows) may hold a renewal back; the safety net passes every gate except a rate limit, because
// an attempt that the CA refuses helps nobody. The forecast can move a renewal earlier or cause a
// dry run or an alert; it can never suppress the expiry-based renewal.
//
// Reasons are the named constants below; they appear in `plan` output ("Reason: message"), in the
// audit log and in tests alike.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "core/action.h"
#include "core/cause.h"
#include "core/event.h"
#include "core/fields.h"
#include "core/status.h"
#include "features/client_rule.h"
#include "policy/lineage_view.h"

namespace certcast::policy {

// ---- Reasons (renewal track) ----
inline constexpr std::string_view kReasonExpiryImminent = "ExpiryImminent";
inline constexpr std::string_view kReasonServedStale = "ServedStale";
inline constexpr std::string_view kReasonAriWindowPassed = "AriWindowPassed";
inline constexpr std::string_view kReasonClientNotRenewing = "ClientNotRenewing";
inline constexpr std::string_view kReasonClientRenewsTooLate = "ClientRenewsTooLate";
inline constexpr std::string_view kReasonSwitchChallenge = "SwitchChallenge";
inline constexpr std::string_view kReasonSwitchCa = "SwitchCa";
inline constexpr std::string_view kReasonHazardEarlyRenewal = "HazardEarlyRenewal";
inline constexpr std::string_view kReasonForecastEarlyRenewal = "ForecastEarlyRenewal";
inline constexpr std::string_view kReasonSuspectedCauseDryRun = "SuspectedCauseDryRun";
// ---- Reasons (alert track) ----
inline constexpr std::string_view kReasonFewAttemptsLeft = "FewAttemptsLeft";
inline constexpr std::string_view kReasonRenewalFailing = "RenewalFailing";
inline constexpr std::string_view kReasonReloadNotEffective = "ReloadNotEffective";
inline constexpr std::string_view kReasonHazardAhead = "HazardAhead";
inline constexpr std::string_view kReasonPredictedFailure = "PredictedFailure";
inline constexpr std::string_view kReasonRenewRuleTooLate = "RenewRuleTooLate";
inline constexpr std::string_view kReasonRateLimitBudget = "RateLimitBudget";
inline constexpr std::string_view kReasonSwitchNotKept = "SwitchNotKept";
inline constexpr std::string_view kReasonLineageNotObserved = "LineageNotObserved";
// ---- Reasons a proposal was held back (audit only; nothing is printed) ----
inline constexpr std::string_view kHeldAlreadyDone = "HeldAlreadyDone";
inline constexpr std::string_view kHeldRateLimit = "HeldRateLimit";
inline constexpr std::string_view kHeldMaintenanceWindow = "HeldMaintenanceWindow";
inline constexpr std::string_view kHeldConcurrency = "HeldConcurrency";

// The failure causes: the one vocabulary of core/cause.h (the simulator's truth uses it too).
using ::certcast::Cause;

enum class Confidence : uint8_t {
  kNone,
  kSuspected,  // one precursor observation, or a forecast with no observed precursor
  kPersistent, // a precursor seen repeatedly (>= 2 observations over >= 12 h) or a hard fact
  kConfirmed,  // a real or dry-run attempt failed with an error this cause explains
};

struct Diagnosis {
  Cause cause = Cause::kNone;
  Confidence confidence = Confidence::kNone;
  std::string evidence;  // a sentence: what was observed
  std::string fix;       // a sentence: what a person should do
  bool transient = false;  // the error class usually clears on its own (CA blips, bad nonce)
  // A fact that breaks renewal by itself (credential expired or missing, NXDOMAIN, CAA forbids
  // the CA, DNSSEC bogus, clock off, disk full), as opposed to a probe that may be a look-alike.
  bool hard_fact = false;
  // Set when the cause is shared by several lineages (a host's disk or clock, a registered
  // domain's registration or CAA): "host:web1", "domain:example.com". One alert per scope.
  std::string scope;
  // The name's registration lapsed: no challenge and no CA can help (a fact, set where the
  // registration's expiry is read; never inferred from the evidence's words).
  bool registration_lapsed = false;
};

// What the forecast says about a lineage (from model/; policy does not depend on how it is made).
struct ForecastView {
  double risk = 0;                    // P(episode onset within the horizon)
  std::vector<std::string> reasons;   // sentences, most important first
  std::vector<std::pair<std::string, double>> top_features;  // name, contribution
  bool in_episode = false;
};

// Maintenance window: renewals and reloads are planned only inside one (UTC), unless none is
// configured or the safety net fires.
struct MaintenanceWindow {
  int weekday_mask = 0x7f;  // bit 0 = Sunday ... bit 6 = Saturday
  int start_minute = 0;     // minutes after 00:00 UTC
  int end_minute = 1440;    // exclusive; may be < start_minute for a window across midnight
};

struct PolicyConfig {
  // Actions an agent may carry out only after a person approved them through the API (`act`
  // scope, POST /v1/queue/{id}/approve): any of "renew", "dry_run", "reload", and "switch" (a
  // renewal that switches CA or challenge). Empty: agents carry out every action they lease.
  // Actions the server carries out itself (serve --act, run) are not gated by it.
  std::vector<std::string> needs_approval;
  // Reload a host that serves an older serial than the newest issued one after this long: multi-
  // node fleets lag a little after issuance (docs/background.md section 7: "a day after issuance").
  absl::Duration reload_grace = absl::Hours(20);
  // The safety net fires when less than min(safety_net_max, safety_net_fraction * lifetime) is
  // left on the current certificate and it has not been replaced.
  absl::Duration safety_net_max = absl::Hours(24 * 7);
  double safety_net_fraction = 0.2;
  // Alert when the client's own schedule has fewer attempts left before expiry than this.
  int min_attempts_left = 4;
  // The client is "not renewing" when its renewal was due this long ago and no attempt appeared.
  absl::Duration overdue_grace = absl::Hours(48);
  // Forecast operating points.
  double dry_run_risk = 0.4;
  double alert_risk = 0.6;
  double early_renew_risk = 0.8;
  // Early renewal on forecast only this close to the client's own due time, so it moves a renewal
  // a little earlier instead of adding one.
  absl::Duration forecast_renew_lead = absl::Hours(24 * 5);
  // Hazards (credential, RRSIG, domain expiry, disk, clock): alert this far ahead; renew early
  // when the hazard arrives before the client's next due time and is this close.
  // A hazard is not yet a cause, so an alert about it would not point at a real cause; by default
  // certcast renews early instead and alerts once the hazard has become a cause (0 = off).
  absl::Duration hazard_alert_horizon = absl::ZeroDuration();
  // Close enough that routine rotations (tokens, signatures, registrations) would have happened.
  absl::Duration hazard_renew_horizon = absl::Hours(24 * 4);
  // Renew early only when the client's own renewal follows the hazard within this time: later
  // than that, a person alerted when the hazard becomes a cause has time to fix it, and the early
  // renewal would only add an issuance.
  absl::Duration hazard_human_time = absl::Hours(24 * 7);
  // A renewal failure episode is worth a person's time after this many failures, or sooner when a
  // precursor corroborates it, or when it has lasted failing_alert_after.
  int alert_after_failures = 2;
  absl::Duration failing_alert_after = absl::Hours(20);
  // Repeats.
  absl::Duration renew_retry_interval = absl::Hours(20);
  absl::Duration dry_run_interval = absl::Hours(24 * 3);
  absl::Duration reload_retry_interval = absl::Hours(20);
  int max_renewals_per_certificate = 3;  // certcast-started renewals per current serial
  // Host environment thresholds.
  double clock_harm_ms = kClockHarmSeconds * 1000;  // beyond this, JWS/TLS to the CA fail
  int64_t disk_min_free_bytes = 64ll << 20;   // below this the client cannot write its state
  // Let's Encrypt rate limits (docs/background.md section 2), with a reserve kept for the client itself.
  int exact_set_limit = 5;          // certificates per exact identifier set per 7 d
  int exact_set_reserve = 1;
  int failed_authorizations_per_hour = 5;
  int registered_domain_limit = 50; // certificates per registered domain per 7 d (new orders)
  // Operations.
  int max_concurrent_renewals = 200;  // renewals + dry runs planned per run; 0 = unlimited
  std::vector<MaintenanceWindow> maintenance_windows;
  // Periods the chain reasons with.
  absl::Duration probe_persistence = absl::Hours(12);  // probe failures this long apart persist
  absl::Duration ca_outage_persistence = absl::Hours(6);  // CA trouble this long is an outage
  // Past the client's due time, the safety net lets a late-renewing client go first this long.
  absl::Duration safety_net_slack = absl::Hours(12);
  // A stale endpoint whose certificate expires this soon is reloaded at once.
  absl::Duration urgent_expiry = absl::Hours(48);
  // A reload shows in probes made this long after it; later stale probes mean it did not work.
  absl::Duration reload_settle = absl::Hours(1);
  // A lineage whose own observations (served probes, challenge probes, attempts, configuration,
  // issuance, deploys) stopped this long before its host's client scheduler last ran is no longer
  // observed: removed from the host, most likely (issue #15). Several agent cycles and a daily
  // probe fit well inside it.
  absl::Duration observation_lapse = absl::Hours(72);
  // Policy time runs this many times faster than the clock. 1 in production. A lab whose
  // certificates live minutes instead of 90 days (tests/e2e) sets it so that the chain's days
  // become seconds: ApplyTimeScale divides every duration above and the clients' retry cadence.
  // Certificate times, client renewal rules and CA rate-limit windows are facts about the world
  // and are never scaled.
  double time_scale = 1;
};

// Divides every duration of `config` by config.time_scale (once: call it where a configuration
// is loaded). Errors when the scale is not a finite number >= 1.
Status ApplyTimeScale(PolicyConfig& config);

// What certcast did before for a lineage, kept in the store between `plan` calls.
struct LineageMemory {
  std::optional<absl::Time> last_renew_at;
  std::string last_renew_serial;  // current serial when certcast last planned a renewal
  int renewals_for_serial = 0;
  std::optional<absl::Time> last_dry_run_at;
  std::optional<absl::Time> last_reload_at;
  std::string last_reload_serial;  // newest serial when certcast last planned a reload
  std::optional<Challenge> switched_challenge;  // a switch stays in force
  std::optional<std::string> switched_ca;
  std::optional<absl::Time> switched_at;
  // Alert keys already sent (cause + episode / serial / hazard instant) and when.
  std::vector<std::pair<std::string, absl::Time>> alerted;
  bool operator==(const LineageMemory&) const = default;
};
// Persisted as JSON by the planning coordinator (src/plan/planner.h), one list for both directions
// (core/fields.h); an empty value is left out of the document.
template <FieldsOf<LineageMemory> M>
auto NamedFields(M& m) {
  return std::tuple{Named{"last_renew_at", m.last_renew_at},     Named{"last_renew_serial", m.last_renew_serial},
                    Named{"renewals_for_serial", m.renewals_for_serial},
                    Named{"last_dry_run_at", m.last_dry_run_at}, Named{"last_reload_at", m.last_reload_at},
                    Named{"last_reload_serial", m.last_reload_serial},
                    Named{"switched_challenge", m.switched_challenge}, Named{"switched_ca", m.switched_ca},
                    Named{"switched_at", m.switched_at},         Named{"alerted", m.alerted}};
}

// The rate-limit picture across the fleet at planning time.
struct FleetBudget {
  // Certificates issued in the last 7 d per registered domain (all lineages).
  const absl::flat_hash_map<std::string, int>* per_registered_domain = nullptr;
};

struct PolicyInput {
  const LineageView& lineage;
  const ForecastView& forecast;
  const LineageMemory& memory;
  const PolicyConfig& config;
  const FleetBudget& budget;
  absl::Time now;
};

enum class Track : uint8_t { kRenewal, kAlert };

struct Proposal {
  Track track = Track::kRenewal;
  ActionKind kind = ActionKind::kRenew;
  std::optional<Challenge> challenge;
  std::optional<std::string> ca;
  std::optional<std::string> host;
  std::string_view reason;  // one of the kReason* constants
  std::string message;
  std::string alert_key;    // alerts: sent once per key
  bool safety_net = false;  // passes memory, maintenance and concurrency gates
  double urgency = 0;       // larger first when concurrency limits renewals: 1 / days to expiry
};

// A held-back proposal and why.
struct Held {
  Proposal proposal;
  std::string_view why;  // kHeld*
  std::string detail;
};

struct Decision {
  std::vector<Proposal> actions;  // at most one renewal-track action per host, one alert
  std::vector<Held> held;
  Diagnosis diagnosis;
};

// ---- Building blocks, exposed for tests and for the explanation in `plan --format table` ----

// Cause of the trouble a lineage is in or heading for, from attempts and evidence.
Diagnosis Diagnose(const LineageView& lineage, const LineageMemory& memory,
                   const PolicyConfig& config, absl::Time now);

// The challenge and CA the lineage renews with now (a certcast switch stays in force).
Challenge EffectiveChallenge(const LineageView& lineage, const LineageMemory& memory);
std::string EffectiveCa(const LineageView& lineage, const LineageMemory& memory);

// When the lineage's own client will first try to renew the current certificate: the one client
// rule of src/features (ClientRenewalDueTime in features/client_rule.h: renew_rule or client
// default, the lineage's history, ARI), capped at the certificate's expiry.
std::optional<absl::Time> ClientRenewalDue(const LineageView& lineage);
// Attempts the client's own schedule still has between now and expiry: its retry cadence
// (ClientRetryInterval in features/client_rule.h, the one the features use too) divided by
// time_scale.
int AttemptsLeftBeforeExpiry(const LineageView& lineage, absl::Time now, double time_scale = 1);

// A switch (challenge or CA) from the lineage's alt_* lists that avoids `diagnosis`; nullopt when
// none does or every candidate already failed in this episode.
struct Switch {
  std::optional<Challenge> challenge;
  std::optional<std::string> ca;
};
std::optional<Switch> SwitchAvoiding(const LineageView& lineage, const LineageMemory& memory,
                                     const Diagnosis& diagnosis);

// Whether `now` is inside a maintenance window (true when none is configured).
bool InMaintenanceWindow(const std::vector<MaintenanceWindow>& windows, absl::Time now);

// ---- Gates: after the checks, an ordered table of named gates; the first that holds a proposal
// keeps it back (Decision::held) with its reason. Each gate is pure and looks at one proposal
// (it ignores kinds it is not about); `input.lineage.current` must be set. ----
struct GateHold {
  std::string_view why;  // kHeld*
  std::string detail;
};
using Gate = std::optional<GateHold> (*)(const PolicyInput& input, const Proposal& proposal);
struct NamedGate {
  std::string_view name;
  Gate gate;
};
// certcast renewed this serial less than renew_retry_interval ago.
std::optional<GateHold> GateRenewalRecentlyPlanned(const PolicyInput& input, const Proposal& proposal);
// max_renewals_per_certificate tried for this serial (the safety net goes on until expiry).
std::optional<GateHold> GateRenewalsForCertificateSpent(const PolicyInput& input, const Proposal& proposal);
// Certificates per exact name set in 7 d, minus the client's reserve (ARI renewals exempt).
std::optional<GateHold> GateExactSetRateLimit(const PolicyInput& input, const Proposal& proposal);
// Failed authorizations per hour, one kept (ARI renewals exempt).
std::optional<GateHold> GateFailedAuthorizations(const PolicyInput& input, const Proposal& proposal);
// A changed name set is a new order: certificates per registered domain in 7 d.
std::optional<GateHold> GateRegisteredDomainLimit(const PolicyInput& input, const Proposal& proposal);
std::optional<GateHold> GateDryRunRecentlyPlanned(const PolicyInput& input, const Proposal& proposal);
std::optional<GateHold> GateReloadRecentlyPlanned(const PolicyInput& input, const Proposal& proposal);
// Renewals, dry runs and reloads wait for a maintenance window unless the safety net fires.
std::optional<GateHold> GateMaintenanceWindow(const PolicyInput& input, const Proposal& proposal);
// An alert is sent once per key.
std::optional<GateHold> GateAlertAlreadySent(const PolicyInput& input, const Proposal& proposal);
// The gates in the order Decide applies them.
std::span<const NamedGate> Gates();

// The whole chain for one lineage.
Decision Decide(const PolicyInput& input);

// "Reason: message" as printed in `plan` output.
std::string ReasonText(const Proposal& p);

}  // namespace certcast::policy
