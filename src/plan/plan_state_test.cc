// The planner's incremental state (plan_state.h) against planning from scratch: over a simulated
// fleet whose telemetry partly arrives days late (as collectors re-deliver old log lines), the
// daemon's in-memory state and the one-off command's stored checkpoint print exactly what a plan
// that folds every stored event prints, day by day, and leave the same memory and audit trail.
#include "plan/plan_state.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "collect/sim/simulator.h"
#include "core/action.h"
#include "core/strings.h"
#include "core/time.h"
#include "features/features.h"
#include "features/lineage_state.h"
#include "gtest/gtest.h"
#include "plan/binary_codec.h"
#include "plan/planner.h"
#include "store/store.h"

namespace certcast::plan {
namespace {

class DaySink : public sim::EventSink {
 public:
  Status Consume(std::span<const Event> events) override {
    days.emplace_back(events.begin(), events.end());
    return OkStatus();
  }
  std::vector<std::vector<Event>> days;
};

class PlanStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("certcast-plan-state-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Store> Open(const std::string& name) {
    auto store = Store::Open((dir_ / name).string());
    EXPECT_TRUE(store.ok()) << store.status();
    return std::move(*store);
  }

  static std::vector<std::vector<Event>> Fleet(uint64_t seed, int lineages, int days) {
    auto config = sim::PresetConfig("hosting");
    EXPECT_TRUE(config.ok());
    config->lineages = lineages;
    config->days = days;
    config->seed = seed;
    DaySink sink;
    EXPECT_TRUE(sim::RunOpenLoop(*config, &sink).ok());
    return std::move(sink.days);
  }

  static std::string Printed(const RunPlanOutput& out) {
    std::string s;
    for (const PlannedItem& item : out.result.items) s += ActionToJson(item.action) + "\n";
    return s;
  }

  static std::vector<std::string> Audit(Store& store) {
    std::vector<std::string> records;
    EXPECT_TRUE(store.ScanAudit([&](const AuditRecord& r) {
                       records.push_back(r.kind + " " + r.record_json);
                       return OkStatus();
                     }).ok());
    return records;
  }

  std::filesystem::path dir_;
};

TEST_F(PlanStateTest, IncrementalPlansEqualPlansFromScratchWithLateEvents) {
  const absl::Time start = absl::FromUnixSeconds(1795824000);  // the simulator's default start
  const auto days = Fleet(/*seed=*/5, /*lineages=*/120, /*days=*/45);
  ASSERT_EQ(days.size(), 45u);
  auto scratch = Open("scratch.db"), daemon = Open("daemon.db"), oneoff = Open("oneoff.db");
  RunPlanOptions from_scratch;
  from_scratch.checkpoint = false;  // no checkpoint in this store: every plan folds everything
  RunPlanOptions incremental;

  PlanState daemon_state(/*with_fleet=*/false);
  std::mt19937_64 random(17);
  std::vector<Event> held;  // delivered three days late
  int rebuilds = 0, restores = 0, printed_actions = 0;
  for (size_t d = 0; d < days.size(); ++d) {
    std::vector<Event> today;
    for (const Event& e : days[d]) {
      // On every 7th day, 2% of the telemetry is held back and arrives late.
      if (d % 7 == 3 && random() % 50 == 0) held.push_back(e);
      else today.push_back(e);
    }
    const int64_t on_time = static_cast<int64_t>(today.size());
    const bool late_today = d % 7 == 6 && !held.empty();
    if (late_today) {
      today.insert(today.end(), held.begin(), held.end());
      held.clear();
    }
    // Re-delivered duplicates (yesterday's first events again) are not new: no rebuild.
    if (d > 0) today.insert(today.end(), days[d - 1].begin(), days[d - 1].begin() + std::min<size_t>(20, days[d - 1].size()));
    for (Store* s : {scratch.get(), daemon.get(), oneoff.get()}) ASSERT_TRUE(s->AppendEvents(today).ok());

    const absl::Time at = start + absl::Hours(24) * static_cast<int64_t>(d + 1);
    auto want = RunPlan(*scratch, nullptr, at, from_scratch);
    auto in_memory = RunPlan(*daemon, nullptr, at, incremental, daemon_state);
    auto restored = RunPlan(*oneoff, nullptr, at, incremental);  // a new process: the checkpoint
    ASSERT_TRUE(want.ok() && in_memory.ok() && restored.ok()) << "day " << d;
    EXPECT_EQ(want->advance.rebuilt_because, "no checkpoint");
    ASSERT_EQ(Printed(*in_memory), Printed(*want)) << "day " << d;
    ASSERT_EQ(Printed(*restored), Printed(*want)) << "day " << d;
    printed_actions += static_cast<int>(want->result.items.size());
    // Stronger than the printed plan (late telemetry rarely changes a day's actions): the folded
    // state itself equals a fold of every stored event.
    PlanState fresh(/*with_fleet=*/false);
    ASSERT_TRUE(fresh.AdvanceTo(*scratch, at).ok());
    ASSERT_TRUE(daemon_state.Serialize() == fresh.Serialize()) << "folded state differs on day " << d;

    if (d == 0) {
      EXPECT_EQ(in_memory->advance.rebuilt_because, "no checkpoint");
    } else if (late_today) {
      // The late events are older than the previous plan: both must fold from scratch, and say so.
      EXPECT_TRUE(in_memory->advance.rebuilt_because.starts_with("an event at ")) << in_memory->advance.rebuilt_because;
      EXPECT_TRUE(restored->advance.rebuilt_because.starts_with("an event at ")) << restored->advance.rebuilt_because;
      ++rebuilds;
    } else {
      EXPECT_EQ(in_memory->advance.rebuilt_because, "") << "day " << d;
      EXPECT_EQ(restored->advance.rebuilt_because, "") << "day " << d;
      EXPECT_TRUE(restored->advance.restored);
      // Only the new day's events are read, not the history.
      EXPECT_EQ(restored->advance.events_folded, on_time) << "day " << d;
      ++restores;
    }
  }
  EXPECT_EQ(rebuilds, 6);
  EXPECT_GT(restores, 30);
  EXPECT_GT(printed_actions, 20);  // the comparison saw real plans
  const std::string memory = **scratch->GetState(kMemoryStateKey);
  EXPECT_EQ(**daemon->GetState(kMemoryStateKey), memory);
  EXPECT_EQ(**oneoff->GetState(kMemoryStateKey), memory);
  EXPECT_EQ(Audit(*daemon), Audit(*scratch));
  EXPECT_EQ(Audit(*oneoff), Audit(*scratch));
}

TEST_F(PlanStateTest, ForecasterStateRestoresToTheSameFeatures) {
  const auto days = Fleet(/*seed=*/8, /*lineages=*/80, /*days=*/30);
  auto store = Open("fleet.db");
  for (const auto& day : days) ASSERT_TRUE(store->AppendEvents(day).ok());
  const absl::Time mid = absl::FromUnixSeconds(1795824000) + absl::Hours(24 * 20);
  const absl::Time end = mid + absl::Hours(24 * 10);

  PlanState whole(/*with_fleet=*/true), stepped(/*with_fleet=*/true), restored(/*with_fleet=*/false);
  ASSERT_TRUE(whole.AdvanceTo(*store, end).ok());
  ASSERT_TRUE(stepped.AdvanceTo(*store, mid).ok());
  ASSERT_TRUE(stepped.Save(*store).ok());
  // A state without forecaster state adopts the checkpoint's (plans with and without a model).
  AdvanceStats stats;
  ASSERT_TRUE(restored.AdvanceTo(*store, end, &stats).ok());
  EXPECT_TRUE(stats.restored) << stats.rebuilt_because;
  ASSERT_NE(restored.fleet(), nullptr);
  ASSERT_TRUE(stepped.AdvanceTo(*store, end).ok());

  // Same bytes, and the same features for every lineage, bit for bit.
  EXPECT_TRUE(restored.Serialize() == whole.Serialize());
  EXPECT_TRUE(stepped.Serialize() == whole.Serialize());
  auto want = FeatureExtractor::Create(*whole.fleet(), end);
  auto got = FeatureExtractor::Create(*restored.fleet(), end);
  ASSERT_TRUE(want.ok() && got.ok());
  ASSERT_EQ(restored.fleet()->lineage_count(), whole.fleet()->lineage_count());
  ASSERT_GT(whole.fleet()->lineage_count(), 50u);
  std::vector<float> a(kFeatureCount), b(kFeatureCount);
  for (size_t i = 0; i < whole.fleet()->lineage_count(); ++i) {
    want->Extract(i, a.data());
    got->Extract(i, b.data());
    ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "lineage " << i;
  }
}

// A plan that folds nothing new (the same day again, or a daemon cycle without new events) leaves
// the checkpoint as it is; the next plan restores that older checkpoint and folds the same state
// as a fold of every stored event.
TEST_F(PlanStateTest, NothingNewFoldedLeavesTheCheckpointAsItIs) {
  const absl::Time start = absl::FromUnixSeconds(1795824000);
  const auto days = Fleet(/*seed=*/6, /*lineages=*/40, /*days=*/6);
  ASSERT_EQ(days.size(), 6u);
  auto store = Open("unchanged.db"), scratch = Open("scratch.db");
  for (size_t d = 0; d < 5; ++d) {
    for (Store* s : {store.get(), scratch.get()}) ASSERT_TRUE(s->AppendEvents(days[d]).ok());
  }
  const absl::Time day5 = start + absl::Hours(24 * 5);
  auto first = RunPlan(*store, nullptr, day5, RunPlanOptions{});
  ASSERT_TRUE(first.ok());
  EXPECT_GT(first->checkpoint_bytes, 0);
  const std::string saved = **store->GetCheckpoint(kPlanStateKey);

  auto again = RunPlan(*store, nullptr, day5 + absl::Hours(1), RunPlanOptions{});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->advance.restored);
  EXPECT_EQ(again->advance.events_folded, 0);
  EXPECT_EQ(again->checkpoint_bytes, 0);
  EXPECT_EQ(**store->GetCheckpoint(kPlanStateKey), saved);

  for (Store* s : {store.get(), scratch.get()}) ASSERT_TRUE(s->AppendEvents(days[5]).ok());
  const absl::Time day6 = day5 + absl::Hours(24);
  PlanState restored(/*with_fleet=*/false), fresh(/*with_fleet=*/false);
  AdvanceStats stats;
  ASSERT_TRUE(restored.AdvanceTo(*store, day6, &stats).ok());
  EXPECT_TRUE(stats.restored) << stats.rebuilt_because;
  EXPECT_EQ(stats.events_folded, static_cast<int64_t>(days[5].size()));
  EXPECT_TRUE(restored.unsaved());
  ASSERT_TRUE(fresh.AdvanceTo(*scratch, day6).ok());
  EXPECT_TRUE(restored.Serialize() == fresh.Serialize());
  ASSERT_TRUE(restored.Save(*store).ok());
  EXPECT_FALSE(restored.unsaved());
}

// A checkpoint damaged in the store is refused, or read into a state whose indices stay inside
// their tables. Every cut-short checkpoint is refused (no field is optional, and a length names
// what follows it); each is a copy of its own, so that a sanitizer build sees a read past its end.
TEST_F(PlanStateTest, DamagedCheckpointsAreRefusedOrReadSafely) {
  const auto days = Fleet(/*seed=*/9, /*lineages=*/8, /*days=*/4);
  auto store = Open("damaged.db");
  for (const auto& day : days) ASSERT_TRUE(store->AppendEvents(day).ok());
  const absl::Time end = absl::FromUnixSeconds(1795824000) + absl::Hours(24 * 4);
  PlanState original(/*with_fleet=*/true);
  ASSERT_TRUE(original.AdvanceTo(*store, end).ok());
  const std::string good = original.Serialize();
  ASSERT_GT(good.size(), 2000u);
  PlanState state(/*with_fleet=*/true);
  ASSERT_TRUE(state.Deserialize(good).ok());
  ASSERT_EQ(state.Serialize(), good);
  for (size_t cut = 0; cut < good.size(); ++cut) {
    ASSERT_FALSE(state.Deserialize(good.substr(0, cut)).ok()) << "cut at " << cut;
    ASSERT_FALSE(state.built());
  }
  std::mt19937_64 rng(5);
  int refused = 0, read = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string damaged = good;
    damaged[rng() % damaged.size()] = static_cast<char>(rng());
    if (!state.Deserialize(damaged).ok()) {
      ++refused;
      ASSERT_FALSE(state.built());
      continue;
    }
    ++read;
    // Use what was read: every lineage through the index, and the views.
    const FleetState& fleet = *state.fleet();
    for (size_t l = 0; l < fleet.lineage_count(); ++l) ASSERT_EQ(fleet.IndexOf(fleet.lineage(l).cert), l);
    EXPECT_LE(policy::BuildViews(state.fold(), end).size(), 8u);
  }
  // Both outcomes happen: a changed count or tag is refused, a changed time or number is read.
  EXPECT_GT(refused, 300) << read;
  EXPECT_GT(read, 300) << refused;
}

TEST_F(PlanStateTest, RefusesCheckpointsItCannotUse) {
  PlanState state(/*with_fleet=*/false);
  struct Case {
    std::string bytes;
    std::string error;
  };
  PlanState model_less(/*with_fleet=*/false);
  const std::string good = model_less.Serialize();
  PlanState needs_fleet(/*with_fleet=*/true);
  const size_t format_at = 8 + std::string_view("certcast-plan-state").size();
  std::string other_format = good;
  other_format[format_at] = 1;  // the format number
  // The feature schema string after the format made a back-reference to a string never written.
  std::string dangling_reference = good;
  dangling_reference[format_at + 8] = 1;
  const std::vector<Case> cases = {
      {"", "not a plan state checkpoint"},
      {"certcast-plan-state", "not a plan state checkpoint"},
      {other_format, "checkpoint format 1, this certcast writes 11"},
      {good.substr(0, good.size() - 3), "fleet state: checkpoint: truncated or corrupt "},
      {good + "x", "checkpoint: 1 trailing bytes"},
      {dangling_reference, "checkpoint: truncated or corrupt string reference at byte 36"},
  };
  for (const Case& c : cases) {
    Status s = state.Deserialize(c.bytes);
    EXPECT_FALSE(s.ok());
    EXPECT_TRUE(s.message().starts_with(c.error)) << s.message() << " want " << c.error;
    EXPECT_FALSE(state.built());
  }
  Status s = needs_fleet.Deserialize(good);
  EXPECT_EQ(s.message(), "checkpoint has no forecaster state (written by a plan without a model)");

  // A corrupt checkpoint in the store is rebuilt from events, with the reason given.
  auto store = Open("corrupt.db");
  ASSERT_TRUE(store->PutCheckpoint(kPlanStateKey, "garbage").ok());
  AdvanceStats stats;
  ASSERT_TRUE(state.AdvanceTo(*store, absl::FromUnixSeconds(1795824000), &stats).ok());
  EXPECT_EQ(stats.rebuilt_because, "checkpoint not usable: not a plan state checkpoint");
}

// The header split (ReadCheckpointHeader) and the restamp the fuzz target reads every input with
// (WithThisBuildsCheckpointHeader): a checkpoint of another feature schema is refused at its header,
// and with this build's schema put there it reads to the same state.
TEST_F(PlanStateTest, CheckpointHeaderIsReadAndRestampedWithThisBuildsSchema) {
  const auto days = Fleet(/*seed=*/4, /*lineages=*/3, /*days=*/3);
  auto store = Open("header.db");
  for (const auto& day : days) ASSERT_TRUE(store->AppendEvents(day).ok());
  PlanState original(/*with_fleet=*/false);
  ASSERT_TRUE(original.AdvanceTo(*store, absl::FromUnixSeconds(1795824000) + absl::Hours(24 * 3)).ok());
  const std::string good = original.Serialize();
  auto header = ReadCheckpointHeader(good);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->format, 11);
  EXPECT_EQ(header->schema, FeatureSchemaId());
  // 8-byte length and the magic, the 8-byte format, the schema's length varint and the schema.
  EXPECT_EQ(header->size, 8 + std::string_view("certcast-plan-state").size() + 8 + 1 + header->schema.size());

  BinaryWriter w;
  w.FixedStr("certcast-plan-state");
  w.I64(11);
  w.Str("features-v1/1/0000000000000000");
  const std::string old_schema = w.Take() + good.substr(header->size);
  PlanState state(/*with_fleet=*/false);
  EXPECT_EQ(state.Deserialize(old_schema).message(),
            StrCat("checkpoint of feature schema features-v1/1/0000000000000000, this certcast has ", FeatureSchemaId()));
  auto restamped = WithThisBuildsCheckpointHeader(old_schema);
  ASSERT_TRUE(restamped.ok()) << restamped.status();
  EXPECT_TRUE(*restamped == good);
  ASSERT_TRUE(state.Deserialize(*restamped).ok());
  EXPECT_TRUE(state.Serialize() == good);

  EXPECT_EQ(ReadCheckpointHeader("garbage").status().message(), "not a plan state checkpoint");
  // A format that wrote its schema otherwise is refused by its number, not as corrupt.
  std::string other_format = good.substr(0, header->size - header->schema.size() - 1);
  other_format[8 + std::string_view("certcast-plan-state").size()] = 2;
  other_format += "\xff";
  EXPECT_EQ(ReadCheckpointHeader(other_format).status().message(), "checkpoint format 2, this certcast writes 11");
  EXPECT_FALSE(WithThisBuildsCheckpointHeader(other_format).ok());
}

// The seeds of fuzz/fuzz_plan_checkpoint (fuzz/corpus/fuzz_plan_checkpoint) must be checkpoints
// this build reads, once the target has put this build's schema in their header: seeds of format 4
// were refused at the header while certcast wrote 11, and the fuzzer read nothing of the state
// behind it (issue #12). After a format change, write them again with this build's writer, from the
// repository's root (where ctest runs the tests):
//   CERTCAST_WRITE_FUZZ_SEEDS=1 build/src/plan/plan_state_test --gtest_filter='*FuzzSeeds*'
TEST_F(PlanStateTest, FuzzSeedsAreCheckpointsOfThisFormat) {
  const std::filesystem::path dir = "fuzz/corpus/fuzz_plan_checkpoint";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir << " not found: run from the repository's root";
  if (std::getenv("CERTCAST_WRITE_FUZZ_SEEDS") != nullptr) {
    // Two weeks of a small hosting fleet: renewals, probes and config events, a few KiB.
    const auto days = Fleet(/*seed=*/3, /*lineages=*/3, /*days=*/14);
    auto store = Open("seeds.db");
    for (const auto& day : days) ASSERT_TRUE(store->AppendEvents(day).ok());
    const absl::Time end = absl::FromUnixSeconds(1795824000) + absl::Hours(24 * 14);
    for (bool with_fleet : {false, true}) {
      PlanState state(with_fleet);
      ASSERT_TRUE(state.AdvanceTo(*store, end).ok());
      std::ofstream out(dir / (with_fleet ? "three_lineages_with_fleet.bin" : "three_lineages_views.bin"),
                        std::ios::binary | std::ios::trunc);
      out << state.Serialize();
      ASSERT_TRUE(out.good());
    }
  }
  int seeds = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto current = WithThisBuildsCheckpointHeader(bytes);
    ASSERT_TRUE(current.ok()) << entry.path() << ": " << current.status();
    PlanState state(/*with_fleet=*/false);
    const Status read = state.Deserialize(*current);
    EXPECT_TRUE(read.ok()) << entry.path() << " is no checkpoint this build reads (" << read.message()
                           << "): write the seeds again, see this test's comment";
    ++seeds;
  }
  EXPECT_EQ(seeds, 2);
}

// What a server receives: telemetry timed before its last plan (a probe runs, then is posted)
// but newer than every event that plan folded. Not late: the next plan folds only it, from the
// daemon's state and from the stored checkpoint alike, into the state a fold of every stored
// event gives. An event older than the newest folded one still is late, and so is a plan at or
// before it: both rebuild, and say why.
TEST_F(PlanStateTest, TelemetryTimedBeforeThePlanButAfterEveryFoldedEventIsNotLate) {
  const absl::Time start = absl::FromUnixSeconds(1795824000);
  const auto days = Fleet(/*seed=*/7, /*lineages=*/40, /*days=*/6);
  ASSERT_EQ(days.size(), 6u);
  const absl::Time plan_at = start + absl::Hours(24 * 5 + 12);
  const absl::Time posted_after = start + absl::Hours(24 * 5 + 6);  // probes timed from here on
  std::vector<Event> before, posted;
  std::optional<Event> held;  // one of day 4's events, delivered late
  for (size_t d = 0; d < 6; ++d) {
    for (const Event& e : days[d]) {
      if (e.ts >= plan_at) continue;
      if (d == 4 && !held) held = e;
      else (e.ts < posted_after ? before : posted).push_back(e);
    }
  }
  ASSERT_TRUE(held.has_value());
  ASSERT_GT(posted.size(), 10u);
  auto store = Open("server.db"), scratch = Open("scratch.db");
  for (Store* s : {store.get(), scratch.get()}) ASSERT_TRUE(s->AppendEvents(before).ok());
  PlanState daemon(/*with_fleet=*/false);
  auto first = RunPlan(*store, nullptr, plan_at, RunPlanOptions{}, daemon);
  ASSERT_TRUE(first.ok());
  ASSERT_LT(daemon.newest_folded(), posted_after);

  for (Store* s : {store.get(), scratch.get()}) ASSERT_TRUE(s->AppendEvents(posted).ok());
  const absl::Time next = plan_at + absl::Minutes(1);
  auto restored = RunPlan(*store, nullptr, next, RunPlanOptions{});  // a new process: the checkpoint
  AdvanceStats stats;
  ASSERT_TRUE(daemon.AdvanceTo(*store, next, &stats).ok());
  ASSERT_TRUE(restored.ok());
  EXPECT_TRUE(restored->advance.restored) << restored->advance.rebuilt_because;
  EXPECT_EQ(restored->advance.rebuilt_because, "");
  EXPECT_EQ(restored->advance.events_folded, static_cast<int64_t>(posted.size()));
  EXPECT_EQ(stats.rebuilt_because, "");
  EXPECT_EQ(stats.events_folded, static_cast<int64_t>(posted.size()));
  PlanState fresh(/*with_fleet=*/false);
  ASSERT_TRUE(fresh.AdvanceTo(*scratch, next).ok());
  EXPECT_TRUE(daemon.Serialize() == fresh.Serialize());

  // Older than the newest folded event: it goes between folded events, so everything is refolded.
  const absl::Time folded_up_to = daemon.newest_folded();
  for (Store* s : {store.get(), scratch.get()}) ASSERT_TRUE(s->AppendEvents(std::vector<Event>{*held}).ok());
  const absl::Time later = next + absl::Minutes(1);
  ASSERT_TRUE(daemon.AdvanceTo(*store, later, &stats).ok());
  EXPECT_EQ(stats.rebuilt_because, StrCat("an event at ", FormatRfc3339(held->ts),
                                          " arrived after the state had folded events up to ",
                                          FormatRfc3339(folded_up_to)));
  PlanState fresh_later(/*with_fleet=*/false);
  ASSERT_TRUE(fresh_later.AdvanceTo(*scratch, later).ok());
  EXPECT_TRUE(daemon.Serialize() == fresh_later.Serialize());

  // A plan at the newest folded event's time would have to leave that event out: rebuilt.
  const absl::Time newest = daemon.newest_folded();
  ASSERT_TRUE(daemon.AdvanceTo(*store, newest, &stats).ok());
  EXPECT_EQ(stats.rebuilt_because, StrCat("plan at ", FormatRfc3339(newest),
                                          " is not after the state's newest event at ", FormatRfc3339(newest)));
  PlanState fresh_back(/*with_fleet=*/false);
  ASSERT_TRUE(fresh_back.AdvanceTo(*scratch, newest).ok());
  EXPECT_TRUE(daemon.Serialize() == fresh_back.Serialize());
  EXPECT_LT(daemon.newest_folded(), newest);
}

}  // namespace
}  // namespace certcast::plan
