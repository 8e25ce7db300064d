#include "core/redact.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace certcast {
namespace {

TEST(RedactSecrets, HidesEverySecretItKnowsAndKeepsTheRest) {
  struct Case {
    std::string in, out;
  } cases[] = {
      {"", ""},
      {"nothing secret here: exit 1", "nothing secret here: exit 1"},
      // Webhook URLs: userinfo and secret query parameters.
      {"POST https://ops:hunter2@hooks.example/x", "POST https://ops:REDACTED@hooks.example/x"},
      {"https://tok123@hooks.example/x", "https://REDACTED@hooks.example/x"},
      {"https://hooks.example/x?token=abc&team=web", "https://hooks.example/x?token=REDACTED&team=web"},
      {"https://h.example/?key=AIza-1&sig=zz&channel=7",
       "https://h.example/?key=REDACTED&sig=REDACTED&channel=7"},
      {"https://h.example/?api_key=1&apikey=2&password=3&secret=4",
       "https://h.example/?api_key=REDACTED&apikey=REDACTED&password=REDACTED&secret=REDACTED"},
      {"https://acme.example/dir", "https://acme.example/dir"},
      // Environment style and --flag=VALUE.
      {"CF_Token=abc CF_Account_ID=1", "CF_Token=REDACTED CF_Account_ID=1"},
      {"EAB_HMAC_KEY=c2VjcmV0== next", "EAB_HMAC_KEY=REDACTED next"},
      {"--eab-hmac-key=c2VjcmV0", "--eab-hmac-key=REDACTED"},
      {"--key-type=ecdsa --reuse-key", "--key-type=ecdsa --reuse-key"},
      // --flag VALUE in text, and an argv printed as a Python list (certbot's log).
      {"ran: lego --eab --kid k1 --hmac c2VjcmV0 run", "ran: lego --eab --kid k1 --hmac REDACTED run"},
      {"Arguments: ['--eab-kid', 'k1', '--eab-hmac-key', 'c2VjcmV0']",
       "Arguments: ['--eab-kid', 'k1', '--eab-hmac-key', 'REDACTED']"},
      {"lego --eab.hmac=abc", "lego --eab.hmac=REDACTED"},
      // Authorization headers, to the end of the line or the quote.
      {"Authorization: Bearer eyJhbGci\nnext line", "Authorization: REDACTED\nnext line"},
      {"-H 'proxy-authorization: Basic dXNlcjpwYXNz' -v", "-H 'proxy-authorization: REDACTED' -v"},
      // Inside JSON text (an audit record): the value stops at the quote.
      {R"({"detail":"curl https://u:p@h.example/?token=t failed"})",
       R"({"detail":"curl https://u:REDACTED@h.example/?token=REDACTED failed"})"},
  };
  for (const auto& c : cases) EXPECT_EQ(RedactSecrets(c.in), c.out) << c.in;
}

TEST(RedactArgv, HidesTheValueAfterASecretFlagOnly) {
  EXPECT_THAT(RedactArgv({"certbot", "renew", "--eab-kid", "kid1", "--eab-hmac-key", "c2VjcmV0",
                          "--key-type", "ecdsa", "--reuse-key", "--cert-name", "shop"}),
              ::testing::ElementsAre("certbot", "renew", "--eab-kid", "kid1", "--eab-hmac-key",
                                     "REDACTED", "--key-type", "ecdsa", "--reuse-key",
                                     "--cert-name", "shop"));
  EXPECT_THAT(RedactArgv({"lego", "--eab", "--kid", "k", "--hmac", "h", "--eab.hmac", "h2", "run"}),
              ::testing::ElementsAre("lego", "--eab", "--kid", "k", "--hmac", "REDACTED",
                                     "--eab.hmac", "REDACTED", "run"));
  EXPECT_THAT(RedactArgv({"acme.sh", "--register-account", "--eab-hmac-key=abc", "--password"}),
              ::testing::ElementsAre("acme.sh", "--register-account", "--eab-hmac-key=REDACTED",
                                     "--password"));
  EXPECT_THAT(RedactArgv({"curl", "-H", "Authorization: Bearer x", "https://u:p@h/?token=t"}),
              ::testing::ElementsAre("curl", "-H", "Authorization: REDACTED",
                                     "https://u:REDACTED@h/?token=REDACTED"));
}

TEST(UrlForRecords, KeepsSchemeAndHostOnly) {
  EXPECT_EQ(UrlForRecords("https://hooks.slack.com/services/T0/B0/XXXXXXXX"),
            "https://hooks.slack.com/...");
  EXPECT_EQ(UrlForRecords("https://ops:pw@hooks.example:8443/x?token=t"),
            "https://ops:REDACTED@hooks.example:8443/...");
  EXPECT_EQ(UrlForRecords("http://127.0.0.1:9"), "http://127.0.0.1:9");
  EXPECT_EQ(UrlForRecords("not a url"), "REDACTED");
}

}  // namespace
}  // namespace certcast
