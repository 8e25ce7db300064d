// The TLS probe: connects to host:port with SNI, completes a handshake with OpenSSL 3 and reports
// what the endpoint serves as a `tls_probe` event. A coordinator (does I/O); thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "core/clock.h"
#include "core/event.h"
#include "core/status.h"

namespace certcast::probe {

struct TlsProbeOptions {
  std::string sni;        // empty: the host part of the endpoint (unless it is an IP address)
  std::string ca_file;    // PEM bundle to trust; empty: the system store (OpenSSL default paths)
  std::string cert;       // lineage name copied into the event's `cert` (optional)
  // Connect plus handshake. A healthy endpoint answers in milliseconds; 10 s is what browsers
  // and monitoring tools tolerate before calling a server down.
  absl::Duration timeout = absl::Seconds(10);
};

// Probes `endpoint` ("host:port", "[v6]:port"). Outcome `ok` only when the chain verifies to the
// trust store, the leaf is within its validity, the name matches the SNI and no stapled OCSP
// response says revoked. The served serial / not_after / SCTs / version / cipher are reported
// whenever a handshake completed, also when verification failed. Returns an error (not an event)
// only for bad arguments or a trust store that cannot be loaded.
StatusOr<Event> ProbeTls(std::string_view endpoint, const TlsProbeOptions& options, const Clock& clock);

// Verification errors seen for one chain: (depth, X509_V_ERR_* code), in the order OpenSSL
// reported them.
struct VerifyIssue {
  int depth = 0;
  int code = 0;
};
// Maps them to the spec's error. Precedence, most telling first: revoked, expired (leaf),
// not_yet_valid (leaf), name_mismatch, untrusted (anything else: unknown issuer, self-signed,
// expired intermediate, bad signature...). nullopt when there is no issue.
// Why this order: an expired leaf is an outage whatever else is wrong (events-v1 derives outages
// from it); a wrong name means the wrong certificate is served, which matters more than whether
// that wrong certificate also chains.
std::optional<TlsError> ClassifyVerifyIssues(std::span<const VerifyIssue> issues);

// "host:port" / "[v6]:port" -> host, port. Error text names the problem.
struct Endpoint {
  std::string host;
  int port = 0;
};
StatusOr<Endpoint> ParseEndpoint(std::string_view text);

}  // namespace certcast::probe
