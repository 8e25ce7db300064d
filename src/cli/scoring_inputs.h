// What `forecast` and `explain` both need before they score: the model, the store (read-only)
// and the events before the instant asked for.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/clock.h"
#include "core/time.h"
#include "model/forecaster.h"
#include "store/store.h"

namespace certcast::cli {

struct ScoringInputs {
  Forecaster forecaster;
  std::unique_ptr<Store> store;
  absl::Time at;             // --at, or now when empty
  std::vector<Event> events;  // ts < at, in ts order
};

inline StatusOr<ScoringInputs> LoadScoringInputs(const std::string& db, const std::string& model,
                                                 const std::string& at_flag) {
  ASSIGN_OR_RETURN(Forecaster forecaster, Forecaster::Load(model));
  StoreOptions store_options;
  store_options.create_if_missing = false;
  ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(db, store_options));
  // The flag was validated by RequireTimestamp, so parsing cannot fail here.
  const absl::Time at = at_flag.empty() ? SystemClock::Get().Now() : *ParseRfc3339(at_flag);
  EventFilter filter;
  filter.until = at;
  ASSIGN_OR_RETURN(std::vector<Event> events, store->LoadEvents(filter));
  WarnUnreadableEvents(*store);
  return ScoringInputs{std::move(forecaster), std::move(store), at, std::move(events)};
}

}  // namespace certcast::cli
