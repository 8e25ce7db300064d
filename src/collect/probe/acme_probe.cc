#include "collect/probe/acme_probe.h"

#include <array>
#include <charconv>
#include <cstring>

#include <nlohmann/json.hpp>

#include "collect/probe/http.h"
#include "collect/probe/openssl_util.h"
#include "core/host_name.h"
#include "core/strings.h"
#include "core/time.h"

namespace certcast::probe {
namespace {

std::string Base64Url(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = static_cast<uint8_t>(bytes[i]) << 16 | static_cast<uint8_t>(bytes[i + 1]) << 8 |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += {kAlphabet[v >> 18], kAlphabet[v >> 12 & 63], kAlphabet[v >> 6 & 63], kAlphabet[v & 63]};
  }
  if (bytes.size() - i == 1) {
    const uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    out += {kAlphabet[v >> 18], kAlphabet[v >> 12 & 63]};
  } else if (bytes.size() - i == 2) {
    const uint32_t v = static_cast<uint8_t>(bytes[i]) << 16 | static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += {kAlphabet[v >> 18], kAlphabet[v >> 12 & 63], kAlphabet[v >> 6 & 63]};
  }
  return out;
}

// Parses JSON without exceptions escaping: nlohmann throws, we return a Status.
StatusOr<nlohmann::json> ParseJsonObject(std::string_view body, std::string_view what) {
  if (body.size() > kMaxAcmeBodyBytes) {
    return InvalidArgumentError(StrCat(what, ": body is ", body.size(), " bytes, more than ", kMaxAcmeBodyBytes));
  }
  nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return InvalidArgumentError(StrCat(what, ": not valid JSON"));
  if (!json.is_object()) return InvalidArgumentError(StrCat(what, ": not a JSON object"));
  return json;
}

StatusOr<std::string> StringField(const nlohmann::json& object, const char* key, std::string_view what) {
  auto it = object.find(key);
  if (it == object.end()) return InvalidArgumentError(StrCat(what, ": ", key, " is missing"));
  if (!it->is_string()) return InvalidArgumentError(StrCat(what, ": ", key, " is not a string"));
  return it->get<std::string>();
}

std::string FailureWord(HttpResponse::Failure failure) {
  switch (failure) {
    case HttpResponse::Failure::kTimeout: return "timeout";
    case HttpResponse::Failure::kRefused:
    case HttpResponse::Failure::kNoAddress: return "connect";
    case HttpResponse::Failure::kTls: return "tls";
    case HttpResponse::Failure::kTooLarge: return "too_large";
    default: return "network";
  }
}

}  // namespace

StatusOr<AcmeDirectory> ParseAcmeDirectory(std::string_view body) {
  ASSIGN_OR_RETURN(nlohmann::json json, ParseJsonObject(body, "directory"));
  AcmeDirectory directory;
  ASSIGN_OR_RETURN(directory.new_nonce, StringField(json, "newNonce", "directory"));
  if (json.contains("renewalInfo")) {
    ASSIGN_OR_RETURN(directory.renewal_info, StringField(json, "renewalInfo", "directory"));
  }
  return directory;
}

StatusOr<RenewalInfo> ParseRenewalInfo(std::string_view body) {
  ASSIGN_OR_RETURN(nlohmann::json json, ParseJsonObject(body, "renewalInfo"));
  auto window = json.find("suggestedWindow");
  if (window == json.end() || !window->is_object()) {
    return InvalidArgumentError("renewalInfo: suggestedWindow is missing or not an object");
  }
  RenewalInfo info;
  for (const auto& [key, out] : {std::pair<const char*, absl::Time*>{"start", &info.window_start},
                                 std::pair<const char*, absl::Time*>{"end", &info.window_end}}) {
    ASSIGN_OR_RETURN(std::string text, StringField(*window, key, "renewalInfo: suggestedWindow"));
    // Real CAs send RFC 3339 UTC with 'Z' (Boulder, Pebble); ParseRfc3339 refuses offsets.
    auto t = ParseRfc3339(text);
    if (!t.ok()) return InvalidArgumentError(StrCat("renewalInfo: suggestedWindow.", key, ": ", t.status().message()));
    *out = *t;
  }
  if (info.window_end <= info.window_start) {
    return InvalidArgumentError("renewalInfo: suggestedWindow end is not after start");
  }
  if (json.contains("explanationURL")) {
    ASSIGN_OR_RETURN(std::string url, StringField(json, "explanationURL", "renewalInfo"));
    info.explanation_url = std::move(url);
  }
  return info;
}

std::optional<absl::Time> ParseHttpDate(std::string_view value) {
  // Fixed width: "Sun, 06 Nov 1994 08:49:37 GMT" is 29 bytes.
  if (value.size() != 29 || value.substr(25) != " GMT") return std::nullopt;
  absl::Time t;
  std::string err;
  if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", absl::string_view(value.data(), value.size()),
                       absl::UTCTimeZone(), &t, &err)) {
    return std::nullopt;
  }
  return t;
}

std::optional<int64_t> ParseRetryAfter(std::string_view value, absl::Time now) {
  if (value.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(value.front()))) {
    int64_t seconds = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
    return seconds;
  }
  auto when = ParseHttpDate(value);
  if (!when) return std::nullopt;
  return std::max<int64_t>(0, absl::ToInt64Seconds(*when - now));
}

std::string AriCertId(std::string_view authority_key_id, std::string_view serial_der_content) {
  return StrCat(Base64Url(authority_key_id), ".", Base64Url(serial_der_content));
}

StatusOr<std::string> AriCertIdFromPem(std::string_view pem) {
  ERR_clear_error();
  ossl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return InternalError("BIO_new_mem_buf failed");
  ossl::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    ossl::DrainErrors();
    return InvalidArgumentError("no PEM certificate found");
  }
  ossl::AuthorityKeyId aki(
      static_cast<AUTHORITY_KEYID*>(X509_get_ext_d2i(cert.get(), NID_authority_key_identifier, nullptr, nullptr)));
  if (!aki || aki->keyid == nullptr) return InvalidArgumentError("certificate has no authority key identifier");
  const std::string_view key_id(reinterpret_cast<const char*>(ASN1_STRING_get0_data(aki->keyid)),
                                static_cast<size_t>(ASN1_STRING_length(aki->keyid)));
  // The serial's DER encoding minus tag and length: i2d gives the two's-complement form with the
  // leading zero byte that RFC 9773's example ("AIdlQyE") keeps.
  unsigned char* der = nullptr;
  const int length = i2d_ASN1_INTEGER(X509_get0_serialNumber(cert.get()), &der);
  if (length <= 2 || der == nullptr) return InternalError("i2d_ASN1_INTEGER failed");
  std::unique_ptr<unsigned char, decltype([](unsigned char* p) { OPENSSL_free(p); })> guard(der);
  // Serials are at most 20 octets (RFC 5280 §4.1.2.2), so the length is in short form.
  const size_t header = (der[1] & 0x80) ? 2 + (der[1] & 0x7f) : 2;
  if (static_cast<size_t>(length) <= header) return InternalError("serial DER is too short");
  return AriCertId(key_id, std::string_view(reinterpret_cast<const char*>(der + header), length - header));
}

StatusOr<CaProbeResult> ProbeCa(std::string_view directory_url, const CaProbeOptions& options, const Clock& clock) {
  CaProbeResult result;
  Event event{clock.Now(), CaProbeEvent{}};
  CaProbeEvent& probe = std::get<CaProbeEvent>(event.body);
  probe.ca = std::string(directory_url);
  auto emit = [&](std::optional<std::string> error) -> StatusOr<CaProbeResult> {
    probe.outcome = error ? ProbeOutcome::kError : ProbeOutcome::kOk;
    probe.error = std::move(error);
    result.events.insert(result.events.begin(), event);
    return result;
  };

  HttpRequest request;
  request.url = std::string(directory_url);
  request.ca_file = options.ca_file;
  request.timeout = options.timeout;
  request.max_body_bytes = kMaxAcmeBodyBytes;
  const absl::Time sent = clock.Now();
  ASSIGN_OR_RETURN(HttpResponse dir, HttpFetch(request));
  probe.latency_ms = dir.latency_ms;
  if (dir.failure != HttpResponse::Failure::kNone) return emit(StrCat("directory_", FailureWord(dir.failure)));
  probe.status = dir.status;
  // Clock offset: the Date header is stamped while the server handles the request, so compare
  // it with the local time half-way through the exchange. Date has one-second resolution, so the
  // offset is only good to about ±1 s; that is enough to see the skews that break ACME (minutes).
  if (auto date = ParseHttpDate(dir.date)) {
    const absl::Time local = sent + absl::Milliseconds(dir.latency_ms / 2);
    Event clock_event{clock.Now(), ClockEvent{}};
    ClockEvent& c = std::get<ClockEvent>(clock_event.body);
    c.host = options.host.empty() ? LocalHostName() : options.host;
    c.offset_ms = absl::ToDoubleMilliseconds(local - *date);
    c.source = StrCat("http-date:", directory_url);
    result.events.push_back(std::move(clock_event));
  }
  if (dir.status != 200) return emit("directory_status");
  auto directory = ParseAcmeDirectory(dir.body);
  if (!directory.ok()) return emit("directory_json");
  result.directory = *directory;

  HttpRequest nonce;
  nonce.method = "HEAD";
  nonce.url = directory->new_nonce;
  nonce.ca_file = options.ca_file;
  nonce.timeout = options.timeout;
  ASSIGN_OR_RETURN(HttpResponse head, HttpFetch(nonce));
  probe.latency_ms = *probe.latency_ms + head.latency_ms;
  if (head.failure != HttpResponse::Failure::kNone) return emit(StrCat("nonce_", FailureWord(head.failure)));
  // RFC 8555 §7.2: HEAD newNonce answers 200 with a Replay-Nonce header.
  if (head.status != 200) {
    probe.status = head.status;
    return emit("nonce_status");
  }
  if (head.replay_nonce.empty()) return emit("nonce_missing");
  return emit(std::nullopt);
}

StatusOr<Event> ProbeAri(std::string_view directory_url, const AcmeDirectory& directory, std::string_view cert,
                         std::string_view cert_pem, const CaProbeOptions& options, const Clock& clock) {
  if (directory.renewal_info.empty()) {
    return FailedPreconditionError(StrCat("CA ", directory_url, " offers no renewalInfo"));
  }
  ASSIGN_OR_RETURN(std::string cert_id, AriCertIdFromPem(cert_pem));
  std::string base = directory.renewal_info;
  if (!base.empty() && base.back() == '/') base.pop_back();
  HttpRequest request;
  request.url = StrCat(base, "/", cert_id);
  request.ca_file = options.ca_file;
  request.timeout = options.timeout;
  request.max_body_bytes = kMaxAcmeBodyBytes;
  const absl::Time now = clock.Now();
  ASSIGN_OR_RETURN(HttpResponse response, HttpFetch(request));
  const std::optional<int64_t> retry_after = ParseRetryAfter(response.retry_after, now);
  const std::string retry_text = retry_after ? StrCat(" (Retry-After ", *retry_after, " s)") : "";
  if (response.failure != HttpResponse::Failure::kNone) {
    return UnavailableError(StrCat("renewalInfo ", request.url, ": ", response.failure_detail, retry_text));
  }
  if (response.status != 200) {
    return UnavailableError(StrCat("renewalInfo ", request.url, ": HTTP ", response.status, retry_text));
  }
  // A malformed answer is the CA's fault, not the caller's: report it as the peer being unusable.
  auto parsed = ParseRenewalInfo(response.body);
  if (!parsed.ok()) return UnavailableError(StrCat(request.url, ": ", parsed.status().message(), retry_text));
  const RenewalInfo& info = *parsed;
  Event event{now, AriEvent{}};
  AriEvent& ari = std::get<AriEvent>(event.body);
  ari.cert = std::string(cert);
  ari.ca = std::string(directory_url);
  ari.window_start = info.window_start;
  ari.window_end = info.window_end;
  ari.retry_after_s = retry_after;
  ari.explanation_url = info.explanation_url;
  return event;
}

}  // namespace certcast::probe
