// Short time-ordered windows of the fold (issuances in the last 7 days, failed validations in the
// last hour, clock and disk samples of the last two weeks, the last N failures), kept in a
// std::vector. They were std::deque: libstdc++'s deque allocates a 512-byte block and its map on
// construction, even when it stays empty, and the fold holds several windows per lineage, name set
// and host: 28 MB of a 10,000-lineage plan's restore (heaptrack), most of it for windows that hold
// nothing (issue #13, docs/benchmarks.md). The windows hold a few to a few
// hundred entries, so dropping from the front is one short move.
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

namespace certcast {

// Appends `value`, then drops the oldest entries for which `expired(entry)` holds (the window is in
// time order, so they are a prefix).
template <typename T, typename Expired>
void PushWindow(std::vector<T>& window, T value, Expired expired) {
  window.push_back(std::move(value));
  window.erase(window.begin(), std::find_if_not(window.begin(), window.end(), expired));
}

// Appends `value` and keeps the newest `max` entries.
template <typename T>
void PushCapped(std::vector<T>& window, T value, size_t max) {
  window.push_back(std::move(value));
  if (window.size() > max) window.erase(window.begin(), window.end() - static_cast<std::ptrdiff_t>(max));
}

}  // namespace certcast
