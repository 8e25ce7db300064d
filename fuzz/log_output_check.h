// The invariants every client-log parser keeps, checked by each log fuzz target: a reported issue
// names a line that exists and says why, and every event survives the events-v1 round trip.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include "collect/clients/common.h"
#include "core/event_json.h"

inline void CheckLogParseOutput(std::string_view text, const certcast::clients::ParseOutput& out) {
  const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  for (const auto& issue : out.issues) {
    if (issue.line > lines || issue.reason.empty()) std::abort();
  }
  for (const auto& event : out.events) {
    auto again = certcast::ParseEventLine(certcast::EventToJson(event));
    if (!again.ok() || !(*again == event)) std::abort();
  }
}
