// Fuzzes the SNTP reply parser and checks (collect/probe/ntp_packet.h): the bytes an NTP server,
// or anyone who can send to the probe's port, chose. Invariants beyond "no crash": a parsed
// header serializes back to the same 48 bytes; an accepted reply's offset and delay satisfy
// RFC 5905's definitions exactly; a timestamp read in some era converts back to the same seconds.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "collect/probe/ntp_packet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certcast::probe;
  auto packet = ParseNtpPacket({data, size});
  if (!packet.ok()) return 0;
  if (SerializeNtpPacket(*packet) != std::string(reinterpret_cast<const char*>(data), kNtpHeaderBytes)) std::abort();
  // T1 = 2027-01-15T08:00:00Z and a round trip taken from the reply's poll byte, so both the
  // checks and the arithmetic run; the nonce is the reply's own origin to get past that check.
  const absl::Time t1 = absl::FromUnixSeconds(1'800'000'000);
  const absl::Time t4 = t1 + absl::Milliseconds(static_cast<uint8_t>(packet->poll));
  auto sample = EvaluateNtpReply(*packet, packet->origin_time, t1, t4);
  if (sample.ok()) {
    const absl::Time t2 = FromNtpTimestamp(packet->receive_time, t1);
    const absl::Time t3 = FromNtpTimestamp(packet->transmit_time, t1);
    if (sample->delay + (t3 - t2) != t4 - t1) std::abort();
    if (sample->offset * 2 != (t2 - t1) + (t3 - t4)) std::abort();
    if (absl::AbsDuration(t2 - t1) > absl::Hours(24 * 366 * 69)) std::abort();  // nearest era
  }
  if (ToNtpTimestamp(FromNtpTimestamp(packet->transmit_time, t1)) >> 32 != packet->transmit_time >> 32) std::abort();
  return 0;
}
