#include "api/connection_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "gtest/gtest.h"

namespace certcast::api {
namespace {

using absl::Seconds;

GuardedConnection Conn(uint64_t id, std::string client, absl::Duration waiting_since,
                       bool in_request = false) {
  return {.id = id, .client = std::move(client), .port = static_cast<int>(40000 + id),
          .waiting_since = waiting_since, .in_request = in_request};
}

std::vector<uint64_t> Ids(const std::vector<ConnectionCut>& cuts, CutReason reason) {
  std::vector<uint64_t> ids;
  for (const ConnectionCut& c : cuts) {
    if (c.reason == reason) ids.push_back(c.id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

TEST(ConnectionsToCut, HeadersTooSlowAreCutButARequestInProgressIsNot) {
  const ConnectionGuardOptions o{.header_timeout = Seconds(20), .max_connections_per_client = 0};
  const std::vector<GuardedConnection> conns = {
      Conn(1, "192.0.2.1", Seconds(0)),                       // 30 s without headers
      Conn(2, "192.0.2.1", Seconds(15)),                      // 15 s: still within
      Conn(3, "192.0.2.2", Seconds(0), /*in_request=*/true),  // a long upload
      Conn(4, "192.0.2.3", Seconds(10)),                      // exactly 20 s: cut
  };
  const auto cuts = ConnectionsToCut(conns, Seconds(30), o);
  EXPECT_EQ(Ids(cuts, CutReason::kHeaderTimeout), (std::vector<uint64_t>{1, 4}));
  EXPECT_TRUE(Ids(cuts, CutReason::kTooManyFromClient).empty());
}

TEST(ConnectionsToCut, OneClientBeyondItsShareLosesItsNewestIdleConnections) {
  const ConnectionGuardOptions o{.header_timeout = absl::ZeroDuration(),
                                 .max_connections_per_client = 2};
  const std::vector<GuardedConnection> conns = {
      Conn(1, "192.0.2.1", Seconds(1)), Conn(2, "192.0.2.1", Seconds(2)),
      Conn(3, "192.0.2.1", Seconds(3), /*in_request=*/true), Conn(4, "192.0.2.1", Seconds(4)),
      Conn(5, "192.0.2.9", Seconds(5)), Conn(6, "192.0.2.9", Seconds(6)),  // at the cap: kept
  };
  const auto cuts = ConnectionsToCut(conns, Seconds(7), o);
  // Kept: the one inside a request, then the longest waiting (1); cut: 2 and 4.
  EXPECT_EQ(Ids(cuts, CutReason::kTooManyFromClient), (std::vector<uint64_t>{2, 4}));
  EXPECT_TRUE(Ids(cuts, CutReason::kHeaderTimeout).empty());
}

TEST(ConnectionsToCut, ATimedOutConnectionDoesNotCountAgainstItsClient) {
  const ConnectionGuardOptions o{.header_timeout = Seconds(10), .max_connections_per_client = 1};
  const std::vector<GuardedConnection> conns = {Conn(1, "192.0.2.1", Seconds(0)),
                                                Conn(2, "192.0.2.1", Seconds(25))};
  const auto cuts = ConnectionsToCut(conns, Seconds(30), o);
  EXPECT_EQ(Ids(cuts, CutReason::kHeaderTimeout), (std::vector<uint64_t>{1}));
  EXPECT_TRUE(Ids(cuts, CutReason::kTooManyFromClient).empty());
}

TEST(ConnectionsToCut, ZeroBoundsCutNothing) {
  const ConnectionGuardOptions o{.header_timeout = absl::ZeroDuration(),
                                 .max_connections_per_client = 0};
  const std::vector<GuardedConnection> conns = {Conn(1, "192.0.2.1", Seconds(0)),
                                                Conn(2, "192.0.2.1", Seconds(0))};
  EXPECT_TRUE(ConnectionsToCut(conns, absl::Hours(100), o).empty());
}

// The guard against real sockets of this process: a listening socket on loopback, connections to
// it accepted here (as the server's workers would hold them).
class GuardSockets : public ::testing::Test {
 protected:
  void SetUp() override {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(listener_, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(listener_, 16), 0);
    socklen_t len = sizeof a;
    ASSERT_EQ(::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port_ = ntohs(a.sin_port);
  }
  void TearDown() override {
    for (int fd : fds_) ::close(fd);
    ::close(listener_);
  }
  // Connects a client and accepts it; returns the client's socket and its local port.
  std::pair<int, int> Connect() {
    const int c = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port_));
    EXPECT_EQ(::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    const int s = ::accept(listener_, nullptr, nullptr);
    EXPECT_GE(s, 0);
    fds_.push_back(c);
    fds_.push_back(s);
    sockaddr_in mine{};
    socklen_t len = sizeof mine;
    ::getsockname(c, reinterpret_cast<sockaddr*>(&mine), &len);
    return {c, ntohs(mine.sin_port)};
  }
  // Whether the server side shut the client's connection down within `wait`.
  static bool ClosedByServer(int client, absl::Duration wait) {
    pollfd p{.fd = client, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(wait))) != 1) return false;
    char byte;
    return ::recv(client, &byte, 1, MSG_DONTWAIT) == 0;
  }

  int listener_ = -1;
  int port_ = 0;
  std::vector<int> fds_;
};

TEST_F(GuardSockets, ShutsDownAConnectionWithoutHeadersAndKeepsOneInARequest) {
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  std::vector<CutReason> logged;
  absl::Mutex mu;
  ConnectionGuard guard({.header_timeout = Seconds(20), .max_connections_per_client = 0,
                         .scan_interval = absl::Milliseconds(20)},
                        clock, [&](const GuardedConnection& c, CutReason reason) {
                          absl::MutexLock lock(&mu);
                          EXPECT_EQ(c.client, "127.0.0.1");
                          logged.push_back(reason);
                        });
  auto [slow, slow_port] = Connect();
  auto [busy, busy_port] = Connect();
  guard.RequestStarted("127.0.0.1", busy_port);
  guard.Start(port_);
  absl::SleepFor(absl::Milliseconds(200));  // several scans: both first seen at the start
  EXPECT_FALSE(ClosedByServer(slow, absl::ZeroDuration()));
  clock.Advance(Seconds(21));
  EXPECT_TRUE(ClosedByServer(slow, Seconds(5)));
  EXPECT_FALSE(ClosedByServer(busy, absl::Milliseconds(300)));
  // Its answer written, the kept-alive connection waits for its next headers from now on.
  guard.RequestDone("127.0.0.1", busy_port);
  absl::SleepFor(absl::Milliseconds(100));
  clock.Advance(Seconds(10));
  EXPECT_FALSE(ClosedByServer(busy, absl::Milliseconds(300)));
  clock.Advance(Seconds(11));
  EXPECT_TRUE(ClosedByServer(busy, Seconds(5)));
  guard.Stop();
  EXPECT_EQ(guard.cuts(), 2);
  absl::MutexLock lock(&mu);
  EXPECT_EQ(logged, (std::vector<CutReason>{CutReason::kHeaderTimeout, CutReason::kHeaderTimeout}));
}

TEST_F(GuardSockets, AClientBeyondItsShareLosesItsNewestConnections) {
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  ConnectionGuard guard({.header_timeout = Seconds(20), .max_connections_per_client = 2,
                         .scan_interval = absl::Milliseconds(20)},
                        clock, nullptr);
  std::vector<int> clients;
  for (int i = 0; i < 2; ++i) clients.push_back(Connect().first);
  guard.Start(port_);
  absl::SleepFor(absl::Milliseconds(100));
  clock.Advance(Seconds(1));  // the two first are older than what follows
  for (int i = 0; i < 3; ++i) clients.push_back(Connect().first);
  for (int i = 2; i < 5; ++i) EXPECT_TRUE(ClosedByServer(clients[i], Seconds(5))) << i;
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(ClosedByServer(clients[i], absl::Milliseconds(200))) << i;
  guard.Stop();
  EXPECT_EQ(guard.cuts(), 3);
}

}  // namespace
}  // namespace certcast::api
