// A planned action: the output contract of `certcast plan` (docs/evaluation.md §2), the
// input of the executors (act/) and of the simulator's closed loop. One JSON object per line:
//   {"cert":"shop","action":"renew","challenge":"dns-01","reason":"...","risk":0.81}
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/event.h"
#include "core/status.h"

namespace certcast {

enum class ActionKind : uint8_t { kRenew, kDryRun, kAlert, kReload };
std::string_view ToString(ActionKind k);

struct PlannedAction {
  std::string cert;
  ActionKind kind = ActionKind::kAlert;
  std::optional<Challenge> challenge;  // renew/dry_run: switch to this challenge (from alt_challenges)
  std::optional<std::string> ca;       // renew/dry_run: switch to this CA (from alt_cas)
  std::optional<std::string> host;     // reload: this host; absent = every host of the lineage
  std::string reason;                  // what a person reads
  double risk = 0;                     // the forecast behind the action, 0..1
  bool operator==(const PlannedAction&) const = default;
};

// Canonical one-line JSON: cert, action, challenge?, ca?, host?, reason, risk.
std::string ActionToJson(const PlannedAction& a);
// Strict parse of one line; InvalidArgument with the reason on bad input.
StatusOr<PlannedAction> ParseActionLine(std::string_view line);

}  // namespace certcast
