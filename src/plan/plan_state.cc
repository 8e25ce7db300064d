#include "plan/plan_state.h"

#include <chrono>

#include "core/strings.h"
#include "core/time.h"
#include "features/features.h"
#include "features/lineage_state.h"
#include "plan/binary_codec.h"
#include "plan/checkpoint_codec.h"
#include "store/store.h"

namespace certcast::plan {
namespace {

constexpr std::string_view kMagic = "certcast-plan-state";
// Bump when the bytes or the meaning of the folded state change (a field added to a view struct,
// or Add/Apply folding an event differently): older checkpoints are then rebuilt, not misread.
// 2: views keep the client's own last attempt. 3: strings written once, event bodies field by
// field instead of their JSON line, enums in one byte, counts as varints. 4: the forecaster's
// lineage states keep their earlier certificates (the client rule's history). 5: the fleet state's
// diagnosed facts (rate-limit spending), CA probe days, organisations by parent domain (issue #14). 6: served
// results keyed by (endpoint, SNI) (issue #17). 7: HTTP-01 streaks per vantage (issue #17). 8: every
// struct through its one Fields list (a lineage view's config is written also before its first
// config event, as a default ConfigEvent). 9: the newest folded event's ts (the lateness mark).
// 10: one fold (issue #13 step 4): the facts inside the FleetState, written once; repeats and
// earlier certificates no longer change the current one. 11: a served result keeps the serial
// served before it and when (a foreign certificate is no observation of the lineage, issue #15).
constexpr int64_t kPlanStateFormat = 11;

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string FeatureSchema() {
  return FeatureSchemaId();
}

// The header through `r`, the reader the state is then read with: the schema is the first string of
// the checkpoint's string table, which the state's strings refer back to by position.
Status ReadHeader(BinaryReader& r, CheckpointHeader& header) {
  std::string magic;
  if (!r.FixedStr(magic).ok() || magic != kMagic) return DataLossError("not a plan state checkpoint");
  RETURN_IF_ERROR(r.I64(header.format));
  if (Status s = r.Str(header.schema); !s.ok()) {
    if (header.format != kPlanStateFormat) {
      return FailedPreconditionError(StrCat("checkpoint format ", header.format, ", this certcast writes ", kPlanStateFormat));
    }
    return s;
  }
  header.size = r.position();
  return OkStatus();
}

void WriteHeader(BinaryWriter& w) {
  // The magic and format are written alike in every format, so that an older checkpoint is
  // recognised and refused by its format number.
  w.FixedStr(kMagic);
  w.I64(kPlanStateFormat);
  w.Str(FeatureSchema());
}

}  // namespace

StatusOr<CheckpointHeader> ReadCheckpointHeader(std::string_view bytes) {
  BinaryReader r(bytes);
  CheckpointHeader header;
  RETURN_IF_ERROR(ReadHeader(r, header));
  return header;
}

StatusOr<std::string> WithThisBuildsCheckpointHeader(std::string_view bytes) {
  ASSIGN_OR_RETURN(CheckpointHeader header, ReadCheckpointHeader(bytes));
  BinaryWriter w;
  WriteHeader(w);
  std::string out = w.Take();
  out.append(bytes.substr(header.size));
  return out;
}

PlanState::PlanState(bool with_fleet) : with_fleet_(with_fleet), fold_(with_fleet) { Reset(); }
PlanState::~PlanState() = default;
PlanState::PlanState(PlanState&&) noexcept = default;
PlanState& PlanState::operator=(PlanState&&) noexcept = default;

void PlanState::Reset() {
  built_ = false;
  watermark_ = absl::InfinitePast();
  newest_folded_ = absl::InfinitePast();
  append_seq_ = 0;
  unsaved_ = true;
  fold_ = FleetState(with_fleet_);
}

Status PlanState::Fold(Store& store, std::optional<absl::Time> since, absl::Time until,
                       AdvanceStats& stats) {
  const auto start = std::chrono::steady_clock::now();
  EventFilter filter;
  filter.since = since;
  filter.until = until;
  // Events at the newest folded ts are folded already (AdvanceTo rebuilds when a new one arrives
  // there), and `since` is inclusive.
  const absl::Time folded_through = newest_folded_;
  Status s = store.ScanEvents(filter, [&](const Event& e) {
    if (since && e.ts <= folded_through) return OkStatus();
    newest_folded_ = e.ts;  // the scan is in (ts, hash) order
    RETURN_IF_ERROR(fold_.Apply(e));
    ++stats.events_folded;
    unsaved_ = true;
    return OkStatus();
  });
  stats.fold_seconds += Since(start);
  return s;
}

Status PlanState::AdvanceTo(Store& store, absl::Time at, AdvanceStats* stats_out) {
  AdvanceStats local;
  AdvanceStats& stats = stats_out ? *stats_out : local;
  stats = AdvanceStats{};
  if (!built_) {
    const auto start = std::chrono::steady_clock::now();
    ASSIGN_OR_RETURN(std::optional<std::string> stored, store.GetCheckpoint(kPlanStateKey));
    const auto decode_start = std::chrono::steady_clock::now();
    if (!stored) {
      stats.rebuilt_because = "no checkpoint";
    } else if (Status s = Deserialize(*stored); !s.ok()) {
      stats.rebuilt_because = StrCat("checkpoint not usable: ", s.message());
    } else {
      stats.restored = true;
    }
    stats.decode_seconds = Since(decode_start);
    stats.restore_seconds = Since(start);
  }
  // Read the append log before the events: an append that lands in between is then either folded
  // now and seen as new next time (a needless rebuild) or not folded and seen next time (a
  // needed one); never folded-and-forgotten nor missed.
  ASSIGN_OR_RETURN(EventAppends appends, store.EventAppendsSince(append_seq_));
  // Lateness is judged against the newest event folded, not the plan time: telemetry timed
  // before a plan but posted after it (every probe a collector sends to the server, which plans
  // at its own clock) is newer than everything folded, and folding it after the state gives the
  // same state as a fold from scratch in (ts, hash) order. Only an event at or before the newest
  // folded ts would have to go in between folded events.
  if (built_) {
    if (at <= newest_folded_) {
      stats.rebuilt_because = StrCat("plan at ", FormatRfc3339(at), " is not after the state's newest event at ",
                                     FormatRfc3339(newest_folded_));
    } else if (appends.earliest_ts && *appends.earliest_ts <= newest_folded_) {
      stats.rebuilt_because = StrCat("an event at ", FormatRfc3339(*appends.earliest_ts),
                                     " arrived after the state had folded events up to ",
                                     FormatRfc3339(newest_folded_));
    }
    if (!stats.rebuilt_because.empty()) {
      stats.restored = false;
      Reset();
    }
  }
  // From the newest folded event on; events in [it, at) that were folded are skipped by Fold.
  std::optional<absl::Time> since;
  if (built_ && newest_folded_ != absl::InfinitePast()) since = newest_folded_;
  RETURN_IF_ERROR(Fold(store, since, at, stats));
  built_ = true;
  watermark_ = at;
  append_seq_ = appends.last_seq;
  return OkStatus();
}

std::string PlanState::Serialize() const {
  BinaryWriter w;
  w.Reserve(checkpoint_bytes_ + checkpoint_bytes_ / 16);
  WriteHeader(w);
  w.Bool(with_fleet_);
  w.Bool(built_);
  w.Time(watermark_);
  w.Time(newest_folded_);
  w.I64(append_seq_);
  SaveFleetState(fold_, w);
  checkpoint_bytes_ = w.size();
  return w.Take();
}

Status PlanState::Deserialize(std::string_view bytes) {
  Reset();
  BinaryReader r(bytes);
  CheckpointHeader header;
  bool with_fleet = false, built = false;
  absl::Time watermark, newest_folded;
  int64_t seq = 0;
  RETURN_IF_ERROR(ReadHeader(r, header));
  if (header.format != kPlanStateFormat) {
    return FailedPreconditionError(StrCat("checkpoint format ", header.format, ", this certcast writes ", kPlanStateFormat));
  }
  if (header.schema != FeatureSchema()) {
    return FailedPreconditionError(StrCat("checkpoint of feature schema ", header.schema, ", this certcast has ", FeatureSchema()));
  }
  RETURN_IF_ERROR(r.Bool(with_fleet));
  if (!with_fleet && with_fleet_) {
    return FailedPreconditionError("checkpoint has no forecaster state (written by a plan without a model)");
  }
  if (with_fleet && !with_fleet_) {
    // Keep the forecaster state going, so that plans with and without a model can alternate
    // without rebuilding each other's checkpoint.
    with_fleet_ = true;
    Reset();
  }
  RETURN_IF_ERROR(r.Bool(built));
  RETURN_IF_ERROR(r.Time(watermark));
  RETURN_IF_ERROR(r.Time(newest_folded));
  RETURN_IF_ERROR(r.I64(seq));
  Status s = LoadFleetState(r, fold_);
  if (s.ok() && !r.done()) s = DataLossError(StrCat("checkpoint: ", bytes.size() - r.position(), " trailing bytes"));
  if (!s.ok()) {
    Reset();
    return s;
  }
  built_ = built;
  watermark_ = watermark;
  newest_folded_ = newest_folded;
  append_seq_ = seq;
  unsaved_ = false;
  checkpoint_bytes_ = bytes.size();
  return OkStatus();
}

Status PlanState::Save(Store& store) {
  RETURN_IF_ERROR(store.PutCheckpoint(kPlanStateKey, Serialize()));
  MarkSaved();
  return OkStatus();
}

}  // namespace certcast::plan
