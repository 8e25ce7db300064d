// Ingest: events-v1 JSON Lines from files or stdin into the store. The coordinator between the
// event parser (core) and the store; it parses nothing itself.
//
// Contract (docs/events-v1.md): every valid line is kept, each rejected line is reported with its
// line number and reason, exact duplicates are stored once, order does not matter. Lines are
// committed in batches; a batch reported through `on_commit` is durable. Memory is bounded by the
// batch size and the longest line, not by the input size.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/event.h"
#include "core/status.h"
#include "store/store.h"

namespace certcast {

struct IngestOptions {
  // Events per transaction. Larger batches amortise the commit's fsync; 20k keeps a batch's
  // memory around 20 MB and a commit every ~20 ms at full speed.
  size_t batch_events = 20000;
  // Called with (path, line number, reason) for each rejected line.
  std::function<void(std::string_view, int64_t, std::string_view)> on_reject;
  // Called after each durable commit with the last line number it covered.
  std::function<void(std::string_view, int64_t)> on_commit;
  // Called about every 0.5 s of `clock` time with bytes read so far and the total (0 = unknown).
  std::function<void(int64_t bytes, int64_t total, int64_t events)> on_progress;
  const Clock* clock = &SystemClock::Get();
  // Called for each valid event before it joins a batch; a non-OK answer stops the ingest, which
  // returns that status (the server refuses a host-bound token's event for another host). Batches
  // committed before it stay stored: a caller that needs all or nothing sets batch_events above
  // the input's line count.
  std::function<Status(const Event&)> admit;
};

struct IngestStats {
  int64_t lines = 0;       // lines read, blank ones included
  int64_t accepted = 0;    // valid events
  int64_t inserted = 0;    // newly stored
  int64_t duplicates = 0;  // valid, but already stored
  int64_t rejected = 0;    // invalid lines
  int64_t bytes = 0;
  IngestStats& operator+=(const IngestStats& o);
};

// Reads `path` ("-" = standard input) and stores its events. Returns an error only when the input
// cannot be read or the store fails; rejected lines are counted, not errors. On a store error the
// batches committed before it stay stored.
StatusOr<IngestStats> IngestFile(Store& store, const std::string& path,
                                 const IngestOptions& options);

// Same for text already in memory (API bodies, tests). `source` names it in reports.
StatusOr<IngestStats> IngestText(Store& store, std::string_view text, std::string_view source,
                                 const IngestOptions& options);

}  // namespace certcast
