// Fuzzes what the agent's act step reads (src/agent/actions.h): the server's lease answer (with
// the action parameters inside it) and the agent's own journal files, which anyone who can write
// the state directory can replace. No crash on any bytes; whatever is accepted, written back by
// the agent's own serializers, parses again and writes back byte for byte the same (the first
// write may normalise: a risk is kept to three decimals).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "act/agent_action.h"
#include "agent/actions.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto answer = certcast::agent::ParseLeaseAnswer(text);
  if (answer.ok()) {
    for (const auto& leased : answer->actions) {
      if (leased.id < 1 || leased.lease_id.empty()) std::abort();
      const std::string written = certcast::act::AgentActionParametersToJson(leased.parameters);
      auto again = certcast::act::ParseAgentActionParameters(written);
      if (!again.ok() || certcast::act::AgentActionParametersToJson(*again) != written) std::abort();
    }
  }
  auto journal = certcast::agent::ParseJournal(text, "fuzz");
  if (journal.ok()) {
    auto again = certcast::agent::ParseJournal(certcast::agent::JournalToJson(*journal), "fuzz");
    if (!again.ok() || certcast::agent::JournalToJson(*again) != certcast::agent::JournalToJson(*journal)) {
      std::abort();
    }
  }
  return 0;
}
