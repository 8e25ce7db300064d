#include "policy/lineage_view.h"

#include <algorithm>
#include <set>

#include "features/domains.h"
#include "features/fleet_state.h"

namespace certcast::policy {
namespace {

// The streak that says most about trouble: the longest-running current failure.
void KeepWorst(FailureStreak& into, const FailureStreak& candidate) {
  if (candidate.count == 0) return;
  if (into.count == 0 || (candidate.since && into.since && *candidate.since < *into.since) ||
      (candidate.count > into.count && candidate.since == into.since)) {
    into = candidate;
  }
}

// Least-squares slope per day; nullopt with fewer than two samples or under a day of span.
std::optional<double> SlopePerDay(const std::vector<Sample>& samples) {
  if (samples.size() < 2) return std::nullopt;
  const absl::Time origin = samples.front().ts;
  if (samples.back().ts - origin < absl::Hours(24)) return std::nullopt;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const Sample& s : samples) {
    const double x = absl::ToDoubleHours(s.ts - origin) / 24.0;
    sx += x;
    sy += s.value;
    sxx += x * x;
    sxy += x * s.value;
  }
  const double n = static_cast<double>(samples.size());
  const double denominator = n * sxx - sx * sx;
  if (denominator <= 0) return std::nullopt;
  return (n * sxy - sx * sy) / denominator;
}

std::string StrJoinValues(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) {
    if (!out.empty()) out += ",";
    out += v;
  }
  return out.empty() ? "(none)" : out;
}

LineageView BuildOne(const FleetFacts& facts, const std::string& cert, const LineageFacts& c, absl::Time as_of) {
  LineageView v;
  v.cert = cert;
  v.config = c.config;
  v.config_at = c.config_at;
  v.hosts.assign(c.hosts.begin(), c.hosts.end());
  v.current = c.current;
  v.current_recorded_at = c.current_recorded_at;
  v.previous = c.previous;
  for (absl::Time t : c.issue_times) {
    if (t >= as_of - absl::Hours(24 * 7) && t < as_of) ++v.issued_last_7d;
  }
  v.last_attempt = c.last_attempt;
  v.last_client_attempt = c.last_client_attempt;
  v.last_success = c.last_success;
  v.last_failure = c.last_failure;
  v.last_dry_run = c.last_dry_run;
  v.episode_onset = c.episode_onset;
  v.episode_failures = c.episode_failures;
  v.episode_errors = c.episode_errors;
  for (absl::Time t : c.recent_failures) {
    if (t >= as_of - absl::Hours(1)) ++v.failures_last_hour;
  }
  v.ari = c.ari;
  v.ari_at = c.ari_at;
  for (const auto& [host, d] : c.deploys) v.deploys.push_back(d);

  // Only the current config's host is named in a reload: a host the lineage used to live on may
  // no longer run it, and "every host" reaches the right one anyway.
  auto host_of = [&](std::string_view endpoint) {
    const std::string host(endpoint.substr(0, endpoint.rfind(':')));
    return host == c.config.host ? host : std::string();
  };
  std::map<std::string, Served> served = c.served;
  Evidence& ev = v.evidence;
  std::set<std::string> domains_seen;
  const absl::Time issued_at = c.current ? c.current_recorded_at : absl::InfinitePast();
  for (const std::string& raw : c.config.names) {
    if (auto it = facts.names.find(raw); it != facts.names.end()) {
      for (const auto& [key, s] : it->second.served) served.emplace(key, s);
    }
    const std::string name(ProbeName(raw));
    if (auto it = facts.names.find(name); it != facts.names.end()) {
      const NameFacts& n = it->second;
      if (name != raw) {
        for (const auto& [key, s] : n.served) served.emplace(key, s);
      }
      for (const auto& [vantage, streak] : n.http01) KeepWorst(ev.http01, streak);
      KeepWorst(ev.dns01, n.dns01);
      if (n.a_rcode == Rcode::kNxDomain && ev.nxdomain_name.empty()) ev.nxdomain_name = name;
      for (const AddressFacts* s : {&n.a, &n.aaaa}) {
        if (s->changed_at && *s->changed_at > issued_at && ev.address_changed_name.empty()) {
          ev.address_changed_name = name;
          ev.address_changed_at = s->changed_at;
          ev.address_before = StrJoinValues(s->previous);
          ev.address_after = StrJoinValues(s->values);
        }
      }
      if (n.caa_rcode == Rcode::kServFail) ev.caa_servfail = true;
      if (!n.caa_values.empty() && ev.caa_values.empty()) {
        ev.caa_values = n.caa_values;
        ev.caa_name = name;
      }
      if (n.dnssec == Dnssec::kBogus) ev.dnssec_bogus = true;
      if (n.rrsig_expires && (!ev.rrsig_expires || *n.rrsig_expires < *ev.rrsig_expires)) {
        ev.rrsig_expires = n.rrsig_expires;
      }
      if (n.ns_changed_at && (!ev.ns_changed_at || *n.ns_changed_at > *ev.ns_changed_at)) {
        ev.ns_changed_at = n.ns_changed_at;
      }
    }
    const std::string registered = RegisteredDomain(name);
    if (domains_seen.insert(registered).second) {
      if (auto it = facts.domains.find(registered); it != facts.domains.end()) {
        if (it->second.expires && (!ev.domain_expires || *it->second.expires < *ev.domain_expires)) {
          ev.domain_expires = it->second.expires;
          ev.domain_name = registered;
          ev.domain_status = it->second.status;
        }
      }
    }
  }
  for (auto& [key, s] : served) {
    s.host = host_of(s.endpoint);
    if (!s.serial.empty() && !c.serials.contains(s.serial)) {
      // Another lineage's certificate: on another host a shared name's other server, on this
      // lineage's own host what replaced it.
      if (s.before_probed_at && (s.before_serial.empty() || c.serials.contains(s.before_serial)) &&
          (!v.own_served_before_foreign || *s.before_probed_at > *v.own_served_before_foreign)) {
        v.own_served_before_foreign = s.before_probed_at;
      }
      if (!s.host.empty() && (!v.foreign_served || s.probed_at > v.foreign_served->probed_at)) {
        v.foreign_served = s;
      }
      continue;
    }
    v.served.push_back(s);
  }
  if (auto it = facts.cas.find(c.config.ca); it != facts.cas.end()) ev.ca = it->second;
  for (const std::string& alt : c.config.alt_cas) {
    if (auto it = facts.cas.find(alt); it != facts.cas.end()) ev.alt_ca[alt] = it->second;
    else ev.alt_ca[alt] = FailureStreak{};
  }
  std::map<CredentialKind, Credential> credentials;
  if (auto it = facts.hosts.find(c.config.host); it != facts.hosts.end()) {
    const HostFacts& h = it->second;
    if (!h.clock.empty()) ev.clock_offset_ms = h.clock.back().value;
    ev.clock_drift_ms_per_day = SlopePerDay(h.clock);
    ev.clock_synced = h.synced;
    ev.disk_free_bytes = h.disk_free;
    ev.disk_total_bytes = h.disk_total;
    ev.disk_free_bytes_per_day = SlopePerDay(h.disk);
    ev.scheduler_last_run = h.scheduler_last_run;
    ev.host_changed_at = h.changed_at;
    ev.host_change = h.change;
    credentials = h.credentials;
  }
  // A lineage's own credential record is more specific than its host's.
  for (const auto& [kind, cred] : c.credentials) credentials[kind] = cred;
  for (const auto& [kind, cred] : credentials) ev.credentials.push_back(cred);
  return v;
}

}  // namespace

absl::Time LastObserved(const LineageView& v) {
  absl::Time t = std::max(v.config_at, v.current_recorded_at);
  for (const Served& s : v.served) t = std::max(t, s.probed_at);
  if (v.own_served_before_foreign) t = std::max(t, *v.own_served_before_foreign);
  for (const LineageView::Deploy& d : v.deploys) t = std::max(t, d.at);
  for (const std::optional<Attempt>* a : {&v.last_attempt, &v.last_dry_run}) {
    if (*a) t = std::max(t, (*a)->at);
  }
  if (v.evidence.http01.count > 0 || v.evidence.http01.since) t = std::max(t, v.evidence.http01.last);
  if (v.evidence.dns01.count > 0 || v.evidence.dns01.since) t = std::max(t, v.evidence.dns01.last);
  return t;
}

std::vector<LineageView> BuildViews(const FleetState& fleet, absl::Time as_of) {
  const FleetFacts& facts = fleet.facts();
  std::vector<const std::pair<const std::string, LineageFacts>*> order;
  order.reserve(facts.certs.size());
  for (const auto& entry : facts.certs) {
    if (entry.second.has_config) order.push_back(&entry);
  }
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->first < b->first; });
  std::vector<LineageView> views;
  views.reserve(order.size());
  for (const auto* entry : order) views.push_back(BuildOne(facts, entry->first, entry->second, as_of));
  // Per host, the two lineages observed last: each lineage sees the latest of the others (the
  // host's own sign of life for LineageNotObserved when its client sends no scheduler report).
  struct Latest {
    const LineageView* first = nullptr;
    const LineageView* second = nullptr;
    absl::Time first_at, second_at;
  };
  absl::flat_hash_map<std::string_view, Latest> by_host;
  for (const LineageView& v : views) {
    if (v.config.host.empty()) continue;
    const absl::Time at = LastObserved(v);
    Latest& l = by_host[v.config.host];
    if (!l.first || at > l.first_at) {
      l.second = l.first;
      l.second_at = l.first_at;
      l.first = &v;
      l.first_at = at;
    } else if (!l.second || at > l.second_at) {
      l.second = &v;
      l.second_at = at;
    }
  }
  for (LineageView& v : views) {
    if (v.config.host.empty()) continue;
    const Latest& l = by_host.at(v.config.host);
    const bool first = l.first == &v;
    const LineageView* other = first ? l.second : l.first;
    if (!other) continue;
    v.evidence.host_other_observed = first ? l.second_at : l.first_at;
    v.evidence.host_other = other->cert;
  }
  return views;
}

std::vector<LineageView> ViewsOfEvents(std::vector<Event> events, absl::Time as_of) {
  std::erase_if(events, [&](const Event& e) { return e.ts >= as_of; });
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.ts < b.ts; });
  FleetState fleet(/*with_features=*/false);
  // Sorted: Apply refuses nothing.
  for (const Event& e : events) fleet.Apply(e).IgnoreError();
  return BuildViews(fleet, as_of);
}

}  // namespace certcast::policy
