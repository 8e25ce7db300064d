// Store summaries shared by `stats` and `demo`.
#pragma once

#include <array>
#include <cstdio>

#include "core/event.h"
#include "store/store.h"

namespace certcast::cli {

struct StoreSummary {
  int64_t events = 0;
  std::array<int64_t, kEventTypeCount> by_type{};
  absl::Time first, last;
  int64_t lineages = 0;
  int64_t attempts = 0;
  int64_t failures = 0;
  int64_t episodes = 0;
  int64_t open_episodes = 0;
  int64_t outage_probes = 0;
  int64_t lineages_with_outage = 0;
};

StatusOr<StoreSummary> Summarize(Store& store);
void PrintSummary(const StoreSummary& s, std::FILE* out);

}  // namespace certcast::cli
