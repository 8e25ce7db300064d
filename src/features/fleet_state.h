// Internals of FleetState (lineage_state.h): telemetry folded per DNS name, host, CA, registered
// domain and exact name set, plus the indices that tie lineages to them. Read by the feature
// extractor; callers outside src/features should use lineage_state.h.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "features/accumulators.h"
#include "features/fleet_facts.h"
#include "features/lineage_state.h"
#include "core/fields.h"

namespace certcast {

// The newest report of each credential kind (a rotated token replaces the old one).
struct CredentialSet {
  double expires_days[3] = {1e300, 1e300, 1e300};  // by CredentialKind
  bool missing[3] = {false, false, false};
  void Set(CredentialKind kind, double expires, bool is_missing) {
    expires_days[static_cast<int>(kind)] = expires;
    missing[static_cast<int>(kind)] = is_missing;
  }
  // Earliest expiry / any missing among the kinds a lineage needs: the account key always, the DNS
  // API token only for DNS-01, the EAB credential only at a CA that requires EAB (CaRequiresEab).
  double Earliest(bool needs_dns_api, bool needs_eab) const {
    double e = expires_days[2];
    if (needs_dns_api) e = std::min(e, expires_days[0]);
    if (needs_eab) e = std::min(e, expires_days[1]);
    return e;
  }
  bool AnyMissing(bool needs_dns_api, bool needs_eab) const {
    return missing[2] || (needs_dns_api && missing[0]) || (needs_eab && missing[1]);
  }
};
// Persisted fields (core/fields.h): the planner's checkpoint (src/plan) writes and reads these.
template <FieldsOf<CredentialSet> S>
auto Fields(S& s) { return std::tie(s.expires_days, s.missing); }

// Telemetry about one DNS name (wildcards stored without "*.", as probes use the base name).
struct NameTelemetry {
  std::string name;
  // HTTP-01 reachability.
  DayBitmap http01_days;
  DecayedRate http01_rate;
  // Failures in a row per vantage (the event's `vantage`: "server" outside, an agent's host name
  // inside, "" when not said): a success seen from one place does not end the run seen from
  // another (issue #17). The feature takes the longest.
  std::map<std::string, int> http01_consecutive_failures;
  std::string http01_last_error;
  // DNS-01 automation.
  DayBitmap dns01_days;
  DecayedRate dns01_rate;
  int dns01_consecutive_failures = 0;
  LevelRatio dns01_propagation;
  // A/AAAA answers: current values per type, when they last changed, failed lookups.
  std::vector<std::string> a_values, aaaa_values;
  bool a_seen = false, aaaa_seen = false;
  double address_change_days = -1e300;
  DayBitmap address_error_days;  // SERVFAIL/NXDOMAIN/REFUSED/TIMEOUT on A/AAAA
  bool last_address_rcode_bad = false;
  // NS set (the DNS provider, for fleet context) and when it changed.
  std::string ns_key;
  double ns_change_days = -1e300;
  // CAA.
  bool caa_seen = false;
  std::vector<std::string> caa_values;
  double caa_change_days = -1e300;
  // DNSSEC.
  DayBitmap dnssec_bogus_days;
  double rrsig_expires_days = 1e300;
  // TLS probes for this SNI.
  DayBitmap tls_error_days;
};
template <FieldsOf<NameTelemetry> S>
auto Fields(S& s) { return std::tie(s.name, s.http01_days, s.http01_rate, s.http01_consecutive_failures, s.http01_last_error, s.dns01_days, s.dns01_rate, s.dns01_consecutive_failures, s.dns01_propagation, s.a_values, s.aaaa_values, s.a_seen, s.aaaa_seen, s.address_change_days, s.address_error_days, s.last_address_rcode_bad, s.ns_key, s.ns_change_days, s.caa_seen, s.caa_values, s.caa_change_days, s.dnssec_bogus_days, s.rrsig_expires_days, s.tls_error_days); }

struct HostTelemetry {
  std::string name;
  std::vector<size_t> lineages;
  // Addresses this host answered on when its lineages renewed successfully: a DNS change to an
  // address outside this set is the "domain no longer points at the host" precursor.
  absl::flat_hash_set<std::string> known_addresses;
  bool has_clock = false;
  double clock_offset_ms = 0;
  DecayedTrend clock_trend;  // offset in seconds over days
  std::optional<bool> clock_synced;
  bool has_disk = false;
  double disk_free_fraction = 1;
  DecayedTrend disk_trend;  // free fraction over days
  double scheduler_last_run_days = -1e300;
  DecayedSum host_events;  // upgrade/restart/redeploy/other, tau 3 days
  std::string client_version;
  double client_version_change_days = -1e300;
  CredentialSet credentials;
  // Organisation: the registrable domain of the host's name (web3.acme.example -> acme.example),
  // so that an account-wide credential reported by one host applies to its sibling hosts.
  size_t organisation = SIZE_MAX;
};
template <FieldsOf<HostTelemetry> S>
auto Fields(S& s) { return std::tie(s.name, s.lineages, s.known_addresses, s.has_clock, s.clock_offset_ms, s.clock_trend, s.clock_synced, s.has_disk, s.disk_free_fraction, s.disk_trend, s.scheduler_last_run_days, s.host_events, s.client_version, s.client_version_change_days, s.credentials, s.organisation); }

struct CaTelemetry {
  std::string url;
  DecayedRate probe_rate;   // ca_probe errors, tau 2 days
  DayBitmap probe_days;     // days with a ca_probe error (how long the CA has been degraded)
  LevelRatio latency;       // ca_probe latency
  DecayedRate fleet_renewals;  // non-dry-run renewal outcomes of all lineages on this CA, tau 3 days
  std::string caa_identity;    // registrable domain of the directory host (for CAA)
  std::string host;            // directory URL host
};
template <FieldsOf<CaTelemetry> S>
auto Fields(S& s) { return std::tie(s.url, s.probe_rate, s.probe_days, s.latency, s.fleet_renewals, s.caa_identity, s.host); }

struct RegisteredDomainTelemetry {
  std::string name;
  double expires_days = 1e300;
  bool status_bad = false;
  std::vector<double> issued_days;  // issuance times (days), pruned to 7 days on add (window.h)
};
template <FieldsOf<RegisteredDomainTelemetry> S>
auto Fields(S& s) { return std::tie(s.name, s.expires_days, s.status_bad, s.issued_days); }

struct NameSetTelemetry {
  std::vector<double> issued_days;
};
template <FieldsOf<NameSetTelemetry> S>
auto Fields(S& s) { return std::tie(s.issued_days); }

// Facts the policy diagnoses, folded per lineage for the model (issue #14, "diagnosis as
// evidence"): how fast the lineage spends the CA's rate limits and when it last met one. Kept
// apart from the telemetry above so that the policy's fold can take them over as one piece.
struct DiagnosisFacts {
  // Issuances made when less than a quarter of the previous certificate's lifetime had passed: no
  // renewal rule renews that early, a restart or redeploy loop ordering anew does. Tau 3 days.
  DecayedSum premature_issuances;
  // Failed validations (non-dry-run), times in days, pruned to the last hour: the CA allows 5
  // per account and hostname per hour.
  std::vector<double> failed_validations;
  double rate_limited_days = -1e300;  // the newest rateLimited answer to a non-dry-run attempt
};
template <FieldsOf<DiagnosisFacts> S>
auto Fields(S& s) { return std::tie(s.premature_issuances, s.failed_validations, s.rate_limited_days); }

// Per-lineage indices and accumulators that are not part of the public LineageState.
struct LineageExtra {
  std::vector<size_t> names;             // NameTelemetry indices of the config's names
  std::vector<size_t> registered_domains;
  size_t name_set = SIZE_MAX;
  size_t host = SIZE_MAX;
  size_t ca = SIZE_MAX;
  DecayedSum validation_failures;  // tau 14 days, incl. dry runs: past trouble with validation
  DecayedSum other_failures;
  DecayedSum dry_run_failures;     // tau 7 days
  DecayedSum attempts;             // tau 1 day: attempt rate (retry loops burn rate limits)
  double last_episode_onset_days = -1e300;
  CredentialSet credentials;
  bool client_version_changed = false;
  double config_client_change_days = -1e300;
  double deploy_failed_days = -1e300;
  DiagnosisFacts diagnosis;
};
template <FieldsOf<LineageExtra> S>
auto Fields(S& s) { return std::tie(s.names, s.registered_domains, s.name_set, s.host, s.ca, s.validation_failures, s.other_failures, s.dry_run_failures, s.attempts, s.last_episode_onset_days, s.credentials, s.client_version_changed, s.config_client_change_days, s.deploy_failed_days, s.diagnosis); }

class FleetStateImpl {
 public:
  explicit FleetStateImpl(bool with_features = true);
  Status Apply(const Event& event);

  // False: only the facts are folded (a plan without a model needs no accumulators).
  bool with_features = true;
  absl::Time watermark = absl::InfinitePast();
  FleetFacts facts;  // what the policy reads (fleet_facts.h)
  std::vector<LineageState> lineages;
  std::vector<LineageExtra> extras;
  absl::flat_hash_map<std::string, size_t> lineage_index;
  std::vector<NameTelemetry> names;
  absl::flat_hash_map<std::string, size_t> name_index;
  absl::flat_hash_map<std::string, std::vector<size_t>> lineages_by_name;  // name -> lineages
  std::vector<HostTelemetry> hosts;
  absl::flat_hash_map<std::string, size_t> host_index;
  std::vector<CaTelemetry> cas;
  absl::flat_hash_map<std::string, size_t> ca_index;
  std::vector<RegisteredDomainTelemetry> registered_domains;
  absl::flat_hash_map<std::string, size_t> registered_domain_index;
  std::vector<NameSetTelemetry> name_sets;
  std::vector<CredentialSet> organisations;
  absl::flat_hash_map<std::string, size_t> organisation_index;
  absl::flat_hash_map<std::string, size_t> name_set_index;

  size_t LineageFor(const std::string& cert);
  size_t NameFor(std::string_view name);
  size_t HostFor(const std::string& host);
  size_t CaFor(const std::string& url);
  size_t RegisteredDomainFor(const std::string& domain_name);

 private:
  void ApplyConfig(absl::Time ts, const ConfigEvent& e);
  void ApplyIssued(absl::Time ts, const IssuedEvent& e, IssuedRole role);
  void ApplyRenewal(absl::Time ts, const RenewalEvent& e);
  void ApplyTlsProbe(absl::Time ts, const TlsProbeEvent& e);
  void ApplyDns(absl::Time ts, const DnsEvent& e, const AddressChange& address);
  void RememberHostAddresses(size_t lineage);
};
// The whole fold, in checkpoint order (hash maps are written sorted by key).
template <FieldsOf<FleetStateImpl> S>
auto Fields(S& s) { return std::tie(s.with_features, s.watermark, s.facts, s.lineages, s.extras, s.lineage_index, s.names, s.name_index, s.lineages_by_name, s.hosts, s.host_index, s.cas, s.ca_index, s.registered_domains, s.registered_domain_index, s.name_sets, s.organisations, s.organisation_index, s.name_set_index); }

}  // namespace certcast
