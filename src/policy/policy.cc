#include "policy/policy.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/acme_error.h"
#include "core/strings.h"
#include "core/utf8.h"
#include "core/time.h"
#include "features/client_rule.h"
#include "features/domains.h"

namespace certcast::policy {
namespace {


std::string Ts(absl::Time t) { return FormatRfc3339(t); }

// "3.5 d" / "14 h": spans as a person reads them in a reason.
std::string Span(absl::Duration d) {
  if (d < absl::ZeroDuration()) return StrCat("-", Span(-d));
  if (d >= absl::Hours(48)) return StrCat(std::round(absl::ToDoubleHours(d) / 2.4) / 10, " d");
  if (d >= absl::Hours(1)) return StrCat(std::round(absl::ToDoubleHours(d) * 10) / 10, " h");
  return StrCat(static_cast<int64_t>(absl::ToDoubleMinutes(d)), " min");
}

bool HasWildcard(const LineageView& v) {
  return std::any_of(v.config.names.begin(), v.config.names.end(),
                     [](const std::string& n) { return n.rfind("*.", 0) == 0; });
}

bool Contains(const std::vector<Challenge>& list, Challenge c) {
  return std::find(list.begin(), list.end(), c) != list.end();
}

absl::Duration Lifetime(const IssuedEvent& c) { return c.not_after - c.not_before; }

bool AriWindowIsCurrent(const LineageView& v) {
  return v.ari && v.current && v.ari_at >= v.current_recorded_at &&
         v.ari->window_end > v.ari->window_start;
}

// ---- Diagnosis ----

Diagnosis Make(Cause cause, Confidence confidence, std::string evidence, bool transient = false) {
  Diagnosis d;
  d.cause = cause;
  d.confidence = confidence;
  d.evidence = std::move(evidence);
  d.transient = transient;
  switch (cause) {
    case Cause::kNone: break;
    case Cause::kDnsPointing:
      d.fix = "point the name's A/AAAA records back at the host (or move the ACME client), or "
              "switch to dns-01";
      break;
    case Cause::kHttp01Unreachable:
      d.fix = "open port 80 to the CA's validation servers (all vantage points), fix the redirect "
              "or webroot, or switch to dns-01 / tls-alpn-01";
      break;
    case Cause::kDns01Automation:
      d.fix = "rotate the DNS API credential, restore the _acme-challenge delegation or raise the "
              "propagation wait, or switch to http-01";
      break;
    case Cause::kLocalClient:
      d.fix = "re-enable the client's timer/cron, free disk space, fix permissions or the client "
              "runtime, and persist its state";
      break;
    case Cause::kNotServed:
      d.fix = "reload or redeploy the server and fix the client's deploy hook";
      break;
    case Cause::kRateLimited:
      d.fix = "stop the retry or redeploy loop and wait for the limit to refill; use ARI "
              "renewals (exempt) and keep the identifier set";
      break;
    case Cause::kCaaDnssec:
      d.fix = "fix the CAA records to allow the CA (or switch to a permitted CA), or fix DNSSEC "
              "signing";
      break;
    case Cause::kCaSide:
      d.fix = "retry later or fail over to another ACME CA; upgrade or reconfigure the client if "
              "the CA changed profiles or lifetimes";
      break;
    case Cause::kAccount:
      d.fix = "re-register the ACME account or obtain a new EAB credential";
      break;
    case Cause::kClock:
      d.fix = "fix time synchronisation (NTP) on the host";
      break;
    case Cause::kUnknown:
    case Cause::kTransient:
    case Cause::kLifetimeConfig:
      d.fix = "read the client's log for the failing attempt";
      break;
  }
  return d;
}

Diagnosis HardFact(Diagnosis d, std::string scope = "") {
  d.hard_fact = true;
  d.scope = std::move(scope);
  return d;
}

bool ClockHarmful(const Evidence& e, const PolicyConfig& config) {
  return e.clock_offset_ms && std::abs(*e.clock_offset_ms) > config.clock_harm_ms;
}

// RFC 8659 through the one evaluation (features/domains.h): an order for the lineage's names is
// refused when the CAA set forbids the CA for any of them, a wildcard name by its issuewild
// properties, another name by its issue properties.
bool CaaForbids(const LineageView& v, const std::string& ca) {
  if (v.evidence.caa_values.empty()) return false;
  const bool any_wildcard = HasWildcard(v);
  const bool any_plain = std::any_of(v.config.names.begin(), v.config.names.end(),
                                     [](const std::string& n) { return !n.starts_with("*."); });
  return ((any_plain || !any_wildcard) && !CaaAllowsCa(v.evidence.caa_values, ca, false).permitted) ||
         (any_wildcard && !CaaAllowsCa(v.evidence.caa_values, ca, true).permitted);
}

// Cause of a failed attempt, from its error and the evidence around it.
Diagnosis FromAttempt(const Attempt& a, const LineageView& v, Challenge challenge,
                      const std::string& ca, const PolicyConfig& config, std::string prefix) {
  const Evidence& e = v.evidence;
  const std::string& err = a.error;
  std::string detail = a.detail.empty() ? "" : StrCat(" (", ToValidUtf8(a.detail, 160), ")");
  const std::string what = StrCat(prefix, " with ", err.empty() ? "no error code" : err, " via ",
                                  ToString(a.challenge.value_or(challenge)), detail);
  std::string lower = a.detail;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  const Challenge used = a.challenge.value_or(challenge);
  auto with = [&](Cause cause, std::string extra = "", bool transient = false) {
    return Make(cause, Confidence::kConfirmed, what + extra, transient);
  };
  const AcmeErrorClass error_class = ClassifyAcmeError(err);
  if (error_class == AcmeErrorClass::kRateLimited) return with(Cause::kRateLimited);
  if (error_class == AcmeErrorClass::kCaa) {
    return with(Cause::kCaaDnssec, CaaForbids(v, a.ca.value_or(ca))
                                       ? StrCat("; CAA of ", e.caa_name, " does not allow this CA")
                                       : "");
  }
  if (error_class == AcmeErrorClass::kAccount ||
      lower.find("external account") != std::string::npos ||
      lower.find("account key") != std::string::npos) {
    return with(Cause::kAccount);
  }
  if (ClockHarmful(e, config) && ClockCanCause(err)) {
    return with(Cause::kClock, StrCat("; host clock is off by ", *e.clock_offset_ms / 1000, " s"));
  }
  if (error_class == AcmeErrorClass::kDnsApi) return with(Cause::kDns01Automation);
  if (error_class == AcmeErrorClass::kLocal) {
    return with(Cause::kLocalClient);
  }
  if (err == "timeout" && used == Challenge::kDns01 &&
      (lower.find("ns ") != std::string::npos || lower.find("propagat") != std::string::npos ||
       lower.find("txt") != std::string::npos)) {
    return with(Cause::kDns01Automation, "; the TXT record did not propagate in time");
  }
  if (error_class == AcmeErrorClass::kTransient) {
    std::string extra;
    if (e.ca.count > 0) extra = StrCat("; CA probes failing since ", Ts(*e.ca.since));
    return with(Cause::kCaSide, extra, /*transient=*/true);
  }
  if (error_class == AcmeErrorClass::kRequestRefused) {
    return with(Cause::kCaSide, "; the CA refuses the client's request options");
  }
  if (error_class == AcmeErrorClass::kValidation) {
    if (!e.nxdomain_name.empty()) {
      return with(Cause::kDnsPointing, StrCat("; ", e.nxdomain_name, " is NXDOMAIN"));
    }
    if (e.dnssec_bogus || e.caa_servfail) {
      return with(Cause::kCaaDnssec, "; DNSSEC validation / CAA lookup fails (SERVFAIL)");
    }
    if (used == Challenge::kDns01) {
      std::string extra;
      if (e.dns01.count > 0) extra = StrCat("; DNS-01 check failing since ", Ts(*e.dns01.since));
      return with(Cause::kDns01Automation, extra);
    }
    if (!e.address_changed_name.empty()) {
      return with(Cause::kDnsPointing,
                  StrCat("; ", e.address_changed_name, " moved from ", e.address_before, " to ",
                         e.address_after, " at ", Ts(*e.address_changed_at)));
    }
    std::string extra;
    if (e.http01.count > 0) {
      extra = StrCat("; HTTP-01 probe of ", e.http01.subject, " failing since ",
                     Ts(*e.http01.since), " (", e.http01.error, ")");
    }
    return with(Cause::kHttp01Unreachable, extra);
  }
  if (ClockHarmful(e, config)) {
    return with(Cause::kClock, StrCat("; host clock is off by ", *e.clock_offset_ms / 1000, " s"));
  }
  return with(Cause::kUnknown);
}

bool Persistent(const FailureStreak& s, const PolicyConfig& config) {
  return s.count >= 2 && s.since && s.last - *s.since >= config.probe_persistence;
}

}  // namespace

Status ApplyTimeScale(PolicyConfig& c) {
  if (!(c.time_scale >= 1) || !std::isfinite(c.time_scale)) {
    return InvalidArgumentError(
        StrCat("policy.time_scale: expected a number >= 1 (1 = real time), got ", c.time_scale));
  }
  if (c.time_scale == 1) return OkStatus();
  for (absl::Duration* d :
       {&c.reload_grace, &c.safety_net_max, &c.overdue_grace, &c.forecast_renew_lead,
        &c.hazard_alert_horizon, &c.hazard_renew_horizon, &c.hazard_human_time,
        &c.failing_alert_after, &c.renew_retry_interval, &c.dry_run_interval,
        &c.reload_retry_interval, &c.probe_persistence, &c.ca_outage_persistence,
        &c.safety_net_slack, &c.urgent_expiry, &c.reload_settle, &c.observation_lapse}) {
    *d = *d / c.time_scale;
  }
  return OkStatus();
}

// Whether the lineage's config was reported after certcast's switch, i.e. the client's own
// configuration speaks again. Config events carry whole seconds (discover stamps a file's mtime
// without its fraction, so rediscovering a file dedupes) and the switch the decision's instant: a
// config file written in the switch's second was written by the switched renewal itself (lego
// rewrites its certificate JSON), so it counts as after the switch.
namespace {
bool ConfigAfterSwitch(const LineageView& v, const LineageMemory& m) {
  return m.switched_at &&
         v.config_at >= absl::UnixEpoch() + absl::Floor(*m.switched_at - absl::UnixEpoch(), absl::Seconds(1));
}
}  // namespace

Challenge EffectiveChallenge(const LineageView& v, const LineageMemory& m) {
  if (m.switched_challenge && !ConfigAfterSwitch(v, m)) return *m.switched_challenge;
  return v.config.challenge;
}

std::string EffectiveCa(const LineageView& v, const LineageMemory& m) {
  if (m.switched_ca && !ConfigAfterSwitch(v, m)) return *m.switched_ca;
  return v.config.ca;
}

Diagnosis Diagnose(const LineageView& v, const LineageMemory& m, const PolicyConfig& config,
                   absl::Time now) {
  const Challenge challenge = EffectiveChallenge(v, m);
  const std::string ca = EffectiveCa(v, m);
  const Evidence& e = v.evidence;
  // 1. A failing episode is the strongest evidence there is.
  if (v.episode_onset && v.last_failure) {
    return FromAttempt(*v.last_failure, v, challenge, ca, config,
                       StrCat("renewal failed ", v.episode_failures, " time(s) since ",
                              Ts(*v.episode_onset)));
  }
  // 2. A failed dry run after the last success or issuance.
  absl::Time settled = v.current ? v.current_recorded_at : absl::InfinitePast();
  if (v.last_success) settled = std::max(settled, v.last_success->at);
  if (v.last_dry_run && v.last_dry_run->outcome == Outcome::kFailure &&
      v.last_dry_run->at > settled) {
    return FromAttempt(*v.last_dry_run, v, challenge, ca, config,
                       StrCat("staging dry run failed at ", Ts(v.last_dry_run->at)));
  }
  // 3. Precursors, hard facts first.
  for (const Credential& c : e.credentials) {
    // "Expired" counts when the report itself was made after the expiry (nobody rotated it): a
    // report from before the expiry may be followed by a routine rotation we have not seen yet.
    const bool missing = c.present.has_value() && !*c.present;
    const bool expired = c.expires && *c.expires <= now && c.seen >= *c.expires;
    if (!missing && !expired) continue;
    const std::string state =
        missing ? "is missing" : StrCat("expired at ", Ts(*c.expires));
    if (c.kind == CredentialKind::kDnsApiToken) {
      if (challenge != Challenge::kDns01) continue;
      return HardFact(Make(Cause::kDns01Automation, Confidence::kPersistent,
                  StrCat("the DNS API token ", state)));
    }
    // An EAB credential is used when an account is registered, not on every renewal: its expiry
    // is a suspicion to validate, not a fact that breaks the next renewal.
    if (c.kind == CredentialKind::kEab) {
      return Make(Cause::kAccount, Confidence::kPersistent,
                  StrCat("the eab credential ", state, " (needed if the account must be re-registered)"));
    }
    return HardFact(Make(Cause::kAccount, Confidence::kPersistent,
                StrCat("the ", ToString(c.kind), " credential ", state)));
  }
  if (e.domain_expires && *e.domain_expires <= now) {
    Diagnosis lapsed = HardFact(Make(Cause::kDnsPointing, Confidence::kPersistent,
                StrCat("registration of ", e.domain_name, " expired at ", Ts(*e.domain_expires))),
                    StrCat("domain:", e.domain_name));
    lapsed.registration_lapsed = true;
    return lapsed;
  }
  if (!e.nxdomain_name.empty()) {
    return HardFact(Make(Cause::kDnsPointing, Confidence::kPersistent,
                StrCat(e.nxdomain_name, " does not resolve (NXDOMAIN)")));
  }
  if (CaaForbids(v, ca)) {
    return HardFact(Make(Cause::kCaaDnssec, Confidence::kPersistent,
                StrCat("CAA of ", e.caa_name, " (", StrJoin(e.caa_values, ", "),
                       ") does not allow ", ca)));
  }
  if (e.dnssec_bogus || e.caa_servfail) {
    return HardFact(Make(Cause::kCaaDnssec, Confidence::kPersistent,
                e.dnssec_bogus ? "DNSSEC validation of the names fails (bogus)"
                               : "CAA lookup answers SERVFAIL"));
  }
  if (ClockHarmful(e, config)) {
    return HardFact(Make(Cause::kClock, Confidence::kPersistent,
                StrCat("host ", v.config.host, " clock is off by ", *e.clock_offset_ms / 1000, " s")),
                    StrCat("host:", v.config.host));
  }
  if (e.disk_free_bytes && *e.disk_free_bytes < config.disk_min_free_bytes) {
    return HardFact(Make(Cause::kLocalClient, Confidence::kPersistent,
                StrCat("host ", v.config.host, " has only ", *e.disk_free_bytes >> 20,
                       " MiB of disk free")),
                    StrCat("host:", v.config.host));
  }
  if (challenge != Challenge::kDns01 && e.http01.count > 0) {
    const Confidence c = Persistent(e.http01, config) ? Confidence::kPersistent : Confidence::kSuspected;
    if (!e.address_changed_name.empty()) {
      return Make(Cause::kDnsPointing, c,
                  StrCat(e.address_changed_name, " moved from ", e.address_before, " to ",
                         e.address_after, " at ", Ts(*e.address_changed_at),
                         " and its HTTP-01 probe fails since ", Ts(*e.http01.since), " (",
                         e.http01.error, ")"));
    }
    return Make(Cause::kHttp01Unreachable, c,
                StrCat("HTTP-01 probe of ", e.http01.subject, " failing ", e.http01.count,
                       " time(s) since ", Ts(*e.http01.since), " (", e.http01.error, ")"));
  }
  if (challenge == Challenge::kDns01 && e.dns01.count > 0) {
    const Confidence c = Persistent(e.dns01, config) ? Confidence::kPersistent : Confidence::kSuspected;
    return Make(Cause::kDns01Automation, c,
                StrCat("DNS-01 check of ", e.dns01.subject, " failing ", e.dns01.count,
                       " time(s) since ", Ts(*e.dns01.since), " (", e.dns01.error, ")"));
  }
  if (e.ca.count >= 2 && e.ca.since) {
    const bool long_outage = e.ca.last - *e.ca.since >= config.ca_outage_persistence;
    return Make(Cause::kCaSide, long_outage ? Confidence::kPersistent : Confidence::kSuspected,
                StrCat("CA ", ca, " probes failing since ", Ts(*e.ca.since), " (", e.ca.error, ")"),
                /*transient=*/true);
  }
  if (!e.address_changed_name.empty() && challenge != Challenge::kDns01) {
    return Make(Cause::kDnsPointing, Confidence::kSuspected,
                StrCat(e.address_changed_name, " moved from ", e.address_before, " to ",
                       e.address_after, " at ", Ts(*e.address_changed_at),
                       " since the last issuance"));
  }
  if (challenge == Challenge::kDns01 && e.ns_changed_at && v.current &&
      *e.ns_changed_at > v.current_recorded_at) {
    return Make(Cause::kDns01Automation, Confidence::kSuspected,
                StrCat("the NS set changed at ", Ts(*e.ns_changed_at), " since the last issuance"));
  }
  return Diagnosis{};
}

std::optional<absl::Time> ClientRenewalDue(const LineageView& v) {
  if (!v.current) return std::nullopt;
  ClientRuleInput in;
  in.config = &v.config;
  in.current = &*v.current;
  in.current_recorded_at = v.current_recorded_at;
  if (v.ari) in.ari = &*v.ari;
  in.ari_recorded_at = v.ari_at;
  in.previous = v.previous;
  std::optional<absl::Time> due = ClientRenewalDueTime(in);
  // A rule that renews after expiry (acme.sh's +59 days on a 45-day certificate) leaves nothing to
  // wait for once the certificate expires: the checks treat expiry as the latest due time, and
  // AlertRenewRuleTooLate reports the rule itself.
  if (due) due = std::min(*due, v.current->not_after);
  return due;
}

int AttemptsLeftBeforeExpiry(const LineageView& v, absl::Time now, double time_scale) {
  if (!v.current) return 0;
  const absl::Time expiry = v.current->not_after;
  std::optional<absl::Time> due = ClientRenewalDue(v);
  int failures = v.episode_failures;
  absl::Time t = std::max(now, due.value_or(now));
  if (v.episode_onset && v.last_attempt) {
    t = std::max(now, v.last_attempt->at +
                          ClientRetryInterval(v.config.client, failures) / time_scale);
  }
  int attempts = 0;
  while (t < expiry && attempts < 1000) {
    ++attempts;
    ++failures;
    t += ClientRetryInterval(v.config.client, failures) / time_scale;
  }
  return attempts;
}

std::optional<Switch> SwitchAvoiding(const LineageView& v, const LineageMemory& m,
                                     const Diagnosis& d) {
  const Challenge challenge = EffectiveChallenge(v, m);
  const std::string ca = EffectiveCa(v, m);
  // What already failed in this trouble, so a switch is not repeated.
  std::set<Challenge> failed_challenges = {challenge};
  std::set<std::string> failed_cas = {ca};
  for (const std::optional<Attempt>* a : {&v.last_failure, &v.last_dry_run}) {
    if (!*a || (*a)->outcome != Outcome::kFailure) continue;
    if (v.current && (*a)->at < v.current_recorded_at) continue;
    if ((*a)->challenge) failed_challenges.insert(*(*a)->challenge);
    if ((*a)->ca) failed_cas.insert(*(*a)->ca);
  }
  auto pick_challenge = [&](std::initializer_list<Challenge> order) -> std::optional<Switch> {
    for (Challenge c : order) {
      if (failed_challenges.count(c) || !Contains(v.config.alt_challenges, c)) continue;
      if (HasWildcard(v) && c != Challenge::kDns01) continue;  // wildcards need dns-01
      return Switch{c, std::nullopt};
    }
    return std::nullopt;
  };
  auto pick_ca = [&]() -> std::optional<Switch> {
    for (const std::string& alt : v.config.alt_cas) {
      if (failed_cas.count(alt) || CaaForbids(v, alt)) continue;
      auto health = v.evidence.alt_ca.find(alt);
      if (health != v.evidence.alt_ca.end() && health->second.count > 0) continue;
      return Switch{std::nullopt, alt};
    }
    return std::nullopt;
  };
  // A lapsed registration breaks every challenge and every CA.
  const bool domain_lapsed = d.registration_lapsed;
  switch (d.cause) {
    case Cause::kHttp01Unreachable:
      if (challenge == Challenge::kDns01) return std::nullopt;
      return pick_challenge({Challenge::kDns01, Challenge::kTlsAlpn01, Challenge::kHttp01});
    case Cause::kDnsPointing:
      // dns-01 proves control of the zone, not of the address: it works when the name no longer
      // points here, unless the registration itself lapsed.
      if (challenge == Challenge::kDns01 || domain_lapsed) return std::nullopt;
      return pick_challenge({Challenge::kDns01});
    case Cause::kDns01Automation:
      if (challenge != Challenge::kDns01 || !v.evidence.address_changed_name.empty() ||
          !v.evidence.nxdomain_name.empty()) {
        return std::nullopt;
      }
      return pick_challenge({Challenge::kHttp01, Challenge::kTlsAlpn01});
    case Cause::kCaaDnssec:
      // Every CA checks CAA, so only a CA that the CAA set allows helps; DNSSEC trouble hits all.
      if (!CaaForbids(v, ca)) return std::nullopt;
      return pick_ca();
    case Cause::kCaSide:
    case Cause::kAccount:
      return pick_ca();
    default:
      return std::nullopt;
  }
}

bool InMaintenanceWindow(const std::vector<MaintenanceWindow>& windows, absl::Time now) {
  if (windows.empty()) return true;
  const absl::CivilSecond civil = absl::ToCivilSecond(now, absl::UTCTimeZone());
  const int weekday = static_cast<int>(absl::GetWeekday(absl::CivilDay(civil)));
  // absl::Weekday: monday = 0 ... sunday = 6; the mask uses Sunday = bit 0.
  const int sunday_first = (weekday + 1) % 7;
  const int previous_day = (sunday_first + 6) % 7;
  const int minute = civil.hour() * 60 + civil.minute();
  for (const MaintenanceWindow& w : windows) {
    if (w.start_minute <= w.end_minute) {
      if ((w.weekday_mask >> sunday_first & 1) && minute >= w.start_minute &&
          minute < w.end_minute) {
        return true;
      }
    } else {  // across midnight: the part after midnight belongs to the previous day's window
      if ((w.weekday_mask >> sunday_first & 1) && minute >= w.start_minute) return true;
      if ((w.weekday_mask >> previous_day & 1) && minute < w.end_minute) return true;
    }
  }
  return false;
}

std::string ReasonText(const Proposal& p) { return StrCat(p.reason, ": ", p.message); }

namespace {

struct Hazard {
  std::string kind;  // credential:dns_api_token, rrsig, domain, disk, clock
  absl::Time at;
  std::string description;
  std::string fix;
};

// Hazards that will break renewal at a known instant unless someone acts.
std::vector<Hazard> Hazards(const LineageView& v, const LineageMemory& m, const PolicyConfig& cfg,
                            absl::Time now) {
  std::vector<Hazard> out;
  const Evidence& e = v.evidence;
  const Challenge challenge = EffectiveChallenge(v, m);
  for (const Credential& c : e.credentials) {
    if (!c.expires || *c.expires <= now) continue;
    if (c.kind == CredentialKind::kDnsApiToken && challenge != Challenge::kDns01) continue;
    out.push_back({StrCat("credential:", ToString(c.kind)), *c.expires,
                   StrCat("the ", ToString(c.kind), " credential expires at ", Ts(*c.expires)),
                   c.kind == CredentialKind::kDnsApiToken ? "rotate the DNS API token"
                                                          : "renew the ACME account credential"});
  }
  if (e.rrsig_expires && *e.rrsig_expires > now) {
    out.push_back({"rrsig", *e.rrsig_expires,
                   StrCat("DNSSEC signatures (RRSIG) of the zone expire at ",
                          Ts(*e.rrsig_expires), "; validation (and CAA checks) will then fail"),
                   "re-sign the zone or fix the signer"});
  }
  if (e.domain_expires && *e.domain_expires > now) {
    out.push_back({"domain", *e.domain_expires,
                   StrCat("registration of ", e.domain_name, " expires at ", Ts(*e.domain_expires)),
                   "renew the domain registration"});
  }
  if (e.disk_free_bytes && e.disk_free_bytes_per_day && *e.disk_free_bytes_per_day < 0 &&
      *e.disk_free_bytes > cfg.disk_min_free_bytes) {
    const double days = static_cast<double>(*e.disk_free_bytes - cfg.disk_min_free_bytes) /
                        -*e.disk_free_bytes_per_day;
    if (days < 3650) {
      const absl::Time at = now + absl::Seconds(days * 86400);
      out.push_back({"disk", at,
                     StrCat("disk of ", v.config.host, " fills (", *e.disk_free_bytes >> 20,
                            " MiB free, ", std::round(-*e.disk_free_bytes_per_day / (1 << 20)),
                            " MiB/day) by about ", Ts(at)),
                     "free disk space or rotate logs on the host"});
    }
  }
  if (e.clock_offset_ms && e.clock_drift_ms_per_day &&
      std::abs(*e.clock_offset_ms) < cfg.clock_harm_ms &&
      (*e.clock_drift_ms_per_day) * (*e.clock_offset_ms) > 0 &&
      std::abs(*e.clock_drift_ms_per_day) > 1000) {
    const double days = (cfg.clock_harm_ms - std::abs(*e.clock_offset_ms)) /
                        std::abs(*e.clock_drift_ms_per_day);
    const absl::Time at = now + absl::Seconds(days * 86400);
    out.push_back({"clock", at,
                   StrCat("clock of ", v.config.host, " drifts ",
                          std::round(*e.clock_drift_ms_per_day / 1000), " s/day (now ",
                          std::round(*e.clock_offset_ms / 1000), " s) and reaches ",
                          cfg.clock_harm_ms / 1000, " s by about ", Ts(at)),
                   "fix NTP on the host"});
  }
  std::sort(out.begin(), out.end(), [](const Hazard& a, const Hazard& b) { return a.at < b.at; });
  return out;
}

struct Context {
  const PolicyInput& in;
  const LineageView& v;
  const PolicyConfig& cfg;
  absl::Time now;
  Diagnosis diagnosis;
  std::optional<Switch> fix_switch;
  std::optional<absl::Time> due;
  std::vector<Hazard> hazards;
  bool episode = false;
  Challenge challenge;
  std::string ca;
};

absl::Duration SafetyWindow(const Context& x) {
  return std::min(x.cfg.safety_net_max, Lifetime(*x.v.current) * x.cfg.safety_net_fraction);
}

bool SafetyNetFires(const Context& x) {
  if (!x.v.current) return false;
  const absl::Duration left = x.v.current->not_after - x.now;
  const absl::Duration window = SafetyWindow(x);
  if (left > window) return false;
  // A client whose own rule renews late (days_left:7) gets half a day past its due time first;
  // in the last quarter of the window nothing waits.
  return !x.due || x.now >= *x.due + x.cfg.safety_net_slack || left <= window / 4;
}

std::string CauseSuffix(const Context& x) {
  if (x.diagnosis.cause == Cause::kNone) return "";
  return StrCat("; cause: ", ToString(x.diagnosis.cause), " (", x.diagnosis.evidence, ")");
}

std::string FixSuffix(const Context& x) {
  if (x.diagnosis.fix.empty()) return "";
  return StrCat("; fix: ", x.diagnosis.fix);
}

Proposal Renew(const Context& x, std::string_view reason, std::string message) {
  Proposal p;
  p.track = Track::kRenewal;
  p.kind = ActionKind::kRenew;
  p.reason = reason;
  p.message = std::move(message);
  if (x.v.current) {
    const double days = std::max(0.05, absl::ToDoubleHours(x.v.current->not_after - x.now) / 24);
    p.urgency = 1.0 / days;
  }
  return p;
}

void ApplySwitch(const Context& x, Proposal& p) {
  if (!x.fix_switch) return;
  p.challenge = x.fix_switch->challenge;
  p.ca = x.fix_switch->ca;
  if (p.challenge) p.message += StrCat("; switching to ", ToString(*p.challenge));
  if (p.ca) p.message += StrCat("; switching to CA ", *p.ca);
}

bool SwitchWorthy(const Context& x) {
  const Diagnosis& d = x.diagnosis;
  if (!x.fix_switch) return false;
  if (d.confidence < Confidence::kPersistent) return false;
  // CA blips clear on their own; fail over only when the trouble lasts.
  if (d.transient && x.v.episode_failures < 2 &&
      !(x.v.evidence.ca.since &&
        x.v.evidence.ca.last - *x.v.evidence.ca.since >= x.cfg.ca_outage_persistence)) {
    return false;
  }
  return true;
}

// ---- Renewal-track checks, in order ----

std::optional<Proposal> CheckExpiryImminent(const Context& x) {
  if (!SafetyNetFires(x)) return std::nullopt;
  Proposal p = Renew(x, kReasonExpiryImminent,
                     StrCat("certificate ", x.v.current->serial, " expires at ",
                            Ts(x.v.current->not_after), " (in ", Span(x.v.current->not_after - x.now),
                            ") and has not been renewed", CauseSuffix(x)));
  if (x.diagnosis.confidence >= Confidence::kPersistent) ApplySwitch(x, p);
  p.safety_net = true;
  return p;
}

std::optional<Proposal> CheckAriWindowPassed(const Context& x) {
  if (!x.v.current || !AriWindowIsCurrent(x.v)) return std::nullopt;
  const IssuedEvent& c = *x.v.current;
  const AriEvent& ari = *x.v.ari;
  // The CA moved the window before any normal renewal point: it wants the certificate replaced
  // early (RFC 9773 section 4.2, e.g. ahead of a revocation).
  if (ari.window_end > x.now || ari.window_end >= c.not_before + Lifetime(c) * 0.6) {
    return std::nullopt;
  }
  Proposal p = Renew(x, kReasonAriWindowPassed,
                     StrCat("the CA's renewal window for ", c.serial, " ended at ",
                            Ts(ari.window_end), ", well before the normal renewal point",
                            ari.explanation_url ? StrCat(" (", *ari.explanation_url, ")") : "",
                            "; renewing now, inside ARI (exempt from rate limits)"));
  p.urgency += 10;
  return p;
}

// The latest instant at which the client may still legitimately start renewing: with ARI on,
// some clients (acme.sh) let the CA's window replace their own rule, so the window's end (or the
// CA's usual 2/3 point while no window was seen) counts too.
absl::Time LatestPlausibleDue(const Context& x) {
  absl::Time latest = *x.due;
  if (x.v.config.ari) {
    const IssuedEvent& c = *x.v.current;
    if (AriWindowIsCurrent(x.v)) {
      latest = std::max(latest, x.v.ari->window_end);
    } else {
      latest = std::max(latest, c.not_before + Lifetime(c) * (2.0 / 3.0 + 0.01));
    }
  }
  return std::min(latest, x.v.current->not_after);
}

std::optional<Proposal> CheckClientNotRenewing(const Context& x) {
  if (!x.v.current || !x.due) return std::nullopt;
  const absl::Time due = LatestPlausibleDue(x);
  if (x.now < due + x.cfg.overdue_grace) return std::nullopt;
  // Only the client's own attempts count: certcast's renewal that failed (a CA blip) does not
  // mean the client woke up, and nobody else will retry it.
  if (x.v.last_client_attempt && x.v.last_client_attempt->at >= *x.due) return std::nullopt;
  Proposal p = Renew(x, kReasonClientNotRenewing,
                     StrCat(ToString(x.v.config.client), " on ", x.v.config.host,
                            " should have renewed by ", Ts(due), " but made no attempt since",
                            x.v.last_client_attempt
                                ? StrCat(" (its last attempt ", Ts(x.v.last_client_attempt->at), ")")
                                             : "",
                            "; its scheduler or runtime is probably broken; renewing now"));
  if (SwitchWorthy(x)) ApplySwitch(x, p);
  return p;
}

// A client whose own rule renews inside the safety window (acme.sh's after_issue_days:59 on a
// 45-day certificate, days_left:3 on a 90-day one) leaves every renewal to the last days of the
// certificate's life, where one failed attempt is already a page and where certcast's safety net
// would renew it anyway, paging as it does (issue #15: the last false pages). certcast renews such
// a lineage at the normal point of its lifetime instead, the CA's ARI window start when one is
// current, else 2/3 of the lifetime (the CAs' and most clients' default): weeks before any page
// is due. It replaces the client's renewal (the client's rule restarts from the new certificate),
// so it adds no issuance per lifetime beyond the shorter one; if it fails, the episode alerts as
// any failure does (RenewalFailing), and the safety net still fires at its usual point.
absl::Time NormalRenewalPoint(const Context& x) {
  const IssuedEvent& c = *x.v.current;
  if (AriWindowIsCurrent(x.v)) return x.v.ari->window_start;
  return c.not_before + Lifetime(c) * (2.0 / 3.0);
}

std::optional<Proposal> CheckClientRenewsTooLate(const Context& x) {
  if (!x.v.current || !x.due) return std::nullopt;
  const IssuedEvent& c = *x.v.current;
  // x.due is capped at expiry: a rule renewing after it reads as renewing at expiry.
  if (*x.due <= c.not_after - SafetyWindow(x)) return std::nullopt;
  const absl::Time normal = NormalRenewalPoint(x);
  if (x.now < normal || normal >= *x.due) return std::nullopt;
  Proposal p = Renew(x, kReasonClientRenewsTooLate,
                     StrCat(ToString(x.v.config.client), "'s rule (",
                            x.v.config.renew_rule.value_or("client default"), ") renews ", c.serial,
                            " at ", Ts(*x.due), ", within ", Span(c.not_after - *x.due),
                            " of its expiry at ", Ts(c.not_after),
                            "; renewing at the normal point (",
                            AriWindowIsCurrent(x.v) ? "the CA's ARI window" : "2/3 of the lifetime",
                            ", ", Ts(normal), ") so that no page is needed unless it fails"));
  if (SwitchWorthy(x)) ApplySwitch(x, p);
  return p;
}

std::optional<Proposal> CheckSwitch(const Context& x) {
  if (!SwitchWorthy(x)) return std::nullopt;
  // Switch when a renewal is happening anyway (an episode, or the client's due time is near), so
  // the switch replaces the client's renewal instead of adding one.
  const bool needed = x.episode || (x.due && x.now >= *x.due - x.cfg.forecast_renew_lead);
  if (!needed) return std::nullopt;
  const bool challenge_switch = x.fix_switch->challenge.has_value();
  Proposal p = Renew(x, challenge_switch ? kReasonSwitchChallenge : kReasonSwitchCa,
                     StrCat(ToString(x.diagnosis.cause), ": ", x.diagnosis.evidence));
  ApplySwitch(x, p);
  return p;
}

// A hazard that breaks renewal before the client's own next attempt and is close.
const Hazard* HazardBeforeDue(const Context& x) {
  for (const Hazard& h : x.hazards) {
    if (h.at - x.now > x.cfg.hazard_renew_horizon) break;
    if (x.due && h.at <= *x.due && *x.due - h.at <= x.cfg.hazard_human_time) return &h;
  }
  return nullptr;
}

std::optional<Proposal> CheckHazardEarlyRenewal(const Context& x) {
  if (!x.v.current || x.episode || x.diagnosis.confidence >= Confidence::kPersistent) {
    return std::nullopt;
  }
  const Hazard* h = HazardBeforeDue(x);
  if (!h) return std::nullopt;
  return Renew(x, kReasonHazardEarlyRenewal,
               StrCat(h->description, ", before the client's next renewal at ", Ts(*x.due),
                      "; renewing now while renewal still works"));
}

std::optional<Proposal> CheckForecastEarlyRenewal(const Context& x) {
  if (!x.v.current || x.episode || !x.due) return std::nullopt;
  if (x.in.forecast.risk < x.cfg.early_renew_risk) return std::nullopt;
  if (x.now >= *x.due || x.now < *x.due - x.cfg.forecast_renew_lead) return std::nullopt;
  // A diagnosed cause that blocks this configuration would make the renewal fail too.
  if (x.diagnosis.confidence >= Confidence::kPersistent) return std::nullopt;
  return Renew(x, kReasonForecastEarlyRenewal,
               StrCat("forecast risk ", std::round(x.in.forecast.risk * 100), "% of a failure",
                      x.in.forecast.reasons.empty() ? "" : StrCat(" (", x.in.forecast.reasons[0], ")"),
                      "; the client's renewal is due at ", Ts(*x.due),
                      "; renewing now while renewal still works"));
}

std::optional<Proposal> CheckSuspectedCauseDryRun(const Context& x) {
  if (!x.v.current || x.episode || x.diagnosis.confidence == Confidence::kConfirmed) {
    return std::nullopt;
  }
  const Cause c = x.diagnosis.cause;
  // Nothing to learn from a staging validation when the cause is a fact already.
  if (c == Cause::kNotServed || c == Cause::kRateLimited || x.diagnosis.hard_fact ||
      x.diagnosis.transient) {
    return std::nullopt;
  }
  // One probe failure is usually a flake; a precursor seen repeatedly, or the forecast, is worth
  // a staging validation.
  const bool suspected = x.diagnosis.confidence >= Confidence::kPersistent;
  if (!suspected && x.in.forecast.risk < x.cfg.dry_run_risk) return std::nullopt;
  if (x.v.last_dry_run && x.now - x.v.last_dry_run->at < x.cfg.dry_run_interval) {
    return std::nullopt;
  }
  Proposal p;
  p.track = Track::kRenewal;
  p.kind = ActionKind::kDryRun;
  p.reason = kReasonSuspectedCauseDryRun;
  p.message = suspected ? StrCat("suspected ", ToString(c), ": ", x.diagnosis.evidence,
                                 "; validating against staging to confirm")
                        : StrCat("forecast risk ", std::round(x.in.forecast.risk * 100), "%",
                                 x.in.forecast.reasons.empty()
                                     ? ""
                                     : StrCat(" (", x.in.forecast.reasons[0], ")"),
                                 "; validating against staging to find out");
  p.urgency = 0;
  return p;
}

// ---- Alert-track checks, in order ----

Proposal Alert(const Context& x, std::string_view reason, std::string message, std::string key) {
  Proposal p;
  p.track = Track::kAlert;
  p.kind = ActionKind::kAlert;
  p.reason = reason;
  p.message = std::move(message);
  p.alert_key = std::move(key);
  return p;
}

// A lineage that was probed and then went silent while its host kept reporting has most likely
// been removed from the host (the site moved away and its owner deleted the client's
// configuration): nothing there renews or serves its certificate any more, so that certificate's
// expiry is not a failure anyone must be woken for (issue #15: 67 daily pages about one such
// lineage on hosting-62, weeks past its expiry). Certcast cannot tell removal from lost
// collection, so this replaces the lineage's other alerts with one report a person settles in
// working hours (the alert core caps it at ticket).
//
// "The host kept reporting" is one of three facts, each at least observation_lapse after the
// lineage's own last observation: the host's agent probed one of the lineage's names there and
// found another certificate (LineageView::foreign_served: what replaced it; such a probe is no
// observation of this lineage), the host's client scheduler ran (certbot, lego, acme.sh timers),
// or another lineage the host runs was observed (its probe, attempt, report or deploy). The third
// covers clients without a scheduler report (Caddy, cert-manager), where a removed lineage used to
// page daily through the safety net (held-out hosting-93, -98, k8s-95). A lineage still on the
// host is probed where it is served whatever its client does, so a failure of this lineage alone
// (its client stopped renewing it, a hook broke, its certificate expired) leaves its own
// observations running and the rule silent: only the agent no longer looking at it silences them.
// Never fires for a lineage never probed (no served result of its own or another certificate at
// its host: a deployment without probes), nor
// when the host itself went quiet (its scheduler report and its other lineages stop too), nor on
// a host with one lineage and no scheduler report (nothing tells removal from a dead agent): then
// the safety net pages as before.
std::optional<Proposal> AlertLineageNotObserved(const Context& x) {
  const LineageView& v = x.v;
  const Evidence& ev = v.evidence;
  if (!v.current || (v.served.empty() && !v.foreign_served)) return std::nullopt;
  const absl::Time last = LastObserved(v);
  std::string host_reports;
  if (v.foreign_served && v.foreign_served->probed_at - last >= x.cfg.observation_lapse) {
    const Served& f = *v.foreign_served;
    host_reports = StrCat(f.endpoint, " served another certificate (",
                          f.serial, ") for ", f.sni, " at ", Ts(f.probed_at));
  } else if (ev.scheduler_last_run && *ev.scheduler_last_run - last >= x.cfg.observation_lapse) {
    host_reports = StrCat(ToString(v.config.client), "'s scheduler on ", v.config.host, " ran at ",
                          Ts(*ev.scheduler_last_run));
  } else if (ev.host_other_observed && *ev.host_other_observed - last >= x.cfg.observation_lapse) {
    host_reports = StrCat(ev.host_other, " on the same host ", v.config.host, " was observed at ",
                          Ts(*ev.host_other_observed));
  } else {
    return std::nullopt;
  }
  return Alert(x, kReasonLineageNotObserved,
               StrCat(v.cert, " has not been observed since ", Ts(last),
                      " (no probe, attempt or configuration report) while ", host_reports,
                      "; its certificate ", v.current->serial, " expires at ",
                      Ts(v.current->not_after),
                      "; fix: if the lineage was removed from the host, retire it in certcast; "
                      "else restore the agent's access to it"),
               StrCat("unobserved:", v.current->serial));
}

std::optional<Proposal> AlertExpiryImminent(const Context& x) {
  if (!SafetyNetFires(x)) return std::nullopt;
  return Alert(x, kReasonExpiryImminent,
               StrCat("certificate ", x.v.current->serial, " of ", x.v.cert, " expires at ",
                      Ts(x.v.current->not_after), " (in ", Span(x.v.current->not_after - x.now),
                      ") and has not been renewed", CauseSuffix(x), FixSuffix(x)),
               StrCat("expiry:", x.v.current->serial));
}

std::optional<Proposal> AlertFewAttemptsLeft(const Context& x) {
  if (!x.episode || !x.v.current) return std::nullopt;
  const int left = AttemptsLeftBeforeExpiry(x.v, x.now, x.cfg.time_scale);
  if (left >= x.cfg.min_attempts_left) return std::nullopt;
  return Alert(x, kReasonFewAttemptsLeft,
               StrCat(ToString(x.v.config.client), " has ", left,
                      " scheduled attempt(s) left before ", Ts(x.v.current->not_after),
                      CauseSuffix(x), FixSuffix(x)),
               StrCat("attempts:", x.v.current->serial));
}

bool WorthAPerson(const Context& x) {
  const LineageView& v = x.v;
  if (v.episode_failures >= x.cfg.alert_after_failures) {
    // Transient CA trouble is worth a person only when it lasts.
    if (x.diagnosis.transient) {
      return v.episode_failures >= 2 * x.cfg.alert_after_failures ||
             x.now - *v.episode_onset >= 2 * x.cfg.failing_alert_after;
    }
    return true;
  }
  if (x.now - *v.episode_onset >= x.cfg.failing_alert_after && !x.diagnosis.transient) return true;
  // One failure that a precursor already explained is enough.
  const Evidence& e = v.evidence;
  return !x.diagnosis.transient &&
         (Persistent(e.http01, x.cfg) || Persistent(e.dns01, x.cfg) || !e.nxdomain_name.empty() ||
          !e.address_changed_name.empty() || e.dnssec_bogus || CaaForbids(v, x.ca));
}

std::optional<Proposal> AlertRenewalFailing(const Context& x) {
  if (!x.episode || !x.v.current) return std::nullopt;
  if (SwitchWorthy(x)) return std::nullopt;  // certcast fixes this itself first
  if (!WorthAPerson(x)) return std::nullopt;
  return Alert(x, kReasonRenewalFailing,
               StrCat(ToString(x.diagnosis.cause), ": ", x.diagnosis.evidence,
                      x.fix_switch ? "" : "; certcast cannot fix this itself", FixSuffix(x)),
               StrCat("episode:", Ts(*x.v.episode_onset)));
}

std::optional<Proposal> AlertReloadNotEffective(const Context& x, const std::vector<Served>& stale) {
  const LineageMemory& m = x.in.memory;
  if (stale.empty() || !m.last_reload_at || m.last_reload_serial != x.v.current->serial) {
    return std::nullopt;
  }
  for (const Served& s : stale) {
    if (s.probed_at > *m.last_reload_at + x.cfg.reload_settle) {
      return Alert(x, kReasonReloadNotEffective,
                   StrCat(s.endpoint, " still serves ", s.serial.empty() ? "an older certificate" : s.serial,
                          " after certcast's reload at ", Ts(*m.last_reload_at), "; newest is ",
                          x.v.current->serial,
                          "; fix: check the reload command, the deploy hook and every node behind "
                          "the load balancer"),
                   StrCat("stale:", x.v.current->serial));
    }
  }
  return std::nullopt;
}

// certcast's switch lasts only until the client's own configuration is reported again: lego keeps
// no challenge or CA in its state (its cron's flags decide), and a person may re-run certbot with
// the old authenticator. When a later config event is back on what the switch left while the cause
// still stands, certcast would switch again at every renewal (and the client's own runs keep
// failing): the lasting fix is the client's configuration, which only a person can change.
std::optional<Proposal> AlertSwitchNotKept(const Context& x) {
  const LineageMemory& m = x.in.memory;
  if (!x.v.current || !ConfigAfterSwitch(x.v, m)) return std::nullopt;
  const bool challenge_back = m.switched_challenge && x.v.config.challenge != *m.switched_challenge;
  const bool ca_back = m.switched_ca && x.v.config.ca != *m.switched_ca;
  if (!challenge_back && !ca_back) return std::nullopt;
  if (!SwitchWorthy(x)) return std::nullopt;  // the cause is gone: going back is fine
  const std::string what =
      challenge_back ? StrCat(ToString(x.v.config.challenge), " instead of ", ToString(*m.switched_challenge))
                     : StrCat("CA ", x.v.config.ca, " instead of ", *m.switched_ca);
  return Alert(x, kReasonSwitchNotKept,
               StrCat(ToString(x.v.config.client), " on ", x.v.config.host, " is configured for ", what,
                      " again (configuration reported at ", Ts(x.v.config_at), ", certcast switched at ",
                      Ts(*m.switched_at), ") while ", ToString(x.diagnosis.cause), " still stands (",
                      x.diagnosis.evidence, "); its own renewals will fail and certcast switches again "
                      "only while it runs; fix: configure ", ToString(x.v.config.client), " itself for ",
                      challenge_back ? ToString(*m.switched_challenge) : *m.switched_ca),
               // Once per certificate: a reminder each renewal cycle until the client is changed.
               StrCat("switch_not_kept:", x.v.current->serial));
}

std::optional<Proposal> AlertClientNotRenewing(const Context& x) {
  if (!CheckClientNotRenewing(x)) return std::nullopt;
  return Alert(x, kReasonClientNotRenewing,
               StrCat(ToString(x.v.config.client), " on ", x.v.config.host,
                      " made no renewal attempt since it was due at ", Ts(*x.due),
                      "; certcast renews this time; fix: re-enable the client's timer/cron or its "
                      "runtime"),
               StrCat("overdue:", x.v.current->serial));
}

std::optional<Proposal> AlertHazardAhead(const Context& x) {
  for (const Hazard& h : x.hazards) {
    if (h.at - x.now > x.cfg.hazard_alert_horizon) break;
    return Alert(x, kReasonHazardAhead, StrCat(h.description, "; fix: ", h.fix),
                 StrCat("hazard:", h.kind, ":", Ts(h.at)));
  }
  return std::nullopt;
}

std::optional<Proposal> AlertPredictedFailure(const Context& x) {
  if (x.episode || !x.v.current) return std::nullopt;
  const Diagnosis& d = x.diagnosis;
  if (d.confidence < Confidence::kPersistent) return std::nullopt;
  if (x.fix_switch && SwitchWorthy(x)) return std::nullopt;  // fixed by a switch at due time
  // A cause that certcast cannot fix is worth a person when a dry run confirmed it, or when the
  // forecast agrees with a persistent precursor (precursors alone have look-alikes).
  const bool confirmed = d.confidence == Confidence::kConfirmed;
  if (!confirmed && !d.hard_fact && x.in.forecast.risk < x.cfg.alert_risk) return std::nullopt;
  // CA trouble clears on its own (or is failed over at renewal time): not worth a person yet.
  if (d.transient) return std::nullopt;
  if (!d.scope.empty()) {
    // One alert per shared cause: the first lineage found names it for all the others.
    return Alert(x, kReasonPredictedFailure,
                 StrCat("renewals on ", d.scope, " are expected to fail (", x.v.cert,
                        " and every other lineage there): ", ToString(d.cause), ": ", d.evidence,
                        FixSuffix(x)),
                 StrCat("scope:", d.scope, ":", ToString(d.cause)));
  }
  return Alert(x, kReasonPredictedFailure,
               StrCat("the next renewal (due ", x.due ? Ts(*x.due) : "unknown",
                      ") is expected to fail: ", ToString(d.cause), ": ", d.evidence, FixSuffix(x)),
               StrCat("predicted:", ToString(d.cause), ":", x.v.current->serial));
}

std::optional<Proposal> AlertRenewRuleTooLate(const Context& x) {
  if (!x.v.current || !x.v.config.renew_rule) return std::nullopt;
  std::optional<RenewRule> rule = ParseRenewRule(*x.v.config.renew_rule);
  if (!rule) return std::nullopt;
  const absl::Time due = RenewRuleDue(*rule, x.v.current->not_before, x.v.current->not_after);
  if (due < x.v.current->not_after) return std::nullopt;
  return Alert(x, kReasonRenewRuleTooLate,
               StrCat("renew_rule ", *x.v.config.renew_rule, " renews at ", Ts(due),
                      ", after the certificate's expiry at ",
                      Ts(x.v.current->not_after), " (lifetime ", Span(Lifetime(*x.v.current)),
                      "); fix: use a fraction of the lifetime or enable ARI"),
               // Once per rule and lifetime: the misconfiguration, not each certificate, is the news.
               StrCat("rule:", *x.v.config.renew_rule, ":",
                      absl::ToInt64Hours(Lifetime(*x.v.current)) / 24, "d"));
}

bool AlreadyAlerted(const LineageMemory& m, const std::string& key) {
  return std::any_of(m.alerted.begin(), m.alerted.end(),
                     [&](const auto& entry) { return entry.first == key; });
}

std::vector<Served> StaleServers(const Context& x) {
  std::vector<Served> out;
  if (!x.v.current) return out;
  const IssuedEvent& c = *x.v.current;
  if (c.not_after <= x.now) return out;  // the newest one is expired too: reload cannot help
  for (const Served& s : x.v.served) {
    if (s.probed_at < x.v.current_recorded_at) continue;  // probed before the newest existed
    const bool old_serial = !s.serial.empty() && s.serial != c.serial &&
                            (!s.not_after || *s.not_after < c.not_after);
    const bool expired = s.error == TlsError::kExpired || (s.not_after && *s.not_after <= x.now);
    if (!old_serial && !(expired && s.serial != c.serial)) continue;
    const bool urgent = expired || (s.not_after && *s.not_after - x.now < x.cfg.urgent_expiry);
    if (!urgent && s.probed_at < x.v.current_recorded_at + x.cfg.reload_grace) continue;
    out.push_back(s);
  }
  return out;
}

}  // namespace

// ---- Gates (policy.h): each one pure, about one proposal ----

namespace {
bool SameSerialRenewed(const PolicyInput& in) {
  return in.memory.last_renew_serial == in.lineage.current->serial;
}
// An ARI-suggested renewal inside its window is exempt from Let's Encrypt's rate limits.
bool AriExempt(const PolicyInput& in) {
  const LineageView& v = in.lineage;
  return v.config.ari && AriWindowIsCurrent(v) && in.now >= v.ari->window_start &&
         in.now <= v.ari->window_end;
}
}  // namespace

std::optional<GateHold> GateRenewalRecentlyPlanned(const PolicyInput& in, const Proposal& p) {
  const LineageMemory& m = in.memory;
  if (p.kind != ActionKind::kRenew || !SameSerialRenewed(in) || !m.last_renew_at ||
      in.now - *m.last_renew_at >= in.config.renew_retry_interval) {
    return std::nullopt;
  }
  return GateHold{kHeldAlreadyDone, StrCat("certcast planned a renewal at ", Ts(*m.last_renew_at))};
}

std::optional<GateHold> GateRenewalsForCertificateSpent(const PolicyInput& in, const Proposal& p) {
  const LineageMemory& m = in.memory;
  // The safety net retries daily until expiry; after it, more forced attempts only burn failed
  // authorizations: a person has the alert.
  if (p.kind != ActionKind::kRenew || !SameSerialRenewed(in) ||
      (p.safety_net && in.lineage.current->not_after > in.now) ||
      m.renewals_for_serial < in.config.max_renewals_per_certificate) {
    return std::nullopt;
  }
  return GateHold{kHeldAlreadyDone,
                  StrCat(m.renewals_for_serial, " certcast renewals already tried for this certificate")};
}

std::optional<GateHold> GateExactSetRateLimit(const PolicyInput& in, const Proposal& p) {
  const PolicyConfig& cfg = in.config;
  const LineageView& v = in.lineage;
  if (p.kind != ActionKind::kRenew || AriExempt(in) ||
      v.issued_last_7d < cfg.exact_set_limit - cfg.exact_set_reserve) {
    return std::nullopt;
  }
  return GateHold{kHeldRateLimit,
                  StrCat(v.issued_last_7d, " certificates for this name set in 7 d (limit ",
                         cfg.exact_set_limit, ", ", cfg.exact_set_reserve, " kept for the client)")};
}

std::optional<GateHold> GateFailedAuthorizations(const PolicyInput& in, const Proposal& p) {
  const PolicyConfig& cfg = in.config;
  const LineageView& v = in.lineage;
  if (p.kind != ActionKind::kRenew || AriExempt(in) ||
      v.failures_last_hour < cfg.failed_authorizations_per_hour - 1) {
    return std::nullopt;
  }
  return GateHold{kHeldRateLimit,
                  StrCat(v.failures_last_hour, " failed attempts in the last hour (limit ",
                         cfg.failed_authorizations_per_hour, " failed authorizations per hour)")};
}

std::optional<GateHold> GateRegisteredDomainLimit(const PolicyInput& in, const Proposal& p) {
  const LineageView& v = in.lineage;
  // A changed name set is a new order, not a renewal: the per-registered-domain limit counts.
  if (p.kind != ActionKind::kRenew || AriExempt(in) || !in.budget.per_registered_domain ||
      v.config.names.empty() || v.current->names == v.config.names || v.current->names.empty()) {
    return std::nullopt;
  }
  const std::string domain = RegisteredDomain(v.config.names.front());
  auto it = in.budget.per_registered_domain->find(domain);
  if (it == in.budget.per_registered_domain->end() ||
      it->second < in.config.registered_domain_limit - 1) {
    return std::nullopt;
  }
  return GateHold{kHeldRateLimit, StrCat(it->second, " certificates for ", domain, " in 7 d")};
}

std::optional<GateHold> GateDryRunRecentlyPlanned(const PolicyInput& in, const Proposal& p) {
  const LineageMemory& m = in.memory;
  if (p.kind != ActionKind::kDryRun || !m.last_dry_run_at ||
      in.now - *m.last_dry_run_at >= in.config.dry_run_interval) {
    return std::nullopt;
  }
  return GateHold{kHeldAlreadyDone, StrCat("certcast planned a dry run at ", Ts(*m.last_dry_run_at))};
}

std::optional<GateHold> GateReloadRecentlyPlanned(const PolicyInput& in, const Proposal& p) {
  const LineageMemory& m = in.memory;
  if (p.kind != ActionKind::kReload || m.last_reload_serial != in.lineage.current->serial ||
      !m.last_reload_at || in.now - *m.last_reload_at >= in.config.reload_retry_interval) {
    return std::nullopt;
  }
  return GateHold{kHeldAlreadyDone, StrCat("certcast planned a reload at ", Ts(*m.last_reload_at))};
}

std::optional<GateHold> GateMaintenanceWindow(const PolicyInput& in, const Proposal& p) {
  if (p.kind == ActionKind::kAlert || p.safety_net ||
      InMaintenanceWindow(in.config.maintenance_windows, in.now)) {
    return std::nullopt;
  }
  return GateHold{kHeldMaintenanceWindow, "outside every maintenance window"};
}

std::optional<GateHold> GateAlertAlreadySent(const PolicyInput& in, const Proposal& p) {
  if (p.kind != ActionKind::kAlert || !AlreadyAlerted(in.memory, p.alert_key)) return std::nullopt;
  return GateHold{kHeldAlreadyDone, StrCat("alert ", p.alert_key, " already sent")};
}

std::span<const NamedGate> Gates() {
  static constexpr NamedGate kGates[] = {
      {"renewal_recently_planned", GateRenewalRecentlyPlanned},
      {"renewals_for_certificate_spent", GateRenewalsForCertificateSpent},
      {"exact_set_rate_limit", GateExactSetRateLimit},
      {"failed_authorizations", GateFailedAuthorizations},
      {"registered_domain_limit", GateRegisteredDomainLimit},
      {"dry_run_recently_planned", GateDryRunRecentlyPlanned},
      {"reload_recently_planned", GateReloadRecentlyPlanned},
      {"maintenance_window", GateMaintenanceWindow},
      {"alert_already_sent", GateAlertAlreadySent},
  };
  return kGates;
}

Decision Decide(const PolicyInput& in) {
  Decision decision;
  const LineageView& v = in.lineage;
  Context x{in, v, in.config, in.now};
  x.challenge = EffectiveChallenge(v, in.memory);
  x.ca = EffectiveCa(v, in.memory);
  x.diagnosis = Diagnose(v, in.memory, in.config, in.now);
  x.fix_switch = SwitchAvoiding(v, in.memory, x.diagnosis);
  x.due = ClientRenewalDue(v);
  x.hazards = Hazards(v, in.memory, in.config, in.now);
  x.episode = v.episode_onset.has_value();
  decision.diagnosis = x.diagnosis;
  if (!v.current) return decision;  // nothing issued yet: nothing to renew, reload or expire

  // Renewal track: the first check that fires.
  using RenewalCheck = std::optional<Proposal> (*)(const Context&);
  static constexpr RenewalCheck kRenewalChain[] = {
      CheckExpiryImminent,   CheckAriWindowPassed,      CheckClientNotRenewing,
      CheckClientRenewsTooLate, CheckSwitch,           CheckHazardEarlyRenewal,   CheckForecastEarlyRenewal,
      CheckSuspectedCauseDryRun,
  };
  std::optional<Proposal> renewal;
  for (RenewalCheck check : kRenewalChain) {
    if ((renewal = check(x))) break;
  }

  // Deploy: reload every host that serves an older certificate (independent of renewals: a reload
  // costs no issuance).
  const std::vector<Served> stale = StaleServers(x);
  std::vector<Proposal> reloads;
  std::set<std::string> reload_hosts;
  for (const Served& s : stale) {
    if (!reload_hosts.insert(s.host).second) continue;
    Proposal p;
    p.track = Track::kRenewal;
    p.kind = ActionKind::kReload;
    if (!s.host.empty()) p.host = s.host;
    p.reason = kReasonServedStale;
    p.message = StrCat(s.endpoint, " serves ",
                       s.serial.empty() ? std::string("an expired certificate") : s.serial,
                       s.not_after ? StrCat(" (expires ", Ts(*s.not_after), ")") : "",
                       " but ", v.current->serial, " was issued at ", Ts(v.current_recorded_at),
                       "; reloading ", s.host.empty() ? "every host" : s.host);
    const bool urgent = s.not_after && *s.not_after - in.now < in.config.urgent_expiry;
    p.urgency = urgent ? 100 : 1;
    p.safety_net = urgent;
    reloads.push_back(std::move(p));
  }

  // Alert track: the first check that fires.
  std::optional<Proposal> alert;
  using AlertCheck = std::optional<Proposal> (*)(const Context&);
  static constexpr AlertCheck kAlertChainHead[] = {AlertLineageNotObserved, AlertExpiryImminent,
                                                   AlertFewAttemptsLeft, AlertRenewalFailing};
  for (AlertCheck check : kAlertChainHead) {
    if ((alert = check(x))) break;
  }
  if (!alert) alert = AlertReloadNotEffective(x, stale);
  static constexpr AlertCheck kAlertChainTail[] = {AlertSwitchNotKept, AlertClientNotRenewing,
                                                   AlertPredictedFailure,
                                                   AlertHazardAhead, AlertRenewRuleTooLate};
  if (!alert) {
    for (AlertCheck check : kAlertChainTail) {
      if ((alert = check(x))) break;
    }
  }

  // ---- Gates: the ordered table of kGates; the first that holds a proposal keeps it back ----
  auto gate = [&](Proposal& p) -> bool {
    for (const NamedGate& g : Gates()) {
      if (std::optional<GateHold> h = g.gate(in, p)) {
        decision.held.push_back(Held{std::move(p), h->why, std::move(h->detail)});
        return false;
      }
    }
    return true;
  };
  if (renewal) {
    Proposal& p = *renewal;
    const bool safety_net = p.safety_net;
    if (gate(p)) {
      decision.actions.push_back(std::move(p));
    } else if (decision.held.back().why == kHeldRateLimit && safety_net && !alert) {
      alert = Alert(x, kReasonRateLimitBudget,
                    StrCat("certificate expires at ", Ts(v.current->not_after),
                           " but renewing now would hit a rate limit: ",
                           decision.held.back().detail, CauseSuffix(x)),
                    StrCat("ratelimit:", v.current->serial));
    }
  }
  for (Proposal& p : reloads) {
    if (gate(p)) decision.actions.push_back(std::move(p));
  }
  if (alert && gate(*alert)) decision.actions.push_back(std::move(*alert));
  return decision;
}

}  // namespace certcast::policy
