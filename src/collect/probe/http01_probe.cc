#include "collect/probe/http01_probe.h"

#include <arpa/inet.h>

#include <cctype>
#include <chrono>

#include "collect/probe/dns_probe.h"
#include "collect/probe/http.h"
#include "core/strings.h"

namespace certcast::probe {
namespace {

bool IsIpLiteral(const std::string& host) {
  in6_addr buffer;
  return ::inet_pton(AF_INET, host.c_str(), &buffer) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), &buffer) == 1;
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
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::milliseconds(0)) return finish(Http01Error::kTimeout);
    HttpRequest request;
    request.url = url;
    // The CA ignores certificate errors on HTTPS redirect targets (RFC 8555 §8.3 lets it; Boulder
    // does), so the probe must too or it would report failures the CA never sees.
    request.verify_tls = false;
    request.timeout = absl::Milliseconds(std::chrono::duration_cast<std::chrono::milliseconds>(left).count());
    request.max_body_bytes = 16 * 1024;
    // The address override applies to the probed name only, never to redirect targets elsewhere.
    ASSIGN_OR_RETURN(UrlParts parts, ParseUrl(url));
    if (!options.address.empty() && parts.host == name) {
      request.resolve_address = options.address;
    } else if (!options.resolver.empty() && !IsIpLiteral(parts.host)) {
      DnsProbeOptions dns;
      dns.resolver = options.resolver;
      dns.timeout = request.timeout;
      ASSIGN_OR_RETURN(Event answer, ProbeDns(parts.host, RecordType::kA, dns, clock));
      const DnsEvent& a = std::get<DnsEvent>(answer.body);
      if (a.rcode == Rcode::kTimeout) return finish(Http01Error::kTimeout);
      if (a.values.empty()) return finish(Http01Error::kRefused);
      request.resolve_address = a.values.front();
    }
    ASSIGN_OR_RETURN(HttpResponse response, HttpFetch(request));
    switch (response.failure) {
      case HttpResponse::Failure::kNone: break;
      case HttpResponse::Failure::kTimeout: return finish(Http01Error::kTimeout);
      case HttpResponse::Failure::kTooLarge:
        probe.status = response.status;
        return finish(Http01Error::kWrongContent);
      default: return finish(Http01Error::kRefused);
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
