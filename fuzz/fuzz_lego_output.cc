// Fuzzes (bare and inside each wrapper of log_output_check.h) lego's console-output parser: events must be valid events-v1 lines, issues must point
// at lines of the input.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "collect/clients/lego_output.h"
#include "core/event_json.h"
#include "log_output_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  certcast::clients::LegoOutputOptions options;
  if (size > 0 && data[0] % 2 == 1) {
    options.fallback_cert = "fuzz.example";
    options.ca = "https://ca.example/dir";
    options.utc_offset = absl::Hours(9);
  }
  const auto out = certcast::clients::ParseLegoOutput(text, options);
  CheckLogParseOutput(text, out);
  // Read as a live log (input_may_grow): it only holds back.
  CheckLiveRead(text, [&](std::string_view t, bool may_grow) {
    certcast::clients::LegoOutputOptions live = options;
    live.input_may_grow = may_grow;
    return certcast::clients::ParseLegoOutput(t, live);
  });
  // The same input inside a wrapper (journald, docker, NPM, dokku ...): same invariants.
  CheckUnwrap(text);
  if (size > 1) {
    const std::string wrapped = WrapEveryLine(text.substr(1), data[1]);
    CheckUnwrap(wrapped);
    CheckLogParseOutput(wrapped, certcast::clients::ParseLegoOutput(wrapped, options));
  }
  return 0;
}
