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
};

// Lines of `text` split on '\n' (a trailing '\r' is removed), numbered from 1.
struct Line {
  size_t number = 0;
  std::string_view text;
};
std::vector<Line> SplitLines(std::string_view text);

// Parses a UTC offset flag such as "+01:00", "-0530", "Z" or "+00:00".
StatusOr<absl::Duration> ParseUtcOffset(std::string_view text);

// Replaces bytes that are not valid UTF-8 with '?', so that any log text can go into a JSON string
// (simdjson, behind ParseEventLine, refuses invalid UTF-8).
std::string ToValidUtf8(std::string_view text);

// Trims ASCII whitespace at both ends.
std::string_view Trim(std::string_view text);

// `detail` made fit for an event: valid UTF-8, trimmed, at most kMaxDetailBytes.
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

// Appends `event` to `out.events` if it serializes to a line ParseEventLine accepts; otherwise
// records an Issue at `line` with the codec's reason. Returns whether it was appended.
bool Finish(Event event, size_t line, ParseOutput& out);

}  // namespace certcast::clients
