#include "agent/outbox.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>
#include <fstream>

#include "agent/backoff.h"
#include "agent/server_client.h"
#include "core/time.h"

namespace certcast::agent {
namespace {

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/outbox_test.XXXXXX";
    root_ = ::mkdtemp(pattern);
    options_.dir = root_ + "/outbox";
    options_.segment_bytes = 64;
    options_.max_bytes = 256;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::string ReadAll(Outbox& outbox) {
    std::string all;
    for (const Segment& s : outbox.segments()) all += *outbox.Read(s);
    return all;
  }
  std::string root_;
  OutboxOptions options_;
  absl::Time now_ = absl::FromUnixSeconds(1800000000);
};

TEST_F(OutboxTest, AppendsReadsAndAcknowledgesInOrder) {
  auto outbox = Outbox::Open(options_);
  ASSERT_TRUE(outbox.ok()) << outbox.status();
  ASSERT_TRUE(outbox->Append({"a", "b"}, now_).ok());
  ASSERT_EQ(outbox->segments().size(), 1u);
  EXPECT_EQ(*outbox->Read(outbox->segments()[0]), "a\nb\n");
  struct stat st {};
  ASSERT_EQ(::stat(options_.dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(outbox->segments()[0].path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const Segment first = outbox->segments()[0];
  ASSERT_TRUE(outbox->Acknowledge(first).ok());
  EXPECT_TRUE(outbox->segments().empty());
  EXPECT_FALSE(std::filesystem::exists(first.path));
}

TEST_F(OutboxTest, SegmentsSealWhenFullAndKeepOrderAcrossReopen) {
  std::vector<std::string> lines;
  for (int i = 0; i < 12; ++i) lines.push_back("line-" + std::to_string(i) + "-xxxxxxxx");  // 16 B each
  {
    auto outbox = Outbox::Open(options_);
    ASSERT_TRUE(outbox.ok());
    ASSERT_TRUE(outbox->Append(lines, now_).ok());
    EXPECT_EQ(outbox->segments().size(), 3u);  // 4 lines of 16 B fill a 64 B segment
  }
  auto reopened = Outbox::Open(options_);
  ASSERT_TRUE(reopened.ok());
  std::string want;
  for (const auto& l : lines) want += l + "\n";
  EXPECT_EQ(ReadAll(*reopened), want);
  // Only the oldest may be acknowledged: order per host is the outbox's order.
  const Segment second = reopened->segments()[1];
  EXPECT_EQ(reopened->Acknowledge(second).code(), StatusCode::kFailedPrecondition);
}

TEST_F(OutboxTest, TornLastLineIsDroppedAtOpenAndTheRestKept) {
  {
    auto outbox = Outbox::Open(options_);
    ASSERT_TRUE(outbox.ok());
    ASSERT_TRUE(outbox->Append({"one", "two"}, now_).ok());
    // A write cut short by kill -9: half a line without its newline.
    std::ofstream(outbox->segments()[0].path, std::ios::app) << "{\"ts\":\"2026-";
  }
  OpenReport report;
  auto outbox = Outbox::Open(options_, &report);
  ASSERT_TRUE(outbox.ok()) << outbox.status();
  EXPECT_EQ(ReadAll(*outbox), "one\ntwo\n");
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_NE(report.warnings[0].find("torn last line (12 bytes, a write cut short) dropped; 2 complete lines kept"),
            std::string::npos)
      << report.warnings[0];
  EXPECT_EQ(std::filesystem::file_size(outbox->segments()[0].path), 8u);  // truncated on disk
  // Appending after recovery continues on a clean line boundary.
  ASSERT_TRUE(outbox->Append({"three"}, now_).ok());
  EXPECT_EQ(ReadAll(*outbox), "one\ntwo\nthree\n");
}

TEST_F(OutboxTest, SegmentWithOnlyATornLineIsRemoved) {
  ASSERT_TRUE(std::filesystem::create_directory(options_.dir));
  std::filesystem::permissions(options_.dir, std::filesystem::perms::owner_all);
  const std::string path = options_.dir + "/00000000000000000007.jsonl";
  { std::ofstream(path) << "{\"half"; }
  ::chmod(path.c_str(), 0600);
  OpenReport report;
  auto outbox = Outbox::Open(options_, &report);
  ASSERT_TRUE(outbox.ok()) << outbox.status();
  EXPECT_TRUE(outbox->segments().empty());
  EXPECT_FALSE(std::filesystem::exists(path));
  // Numbering goes on from a fresh 1: no segment is left to collide with.
  ASSERT_TRUE(outbox->Append({"x"}, now_).ok());
  EXPECT_EQ(outbox->segments()[0].sequence, 1u);
}

TEST_F(OutboxTest, BoundDropsOldestFirstAndRemembersTheDrop) {
  auto outbox = Outbox::Open(options_);
  ASSERT_TRUE(outbox.ok());
  std::vector<std::string> lines;
  for (int i = 0; i < 24; ++i) lines.push_back("line-" + std::to_string(100 + i) + "-xxxxxx");  // 16 B with its newline
  ASSERT_TRUE(outbox->Append(lines, now_).ok());  // 384 B in 6 segments; the bound is 256 B
  EXPECT_LE(outbox->bytes(), 256);
  EXPECT_EQ(outbox->segments().size(), 4u);
  std::string want;
  for (int i = 8; i < 24; ++i) want += lines[i] + "\n";
  EXPECT_EQ(ReadAll(*outbox), want);  // the 8 oldest lines went
  ASSERT_TRUE(outbox->PeekDropped().has_value());
  EXPECT_EQ(outbox->PeekDropped()->events, 8);
  EXPECT_EQ(outbox->PeekDropped()->bytes, 128);
  EXPECT_EQ(outbox->PeekDropped()->first, now_);
  // The drop survives a restart until reported.
  auto reopened = Outbox::Open(options_);
  ASSERT_TRUE(reopened.ok());
  ASSERT_TRUE(reopened->PeekDropped().has_value());
  EXPECT_EQ(reopened->PeekDropped()->events, 8);
  ASSERT_TRUE(reopened->ClearDropped().ok());
  EXPECT_FALSE(reopened->PeekDropped().has_value());
  EXPECT_FALSE(Outbox::Open(options_)->PeekDropped().has_value());
}

TEST_F(OutboxTest, RefusesBadInputAndUnsafeFiles) {
  auto outbox = Outbox::Open(options_);
  ASSERT_TRUE(outbox.ok());
  Status s = outbox->Append({"ok", "two\nlines"}, now_);
  EXPECT_EQ(s.message(), "outbox: line 2 of the batch holds a newline");
  EXPECT_TRUE(outbox->segments().empty());  // nothing of that batch appended

  OutboxOptions tiny = options_;
  tiny.max_bytes = 100;
  EXPECT_EQ(Outbox::Open(tiny).status().message(),
            "outbox: the bound (100 bytes) must be at least two segments (2 x 64 bytes)");

  // A segment planted as a symlink is refused, not followed.
  const std::string target = root_ + "/elsewhere";
  { std::ofstream(target) << "x\n"; }
  ASSERT_EQ(::symlink(target.c_str(), (options_.dir + "/00000000000000000001.jsonl").c_str()), 0);
  EXPECT_EQ(Outbox::Open(options_).status().message(),
            "outbox segment " + options_.dir + "/00000000000000000001.jsonl: not a regular file");
}

TEST(ScanSegmentTest, Table) {
  struct Case {
    std::string content;
    int64_t complete, lines, torn;
  } cases[] = {
      {"", 0, 0, 0},          {"a\n", 2, 1, 0},       {"a\nb", 2, 1, 1},
      {"\n\n", 2, 2, 0},      {"abc", 0, 0, 3},       {"a\nb\nccc", 4, 2, 3},
  };
  for (const Case& c : cases) {
    SegmentScan scan = ScanSegment(c.content);
    EXPECT_EQ(scan.complete_bytes, c.complete) << c.content;
    EXPECT_EQ(scan.lines, c.lines) << c.content;
    EXPECT_EQ(scan.torn_bytes, c.torn) << c.content;
  }
}

TEST(ParseDroppedTest, Table) {
  auto good = ParseDropped("12 3456 2026-12-04T10:00:00Z\n");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->events, 12);
  EXPECT_EQ(good->bytes, 3456);
  EXPECT_EQ(FormatDropped(*good), "12 3456 2026-12-04T10:00:00Z\n");
  struct Case {
    std::string text, error;
  } bad[] = {
      {"12 3456 2026-12-04T10:00:00Z", "dropped: no final newline"},
      {"12 3456\n", "dropped: expected \"EVENTS BYTES TIMESTAMP\", got 2 fields"},
      {"-1 3456 2026-12-04T10:00:00Z\n", "dropped: field 1 is not a non-negative integer"},
      {"1 x 2026-12-04T10:00:00Z\n", "dropped: field 2 is not a non-negative integer"},
      {std::string(300, '1') + "\n", "dropped: longer than 256 bytes"},
  };
  for (const Case& c : bad) EXPECT_EQ(ParseDropped(c.text).status().message(), c.error) << c.text;
  EXPECT_TRUE(ParseDropped("1 2 yesterday\n").status().message().starts_with("dropped: field 3: "));
}

TEST(BackoffTest, GrowsWithJitterWithinBoundsAndResets) {
  Backoff backoff(absl::Seconds(1), absl::Seconds(10), 42);
  const absl::Duration ceilings[] = {absl::Seconds(1), absl::Seconds(2), absl::Seconds(4),
                                     absl::Seconds(8), absl::Seconds(10), absl::Seconds(10)};
  for (absl::Duration ceiling : ceilings) {
    const absl::Duration d = backoff.Next();
    EXPECT_GE(d, ceiling / 2);
    EXPECT_LE(d, ceiling);
  }
  backoff.Reset();
  EXPECT_LE(backoff.Next(), absl::Seconds(1));
  // Reproducible from the seed, different across seeds (the fleet does not retry in lockstep).
  Backoff a(absl::Seconds(1), absl::Minutes(5), 7), b(absl::Seconds(1), absl::Minutes(5), 7),
      c(absl::Seconds(1), absl::Minutes(5), 8);
  for (int i = 0; i < 5; ++i) a.Next(), b.Next(), c.Next();
  EXPECT_EQ(a.Next(), b.Next());
  EXPECT_NE(a.Next(), c.Next());
}

class TokenFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/token_test.XXXXXX";
    root_ = ::mkdtemp(pattern);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::string Write(const std::string& content, mode_t mode) {
    const std::string path = root_ + "/token";
    std::filesystem::remove(path);
    { std::ofstream(path) << content; }
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::string root_;
};

TEST_F(TokenFileTest, Table) {
  EXPECT_EQ(*ReadTokenFile(Write("cc_secret\n", 0600)), "cc_secret");
  EXPECT_EQ(*ReadTokenFile(Write("  cc_secret \n\n", 0400)), "cc_secret");
  const std::string path = root_ + "/token";
  struct Case {
    std::string content;
    mode_t mode;
    std::string error;
  } bad[] = {
      {"cc_secret\n", 0644, "token file " + path + ": mode 0644 lets group or others read the secret; chmod 600 it"},
      {"cc_secret\n", 0640, "token file " + path + ": mode 0640 lets group or others read the secret; chmod 600 it"},
      {"\n", 0600, "token file " + path + ": empty"},
      {"cc_a\ncc_b\n", 0600, "token file " + path + ": more than one word or line; expected the secret alone"},
      {std::string(5000, 'x'), 0600, "token file " + path + ": larger than 4096 bytes"},
  };
  for (const Case& c : bad) {
    auto got = ReadTokenFile(Write(c.content, c.mode));
    EXPECT_EQ(got.status().message(), c.error);
  }
  EXPECT_EQ(ReadTokenFile(root_ + "/missing").status().message(),
            "token file " + root_ + "/missing: does not exist");
  const std::string link = root_ + "/link";
  ASSERT_EQ(::symlink(path.c_str(), link.c_str()), 0);
  EXPECT_EQ(ReadTokenFile(link).status().message(),
            "token file " + link + ": is a symlink; refusing to follow it");
}

TEST(ServerClientTest, RefusesUrlsThatAreNotAServer) {
  for (const std::string url : {"ftp://x", "http://", "https://host/path", "http://user@host:1", "host:8440"}) {
    auto client = ServerClient::Create({.url = url, .token = "t"});
    EXPECT_EQ(client.status().code(), StatusCode::kInvalidArgument) << url;
  }
  EXPECT_EQ(ServerClient::Create({.url = "https://h:1", .token = "t", .ca_file = "/nonexistent/ca.pem"})
                .status()
                .message(),
            "--ca-file /nonexistent/ca.pem: No such file or directory");
}

// A server on 127.0.0.1 that reads one request's headers and then answers with `answer`, run on
// its own thread; the answer writes to the connection until it returns or a write fails.
class HostileServer {
 public:
  explicit HostileServer(std::function<void(int fd)> answer) : answer_(std::move(answer)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(listener_, 4), 0);
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] {
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      std::string request;
      char buffer[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        request.append(buffer, static_cast<size_t>(n));
      }
      answer_(fd);
      ::close(fd);
    });
  }
  ~HostileServer() {
    ::shutdown(listener_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  std::function<void(int)> answer_;
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
};

bool SendAll(int fd, std::string_view data) {
  return ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
}

TEST(ServerClientTest, AnAnswerLargerThanTheBoundIsAnErrorNotAnAllocation) {
  HostileServer server([](int fd) {
    if (!SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n")) return;
    const std::string chunk(1 << 16, 'x');
    while (SendAll(fd, chunk)) {
    }
  });
  auto client = ServerClient::Create({.url = server.url(), .token = "t",
                                      .request_timeout = absl::Seconds(30),
                                      .max_answer_bytes = 1 << 20});
  ASSERT_TRUE(client.ok());
  auto answer = (*client)->Get("/v1/agent/probes");
  EXPECT_EQ(answer.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(answer.status().message(),
            "GET " + server.url() + "/v1/agent/probes: answer larger than 1048576 bytes");
}

TEST(ServerClientTest, AServerThatTricklesItsAnswerIsCutAtTheRequestTimeout) {
  std::atomic<bool> stop = false;
  HostileServer server([&](int fd) {
    // One byte of the status line every 100 ms: every read succeeds within io_timeout.
    for (char c : std::string("HTTP/1.1 200 OK\r\nX-Slow: ") + std::string(1000, 'x')) {
      if (stop || !SendAll(fd, std::string_view(&c, 1))) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  auto client = ServerClient::Create({.url = server.url(), .token = "t",
                                      .io_timeout = absl::Seconds(10),
                                      .request_timeout = absl::Seconds(1)});
  ASSERT_TRUE(client.ok());
  const auto started = std::chrono::steady_clock::now();
  auto answer = (*client)->Post("/v1/events", "{}\n", "application/x-ndjson");
  const auto took = std::chrono::steady_clock::now() - started;
  stop = true;
  EXPECT_EQ(answer.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(answer.status().message(),
            "POST " + server.url() + "/v1/events: no complete answer within 1s");
  EXPECT_LT(took, std::chrono::seconds(5));  // not the 100 s the trickle would take
}

TEST(GzipTest, RoundTripsThroughZlib) {
  auto packed = Gzip(std::string(10000, 'a'));
  ASSERT_TRUE(packed.ok());
  EXPECT_LT(packed->size(), 200u);
  EXPECT_EQ(static_cast<unsigned char>((*packed)[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>((*packed)[1]), 0x8b);
}

}  // namespace
}  // namespace certcast::agent
