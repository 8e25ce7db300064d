// Fuzzes the PEM/DER certificate reader (OpenSSL underneath): a precise error, or facts that make
// a valid issued event (serial lower-case hex, notAfter after notBefore, names valid).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "collect/clients/certificate.h"
#include "core/event_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto facts = certcast::clients::ParseCertificate(bytes);
  if (!facts.ok()) {
    if (facts.status().message().empty()) std::abort();
    return 0;
  }
  for (char c : facts->serial) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) std::abort();
  }
  certcast::Event event{facts->not_before,
                        certcast::IssuedEvent{"fuzz", facts->serial, facts->not_before,
                                              facts->not_after, "https://ca.example/dir",
                                              facts->names}};
  auto again = certcast::ParseEventLine(certcast::EventToJson(event));
  if (!again.ok() || !(*again == event)) std::abort();
  return 0;
}
