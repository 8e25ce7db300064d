// certbot's output -> `renewal` events, one per attempt and lineage. Two forms, also mixed:
//
//  * the debug log (letsencrypt.log): records "2026-11-28 02:51:31,371:DEBUG:LOGGER:message"
//    ("%(asctime)s:%(levelname)s:%(name)s:%(message)s", asctime in the host's LOCAL time) whose
//    message may continue on untimestamped lines (tracebacks, HTTP bodies, notices). Loggers
//    were "certbot.main"/"certbot.renewal" before 1.0 and "certbot._internal.*" since; the
//    parser goes by the messages, not the logger names;
//  * what certbot prints on the terminal, which is what cron mails, journald, docker and Nginx
//    Proxy Manager keep: the same notices without a record head, one per line.
//
// Wrappers (journald, syslog, docker, NPM) are removed by Unwrap (common.h). Time: a record's
// own stamp (local time, shifted by `utc_offset`), else the wrapper's, else the last time seen,
// else `fallback_time` (the file's mtime: `certcast parse` says so in docs/collectors.md).
//
// What the parser reads, by certbot version (wordings from certbot's renewal.py, main.py,
// auth_handler.py, reporter.py across 0.9-4.x):
//  * a run starts at "certbot version: X", at "Saving debug log to" on the terminal, or at a
//    command line that runs certbot (a prompt, NPM's "Command failed: certbot renew ...");
//    `--cert-name`/`-d`/`--dry-run`/`--authenticator` are read from it or from "Arguments: [...]";
//  * "Processing .../renewal/NAME.conf" opens an attempt for lineage NAME (0.x printed it after
//    the stderr notices of the same attempt, so an unnamed open attempt takes the name);
//  * not due: "Cert not yet due for renewal" (<1.x), "Certificate not yet due for renewal",
//    summary lines "... (skipped)", "No renewals were attempted.";
//  * failure: "Attempting to renew cert (NAME) from PATH produced an unexpected error: MSG.
//    Skipping." (0.x; before 0.10 without "(NAME)"), "Failed to renew certificate NAME with
//    error: MSG" (1.x+), "Renewal configuration file PATH is broken", summary
//    ".../live/NAME/fullchain.pem (failure)", "Challenge failed for domain X", the problem block
//    ("Domain: / Type: / Detail:") of "Certbot failed to authenticate some domains" and of 0.x's
//    "The following errors were reported by the server:", "Some challenges have failed.",
//    "Exiting abnormally" / "An unexpected error occurred:";
//  * success: summary "(success)", "Congratulations, all [simulated ]renewals succeeded",
//    "new certificate deployed ...", "Successfully received certificate.", "The dry run was
//    successful.", "Congratulations! Your certificate and chain have been saved";
//  * `error`: the ACME problem in the failure message ("urn:ietf:params:acme:error:X" or ACME
//    v1's "urn:acme:error:X", read as the same type), else the problem block's Type, else the
//    last problem the attempt logged (CA responses, tracebacks), else the type the CA's detail
//    wording implies, else ClassifyClientError; with a DNS plugin (dns-*), a failure that
//    carries no ACME problem is the plugin's: dns_api.
//  * an attempt that was under way (certbot said it was renewing or requesting) and whose
//    outcome the log does not give is still an event: `failure`, error `unknown`, detail "no
//    outcome in the log", and an Issue, so the forecaster sees an unexplained failure; unless
//    the input may still grow (`input_may_grow`): then the last run's attempts without a final
//    outcome are held back (certbot may be writing it now).
//  * the lineage is the name the log gives; `fallback_cert` (--cert) only where it gives none.
//  * lines that look like an error or an attempt but match nothing above are Issues.
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
  // Time of lines that carry none (terminal output): the file's modification time.
  absl::Time fallback_time = absl::UnixEpoch();
  // The input may still grow (a live log, modified within the settle time: MayStillGrow in
  // common.h): the attempts of its last run that have no final outcome yet are held back
  // (ParseOutput::held_back) instead of recorded as failures with error unknown.
  bool input_may_grow = false;
};

// Parses a whole letsencrypt.log or captured terminal output (possibly several runs appended). Input larger than
// kMaxLogBytes is refused whole (one Issue at line 0).
ParseOutput ParseCertbotLog(std::string_view text, const CertbotLogOptions& options);

// Parses Python's repr of a list of str, as certbot logs its command line:
// "['--cert-name', 'c-http', \"it's\"]". Exposed for tests.
StatusOr<std::vector<std::string>> ParsePythonStringList(std::string_view text);

}  // namespace certcast::clients
