// The one libcurl wrapper of collect/probe: a single request, no redirects followed (callers
// that follow redirects decide themselves which ones are allowed), a bounded body and the
// headers the probes need. Thread-safe; each call uses its own easy handle.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "core/status.h"

namespace certcast::probe {

struct HttpRequest {
  std::string method = "GET";  // GET or HEAD
  std::string url;
  std::string ca_file;          // HTTPS trust; empty: system store
  bool verify_tls = true;       // false only where the peer's CA does the same (HTTP-01 redirects)
  std::string resolve_address;  // non-empty: connect to this IP for the URL's host and port
  // Which address family curl may resolve the host to (ignored with resolve_address). kAny lets
  // curl race both (happy eyeballs), which is not what an ACME validator does.
  enum class Family { kAny, kV4, kV6 };
  Family family = Family::kAny;
  absl::Duration timeout = absl::Seconds(10);
  size_t max_body_bytes = 64 * 1024;
};

struct HttpResponse {
  // kNoAddress: the host has no address (of the requested family); kRefused: nothing accepted
  // the connection.
  enum class Failure { kNone, kTimeout, kRefused, kNoAddress, kTls, kTooLarge, kOther };
  Failure failure = Failure::kNone;
  std::string failure_detail;  // curl's message
  long status = 0;
  std::string body;            // at most max_body_bytes (longer bodies fail with kTooLarge)
  std::string location;        // the redirect target, resolved against the URL (3xx only)
  std::string date;            // Date header
  std::string retry_after;     // Retry-After header
  std::string replay_nonce;    // Replay-Nonce header (ACME)
  double latency_ms = 0;
};

// Initialises libcurl once per process (curl_global_init is not thread-safe).
void InitHttpOnce();

// Performs the request. Network-level problems are reported in HttpResponse::failure, not as a
// Status; a Status error means the request could not even be set up (bad URL, curl failure).
StatusOr<HttpResponse> HttpFetch(const HttpRequest& request);

// Scheme, host and port of an absolute URL (default ports filled in), via curl's URL parser.
struct UrlParts {
  std::string scheme;  // lower case
  std::string host;
  int port = 0;
};
StatusOr<UrlParts> ParseUrl(std::string_view url);

}  // namespace certcast::probe
