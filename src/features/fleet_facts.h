// The facts of the one fleet fold (FleetState::Apply, lineage_state.h) that the policy reads: per
// lineage, DNS name, host, CA and registered domain, as plain values keyed by their names. The
// policy's lineage views (policy/lineage_view.h) are a pure projection of these; the forecaster's
// decayed accumulators (fleet_state.h) are folded by the same Apply from the same event.
//
// The rules that decide what an event means for these facts live here once, for the whole fold:
// - the current certificate (ClassifyIssued): the most recently issued one (latest not_before);
//   a serial already reported is a repeat (a second collector, a re-read log) and changes nothing;
//   an earlier certificate reported late is remembered as the lineage's serial and nothing else;
// - an address answer (ObserveAddresses): "changed" when it differs from the previous answer,
//   "moved" when it holds no address the name ever answered with (a CDN rotating among known
//   addresses changes, a real move goes somewhere new);
// - order: events come in ts order; FleetState::Apply refuses an older one for the whole fold.
// Every struct lists its persisted fields once, beside it (core/fields.h): the planner's
// checkpoint (src/plan) writes and reads them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/time/time.h"
#include "core/event.h"
#include "core/fields.h"

namespace certcast {

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
  // The serial served here before `serial` (the latest probe that answered differently) and when
  // that probe ran: when another lineage's certificate replaces this lineage's on the endpoint,
  // the last time this lineage's own certificate was seen there (policy::LastObserved).
  std::string before_serial;
  std::optional<absl::Time> before_probed_at;
};
template <FieldsOf<Served> S>
auto Fields(S& s) {
  return std::tie(s.endpoint, s.sni, s.host, s.probed_at, s.ok, s.error, s.serial, s.not_after,
                  s.before_serial, s.before_probed_at);
}

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

// The latest deploy of a lineage's certificate to one host.
struct Deploy {
  std::string host;
  absl::Time at;
  Outcome outcome = Outcome::kSuccess;
  std::string detail;
};
template <FieldsOf<Deploy> S>
auto Fields(S& s) { return std::tie(s.host, s.at, s.outcome, s.detail); }

// One sample of a host trend (clock offset, free disk).
struct Sample {
  absl::Time ts;
  double value;
};
template <FieldsOf<Sample> S>
auto Fields(S& s) { return std::tie(s.ts, s.value); }

struct AddressFacts {
  std::vector<std::string> values;
  // Every address this name ever answered with: a CDN pool rotates among known addresses, a real
  // move goes to one never seen before.
  std::set<std::string> known;
  std::vector<std::string> previous;
  std::optional<absl::Time> changed_at;  // the latest move (ObserveAddresses)
  bool seen = false;
};
template <FieldsOf<AddressFacts> S>
auto Fields(S& s) { return std::tie(s.values, s.known, s.previous, s.changed_at, s.seen); }

// What one A or AAAA answer says (the one rule for both consumers of the fold).
struct AddressChange {
  bool changed = false;  // differs from the previous answer (the model's address_change_days)
  bool moved = false;    // and holds no address the name answered with before (the policy)
};
// Folds a NOERROR answer into `facts`.
AddressChange ObserveAddresses(AddressFacts& facts, absl::Time ts, const std::vector<std::string>& values);

struct NameFacts {
  // One HTTP-01 streak per vantage (the event's `vantage`: "server" for the server's outside
  // probe, the agent's host name for its inside one, "" when not said). A success from one place
  // says nothing about another: the host's own web server answering from inside does not mean the
  // CA reaches it from outside, so it must not end the outside streak (issue #17), nor the reverse.
  std::map<std::string, FailureStreak> http01;
  FailureStreak dns01;
  AddressFacts a, aaaa;
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
template <FieldsOf<NameFacts> S>
auto Fields(S& s) { return std::tie(s.http01, s.dns01, s.a, s.aaaa, s.a_rcode, s.caa_rcode, s.caa_values, s.dnssec, s.rrsig_expires, s.ns_values, s.ns_changed_at, s.served); }

struct HostFacts {
  std::vector<Sample> clock;  // the last kTrendWindow (window.h)
  std::optional<bool> synced;
  std::vector<Sample> disk;
  std::optional<int64_t> disk_free, disk_total;
  std::optional<absl::Time> scheduler_last_run;
  std::optional<absl::Time> changed_at;
  std::string change;
  std::map<CredentialKind, Credential> credentials;
};
template <FieldsOf<HostFacts> S>
auto Fields(S& s) { return std::tie(s.clock, s.synced, s.disk, s.disk_free, s.disk_total, s.scheduler_last_run, s.changed_at, s.change, s.credentials); }

struct LineageFacts {
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
  std::vector<absl::Time> issue_times;  // the newest 64, for the 7-day count
  std::optional<Attempt> last_attempt, last_success, last_failure, last_dry_run;
  std::optional<Attempt> last_client_attempt;  // not started by certcast (trigger != forced)
  std::optional<absl::Time> episode_onset;
  int episode_failures = 0;
  std::map<std::string, int> episode_errors;
  std::vector<absl::Time> recent_failures;  // the newest 16
  std::map<std::string, Served> served;
  std::map<std::string, Deploy> deploys;
  std::optional<AriEvent> ari;
  absl::Time ari_at;
  std::map<CredentialKind, Credential> credentials;
};
template <FieldsOf<LineageFacts> S>
auto Fields(S& s) { return std::tie(s.has_config, s.config, s.config_at, s.hosts, s.current, s.current_recorded_at, s.previous, s.serials, s.issue_times, s.last_attempt, s.last_success, s.last_failure, s.last_dry_run, s.episode_onset, s.episode_failures, s.episode_errors, s.recent_failures, s.served, s.deploys, s.last_client_attempt, s.ari, s.ari_at, s.credentials); }

struct DomainFacts {
  std::optional<absl::Time> expires;
  std::string status;
};
template <FieldsOf<DomainFacts> S>
auto Fields(S& s) { return std::tie(s.expires, s.status); }

// What an issued event is to its lineage (the one rule for the current certificate).
enum class IssuedRole : uint8_t {
  kNew,      // a serial not seen before, issued no earlier than the current one: the new current one
  kEarlier,  // a serial not seen before, issued before the current one (not_before): history
  kRepeat,   // a serial already reported: changes nothing
};
IssuedRole ClassifyIssued(const LineageFacts* lineage, const IssuedEvent& event);

// Everything the fold keeps for the policy. Lineages and names are node maps: their values are
// large (2.0 KB and 0.6 KB), and a flat map keeps a slot of that size for every free place of its
// table too (a table is 7/16 to 7/8 full): the two tables took 55.7 MB of the 10,000-lineage
// plan's heap as flat maps, 34.7 MB as node maps (heaptrack, docs/benchmarks.md).
struct FleetFacts {
  absl::node_hash_map<std::string, LineageFacts> certs;
  absl::node_hash_map<std::string, NameFacts> names;
  absl::flat_hash_map<std::string, HostFacts> hosts;
  absl::flat_hash_map<std::string, FailureStreak> cas;
  absl::flat_hash_map<std::string, DomainFacts> domains;
};
template <FieldsOf<FleetFacts> S>
auto Fields(S& s) { return std::tie(s.certs, s.names, s.hosts, s.cas, s.domains); }

// The fold of one event into the facts (called by FleetState::Apply, which checks the order).
// `role` is ClassifyIssued's answer for an issued event (ignored otherwise); `address` receives
// what an A/AAAA answer said (may be null).
void FoldFacts(FleetFacts& facts, const Event& event, IssuedRole role, AddressChange* address);

// Samples older than this before the newest one do not enter trend estimates: a drift or a disk
// trend is about the present, and two weeks covers the slowest trend worth acting on.
inline constexpr absl::Duration kTrendWindow = absl::Hours(24 * 14);

// The name probes use for a config name (events-v1): example.com for a wildcard *.example.com.
inline std::string_view ProbeName(std::string_view name) {
  if (name.starts_with("*.")) name.remove_prefix(2);
  return name;
}

// The key of a served result: one per (endpoint, SNI). Neither contains a space.
std::string ServedKey(std::string_view endpoint, std::string_view sni);

}  // namespace certcast
