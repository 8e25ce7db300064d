#include "collect/probe/ntp_packet.h"

#include <cctype>
#include <initializer_list>

#include "core/strings.h"

namespace certcast::probe {
namespace {

// Seconds from the NTP prime epoch (1900-01-01) to the Unix epoch (RFC 5905 Figure 4).
constexpr int64_t kNtpToUnixSeconds = 2208988800;
constexpr uint64_t kNanosPerSecond = 1'000'000'000;

uint32_t ReadUint32(std::span<const uint8_t> bytes, size_t at) {
  return static_cast<uint32_t>(bytes[at]) << 24 | static_cast<uint32_t>(bytes[at + 1]) << 16 |
         static_cast<uint32_t>(bytes[at + 2]) << 8 | static_cast<uint32_t>(bytes[at + 3]);
}

uint64_t ReadUint64(std::span<const uint8_t> bytes, size_t at) {
  return static_cast<uint64_t>(ReadUint32(bytes, at)) << 32 | ReadUint32(bytes, at + 4);
}

void WriteBigEndian(uint64_t value, int bytes, std::string& out) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(value >> (8 * i)));
}

std::string Hex(uint64_t value, int digits) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) out.push_back(kDigits[(value >> shift) & 0xf]);
  return out;
}

// RFC 5905 §7.4 names the codes a client must act on; the rest are reported by name only.
std::string_view KissMeaning(std::string_view code) {
  if (code == "RATE") return "the server asks this client to poll less often";
  if (code == "DENY" || code == "RSTR") return "the server refuses to serve this client";
  return "";
}

}  // namespace

uint64_t ToNtpTimestamp(absl::Time t) {
  const int64_t nanos_since_unix = absl::ToUnixNanos(t);
  // Floor division, so instants before 1970 get a non-negative fraction.
  int64_t seconds = nanos_since_unix / static_cast<int64_t>(kNanosPerSecond);
  int64_t nanos = nanos_since_unix % static_cast<int64_t>(kNanosPerSecond);
  if (nanos < 0) {
    nanos += kNanosPerSecond;
    seconds -= 1;
  }
  // Modulo 2^32: the era is not on the wire.
  const uint32_t ntp_seconds = static_cast<uint32_t>(static_cast<uint64_t>(seconds + kNtpToUnixSeconds));
  // Rounded up so that FromNtpTimestamp, which rounds down, gives back the same nanosecond.
  const uint64_t fraction = ((static_cast<uint64_t>(nanos) << 32) + kNanosPerSecond - 1) / kNanosPerSecond;
  return static_cast<uint64_t>(ntp_seconds) << 32 | fraction;
}

absl::Time FromNtpTimestamp(uint64_t timestamp, absl::Time pivot) {
  const int64_t pivot_ntp_seconds = absl::ToUnixSeconds(pivot) + kNtpToUnixSeconds;
  // The signed 32-bit distance from the pivot's low word picks the nearest era (RFC 5905 §6).
  const auto distance = static_cast<int32_t>(static_cast<uint32_t>(timestamp >> 32) -
                                             static_cast<uint32_t>(static_cast<uint64_t>(pivot_ntp_seconds)));
  const int64_t unix_seconds = pivot_ntp_seconds + distance - kNtpToUnixSeconds;
  const uint64_t nanos = ((timestamp & 0xffffffffu) * kNanosPerSecond) >> 32;
  return absl::FromUnixSeconds(unix_seconds) + absl::Nanoseconds(static_cast<int64_t>(nanos));
}

std::string SerializeNtpPacket(const NtpPacket& p) {
  std::string out;
  out.reserve(kNtpHeaderBytes);
  out.push_back(static_cast<char>((p.leap & 0x3) << 6 | (p.version & 0x7) << 3 | (p.mode & 0x7)));
  out.push_back(static_cast<char>(p.stratum));
  out.push_back(static_cast<char>(p.poll));
  out.push_back(static_cast<char>(p.precision));
  for (uint32_t word : {p.root_delay, p.root_dispersion, p.reference_id}) WriteBigEndian(word, 4, out);
  for (uint64_t timestamp : {p.reference_time, p.origin_time, p.receive_time, p.transmit_time}) {
    WriteBigEndian(timestamp, 8, out);
  }
  return out;
}

std::string BuildNtpRequest(uint64_t transmit_timestamp) {
  NtpPacket request;
  request.version = 4;
  request.mode = 3;  // client
  request.transmit_time = transmit_timestamp;
  return SerializeNtpPacket(request);
}

StatusOr<NtpPacket> ParseNtpPacket(std::span<const uint8_t> datagram) {
  if (datagram.size() < kNtpHeaderBytes) {
    return InvalidArgumentError(
        StrCat("NTP packet is ", datagram.size(), " bytes, shorter than its ", kNtpHeaderBytes, "-byte header"));
  }
  NtpPacket p;
  p.leap = datagram[0] >> 6;
  p.version = (datagram[0] >> 3) & 0x7;
  p.mode = datagram[0] & 0x7;
  p.stratum = datagram[1];
  p.poll = static_cast<int8_t>(datagram[2]);
  p.precision = static_cast<int8_t>(datagram[3]);
  p.root_delay = ReadUint32(datagram, 4);
  p.root_dispersion = ReadUint32(datagram, 8);
  p.reference_id = ReadUint32(datagram, 12);
  p.reference_time = ReadUint64(datagram, 16);
  p.origin_time = ReadUint64(datagram, 24);
  p.receive_time = ReadUint64(datagram, 32);
  p.transmit_time = ReadUint64(datagram, 40);
  return p;
}

std::string KissCode(uint32_t reference_id) {
  std::string code;
  for (int shift = 24; shift >= 0; shift -= 8) code.push_back(static_cast<char>((reference_id >> shift) & 0xff));
  while (!code.empty() && code.back() == '\0') code.pop_back();
  bool printable = !code.empty();
  for (char c : code) printable = printable && std::isprint(static_cast<unsigned char>(c)) != 0;
  return printable ? code : Hex(reference_id, 8);
}

StatusOr<NtpSample> EvaluateNtpReply(const NtpPacket& reply, uint64_t nonce, absl::Time t1, absl::Time t4) {
  if (reply.mode != 4) return InvalidArgumentError(StrCat("reply mode ", reply.mode, ", expected 4 (server)"));
  // A server answers with the request's version (4); NTPv3 servers still answer v4 clients.
  if (reply.version != 3 && reply.version != 4) {
    return InvalidArgumentError(StrCat("reply version ", reply.version, ", expected 3 or 4"));
  }
  // Checked before anything the reply asserts about the server, Kiss-o'-Death included: only a
  // reply that carries our nonce may tell us to stop.
  if (reply.origin_time != nonce) {
    return InvalidArgumentError(StrCat("origin timestamp ", Hex(reply.origin_time, 16), " is not the request's ",
                                       Hex(nonce, 16), ": not a reply to this request"));
  }
  if (reply.stratum == 0) {
    const std::string code = KissCode(reply.reference_id);
    const std::string_view meaning = KissMeaning(code);
    return UnavailableError(StrCat("Kiss-o'-Death ", code, meaning.empty() ? "" : ": ", meaning));
  }
  if (reply.leap == 3) return UnavailableError("leap indicator 3: the server's clock is not synchronised");
  if (reply.stratum > 15) {
    return UnavailableError(StrCat("stratum ", reply.stratum, ": the server's clock is not synchronised"));
  }
  if (reply.receive_time == 0) return InvalidArgumentError("receive timestamp is zero");
  if (reply.transmit_time == 0) return InvalidArgumentError("transmit timestamp is zero");
  const absl::Time t2 = FromNtpTimestamp(reply.receive_time, t1);
  const absl::Time t3 = FromNtpTimestamp(reply.transmit_time, t1);
  if (t3 < t2) {
    return InvalidArgumentError(
        StrCat("transmit timestamp precedes receive timestamp by ", absl::FormatDuration(t2 - t3)));
  }
  NtpSample sample;
  sample.offset = ((t2 - t1) + (t3 - t4)) / 2;
  sample.delay = (t4 - t1) - (t3 - t2);
  sample.stratum = reply.stratum;
  return sample;
}

}  // namespace certcast::probe
