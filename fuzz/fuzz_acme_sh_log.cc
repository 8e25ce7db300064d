// Fuzzes (bare and inside each wrapper of log_output_check.h) acme.sh's log parser: events must be valid events-v1 lines, issues must point at lines
// of the input.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "collect/clients/acme_sh_log.h"
#include "core/event_json.h"
#include "log_output_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  certcast::clients::AcmeShLogOptions options;
  if (size > 0 && data[0] % 2 == 1) options.utc_offset = absl::Hours(-3);
  const auto out = certcast::clients::ParseAcmeShLog(text, options);
  CheckLogParseOutput(text, out);
  // Read as a live log (input_may_grow): it only holds back.
  CheckLiveRead(text, [&](std::string_view t, bool may_grow) {
    certcast::clients::AcmeShLogOptions live = options;
    live.input_may_grow = may_grow;
    return certcast::clients::ParseAcmeShLog(t, live);
  });
  // The same input inside a wrapper (journald, docker, NPM, dokku ...): same invariants.
  CheckUnwrap(text);
  if (size > 1) {
    const std::string wrapped = WrapEveryLine(text.substr(1), data[1]);
    CheckUnwrap(wrapped);
    CheckLogParseOutput(wrapped, certcast::clients::ParseAcmeShLog(wrapped, options));
  }
  return 0;
}
