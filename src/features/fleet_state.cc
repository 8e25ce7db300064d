// FleetState: folds events (in ts order) into lineage states and per-name/host/CA telemetry.
#include "features/fleet_state.h"

#include <algorithm>
#include <cctype>

#include "core/acme_error.h"
#include "core/strings.h"
#include "core/time.h"
#include "features/client_rule.h"
#include "features/window.h"
#include "features/domains.h"

namespace certcast {

namespace {

constexpr double kHttp01Tau = 3.0;
constexpr double kCaTau = 2.0;
constexpr double kFleetTau = 3.0;
constexpr double kFailureTau = 14.0;
constexpr double kDryRunTau = 7.0;

bool BadRcode(Rcode r) { return r != Rcode::kNoError; }

// --- DiagnosisFacts: the fold of the facts the policy diagnoses (fleet_state.h) ---
constexpr double kPrematureTau = 3.0;
constexpr double kPrematureElapsed = 0.25;  // of the replaced certificate's lifetime

void NotePrematureIssuance(DiagnosisFacts& d, const IssuedEvent& replaced, double t) {
  const double nb = ToDays(replaced.not_before), na = ToDays(replaced.not_after);
  if (na <= nb) return;
  if ((t - nb) / (na - nb) < kPrematureElapsed) d.premature_issuances.Add(t, 1, kPrematureTau);
}

void NoteFailedAttempt(DiagnosisFacts& d, std::string_view error, double t) {
  if (ClassifyAcmeError(error) == AcmeErrorClass::kRateLimited) d.rate_limited_days = t;
  if (IsValidationFailure(error)) {
    PushWindow(d.failed_validations, t, [&](double v) { return v < t - 1.0 / 24; });
  }
}

}  // namespace

bool InEpisode(const LineageState& state) { return state.episode_onset.has_value(); }

std::optional<absl::Time> RenewalDueTime(const LineageState& state) {
  ClientRuleInput in;
  if (state.config) in.config = &*state.config;
  if (state.issued) in.current = &*state.issued;
  in.current_recorded_at = state.issued_ts;
  if (state.ari) in.ari = &*state.ari;
  in.ari_recorded_at = state.ari_ts;
  in.previous = state.previous_certificates;
  return ClientRenewalDueTime(in);
}

std::optional<absl::Time> NextScheduledAttempt(const LineageState& state, absl::Time at) {
  std::optional<absl::Time> due = RenewalDueTime(state);
  if (!due) return std::nullopt;
  absl::Time next = std::max(*due, at);
  const Client client = state.config ? state.config->client : Client::kOther;
  if (state.consecutive_failures > 0 && state.last_failure) {
    const absl::Duration backoff = ClientRetryInterval(client, state.consecutive_failures);
    next = std::max(next, state.last_failure->ts + backoff);
  }
  return next;
}

// ---------------------------------------------------------------------------------------------
FleetStateImpl::FleetStateImpl(bool features) : with_features(features) {}

size_t FleetStateImpl::LineageFor(const std::string& cert) {
  auto [it, inserted] = lineage_index.try_emplace(cert, lineages.size());
  if (inserted) {
    lineages.emplace_back().cert = cert;
    extras.emplace_back();
  }
  return it->second;
}

size_t FleetStateImpl::NameFor(std::string_view name) {
  name = ProbeName(name);
  auto it = name_index.find(std::string(name));
  if (it != name_index.end()) return it->second;
  name_index.emplace(std::string(name), names.size());
  names.emplace_back().name = std::string(name);
  return names.size() - 1;
}

size_t FleetStateImpl::HostFor(const std::string& host) {
  auto [it, inserted] = host_index.try_emplace(host, hosts.size());
  if (inserted) {
    HostTelemetry& h = hosts.emplace_back();
    h.name = host;
    const std::string org = OrganisationOfHost(host);
    auto [oit, new_org] = organisation_index.try_emplace(org, organisations.size());
    if (new_org) organisations.emplace_back();
    h.organisation = oit->second;
  }
  return it->second;
}

size_t FleetStateImpl::CaFor(const std::string& url) {
  auto [it, inserted] = ca_index.try_emplace(url, cas.size());
  if (inserted) {
    CaTelemetry& ca = cas.emplace_back();
    ca.url = url;
    ca.host = UrlHost(url);
    ca.caa_identity = RegisteredDomain(ca.host);
  }
  return it->second;
}

size_t FleetStateImpl::RegisteredDomainFor(const std::string& domain_name) {
  auto [it, inserted] = registered_domain_index.try_emplace(domain_name, registered_domains.size());
  if (inserted) registered_domains.emplace_back().name = domain_name;
  return it->second;
}

void FleetStateImpl::ApplyConfig(absl::Time ts, const ConfigEvent& e) {
  const size_t li = LineageFor(e.cert);
  LineageState& s = lineages[li];
  LineageExtra& x = extras[li];
  const double t = ToDays(ts);
  if (s.config && (s.config->client != e.client || s.config->client_version != e.client_version)) {
    x.config_client_change_days = t;
  }
  if (!s.config) s.first_config_ts = ts;
  // Re-index names and host only when they change (configs are re-emitted unchanged often).
  const bool names_changed = !s.config || s.config->names != e.names;
  const bool host_changed = !s.config || s.config->host != e.host;
  if (host_changed) {
    if (x.host != SIZE_MAX) std::erase(hosts[x.host].lineages, li);
    x.host = HostFor(e.host);
    hosts[x.host].lineages.push_back(li);
  }
  x.ca = CaFor(e.ca);
  if (names_changed) {
    if (s.config) {
      for (const std::string& n : s.config->names) std::erase(lineages_by_name[std::string(ProbeName(n))], li);
    }
    x.names.clear();
    x.registered_domains.clear();
    for (const std::string& n : e.names) {
      x.names.push_back(NameFor(n));
      lineages_by_name[std::string(ProbeName(n))].push_back(li);
      const size_t rd = RegisteredDomainFor(RegisteredDomain(n));
      if (std::find(x.registered_domains.begin(), x.registered_domains.end(), rd) == x.registered_domains.end()) {
        x.registered_domains.push_back(rd);
      }
    }
    std::vector<std::string> sorted = e.names;
    std::sort(sorted.begin(), sorted.end());
    auto [it, inserted] = name_set_index.try_emplace(StrJoin(sorted, ","), name_sets.size());
    if (inserted) name_sets.emplace_back();
    x.name_set = it->second;
  }
  s.config = e;
  s.config_ts = ts;
}

void FleetStateImpl::RememberHostAddresses(size_t li) {
  const LineageExtra& x = extras[li];
  if (x.host == SIZE_MAX) return;
  HostTelemetry& h = hosts[x.host];
  for (size_t ni : x.names) {
    for (const std::string& a : names[ni].a_values) h.known_addresses.insert(a);
    for (const std::string& a : names[ni].aaaa_values) h.known_addresses.insert(a);
  }
}

void FleetStateImpl::ApplyIssued(absl::Time ts, const IssuedEvent& e, IssuedRole role) {
  const size_t li = LineageFor(e.cert);
  // The one rule (fleet_facts.h): a repeat or an earlier certificate reported late is not a renewal.
  if (role != IssuedRole::kNew) return;
  LineageState& s = lineages[li];
  LineageExtra& x = extras[li];
  if (s.issued) {
    s.previous_certificates.insert(s.previous_certificates.begin(),
                                   {s.issued->not_before, s.issued->not_after});
    if (s.previous_certificates.size() > kRenewalHistoryKept) s.previous_certificates.pop_back();
  }
  const double t = ToDays(ts);
  if (s.issued) NotePrematureIssuance(x.diagnosis, *s.issued, t);
  s.issued = e;
  s.issued_ts = ts;
  ++s.issued_count;
  s.episode_onset.reset();
  s.consecutive_failures = 0;
  for (size_t rd : x.registered_domains) {
    PushWindow(registered_domains[rd].issued_days, t, [&](double v) { return v < t - 7; });
  }
  if (x.name_set != SIZE_MAX) {
    PushWindow(name_sets[x.name_set].issued_days, t, [&](double v) { return v < t - 7; });
  }
  RememberHostAddresses(li);
}

void FleetStateImpl::ApplyRenewal(absl::Time ts, const RenewalEvent& e) {
  const size_t li = LineageFor(e.cert);
  LineageState& s = lineages[li];
  LineageExtra& x = extras[li];
  const double t = ToDays(ts);
  AttemptRecord rec{ts, e.outcome, e.error.value_or(""), e.dry_run, e.challenge,
                    e.ca.value_or(s.config ? s.config->ca : "")};
  if (s.recent_attempts.size() == LineageState::kRecentAttempts) s.recent_attempts.erase(s.recent_attempts.begin());
  s.recent_attempts.push_back(rec);
  x.attempts.Add(t, 1, 1.0);
  const bool failed = e.outcome == Outcome::kFailure;
  if (failed) {
    (IsValidationFailure(rec.error) ? x.validation_failures : x.other_failures).Add(t, 1, kFailureTau);
  }
  if (e.dry_run) {
    s.last_dry_run = rec;
    if (failed) x.dry_run_failures.Add(t, 1, kDryRunTau);
    return;
  }
  const std::string& ca_url = rec.ca;
  if (!ca_url.empty()) cas[CaFor(ca_url)].fleet_renewals.Add(t, failed, kFleetTau);
  if (failed) NoteFailedAttempt(x.diagnosis, rec.error, t);
  if (failed) {
    s.last_failure = rec;
    ++s.consecutive_failures;
    if (!s.episode_onset) {
      s.episode_onset = ts;
      ++s.episodes;
      x.last_episode_onset_days = t;
    }
  } else {
    s.last_success = rec;
    s.consecutive_failures = 0;
    s.episode_onset.reset();
    RememberHostAddresses(li);
  }
}

void FleetStateImpl::ApplyTlsProbe(absl::Time ts, const TlsProbeEvent& e) {
  const int64_t day = DayIndex(ts);
  const bool error = e.outcome == ProbeOutcome::kError;
  NameTelemetry& n = names[NameFor(e.sni)];
  n.tls_error_days.Add(day, error);
  auto update = [&](size_t li) {
    LineageState& s = lineages[li];
    if (e.serial) {
      s.served_serial = e.serial;
      s.served_not_after = e.not_after;
      s.served_ts = ts;
    }
  };
  if (e.cert) {
    update(LineageFor(*e.cert));
  } else if (auto it = lineages_by_name.find(std::string(ProbeName(e.sni))); it != lineages_by_name.end()) {
    for (size_t li : it->second) update(li);
  }
}

void FleetStateImpl::ApplyDns(absl::Time ts, const DnsEvent& e, const AddressChange& address) {
  NameTelemetry& n = names[NameFor(e.name)];
  const double t = ToDays(ts);
  const int64_t day = DayIndex(ts);
  if (e.dnssec) n.dnssec_bogus_days.Add(day, e.dnssec == Dnssec::kBogus);
  if (e.rrsig_expires) n.rrsig_expires_days = ToDays(*e.rrsig_expires);
  switch (e.rtype) {
    case RecordType::kA:
    case RecordType::kAAAA: {
      const bool bad = BadRcode(e.rcode);
      n.address_error_days.Add(day, bad);
      n.last_address_rcode_bad = bad;
      if (bad) break;  // a failed lookup says nothing about where the name points
      auto& values = e.rtype == RecordType::kA ? n.a_values : n.aaaa_values;
      bool& seen = e.rtype == RecordType::kA ? n.a_seen : n.aaaa_seen;
      if (address.changed) n.address_change_days = t;  // ObserveAddresses: the one rule
      values = e.values;
      seen = true;
      break;
    }
    case RecordType::kNS: {
      if (BadRcode(e.rcode)) break;
      std::string key = StrJoin(e.values, ",");
      if (!n.ns_key.empty() && n.ns_key != key) n.ns_change_days = t;
      n.ns_key = std::move(key);
      break;
    }
    case RecordType::kCAA: {
      if (e.rcode == Rcode::kServFail || e.rcode == Rcode::kTimeout || e.rcode == Rcode::kRefused) {
        // A CAA lookup that fails makes the CA refuse issuance (RFC 8659 section 3).
        n.address_error_days.Add(day, true);
        break;
      }
      if (n.caa_seen && n.caa_values != e.values) n.caa_change_days = t;
      n.caa_values = e.values;
      n.caa_seen = true;
      break;
    }
    default: break;
  }
}

Status FleetStateImpl::Apply(const Event& event) {
  if (event.ts < watermark) {
    return InvalidArgumentError(StrCat("event at ", FormatRfc3339(event.ts), " is older than ",
                                       FormatRfc3339(watermark), ": feed events in ts order"));
  }
  watermark = event.ts;
  // The facts first (the policy's), then the accumulators (the model's), each rule decided once.
  IssuedRole role = IssuedRole::kNew;
  if (const auto* issued = event.As<IssuedEvent>()) {
    auto it = facts.certs.find(issued->cert);
    role = ClassifyIssued(it == facts.certs.end() ? nullptr : &it->second, *issued);
  }
  AddressChange address;
  FoldFacts(facts, event, role, &address);
  if (!with_features) return OkStatus();
  const absl::Time ts = event.ts;
  const double t = ToDays(ts);
  const int64_t day = DayIndex(ts);
  std::visit(
      [&](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, ConfigEvent>) {
          ApplyConfig(ts, e);
        } else if constexpr (std::is_same_v<T, IssuedEvent>) {
          ApplyIssued(ts, e, role);
        } else if constexpr (std::is_same_v<T, RenewalEvent>) {
          ApplyRenewal(ts, e);
        } else if constexpr (std::is_same_v<T, DeployEvent>) {
          const size_t li = LineageFor(e.cert);
          lineages[li].last_deploy = e;
          lineages[li].last_deploy_ts = ts;
          if (e.outcome == Outcome::kFailure) extras[li].deploy_failed_days = t;
        } else if constexpr (std::is_same_v<T, TlsProbeEvent>) {
          ApplyTlsProbe(ts, e);
        } else if constexpr (std::is_same_v<T, DnsEvent>) {
          ApplyDns(ts, e, address);
        } else if constexpr (std::is_same_v<T, Http01ProbeEvent>) {
          NameTelemetry& n = names[NameFor(e.name)];
          const bool failed = e.outcome == ProbeOutcome::kError;
          n.http01_days.Add(day, failed);
          n.http01_rate.Add(t, failed, kHttp01Tau);
          int& run = n.http01_consecutive_failures[e.vantage.value_or("")];
          // As the policy's view (lineage_view.cc): a run of a proof's wrong_content ends only
          // when a body comes back (200), not at a plain probe's 404.
          const bool wrong_content_run = run > 0 && n.http01_last_error == "wrong_content";
          if (failed) {
            ++run;
          } else if (!wrong_content_run || e.status == 200) {
            run = 0;
          }
          if (failed) n.http01_last_error = e.error ? std::string(ToString(*e.error)) : "error";
        } else if constexpr (std::is_same_v<T, Dns01CheckEvent>) {
          NameTelemetry& n = names[NameFor(e.name)];
          const bool failed = e.outcome == ProbeOutcome::kError;
          n.dns01_days.Add(day, failed);
          n.dns01_rate.Add(t, failed, kHttp01Tau);
          n.dns01_consecutive_failures = failed ? n.dns01_consecutive_failures + 1 : 0;
          if (e.propagation_ms) n.dns01_propagation.Add(t, *e.propagation_ms);
        } else if constexpr (std::is_same_v<T, CaProbeEvent>) {
          CaTelemetry& ca = cas[CaFor(e.ca)];
          ca.probe_rate.Add(t, e.outcome == ProbeOutcome::kError, kCaTau);
          ca.probe_days.Add(day, e.outcome == ProbeOutcome::kError);
          if (e.latency_ms) ca.latency.Add(t, *e.latency_ms);
        } else if constexpr (std::is_same_v<T, AriEvent>) {
          const size_t li = LineageFor(e.cert);
          lineages[li].ari = e;
          lineages[li].ari_ts = ts;
        } else if constexpr (std::is_same_v<T, ClockEvent>) {
          HostTelemetry& h = hosts[HostFor(e.host)];
          h.has_clock = true;
          h.clock_offset_ms = e.offset_ms;
          h.clock_trend.Add(t, e.offset_ms / 1000.0, 3.0);
          if (e.synced) h.clock_synced = e.synced;
        } else if constexpr (std::is_same_v<T, HostEvent>) {
          HostTelemetry& h = hosts[HostFor(e.host)];
          if (e.disk_free_bytes && e.disk_total_bytes && *e.disk_total_bytes > 0) {
            h.has_disk = true;
            h.disk_free_fraction = static_cast<double>(*e.disk_free_bytes) / *e.disk_total_bytes;
            h.disk_trend.Add(t, h.disk_free_fraction, 7.0);
          }
          if (e.scheduler_last_run) h.scheduler_last_run_days = ToDays(*e.scheduler_last_run);
          if (e.client_version) {
            if (!h.client_version.empty() && h.client_version != *e.client_version) h.client_version_change_days = t;
            h.client_version = *e.client_version;
          }
          if (e.event) h.host_events.Add(t, 1, 3.0);
        } else if constexpr (std::is_same_v<T, CredentialEvent>) {
          const double expires = e.expires ? ToDays(*e.expires) : 1e300;
          const bool missing = e.present.has_value() && !*e.present;
          if (e.cert) {
            extras[LineageFor(*e.cert)].credentials.Set(e.kind, expires, missing);
          } else if (e.host) {
            const size_t hi = HostFor(*e.host);
            hosts[hi].credentials.Set(e.kind, expires, missing);
            organisations[hosts[hi].organisation].Set(e.kind, expires, missing);
          }
        } else if constexpr (std::is_same_v<T, DomainEvent>) {
          RegisteredDomainTelemetry& d = registered_domains[RegisteredDomainFor(e.name)];
          if (e.expires) d.expires_days = ToDays(*e.expires);
          if (e.status) {
            std::string s = *e.status;
            for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            d.status_bad = s.find("hold") != std::string::npos || s.find("expired") != std::string::npos ||
                           s.find("redemption") != std::string::npos || s.find("pending") != std::string::npos ||
                           s.find("inactive") != std::string::npos;
          }
        }
      },
      event.body);
  return OkStatus();
}

// ---------------------------------------------------------------------------------------------
FleetState::FleetState(bool with_features) : impl_(std::make_unique<FleetStateImpl>(with_features)) {}
FleetState::~FleetState() = default;
FleetState::FleetState(FleetState&&) noexcept = default;
FleetState& FleetState::operator=(FleetState&&) noexcept = default;

Status FleetState::Apply(const Event& event) { return impl_->Apply(event); }

Status FleetState::AdvanceTo(std::span<const Event> events, absl::Time at, size_t* cursor) {
  size_t i = *cursor;
  for (; i < events.size() && events[i].ts < at; ++i) {
    Status s = impl_->Apply(events[i]);
    if (!s.ok()) {
      *cursor = i;
      return s;
    }
  }
  *cursor = i;
  return OkStatus();
}

absl::Time FleetState::watermark() const { return impl_->watermark; }
bool FleetState::with_features() const { return impl_->with_features; }
const FleetFacts& FleetState::facts() const { return impl_->facts; }
size_t FleetState::lineage_count() const { return impl_->lineages.size(); }
const LineageState& FleetState::lineage(size_t index) const { return impl_->lineages[index]; }
const LineageState* FleetState::Find(std::string_view cert) const {
  auto it = impl_->lineage_index.find(std::string(cert));
  return it == impl_->lineage_index.end() ? nullptr : &impl_->lineages[it->second];
}
std::optional<size_t> FleetState::IndexOf(std::string_view cert) const {
  auto it = impl_->lineage_index.find(std::string(cert));
  if (it == impl_->lineage_index.end()) return std::nullopt;
  return it->second;
}

}  // namespace certcast
