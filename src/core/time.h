// Time values and their text forms. certcast represents instants as absl::Time and spans as
// absl::Duration everywhere; the functions here are the only place that converts text.
#pragma once

#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "core/status.h"

namespace certcast {

// Parses an RFC 3339 timestamp in UTC: "2026-11-01T00:00:00Z", with optional fractional seconds
// (up to 9 digits; kept to the microsecond). Offsets other than Z are refused because events-v1
// mandates UTC: a "+01:00" in telemetry means a producer bug we want to see, not silently shift.
// Hand-written instead of absl::ParseTime because ingest parses several per event and ParseTime
// costs ~1 us each.
StatusOr<absl::Time> ParseRfc3339(std::string_view text);

// Formats as RFC 3339 UTC with 'Z', fractional seconds only when non-zero (trailing zeros
// trimmed, microsecond precision). ParseRfc3339(FormatRfc3339(t)) == t for microsecond t.
std::string FormatRfc3339(absl::Time t);
// Appends the same form to `out` without allocating a temporary.
void AppendRfc3339(absl::Time t, std::string& out);

// Parses a span such as "7d", "36h", "90m", "45s" or a combination "1d12h". Used for flags like
// --horizon; the unit is mandatory so "7" is an error, not seven nanoseconds.
StatusOr<absl::Duration> ParseDurationFlag(std::string_view text);

// Start of the UTC day containing t.
absl::Time FloorToDay(absl::Time t);

}  // namespace certcast
