// Unit tests for the pure parts of collect/probe: DNS wire parsing, ARI
// certificate IDs, renewalInfo / directory / Retry-After parsing, TLS error classification,
// HTTP-01 redirect rules, scan config errors, trust store loading. Table-driven; bad inputs assert
// the exact error.
#include <openssl/x509_vfy.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "collect/probe/acme_probe.h"
#include "collect/probe/dns_probe.h"
#include "collect/probe/dns_wire.h"
#include "collect/probe/http01_probe.h"
#include "collect/probe/scan.h"
#include "collect/probe/tls_probe.h"
#include "core/strings.h"
#include "core/time.h"
#include "gtest/gtest.h"

namespace certcast::probe {
namespace {

// Builds DNS messages byte by byte for the parser tests.
struct Message {
  std::vector<uint8_t> bytes;
  Message& U8(uint8_t v) { bytes.push_back(v); return *this; }
  Message& U16(uint16_t v) { bytes.push_back(v >> 8); bytes.push_back(v & 0xff); return *this; }
  Message& U32(uint32_t v) { U16(v >> 16); return U16(v & 0xffff); }
  Message& Name(const std::string& dotted) {
    size_t start = 0;
    while (start < dotted.size()) {
      size_t dot = dotted.find('.', start);
      if (dot == std::string::npos) dot = dotted.size();
      U8(static_cast<uint8_t>(dot - start));
      for (size_t i = start; i < dot; ++i) U8(static_cast<uint8_t>(dotted[i]));
      start = dot + 1;
    }
    return U8(0);
  }
  Message& Raw(std::initializer_list<uint8_t> v) { bytes.insert(bytes.end(), v); return *this; }
  Message& Header(uint16_t flags, uint16_t ancount, uint16_t nscount = 0, uint16_t arcount = 0) {
    return U16(0x1234).U16(flags).U16(1).U16(ancount).U16(nscount).U16(arcount);
  }
  Message& Question(const std::string& name, uint16_t type) { return Name(name).U16(type).U16(1); }
  // Answer whose owner is a pointer to the question name at offset 12.
  Message& Answer(uint16_t type, std::vector<uint8_t> rdata) {
    U16(0xc00c).U16(type).U16(1).U32(300).U16(static_cast<uint16_t>(rdata.size()));
    bytes.insert(bytes.end(), rdata.begin(), rdata.end());
    return *this;
  }
  // A record with its owner written out.
  Message& Record(const std::string& owner, uint16_t type, const std::vector<uint8_t>& rdata, uint16_t rclass = 1,
                  uint32_t ttl = 300) {
    Name(owner).U16(type).U16(rclass).U32(ttl).U16(static_cast<uint16_t>(rdata.size()));
    bytes.insert(bytes.end(), rdata.begin(), rdata.end());
    return *this;
  }
  // RRSIG RDATA (RFC 4034 §3.1): algorithm 13, labels 2, TTL 300, key tag 57420, a 4-byte signature.
  static std::vector<uint8_t> Rrsig(uint16_t covered, uint32_t expiration, uint32_t inception,
                                    const std::string& signer) {
    Message m;
    m.U16(covered).U8(13).U8(2).U32(300).U32(expiration).U32(inception).U16(57420).Name(signer).U32(0xdeadbeef);
    return m.bytes;
  }
  // The OPT pseudo-record: root owner, payload size as CLASS, extended RCODE/version/DO as TTL.
  Message& Opt(uint16_t payload, uint32_t ttl) { return U8(0).U16(kTypeOPT).U16(payload).U32(ttl).U16(0); }
};

absl::Time At(const char* rfc3339) {
  absl::Time t;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &error)) << error;
  return t;
}

TEST(DnsWireTest, ParsesAnswersInPresentationForm) {
  Message m;
  m.Header(0x8180, 5).Question("Shop.Example.com", kTypeCAA);
  m.Answer(kTypeA, {203, 0, 113, 9});
  m.Answer(kTypeAAAA, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  m.Answer(kTypeCAA, {0, 5, 'i', 's', 's', 'u', 'e', 'c', 'a', '.', 'e', 'x'});
  m.Answer(kTypeTXT, {3, 'a', '"', 'b', 1, 0x01});
  // CNAME target compressed: "www" + pointer to the question name.
  m.Answer(kTypeCNAME, {3, 'w', 'w', 'w', 0xc0, 0x0c});
  auto r = ParseDnsResponse(m.bytes);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->id, 0x1234);
  EXPECT_EQ(r->rcode, 0);
  EXPECT_EQ(r->question_name, "shop.example.com");
  EXPECT_EQ(r->question_type, kTypeCAA);
  ASSERT_EQ(r->answers.size(), 5u);
  EXPECT_EQ(r->answers[0].value, "203.0.113.9");
  EXPECT_EQ(r->answers[0].name, "shop.example.com");
  EXPECT_EQ(r->answers[0].ttl, 300u);
  EXPECT_EQ(r->answers[1].value, "2001:db8::1");
  EXPECT_EQ(r->answers[2].value, "0 issue \"ca.ex\"");
  EXPECT_EQ(r->answers[3].value, "\"a\\\"b\" \"\\001\"");
  EXPECT_EQ(r->answers[4].value, "www.shop.example.com");
}

TEST(DnsWireTest, ReportsRcodeAndTruncation) {
  Message m;
  m.Header(0x8183, 0).Question("gone.example", kTypeA);
  auto r = ParseDnsResponse(m.bytes);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rcode, 3);
  EXPECT_FALSE(r->truncated);
  Message t;
  t.Header(0x8380, 3).Question("big.example", kTypeTXT);  // TC=1, answers cut off
  auto tr = ParseDnsResponse(t.bytes);
  ASSERT_TRUE(tr.ok()) << tr.status();
  EXPECT_TRUE(tr->truncated);
}

TEST(DnsWireTest, RejectsMalformedMessages) {
  std::vector<std::pair<Message, std::string>> cases;
  cases.push_back({Message().Raw({1, 2, 3}), "DNS response is 3 bytes, shorter than its 12-byte header"});
  { Message m; m.Header(0x0100, 0).Question("a.example", 1); cases.push_back({m, "DNS response is not a response (QR=0)"}); }
  { Message m; m.U16(1).U16(0x8180).U16(2).U16(0).U16(0).U16(0); cases.push_back({m, "DNS response has 2 questions, want 1"}); }
  { Message m; m.Header(0x8180, 0).Raw({0xc0, 0x0c}).U16(1).U16(1); cases.push_back({m, "question: name: compression pointer loop"}); }
  { Message m; m.Header(0x8180, 0).Raw({5, 'a'}); cases.push_back({m, "question: name: label runs past the end of the message"}); }
  { Message m; m.Header(0x8180, 0).Raw({0x40}); cases.push_back({m, "question: name: label type 1 is not supported"}); }
  { Message m; m.Header(0x8180, 0).Name("a.example"); cases.push_back({m, "question runs past the end of the message"}); }
  { Message m; m.Header(0x8180, 1).Question("a.example", 1).Answer(kTypeA, {1, 2, 3}); cases.push_back({m, "answer 0: address record has 3 bytes, want 4"}); }
  { Message m; m.Header(0x8180, 1).Question("a.example", 1).U16(0xc00c).U16(1).U16(1).U32(1).U16(10).Raw({1, 2});
    cases.push_back({m, "answer 0: RDATA runs past the end of the message"}); }
  { Message m; m.Header(0x8180, 1).Question("a.example", 1).U16(0xc00c).U16(1); cases.push_back({m, "answer 0: header runs past the end of the message"}); }
  { Message m; m.Header(0x8180, 1).Question("a.example", 16).Answer(kTypeTXT, {5, 'a'}); cases.push_back({m, "answer 0: TXT string runs past RDATA"}); }
  { Message m; m.Header(0x8180, 1).Question("a.example", 257).Answer(kTypeCAA, {0, 9, 'i'}); cases.push_back({m, "answer 0: CAA tag length is out of range"}); }
  { Message m; m.Header(0x8180, 1).Question("a.example", 5).Answer(kTypeCNAME, {1, 'x', 0, 7}); cases.push_back({m, "answer 0: name record: name does not fill RDATA"}); }
  for (const auto& [message, want] : cases) {
    auto r = ParseDnsResponse(message.bytes);
    ASSERT_FALSE(r.ok()) << want;
    EXPECT_EQ(r.status().message(), want);
  }
}

TEST(DnsWireTest, BuildsQueriesAndRefusesBadNames) {
  auto q = BuildDnsQuery(0xabcd, "a.example", kTypeCAA);
  ASSERT_TRUE(q.ok());
  // Header (12) + name (11) + type/class (4) + OPT (11).
  EXPECT_EQ(q->size(), 38u);
  EXPECT_EQ(static_cast<uint8_t>((*q)[0]), 0xab);
  EXPECT_EQ(static_cast<uint8_t>((*q)[23]), 0x01);  // type 257 = 0x0101 right after the name
  EXPECT_EQ(static_cast<uint8_t>((*q)[24]), 0x01);
  EXPECT_EQ(BuildDnsQuery(1, "a..example", kTypeA).status().message(), "name \"a..example\" has a label of 0 bytes");
  EXPECT_EQ(BuildDnsQuery(1, std::string(64, 'a'), kTypeA).status().message(),
            StrCat("name \"", std::string(64, 'a'), "\" has a label of 64 bytes"));
}

TEST(DnsWireTest, ParsesDnssecRecordsAndFlags) {
  const uint32_t y2030 = 1893456000, y2029 = 1861920000, y2020 = 1577836800;
  Message m;
  // AD set; CNAME chain www -> host, each RRset signed; authority NS with its RRSIG; OPT with DO
  // and extended RCODE 0.
  m.Header(0x81a0, 4, 2, 1).Question("www.good.example", kTypeA);
  m.Record("www.good.example", kTypeCNAME, {4, 'h', 'o', 's', 't', 0xc0, 0x10});
  m.Record("www.good.example", kTypeRRSIG, Message::Rrsig(kTypeCNAME, y2030, y2020, "good.example"));
  m.Record("host.good.example", kTypeA, {192, 0, 2, 1});
  m.Record("host.good.example", kTypeRRSIG, Message::Rrsig(kTypeA, y2029, y2020, "Good.Example"));
  m.Record("good.example", kTypeNS, {2, 'n', 's', 0xc0, 0x10});
  m.Record("good.example", kTypeRRSIG, Message::Rrsig(kTypeNS, y2020, y2020, "good.example"));
  m.Opt(1232, 0x00008000);
  auto r = ParseDnsResponse(m.bytes);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->authentic_data);
  EXPECT_FALSE(r->checking_disabled);
  EXPECT_EQ(r->rcode, 0);
  ASSERT_EQ(r->answers.size(), 4u);
  EXPECT_EQ(r->answers[1].value, "CNAME 13 2 300 1893456000 1577836800 57420 good.example");
  ASSERT_TRUE(r->answers[3].rrsig.has_value());
  EXPECT_EQ(*r->answers[3].rrsig, (RrsigData{kTypeA, 13, 2, 300, y2029, y2020, 57420, "good.example"}));
  EXPECT_FALSE(r->answers[2].rrsig.has_value());
  ASSERT_EQ(r->authority.size(), 2u);
  EXPECT_EQ(r->authority[1].value, "NS 13 2 300 1577836800 1577836800 57420 good.example");
  ASSERT_TRUE(r->edns.has_value());
  EXPECT_EQ(*r->edns, (EdnsData{1232, 0, 0, true}));
  const absl::Time now = At("2026-11-28T10:00:00Z");
  // The A RRset's signature expires first; the NS one in the authority section is not the answer's.
  EXPECT_EQ(EarliestRrsigExpiration(r->answers, now), At("2029-01-01T00:00:00Z"));
  EXPECT_EQ(EarliestRrsigExpiration(r->authority, now), At("2020-01-01T00:00:00Z"));
  // A signature over an RRset that is not there covers nothing.
  std::vector<DnsRecord> stray = {r->answers[1], r->answers[2]};
  EXPECT_EQ(EarliestRrsigExpiration(stray, now), std::nullopt);

  // CD echoed, no AD, BADVERS: extended RCODE 1 in the OPT's top byte makes 16.
  Message b;
  b.Header(0x8190, 0, 0, 1).Question("good.example", kTypeA).Opt(512, 0x01000000);
  auto br = ParseDnsResponse(b.bytes);
  ASSERT_TRUE(br.ok()) << br.status();
  EXPECT_TRUE(br->checking_disabled);
  EXPECT_FALSE(br->authentic_data);
  EXPECT_EQ(br->rcode, 16);
  EXPECT_EQ(*br->edns, (EdnsData{512, 1, 0, false}));
}

TEST(DnsWireTest, RejectsMalformedDnssecRecords) {
  std::vector<std::pair<Message, std::string>> cases;
  { Message m; m.Header(0x8180, 1).Question("a.example", 1).Record("a.example", kTypeRRSIG, {0, 1, 13, 2});
    cases.push_back({m, "answer 0: RRSIG record has 4 bytes, fewer than 18 before the signer"}); }
  { std::vector<uint8_t> rdata = Message::Rrsig(kTypeA, 1, 1, "good.example");
    rdata.resize(18 + 3);  // the signer's first label claims 4 bytes, 2 are in RDATA
    Message m; m.Header(0x8180, 1).Question("a.example", 1).Record("a.example", kTypeRRSIG, rdata).Raw({'x', 'y', 0});
    cases.push_back({m, "answer 0: RRSIG signer runs past RDATA"}); }
  { Message m; m.Header(0x8180, 1).Question("a.example", 1).Opt(1232, 0);
    cases.push_back({m, "answer 0: OPT record outside the additional section"}); }
  { Message m; m.Header(0x8180, 0, 0, 1).Question("a.example", 1).Record("a.example", kTypeOPT, {}, 1232, 0);
    cases.push_back({m, "additional 0: OPT record is not owned by the root"}); }
  { Message m; m.Header(0x8180, 0, 0, 2).Question("a.example", 1).Opt(1232, 0).Opt(1232, 0);
    cases.push_back({m, "additional 1: more than one OPT record"}); }
  { Message m; m.Header(0x8180, 0, 1).Question("a.example", 1).Record("a.example", kTypeA, {1, 2, 3});
    cases.push_back({m, "authority 0: address record has 3 bytes, want 4"}); }
  { Message m; m.Header(0x8180, 0, 0, 1).Question("a.example", 1).Raw({0});
    cases.push_back({m, "additional 0: header runs past the end of the message"}); }
  for (const auto& [message, want] : cases) {
    auto r = ParseDnsResponse(message.bytes);
    ASSERT_FALSE(r.ok()) << want;
    EXPECT_EQ(r.status().message(), want);
  }
}

TEST(DnsWireTest, RrsigTimesUseSerialArithmetic) {
  constexpr int64_t kWrap = int64_t{1} << 32;
  struct Case {
    const char* name;
    int64_t now;
    uint32_t serial;
    int64_t want;
  };
  const std::vector<Case> cases = {
      {"ahead", 1795860000, 1893456000, 1893456000},
      {"behind", 1795860000, 1577836800, 1577836800},
      // Past 2106 the counter wraps: a small value just after the wrap is in the near future...
      {"ahead across the wrap", kWrap - 100, 50, kWrap + 50},
      // ...and a large value just before it, seen from after the wrap, is in the near past.
      {"behind across the wrap", kWrap + 100, 0xffffffce, kWrap - 50},
      {"2^31 - 1 ahead is ahead", 0, 0x7fffffff, 0x7fffffff},
      // RFC 1982 leaves exactly 2^31 undefined; the probe reads it as the past.
      {"exactly 2^31 away is behind", int64_t{1} << 31, 0, 0},
      {"2^31 + 1 ahead is behind", 10, 10 + 0x80000001u, 10 + 0x80000001ll - kWrap},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(RrsigTime(c.serial, absl::FromUnixSeconds(c.now)), absl::FromUnixSeconds(c.want)) << c.name;
  }
  // Sub-second "now" does not shift the instant.
  EXPECT_EQ(RrsigTime(1893456000, absl::FromUnixMillis(1795860000123)), absl::FromUnixSeconds(1893456000));
}

TEST(DnsWireTest, BuildsDnssecQueries) {
  auto plain = BuildDnsQuery(7, "a.example", kTypeA);
  auto dnssec = BuildDnsQuery(7, "a.example", kTypeA, {.dnssec_ok = true});
  auto unchecked = BuildDnsQuery(7, "a.example", kTypeA, {.dnssec_ok = true, .checking_disabled = true});
  ASSERT_TRUE(plain.ok() && dnssec.ok() && unchecked.ok());
  // Header byte 3 holds CD (0x10); the OPT's TTL starts 6 bytes before its end, DO is its third byte's top bit.
  EXPECT_EQ(static_cast<uint8_t>((*plain)[3]), 0x00);
  EXPECT_EQ(static_cast<uint8_t>((*unchecked)[3]), 0x10);
  EXPECT_EQ(static_cast<uint8_t>((*plain)[plain->size() - 4]), 0x00);
  EXPECT_EQ(static_cast<uint8_t>((*dnssec)[dnssec->size() - 4]), 0x80);
  EXPECT_EQ(static_cast<uint8_t>((*dnssec)[3]), 0x00);
  // The OPT of the query parses as the parser reads a response's (QR set to make it one).
  std::string as_response = *unchecked;
  as_response[2] = static_cast<char>(as_response[2] | 0x80);
  auto parsed = ParseDnsResponse({reinterpret_cast<const uint8_t*>(as_response.data()), as_response.size()});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->checking_disabled);
  EXPECT_EQ(parsed->edns, (EdnsData{1232, 0, 0, true}));
}

TEST(ResolverAddressTest, Table) {
  struct Case { std::string text; std::string address; int port; std::string error; };
  const std::vector<Case> cases = {
      {"127.0.0.1:8053", "127.0.0.1", 8053, ""},
      {"9.9.9.9", "9.9.9.9", 53, ""},
      {"[::1]:5353", "::1", 5353, ""},
      {"::1", "::1", 53, ""},
      {"127.0.0.1:0", "", 0, "resolver \"127.0.0.1:0\": port \"0\" is not 1..65535"},
      {"dns.example:53", "", 0, "resolver \"dns.example:53\": \"dns.example\" is not an IP address"},
      {"[::1", "", 0, "resolver \"[::1\": missing ]"},
  };
  for (const Case& c : cases) {
    auto r = ParseResolverAddress(c.text);
    if (c.error.empty()) {
      ASSERT_TRUE(r.ok()) << c.text << ": " << r.status();
      EXPECT_EQ(r->address, c.address);
      EXPECT_EQ(r->port, c.port);
    } else {
      EXPECT_EQ(r.status().message(), c.error) << c.text;
    }
  }
}

TEST(TlsClassifyTest, Table) {
  struct Case { std::string name; std::vector<VerifyIssue> issues; std::optional<TlsError> want; };
  const std::vector<Case> cases = {
      {"no issue", {}, std::nullopt},
      {"expired leaf", {{0, X509_V_ERR_CERT_HAS_EXPIRED}}, TlsError::kExpired},
      {"expired intermediate is a chain problem", {{1, X509_V_ERR_CERT_HAS_EXPIRED}}, TlsError::kUntrusted},
      {"not yet valid leaf", {{0, X509_V_ERR_CERT_NOT_YET_VALID}}, TlsError::kNotYetValid},
      {"unknown issuer", {{0, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY}}, TlsError::kUntrusted},
      {"self-signed", {{0, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT}}, TlsError::kUntrusted},
      {"wrong name", {{0, X509_V_ERR_HOSTNAME_MISMATCH}}, TlsError::kNameMismatch},
      {"wrong name beats untrusted",
       {{0, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT}, {0, X509_V_ERR_HOSTNAME_MISMATCH}}, TlsError::kNameMismatch},
      {"expired beats wrong name and untrusted",
       {{0, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY}, {0, X509_V_ERR_CERT_HAS_EXPIRED},
        {0, X509_V_ERR_HOSTNAME_MISMATCH}}, TlsError::kExpired},
      {"revoked beats all", {{0, X509_V_ERR_CERT_HAS_EXPIRED}, {0, X509_V_ERR_CERT_REVOKED}}, TlsError::kRevoked},
  };
  for (const Case& c : cases) EXPECT_EQ(ClassifyVerifyIssues(c.issues), c.want) << c.name;
}

TEST(EndpointTest, Table) {
  EXPECT_EQ(ParseEndpoint("shop.example:443")->host, "shop.example");
  EXPECT_EQ(ParseEndpoint("[::1]:8443")->port, 8443);
  EXPECT_EQ(ParseEndpoint("shop.example").status().message(), "endpoint \"shop.example\" is not HOST:PORT");
  EXPECT_EQ(ParseEndpoint("::1:443").status().message(), "endpoint \"::1:443\" is not HOST:PORT");
  EXPECT_EQ(ParseEndpoint("a:99999").status().message(), "endpoint \"a:99999\": port \"99999\" is not 1..65535");
  EXPECT_EQ(ParseEndpoint("[::1]443").status().message(), "endpoint \"[::1]443\" is not [ADDRESS]:PORT");
}

TEST(AriCertIdTest, Rfc9773Example) {
  // RFC 9773 §4.1: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4 and
  // serial 0x87654321 (DER 00 87 65 43 21) give "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".
  const std::string aki("\x69\x88\x5B\x6B\x87\x46\x40\x41\xE1\xB3\x7B\x84\x7B\xA0\xAE\x2C\xDE\x01\xC8\xD4", 20);
  EXPECT_EQ(AriCertId(aki, std::string("\x00\x87\x65\x43\x21", 5)), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
}

// Generated with openssl (serial 0x87654321); expected ID from `openssl x509 -ext
// authorityKeyIdentifier` and Python's base64.urlsafe_b64encode.
constexpr char kGoldenPem[] = R"(-----BEGIN CERTIFICATE-----
MIIBczCCARmgAwIBAgIFAIdlQyEwCgYIKoZIzj0EAwIwFDESMBAGA1UEAwwJZ29s
ZGVuIENBMB4XDTI2MTEyODA1Mjc0MFoXDTM2MTEyNTA1Mjc0MFowFDESMBAGA1UE
AwwJc2hvcC50ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEgQcMZ0N+kbP5
Mh7tHN9rm1+9iN2+J0Uasdv27U+GMJIVLTWGqo5BTda3+xGdlRfsCykv6mW9gDiC
z3AxtOMxxqNYMFYwFAYDVR0RBA0wC4IJc2hvcC50ZXN0MB8GA1UdIwQYMBaAFM91
A9tSEInnjLzsJ4Jpn4qAbHFIMB0GA1UdDgQWBBR67UG6j2ZNKfrmZ7TkDc5Q2yUx
wjAKBggqhkjOPQQDAgNIADBFAiEA2B/aQaR9L5VxxR7b70MXUDs+Trtep2Qh6pYY
mFoHDBQCIC9/75Uty0rDiH0M1Mcp032Fyv8iF9Z1ujXi6CtFl+9h
-----END CERTIFICATE-----
)";

TEST(AriCertIdTest, FromPem) {
  auto id = AriCertIdFromPem(kGoldenPem);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "z3UD21IQieeMvOwngmmfioBscUg.AIdlQyE");
  EXPECT_EQ(AriCertIdFromPem("not a certificate").status().message(), "no PEM certificate found");
}

TEST(RenewalInfoTest, ParsesWindow) {
  auto info = ParseRenewalInfo(
      R"({"suggestedWindow":{"start":"2027-01-01T00:00:00Z","end":"2027-01-02T12:00:00Z"},"explanationURL":"https://ca.example/why"})");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(FormatRfc3339(info->window_start), "2027-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(info->window_end), "2027-01-02T12:00:00Z");
  EXPECT_EQ(info->explanation_url, "https://ca.example/why");
}

TEST(RenewalInfoTest, RejectsBadBodies) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "renewalInfo: not valid JSON"},
      {"[]", "renewalInfo: not a JSON object"},
      {"{}", "renewalInfo: suggestedWindow is missing or not an object"},
      {R"({"suggestedWindow":{"start":"2027-01-01T00:00:00Z"}})", "renewalInfo: suggestedWindow: end is missing"},
      {R"({"suggestedWindow":{"start":1,"end":"2027-01-01T00:00:00Z"}})",
       "renewalInfo: suggestedWindow: start is not a string"},
      {R"({"suggestedWindow":{"start":"2027-01-02T00:00:00Z","end":"2027-01-01T00:00:00Z"}})",
       "renewalInfo: suggestedWindow end is not after start"},
      {R"({"suggestedWindow":{"start":"2027-01-01T00:00:00Z","end":"2027-01-01T00:00:00Z"}})",
       "renewalInfo: suggestedWindow end is not after start"},
      {R"({"suggestedWindow":{"start":"2027-01-01T00:00:00Z","end":"2027-01-02T00:00:00Z"},"explanationURL":5})",
       "renewalInfo: explanationURL is not a string"},
  };
  for (const auto& [body, want] : cases) {
    auto r = ParseRenewalInfo(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().message(), want) << body;
  }
  auto bad_time = ParseRenewalInfo(R"({"suggestedWindow":{"start":"yesterday","end":"2027-01-01T00:00:00Z"}})");
  ASSERT_FALSE(bad_time.ok());
  EXPECT_EQ(bad_time.status().message().rfind("renewalInfo: suggestedWindow.start: ", 0), 0u) << bad_time.status();
  EXPECT_EQ(ParseRenewalInfo(std::string(kMaxAcmeBodyBytes + 1, ' ')).status().message(),
            StrCat("renewalInfo: body is ", kMaxAcmeBodyBytes + 1, " bytes, more than ", kMaxAcmeBodyBytes));
}

TEST(AcmeDirectoryTest, Table) {
  auto d = ParseAcmeDirectory(R"({"newNonce":"https://ca/nonce","renewalInfo":"https://ca/ri","meta":{}})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->new_nonce, "https://ca/nonce");
  EXPECT_EQ(d->renewal_info, "https://ca/ri");
  EXPECT_EQ(ParseAcmeDirectory(R"({"newNonce":"https://ca/nonce"})")->renewal_info, "");
  EXPECT_EQ(ParseAcmeDirectory("{}").status().message(), "directory: newNonce is missing");
  EXPECT_EQ(ParseAcmeDirectory(R"({"newNonce":7})").status().message(), "directory: newNonce is not a string");
  EXPECT_EQ(ParseAcmeDirectory(R"({"newNonce":"n","renewalInfo":[]})").status().message(),
            "directory: renewalInfo is not a string");
}

TEST(RetryAfterTest, Table) {
  const absl::Time now = *ParseRfc3339("1994-11-06T08:49:00Z");
  EXPECT_EQ(ParseRetryAfter("21600", now), 21600);
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now), 37);
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:48:00 GMT", now), 0);  // in the past: now
  EXPECT_EQ(ParseRetryAfter("", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("12s", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-5", now), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", now), std::nullopt);  // obsolete form
  EXPECT_EQ(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), *ParseRfc3339("1994-11-06T08:49:37Z"));
  EXPECT_EQ(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 UTC"), std::nullopt);
}

TEST(Http01RedirectTest, Table) {
  EXPECT_EQ(Http01RedirectRefusal("http", 80, 80), "");
  EXPECT_EQ(Http01RedirectRefusal("https", 443, 80), "");
  EXPECT_EQ(Http01RedirectRefusal("http", 8080, 8080), "");  // the probed port (tests)
  EXPECT_EQ(Http01RedirectRefusal("http", 8080, 80), "port 8080 is not 80 or 443");
  EXPECT_EQ(Http01RedirectRefusal("ftp", 21, 80), "scheme ftp is not http or https");
}

TEST(ScanConfigTest, ParsesTargetsInOrder) {
  FakeClock clock(absl::UnixEpoch());
  auto plan = ParseScanConfig(R"(
[scan]
concurrency = 3
timeout = "2s"
resolver = "127.0.0.1:8053"
[[tls]]
endpoint = "127.0.0.1:8443"
sni = "shop.test"
[[dns]]
name = "shop.test"
types = ["A", "TXT"]
[[http01]]
name = "shop.test"
port = 8080
[[ca]]
directory = "https://127.0.0.1:14000/dir"
)", clock);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->concurrency, 3);
  std::vector<std::string> labels;
  for (const ScanTarget& t : plan->targets) labels.push_back(t.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"tls 127.0.0.1:8443", "dns shop.test A", "dns shop.test TXT",
                                              "http01 shop.test", "ca https://127.0.0.1:14000/dir"}));
}

TEST(ScanConfigTest, RejectsBadConfigs) {
  FakeClock clock(absl::UnixEpoch());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[[tls]]\nsni = \"x\"", "tls[0]: endpoint is missing"},
      {"[[tls]]\nendpoint = \"x\"", "tls[0]: endpoint \"x\" is not HOST:PORT"},
      {"[[tls]]\nendpoint = 5", "tls[0]: endpoint is not a string"},
      {"[scan]\nconcurrency = 0", "scan: concurrency = 0 is not 1..256"},
      {"[scan]\ntimeout = \"forever\"", "scan: timeout: "},
      {"[scan]\ntimeout = \"11m\"", "scan: timeout must be within (0, 10m]"},
      {"[[dns]]\nname = \"a\"\ntypes = [\"MX\"]", "dns[0]: types: each must be one of A, AAAA, CNAME, CAA, NS, TXT"},
      {"[[dns]]\nname = \"a\"\ndnssec = \"yes\"", "dns[0]: dnssec is not a boolean"},
      {"[[http01]]\nname = \"a\"\nport = 70000", "http01[0]: port = 70000 is not 1..65535"},
      {"[[ca]]\ndirectory = \"x\"\ncert = \"shop\"", "ca[0]: \"x\" is not an absolute URL"},
      {"[[ca]]\ndirectory = \"https://ca/dir\"\ncert = \"shop\"", "ca[0]: ari_cert and cert go together"},
      {"[[probe]]\nname = \"a\"", "unknown table \"probe\" (expected scan, tls, dns, http01, ca, ntp)"},
      {"tls = 5", "tls must be an array of tables ([[tls]])"},
      {"[scan", "line 1, column "},
  };
  for (const auto& [text, want] : cases) {
    auto plan = ParseScanConfig(text, clock);
    ASSERT_FALSE(plan.ok()) << text;
    EXPECT_EQ(plan.status().message().substr(0, want.size()), want) << text << " -> " << plan.status();
  }
}

TEST(TlsTrustTest, LoadsOrSaysWhyNot) {
  const std::string not_pem = (std::filesystem::temp_directory_path() / "certcast_probe_test_not_pem.txt").string();
  std::ofstream(not_pem) << "not a certificate\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", ""},  // the system store
      {"/nonexistent/ca.pem", "--ca-file /nonexistent/ca.pem: "},
      {not_pem, StrCat("--ca-file ", not_pem, ": ")},
  };
  for (const auto& [ca_file, want] : cases) {
    auto trust = TlsTrust::Load(ca_file);
    if (want.empty()) {
      EXPECT_TRUE(trust.ok()) << ca_file << " -> " << trust.status();
      continue;
    }
    ASSERT_FALSE(trust.ok()) << ca_file;
    EXPECT_EQ(trust.status().code(), StatusCode::kInvalidArgument) << ca_file;
    EXPECT_EQ(trust.status().message().substr(0, want.size()), want) << ca_file << " -> " << trust.status();
  }
  std::remove(not_pem.c_str());
}

// A scan loads a CA file once for all its tls targets; a file that cannot be loaded is the error
// of every target naming it (before any connection is tried).
TEST(ScanTest, UnloadableCaFileIsTheErrorOfEveryTargetNamingIt) {
  FakeClock clock(absl::UnixEpoch());
  auto plan = ParseScanConfig(R"(
[scan]
concurrency = 2
ca_file = "/nonexistent/ca.pem"
[[tls]]
endpoint = "127.0.0.1:1"
[[tls]]
endpoint = "127.0.0.1:2"
)", clock);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const ScanResult result = RunScan(*plan);
  EXPECT_TRUE(result.events.empty());
  ASSERT_EQ(result.errors.size(), 2u);
  const std::vector<std::string> want = {"tls 127.0.0.1:1: --ca-file /nonexistent/ca.pem: ",
                                         "tls 127.0.0.1:2: --ca-file /nonexistent/ca.pem: "};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(result.errors[i].substr(0, want[i].size()), want[i]);
}

}  // namespace
}  // namespace certcast::probe
