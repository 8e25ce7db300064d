#include "core/json_text.h"

#include "core/redact.h"
#include "core/time.h"

namespace certcast {

void WriteLogLine(std::ostream& log, absl::Time now, std::string_view level, std::string_view msg,
                  const LogFields& fields) {
  nlohmann::ordered_json j;
  j["ts"] = FormatRfc3339(now);
  j["level"] = std::string(level);
  j["msg"] = RedactSecrets(msg);
  for (const auto& [key, value] : fields) j[key] = RedactSecrets(value);
  log << Dump(j) << "\n";
  log.flush();
}

}  // namespace certcast
