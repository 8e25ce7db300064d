#include "alert/silence_request.h"

#include "alert/alert.h"
#include "core/strings.h"
#include "core/time.h"
#include "nlohmann/json.hpp"

namespace certcast::alert {

StatusOr<SilenceRecord> ParseSilenceRequest(std::string_view body, absl::Time now,
                                            const std::string& who) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgumentError("body: not a JSON object");
  }
  SilenceRecord s;
  s.created = now;
  s.created_by = who;
  bool has_until = false;
  for (const auto& [key, value] : j.items()) {
    if (!value.is_string()) return InvalidArgumentError(StrCat(key, ": not a string"));
    const std::string text = value.get<std::string>();
    if (key == "matcher") {
      s.matcher = text;
    } else if (key == "value") {
      s.value = text;
    } else if (key == "comment") {
      s.comment = text;
    } else if (key == "until" || key == "duration") {
      if (has_until) return InvalidArgumentError("give one of until and duration");
      has_until = true;
      if (key == "until") {
        auto t = ParseRfc3339(text);
        if (!t.ok()) return t.status().WithPrefix("until");
        s.until = *t;
      } else {
        auto d = ParseDurationFlag(text);
        if (!d.ok()) return d.status().WithPrefix("duration");
        s.until = now + *d;
      }
    } else {
      return InvalidArgumentError(StrCat("unknown field \"", key,
                                         "\" (expected matcher, value, until or duration, "
                                         "comment)"));
    }
  }
  if (s.matcher.empty()) return InvalidArgumentError("matcher: missing");
  if (!has_until) return InvalidArgumentError("until or duration: missing");
  RETURN_IF_ERROR(alert::ValidateSilence(s));
  return s;
}

}  // namespace certcast::alert
