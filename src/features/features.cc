#include "features/features.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/container/flat_hash_map.h"
#include "core/strings.h"
#include "core/time.h"
#include "features/client_rule.h"
#include "features/domains.h"
#include "features/fleet_state.h"

namespace certcast {

namespace {

// Order must match enum Feature. Meanings are what `certcast explain` and docs/forecast.md show.
constexpr FeatureSpec kCatalogue[] = {
    {"days_to_expiry", "days from T to the current certificate's notAfter", 1},
    {"lifetime_days", "validity period of the current certificate, days", 1},
    {"lifetime_elapsed", "fraction of the current certificate's lifetime elapsed at T", 1},
    {"days_to_due", "days from T until the client's renewal rule says renew (negative: overdue)", 3},
    {"days_to_next_attempt", "days from T to the next attempt under the client's rule and backoff", 4},
    {"ari_enabled", "1 when the lineage's client uses ARI", 1},
    {"ari_window_start_days", "days from T to the ARI suggested window start", 1},
    {"ari_moved_earlier_days", "how many days earlier ARI asks to renew than the lifetime rule (revocation)", 1},
    {"days_since_success", "days since the last successful renewal or issuance", 1},
    {"days_since_config_change", "days since the lineage's config last changed", 1},
    {"days_observed", "days since the lineage's first config event", 1},
    {"episodes_per_90_days", "past episode onsets of this lineage per 90 days observed", 1},
    {"days_since_last_episode", "days since this lineage's previous episode onset", 1},
    {"dry_run_failed_since_success", "1 when the latest dry run failed after the last success", 1},
    {"dry_run_failures", "dry-run failures, decayed with a 7-day time constant", 1},
    {"validation_failures", "past validation failures (connection, unauthorized, dns, caa), 14-day decay", 1},
    {"other_failures", "past non-validation failures (CA, network, local, rate limit), 14-day decay", 1},
    {"attempts_per_day", "renewal attempts incl. dry runs, 1-day decay", 1},
    {"challenge_http01", "1 when the configured challenge is HTTP-01", 1},
    {"challenge_dns01", "1 when the configured challenge is DNS-01", 1},
    {"names_count", "number of names on the certificate", 1},
    {"wildcard", "1 when a name is a wildcard", 1},
    {"challenge_probe_fail_days_4", "days of the last 4 on which the probe of the configured challenge failed", 1},
    {"challenge_probe_fail_rate", "failure share of the configured challenge's probes, 3-day decay", 1},
    {"http01_fail_days_4", "days of the last 4 with a failed HTTP-01 reachability probe (worst name)", 1},
    {"http01_fail_rate", "failure share of HTTP-01 probes, 3-day decay (worst name)", 1},
    {"http01_consecutive_failures", "HTTP-01 probe failures in a row (worst name and vantage)", 1},
    {"dns01_fail_days_4", "days of the last 4 with a failed DNS-01 publish check (worst name)", 1},
    {"dns01_fail_rate", "failure share of DNS-01 checks, 3-day decay (worst name)", 1},
    {"dns01_propagation_ratio", "DNS-01 propagation time, last day vs 14-day average", 1},
    {"address_change_days", "days since an A/AAAA answer of a name changed", 1},
    {"address_foreign_fraction", "share of current A/AAAA addresses never seen when the host renewed", 1},
    {"dns_error_days_4", "days of the last 4 with SERVFAIL/NXDOMAIN/REFUSED/timeout on A/AAAA/CAA", 1},
    {"dns_last_rcode_bad", "1 when the latest A/AAAA lookup failed", 1},
    {"ns_change_days", "days since the NS set of a name changed", 1},
    {"caa_forbids_ca", "1 when a name's CAA records do not permit the configured CA", 1},
    {"caa_change_days", "days since a name's CAA records changed", 1},
    {"dnssec_bogus_days_4", "days of the last 4 with a DNSSEC-bogus answer", 1},
    {"rrsig_margin_days", "days from the next attempt to the earliest RRSIG expiry", 4},
    {"served_stale_days", "days the served serial has lagged the newest issued one (0 when current)", 1},
    {"tls_error_days_4", "days of the last 4 with a TLS probe error", 1},
    {"deploy_failed_days", "days since the last failed deploy", 1},
    {"ca_probe_error_rate", "CA directory/nonce probe failure share, 2-day decay", 1},
    {"ca_latency_ratio", "CA probe latency, last day vs 14-day average", 1},
    {"ca_fleet_failure_rate", "share of the fleet's renewals on this CA that failed, 3-day decay", 1},
    {"ca_episode_fraction", "share of lineages on this CA inside an episode", 1},
    {"clock_offset_abs_seconds", "absolute clock offset of the host, seconds", 1},
    {"clock_slope_abs_seconds_per_day", "how fast the host's clock offset grows, seconds per day", 1},
    {"clock_unsynced", "1 when the host reports its clock unsynchronised", 1},
    {"disk_free_fraction", "free share of the host's disk", 1},
    {"disk_days_to_full", "days until the host's disk is full at the current trend (365 = not shrinking)", 1},
    {"disk_margin_days", "days the disk lasts at its current trend beyond the next attempt (negative: full before it)", 4},
    {"scheduler_stale_days", "days since the host's renewal scheduler last ran", 1},
    {"host_events_recent", "host upgrades/restarts/redeploys, 3-day decay", 1},
    {"client_change_days", "days since the ACME client or its version changed", 1},
    {"credential_margin_days", "days from the next attempt to the earliest expiry of a credential the lineage needs (account key; DNS API token for DNS-01; EAB at a CA that requires it), own host or sibling hosts of the same parent domain", 6},
    {"credential_missing", "1 when a credential renewal needs is reported missing", 2},
    {"domain_margin_days", "days from the next attempt to the registered domain's expiry", 4},
    {"domain_status_bad", "1 when the registered domain's status is hold/expired/redemption/pending", 1},
    {"issued_7d_registered_domain", "certificates issued in the fleet for the registered domain in 7 days (limit 50)", 1},
    {"issued_7d_name_set", "certificates issued for this exact name set in 7 days (limit 5)", 1},
    {"host_lineages", "lineages on the same host", 1},
    {"host_episode_fraction", "share of the host's other lineages inside an episode", 1},
    {"ns_group_episode_fraction", "share of lineages with the same DNS provider (NS set) inside an episode", 1},
    {"warning_signals", "number of distinct precursor signals active (probe, DNS, CAA, DNSSEC, clock, disk, rate-limit budget, ...)", 4},
    {"hard_blockers", "number of conditions that fail any renewal attempt, present now or before the next attempt (disk full, credential expired or missing, domain lapsed, CAA forbids the CA, DNSSEC bogus, scheduler stopped, host clock off by more than 5 minutes)", 7},
    {"blocked_attempt_days", "days from T to the next renewal attempt when a hard blocker will be present at it (365: none)", 5},
    {"issued_24h_name_set", "certificates issued for this exact name set in the 24 hours before T", 1},
    {"rate_limit_budget_days", "days until this name set's 5-per-week limit is spent at the last 2 days' issuance rate beyond one renewal (0: spent; 365: not being spent)", 1},
    {"premature_issuances", "issuances made before a quarter of the replaced certificate's lifetime had passed (restart/redeploy loops), 3-day decay", 1},
    {"failed_validations_1h", "failed validations of this lineage in the hour before T (the CA allows 5 per hour)", 1},
    {"days_since_rate_limited", "days since the CA last answered rateLimited to this lineage", 1},
    {"challenge_probe_fail_days_30", "days of the last 30 on which the configured challenge's probe failed (recurrence)", 1},
    {"challenge_probe_fail_run_days", "consecutive days up to T on which the configured challenge's probe failed (the condition's age)", 1},
    {"challenge_probe_trend", "failed probe days of the last 4 minus those of the 4 before (positive: getting worse)", 1},
    {"ns_group_probe_fail_fraction", "share of the other lineages on the same DNS provider whose challenge probe failed on the last day (fleet-wide: a provider or vantage-point incident)", 1},
    {"ca_probe_fail_days_4", "days of the last 4 with a failed probe of the lineage's CA", 1},
    {"ca_degraded_attempt_days", "days from T to the next renewal attempt when the CA is degraded now (probe failures or latency 2x usual; 365: not degraded)", 2},
};
static_assert(std::size(kCatalogue) == kFeatureCount, "catalogue and enum Feature must match");

constexpr double kCapDays = 365;
// Let's Encrypt's certificates per exact set of identifiers per 7 days.
constexpr int kExactSetLimit = 5;
float Cap(double days) { return static_cast<float>(std::clamp(days, -kCapDays, kCapDays)); }
float DaysSince(double at_days, double t_days) {
  return t_days < -1e299 ? kMissing : Cap(at_days - t_days);
}

}  // namespace

std::span<const FeatureSpec> FeatureCatalogue() { return kCatalogue; }

std::string FeatureSchemaId() {
  // FNV-1a over "name:version;" — stable across builds and platforms.
  uint64_t h = 1469598103934665603ull;
  for (const FeatureSpec& f : kCatalogue) {
    for (char c : StrCat(f.name, ":", f.version, ";")) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return StrCat("features-v1/", static_cast<int>(kFeatureCount), "/", hex);
}

StatusOr<FeatureExtractor> FeatureExtractor::Create(const FleetState& state, absl::Time at) {
  if (state.watermark() >= at) {
    return InvalidArgumentError(StrCat("features at ", FormatRfc3339(at), " asked of a state that has seen ",
                                       FormatRfc3339(state.watermark()), ": that would read the future"));
  }
  return FeatureExtractor(state, at);
}

FeatureExtractor::FeatureExtractor(const FleetState& state, absl::Time at)
    : state_(&state), at_(at), at_days_(ToDays(at)), last_day_(DayIndex(at - absl::Nanoseconds(1))) {
  const FleetStateImpl& f = state.impl();
  host_in_episode_.assign(f.hosts.size(), 0);
  ca_in_episode_.assign(f.cas.size(), 0);
  ca_lineages_.assign(f.cas.size(), 0);
  lineage_ns_group_.assign(f.lineages.size(), UINT32_MAX);
  lineage_probe_failed_.assign(f.lineages.size(), 0);
  absl::flat_hash_map<std::string_view, uint32_t> groups;
  for (size_t i = 0; i < f.lineages.size(); ++i) {
    const LineageExtra& x = f.extras[i];
    const bool in = InEpisode(f.lineages[i]);
    if (const auto& config = f.lineages[i].config; config.has_value()) {
      for (size_t ni : x.names) {
        const NameTelemetry& n = f.names[ni];
        const DayBitmap& probe = config->challenge == Challenge::kDns01 ? n.dns01_days : n.http01_days;
        if (probe.FailedDays(last_day_, 1) > 0) lineage_probe_failed_[i] = 1;
      }
    }
    if (x.host != SIZE_MAX && in) ++host_in_episode_[x.host];
    if (x.ca != SIZE_MAX) {
      ++ca_lineages_[x.ca];
      if (in) ++ca_in_episode_[x.ca];
    }
    for (size_t ni : x.names) {
      const std::string& key = f.names[ni].ns_key;
      if (key.empty()) continue;
      auto [it, inserted] = groups.try_emplace(key, static_cast<uint32_t>(groups.size()));
      if (inserted) { ns_in_episode_.push_back(0); ns_lineages_.push_back(0); ns_probe_failed_.push_back(0); }
      lineage_ns_group_[i] = it->second;
      ++ns_lineages_[it->second];
      if (in) ++ns_in_episode_[it->second];
      ns_probe_failed_[it->second] += lineage_probe_failed_[i];
      break;
    }
  }
}

bool FeatureExtractor::HasConfig(size_t lineage) const {
  return state_->lineage(lineage).config.has_value();
}

void FeatureExtractor::Extract(size_t li, float* out) const {
  const FleetStateImpl& f = state_->impl();
  const LineageState& s = f.lineages[li];
  const LineageExtra& x = f.extras[li];
  const double a = at_days_;
  std::fill(out, out + kFeatureCount, kMissing);

  // Timing under the client's rule.
  std::optional<absl::Time> next_attempt = NextScheduledAttempt(s, at_);
  double next_days = next_attempt ? ToDays(*next_attempt) : 1e300;
  if (s.issued) {
    const double nb = ToDays(s.issued->not_before), na = ToDays(s.issued->not_after);
    const double lifetime = std::max(1e-6, na - nb);
    out[kDaysToExpiry] = Cap(na - a);
    out[kLifetimeDays] = Cap(lifetime);
    out[kLifetimeElapsed] = static_cast<float>(std::clamp((a - nb) / lifetime, -1.0, 2.0));
    if (auto due = RenewalDueTime(s)) out[kDaysToDue] = Cap(ToDays(*due) - a);
    if (next_attempt) out[kDaysToNextAttempt] = Cap(next_days - a);
    if (s.ari && s.ari->window_end > s.ari->window_start) {
      out[kAriWindowStartDays] = Cap(ToDays(s.ari->window_start) - a);
      const double rule_due = nb + lifetime * (lifetime < 10 ? 0.5 : 2.0 / 3.0);
      out[kAriMovedEarlierDays] = Cap(std::max(0.0, rule_due - ToDays(s.ari->window_start)));
    }
  }
  const bool has_config = s.config.has_value();
  if (has_config) {
    out[kAriEnabled] = s.config->ari ? 1 : 0;
    out[kChallengeHttp01] = s.config->challenge == Challenge::kHttp01 ? 1 : 0;
    out[kChallengeDns01] = s.config->challenge == Challenge::kDns01 ? 1 : 0;
    out[kNamesCount] = static_cast<float>(s.config->names.size());
    out[kWildcard] = std::any_of(s.config->names.begin(), s.config->names.end(),
                                 [](const std::string& n) { return n.starts_with("*."); }) ? 1 : 0;
    out[kDaysSinceConfigChange] = DaysSince(a, ToDays(s.config_ts));
    out[kDaysObserved] = DaysSince(a, ToDays(s.first_config_ts));
    const double observed = std::max(30.0, a - ToDays(s.first_config_ts));
    out[kEpisodesPer90Days] = static_cast<float>(90.0 * s.episodes / observed);
  }
  double last_success = -1e300;
  if (s.last_success) last_success = ToDays(s.last_success->ts);
  if (s.issued_count > 0) last_success = std::max(last_success, ToDays(s.issued_ts));
  out[kDaysSinceSuccess] = DaysSince(a, last_success);
  out[kDaysSinceLastEpisode] = DaysSince(a, x.last_episode_onset_days);
  out[kDryRunFailedSinceSuccess] =
      (s.last_dry_run && s.last_dry_run->outcome == Outcome::kFailure && ToDays(s.last_dry_run->ts) > last_success) ? 1 : 0;
  out[kDryRunFailures] = static_cast<float>(x.dry_run_failures.At(a, 7.0));
  out[kValidationFailures] = static_cast<float>(x.validation_failures.At(a, 14.0));
  out[kOtherFailures] = static_cast<float>(x.other_failures.At(a, 14.0));
  out[kAttemptsPerDay] = static_cast<float>(x.attempts.At(a, 1.0));

  // Per-name telemetry: the worst name decides (one failing name fails the whole order).
  int http_days = -1, dns01_days = -1, dns_err_days = 0, bogus_days = 0, tls_days = 0, http_consec = 0;
  double http_rate = -1, dns01_rate = -1, prop_ratio = -1, addr_change = -1e300, ns_change = -1e300,
         caa_change = -1e300, rrsig = 1e300;
  bool rcode_bad = false, caa_seen = false, caa_forbids = false;
  size_t addr_total = 0, addr_foreign = 0;
  const HostTelemetry* host = x.host != SIZE_MAX ? &f.hosts[x.host] : nullptr;
  const std::string* ca_url = has_config ? &s.config->ca : nullptr;
  for (size_t k = 0; k < x.names.size(); ++k) {
    const NameTelemetry& n = f.names[x.names[k]];
    if (!n.http01_rate.empty()) {
      http_days = std::max(http_days, n.http01_days.FailedDays(last_day_, 4));
      http_rate = std::max(http_rate, n.http01_rate.At(a, 3.0));
      for (const auto& [vantage, run] : n.http01_consecutive_failures) http_consec = std::max(http_consec, run);
    }
    if (!n.dns01_rate.empty()) {
      dns01_days = std::max(dns01_days, n.dns01_days.FailedDays(last_day_, 4));
      dns01_rate = std::max(dns01_rate, n.dns01_rate.At(a, 3.0));
    }
    if (!n.dns01_propagation.empty()) {
      const double r = n.dns01_propagation.Ratio(a);
      if (std::isfinite(r)) prop_ratio = std::max(prop_ratio, r);
    }
    dns_err_days = std::max(dns_err_days, n.address_error_days.FailedDays(last_day_, 4));
    bogus_days = std::max(bogus_days, n.dnssec_bogus_days.FailedDays(last_day_, 4));
    tls_days = std::max(tls_days, n.tls_error_days.FailedDays(last_day_, 4));
    rcode_bad = rcode_bad || n.last_address_rcode_bad;
    addr_change = std::max(addr_change, n.address_change_days);
    ns_change = std::max(ns_change, n.ns_change_days);
    caa_change = std::max(caa_change, n.caa_change_days);
    rrsig = std::min(rrsig, n.rrsig_expires_days);
    if (host != nullptr && !host->known_addresses.empty()) {
      for (const auto* values : {&n.a_values, &n.aaaa_values}) {
        for (const std::string& v : *values) {
          ++addr_total;
          if (!host->known_addresses.contains(v)) ++addr_foreign;
        }
      }
    }
    if (n.caa_seen && ca_url != nullptr) {
      caa_seen = true;
      const bool wildcard = s.config->names.size() > k && s.config->names[k].starts_with("*.");
      if (!CaaAllowsCa(n.caa_values, *ca_url, wildcard).permitted) caa_forbids = true;
    }
  }
  if (http_days >= 0) {
    out[kHttp01FailDays4] = static_cast<float>(http_days);
    out[kHttp01FailRate] = static_cast<float>(http_rate);
    out[kHttp01ConsecutiveFailures] = static_cast<float>(http_consec);
  }
  if (dns01_days >= 0) {
    out[kDns01FailDays4] = static_cast<float>(dns01_days);
    out[kDns01FailRate] = static_cast<float>(dns01_rate);
  }
  if (prop_ratio >= 0) out[kDns01PropagationRatio] = static_cast<float>(prop_ratio);
  if (has_config) {
    const bool http = s.config->challenge == Challenge::kHttp01;
    const bool dns = s.config->challenge == Challenge::kDns01;
    if (http && http_days >= 0) {
      out[kChallengeProbeFailDays4] = static_cast<float>(http_days);
      out[kChallengeProbeFailRate] = static_cast<float>(http_rate);
    } else if (dns && dns01_days >= 0) {
      out[kChallengeProbeFailDays4] = static_cast<float>(dns01_days);
      out[kChallengeProbeFailRate] = static_cast<float>(dns01_rate);
    }
  }
  out[kAddressChangeDays] = DaysSince(a, addr_change);
  if (addr_total > 0) out[kAddressForeignFraction] = static_cast<float>(addr_foreign) / addr_total;
  out[kDnsErrorDays4] = static_cast<float>(dns_err_days);
  out[kDnsLastRcodeBad] = rcode_bad ? 1 : 0;
  out[kNsChangeDays] = DaysSince(a, ns_change);
  if (caa_seen) out[kCaaForbidsCa] = caa_forbids ? 1 : 0;
  out[kCaaChangeDays] = DaysSince(a, caa_change);
  out[kDnssecBogusDays4] = static_cast<float>(bogus_days);
  const double margin_from = std::min(next_days, 1e299) < 1e299 ? next_days : a;
  if (rrsig < 1e299) out[kRrsigMarginDays] = Cap(rrsig - margin_from);

  // What is served vs what was issued.
  if (s.issued && s.served_serial) {
    const double issued_age = a - ToDays(s.issued_ts);
    out[kServedStaleDays] =
        (*s.served_serial != s.issued->serial && s.served_ts > s.issued_ts) ? Cap(issued_age) : 0.0f;
  }
  out[kTlsErrorDays4] = static_cast<float>(tls_days);
  out[kDeployFailedDays] = DaysSince(a, x.deploy_failed_days);

  // CA health and fleet context on the CA.
  if (x.ca != SIZE_MAX) {
    const CaTelemetry& ca = f.cas[x.ca];
    if (!ca.probe_rate.empty()) out[kCaProbeErrorRate] = static_cast<float>(ca.probe_rate.At(a, 2.0));
    const double lr = ca.latency.Ratio(a);
    if (std::isfinite(lr)) out[kCaLatencyRatio] = static_cast<float>(lr);
    if (!ca.fleet_renewals.empty()) out[kCaFleetFailureRate] = static_cast<float>(ca.fleet_renewals.At(a, 3.0));
    if (ca_lineages_[x.ca] > 0) out[kCaEpisodeFraction] = static_cast<float>(ca_in_episode_[x.ca]) / ca_lineages_[x.ca];
  }

  // Host.
  const bool needs_dns_api = has_config && s.config->challenge == Challenge::kDns01;
  const bool needs_eab = has_config && CaRequiresEab(s.config->ca);
  double credential_expiry = x.credentials.Earliest(needs_dns_api, needs_eab);
  bool credential_missing = x.credentials.AnyMissing(needs_dns_api, needs_eab);
  if (host != nullptr) {
    if (host->has_clock) {
      out[kClockOffsetAbsSeconds] = static_cast<float>(std::abs(host->clock_offset_ms) / 1000.0);
      const double slope = host->clock_trend.Slope();
      if (std::isfinite(slope)) out[kClockSlopeAbsSecondsPerDay] = static_cast<float>(std::abs(slope));
      out[kClockUnsynced] = host->clock_synced.has_value() ? (*host->clock_synced ? 0 : 1) : kMissing;
    }
    if (host->has_disk) {
      out[kDiskFreeFraction] = static_cast<float>(host->disk_free_fraction);
      const double slope = host->disk_trend.Slope();
      out[kDiskDaysToFull] = (std::isfinite(slope) && slope < -1e-9)
                                 ? Cap(host->disk_free_fraction / -slope) : static_cast<float>(kCapDays);
      // Relative to the next attempt, like the credential margin: what matters is whether the
      // disk is full when the client runs, whatever the fleet's disk sizes and fill rates.
      if (next_days < 1e299) out[kDiskMarginDays] = Cap(out[kDiskDaysToFull] - (next_days - a));
    }
    out[kSchedulerStaleDays] = DaysSince(a, host->scheduler_last_run_days);
    out[kHostEventsRecent] = static_cast<float>(host->host_events.At(a, 3.0));
    out[kClientChangeDays] = DaysSince(a, std::max(host->client_version_change_days, x.config_client_change_days));
    const CredentialSet& org = f.organisations[host->organisation];
    credential_expiry = std::min({credential_expiry, host->credentials.Earliest(needs_dns_api, needs_eab),
                                  org.Earliest(needs_dns_api, needs_eab)});
    credential_missing = credential_missing || host->credentials.AnyMissing(needs_dns_api, needs_eab) ||
                         org.AnyMissing(needs_dns_api, needs_eab);
    out[kHostLineages] = static_cast<float>(host->lineages.size());
    if (host->lineages.size() > 1) {
      const uint32_t others = host_in_episode_[x.host] - (InEpisode(s) ? 1 : 0);
      out[kHostEpisodeFraction] = static_cast<float>(others) / (host->lineages.size() - 1);
    }
  } else {
    out[kClientChangeDays] = DaysSince(a, x.config_client_change_days);
  }
  if (credential_expiry < 1e299) out[kCredentialMarginDays] = Cap(credential_expiry - margin_from);
  out[kCredentialMissing] = credential_missing ? 1 : 0;
  double domain_expiry = 1e300;
  bool domain_bad = false;
  int issued_rd = 0;
  for (size_t rd : x.registered_domains) {
    const RegisteredDomainTelemetry& d = f.registered_domains[rd];
    domain_expiry = std::min(domain_expiry, d.expires_days);
    domain_bad = domain_bad || d.status_bad;
    // Sorted by time: a binary search, not a scan (a hosting provider's registered domain can
    // carry tens of thousands of issuances a week).
    const int count = static_cast<int>(d.issued_days.end() - std::lower_bound(d.issued_days.begin(), d.issued_days.end(), a - 7));
    issued_rd = std::max(issued_rd, count);
  }
  if (domain_expiry < 1e299) out[kDomainMarginDays] = Cap(domain_expiry - margin_from);
  out[kDomainStatusBad] = domain_bad ? 1 : 0;
  out[kIssued7dRegisteredDomain] = static_cast<float>(issued_rd);
  if (x.name_set != SIZE_MAX) {
    const auto& q = f.name_sets[x.name_set].issued_days;
    out[kIssued7dNameSet] = static_cast<float>(q.end() - std::lower_bound(q.begin(), q.end(), a - 7));
  }
  if (lineage_ns_group_[li] != UINT32_MAX && ns_lineages_[lineage_ns_group_[li]] > 1) {
    const uint32_t g = lineage_ns_group_[li];
    out[kNsGroupEpisodeFraction] =
        static_cast<float>(ns_in_episode_[g] - (InEpisode(s) ? 1 : 0)) / (ns_lineages_[g] - 1);
  }

  ExtractDiagnosisAndPersistence(li, next_days, out);

  // Distinct warnings, each a plain-language precursor from docs/background.md section 7. Thresholds are
  // deliberately loose ("something is off"), the model weighs them; the count transfers across
  // fleets whose causes differ.
  auto on = [&](int feature, float threshold) { return std::isfinite(out[feature]) && out[feature] >= threshold; };
  auto below = [&](int feature, float threshold) { return std::isfinite(out[feature]) && out[feature] < threshold; };
  int warnings = 0;
  warnings += on(kChallengeProbeFailDays4, 1);
  warnings += on(kAddressForeignFraction, 0.01f) && below(kAddressChangeDays, 30);
  warnings += on(kDnsErrorDays4, 1);
  warnings += on(kCaaForbidsCa, 1);
  warnings += on(kDnssecBogusDays4, 1) || below(kRrsigMarginDays, 1);
  warnings += on(kServedStaleDays, 2);
  warnings += on(kCaProbeErrorRate, 0.2f);
  warnings += on(kClockOffsetAbsSeconds, 30) || on(kClockUnsynced, 1);
  warnings += below(kDiskFreeFraction, 0.05f) || below(kDiskDaysToFull, 14) || below(kDiskMarginDays, 1);
  warnings += on(kSchedulerStaleDays, 3);
  warnings += below(kCredentialMarginDays, 1) || on(kCredentialMissing, 1);
  warnings += below(kDomainMarginDays, 1) || on(kDomainStatusBad, 1);
  warnings += on(kIssued7dNameSet, 4) || on(kIssued7dRegisteredDomain, 40) || below(kRateLimitBudgetDays, 7);
  warnings += on(kDryRunFailedSinceSuccess, 1);
  out[kWarningSignals] = static_cast<float>(warnings);

  // Hard blockers: unlike the loose warnings above, each of these fails the attempt it meets
  // (docs/background.md section 7). One column for all of them because each cause alone is rare (a few
  // disk-full onsets a year in a fleet of 1,000, outnumbered by disk warnings that clear): pooled,
  // what the model learns from expiring DNS API tokens also applies to a full disk.
  int blockers = 0;
  // A full disk, not a trend towards one: disk warnings that clear fall steeply to a few percent
  // and would read as "full before the attempt" (the simulator's look-alikes do exactly that).
  blockers += below(kDiskFreeFraction, 0.001f);
  blockers += below(kCredentialMarginDays, 0) || on(kCredentialMissing, 1);
  blockers += below(kDomainMarginDays, 0) || on(kDomainStatusBad, 1);
  blockers += on(kCaaForbidsCa, 1);
  blockers += on(kDnssecBogusDays4, 2);
  blockers += on(kSchedulerStaleDays, 3);
  // The policy's hard fact too (ClockHarmful): a clock reset to another year fails every attempt.
  blockers += on(kClockOffsetAbsSeconds, static_cast<float>(kClockHarmSeconds));
  out[kHardBlockers] = static_cast<float>(blockers);
  // The count alone is 1 on many rows whose next attempt is weeks away (a credential that expires
  // before it), which a 7-day label calls negative; when the blocked attempt comes is what one
  // split needs to separate the few onsets of each cause.
  out[kBlockedAttemptDays] = blockers > 0 && std::isfinite(out[kDaysToNextAttempt])
                                 ? Cap(std::max(0.0f, out[kDaysToNextAttempt]))
                                 : static_cast<float>(kCapDays);
}

// Issue #14's diagnosed facts (rate-limit budget) and the persistence of conditions (age,
// recurrence, trend, fleet-wide-ness). Reads what Extract wrote for the timing columns.
void FeatureExtractor::ExtractDiagnosisAndPersistence(size_t li, double next_days, float* out) const {
  const FleetStateImpl& f = state_->impl();
  const LineageState& s = f.lineages[li];
  const LineageExtra& x = f.extras[li];
  const double a = at_days_;

  // Rate limits. The exact-set limit (5 certificates per 7 days) is the one a lineage spends on
  // its own; one issuance in two days is an ordinary renewal, more is a loop.
  if (x.name_set != SIZE_MAX) {
    const auto& q = f.name_sets[x.name_set].issued_days;
    auto since = [&](double days) {
      return static_cast<int>(q.end() - std::lower_bound(q.begin(), q.end(), a - days));
    };
    const int week = since(7), two_days = since(2);
    out[kIssued24hNameSet] = static_cast<float>(since(1));
    const double rate = std::max(0, two_days - 1) / 2.0;
    out[kRateLimitBudgetDays] = week >= kExactSetLimit ? 0.0f
                                : rate > 0            ? Cap((kExactSetLimit - week) / rate)
                                                      : static_cast<float>(kCapDays);
  }
  const DiagnosisFacts& d = x.diagnosis;
  out[kPrematureIssuances] = static_cast<float>(d.premature_issuances.At(a, 3.0));
  out[kFailedValidations1h] = static_cast<float>(
      d.failed_validations.end() -
      std::lower_bound(d.failed_validations.begin(), d.failed_validations.end(), a - 1.0 / 24));
  out[kDaysSinceRateLimited] = DaysSince(a, d.rate_limited_days);

  // Persistence of the configured challenge's probe failures (worst name).
  if (s.config) {
    int days30 = -1, run = 0, trend = -4;  // -4: the least a 4-day difference can be
    for (size_t ni : x.names) {
      const NameTelemetry& n = f.names[ni];
      const bool dns = s.config->challenge == Challenge::kDns01;
      if ((dns ? n.dns01_rate : n.http01_rate).empty()) continue;
      const DayBitmap& probe = dns ? n.dns01_days : n.http01_days;
      days30 = std::max(days30, probe.FailedDays(last_day_, 30));
      run = std::max(run, probe.FailedRun(last_day_));
      trend = std::max(trend, probe.FailedDays(last_day_, 4) - probe.FailedDays(last_day_ - 4, 4));
    }
    if (days30 >= 0) {
      out[kChallengeProbeFailDays30] = static_cast<float>(days30);
      out[kChallengeProbeFailRunDays] = static_cast<float>(run);
      out[kChallengeProbeTrend] = static_cast<float>(trend);
    }
  }
  if (lineage_ns_group_[li] != UINT32_MAX && ns_lineages_[lineage_ns_group_[li]] > 1) {
    const uint32_t g = lineage_ns_group_[li];
    out[kNsGroupProbeFailFraction] =
        static_cast<float>(ns_probe_failed_[g] - lineage_probe_failed_[li]) / (ns_lineages_[g] - 1);
  }

  // The CA: how long it has been degraded, and whether the next attempt meets it degraded.
  if (x.ca != SIZE_MAX) {
    const CaTelemetry& ca = f.cas[x.ca];
    if (!ca.probe_rate.empty()) {
      out[kCaProbeFailDays4] = static_cast<float>(ca.probe_days.FailedDays(last_day_, 4));
      const bool degraded = ca.probe_rate.At(a, 2.0) >= 0.1 || ca.probe_days.FailedDays(last_day_, 1) > 0 ||
                            (std::isfinite(out[kCaLatencyRatio]) && out[kCaLatencyRatio] >= 2);
      out[kCaDegradedAttemptDays] = degraded && next_days < 1e299 ? Cap(std::max(0.0, next_days - a))
                                                                  : static_cast<float>(kCapDays);
    }
  }
}

// ---------------------------------------------------------------------------------------------
namespace {

std::string Days(double d) {
  char buf[32];
  if (std::abs(d) < 1) {
    std::snprintf(buf, sizeof buf, "%.0f hours", std::abs(d) * 24);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f day%s", std::abs(d), std::abs(d) >= 1.5 ? "s" : "");
  }
  return buf;
}

std::string FirstName(const LineageState& s) {
  return s.config && !s.config->names.empty() ? s.config->names.front() : s.cert;
}

}  // namespace

std::string DescribeFeature(int feature, float value, const FleetState& state, size_t li) {
  if (!std::isfinite(value)) return "";
  // A count or rate of zero lowers nothing a person could fix: not a reason.
  switch (feature) {
    case kChallengeProbeFailDays4: case kChallengeProbeFailRate: case kHttp01FailDays4: case kHttp01FailRate:
    case kHttp01ConsecutiveFailures: case kDns01FailDays4: case kDns01FailRate: case kDnsErrorDays4:
    case kDnssecBogusDays4: case kTlsErrorDays4: case kCaProbeErrorRate: case kCaFleetFailureRate:
    case kCaEpisodeFraction: case kIssued7dRegisteredDomain: case kIssued7dNameSet: case kAttemptsPerDay:
    case kClockOffsetAbsSeconds: case kClockSlopeAbsSecondsPerDay: case kIssued24hNameSet:
    case kPrematureIssuances: case kFailedValidations1h: case kChallengeProbeFailDays30:
    case kChallengeProbeFailRunDays: case kChallengeProbeTrend: case kNsGroupProbeFailFraction:
    case kCaProbeFailDays4:
      if (value <= 0.005f) return "";
      // ACME tolerates seconds of clock error: "off by 0 s" was printed as a reason.
      if (feature == kClockOffsetAbsSeconds && value < 1) return "";
      break;
    // A margin of weeks before something runs out is not a reason to worry.
    case kDiskMarginDays: case kCredentialMarginDays: case kDomainMarginDays: case kRrsigMarginDays:
      if (value > 14) return "";
      break;
    default: break;
  }
  const FleetStateImpl& f = state.impl();
  const LineageState& s = f.lineages[li];
  const LineageExtra& x = f.extras[li];
  const std::string name = FirstName(s);
  const std::string host = s.config ? s.config->host : "its host";
  const std::string ca = s.config ? UrlHost(s.config->ca) : "the CA";
  const int iv = static_cast<int>(std::lround(value));
  char pct[16];
  std::snprintf(pct, sizeof pct, "%.0f%%", value * 100);
  switch (feature) {
    case kDaysToExpiry: return value < 0 ? StrCat("the certificate expired ", Days(value), " ago")
                                         : StrCat("the certificate expires in ", Days(value));
    case kLifetimeDays: return StrCat("certificates of this lineage live ", Days(value), ", leaving little time to retry");
    case kLifetimeElapsed: return StrCat(std::lround(value * 100), "% of the certificate's lifetime has passed");
    case kDaysToDue: return value <= 0 ? StrCat("renewal has been due for ", Days(value))
                                       : StrCat("renewal falls due in ", Days(value));
    case kDaysToNextAttempt: return StrCat("next renewal attempt in ", Days(value));
    case kAriEnabled: return value > 0 ? "the client follows ARI" : "the client does not use ARI";
    case kAriWindowStartDays: return value <= 0 ? "the CA's ARI window is open: the CA asks for renewal now"
                                                : StrCat("the CA's ARI window opens in ", Days(value));
    case kAriMovedEarlierDays: return value > 1 ? StrCat("the CA moved its ARI renewal window ", Days(value), " earlier (possible revocation)") : "";
    case kDaysSinceSuccess: return StrCat("last successful renewal ", Days(value), " ago");
    case kDaysSinceConfigChange: return StrCat("renewal configuration changed ", Days(value), " ago");
    case kDaysObserved: return StrCat("observed for ", Days(value));
    case kEpisodesPer90Days: return value > 0 ? StrCat("this lineage failed to renew ", s.episodes, " time", s.episodes == 1 ? "" : "s", " before") : "";
    case kDaysSinceLastEpisode: return StrCat("its previous renewal failure began ", Days(value), " ago");
    case kDryRunFailedSinceSuccess: return value > 0 ? StrCat("the latest dry run failed (", s.last_dry_run ? s.last_dry_run->error : "", ")") : "";
    case kDryRunFailures: return value > 0.1 ? "recent dry runs failed" : "";
    case kValidationFailures: return value > 0.1 ? "the CA recently failed to validate the names" : "";
    case kOtherFailures: return value > 0.1 ? "recent renewal attempts failed (CA, network or local errors)" : "";
    case kAttemptsPerDay: return StrCat("about ", std::lround(value), " renewal attempts per day lately");
    case kChallengeHttp01: return value > 0 ? "validation uses HTTP-01 (port 80 must be reachable)" : "";
    case kChallengeDns01: return value > 0 ? "validation uses DNS-01 (the DNS API must work)" : "";
    case kNamesCount: return StrCat(iv, " names on the certificate: any one failing fails the renewal");
    case kWildcard: return value > 0 ? "a wildcard name needs DNS-01" : "";
    case kChallengeProbeFailDays4:
    case kHttp01FailDays4:
      if (feature == kChallengeProbeFailDays4 && s.config && s.config->challenge == Challenge::kDns01) {
        return StrCat("DNS-01 TXT publishing for ", name, " failed on ", iv, " of the last 4 days");
      }
      return StrCat("HTTP-01 probe of http://", name, "/.well-known/acme-challenge/ failed",
                    [&] {
                      for (size_t ni : x.names) if (!f.names[ni].http01_last_error.empty()) return StrCat(" (", f.names[ni].http01_last_error, ")");
                      return std::string();
                    }(),
                    " on ", iv, " of the last 4 days");
    case kChallengeProbeFailRate:
    case kHttp01FailRate: return StrCat(pct, " of recent ", (s.config && s.config->challenge == Challenge::kDns01 && feature == kChallengeProbeFailRate) ? "DNS-01 publish checks" : "HTTP-01 probes", " for ", name, " failed");
    case kHttp01ConsecutiveFailures: return StrCat("the last ", iv, " HTTP-01 probes of ", name, " failed in a row");
    case kDns01FailDays4: return StrCat("DNS-01 TXT publishing for ", name, " failed on ", iv, " of the last 4 days");
    case kDns01FailRate: return StrCat(pct, " of recent DNS-01 publish checks for ", name, " failed");
    case kDns01PropagationRatio: return StrCat("DNS-01 propagation is ", std::lround(value * 10) / 10.0, "x slower than usual");
    case kAddressChangeDays: return StrCat("the A/AAAA records of ", name, " changed ", Days(value), " ago");
    case kAddressForeignFraction: return value > 0 ? StrCat(name, " now points at addresses ", host, " never answered on (", pct, " of them): DNS may no longer point at the host") : "";
    case kDnsErrorDays4: return StrCat("DNS lookups for ", name, " failed (SERVFAIL/NXDOMAIN/timeout) on ", iv, " of the last 4 days");
    case kDnsLastRcodeBad: return value > 0 ? StrCat("the latest DNS lookup of ", name, " failed") : "";
    case kNsChangeDays: return StrCat("the name servers of ", name, " changed ", Days(value), " ago (DNS provider move)");
    case kCaaForbidsCa: return value > 0 ? StrCat("CAA records of ", name, " do not permit ", ca, " to issue") : StrCat("CAA records permit ", ca);
    case kCaaChangeDays: return StrCat("CAA records of ", name, " changed ", Days(value), " ago");
    case kDnssecBogusDays4: return StrCat("DNSSEC validation of ", name, " failed (bogus) on ", iv, " of the last 4 days");
    case kRrsigMarginDays: return value < 0 ? StrCat("DNSSEC signatures expire ", Days(value), " before the next renewal attempt") : StrCat("DNSSEC signatures expire ", Days(value), " after the next renewal attempt");
    case kServedStaleDays: return value > 0 ? StrCat(host, " still serves an old certificate ", Days(value), " after the newest was issued") : "";
    case kTlsErrorDays4: return StrCat("TLS probes of ", name, " failed on ", iv, " of the last 4 days");
    case kDeployFailedDays: return StrCat("deploying the certificate failed ", Days(value), " ago");
    case kCaProbeErrorRate: return StrCat(ca, " failed ", pct, " of recent health probes");
    case kCaLatencyRatio: return StrCat(ca, " answers ", std::lround(value * 10) / 10.0, "x slower than usual");
    case kCaFleetFailureRate: return StrCat(pct, " of the fleet's recent renewals at ", ca, " failed");
    case kCaEpisodeFraction: return StrCat(pct, " of lineages on ", ca, " are failing to renew");
    case kClockOffsetAbsSeconds: return StrCat("the clock of ", host, " is off by ", std::lround(value), " s");
    case kClockSlopeAbsSecondsPerDay: return StrCat("the clock of ", host, " drifts ", std::lround(value), " s per day");
    case kClockUnsynced: return value > 0 ? StrCat("the clock of ", host, " is not synchronised (NTP)") : "";
    case kDiskFreeFraction: return StrCat(host, " has ", pct, " disk free");
    case kDiskMarginDays: return value < 0 ? StrCat("the disk of ", host, " fills up ", Days(value), " before the next renewal attempt")
                                           : StrCat("the disk of ", host, " fills up ", Days(value), " after the next renewal attempt");
    case kDiskDaysToFull: return value < 365 ? StrCat("the disk of ", host, " fills up in about ", Days(value)) : "";
    case kSchedulerStaleDays: return StrCat("the renewal scheduler on ", host, " last ran ", Days(value), " ago");
    case kHostEventsRecent: return value > 0.1 ? StrCat(host, " was recently upgraded, restarted or redeployed") : "";
    case kClientChangeDays: return StrCat("the ACME client or its version changed ", Days(value), " ago");
    case kCredentialMarginDays: return value < 0 ? StrCat("a credential renewal needs (DNS API token, EAB or account key) expires ", Days(value), " before the next attempt")
                                                 : StrCat("a credential renewal needs expires ", Days(value), " after the next attempt");
    case kCredentialMissing: return value > 0 ? "a credential renewal needs is missing" : "";
    case kDomainMarginDays: return value < 0 ? StrCat("the domain registration lapses ", Days(value), " before the next attempt")
                                             : StrCat("the domain registration lapses ", Days(value), " after the next attempt");
    case kDomainStatusBad: return value > 0 ? "the domain registration is on hold or expired" : "";
    case kIssued7dRegisteredDomain: return StrCat(iv, " certificates issued for the registered domain in 7 days (Let's Encrypt allows 50)");
    case kIssued7dNameSet: return StrCat(iv, " certificates issued for this exact set of names in 7 days (limit 5)");
    case kHostLineages: return StrCat(iv, " lineages share ", host);
    case kHostEpisodeFraction: return value > 0 ? StrCat(pct, " of the other certificates on ", host, " are failing to renew") : "";
    case kNsGroupEpisodeFraction: return value > 0 ? StrCat(pct, " of certificates on the same DNS provider are failing to renew") : "";
    case kWarningSignals: return value > 0 ? StrCat(iv, " warning signal", iv == 1 ? "" : "s", " active at once") : "";
    case kBlockedAttemptDays:
      return value < kCapDays ? StrCat("the next renewal attempt, ", value < 1 ? std::string("due now") : StrCat("in ", Days(value)),
                                       ", meets a condition that fails it")
                              : "";
    case kIssued24hNameSet: return StrCat(iv, " certificate", iv == 1 ? "" : "s", " issued for this name set in the last 24 hours");
    case kRateLimitBudgetDays:
      return value <= 0 ? "the CA's limit of 5 certificates per week for this name set is spent"
             : value < 14 ? StrCat("at its current pace the lineage spends the CA's 5-per-week limit in ", Days(value))
                          : "";
    case kPrematureIssuances: return value > 0.1 ? "certificates are being re-issued long before renewal is due (a restart or redeploy loop?)" : "";
    case kFailedValidations1h: return StrCat(iv, " failed validation", iv == 1 ? "" : "s", " in the last hour (the CA allows 5)");
    case kDaysSinceRateLimited: return value < 30 ? StrCat("the CA refused this lineage for a rate limit ", Days(value), " ago") : "";
    case kChallengeProbeFailDays30: return StrCat("the challenge probe of ", name, " failed on ", iv, " of the last 30 days");
    case kChallengeProbeFailRunDays: return StrCat("the challenge probe of ", name, " has failed ", iv, " day", iv == 1 ? "" : "s", " in a row");
    case kChallengeProbeTrend: return value > 0 ? StrCat("challenge probe failures of ", name, " are increasing") : "";
    case kNsGroupProbeFailFraction: return StrCat(pct, " of other certificates on the same DNS provider fail their challenge probe too (a provider-wide incident?)");
    case kCaProbeFailDays4: return StrCat(ca, " failed health probes on ", iv, " of the last 4 days");
    case kCaDegradedAttemptDays:
      return value < kCapDays ? StrCat(ca, " is degraded and the next renewal attempt is ",
                                       value < 1 ? std::string("due now") : StrCat("in ", Days(value)))
                              : "";
    case kHardBlockers:
      return value > 0 ? StrCat(iv, " condition", iv == 1 ? "" : "s", " that fail", iv == 1 ? "s" : "",
                                " any renewal attempt (full disk, expired or missing credential, lapsed domain, CAA, DNSSEC, a stopped scheduler or a clock far off)")
                       : "";
    default: return "";
  }
}

}  // namespace certcast
