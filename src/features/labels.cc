#include "features/labels.h"

#include <algorithm>

namespace certcast {

absl::flat_hash_map<std::string, std::vector<Episode>> ComputeEpisodes(std::span<const Event> events) {
  absl::flat_hash_map<std::string, std::vector<Episode>> out;
  for (const Event& e : events) {
    if (const auto* r = e.As<RenewalEvent>()) {
      if (r->dry_run) continue;
      auto& list = out[r->cert];
      const bool open = !list.empty() && list.back().end == absl::InfiniteFuture();
      if (r->outcome == Outcome::kFailure) {
        if (!open) list.push_back(Episode{e.ts, absl::InfiniteFuture(), r->error.value_or("")});
      } else if (open) {
        list.back().end = e.ts;
      }
    } else if (const auto* i = e.As<IssuedEvent>()) {
      auto it = out.find(i->cert);
      if (it != out.end() && !it->second.empty() && it->second.back().end == absl::InfiniteFuture()) {
        it->second.back().end = e.ts;
      }
    }
  }
  return out;
}

bool InEpisodeAt(const std::vector<Episode>& episodes, absl::Time d) {
  // Episodes are in onset order and do not overlap: find the last onset <= d.
  auto it = std::upper_bound(episodes.begin(), episodes.end(), d,
                             [](absl::Time t, const Episode& ep) { return t < ep.onset; });
  if (it == episodes.begin()) return false;
  --it;
  return it->end > d;
}

const Episode* OnsetIn(const std::vector<Episode>& episodes, absl::Time from, absl::Time to) {
  auto it = std::upper_bound(episodes.begin(), episodes.end(), from,
                             [](absl::Time t, const Episode& ep) { return t < ep.onset; });
  if (it == episodes.end() || it->onset > to) return nullptr;
  return &*it;
}

std::string ErrorCause(std::string_view error) {
  if (error.empty()) return "unknown";
  const size_t colon = error.rfind(':');
  return std::string(colon == std::string_view::npos ? error : error.substr(colon + 1));
}

}  // namespace certcast
