// PlanFleet with forecasts scored without reasons: the reasons are asked for only where a decision
// proposes something, and the plan, held proposals and memory are those of a fully explained run.
#include "plan/planner.h"

#include <algorithm>
#include <string>
#include <vector>

#include "core/event_json.h"
#include "core/strings.h"
#include "core/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/lineage_view.h"

namespace certcast::policy {
namespace {

using plan::DecisionAuditJson;
using plan::MemoryFromJson;
using plan::MemoryToJson;

absl::Time T(const char* text) { return *ParseRfc3339(text); }

// A certbot lineage on web1 whose 90-day certificate was issued at `issued` (certbot renews at
// 2/3 of the lifetime).
std::vector<std::string> Lineage(const std::string& cert, const char* issued, const char* expires) {
  return {StrCat(R"({"ts":"2026-09-01T00:00:00Z","type":"config","cert":")", cert,
                 R"(","host":"web1","names":[")", cert,
                 R"(.example.com"],"client":"certbot","client_version":"4.1.0","ca":"https://acme.example/dir","challenge":"http-01","ari":false})"),
          StrCat(R"({"ts":")", issued, R"(","type":"issued","cert":")", cert, R"(","serial":"s-)", cert,
                 R"(","not_before":")", issued, R"(","not_after":")", expires,
                 R"(","ca":"https://acme.example/dir"})")};
}

std::vector<LineageView> Views(const std::vector<std::vector<std::string>>& lineages, absl::Time now) {
  std::vector<Event> events;
  for (const auto& lines : lineages) {
    for (const std::string& line : lines) {
      auto e = ParseEventLine(line);
      EXPECT_TRUE(e.ok()) << e.status() << " in " << line;
      if (e.ok()) events.push_back(*e);
    }
  }
  return policy::ViewsOfEvents(std::move(events), now);
}

ForecastView Explained(double risk, const std::string& why) {
  ForecastView f;
  f.risk = risk;
  f.reasons = {why, "the next renewal attempt is in 3 days"};
  f.top_features = {{"http01_fail_days_4", 1.25}, {"days_to_next_attempt", 0.5}};
  return f;
}

// What plan prints and audits, what it holds back and what it remembers.
std::vector<std::string> Printed(const PlanResult& r, const FleetMemory& memory, absl::Time now) {
  std::vector<std::string> lines;
  for (const PlannedItem& item : r.items) {
    lines.push_back(ActionToJson(item.action));
    lines.push_back(DecisionAuditJson(item, now, "model"));
  }
  for (const HeldItem& h : r.held) {
    lines.push_back(StrCat("held ", h.cert, " ", h.held.why, " ", h.held.proposal.message));
  }
  lines.push_back(MemoryToJson(memory));
  return lines;
}

TEST(PlanFleetExplainTest, AsksReasonsOnlyOfProposingLineagesAndPlansAsWithAllReasons) {
  const absl::Time now = T("2026-10-28T00:00:00Z");
  const std::vector<LineageView> views = Views(
      {Lineage("early", "2026-09-01T00:00:00Z", "2026-11-30T00:00:00Z"),    // due 10-31: renewed early
       Lineage("quiet", "2026-10-20T00:00:00Z", "2027-01-18T00:00:00Z"),    // nothing to do
       Lineage("expiring", "2026-08-01T00:00:00Z", "2026-10-30T00:00:00Z")},  // safety net, no forecast
      now);
  ASSERT_EQ(views.size(), 3u);
  ForecastMap explained;
  explained["early"] = Explained(0.9, "port 80 timed out from outside on 3 of the last 4 days");
  explained["quiet"] = Explained(0.1, "nothing much");
  ForecastMap bare = explained;
  for (auto& [cert, f] : bare) {
    f.reasons.clear();
    f.top_features.clear();
  }
  const PolicyConfig config;

  FleetMemory want_memory;
  const PlanResult want = PlanFleet(views, explained, want_memory, config, now);
  FleetMemory got_memory;
  std::vector<std::string> asked;
  const PlanResult got = PlanFleet(views, bare, got_memory, config, now,
                                   [&](const std::vector<std::string>& certs, ForecastMap& forecasts) {
                                     for (const std::string& cert : certs) {
                                       asked.push_back(cert);
                                       forecasts.at(cert) = explained.at(cert);
                                     }
                                   });

  EXPECT_THAT(asked, ::testing::ElementsAre("early"));
  EXPECT_EQ(Printed(got, got_memory, now), Printed(want, want_memory, now));
  // The plan does use the reasons: the early renewal's message and its audit record carry them.
  const auto early = std::find_if(got.items.begin(), got.items.end(),
                                  [](const PlannedItem& i) { return i.action.cert == "early"; });
  ASSERT_NE(early, got.items.end());
  EXPECT_EQ(early->reason, kReasonForecastEarlyRenewal);
  EXPECT_THAT(early->action.reason,
              ::testing::HasSubstr("(port 80 timed out from outside on 3 of the last 4 days)"));
  EXPECT_THAT(DecisionAuditJson(*early, now, "model"),
              ::testing::HasSubstr(R"("top_features":[{"feature":"http01_fail_days_4","contribution":1.25})"));
  EXPECT_TRUE(std::any_of(got.items.begin(), got.items.end(),
                          [](const PlannedItem& i) { return i.action.cert == "expiring"; }));
}

TEST(PlanFleetExplainTest, NoProposalAsksNoReasonsAndFailedReasonsOnlyShortenMessages) {
  const absl::Time now = T("2026-10-28T00:00:00Z");
  const std::vector<LineageView> views =
      Views({Lineage("early", "2026-09-01T00:00:00Z", "2026-11-30T00:00:00Z")}, now);
  const PolicyConfig config;
  int calls = 0;
  auto fails = [&](const std::vector<std::string>&, ForecastMap&) { ++calls; };  // fills nothing

  ForecastMap calm;
  calm["early"].risk = 0.1;
  FleetMemory memory;
  EXPECT_TRUE(PlanFleet(views, calm, memory, config, now, fails).items.empty());
  EXPECT_EQ(calls, 0);

  ForecastMap risky;
  risky["early"].risk = 0.9;
  const PlanResult r = PlanFleet(views, risky, memory, config, now, fails);
  EXPECT_EQ(calls, 1);
  ASSERT_FALSE(r.items.empty());
  EXPECT_EQ(r.items[0].reason, kReasonForecastEarlyRenewal);
  EXPECT_THAT(r.items[0].action.reason,
              ::testing::StartsWith("ForecastEarlyRenewal: forecast risk 90% of a failure; the client's"));
}

// The memory document: every field of LineageMemory's one list (policy.h) round-trips, and a
// bad value is refused naming the lineage and field.
TEST(MemoryJsonTest, RoundTripsEveryField) {
  FleetMemory memory;
  LineageMemory& m = memory["shop"];
  m.last_renew_at = T("2026-11-01T00:00:00Z");
  m.last_renew_serial = "0a";
  m.renewals_for_serial = 2;
  m.last_dry_run_at = T("2026-11-02T00:00:00Z");
  m.last_reload_at = T("2026-11-03T00:00:00Z");
  m.last_reload_serial = "0b";
  m.switched_challenge = Challenge::kDns01;
  m.switched_ca = "https://other.example/dir";
  m.switched_at = T("2026-11-01T00:00:00Z");
  m.alerted = {{"episode:x", T("2026-11-04T00:00:00Z")}};
  memory[""];  // an entry with nothing remembered round-trips too
  auto back = MemoryFromJson(MemoryToJson(memory));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->at("shop"), memory.at("shop"));
  EXPECT_EQ(back->at(""), LineageMemory{});
}

TEST(MemoryJsonTest, RefusesMalformedDocuments) {
  EXPECT_EQ(MemoryFromJson("{").status(), DataLossError("policy memory: invalid JSON"));
  EXPECT_EQ(MemoryFromJson(R"({"version":7})").status(),
            DataLossError("policy memory: unknown version"));
  EXPECT_EQ(MemoryFromJson(R"({"version":1,"lineages":{"a":{"last_renew_at":"x"}}})").status().code(),
            StatusCode::kDataLoss);
  // Numbers of the wrong kind or range were converted with static_cast (undefined for 1e300 read
  // as int64); nesting was unbounded. Each is refused, naming the lineage and field.
  const std::string deep = std::string(40, '[') + std::string(40, ']');
  const std::pair<std::string, std::string> cases[] = {
      {R"({"version":1,"lineages":{"a":{"last_renew_at":1e300}}})",
       "policy memory: lineage \"a\": last_renew_at is not an integer"},
      {R"({"version":1,"lineages":{"a":{"renewals_for_serial":-1}}})",
       "policy memory: lineage \"a\": renewals_for_serial is -1, outside [0, 2147483647]"},
      {R"({"version":1,"lineages":{"a":{"renewals_for_serial":4294967297}}})",
       "policy memory: lineage \"a\": renewals_for_serial is 4294967297, outside [0, 2147483647]"},
      {R"({"version":1,"lineages":{"a":{"alerted":[["k",18446744073709551615]]}}})",
       "policy memory: lineage \"a\": alerted time is 18446744073709551615, outside [-9223372036854775808, 9223372036854775807]"},
      {R"({"version":1.0})", "policy memory: unknown version"},
      {R"({"version":1,"x":)" + deep + "}", "policy memory: invalid JSON"},
  };
  for (const auto& [json, error] : cases) EXPECT_EQ(MemoryFromJson(json).status(), DataLossError(error)) << json;
}

}  // namespace
}  // namespace certcast::policy
