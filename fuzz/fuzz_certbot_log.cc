// Fuzzes (bare and inside each wrapper of log_output_check.h) certbot's letsencrypt.log parser: any bytes must give events that are valid events-v1
// lines (they re-parse to themselves) and issues whose line numbers exist in the input.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "collect/clients/certbot_log.h"
#include "core/event_json.h"
#include "log_output_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  certcast::clients::CertbotLogOptions options;
  // Half the inputs with a fallback lineage and an offset, so that those paths run too.
  if (size > 0 && data[0] % 2 == 1) {
    options.fallback_cert = "fuzz";
    options.utc_offset = absl::Hours(-5);
  }
  const auto out = certcast::clients::ParseCertbotLog(text, options);
  CheckLogParseOutput(text, out);
  // Read as a live log (input_may_grow): it only holds back.
  CheckLiveRead(text, [&](std::string_view t, bool may_grow) {
    certcast::clients::CertbotLogOptions live = options;
    live.input_may_grow = may_grow;
    return certcast::clients::ParseCertbotLog(t, live);
  });
  // The same input inside a wrapper (journald, docker, NPM, dokku ...): same invariants.
  CheckUnwrap(text);
  if (size > 1) {
    const std::string wrapped = WrapEveryLine(text.substr(1), data[1]);
    CheckUnwrap(wrapped);
    CheckLogParseOutput(wrapped, certcast::clients::ParseCertbotLog(wrapped, options));
  }
  return 0;
}
