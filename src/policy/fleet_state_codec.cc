#include "policy/fleet_state_codec.h"

#include <algorithm>

#include "features/fleet_state.h"
#include "policy/binary_codec.h"

namespace certcast::policy {

// A field added to any of these structs must be added to its codec below (and kPlanStateFormat in
// plan_state.cc bumped, so checkpoints written without it are rebuilt); then update the size here.
// (Sizes on x86-64 with libstdc++, the platform certcast builds on.)
static_assert(sizeof(LineageState) == 1360 && sizeof(LineageExtra) == 304 &&
                  sizeof(NameTelemetry) == 488 && sizeof(HostTelemetry) == 344 &&
                  sizeof(CaTelemetry) == 240 && sizeof(RegisteredDomainTelemetry) == 128 &&
                  sizeof(NameSetTelemetry) == 80 && sizeof(CredentialSet) == 32 && sizeof(DiagnosisFacts) == 104 &&
                  sizeof(AttemptRecord) == 96 && sizeof(FleetStateImpl) == 528,
              "features/fleet_state.h or lineage_state.h changed: update the plan checkpoint codec "
              "in src/policy/fleet_state_codec.cc");

static void Put(BinaryWriter& w, const DecayedSum& s) { Put(w, s.value); Put(w, s.t); }
static Status Get(BinaryReader& r, DecayedSum& s) { RETURN_IF_ERROR(Get(r, s.value)); return Get(r, s.t); }
static void Put(BinaryWriter& w, const DecayedRate& s) { Put(w, s.failures); Put(w, s.total); }
static Status Get(BinaryReader& r, DecayedRate& s) { RETURN_IF_ERROR(Get(r, s.failures)); return Get(r, s.total); }
static void Put(BinaryWriter& w, const DayBitmap& b) { Put(w, b.failed); Put(w, b.seen); Put(w, b.day); }
static Status Get(BinaryReader& r, DayBitmap& b) {
  RETURN_IF_ERROR(Get(r, b.failed)); RETURN_IF_ERROR(Get(r, b.seen)); return Get(r, b.day);
}
static void Put(BinaryWriter& w, const DecayedTrend& t) {
  Put(w, t.w); Put(w, t.st); Put(w, t.sy); Put(w, t.stt); Put(w, t.sty); Put(w, t.origin); Put(w, t.last_y);
}
static Status Get(BinaryReader& r, DecayedTrend& t) {
  RETURN_IF_ERROR(Get(r, t.w)); RETURN_IF_ERROR(Get(r, t.st)); RETURN_IF_ERROR(Get(r, t.sy));
  RETURN_IF_ERROR(Get(r, t.stt)); RETURN_IF_ERROR(Get(r, t.sty)); RETURN_IF_ERROR(Get(r, t.origin));
  return Get(r, t.last_y);
}
static void Put(BinaryWriter& w, const LevelRatio& l) {
  Put(w, l.short_sum); Put(w, l.short_w); Put(w, l.long_sum); Put(w, l.long_w);
}
static Status Get(BinaryReader& r, LevelRatio& l) {
  RETURN_IF_ERROR(Get(r, l.short_sum)); RETURN_IF_ERROR(Get(r, l.short_w)); RETURN_IF_ERROR(Get(r, l.long_sum));
  return Get(r, l.long_w);
}
static void Put(BinaryWriter& w, const CredentialSet& c) {
  for (double e : c.expires_days) Put(w, e);
  for (bool m : c.missing) Put(w, m);
}
static Status Get(BinaryReader& r, CredentialSet& c) {
  for (double& e : c.expires_days) RETURN_IF_ERROR(Get(r, e));
  for (bool& m : c.missing) RETURN_IF_ERROR(Get(r, m));
  return OkStatus();
}
static void Put(BinaryWriter& w, const AttemptRecord& a) {
  Put(w, a.ts); Put(w, a.outcome); Put(w, a.error); Put(w, a.dry_run); Put(w, a.challenge); Put(w, a.ca);
}
static Status Get(BinaryReader& r, AttemptRecord& a) {
  RETURN_IF_ERROR(Get(r, a.ts)); RETURN_IF_ERROR(Get(r, a.outcome)); RETURN_IF_ERROR(Get(r, a.error));
  RETURN_IF_ERROR(Get(r, a.dry_run)); RETURN_IF_ERROR(Get(r, a.challenge)); return Get(r, a.ca);
}
static void Put(BinaryWriter& w, const LineageState& s) {
  Put(w, s.cert); Put(w, s.config); Put(w, s.config_ts); Put(w, s.first_config_ts); Put(w, s.issued);
  Put(w, s.issued_ts); Put(w, s.issued_count); Put(w, s.previous_certificates);
  Put(w, s.served_serial); Put(w, s.served_not_after);
  Put(w, s.served_ts); Put(w, s.recent_attempts); Put(w, s.last_success); Put(w, s.last_failure);
  Put(w, s.last_dry_run); Put(w, s.consecutive_failures); Put(w, s.episode_onset); Put(w, s.episodes);
  Put(w, s.ari); Put(w, s.ari_ts); Put(w, s.last_deploy); Put(w, s.last_deploy_ts);
}
static Status Get(BinaryReader& r, LineageState& s) {
  RETURN_IF_ERROR(Get(r, s.cert)); RETURN_IF_ERROR(Get(r, s.config));
  RETURN_IF_ERROR(Get(r, s.config_ts)); RETURN_IF_ERROR(Get(r, s.first_config_ts));
  RETURN_IF_ERROR(Get(r, s.issued)); RETURN_IF_ERROR(Get(r, s.issued_ts));
  RETURN_IF_ERROR(Get(r, s.issued_count)); RETURN_IF_ERROR(Get(r, s.previous_certificates));
  RETURN_IF_ERROR(Get(r, s.served_serial));
  RETURN_IF_ERROR(Get(r, s.served_not_after)); RETURN_IF_ERROR(Get(r, s.served_ts));
  RETURN_IF_ERROR(Get(r, s.recent_attempts)); RETURN_IF_ERROR(Get(r, s.last_success));
  RETURN_IF_ERROR(Get(r, s.last_failure)); RETURN_IF_ERROR(Get(r, s.last_dry_run));
  RETURN_IF_ERROR(Get(r, s.consecutive_failures)); RETURN_IF_ERROR(Get(r, s.episode_onset));
  RETURN_IF_ERROR(Get(r, s.episodes)); RETURN_IF_ERROR(Get(r, s.ari)); RETURN_IF_ERROR(Get(r, s.ari_ts));
  RETURN_IF_ERROR(Get(r, s.last_deploy)); return Get(r, s.last_deploy_ts);
}
static void Put(BinaryWriter& w, const DiagnosisFacts& d) {
  Put(w, d.premature_issuances); Put(w, d.failed_validations); Put(w, d.rate_limited_days);
}
static Status Get(BinaryReader& r, DiagnosisFacts& d) {
  RETURN_IF_ERROR(Get(r, d.premature_issuances)); RETURN_IF_ERROR(Get(r, d.failed_validations));
  return Get(r, d.rate_limited_days);
}
static void Put(BinaryWriter& w, const LineageExtra& x) {
  Put(w, x.names); Put(w, x.registered_domains); Put(w, x.name_set); Put(w, x.host); Put(w, x.ca);
  Put(w, x.validation_failures); Put(w, x.other_failures); Put(w, x.dry_run_failures); Put(w, x.attempts);
  Put(w, x.last_episode_onset_days); Put(w, x.credentials); Put(w, x.client_version_changed);
  Put(w, x.config_client_change_days); Put(w, x.deploy_failed_days); Put(w, x.diagnosis);
}
static Status Get(BinaryReader& r, LineageExtra& x) {
  RETURN_IF_ERROR(Get(r, x.names)); RETURN_IF_ERROR(Get(r, x.registered_domains));
  RETURN_IF_ERROR(Get(r, x.name_set)); RETURN_IF_ERROR(Get(r, x.host)); RETURN_IF_ERROR(Get(r, x.ca));
  RETURN_IF_ERROR(Get(r, x.validation_failures)); RETURN_IF_ERROR(Get(r, x.other_failures));
  RETURN_IF_ERROR(Get(r, x.dry_run_failures)); RETURN_IF_ERROR(Get(r, x.attempts));
  RETURN_IF_ERROR(Get(r, x.last_episode_onset_days)); RETURN_IF_ERROR(Get(r, x.credentials));
  RETURN_IF_ERROR(Get(r, x.client_version_changed)); RETURN_IF_ERROR(Get(r, x.config_client_change_days));
  RETURN_IF_ERROR(Get(r, x.deploy_failed_days)); return Get(r, x.diagnosis);
}
static void Put(BinaryWriter& w, const NameTelemetry& n) {
  Put(w, n.name); Put(w, n.http01_days); Put(w, n.http01_rate); Put(w, n.http01_consecutive_failures);
  Put(w, n.http01_last_error); Put(w, n.dns01_days); Put(w, n.dns01_rate); Put(w, n.dns01_consecutive_failures);
  Put(w, n.dns01_propagation); Put(w, n.a_values); Put(w, n.aaaa_values); Put(w, n.a_seen); Put(w, n.aaaa_seen);
  Put(w, n.address_change_days); Put(w, n.address_error_days); Put(w, n.last_address_rcode_bad);
  Put(w, n.ns_key); Put(w, n.ns_change_days); Put(w, n.caa_seen); Put(w, n.caa_values);
  Put(w, n.caa_change_days); Put(w, n.dnssec_bogus_days); Put(w, n.rrsig_expires_days); Put(w, n.tls_error_days);
}
static Status Get(BinaryReader& r, NameTelemetry& n) {
  RETURN_IF_ERROR(Get(r, n.name)); RETURN_IF_ERROR(Get(r, n.http01_days)); RETURN_IF_ERROR(Get(r, n.http01_rate));
  RETURN_IF_ERROR(GetMap(r, n.http01_consecutive_failures)); RETURN_IF_ERROR(Get(r, n.http01_last_error));
  RETURN_IF_ERROR(Get(r, n.dns01_days)); RETURN_IF_ERROR(Get(r, n.dns01_rate));
  RETURN_IF_ERROR(Get(r, n.dns01_consecutive_failures)); RETURN_IF_ERROR(Get(r, n.dns01_propagation));
  RETURN_IF_ERROR(Get(r, n.a_values)); RETURN_IF_ERROR(Get(r, n.aaaa_values)); RETURN_IF_ERROR(Get(r, n.a_seen));
  RETURN_IF_ERROR(Get(r, n.aaaa_seen)); RETURN_IF_ERROR(Get(r, n.address_change_days));
  RETURN_IF_ERROR(Get(r, n.address_error_days)); RETURN_IF_ERROR(Get(r, n.last_address_rcode_bad));
  RETURN_IF_ERROR(Get(r, n.ns_key)); RETURN_IF_ERROR(Get(r, n.ns_change_days)); RETURN_IF_ERROR(Get(r, n.caa_seen));
  RETURN_IF_ERROR(Get(r, n.caa_values)); RETURN_IF_ERROR(Get(r, n.caa_change_days));
  RETURN_IF_ERROR(Get(r, n.dnssec_bogus_days)); RETURN_IF_ERROR(Get(r, n.rrsig_expires_days));
  return Get(r, n.tls_error_days);
}
static void Put(BinaryWriter& w, const HostTelemetry& h) {
  Put(w, h.name); Put(w, h.lineages);
  std::vector<std::string> known(h.known_addresses.begin(), h.known_addresses.end());
  std::sort(known.begin(), known.end());  // a hash set's order is not part of the state
  Put(w, known);
  Put(w, h.has_clock); Put(w, h.clock_offset_ms); Put(w, h.clock_trend); Put(w, h.clock_synced);
  Put(w, h.has_disk); Put(w, h.disk_free_fraction); Put(w, h.disk_trend); Put(w, h.scheduler_last_run_days);
  Put(w, h.host_events); Put(w, h.client_version); Put(w, h.client_version_change_days);
  Put(w, h.credentials); Put(w, h.organisation);
}
static Status Get(BinaryReader& r, HostTelemetry& h) {
  RETURN_IF_ERROR(Get(r, h.name)); RETURN_IF_ERROR(Get(r, h.lineages)); RETURN_IF_ERROR(GetSet(r, h.known_addresses));
  RETURN_IF_ERROR(Get(r, h.has_clock)); RETURN_IF_ERROR(Get(r, h.clock_offset_ms)); RETURN_IF_ERROR(Get(r, h.clock_trend));
  RETURN_IF_ERROR(Get(r, h.clock_synced)); RETURN_IF_ERROR(Get(r, h.has_disk));
  RETURN_IF_ERROR(Get(r, h.disk_free_fraction)); RETURN_IF_ERROR(Get(r, h.disk_trend));
  RETURN_IF_ERROR(Get(r, h.scheduler_last_run_days)); RETURN_IF_ERROR(Get(r, h.host_events));
  RETURN_IF_ERROR(Get(r, h.client_version)); RETURN_IF_ERROR(Get(r, h.client_version_change_days));
  RETURN_IF_ERROR(Get(r, h.credentials)); return Get(r, h.organisation);
}
static void Put(BinaryWriter& w, const CaTelemetry& c) {
  Put(w, c.url); Put(w, c.probe_rate); Put(w, c.probe_days); Put(w, c.latency); Put(w, c.fleet_renewals); Put(w, c.caa_identity); Put(w, c.host);
}
static Status Get(BinaryReader& r, CaTelemetry& c) {
  RETURN_IF_ERROR(Get(r, c.url)); RETURN_IF_ERROR(Get(r, c.probe_rate)); RETURN_IF_ERROR(Get(r, c.probe_days));
  RETURN_IF_ERROR(Get(r, c.latency));
  RETURN_IF_ERROR(Get(r, c.fleet_renewals)); RETURN_IF_ERROR(Get(r, c.caa_identity)); return Get(r, c.host);
}
static void Put(BinaryWriter& w, const RegisteredDomainTelemetry& d) {
  Put(w, d.name); Put(w, d.expires_days); Put(w, d.status_bad); Put(w, d.issued_days);
}
static Status Get(BinaryReader& r, RegisteredDomainTelemetry& d) {
  RETURN_IF_ERROR(Get(r, d.name)); RETURN_IF_ERROR(Get(r, d.expires_days)); RETURN_IF_ERROR(Get(r, d.status_bad));
  return Get(r, d.issued_days);
}
static void Put(BinaryWriter& w, const NameSetTelemetry& n) { Put(w, n.issued_days); }
static Status Get(BinaryReader& r, NameSetTelemetry& n) { return Get(r, n.issued_days); }


void SaveFleetState(const FleetState& state, BinaryWriter& w) {
  const FleetStateImpl& s = state.impl();
  Put(w, s.watermark); Put(w, s.lineages); Put(w, s.extras); PutSorted(w, s.lineage_index);
  Put(w, s.names); PutSorted(w, s.name_index); PutSorted(w, s.lineages_by_name);
  Put(w, s.hosts); PutSorted(w, s.host_index); Put(w, s.cas); PutSorted(w, s.ca_index);
  Put(w, s.registered_domains); PutSorted(w, s.registered_domain_index); Put(w, s.name_sets);
  Put(w, s.organisations); PutSorted(w, s.organisation_index); PutSorted(w, s.name_set_index);
}

Status LoadFleetState(BinaryReader& r, FleetState& state) {
  FleetState loaded;
  FleetStateImpl& s = loaded.impl();
  Status st = [&]() -> Status {
    RETURN_IF_ERROR(Get(r, s.watermark)); RETURN_IF_ERROR(Get(r, s.lineages)); RETURN_IF_ERROR(Get(r, s.extras));
    RETURN_IF_ERROR(GetMap(r, s.lineage_index)); RETURN_IF_ERROR(Get(r, s.names));
    RETURN_IF_ERROR(GetMap(r, s.name_index)); RETURN_IF_ERROR(GetMap(r, s.lineages_by_name));
    RETURN_IF_ERROR(Get(r, s.hosts)); RETURN_IF_ERROR(GetMap(r, s.host_index)); RETURN_IF_ERROR(Get(r, s.cas));
    RETURN_IF_ERROR(GetMap(r, s.ca_index)); RETURN_IF_ERROR(Get(r, s.registered_domains));
    RETURN_IF_ERROR(GetMap(r, s.registered_domain_index)); RETURN_IF_ERROR(Get(r, s.name_sets));
    RETURN_IF_ERROR(Get(r, s.organisations)); RETURN_IF_ERROR(GetMap(r, s.organisation_index));
    return GetMap(r, s.name_set_index);
  }();
  if (!st.ok()) {
    state = FleetState();
    return st.WithPrefix("fleet state");
  }
  // Indices must point inside their tables: a corrupt index would read out of bounds later.
  if (s.extras.size() != s.lineages.size()) return DataLossError("checkpoint: fleet state: lineage tables differ in size");
  auto in_range = [](size_t i, size_t n) { return i == SIZE_MAX || i < n; };
  for (const LineageExtra& x : s.extras) {
    bool ok = in_range(x.name_set, s.name_sets.size()) && in_range(x.host, s.hosts.size()) &&
              in_range(x.ca, s.cas.size());
    for (size_t n : x.names) ok = ok && n < s.names.size();
    for (size_t d : x.registered_domains) ok = ok && d < s.registered_domains.size();
    if (!ok) return DataLossError("checkpoint: fleet state: a lineage points outside the telemetry tables");
  }
  for (const HostTelemetry& h : s.hosts) {
    bool ok = in_range(h.organisation, s.organisations.size());
    for (size_t l : h.lineages) ok = ok && l < s.lineages.size();
    if (!ok) return DataLossError("checkpoint: fleet state: a host points outside the lineage tables");
  }
  auto index_in_range = [](const auto& index, size_t n) {
    return std::all_of(index.begin(), index.end(), [n](const auto& entry) { return entry.second < n; });
  };
  bool indices_ok = index_in_range(s.lineage_index, s.lineages.size()) &&
                    index_in_range(s.name_index, s.names.size()) &&
                    index_in_range(s.host_index, s.hosts.size()) && index_in_range(s.ca_index, s.cas.size()) &&
                    index_in_range(s.registered_domain_index, s.registered_domains.size()) &&
                    index_in_range(s.organisation_index, s.organisations.size()) &&
                    index_in_range(s.name_set_index, s.name_sets.size());
  for (const auto& [name, lineages] : s.lineages_by_name) {
    for (size_t l : lineages) indices_ok = indices_ok && l < s.lineages.size();
  }
  if (!indices_ok) return DataLossError("checkpoint: fleet state: an index points outside its table");
  // And the cert index is the inverse of the lineage table (FleetState::Find relies on it).
  bool inverse = s.lineage_index.size() == s.lineages.size();
  for (size_t l = 0; inverse && l < s.lineages.size(); ++l) {
    auto it = s.lineage_index.find(s.lineages[l].cert);
    inverse = it != s.lineage_index.end() && it->second == l;
  }
  if (!inverse) return DataLossError("checkpoint: fleet state: the cert index does not match the lineages");
  state = std::move(loaded);
  return OkStatus();
}

}  // namespace certcast::policy
