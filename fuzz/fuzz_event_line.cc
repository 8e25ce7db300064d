// Fuzzes the events-v1 line parser and the serializer's round trip: any line the parser accepts
// must serialize to a canonical line that parses back to the same event and the same bytes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/event_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static certcast::EventParser parser;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  auto event = parser.Parse(line);
  if (!event.ok()) return 0;
  const std::string canonical = certcast::EventToJson(*event);
  auto again = parser.Parse(canonical);
  if (!again.ok() || !(*again == *event) || certcast::EventToJson(*again) != canonical) {
    std::abort();
  }
  return 0;
}
