// FleetService on a real SQLite store: the first plan publishes a snapshot and records its
// decisions (no actions without `act`), an ingest is reflected after the debounce through a
// preview that records nothing, a dry plan records nothing, and readers always see a whole
// snapshot while refreshes run.
#include "api/fleet_service.h"

#include <filesystem>
#include <sstream>
#include <thread>

#include "core/event_json.h"
#include "core/strings.h"
#include "core/time.h"
#include "gtest/gtest.h"
#include "store/store.h"

namespace certcast::api {
namespace {

std::vector<Event> Lineage(const std::string& cert, absl::Time issued, absl::Duration lifetime) {
  std::vector<Event> events;
  for (const std::string& line : std::vector<std::string>{
           StrCat(R"({"ts":")", FormatRfc3339(issued - absl::Hours(1)),
                  R"(","type":"config","cert":")", cert, R"(","host":"web1","names":[")", cert,
                  R"(.example.com"],"client":"certbot","client_version":"4.1.0","ca":"https://acme.example/dir","challenge":"http-01","ari":false})"),
           StrCat(R"({"ts":")", FormatRfc3339(issued), R"(","type":"issued","cert":")", cert,
                  R"(","serial":"s1","not_before":")", FormatRfc3339(issued), R"(","not_after":")",
                  FormatRfc3339(issued + lifetime), R"(","ca":"https://acme.example/dir"})")}) {
    auto e = ParseEventLine(line);
    EXPECT_TRUE(e.ok()) << e.status();
    if (e.ok()) events.push_back(*e);
  }
  return events;
}

int64_t AuditRecords(Store& store, const std::string& kind) {
  int64_t n = 0;
  EXPECT_TRUE(store.ScanAudit([&](const AuditRecord& r) {
                     n += r.kind == kind;
                     return OkStatus();
                   }).ok());
  return n;
}

class FleetServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           StrCat("fleet_service_test_", ::getpid(), "_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    db_ = (dir_ / "fleet.db").string();
    store_ = *Store::Open(db_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string db_;
  std::unique_ptr<Store> store_;
};

TEST_F(FleetServiceTest, PlansRecordsAndRefreshesAfterIngest) {
  const absl::Time now = absl::Now();
  // "soon" expires in 2 days and was never renewed: the safety net plans a renewal.
  ASSERT_TRUE(store_->AppendEvents(Lineage("soon", now - absl::Hours(24 * 88), absl::Hours(24 * 90))).ok());
  ASSERT_TRUE(store_->AppendEvents(Lineage("fresh", now - absl::Hours(24), absl::Hours(24 * 90))).ok());
  FleetServiceOptions options;
  options.db = db_;
  options.ingest_debounce = absl::Milliseconds(50);
  ServerMetrics metrics;
  std::ostringstream log;
  auto service = FleetService::Create(options, SystemClock::Get(), metrics, log);
  ASSERT_TRUE(service.ok()) << service.status();
  EXPECT_EQ((*service)->snapshot(), nullptr);
  ASSERT_TRUE((*service)->Start().ok()) << log.str();

  auto first = (*service)->snapshot();
  ASSERT_NE(first, nullptr);
  ASSERT_EQ(first->lineages.size(), 2u);
  EXPECT_FALSE(first->has_model);
  const LineageEntry* soon = first->Find("soon");
  ASSERT_NE(soon, nullptr);
  EXPECT_FALSE(soon->risk.has_value());
  ASSERT_TRUE(soon->action.has_value()) << soon->reason;
  EXPECT_EQ(soon->action_reason_code, "ExpiryImminent");
  // The cycle recorded its decisions (renew, and alert a person); acting is off, so nothing was
  // carried out.
  EXPECT_EQ(AuditRecords(*store_, "decision"), 2);
  EXPECT_EQ(AuditRecords(*store_, "action"), 0);
  EXPECT_EQ(metrics.plans_succeeded.value(), 1);
  auto audit = (*service)->RecentAudit("soon");
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[0].kind, "decision");
  EXPECT_NE(audit[0].record_json.find(R"("action":"renew")"), std::string::npos) << audit[0].record_json;
  EXPECT_NE(audit[1].record_json.find(R"("action":"alert")"), std::string::npos) << audit[1].record_json;
  EXPECT_TRUE((*service)->RecentAudit("fresh").empty());

  // A dry plan starts from the stored memory (the renewal and alert are already planned, so it
  // repeats neither) and records nothing.
  auto dry = (*service)->DryPlan(absl::Now());
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_EQ(dry->result.lineages, 2);
  EXPECT_TRUE(dry->result.items.empty()) << ActionToJson(dry->result.items[0].action);
  EXPECT_EQ(AuditRecords(*store_, "decision"), 2);
  EXPECT_EQ(AuditRecords(*store_, "plan"), 1);

  // New events: the view shows them after the debounce, from a preview that records nothing.
  ASSERT_TRUE(store_->AppendEvents(Lineage("added", now - absl::Hours(2), absl::Hours(24 * 90))).ok());
  (*service)->NotifyIngest();
  std::shared_ptr<const FleetSnapshot> later;
  for (int i = 0; i < 200; ++i) {
    later = (*service)->snapshot();
    if (later->Find("added") != nullptr) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_NE(later->Find("added"), nullptr) << log.str();
  EXPECT_EQ(later->lineages.size(), 3u);
  EXPECT_EQ(first->lineages.size(), 2u);  // a snapshot already handed out never changes
  EXPECT_EQ(AuditRecords(*store_, "plan"), 1);
  (*service)->Stop();
}

TEST_F(FleetServiceTest, RefusesAMissingStoreAndABadModelFile) {
  FleetServiceOptions options;
  options.db = (dir_ / "absent.db").string();
  ServerMetrics metrics;
  std::ostringstream log;
  auto missing = FleetService::Create(options, SystemClock::Get(), metrics, log);
  EXPECT_FALSE(missing.ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "absent.db"));

  options.db = db_;
  options.model_file = (dir_ / "no.model").string();
  auto bad = FleetService::Create(options, SystemClock::Get(), metrics, log);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(bad.status().message().rfind(StrCat("--model ", options.model_file, ": "), 0), 0u)
      << bad.status().message();
}

}  // namespace
}  // namespace certcast::api
