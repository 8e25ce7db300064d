// Fuzzes certbot's renewal-conf parser and the config event built from it: either a precise
// error or an event that is a valid events-v1 line.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "collect/clients/certbot_renewal_conf.h"
#include "core/event_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto conf = certcast::clients::ParseCertbotRenewalConf(text);
  if (!conf.ok()) {
    if (conf.status().message().empty()) std::abort();
    return 0;
  }
  certcast::clients::CertbotConfigInputs inputs;
  inputs.lineage = "fuzz";
  inputs.host = "host";
  inputs.names = conf->webroot_domains.empty() ? std::vector<std::string>{"fuzz.example"}
                                               : conf->webroot_domains;
  inputs.ts = absl::FromUnixSeconds(1700000000);
  auto event = certcast::clients::CertbotConfigEvent(*conf, inputs);
  if (!event.ok()) {
    if (event.status().message().empty()) std::abort();
    return 0;
  }
  auto again = certcast::ParseEventLine(certcast::EventToJson(*event));
  if (!again.ok() || !(*again == *event)) std::abort();
  return 0;
}
