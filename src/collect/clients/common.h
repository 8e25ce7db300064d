// Shared pieces of the ACME-client parsers (certbot, lego, acme.sh): what a parse returns, bounded
// line splitting, and the mapping of client error text to the `error` field of a renewal event.
//
// Contract of every parser in this folder: it takes text (never a path), returns events and the
// problems it found, and touches nothing else (no I/O, no clock, no globals). Every event it
// returns serializes to a line that certcast::ParseEventLine accepts: `Finish` below checks that
// before an event is handed out, so a parser bug becomes a reported problem, not a bad line.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "core/event.h"
#include "core/status.h"
#include "core/utf8.h"  // ToValidUtf8: every string a parser puts in an event goes through it

namespace certcast::clients {

// A log or state file larger than this is refused whole. certbot writes one letsencrypt.log per
// run (rotated, ~100-600 KiB for a run that logs every ACME request); lego's captured output is a
// few KiB per run. 64 MiB leaves room for months of appended cron output and bounds memory.
inline constexpr size_t kMaxLogBytes = 64u << 20;
// A log line longer than this is skipped and reported. certbot's longest lines are JWS bodies
// and CSRs (a few KiB for a certificate with 100 names); 1 MiB is far beyond any real line.
inline constexpr size_t kMaxLogLineBytes = 1u << 20;
// Longest `detail` we put in an event: the events-v1 codec accepts 64 KiB; an ACME problem detail
// is one sentence, so 2 KiB keeps the message and drops runaway text.
inline constexpr size_t kMaxDetailBytes = 2048;

// One input problem: the 1-based line (0 when it concerns the whole input) and why.
struct Issue {
  size_t line = 0;
  std::string reason;
  bool operator==(const Issue&) const = default;
};

// What a parser returns: events in input order and the problems it found. Problems never stop
// the parse: every event that could be read is returned.
struct ParseOutput {
  std::vector<Event> events;
  std::vector<Issue> issues;
  // First lines of the attempts held back: under way at the end of an input that may still grow
  // (`input_may_grow` in the parser's options). Not events, not problems: a later read, once the
  // attempt has its outcome or the file has settled, emits each exactly as it would have been.
  std::vector<size_t> held_back;
};

// ---- logs the client may still be writing ----
//
// Every parser records an attempt the input shows under way but whose outcome it does not give as
// a failure, error `unknown` ("no outcome in the log"): the client died mid-attempt, which is a
// failure worth recording. A collector reads a live log, though, and a log the client is still
// writing ends in the middle of the attempt under way: recording that attempt as a failure would
// send the policy an unexplained failure that did not happen, and the real outcome a moment later
// as a second event. So each parser's options carry `input_may_grow`: when set, an attempt under
// way at the end of the input (and, for lego, a plain line not yet known to be its fatal error)
// is held back (ParseOutput::held_back), not emitted. The parser is pure: the caller decides,
// from the file's modification time and its clock, with MayStillGrow.
//
// How long after its last write a log counts as settled. A client writes to its log at least
// every few seconds while an attempt runs (ACME requests, challenge polling); waits for DNS
// propagation are the longest silences, a minute or two with the clients' defaults (an operator
// who configures longer waits passes a longer settle time). Five minutes is beyond those, and
// delays the record of a client that died mid-attempt by no more than that.
inline constexpr absl::Duration kDefaultSettleTime = absl::Minutes(5);

// Whether a log last modified at `modified` may still grow at `now`: it changed less than
// `settle_time` ago (or its time is in the future: a clock stepped back, a copy with a later
// mtime), so a client may still be writing to it.
bool MayStillGrow(absl::Time modified, absl::Time now, absl::Duration settle_time);

// `text` without a last line that has no '\n' yet when the input may still grow: the client is
// writing that line now, and half a line can read as another message ("Could not" of "Could not
// obtain certificates"). The parsers read only whole lines of a live log.
std::string_view WholeLines(std::string_view text, bool may_grow);

// Lines of `text` split on '\n' (a trailing '\r' is removed), numbered from 1.
struct Line {
  size_t number = 0;
  std::string_view text;
};
std::vector<Line> SplitLines(std::string_view text);

// Parses a UTC offset flag such as "+01:00", "-0530", "Z" or "+00:00".
StatusOr<absl::Duration> ParseUtcOffset(std::string_view text);

// Trims ASCII whitespace at both ends.
std::string_view Trim(std::string_view text);

// `detail` made fit for an event: trimmed, secrets redacted (core/redact.h), valid UTF-8, at most
// kMaxDetailBytes (cut on a character boundary).
std::string CleanDetail(std::string_view text);

// An ACME problem found in client output: `type` is the full URN.
struct AcmeProblem {
  std::string type;    // "urn:ietf:params:acme:error:connection"
  std::string detail;  // the problem's detail text, may be empty
};

// The first ACME problem URN in `text` (RFC 8555 section 6.7: "urn:ietf:params:acme:error:" then
// the type), with the detail that clients print after it. Both certbot and lego print problems as
// `URN :: title-or-detail [:: detail]` (certbot: "type :: title :: detail", lego:
// "status :: [method :: url ::] type :: detail"), so the detail is the text after the last " :: ".
// certbot (acme.messages.Error.__str__) joins "typ :: description :: detail", the description
// being certbot's fixed text for known types; lego's ProblemDetails.Error() writes
// "status :: [method :: url ::] type :: detail". Hence the style decides which part is the detail.
enum class ProblemStyle { kCertbot, kLego };
std::optional<AcmeProblem> FindAcmeProblem(std::string_view text, ProblemStyle style);

// ACME v1 (certbot before 0.22, lego before 1.0, acme.sh 2.x) named problems
// "urn:acme:error:TYPE"; RFC 8555 kept the types and moved them to "urn:ietf:params:acme:error:".
// FindAcmeProblem reads both and returns the RFC 8555 name, so that one cause has one code.
//
// Maps a client-side failure message (one that carries no ACME problem) to the events-v1 client
// codes: timeout, network, dns_api, hook, local, unknown. Pattern table in common.cc.
std::string ClassifyClientError(std::string_view message);

// The ACME directory an URL probably belongs to when only a resource URL is known (lego stores the
// certificate URL, not the directory): Let's Encrypt's production and staging directories by
// host; otherwise nullopt.
std::optional<std::string> KnownDirectoryForUrl(std::string_view url);

// Lower-cases an ASCII name (certificate SANs and client output may carry upper case; events-v1
// names are lower case).
std::string LowerAscii(std::string_view text);

// ---- wrappers ----
//
// Client output reaches us inside whatever carried it: journald/syslog ("Sep 12 17:58:47 host
// unit[pid]: "), `docker logs -t` / snap ("2023-05-02T12:40:35-05:00 "), docker compose
// ("app_1  | "), Nginx Proxy Manager's own log ("[4/3/2025] [4:25:33 PM] [SSL      ] › ✖  error
// "). Unwrap removes those prefixes in one place, for every parser, and keeps what they said: the
// time they stamped (absolute when they printed a zone, else local time shifted by
// `utc_offset`) and the syslog identifier, which names the unit (NixOS runs lego as
// "acme-DOMAIN-start"). Fixed indentation (dokku's 7 spaces) is left to the parsers, which trim
// leading blanks before they look for their own record heads.
struct WrappedLine {
  size_t number = 0;
  std::string_view text;                 // the client's own text
  std::optional<absl::Time> outer_time;  // time stamped by the wrapper, if any
  std::string_view unit;                 // syslog identifier without "[pid]", may be empty
};

// `reference`: a time near when the log was written (the file's mtime), for syslog stamps that
// carry no year; `utc_offset`: the host's offset, for wrapper stamps that carry no zone.
std::vector<WrappedLine> Unwrap(std::string_view text, absl::Time reference,
                                absl::Duration utc_offset);

// A client command line somewhere in the output (a shell prompt, cron mail's subject, Nginx Proxy
// Manager's "Command failed: certbot renew ..."): the words after the program's name, unquoted.
// `programs` are base names ("certbot", "certbot-auto"); nullopt when the line runs none.
std::optional<std::vector<std::string>> FindCommandLine(
    std::string_view line, std::initializer_list<std::string_view> programs);

// The value of a flag in a command line ("--cert-name x", "--cert-name=x", "-d x").
std::optional<std::string> FlagValue(const std::vector<std::string>& words,
                                     std::initializer_list<std::string_view> names);

// The ACME problem type a CA's detail text implies when the client printed the detail but not
// the type (acme.sh 2.x "Verify error:", certbot's "Challenge failed" without a block). Let's
// Encrypt's (Boulder's) wordings: "Invalid response from" -> unauthorized, "Timeout during
// connect" -> connection, "DNS problem: NXDOMAIN" -> dns, "too many certificates" ->
// rateLimited, ... Table in common.cc; nullopt when no wording matches.
std::optional<std::string> ProblemTypeFromDetail(std::string_view detail);

// Appends `event` to `out.events` if it serializes to a line ParseEventLine accepts; otherwise
// records an Issue at `line` with the codec's reason. Returns whether it was appended.
bool Finish(Event event, size_t line, ParseOutput& out);

}  // namespace certcast::clients
