// The daemon's cycle end to end on a temporary store: collectors (one failing), plan, a fake
// certbot, result events, audit records, and the audit chain detecting a tampered row.
#include "act/daemon.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <future>
#include <thread>
#include <sys/stat.h>

#include "core/strings.h"
#include "core/time.h"
#include "nlohmann/json.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plan/planner.h"
#include "store/audit_verify.h"
#include "sqlite3.h"
#include "store/store.h"

namespace certcast::act {
namespace {

using ::testing::HasSubstr;

class DaemonTest : public ::testing::Test {
 protected:
  DaemonTest() {
    char pattern[] = "/tmp/certcast-daemon-XXXXXX";
    dir_ = ::mkdtemp(pattern);
  }
  ~DaemonTest() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text, bool executable = false) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    if (executable) std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    return path;
  }

  std::string dir_;
};

TEST_F(DaemonTest, ACycleSurvivesAFailingCollectorRenewsAndAuditsWhatItDid) {
  // A lineage whose certificate expires in two days: the safety net renews and alerts.
  const std::string events = Write("events.jsonl",
      R"({"ts":"2026-09-01T00:00:00Z","type":"config","cert":"shop","host":"web1","names":["shop.example.com"],"client":"certbot","client_version":"4.1.0","ca":"https://acme.example/dir","challenge":"http-01","ari":false})"
      "\n"
      R"({"ts":"2026-09-01T00:00:00Z","type":"issued","cert":"shop","serial":"0a","not_before":"2026-09-01T00:00:00Z","not_after":"2026-11-30T00:00:00Z","ca":"https://acme.example/dir"})"
      "\n"
      "this line is not an event\n");
  const std::string certbot = Write("certbot", "#!/bin/sh\nprintf '%s ' \"$@\" >> " + dir_ + "/certbot.argv\nexit 0\n", true);
  const std::string page = Write("page", "#!/bin/sh\ncat >> " + dir_ + "/alerts\n", true);
  DaemonConfig config;
  config.db = dir_ + "/fleet.db";
  config.lock_dir = dir_ + "/locks";
  config.client.path = certbot;
  config.alert.command = {page};
  config.collectors = {CollectorSettings{"broken", {"false"}, absl::Hours(1), absl::Seconds(5)},
                       CollectorSettings{"file", {"cat", events}, absl::Hours(1), absl::Seconds(5)}};
  auto store = Store::Open(config.db);
  ASSERT_TRUE(store.ok()) << store.status();
  FakeClock clock(*ParseRfc3339("2026-11-28T00:00:00Z"));
  std::ostringstream log;
  Daemon daemon(config, **store, nullptr, clock, log, [](absl::Duration) {});
  auto cycle = daemon.RunCycle();
  ASSERT_TRUE(cycle.ok()) << cycle.status();
  EXPECT_EQ(cycle->collectors_run, 2);
  EXPECT_EQ(cycle->collectors_failed, 1);
  EXPECT_EQ(cycle->events_stored, 2);
  EXPECT_EQ(cycle->events_rejected, 1);
  EXPECT_EQ(cycle->actions_planned, 2);
  EXPECT_EQ(cycle->actions_succeeded, 2);
  EXPECT_THAT(log.str(), HasSubstr(R"("msg":"collector failed","collector":"broken")"));

  std::ifstream argv_file(dir_ + "/certbot.argv");
  std::string argv((std::istreambuf_iterator<char>(argv_file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(argv, "renew --cert-name shop --non-interactive --force-renewal ");
  std::ifstream alerts_file(dir_ + "/alerts");
  std::string alerts((std::istreambuf_iterator<char>(alerts_file)), std::istreambuf_iterator<char>());
  // The daemon hands the executor the policy's reason code and the lineage's host and names.
  EXPECT_THAT(alerts, HasSubstr(R"({"cert":"shop","code":"ExpiryImminent","host":"web1","names":["shop.example.com"],"reason":"ExpiryImminent)"));

  // The executor's result came back as an event.
  EventFilter renewals;
  renewals.type = EventType::kRenewal;
  auto stored = (*store)->LoadEvents(renewals);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ(stored->at(0).As<RenewalEvent>()->trigger, "forced");

  // Decisions, the plan summary and the actions are audited, and the chain verifies.
  std::vector<std::string> kinds;
  ASSERT_TRUE((*store)->ScanAudit([&](const AuditRecord& r) {
    kinds.push_back(r.kind);
    return OkStatus();
  }).ok());
  EXPECT_THAT(kinds, ::testing::ElementsAre("decision", "decision", "plan", "action", "action"));
  auto verified = VerifyAudit(**store);
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->problem;
  EXPECT_EQ(verified->records, 5);

  // A second cycle an hour later repeats nothing (memory in the store) and skips the collectors.
  clock.Advance(absl::Minutes(30));
  auto again = daemon.RunCycle();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->collectors_run, 0);
  EXPECT_EQ(again->actions_planned, 0);
  store->reset();

  // Editing a stored record is detected.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(config.db.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE audit SET record = replace(record, 'ExpiryImminent', 'Nothing') WHERE seq = (SELECT MIN(seq) FROM audit)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto reopened = Store::Open(config.db);
  ASSERT_TRUE(reopened.ok());
  auto tampered = VerifyAudit(**reopened);
  ASSERT_TRUE(tampered.ok());
  EXPECT_FALSE(tampered->ok);
  EXPECT_THAT(tampered->problem, HasSubstr("was modified"));
}

// A daemon killed between planning an alert (memory says "alerted") and sending it: the next
// start finds the decision without an action in the audit log and sends it, once.
TEST_F(DaemonTest, AnAlertDecidedButNeverSentIsSentAtTheNextStart) {
  const std::string page = Write("page", "#!/bin/sh\ncat >> " + dir_ + "/alerts\n", true);
  DaemonConfig config;
  config.db = dir_ + "/fleet.db";
  config.lock_dir = dir_ + "/locks";
  config.alert.command = {page};
  auto store = Store::Open(config.db);
  ASSERT_TRUE(store.ok()) << store.status();
  FakeClock clock(*ParseRfc3339("2026-11-28T00:00:00Z"));
  auto decide = [&](const std::string& cert, const std::string& code) {
    return (*store)->AppendAudit(clock.Now(), "decision",
        R"({"cert":")" + cert + R"(","action":"alert","reason_code":")" + code +
        R"(","reason":")" + code + R"(: cause named here","risk":0.7})");
  };
  // Sent before the crash: decision then action. Lost: a decision without an action. Old: lost
  // too, but beyond the lookback.
  ASSERT_TRUE(decide("old", "RenewalFailing").ok());
  clock.Advance(absl::Hours(30));
  ASSERT_TRUE(decide("sent", "PredictedFailure").ok());
  ASSERT_TRUE((*store)->AppendAudit(clock.Now(), "action",
      R"({"cert":"sent","action":"alert","reason_code":"PredictedFailure","outcome":"success"})").ok());
  ASSERT_TRUE(decide("lost", "ClientNotRenewing").ok());
  std::ostringstream log;
  Daemon daemon(config, **store, nullptr, clock, log, [](absl::Duration) {});
  EXPECT_EQ(daemon.ResendUnsentAlerts(absl::Hours(24)), 1);
  std::ifstream alerts_file(dir_ + "/alerts");
  std::string alerts((std::istreambuf_iterator<char>(alerts_file)), std::istreambuf_iterator<char>());
  EXPECT_THAT(alerts, HasSubstr(R"("cert":"lost")"));
  EXPECT_THAT(alerts, HasSubstr(R"("code":"ClientNotRenewing","reason":"ClientNotRenewing: cause named here")"));
  EXPECT_THAT(alerts, ::testing::Not(HasSubstr(R"("cert":"sent")")));
  EXPECT_THAT(alerts, ::testing::Not(HasSubstr(R"("cert":"old")")));
  // Recorded as an action, so a second start sends nothing.
  EXPECT_EQ(daemon.ResendUnsentAlerts(absl::Hours(24)), 0);
}

class DaemonCases : public DaemonTest {
 protected:
  // A config with a "file" collector of ShopEvents, a certbot that appends its first argument
  // to DIR/order ("client") and a page command that appends "alert" there.
  DaemonConfig Config(const std::string& certbot_body = "exit 0", const std::string& page_body = "exit 0") {
    const std::string events = Write("events.jsonl",
        R"({"ts":"2026-09-01T00:00:00Z","type":"config","cert":"shop","host":"web1","names":["shop.example.com"],"client":"certbot","client_version":"4.1.0","ca":"https://acme.example/dir","challenge":"http-01","ari":false})"
        "\n"
        R"({"ts":"2026-09-01T00:00:00Z","type":"issued","cert":"shop","serial":"0a","not_before":"2026-09-01T00:00:00Z","not_after":"2026-11-30T00:00:00Z","ca":"https://acme.example/dir"})"
        "\n");
    DaemonConfig config;
    config.db = dir_ + "/fleet.db";
    config.client.path = Write("certbot", "#!/bin/sh\necho client >> " + dir_ + "/order\n" + certbot_body + "\n", true);
    config.alert.command = {Write("page", "#!/bin/sh\ncat >> " + dir_ + "/alerts\necho alert >> " + dir_ + "/order\n" + page_body + "\n", true)};
    config.collectors = {CollectorSettings{"file", {"cat", events}, absl::Hours(1), absl::Seconds(5)}};
    return config;
  }
  std::string Read(const std::string& name) {
    std::ifstream in(dir_ + "/" + name);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  void Sql(const std::string& db_path, const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }
  std::vector<std::string> Outcomes(Store& store) {
    std::vector<std::string> out;
    EXPECT_TRUE(store.ScanAudit([&](const AuditRecord& r) {
      if (r.kind == "action") {
        const auto j = nlohmann::json::parse(r.record_json);
        out.push_back(StrCat(j.value("cert", ""), " ", j.value("action", ""), " ", j.value("outcome", "")));
      }
      return OkStatus();
    }).ok());
    return out;
  }
};

// The server's own actions name it (SetActor): every action record has "by", decisions and
// plan summaries do not; `certcast run` (no actor) writes no "by" at all.
TEST_F(DaemonCases, ActionRecordsNameTheActorOnlyWhenOneIsSet) {
  for (const std::string actor : {"certcast serve on web9", ""}) {
    SCOPED_TRACE(actor.empty() ? "no actor" : actor);
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    DaemonConfig config = Config();
    auto store = Store::Open(config.db);
    ASSERT_TRUE(store.ok()) << store.status();
    FakeClock clock(*ParseRfc3339("2026-11-28T00:00:00Z"));
    std::ostringstream log;
    Daemon daemon(config, **store, nullptr, clock, log, [](absl::Duration) {});
    if (!actor.empty()) daemon.SetActor(actor);
    auto cycle = daemon.RunCycle();
    ASSERT_TRUE(cycle.ok()) << cycle.status();
    ASSERT_EQ(cycle->actions_succeeded, 2);  // the safety net's renewal and its alert
    int actions = 0;
    ASSERT_TRUE((*store)->ScanAudit([&](const AuditRecord& r) {
      const auto j = nlohmann::json::parse(r.record_json);
      if (r.kind == "action") {
        ++actions;
        EXPECT_EQ(j.value("by", "<none>"), actor.empty() ? "<none>" : actor) << r.record_json;
      } else {
        EXPECT_FALSE(j.contains("by")) << r.kind << ": " << r.record_json;
      }
      return OkStatus();
    }).ok());
    EXPECT_EQ(actions, 2);
    auto verified = VerifyAudit(**store);
    ASSERT_TRUE(verified.ok());
    EXPECT_TRUE(verified->ok) << verified->problem;
  }
}

// Issue #12, finding 5: the audit append failing (disk full) must not leave memory saying the
// actions were planned: the next cycle proposes them again.
TEST_F(DaemonCases, AFailedAuditAppendLosesNoAction) {
  DaemonConfig config = Config();
  auto store = Store::Open(config.db);
  ASSERT_TRUE(store.ok()) << store.status();
  Sql(config.db, "CREATE TRIGGER audit_full BEFORE INSERT ON audit BEGIN "
                 "SELECT RAISE(ABORT, 'database or disk is full (injected)'); END");
  FakeClock clock(*ParseRfc3339("2026-11-28T00:00:00Z"));
  std::ostringstream log;
  Daemon daemon(config, **store, nullptr, clock, log, [](absl::Duration) {});
  auto failed = daemon.RunCycle();
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.status().message(), HasSubstr("audit append"));
  EXPECT_THAT(failed.status().message(), HasSubstr("database or disk is full (injected)"));
  EXPECT_EQ(Read("order"), "");  // nothing ran on a plan that was not recorded
  auto memory = (*store)->GetState(plan::kMemoryStateKey);
  ASSERT_TRUE(memory.ok());
  EXPECT_FALSE(memory->has_value());  // rolled back with the audit records

  Sql(config.db, "DROP TRIGGER audit_full");
  clock.Advance(absl::Minutes(5));
  auto retried = daemon.RunCycle();
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->actions_planned, 2);
  EXPECT_EQ(retried->actions_succeeded, 2);
  EXPECT_EQ(Read("order"), "alert\nclient\n");
  EXPECT_THAT(Outcomes(**store), ::testing::ElementsAre("shop alert success", "shop renew success"));
}

// Issue #12, finding 6: records deleted from the end (or all of them) break verification, as
// a record deleted from the middle always did.
TEST_F(DaemonCases, DeletingAuditRecordsIsDetectedWhereverTheyWere) {
  struct Case {
    std::string name;
    std::string sql;     // run on a store of 5 records
    bool delete_head;    // remove the head file too
    std::string problem;
  };
  const std::vector<Case> cases = {
      {"intact", "", false, ""},
      {"last row", "DELETE FROM audit WHERE seq = 5", false,
       "the chain head names record 5 but the store ends at 4: records were deleted from the end"},
      {"last two rows", "DELETE FROM audit WHERE seq >= 4", false,
       "the chain head names record 5 but the store ends at 3: records were deleted from the end"},
      {"all rows", "DELETE FROM audit", false,
       "the store has no audit records but the chain head names record 5: every record was deleted"},
      {"middle row", "DELETE FROM audit WHERE seq = 3", false, "record 4 follows 2: a record is missing"},
      {"last row and the head file", "DELETE FROM audit WHERE seq = 5", true,
       "no audit chain head file beside the store (deleted, or the store predates it): records "
       "missing from the end cannot be ruled out"},
  };
  for (const Case& c : cases) {
    const std::string db = StrCat(dir_, "/", c.name.size(), c.name.substr(0, 3), ".db");
    {
      auto store = Store::Open(db);
      ASSERT_TRUE(store.ok()) << store.status();
      for (int i = 1; i <= 5; ++i) {
        ASSERT_TRUE((*store)->AppendAudit(absl::FromUnixSeconds(1800000000 + i), "action",
                                          StrCat(R"({"n":)", i, "}")).ok());
      }
    }
    struct stat st = {};
    ASSERT_EQ(::stat(AuditHeadPath(db).c_str(), &st), 0) << c.name;
    EXPECT_EQ(st.st_mode & 07777, 0600u) << c.name;
    if (!c.sql.empty()) Sql(db, c.sql);
    if (c.delete_head) std::filesystem::remove(AuditHeadPath(db));
    auto store = Store::Open(db);
    ASSERT_TRUE(store.ok()) << store.status();
    auto v = VerifyAudit(**store);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->ok, c.problem.empty()) << c.name;
    EXPECT_EQ(v->problem, c.problem) << c.name;
    if (c.problem.empty()) EXPECT_EQ(v->head_seq, 5) << c.name;
  }
}

// A head file that is not one is an error naming it, not "intact".
TEST_F(DaemonCases, AGarbledChainHeadIsAnError) {
  const std::string db = dir_ + "/fleet.db";
  auto store = Store::Open(db);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->AppendAudit(absl::FromUnixSeconds(1800000000), "action", "{}").ok());
  for (const std::string& text : std::vector<std::string>{
           "", "certcast-audit-head 1 x y\n", "certcast-audit-head 1 5 abc\n",
           "certcast-audit-head 1 0 " + std::string(64, 'a') + "\n"}) {
    std::ofstream(AuditHeadPath(db), std::ios::trunc) << text;
    auto v = VerifyAudit(**store);
    ASSERT_FALSE(v.ok()) << text;
    EXPECT_EQ(v.status().code(), StatusCode::kDataLoss) << text;
    EXPECT_THAT(v.status().message(), HasSubstr(AuditHeadPath(db) + ": not an audit chain head")) << text;
  }
}

// Issue #12, finding 7: the wall clock stepped back a month during a cycle (here: during the
// alert's retry wait) must not make the daemon wait interval + a month.
TEST_F(DaemonCases, AWallClockSteppedBackDuringACycleDoesNotStretchTheWait) {
  DaemonConfig config = Config("exit 0", "exit 1");  // the page fails once: a 10 s retry wait
  config.interval = absl::Hours(1);
  auto store = Store::Open(config.db);
  ASSERT_TRUE(store.ok());
  FakeClock clock(*ParseRfc3339("2026-11-28T00:00:00Z"));
  std::ostringstream log;
  Daemon* running = nullptr;
  Daemon daemon(config, **store, nullptr, clock, log, [&](absl::Duration d) {
    clock.StepWall(-absl::Hours(24 * 30));  // NTP steps the clock back a month
    clock.Advance(d);
  });
  running = &daemon;
  std::vector<absl::Duration> waits;
  ASSERT_TRUE(daemon.Run([&](absl::Duration d) {
    waits.push_back(d);
    running->Stop();
  }).ok());
  EXPECT_THAT(waits, ::testing::ElementsAre(absl::Hours(1) - absl::Seconds(10)));
  EXPECT_EQ(Read("order"), "alert\nalert\nclient\n");
}

// Issue #12, finding 10: alerts go before a client hung on its CA, and renewal-track actions past
// the cycle's budget are deferred to the next cycle, not dropped.
TEST_F(DaemonCases, AHungClientNeitherDelaysAlertsNorHoldsTheFleetPastTheBudget) {
  // Two lineages expiring in two days, in real time (the budget is wall time).
  const absl::Time now = absl::Now();
  std::string events;
  for (const std::string cert : {"a", "b"}) {
    events += StrCat(R"({"ts":")", FormatRfc3339(now - absl::Hours(24 * 80)), R"(","type":"config","cert":")", cert,
                     R"(","host":"web1","names":[")", cert, R"(.example.com"],"client":"certbot","client_version":"4.1.0","ca":"https://acme.example/dir","challenge":"http-01","ari":false})", "\n",
                     R"({"ts":")", FormatRfc3339(now - absl::Hours(24 * 80)), R"(","type":"issued","cert":")", cert,
                     R"(","serial":"0)", cert, R"(","not_before":")", FormatRfc3339(now - absl::Hours(24 * 88)),
                     R"(","not_after":")", FormatRfc3339(now + absl::Hours(48)), R"(","ca":"https://acme.example/dir"})", "\n");
  }
  DaemonConfig config = Config("sleep 2");  // the CA hangs each renewal for 2 s
  config.collectors = {CollectorSettings{"file", {"cat", Write("fleet.jsonl", events)}, absl::Hours(1), absl::Seconds(5)}};
  config.action_budget = absl::Seconds(1);
  auto store = Store::Open(config.db);
  ASSERT_TRUE(store.ok());
  std::ostringstream log;
  Daemon daemon(config, **store, nullptr, SystemClock::Get(), log, [](absl::Duration) {});
  auto cycle = daemon.RunCycle();
  ASSERT_TRUE(cycle.ok()) << cycle.status();
  EXPECT_EQ(cycle->actions_planned, 4);
  EXPECT_EQ(cycle->actions_succeeded, 3);
  EXPECT_EQ(cycle->actions_deferred, 1);
  EXPECT_EQ(Read("order"), "alert\nalert\nclient\n");
  EXPECT_THAT(log.str(), HasSubstr(R"("msg":"action deferred to the next cycle","cert":"b","action":"renew","budget":"1s")"));
  EXPECT_THAT(Outcomes(**store), ::testing::ElementsAre("a alert success", "b alert success",
                                                        "a renew success", "b renew deferred"));
  // The next cycle starts with what was deferred.
  auto next = daemon.RunCycle();
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->actions_deferred, 0);
  EXPECT_EQ(next->actions_succeeded, 1);
  EXPECT_EQ(Read("order"), "alert\nalert\nclient\nclient\n");
  EXPECT_EQ(Outcomes(**store).back(), "b renew success");
}

// Issue #12, finding 10: a stop request ends a retry wait at once (it used to sleep it out).
TEST_F(DaemonCases, StopEndsARetryWaitAtOnce) {
  DaemonConfig config = Config("exit 0", "exit 1");  // the page fails: a 10 s retry wait follows
  auto store = Store::Open(config.db);
  ASSERT_TRUE(store.ok());
  std::ostringstream log;
  FakeClock clock(*ParseRfc3339("2026-11-28T00:00:00Z"));
  Daemon daemon(config, **store, nullptr, clock, log);  // real, interruptible waits
  auto run = std::async(std::launch::async, [&] { return daemon.Run(); });
  for (int i = 0; i < 200 && Read("order").empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(Read("order"), "alert\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // inside the 10 s wait
  daemon.Stop();
  // Generous against a loaded machine, and well under the 10 s wait it used to sleep out.
  ASSERT_EQ(run.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_TRUE(run.get().ok());
  EXPECT_EQ(Read("order"), "alert\n");  // no retry after the stop, and no renewal started
}

}  // namespace
}  // namespace certcast::act
