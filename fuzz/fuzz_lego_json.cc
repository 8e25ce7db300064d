// Fuzzes lego's certificates/DOMAIN.json parser and the issued/config events built from it.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "collect/clients/lego_state.h"
#include "core/event_json.h"

namespace {
void CheckEvent(const certcast::StatusOr<certcast::Event>& event) {
  if (!event.ok()) {
    if (event.status().message().empty()) std::abort();
    return;
  }
  auto again = certcast::ParseEventLine(certcast::EventToJson(*event));
  if (!again.ok() || !(*again == *event)) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto resource = certcast::clients::ParseLegoResource(text);
  if (!resource.ok()) {
    if (resource.status().message().empty()) std::abort();
    return 0;
  }
  certcast::clients::CertificateFacts cert;
  cert.serial = "04ab";
  cert.not_before = absl::FromUnixSeconds(1700000000);
  cert.not_after = cert.not_before + absl::Hours(24 * 90);
  cert.names = {"fuzz.example"};
  const std::string ca = certcast::clients::LegoCa(*resource, std::nullopt);
  CheckEvent(certcast::clients::LegoIssuedEvent(*resource, cert, ca));
  certcast::clients::LegoConfigInputs inputs;
  inputs.host = "host";
  inputs.ts = cert.not_before;
  CheckEvent(certcast::clients::LegoConfigEvent(*resource, cert, ca, inputs));
  return 0;
}
