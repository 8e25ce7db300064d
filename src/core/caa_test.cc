// The one CAA evaluation (RFC 8659): issue and issuewild, the critical flag, case-insensitive
// tags and issuer names, a CA's several identities; the presentation-form parser and its errors.
#include "core/caa.h"

#include <span>
#include <string>
#include <vector>

#include "core/strings.h"
#include "gtest/gtest.h"

namespace certcast {
namespace {

CaaRecord Caa(uint8_t flags, std::string tag, std::string value) { return {flags, std::move(tag), std::move(value)}; }

TEST(CaaPermitsTest, Table) {
  struct Case {
    std::string name;
    std::vector<CaaRecord> records;
    std::string ca;
    bool wildcard;
    CaaDecision want;
  };
  const std::vector<Case> cases = {
      {"no records lets any CA issue", {}, "letsencrypt.org", false, {true, "no CAA records"}},
      {"issue naming the CA permits", {Caa(0, "issue", "letsencrypt.org")}, "letsencrypt.org", false,
       {true, "issue property names \"letsencrypt.org\""}},
      {"issuer domain is compared case-insensitively, parameters ignored",
       {Caa(0, "ISSUE", " LetsEncrypt.org; accounturi=https://x/acct/1")}, "letsencrypt.org", false,
       {true, "issue property names \"letsencrypt.org\""}},
      {"issue naming another CA forbids", {Caa(0, "issue", "other-ca.example")}, "letsencrypt.org", false,
       {false, "issue property names only other-ca.example"}},
      {"empty issue value names no CA", {Caa(0, "issue", ";")}, "letsencrypt.org", false,
       {false, "issue property names only (no CA)"}},
      {"only iodef: no issue property, any CA", {Caa(0, "iodef", "mailto:x@example.com")}, "letsencrypt.org", false,
       {true, "no issue property"}},
      {"unknown non-critical tag is ignored", {Caa(0, "futuretag", "x"), Caa(0, "issue", "letsencrypt.org")},
       "letsencrypt.org", false, {true, "issue property names \"letsencrypt.org\""}},
      {"unknown critical tag forbids everything",
       {Caa(128, "futuretag", "x"), Caa(0, "issue", "letsencrypt.org")}, "letsencrypt.org", false,
       {false, "unknown critical property \"futuretag\""}},
      {"known critical tag is fine", {Caa(128, "issue", "letsencrypt.org")}, "letsencrypt.org", false,
       {true, "issue property names \"letsencrypt.org\""}},
      {"wildcard uses issuewild over issue",
       {Caa(0, "issue", "letsencrypt.org"), Caa(0, "issuewild", "other-ca.example")}, "letsencrypt.org", true,
       {false, "issuewild property names only other-ca.example"}},
      {"wildcard falls back to issue without issuewild", {Caa(0, "issue", "letsencrypt.org")}, "letsencrypt.org",
       true, {true, "issue property names \"letsencrypt.org\""}},
      {"non-wildcard ignores issuewild",
       {Caa(0, "issuewild", "letsencrypt.org"), Caa(0, "issue", "other-ca.example")}, "letsencrypt.org", false,
       {false, "issue property names only other-ca.example"}},
      {"issuewild alone leaves non-wildcard names open", {Caa(0, "issuewild", ";")}, "letsencrypt.org", false,
       {true, "no issue property"}},
      {"the issue's wildcard case: issue letsencrypt.org + issuewild sectigo.com, wildcard name",
       {Caa(0, "issue", "letsencrypt.org"), Caa(0, "issuewild", "sectigo.com")}, "letsencrypt.org", true,
       {false, "issuewild property names only sectigo.com"}},
      {"the same RRset lets the base name issue", 
       {Caa(0, "issue", "letsencrypt.org"), Caa(0, "issuewild", "sectigo.com")}, "letsencrypt.org", false,
       {true, "issue property names \"letsencrypt.org\""}},
      {"issuewild tag is case-insensitive too",
       {Caa(0, "issue", "letsencrypt.org"), Caa(0, "IssueWild", "Sectigo.COM")}, "letsencrypt.org", true,
       {false, "issuewild property names only sectigo.com"}},
      {"one of several issue properties is enough",
       {Caa(0, "issue", "other-ca.example"), Caa(0, "issue", "letsencrypt.org")}, "letsencrypt.org", false,
       {true, "issue property names \"letsencrypt.org\""}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(CaaPermits(c.records, c.ca, c.wildcard), c.want) << c.name;
  }
}

// A CA with several issuer domain names (ZeroSSL issues under Sectigo's) matches on any of them.
TEST(CaaPermitsTest, AnyIdentityOfTheCa) {
  const std::vector<std::string> zerossl = {"acme.zerossl.com", "zerossl.com", "sectigo.com"};
  const std::vector<CaaRecord> sectigo = {Caa(0, "issue", "sectigo.com")};
  EXPECT_EQ(CaaPermits(sectigo, zerossl, false), (CaaDecision{true, "issue property names \"sectigo.com\""}));
  const std::vector<CaaRecord> le = {Caa(0, "issue", "letsencrypt.org")};
  EXPECT_EQ(CaaPermits(le, zerossl, false), (CaaDecision{false, "issue property names only letsencrypt.org"}));
  EXPECT_FALSE(CaaPermits(le, std::span<const std::string>(), false).permitted);
}

TEST(CaaPermitsTest, PresentationValues) {
  const std::vector<std::string> le = {"letsencrypt.org"};
  struct Case {
    std::vector<std::string> values;
    bool wildcard;
    CaaDecision want;
  };
  const std::vector<Case> cases = {
      {{}, false, {true, "no CAA records"}},
      {{"0 issue \"letsencrypt.org\"", "0 issuewild \"sectigo.com\""}, true,
       {false, "issuewild property names only sectigo.com"}},
      {{"128 tbs \"unknown\"", "0 issue \"letsencrypt.org\""}, false,
       {false, "unknown critical property \"tbs\""}},
      // A value certcast cannot parse forbids, naming why.
      {{"0 issue letsencrypt.org"}, false, {false, "CAA value letsencrypt.org is not quoted"}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(CaaPermitsPresentation(c.values, le, c.wildcard), c.want) << StrJoin(c.values, " | ");
  }
}

TEST(CaaPresentationTest, ParsesAndRoundTrips) {
  auto r = ParseCaaPresentation(R"(128 issue "ca.example; a=\"b\"\\ \009")");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, Caa(128, "issue", "ca.example; a=\"b\"\\ \t"));
  EXPECT_EQ(FormatCaaPresentation(*r), R"(128 issue "ca.example; a=\"b\"\\ \009")");
}

TEST(CaaPresentationTest, RejectsBadInput) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"0", "CAA record \"0\" has no tag"},
      {"300 issue \"x\"", "CAA flags \"300\" is not 0..255"},
      {"x issue \"x\"", "CAA flags \"x\" is not 0..255"},
      {"0 issue", "CAA record \"0 issue\" has no value"},
      {"0 is-sue \"x\"", "CAA tag \"is-sue\" is not alphanumeric"},
      {"0 issue x", "CAA value x is not quoted"},
      {"0 issue \"a\"b\"", "CAA value has an unescaped quote"},
      {"0 issue \"a\\\"", "CAA value ends in a backslash"},
      {"0 issue \"\\12\"", "CAA value has a short \\DDD escape"},
      {"0 issue \"\\999\"", "CAA value has a bad \\DDD escape"},
  };
  for (const auto& [text, want] : cases) {
    auto r = ParseCaaPresentation(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().message(), want) << text;
  }
}

}  // namespace
}  // namespace certcast
