// Labels derived from events (events-v1 "Labels"): episode onsets and the spans a lineage spends
// inside an episode. Used for training targets and for backtest scoring; never for features.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "core/event.h"

namespace certcast {

struct Episode {
  absl::Time onset;                        // first non-dry-run failure after the last success/issuance
  absl::Time end = absl::InfiniteFuture();  // the success or issuance that ended it
  std::string error;                       // the onset attempt's error ("" when none given)
};

// Episodes of every lineage, from events in ts order.
absl::flat_hash_map<std::string, std::vector<Episode>> ComputeEpisodes(std::span<const Event> events);

// Inside an ongoing episode on day `d`: an attempt failure at or before d and no success or
// issuance since (docs/evaluation.md section 1).
bool InEpisodeAt(const std::vector<Episode>& episodes, absl::Time d);

// The first onset in (from, to], or nullptr.
const Episode* OnsetIn(const std::vector<Episode>& episodes, absl::Time from, absl::Time to);

// Short cause name of an error: the last segment of an ACME URN ("connection"), the client code
// ("timeout"), or "unknown".
std::string ErrorCause(std::string_view error);

}  // namespace certcast
