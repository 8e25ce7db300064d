// The one ACME error classifier: every error code features and policy distinguish, a URN and its
// bare type alike, client-side codes, unknown text.
#include "core/acme_error.h"

#include <string>
#include <vector>

#include "core/cause.h"
#include "gtest/gtest.h"

namespace certcast {
namespace {

TEST(AcmeErrorTest, Table) {
  struct Case {
    std::string error;
    AcmeErrorClass want;
    bool validation;
    bool clock;
  };
  const std::vector<Case> cases = {
      {"", AcmeErrorClass::kNone, false, false},
      {"urn:ietf:params:acme:error:dns", AcmeErrorClass::kValidation, true, false},
      {"connection", AcmeErrorClass::kValidation, true, false},
      {"urn:ietf:params:acme:error:unauthorized", AcmeErrorClass::kValidation, true, true},
      {"urn:ietf:params:acme:error:incorrectResponse", AcmeErrorClass::kValidation, true, false},
      {"urn:ietf:params:acme:error:tls", AcmeErrorClass::kValidation, true, true},
      {"urn:ietf:params:acme:error:caa", AcmeErrorClass::kCaa, true, false},
      {"urn:ietf:params:acme:error:rejectedIdentifier", AcmeErrorClass::kRejectedIdentifier, true, false},
      {"urn:ietf:params:acme:error:rateLimited", AcmeErrorClass::kRateLimited, false, false},
      {"urn:ietf:params:acme:error:accountDoesNotExist", AcmeErrorClass::kAccount, false, false},
      {"urn:ietf:params:acme:error:externalAccountRequired", AcmeErrorClass::kAccount, false, false},
      {"urn:ietf:params:acme:error:serverInternal", AcmeErrorClass::kTransient, false, false},
      {"urn:ietf:params:acme:error:badNonce", AcmeErrorClass::kTransient, false, true},
      {"timeout", AcmeErrorClass::kTransient, false, true},
      {"network", AcmeErrorClass::kTransient, false, true},
      {"urn:ietf:params:acme:error:invalidProfile", AcmeErrorClass::kRequestRefused, false, false},
      {"urn:ietf:params:acme:error:malformed", AcmeErrorClass::kRequestRefused, false, true},
      {"urn:ietf:params:acme:error:badCSR", AcmeErrorClass::kRequestRefused, false, false},
      {"local", AcmeErrorClass::kLocal, false, false},
      {"hook", AcmeErrorClass::kLocal, false, false},
      {"urn:ietf:params:acme:error:badPublicKey", AcmeErrorClass::kLocal, false, false},
      {"dns_api", AcmeErrorClass::kDnsApi, false, false},
      {"urn:ietf:params:acme:error:somethingNew", AcmeErrorClass::kOther, false, false},
      {"DNS", AcmeErrorClass::kOther, false, false},  // problem types are case-sensitive
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ClassifyAcmeError(c.error), c.want) << c.error;
    EXPECT_EQ(IsValidationFailure(c.error), c.validation) << c.error;
    EXPECT_EQ(ClockCanCause(c.error), c.clock) << c.error;
  }
  EXPECT_EQ(AcmeErrorType("urn:ietf:params:acme:error:caa"), "caa");
  EXPECT_EQ(AcmeErrorType("dns_api"), "dns_api");
}

TEST(CauseTest, NamesRoundTripAndOldSimulatorNamesAreRead) {
  for (int i = 0; i < kCauseCount; ++i) {
    const Cause cause = static_cast<Cause>(i);
    EXPECT_EQ(ParseCause(ToString(cause)), cause) << ToString(cause);
  }
  EXPECT_EQ(ParseCause("dns_repoint"), Cause::kDnsPointing);
  EXPECT_EQ(ParseCause("stale_deploy"), Cause::kNotServed);
  EXPECT_EQ(ParseCause("rate_limit"), Cause::kRateLimited);
  EXPECT_EQ(ParseCause("account_eab"), Cause::kAccount);
  EXPECT_EQ(ParseCause("dns-pointing"), std::nullopt);
  EXPECT_EQ(ToString(Cause::kNotServed), "not_served");
}

}  // namespace
}  // namespace certcast
