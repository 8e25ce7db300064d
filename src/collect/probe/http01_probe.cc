#include "collect/probe/http01_probe.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>

#include "collect/probe/dns_probe.h"
#include "collect/probe/http.h"
#include "core/strings.h"

namespace certcast::probe {
namespace {

bool IsIpLiteral(std::string host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  in6_addr buffer;
  return ::inet_pton(AF_INET, host.c_str(), &buffer) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), &buffer) == 1;
}

bool NetworkLevel(const HttpResponse& r) {
  return r.failure == HttpResponse::Failure::kTimeout || r.failure == HttpResponse::Failure::kRefused;
}

// One GET the way Let's Encrypt's validator makes it (letsencrypt.org/docs/ipv6-support): over
// IPv6 when the host has an AAAA record, over IPv4 only when that fails at the network level
// (timeout, refused). Anything else over IPv6 (a 404, other content, a redirect) is the answer: a
// stale AAAA that reaches another server fails validation although IPv4 works, and curl's own
// happy-eyeballs race would hide exactly that. IPv6 gets half the time left when IPv4 may follow.
StatusOr<HttpResponse> FetchAsValidator(const std::string& url, std::string_view name,
                                        const Http01ProbeOptions& options,
                                        std::chrono::steady_clock::time_point deadline, const Clock& clock) {
  auto left = [&] {
    const auto d = deadline - std::chrono::steady_clock::now();
    return std::max(absl::Milliseconds(1),
                    absl::Milliseconds(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()));
  };
  HttpRequest request;
  request.url = url;
  // The CA ignores certificate errors on HTTPS redirect targets (RFC 8555 §8.3 lets it; Boulder
  // does), so the probe must too or it would report failures the CA never sees.
  request.verify_tls = false;
  request.max_body_bytes = 16 * 1024;
  ASSIGN_OR_RETURN(UrlParts parts, ParseUrl(url));
  // The address override applies to the probed name only, never to redirect targets elsewhere.
  if ((!options.address.empty() && parts.host == name) || IsIpLiteral(parts.host)) {
    if (parts.host == name) request.resolve_address = options.address;
    request.timeout = left();
    return HttpFetch(request);
  }
  std::optional<HttpResponse> over_v6;
  if (!options.resolver.empty()) {
    DnsProbeOptions dns;
    dns.resolver = options.resolver;
    dns.timeout = left();
    ASSIGN_OR_RETURN(Event aaaa, ProbeDns(parts.host, RecordType::kAAAA, dns, clock));
    // A failed AAAA lookup is treated as no AAAA: the A lookup below decides.
    if (const DnsEvent& d = std::get<DnsEvent>(aaaa.body); !d.values.empty()) {
      request.resolve_address = d.values.front();
      request.timeout = left() / 2;
      ASSIGN_OR_RETURN(over_v6, HttpFetch(request));
      if (!NetworkLevel(*over_v6)) return *over_v6;
    }
    dns.timeout = left();
    ASSIGN_OR_RETURN(Event a, ProbeDns(parts.host, RecordType::kA, dns, clock));
    const DnsEvent& d = std::get<DnsEvent>(a.body);
    HttpResponse unresolved;
    unresolved.failure = d.rcode == Rcode::kTimeout ? HttpResponse::Failure::kTimeout
                                                    : HttpResponse::Failure::kNoAddress;
    if (d.values.empty()) return over_v6 ? *over_v6 : unresolved;
    request.resolve_address = d.values.front();
    request.timeout = left();
    return HttpFetch(request);
  }
  request.family = HttpRequest::Family::kV6;
  request.timeout = left() / 2;
  ASSIGN_OR_RETURN(over_v6, HttpFetch(request));
  if (over_v6->failure != HttpResponse::Failure::kNoAddress && !NetworkLevel(*over_v6)) return *over_v6;
  request.family = HttpRequest::Family::kV4;
  request.timeout = left();
  ASSIGN_OR_RETURN(HttpResponse over_v4, HttpFetch(request));
  // No A record after an IPv6 failure: the IPv6 failure is what the CA reports.
  if (over_v4.failure == HttpResponse::Failure::kNoAddress && NetworkLevel(*over_v6)) return *over_v6;
  return over_v4;
}

}  // namespace

std::string Http01RedirectRefusal(std::string_view scheme, int port, int probe_port) {
  if (scheme != "http" && scheme != "https") return StrCat("scheme ", scheme, " is not http or https");
  if (port != 80 && port != 443 && port != probe_port) return StrCat("port ", port, " is not 80 or 443");
  return "";
}

StatusOr<Event> ProbeHttp01(std::string_view name_in, const Http01ProbeOptions& options, const Clock& clock) {
  std::string_view name = name_in;
  if (name.substr(0, 2) == "*.") name.remove_prefix(2);
  Event event{clock.Now(), Http01ProbeEvent{}};
  Http01ProbeEvent& probe = std::get<Http01ProbeEvent>(event.body);
  probe.name = std::string(name);
  if (!options.vantage.empty()) probe.vantage = options.vantage;
  for (char c : options.token) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return InvalidArgumentError(StrCat("token \"", options.token, "\" is not base64url"));
    }
  }
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + absl::ToChronoMilliseconds(options.timeout);
  auto finish = [&](std::optional<Http01Error> error) -> StatusOr<Event> {
    probe.outcome = error ? ProbeOutcome::kError : ProbeOutcome::kOk;
    probe.error = error;
    probe.latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    return event;
  };
  std::string url = StrCat("http://", name, options.port == 80 ? "" : StrCat(":", options.port),
                           "/.well-known/acme-challenge/", options.token);
  for (int hop = 0;; ++hop) {
    if (deadline <= std::chrono::steady_clock::now()) return finish(Http01Error::kTimeout);
    ASSIGN_OR_RETURN(HttpResponse response, FetchAsValidator(url, name, options, deadline, clock));
    switch (response.failure) {
      case HttpResponse::Failure::kNone: break;
      case HttpResponse::Failure::kTimeout: return finish(Http01Error::kTimeout);
      case HttpResponse::Failure::kTooLarge:
        probe.status = response.status;
        return finish(Http01Error::kWrongContent);
      default: return finish(Http01Error::kRefused);  // refused, unresolvable, TLS on a redirect
    }
    probe.status = response.status;
    if (response.status >= 300 && response.status < 400 && response.status != 304) {
      if (hop + 1 > kMaxHttp01Redirects || response.location.empty()) return finish(Http01Error::kRedirect);
      auto target = ParseUrl(response.location);
      if (!target.ok()) return finish(Http01Error::kRedirect);
      if (!Http01RedirectRefusal(target->scheme, target->port, options.port).empty()) {
        return finish(Http01Error::kRedirect);
      }
      url = response.location;
      continue;
    }
    if (!options.expect.empty()) {
      if (response.status != 200) return finish(Http01Error::kHttpStatus);
      std::string_view body = response.body;
      while (!body.empty() && (body.back() == '\n' || body.back() == '\r' || body.back() == ' ' || body.back() == '\t')) {
        body.remove_suffix(1);
      }
      return finish(body == options.expect ? std::nullopt : std::optional(Http01Error::kWrongContent));
    }
    return finish(response.status == 200 || response.status == 404 ? std::nullopt
                                                                     : std::optional(Http01Error::kHttpStatus));
  }
}

}  // namespace certcast::probe
