// The action queue's contract (store.h, ActionState): queueing with a plan, leases and their
// expiry, idempotent and stale reports, approval, cancellation, expiry, and the audit record of
// every change. Every TEST_P runs on SQLite and on PostgreSQL (store_test_backends.h).
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <thread>
#include <tuple>

#include "core/strings.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "store/action_queue_moves.h"
#include "store/store.h"
#include "store/store_test_backends.h"

namespace certcast {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

using store_test::Backend;
using store_test::BackendName;

class ActionQueueTest : public store_test::BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto store = Store::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void TearDown() override {
    store_.reset();
    BackendTest::TearDown();
  }

  // Queues one action with its decision, as a plan does; returns its id.
  int64_t Queue(const std::string& host, const std::string& cert, const std::string& kind,
                absl::Time at, absl::Duration valid = absl::Hours(6), bool needs_approval = false) {
    StoreCommit commit;
    commit.audit.push_back({at, "decision", StrCat(R"({"cert":")", cert, R"(","action":")", kind, R"("})")});
    commit.actions.push_back({.host = host, .cert = cert, .kind = kind,
                              .parameters_json = R"({"action":{}})", .needs_approval = needs_approval,
                              .expires = at + valid, .decision_audit_index = 0});
    auto records = store_->Commit(commit);
    EXPECT_TRUE(records.ok()) << records.status();
    ActionFilter queued;
    queued.host = host;
    queued.state = ActionState::kQueued;
    auto open = store_->ListActions(queued);
    EXPECT_TRUE(open.ok());
    return open->empty() ? 0 : open->back().id;
  }

  // The audit records after `after` as "kind by" strings.
  std::vector<std::string> AuditKinds(int64_t after = 0) {
    std::vector<std::string> kinds;
    EXPECT_TRUE(store_->ScanAuditAfter(after, [&](const AuditRecord& r) {
      const auto j = nlohmann::json::parse(r.record_json);
      kinds.push_back(StrCat(r.kind, j.contains("by") ? StrCat(" ", j["by"].get<std::string>()) : ""));
      return OkStatus();
    }).ok());
    return kinds;
  }

  std::unique_ptr<Store> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, ActionQueueTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres), BackendName);

TEST_P(ActionQueueTest, QueuedWithItsDecisionAndAudited) {
  const int64_t id = Queue("web1", "shop", "renew", kT0);
  ASSERT_GT(id, 0);
  auto action = store_->GetAction(id);
  ASSERT_TRUE(action.ok() && action->has_value());
  EXPECT_EQ((*action)->state, ActionState::kQueued);
  EXPECT_EQ((*action)->decision_seq, 1);  // the decision record of the same commit
  EXPECT_EQ((*action)->created, kT0);
  EXPECT_EQ((*action)->attempts, 0);
  EXPECT_EQ(AuditKinds(), (std::vector<std::string>{"decision", "action_queued planner"}));
  // The chain head file covers the queue's records too (SQLite; PostgreSQL keeps none).
  auto head = store_->ReadAuditHead();
  ASSERT_TRUE(head.ok());
  if (Pg()) {
    EXPECT_FALSE(head->has_value());
  } else {
    ASSERT_TRUE(head->has_value());
    EXPECT_EQ((*head)->seq, 2);
  }
}

TEST_P(ActionQueueTest, ACommitNamingNoDecisionStoresNothing) {
  StoreCommit commit;
  commit.audit.push_back({kT0, "decision", "{}"});
  commit.actions.push_back({.host = "web1", .cert = "shop", .kind = "renew", .parameters_json = "{}",
                            .expires = kT0 + absl::Hours(1), .decision_audit_index = 3});
  auto records = store_->Commit(commit);
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(records.status().message(),
            "queued action for shop: decision_audit_index 3 names no audit record of this commit");
  EXPECT_TRUE(AuditKinds().empty());  // the decision was rolled back with it
  EXPECT_TRUE(store_->ListActions({})->empty());
}

TEST_P(ActionQueueTest, LeaseHandsOutOnlyTheHostsActionsOnce) {
  const int64_t a = Queue("web1", "shop", "renew", kT0);
  const int64_t b = Queue("web2", "blog", "renew", kT0);
  auto leased = store_->LeaseActions("web1", 10, absl::Minutes(5), {"agent-web1", kT0 + absl::Seconds(1)});
  ASSERT_TRUE(leased.ok()) << leased.status();
  ASSERT_EQ(leased->size(), 1u);
  EXPECT_EQ((*leased)[0].id, a);
  EXPECT_EQ((*leased)[0].lease_id, StrCat(a, ".1"));
  EXPECT_EQ((*leased)[0].lease_holder, "agent-web1");
  EXPECT_EQ((*leased)[0].lease_expires, kT0 + absl::Seconds(1) + absl::Minutes(5));
  // While the lease runs, nobody gets it again.
  auto again = store_->LeaseActions("web1", 10, absl::Minutes(5), {"agent-web1", kT0 + absl::Minutes(1)});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  EXPECT_EQ((*store_->GetAction(b))->state, ActionState::kQueued);
}

TEST_P(ActionQueueTest, MaxBoundsOneLease) {
  for (const char* cert : {"a", "b", "c"}) Queue("web1", cert, "renew", kT0);
  auto leased = store_->LeaseActions("web1", 2, absl::Minutes(5), {"agent", kT0});
  ASSERT_TRUE(leased.ok());
  ASSERT_EQ(leased->size(), 2u);
  EXPECT_EQ((*leased)[0].cert, "a");  // oldest first
  EXPECT_EQ((*leased)[1].cert, "b");
}

TEST_P(ActionQueueTest, AnExpiredLeaseIsLeasedAgainAndTheOldLeaseIsStale) {
  const int64_t id = Queue("web1", "shop", "renew", kT0);
  ASSERT_EQ(store_->LeaseActions("web1", 10, absl::Minutes(5), {"agent", kT0})->size(), 1u);
  auto second = store_->LeaseActions("web1", 10, absl::Minutes(5), {"agent", kT0 + absl::Minutes(6)});
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].attempts, 2);
  EXPECT_EQ((*second)[0].lease_id, StrCat(id, ".2"));
  const ActionOutcome done{.success = true, .outcome_json = R"({"result":"success"})"};
  auto stale = store_->ReportActionOutcome(id, "web1", StrCat(id, ".1"), done, {"agent", kT0 + absl::Minutes(7)});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(stale.status().message(),
            StrCat("stale lease: action ", id, " is leased under lease ", id, ".2; the report names lease \"",
                   id, ".1\" (lease the action again)"));
  auto fresh = store_->ReportActionOutcome(id, "web1", StrCat(id, ".2"), done, {"agent", kT0 + absl::Minutes(7)});
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_FALSE(fresh->repeated);
  EXPECT_EQ(fresh->action.state, ActionState::kDone);
}

TEST_P(ActionQueueTest, TheSameReportTwiceIsOneOutcome) {
  const int64_t id = Queue("web1", "shop", "renew", kT0);
  ASSERT_EQ(store_->LeaseActions("web1", 10, absl::Minutes(5), {"agent", kT0})->size(), 1u);
  const int64_t before = static_cast<int64_t>(AuditKinds().size());
  const ActionOutcome failed{.success = false, .outcome_json = R"({"result":"failure","detail":"exit 1"})"};
  const std::string lease = StrCat(id, ".1");
  auto first = store_->ReportActionOutcome(id, "web1", lease, failed, {"agent", kT0 + absl::Minutes(1)});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->repeated);
  auto second = store_->ReportActionOutcome(id, "web1", lease, failed, {"agent", kT0 + absl::Minutes(2)});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->repeated);
  EXPECT_EQ(second->action.finished, kT0 + absl::Minutes(1));  // the first report's time stays
  EXPECT_EQ(AuditKinds().size(), static_cast<size_t>(before + 1));  // one outcome record
  EXPECT_EQ(AuditKinds().back(), "action_outcome agent");
  // A different report for the same lease is refused: an outcome is never rewritten.
  const ActionOutcome done{.success = true, .outcome_json = R"({"result":"success"})"};
  auto changed = store_->ReportActionOutcome(id, "web1", lease, done, {"agent", kT0 + absl::Minutes(3)});
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.status().message(),
            StrCat("action ", id, " is failed already (lease ", lease, "); a different report for it is refused"));
  EXPECT_EQ((*store_->GetAction(id))->state, ActionState::kFailed);
}

TEST_P(ActionQueueTest, BadReportsAreRefusedWithWhatIsWrong) {
  const int64_t id = Queue("web1", "shop", "renew", kT0);
  const ActionOutcome done{.success = true, .outcome_json = "{}"};
  struct Case {
    int64_t id;
    std::string host, lease;
    StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {id, "web2", StrCat(id, ".1"), StatusCode::kNotFound,
       StrCat("no action ", id, " for host \"web2\"")},  // another host's action does not exist for it
      {999, "web1", "999.1", StatusCode::kNotFound, "no action 999 for host \"web1\""},
      {id, "web1", StrCat(id, ".1"), StatusCode::kFailedPrecondition,
       StrCat("stale lease: action ", id, " is queued and was never leased; the report names lease \"",
              id, ".1\" (lease the action again)")},
  };
  for (const Case& c : cases) {
    auto r = store_->ReportActionOutcome(c.id, c.host, c.lease, done, {"agent", kT0});
    ASSERT_FALSE(r.ok()) << c.host << " " << c.lease;
    EXPECT_EQ(r.status().code(), c.code);
    EXPECT_EQ(r.status().message(), c.message);
  }
  EXPECT_EQ((*store_->GetAction(id))->state, ActionState::kQueued);
}

TEST_P(ActionQueueTest, ALateReportFromTheLatestLeaseIsTheTruth) {
  const int64_t id = Queue("web1", "shop", "renew", kT0);
  ASSERT_EQ(store_->LeaseActions("web1", 10, absl::Minutes(5), {"agent", kT0})->size(), 1u);
  // The lease expired, but nobody leased again: the holder's report still counts.
  auto r = store_->ReportActionOutcome(id, "web1", StrCat(id, ".1"), {.success = true, .outcome_json = "{}"},
                                       {"agent", kT0 + absl::Hours(1)});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->action.state, ActionState::kDone);
}

TEST_P(ActionQueueTest, DecisionsExpireAndLeasesRunOut) {
  const int64_t stale = Queue("web1", "old", "renew", kT0, absl::Hours(1));
  const int64_t flaky = Queue("web1", "flaky", "renew", kT0, absl::Hours(100));
  // Leased kMaxActionLeases times and never reported: the store gives up on it.
  absl::Time t = kT0 + absl::Hours(2);
  for (int i = 0; i < kMaxActionLeases; ++i) {
    auto leased = store_->LeaseActions("web1", 10, absl::Minutes(5), {"agent", t});
    ASSERT_TRUE(leased.ok());
    ASSERT_EQ(leased->size(), 1u) << i;
    EXPECT_EQ((*leased)[0].id, flaky);
    t += absl::Minutes(10);
  }
  auto none = store_->LeaseActions("web1", 10, absl::Minutes(5), {"agent", t});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto old = *store_->GetAction(stale);
  EXPECT_EQ(old->state, ActionState::kExpired);
  EXPECT_EQ(old->outcome_json, "the decision expired before any agent leased it");
  auto given_up = *store_->GetAction(flaky);
  EXPECT_EQ(given_up->state, ActionState::kFailed);
  EXPECT_EQ(given_up->outcome_json, "leased 3 times, never reported");
}

TEST_P(ActionQueueTest, ANewerDecisionSupersedesTheQueuedOne) {
  const int64_t first = Queue("web1", "shop", "renew", kT0);
  const int64_t reload = Queue("web1", "shop", "reload", kT0);
  const int64_t second = Queue("web1", "shop", "renew", kT0 + absl::Hours(1));
  EXPECT_EQ((*store_->GetAction(first))->state, ActionState::kExpired);
  EXPECT_EQ((*store_->GetAction(reload))->state, ActionState::kQueued);  // another kind stays
  EXPECT_EQ((*store_->GetAction(second))->state, ActionState::kQueued);
  EXPECT_EQ((*store_->GetAction(first))->outcome_json,
            StrCat("superseded by the decision of audit record ", (*store_->GetAction(second))->decision_seq));
}

// A server back from an outage plans before the agent has reported: while the same work is
// leased (its lease long run out), a newer decision queues nothing (the client would run twice);
// another kind queues as usual, and once the leased one is reported the next decision queues.
TEST_P(ActionQueueTest, ANewerDecisionWaitsForTheLeasedOne) {
  const int64_t first = Queue("web1", "shop", "renew", kT0);
  ASSERT_EQ(store_->LeaseActions("web1", 10, absl::Minutes(30), {"web1-agent", kT0})->size(), 1u);
  EXPECT_EQ(Queue("web1", "shop", "renew", kT0 + absl::Hours(21)), 0);  // nothing queued
  auto all = store_->ListActions(ActionFilter{});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*store_->GetAction(first))->state, ActionState::kLeased);
  EXPECT_NE(Queue("web1", "shop", "reload", kT0 + absl::Hours(21)), 0);  // another kind
  EXPECT_NE(Queue("web2", "shop", "renew", kT0 + absl::Hours(21)), 0);   // another host
  auto r = store_->ReportActionOutcome(first, "web1", StrCat(first, ".1"), {.success = true, .outcome_json = "{}"},
                                       {"web1-agent", kT0 + absl::Hours(22)});
  ASSERT_TRUE(r.ok()) << r.status();
  const int64_t again = Queue("web1", "shop", "renew", kT0 + absl::Hours(43));  // reported: queued
  ASSERT_GT(again, first);
  EXPECT_EQ((*store_->GetAction(again))->kind, "renew");
  EXPECT_EQ((*store_->GetAction(again))->state, ActionState::kQueued);
}

TEST_P(ActionQueueTest, ApprovalGatesTheLease) {
  const int64_t id = Queue("web1", "shop", "renew", kT0, absl::Hours(6), /*needs_approval=*/true);
  EXPECT_TRUE(store_->LeaseActions("web1", 10, absl::Minutes(5), {"agent", kT0})->empty());
  auto approved = store_->ApproveAction(id, {"alice", kT0 + absl::Minutes(1)});
  ASSERT_TRUE(approved.ok()) << approved.status();
  EXPECT_FALSE(approved->repeated);
  EXPECT_EQ(approved->action.approved_by, "alice");
  EXPECT_TRUE(store_->ApproveAction(id, {"bob", kT0 + absl::Minutes(2)})->repeated);
  EXPECT_EQ((*store_->GetAction(id))->approved_by, "alice");
  EXPECT_EQ(store_->LeaseActions("web1", 10, absl::Minutes(5), {"agent", kT0 + absl::Minutes(3)})->size(), 1u);
  const std::vector<std::string> kinds = AuditKinds();
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "action_approved alice"), 1);

  const int64_t plain = Queue("web1", "blog", "renew", kT0);
  auto refused = store_->ApproveAction(plain, {"alice", kT0});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(), StrCat("action ", plain, " does not need approval"));
  EXPECT_EQ(store_->ApproveAction(12345, {"alice", kT0}).status().code(), StatusCode::kNotFound);
}

TEST_P(ActionQueueTest, OnlyAQueuedActionIsCancelled) {
  const int64_t queued = Queue("web1", "shop", "renew", kT0);
  const int64_t running = Queue("web1", "blog", "renew", kT0);
  auto cancelled = store_->CancelAction(queued, {"alice", kT0});
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->action.state, ActionState::kCancelled);
  EXPECT_TRUE(store_->CancelAction(queued, {"alice", kT0})->repeated);
  auto leased = store_->LeaseActions("web1", 10, absl::Minutes(5), {"agent-web1", kT0});
  ASSERT_EQ(leased->size(), 1u);  // the cancelled one is not handed out
  EXPECT_EQ((*leased)[0].id, running);
  auto refused = store_->CancelAction(running, {"alice", kT0});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            StrCat("action ", running, " is leased by \"agent-web1\" (lease ", running,
                   ".1) and may be running; it cannot be cancelled"));
  // A report for a cancelled action is refused.
  auto report = store_->ReportActionOutcome(queued, "web1", "", {.success = true, .outcome_json = "{}"},
                                            {"agent-web1", kT0});
  EXPECT_EQ(report.status().code(), StatusCode::kFailedPrecondition);
}

TEST_P(ActionQueueTest, ListFiltersAndPages) {
  for (const char* cert : {"a", "b", "c"}) Queue("web1", cert, "renew", kT0);
  Queue("web2", "d", "renew", kT0);
  auto page = store_->ListActions({.host = "web1", .state = std::nullopt, .after_id = 0, .limit = 2});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  auto rest = store_->ListActions({.host = "web1", .state = std::nullopt, .after_id = page->back().id, .limit = 2});
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].cert, "c");
  ActionFilter done;
  done.state = ActionState::kDone;
  EXPECT_EQ(store_->ListActions(done)->size(), 0u);
  EXPECT_EQ(store_->ListActions({})->size(), 4u);
}

// Two servers leasing one host's actions at the same moment (two agents, or one agent retrying
// against the other server): every action is handed out exactly once, and the audit chain stays
// one chain with one "action_leased" record per action.
TEST_P(ActionQueueTest, TwoStoresLeasingAtOnceHandOutEachActionOnce) {
  constexpr int kActions = 30;
  for (int i = 0; i < kActions; ++i) Queue("web1", StrCat("cert", i), "renew", kT0);
  auto other = Store::Open(path_);
  ASSERT_TRUE(other.ok()) << other.status();
  std::vector<int64_t> got[2];
  Status failed[2];
  auto lease_all = [&](Store* store, int who) {
    for (int empty = 0; empty < 3;) {
      auto leased = store->LeaseActions("web1", 2, absl::Hours(1), {StrCat("agent", who), kT0});
      if (!leased.ok()) {
        if (leased.status().code() == StatusCode::kUnavailable) continue;  // busy: try again
        failed[who] = leased.status();
        return;
      }
      if (leased->empty()) ++empty;
      for (const QueuedAction& a : *leased) got[who].push_back(a.id);
    }
  };
  std::thread first(lease_all, store_.get(), 0);
  std::thread second(lease_all, other->get(), 1);
  first.join();
  second.join();
  ASSERT_TRUE(failed[0].ok()) << failed[0];
  ASSERT_TRUE(failed[1].ok()) << failed[1];
  std::vector<int64_t> all = got[0];
  all.insert(all.end(), got[1].begin(), got[1].end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kActions));
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "an action leased twice";
  const std::vector<std::string> kinds = AuditKinds();
  EXPECT_EQ(std::count_if(kinds.begin(), kinds.end(),
                          [](const std::string& k) { return k.starts_with("action_leased"); }),
            kActions);
  EXPECT_EQ(store_test::ExpectOneChain(*store_), static_cast<int64_t>(kinds.size()));
}

// FOR UPDATE SKIP LOCKED: an action whose row another transaction holds (a report on another
// server, say) is passed over without waiting; the host's other actions are leased at once.
TEST_P(ActionQueueTest, PostgresLeaseSkipsAnActionAnotherServerHoldsWithoutWaiting) {
  if (!Pg()) GTEST_SKIP() << "PostgreSQL's row locks";
  const int64_t held = Queue("web1", "shop", "renew", kT0);
  const int64_t free = Queue("web1", "blog", "renew", kT0);
  PGconn* other = PQconnectdb(path_.c_str());
  ASSERT_EQ(PQstatus(other), CONNECTION_OK) << PQerrorMessage(other);
  PQclear(PQexec(other, "BEGIN"));
  PGresult* lock = PQexec(other, StrCat("SELECT id FROM action_queue WHERE id = ", held, " FOR UPDATE").c_str());
  ASSERT_EQ(PQresultStatus(lock), PGRES_TUPLES_OK);
  PQclear(lock);
  // Were the lease to wait for the row, it would wait until this connection commits: it runs
  // in a thread, and the row is released after 10 s at most so that a failure does not hang.
  std::atomic<bool> done = false;
  StatusOr<std::vector<QueuedAction>> leased = std::vector<QueuedAction>{};
  std::thread lease([&] {
    leased = store_->LeaseActions("web1", 10, absl::Minutes(5), {"agent", kT0});
    done = true;
  });
  for (int i = 0; i < 1000 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const bool waited = !done;
  PQclear(PQexec(other, "COMMIT"));
  PQfinish(other);
  lease.join();
  EXPECT_FALSE(waited) << "the lease waited for the locked row";
  ASSERT_TRUE(leased.ok()) << leased.status();
  ASSERT_EQ(leased->size(), 1u);
  EXPECT_EQ((*leased)[0].id, free);
  auto later = store_->LeaseActions("web1", 10, absl::Minutes(5), {"agent", kT0 + absl::Seconds(1)});
  ASSERT_TRUE(later.ok()) << later.status();
  ASSERT_EQ(later->size(), 1u);
  EXPECT_EQ((*later)[0].id, held);  // released, it is the next lease's
}

TEST(ActionStateTest, NamesRoundTrip) {
  for (ActionState s : {ActionState::kQueued, ActionState::kLeased, ActionState::kDone,
                        ActionState::kFailed, ActionState::kCancelled, ActionState::kExpired}) {
    EXPECT_EQ(ActionStateFromString(ToString(s)), s);
  }
  EXPECT_EQ(ActionStateFromString("running"), std::nullopt);
}

}  // namespace
// `certcast migrate` copies finished actions with every field: ImportFinishedActions keeps ids
// when asked (and a later queued action takes a new id past them), refuses an action not
// finished and an id already stored, storing nothing of the batch either way.
TEST_P(ActionQueueTest, FinishedActionsAreImportedAsTheyAreAndNothingElse) {
  const auto finished = [](int64_t id, ActionState state) {
    QueuedAction a;
    a.id = id;
    a.host = StrCat("web", id);
    a.cert = "shop";
    a.kind = "renew";
    a.parameters_json = R"({"action":{}})";
    a.decision_seq = 40 + id;
    a.needs_approval = id % 2 == 0;
    a.approved_by = a.needs_approval ? "alice" : "";
    a.state = state;
    a.created = kT0;
    a.expires = kT0 + absl::Hours(6);
    if (state != ActionState::kCancelled) {
      a.lease_holder = StrCat("agent-web", id);
      a.lease_id = StrCat(id, ".2");
      a.lease_expires = kT0 + absl::Minutes(20);
      a.attempts = 2;
    }
    a.outcome_json = state == ActionState::kDone ? R"({"ok":true})" : "why it ended";
    a.finished = kT0 + absl::Minutes(10);
    return a;
  };
  const std::vector<QueuedAction> history = {
      finished(7, ActionState::kDone), finished(8, ActionState::kFailed),
      finished(9, ActionState::kCancelled), finished(12, ActionState::kExpired)};
  ASSERT_TRUE(action_queue::ImportFinishedActions(*store_, history, /*keep_ids=*/true).ok());
  for (const QueuedAction& want : history) {
    auto got = store_->GetAction(want.id);
    ASSERT_TRUE(got.ok() && got->has_value()) << want.id;
    const QueuedAction& a = **got;
    EXPECT_EQ(std::tie(a.host, a.cert, a.kind, a.parameters_json, a.decision_seq, a.needs_approval,
                       a.approved_by, a.state, a.created, a.expires, a.lease_holder, a.lease_id,
                       a.lease_expires, a.attempts, a.outcome_json, a.finished),
              std::tie(want.host, want.cert, want.kind, want.parameters_json, want.decision_seq,
                       want.needs_approval, want.approved_by, want.state, want.created,
                       want.expires, want.lease_holder, want.lease_id, want.lease_expires,
                       want.attempts, want.outcome_json, want.finished))
        << want.id;
  }
  EXPECT_TRUE(AuditKinds().empty());  // their history is the audit log's, copied apart
  EXPECT_GT(Queue("web1", "shop", "renew", kT0), 12);

  struct Refused {
    std::string name;
    std::vector<QueuedAction> batch;
    bool keep_ids;
    StatusCode code;
    std::string message;
  };
  const std::vector<Refused> refused = {
      {"queued", {finished(20, ActionState::kDone), finished(21, ActionState::kQueued)}, false,
       StatusCode::kInvalidArgument, "action 21 is queued, not finished"},
      {"leased", {finished(22, ActionState::kLeased)}, true, StatusCode::kInvalidArgument,
       "action 22 is leased, not finished"},
      {"id taken", {finished(30, ActionState::kDone), finished(8, ActionState::kDone)}, true,
       StatusCode::kAlreadyExists, "action 8 exists already"},
  };
  for (const Refused& r : refused) {
    SCOPED_TRACE(r.name);
    const int64_t before = store_->ListActions({.limit = 1000})->size();
    Status s = action_queue::ImportFinishedActions(*store_, r.batch, r.keep_ids);
    EXPECT_EQ(s.code(), r.code) << s;
    EXPECT_NE(s.message().find(r.message), std::string::npos) << s;
    EXPECT_EQ(static_cast<int64_t>(store_->ListActions({.limit = 1000})->size()), before);
  }
  // Without keep_ids the same history is stored again under new ids.
  ASSERT_TRUE(action_queue::ImportFinishedActions(*store_, history, /*keep_ids=*/false).ok());
  auto all = store_->ListActions({.limit = 1000});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 9u);
  EXPECT_EQ(std::count_if(all->begin(), all->end(),
                          [](const QueuedAction& a) { return a.state == ActionState::kDone; }),
            2);
}

}  // namespace certcast
