// The one vocabulary of failure causes (docs/background.md section 7), shared by the simulator's
// ground truth, the features' labels, the policy's diagnosis, alerts, audit records and docs.
// The names are persisted (audit records, alert keys in the planner's memory, simulator truth
// files), so a name never changes meaning; ParseCause also reads the names the simulator wrote
// before they were unified (see docs/decisions.md, 2026-12-04).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace certcast {

// name, enumerator, what it covers.
#define CERTCAST_CAUSES(X)                                                                     \
  X(none, kNone)                  /* no trouble */                                             \
  X(dns_pointing, kDnsPointing)   /* DNS no longer points at the host: moved, deleted, lapsed */ \
  X(http01_unreachable, kHttp01Unreachable) /* port 80, proxy, redirect, webroot */            \
  X(dns01_automation, kDns01Automation)     /* DNS API credential, delegation, propagation */   \
  X(local_client, kLocalClient)   /* scheduler, disk, permissions, runtime, hooks */           \
  X(not_served, kNotServed)       /* renewed, but a server still serves the old certificate */ \
  X(rate_limited, kRateLimited)   /* a CA rate limit */                                        \
  X(caa_dnssec, kCaaDnssec)       /* CAA forbids the CA, SERVFAIL, bogus DNSSEC */              \
  X(ca_side, kCaSide)             /* CA outage, incident, changed profiles */                  \
  X(account, kAccount)            /* ACME account key, deactivation, EAB */                    \
  X(clock, kClock)                /* host clock far off */                                     \
  X(unknown, kUnknown)            /* a failure nothing explains */                             \
  X(transient, kTransient)        /* one failed attempt the next one fixes */                  \
  X(lifetime_config, kLifetimeConfig) /* a renewal rule that renews after expiry */

enum class Cause : uint8_t {
#define CERTCAST_CAUSE_X(name, enumerator) enumerator,
  CERTCAST_CAUSES(CERTCAST_CAUSE_X)
#undef CERTCAST_CAUSE_X
};

inline constexpr std::string_view kCauseNames[] = {
#define CERTCAST_CAUSE_X(name, enumerator) #name,
    CERTCAST_CAUSES(CERTCAST_CAUSE_X)
#undef CERTCAST_CAUSE_X
};
inline constexpr int kCauseCount = sizeof(kCauseNames) / sizeof(kCauseNames[0]);

constexpr std::string_view ToString(Cause cause) {
  const auto index = static_cast<int>(cause);
  return index < kCauseCount ? kCauseNames[index] : std::string_view("?");
}

// The cause named `name`, or nullopt. Also accepts the simulator's names before 2026-12-04:
// dns_repoint, stale_deploy, rate_limit, account_eab.
constexpr std::optional<Cause> ParseCause(std::string_view name) {
  for (int i = 0; i < kCauseCount; ++i) {
    if (kCauseNames[i] == name) return static_cast<Cause>(i);
  }
  if (name == "dns_repoint") return Cause::kDnsPointing;
  if (name == "stale_deploy") return Cause::kNotServed;
  if (name == "rate_limit") return Cause::kRateLimited;
  if (name == "account_eab") return Cause::kAccount;
  return std::nullopt;
}

}  // namespace certcast
