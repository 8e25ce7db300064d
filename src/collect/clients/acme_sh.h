// acme.sh's per-domain configuration (~/.acme.sh/DOMAIN[_ecc]/DOMAIN.conf) -> `config` event.
//
// Format (acme.sh 3.x, `_savedomainconf key value` -> `_save_conf`): one shell assignment per
// line, KEY='value' (older versions KEY="value"), read back with `eval`. Keys used here:
//   Le_Domain='shop.example.com'        main domain (acme.sh's lineage name)
//   Le_Alt='www.example.com,api.ex..'   other names, or 'no'
//   Le_Webroot='dns_cf'                 how the challenge is answered (see AcmeShChallenge)
//   Le_API='https://acme-v02.api.letsencrypt.org/directory'   the ACME directory
//   Le_CertCreateTime='1764297091'      issue time, Unix seconds
//   Le_NextRenewTime='1769394691'       acme.sh renews when the cron runs after this time
//   Le_RenewalDays='30'                 only when --days was given
// There are no real acme.sh files in the acme-lab: this follows acme.sh's source, not a capture.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "core/event.h"
#include "core/status.h"

namespace certcast::clients {

inline constexpr size_t kMaxAcmeShConfBytes = 1u << 20;  // acme.sh writes ~2 KiB

struct AcmeShDomainConf {
  std::string domain;
  std::vector<std::string> alt_names;
  std::string webroot;                    // Le_Webroot as written
  std::optional<std::string> api;         // Le_API
  std::optional<int64_t> cert_create_time;
  std::optional<int64_t> next_renew_time;
  std::optional<int64_t> renewal_days;     // parsed for callers; not used for the rule (see below)
};

// Errors name the line ("line 3: \"Le_CertCreateTime\" is not a number") or the missing key.
StatusOr<AcmeShDomainConf> ParseAcmeShDomainConf(std::string_view text);

// Le_Webroot: "dns" (manual DNS) or "dns_<provider>" -> dns-01; "alpn" (--alpn) -> tls-alpn-01;
// "no" (--standalone), "stateless", "apache", "nginx" or a directory (--webroot) -> http-01.
// acme.sh joins one entry per domain with ','; the first one decides.
std::optional<Challenge> AcmeShChallenge(std::string_view webroot);

// The directory acme.sh's --webroot mode writes NAME's http-01 challenge files to, "" when NAME is
// not one of the conf's names or is answered any other way (dns, standalone, nginx, apache,
// stateless, alpn). Le_Webroot holds one entry per -w, joined with ','; acme.sh's issue() walks
// Le_Domain then Le_Alt with an index and keeps the last non-empty entry for names beyond the
// last one (`_w=$(echo $_web_roots | cut -d , -f $_index); [ "$_w" ] && _currentRoot=$_w`): one
// -w serves every name. Only an absolute path is a directory.
std::string AcmeShWebroot(const AcmeShDomainConf& conf, std::string_view name);

// config event: names = Le_Domain + Le_Alt (lower case); ca = Le_API (acme.sh's default CA has
// been ZeroSSL since 3.0, but the conf always records the one used); renew_rule
// after_issue_days:N, N the whole days between Le_CertCreateTime and Le_NextRenewTime (what
// acme.sh will actually do; Le_RenewalDays is interpreted differently across versions); ari
// false: the conf does not record whether acme.sh consulted ARI (recent versions do when the CA
// offers it), so this under-reports.
StatusOr<Event> AcmeShConfigEvent(const AcmeShDomainConf& conf, std::string_view host,
                                  absl::Time ts);

}  // namespace certcast::clients
