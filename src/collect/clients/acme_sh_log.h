// acme.sh's log (~/.acme.sh/acme.sh.log, or --log FILE) -> `renewal` events.
//
// There is no real acme.sh capture in acme-lab: this follows acme.sh 3.x's source (acme.sh, the
// functions named below), and tests use logs built from those messages.
//
// Format: `_log` appends `_printargs`, i.e. "[$(date)] message" (or "[$(date)] key='value'"),
// for _info, _err and, at the default LOG_LEVEL 2, _debug/_debug2 alike: the level is not
// written. `date` output follows the host's locale ("Sat Nov 28 02:51:31 UTC 2026" in C, "Sat 28
// Nov 2026 02:51:31 AM UTC" in en_GB): the parser reads English month names, a 4-digit year,
// HH:MM:SS, optional AM/PM, and a zone of UTC/GMT as UTC; any other zone is local time shifted
// by `utc_offset`, like certbot's.
//
// Attempts (renew(), renewAll()):
//  * "Renewing: 'DOMAIN'" (acme.sh 3.x; 2.x wrote "Renew: 'DOMAIN'") starts an attempt;
//    "Renewing using Le_API=URL" gives its CA;
//  * "Skipping. Next renewal time is: ..." (2.x: "Skip, Next renewal time is: ...") or
//    "'DOMAIN' is not an issued domain, skipping." means no attempt (no event);
//  * "Cert success." (issue()) is a success;
//  * "Error renewing DOMAIN." (renewAll(); 2.x "Error renew DOMAIN.") is a failure, and so is an
//    attempt that ends (next attempt or end of log) after one of issue()'s _err messages
//    (`--renew -d` alone writes no summary line);
//  * challenge: "Standalone mode server", "Stateless mode for domain", "Nginx mode for domain"
//    and webroot token writes are http-01; "Adding TXT value" and "Add the following TXT record"
//    dns-01; "Error starting TLS server" or a TLS-ALPN hint tls-alpn-01;
//  * error: the ACME problem type from the last "urn:ietf:params:acme:error:..." the attempt
//    logged (acme.sh logs CA responses at the default log level), else: curl's error code
//    ("... for error code: 28" is a timeout, other codes network), DNS API failures (dns_api),
//    hook failures (hook), "DOMAIN: Timeout" (timeout), else ClassifyClientError. detail: the
//    "Verification error details: ..." text, else the error message.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "collect/clients/common.h"

namespace certcast::clients {

struct AcmeShLogOptions {
  // The host's UTC offset, for timestamps whose zone is not UTC/GMT or another zone the parser
  // knows the offset of (CET, EDT, ...; ambiguous ones such as CST and IST are not guessed).
  absl::Duration utc_offset = absl::ZeroDuration();
  // Lineage for a failure the log does not tie to a domain (an excerpt without "Renew:").
  std::optional<std::string> fallback_cert;
  // Time of lines without "[date]" (terminal echoes), when no dated line is near.
  absl::Time fallback_time = absl::UnixEpoch();
  // The input may still grow (a live log: MayStillGrow in common.h): the attempt open at its end
  // (no "Cert success." or "Error renewing" yet) is held back (ParseOutput::held_back) instead of
  // recorded as a failure.
  bool input_may_grow = false;
};

ParseOutput ParseAcmeShLog(std::string_view text, const AcmeShLogOptions& options);

// Reads the text between the brackets of "[Sat Nov 28 02:51:31 UTC 2026]". Exposed for tests.
StatusOr<absl::Time> ParseAcmeShDate(std::string_view text, absl::Duration utc_offset);

}  // namespace certcast::clients
