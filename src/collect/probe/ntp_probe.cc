#include "collect/probe/ntp_probe.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "collect/probe/ntp_packet.h"
#include "collect/probe/socket_util.h"
#include "collect/probe/tls_probe.h"
#include "core/host_name.h"
#include "core/strings.h"

namespace certcast::probe {
namespace {

struct ServerAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  std::string text;  // numeric, for error messages
};

StatusOr<std::vector<ServerAddress>> Resolve(const NtpServer& server) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* result = nullptr;
  // getaddrinfo cannot be bounded by our deadline; IP literals and /etc/hosts answer at once,
  // and a slow system resolver is itself what the dns probe reports.
  const int rc = getaddrinfo(server.host.c_str(), std::to_string(server.port).c_str(), &hints, &result);
  if (rc != 0) return UnavailableError(StrCat("resolve ", server.host, ": ", gai_strerror(rc)));
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(result, freeaddrinfo);
  std::vector<ServerAddress> out;
  for (const addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    ServerAddress address;
    std::memcpy(&address.storage, ai->ai_addr, ai->ai_addrlen);
    address.length = ai->ai_addrlen;
    char text[NI_MAXHOST] = {};
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) == 0) {
      address.text = text;
    }
    out.push_back(std::move(address));
  }
  if (out.empty()) return UnavailableError(StrCat("resolve ", server.host, ": no address"));
  return out;
}

// How one attempt ended.
enum class Outcome {
  kSample,
  kRetry,  // timeout, port unreachable, socket error: another attempt may fare better
  kFinal,  // an authentic reply that cannot be used: asking again gets the same answer
};

struct AttemptResult {
  Outcome outcome = Outcome::kRetry;
  NtpSample sample;
  absl::Time sent;
  Status failure;       // kRetry, kFinal: why there is no sample
  std::string ignored;  // the last datagram ignored while waiting, and why
};

// Sends one request on a new connected socket (so the kernel drops datagrams from any other
// address, and reports ICMP port unreachable) and waits for the reply that carries `nonce`.
// Datagrams that do not parse or do not carry the nonce are ignored, as RFC 5905 §8 asks: they
// are stale, misdirected or forged, and the real reply may still come.
AttemptResult Attempt(const ServerAddress& to, uint64_t nonce, const Clock& clock, SteadyClock::time_point deadline) {
  AttemptResult result;
  Fd socket_fd(socket(to.storage.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (socket_fd.get() < 0) {
    result.failure = UnavailableError(StrCat("socket: ", strerror(errno)));
    return result;
  }
  if (connect(socket_fd.get(), reinterpret_cast<const sockaddr*>(&to.storage), to.length) != 0) {
    result.failure = UnavailableError(StrCat("connect: ", strerror(errno)));
    return result;
  }
  const std::string request = BuildNtpRequest(nonce);
  result.sent = clock.Now();  // T1
  if (send(socket_fd.get(), request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) {
    result.failure = UnavailableError(StrCat("send: ", strerror(errno)));
    return result;
  }
  // A reply is 48 bytes, with extension fields or a MAC a few hundred; a larger datagram is cut
  // short by the kernel and still parses (only the header is read).
  uint8_t buffer[1024];
  while (true) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
    if (left <= 0) break;
    pollfd ready{socket_fd.get(), POLLIN, 0};
    const int polled = poll(&ready, 1, static_cast<int>(left));
    if (polled < 0 && errno != EINTR) {
      result.failure = UnavailableError(StrCat("poll: ", strerror(errno)));
      return result;
    }
    if (polled <= 0) continue;
    const ssize_t n = recv(socket_fd.get(), buffer, sizeof buffer, 0);
    const int recv_error = errno;             // before the clock call can touch errno
    const absl::Time received = clock.Now();  // T4, before any parsing
    if (n < 0) {
      if (recv_error == EAGAIN || recv_error == EINTR) continue;
      result.failure = UnavailableError(recv_error == ECONNREFUSED
                                            ? std::string("port unreachable: nothing listens there")
                                            : StrCat("recv: ", strerror(recv_error)));
      return result;
    }
    auto packet = ParseNtpPacket({buffer, static_cast<size_t>(n)});
    if (!packet.ok()) {
      result.ignored = packet.status().message();
      continue;
    }
    if (packet->origin_time != nonce) {
      result.ignored = EvaluateNtpReply(*packet, nonce, result.sent, received).status().message();
      continue;
    }
    auto sample = EvaluateNtpReply(*packet, nonce, result.sent, received);
    if (!sample.ok()) {
      result.outcome = Outcome::kFinal;
      result.failure = sample.status();
      return result;
    }
    result.outcome = Outcome::kSample;
    result.sample = *sample;
    return result;
  }
  result.failure = DeadlineExceededError("no reply");
  return result;
}

}  // namespace

StatusOr<NtpServer> ParseNtpServer(std::string_view text) {
  const auto colons = std::count(text.begin(), text.end(), ':');
  if (colons > 1 && !text.empty() && text.front() != '[') {
    // A bare IPv6 address: no room for a port without brackets.
    return NtpServer{std::string(text), kNtpDefaultPort};
  }
  const bool has_port = colons == 1 || (colons > 1 && text.find("]:") != std::string_view::npos);
  const std::string with_port = has_port ? std::string(text) : StrCat(text, ":", kNtpDefaultPort);
  auto endpoint = ParseEndpoint(with_port);
  if (!endpoint.ok() || endpoint->host.empty()) {
    return InvalidArgumentError(StrCat("NTP server \"", text, "\" is not HOST, HOST:PORT, [V6] or [V6]:PORT"));
  }
  return NtpServer{endpoint->host, endpoint->port};
}

StatusOr<Event> ProbeNtp(std::string_view server_text, const NtpProbeOptions& options, const Clock& clock,
                         uint64_t seed) {
  ASSIGN_OR_RETURN(NtpServer server, ParseNtpServer(server_text));
  if (options.attempts < 1 || options.timeout <= absl::ZeroDuration()) {
    return InvalidArgumentError("attempts and timeout must be positive");
  }
  auto addresses = Resolve(server);
  if (!addresses.ok()) return addresses.status();
  std::mt19937_64 random(seed);
  const auto per_attempt = absl::ToChronoNanoseconds(options.timeout / options.attempts);
  AttemptResult last;
  std::string ignored;
  const ServerAddress* to = nullptr;
  for (int attempt = 0; attempt < options.attempts; ++attempt) {
    // Round robin over the server's addresses: a pool name's next address is the better retry.
    to = &(*addresses)[static_cast<size_t>(attempt) % addresses->size()];
    uint64_t nonce = 0;
    while (nonce == 0) nonce = random();  // zero is "unknown" in the origin field (RFC 5905 §8)
    last = Attempt(*to, nonce, clock, SteadyClock::now() + per_attempt);
    if (!last.ignored.empty()) ignored = last.ignored;
    if (last.outcome != Outcome::kRetry) break;
  }
  // Which of a name's addresses failed: "192.0.2.1", "[2001:db8::1]".
  const std::string where_address = to->text.find(':') == std::string::npos ? to->text : StrCat("[", to->text, "]");
  // Whatever the reply got wrong, it is the server's fault and not the caller's: Unavailable.
  if (last.outcome == Outcome::kFinal) return UnavailableError(StrCat(where_address, ": ", last.failure.message()));
  if (last.outcome == Outcome::kRetry) {
    const std::string tries = StrCat(options.attempts, options.attempts == 1 ? " attempt" : " attempts");
    std::string message = last.failure.code() == StatusCode::kDeadlineExceeded
                              ? StrCat("no reply within ", absl::FormatDuration(options.timeout), " (", tries, ")")
                              : StrCat(last.failure.message(), " (", tries, ")");
    if (!ignored.empty()) message += StrCat("; ignored: ", ignored);
    return Status(last.failure.code(), StrCat(where_address, ": ", message));
  }
  Event event{last.sent, ClockEvent{}};
  ClockEvent& c = std::get<ClockEvent>(event.body);
  c.host = options.host.empty() ? LocalHostName() : options.host;
  c.offset_ms = -absl::ToDoubleMilliseconds(last.sample.offset);  // events-v1: local minus reference
  c.source = StrCat("ntp:", server_text);
  return event;
}

uint64_t UnpredictableSeed() {
  std::random_device entropy;
  return uint64_t{entropy()} << 32 | entropy();
}

}  // namespace certcast::probe
