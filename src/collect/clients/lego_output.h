// lego's console output (what `lego run|renew` writes to stderr, captured by cron or systemd)
// -> `renewal` events, one per attempt.
//
// Format (lego 4.x, log/logger.go): Go's standard logger with log.LstdFlags, so every record
// starts "2026/11/28 02:51:34 " in the host's LOCAL time, seconds resolution; Infof adds
// "[INFO] ", Warnf "[WARN] ", and the CLI ends a failed run with log.Fatal, whose message has no
// level tag. Messages about a domain carry "[domain] " (several: "[a.example, *.a.example] ").
// Lines without the timestamp continue the record before them (the list after "error: one or
// more domains had a problem:", the tab-indented error after "Could not obtain certificates:").
//
// Attempts, in lego 4.9's words:
//  * one attempt per run; it starts with the run's first record;
//  * "[INFO] [D] acme: Obtaining bundled SAN certificate" names its domains (the first is lego's
//    main domain, the lineage); "[D] The certificate expires in N days, the number of days
//    defined to perform the renewal is M: no renewal." means no attempt (no event);
//  * "[INFO] [D] Server responded with a certificate." is a success;
//  * a record without a level tag that is not one of lego's plain notices ("No key found for
//    account", "Saved key to") is the fatal error that ended the run: a failure. Its ACME problem
//    ("acme: error: 403 :: urn:ietf:params:acme:error:unauthorized :: detail") gives `error` and
//    `detail`; otherwise ClassifyClientError maps the message to a client code;
//  * challenge from "acme: use http-01 solver"; ca from "get directory at 'URL'" (lego prints
//    the directory only when it fails to fetch it; otherwise the caller's default is used).
//
// Older and newer lego, and the wrappers it runs in:
//  * lego 0.x-1.x wrote "[INFO][domain] " without a blank, "[domain] Could not obtain
//    certificates" with the domain on the fatal line, "acme: Error -> One or more domains had a
//    problem:", ACME v1 problems "acme: Error 400 - urn:acme:error:malformed - detail";
//  * lego 5 logs with log/slog: "2026-05-31T09:34:10.6+03:00 INFO  Renewing certificate
//    cert-name=NAME", failures at level ERROR with error="...": the lineage is cert-name;
//  * plain lines that are lego's known fatal messages ("Could not obtain certificates", "Could
//    not create client", "Time limit exceeded", "Account ... is not registered") end the run at
//    once; other plain lines may be a DNS provider's output that lego passed through (below);
//  * the lineage: the first domain of "Obtaining bundled SAN certificate" / "Trying renewal",
//    else the first domain lego tagged a line with, else the systemd unit (NixOS runs lego as
//    "acme-DOMAIN" / "acme-DOMAIN-start"; "Starting Renew ACME certificate for DOMAIN..."),
//    else --cert;
//  * `detail` of a multi-domain problem is the "[domain] ..." line: the failing name and its
//    error. Wrappers: Unwrap (common.h); dokku's indentation is trimmed.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "collect/clients/common.h"

namespace certcast::clients {

struct LegoOutputOptions {
  // The host's UTC offset when lego ran: UTC = logged local time - utc_offset.
  absl::Duration utc_offset = absl::ZeroDuration();
  // Lineage for an attempt that failed before lego printed a domain (registration, directory).
  std::optional<std::string> fallback_cert;
  // ACME directory for attempts whose output does not name it (lego's --server).
  std::optional<std::string> ca;
  // Time of lines that carry none (a copy without lego's stamps): the file's modification time.
  absl::Time fallback_time = absl::UnixEpoch();
  // The input may still grow (a live log: MayStillGrow in common.h): an attempt under way at its
  // end, or a plain last line not yet known to be the fatal error, is held back
  // (ParseOutput::held_back) instead of recorded as a failure.
  bool input_may_grow = false;
};

ParseOutput ParseLegoOutput(std::string_view text, const LegoOutputOptions& options);

}  // namespace certcast::clients
