// What the policy knows about one certificate lineage at an instant: its configuration, current
// certificate, what its servers serve, its recent renewal attempts, and the environmental evidence
// (DNS, HTTP-01 and DNS-01 probes, CA health, host clock and disk, credentials, domain
// registration) that bears on whether its next renewal will work.
//
// Projected from the fleet's one fold (FleetState: features/lineage_state.h, its facts in
// features/fleet_facts.h) by BuildViews; the fold holds only events with ts < the `as_of` instant,
// so a view never reads the future. Pure: no clock, no I/O; the views are plain values.
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
#include "features/fleet_facts.h"
#include "features/lineage_state.h"

namespace certcast::policy {

// The fold's fact types the views carry (features/fleet_facts.h).
using certcast::Attempt;
using certcast::Credential;
using certcast::FailureStreak;
using certcast::Served;

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
  // The latest own observation (LastObserved) of another lineage whose configuration names the
  // same host, and that lineage: the host is alive and still reports the lineages it runs, even
  // when its client sends no scheduler report (Caddy, cert-manager). Unset when the host runs no
  // other lineage. Filled by BuildViews (the fleet's views together), not BuildOne.
  std::optional<absl::Time> host_other_observed;
  std::string host_other;
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

  // The current certificate, the most recently issued (latest not_before; ClassifyIssued in
  // features/fleet_facts.h), and when it was recorded.
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

  std::vector<Served> served;  // latest probe per endpoint, of this lineage's certificates only
  // The latest probe at this lineage's own host that found another certificate for one of its
  // names (a serial never issued to it): the host's agent still looks at the name, and the host
  // serves something else there, so the lineage was replaced or removed on it. Not an
  // observation of this lineage (LastObserved); a sign of life of the host (LineageNotObserved).
  std::optional<Served> foreign_served;
  // Where another certificate replaced this lineage's on an endpoint, the latest probe that still
  // found this lineage's (Served::before_probed_at): an observation of it (LastObserved).
  std::optional<absl::Time> own_served_before_foreign;
  using Deploy = certcast::Deploy;
  std::vector<Deploy> deploys;  // latest per host

  std::optional<AriEvent> ari;  // latest ARI answer
  absl::Time ari_at;

  Evidence evidence;
};
// The lineage's own latest observation: what its agent probed, its client attempted or reported,
// and what was issued or deployed for it. Host, domain and CA evidence shared with other lineages
// does not count, nor a probe that found another lineage's certificate.
absl::Time LastObserved(const LineageView& v);

// The views of every lineage that has a config event, sorted by cert, as of `as_of`: a pure
// projection of the fleet's one fold (FleetState, features/lineage_state.h), which must hold only
// events with ts < as_of.
std::vector<LineageView> BuildViews(const FleetState& fleet, absl::Time as_of);

// The views of events held in memory (tests, benchmarks): the events with ts < as_of, sorted by ts
// (stably: input order among equal times, as the store's order would differ only there), folded
// into a facts-only FleetState, then BuildViews.
std::vector<LineageView> ViewsOfEvents(std::vector<Event> events, absl::Time as_of);

}  // namespace certcast::policy
