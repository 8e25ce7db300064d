// lego's stored certificates (.lego/certificates/DOMAIN.json + DOMAIN.crt) -> `issued` and
// `config` events.
//
// Format (lego 4.x, cmd/certs_storage.go): DOMAIN.json is the certificate.Resource without its
// PEM fields:
//   {"domain": "l-http.acmelab.test", "certUrl": "https://ca/certZ/46..", "certStableUrl": "..."}
// DOMAIN.crt the PEM bundle (leaf first). A wildcard main domain "*.example.com" is stored as
// "_.example.com.json". lego keeps no record of the challenge, the renewal threshold (a `renew
// --days N` flag in cron) or the directory URL (only the account folder's host name), so:
//  * `ca` is the caller's (--ca) if given, else Let's Encrypt's directory when certUrl is on its
//    host, else certUrl's origin ("https://127.0.0.1:14000"), documented as approximate;
//  * a config event needs the challenge from the caller (there is no default worth guessing).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "collect/clients/certificate.h"
#include "core/event.h"
#include "core/status.h"

namespace certcast::clients {

// lego writes ~200 bytes; 64 KiB bounds memory and JSON nesting.
inline constexpr size_t kMaxLegoResourceBytes = 64u << 10;

struct LegoResource {
  std::string domain;
  std::string cert_url;         // may be empty
  std::string cert_stable_url;  // may be empty
  bool operator==(const LegoResource&) const = default;
};

// Parses DOMAIN.json. Errors: not JSON, not an object, "domain" missing or not a string, a URL
// field that is not a string.
StatusOr<LegoResource> ParseLegoResource(std::string_view json);

// The CA to report for a lego certificate (rules above).
std::string LegoCa(const LegoResource& resource, const std::optional<std::string>& ca_override);

// issued event for the certificate; ts = not_before, so re-discovering the same certificate
// yields the same line (the store drops exact duplicates).
StatusOr<Event> LegoIssuedEvent(const LegoResource& resource, const CertificateFacts& cert,
                                const std::string& ca);

struct LegoConfigInputs {
  std::string host;
  Challenge challenge = Challenge::kHttp01;
  std::optional<std::string> renew_rule;  // e.g. "days_left:30" from the cron's --days
  absl::Time ts;
};
StatusOr<Event> LegoConfigEvent(const LegoResource& resource, const CertificateFacts& cert,
                                const std::string& ca, const LegoConfigInputs& inputs);

}  // namespace certcast::clients
