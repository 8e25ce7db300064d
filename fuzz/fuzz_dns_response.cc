// Fuzzes the DNS response parser (collect/probe/dns_wire.h), the one parser that reads bytes a
// network peer chose. Invariants beyond "no crash": every CAA answer the parser renders must parse
// back with ParseCaaPresentation and render to the same text, and every parsed name is at most
// 255 bytes of wire data (its presentation form at most 4x that, for \DDD escapes).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "collect/probe/caa.h"
#include "collect/probe/dns_wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certcast::probe;
  // The presentation parser also reads outside text (scan configs, stored events): fuzz it too.
  auto caa = ParseCaaPresentation(std::string_view(reinterpret_cast<const char*>(data), size));
  if (caa.ok() && ParseCaaPresentation(FormatCaaPresentation(*caa)).value_or(CaaRecord{}) != *caa) std::abort();

  auto response = ParseDnsResponse({data, size});
  if (!response.ok()) return 0;
  if (response->question_name.size() > 4 * 255) std::abort();
  for (const DnsRecord& record : response->answers) {
    if (record.name.size() > 4 * 255) std::abort();
    if (record.type != kTypeCAA) continue;
    auto parsed = ParseCaaPresentation(record.value);
    if (!parsed.ok() || FormatCaaPresentation(*parsed) != record.value) std::abort();
  }
  return 0;
}
