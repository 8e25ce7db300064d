// The agent's connection to `certcast serve` (docs/api.md): HTTP or HTTPS (cpp-httplib, the same
// library the server is built on), a bearer token, gzip request bodies. Shared by every step of
// the agent that talks to the server (delivery here, the act step's pull/lease/report).
//
// Contract: an answer of any HTTP status is returned as ServerAnswer (the caller decides what a
// status means); only a failure to get a whole answer (connect, TLS, timeout, reset, an exchange
// past request_timeout, an answer over max_answer_bytes) is an error, UnavailableError naming the
// URL and the cause: the agent keeps its outbox and tries again later. Never logs; the token is never part of
// an error message.
// Thread safety: one ServerClient per thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "core/status.h"

namespace httplib {
class Client;
struct Request;
}  // namespace httplib

namespace certcast::agent {

struct ServerClientOptions {
  std::string url;      // "https://fleet.example:8440" or "http://127.0.0.1:8440"; no path
  std::string token;    // the bearer secret (ReadTokenFile)
  std::string ca_file;  // PEM bundle the server's certificate must chain to; "" = system store
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration io_timeout = absl::Seconds(60);  // one read or write on the connection
  // One whole exchange, from connecting to the answer's last byte, and the answer's size after
  // decompression: httplib bounds each read, not the answer, and a server (or whatever answers
  // at its address) that trickles or streams without end would hold the agent, root on every
  // host, or exhaust its memory.
  absl::Duration request_timeout = absl::Minutes(5);
  size_t max_answer_bytes = 64 << 20;
};

struct ServerAnswer {
  int status = 0;
  std::string body;
};

class ServerClient {
 public:
  // InvalidArgument for a URL that is not http(s)://HOST[:PORT], NotFound for a missing CA file.
  static StatusOr<std::unique_ptr<ServerClient>> Create(const ServerClientOptions& options);
  ~ServerClient();

  // POST `body` to `path`, gzip-compressed when `gzip` (Content-Encoding: gzip).
  StatusOr<ServerAnswer> Post(const std::string& path, std::string_view body,
                              std::string_view content_type, bool gzip = true);
  StatusOr<ServerAnswer> Get(const std::string& path);
  // Closes the kept-alive connection. The agent calls it at the end of each delivery: a server
  // worker serves one connection at a time, and a thousand agents idling on kept-alive
  // connections between cycles would hold the workers.
  void Close();
  const std::string& url() const { return url_; }

 private:
  ServerClient() = default;
  StatusOr<ServerAnswer> Send(httplib::Request request);
  std::string url_;
  absl::Duration request_timeout_;
  size_t max_answer_bytes_ = 0;
  std::unique_ptr<httplib::Client> client_;
};

// Reads the bearer secret from `path`: a regular file (not a symlink), owned by this uid or root,
// with no permission bits for group or others (0600 or 0400), at most 4 KiB, one line (a final
// newline and surrounding spaces are trimmed). FailedPrecondition names the path and what is
// wrong ("token file /etc/certcast/agent.token: mode 0644 lets others read the secret; chmod
// 600 it"); the secret itself is never in an error.
StatusOr<std::string> ReadTokenFile(const std::string& path);

// gzip (RFC 1952) of `data`, for bodies and tests.
StatusOr<std::string> Gzip(std::string_view data);

}  // namespace certcast::agent
