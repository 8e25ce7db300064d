// The state FleetViewBuilder folds events into (lineage_view.h), per lineage, name, host, CA and
// registered domain. Exposed so the planner's checkpoint (src/plan) can persist it; every struct
// lists its persisted fields once, beside it (core/fields.h): a field left out of a list is not
// restored, and plan_state_test (restored == rebuilt) fails.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "core/event.h"
#include "core/fields.h"
#include "policy/lineage_view.h"

namespace certcast::policy {

// One sample of a host trend (clock offset, free disk).
struct Sample {
  absl::Time ts;
  double value;
};
template <FieldsOf<Sample> S>
auto Fields(S& s) { return std::tie(s.ts, s.value); }

struct AddressState {
  std::vector<std::string> values;
  // Every address this name ever answered with: a CDN pool rotates among known addresses, a real
  // move goes to one never seen before.
  std::set<std::string> known;
  std::vector<std::string> previous;
  std::optional<absl::Time> changed_at;
  bool seen = false;
};
template <FieldsOf<AddressState> S>
auto Fields(S& s) { return std::tie(s.values, s.known, s.previous, s.changed_at, s.seen); }

struct NameState {
  // One HTTP-01 streak per vantage (the event's `vantage`: "server" for the server's outside
  // probe, the agent's host name for its inside one, "" when not said). A success from one place
  // says nothing about another: the host's own web server answering from inside does not mean the
  // CA reaches it from outside, so it must not end the outside streak (issue #17), nor the reverse.
  std::map<std::string, FailureStreak> http01;
  FailureStreak dns01;
  AddressState a, aaaa;
  std::optional<Rcode> a_rcode;
  std::optional<Rcode> caa_rcode;
  std::vector<std::string> caa_values;
  std::optional<Dnssec> dnssec;
  std::optional<absl::Time> rrsig_expires;
  std::vector<std::string> ns_values;
  std::optional<absl::Time> ns_changed_at;
  // tls probes that named no cert: ServedKey -> latest
  std::map<std::string, Served> served;
};
template <FieldsOf<NameState> S>
auto Fields(S& s) { return std::tie(s.http01, s.dns01, s.a, s.aaaa, s.a_rcode, s.caa_rcode, s.caa_values, s.dnssec, s.rrsig_expires, s.ns_values, s.ns_changed_at, s.served); }

struct HostState {
  std::deque<Sample> clock;
  std::optional<bool> synced;
  std::deque<Sample> disk;
  std::optional<int64_t> disk_free, disk_total;
  std::optional<absl::Time> scheduler_last_run;
  std::optional<absl::Time> changed_at;
  std::string change;
  std::map<CredentialKind, Credential> credentials;
};
template <FieldsOf<HostState> S>
auto Fields(S& s) { return std::tie(s.clock, s.synced, s.disk, s.disk_free, s.disk_total, s.scheduler_last_run, s.changed_at, s.change, s.credentials); }

struct CertState {
  bool has_config = false;
  ConfigEvent config;
  absl::Time config_at;
  std::set<std::string> hosts;
  std::optional<IssuedEvent> current;
  absl::Time current_recorded_at;
  std::vector<std::pair<absl::Time, absl::Time>> previous;
  // Every serial issued to this lineage: a probe of a shared name that answers with a serial
  // outside this set is another lineage's certificate, not a stale one of ours.
  absl::flat_hash_set<std::string> serials;
  std::deque<absl::Time> issue_times;  // for the 7-day count
  std::optional<Attempt> last_attempt, last_success, last_failure, last_dry_run;
  std::optional<Attempt> last_client_attempt;  // not started by certcast (trigger != forced)
  std::optional<absl::Time> episode_onset;
  int episode_failures = 0;
  std::map<std::string, int> episode_errors;
  std::deque<absl::Time> recent_failures;
  std::map<std::string, Served> served;
  std::map<std::string, LineageView::Deploy> deploys;
  std::optional<AriEvent> ari;
  absl::Time ari_at;
  std::map<CredentialKind, Credential> credentials;
};
template <FieldsOf<CertState> S>
auto Fields(S& s) { return std::tie(s.has_config, s.config, s.config_at, s.hosts, s.current, s.current_recorded_at, s.previous, s.serials, s.issue_times, s.last_attempt, s.last_success, s.last_failure, s.last_dry_run, s.episode_onset, s.episode_failures, s.episode_errors, s.recent_failures, s.served, s.deploys, s.last_client_attempt, s.ari, s.ari_at, s.credentials); }

struct DomainState {
  std::optional<absl::Time> expires;
  std::string status;
};
template <FieldsOf<DomainState> S>
auto Fields(S& s) { return std::tie(s.expires, s.status); }

// Everything the builder folded.
struct FleetViewFacts {
  absl::flat_hash_map<std::string, CertState> certs;
  absl::flat_hash_map<std::string, NameState> names;
  absl::flat_hash_map<std::string, HostState> hosts;
  absl::flat_hash_map<std::string, FailureStreak> cas;
  absl::flat_hash_map<std::string, DomainState> domains;
  int64_t added = 0;
};
template <FieldsOf<FleetViewFacts> S>
auto Fields(S& s) { return std::tie(s.certs, s.names, s.hosts, s.cas, s.domains, s.added); }

}  // namespace certcast::policy
