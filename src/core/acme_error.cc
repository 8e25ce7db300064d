#include "core/acme_error.h"

#include <array>
#include <utility>

namespace certcast {
namespace {

struct Known {
  std::string_view type;
  AcmeErrorClass error_class;
  bool clock_can_cause;
};

constexpr std::array<Known, 21> kKnown = {{
    {"dns", AcmeErrorClass::kValidation, false},
    {"connection", AcmeErrorClass::kValidation, false},
    {"unauthorized", AcmeErrorClass::kValidation, true},
    {"incorrectResponse", AcmeErrorClass::kValidation, false},
    {"tls", AcmeErrorClass::kValidation, true},
    {"caa", AcmeErrorClass::kCaa, false},
    {"rejectedIdentifier", AcmeErrorClass::kRejectedIdentifier, false},
    {"rateLimited", AcmeErrorClass::kRateLimited, false},
    {"accountDoesNotExist", AcmeErrorClass::kAccount, false},
    {"externalAccountRequired", AcmeErrorClass::kAccount, false},
    {"serverInternal", AcmeErrorClass::kTransient, false},
    {"badNonce", AcmeErrorClass::kTransient, true},
    {"timeout", AcmeErrorClass::kTransient, true},
    {"network", AcmeErrorClass::kTransient, true},
    {"invalidProfile", AcmeErrorClass::kRequestRefused, false},
    {"malformed", AcmeErrorClass::kRequestRefused, true},
    {"badCSR", AcmeErrorClass::kRequestRefused, false},
    {"local", AcmeErrorClass::kLocal, false},
    {"hook", AcmeErrorClass::kLocal, false},
    {"badPublicKey", AcmeErrorClass::kLocal, false},
    {"badSignatureAlgorithm", AcmeErrorClass::kLocal, false},
}};

const Known* Find(std::string_view error) {
  const std::string_view type = AcmeErrorType(error);
  for (const Known& k : kKnown) {
    if (k.type == type) return &k;
  }
  return nullptr;
}

}  // namespace

std::string_view AcmeErrorType(std::string_view error) {
  constexpr std::string_view kPrefix = "urn:ietf:params:acme:error:";
  if (error.starts_with(kPrefix)) error.remove_prefix(kPrefix.size());
  return error;
}

AcmeErrorClass ClassifyAcmeError(std::string_view error) {
  if (error.empty()) return AcmeErrorClass::kNone;
  if (AcmeErrorType(error) == "dns_api") return AcmeErrorClass::kDnsApi;
  const Known* k = Find(error);
  return k != nullptr ? k->error_class : AcmeErrorClass::kOther;
}

bool IsValidationFailure(std::string_view error) {
  const AcmeErrorClass c = ClassifyAcmeError(error);
  return c == AcmeErrorClass::kValidation || c == AcmeErrorClass::kCaa ||
         c == AcmeErrorClass::kRejectedIdentifier;
}

bool ClockCanCause(std::string_view error) {
  const Known* k = Find(error);
  return k != nullptr && k->clock_can_cause;
}

}  // namespace certcast
