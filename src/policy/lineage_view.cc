#include "policy/lineage_view.h"

#include <algorithm>
#include <deque>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "core/acme_error.h"
#include "core/strings.h"
#include "features/client_rule.h"
#include "features/domains.h"
#include "policy/lineage_view_state.h"

namespace certcast::policy {
namespace {

// Samples older than this before the newest one do not enter trend estimates: a drift or a disk
// trend is about the present, and two weeks covers the slowest trend worth acting on.
constexpr absl::Duration kTrendWindow = absl::Hours(24 * 14);
// At most this many earlier certificates are kept to learn the client's actual renewal point: as
// many as the client rule reads (features/client_rule.h).
constexpr size_t kPreviousKept = kRenewalHistoryKept;

std::string StripAcmeUrn(const std::optional<std::string>& error) {
  return error ? std::string(AcmeErrorType(*error)) : std::string();
}

std::string_view ProbeName(std::string_view name) {
  // events-v1: for a wildcard *.example.com the probes use example.com.
  if (name.substr(0, 2) == "*.") name.remove_prefix(2);
  return name;
}

// The key of a served result: one per (endpoint, SNI). Neither contains a space.
std::string ServedKey(std::string_view endpoint, std::string_view sni) { return StrCat(endpoint, " ", sni); }

void Observe(FailureStreak& s, absl::Time ts, bool ok, std::string error, std::string_view subject) {
  s.last = ts;
  if (ok) {
    s.count = 0;
    s.since.reset();
    s.error.clear();
    return;
  }
  if (s.count == 0) s.since = ts;
  ++s.count;
  s.error = std::move(error);
  s.subject = std::string(subject);
}

// The streak that says most about trouble: the longest-running current failure.
void KeepWorst(FailureStreak& into, const FailureStreak& candidate) {
  if (candidate.count == 0) return;
  if (into.count == 0 || (candidate.since && into.since && *candidate.since < *into.since) ||
      (candidate.count > into.count && candidate.since == into.since)) {
    into = candidate;
  }
}

void AddSample(std::deque<Sample>& samples, absl::Time ts, double value) {
  samples.push_back({ts, value});
  while (!samples.empty() && samples.front().ts < ts - kTrendWindow) samples.pop_front();
}

// Least-squares slope per day; nullopt with fewer than two samples or under a day of span.
std::optional<double> SlopePerDay(const std::deque<Sample>& samples) {
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


}  // namespace




struct FleetViewBuilder::State : FleetViewFacts {

  void AddIssued(CertState& c, absl::Time ts, const IssuedEvent& e) {
    if (c.current && c.current->serial == e.serial) return;
    c.serials.insert(e.serial);
    if (!c.current || e.not_after >= c.current->not_after) {
      if (c.current) {
        c.previous.insert(c.previous.begin(), {c.current->not_before, c.current->not_after});
        if (c.previous.size() > kPreviousKept) c.previous.pop_back();
      }
      c.current = e;
      c.current_recorded_at = ts;
    }
    c.issue_times.push_back(ts);
    while (c.issue_times.size() > 64) c.issue_times.pop_front();
    // An issuance ends an episode: the lineage renewed.
    c.episode_onset.reset();
    c.episode_failures = 0;
    c.episode_errors.clear();
  }

  void AddRenewal(CertState& c, absl::Time ts, const RenewalEvent& e) {
    Attempt a;
    a.at = ts;
    a.outcome = e.outcome;
    a.error = StripAcmeUrn(e.error);
    a.detail = e.detail.value_or("");
    a.challenge = e.challenge;
    a.ca = e.ca;
    a.dry_run = e.dry_run;
    a.trigger = e.trigger.value_or("");
    if (e.dry_run) {
      c.last_dry_run = a;
      return;
    }
    c.last_attempt = a;
    if (a.trigger != "forced") c.last_client_attempt = a;
    if (e.outcome == Outcome::kSuccess) {
      c.last_success = a;
      c.episode_onset.reset();
      c.episode_failures = 0;
      c.episode_errors.clear();
    } else {
      c.last_failure = a;
      if (!c.episode_onset) c.episode_onset = ts;
      ++c.episode_failures;
      ++c.episode_errors[a.error.empty() ? std::string("unknown") : a.error];
      c.recent_failures.push_back(ts);
      while (c.recent_failures.size() > 16) c.recent_failures.pop_front();
    }
  }

  void Add(const Event& ev) {
    ++added;
    const absl::Time ts = ev.ts;
    switch (ev.type()) {
      case EventType::kConfig: {
        const auto& e = *ev.As<ConfigEvent>();
        CertState& c = certs[e.cert];
        c.has_config = true;
        c.config = e;
        c.config_at = ts;
        c.hosts.insert(e.host);
        break;
      }
      case EventType::kIssued: {
        const auto& e = *ev.As<IssuedEvent>();
        AddIssued(certs[e.cert], ts, e);
        break;
      }
      case EventType::kRenewal: {
        const auto& e = *ev.As<RenewalEvent>();
        AddRenewal(certs[e.cert], ts, e);
        break;
      }
      case EventType::kDeploy: {
        const auto& e = *ev.As<DeployEvent>();
        certs[e.cert].deploys[e.host] =
            LineageView::Deploy{e.host, ts, e.outcome, e.detail.value_or("")};
        break;
      }
      case EventType::kTlsProbe: {
        const auto& e = *ev.As<TlsProbeEvent>();
        Served s;
        s.endpoint = e.endpoint;
        s.sni = e.sni;
        s.probed_at = ts;
        s.ok = e.outcome == ProbeOutcome::kOk;
        s.error = e.error;
        s.serial = e.serial.value_or("");
        s.not_after = e.not_after;
        const std::string key = ServedKey(e.endpoint, e.sni);
        if (e.cert) {
          certs[*e.cert].served[key] = std::move(s);
        } else {
          names[e.sni].served[key] = std::move(s);
        }
        break;
      }
      case EventType::kDns: {
        const auto& e = *ev.As<DnsEvent>();
        NameState& n = names[e.name];
        if (e.dnssec) n.dnssec = e.dnssec;
        if (e.rrsig_expires) n.rrsig_expires = e.rrsig_expires;
        auto address = [&](AddressState& s) {
          if (e.rcode != Rcode::kNoError) return;
          if (s.seen && s.values != e.values) {
            const bool novel = std::none_of(e.values.begin(), e.values.end(), [&](const std::string& v) {
              return s.known.count(v) > 0;
            });
            if (novel) {
              s.previous = s.values;
              s.changed_at = ts;
            }
          }
          s.known.insert(e.values.begin(), e.values.end());
          s.values = e.values;
          s.seen = true;
        };
        switch (e.rtype) {
          case RecordType::kA:
            n.a_rcode = e.rcode;
            address(n.a);
            break;
          case RecordType::kAAAA:
            address(n.aaaa);
            break;
          case RecordType::kCAA:
            n.caa_rcode = e.rcode;
            if (e.rcode == Rcode::kNoError) n.caa_values = e.values;
            break;
          case RecordType::kNS:
            if (e.rcode == Rcode::kNoError) {
              if (!n.ns_values.empty() && n.ns_values != e.values) n.ns_changed_at = ts;
              n.ns_values = e.values;
            }
            break;
          default:
            break;
        }
        break;
      }
      case EventType::kHttp01Probe: {
        const auto& e = *ev.As<Http01ProbeEvent>();
        std::string error = e.error ? std::string(ToString(*e.error)) : "";
        if (e.status) error = StrCatStatus(error, *e.status);
        FailureStreak& streak = names[e.name].http01[e.vantage.value_or("")];
        // A proof's wrong_content (api/http01_proof.h: a web server answers for the name, not with
        // this host's file) ends only when a body comes back (200): the server's plain probe at
        // 404 only says that some web server answers, which wrong_content already says.
        if (e.outcome == ProbeOutcome::kOk && e.status != 200 && streak.error.starts_with("wrong_content")) {
          streak.last = ts;
          break;
        }
        Observe(streak, ts, e.outcome == ProbeOutcome::kOk, error, e.name);
        break;
      }
      case EventType::kDns01Check: {
        const auto& e = *ev.As<Dns01CheckEvent>();
        Observe(names[e.name].dns01, ts, e.outcome == ProbeOutcome::kOk, e.error.value_or("error"),
                e.name);
        break;
      }
      case EventType::kCaProbe: {
        const auto& e = *ev.As<CaProbeEvent>();
        std::string error = e.error.value_or("");
        if (error.empty() && e.status) error = "HTTP " + std::to_string(*e.status);
        Observe(cas[e.ca], ts, e.outcome == ProbeOutcome::kOk, error, e.ca);
        break;
      }
      case EventType::kAri: {
        const auto& e = *ev.As<AriEvent>();
        CertState& c = certs[e.cert];
        c.ari = e;
        c.ari_at = ts;
        break;
      }
      case EventType::kClock: {
        const auto& e = *ev.As<ClockEvent>();
        HostState& h = hosts[e.host];
        AddSample(h.clock, ts, e.offset_ms);
        if (e.synced) h.synced = e.synced;
        break;
      }
      case EventType::kHost: {
        const auto& e = *ev.As<HostEvent>();
        HostState& h = hosts[e.host];
        if (e.disk_free_bytes) {
          h.disk_free = e.disk_free_bytes;
          AddSample(h.disk, ts, static_cast<double>(*e.disk_free_bytes));
        }
        if (e.disk_total_bytes) h.disk_total = e.disk_total_bytes;
        if (e.scheduler_last_run) h.scheduler_last_run = e.scheduler_last_run;
        if (e.event) {
          h.changed_at = ts;
          h.change = *e.event;
        }
        break;
      }
      case EventType::kCredential: {
        const auto& e = *ev.As<CredentialEvent>();
        Credential c{e.kind, e.expires, e.present, ts};
        if (e.cert) certs[*e.cert].credentials[e.kind] = c;
        else if (e.host) hosts[*e.host].credentials[e.kind] = c;
        break;
      }
      case EventType::kDomain: {
        const auto& e = *ev.As<DomainEvent>();
        DomainState& d = domains[e.name];
        if (e.expires) d.expires = e.expires;
        if (e.status) d.status = *e.status;
        break;
      }
    }
  }

  static std::string StrCatStatus(const std::string& error, int64_t status) {
    return error.empty() ? "HTTP " + std::to_string(status)
                         : error + " (HTTP " + std::to_string(status) + ")";
  }

  LineageView BuildOne(const std::string& cert, const CertState& c, absl::Time as_of) const {
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
      if (auto it = names.find(raw); it != names.end()) {
        for (const auto& [key, s] : it->second.served) served.emplace(key, s);
      }
      const std::string name(ProbeName(raw));
      if (auto it = names.find(name); it != names.end()) {
        const NameState& n = it->second;
        if (name != raw) {
          for (const auto& [key, s] : n.served) served.emplace(key, s);
        }
        for (const auto& [vantage, streak] : n.http01) KeepWorst(ev.http01, streak);
        KeepWorst(ev.dns01, n.dns01);
        if (n.a_rcode == Rcode::kNxDomain && ev.nxdomain_name.empty()) ev.nxdomain_name = name;
        for (const AddressState* s : {&n.a, &n.aaaa}) {
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
        if (auto it = domains.find(registered); it != domains.end()) {
          if (it->second.expires && (!ev.domain_expires || *it->second.expires < *ev.domain_expires)) {
            ev.domain_expires = it->second.expires;
            ev.domain_name = registered;
            ev.domain_status = it->second.status;
          }
        }
      }
    }
    for (auto& [key, s] : served) {
      if (!s.serial.empty() && !c.serials.contains(s.serial)) continue;
      s.host = host_of(s.endpoint);
      v.served.push_back(s);
    }
    if (auto it = cas.find(c.config.ca); it != cas.end()) ev.ca = it->second;
    for (const std::string& alt : c.config.alt_cas) {
      if (auto it = cas.find(alt); it != cas.end()) ev.alt_ca[alt] = it->second;
      else ev.alt_ca[alt] = FailureStreak{};
    }
    std::map<CredentialKind, Credential> credentials;
    if (auto it = hosts.find(c.config.host); it != hosts.end()) {
      const HostState& h = it->second;
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

  static std::string StrJoinValues(const std::vector<std::string>& values) {
    std::string out;
    for (const auto& v : values) {
      if (!out.empty()) out += ",";
      out += v;
    }
    return out.empty() ? "(none)" : out;
  }
};

FleetViewBuilder::FleetViewBuilder() : state_(std::make_unique<State>()) {}
FleetViewBuilder::~FleetViewBuilder() = default;
FleetViewBuilder::FleetViewBuilder(FleetViewBuilder&&) noexcept = default;
FleetViewBuilder& FleetViewBuilder::operator=(FleetViewBuilder&&) noexcept = default;

void FleetViewBuilder::Add(const Event& event) { state_->Add(event); }

int64_t FleetViewBuilder::events_added() const { return state_->added; }

const FleetViewFacts& FleetViewBuilder::facts() const { return *state_; }

void FleetViewBuilder::Replace(FleetViewFacts facts) {
  state_ = std::make_unique<State>();
  static_cast<FleetViewFacts&>(*state_) = std::move(facts);
}

std::vector<LineageView> FleetViewBuilder::Build(absl::Time as_of) const {
  std::vector<const std::pair<const std::string, CertState>*> order;
  order.reserve(state_->certs.size());
  for (const auto& entry : state_->certs) {
    if (entry.second.has_config) order.push_back(&entry);
  }
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->first < b->first; });
  std::vector<LineageView> views;
  views.reserve(order.size());
  for (const auto* entry : order) views.push_back(state_->BuildOne(entry->first, entry->second, as_of));
  return views;
}

}  // namespace certcast::policy
