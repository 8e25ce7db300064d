#include "core/event_json.h"

#include "core/time.h"
#include "gtest/gtest.h"

namespace certcast {
namespace {

// One line per type with every field set, already in canonical form: parsing and serializing
// must give the same bytes back.
const char* const kCanonicalLines[] = {
    R"({"ts":"2026-11-01T00:00:00Z","type":"config","cert":"shop","host":"web1","names":["shop.example.com","*.example.com"],"client":"certbot","client_version":"2.1.0","ca":"https://acme.example/dir","challenge":"http-01","alt_challenges":["dns-01"],"alt_cas":["https://other.example/dir"],"ari":false,"renew_rule":"days_left:30","profile":"classic"})",
    R"({"ts":"2026-11-01T00:00:00Z","type":"issued","cert":"shop","serial":"04ab","not_before":"2026-10-31T23:00:00Z","not_after":"2027-01-29T23:00:00Z","ca":"https://acme.example/dir","names":["shop.example.com"]})",
    R"({"ts":"2026-12-31T12:00:00Z","type":"renewal","cert":"shop","outcome":"failure","error":"urn:ietf:params:acme:error:connection","detail":"Timeout during connect","challenge":"http-01","ca":"https://acme.example/dir","duration_ms":1234.5,"dry_run":true,"trigger":"schedule"})",
    R"({"ts":"2026-12-31T12:00:00Z","type":"deploy","cert":"shop","host":"web1","outcome":"failure","detail":"nginx -s reload: exit 1"})",
    R"({"ts":"2026-11-20T06:00:00.5Z","type":"tls_probe","endpoint":"203.0.113.9:443","sni":"shop.example.com","cert":"shop","outcome":"error","error":"expired","serial":"04ab","not_after":"2027-01-29T23:00:00Z","latency_ms":12.25,"tls_version":"TLSv1.3","cipher":"TLS_AES_128_GCM_SHA256","ocsp_stapled":false,"sct_count":2})",
    R"({"ts":"2026-11-20T06:00:00Z","type":"dns","name":"shop.example.com","rtype":"CAA","rcode":"NOERROR","values":["0 iodef \"mailto:a@b\"","0 issue \"letsencrypt.org\""],"dnssec":"secure","rrsig_expires":"2026-12-01T00:00:00Z","latency_ms":3})",
    R"({"ts":"2026-11-20T06:05:00Z","type":"http01_probe","name":"shop.example.com","outcome":"error","error":"http_status","status":404,"vantage":"eu-1","latency_ms":80})",
    R"({"ts":"2026-11-20T06:05:00Z","type":"dns01_check","name":"_acme-challenge.shop.example.com","outcome":"error","error":"api_401","propagation_ms":45000})",
    R"({"ts":"2026-11-20T06:05:00Z","type":"ca_probe","ca":"https://acme.example/dir","outcome":"ok","status":200,"latency_ms":250,"error":"slow"})",
    R"({"ts":"2026-11-20T06:05:00Z","type":"ari","cert":"shop","ca":"https://acme.example/dir","window_start":"2026-12-29T00:00:00Z","window_end":"2026-12-31T00:00:00Z","retry_after_s":21600,"explanation_url":"https://acme.example/why"})",
    R"({"ts":"2026-11-20T06:05:00Z","type":"clock","host":"web1","offset_ms":-1500.5,"synced":false,"source":"ntp"})",
    R"({"ts":"2026-11-20T06:05:00Z","type":"host","host":"web1","disk_free_bytes":1000,"disk_total_bytes":100000,"scheduler_last_run":"2026-11-20T00:00:00Z","client_version":"2.1.0","event":"upgrade"})",
    R"({"ts":"2026-11-20T06:05:00Z","type":"credential","kind":"dns_api_token","host":"web1","cert":"shop","expires":"2027-01-01T00:00:00Z","present":true})",
    R"({"ts":"2026-11-20T06:05:00Z","type":"domain","name":"example.com","expires":"2027-03-01T00:00:00Z","status":"active"})",
};

TEST(EventJson, EveryTypeRoundTripsToTheSameBytes) {
  int seen_types = 0;
  for (const char* line : kCanonicalLines) {
    auto e = ParseEventLine(line);
    ASSERT_TRUE(e.ok()) << line << "\n" << e.status();
    EXPECT_EQ(EventToJson(*e), line);
    auto again = ParseEventLine(EventToJson(*e));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *e);
    ++seen_types;
  }
  EXPECT_EQ(seen_types, kEventTypeCount);
}

TEST(EventJson, CanonicalFormIgnoresUnknownFieldsOrderAndSpacing) {
  auto a = ParseEventLine(
      R"({ "type" : "dns", "extra": {"x":[1,2]}, "values":["b","a"], "rcode":"NOERROR", "rtype":"A", "name":"a.example", "ts":"2026-01-01T00:00:00.000Z" })");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(EventToJson(*a),
            R"({"ts":"2026-01-01T00:00:00Z","type":"dns","name":"a.example","rtype":"A","rcode":"NOERROR","values":["a","b"]})");
}

TEST(EventJson, OptionalFieldsMayBeNullOrAbsent) {
  auto e = ParseEventLine(
      R"({"ts":"2026-01-01T00:00:00Z","type":"renewal","cert":"c","outcome":"success","error":null,"dry_run":null})");
  ASSERT_TRUE(e.ok()) << e.status();
  const auto* r = e->As<RenewalEvent>();
  ASSERT_NE(r, nullptr);
  EXPECT_FALSE(r->error.has_value());
  EXPECT_FALSE(r->dry_run);
}

TEST(EventJson, RejectsBadLinesWithTheExactReason) {
  struct Case {
    const char* name;
    const char* line;
    const char* error;
  } cases[] = {
      {"not json", "{nope", "invalid JSON: "},
      {"array", "[1,2]", "not a JSON object"},
      {"no type", R"({"ts":"2026-01-01T00:00:00Z"})", "missing required field \"type\""},
      {"type not string", R"({"ts":"2026-01-01T00:00:00Z","type":3})",
       "field \"type\": expected string"},
      {"unknown type", R"({"ts":"2026-01-01T00:00:00Z","type":"nonsense"})",
       "unknown type \"nonsense\""},
      {"no ts", R"({"type":"domain","name":"example.com"})",
       "missing required field \"ts\" for type \"domain\""},
      {"bad ts", R"({"ts":"yesterday","type":"domain","name":"example.com"})",
       "field \"ts\": bad timestamp \"yesterday\": too short"},
      {"offset ts", R"({"ts":"2026-01-01T00:00:00+02:00","type":"domain","name":"example.com"})",
       "offset is not Z"},
      {"missing cert",
       R"({"ts":"2026-01-01T00:00:00Z","type":"renewal","outcome":"success"})",
       "missing required field \"cert\" for type \"renewal\""},
      {"bad enum",
       R"({"ts":"2026-01-01T00:00:00Z","type":"renewal","cert":"c","outcome":"maybe"})",
       "field \"outcome\": \"maybe\" is not one of success, failure"},
      {"wrong json type",
       R"({"ts":"2026-01-01T00:00:00Z","type":"renewal","cert":"c","outcome":"success","dry_run":"yes"})",
       "field \"dry_run\": expected boolean, got string"},
      {"bad renewal error",
       R"({"ts":"2026-01-01T00:00:00Z","type":"renewal","cert":"c","outcome":"failure","error":"boom"})",
       "field \"error\": \"boom\" is neither an ACME problem URN"},
      {"duplicate field",
       R"({"ts":"2026-01-01T00:00:00Z","type":"renewal","cert":"c","cert":"d","outcome":"success"})",
       "field \"cert\" appears twice"},
      {"upper-case name",
       R"({"ts":"2026-01-01T00:00:00Z","type":"domain","name":"Example.com"})",
       "field \"name\": \"Example.com\" is not lower case"},
      {"trailing dot",
       R"({"ts":"2026-01-01T00:00:00Z","type":"domain","name":"example.com."})",
       "has a trailing dot"},
      {"a name that is a client option",
       R"({"ts":"2026-01-01T00:00:00Z","type":"config","cert":"c","host":"h","names":["--server"],"client":"lego","ca":"x","challenge":"dns-01","ari":true})",
       "field \"names\": \"--server\" has a label starting with '-'"},
      {"a label ending in a hyphen",
       R"({"ts":"2026-01-01T00:00:00Z","type":"domain","name":"shop-.example.com"})",
       "field \"name\": \"shop-.example.com\" has a label ending in '-'"},
      {"names not strings",
       R"({"ts":"2026-01-01T00:00:00Z","type":"config","cert":"c","host":"h","names":[1],"client":"lego","ca":"x","challenge":"dns-01","ari":true})",
       "field \"names\": expected array of strings, found number"},
      {"empty names",
       R"({"ts":"2026-01-01T00:00:00Z","type":"config","cert":"c","host":"h","names":[],"client":"lego","ca":"x","challenge":"dns-01","ari":true})",
       "field \"names\": is empty"},
      {"bad alt challenge",
       R"({"ts":"2026-01-01T00:00:00Z","type":"config","cert":"c","host":"h","names":["a.b"],"client":"lego","ca":"x","challenge":"dns-01","alt_challenges":["smtp-01"],"ari":true})",
       "field \"alt_challenges\": \"smtp-01\" is not one of http-01, dns-01, tls-alpn-01"},
      {"bad renew rule",
       R"({"ts":"2026-01-01T00:00:00Z","type":"config","cert":"c","host":"h","names":["a.b"],"client":"lego","ca":"x","challenge":"dns-01","ari":true,"renew_rule":"fraction:2"})",
       "field \"renew_rule\": \"fraction:2\" is not fraction:F"},
      {"not_after before not_before",
       R"({"ts":"2026-01-01T00:00:00Z","type":"issued","cert":"c","serial":"1","not_before":"2026-02-01T00:00:00Z","not_after":"2026-01-01T00:00:00Z","ca":"x"})",
       "field \"not_after\": not after \"not_before\""},
      {"negative latency",
       R"({"ts":"2026-01-01T00:00:00Z","type":"ca_probe","ca":"x","outcome":"ok","latency_ms":-1})",
       "field \"latency_ms\": -1 is negative"},
      {"fractional int",
       R"({"ts":"2026-01-01T00:00:00Z","type":"ca_probe","ca":"x","outcome":"ok","status":200.5})",
       "field \"status\": 200.5 is not an integer"},
      {"endpoint without port",
       R"({"ts":"2026-01-01T00:00:00Z","type":"tls_probe","endpoint":"web1","sni":"a.b","outcome":"ok"})",
       "field \"endpoint\": \"web1\" is not host:port"},
      {"empty required string",
       R"({"ts":"2026-01-01T00:00:00Z","type":"deploy","cert":"","host":"h","outcome":"success"})",
       "field \"cert\": \"\" is empty"},
      {"clock offset missing", R"({"ts":"2026-01-01T00:00:00Z","type":"clock","host":"h"})",
       "missing required field \"offset_ms\" for type \"clock\""},
      {"window reversed",
       R"({"ts":"2026-01-01T00:00:00Z","type":"ari","cert":"c","ca":"x","window_start":"2026-02-02T00:00:00Z","window_end":"2026-02-01T00:00:00Z"})",
       "field \"window_end\": before \"window_start\""},
  };
  for (const auto& c : cases) {
    auto e = ParseEventLine(c.line);
    ASSERT_FALSE(e.ok()) << c.name;
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << c.name;
    EXPECT_NE(e.status().message().find(c.error), std::string::npos)
        << c.name << ": got \"" << e.status().message() << "\"";
  }
}

TEST(EventJson, RefusesOverlongLinesAndFields) {
  std::string line(kMaxEventLineBytes + 1, ' ');
  EXPECT_EQ(ParseEventLine(line).status().message(), "line longer than 1048576 bytes");
  std::string cert(5000, 'c');
  auto e = ParseEventLine(R"({"ts":"2026-01-01T00:00:00Z","type":"deploy","cert":")" + cert +
                          R"(","host":"h","outcome":"success"})");
  EXPECT_EQ(e.status().message(), "field \"cert\": longer than 4096 bytes");
}

TEST(EventSubject, NamesTheLineageOrTheThingProbed) {
  EXPECT_EQ(EventSubject(*ParseEventLine(kCanonicalLines[0])), "shop");
  EXPECT_EQ(EventSubject(*ParseEventLine(kCanonicalLines[5])), "shop.example.com");
  EXPECT_EQ(EventSubject(*ParseEventLine(kCanonicalLines[8])), "https://acme.example/dir");
  EXPECT_EQ(EventSubject(*ParseEventLine(kCanonicalLines[10])), "web1");
}

TEST(ParseRenewRule, Forms) {
  EXPECT_EQ(ParseRenewRule("fraction:0.667")->kind, RenewRule::Kind::kFraction);
  EXPECT_DOUBLE_EQ(ParseRenewRule("days_left:30")->value, 30);
  EXPECT_EQ(ParseRenewRule("after_issue_days:59")->kind, RenewRule::Kind::kAfterIssueDays);
  EXPECT_FALSE(ParseRenewRule("days_left:").has_value());
  EXPECT_FALSE(ParseRenewRule("weekly:1").has_value());
  EXPECT_FALSE(ParseRenewRule("fraction:1.5").has_value());
}

// A string with a byte that is not UTF-8 (a localized client printing Latin-1) must never be
// written as a line the parser refuses: the serializer writes U+FFFD for it, within the
// original length, and the line reads back.
TEST(EventJson, InvalidUtf8IsNeverWrittenEvenWhenACallerMissedIt) {
  struct Case {
    std::string detail, read_back;
  } cases[] = {
      // 11 bytes; U+FFFD is 3 bytes and does not fit in the original length.
      {"Error: caf\xE9", "Error: caf"},
      {"\"caf\xE9\" failed", "\"caf\xEF\xBF\xBD\" fail"},
      {"ok \xC3\xA9", "ok \xC3\xA9"},
  };
  for (const auto& c : cases) {
    Event e;
    e.ts = absl::FromUnixSeconds(1795000000);
    DeployEvent d;
    d.cert = "shop";
    d.host = "web1";
    d.outcome = Outcome::kFailure;
    d.detail = c.detail;
    e.body = d;
    const std::string line = EventToJson(e);
    auto back = ParseEventLine(line);
    ASSERT_TRUE(back.ok()) << line << ": " << back.status();
    EXPECT_EQ(back->As<DeployEvent>()->detail.value_or(""), c.read_back) << line;
  }
}

}  // namespace
// The one check every name passed to a client goes through (issue #12, finding 3).
TEST(ValidateDnsNameTest, AcceptsLdhNamesAndRejectsOptionsAndOverlongLabels) {
  struct Case {
    std::string name;
    std::string error;  // "" = valid
  };
  const std::vector<Case> cases = {
      {"shop.example.com", ""},
      {"*.example.com", ""},
      {"xn--bcher-kva.example", ""},
      {"a-b.c", ""},
      {"--server", "has a label starting with '-'"},
      {"-x.example.com", "has a label starting with '-'"},
      {"shop.-x.com", "has a label starting with '-'"},
      {"shop-", "has a label ending in '-'"},
      {"*.*.example.com", "has a character outside [a-z0-9._-]"},
      {"ex ample.com", "has a character outside [a-z0-9._-]"},
      {std::string(64, 'a') + ".com", "has a label longer than 63 bytes"},
      {std::string(250, 'a').replace(60, 1, ".").replace(120, 1, ".").replace(180, 1, ".") + ".com",
       "is longer than 253 bytes"},
      {"", "is empty"},
  };
  for (const Case& c : cases) {
    const Status s = ValidateDnsName(c.name);
    EXPECT_EQ(s.ok() ? "" : s.message(), c.error) << c.name;
  }
}

}  // namespace certcast
