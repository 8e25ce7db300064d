// Fuzzes the DNS response parser (collect/probe/dns_wire.h), the one parser that reads bytes a
// network peer chose. Invariants beyond "no crash": every CAA answer the parser renders must parse
// back with ParseCaaPresentation and render to the same text; every parsed name is at most 255
// bytes of wire data (its presentation form at most 4x that, for \DDD escapes); RRSIG data is
// present exactly on RRSIG records and its times land within 2^31 s of "now" and congruent to the
// wire value (RFC 1982); the RCODE carries the OPT's extended bits; and a query built for the
// parsed question (with DO and CD) parses back to the same question and flags.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "core/caa.h"
#include "collect/probe/dns_wire.h"

namespace {

using namespace certcast;
using namespace certcast::probe;

void CheckRecords(const std::vector<DnsRecord>& records, absl::Time now) {
  const int64_t now_seconds = absl::ToUnixSeconds(now);
  for (const DnsRecord& record : records) {
    if (record.name.size() > 4 * 255) std::abort();
    if (record.rrsig.has_value() != (record.type == kTypeRRSIG)) std::abort();
    if (record.rrsig) {
      const int64_t at = absl::ToUnixSeconds(RrsigTime(record.rrsig->expiration, now));
      if (at - now_seconds >= (int64_t{1} << 31) || now_seconds - at > (int64_t{1} << 31)) std::abort();
      if (static_cast<uint32_t>(at) != record.rrsig->expiration) std::abort();
    }
    if (record.type != kTypeCAA) continue;
    auto parsed = ParseCaaPresentation(record.value);
    if (!parsed.ok() || FormatCaaPresentation(*parsed) != record.value) std::abort();
  }
  if (auto earliest = EarliestRrsigExpiration(records, now)) {
    bool found = false;
    for (const DnsRecord& record : records) {
      found |= record.rrsig && RrsigTime(record.rrsig->expiration, now) == *earliest;
    }
    if (!found) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The presentation parser also reads outside text (scan configs, stored events): fuzz it too.
  auto caa = ParseCaaPresentation(std::string_view(reinterpret_cast<const char*>(data), size));
  if (caa.ok() && ParseCaaPresentation(FormatCaaPresentation(*caa)).value_or(CaaRecord{}) != *caa) std::abort();

  auto response = ParseDnsResponse({data, size});
  if (!response.ok()) return 0;
  if (response->question_name.size() > 4 * 255) std::abort();
  // Two instants of reading: today, and past the 2106 wrap of the 32-bit counter.
  for (const absl::Time now : {absl::FromUnixSeconds(1795860000), absl::FromUnixSeconds((int64_t{1} << 32) + 7)}) {
    CheckRecords(response->answers, now);
    CheckRecords(response->authority, now);
  }
  const uint16_t extended = response->edns ? response->edns->extended_rcode : 0;
  if (response->rcode >> 4 != extended) std::abort();

  // A plain question name (no \DDD escapes, no empty labels) must survive a query round trip.
  const std::string& name = response->question_name;
  if (name.find('\\') != std::string::npos) return 0;
  const DnsQueryFlags flags{.dnssec_ok = (size & 1) != 0, .checking_disabled = (size & 2) != 0};
  auto query = BuildDnsQuery(response->id, name, response->question_type, flags);
  if (!query.ok()) return 0;
  std::string as_response = *query;
  as_response[2] = static_cast<char>(as_response[2] | 0x80);  // QR: the parser reads responses only
  auto back = ParseDnsResponse({reinterpret_cast<const uint8_t*>(as_response.data()), as_response.size()});
  if (!back.ok() || back->question_name != name || back->question_type != response->question_type ||
      back->id != response->id || back->checking_disabled != flags.checking_disabled || !back->edns ||
      back->edns->dnssec_ok != flags.dnssec_ok || back->edns->udp_payload != 1232) {
    std::abort();
  }
  return 0;
}
