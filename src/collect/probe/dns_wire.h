// DNS wire format (RFC 1035) for the DNS probe: building one query and parsing one response,
// with the DNSSEC parts the probe reports (RFC 6891 EDNS0 OPT and its DO bit, the AD and CD header
// bits, RFC 4034 RRSIG records). Pure and bounded: the parser reads only the bytes it is given,
// follows at most kMaxCompressionJumps name pointers, and returns a value or a precise error. It
// is fuzzed (fuzz/fuzz_dns_response.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "core/status.h"

namespace certcast::probe {

inline constexpr uint16_t kTypeA = 1, kTypeNS = 2, kTypeCNAME = 5, kTypeTXT = 16, kTypeAAAA = 28,
                          kTypeCAA = 257, kTypeSOA = 6, kTypeDS = 43, kTypeOPT = 41, kTypeRRSIG = 46,
                          kTypeNSEC = 47, kTypeDNSKEY = 48, kTypeNSEC3 = 50;
// A name has at most 127 labels; more jumps than that can only be a loop.
inline constexpr int kMaxCompressionJumps = 128;

// RFC 4034 §3.1: the RRSIG fields the probe uses. Inception and expiration are kept as the wire's
// 32-bit serial numbers: which instant they name depends on when they are read (RrsigTime).
struct RrsigData {
  uint16_t type_covered = 0;
  uint8_t algorithm = 0;
  uint8_t labels = 0;
  uint32_t original_ttl = 0;
  uint32_t expiration = 0;
  uint32_t inception = 0;
  uint16_t key_tag = 0;
  std::string signer;  // lower case, no trailing dot
  bool operator==(const RrsigData&) const = default;
};

struct DnsRecord {
  std::string name;   // lower case, no trailing dot ("" for the root)
  uint16_t type = 0;
  uint32_t ttl = 0;
  // Presentation form for A, AAAA, CNAME, NS, TXT, CAA; for RRSIG the fields of RrsigData with the
  // times as decimal serials ("A 13 2 300 1893456000 1577836800 57420 good.example", no
  // signature); hex for other types.
  std::string value;
  std::optional<RrsigData> rrsig;  // set exactly for RRSIG records
  bool operator==(const DnsRecord&) const = default;
};

// RFC 6891 §6.1.3: what the OPT pseudo-record of a response says.
struct EdnsData {
  uint16_t udp_payload = 0;
  uint8_t extended_rcode = 0;  // upper 8 bits of the RCODE
  uint8_t version = 0;
  bool dnssec_ok = false;  // DO: RFC 3225 §3 has DNSSEC-aware servers copy it from the query
  bool operator==(const EdnsData&) const = default;
};

struct DnsResponse {
  uint16_t id = 0;
  // RCODE (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, ...), with the OPT record's upper 8 bits
  // when there is one (RFC 6891 §6.1.3: 16 is BADVERS).
  uint16_t rcode = 0;
  bool truncated = false;
  bool authentic_data = false;     // AD: the resolver validated the answer (RFC 4035 §3.2.3)
  bool checking_disabled = false;  // CD, echoed from the query
  std::string question_name;  // lower case, no trailing dot
  uint16_t question_type = 0;
  std::vector<DnsRecord> answers;
  std::vector<DnsRecord> authority;  // SOA and NSEC/NSEC3 proofs of a negative answer, with RRSIGs
  std::optional<EdnsData> edns;      // the additional section's OPT record; other records are skipped
};

struct DnsQueryFlags {
  bool dnssec_ok = false;          // DO in the OPT record: send RRSIGs (RFC 3225)
  bool checking_disabled = false;  // CD: answer without validating (RFC 4035 §3.2.2)
};

// A recursive query (RD=1) for `name` (no trailing dot) with an EDNS0 OPT record advertising a
// 1232-byte UDP payload (the DNS flag day 2020 size that avoids fragmentation).
StatusOr<std::string> BuildDnsQuery(uint16_t id, std::string_view name, uint16_t type, DnsQueryFlags flags = {});

// Parses a response. Errors: "DNS response is N bytes, shorter than its 12-byte header",
// "DNS response is not a response (QR=0)", "name: compression pointer loop", ...
StatusOr<DnsResponse> ParseDnsResponse(std::span<const uint8_t> message);

// "A" -> 1 ...; 0 for a type the probe does not query.
uint16_t DnsTypeFromName(std::string_view name);

// RFC 4034 §3.1.5: RRSIG times are seconds since the epoch modulo 2^32, compared with serial-number
// arithmetic (RFC 1982), so a value names the instant congruent to it within 2^31 s (68 years) of
// `now`. The one value exactly 2^31 s away, which RFC 1982 leaves undefined, is read as the past.
absl::Time RrsigTime(uint32_t serial, absl::Time now);

// The earliest expiration among the RRSIGs in `records` that cover an RRset of `records` (same
// owner name, type covered = the RRset's type); nullopt when there is none.
std::optional<absl::Time> EarliestRrsigExpiration(std::span<const DnsRecord> records, absl::Time now);

}  // namespace certcast::probe
