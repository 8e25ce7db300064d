// The agent's dead-letter file: lines the server rejected (422) or will never take (other 4xx),
// and lines about another host, each as one JSON record with the error, kept for a person to
// read. Never retried. Bounded, because a server that rejects every line of a busy host for days
// would otherwise fill the disk the ACME clients need.
//
// Layout in the state directory (files 0600, O_NOFOLLOW):
//   dead-letter.jsonl       the records, newest last (appended, fdatasync'ed)
//   dead-letter.old.jsonl   the previous generation
//   dead-letter.dropped     what the bound dropped and nobody reported yet (outbox.h's format,
//                           "RECORDS BYTES FIRST_DROP_TS\n")
// Bound: once dead-letter.jsonl would grow past max_bytes / 2, it becomes dead-letter.old.jsonl
// and the generation it replaces is dropped: counted in dead-letter.dropped first (a crash between
// the count and the rename counts it twice at worst), then removed. So at most max_bytes are kept,
// oldest dropped first, and at least the newest max_bytes / 2 (or the newest record alone when it
// is larger). The agent reports a drop as a `host` event with event "dead_letter_dropped" (ts:
// the first drop) once the server answers again, as it does the outbox's drops.
//
// Thread safety: one per state directory, used from one thread (the agent's lock keeps a second
// process off the directory).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "agent/outbox.h"
#include "core/status.h"

namespace certcast::agent {

class DeadLetterFile {
 public:
  // Reads a pending drop count; InvalidArgument naming the file when it is unreadable garbage.
  static StatusOr<DeadLetterFile> Open(std::string dir, int64_t max_bytes);

  // Appends one record (a line without its newline) durably, applying the bound first.
  Status Append(std::string_view record, absl::Time now);

  std::optional<DroppedCount> PeekDropped() const { return dropped_; }
  Status ClearDropped();

  std::string path() const { return dir_ + "/dead-letter.jsonl"; }
  std::string old_path() const { return dir_ + "/dead-letter.old.jsonl"; }

 private:
  DeadLetterFile(std::string dir, int64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}
  std::string dropped_path() const { return dir_ + "/dead-letter.dropped"; }

  std::string dir_;
  int64_t max_bytes_;
  std::optional<DroppedCount> dropped_;
};

}  // namespace certcast::agent
