// Unit tests for the NTP probe's coordinator (ntp_probe.h) against an in-process UDP server on
// 127.0.0.1 whose answers each test scripts: the offset's sign, the retry after a lost request,
// ignored forgeries, Kiss-o'-Death without retry, and a closed port. Time is a FakeClock, so T1
// and T4 are known exactly and the offset is asserted to the nanosecond.
#include "collect/probe/ntp_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "collect/probe/ntp_packet.h"
#include "collect/probe/scan.h"
#include "core/strings.h"
#include "core/time.h"
#include "gtest/gtest.h"

namespace certcast::probe {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

// Binds a UDP socket to 127.0.0.1 on a port the kernel picks.
int BindLoopbackUdp(int& port) {
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return -1;
  }
  port = ntohs(address.sin_port);
  return fd;
}

// Answers each request with the datagrams `answer` returns for it (none: the request is lost).
class ScriptedServer {
 public:
  using Answer = std::function<std::vector<std::string>(const NtpPacket& request, int index)>;
  explicit ScriptedServer(Answer answer) : answer_(std::move(answer)) {
    fd_ = BindLoopbackUdp(port_);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  std::string Address() const { return StrCat("127.0.0.1:", port_); }
  std::vector<uint64_t> Nonces() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return nonces_;
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd ready{fd_, POLLIN, 0};
      if (poll(&ready, 1, 20) <= 0) continue;
      char buffer[512];
      sockaddr_storage peer{};
      socklen_t peer_length = sizeof peer;
      const ssize_t n = recvfrom(fd_, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&peer), &peer_length);
      if (n <= 0) continue;
      auto request = ParseNtpPacket({reinterpret_cast<const uint8_t*>(buffer), static_cast<size_t>(n)});
      if (!request.ok()) continue;
      int index = 0;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        index = static_cast<int>(nonces_.size());
        nonces_.push_back(request->transmit_time);
      }
      for (const std::string& datagram : answer_(*request, index)) {
        sendto(fd_, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&peer), peer_length);
      }
    }
  }

  Answer answer_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> nonces_;
};

const absl::Time kLocal = *ParseRfc3339("2026-11-28T10:00:00Z");

// A server reply that echoes `request` and stamps T2 = T3 = `server_time`.
std::string Reply(const NtpPacket& request, absl::Time server_time) {
  NtpPacket reply;
  reply.version = 4;
  reply.mode = 4;
  reply.stratum = 2;
  reply.origin_time = request.transmit_time;
  reply.receive_time = reply.transmit_time = ToNtpTimestamp(server_time);
  return SerializeNtpPacket(reply);
}

// Generous: a loopback reply takes well under a millisecond, but a loaded CI machine may not run
// the server thread for a while. Only tests that wait for a timeout pass a shorter one.
NtpProbeOptions Options(absl::Duration timeout = absl::Seconds(2)) {
  NtpProbeOptions options;
  options.host = "web1";
  options.timeout = timeout;
  return options;
}

TEST(ProbeNtpTest, OffsetIsLocalMinusServer) {
  // The FakeClock stands still, so T1 = T4 = kLocal and the server's 3.25 s lead is θ exactly.
  ScriptedServer server([](const NtpPacket& request, int) {
    return std::vector<std::string>{Reply(request, kLocal + absl::Milliseconds(3250))};
  });
  FakeClock clock(kLocal);
  auto event = ProbeNtp(server.Address(), Options(), clock, 7);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->ts, kLocal);
  const auto* c = event->As<ClockEvent>();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->host, "web1");
  EXPECT_EQ(c->offset_ms, -3250);
  EXPECT_EQ(c->source, StrCat("ntp:", server.Address()));
  EXPECT_FALSE(c->synced.has_value());
  ASSERT_EQ(server.Nonces().size(), 1u);
  EXPECT_NE(server.Nonces()[0], 0u);
}

TEST(ProbeNtpTest, RetriesWithANewNonceWhenTheFirstRequestIsLost) {
  ScriptedServer server([](const NtpPacket& request, int index) {
    if (index == 0) return std::vector<std::string>{};
    return std::vector<std::string>{Reply(request, kLocal - absl::Seconds(7))};
  });
  FakeClock clock(kLocal);
  auto event = ProbeNtp(server.Address(), Options(), clock, 7);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->As<ClockEvent>()->offset_ms, 7000);
  const std::vector<uint64_t> nonces = server.Nonces();
  ASSERT_EQ(nonces.size(), 2u);
  EXPECT_NE(nonces[0], nonces[1]);
}

TEST(ProbeNtpTest, IgnoresJunkAndForgeriesBeforeTheRealReply) {
  ScriptedServer server([](const NtpPacket& request, int) {
    NtpPacket forged_request = request;
    forged_request.transmit_time ^= 1;
    return std::vector<std::string>{"short", Reply(forged_request, kLocal + absl::Hours(5)),
                                    Reply(request, kLocal + absl::Seconds(1))};
  });
  FakeClock clock(kLocal);
  auto event = ProbeNtp(server.Address(), Options(), clock, 7);
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->As<ClockEvent>()->offset_ms, -1000);
}

TEST(ProbeNtpTest, OnlyForgeriesTimeOutNamingTheLastOne) {
  ScriptedServer server([](const NtpPacket& request, int) {
    NtpPacket forged_request = request;
    forged_request.transmit_time ^= 1;
    return std::vector<std::string>{Reply(forged_request, kLocal)};
  });
  FakeClock clock(kLocal);
  auto event = ProbeNtp(server.Address(), Options(absl::Seconds(1)), clock, 7);
  const std::vector<uint64_t> nonces = server.Nonces();
  ASSERT_EQ(nonces.size(), 2u);
  EXPECT_EQ(event.status().code(), StatusCode::kDeadlineExceeded);
  char origins[80];
  std::snprintf(origins, sizeof origins, "origin timestamp 0x%016llx is not the request's 0x%016llx",
                static_cast<unsigned long long>(nonces[1] ^ 1), static_cast<unsigned long long>(nonces[1]));
  EXPECT_EQ(event.status().message(),
            StrCat("127.0.0.1: no reply within 1s (2 attempts); ignored: ", origins,
                   ": not a reply to this request"));
}

TEST(ProbeNtpTest, KissOfDeathEndsTheProbeWithoutRetry) {
  ScriptedServer server([](const NtpPacket& request, int) {
    NtpPacket kiss = *ParseNtpPacket(Bytes(Reply(request, kLocal)));
    kiss.stratum = 0;
    kiss.reference_id = 0x52415445;  // RATE
    return std::vector<std::string>{SerializeNtpPacket(kiss)};
  });
  FakeClock clock(kLocal);
  auto event = ProbeNtp(server.Address(), Options(), clock, 7);
  EXPECT_EQ(event.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(event.status().message(),
            "127.0.0.1: Kiss-o'-Death RATE: the server asks this client to poll less often");
  EXPECT_EQ(server.Nonces().size(), 1u);
}

TEST(ProbeNtpTest, ClosedPortIsUnreachable) {
  int port = 0;
  const int fd = BindLoopbackUdp(port);
  ASSERT_GE(fd, 0);
  close(fd);  // nothing listens there now: the kernel answers ICMP port unreachable
  FakeClock clock(kLocal);
  const std::string address = StrCat("127.0.0.1:", port);
  auto event = ProbeNtp(address, Options(), clock, 7);
  EXPECT_EQ(event.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(event.status().message(),
            "127.0.0.1: port unreachable: nothing listens there (2 attempts)");
}

TEST(ParseNtpServerTest, Forms) {
  struct Case {
    std::string text, host;
    int port;
  };
  for (const Case& c : std::vector<Case>{{"pool.ntp.org", "pool.ntp.org", 123},
                                         {"127.0.0.1:1123", "127.0.0.1", 1123},
                                         {"[::1]", "::1", 123},
                                         {"[::1]:1123", "::1", 1123},
                                         {"2001:db8::1", "2001:db8::1", 123}}) {
    auto server = ParseNtpServer(c.text);
    ASSERT_TRUE(server.ok()) << c.text << ": " << server.status();
    EXPECT_EQ(server->host, c.host) << c.text;
    EXPECT_EQ(server->port, c.port) << c.text;
  }
  for (const char* bad : {"", ":123", "time.example:0", "time.example:99999", "time.example:x", "[::1]x"}) {
    EXPECT_EQ(ParseNtpServer(bad).status().message(),
              StrCat("NTP server \"", bad, "\" is not HOST, HOST:PORT, [V6] or [V6]:PORT"))
        << bad;
  }
}

TEST(ScanNtpTest, TargetsRunAndReportInConfigOrder) {
  ScriptedServer server([](const NtpPacket& request, int) {
    return std::vector<std::string>{Reply(request, kLocal - absl::Milliseconds(1500))};
  });
  int closed_port = 0;
  close(BindLoopbackUdp(closed_port));
  FakeClock clock(kLocal);
  auto plan = ParseScanConfig(StrCat("[scan]\nhost = \"web2\"\ntimeout = \"1s\"\n[[ntp]]\nserver = \"",
                                     server.Address(), "\"\n[[ntp]]\nserver = \"127.0.0.1:", closed_port,
                                     "\"\ntimeout = \"2s\"\n"),
                              clock);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->targets.size(), 2u);
  EXPECT_EQ(plan->targets[0].label, StrCat("ntp ", server.Address()));
  const ScanResult result = RunScan(*plan);
  ASSERT_EQ(result.events.size(), 1u);
  EXPECT_EQ(result.events[0].As<ClockEvent>()->host, "web2");
  EXPECT_EQ(result.events[0].As<ClockEvent>()->offset_ms, 1500);
  EXPECT_EQ(result.errors, (std::vector<std::string>{StrCat(
                               "ntp 127.0.0.1:", closed_port,
                               ": 127.0.0.1: port unreachable: nothing listens there (2 attempts)")}));
}

TEST(ScanNtpTest, RejectsBadTargets) {
  FakeClock clock(kLocal);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[[ntp]]\ntimeout = \"1s\"", "ntp[0]: server is missing"},
      {"[[ntp]]\nserver = 123", "ntp[0]: server is not a string"},
      {"[[ntp]]\nserver = \"time.example:0\"",
       "ntp[0]: NTP server \"time.example:0\" is not HOST, HOST:PORT, [V6] or [V6]:PORT"},
      {"[[ntp]]\nserver = \"time.example\"\ntimeout = \"0s\"", "ntp[0]: timeout must be within (0, 10m]"},
      {"ntp = \"time.example\"", "ntp must be an array of tables ([[ntp]])"},
  };
  for (const auto& [text, want] : cases) {
    EXPECT_EQ(ParseScanConfig(text, clock).status().message(), want) << text;
  }
}

}  // namespace
}  // namespace certcast::probe
