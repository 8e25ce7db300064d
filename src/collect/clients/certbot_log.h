// certbot's debug log (letsencrypt.log) -> `renewal` events, one per attempt and lineage.
//
// Format (certbot 2.x, certbot/_internal/log.py): every record starts
//   "2026-11-28 02:51:31,371:DEBUG:certbot._internal.main:certbot version: 2.1.0"
// i.e. "%(asctime)s:%(levelname)s:%(name)s:%(message)s" with asctime in the host's LOCAL time
// (Python's logging default) and milliseconds after a comma; a message may continue on following
// lines (tracebacks, HTTP bodies, multi-line notices) that carry no timestamp.
//
// Time: the log does not say its time zone. Timestamps are read as UTC unless the caller passes
// the host's UTC offset (`certcast parse certbot --tz-offset +01:00`); see docs/collectors.md.
//
// What counts as an attempt (the facts below are quoted from certbot 2.1's own messages):
//  * `certbot renew`: each "Processing /etc/letsencrypt/renewal/NAME.conf" starts an attempt for
//    lineage NAME; "Certificate not yet due for renewal" means no attempt was made (no event);
//    "Failed to renew certificate NAME with error: MSG" is a failure; the summary line
//    "  /etc/letsencrypt/live/NAME/fullchain.pem (success)" a success.
//  * `certbot certonly`/`run`: the run is one attempt for --cert-name (else the first -d name,
//    else the first name of "Requesting a certificate for ..."); "Successfully received
//    certificate." or "The dry run was successful." is a success, "Exiting abnormally:" a failure.
//  * `error`: the ACME problem type when certbot logged one, in this order: the URN in the failure
//    message; the "Type:"/"Detail:" block of "Certbot failed to authenticate some domains"; the
//    last "acme.messages.Error: urn:..." line of the failure's traceback. The last matters for
//    certbot 2.1, where an AttributeError ("can't set attribute") raised while handling an order
//    error replaces the real error in the final message: the ACME type survives only in the
//    traceback. Without a problem, the failure message is mapped to a client code
//    (ClassifyClientError).
//  * `ts` is when the attempt started (the "Processing" record, or the start of a certonly run);
//    `duration_ms` runs to the record that settled the outcome.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "collect/clients/common.h"

namespace certcast::clients {

struct CertbotLogOptions {
  // The host's UTC offset when certbot ran: UTC = logged local time - utc_offset.
  absl::Duration utc_offset = absl::ZeroDuration();
  // Lineage for a run whose log names none (no --cert-name, no -d, failed before requesting).
  std::optional<std::string> fallback_cert;
};

// Parses a whole letsencrypt.log (possibly several runs appended). Input larger than
// kMaxLogBytes is refused whole (one Issue at line 0).
ParseOutput ParseCertbotLog(std::string_view text, const CertbotLogOptions& options);

// Parses Python's repr of a list of str, as certbot logs its command line:
// "['--cert-name', 'c-http', \"it's\"]". Exposed for tests.
StatusOr<std::vector<std::string>> ParsePythonStringList(std::string_view text);

}  // namespace certcast::clients
