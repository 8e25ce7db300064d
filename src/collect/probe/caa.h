// CAA (RFC 8659): parsing the presentation form of a CAA record and deciding whether a CA may
// issue. Pure: no I/O. The DNS tree climb that finds the relevant RRset is in dns_probe.h.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace certcast::probe {

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

// RFC 8659 §4: may the CA whose issuer domain name is `ca_identifier` (e.g. "letsencrypt.org")
// issue for a name whose relevant CAA RRset is `records` (empty: no CAA anywhere up the tree)?
//  - an unknown tag with the critical flag (bit 0, value 128) forbids issuance (§4.1);
//  - wildcard names use the issuewild properties when any exist, else the issue ones (§4.3);
//  - no issue (or issuewild) property at all means any CA may issue;
//  - otherwise some property's issuer domain name (before ';', case-insensitive) must equal
//    `ca_identifier`; an empty one (`";"`) names no CA.
CaaDecision CaaPermits(std::span<const CaaRecord> records, std::string_view ca_identifier,
                       bool wildcard);

}  // namespace certcast::probe
