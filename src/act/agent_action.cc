#include "act/agent_action.h"

#include "core/event_json.h"
#include "core/json_text.h"
#include "core/strings.h"
#include "nlohmann/json.hpp"

namespace certcast::act {

std::string AgentActionParametersToJson(const AgentActionParameters& p) {
  Event lineage{p.decided, p.lineage};
  // Built as text: ActionToJson and EventToJson are the canonical forms, embedded unchanged.
  return StrCat(R"({"action":)", ActionToJson(p.action), R"(,"reason_code":)",
                Dump(nlohmann::json(p.reason_code)),
                R"(,"lineage":)", EventToJson(lineage), "}");
}

StatusOr<AgentActionParameters> ParseAgentActionParameters(std::string_view json) {
  const nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgumentError("parameters: not a JSON object");
  for (const auto& item : j.items()) {
    if (item.key() != "action" && item.key() != "reason_code" && item.key() != "lineage") {
      return InvalidArgumentError(StrCat("parameters: unknown field \"", item.key(), "\""));
    }
  }
  AgentActionParameters p;
  auto action = j.find("action");
  if (action == j.end() || !action->is_object()) return InvalidArgumentError("action: missing or not an object");
  auto parsed_action = ParseActionLine(action->dump());
  if (!parsed_action.ok()) return parsed_action.status().WithPrefix("action");
  p.action = std::move(*parsed_action);
  auto code = j.find("reason_code");
  if (code != j.end()) {
    if (!code->is_string()) return InvalidArgumentError("reason_code: expected a string");
    p.reason_code = code->get<std::string>();
  }
  auto lineage = j.find("lineage");
  if (lineage == j.end() || !lineage->is_object()) return InvalidArgumentError("lineage: missing or not an object");
  auto event = ParseEventLine(lineage->dump());
  if (!event.ok()) return event.status().WithPrefix("lineage");
  const ConfigEvent* config = event->As<ConfigEvent>();
  if (config == nullptr) return InvalidArgumentError("lineage: not a config event");
  if (config->cert != p.action.cert) {
    return InvalidArgumentError(StrCat("lineage: cert \"", config->cert, "\" is not the action's \"",
                                       p.action.cert, "\""));
  }
  p.lineage = *config;
  p.decided = event->ts;
  return p;
}

}  // namespace certcast::act
