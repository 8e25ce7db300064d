// Running one configured collector ([[collector]] in the daemon's TOML): its argv with its
// timeout and environment, its stdout read as events-v1 lines. Shared by `certcast run` (the
// daemon stores what it returns) and `certcast agent` (which queues it for the server).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "act/config.h"
#include "core/event.h"

namespace certcast::act {

struct CollectorRun {
  // Set when the collector could not run, timed out or exited non-zero ("timeout", "exit 2:
  // LAST STDERR LINE"); the events it printed before are still in `events`.
  std::string failure;
  std::vector<Event> events;  // its valid lines, in order
  int64_t rejected = 0;       // lines that are not valid events-v1
  // The first ten rejected lines as {line number, reason}.
  std::vector<std::pair<int64_t, std::string>> first_rejections;
};

CollectorRun RunCollector(const CollectorSettings& collector);

}  // namespace certcast::act
