// Tests of the ACME client parsers: golden files over real certbot 2.1 / lego 4.9 logs captured
// by acme-lab (tests/data/client-logs, see extract.sh there), then bad inputs with exact errors.
//
// Golden files pair LOG with LOG.events.jsonl. To regenerate after a deliberate change, run with
// CERTCAST_UPDATE_GOLDEN=1 and review the diff line by line before committing it.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "collect/clients/acme_sh.h"
#include "collect/clients/acme_sh_log.h"
#include "collect/clients/certbot_log.h"
#include "collect/clients/certbot_renewal_conf.h"
#include "collect/clients/certificate.h"
#include "collect/clients/common.h"
#include "collect/clients/discover.h"
#include "collect/clients/lego_output.h"
#include "collect/clients/lego_state.h"
#include "absl/strings/escaping.h"
#include "core/event_json.h"
#include "core/strings.h"
#include "core/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace certcast::clients {

// Readable failures for issue lists.
void PrintTo(const Issue& issue, std::ostream* os) { *os << issue.line << ": " << issue.reason; }

namespace {

namespace fs = std::filesystem;
const fs::path kData = "tests/data/client-logs";

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Lines(const std::vector<Event>& events) {
  std::string out;
  for (const Event& e : events) {
    out += EventToJson(e);
    out += '\n';
  }
  return out;
}

absl::Time T(std::string_view rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.ok()) << rfc3339;
  return t.value_or(absl::UnixEpoch());
}

// ---- golden files over real logs ----

struct GoldenCase {
  const char* file;
  const char* client;           // certbot | lego
  const char* fallback_cert;    // --cert, or nullptr
  const char* ca;               // --ca (lego), or nullptr
};

// Every client log of the acme-lab run. The lego cases name --cert and --ca as the lab's command
// lines did (lego's output does not print the domain when it fails before ordering, nor the
// directory unless fetching it fails; ACME_DIR in the lab selects pebble's port).
const GoldenCase kGoldenCases[] = {
    {"certbot-account-key-mismatch.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-account-lost.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-acme-server-hang.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-bad-nonce.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-ca-down.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-caa-forbids-ca.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-clock-minus1y.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-clock-plus6y.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-clock-plus70d-due.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-dns-no-a-record.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-dns-servfail-a.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-dns01-txt-missing.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-dns01-txt-servfail.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-dns01-txt-wrong.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-eab-required.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-http01-404-webroot.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-http01-nothing-listening.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-http01-port-in-use.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-http01-timeout.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-http01-wrong-ip.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-ok-eab.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-ok-issue-dns01.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-ok-issue-http01.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-ok-renew-dns01.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-ok-renew-http01.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-ok-renew-not-due.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-rejected-identifier.letsencrypt.log", "certbot", nullptr, nullptr},
    {"certbot-untrusted-ca-tls.letsencrypt.log", "certbot", nullptr, nullptr},
    {"lego-account-key-mismatch.out", "lego", "l-http.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-account-lost.out", "lego", "l-http.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-acme-server-hang.out", "lego", "hang.acmelab.test", "https://127.0.0.1:14300/dir"},
    {"lego-bad-nonce.out", "lego", "nonce.acmelab.test", "https://127.0.0.1:14100/dir"},
    {"lego-ca-down.out", "lego", "l-http.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-caa-forbids-ca.out", "lego", "l-http.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-clock-plus70d-ignored.out", "lego", "l-http.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-dns-no-a-record.out", "lego", "l-http.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-dns-servfail-a.out", "lego", "l-http.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-dns01-propagation-timeout.out", "lego", "l-dns.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-dns01-txt-missing.out", "lego", "l-dns.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-dns01-txt-servfail.out", "lego", "l-dns.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-dns01-txt-wrong.out", "lego", "l-dns.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-eab-required.out", "lego", "eab.acmelab.test", "https://127.0.0.1:14200/dir"},
    {"lego-http01-404-webroot.out", "lego", "l-http.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-http01-nothing-listening.out", "lego", "l-http.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-http01-port-in-use.out", "lego", "l-http.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-http01-timeout.out", "lego", "l-http.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-http01-wrong-ip.out", "lego", "l-http.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-ok-eab.out", "lego", "eab.acmelab.test", "https://127.0.0.1:14200/dir"},
    {"lego-ok-issue-dns01.out", "lego", "l-dns.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-ok-issue-http01.out", "lego", "l-http.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-ok-issue-tlsalpn01.out", "lego", "l-alpn.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-ok-renew-dns01.out", "lego", "l-dns.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-ok-renew-http01.out", "lego", "l-http.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-ok-renew-not-due.out", "lego", "l-http.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-rejected-identifier.out", "lego", "blocked.acmelab.test", "https://127.0.0.1:14000/dir"},
    {"lego-untrusted-ca-tls.out", "lego", "l-http.acmelab.test", "https://127.0.0.1:14000/dir"},
};

ParseOutput ParseCase(const GoldenCase& c) {
  const std::string text = ReadAll(kData / c.file);
  if (std::string_view(c.client) == "certbot") {
    CertbotLogOptions options;
    if (c.fallback_cert) options.fallback_cert = c.fallback_cert;
    return ParseCertbotLog(text, options);
  }
  LegoOutputOptions options;
  if (c.fallback_cert) options.fallback_cert = c.fallback_cert;
  if (c.ca) options.ca = c.ca;
  return ParseLegoOutput(text, options);
}

TEST(ClientLogGolden, EveryRealLogGivesExactlyItsGoldenEvents) {
  const bool update = std::getenv("CERTCAST_UPDATE_GOLDEN") != nullptr;
  for (const GoldenCase& c : kGoldenCases) {
    SCOPED_TRACE(c.file);
    const ParseOutput out = ParseCase(c);
    EXPECT_THAT(out.issues, testing::IsEmpty());
    for (const Issue& issue : out.issues) ADD_FAILURE() << issue.line << ": " << issue.reason;
    const std::string got = Lines(out.events);
    const fs::path golden = kData / (std::string(c.file) + ".events.jsonl");
    if (update) {
      std::ofstream(golden, std::ios::binary) << got;
      continue;
    }
    EXPECT_EQ(got, ReadAll(golden));
    // Every emitted line is a valid events-v1 line that reads back to the same event.
    for (const Event& e : out.events) {
      auto again = ParseEventLine(EventToJson(e));
      ASSERT_TRUE(again.ok()) << again.status();
      EXPECT_EQ(*again, e);
    }
  }
}

// What the golden files say, restated as facts the acme-lab summary lists, so that a wrong
// golden file cannot pass unnoticed: outcome and error type per scenario.
struct Expectation {
  const char* file;
  size_t events;
  const char* outcome;  // of the last event
  const char* error;    // of the last event, "" when none
};
const Expectation kExpectations[] = {
    {"certbot-ok-issue-http01.letsencrypt.log", 1, "success", ""},
    {"certbot-ok-renew-not-due.letsencrypt.log", 0, "", ""},
    {"certbot-http01-nothing-listening.letsencrypt.log", 1, "failure",
     "urn:ietf:params:acme:error:connection"},
    {"certbot-http01-404-webroot.letsencrypt.log", 1, "failure",
     "urn:ietf:params:acme:error:unauthorized"},
    {"certbot-http01-port-in-use.letsencrypt.log", 1, "failure", "local"},
    {"certbot-rejected-identifier.letsencrypt.log", 1, "failure",
     "urn:ietf:params:acme:error:rejectedIdentifier"},
    {"certbot-bad-nonce.letsencrypt.log", 1, "failure", "urn:ietf:params:acme:error:badNonce"},
    {"certbot-eab-required.letsencrypt.log", 1, "failure",
     "urn:ietf:params:acme:error:externalAccountRequired"},
    {"certbot-ca-down.letsencrypt.log", 1, "failure", "network"},
    {"certbot-acme-server-hang.letsencrypt.log", 1, "failure", "timeout"},
    {"certbot-account-lost.letsencrypt.log", 1, "failure",
     "urn:ietf:params:acme:error:accountDoesNotExist"},
    {"lego-ok-renew-not-due.out", 0, "", ""},
    {"lego-ok-renew-dns01.out", 1, "success", ""},
    {"lego-http01-port-in-use.out", 1, "failure", "local"},
    {"lego-dns01-propagation-timeout.out", 1, "failure", "timeout"},
    {"lego-rejected-identifier.out", 1, "failure",
     "urn:ietf:params:acme:error:rejectedIdentifier"},
    {"lego-bad-nonce.out", 1, "failure", "urn:ietf:params:acme:error:badNonce"},
    {"lego-acme-server-hang.out", 1, "failure", "timeout"},
    {"lego-untrusted-ca-tls.out", 1, "failure", "network"},
};

TEST(ClientLogGolden, OutcomesMatchTheLabSummary) {
  for (const Expectation& x : kExpectations) {
    SCOPED_TRACE(x.file);
    const GoldenCase* c = nullptr;
    for (const auto& g : kGoldenCases) {
      if (std::string_view(g.file) == x.file) c = &g;
    }
    ASSERT_NE(c, nullptr);
    const ParseOutput out = ParseCase(*c);
    ASSERT_EQ(out.events.size(), x.events);
    if (x.events == 0) continue;
    const auto* r = out.events.back().As<RenewalEvent>();
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(ToString(r->outcome), x.outcome);
    EXPECT_EQ(r->error.value_or(""), x.error);
  }
}

// The lab's own verdicts (summary.tsv: client, scenario, expected outcome, ACME error types seen
// in the output) checked against the events, independently of the golden files: an expected
// success has only success events (none when the client said the certificate was not due), an
// expected failure ends in a failure whose error is the ACME type the lab saw, or a client-side
// code when the lab saw none (the EAB case maps to its RFC 8555 type; docs/collectors.md).
TEST(ClientLogGolden, EventsAgreeWithTheLabSummary) {
  const std::string summary = ReadAll(kData / "summary.tsv");
  size_t checked = 0;
  for (const Line& line : SplitLines(summary)) {
    if (line.number == 1 || line.text.empty()) continue;  // header
    std::vector<std::string_view> columns;
    std::string_view rest = line.text;
    for (size_t at; (at = rest.find('\t')) != std::string_view::npos; rest.remove_prefix(at + 1)) {
      columns.push_back(rest.substr(0, at));
    }
    columns.push_back(rest);
    ASSERT_GE(columns.size(), 7u) << line.text;
    const std::string client(columns[0]), scenario(columns[1]), expect(columns[2]);
    const std::string_view types = columns[5], key_line = columns[6];
    const std::string file = client == "certbot" ? StrCat("certbot-", scenario, ".letsencrypt.log")
                                                 : StrCat("lego-", scenario, ".out");
    SCOPED_TRACE(file);
    const GoldenCase* c = nullptr;
    for (const auto& g : kGoldenCases) {
      if (file == g.file) c = &g;
    }
    ASSERT_NE(c, nullptr) << "no golden case for " << file;
    const ParseOutput out = ParseCase(*c);
    ++checked;
    if (expect == "ok") {
      const bool not_due = key_line.find("not yet due") != std::string_view::npos ||
                           key_line.find("no renewal") != std::string_view::npos;
      EXPECT_EQ(out.events.empty(), not_due);
      for (const Event& e : out.events) EXPECT_EQ(e.As<RenewalEvent>()->outcome, Outcome::kSuccess);
      continue;
    }
    ASSERT_FALSE(out.events.empty());
    const RenewalEvent& last = *out.events.back().As<RenewalEvent>();
    EXPECT_EQ(last.outcome, Outcome::kFailure);
    if (types != "-") {
      // "acme:connection" -> the URN; the lab lists the first type it saw.
      const std::string_view first = types.substr(0, types.find(','));
      EXPECT_EQ(last.error, StrCat("urn:ietf:params:acme:error:", first.substr(5)));
    } else {
      const std::string error = last.error.value_or("");
      EXPECT_TRUE(error == "timeout" || error == "network" || error == "local" ||
                  error == "hook" || error == "dns_api" || error == "unknown" ||
                  error == "urn:ietf:params:acme:error:externalAccountRequired")
          << error;
    }
  }
  EXPECT_EQ(checked, std::size(kGoldenCases));
}

// certbot 2.1 hides the order error behind "AttributeError: can't set attribute"; the type must
// come from the traceback, and the detail must be the CA's, not the AttributeError.
TEST(CertbotLog, MaskedOrderErrorKeepsTheAcmeProblem) {
  const ParseOutput out =
      ParseCertbotLog(ReadAll(kData / "certbot-rejected-identifier.letsencrypt.log"), {});
  ASSERT_EQ(out.events.size(), 1u);
  const auto& r = *out.events[0].As<RenewalEvent>();
  EXPECT_EQ(r.cert, "blocked");
  EXPECT_EQ(r.error, "urn:ietf:params:acme:error:rejectedIdentifier");
  EXPECT_EQ(r.detail, "Order included an identifier for which issuance is forbidden by policy: "
                      "\"blocked.acmelab.test\"");
}

// Regression: the first version named a certonly attempt after "Requesting a certificate for
// X" even when --cert-name said otherwise, so `certbot certonly -d c-http.example --cert-name
// c-http` and the later `certbot renew` of lineage c-http looked like two lineages.
TEST(CertbotLog, CertNameArgumentWinsOverTheRequestedDomain) {
  const std::string log =
      "2026-11-28 10:00:00,000:DEBUG:certbot._internal.main:certbot version: 2.1.0\n"
      "2026-11-28 10:00:00,001:DEBUG:certbot._internal.main:Arguments: ['-d', 'a.example', "
      "'--cert-name', 'shop']\n"
      "2026-11-28 10:00:01,000:DEBUG:certbot._internal.display.obj:Notifying user: Requesting a "
      "certificate for a.example\n"
      "2026-11-28 10:00:02,000:DEBUG:certbot._internal.display.obj:Notifying user: \n"
      "Successfully received certificate.\n";
  const ParseOutput out = ParseCertbotLog(log, {});
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].As<RenewalEvent>()->cert, "shop");
  EXPECT_EQ(out.events[0].As<RenewalEvent>()->duration_ms, 2000);
}

TEST(CertbotLog, TzOffsetShiftsLocalTimestampsToUtc) {
  const std::string text = ReadAll(kData / "certbot-ok-renew-http01.letsencrypt.log");
  CertbotLogOptions utc;
  CertbotLogOptions cet;
  cet.utc_offset = absl::Hours(1);
  const ParseOutput a = ParseCertbotLog(text, utc);
  const ParseOutput b = ParseCertbotLog(text, cet);
  ASSERT_EQ(a.events.size(), 1u);
  ASSERT_EQ(b.events.size(), 1u);
  EXPECT_EQ(a.events[0].ts, T("2026-11-28T02:51:31.378Z"));
  EXPECT_EQ(b.events[0].ts, T("2026-11-28T01:51:31.378Z"));
}

// Two lineages in one `certbot renew` run: one fails, one succeeds; each gets its own event
// with its own error, and a lineage that was not due gets none.
TEST(CertbotLog, RenewRunWithSeveralLineages) {
  const std::string log =
      "2026-11-28 10:00:00,000:DEBUG:certbot._internal.main:certbot version: 2.1.0\n"
      "2026-11-28 10:00:00,001:DEBUG:certbot._internal.main:Arguments: ['--dry-run']\n"
      "2026-11-28 10:00:01,000:DEBUG:certbot._internal.display.obj:Notifying user: Processing "
      "/etc/letsencrypt/renewal/a.conf\n"
      "2026-11-28 10:00:01,100:DEBUG:certbot._internal.display.obj:Notifying user: Certificate "
      "not yet due for renewal\n"
      "2026-11-28 10:00:02,000:DEBUG:certbot._internal.display.obj:Notifying user: Processing "
      "/etc/letsencrypt/renewal/b.conf\n"
      "2026-11-28 10:00:02,100:INFO:certbot._internal.renewal:Certificate is due for renewal, "
      "auto-renewing...\n"
      "2026-11-28 10:00:02,200:INFO:certbot._internal.plugins.selection:Plugins selected: "
      "Authenticator dns-cloudflare, Installer None\n"
      "2026-11-28 10:00:02,300:DEBUG:acme.client:Sending GET request to "
      "https://acme-staging-v02.api.letsencrypt.org/directory.\n"
      "2026-11-28 10:00:02,400:DEBUG:certbot._internal.display.obj:Notifying user: Simulating "
      "renewal of an existing certificate for b.example\n"
      "2026-11-28 10:00:05,000:ERROR:certbot._internal.renewal:Failed to renew certificate b "
      "with error: Hook '--manual-auth-hook' for b.example ran with error output\n"
      "2026-11-28 10:00:06,000:DEBUG:certbot._internal.display.obj:Notifying user: Processing "
      "/etc/letsencrypt/renewal/c.conf\n"
      "2026-11-28 10:00:06,100:INFO:certbot._internal.plugins.selection:Plugins selected: "
      "Authenticator webroot, Installer None\n"
      "2026-11-28 10:00:06,200:DEBUG:certbot._internal.display.obj:Notifying user: Simulating "
      "renewal of an existing certificate for c.example\n"
      "2026-11-28 10:00:09,000:DEBUG:certbot._internal.storage:done\n"
      "2026-11-28 10:00:09,500:DEBUG:certbot._internal.display.obj:Notifying user: "
      "Congratulations, all simulated renewals succeeded:\n"
      "2026-11-28 10:00:09,500:DEBUG:certbot._internal.display.obj:Notifying user:   "
      "/etc/letsencrypt/live/c/fullchain.pem (success)\n";
  const ParseOutput out = ParseCertbotLog(log, {});
  EXPECT_THAT(out.issues, testing::IsEmpty());
  EXPECT_EQ(Lines(out.events),
            R"({"ts":"2026-11-28T10:00:02Z","type":"renewal","cert":"b","outcome":"failure","error":"hook","detail":"Hook '--manual-auth-hook' for b.example ran with error output","challenge":"dns-01","ca":"https://acme-staging-v02.api.letsencrypt.org/directory","duration_ms":3000,"dry_run":true,"trigger":"schedule"})"
            "\n"
            R"({"ts":"2026-11-28T10:00:06Z","type":"renewal","cert":"c","outcome":"success","challenge":"http-01","duration_ms":3000,"dry_run":true})"
            "\n");
}

struct BadLog {
  const char* name;
  std::string text;
  std::vector<Issue> issues;
  size_t events;
};

TEST(CertbotLog, BadInputsAreReportedWithLineAndReason) {
  const std::string start =
      "2026-11-28 10:00:00,000:DEBUG:certbot._internal.main:certbot version: 2.1.0\n";
  const BadLog cases[] = {
      // Terminal output is read too; a line that reads like an error and means nothing known
      // is reported, not dropped.
      {"an error line nobody knows", "Error: the flux capacitor broke\n" + start,
       {{1, "certbot line not understood: \"Error: the flux capacitor broke\""}}, 0},
      {"impossible timestamp", start + "2026-13-40 10:00:00,000:DEBUG:x:y\n",
       {{2, "record has an impossible timestamp"}}, 0},
      {"line too long", start + std::string(kMaxLogLineBytes + 1, 'x') + "\n",
       {{2, "line longer than 1048576 bytes"}}, 0},
      {"bad arguments", start + "2026-11-28 10:00:00,001:DEBUG:certbot._internal.main:"
                                "Arguments: ['--cert-name', 'x]\n",
       {{2, "certbot arguments: has an unterminated string"}}, 0},
      {"failure without a lineage",
       start + "2026-11-28 10:00:01,000:DEBUG:certbot._internal.log:Exiting abnormally:\n"
               "2026-11-28 10:00:01,001:ERROR:certbot._internal.log:boom\n",
       {{1, "certbot attempt names no lineage (no --cert-name or -d); pass --cert NAME"}}, 0},
      {"attempt cut short",
       start + "2026-11-28 10:00:01,000:DEBUG:certbot._internal.display.obj:Notifying user: "
               "Requesting a certificate for a.example\n",
       {{2, "certbot attempt for a.example has no outcome (the log ends first); recorded as a "
            "failure, error unknown"}},
       1},
      {"processing line without a conf",
       start + "2026-11-28 10:00:01,000:DEBUG:certbot._internal.display.obj:Notifying user: "
               "Processing nothing\n"
               "2026-11-28 10:00:02,000:ERROR:certbot._internal.renewal:Failed to renew "
               "certificate  with error: x\n",
       {{2, "\"Processing\" names no renewal/NAME.conf file"},
        {3, "certbot attempt names no lineage (no --cert-name or -d); pass --cert NAME"}},
       0},
  };
  for (const BadLog& c : cases) {
    SCOPED_TRACE(c.name);
    const ParseOutput out = ParseCertbotLog(c.text, {});
    EXPECT_EQ(out.issues, c.issues);
    EXPECT_EQ(out.events.size(), c.events);
  }
  ParseOutput huge = ParseCertbotLog(std::string(kMaxLogBytes + 1, '\n'), {});
  EXPECT_EQ(huge.issues, (std::vector<Issue>{{0, "log larger than 67108864 bytes"}}));
}

TEST(LegoOutput, BadInputsAreReportedWithLineAndReason) {
  const BadLog cases[] = {
      {"failure before any domain, no --cert",
       "2026/11/28 02:55:14 Could not create client: get directory at 'https://ca/dir': x\n",
       {{1, "lego attempt names no domain before it ended; pass --cert NAME"}}, 0},
      {"attempt cut short",
       "2026/11/28 02:51:34 [INFO] [a.example] acme: Obtaining bundled SAN certificate\n",
       {{1, "lego attempt for a.example has no outcome (the output ends first); recorded as a "
            "failure, error unknown"}},
       1},
      {"impossible timestamp", "2026/02/30 02:51:34 [INFO] x\n",
       {{1, "record has an impossible timestamp"}}, 0},
  };
  for (const BadLog& c : cases) {
    SCOPED_TRACE(c.name);
    const ParseOutput out = ParseLegoOutput(c.text, {});
    EXPECT_EQ(out.issues, c.issues);
    EXPECT_EQ(out.events.size(), c.events);
  }
}

TEST(LegoOutput, DirectoryInTheErrorNamesTheCa) {
  LegoOutputOptions options;
  options.fallback_cert = "shop.example";
  const ParseOutput out = ParseLegoOutput(
      "2026/11/28 02:55:14 Could not create client: get directory at "
      "'https://acme.example/dir': Get \"https://acme.example/dir\": dial tcp 192.0.2.1:443: "
      "connect: connection refused\n",
      options);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(EventToJson(out.events[0]),
            R"({"ts":"2026-11-28T02:55:14Z","type":"renewal","cert":"shop.example","outcome":"failure","error":"network","detail":"Could not create client: get directory at 'https://acme.example/dir': Get \"https://acme.example/dir\": dial tcp 192.0.2.1:443: connect: connection refused","ca":"https://acme.example/dir","duration_ms":0})");
}

// lego 4.9 with the exec DNS provider whose command fails (the e2e lab's broken DNS API): lego
// passes the command's output through as a plain line, then goes on logging; only the last plain
// line is its fatal error. A second run follows in the same log (a cron job's appended output).
TEST(LegoOutput, ADnsProviderLinePassedThroughIsNotTheFatalErrorButExplainsIt) {
  const ParseOutput out = ParseLegoOutput(
      "2026/11/28 08:02:59 [INFO] [mail.lab.test] acme: Trying renewal with 0 hours remaining\n"
      "2026/11/28 08:02:59 [INFO] [mail.lab.test] acme: Obtaining bundled SAN certificate\n"
      "2026/11/28 08:02:59 [INFO] [mail.lab.test] acme: use dns-01 solver\n"
      "2026/11/28 08:02:59 [INFO] [mail.lab.test] acme: Preparing to solve DNS-01\n"
      "2026/11/28 08:02:59 dns01-txt.sh: DNS API refused to set TXT _acme-challenge.mail.lab.test.: "
      "401 invalid API token (lab fault)\n"
      "\n"
      "2026/11/28 08:02:59 [INFO] [mail.lab.test] acme: Cleaning DNS-01 challenge\n"
      "2026/11/28 08:03:00 error: one or more domains had a problem:\n"
      "[mail.lab.test] [mail.lab.test] acme: error presenting token: exit status 1\n"
      "2026/11/28 08:03:05 [INFO] [mail.lab.test] acme: Trying renewal with 0 hours remaining\n"
      "2026/11/28 08:03:05 [INFO] [mail.lab.test] acme: Obtaining bundled SAN certificate\n"
      "2026/11/28 08:03:05 [INFO] [mail.lab.test] acme: use http-01 solver\n"
      "2026/11/28 08:03:06 [INFO] [mail.lab.test] Server responded with a certificate.\n",
      {});
  EXPECT_TRUE(out.issues.empty());
  ASSERT_EQ(out.events.size(), 2u);
  EXPECT_EQ(EventToJson(out.events[0]),
            R"x({"ts":"2026-11-28T08:02:59Z","type":"renewal","cert":"mail.lab.test","outcome":"failure","error":"dns_api","detail":"[mail.lab.test] [mail.lab.test] acme: error presenting token: exit status 1; dns01-txt.sh: DNS API refused to set TXT _acme-challenge.mail.lab.test.: 401 invalid API token (lab fault)","challenge":"dns-01","duration_ms":1000})x");
  EXPECT_NE(EventToJson(out.events[1]).find(R"("outcome":"success")"), std::string::npos);
}

// ---- shared helpers ----

TEST(Common, FindAcmeProblemReadsBothClientsForms) {
  auto certbot = FindAcmeProblem(
      "acme.messages.Error: urn:ietf:params:acme:error:malformed :: The request message was "
      "malformed :: JWS verification error",
      ProblemStyle::kCertbot);
  ASSERT_TRUE(certbot);
  EXPECT_EQ(certbot->type, "urn:ietf:params:acme:error:malformed");
  EXPECT_EQ(certbot->detail, "JWS verification error");
  auto lego = FindAcmeProblem(
      "acme: error: 400 :: POST :: https://ca/order :: urn:ietf:params:acme:error:"
      "rejectedIdentifier :: a :: b",
      ProblemStyle::kLego);
  ASSERT_TRUE(lego);
  EXPECT_EQ(lego->type, "urn:ietf:params:acme:error:rejectedIdentifier");
  EXPECT_EQ(lego->detail, "a :: b");
  EXPECT_FALSE(FindAcmeProblem("urn:ietf:params:acme:error: nothing", ProblemStyle::kLego));
  EXPECT_FALSE(FindAcmeProblem("no problem here", ProblemStyle::kCertbot));
}

TEST(Common, ClassifyClientError) {
  const std::pair<const char*, const char*> cases[] = {
      {"Could not bind TCP port 5002 because it is already in use", "local"},
      {"listen tcp 127.0.0.1:5002: bind: address already in use", "local"},
      {"Read timed out. (read timeout=45)", "timeout"},
      {"context deadline exceeded (Client.Timeout exceeded while awaiting headers)", "timeout"},
      {"Requesting 127.0.0.1/dir: Connection refused", "network"},
      {"x509: certificate signed by unknown authority", "network"},
      {"Hook '--manual-auth-hook' for x ran with error output", "hook"},
      {"acme: error presenting token: cloudflare: failed to find zone", "dns_api"},
      {"Server requires External Account Binding.",
       "urn:ietf:params:acme:error:externalAccountRequired"},
      {"something else entirely", "unknown"},
  };
  for (const auto& [message, error] : cases) EXPECT_EQ(ClassifyClientError(message), error) << message;
}

TEST(Common, ParseUtcOffset) {
  EXPECT_EQ(*ParseUtcOffset("+01:00"), absl::Hours(1));
  EXPECT_EQ(*ParseUtcOffset("-0530"), -(absl::Hours(5) + absl::Minutes(30)));
  EXPECT_EQ(*ParseUtcOffset("Z"), absl::ZeroDuration());
  for (const char* bad : {"", "1", "+1:00", "+15:00", "+01:60", "01:00x", "+ab:cd"}) {
    auto r = ParseUtcOffset(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().message(),
              StrCat("UTC offset \"", bad, "\" is not +HH:MM, -HH:MM, +HHMM or Z"));
  }
}

// CleanDetail cuts to kMaxDetailBytes on a character boundary: a cut through an "é" must not
// leave half of it (the replacement would be stored instead, or, before core/utf8.h, the stray
// byte made the whole event unreadable).
TEST(Common, CleanDetailIsValidUtf8CutOnACharacterBoundary) {
  struct Case {
    std::string in, out;
  } cases[] = {
      {"  caf\xc3\xa9  ", "caf\xc3\xa9"},
      {"a\xff" "b", "a\xEF\xBF\xBD" "b"},
      {std::string(kMaxDetailBytes - 1, 'x') + "\xc3\xa9", std::string(kMaxDetailBytes - 1, 'x')},
      {std::string(kMaxDetailBytes - 1, 'x') + "\xe9", std::string(kMaxDetailBytes - 1, 'x')},
      {std::string(kMaxDetailBytes, 'x') + "yz", std::string(kMaxDetailBytes, 'x')},
  };
  for (const auto& c : cases) EXPECT_EQ(CleanDetail(c.in), c.out) << c.in.substr(0, 20);
}

TEST(CertbotLog, ParsePythonStringList) {
  EXPECT_EQ(*ParsePythonStringList(R"(['-d', 'a.example', "it's", 'back\\slash'])"),
            (std::vector<std::string>{"-d", "a.example", "it's", "back\\slash"}));
  EXPECT_EQ(*ParsePythonStringList("[]"), std::vector<std::string>{});
  const std::pair<const char*, const char*> bad[] = {
      {"'a'", "is not a Python list [...]"},
      {"[a]", "item at offset 1 is not a quoted string"},
      {"['a' 'b']", "items are not separated by ','"},
      {"['a]", "has an unterminated string"},
  };
  for (const auto& [text, error] : bad) {
    auto r = ParsePythonStringList(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().message(), error);
  }
}

// ---- certificates ----

TEST(Certificate, ReadsARealPebbleCertificate) {
  auto facts = ParseCertificate(ReadAll(kData / "state/c-dns.pem"));
  ASSERT_TRUE(facts.ok()) << facts.status();
  EXPECT_EQ(facts->serial, "30c57e27fc53d8d6");
  EXPECT_EQ(facts->not_before, T("2026-11-28T02:51:42Z"));
  EXPECT_EQ(facts->not_after, T("2027-02-26T02:51:41Z"));
  EXPECT_EQ(facts->names, (std::vector<std::string>{"c-dns.acmelab.test", "*.c-dns.acmelab.test"}));
}

TEST(Certificate, DerAndPemGiveTheSameFacts) {
  const std::string pem = ReadAll(kData / "state/c-http.pem");
  auto from_pem = ParseCertificate(pem);
  ASSERT_TRUE(from_pem.ok());
  // DER = the base64 body of the PEM, decoded.
  std::string body;
  for (const Line& l : SplitLines(pem)) {
    if (!l.text.starts_with("-----")) body.append(l.text);
  }
  std::string der;
  ASSERT_TRUE(absl::Base64Unescape(body, &der));
  auto from_der = ParseCertificate(der);
  ASSERT_TRUE(from_der.ok()) << from_der.status();
  EXPECT_EQ(*from_der, *from_pem);
}

TEST(Certificate, BadInputs) {
  const std::string pem = ReadAll(kData / "state/c-http.pem");
  std::string corrupt = pem;
  corrupt[100] = '!';
  const std::pair<std::string, const char*> cases[] = {
      {"", "certificate file is empty"},
      {std::string(kMaxCertificateFileBytes + 1, 'x'), "certificate file larger than 262144 bytes"},
      {"garbage", "neither PEM nor a DER certificate"},
      {"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
       "PEM data holds no CERTIFICATE block"},
      {corrupt, "PEM certificate block does not decode"},
  };
  for (const auto& [input, error] : cases) {
    auto r = ParseCertificate(input);
    ASSERT_FALSE(r.ok()) << error;
    EXPECT_EQ(r.status().message(), error);
  }
}

// ---- certbot renewal conf ----

TEST(CertbotRenewalConf, ConfigEventFromConfAndCertificate) {
  auto conf = ParseCertbotRenewalConf(ReadAll(kData / "state/c-dns.conf"));
  ASSERT_TRUE(conf.ok()) << conf.status();
  auto cert = ParseCertificate(ReadAll(kData / "state/c-dns.pem"));
  ASSERT_TRUE(cert.ok());
  auto event = CertbotConfigEvent(
      *conf, {"c-dns", "web1", cert->names, T("2026-11-28T03:00:00Z")});
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(EventToJson(*event),
            R"({"ts":"2026-11-28T03:00:00Z","type":"config","cert":"c-dns","host":"web1","names":["c-dns.acmelab.test","*.c-dns.acmelab.test"],"client":"certbot","client_version":"2.1.0","ca":"https://127.0.0.1:14000/dir","challenge":"dns-01","ari":false,"renew_rule":"days_left:14"})");
  // The commented default "# renew_before_expiry = 30 days" is certbot's default, 30 days.
  auto http = ParseCertbotRenewalConf(ReadAll(kData / "state/c-http.conf"));
  ASSERT_TRUE(http.ok());
  auto http_event = CertbotConfigEvent(*http, {"c-http", "web1", {"c-http.acmelab.test"},
                                               T("2026-11-28T03:00:00Z")});
  ASSERT_TRUE(http_event.ok());
  EXPECT_EQ(EventToJson(*http_event),
            R"({"ts":"2026-11-28T03:00:00Z","type":"config","cert":"c-http","host":"web1","names":["c-http.acmelab.test"],"client":"certbot","client_version":"2.1.0","ca":"https://127.0.0.1:14000/dir","challenge":"http-01","ari":false,"renew_rule":"days_left:30"})");
}

TEST(CertbotRenewalConf, BadInputs) {
  const std::pair<const char*, const char*> parse_errors[] = {
      {"version = 2.1.0\nnot a pair\n", "line 2: expected \"key = value\""},
      {"[renewalparams\n", "line 1: unbalanced section header"},
      {" = x\n", "line 1: empty key"},
  };
  for (const auto& [text, error] : parse_errors) {
    auto r = ParseCertbotRenewalConf(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().message(), error);
  }
  const CertbotConfigInputs inputs{"x", "web1", {"x.example"}, T("2026-11-28T00:00:00Z")};
  const std::pair<const char*, const char*> event_errors[] = {
      {"[renewalparams]\nserver = https://ca/dir\n", "renewalparams has no authenticator"},
      {"[renewalparams]\nauthenticator = magic\n",
       "authenticator \"magic\" has no known challenge type"},
      {"[renewalparams]\nauthenticator = manual\npref_challs = carrier-pigeon,\n",
       "pref_challs: \"carrier-pigeon\" is not a challenge type"},
      {"renew_before_expiry = 1 month\n[renewalparams]\nauthenticator = webroot\n",
       "renew_before_expiry: \"1 month\" is not N weeks, days, hours, minutes or seconds"},
  };
  for (const auto& [text, error] : event_errors) {
    auto conf = ParseCertbotRenewalConf(text);
    ASSERT_TRUE(conf.ok()) << text;
    auto r = CertbotConfigEvent(*conf, inputs);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().message(), error);
  }
  // Short-lived certificates (and test labs) renew hours or minutes before expiry.
  auto minutes = ParseCertbotRenewalConf(
      "renew_before_expiry = 90 minutes\n[renewalparams]\nauthenticator = webroot\n");
  ASSERT_TRUE(minutes.ok());
  auto short_rule = CertbotConfigEvent(*minutes, inputs);
  ASSERT_TRUE(short_rule.ok()) << short_rule.status();
  EXPECT_NE(EventToJson(*short_rule).find(R"("renew_rule":"days_left:0.0625")"), std::string::npos)
      << EventToJson(*short_rule);
  auto conf = ParseCertbotRenewalConf("[renewalparams]\nauthenticator = webroot\n");
  ASSERT_TRUE(conf.ok());
  auto bad_name = CertbotConfigEvent(*conf, {"x", "web1", {"Bad_Name."}, T("2026-11-28T00:00:00Z")});
  ASSERT_FALSE(bad_name.ok());
  EXPECT_EQ(bad_name.status().message(), R"(field "names": "Bad_Name." has a trailing dot)");
}

// The webroot the agent places its HTTP-01 proof token in (agent/webroot_token.h): certbot's
// [[webroot_map]] entry for the name, else its only webroot_path.
TEST(CertbotRenewalConf, WebrootOfEachName) {
  auto mapped = ParseCertbotRenewalConf(
      "[renewalparams]\nauthenticator = webroot\nwebroot_path = /var/www/shop, /var/www/api,\n"
      "[[webroot_map]]\nshop.example = /var/www/shop\n\"api.example\" = \"/var/www/api\"\n");
  ASSERT_TRUE(mapped.ok()) << mapped.status();
  auto single = ParseCertbotRenewalConf("[renewalparams]\nauthenticator = webroot\nwebroot_path = /srv/html,\n");
  ASSERT_TRUE(single.ok());
  auto none = ParseCertbotRenewalConf("[renewalparams]\nauthenticator = nginx\n");
  ASSERT_TRUE(none.ok());
  struct Row {
    const CertbotRenewalConf* conf;
    const char* name;
    const char* webroot;
  } rows[] = {{&*mapped, "shop.example", "/var/www/shop"}, {&*mapped, "api.example", "/var/www/api"},
              {&*mapped, "other.example", ""},  // two webroot_paths and no map entry: not guessed
              {&*single, "any.example", "/srv/html"}, {&*none, "shop.example", ""}};
  for (const Row& row : rows) EXPECT_EQ(CertbotWebroot(*row.conf, row.name), row.webroot) << row.name;
}

// ---- lego state ----

TEST(LegoState, IssuedEventFromJsonAndCertificate) {
  auto resource = ParseLegoResource(ReadAll(kData / "state/c-dns.acmelab.test.json"));
  ASSERT_TRUE(resource.ok()) << resource.status();
  auto cert = ParseCertificate(ReadAll(kData / "state/c-dns.pem"));
  ASSERT_TRUE(cert.ok());
  const std::string ca = LegoCa(*resource, std::nullopt);
  EXPECT_EQ(ca, "https://127.0.0.1:14000");
  auto issued = LegoIssuedEvent(*resource, *cert, ca);
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_EQ(EventToJson(*issued),
            R"({"ts":"2026-11-28T02:51:42Z","type":"issued","cert":"c-dns.acmelab.test","serial":"30c57e27fc53d8d6","not_before":"2026-11-28T02:51:42Z","not_after":"2027-02-26T02:51:41Z","ca":"https://127.0.0.1:14000","names":["c-dns.acmelab.test","*.c-dns.acmelab.test"]})");
  auto config = LegoConfigEvent(*resource, *cert, "https://127.0.0.1:14000/dir",
                                {"web1", Challenge::kDns01, "days_left:30",
                                 T("2026-11-28T03:00:00Z")});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(EventToJson(*config),
            R"({"ts":"2026-11-28T03:00:00Z","type":"config","cert":"c-dns.acmelab.test","host":"web1","names":["c-dns.acmelab.test","*.c-dns.acmelab.test"],"client":"lego","ca":"https://127.0.0.1:14000/dir","challenge":"dns-01","ari":false,"renew_rule":"days_left:30"})");
  EXPECT_EQ(LegoCa({"a", "https://acme-v02.api.letsencrypt.org/acme/cert/04", ""}, std::nullopt),
            "https://acme-v02.api.letsencrypt.org/directory");
}

TEST(LegoState, BadJson) {
  const std::pair<const char*, const char*> cases[] = {
      {"{", "lego certificate JSON does not parse"},
      {"[]", "lego certificate JSON is not an object"},
      {"{}", "field \"domain\" is missing"},
      {R"({"domain": 1})", "field \"domain\" is not a string"},
      {R"({"domain": ""})", "field \"domain\" is empty"},
      {R"({"domain": "a", "certUrl": 5})", "field \"certUrl\" is not a string"},
  };
  for (const auto& [text, error] : cases) {
    auto r = ParseLegoResource(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().message(), error);
  }
}

// ---- acme.sh ----

TEST(AcmeSh, ConfigEventFromDomainConf) {
  auto conf = ParseAcmeShDomainConf(ReadAll(kData / "state/shop.example.com.conf"));
  ASSERT_TRUE(conf.ok()) << conf.status();
  auto event = AcmeShConfigEvent(*conf, "web1", T("2026-11-28T03:00:00Z"));
  ASSERT_TRUE(event.ok()) << event.status();
  // 1769394691 - 1764297091 = 5097600 s = 59 days.
  EXPECT_EQ(EventToJson(*event),
            R"({"ts":"2026-11-28T03:00:00Z","type":"config","cert":"shop.example.com","host":"web1","names":["shop.example.com","www.shop.example.com","*.shop.example.com"],"client":"acme.sh","ca":"https://acme-v02.api.letsencrypt.org/directory","challenge":"dns-01","ari":false,"renew_rule":"after_issue_days:59"})");
}

TEST(AcmeSh, BadInputs) {
  const std::pair<const char*, const char*> parse_errors[] = {
      {"Le_Alt='x'\n", "Le_Domain is missing"},
      {"Le_Domain='a'\nLe_CertCreateTime='soon'\n",
       "line 2: \"Le_CertCreateTime\" is not a number"},
      {"Le_Domain='a\n", "line 1: unterminated '"},
      {"just words\n", "line 1: expected KEY='value'"},
  };
  for (const auto& [text, error] : parse_errors) {
    auto r = ParseAcmeShDomainConf(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().message(), error);
  }
  auto no_api = ParseAcmeShDomainConf("Le_Domain='a.example'\nLe_Webroot='no'\n");
  ASSERT_TRUE(no_api.ok());
  EXPECT_EQ(AcmeShConfigEvent(*no_api, "h", absl::UnixEpoch()).status().message(),
            "Le_API is missing: the CA is unknown");
  auto odd = ParseAcmeShDomainConf("Le_Domain='a.example'\nLe_Webroot='carrier'\nLe_API='x'\n");
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(AcmeShConfigEvent(*odd, "h", absl::UnixEpoch()).status().message(),
            "Le_Webroot \"carrier\" names no known challenge mode");
  EXPECT_EQ(AcmeShChallenge("/var/www/html"), Challenge::kHttp01);
  EXPECT_EQ(AcmeShChallenge("alpn"), Challenge::kTlsAlpn01);
  EXPECT_EQ(AcmeShChallenge("dns,dns"), Challenge::kDns01);
}

// Where acme.sh writes each name's http-01 file: the agent places its proof token there (as root),
// so a name it cannot place for must get "", never a guess.
TEST(AcmeShConf, WebrootOfEachName) {
  const auto conf = [](std::string_view webroot) {
    auto c = ParseAcmeShDomainConf(StrCat("Le_Domain='Shop.example'\nLe_Alt='www.shop.example,api.shop.example'\n",
                                          "Le_Webroot='", webroot, "'\n"));
    EXPECT_TRUE(c.ok()) << webroot;
    return *c;
  };
  struct Row {
    std::string_view webroot, name, want;
  } rows[] = {
      {"/var/www/shop", "shop.example", "/var/www/shop"},
      {"/var/www/shop", "api.shop.example", "/var/www/shop"},  // one -w serves every name
      {"/srv/a,/srv/b", "shop.example", "/srv/a"},
      {"/srv/a,/srv/b", "www.shop.example", "/srv/b"},
      {"/srv/a,/srv/b", "api.shop.example", "/srv/b"},         // the last entry carries on
      {"/srv/a,,/srv/c", "www.shop.example", "/srv/a"},        // an empty entry keeps the one before
      {"/srv/a,,/srv/c", "api.shop.example", "/srv/c"},
      {"/var/www/shop", "other.example", ""},                  // not one of the conf's names
      {"no", "shop.example", ""},                              // standalone: no directory
      {"nginx", "shop.example", ""},
      {"dns_cf", "shop.example", ""},
      {"relative/dir", "shop.example", ""},
      {"", "shop.example", ""},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(AcmeShWebroot(conf(r.webroot), r.name), r.want) << r.webroot << " " << r.name;
  }
}

// acme.sh log: no real capture exists in acme-lab; this log is assembled from the messages of
// acme.sh 3.x's renew(), renewAll() and issue() (see acme_sh_log.h), in two locales' `date`.
TEST(AcmeShLog, RenewalsFromACronRun) {
  const std::string log =
      "[Sat Nov 28 00:00:01 UTC 2026] ===Starting cron===\n"
      "[Sat Nov 28 00:00:01 UTC 2026] Renew: shop.example.com\n"
      "[Sat Nov 28 00:00:01 UTC 2026] Renewing: 'shop.example.com'\n"
      "[Sat Nov 28 00:00:01 UTC 2026] Renewing using Le_API=https://acme-v02.api.letsencrypt.org/directory\n"
      "[Sat Nov 28 00:00:01 UTC 2026] Skipping. Next renewal time is: 2027-01-26T02:31:31Z\n"
      "[Sat Nov 28 00:00:01 UTC 2026] Add '--force' to force renewal.\n"
      "[Sat Nov 28 00:00:02 UTC 2026] Renewing: 'api.example.com'\n"
      "[Sat Nov 28 00:00:02 UTC 2026] Renewing using Le_API=https://acme-v02.api.letsencrypt.org/directory\n"
      "[Sat Nov 28 00:00:05 UTC 2026] Adding TXT value: abc for domain: _acme-challenge.api.example.com\n"
      "[Sat Nov 28 00:00:33 UTC 2026] error='\"error\":{\"type\":\"urn:ietf:params:acme:error:unauthorized\",\"detail\":\"No TXT records found for DNS challenge\",\"status\":403'\n"
      "[Sat Nov 28 00:00:33 UTC 2026] api.example.com: Invalid status. Verification error details: No TXT records found for DNS challenge\n"
      "[Sat Nov 28 00:00:34 UTC 2026] Error renewing api.example.com.\n"
      "[Sat 28 Nov 2026 12:01:00 AM UTC] Renewing: 'www.example.com'\n"
      "[Sat 28 Nov 2026 12:01:01 AM UTC] Standalone mode server\n"
      "[Sat 28 Nov 2026 12:01:15 AM UTC] Cert success.\n"
      "-----BEGIN CERTIFICATE-----\n"
      "[Sat Nov 28 01:00:00 CET 2026] Renewing: 'old.example.com'\n"
      "[Sat Nov 28 01:00:30 CET 2026] Please refer to https://curl.se/libcurl/c/libcurl-errors.html for error code: 28\n";
  AcmeShLogOptions options;
  options.utc_offset = absl::Hours(1);  // CET: the only line not in UTC
  const ParseOutput out = ParseAcmeShLog(log, options);
  EXPECT_THAT(out.issues, testing::IsEmpty());
  EXPECT_EQ(Lines(out.events),
            R"({"ts":"2026-11-28T00:00:02Z","type":"renewal","cert":"api.example.com","outcome":"failure","error":"urn:ietf:params:acme:error:unauthorized","detail":"No TXT records found for DNS challenge","challenge":"dns-01","ca":"https://acme-v02.api.letsencrypt.org/directory","duration_ms":32000})"
            "\n"
            R"({"ts":"2026-11-28T00:01:00Z","type":"renewal","cert":"www.example.com","outcome":"success","challenge":"http-01","duration_ms":15000})"
            "\n"
            R"({"ts":"2026-11-28T00:00:00Z","type":"renewal","cert":"old.example.com","outcome":"failure","error":"timeout","detail":"Please refer to https://curl.se/libcurl/c/libcurl-errors.html for error code: 28","duration_ms":30000})"
            "\n");
}

TEST(AcmeShLog, BadInputs) {
  const BadLog cases[] = {
      {"a date in another language", "[sam. 28 nov. 2026 00:00:01 UTC] Renewing: 'a.example'\n",
       {{1, "date \"sam. 28 nov. 2026 00:00:01 UTC\" has no English month, day, year and HH:MM:SS"}},
       0},
      {"an impossible date", "[Sat Feb 30 00:00:01 UTC 2026] x\n",
       {{1, "date \"Sat Feb 30 00:00:01 UTC 2026\" is not a real time"}}, 0},
      {"attempt cut short", "[Sat Nov 28 00:00:01 UTC 2026] Renewing: 'a.example'\n",
       {{1, "acme.sh attempt for a.example has no outcome (the log ends first); recorded as a "
            "failure, error unknown"}},
       1},
      {"attempt followed by another without an outcome",
       "[Sat Nov 28 00:00:01 UTC 2026] Renewing: 'a.example'\n"
       "[Sat Nov 28 00:00:02 UTC 2026] Renewing: 'b.example'\n"
       "[Sat Nov 28 00:00:03 UTC 2026] Cert success.\n",
       {{1, "acme.sh attempt for a.example has no outcome; recorded as a failure, error unknown"}},
       2},
  };
  for (const BadLog& c : cases) {
    SCOPED_TRACE(c.name);
    const ParseOutput out = ParseAcmeShLog(c.text, {});
    EXPECT_EQ(out.issues, c.issues);
    EXPECT_EQ(out.events.size(), c.events);
  }
  EXPECT_EQ(*ParseAcmeShDate("Sunday, May 03, 2026 AM11:13:11 HKT", absl::Hours(8)),
            T("2026-05-03T03:13:11Z"));
}

// ---- logs still being written (input_may_grow) ----

// One parse of `text` by `client` ("certbot", "lego", "acme.sh") with input_may_grow as given.
ParseOutput ParseLive(std::string_view client, std::string_view text, bool may_grow,
                      const char* fallback_cert = nullptr, const char* ca = nullptr) {
  if (client == "certbot") {
    CertbotLogOptions options;
    options.input_may_grow = may_grow;
    if (fallback_cert) options.fallback_cert = fallback_cert;
    return ParseCertbotLog(text, options);
  }
  if (client == "lego") {
    LegoOutputOptions options;
    options.input_may_grow = may_grow;
    if (fallback_cert) options.fallback_cert = fallback_cert;
    if (ca) options.ca = ca;
    return ParseLegoOutput(text, options);
  }
  AcmeShLogOptions options;
  options.input_may_grow = may_grow;
  if (fallback_cert) options.fallback_cert = fallback_cert;
  return ParseAcmeShLog(text, options);
}

TEST(LiveLogs, AnAttemptUnderWayIsHeldBackOnlyWhileTheLogMayGrow) {
  const std::string certbot_start =
      "2026-11-28 10:00:00,000:DEBUG:certbot._internal.main:certbot version: 2.1.0\n"
      "2026-11-28 10:00:00,001:DEBUG:certbot._internal.main:Arguments: ['--cert-name', 'a.example']\n"
      "2026-11-28 10:00:01,000:DEBUG:certbot._internal.display.obj:Notifying user: "
      "Renewing an existing certificate for a.example\n";
  const std::string lego_start =
      "2026/11/28 02:51:34 [INFO] [a.example] acme: Obtaining bundled SAN certificate\n"
      "2026/11/28 02:51:35 [INFO] [a.example] acme: use dns-01 solver\n";
  const std::string acme_sh_start = "[Sat Nov 28 00:00:01 UTC 2026] Renewing: 'a.example'\n";
  const std::string unknown = R"("outcome":"failure","error":"unknown","detail":"no outcome in the log")";
  struct Case {
    const char* name;
    const char* client;
    std::string text;
    bool may_grow;
    std::string event;          // the one event expected (a fragment of its line), "" for none
    std::vector<size_t> held;   // ParseOutput::held_back
    size_t issues;
  };
  const Case cases[] = {
      // certbot
      {"certbot truncated, may grow", "certbot", certbot_start, true, "", {1}, 0},
      {"certbot truncated, settled", "certbot", certbot_start, false, unknown, {}, 1},
      {"certbot challenge report only, may grow (the final message may follow)", "certbot",
       certbot_start + "Challenge failed for domain a.example\n", true, "", {1}, 0},
      {"certbot complete failure, may grow", "certbot",
       certbot_start + "2026-11-28 10:00:02,000:ERROR:certbot._internal.renewal:Failed to renew "
                       "certificate a.example with error: Read timed out\n",
       true, R"("outcome":"failure","error":"timeout","detail":"Read timed out")", {}, 0},
      {"certbot complete success, may grow", "certbot",
       certbot_start + "2026-11-28 10:00:05,000:DEBUG:certbot._internal.display.obj:Notifying "
                       "user: Congratulations, all renewals succeeded: \n",
       true, R"("outcome":"success")", {}, 0},
      {"certbot run failed before any attempt, may grow", "certbot",
       "2026-11-28 10:00:00,000:DEBUG:certbot._internal.main:certbot version: 2.1.0\n"
       "2026-11-28 10:00:01,000:DEBUG:certbot._internal.log:Exiting abnormally:\n",
       true, "", {1}, 0},
      // lego
      {"lego truncated, may grow", "lego", lego_start, true, "", {1}, 0},
      {"lego truncated, settled", "lego", lego_start, false, unknown, {}, 1},
      {"lego plain last line, may grow (a DNS provider's output or the fatal error)", "lego",
       lego_start + "2026/11/28 02:51:36 exec: hook says hello\n", true, "", {1}, 0},
      {"lego complete failure, may grow", "lego",
       lego_start + "2026/11/28 02:51:40 Could not obtain certificates:\n"
                    "\tacme: error: 403 :: POST :: https://ca/x :: "
                    "urn:ietf:params:acme:error:unauthorized :: no TXT record\n",
       true, R"("outcome":"failure","error":"urn:ietf:params:acme:error:unauthorized")", {}, 0},
      {"lego failure whose last line is still being written, may grow", "lego",
       lego_start + "2026/11/28 02:51:40 Could not obt", true, "", {1}, 0},
      {"lego complete success, may grow", "lego",
       lego_start + "2026/11/28 02:51:40 [INFO] [a.example] Server responded with a certificate.\n",
       true, R"("outcome":"success")", {}, 0},
      {"lego not due, may grow", "lego",
       "2026/11/28 02:51:34 [a.example] The certificate expires in 80 days, the number of days "
       "defined to perform the renewal is 30: no renewal.\n",
       true, "", {}, 0},
      // acme.sh
      {"acme.sh truncated, may grow", "acme.sh", acme_sh_start, true, "", {1}, 0},
      {"acme.sh truncated, settled", "acme.sh", acme_sh_start, false, unknown, {}, 1},
      {"acme.sh error logged, summary not yet, may grow", "acme.sh",
       acme_sh_start + "[Sat Nov 28 00:00:05 UTC 2026] a.example:Verify error:Invalid response "
                       "from http://a.example/.well-known/acme-challenge/x\n",
       true, "", {1}, 0},
      {"acme.sh complete success, may grow", "acme.sh",
       acme_sh_start + "[Sat Nov 28 00:00:09 UTC 2026] Cert success.\n", true,
       R"("outcome":"success")", {}, 0},
      {"acme.sh complete failure, may grow", "acme.sh",
       acme_sh_start + "[Sat Nov 28 00:00:09 UTC 2026] Error renewing a.example.\n", true,
       R"("outcome":"failure")", {}, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const ParseOutput out = ParseLive(c.client, c.text, c.may_grow);
    EXPECT_EQ(out.held_back, c.held);
    EXPECT_EQ(out.issues.size(), c.issues);
    for (const Issue& issue : out.issues) SCOPED_TRACE(issue.reason);
    if (c.event.empty()) {
      EXPECT_THAT(out.events, testing::IsEmpty()) << Lines(out.events);
    } else {
      ASSERT_EQ(out.events.size(), 1u);
      EXPECT_THAT(EventToJson(out.events[0]), testing::HasSubstr(c.event));
      EXPECT_THAT(EventToJson(out.events[0]), testing::HasSubstr(R"("cert":"a.example")"));
      // Holding back never changes what is emitted: the settled read gives the same line.
      EXPECT_EQ(Lines(out.events), Lines(ParseLive(c.client, c.text, false).events));
    }
  }
}

TEST(LiveLogs, ReadingARealLogAsItGrowsEmitsExactlyTheEventsOfTheWholeLog) {
  // A collector reads the log after every write of the client (the worst case), and in the
  // middle of each line, then once more when the file has settled. Every event any read emits
  // must be one the whole log gives (same canonical line: the store's dedupe key), and each of
  // those must have been emitted: no failure that did not happen, no second event for one
  // attempt. certbot (Python's logging) and lego (Go's log.Logger.Output) write a record with its
  // continuation lines in one write, so a read sees a whole record (lego's fatal error, "Could
  // not obtain certificates:" and the problem on the lines under it, is one write): the reads
  // cut before each record's first line, and in the middle of it.
  for (const GoldenCase& c : kGoldenCases) {
    SCOPED_TRACE(c.file);
    const std::string text = ReadAll(kData / c.file);
    const ParseOutput whole = ParseLive(c.client, text, false, c.fallback_cert, c.ca);
    std::set<std::string> expected;
    for (const Event& e : whole.events) expected.insert(EventToJson(e));
    std::set<std::string> emitted;
    size_t reads = 0;
    for (size_t end = text.find('\n'); end != std::string::npos; end = text.find('\n', end + 1)) {
      const std::string_view rest = std::string_view(text).substr(end + 1);
      // Continuation lines (no "YYYY-MM-DD" / "YYYY/MM/DD" head) came in their record's write.
      if (!rest.empty() && !(rest[0] >= '0' && rest[0] <= '9')) continue;
      // Cut after the line, and in the middle of the next one (a write under way).
      const size_t half = std::min(rest.find('\n'), rest.size()) / 2;
      for (size_t cut : {end + 1, end + 1 + half}) {
        ++reads;
        const ParseOutput live =
            ParseLive(c.client, std::string_view(text).substr(0, cut), true, c.fallback_cert, c.ca);
        for (const Event& e : live.events) {
          const std::string line = EventToJson(e);
          EXPECT_TRUE(expected.contains(line)) << "after byte " << cut << ": " << line;
          emitted.insert(line);
        }
      }
    }
    EXPECT_GE(reads, 2u);
    for (const Event& e : ParseLive(c.client, text, false, c.fallback_cert, c.ca).events) {
      emitted.insert(EventToJson(e));
    }
    EXPECT_EQ(emitted, expected);
  }
}

TEST(LiveLogs, MayStillGrowComparesTheLastChangeWithTheSettleTime) {
  const absl::Time now = T("2026-12-05T08:00:00Z");
  EXPECT_TRUE(MayStillGrow(now - absl::Seconds(1), now, kDefaultSettleTime));
  EXPECT_TRUE(MayStillGrow(now - absl::Seconds(299), now, kDefaultSettleTime));
  EXPECT_FALSE(MayStillGrow(now - absl::Seconds(300), now, kDefaultSettleTime));
  EXPECT_FALSE(MayStillGrow(now - absl::Hours(24), now, kDefaultSettleTime));
  // A modification time ahead of the clock (a clock stepped back): still being written.
  EXPECT_TRUE(MayStillGrow(now + absl::Hours(1), now, kDefaultSettleTime));
  EXPECT_FALSE(MayStillGrow(now - absl::Seconds(2), now, absl::Seconds(1)));
}

// ---- wrappers and the clients' older wordings ----

TEST(Unwrap, RemovesEachWrapperAndKeepsItsTimeAndUnit) {
  const absl::Time reference = T("2026-12-04T12:00:00Z");
  struct Case {
    const char* name;
    const char* line;
    const char* text;
    const char* outer;  // RFC 3339 or nullptr
    const char* unit;
  };
  const Case cases[] = {
      {"journald short", "Sep 12 17:58:47 horst acme-x-start[23185]: 2020/10/23 08:32:54 Could",
       "2020/10/23 08:32:54 Could", "2026-09-12T17:58:47Z", "acme-x-start"},
      {"syslog without pid", "Nov  8 02:00:02 web2 renew-certificates: 2021/11/08 02:00:02 [INFO]",
       "2021/11/08 02:00:02 [INFO]", "2026-11-08T02:00:02Z", "renew-certificates"},
      {"syslog stamp after the reference is last year", "Dec 24 10:00:00 h certbot[1]: x", "x",
       "2025-12-24T10:00:00Z", "certbot"},
      {"docker logs -t", "2025-06-03T14:55:53.484325483Z Failed to renew certificate npm-21",
       "Failed to renew certificate npm-21", "2025-06-03T14:55:53.484325Z", ""},
      {"snap logs with offset", "2023-05-02T12:40:35-05:00 nextcloud.renew-certs[10929]: Processing",
       "Processing", "2023-05-02T17:40:35Z", "nextcloud.renew-certs"},
      {"docker compose around docker -t",
       "npm  | 2023-01-27T22:31:33.750107612Z Renewal configuration file x is broken.",
       "Renewal configuration file x is broken.", "2023-01-27T22:31:33.750107Z", ""},
      {"nginx proxy manager",
       "[4/3/2025] [4:25:33 PM] [SSL      ] \xe2\x80\xba \xe2\x9c\x96  error     Error: Command failed: certbot renew",
       "Error: Command failed: certbot renew", "2025-04-03T16:25:33Z", ""},
      {"a stamp alone (cron's date)", "2024-05-17T02:23:01", "", "2024-05-17T02:23:01Z", ""},
      {"certbot's own record is not a wrapper",
       "2026-01-11 18:18:12,426:DEBUG:certbot._internal.log:Exiting abnormally:",
       "2026-01-11 18:18:12,426:DEBUG:certbot._internal.log:Exiting abnormally:", nullptr, ""},
      {"acme.sh's own line is not a wrapper", "[Thu Mar 17 21:00:01 JST 2022] ===Starting cron===",
       "[Thu Mar 17 21:00:01 JST 2022] ===Starting cron===", nullptr, ""},
      {"dokku's indentation is left to the parsers", "       2021/06/09 06:34:18 [INFO] x",
       "       2021/06/09 06:34:18 [INFO] x", nullptr, ""},
      {"a colon in text is not an identifier", "Domain: www.example.com", "Domain: www.example.com",
       nullptr, ""},
      {"a syslog stamp without host and identifier is text", "Sep 12 17:58:47 alone",
       "Sep 12 17:58:47 alone", nullptr, ""},
      {"an impossible RFC 3339 stamp is text", "2025-02-30T10:00:00Z x",
       "2025-02-30T10:00:00Z x", nullptr, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const auto lines = Unwrap(c.line, reference, absl::ZeroDuration());
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].text, c.text);
    EXPECT_EQ(lines[0].unit, c.unit);
    if (c.outer) {
      ASSERT_TRUE(lines[0].outer_time.has_value());
      EXPECT_EQ(*lines[0].outer_time, T(c.outer));
    } else {
      EXPECT_FALSE(lines[0].outer_time.has_value());
    }
  }
  // A stamp without a zone is the host's local time.
  const auto local = Unwrap("Sep 12 17:58:47 h u[1]: x", reference, absl::Hours(2));
  EXPECT_EQ(*local[0].outer_time, T("2026-09-12T15:58:47Z"));
}

TEST(CommandLine, FindsTheClientAndItsFlags) {
  auto words = FindCommandLine(
      "Error: Command failed: certbot certonly --config \"/etc/letsencrypt.ini\" --cert-name "
      "\"npm-16\" --domains \"a.example\" ,",
      {"certbot"});
  ASSERT_TRUE(words.has_value());
  EXPECT_EQ(FlagValue(*words, {"--cert-name"}), "npm-16");
  EXPECT_EQ(FlagValue(*words, {"-d", "--domains"}), "a.example");
  EXPECT_EQ(FlagValue(*words, {"--server"}), std::nullopt);
  words = FindCommandLine("root@h:~# /usr/bin/certbot --cert-name=x renew", {"certbot"});
  ASSERT_TRUE(words.has_value());
  EXPECT_EQ(FlagValue(*words, {"--cert-name"}), "x");
  // The log file's own path is not certbot.
  EXPECT_FALSE(FindCommandLine("Saving debug log to /var/log/letsencrypt/letsencrypt.log",
                               {"certbot", "letsencrypt"}));
}

TEST(Common, ProblemTypeFromTheCasDetailWording) {
  const std::pair<const char*, const char*> cases[] = {
      {"Invalid response from http://a/.well-known/acme-challenge/x [1.2.3.4]: 404",
       "urn:ietf:params:acme:error:unauthorized"},
      {"Fetching https://a/x: Error getting validation data", "urn:ietf:params:acme:error:connection"},
      {"DNS problem: NXDOMAIN looking up A for a", "urn:ietf:params:acme:error:dns"},
      {"Error creating new cert :: too many certificates already issued for exact set of domains",
       "urn:ietf:params:acme:error:rateLimited"},
      {"CAA record for a prevents issuance", "urn:ietf:params:acme:error:caa"},
  };
  for (const auto& [detail, type] : cases) EXPECT_EQ(ProblemTypeFromDetail(detail), type) << detail;
  EXPECT_EQ(ProblemTypeFromDetail("Some challenges have failed."), std::nullopt);
  // ACME v1's namespace is read as RFC 8555's.
  auto p = FindAcmeProblem("acme: Error 400 - urn:acme:error:malformed - Unable to update challenge",
                           ProblemStyle::kLego);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "urn:ietf:params:acme:error:malformed");
  EXPECT_EQ(p->detail, "Unable to update challenge");
}

// certbot 0.x wrote both the lineage and the ACME v1 problem into one WARNING line; the lineage
// comes from the log even when --cert names another (--cert is only a fallback).
TEST(CertbotLog, OldRenewalWordingNamesTheLineage) {
  CertbotLogOptions options;
  options.fallback_cert = "not-this-one";
  const ParseOutput out = ParseCertbotLog(
      "2018-10-30 23:00:08,488:WARNING:certbot.renewal:Attempting to renew cert (storage6) from "
      "/etc/letsencrypt/renewal/storage6.conf produced an unexpected error: "
      "urn:acme:error:rateLimited :: There were too many requests of a given type :: Error "
      "creating new order. Skipping.\n",
      options);
  EXPECT_THAT(out.issues, testing::IsEmpty());
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(EventToJson(out.events[0]),
            R"({"ts":"2018-10-30T23:00:08.488Z","type":"renewal","cert":"storage6","outcome":"failure","error":"urn:ietf:params:acme:error:rateLimited","detail":"Error creating new order.","duration_ms":0})");
}

TEST(AcmeShLog, OlderWordingsAndLocales) {
  struct Case {
    const char* name;
    std::string log;
    std::string json;
  };
  const Case cases[] = {
      {"2.x verify error names the domain, German date, CET",
       "[So 18. M\xc3\xa4r 12:02:12 CET 2018] shop.example:Verify error:Invalid response from "
       "http://shop.example/.well-known/acme-challenge/x: 404\n",
       R"({"ts":"2018-03-18T11:02:12Z","type":"renewal","cert":"shop.example","outcome":"failure","error":"urn:ietf:params:acme:error:unauthorized","detail":"Invalid response from http://shop.example/.well-known/acme-challenge/x: 404","duration_ms":0})"},
      {"2.8-3.0 'Invalid status, D:Verify error detail:'",
       "[Mon Aug 20 01:00:31 UTC 2018] Invalid status, shop.example:Verify error detail: Invalid "
       "response from http://shop.example/.well-known/acme-challenge/x: 404\n",
       R"({"ts":"2018-08-20T01:00:31Z","type":"renewal","cert":"shop.example","outcome":"failure","error":"urn:ietf:params:acme:error:unauthorized","detail":"Invalid response from http://shop.example/.well-known/acme-challenge/x: 404","duration_ms":0})"},
      {"2.6 'Error renew' after a port conflict",
       "[Wed Feb 22 00:00:03 CET 2017] tcp port 443 is already used by apache2\n"
       "[Wed Feb 22 00:00:03 CET 2017] Error renew a.example, Go ahead to next one.\n",
       R"({"ts":"2017-02-21T23:00:03Z","type":"renewal","cert":"a.example","outcome":"failure","error":"local","detail":"tcp port 443 is already used by apache2","duration_ms":0})"},
      {"wget missing under cron: the domain from the mail's command line",
       "Cron <root@h> /root/acme.sh --renew --domain m.example --force\n"
       "[Fri Jul  1 19:35:03 COT 2016] Please refer to https://www.gnu.org/software/wget/manual/"
       "html_node/Exit-Status.html for error code: 127\n",
       R"({"ts":"2016-07-02T00:35:03Z","type":"renewal","cert":"m.example","outcome":"failure","error":"local","detail":"Please refer to https://www.gnu.org/software/wget/manual/html_node/Exit-Status.html for error code: 127","duration_ms":0})"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const ParseOutput out = ParseAcmeShLog(c.log, {});
    EXPECT_THAT(out.issues, testing::IsEmpty());
    ASSERT_EQ(out.events.size(), 1u);
    EXPECT_EQ(EventToJson(out.events[0]), c.json);
  }
  // An error the log does not tie to a domain needs --cert.
  const ParseOutput orphan =
      ParseAcmeShLog("[Sun Mar 18 12:02:12 UTC 2018] Sign failed: \"detail\":\"x\"\n", {});
  EXPECT_EQ(orphan.issues,
            (std::vector<Issue>{{1, "acme.sh attempt names no domain; pass --cert NAME"}}));
}

TEST(LegoOutput, WrappedOldAndNewFormats) {
  struct Case {
    const char* name;
    std::string log;
    std::string cert, error;
  };
  const Case cases[] = {
      {"NixOS journald: the lineage from the unit",
       "Sep 12 17:58:47 h acme-shop.example-start[1]: 2020/09/12 17:58:47 Could not create "
       "client: get directory at 'https://x/dir': dial tcp: lookup x: device or resource busy\n",
       "shop.example", "network"},
      {"lego 0.x: domain on the fatal line, ACME v1 problem",
       "2016/04/11 17:46:02 [sub.example] Could not obtain certificates\n"
       " acme: Error 400 - urn:acme:error:malformed - Unable to update challenge\n",
       "sub.example", "urn:ietf:params:acme:error:malformed"},
      {"lego 5 slog", "2026-05-31T09:34:10.6+03:00 INFO  Renewing certificate cert-name=v5.example\n"
       "2026-05-31T09:34:11.7+03:00 ERROR Error error=\"acme: error: 403 :: "
       "urn:ietf:params:acme:error:unauthorized :: no\"\n",
       "v5.example", "urn:ietf:params:acme:error:unauthorized"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const ParseOutput out = ParseLegoOutput(c.log, {});
    EXPECT_THAT(out.issues, testing::IsEmpty());
    ASSERT_EQ(out.events.size(), 1u);
    const auto& r = *out.events[0].As<RenewalEvent>();
    EXPECT_EQ(r.cert, c.cert);
    EXPECT_EQ(r.outcome, Outcome::kFailure);
    EXPECT_EQ(r.error, c.error);
  }
  // Not due, in lego 5's and in ARI's words: no attempt, no event, nothing to report.
  for (const char* not_due :
       {"2026-05-31T09:34:10+03:00 INFO  Skip renewal: the certificate expires in 60 days, the "
        "number of days defined to perform the renewal is 30. domain=v5.example\n",
        "2025/01/01 00:00:00 [INFO] [a.example] acme: renewalInfo endpoint indicates that renewal "
        "is not needed.\n"}) {
    const ParseOutput out = ParseLegoOutput(not_due, {});
    EXPECT_THAT(out.issues, testing::IsEmpty()) << not_due;
    EXPECT_THAT(out.events, testing::IsEmpty()) << not_due;
  }
}

// ---- discover ----

class DiscoverTest : public testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            StrCat("certcast-discover-", ::testing::UnitTest::GetInstance()->random_seed(), "-",
                   reinterpret_cast<uintptr_t>(this));
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  void Copy(const fs::path& from, const fs::path& to) {
    fs::create_directories(to.parent_path());
    fs::copy_file(kData / from, to, fs::copy_options::overwrite_existing);
  }
  void SetMtime(const fs::path& path, absl::Time t) {
    const auto sys = std::chrono::system_clock::from_time_t(absl::ToTimeT(t));
    fs::last_write_time(path, std::chrono::file_clock::from_sys(sys));
  }

  fs::path root_;
};

// `certcast parse` reads a single state file through these, with the same layout knowledge.
TEST_F(DiscoverTest, OneLineageFileReadsLikeDiscoveryWithTheLineageOverridden) {
  const fs::path le = root_ / "etc/letsencrypt";
  Copy("state/c-http.conf", le / "renewal/c-http.conf");
  Copy("state/c-http.pem", le / "live/c-http/cert.pem");
  LineageFileOptions options;
  options.host = "web1";
  DiscoverOutput out;
  ReadCertbotRenewal(le / "renewal/c-http.conf", options, out);
  ASSERT_EQ(out.events.size(), 2u) << (out.issues.empty() ? "" : out.issues[0].reason);
  EXPECT_EQ(out.events[0].type(), EventType::kConfig);
  EXPECT_EQ(out.events[1].type(), EventType::kIssued);
  EXPECT_EQ(EventSubject(out.events[1]), "c-http");

  options.lineage = "shop";  // parse --cert: the certificate is looked for under live/shop/
  DiscoverOutput missing;
  ReadCertbotRenewal(le / "renewal/c-http.conf", options, missing);
  EXPECT_THAT(missing.events, testing::IsEmpty());
  ASSERT_EQ(missing.issues.size(), 2u);
  EXPECT_EQ(missing.issues[0].path, (le / "live/shop/cert.pem").string());
  Copy("state/c-http.pem", le / "live/shop/cert.pem");
  DiscoverOutput renamed;
  ReadCertbotRenewal(le / "renewal/c-http.conf", options, renamed);
  ASSERT_EQ(renamed.events.size(), 2u);
  EXPECT_EQ(EventSubject(renamed.events[0]), "shop");
  EXPECT_EQ(EventSubject(renamed.events[1]), "shop");

  const CertificateFilePlace certbot = PlaceCertificateFile("certbot", le / "live/c-http/cert.pem");
  EXPECT_EQ(certbot.lineage, "c-http");
  EXPECT_EQ(certbot.ca, "https://127.0.0.1:14000/dir");  // from renewal/c-http.conf
  EXPECT_EQ(PlaceCertificateFile("lego", "/x/certificates/_.shop.example.crt").lineage, "*.shop.example");
  EXPECT_EQ(PlaceCertificateFile("acme.sh", "/x/_.shop.example/_.shop.example.cer").lineage, "_.shop.example");
  EXPECT_EQ(PlaceCertificateFile("lego", "/x/certificates/shop.example.crt").ca, std::nullopt);
}

TEST_F(DiscoverTest, FindsCertbotAndLegoState) {
  const fs::path le = root_ / "etc/letsencrypt";
  Copy("state/c-http.conf", le / "renewal/c-http.conf");
  Copy("state/c-http.pem", le / "live/c-http/cert.pem");
  Copy("state/c-dns.conf", le / "renewal/c-dns.conf");  // its cert.pem is missing
  SetMtime(le / "renewal/c-http.conf", T("2026-11-28T02:51:34Z"));
  const fs::path lego = root_ / "home/ops/.lego";
  Copy("state/c-dns.acmelab.test.json", lego / "certificates/c-dns.acmelab.test.json");
  Copy("state/c-dns.pem", lego / "certificates/c-dns.acmelab.test.crt");
  fs::create_directories(lego / "accounts");
  SetMtime(lego / "certificates/c-dns.acmelab.test.json", T("2026-11-28T02:51:43Z"));
  fs::create_directories(root_ / "proc/etc/letsencrypt/renewal");  // skipped whole

  DiscoverOptions options;
  options.root = root_;
  options.host = "web1";
  options.lego_challenge = Challenge::kDns01;
  const DiscoverOutput out = Discover(options);
  EXPECT_EQ(Lines(out.events),
            R"({"ts":"2026-11-28T02:51:34Z","type":"config","cert":"c-http","host":"web1","names":["c-http.acmelab.test"],"client":"certbot","client_version":"2.1.0","ca":"https://127.0.0.1:14000/dir","challenge":"http-01","ari":false,"renew_rule":"days_left:30"})"
            "\n"
            R"({"ts":"2026-11-28T02:51:32Z","type":"issued","cert":"c-http","serial":"4673844dd4a1f7c8","not_before":"2026-11-28T02:51:32Z","not_after":"2027-02-26T02:51:31Z","ca":"https://127.0.0.1:14000/dir","names":["c-http.acmelab.test"]})"
            "\n"
            R"({"ts":"2026-11-28T02:51:42Z","type":"issued","cert":"c-dns.acmelab.test","serial":"30c57e27fc53d8d6","not_before":"2026-11-28T02:51:42Z","not_after":"2027-02-26T02:51:41Z","ca":"https://127.0.0.1:14000","names":["c-dns.acmelab.test","*.c-dns.acmelab.test"]})"
            "\n"
            R"({"ts":"2026-11-28T02:51:43Z","type":"config","cert":"c-dns.acmelab.test","host":"web1","names":["c-dns.acmelab.test","*.c-dns.acmelab.test"],"client":"lego","ca":"https://127.0.0.1:14000","challenge":"dns-01","ari":false})"
            "\n");
  ASSERT_EQ(out.issues.size(), 2u);
  EXPECT_EQ(out.issues[0].path, (le / "live/c-dns/cert.pem").string());
  EXPECT_EQ(out.issues[0].reason, StrCat((le / "live/c-dns/cert.pem").string(),
                                         ": not a readable file"));
  EXPECT_EQ(out.issues[1].path, (le / "renewal/c-dns.conf").string());
  EXPECT_EQ(out.issues[1].reason,
            StrCat("no names: ", (le / "live/c-dns/cert.pem").string(), " is unreadable and webroot_map is empty"));
  EXPECT_EQ(out.found, (std::vector<std::string>{StrCat("certbot ", le.string()),
                                                 StrCat("lego ", lego.string())}));
}

}  // namespace
}  // namespace certcast::clients
