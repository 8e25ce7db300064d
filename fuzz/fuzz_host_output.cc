// Fuzzes the parsers of collect/host that read outside text: a client's `--version` output,
// `systemctl show` output, and a hook environment (input lines as NAME=VALUE). Each gives a value
// within its contract or a precise error; a hook's events are valid events-v1 lines.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "collect/host/hook.h"
#include "collect/host/host_probe.h"
#include "core/event_json.h"

namespace {

bool IsVersion(const std::string& v) {
  if (v.empty() || v.size() > 64) return false;
  for (char c : v) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '.' || c == '-' || c == '+' || c == '_' || c == '~';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certcast;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (Client client : {Client::kCertbot, Client::kLego, Client::kAcmeSh}) {
    auto version = host::ParseClientVersion(client, text);
    if (version.ok() ? !IsVersion(*version) : version.status().message().empty()) std::abort();
  }
  auto last = host::ParseSystemctlLastTrigger(text);
  if (!last.ok() && last.status().message().empty()) std::abort();

  std::map<std::string, std::string> environment;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    const size_t equals = line.find('=');
    if (equals != std::string_view::npos) {
      environment[std::string(line.substr(0, equals))] = std::string(line.substr(equals + 1));
    }
    start = end + 1;
  }
  for (Client client : {Client::kCertbot, Client::kLego, Client::kAcmeSh}) {
    auto target = host::HookTargetFromEnvironment(client, environment);
    if (!target.ok()) {
      if (target.status().message().empty()) std::abort();
      continue;
    }
    if (target->cert.empty() || target->client != client) std::abort();
    // The lineage name goes into every event the hook writes: a deploy event with it (and any
    // detail text) must be a line the events-v1 parser reads back.
    const Event deploy = host::DeployEvent(target->cert, "web1", false, std::string(text),
                                           absl::FromUnixSeconds(1700000000));
    if (!ParseEventLine(EventToJson(deploy)).ok()) std::abort();
  }
  return 0;
}
