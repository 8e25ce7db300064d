// Unit tests for the SNTP packet code (ntp_packet.h): timestamp conversion across the 2036 era
// boundary, the request's bytes, parsing, and every check a reply must pass, with exact errors.
#include "collect/probe/ntp_packet.h"

#include <string>
#include <vector>

#include "core/time.h"
#include "gtest/gtest.h"

namespace certcast::probe {
namespace {

absl::Time At(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

std::span<const uint8_t> Bytes(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

TEST(NtpTimestampTest, KnownValues) {
  // RFC 5905 Figure 4: the Unix epoch is NTP second 2,208,988,800.
  EXPECT_EQ(ToNtpTimestamp(absl::UnixEpoch()), uint64_t{2208988800} << 32);
  EXPECT_EQ(ToNtpTimestamp(absl::UnixEpoch() + absl::Milliseconds(500)), uint64_t{2208988800} << 32 | 0x80000000u);
  // 2036-02-07T06:28:16Z is the first second of era 1: the seconds word wraps to zero.
  EXPECT_EQ(ToNtpTimestamp(At("2036-02-07T06:28:16Z")), 0u);
  EXPECT_EQ(ToNtpTimestamp(At("2036-02-07T06:28:15Z")), uint64_t{0xffffffff} << 32);
}

TEST(NtpTimestampTest, RoundTripToTheNanosecond) {
  // ParseRfc3339 keeps microseconds; the nanoseconds are added.
  for (const char* text : {"1970-01-01T00:00:00Z", "2026-11-28T09:58:21.123456Z", "2036-02-07T06:28:15.999999Z",
                           "2036-02-07T06:28:16Z", "2100-01-01T00:00:00.5Z", "1950-06-01T12:00:00.25Z"}) {
    const absl::Time t = At(text) + absl::Nanoseconds(999);
    EXPECT_EQ(FromNtpTimestamp(ToNtpTimestamp(t), t + absl::Hours(24 * 365 * 60)), t) << text;
    EXPECT_EQ(FromNtpTimestamp(ToNtpTimestamp(t), t - absl::Hours(24 * 365 * 60)), t) << text;
  }
}

TEST(NtpTimestampTest, EraFollowsThePivot) {
  const uint64_t five_seconds_into_an_era = uint64_t{5} << 32;
  EXPECT_EQ(FromNtpTimestamp(five_seconds_into_an_era, At("2036-01-01T00:00:00Z")), At("2036-02-07T06:28:21Z"));
  EXPECT_EQ(FromNtpTimestamp(five_seconds_into_an_era, At("1950-01-01T00:00:00Z")), At("1900-01-01T00:00:05Z"));
}

TEST(NtpPacketTest, RequestBytes) {
  const std::string request = BuildNtpRequest(0x0102030405060708);
  ASSERT_EQ(request.size(), 48u);
  EXPECT_EQ(static_cast<uint8_t>(request[0]), 0x23);  // LI 0, VN 4, mode 3
  EXPECT_EQ(request.substr(1, 39), std::string(39, '\0'));
  EXPECT_EQ(request.substr(40), std::string("\x01\x02\x03\x04\x05\x06\x07\x08"));
}

TEST(NtpPacketTest, ParsesAChronyReply) {
  // The header chronyd 4.3 sent (`local stratum 8`), extension bytes appended: they are ignored.
  std::string reply("\x24\x08\x00\xe6\x00\x00\x00\x00\x00\x00\x00\x0a\x7f\x7f\x01\x01"
                    "\xee\xb4\x6a\x3d\x00\x00\x00\x00\xee\xb4\x6a\x3f\x00\x00\x30\x39"
                    "\xee\xb4\x6a\x3f\x10\x00\x00\x00\xee\xb4\x6a\x3f\x10\x10\x00\x00",
                    48);
  reply += std::string(20, '\x55');
  auto packet = ParseNtpPacket(Bytes(reply));
  ASSERT_TRUE(packet.ok()) << packet.status();
  NtpPacket want;
  want.leap = 0;
  want.version = 4;
  want.mode = 4;
  want.stratum = 8;
  want.poll = 0;
  want.precision = -26;
  want.root_dispersion = 10;
  want.reference_id = 0x7f7f0101;
  want.reference_time = 0xeeb46a3d00000000;
  want.origin_time = 0xeeb46a3f00003039;
  want.receive_time = 0xeeb46a3f10000000;
  want.transmit_time = 0xeeb46a3f10100000;
  EXPECT_EQ(*packet, want);
  EXPECT_EQ(SerializeNtpPacket(*packet), reply.substr(0, 48));
}

TEST(NtpPacketTest, ShortDatagram) {
  EXPECT_EQ(ParseNtpPacket(Bytes(std::string(47, '\0'))).status().message(),
            "NTP packet is 47 bytes, shorter than its 48-byte header");
  EXPECT_EQ(ParseNtpPacket({}).status().message(), "NTP packet is 0 bytes, shorter than its 48-byte header");
}

TEST(NtpPacketTest, KissCode) {
  EXPECT_EQ(KissCode(0x52415445), "RATE");
  EXPECT_EQ(KissCode(0x41420000), "AB");
  EXPECT_EQ(KissCode(0), "0x00000000");
  EXPECT_EQ(KissCode(0x52410a45), "0x52410a45");  // a newline is no letter
}

// A reply from a server whose clock is 2.5 s ahead, 10 ms away each way, that took 1 ms.
struct Exchange {
  absl::Time t1 = At("2026-11-28T10:00:00Z") + absl::Nanoseconds(1);
  uint64_t nonce = 0x1234567890abcdef;
  NtpPacket reply;
  absl::Time t4 = t1 + absl::Milliseconds(21);
  Exchange() {
    reply.version = 4;
    reply.mode = 4;
    reply.stratum = 2;
    reply.origin_time = nonce;
    reply.receive_time = ToNtpTimestamp(t1 + absl::Milliseconds(10) + absl::Milliseconds(2500));
    reply.transmit_time = ToNtpTimestamp(t1 + absl::Milliseconds(11) + absl::Milliseconds(2500));
  }
};

TEST(EvaluateNtpReplyTest, OffsetAndDelay) {
  const Exchange x;
  auto sample = EvaluateNtpReply(x.reply, x.nonce, x.t1, x.t4);
  ASSERT_TRUE(sample.ok()) << sample.status();
  EXPECT_EQ(sample->offset, absl::Milliseconds(2500));
  EXPECT_EQ(sample->delay, absl::Milliseconds(20));
  EXPECT_EQ(sample->stratum, 2);
  // Version 3 servers and a leap second announced for today are fine.
  Exchange v3;
  v3.reply.version = 3;
  v3.reply.leap = 1;
  EXPECT_TRUE(EvaluateNtpReply(v3.reply, v3.nonce, v3.t1, v3.t4).ok());
}

TEST(EvaluateNtpReplyTest, Rejections) {
  struct Case {
    std::string name;
    void (*change)(NtpPacket&);
    StatusCode code;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"a client packet is no reply", [](NtpPacket& p) { p.mode = 3; }, StatusCode::kInvalidArgument,
       "reply mode 3, expected 4 (server)"},
      {"broadcast is not an answer either", [](NtpPacket& p) { p.mode = 5; }, StatusCode::kInvalidArgument,
       "reply mode 5, expected 4 (server)"},
      {"unknown version", [](NtpPacket& p) { p.version = 5; }, StatusCode::kInvalidArgument,
       "reply version 5, expected 3 or 4"},
      {"origin that is not the nonce: stale or forged", [](NtpPacket& p) { p.origin_time = 0x1234567890abcdee; },
       StatusCode::kInvalidArgument,
       "origin timestamp 0x1234567890abcdee is not the request's 0x1234567890abcdef: not a reply to this request"},
      {"a forged kiss without the nonce is just a forgery",
       [](NtpPacket& p) {
         p.stratum = 0;
         p.origin_time = 0;
       },
       StatusCode::kInvalidArgument,
       "origin timestamp 0x0000000000000000 is not the request's 0x1234567890abcdef: not a reply to this request"},
      {"kiss RATE",
       [](NtpPacket& p) {
         p.stratum = 0;
         p.reference_id = 0x52415445;
       },
       StatusCode::kUnavailable, "Kiss-o'-Death RATE: the server asks this client to poll less often"},
      {"kiss DENY",
       [](NtpPacket& p) {
         p.stratum = 0;
         p.reference_id = 0x44454e59;
       },
       StatusCode::kUnavailable, "Kiss-o'-Death DENY: the server refuses to serve this client"},
      {"kiss with a code RFC 5905 does not ask clients to act on",
       [](NtpPacket& p) {
         p.stratum = 0;
         p.reference_id = 0x494e4954;
       },
       StatusCode::kUnavailable, "Kiss-o'-Death INIT"},
      {"leap indicator 3", [](NtpPacket& p) { p.leap = 3; }, StatusCode::kUnavailable,
       "leap indicator 3: the server's clock is not synchronised"},
      {"stratum 16", [](NtpPacket& p) { p.stratum = 16; }, StatusCode::kUnavailable,
       "stratum 16: the server's clock is not synchronised"},
      {"stratum 255", [](NtpPacket& p) { p.stratum = 255; }, StatusCode::kUnavailable,
       "stratum 255: the server's clock is not synchronised"},
      {"zero receive time", [](NtpPacket& p) { p.receive_time = 0; }, StatusCode::kInvalidArgument,
       "receive timestamp is zero"},
      {"zero transmit time", [](NtpPacket& p) { p.transmit_time = 0; }, StatusCode::kInvalidArgument,
       "transmit timestamp is zero"},
      {"server sent before it received",
       [](NtpPacket& p) { p.transmit_time = p.receive_time - (uint64_t{3} << 32); }, StatusCode::kInvalidArgument,
       "transmit timestamp precedes receive timestamp by 3s"},
  };
  for (const Case& c : cases) {
    Exchange x;
    c.change(x.reply);
    auto sample = EvaluateNtpReply(x.reply, x.nonce, x.t1, x.t4);
    EXPECT_EQ(sample.status().code(), c.code) << c.name;
    EXPECT_EQ(sample.status().message(), c.error) << c.name;
  }
}

}  // namespace
}  // namespace certcast::probe
