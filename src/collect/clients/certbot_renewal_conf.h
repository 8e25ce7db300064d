// certbot's renewal configuration (/etc/letsencrypt/renewal/NAME.conf) -> `config` event.
//
// Format (certbot 2.x, storage.py writes it with configobj): "key = value" lines, '#' comments,
// "[renewalparams]" section, "[[webroot_map]]" subsection; a value ending in ',' is a list
// ("webroot_path = /var/www/html,"). Example written by certbot 2.1:
//   # renew_before_expiry = 30 days
//   version = 2.1.0
//   cert = /etc/letsencrypt/live/shop/cert.pem
//   [renewalparams]
//   authenticator = webroot
//   server = https://acme-v02.api.letsencrypt.org/directory
//   [[webroot_map]]
//   shop.example.com = /var/www/html
// The file names neither the host nor (outside webroot_map) the domains: the caller supplies the
// names from live/NAME/cert.pem.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "core/event.h"
#include "core/status.h"

namespace certcast::clients {

// A renewal conf larger than this is refused: certbot writes ~1 KiB; 1 MiB bounds memory.
inline constexpr size_t kMaxRenewalConfBytes = 1u << 20;

struct CertbotRenewalConf {
  std::optional<std::string> version;              // certbot version that wrote it
  std::optional<std::string> cert_path;            // "cert = .../live/NAME/cert.pem"
  std::optional<std::string> renew_before_expiry;  // uncommented value, e.g. "30 days"
  std::optional<std::string> authenticator;        // [renewalparams] authenticator
  std::optional<std::string> server;               // [renewalparams] server
  std::vector<std::string> preferred_challenges;   // [renewalparams] pref_challs
  std::vector<std::string> webroot_domains;        // keys of [[webroot_map]], lower case
  std::vector<std::string> webroot_paths;          // values of [[webroot_map]], in the same order
  std::vector<std::string> webroot_path;           // [renewalparams] webroot_path (a list)
};

// The webroot certbot's webroot plugin writes NAME's challenge files to: its [[webroot_map]]
// entry, else the only webroot_path (certbot maps every name to it then); "" when neither says.
// The conf does not list its certificate's names outside webroot_map: the caller checks that NAME
// is one of them before using the fallback.
std::string CertbotWebroot(const CertbotRenewalConf& conf, std::string_view name);

// Parses the text; errors name the line: "line 7: expected \"key = value\"".
StatusOr<CertbotRenewalConf> ParseCertbotRenewalConf(std::string_view text);

struct CertbotConfigInputs {
  std::string lineage;             // NAME of NAME.conf
  std::string host;                // the machine certbot runs on
  std::vector<std::string> names;  // from live/NAME/cert.pem (SAN), else webroot_map keys
  absl::Time ts;                   // when the configuration was seen (the file's mtime)
};

// Builds the config event: challenge from pref_challs, else the authenticator (standalone,
// webroot, nginx, apache: http-01; dns-*: dns-01; manual: http-01, certbot's first preference);
// ca from `server` (certbot's default is Let's Encrypt production); renew_rule days_left:N from
// renew_before_expiry ("N days", "N weeks", bare N = days), else certbot 2.x's default of 30 days
// (constants.RENEWER_DEFAULTS["renew_before_expiry"] = "30 days"); ari false (certbot added ARI
// in 4.1).
StatusOr<Event> CertbotConfigEvent(const CertbotRenewalConf& conf,
                                   const CertbotConfigInputs& inputs);

}  // namespace certcast::clients
