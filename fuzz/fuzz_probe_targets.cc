// Fuzzes the agent's reader of GET /v1/agent/probes (api::ParseProbeTargetsJson): the server's
// answer is outside data to the agent. No crash on any bytes; never more targets than asked for;
// whatever is accepted, written back by the server's own writer, parses again to the same list.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/probe_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  constexpr size_t kMax = 8;
  auto list = certcast::api::ParseProbeTargetsJson(text, kMax);
  if (!list.ok()) return 0;
  if (list->targets.size() > kMax) std::abort();
  const std::string written = certcast::api::ProbeTargetsJson("fuzz", absl::UnixEpoch(), *list);
  auto again = certcast::api::ParseProbeTargetsJson(written, kMax);
  if (!again.ok() || again->targets != list->targets || again->truncated != list->truncated) std::abort();
  return 0;
}
