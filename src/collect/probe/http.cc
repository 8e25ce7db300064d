#include "collect/probe/http.h"

#include <curl/curl.h>

#include <cctype>
#include <chrono>
#include <memory>
#include <mutex>

#include "core/strings.h"

namespace certcast::probe {
namespace {

struct EasyDeleter {
  void operator()(CURL* p) const { curl_easy_cleanup(p); }
};
struct SlistDeleter {
  void operator()(curl_slist* p) const { curl_slist_free_all(p); }
};
struct UrlDeleter {
  void operator()(CURLU* p) const { curl_url_cleanup(p); }
};
struct CurlString {
  char* p = nullptr;
  ~CurlString() { curl_free(p); }
};

struct Sink {
  HttpResponse* response;
  size_t limit;
  bool overflow = false;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t n = size * count;
  if (sink->response->body.size() + n > sink->limit) {
    sink->overflow = true;
    return 0;  // makes curl stop with CURLE_WRITE_ERROR
  }
  sink->response->body.append(data, n);
  return n;
}

// Header lines arrive one per call; curl resets nothing between redirects because we do not
// follow them. Header values are bounded by curl's own 100 KiB header limit.
size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
  if (name == "date") response->date = std::string(value);
  else if (name == "retry-after") response->retry_after = std::string(value);
  else if (name == "replay-nonce") response->replay_nonce = std::string(value);
  return n;
}

#define CURL_CHECK(expr)                                                              \
  do {                                                                                \
    const CURLcode certcast_curl_rc = (expr);                                         \
    if (certcast_curl_rc != CURLE_OK) {                                               \
      return InternalError(StrCat(#expr, ": ", curl_easy_strerror(certcast_curl_rc))); \
    }                                                                                 \
  } while (0)

}  // namespace

void InitHttpOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

StatusOr<UrlParts> ParseUrl(std::string_view url) {
  std::unique_ptr<CURLU, UrlDeleter> handle(curl_url());
  if (!handle) return InternalError("curl_url: out of memory");
  const std::string text(url);
  if (curl_url_set(handle.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
    return InvalidArgumentError(StrCat("\"", url, "\" is not an absolute URL"));
  }
  UrlParts parts;
  CurlString scheme, host, port;
  if (curl_url_get(handle.get(), CURLUPART_SCHEME, &scheme.p, 0) != CURLUE_OK ||
      curl_url_get(handle.get(), CURLUPART_HOST, &host.p, 0) != CURLUE_OK ||
      curl_url_get(handle.get(), CURLUPART_PORT, &port.p, CURLU_DEFAULT_PORT) != CURLUE_OK) {
    return InvalidArgumentError(StrCat("\"", url, "\" has no scheme, host or port"));
  }
  parts.scheme = scheme.p;
  for (char& c : parts.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  parts.host = host.p;
  parts.port = std::atoi(port.p);
  return parts;
}

StatusOr<HttpResponse> HttpFetch(const HttpRequest& request) {
  InitHttpOnce();
  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  if (!easy) return InternalError("curl_easy_init failed");
  HttpResponse response;
  Sink sink{&response, request.max_body_bytes};
  CURL* h = easy.get();
  CURL_CHECK(curl_easy_setopt(h, CURLOPT_URL, request.url.c_str()));
  // Only HTTP(S), also for redirects we read but do not follow.
  CURL_CHECK(curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https"));
  CURL_CHECK(curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L));
  CURL_CHECK(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L));  // threads: no SIGALRM for timeouts
  CURL_CHECK(curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(request.timeout))));
  CURL_CHECK(curl_easy_setopt(h, CURLOPT_USERAGENT, "certcast-probe/0.1"));
  CURL_CHECK(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody));
  CURL_CHECK(curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink));
  CURL_CHECK(curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader));
  CURL_CHECK(curl_easy_setopt(h, CURLOPT_HEADERDATA, &response));
  CURL_CHECK(curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(request.max_body_bytes)));
  if (request.method == "HEAD") {
    CURL_CHECK(curl_easy_setopt(h, CURLOPT_NOBODY, 1L));
  } else if (request.method != "GET") {
    return InvalidArgumentError(StrCat("method ", request.method, " is not GET or HEAD"));
  }
  if (!request.ca_file.empty()) CURL_CHECK(curl_easy_setopt(h, CURLOPT_CAINFO, request.ca_file.c_str()));
  if (!request.verify_tls) {
    CURL_CHECK(curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L));
    CURL_CHECK(curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L));
  }
  switch (request.family) {
    case HttpRequest::Family::kAny: break;
    case HttpRequest::Family::kV4: CURL_CHECK(curl_easy_setopt(h, CURLOPT_IPRESOLVE, CURL_IPRESOLVE_V4)); break;
    case HttpRequest::Family::kV6: CURL_CHECK(curl_easy_setopt(h, CURLOPT_IPRESOLVE, CURL_IPRESOLVE_V6)); break;
  }
  std::unique_ptr<curl_slist, SlistDeleter> resolve;
  if (!request.resolve_address.empty()) {
    ASSIGN_OR_RETURN(UrlParts parts, ParseUrl(request.url));
    // curl wants an IPv6 address of a --resolve entry in brackets.
    const bool v6 = request.resolve_address.find(':') != std::string::npos &&
                    request.resolve_address.front() != '[';
    const std::string entry = StrCat(parts.host, ":", parts.port, ":", v6 ? "[" : "",
                                     request.resolve_address, v6 ? "]" : "");
    resolve.reset(curl_slist_append(nullptr, entry.c_str()));
    if (!resolve) return InternalError("curl_slist_append failed");
    CURL_CHECK(curl_easy_setopt(h, CURLOPT_RESOLVE, resolve.get()));
  }
  const auto start = std::chrono::steady_clock::now();
  const CURLcode rc = curl_easy_perform(h);
  response.latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  switch (rc) {
    case CURLE_OK: break;
    case CURLE_OPERATION_TIMEDOUT: response.failure = HttpResponse::Failure::kTimeout; break;
    case CURLE_COULDNT_CONNECT: response.failure = HttpResponse::Failure::kRefused; break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: response.failure = HttpResponse::Failure::kNoAddress; break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE: response.failure = HttpResponse::Failure::kTls; break;
    case CURLE_FILESIZE_EXCEEDED: response.failure = HttpResponse::Failure::kTooLarge; break;
    case CURLE_WRITE_ERROR:
      response.failure = sink.overflow ? HttpResponse::Failure::kTooLarge : HttpResponse::Failure::kOther;
      break;
    default: response.failure = HttpResponse::Failure::kOther; break;
  }
  if (rc != CURLE_OK) response.failure_detail = curl_easy_strerror(rc);
  CURL_CHECK(curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status));
  if (response.status >= 300 && response.status < 400) {
    char* location = nullptr;
    CURL_CHECK(curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &location));
    if (location != nullptr) response.location = location;
  }
  return response;
}

}  // namespace certcast::probe
