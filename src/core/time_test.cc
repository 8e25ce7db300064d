#include "core/time.h"

#include "gtest/gtest.h"

namespace certcast {
namespace {

TEST(ParseRfc3339, AcceptsUtcWithAndWithoutFraction) {
  struct Case {
    const char* text;
    int64_t micros;
  } cases[] = {
      {"1970-01-01T00:00:00Z", 0},
      {"2026-11-01T00:00:00Z", 1793491200LL * 1000000},
      {"2026-11-01T00:00:00.5Z", 1793491200LL * 1000000 + 500000},
      {"2026-11-01T00:00:00.123456789Z", 1793491200LL * 1000000 + 123456},
      {"2024-02-29T23:59:59z", 1709251199LL * 1000000},
  };
  for (const auto& c : cases) {
    auto t = ParseRfc3339(c.text);
    ASSERT_TRUE(t.ok()) << c.text << ": " << t.status();
    EXPECT_EQ(absl::ToUnixMicros(*t), c.micros) << c.text;
  }
}

TEST(ParseRfc3339, RefusesWhatIsNotUtcRfc3339WithTheReason) {
  struct Case {
    const char* text;
    const char* reason;
  } cases[] = {
      {"2026-11-01", "too short"},
      {"2026-11-01 00:00:00Z", "no 'T' between date and time"},
      {"2026-13-01T00:00:00Z", "month out of range"},
      {"2025-02-29T00:00:00Z", "day out of range"},
      {"2026-11-01T24:00:00Z", "time of day out of range"},
      {"2026-11-01T00:00:00+01:00", "offset is not Z (events are UTC)"},
      {"2026-11-01T00:00:00", "too short"},
      {"2026-11-01T00:00:00.Z", "no digits after '.'"},
      {"2026-11-01T00:00:00.1234567890Z", "more than 9 fractional digits"},
      {"2026-11-01T00:00:00Zx", "trailing characters"},
      {"2026-1x-01T00:00:00Z", "date is not YYYY-MM-DD"},
  };
  for (const auto& c : cases) {
    auto t = ParseRfc3339(c.text);
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find(c.reason), std::string::npos)
        << c.text << " gave: " << t.status().message();
  }
}

TEST(FormatRfc3339, RoundTripsAndTrimsFraction) {
  for (const char* text : {"2026-11-01T00:00:00Z", "2026-11-01T06:05:04.25Z",
                           "1999-12-31T23:59:59.000001Z", "2100-03-01T12:00:00Z"}) {
    auto t = ParseRfc3339(text);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(FormatRfc3339(*t), text);
  }
  EXPECT_EQ(FormatRfc3339(absl::FromUnixSeconds(-1)), "1969-12-31T23:59:59Z");
}

TEST(ParseDurationFlag, UnitsAndErrors) {
  EXPECT_EQ(*ParseDurationFlag("7d"), absl::Hours(168));
  EXPECT_EQ(*ParseDurationFlag("1d12h"), absl::Hours(36));
  EXPECT_EQ(*ParseDurationFlag("90m"), absl::Minutes(90));
  EXPECT_EQ(*ParseDurationFlag("45s"), absl::Seconds(45));
  EXPECT_FALSE(ParseDurationFlag("7").ok());
  EXPECT_FALSE(ParseDurationFlag("").ok());
  EXPECT_FALSE(ParseDurationFlag("3w").ok());
  EXPECT_FALSE(ParseDurationFlag("d").ok());
}

TEST(FloorToDay, FloorsBeforeAndAfterEpoch) {
  EXPECT_EQ(FloorToDay(*ParseRfc3339("2026-11-01T13:14:15Z")), *ParseRfc3339("2026-11-01T00:00:00Z"));
  EXPECT_EQ(FloorToDay(absl::FromUnixSeconds(-1)), absl::FromUnixSeconds(-86400));
}

}  // namespace
}  // namespace certcast
