#include "collect/probe/tls_probe.h"
#include "collect/probe/ocsp_staple.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <ctime>
#include <initializer_list>
#include <vector>

#include "collect/probe/openssl_util.h"
#include "collect/probe/socket_util.h"
#include "core/strings.h"

namespace certcast::probe {
namespace {

enum class ConnectResult { kOk, kRefused, kTimeout };

// Tries each address getaddrinfo returns until one connects, within the deadline.
ConnectResult Connect(const Endpoint& endpoint, SteadyClock::time_point deadline, Fd& out, std::string& detail) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* result = nullptr;
  const std::string port = std::to_string(endpoint.port);
  // getaddrinfo cannot be bounded by our deadline; /etc/hosts and IP literals answer at once,
  // and a slow system resolver is itself what the dns probe reports.
  const int rc = getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0) {
    detail = StrCat("resolve ", endpoint.host, ": ", gai_strerror(rc));
    return ConnectResult::kRefused;
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(result, freeaddrinfo);
  bool timed_out = false;
  for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    Fd fd(socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) continue;
    if (connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        detail = StrCat("connect: ", strerror(errno));
        continue;
      }
      if (!WaitFor(fd.get(), POLLOUT, deadline)) {
        timed_out = true;
        detail = "connect: timed out";
        break;
      }
      int error = 0;
      socklen_t len = sizeof error;
      if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
        detail = StrCat("connect: ", strerror(error));
        continue;
      }
    }
    out = std::move(fd);
    return ConnectResult::kOk;
  }
  return timed_out ? ConnectResult::kTimeout : ConnectResult::kRefused;
}

// Verification issues are collected here through the verify callback's ex_data slot.
int IssuesIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Accepts every chain so the handshake completes and the served certificate can be reported,
// recording each problem for ClassifyVerifyIssues.
int CollectIssues(int preverify_ok, X509_STORE_CTX* ctx) {
  if (preverify_ok == 1) return 1;
  SSL* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl != nullptr) {
    auto* issues = static_cast<std::vector<VerifyIssue>*>(SSL_get_ex_data(ssl, IssuesIndex()));
    // Bounded: a hostile chain could trigger one callback per certificate per check.
    if (issues != nullptr && issues->size() < 64) {
      issues->push_back({X509_STORE_CTX_get_error_depth(ctx), X509_STORE_CTX_get_error(ctx)});
    }
  }
  return 1;
}

// The CT callback must exist for OpenSSL to request SCTs (signed_certificate_timestamp extension)
// in the ClientHello; the probe counts SCTs, it does not enforce a CT policy.
int AcceptScts(const CT_POLICY_EVAL_CTX*, const STACK_OF(SCT)*, void*) { return 1; }

std::optional<absl::Time> Asn1TimeToAbsl(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  return absl::FromTM(tm, absl::UTCTimeZone());
}

std::optional<std::string> SerialHex(X509* cert) {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  ossl::Bignum bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) return std::nullopt;
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) return std::nullopt;
  std::string out(hex);
  OPENSSL_free(hex);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

StatusOr<Endpoint> ParseEndpoint(std::string_view text) {
  Endpoint out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return InvalidArgumentError(StrCat("endpoint \"", text, "\" is not [ADDRESS]:PORT"));
    }
    out.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || text.find(':') != colon) {
      return InvalidArgumentError(StrCat("endpoint \"", text, "\" is not HOST:PORT"));
    }
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), out.port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || out.port < 1 || out.port > 65535) {
    return InvalidArgumentError(StrCat("endpoint \"", text, "\": port \"", port_text, "\" is not 1..65535"));
  }
  return out;
}

std::optional<TlsError> ClassifyVerifyIssues(std::span<const VerifyIssue> issues) {
  if (issues.empty()) return std::nullopt;
  bool revoked = false, expired = false, not_yet_valid = false, name = false;
  for (const VerifyIssue& issue : issues) {
    switch (issue.code) {
      case X509_V_ERR_CERT_REVOKED: revoked = true; break;
      case X509_V_ERR_CERT_HAS_EXPIRED: expired |= issue.depth == 0; break;
      case X509_V_ERR_CERT_NOT_YET_VALID: not_yet_valid |= issue.depth == 0; break;
      case X509_V_ERR_HOSTNAME_MISMATCH:
      case X509_V_ERR_IP_ADDRESS_MISMATCH: name = true; break;
      default: break;
    }
  }
  if (revoked) return TlsError::kRevoked;
  if (expired) return TlsError::kExpired;
  if (not_yet_valid) return TlsError::kNotYetValid;
  if (name) return TlsError::kNameMismatch;
  return TlsError::kUntrusted;
}

struct TlsTrustContext {
  ossl::SslCtx ctx;
};

TlsTrust::TlsTrust(std::unique_ptr<TlsTrustContext> context) : context_(std::move(context)) {}
TlsTrust::~TlsTrust() = default;

StatusOr<std::shared_ptr<const TlsTrust>> TlsTrust::Load(const std::string& ca_file) {
  ERR_clear_error();
  auto context = std::make_unique<TlsTrustContext>();
  context->ctx.reset(SSL_CTX_new(TLS_client_method()));
  SSL_CTX* ctx = context->ctx.get();
  if (ctx == nullptr) return InternalError(StrCat("SSL_CTX_new: ", ossl::DrainErrors()));
  if (!ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
      return InvalidArgumentError(StrCat("--ca-file ", ca_file, ": ", ossl::DrainErrors()));
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
    return FailedPreconditionError(StrCat("system trust store: ", ossl::DrainErrors()));
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, CollectIssues);
  // A probe must see the certificate every time: never offer a session (a resumed TLS 1.3
  // handshake carries no certificate), so never keep one.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  return std::make_shared<const TlsTrust>(std::move(context));
}

StatusOr<Event> ProbeTls(std::string_view endpoint_text, const TlsProbeOptions& options, const Clock& clock) {
  RETURN_IF_ERROR(ParseEndpoint(endpoint_text).status());
  ASSIGN_OR_RETURN(std::shared_ptr<const TlsTrust> trust, TlsTrust::Load(options.ca_file));
  return ProbeTls(endpoint_text, options, *trust, clock);
}

StatusOr<Event> ProbeTls(std::string_view endpoint_text, const TlsProbeOptions& options, const TlsTrust& trust,
                         const Clock& clock) {
  ASSIGN_OR_RETURN(Endpoint endpoint, ParseEndpoint(endpoint_text));
  Event event{clock.Now(), TlsProbeEvent{}};
  TlsProbeEvent& probe = std::get<TlsProbeEvent>(event.body);
  probe.endpoint = std::string(endpoint_text);
  in6_addr scratch;
  const bool host_is_ip = inet_pton(AF_INET, endpoint.host.c_str(), &scratch) == 1 ||
                          inet_pton(AF_INET6, endpoint.host.c_str(), &scratch) == 1;
  probe.sni = !options.sni.empty() ? options.sni : (host_is_ip ? "" : endpoint.host);
  if (!options.cert.empty()) probe.cert = options.cert;
  ERR_clear_error();

  const auto start = SteadyClock::now();
  const auto deadline = start + absl::ToChronoMilliseconds(options.timeout);
  auto finish = [&](std::optional<TlsError> error) -> StatusOr<Event> {
    probe.outcome = error ? ProbeOutcome::kError : ProbeOutcome::kOk;
    probe.error = error;
    probe.latency_ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
    ERR_clear_error();
    return event;
  };

  Fd fd;
  std::string detail;
  switch (Connect(endpoint, deadline, fd, detail)) {
    case ConnectResult::kOk: break;
    case ConnectResult::kRefused: return finish(TlsError::kConnect);
    case ConnectResult::kTimeout: return finish(TlsError::kTimeout);
  }

  ossl::Ssl ssl(SSL_new(trust.context().ctx.get()));
  if (!ssl) return InternalError(StrCat("SSL_new: ", ossl::DrainErrors()));
  std::vector<VerifyIssue> issues;
  if (SSL_set_ex_data(ssl.get(), IssuesIndex(), &issues) != 1 || SSL_set_fd(ssl.get(), fd.get()) != 1) {
    return InternalError(StrCat("SSL setup: ", ossl::DrainErrors()));
  }
  if (!probe.sni.empty()) {
    if (SSL_set_tlsext_host_name(ssl.get(), probe.sni.c_str()) != 1) {
      return InvalidArgumentError(StrCat("SNI \"", probe.sni, "\": ", ossl::DrainErrors()));
    }
  }
  // The name to check: the SNI, else the endpoint's IP literal, which must match an IP SAN (a
  // DNS-name check would compare it with dNSName entries and always fail).
  if (!probe.sni.empty()) {
    if (SSL_set1_host(ssl.get(), probe.sni.c_str()) != 1) {
      return InvalidArgumentError(StrCat("name \"", probe.sni, "\": ", ossl::DrainErrors()));
    }
  } else if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), endpoint.host.c_str()) != 1) {
    return InvalidArgumentError(StrCat("address \"", endpoint.host, "\": ", ossl::DrainErrors()));
  }
  // Asks for a stapled OCSP response (status_request) and SCTs (signed_certificate_timestamp).
  if (SSL_set_tlsext_status_type(ssl.get(), TLSEXT_STATUSTYPE_ocsp) != 1 ||
      SSL_set_ct_validation_callback(ssl.get(), AcceptScts, nullptr) != 1) {
    return InternalError(StrCat("SSL extensions: ", ossl::DrainErrors()));
  }

  while (true) {
    const int rc = SSL_connect(ssl.get());
    if (rc == 1) break;
    const int error = SSL_get_error(ssl.get(), rc);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      if (!WaitFor(fd.get(), error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
        return finish(TlsError::kTimeout);
      }
      continue;
    }
    return finish(TlsError::kHandshake);
  }

  ossl::X509Ptr leaf(SSL_get1_peer_certificate(ssl.get()));
  if (!leaf) return finish(TlsError::kHandshake);  // anonymous suites are not offered by default
  probe.serial = SerialHex(leaf.get());
  probe.not_after = Asn1TimeToAbsl(X509_get0_notAfter(leaf.get()));
  probe.tls_version = SSL_get_version(ssl.get());
  if (const char* cipher = SSL_get_cipher_name(ssl.get()); cipher != nullptr) probe.cipher = cipher;

  const unsigned char* staple = nullptr;
  const long staple_length = SSL_get_tlsext_status_ocsp_resp(ssl.get(), &staple);
  probe.ocsp_stapled = staple != nullptr && staple_length > 0;
  if (*probe.ocsp_stapled &&
      StapleSaysRevoked(staple, staple_length, leaf.get(),
                        {SSL_get0_verified_chain(ssl.get()), SSL_get_peer_cert_chain(ssl.get())})) {
    issues.push_back({0, X509_V_ERR_CERT_REVOKED});
  }
  // All SCTs the peer gave: TLS extension, stapled OCSP and the certificate's embedded list.
  const STACK_OF(SCT)* scts = SSL_get0_peer_scts(ssl.get());
  probe.sct_count = scts == nullptr ? 0 : sk_SCT_num(scts);

  // Best-effort close_notify: the probe is done either way.
  SSL_shutdown(ssl.get());
  return finish(ClassifyVerifyIssues(issues));
}

}  // namespace certcast::probe
