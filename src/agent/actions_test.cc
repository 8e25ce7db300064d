// The act step (actions.h): an action runs once and is reported; leased again it is reported,
// not run; an intent without an outcome (the agent died) is reconciled from the certificate on
// disk, never re-run; this host's allow-lists win over the server's action; the journal's and the
// lease answer's bad inputs are refused with the field named. The server side is the real one in
// tests/integration/agent_actions_test.sh; here a function answers as it would.
#include "agent/actions.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "act/agent_action.h"
#include "core/strings.h"
#include "core/time.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace certcast::agent {
namespace {

using Json = nlohmann::json;
const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

ConfigEvent Lineage(const std::string& cert = "shop") {
  ConfigEvent c;
  c.cert = cert;
  c.host = "web1";
  c.names = {"shop.example.com"};
  c.client = Client::kCertbot;
  c.ca = "https://acme-v02.api.letsencrypt.org/directory";
  return c;
}

std::string Parameters(const PlannedAction& action) {
  return act::AgentActionParametersToJson(
      {.action = action, .reason_code = "ExpiryImminent", .lineage = Lineage(action.cert), .decided = kT0});
}

PlannedAction Renew(const std::string& cert = "shop") {
  PlannedAction a;
  a.cert = cert;
  a.kind = ActionKind::kRenew;
  a.reason = "expires soon";
  return a;
}

// The lease route's answer with one action.
std::string LeaseAnswerJson(int64_t id, const std::string& lease, const std::string& parameters) {
  return StrCat(R"({"host":"web1","actions":[{"id":)", id, R"(,"lease":{"id":")", lease,
                R"(","holder":"web1-agent"},"parameters":)", parameters, "}]}");
}

class ActionRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           StrCat("certcast-agent-actions-", ::getpid(), "-",
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "state");
    // A client that counts its runs (one line per run in `runs`).
    client_ = (dir_ / "certbot").string();
    std::ofstream(client_) << "#!/bin/sh\necho run >> '" << (dir_ / "runs").string() << "'\nexit 0\n";
    std::filesystem::permissions(client_, std::filesystem::perms::owner_all);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<ActionRunner> Runner(std::optional<absl::Time> certificate_written = std::nullopt) {
    ActionRunnerOptions o;
    o.state_dir = (dir_ / "state").string();
    o.config.client.kind = "certbot";
    o.config.client.path = client_;
    o.config.client.timeout = absl::Seconds(10);
    o.certificate_time = [certificate_written](const ConfigEvent&, const act::ClientSettings&) {
      return certificate_written;
    };
    o.sleep = [](absl::Duration) {};
    auto runner = ActionRunner::Create(std::move(o), clock_, log_);
    EXPECT_TRUE(runner.ok()) << runner.status();
    return std::move(*runner);
  }

  int Runs() {
    std::ifstream in(dir_ / "runs");
    int n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  }

  // The server, as a function: answers leases with `lease_answer` (then none), records reports.
  PostJson Server() {
    return [this](const std::string& path, const std::string& json) -> StatusOr<ActionServerAnswer> {
      requests_.push_back(path + " " + json);
      if (path == "/v1/agent/actions/lease") {
        if (lease_status_ != 200) return ActionServerAnswer{lease_status_, R"({"error":{}})"};
        std::string answer = leases_.empty() ? R"({"host":"web1","actions":[]})" : leases_.front();
        if (!leases_.empty()) leases_.erase(leases_.begin());
        return ActionServerAnswer{200, answer};
      }
      if (report_status_ == 0) return UnavailableError("connection refused");
      return ActionServerAnswer{report_status_, "{}"};
    };
  }
  EmitEvents Emit() {
    return [this](std::span<const Event> events) {
      emitted_.insert(emitted_.end(), events.begin(), events.end());
      return OkStatus();
    };
  }
  std::vector<std::string> Reports() {
    std::vector<std::string> out;
    for (const std::string& r : requests_) {
      if (r.find("/outcome ") != std::string::npos) out.push_back(r);
    }
    return out;
  }

  std::filesystem::path dir_;
  std::string client_;
  FakeClock clock_{kT0};
  std::stringstream log_;
  std::vector<std::string> leases_, requests_;
  int lease_status_ = 200, report_status_ = 200;
  std::vector<Event> emitted_;
};

TEST_F(ActionRunnerTest, RunsOnceReportsAndEmitsTheClientsEvents) {
  auto runner = Runner();
  leases_ = {LeaseAnswerJson(7, "7.1", Parameters(Renew()))};
  auto report = runner->RunStep(Server(), Emit());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->ran, 1);
  EXPECT_EQ(report->succeeded, 1);
  EXPECT_EQ(report->reported, 1);
  EXPECT_EQ(Runs(), 1);
  ASSERT_EQ(Reports().size(), 1u);
  const std::string sent = Reports()[0];
  EXPECT_TRUE(sent.starts_with("/v1/agent/actions/7/outcome ")) << sent;
  const Json body = Json::parse(sent.substr(sent.find(' ') + 1));
  EXPECT_EQ(body["lease_id"], "7.1");
  EXPECT_EQ(body["result"], "success");
  // The renewal event of a forced run goes to the outbox, so the forecaster sees it.
  ASSERT_EQ(emitted_.size(), 1u);
  ASSERT_NE(emitted_[0].As<RenewalEvent>(), nullptr);
  EXPECT_EQ(emitted_[0].As<RenewalEvent>()->cert, "shop");
  // The journal is private and says it was reported.
  const auto journal = dir_ / "state" / "actions" / "7.json";
  EXPECT_EQ(std::filesystem::status(journal).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_EQ(std::filesystem::status(dir_ / "state" / "actions").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_all);
  std::ifstream in(journal);
  std::stringstream text;
  text << in.rdbuf();
  auto entry = ParseJournal(text.str(), "7.json");
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_TRUE(entry->reported);
  EXPECT_EQ(entry->result, "success");
}

TEST_F(ActionRunnerTest, LeasedAgainItIsReportedUnderTheNewLeaseNotRunAgain) {
  auto runner = Runner();
  report_status_ = 0;  // the server went away after the lease: the report waits
  leases_ = {LeaseAnswerJson(7, "7.1", Parameters(Renew()))};
  ASSERT_TRUE(runner->RunStep(Server(), Emit()).ok());
  EXPECT_EQ(Runs(), 1);
  report_status_ = 200;
  // The lease ran out meanwhile: the server hands the same action out again.
  leases_ = {LeaseAnswerJson(7, "7.2", Parameters(Renew()))};
  requests_.clear();
  auto report = runner->RunStep(Server(), Emit());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(Runs(), 1);
  EXPECT_EQ(report->already_journaled, 1);
  EXPECT_EQ(report->ran, 0);
  // First the pending report under the old lease, then again under the new one.
  ASSERT_EQ(Reports().size(), 2u);
  EXPECT_NE(Reports()[1].find(R"("lease_id":"7.2")"), std::string::npos) << Reports()[1];
}

TEST_F(ActionRunnerTest, AnInterruptedActionIsReconciledNeverRunAgain) {
  struct Case {
    std::string name;
    std::optional<absl::Time> certificate_written;
    std::string result;
  };
  const std::vector<Case> cases = {
      {"newer certificate", kT0 + absl::Minutes(1), "success"},
      {"older certificate", kT0 - absl::Hours(24), "unknown"},
      {"no certificate", std::nullopt, "unknown"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::filesystem::remove_all(dir_ / "state" / "actions");
    requests_.clear();
    // What a kill -9 between the intent and the outcome leaves behind.
    JournalEntry intent{.id = 9, .lease_id = "9.1", .cert = "shop", .action = "renew",
                        .parameters_json = Parameters(Renew()), .intent_at = kT0, .has_outcome = false,
                        .result = "", .detail = "", .outcome_at = kT0, .reported = false};
    auto runner = Runner(c.certificate_written);
    std::ofstream(dir_ / "state" / "actions" / "9.json") << JournalToJson(intent);
    clock_.Advance(absl::Minutes(5));
    // The server leases it again (the old lease expired): still not run.
    leases_ = {LeaseAnswerJson(9, "9.2", Parameters(Renew()))};
    auto report = runner->RunStep(Server(), Emit());
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->reconciled, 1);
    EXPECT_EQ(report->ran, 0);
    EXPECT_EQ(Runs(), 0);
    ASSERT_FALSE(Reports().empty());
    const std::string first = Reports()[0];
    const Json body = Json::parse(first.substr(first.find(' ') + 1));
    EXPECT_EQ(body["lease_id"], "9.1");
    EXPECT_EQ(body["result"], c.result);
  }
}

TEST_F(ActionRunnerTest, ThisHostsAllowListsWinOverTheServer) {
  auto runner = Runner();
  PlannedAction switch_ca = Renew();
  switch_ca.ca = "https://evil.example/dir";
  leases_ = {LeaseAnswerJson(3, "3.1", Parameters(switch_ca))};
  auto report = runner->RunStep(Server(), Emit());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->refused, 1);
  EXPECT_EQ(Runs(), 0);
  ASSERT_EQ(Reports().size(), 1u);
  EXPECT_NE(Reports()[0].find(R"("result":"refused")"), std::string::npos) << Reports()[0];
  EXPECT_NE(Reports()[0].find("evil.example"), std::string::npos) << Reports()[0];
}

TEST_F(ActionRunnerTest, AnUnreadableActionIsRefusedNotRun) {
  auto runner = Runner();
  leases_ = {LeaseAnswerJson(4, "4.1", R"({"action":{"cert":"shop","action":"format-disk"}})")};
  auto report = runner->RunStep(Server(), Emit());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->refused, 1);
  EXPECT_EQ(Runs(), 0);
  ASSERT_EQ(Reports().size(), 1u);
  EXPECT_NE(Reports()[0].find("this agent cannot read the action"), std::string::npos) << Reports()[0];
}

TEST_F(ActionRunnerTest, ARevokedTokenStopsTheStepAndARefusedReportIsNotRetried) {
  auto runner = Runner();
  lease_status_ = 401;
  auto refused = runner->RunStep(Server(), Emit());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(), "the server refused this agent's token (HTTP 401) leasing actions");
  lease_status_ = 200;
  report_status_ = 409;  // e.g. the action was leased again under another lease
  leases_ = {LeaseAnswerJson(5, "5.1", Parameters(Renew()))};
  auto report = runner->RunStep(Server(), Emit());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->report_refused, 1);
  requests_.clear();
  ASSERT_TRUE(runner->RunStep(Server(), Emit()).ok());
  EXPECT_TRUE(Reports().empty());  // not sent again
  EXPECT_EQ(Runs(), 1);
}

TEST(JournalTest, RoundTripsAndRefusesBadInput) {
  JournalEntry e{.id = 12, .lease_id = "12.3", .cert = "shop", .action = "renew", .parameters_json = "{}",
                 .intent_at = kT0, .has_outcome = true, .result = "failure", .detail = "exit 1",
                 .outcome_at = kT0 + absl::Seconds(3), .reported = false};
  auto back = ParseJournal(JournalToJson(e), "12.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(JournalToJson(*back), JournalToJson(e));
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"[]", "f: not a JSON object"},
      {R"({"id":0})", "f: id: expected a positive integer"},
      {R"({"id":1,"lease_id":"1.1","cert":"c","action":"renew","parameters":"{}","intent_at":"yesterday"})",
       "f: intent_at: "},
      {R"({"id":1,"lease_id":"1.1","cert":"c","action":"renew","parameters":"{}","intent_at":"2026-01-01T00:00:00Z","reported":false})",
       "f: outcome: missing (null or an object)"},
      {R"({"id":1,"lease_id":"1.1","cert":"c","action":"renew","parameters":"{}","intent_at":"2026-01-01T00:00:00Z","outcome":null,"reported":true})",
       "f: reported: true without an outcome"},
  };
  for (const auto& [text, want] : bad) {
    auto parsed = ParseJournal(text, "f");
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_TRUE(parsed.status().message().starts_with(want)) << parsed.status().message();
  }
}

TEST(LeaseAnswerTest, ReadsActionsAndSetsAsideUnreadableOnes) {
  const std::string good = LeaseAnswerJson(7, "7.1", Parameters(Renew()));
  auto answer = ParseLeaseAnswer(good);
  ASSERT_TRUE(answer.ok()) << answer.status();
  ASSERT_EQ(answer->actions.size(), 1u);
  EXPECT_EQ(answer->actions[0].parameters.action, Renew());
  EXPECT_EQ(answer->actions[0].parameters.lineage, Lineage());
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"nope", "lease answer: not a JSON object"},
      {R"({"actions":{}})", "lease answer: actions: expected a list"},
      {R"({"actions":[1]})", "lease answer: actions[0]: not an object"},
      {R"({"actions":[{"id":"7"}]})", "lease answer: actions[0]: id: expected a positive integer"},
      {R"({"actions":[{"id":7,"lease":{}}]})", "lease answer: actions[0]: lease.id: expected a string"},
  };
  for (const auto& [text, want] : bad) {
    auto parsed = ParseLeaseAnswer(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().message(), want);
  }
  // Parameters for another lineage than the action's: set aside with the reason.
  std::string other = act::AgentActionParametersToJson(
      {.action = Renew("shop"), .reason_code = "", .lineage = Lineage("blog"), .decided = kT0});
  auto mixed = ParseLeaseAnswer(LeaseAnswerJson(8, "8.1", other));
  ASSERT_TRUE(mixed.ok());
  ASSERT_EQ(mixed->unreadable.size(), 1u);
  EXPECT_EQ(mixed->unreadable[0].second, "lineage: cert \"blog\" is not the action's \"shop\"");
}

}  // namespace
}  // namespace certcast::agent
