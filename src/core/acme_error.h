// The one ACME error classifier. Events carry a failed attempt's error as the CA's problem type
// (`urn:ietf:params:acme:error:dns`, RFC 8555 section 6.7) or as a client-side code the parsers
// and executors give (network, timeout, dns_api, hook, local). Features, policy and labels read
// it only through these functions. Pure.
#pragma once

#include <cstdint>
#include <string_view>

namespace certcast {

// "urn:ietf:params:acme:error:dns" -> "dns"; a client-side code or any other text unchanged.
std::string_view AcmeErrorType(std::string_view error);

enum class AcmeErrorClass : uint8_t {
  kNone,               // no error
  kValidation,         // the CA could not validate control: dns, connection, unauthorized,
                       // incorrectResponse, tls
  kCaa,                // caa: CAA forbids the CA (or its lookup failed)
  kRejectedIdentifier, // rejectedIdentifier: the CA will not issue for this name
  kRateLimited,        // rateLimited
  kAccount,            // accountDoesNotExist, externalAccountRequired
  kTransient,          // serverInternal, badNonce, timeout, network: usually clears by itself
  kRequestRefused,     // invalidProfile, malformed, badCSR: the CA refuses the request's options
  kLocal,              // local, hook, badPublicKey, badSignatureAlgorithm: the client's own side
  kDnsApi,             // dns_api: the DNS provider's API refused the TXT record
  kOther,              // anything else
};

AcmeErrorClass ClassifyAcmeError(std::string_view error);

// Failed validation whose precursors (DNS, HTTP-01, CAA) probes can see ahead of time.
bool IsValidationFailure(std::string_view error);

// Errors a host clock far off can produce (signed requests and TLS to the CA fail): tls,
// malformed, network, badNonce, unauthorized, timeout.
bool ClockCanCause(std::string_view error);

}  // namespace certcast
