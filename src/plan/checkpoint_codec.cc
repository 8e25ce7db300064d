#include "plan/checkpoint_codec.h"

#include <algorithm>

#include "features/fleet_state.h"
#include "plan/binary_codec.h"

namespace certcast::plan {

// A field added to any of these structs must be added to its Fields list beside the struct (and
// kPlanStateFormat in plan_state.cc bumped, so checkpoints written without it are rebuilt); then
// update the size here.
// (Sizes on x86-64 with libstdc++, the platform certcast builds on.)
static_assert(sizeof(LineageState) == 1360 && sizeof(LineageExtra) == 248 &&
                  sizeof(NameTelemetry) == 488 && sizeof(HostTelemetry) == 344 &&
                  sizeof(CaTelemetry) == 240 && sizeof(RegisteredDomainTelemetry) == 72 &&
                  sizeof(NameSetTelemetry) == 24 && sizeof(CredentialSet) == 32 && sizeof(DiagnosisFacts) == 48 &&
                  sizeof(AttemptRecord) == 96 && sizeof(FleetStateImpl) == 736 &&
                  sizeof(LineageFacts) == 1992 && sizeof(NameFacts) == 576 && sizeof(HostFacts) == 216 &&
                  sizeof(AddressFacts) == 128 && sizeof(Attempt) == 176 && sizeof(Served) == 232 &&
                  sizeof(FailureStreak) == 112 && sizeof(Credential) == 56 && sizeof(Deploy) == 88 &&
                  sizeof(DomainFacts) == 56 && sizeof(FleetFacts) == 200,
              "features/fleet_state.h, fleet_facts.h or lineage_state.h changed: update the struct's Fields list "
              "beside it (and kPlanStateFormat in src/plan/plan_state.cc)");

void SaveFleetState(const FleetState& state, BinaryWriter& w) { Put(w, state.impl()); }

Status LoadFleetState(BinaryReader& r, FleetState& state) {
  FleetState loaded(state.with_features());
  FleetStateImpl& s = loaded.impl();
  Status st = Get(r, s);
  if (!st.ok()) {
    state = FleetState(state.with_features());
    return st.WithPrefix("fleet state");
  }
  if (s.with_features != state.with_features()) {
    return DataLossError("checkpoint: fleet state: its accumulators do not match the header's mode");
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

}  // namespace certcast::plan
