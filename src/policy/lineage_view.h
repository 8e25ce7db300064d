// What the policy knows about one certificate lineage at an instant: its configuration, current
// certificate, what its servers serve, its recent renewal attempts, and the environmental evidence
// (DNS, HTTP-01 and DNS-01 probes, CA health, host clock and disk, credentials, domain
// registration) that bears on whether its next renewal will work.
//
// Built by FleetViewBuilder from events in ts order; only events with ts < the `as_of` instant are
// used, so a view never reads the future. Pure: no clock, no I/O.
//
// Thread safety: a builder is used from one thread; the views it returns are plain values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "core/event.h"
#include "core/fields.h"
#include "core/status.h"

namespace certcast::policy {

// One renewal attempt as the policy needs it.
struct Attempt {
  absl::Time at;
  Outcome outcome = Outcome::kSuccess;
  std::string error;   // ACME problem URN (prefix stripped: "connection") or client code; "" = none
  std::string detail;
  std::optional<Challenge> challenge;
  std::optional<std::string> ca;
  bool dry_run = false;
  std::string trigger;
};
// Persisted fields (core/fields.h): the planner's checkpoint (src/plan).
template <FieldsOf<Attempt> S>
auto Fields(S& s) { return std::tie(s.at, s.outcome, s.error, s.detail, s.challenge, s.ca, s.dry_run, s.trigger); }

// What one endpoint served for one name (SNI) at its latest probe: one address:port serving
// several names may serve a different certificate for each (one per server block).
struct Served {
  std::string endpoint;  // "host:port"
  std::string sni;       // the name asked for
  std::string host;      // the lineage host the endpoint belongs to; "" when unknown
  absl::Time probed_at;
  bool ok = true;
  std::optional<TlsError> error;
  std::string serial;
  std::optional<absl::Time> not_after;
};
template <FieldsOf<Served> S>
auto Fields(S& s) { return std::tie(s.endpoint, s.sni, s.host, s.probed_at, s.ok, s.error, s.serial, s.not_after); }

struct Credential {
  CredentialKind kind = CredentialKind::kAccountKey;
  std::optional<absl::Time> expires;
  std::optional<bool> present;
  absl::Time seen;
};
template <FieldsOf<Credential> S>
auto Fields(S& s) { return std::tie(s.kind, s.expires, s.present, s.seen); }

// A run of probe failures: consecutive error results of the latest probes of a kind.
struct FailureStreak {
  int count = 0;                     // consecutive failures up to the latest probe (0 = latest ok)
  std::optional<absl::Time> since;   // first failure of the streak
  absl::Time last;                   // latest probe
  std::string error;                 // latest error text
  std::string subject;               // the name / CA probed
};
template <FieldsOf<FailureStreak> S>
auto Fields(S& s) { return std::tie(s.count, s.since, s.last, s.error, s.subject); }

// Environmental evidence joined from name, host, CA and domain events.
struct Evidence {
  FailureStreak http01;                 // worst name of the lineage
  FailureStreak dns01;
  FailureStreak ca;                     // the lineage's effective CA
  std::map<std::string, FailureStreak> alt_ca;  // health of each alternative CA
  // DNS
  std::string nxdomain_name;            // a name whose A lookup says NXDOMAIN ("" = none)
  std::string address_changed_name;     // A/AAAA values changed after the last issuance
  std::optional<absl::Time> address_changed_at;
  std::string address_before, address_after;
  std::string caa_name;                 // a name whose CAA answer is relevant
  std::vector<std::string> caa_values;  // latest non-empty CAA answer found for the names
  bool caa_servfail = false;
  bool dnssec_bogus = false;
  std::optional<absl::Time> rrsig_expires;  // earliest over the names
  std::optional<absl::Time> ns_changed_at;
  // Host
  std::optional<double> clock_offset_ms;
  std::optional<double> clock_drift_ms_per_day;  // from the earliest and latest of the last 14 d
  std::optional<bool> clock_synced;
  std::optional<int64_t> disk_free_bytes, disk_total_bytes;
  std::optional<double> disk_free_bytes_per_day;  // slope over the last 14 d (negative = filling)
  std::optional<absl::Time> scheduler_last_run;
  std::optional<absl::Time> host_changed_at;      // upgrade, restart, redeploy
  std::string host_change;
  // Credentials (for the lineage or its host), latest per kind.
  std::vector<Credential> credentials;
  // Registration of the registered domain(s).
  std::string domain_name;
  std::optional<absl::Time> domain_expires;
  std::string domain_status;
};

struct LineageView {
  std::string cert;
  ConfigEvent config;
  absl::Time config_at;
  std::vector<std::string> hosts;  // every host a config event named for this lineage

  // Newest certificate (largest not_after) and when it was recorded.
  std::optional<IssuedEvent> current;
  absl::Time current_recorded_at;
  // not_before of earlier certificates, newest first (at most 6): how the client renews in practice.
  std::vector<std::pair<absl::Time, absl::Time>> previous;  // (not_before, not_after)
  int issued_last_7d = 0;  // certificates issued for this lineage in the 7 d before as_of

  // Attempts (dry runs excluded unless named).
  std::optional<Attempt> last_attempt;
  std::optional<Attempt> last_client_attempt;  // the latest the client made itself (not forced)
  std::optional<Attempt> last_success;
  std::optional<Attempt> last_failure;
  std::optional<Attempt> last_dry_run;
  // Episode: failures after the last success or issuance.
  std::optional<absl::Time> episode_onset;
  int episode_failures = 0;
  int failures_last_hour = 0;
  std::map<std::string, int> episode_errors;  // error -> count in the episode

  std::vector<Served> served;  // latest probe per endpoint
  struct Deploy {
    std::string host;
    absl::Time at;
    Outcome outcome = Outcome::kSuccess;
    std::string detail;
  };
  std::vector<Deploy> deploys;  // latest per host

  std::optional<AriEvent> ari;  // latest ARI answer
  absl::Time ari_at;

  Evidence evidence;
};
template <FieldsOf<LineageView::Deploy> S>
auto Fields(S& s) { return std::tie(s.host, s.at, s.outcome, s.detail); }

// Accumulates events and produces views. Feed events in ts order (the store returns them so).
struct FleetViewFacts;  // lineage_view_state.h

class FleetViewBuilder {
 public:
  FleetViewBuilder();
  ~FleetViewBuilder();
  FleetViewBuilder(FleetViewBuilder&&) noexcept;
  FleetViewBuilder& operator=(FleetViewBuilder&&) noexcept;

  // Adds one event. Events at or after the `as_of` of a later Build are ignored by that Build only
  // if they were never added: callers pass events with ts < as_of.
  void Add(const Event& event);

  // Views of every lineage that has a config event, sorted by cert, as of `as_of`.
  std::vector<LineageView> Build(absl::Time as_of) const;

  int64_t events_added() const;

  // The folded state, for the planner's checkpoint (src/plan/plan_state.h): a builder given
  // Replace(facts()) and then more events gives exactly the views of one builder fed every event.
  const FleetViewFacts& facts() const;
  void Replace(FleetViewFacts facts);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace certcast::policy
