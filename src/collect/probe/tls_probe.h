// The TLS probe: connects to host:port with SNI, completes a handshake with OpenSSL 3 and reports
// what the endpoint serves as a `tls_probe` event. A coordinator (does I/O); thread-safe.
#pragma once

#include <memory>
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

// The client half every probe needs: an OpenSSL client context holding the trust store. Building
// it costs more CPU than the handshake itself (OpenSSL 3 fetches its algorithms for every new
// SSL_CTX, and the whole CA bundle is parsed), so a scan loads it once per CA file and shares it.
// Immutable after Load; any number of threads may probe with it at once. The CA file is read by
// Load: a later change to the file is seen by the next Load, not by this one.
struct TlsTrustContext;  // OpenSSL state, defined in tls_probe.cc
class TlsTrust {
 public:
  // `ca_file` empty: the system store (OpenSSL default paths). Errors: InvalidArgument
  // "--ca-file FILE: <openssl>", FailedPrecondition "system trust store: <openssl>".
  static StatusOr<std::shared_ptr<const TlsTrust>> Load(const std::string& ca_file);
  explicit TlsTrust(std::unique_ptr<TlsTrustContext> context);
  ~TlsTrust();
  const TlsTrustContext& context() const { return *context_; }

 private:
  std::unique_ptr<TlsTrustContext> context_;
};

// Probes `endpoint` ("host:port", "[v6]:port") trusting `trust` (options.ca_file is not read).
// Outcome `ok` only when the chain verifies to the trust store, the leaf is within its validity,
// the name matches the SNI and no stapled OCSP response says revoked. The served serial /
// not_after / SCTs / version / cipher are reported whenever a handshake completed, also when
// verification failed. Returns an error (not an event) only for bad arguments.
StatusOr<Event> ProbeTls(std::string_view endpoint, const TlsProbeOptions& options, const TlsTrust& trust,
                         const Clock& clock);
// One-off form: loads options.ca_file (or the system store) for this probe alone; also returns
// the trust store's load error.
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
