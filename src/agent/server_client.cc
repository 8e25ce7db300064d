#include "agent/server_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "core/file_safety.h"
#include "core/strings.h"
#include "httplib.h"

namespace certcast::agent {
namespace {

constexpr size_t kMaxTokenBytes = 4096;

void SetTimeout(absl::Duration d, const std::function<void(time_t, time_t)>& set) {
  const int64_t micros = absl::ToInt64Microseconds(d);
  set(static_cast<time_t>(micros / 1000000), static_cast<time_t>(micros % 1000000));
}

}  // namespace

StatusOr<std::unique_ptr<ServerClient>> ServerClient::Create(const ServerClientOptions& options) {
  const std::string& url = options.url;
  const bool https = url.starts_with("https://");
  if (!https && !url.starts_with("http://")) {
    return InvalidArgumentError(StrCat("--server \"", url, "\": expected http://HOST[:PORT] or https://HOST[:PORT]"));
  }
  const std::string rest = url.substr(https ? 8 : 7);
  if (rest.empty() || rest.find('/') != std::string::npos || rest.find('@') != std::string::npos) {
    return InvalidArgumentError(StrCat("--server \"", url, "\": expected http(s)://HOST[:PORT] without a path or user"));
  }
  if (!options.ca_file.empty()) {
    struct stat st {};
    if (::stat(options.ca_file.c_str(), &st) != 0) {
      return NotFoundError(StrCat("--ca-file ", options.ca_file, ": ", std::strerror(errno)));
    }
  }
  std::unique_ptr<ServerClient> client(new ServerClient());
  client->url_ = url;
  client->request_timeout_ = options.request_timeout;
  client->max_answer_bytes_ = options.max_answer_bytes;
  client->client_ = std::make_unique<httplib::Client>(url);
  httplib::Client& c = *client->client_;
  if (!client->client_->is_valid()) {
    return InvalidArgumentError(StrCat("--server \"", url, "\": not a usable address"));
  }
  if (https) {
    c.enable_server_certificate_verification(true);
    if (!options.ca_file.empty()) c.set_ca_cert_path(options.ca_file);
  }
  c.set_bearer_token_auth(options.token);
  c.set_keep_alive(true);
  SetTimeout(options.connect_timeout, [&](time_t s, time_t us) { c.set_connection_timeout(s, us); });
  SetTimeout(options.io_timeout, [&](time_t s, time_t us) { c.set_read_timeout(s, us); });
  SetTimeout(options.io_timeout, [&](time_t s, time_t us) { c.set_write_timeout(s, us); });
  return client;
}

ServerClient::~ServerClient() = default;

StatusOr<ServerAnswer> ServerClient::Post(const std::string& path, std::string_view body,
                                          std::string_view content_type, bool gzip) {
  httplib::Headers headers;
  std::string compressed;
  if (gzip) {
    ASSIGN_OR_RETURN(compressed, Gzip(body));
    headers.emplace("Content-Encoding", "gzip");
    body = compressed;
  }
  httplib::Request request;
  request.method = "POST";
  request.path = path;
  request.headers = std::move(headers);
  request.headers.emplace("Content-Type", std::string(content_type));
  request.body.assign(body.data(), body.size());
  return Send(std::move(request));
}

StatusOr<ServerAnswer> ServerClient::Get(const std::string& path) {
  httplib::Request request;
  request.method = "GET";
  request.path = path;
  return Send(std::move(request));
}

StatusOr<ServerAnswer> ServerClient::Send(httplib::Request request) {
  const std::string what = StrCat(request.method, " ", url_, request.path);
  std::string body;
  bool too_large = false;
  request.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (body.size() + n > max_answer_bytes_) {
      too_large = true;
      return false;
    }
    body.append(data, n);
    return true;
  };
  // The deadline of the whole exchange: Client::stop() shuts the socket down, which is the one
  // thing httplib lets another thread do to a request in flight; the read then fails at once.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false, timed_out = false;
  std::thread watchdog([&] {
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, absl::ToChronoNanoseconds(request_timeout_), [&] { return done; })) {
      timed_out = true;
      client_->stop();
    }
  });
  const httplib::Result result = client_->send(request);
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  watchdog.join();
  if (too_large) {
    client_->stop();  // the rest of that answer is not read: the connection cannot be reused
    return UnavailableError(StrCat(what, ": answer larger than ", max_answer_bytes_, " bytes"));
  }
  if (timed_out) {
    return UnavailableError(StrCat(what, ": no complete answer within ",
                                        absl::FormatDuration(request_timeout_)));
  }
  if (!result) {
    return UnavailableError(StrCat(what, ": no answer (", httplib::to_string(result.error()), ")"));
  }
  return ServerAnswer{result->status, std::move(body)};
}

void ServerClient::Close() { client_->stop(); }

StatusOr<std::string> ReadTokenFile(const std::string& path) {
  const std::string what = StrCat("token file ", path);
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ELOOP) return FailedPreconditionError(StrCat(what, ": is a symlink; refusing to follow it"));
    if (errno == ENOENT) return NotFoundError(StrCat(what, ": does not exist"));
    return FailedPreconditionError(StrCat(what, ": ", std::strerror(errno)));
  }
  struct stat st {};
  Status checked = ::fstat(fd, &st) == 0 ? OkStatus() : FailedPreconditionError(StrCat(what, ": fstat: ", std::strerror(errno)));
  if (checked.ok() && !S_ISREG(st.st_mode)) checked = FailedPreconditionError(StrCat(what, ": not a regular file"));
  if (checked.ok()) checked = CheckTrusted(st, "token file", path, Owner::kSelfOrRoot);
  if (checked.ok() && (st.st_mode & 077) != 0) {
    checked = FailedPreconditionError(StrCat(what, ": mode ", OctalMode(st.st_mode),
                                             " lets group or others read the secret; chmod 600 it"));
  }
  std::string secret;
  if (checked.ok()) {
    char buffer[kMaxTokenBytes + 1];
    size_t total = 0;
    while (total < sizeof buffer) {
      const ssize_t n = ::read(fd, buffer + total, sizeof buffer - total);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        checked = FailedPreconditionError(StrCat(what, ": read: ", std::strerror(errno)));
        break;
      }
      if (n == 0) break;
      total += static_cast<size_t>(n);
    }
    if (checked.ok() && total > kMaxTokenBytes) {
      checked = FailedPreconditionError(StrCat(what, ": larger than ", kMaxTokenBytes, " bytes"));
    }
    secret.assign(buffer, total);
  }
  ::close(fd);
  RETURN_IF_ERROR(checked);
  const size_t begin = secret.find_first_not_of(" \t\r\n");
  const size_t end = secret.find_last_not_of(" \t\r\n");
  secret = begin == std::string::npos ? "" : secret.substr(begin, end - begin + 1);
  if (secret.empty()) return FailedPreconditionError(StrCat(what, ": empty"));
  if (secret.find_first_of(" \t\r\n") != std::string::npos) {
    return FailedPreconditionError(StrCat(what, ": more than one word or line; expected the secret alone"));
  }
  return secret;
}

StatusOr<std::string> Gzip(std::string_view data) {
  z_stream stream{};
  // 15 + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return InternalError("gzip: deflateInit2 failed");
  }
  std::string out;
  out.resize(deflateBound(&stream, data.size()));
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (rc != Z_STREAM_END) return InternalError(StrCat("gzip: deflate returned ", rc));
  return out;
}

}  // namespace certcast::agent
