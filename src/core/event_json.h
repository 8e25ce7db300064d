// events-v1 JSON Lines: the bounded, strict parser and the canonical serializer.
//
// The parser takes one line (without its '\n') and returns an Event or an InvalidArgument status
// whose message is the reason alone, e.g. `field "outcome": "maybe" is not one of success,
// failure`; the caller adds FILE:LINE. Unknown fields are ignored (forward compatibility);
// duplicate known fields, wrong JSON types, values outside closed enumerations, bad timestamps and
// missing required fields are refused.
//
// The serializer writes the canonical form: fields in the spec's order, known fields only, DNS
// values sorted. Two lines that mean the same event have the same canonical form, which is what
// the store deduplicates on. Parse(Serialize(e)) == e.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/event.h"
#include "core/status.h"

namespace certcast {

// Longest line accepted. Real events are < 2 KiB; a DNS TXT answer list could reach a few KiB.
// 1 MiB bounds memory per line while leaving two orders of magnitude of room.
inline constexpr size_t kMaxEventLineBytes = 1 << 20;

// Reusable parser. Not thread-safe: one per thread. Holds simdjson's buffers so parsing a line
// allocates nothing beyond the Event's own strings.
class EventParser {
 public:
  EventParser();
  ~EventParser();
  EventParser(const EventParser&) = delete;
  EventParser& operator=(const EventParser&) = delete;

  StatusOr<Event> Parse(std::string_view line);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Convenience for one-off callers (tests, API handlers): a thread-local EventParser.
StatusOr<Event> ParseEventLine(std::string_view line);

// Appends the canonical JSON of `e` (no trailing newline) to `out`.
void AppendEventJson(const Event& e, std::string& out);
std::string EventToJson(const Event& e);

// Validates a DNS name as events-v1 defines names: lower case, no trailing dot, optional "*."
// prefix, labels of [a-z0-9_-] of 1-63 bytes that neither start nor end with "-" (a leading "-"
// would make a name an option on a client's command line), at most 253 bytes. Returns the reason
// on failure. The one check every name passed to a client goes through.
Status ValidateDnsName(std::string_view name);

}  // namespace certcast
