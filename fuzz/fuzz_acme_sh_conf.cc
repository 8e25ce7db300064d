// Fuzzes acme.sh's DOMAIN.conf parser and the config event built from it: a precise error or a
// valid events-v1 line.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "collect/clients/acme_sh.h"
#include "core/event_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto conf = certcast::clients::ParseAcmeShDomainConf(text);
  if (!conf.ok()) {
    if (conf.status().message().empty()) std::abort();
    return 0;
  }
  auto event = certcast::clients::AcmeShConfigEvent(*conf, "host", absl::FromUnixSeconds(1700000000));
  if (!event.ok()) {
    if (event.status().message().empty()) std::abort();
    return 0;
  }
  auto again = certcast::ParseEventLine(certcast::EventToJson(*event));
  if (!again.ok() || !(*again == *event)) std::abort();
  return 0;
}
