// The invariants every client-log parser keeps, checked by each log fuzz target: a reported issue
// names a line that exists and says why, and every event survives the events-v1 round trip.
#pragma once

#include <algorithm>
#include <array>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

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

// A read of a log the client may still be writing (`input_may_grow`) only holds back: every event
// it gives, a read of the same whole lines as a finished log gives too (the same canonical line,
// so the store keeps one), and each held-back attempt names a line of the input. `parse(text,
// may_grow)` runs the target's parser with its options and input_may_grow set as given.
template <typename Parse>
inline void CheckLiveRead(std::string_view text, Parse parse) {
  const std::string_view whole = certcast::clients::WholeLines(text, true);
  const certcast::clients::ParseOutput live = parse(text, true);
  CheckLogParseOutput(text, live);
  const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  for (size_t line : live.held_back) {
    if (line == 0 || line > lines) std::abort();
  }
  if (live.events.empty()) return;
  const certcast::clients::ParseOutput settled = parse(whole, false);
  std::vector<std::string> settled_lines;
  for (const auto& e : settled.events) settled_lines.push_back(certcast::EventToJson(e));
  for (const auto& e : live.events) {
    const std::string line = certcast::EventToJson(e);
    if (std::find(settled_lines.begin(), settled_lines.end(), line) == settled_lines.end()) std::abort();
  }
}

// The wrappers logs come in (collect/clients/common.h, Unwrap), one per `selector`: the same
// client text inside journald, syslog, `docker logs -t`, docker compose, Nginx Proxy Manager's
// log, dokku's indentation, or bare. The parsers must read the wrapped text as they read the
// bare one; the targets parse both.
inline std::string WrapEveryLine(std::string_view text, unsigned char selector) {
  static constexpr std::array<std::string_view, 7> kPrefixes = {
      "",
      "Sep 12 17:58:47 host acme-shop.example-start[23185]: ",
      "Nov  8 02:00:02 web2 renew-certificates: ",
      "2025-06-03T14:55:53.484325483Z ",
      "npm  | 2023-01-27T22:31:33.750107612+01:00 ",
      "[4/3/2025] [4:25:33 PM] [SSL      ] \xe2\x80\xba \xe2\x9c\x96  error     ",
      "       ",
  };
  const std::string_view prefix = kPrefixes[selector % kPrefixes.size()];
  std::string out;
  out.reserve(text.size() + prefix.size() * 8);
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = text.find('\n', start);
    out += prefix;
    out += text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start + 1);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

// Unwrap keeps every line, numbers them in order, and only ever removes a prefix.
inline void CheckUnwrap(std::string_view text) {
  const auto lines = certcast::clients::SplitLines(text);
  const auto unwrapped =
      certcast::clients::Unwrap(text, absl::FromUnixSeconds(1798761600), absl::Hours(-5));
  if (lines.size() != unwrapped.size()) std::abort();
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = lines[i].text;
    const std::string_view rest = unwrapped[i].text;
    if (unwrapped[i].number != lines[i].number) std::abort();
    if (rest.size() > line.size() || line.substr(line.size() - rest.size()) != rest) std::abort();
    if (unwrapped[i].outer_time && (*unwrapped[i].outer_time == absl::InfiniteFuture() ||
                                    *unwrapped[i].outer_time == absl::InfinitePast())) {
      std::abort();
    }
  }
}
