// The daemon's cycle end to end on a temporary store: collectors (one failing), plan, a fake
// certbot, result events, audit records, and the audit chain detecting a tampered row.
#include "act/daemon.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/planner.h"
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
  auto store = Store::OpenSqlite(config.db);
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
  auto verified = policy::VerifyAudit(**store);
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
  auto reopened = Store::OpenSqlite(config.db);
  ASSERT_TRUE(reopened.ok());
  auto tampered = policy::VerifyAudit(**reopened);
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
  auto store = Store::OpenSqlite(config.db);
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

}  // namespace
}  // namespace certcast::act
