// The body of POST /v1/silences (docs/alerts.md), parsed and checked: {"matcher", "value",
// "until" (RFC 3339) or "duration" ("4h", "2d"), "comment"?}. Outside data: every field is
// checked, unknown fields are refused, and errors name the field.
#pragma once

#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "core/status.h"
#include "store/store.h"

namespace certcast::alert {

// A silence created at `now` by `who` (a token name), without its id; ValidateSilence passed.
StatusOr<SilenceRecord> ParseSilenceRequest(std::string_view body, absl::Time now,
                                            const std::string& who);

}  // namespace certcast::alert
