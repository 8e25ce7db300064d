// Fuzzes the daemon's TOML configuration reader (act/config.h ParseDaemonConfig): the file that
// says what `certcast run` (often root) executes. Errors are fine; crashes, hangs and unbounded
// memory are not.
#include <cstdint>
#include <string_view>

#include "act/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)certcast::act::ParseDaemonConfig(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
