// ACME CA health (`ca_probe`), ACME Renewal Information (`ari`, RFC 9773) and the clock offset
// against the CA's Date header (`clock`). Pure parsers (directory, renewalInfo, Retry-After,
// certificate ID) are separate from the coordinators that fetch. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "core/clock.h"
#include "core/event.h"
#include "core/status.h"

namespace certcast::probe {

// Bodies of ACME objects are small (Let's Encrypt's directory is ~1 KiB); 64 KiB bounds memory.
inline constexpr size_t kMaxAcmeBodyBytes = 64 * 1024;

struct AcmeDirectory {
  std::string new_nonce;
  std::string renewal_info;  // empty when the CA does not offer ARI
};
// Parses a directory object (RFC 8555 §7.1.1). Error: "directory: newNonce is missing", ...
StatusOr<AcmeDirectory> ParseAcmeDirectory(std::string_view body);

struct RenewalInfo {
  absl::Time window_start;
  absl::Time window_end;
  std::optional<std::string> explanation_url;
};
// Parses a renewalInfo response (RFC 9773 §4.2). A window whose end is not after its start is an
// error: the RFC says to treat it as no response.
StatusOr<RenewalInfo> ParseRenewalInfo(std::string_view body);

// Retry-After (RFC 9110 §10.2.3): delta-seconds or an HTTP-date, as seconds from `now` (never
// negative). nullopt for an absent or malformed value.
std::optional<int64_t> ParseRetryAfter(std::string_view value, absl::Time now);
// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the form RFC 9110 requires senders to use.
std::optional<absl::Time> ParseHttpDate(std::string_view value);

// RFC 9773 §4.1 certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial DER
// content octets, leading zero included), padding stripped.
std::string AriCertId(std::string_view authority_key_id, std::string_view serial_der_content);
// The same from a PEM certificate. Errors: no certificate, no AKI keyIdentifier.
StatusOr<std::string> AriCertIdFromPem(std::string_view pem);

struct CaProbeOptions {
  std::string ca_file;     // HTTPS trust for the CA; empty: system store
  std::string host;        // the `clock` event's host; empty: gethostname()
  absl::Duration timeout = absl::Seconds(10);  // per request
};

// GET the directory, HEAD newNonce. Emits one `ca_probe` (outcome ok when the directory is 200
// JSON with newNonce and HEAD newNonce is 200 with a Replay-Nonce; `error` names the step that
// failed: directory_timeout, directory_connect, directory_tls, directory_status, directory_json,
// nonce_timeout, nonce_connect, nonce_status, nonce_missing), and one `clock` event when the
// directory response carried a valid Date header. `directory` is returned for the ARI step.
struct CaProbeResult {
  std::vector<Event> events;
  std::optional<AcmeDirectory> directory;
};
StatusOr<CaProbeResult> ProbeCa(std::string_view directory_url, const CaProbeOptions& options, const Clock& clock);

// GET {renewalInfo}/{certID} for the PEM certificate of lineage `cert`. Returns the `ari` event,
// or an error (Unavailable with the HTTP status / curl failure and Retry-After seconds in the
// message, InvalidArgument for an invalid window) when there is no usable window.
StatusOr<Event> ProbeAri(std::string_view directory_url, const AcmeDirectory& directory,
                         std::string_view cert, std::string_view cert_pem, const CaProbeOptions& options,
                         const Clock& clock);

}  // namespace certcast::probe
