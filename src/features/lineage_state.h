// Lineage state as of a time T: what the history of events before T says about one certificate
// lineage (its latest config, current certificate, what is served, its attempts, ARI, when its
// client will next try). Shared by features (the model's inputs) and policy (decisions), so the
// client-rule arithmetic exists once.
//
// Contract: everything here is a pure function of events with ts < T. FleetState is the one fold of
// the event stream (the policy's facts, fleet_facts.h, and the forecaster's accumulators,
// fleet_state.h): fed events in ts order through Apply(), it refuses (returns an error, folding
// nothing) an event older than one already applied, because an out-of-order event would silently
// change history that features and decisions were computed from. The store returns events in ts
// order; a late event makes the planner rebuild the fold (plan/plan_state.h).
// Thread safety: const methods may be called concurrently; Apply needs exclusive access.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "core/event.h"
#include "core/status.h"
#include "core/fields.h"

namespace certcast {

// One renewal attempt as remembered by the lineage state.
struct AttemptRecord {
  absl::Time ts;
  Outcome outcome = Outcome::kSuccess;
  std::string error;  // "" on success; ACME URN or client code as in the event
  bool dry_run = false;
  std::optional<Challenge> challenge;
  std::string ca;
};
// Persisted fields (core/fields.h): the planner's checkpoint (src/plan) writes and reads these.
template <FieldsOf<AttemptRecord> S>
auto Fields(S& s) { return std::tie(s.ts, s.outcome, s.error, s.dry_run, s.challenge, s.ca); }

struct LineageState {
  std::string cert;

  // Latest config (the latest one wins, events-v1). Absent until a config event was seen.
  std::optional<ConfigEvent> config;
  absl::Time config_ts = absl::InfinitePast();
  absl::Time first_config_ts = absl::InfinitePast();

  // Newest issued certificate (by event order).
  std::optional<IssuedEvent> issued;
  absl::Time issued_ts = absl::InfinitePast();
  int64_t issued_count = 0;
  // The certificates `issued` replaced, (not_before, not_after), newest first, at most
  // kRenewalHistoryKept: when this lineage's client renews in practice (client_rule.h).
  std::vector<std::pair<absl::Time, absl::Time>> previous_certificates;

  // What TLS probes that name this cert (or its names as SNI) saw last.
  std::optional<std::string> served_serial;
  std::optional<absl::Time> served_not_after;
  absl::Time served_ts = absl::InfinitePast();

  // Attempts. `recent_attempts` keeps the newest kRecentAttempts, oldest first.
  static constexpr size_t kRecentAttempts = 16;
  std::vector<AttemptRecord> recent_attempts;
  std::optional<AttemptRecord> last_success;         // non-dry-run success
  std::optional<AttemptRecord> last_failure;         // non-dry-run failure
  std::optional<AttemptRecord> last_dry_run;
  // Non-dry-run failures since the last success or issuance (drives client backoff).
  int consecutive_failures = 0;
  // Set while an episode is ongoing: the onset (first attempt failure after the last success or
  // issuance, events-v1 "Labels"); cleared by a success or an issuance.
  std::optional<absl::Time> episode_onset;
  int64_t episodes = 0;  // episode onsets seen so far

  // Latest ARI answer for the lineage.
  std::optional<AriEvent> ari;
  absl::Time ari_ts = absl::InfinitePast();

  // Latest deploy outcome.
  std::optional<DeployEvent> last_deploy;
  absl::Time last_deploy_ts = absl::InfinitePast();
};
// Persisted fields (core/fields.h): the planner's checkpoint (src/plan) writes and reads these.
template <FieldsOf<LineageState> S>
auto Fields(S& s) { return std::tie(s.cert, s.config, s.config_ts, s.first_config_ts, s.issued, s.issued_ts, s.issued_count, s.previous_certificates, s.served_serial, s.served_not_after, s.served_ts, s.recent_attempts, s.last_success, s.last_failure, s.last_dry_run, s.consecutive_failures, s.episode_onset, s.episodes, s.ari, s.ari_ts, s.last_deploy, s.last_deploy_ts); }

// True when the lineage is inside an ongoing episode as of `at` (an attempt failure before `at`
// and no success or issuance since). Such cert-days are not forecasts (docs/evaluation.md section 1).
bool InEpisode(const LineageState& state);

// When the lineage's client first tries to renew the current certificate: ClientRenewalDueTime
// (client_rule.h, the rule the policy uses too) on the state's config, certificate, ARI answer and
// earlier certificates. nullopt without a certificate.
std::optional<absl::Time> RenewalDueTime(const LineageState& state);

// When the client will next attempt a renewal, as of `at`: the later of the due time and the
// client's backoff after consecutive failures (cert-manager 1h*2^(n-1) capped at 32h; certbot runs
// twice a day; lego, acme.sh and others daily; caddy every 10 minutes), never before `at`.
// nullopt without a certificate.
std::optional<absl::Time> NextScheduledAttempt(const LineageState& state, absl::Time at);

// The whole fleet's state, built incrementally from events in ts order. Holds lineage states plus
// the per-name, per-host and per-CA telemetry that features read. Defined in fleet_state.cc; the
// internals (telemetry accumulators) are in features/fleet_state.h.
class FleetStateImpl;
struct FleetFacts;
class FleetState {
 public:
  // `with_features`: also fold the forecaster's accumulators (false: only the facts the policy
  // reads, fleet_facts.h; such a state cannot be scored).
  explicit FleetState(bool with_features = true);
  ~FleetState();
  FleetState(FleetState&&) noexcept;
  FleetState& operator=(FleetState&&) noexcept;

  // Applies one event. Events must come in non-decreasing ts order (InvalidArgument otherwise).
  Status Apply(const Event& event);
  // Applies every event with ts < at from `events_in_ts_order`, starting where the previous call
  // stopped (`*cursor`), so a daily re-score costs only the new events.
  Status AdvanceTo(std::span<const Event> events_in_ts_order, absl::Time at, size_t* cursor);

  // Newest ts applied (InfinitePast when empty). Features refuse `at` < watermark.
  absl::Time watermark() const;

  size_t lineage_count() const;
  // Lineages in first-seen order; index stable for the life of the state.
  const LineageState& lineage(size_t index) const;
  const LineageState* Find(std::string_view cert) const;
  std::optional<size_t> IndexOf(std::string_view cert) const;

  bool with_features() const;
  // The facts the policy's lineage views project (policy/lineage_view.h).
  const FleetFacts& facts() const;

  FleetStateImpl& impl() { return *impl_; }
  const FleetStateImpl& impl() const { return *impl_; }

 private:
  std::unique_ptr<FleetStateImpl> impl_;
};

}  // namespace certcast
