// One way to turn JSON into text and to write a structured log line, for every module that emits
// either (API answers, audit records, agent journals, the daemon's, agent's and server's logs).
//
// nlohmann's plain dump() throws on a string that is not valid UTF-8; the strings in these
// documents quote clients' output, error messages and operator input, so the text is written with
// invalid bytes replaced by U+FFFD instead: no exception may leave a module (one error model), and
// a record is never lost for one bad byte. Header-only for Dump, so core does not export nlohmann.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace certcast {

// Compact JSON text of `j`, invalid UTF-8 replaced.
inline std::string Dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
inline std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

using LogFields = std::vector<std::pair<std::string, std::string>>;

// Writes one JSON log line {"ts","level","msg",fields...} to `log` and flushes it (a daemon's log
// is read while it runs). The message and every field value pass RedactSecrets: a field may quote
// a client's output or an error message, and secrets never reach a log (docs/security.md).
void WriteLogLine(std::ostream& log, absl::Time now, std::string_view level, std::string_view msg,
                  const LogFields& fields);

}  // namespace certcast
