// The planner's incremental state: the one fold of every stored event before a watermark (a
// FleetState: the facts the policy's lineage views project, and the forecaster's accumulators when
// a model scores), advanced by the events appended since instead of re-reading history on every
// plan. Every event is folded once.
//
// Kept in memory across daemon cycles, and persisted in the store as a checkpoint (key
// kPlanStateKey) so that a one-off `certcast plan` reads only the events after it. Exactness:
// the state after AdvanceTo(at) equals the fold of every stored event with ts < at, in store order
// (ts, hash). Advancing to `at` folds the stored events after the newest one already folded (N)
// and before `at`; that is exact only if no event with ts <= N was stored after the state was
// built, which the store's append log (Store::EventAppendsSince) tells. Lateness is measured
// against N, not against the previous plan's time: telemetry timed before a plan and delivered
// after it (what a server planning on its own clock receives) is not late. A late event (a
// collector re-delivering old log lines that are new to the store, or one host's events older
// than another's already folded), an `at` not after N, or a checkpoint from another format,
// feature schema or model/no-model mode makes AdvanceTo rebuild from scratch, and says why.
//
// Thread safety: one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "core/status.h"
#include "features/lineage_state.h"

namespace certcast {
class Store;
}  // namespace certcast

namespace certcast::plan {

inline constexpr char kPlanStateKey[] = "plan.state";

// What every checkpoint starts with (in each format since 3): the magic, the format number and the
// feature schema it was folded with. Deserialize reads it before the state and refuses another
// format or schema there.
struct CheckpointHeader {
  int64_t format = 0;
  std::string schema;
  size_t size = 0;  // bytes of the header: the state starts here
};
// DataLoss when `bytes` do not start with a checkpoint header; FailedPrecondition when the format
// is not this build's and its schema cannot be read (formats before 3 wrote strings otherwise).
StatusOr<CheckpointHeader> ReadCheckpointHeader(std::string_view bytes);
// `bytes` with this build's format and feature schema in the header and the state behind it as it
// is. For fuzz/fuzz_plan_checkpoint and its seeds' check: after a feature-schema bump the state
// behind an older header is mostly still readable, but the header check would refuse it before any
// of it was read.
StatusOr<std::string> WithThisBuildsCheckpointHeader(std::string_view bytes);

struct AdvanceStats {
  bool restored = false;        // started from the checkpoint stored in the store
  std::string rebuilt_because;  // non-empty when everything was folded from scratch
  int64_t events_folded = 0;    // events read from the store and folded by this call
  double restore_seconds = 0;   // reading and decoding the checkpoint
  double decode_seconds = 0;    // of which decoding
  double fold_seconds = 0;      // reading events from the store and folding them
};

class PlanState {
 public:
  // `with_fleet`: also fold the forecaster's accumulators (only needed when a model scores). A
  // state without them that restores a checkpoint with them keeps them.
  explicit PlanState(bool with_fleet);
  ~PlanState();
  PlanState(PlanState&&) noexcept;
  PlanState& operator=(PlanState&&) noexcept;

  // Starts from the store's checkpoint when this state is empty and the checkpoint is usable,
  // then brings the state to `at` (see the file comment).
  Status AdvanceTo(Store& store, absl::Time at, AdvanceStats* stats = nullptr);

  // Saves the state as the store's checkpoint.
  Status Save(Store& store);

  // False when the store's checkpoint already is this state but for the watermark: restored from
  // it, or saved as it, with no event folded since. Saving then only moves the watermark forward,
  // which the next restore does not need (it folds from the older watermark the same events,
  // none; and a late event older than that is seen through the append log all the same), so
  // RunPlan skips writing the checkpoint. MarkSaved records a save done by the caller.
  bool unsaved() const { return unsaved_; }
  void MarkSaved() { unsaved_ = false; }

  // The state as bytes and back. Deserialize refuses (FailedPrecondition) bytes of another format,
  // feature schema or mode and (DataLoss) corrupt ones, leaving this state empty.
  std::string Serialize() const;
  Status Deserialize(std::string_view bytes);

  // The fold (facts always; accumulators when with_fleet): policy::BuildViews projects it.
  const FleetState& fold() const { return fold_; }
  // The fold, for scoring: null unless it has the forecaster's accumulators (with_fleet).
  const FleetState* fleet() const { return with_fleet_ ? &fold_ : nullptr; }
  bool built() const { return built_; }
  // The `at` of the last AdvanceTo, and the ts of the newest event folded (the lateness mark).
  absl::Time watermark() const { return watermark_; }
  absl::Time newest_folded() const { return newest_folded_; }

 private:
  void Reset();
  Status Fold(Store& store, std::optional<absl::Time> since, absl::Time until, AdvanceStats& stats);

  bool with_fleet_;
  bool built_ = false;              // false: nothing folded yet (watermark meaningless)
  absl::Time watermark_ = absl::InfinitePast();
  absl::Time newest_folded_ = absl::InfinitePast();  // ts of the newest event folded
  int64_t append_seq_ = 0;          // Store::EventAppendsSince sequence the fold has seen
  bool unsaved_ = true;             // see unsaved()
  // The size of the checkpoint last restored or written: Serialize reserves a little more (the
  // state grows by about a day's worth between plans) instead of doubling its buffer up to it.
  mutable size_t checkpoint_bytes_ = 0;
  FleetState fold_;
};

}  // namespace certcast::plan
