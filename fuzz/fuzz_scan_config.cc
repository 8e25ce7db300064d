// Fuzzes the probe scan's TOML configuration reader (collect/probe/scan.h ParseScanConfig).
// Only parsing: the targets it returns would probe the network, so none is run.
#include <cstdint>
#include <string_view>

#include "collect/probe/scan.h"
#include "core/clock.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const certcast::FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  (void)certcast::probe::ParseScanConfig(std::string_view(reinterpret_cast<const char*>(data), size), clock);
  return 0;
}
