// DNS wire format (RFC 1035) for the DNS probe: building one query and parsing one response.
// Pure and bounded: the parser reads only the bytes it is given, follows at most
// kMaxCompressionJumps name pointers, and returns a value or a precise error. It is fuzzed
// (fuzz/fuzz_dns_response.cc).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace certcast::probe {

inline constexpr uint16_t kTypeA = 1, kTypeNS = 2, kTypeCNAME = 5, kTypeTXT = 16, kTypeAAAA = 28,
                          kTypeCAA = 257;
// A name has at most 127 labels; more jumps than that can only be a loop.
inline constexpr int kMaxCompressionJumps = 128;

struct DnsRecord {
  std::string name;   // lower case, no trailing dot ("" for the root)
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::string value;  // presentation form for A, AAAA, CNAME, NS, TXT, CAA; hex for other types
  bool operator==(const DnsRecord&) const = default;
};

struct DnsResponse {
  uint16_t id = 0;
  uint8_t rcode = 0;  // header RCODE (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, ...)
  bool truncated = false;
  std::string question_name;  // lower case, no trailing dot
  uint16_t question_type = 0;
  std::vector<DnsRecord> answers;
};

// A recursive query (RD=1) for `name` (no trailing dot) with an EDNS0 OPT record advertising a
// 1232-byte UDP payload (the DNS flag day 2020 size that avoids fragmentation).
StatusOr<std::string> BuildDnsQuery(uint16_t id, std::string_view name, uint16_t type);

// Parses a response. Errors: "DNS response is N bytes, shorter than its 12-byte header",
// "DNS response is not a response (QR=0)", "name: compression pointer loop", ...
StatusOr<DnsResponse> ParseDnsResponse(std::span<const uint8_t> message);

// "A" -> 1 ...; 0 for a type the probe does not query.
uint16_t DnsTypeFromName(std::string_view name);

}  // namespace certcast::probe
