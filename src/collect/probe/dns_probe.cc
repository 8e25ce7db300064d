#include "collect/probe/dns_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>

#include "collect/probe/dns_wire.h"
#include "collect/probe/socket_util.h"
#include "core/strings.h"

namespace certcast::probe {
namespace {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

StatusOr<SocketAddress> ToSocketAddress(const ResolverAddress& resolver) {
  SocketAddress out;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (inet_pton(AF_INET, resolver.address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(resolver.port));
    out.length = sizeof *v4;
  } else if (inet_pton(AF_INET6, resolver.address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(resolver.port));
    out.length = sizeof *v6;
  } else {
    return InvalidArgumentError(StrCat("resolver \"", resolver.address, "\" is not an IP address"));
  }
  return out;
}

// Sends the query over UDP and returns the first response whose ID and question match (anything
// else on the socket is ignored, as RFC 5452 asks). Empty string: timeout.
StatusOr<std::string> ExchangeUdp(const SocketAddress& to, const std::string& query, uint16_t id,
                                  std::string_view name, uint16_t type, SteadyClock::time_point deadline) {
  Fd socket_fd(socket(to.storage.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (socket_fd.get() < 0) return UnavailableError(StrCat("socket: ", strerror(errno)));
  if (connect(socket_fd.get(), reinterpret_cast<const sockaddr*>(&to.storage), to.length) != 0) {
    return UnavailableError(StrCat("connect: ", strerror(errno)));
  }
  if (send(socket_fd.get(), query.data(), query.size(), 0) != static_cast<ssize_t>(query.size())) {
    return UnavailableError(StrCat("send: ", strerror(errno)));
  }
  uint8_t buffer[65536];
  while (WaitFor(socket_fd.get(), POLLIN, deadline)) {
    const ssize_t n = recv(socket_fd.get(), buffer, sizeof buffer, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      // ICMP port unreachable on a connected UDP socket: nobody serves DNS there. Resolvers
      // treat that as no answer, and so does the probe.
      if (errno == ECONNREFUSED) return std::string();
      return UnavailableError(StrCat("recv: ", strerror(errno)));
    }
    if (n < 12) continue;
    const uint16_t got_id = static_cast<uint16_t>(buffer[0] << 8 | buffer[1]);
    if (got_id != id) continue;
    auto parsed = ParseDnsResponse({buffer, static_cast<size_t>(n)});
    if (parsed.ok() && (parsed->question_name != name || parsed->question_type != type)) continue;
    return std::string(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
  }
  return std::string();
}

// RFC 7766: the same query over TCP with a two-byte length prefix. Empty string: timeout.
StatusOr<std::string> ExchangeTcp(const SocketAddress& to, const std::string& query,
                                  SteadyClock::time_point deadline) {
  Fd socket_fd(socket(to.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (socket_fd.get() < 0) return UnavailableError(StrCat("socket: ", strerror(errno)));
  if (connect(socket_fd.get(), reinterpret_cast<const sockaddr*>(&to.storage), to.length) != 0 &&
      errno != EINPROGRESS) {
    return UnavailableError(StrCat("TCP connect: ", strerror(errno)));
  }
  if (!WaitFor(socket_fd.get(), POLLOUT, deadline)) return std::string();
  int error = 0;
  socklen_t len = sizeof error;
  if (getsockopt(socket_fd.get(), SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
    return UnavailableError(StrCat("TCP connect: ", strerror(error)));
  }
  std::string framed;
  framed.push_back(static_cast<char>(query.size() >> 8));
  framed.push_back(static_cast<char>(query.size() & 0xff));
  framed += query;
  size_t sent = 0;
  while (sent < framed.size()) {
    if (!WaitFor(socket_fd.get(), POLLOUT, deadline)) return std::string();
    const ssize_t n = send(socket_fd.get(), framed.data() + sent, framed.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return UnavailableError(StrCat("TCP send: ", strerror(errno)));
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string in;
  size_t want = 2;
  bool have_length = false;
  char buffer[4096];
  while (in.size() < want) {
    if (!WaitFor(socket_fd.get(), POLLIN, deadline)) return std::string();
    const ssize_t n = recv(socket_fd.get(), buffer, std::min(sizeof buffer, want - in.size()), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return UnavailableError("TCP: connection closed before the whole response");
    in.append(buffer, static_cast<size_t>(n));
    if (!have_length && in.size() == 2) {
      // The length prefix bounds the read at 65535 bytes.
      want = 2 + (static_cast<uint8_t>(in[0]) << 8 | static_cast<uint8_t>(in[1]));
      have_length = true;
    }
  }
  return in.substr(2);
}

Rcode MapRcode(uint16_t rcode) {
  switch (rcode) {
    case 0: return Rcode::kNoError;
    case 3: return Rcode::kNxDomain;
    case 5: return Rcode::kRefused;
    // SERVFAIL, and FORMERR/NOTIMP/others: the spec's closed enum has no finer word for "the
    // resolver could not give an answer", and a CA treats them all as a lookup failure.
    default: return Rcode::kServFail;
  }
}

uint16_t WireType(RecordType type) {
  switch (type) {
    case RecordType::kA: return kTypeA;
    case RecordType::kAAAA: return kTypeAAAA;
    case RecordType::kCNAME: return kTypeCNAME;
    case RecordType::kCAA: return kTypeCAA;
    case RecordType::kNS: return kTypeNS;
    case RecordType::kTXT: return kTypeTXT;
  }
  return kTypeA;
}

uint16_t RandomId() {
  // Query IDs must be unpredictable (RFC 5452); this is not key material, so a per-thread
  // random_device-seeded engine is enough.
  thread_local std::mt19937 engine{std::random_device{}()};
  return static_cast<uint16_t>(engine());
}

struct Answer {
  Rcode rcode = Rcode::kTimeout;
  std::vector<std::string> values;
  std::optional<Dnssec> dnssec;
  std::optional<absl::Time> rrsig_expires;
};

StatusOr<DnsResponse> Parse(const std::string& raw, std::string_view resolver, std::string_view how) {
  auto response = ParseDnsResponse({reinterpret_cast<const uint8_t*>(raw.data()), raw.size()});
  // A malformed response is the resolver's fault: Unavailable, not a bad argument.
  if (!response.ok()) return UnavailableError(StrCat("resolver ", resolver, how, ": ", response.status().message()));
  return response;
}

// One question over UDP, again over TCP when the answer was truncated. nullopt: nothing came back
// before the deadline.
StatusOr<std::optional<DnsResponse>> Exchange(const SocketAddress& to, std::string_view resolver, std::string_view name,
                                              uint16_t type, DnsQueryFlags flags, SteadyClock::time_point deadline) {
  // Spelled out: a bare std::nullopt would build a StatusOr without a value (an error), not one
  // holding "no reply".
  const std::optional<DnsResponse> no_reply;
  const uint16_t id = RandomId();
  ASSIGN_OR_RETURN(std::string query, BuildDnsQuery(id, name, type, flags));
  ASSIGN_OR_RETURN(std::string raw, ExchangeUdp(to, query, id, name, type, deadline));
  if (raw.empty()) return no_reply;
  ASSIGN_OR_RETURN(DnsResponse response, Parse(raw, resolver, ""));
  if (!response.truncated) return response;
  ASSIGN_OR_RETURN(raw, ExchangeTcp(to, query, deadline));
  if (raw.empty()) return no_reply;
  ASSIGN_OR_RETURN(response, Parse(raw, resolver, " (TCP)"));
  if (response.id != id) return UnavailableError("TCP response ID does not match the query");
  return response;
}

// The signatures an answer stands on: those over the answered RRsets (a CNAME chain included) and,
// when no record of the asked type came back (NXDOMAIN, NODATA), those over the authority
// section's SOA and NSEC/NSEC3 proofs. When the earliest expires, the answer turns bogus.
std::optional<absl::Time> SignaturesExpire(const DnsResponse& response, uint16_t type, absl::Time now) {
  std::optional<absl::Time> earliest = EarliestRrsigExpiration(response.answers, now);
  const bool answered = std::any_of(response.answers.begin(), response.answers.end(),
                                    [&](const DnsRecord& r) { return r.type == type; });
  if (answered) return earliest;
  const std::optional<absl::Time> proof = EarliestRrsigExpiration(response.authority, now);
  if (!earliest || (proof && *proof < *earliest)) return proof;
  return earliest;
}

bool Answered(uint16_t rcode) { return rcode == 0 || rcode == 3; }  // NOERROR, NXDOMAIN

StatusOr<Answer> Ask(std::string_view name, uint16_t type, const DnsProbeOptions& options, absl::Time now) {
  const std::string resolver_text = options.resolver.empty() ? DefaultResolver() : options.resolver;
  ASSIGN_OR_RETURN(ResolverAddress resolver, ParseResolverAddress(resolver_text));
  ASSIGN_OR_RETURN(SocketAddress to, ToSocketAddress(resolver));
  const auto deadline = SteadyClock::now() + absl::ToChronoMilliseconds(options.timeout);
  DnsQueryFlags flags{.dnssec_ok = options.dnssec};
  ASSIGN_OR_RETURN(std::optional<DnsResponse> response, Exchange(to, resolver_text, name, type, flags, deadline));
  Answer answer;
  if (!response) return answer;  // TIMEOUT
  answer.rcode = MapRcode(response->rcode);
  for (const DnsRecord& record : response->answers) {
    if (record.type == type) answer.values.push_back(record.value);
  }
  std::sort(answer.values.begin(), answer.values.end());
  answer.values.erase(std::unique(answer.values.begin(), answer.values.end()), answer.values.end());
  if (!options.dnssec) return answer;
  if (Answered(response->rcode)) {
    // A resolver that drops DO from its reply is not DNSSEC-aware (RFC 3225 §3): it has no state
    // to report, and "insecure" would be a guess.
    if (response->edns && response->edns->dnssec_ok) {
      answer.dnssec = response->authentic_data ? Dnssec::kSecure : Dnssec::kInsecure;
    }
    answer.rrsig_expires = SignaturesExpire(*response, type, now);
  } else if (response->rcode == 2) {  // SERVFAIL
    // A validating resolver answers SERVFAIL for bogus data; asked again with CD=1 it hands the
    // data over unchecked (RFC 4035 §3.2.2). An answer then means validation was what failed. A
    // second query that fails or times out leaves the state unknown: the SERVFAIL stands alone.
    flags.checking_disabled = true;
    auto unchecked = Exchange(to, resolver_text, name, type, flags, deadline);
    if (unchecked.ok() && *unchecked && Answered((*unchecked)->rcode)) {
      answer.dnssec = Dnssec::kBogus;
      answer.rrsig_expires = SignaturesExpire(**unchecked, type, now);
    }
  }
  return answer;
}

// Order of a climb step's DNSSEC state, strongest first: a bogus step fails the lookup, an unknown
// one (a resolver without DNSSEC, a plain SERVFAIL) leaves the whole unknown, an insecure one
// leaves it unauthenticated.
int Weakness(std::optional<Dnssec> state) {
  if (!state) return 2;
  switch (*state) {
    case Dnssec::kSecure: return 0;
    case Dnssec::kInsecure: return 1;
    case Dnssec::kBogus: return 3;
  }
  return 2;
}

std::string_view StripWildcard(std::string_view name) {
  if (name.substr(0, 2) == "*.") name.remove_prefix(2);
  return name;
}

}  // namespace

StatusOr<ResolverAddress> ParseResolverAddress(std::string_view text) {
  ResolverAddress out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return InvalidArgumentError(StrCat("resolver \"", text, "\": missing ]"));
    out.address = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return InvalidArgumentError(StrCat("resolver \"", text, "\": expected :PORT after ]"));
      port_text = rest.substr(1);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    const size_t colon = text.find(':');
    out.address = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  } else {
    out.address = std::string(text);  // IPv4 without port, or a bare IPv6 address
  }
  if (!port_text.empty()) {
    int port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 || port > 65535) {
      return InvalidArgumentError(StrCat("resolver \"", text, "\": port \"", port_text, "\" is not 1..65535"));
    }
    out.port = port;
  }
  in6_addr scratch;
  if (inet_pton(AF_INET, out.address.c_str(), &scratch) != 1 && inet_pton(AF_INET6, out.address.c_str(), &scratch) != 1) {
    return InvalidArgumentError(StrCat("resolver \"", text, "\": \"", out.address, "\" is not an IP address"));
  }
  return out;
}

std::string DefaultResolver() {
  std::ifstream in("/etc/resolv.conf");
  std::string line;
  int lines = 0;
  // resolv.conf is a few lines; the bound only guards against a pathological file.
  while (lines++ < 1000 && std::getline(in, line)) {
    if (line.rfind("nameserver", 0) != 0) continue;
    std::string_view rest = std::string_view(line).substr(10);
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t' || rest.back() == '\r')) rest.remove_suffix(1);
    if (rest.empty()) continue;
    if (rest.find(':') != std::string_view::npos) return StrCat("[", rest, "]:53");
    return std::string(rest);
  }
  return "127.0.0.1:53";
}

StatusOr<Event> ProbeDns(std::string_view name, RecordType type, const DnsProbeOptions& options,
                         const Clock& clock) {
  const std::string_view probed = StripWildcard(name);
  Event event{clock.Now(), DnsEvent{}};
  const auto start = SteadyClock::now();
  ASSIGN_OR_RETURN(Answer answer, Ask(probed, WireType(type), options, event.ts));
  DnsEvent& dns = std::get<DnsEvent>(event.body);
  dns.name = std::string(probed);
  dns.rtype = type;
  dns.rcode = answer.rcode;
  dns.values = std::move(answer.values);
  dns.dnssec = answer.dnssec;
  dns.rrsig_expires = answer.rrsig_expires;
  dns.latency_ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
  return event;
}

StatusOr<Event> ProbeCaa(std::string_view name, const DnsProbeOptions& options, const Clock& clock) {
  const std::string_view probed = StripWildcard(name);
  Event event{clock.Now(), DnsEvent{}};
  DnsEvent& dns = std::get<DnsEvent>(event.body);
  dns.name = std::string(probed);
  dns.rtype = RecordType::kCAA;
  const auto start = SteadyClock::now();
  std::string_view current = probed;
  // At most 127 labels; the loop ends at the last label (the TLD) because the root is excluded.
  // One budget for the whole climb, so a deep name cannot multiply the caller's timeout.
  const auto deadline = start + absl::ToChronoMilliseconds(options.timeout);
  DnsProbeOptions step = options;
  // DNSSEC over the climb: the CA needs every step's answer, so the weakest step speaks for the
  // event, and the earliest signature expiry of any step is when the lookup turns bogus.
  std::optional<Dnssec> climb_dnssec = Dnssec::kSecure;
  while (!current.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) {
      dns.rcode = Rcode::kTimeout;
      break;
    }
    step.timeout = absl::Milliseconds(left.count());
    ASSIGN_OR_RETURN(Answer answer, Ask(current, kTypeCAA, step, event.ts));
    if (answer.rrsig_expires && (!dns.rrsig_expires || *answer.rrsig_expires < *dns.rrsig_expires)) {
      dns.rrsig_expires = answer.rrsig_expires;
    }
    if (Weakness(answer.dnssec) > Weakness(climb_dnssec)) climb_dnssec = answer.dnssec;
    // NXDOMAIN at a level is not an error for the climb: RFC 8659 §3 treats an absent RRset the
    // same whatever the reason, and the parent may still publish CAA.
    if (answer.rcode != Rcode::kNoError && answer.rcode != Rcode::kNxDomain) {
      dns.rcode = answer.rcode;
      break;
    }
    if (!answer.values.empty()) {
      dns.values = std::move(answer.values);
      break;
    }
    const size_t dot = current.find('.');
    if (dot == std::string_view::npos) break;
    current.remove_prefix(dot + 1);
  }
  if (options.dnssec && dns.rcode != Rcode::kTimeout) dns.dnssec = climb_dnssec;
  dns.latency_ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
  return event;
}

}  // namespace certcast::probe
