// SNTPv4 packets (RFC 4330; NTPv4 wire format of RFC 5905 §7.3) for the NTP clock probe: the
// client request, the parse of a reply, and the checks and arithmetic that turn an authentic
// reply into a clock offset. Pure and bounded: the parser reads only the 48-byte header of the
// bytes it is given (extension fields and MACs after it are ignored) and returns a value or a
// precise error. It is fuzzed (fuzz/fuzz_ntp_packet.cc).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "absl/time/time.h"
#include "core/status.h"

namespace certcast::probe {

inline constexpr size_t kNtpHeaderBytes = 48;
inline constexpr int kNtpDefaultPort = 123;

// The 64-bit NTP timestamp (RFC 5905 §6): seconds since 1900-01-01T00:00:00Z modulo 2^32 in the
// high word, binary fraction of a second in the low word. Conversions are exact to 1 ns.
uint64_t ToNtpTimestamp(absl::Time t);
// The instant a timestamp names, taking the era (a 136-year cycle; era 1 begins in 2036) that
// puts it within 68 years of `pivot` (the local time of the exchange).
absl::Time FromNtpTimestamp(uint64_t timestamp, absl::Time pivot);

struct NtpPacket {
  uint8_t leap = 0;     // LI: 0 no warning, 1/2 leap second today, 3 unsynchronised
  uint8_t version = 0;  // VN
  uint8_t mode = 0;     // 3 client, 4 server, 5 broadcast, ...
  uint8_t stratum = 0;  // 0 Kiss-o'-Death, 1 primary, 2..15 secondary, 16 unsynchronised
  int8_t poll = 0;
  int8_t precision = 0;
  uint32_t root_delay = 0;       // NTP short format (16.16 seconds)
  uint32_t root_dispersion = 0;  // NTP short format
  uint32_t reference_id = 0;     // with stratum 0: the kiss code, four ASCII letters
  uint64_t reference_time = 0, origin_time = 0, receive_time = 0, transmit_time = 0;
  bool operator==(const NtpPacket&) const = default;
};

// The 48-byte header on the wire (leap, version and mode are cut to their 2, 3 and 3 bits).
std::string SerializeNtpPacket(const NtpPacket& packet);

// A client request (LI 0, VN 4, mode 3), every field zero but the transmit timestamp. The
// probe puts a random nonce there instead of its clock (as OpenNTPD does): the server echoes it
// in the origin field, so a reply that does not carry it is not an answer to this request
// (RFC 5905 §8), and the server learns nothing about the client's clock.
std::string BuildNtpRequest(uint64_t transmit_timestamp);

// Structure only: errors "NTP packet is N bytes, shorter than its 48-byte header".
StatusOr<NtpPacket> ParseNtpPacket(std::span<const uint8_t> datagram);

// "RATE" for a reference ID of four printable ASCII letters (trailing NULs dropped), else
// "0x" and eight hex digits.
std::string KissCode(uint32_t reference_id);

// One exchange's result (RFC 5905 §8, with T1 sent, T2 received by the server, T3 sent by the
// server, T4 received): offset θ = ((T2 − T1) + (T3 − T4)) / 2, reference minus local; delay
// δ = (T4 − T1) − (T3 − T2), the round trip less the server's time. θ is exact when both legs
// take equally long, and is off by at most δ / 2 however they split.
struct NtpSample {
  absl::Duration offset;
  absl::Duration delay;
  uint8_t stratum = 0;
};

// Checks a reply against the request it should answer, as RFC 4330 §5 asks of a client, and
// computes the sample. `nonce` is the transmit timestamp the request carried; `t1` and `t4` the
// local times of sending and receiving. Errors, in this order:
//   "reply mode 3, expected 4 (server)"
//   "reply version 5, expected 3 or 4"
//   "origin timestamp 0x... is not the request's 0x...: not a reply to this request"
//   "Kiss-o'-Death RATE: ..." (stratum 0; the code is named and, for RATE/DENY/RSTR, explained)
//   "leap indicator 3: the server's clock is not synchronised"
//   "stratum 16: the server's clock is not synchronised" (any stratum above 15)
//   "receive timestamp is zero" / "transmit timestamp is zero"
//   "transmit timestamp precedes receive timestamp by ..." (a server that cannot keep time)
// An unsynchronised server is an error rather than an event: its time is no reference, so no
// offset can be measured against it, and the event's `synced` speaks of this host, not the
// server.
StatusOr<NtpSample> EvaluateNtpReply(const NtpPacket& reply, uint64_t nonce, absl::Time t1, absl::Time t4);

}  // namespace certcast::probe
