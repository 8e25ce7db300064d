// Fuzzes what every string from outside goes through before an event or a record
// (src/core/utf8.h, src/core/redact.h): ToValidUtf8 must give valid UTF-8 within its byte limit,
// keeping the head or the tail of the valid form; redaction must keep valid UTF-8 valid; and an
// event whose detail is the raw input must serialize to a line the parser accepts.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/event_json.h"
#include "core/redact.h"
#include "core/utf8.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certcast;
  if (size < 1) return 0;
  const size_t max = data[0];  // 0..255: the byte limit
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string whole = ToValidUtf8(text);
  if (!IsValidUtf8(whole)) std::abort();
  for (KeepEnd keep : {KeepEnd::kHead, KeepEnd::kTail}) {
    const std::string cut = ToValidUtf8(text, max, keep);
    if (!IsValidUtf8(cut) || cut.size() > max) std::abort();
    if (cut.size() + 3 < std::min(max, whole.size())) std::abort();  // cut more than one character
    const bool prefix = whole.compare(0, cut.size(), cut) == 0;
    const bool suffix = whole.size() >= cut.size() &&
                        whole.compare(whole.size() - cut.size(), cut.size(), cut) == 0;
    if (keep == KeepEnd::kHead ? !prefix : !suffix) std::abort();
  }
  if (!IsValidUtf8(RedactSecrets(whole))) std::abort();
  Event event{absl::FromUnixSeconds(1795000000), DeployEvent{"shop", "web1", Outcome::kFailure,
                                                             std::string(text)}};
  if (!ParseEventLine(EventToJson(event)).ok()) std::abort();
  return 0;
}
