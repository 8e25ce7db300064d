// The one fleet fold's rules (fleet_facts.h), seen by both of its consumers: the facts the policy
// projects into lineage views and the forecaster's lineage state, which used to disagree.
#include "features/fleet_facts.h"

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "core/event_json.h"
#include "core/time.h"
#include "features/accumulators.h"
#include "features/fleet_state.h"
#include "features/lineage_state.h"
#include "features/window.h"
#include "gtest/gtest.h"

namespace certcast {
namespace {

absl::Time T(const char* text) { return *ParseRfc3339(text); }

const char* kConfig =
    R"({"ts":"2026-09-01T00:00:00Z","type":"config","cert":"shop","host":"web1","names":["shop.example.com"],"client":"certbot","ca":"https://acme.example/dir","challenge":"http-01","ari":false})";
std::string Issued(const char* ts, const char* serial, const char* not_before, const char* not_after) {
  return std::string(R"({"ts":")") + ts + R"(","type":"issued","cert":"shop","serial":")" + serial +
         R"(","not_before":")" + not_before + R"(","not_after":")" + not_after +
         R"(","ca":"https://acme.example/dir"})";
}
std::string Failure(const char* ts) {
  return std::string(R"({"ts":")") + ts +
         R"(","type":"renewal","cert":"shop","outcome":"failure","error":"urn:ietf:params:acme:error:connection"})";
}

struct CurrentCase {
  std::string name;
  std::vector<std::string> events;  // in ts order
  std::string current;              // the current serial, for both consumers
  size_t previous;                  // certificates it replaced (both)
  int64_t issued_count;             // issuances the features counted
  bool in_episode;                  // the failure episode still open (both)
  std::vector<std::string> serials;  // serials the facts know as the lineage's
};

class CurrentCertificateTest : public ::testing::TestWithParam<CurrentCase> {};

TEST_P(CurrentCertificateTest, FactsAndFeaturesAgree) {
  const CurrentCase& c = GetParam();
  FleetState fleet;
  for (const std::string& line : c.events) {
    auto e = ParseEventLine(line);
    ASSERT_TRUE(e.ok()) << e.status() << " in " << line;
    ASSERT_TRUE(fleet.Apply(*e).ok()) << line;
  }
  const LineageFacts& facts = fleet.facts().certs.at("shop");
  const LineageState& state = *fleet.Find("shop");
  ASSERT_TRUE(facts.current.has_value());
  ASSERT_TRUE(state.issued.has_value());
  EXPECT_EQ(facts.current->serial, c.current);
  EXPECT_EQ(state.issued->serial, c.current);
  EXPECT_EQ(facts.previous.size(), c.previous);
  EXPECT_EQ(state.previous_certificates.size(), c.previous);
  EXPECT_EQ(state.issued_count, c.issued_count);
  EXPECT_EQ(facts.episode_onset.has_value(), c.in_episode);
  EXPECT_EQ(state.episode_onset.has_value(), c.in_episode);
  EXPECT_EQ(facts.serials.size(), c.serials.size());
  for (const std::string& s : c.serials) EXPECT_TRUE(facts.serials.contains(s)) << s;
}

INSTANTIATE_TEST_SUITE_P(
    OneRule, CurrentCertificateTest,
    ::testing::Values(
        CurrentCase{"renewal_replaces_and_ends_the_episode",
                    {kConfig, Issued("2026-09-01T00:00:00Z", "0a", "2026-09-01T00:00:00Z", "2026-11-30T00:00:00Z"),
                     Failure("2026-10-31T00:00:00Z"),
                     Issued("2026-11-01T00:00:00Z", "0b", "2026-11-01T00:00:00Z", "2027-01-30T00:00:00Z")},
                    "0b", 1, 2, false, {"0a", "0b"}},
        // A second collector (or a re-read log) reports the current certificate again during an
        // episode: not a renewal. The features used to count it and end the episode.
        CurrentCase{"re_reported_serial_changes_nothing",
                    {kConfig, Issued("2026-09-01T00:00:00Z", "0a", "2026-09-01T00:00:00Z", "2026-11-30T00:00:00Z"),
                     Failure("2026-10-31T00:00:00Z"),
                     Issued("2026-10-31T06:00:00Z", "0a", "2026-09-01T00:00:00Z", "2026-11-30T00:00:00Z")},
                    "0a", 0, 1, true, {"0a"}},
        // A replaced certificate re-reported after its successor: still the successor.
        CurrentCase{"re_reported_earlier_serial_changes_nothing",
                    {kConfig, Issued("2026-09-01T00:00:00Z", "0a", "2026-09-01T00:00:00Z", "2026-11-30T00:00:00Z"),
                     Issued("2026-11-01T00:00:00Z", "0b", "2026-11-01T00:00:00Z", "2027-01-30T00:00:00Z"),
                     Failure("2026-11-02T00:00:00Z"),
                     Issued("2026-11-03T00:00:00Z", "0a", "2026-09-01T00:00:00Z", "2026-11-30T00:00:00Z")},
                    "0b", 1, 2, true, {"0a", "0b"}},
        // A certificate issued before the current one, reported for the first time after it (an
        // agent installed later finds an old file): history, not the current one. The features
        // used to make it current.
        CurrentCase{"earlier_certificate_reported_late_is_history",
                    {kConfig, Issued("2026-11-01T00:00:00Z", "0b", "2026-11-01T00:00:00Z", "2027-01-30T00:00:00Z"),
                     Issued("2026-11-02T00:00:00Z", "0a", "2026-09-01T00:00:00Z", "2026-11-30T00:00:00Z")},
                    "0b", 0, 1, false, {"0a", "0b"}},
        // A newer certificate with a shorter lifetime (a six-day profile): the newest issued is
        // current even though it expires first. The policy used to keep the one expiring last.
        CurrentCase{"newer_shorter_certificate_is_current",
                    {kConfig, Issued("2026-09-01T00:00:00Z", "0a", "2026-09-01T00:00:00Z", "2026-11-30T00:00:00Z"),
                     Issued("2026-11-01T00:00:00Z", "0b", "2026-11-01T00:00:00Z", "2026-11-07T00:00:00Z")},
                    "0b", 1, 2, false, {"0a", "0b"}}),
    [](const ::testing::TestParamInfo<CurrentCase>& info) { return info.param.name; });

// Out of order: the whole fold refuses an event older than one it applied, and folds none of it.
TEST(OutOfOrderTest, RefusedForTheWholeFold) {
  for (bool with_features : {true, false}) {
    FleetState fleet(with_features);
    ASSERT_TRUE(fleet.Apply(*ParseEventLine(kConfig)).ok());
    ASSERT_TRUE(fleet.Apply(*ParseEventLine(Issued("2026-09-02T00:00:00Z", "0a", "2026-09-02T00:00:00Z", "2026-12-01T00:00:00Z"))).ok());
    const Status late = fleet.Apply(*ParseEventLine(Failure("2026-09-01T12:00:00Z")));
    EXPECT_EQ(late, InvalidArgumentError("event at 2026-09-01T12:00:00Z is older than 2026-09-02T00:00:00Z: "
                                         "feed events in ts order"));
    EXPECT_FALSE(fleet.facts().certs.at("shop").last_failure.has_value());
    EXPECT_EQ(fleet.watermark(), T("2026-09-02T00:00:00Z"));
    if (with_features) EXPECT_FALSE(fleet.Find("shop")->last_failure.has_value());
    // An event at the watermark is in order.
    EXPECT_TRUE(fleet.Apply(*ParseEventLine(Failure("2026-09-02T00:00:00Z"))).ok());
  }
}

struct AddressCase {
  std::string name;
  std::vector<std::vector<std::string>> answers;  // successive NOERROR answers
  bool changed, moved;                              // what the last one said
};

class AddressTest : public ::testing::TestWithParam<AddressCase> {};

TEST_P(AddressTest, ChangedAndMovedFromOneRule) {
  const AddressCase& c = GetParam();
  AddressFacts facts;
  AddressChange last;
  absl::Time t = T("2026-09-01T00:00:00Z");
  for (const auto& answer : c.answers) {
    last = ObserveAddresses(facts, t, answer);
    t += absl::Hours(1);
  }
  EXPECT_EQ(last.changed, c.changed);
  EXPECT_EQ(last.moved, c.moved);
  EXPECT_EQ(facts.values, c.answers.back());
  if (c.moved) {
    EXPECT_EQ(facts.changed_at, t - absl::Hours(1));
  }
}

INSTANTIATE_TEST_SUITE_P(
    OneRule, AddressTest,
    ::testing::Values(AddressCase{"first_answer", {{"192.0.2.1"}}, false, false},
                      AddressCase{"same_answer", {{"192.0.2.1"}, {"192.0.2.1"}}, false, false},
                      AddressCase{"new_address_is_a_move", {{"192.0.2.1"}, {"198.51.100.7"}}, true, true},
                      // A CDN pool rotating back to an address it answered with before.
                      AddressCase{"rotation_among_known_addresses", {{"192.0.2.1"}, {"192.0.2.2"}, {"192.0.2.1"}}, true, false},
                      AddressCase{"one_known_address_kept", {{"192.0.2.1"}, {"192.0.2.1", "192.0.2.9"}}, true, false},
                      AddressCase{"empty_answer_after_addresses", {{"192.0.2.1"}, {}}, true, true}),
    [](const ::testing::TestParamInfo<AddressCase>& info) { return info.param.name; });

// Both consumers read the same answer: the model's address_change_days moves on any change, the
// policy's address move only on a new address; a failed lookup moves neither.
TEST(AddressTest, DnsEventsReachBothConsumers) {
  FleetState fleet;
  auto dns = [&](const char* ts, const char* rcode, const char* values) {
    return std::string(R"({"ts":")") + ts + R"(","type":"dns","name":"shop.example.com","rtype":"A","rcode":")" + rcode +
           R"(","values":)" + values + "}";
  };
  for (const std::string& line :
       {std::string(kConfig), dns("2026-09-01T00:00:00Z", "NOERROR", R"(["192.0.2.1"])"),
        dns("2026-09-02T00:00:00Z", "NOERROR", R"(["192.0.2.2"])"), dns("2026-09-03T00:00:00Z", "SERVFAIL", "[]"),
        dns("2026-09-04T00:00:00Z", "NOERROR", R"(["192.0.2.1"])")}) {
    ASSERT_TRUE(fleet.Apply(*ParseEventLine(line)).ok()) << line;
  }
  const NameFacts& n = fleet.facts().names.at("shop.example.com");
  EXPECT_EQ(n.a.changed_at, T("2026-09-02T00:00:00Z"));  // the move; the rotation back is not one
  const FleetStateImpl& impl = fleet.impl();
  const NameTelemetry& telemetry = impl.names[impl.name_index.at("shop.example.com")];
  EXPECT_EQ(telemetry.address_change_days, ToDays(T("2026-09-04T00:00:00Z")));
}

// A served result keeps the serial served before the latest one and when it was last seen, for
// the policy's LastObserved: when another certificate (ff) replaces the lineage's (0a) on
// web1:443, the last probe that still found 0a; repeats of the same serial keep it; by name and by
// lineage alike.
TEST(ServedTest, KeepsTheSerialServedBeforeAndWhenItWasLastSeen) {
  for (const bool by_cert : {false, true}) {
    SCOPED_TRACE(by_cert ? "probes name the lineage" : "probes name only the name");
    FleetState fleet;
    auto probe = [&](const char* ts, const char* serial) {
      return std::string(R"({"ts":")") + ts +
             R"(","type":"tls_probe","endpoint":"web1:443","sni":"shop.example.com",)" +
             (by_cert ? R"("cert":"shop",)" : "") + R"("outcome":"ok","serial":")" + serial + R"("})";
    };
    auto served = [&]() -> const Served& {
      const auto& m = by_cert ? fleet.facts().certs.at("shop").served
                              : fleet.facts().names.at("shop.example.com").served;
      return m.at(ServedKey("web1:443", "shop.example.com"));
    };
    ASSERT_TRUE(fleet.Apply(*ParseEventLine(kConfig)).ok());
    ASSERT_TRUE(fleet.Apply(*ParseEventLine(probe("2026-09-01T00:00:00Z", "0a"))).ok());
    EXPECT_EQ(served().before_serial, "");
    EXPECT_FALSE(served().before_probed_at.has_value());
    ASSERT_TRUE(fleet.Apply(*ParseEventLine(probe("2026-09-02T00:00:00Z", "0a"))).ok());
    EXPECT_FALSE(served().before_probed_at.has_value());
    ASSERT_TRUE(fleet.Apply(*ParseEventLine(probe("2026-09-03T00:00:00Z", "ff"))).ok());
    ASSERT_TRUE(fleet.Apply(*ParseEventLine(probe("2026-09-04T00:00:00Z", "ff"))).ok());
    EXPECT_EQ(served().serial, "ff");
    EXPECT_EQ(served().probed_at, T("2026-09-04T00:00:00Z"));
    EXPECT_EQ(served().before_serial, "0a");
    EXPECT_EQ(served().before_probed_at, T("2026-09-02T00:00:00Z"));
  }
}

// The fold's short windows (window.h): the oldest entries go first, by age or by count.
TEST(WindowTest, DropsTheExpiredPrefixOnly) {
  std::vector<double> w;
  for (double t : {1.0, 2.0, 5.0, 9.0}) PushWindow(w, t, [&](double v) { return v < t - 7; });
  EXPECT_EQ(w, (std::vector<double>{2.0, 5.0, 9.0}));  // 1 is older than 9 - 7
  PushWindow(w, 20.0, [](double v) { return v < 13.0; });
  EXPECT_EQ(w, (std::vector<double>{20.0}));
}

TEST(WindowTest, KeepsTheNewestCapped) {
  std::vector<int> w;
  for (int i = 1; i <= 5; ++i) PushCapped(w, i, 3);
  EXPECT_EQ(w, (std::vector<int>{3, 4, 5}));
}

TEST(WindowTest, ClockSamplesOlderThanTheTrendWindowLeaveTheFold) {
  FleetFacts facts;
  const char* clock = R"({"ts":"%s","type":"clock","host":"web1","offset_ms":%d})";
  char line[256];
  const std::pair<const char*, int> samples[] = {
      {"2026-09-01T00:00:00Z", 10}, {"2026-09-10T00:00:00Z", 20}, {"2026-09-16T00:00:00Z", 30}};
  for (const auto& [ts, offset] : samples) {
    std::snprintf(line, sizeof line, clock, ts, offset);
    auto event = ParseEventLine(line);
    ASSERT_TRUE(event.ok()) << event.status().message();
    FoldFacts(facts, *event, IssuedRole::kNew, nullptr);
  }
  // 2026-09-01 is more than 14 days before 2026-09-16: dropped; the other two stay, in order.
  const std::vector<Sample>& kept = facts.hosts["web1"].clock;
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].value, 20);
  EXPECT_EQ(kept[1].value, 30);
}

}  // namespace
}  // namespace certcast
