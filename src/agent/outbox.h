// The agent's outbox: what was collected on this host and not yet acknowledged by the server, on
// disk in the agent's state directory, so that nothing collected is lost to a crash, a kill -9, a
// reboot or a server that is away for days (docs/architecture.md, "The agent").
//
// Layout, under DIR/outbox (0700, owned by this uid, created private):
//   NNNNNNNNNNNNNNNNNNNN.jsonl   segments, 20-digit sequence numbers, events-v1 lines in the
//                                order collected; the highest one is appended to, the others are
//                                sealed. A segment is one delivery batch.
//   dropped                      when the bound dropped segments: "EVENTS BYTES FIRST_DROP_TS\n",
//                                reported as an event once the server answers again (PeekDropped,
//                                ClearDropped).
// Files are 0600, opened with O_NOFOLLOW and checked to be owned by this uid.
//
// Contract:
//  * Append() returns only after the lines are written and fdatasync'ed: a caller may consider
//    them collected (delete their source) once it returns OK.
//  * Segments are delivered oldest first and removed (Acknowledge) only after the server answered;
//    order per host is the order of Append calls.
//  * Bounded: after an append, while the segments hold more than max_bytes, the oldest segment is
//    deleted and counted as dropped (never the lines just appended when they alone fit).
//  * Survives kill -9 at any point: a segment whose last line has no newline (a write cut short)
//    loses that torn line at Open (truncated, fsynced, reported in OpenReport); the rest is kept.
//
// Thread safety: one Outbox per directory, used from one thread; a second process on the same
// state directory is refused by the agent's lock (agent.h), not here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "core/status.h"

namespace certcast::agent {

struct OutboxOptions {
  std::string dir;                          // the outbox directory (DIR/outbox)
  int64_t max_bytes = 256ll << 20;          // bound of all segments together
  int64_t segment_bytes = 1ll << 20;        // a segment is sealed once it holds this much
};

// What a segment's bytes hold: complete lines and, when the last one has no newline, a torn tail.
struct SegmentScan {
  int64_t complete_bytes = 0;  // bytes up to and including the last '\n'
  int64_t lines = 0;           // complete lines (blank ones included)
  int64_t torn_bytes = 0;      // bytes after the last '\n' (a cut write)
};
// Pure: scans `content` (any bytes). Fuzzed (fuzz/fuzz_outbox.cc).
SegmentScan ScanSegment(std::string_view content);

struct DroppedCount {
  int64_t events = 0;
  int64_t bytes = 0;
  absl::Time first;  // when the first of them was dropped
};
// Parses the `dropped` file ("EVENTS BYTES TS\n"); InvalidArgument naming what is wrong. Fuzzed.
StatusOr<DroppedCount> ParseDropped(std::string_view text);
std::string FormatDropped(const DroppedCount& dropped);

struct Segment {
  uint64_t sequence = 0;
  std::string path;
  int64_t bytes = 0;
};

struct OpenReport {
  std::vector<std::string> warnings;  // torn tails dropped, stray files ignored
};

class Outbox {
 public:
  // Creates the directory (0700) when missing, checks it, scans every segment and truncates a
  // torn last line. Errors name the path.
  static StatusOr<Outbox> Open(const OutboxOptions& options, OpenReport* report = nullptr);

  // Appends `lines` (each one events-v1 line without its '\n'; none may contain '\n') durably to
  // the open segment, sealing it and starting the next when it is full. Then applies the bound;
  // `now` stamps a drop. InvalidArgument for a line with '\n' (nothing appended).
  Status Append(const std::vector<std::string>& lines, absl::Time now);

  // Seals the open segment (the next Append starts a new one), so the segment being delivered is
  // never appended to.
  void Seal();

  // Segments oldest first.
  const std::vector<Segment>& segments() const { return segments_; }
  int64_t bytes() const;
  // Reads one segment's complete lines (the torn tail, if any appeared since Open, excluded).
  StatusOr<std::string> Read(const Segment& segment) const;
  // Removes a delivered segment (fsyncs the directory). Only the oldest segment may be removed.
  Status Acknowledge(const Segment& segment);

  // What the bound dropped and nobody reported yet (persisted in `dropped`). The caller reports
  // it (as an event, appended here) once the server answers again, then calls ClearDropped.
  std::optional<DroppedCount> PeekDropped() const { return dropped_; }
  Status ClearDropped();

 private:
  explicit Outbox(OutboxOptions options) : options_(std::move(options)) {}
  Status Bound(absl::Time now);
  std::string SegmentPath(uint64_t sequence) const;
  OutboxOptions options_;
  std::vector<Segment> segments_;
  bool open_segment_sealed_ = true;  // true: the next Append starts a new segment
  std::optional<DroppedCount> dropped_;
};

}  // namespace certcast::agent
