#include "core/action.h"

#include <charconv>
#include <cmath>

#include "core/json_text.h"
#include "core/strings.h"
#include "nlohmann/json.hpp"

namespace certcast {

std::string_view ToString(ActionKind k) {
  switch (k) {
    case ActionKind::kRenew: return "renew";
    case ActionKind::kDryRun: return "dry_run";
    case ActionKind::kAlert: return "alert";
    case ActionKind::kReload: return "reload";
  }
  return "?";
}

std::string ActionToJson(const PlannedAction& a) {
  nlohmann::ordered_json j;
  j["cert"] = a.cert;
  j["action"] = std::string(ToString(a.kind));
  if (a.challenge) j["challenge"] = std::string(ToString(*a.challenge));
  if (a.ca) j["ca"] = *a.ca;
  if (a.host) j["host"] = *a.host;
  j["reason"] = a.reason;
  // Three decimals: enough to rank and compare with a threshold, short enough to read.
  j["risk"] = std::round(a.risk * 1000) / 1000;
  return Dump(j);
}

StatusOr<PlannedAction> ParseActionLine(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgumentError("invalid JSON");
  if (!j.is_object()) return InvalidArgumentError("not a JSON object");
  PlannedAction a;
  auto str = [&](const char* key, bool required, std::optional<std::string>& out) -> Status {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
      return required ? InvalidArgumentError(StrCat("missing required field \"", key, "\""))
                      : OkStatus();
    }
    if (!it->is_string()) return InvalidArgumentError(StrCat("field \"", key, "\": expected string"));
    out = it->get<std::string>();
    return OkStatus();
  };
  std::optional<std::string> cert, action, challenge, reason;
  RETURN_IF_ERROR(str("cert", true, cert));
  RETURN_IF_ERROR(str("action", true, action));
  RETURN_IF_ERROR(str("challenge", false, challenge));
  RETURN_IF_ERROR(str("ca", false, a.ca));
  RETURN_IF_ERROR(str("host", false, a.host));
  RETURN_IF_ERROR(str("reason", false, reason));
  a.cert = *cert;
  if (*action == "renew") a.kind = ActionKind::kRenew;
  else if (*action == "dry_run") a.kind = ActionKind::kDryRun;
  else if (*action == "alert") a.kind = ActionKind::kAlert;
  else if (*action == "reload") a.kind = ActionKind::kReload;
  else {
    return InvalidArgumentError(StrCat("field \"action\": \"", *action,
                                       "\" is not one of renew, dry_run, alert, reload"));
  }
  if (challenge) {
    a.challenge = ChallengeFromString(*challenge);
    if (!a.challenge) {
      return InvalidArgumentError(StrCat("field \"challenge\": \"", *challenge,
                                         "\" is not one of http-01, dns-01, tls-alpn-01"));
    }
  }
  if (reason) a.reason = *reason;
  if (auto it = j.find("risk"); it != j.end() && !it->is_null()) {
    if (!it->is_number()) return InvalidArgumentError("field \"risk\": expected number");
    a.risk = it->get<double>();
    if (!(a.risk >= 0 && a.risk <= 1)) return InvalidArgumentError("field \"risk\": not in [0, 1]");
  }
  return a;
}

}  // namespace certcast
