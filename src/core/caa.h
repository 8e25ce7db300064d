// CAA (RFC 8659): parsing the presentation form of a CAA record and deciding whether a CA may
// issue. Pure: no I/O. This is the one CAA evaluation of certcast: the probes, the features and
// the policy all call CaaPermits (the features and the policy through CaaAllowsCa in
// features/domains.h, which names the CA's identities from its directory URL). The DNS tree climb
// that finds the relevant RRset is in collect/probe/dns_probe.h.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace certcast {

struct CaaRecord {
  uint8_t flags = 0;
  std::string tag;    // as published; compared case-insensitively (RFC 8659 §4.1)
  std::string value;  // unquoted
  bool operator==(const CaaRecord&) const = default;
};

// Parses `0 issue "letsencrypt.org"` (the form dns_wire.h produces: flags, tag, quoted value
// with \" \\ and \DDD escapes). Errors name the problem, e.g. `CAA flags "300" is not 0..255`.
StatusOr<CaaRecord> ParseCaaPresentation(std::string_view text);
// The inverse: `0 issue "letsencrypt.org"`.
std::string FormatCaaPresentation(const CaaRecord& record);

struct CaaDecision {
  bool permitted = false;
  std::string reason;  // one sentence, e.g. `issue property names only "other-ca.example"`
  bool operator==(const CaaDecision&) const = default;
};

// RFC 8659 §4: may the CA whose issuer domain names are `ca_identities` (e.g. {"letsencrypt.org"};
// a CA may publish several, ZeroSSL issues under "sectigo.com") issue for a name whose relevant
// CAA RRset is `records` (empty: no CAA anywhere up the tree)?
//  - an unknown tag with the critical flag (bit 0, value 128) forbids issuance (§4.1);
//  - wildcard names use the issuewild properties when any exist, else the issue ones (§4.3);
//  - no issue (or issuewild) property at all means any CA may issue;
//  - otherwise some property's issuer domain name (before ';', case-insensitive) must equal
//    one of `ca_identities` (compared case-insensitively); an empty one (`";"`) names no CA.
CaaDecision CaaPermits(std::span<const CaaRecord> records,
                       std::span<const std::string> ca_identities, bool wildcard);
CaaDecision CaaPermits(std::span<const CaaRecord> records, std::string_view ca_identity,
                       bool wildcard);

// The same decision on presentation-form values as DNS events carry them
// (`0 issue "letsencrypt.org"`). A value that does not parse forbids issuance, with the parse
// error as the reason: a CA that cannot understand a CAA record may not issue either.
CaaDecision CaaPermitsPresentation(std::span<const std::string> values,
                                   std::span<const std::string> ca_identities, bool wildcard);

}  // namespace certcast
