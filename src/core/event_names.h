// The wire names of the event vocabulary's enumerations (docs/events.md), indexed by the enum's
// value. ToString (event.cc) and the JSON reader (event_json.cc) read these same tables, so a name
// is spelled in one place and an enum value added without its name fails to compile.
#pragma once

#include <array>
#include <string_view>

#include "core/event.h"

namespace certcast::event_names {

inline constexpr std::array<std::string_view, kEventTypeCount> kTypes = {
    "config", "issued", "renewal", "deploy", "tls_probe", "dns", "http01_probe",
    "dns01_check", "ca_probe", "ari", "clock", "host", "credential", "domain"};
inline constexpr std::array<std::string_view, 6> kClients = {"certbot", "lego", "acme.sh",
                                                             "cert-manager", "caddy", "other"};
inline constexpr std::array<std::string_view, 3> kChallenges = {"http-01", "dns-01", "tls-alpn-01"};
inline constexpr std::array<std::string_view, 2> kOutcomes = {"success", "failure"};
inline constexpr std::array<std::string_view, 2> kProbeOutcomes = {"ok", "error"};
inline constexpr std::array<std::string_view, 8> kTlsErrors = {
    "connect", "timeout", "handshake", "expired", "not_yet_valid", "name_mismatch", "untrusted",
    "revoked"};
inline constexpr std::array<std::string_view, 6> kRecordTypes = {"A", "AAAA", "CNAME", "CAA", "NS", "TXT"};
inline constexpr std::array<std::string_view, 5> kRcodes = {"NOERROR", "NXDOMAIN", "SERVFAIL",
                                                            "REFUSED", "TIMEOUT"};
inline constexpr std::array<std::string_view, 3> kDnssec = {"secure", "insecure", "bogus"};
inline constexpr std::array<std::string_view, 5> kHttp01Errors = {"timeout", "refused", "http_status",
                                                                  "redirect", "wrong_content"};
inline constexpr std::array<std::string_view, 3> kCredentialKinds = {"dns_api_token", "eab", "account_key"};

// Each table has one name per enum value.
static_assert(kClients.size() == static_cast<size_t>(Client::kOther) + 1);
static_assert(kChallenges.size() == static_cast<size_t>(Challenge::kTlsAlpn01) + 1);
static_assert(kOutcomes.size() == static_cast<size_t>(Outcome::kFailure) + 1);
static_assert(kProbeOutcomes.size() == static_cast<size_t>(ProbeOutcome::kError) + 1);
static_assert(kTlsErrors.size() == static_cast<size_t>(TlsError::kRevoked) + 1);
static_assert(kRecordTypes.size() == static_cast<size_t>(RecordType::kTXT) + 1);
static_assert(kRcodes.size() == static_cast<size_t>(Rcode::kTimeout) + 1);
static_assert(kDnssec.size() == static_cast<size_t>(Dnssec::kBogus) + 1);
static_assert(kHttp01Errors.size() == static_cast<size_t>(Http01Error::kWrongContent) + 1);
static_assert(kCredentialKinds.size() == static_cast<size_t>(CredentialKind::kAccountKey) + 1);

}  // namespace certcast::event_names
