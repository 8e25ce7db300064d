// Fuzzes client-output classification (src/act/executor.h): whatever an ACME client prints, the
// failed `renewal` event the executor stores from it must be a valid events-v1 line that parses
// back to the same event. A stored event that the parser later refuses stopped every plan before
// issue #12 (finding 1). The event is built as Executor::Renew builds it: error from
// ClassifyClientFailure, detail from the exit code and TellingLine (redacted), cut to 500 bytes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "act/executor.h"
#include "core/event_json.h"
#include "core/redact.h"
#include "core/strings.h"
#include "core/utf8.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certcast;
  const std::string_view output(reinterpret_cast<const char*>(data), size);
  const std::string telling = act::TellingLine(output);
  if (!IsValidUtf8(telling) || telling.size() > 300) std::abort();
  for (bool timed_out : {false, true}) {
    Event e;
    e.ts = absl::FromUnixSeconds(1798761600);
    RenewalEvent r;
    r.cert = "shop";
    r.outcome = Outcome::kFailure;
    r.error = act::ClassifyClientFailure(output, timed_out);
    const std::string detail =
        timed_out ? "timed out after 10m [timeout]" : StrCat("exit 1: ", RedactSecrets(telling));
    r.detail = ToValidUtf8(detail, 500);
    r.trigger = "forced";
    e.body = r;
    const std::string line = EventToJson(e);
    auto parsed = ParseEventLine(line);
    if (!parsed.ok()) std::abort();              // the store would hold a line it cannot read
    if (EventToJson(*parsed) != line) std::abort();  // not a fixed point of the canonical form
  }
  return 0;
}
