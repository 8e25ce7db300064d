// The facts part of the one fleet fold (fleet_facts.h).
#include "features/fleet_facts.h"

#include <algorithm>

#include "core/acme_error.h"
#include "core/strings.h"
#include "features/client_rule.h"
#include "features/window.h"

namespace certcast {
namespace {

// At most this many earlier certificates are kept to learn the client's actual renewal point: as
// many as the client rule reads (features/client_rule.h).
constexpr size_t kPreviousKept = kRenewalHistoryKept;

std::string StripAcmeUrn(const std::optional<std::string>& error) {
  return error ? std::string(AcmeErrorType(*error)) : std::string();
}

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

void AddSample(std::vector<Sample>& samples, absl::Time ts, double value) {
  PushWindow(samples, Sample{ts, value}, [&](const Sample& s) { return s.ts < ts - kTrendWindow; });
}

std::string HttpStatusError(const std::string& error, int64_t status) {
  return error.empty() ? "HTTP " + std::to_string(status)
                       : error + " (HTTP " + std::to_string(status) + ")";
}

void EndEpisode(LineageFacts& c) {
  c.episode_onset.reset();
  c.episode_failures = 0;
  c.episode_errors.clear();
}

void FoldIssued(LineageFacts& c, absl::Time ts, const IssuedEvent& e, IssuedRole role) {
  if (role == IssuedRole::kRepeat) return;
  c.serials.insert(e.serial);
  if (role == IssuedRole::kEarlier) return;
  if (c.current) {
    c.previous.insert(c.previous.begin(), {c.current->not_before, c.current->not_after});
    if (c.previous.size() > kPreviousKept) c.previous.pop_back();
  }
  c.current = e;
  c.current_recorded_at = ts;
  PushCapped(c.issue_times, ts, 64);
  EndEpisode(c);  // an issuance ends an episode: the lineage renewed
}

void FoldRenewal(LineageFacts& c, absl::Time ts, const RenewalEvent& e) {
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
    EndEpisode(c);
  } else {
    c.last_failure = a;
    if (!c.episode_onset) c.episode_onset = ts;
    ++c.episode_failures;
    ++c.episode_errors[a.error.empty() ? std::string("unknown") : a.error];
    PushCapped(c.recent_failures, ts, 16);
  }
}

void FoldDns(FleetFacts& facts, absl::Time ts, const DnsEvent& e, AddressChange* address) {
  NameFacts& n = facts.names[e.name];
  if (e.dnssec) n.dnssec = e.dnssec;
  if (e.rrsig_expires) n.rrsig_expires = e.rrsig_expires;
  switch (e.rtype) {
    case RecordType::kA:
    case RecordType::kAAAA: {
      if (e.rtype == RecordType::kA) n.a_rcode = e.rcode;
      if (e.rcode != Rcode::kNoError) break;  // a failed lookup says nothing about where it points
      const AddressChange change = ObserveAddresses(e.rtype == RecordType::kA ? n.a : n.aaaa, ts, e.values);
      if (address) *address = change;
      break;
    }
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
}

}  // namespace

std::string ServedKey(std::string_view endpoint, std::string_view sni) { return StrCat(endpoint, " ", sni); }

AddressChange ObserveAddresses(AddressFacts& s, absl::Time ts, const std::vector<std::string>& values) {
  AddressChange change;
  if (s.seen && s.values != values) {
    change.changed = true;
    change.moved = std::none_of(values.begin(), values.end(), [&](const std::string& v) { return s.known.count(v) > 0; });
    if (change.moved) {
      s.previous = s.values;
      s.changed_at = ts;
    }
  }
  s.known.insert(values.begin(), values.end());
  s.values = values;
  s.seen = true;
  return change;
}

IssuedRole ClassifyIssued(const LineageFacts* lineage, const IssuedEvent& e) {
  if (lineage == nullptr) return IssuedRole::kNew;
  if (lineage->serials.contains(e.serial)) return IssuedRole::kRepeat;
  if (lineage->current && e.not_before < lineage->current->not_before) return IssuedRole::kEarlier;
  return IssuedRole::kNew;
}

void FoldFacts(FleetFacts& facts, const Event& ev, IssuedRole role, AddressChange* address) {
  const absl::Time ts = ev.ts;
  switch (ev.type()) {
    case EventType::kConfig: {
      const auto& e = *ev.As<ConfigEvent>();
      LineageFacts& c = facts.certs[e.cert];
      c.has_config = true;
      c.config = e;
      c.config_at = ts;
      c.hosts.insert(e.host);
      break;
    }
    case EventType::kIssued: {
      const auto& e = *ev.As<IssuedEvent>();
      FoldIssued(facts.certs[e.cert], ts, e, role);
      break;
    }
    case EventType::kRenewal: {
      const auto& e = *ev.As<RenewalEvent>();
      FoldRenewal(facts.certs[e.cert], ts, e);
      break;
    }
    case EventType::kDeploy: {
      const auto& e = *ev.As<DeployEvent>();
      facts.certs[e.cert].deploys[e.host] = Deploy{e.host, ts, e.outcome, e.detail.value_or("")};
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
      std::string key = ServedKey(e.endpoint, e.sni);
      auto& served = e.cert ? facts.certs[*e.cert].served : facts.names[e.sni].served;
      auto [it, added] = served.try_emplace(std::move(key));
      Served& slot = it->second;
      if (!added && slot.serial != s.serial) {
        s.before_serial = std::move(slot.serial);
        s.before_probed_at = slot.probed_at;
      } else if (!added) {
        s.before_serial = std::move(slot.before_serial);
        s.before_probed_at = slot.before_probed_at;
      }
      slot = std::move(s);
      break;
    }
    case EventType::kDns:
      FoldDns(facts, ts, *ev.As<DnsEvent>(), address);
      break;
    case EventType::kHttp01Probe: {
      const auto& e = *ev.As<Http01ProbeEvent>();
      std::string error = e.error ? std::string(ToString(*e.error)) : "";
      if (e.status) error = HttpStatusError(error, *e.status);
      FailureStreak& streak = facts.names[e.name].http01[e.vantage.value_or("")];
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
      Observe(facts.names[e.name].dns01, ts, e.outcome == ProbeOutcome::kOk, e.error.value_or("error"), e.name);
      break;
    }
    case EventType::kCaProbe: {
      const auto& e = *ev.As<CaProbeEvent>();
      std::string error = e.error.value_or("");
      if (error.empty() && e.status) error = "HTTP " + std::to_string(*e.status);
      Observe(facts.cas[e.ca], ts, e.outcome == ProbeOutcome::kOk, error, e.ca);
      break;
    }
    case EventType::kAri: {
      const auto& e = *ev.As<AriEvent>();
      LineageFacts& c = facts.certs[e.cert];
      c.ari = e;
      c.ari_at = ts;
      break;
    }
    case EventType::kClock: {
      const auto& e = *ev.As<ClockEvent>();
      HostFacts& h = facts.hosts[e.host];
      AddSample(h.clock, ts, e.offset_ms);
      if (e.synced) h.synced = e.synced;
      break;
    }
    case EventType::kHost: {
      const auto& e = *ev.As<HostEvent>();
      HostFacts& h = facts.hosts[e.host];
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
      if (e.cert) facts.certs[*e.cert].credentials[e.kind] = c;
      else if (e.host) facts.hosts[*e.host].credentials[e.kind] = c;
      break;
    }
    case EventType::kDomain: {
      const auto& e = *ev.As<DomainEvent>();
      DomainFacts& d = facts.domains[e.name];
      if (e.expires) d.expires = e.expires;
      if (e.status) d.status = *e.status;
      break;
    }
  }
}

}  // namespace certcast
