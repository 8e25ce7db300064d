#include "api/server.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <thread>

#include "act/config.h"
#include "api/connection_guard.h"
#include "core/strings.h"
#include "core/time.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "store/store_backends.h"

namespace certcast::api {

// ---------------------------------------------------------------------------------------------
// Responses and routes

void Response::Error(int code, std::string_view error_code, std::string_view message) {
  nlohmann::json j;
  j["error"]["code"] = error_code;
  j["error"]["message"] = message;
  Json(code, j.dump());
}

void Response::Error(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument: return Error(400, "bad_request", s.message());
    case StatusCode::kNotFound: return Error(404, "not_found", s.message());
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition: return Error(409, "conflict", s.message());
    case StatusCode::kResourceExhausted: return Error(429, "resource_exhausted", s.message());
    case StatusCode::kUnavailable: return Error(503, "unavailable", s.message());
    case StatusCode::kDeadlineExceeded: return Error(504, "timeout", s.message());
    default: return Error(500, "internal", s.message());
  }
}

namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t pos = 1;  // paths start with '/'
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    out.push_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return out;
}

bool IsParameter(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// Matches `path` against a route template; fills `params` on success.
bool MatchPath(std::string_view pattern, std::string_view path,
               std::map<std::string, std::string>* params) {
  if (path.empty() || path[0] != '/') return false;
  const auto want = Segments(pattern);
  const auto got = Segments(path);
  if (want.size() != got.size()) return false;
  for (size_t i = 0; i < want.size(); ++i) {
    if (IsParameter(want[i])) {
      if (got[i].empty()) return false;
      if (params) (*params)[std::string(want[i].substr(1, want[i].size() - 2))] = got[i];
    } else if (want[i] != got[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

Status Router::Add(Route route) {
  static constexpr std::string_view kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
  if (std::find(std::begin(kMethods), std::end(kMethods), route.method) == std::end(kMethods)) {
    return InvalidArgumentError(StrCat("route ", route.path, ": unknown method ", route.method));
  }
  if (route.path.empty() || route.path[0] != '/') {
    return InvalidArgumentError(StrCat("route \"", route.path, "\": path must start with /"));
  }
  const bool versioned = route.path.rfind("/v1/", 0) == 0;
  if (versioned && route.scopes == 0) {
    return InvalidArgumentError(StrCat("route ", route.method, " ", route.path,
                                       ": routes under /v1/ need a scope"));
  }
  if (!route.handler) {
    return InvalidArgumentError(StrCat("route ", route.method, " ", route.path, ": no handler"));
  }
  for (const Route& r : routes_) {
    if (r.method == route.method && r.path == route.path) {
      return InvalidArgumentError(StrCat("route ", route.method, " ", route.path, " added twice"));
    }
  }
  routes_.push_back(std::move(route));
  return OkStatus();
}

Router::Match Router::Find(std::string_view method, std::string_view path) const {
  Match match;
  // HEAD is answered by the GET route (httplib drops the body).
  const std::string_view wanted = method == "HEAD" ? "GET" : method;
  // Literal segments win over parameters: try routes without parameters at a position first by
  // preferring the route with the most literal segments.
  int best_literals = -1;
  for (const Route& r : routes_) {
    std::map<std::string, std::string> params;
    if (!MatchPath(r.path, path, &params)) continue;
    if (r.method != wanted) {
      if (std::find(match.allowed.begin(), match.allowed.end(), r.method) == match.allowed.end()) {
        match.allowed.push_back(r.method);
      }
      continue;
    }
    int literals = 0;
    for (std::string_view s : Segments(r.path)) literals += IsParameter(s) ? 0 : 1;
    if (literals > best_literals) {
      best_literals = literals;
      match.route = &r;
      match.params = std::move(params);
    }
  }
  if (match.route) match.allowed.clear();
  return match;
}

// ---------------------------------------------------------------------------------------------
// Store pool

StorePool::Lease::~Lease() {
  if (pool_ && store_) {
    std::lock_guard lock(pool_->mu_);
    pool_->free_.push_back(std::move(store_));
  }
}

StatusOr<StorePool::Lease> StorePool::Acquire() {
  {
    std::lock_guard lock(mu_);
    if (!free_.empty()) {
      std::unique_ptr<Store> store = std::move(free_.back());
      free_.pop_back();
      return Lease(this, std::move(store));
    }
  }
  StoreOptions options;
  options.create_if_missing = false;
  // Readers share the OS page cache; a smaller cache per worker keeps 32 workers' memory sane.
  options.cache_bytes = 32ll << 20;
  ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(db_, options));
  return Lease(this, std::move(store));
}

StatusOr<StorePool::Writer> StorePool::AcquireWriter() {
  std::unique_lock<std::mutex> lock(writer_mu_);
  if (!writer_) {
    StoreOptions options;
    options.create_if_missing = false;
    ASSIGN_OR_RETURN(writer_, Store::Open(db_, options));
  }
  return Writer(std::move(lock), writer_.get());
}

// ---------------------------------------------------------------------------------------------
// Server internals

namespace {

// A fixed pool of workers with a bounded queue. When the queue is full, enqueue blocks the
// accepting thread, so further connections wait in the kernel's backlog instead of in memory.
class BoundedTaskQueue final : public httplib::TaskQueue {
 public:
  BoundedTaskQueue(int threads, int capacity) : capacity_(static_cast<size_t>(capacity)) {
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
  }
  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return jobs_.size() < capacity_ || stopping_; });
    jobs_.push_back(std::move(fn));
    not_empty_.notify_one();
  }
  // Runs every queued job, then joins the workers.
  void shutdown() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    not_empty_.notify_all();
    not_full_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

 private:
  void Work() {
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu_);
        not_empty_.wait(lock, [&] { return !jobs_.empty() || stopping_; });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
        not_full_.notify_one();
      }
      job();
    }
  }
  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

// A certificate chain and its key, as loaded from the operator's files.
struct TlsPair {
  X509* leaf = nullptr;
  STACK_OF(X509)* chain = nullptr;
  EVP_PKEY* key = nullptr;
  ~TlsPair() {
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
  }
};

StatusOr<std::shared_ptr<TlsPair>> LoadTlsPair(const std::string& cert_path,
                                               const std::string& key_path) {
  ERR_clear_error();
  auto pair = std::make_shared<TlsPair>();
  BIO* bio = BIO_new_file(cert_path.c_str(), "r");
  if (!bio) return NotFoundError(StrCat(cert_path, ": cannot read certificate: ", OpenSslErrors()));
  pair->leaf = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  if (!pair->leaf) {
    BIO_free(bio);
    return InvalidArgumentError(StrCat(cert_path, ": no PEM certificate: ", OpenSslErrors()));
  }
  pair->chain = sk_X509_new_null();
  while (X509* extra = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    sk_X509_push(pair->chain, extra);
  }
  ERR_clear_error();  // the loop ends on "no start line"
  BIO_free(bio);
  bio = BIO_new_file(key_path.c_str(), "r");
  if (!bio) return NotFoundError(StrCat(key_path, ": cannot read private key: ", OpenSslErrors()));
  pair->key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!pair->key) {
    return InvalidArgumentError(StrCat(key_path, ": no PEM private key: ", OpenSslErrors()));
  }
  if (X509_check_private_key(pair->leaf, pair->key) != 1) {
    ERR_clear_error();
    return InvalidArgumentError(StrCat(key_path, ": private key does not match the certificate in ",
                                       cert_path));
  }
  return pair;
}

// Per-request facts for the access log line, filled by the dispatcher on the worker thread that
// also writes the log (httplib runs routing and logging of a request on one thread).
struct RequestLog {
  absl::Time start;
  std::string token;
  bool started = false;
};
thread_local RequestLog tls_request_log;

std::pair<std::string, int> SplitListen(const std::string& listen, Status* error) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    *error = InvalidArgumentError(StrCat("--listen \"", listen, "\": expected ADDR:PORT"));
    return {};
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = -1;
  try {
    size_t used = 0;
    port = std::stoi(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1) port = -1;
  } catch (...) {
    port = -1;
  }
  if (host.empty() || port < 0 || port > 65535) {
    *error = InvalidArgumentError(StrCat("--listen \"", listen, "\": expected ADDR:PORT with a "
                                         "port from 0 to 65535"));
    return {};
  }
  return {host, port};
}

}  // namespace

struct Server::Impl {
  std::unique_ptr<httplib::Server> http;
  std::mutex tls_mu;
  std::shared_ptr<TlsPair> tls;  // guarded by tls_mu; connections hold their own references
  std::mutex log_mu;
  std::mutex flush_mu;
  std::condition_variable flush_cv;
  bool stopping = false;
  std::unique_ptr<ConnectionGuard> guard;  // set before listening, read by the hooks

  std::shared_ptr<TlsPair> CurrentTls() {
    std::lock_guard lock(tls_mu);
    return tls;
  }

  // SSL_CTX cert callback: each handshake takes the pair current at that moment, so a reload
  // affects new connections only and needs no new SSL_CTX.
  static int SelectCertificate(SSL* ssl, void* arg) {
    auto pair = static_cast<Impl*>(arg)->CurrentTls();
    if (!pair) return 0;
    return SSL_use_cert_and_key(ssl, pair->leaf, pair->key, pair->chain, 1) == 1 ? 1 : 0;
  }
};

Server::~Server() = default;

StatusOr<std::unique_ptr<Server>> Server::Create(ServerOptions options, const Clock& clock) {
  if (options.db.empty()) return InvalidArgumentError("--db is required");
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (options.threads < 1 || options.queue < 1 || options.max_body_bytes < 1 ||
      options.keep_alive_max < 1) {
    return InvalidArgumentError("threads, queue, max_body_bytes and keep_alive_max must be >= 1");
  }
  Status listen_error;
  SplitListen(options.listen, &listen_error);
  RETURN_IF_ERROR(listen_error);

  std::unique_ptr<Server> server(new Server());
  server->impl_ = std::make_unique<Impl>();
  if (options.token_key.empty()) {
    // Every server sharing a PostgreSQL store needs a copy of one key file (cmd_token.cc).
    if (IsPostgresUri(options.db)) {
      return InvalidArgumentError(StrCat("--token-key FILE is required with a PostgreSQL store (",
                                         StoreDisplayName(options.db), ")"));
    }
    options.token_key = DefaultTokenKeyPath(options.db);
  }
  // Creating the store here (not only opening it) lets a new deployment start with `serve` and
  // make its tokens afterwards; the key is created with it for the same reason.
  {
    auto store = Store::Open(options.db);
    if (!store.ok()) return store.status();
  }
  ASSIGN_OR_RETURN(TokenKey key, TokenKey::Load(options.token_key, /*create=*/true));
  server->authenticator_ = std::make_unique<Authenticator>(std::move(key));
  server->stores_ = std::make_unique<StorePool>(options.db);
  if (!options.tls_cert.empty()) {
    ASSIGN_OR_RETURN(server->impl_->tls, LoadTlsPair(options.tls_cert, options.tls_key));
  }
  // The fleet view: its own store connection and planner; the first plan runs before the server
  // listens, so the view routes never answer from nothing.
  FleetServiceOptions fleet;
  fleet.db = options.db;
  fleet.model_file = options.model;
  fleet.act = options.act;
  fleet.plan_interval = options.plan_interval;
  fleet.ingest_debounce = options.ingest_debounce;
  if (!options.run_config.empty()) {
    ASSIGN_OR_RETURN(fleet.daemon, act::LoadDaemonConfig(options.run_config));
  }
  server->metrics_ = std::make_unique<ServerMetrics>();
  ASSIGN_OR_RETURN(server->fleet_,
                   FleetService::Create(std::move(fleet), clock, *server->metrics_, std::cerr));
  RETURN_IF_ERROR(server->fleet_->Start());
  if (options.probe) {
    ProbeServiceOptions probes{.db = options.db, .interval = options.probe_interval};
    probes.targets.public_ports = options.probe_public_ports;
    probes.targets.local_ports = options.probe_local_ports;
    probes.targets.max_targets = static_cast<size_t>(options.probe_max_targets);
    probes.run.timeout = options.probe_timeout;
    probes.run.ca_file = options.probe_ca_file;
    probes.targets.http01_port = options.probe_http01_port;
    probes.run.resolver = options.probe_resolver;
    probes.run.vantage = "server";
    probes.run.seed = options.probe_seed;
    FleetService* fleet_service = server->fleet_.get();
    ASSIGN_OR_RETURN(server->probes_,
                     ProbeService::Create(std::move(probes), clock, [fleet_service] { return fleet_service->snapshot(); },
                                          [fleet_service] { fleet_service->NotifyIngest(); }, std::cerr));
  }
  server->context_.options = std::move(options);
  server->context_.clock = &clock;
  server->context_.stores = server->stores_.get();
  server->context_.authenticator = server->authenticator_.get();
  server->context_.fleet = server->fleet_.get();
  server->context_.metrics = server->metrics_.get();
  RETURN_IF_ERROR(RegisterRoutes(server->router_, server->context_));
  return server;
}

Status Server::ReloadTls() {
  const ServerOptions& o = context_.options;
  if (o.tls_cert.empty()) return FailedPreconditionError("not serving TLS: nothing to reload");
  auto pair = LoadTlsPair(o.tls_cert, o.tls_key);
  if (!pair.ok()) {
    return pair.status().WithPrefix("TLS reload refused, still serving the previous certificate");
  }
  std::lock_guard lock(impl_->tls_mu);
  impl_->tls = std::move(*pair);
  return OkStatus();
}

void Server::Stop() {
  {
    std::lock_guard lock(impl_->flush_mu);
    impl_->stopping = true;
  }
  impl_->flush_cv.notify_all();
  if (impl_->http) impl_->http->stop();
}

Status Server::Run(const std::function<void(int)>& on_listening) {
  const ServerOptions& o = context_.options;
  Impl& impl = *impl_;
  if (o.tls_cert.empty()) {
    impl.http = std::make_unique<httplib::Server>();
  } else {
    impl.http = std::make_unique<httplib::SSLServer>([&impl](SSL_CTX& ctx) {
      SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
      SSL_CTX_set_cert_cb(&ctx, &Impl::SelectCertificate, &impl);
      return true;
    });
    if (!impl.http->is_valid()) return InternalError(StrCat("TLS setup failed: ", OpenSslErrors()));
  }
  httplib::Server& http = *impl.http;
  const int threads = o.threads;
  const int queue = o.queue;
  http.new_task_queue = [threads, queue] { return new BoundedTaskQueue(threads, queue); };
  auto seconds = [](absl::Duration d, auto set) {
    const int64_t us = absl::ToInt64Microseconds(d);
    set(static_cast<time_t>(us / 1000000), static_cast<time_t>(us % 1000000));
  };
  seconds(o.read_timeout, [&](time_t s, time_t us) { http.set_read_timeout(s, us); });
  seconds(o.write_timeout, [&](time_t s, time_t us) { http.set_write_timeout(s, us); });
  http.set_keep_alive_timeout(static_cast<time_t>(absl::ToInt64Seconds(o.keep_alive_timeout)));
  http.set_keep_alive_max_count(static_cast<size_t>(o.keep_alive_max));
  // Answers go out as headers and body in separate writes; with Nagle's algorithm the body waits
  // for the client's delayed ACK (~40 ms per request, measured with wrk in bench/serve_bench.sh).
  http.set_tcp_nodelay(true);
  // Bodies are read by the dispatcher, which enforces max_body_bytes after decompression; this
  // limit stops a declared Content-Length beyond it before a byte is read.
  http.set_payload_max_length(static_cast<size_t>(o.max_body_bytes));

  http.set_pre_routing_handler([&impl](const httplib::Request& req, httplib::Response&) {
    if (impl.guard) impl.guard->RequestStarted(req.remote_addr, req.remote_port);
    tls_request_log.start = absl::Now();
    tls_request_log.token.clear();
    tls_request_log.started = true;
    return httplib::Server::HandlerResponse::Unhandled;
  });

  auto dispatch = [this](const httplib::Request& req, httplib::Response& res,
                         const httplib::ContentReader* reader) {
    Response out;
    bool body_unread = reader != nullptr;
    std::string route_label = "unmatched";  // the metric's route label: patterns only, bounded
    [&] {
      const Router::Match match = router_.Find(req.method, req.path);
      if (!match.route) {
        if (!match.allowed.empty()) {
          out.Error(405, "method_not_allowed",
                    StrCat(req.method, " is not allowed on ", req.path, " (allowed: ",
                           StrJoin(match.allowed, ", "), ")"));
          out.headers.emplace_back("Allow", StrJoin(match.allowed, ", "));
        } else {
          out.Error(404, "not_found", StrCat("no route ", req.path));
        }
        return;
      }
      const Route& route = *match.route;
      route_label = route.path;
      auto lease = context_.stores->Acquire();
      if (!lease.ok()) {
        out.Error(503, "unavailable", StrCat("store: ", lease.status().message()));
        return;
      }
      const absl::Time now = context_.clock->Now();
      std::optional<Principal> principal;
      if (route.scopes != 0) {
        auto who = context_.authenticator->Authenticate(**lease,
                                                        req.get_header_value("Authorization"), now);
        if (!who.ok()) {
          if (who.status().code() == StatusCode::kInvalidArgument) {
            out.Error(401, "unauthenticated", who.status().message());
            out.headers.emplace_back("WWW-Authenticate", "Bearer");
          } else {
            out.Error(who.status());
          }
          return;
        }
        principal = std::move(*who);
        tls_request_log.token = principal->name;
        if (!principal->Has(route.scopes)) {
          out.Error(403, "forbidden",
                    StrCat("token \"", principal->name, "\" lacks the scope for ", route.method,
                           " ", route.path, " (needs one of: ",
                           StrJoin(ScopeNames(route.scopes), ", "), ")"));
          return;
        }
      }
      Request in;
      if (reader) {
        const std::string encoding = req.get_header_value("Content-Encoding");
        if (!encoding.empty() && encoding != "gzip" && encoding != "deflate" &&
            encoding != "identity") {
          out.Error(415, "unsupported_media_type",
                    StrCat("Content-Encoding \"", encoding, "\" is not supported (use gzip)"));
          return;
        }
        const int64_t limit = context_.options.max_body_bytes;
        const absl::Time deadline = absl::Now() + context_.options.request_timeout;
        bool too_large = false, too_slow = false;
        const bool read = (*reader)([&](const char* data, size_t n) {
          if (static_cast<int64_t>(in.body.size() + n) > limit) {
            too_large = true;
            return false;
          }
          if (absl::Now() > deadline) {
            too_slow = true;
            return false;
          }
          in.body.append(data, n);
          return true;
        });
        // httplib refuses a declared Content-Length over the limit itself, before reading.
        if (!read && res.status == 413) too_large = true;
        if (too_large) {
          out.Error(413, "payload_too_large",
                    StrCat("request body over ", limit, " bytes (after decompression)"));
          return;
        }
        if (too_slow) {
          out.Error(408, "request_timeout",
                    StrCat("request body not received within ",
                           absl::FormatDuration(context_.options.request_timeout)));
          return;
        }
        if (!read) {
          out.Error(400, "bad_request", "request body could not be read (truncated, or not the "
                                        "declared Content-Encoding)");
          return;
        }
        body_unread = false;
      }
      in.method = req.method;
      in.path = req.path;
      in.path_params = match.params;
      in.query.insert(req.params.begin(), req.params.end());
      in.header = [&req](std::string_view name) { return req.get_header_value(std::string(name)); };
      in.principal = principal ? &*principal : nullptr;
      in.store = &**lease;
      in.now = now;
      try {
        route.handler(in, out);
      } catch (const std::exception& e) {
        out.Error(500, "internal", StrCat("handler failed: ", e.what()));
      }
    }();
    res.status = out.status;
    if (context_.metrics) {
      const absl::Time start = tls_request_log.started ? tls_request_log.start : absl::Now();
      context_.metrics->RequestHistogram(req.method, route_label)
          .Observe(absl::ToDoubleSeconds(absl::Now() - start));
    }
    for (auto& [name, value] : out.headers) res.set_header(name, value);
    // An unread body would be taken for the next request on this connection.
    if (body_unread) res.set_header("Connection", "close");
    res.set_content(std::move(out.body), out.content_type);
  };
  auto plain = [dispatch](const httplib::Request& req, httplib::Response& res) {
    dispatch(req, res, nullptr);
  };
  auto with_body = [dispatch](const httplib::Request& req, httplib::Response& res,
                              const httplib::ContentReader& reader) {
    dispatch(req, res, &reader);
  };
  http.Get(".*", plain);
  http.Post(".*", plain);
  http.Post(".*", with_body);
  http.Put(".*", plain);
  http.Put(".*", with_body);
  http.Patch(".*", plain);
  http.Patch(".*", with_body);
  http.Delete(".*", plain);
  http.Delete(".*", with_body);
  http.Options(".*", plain);

  // Errors httplib answers itself (413 on a declared length, 400 on a bad request line) get the
  // API's JSON error body too.
  httplib::Server::HandlerWithResponse on_error = [](const httplib::Request&,
                                                     httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    Response out;
    if (res.status == 413) {
      out.Error(413, "payload_too_large", "request body over max_body_bytes");
    } else if (res.status == 404) {
      out.Error(404, "not_found", "no such route");
    } else {
      out.Error(res.status, "bad_request", StrCat("request refused (HTTP ", res.status, ")"));
    }
    res.set_content(out.body, out.content_type);
    return httplib::Server::HandlerResponse::Handled;
  };
  http.set_error_handler(on_error);
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res,
                                std::exception_ptr) {
    Response out;
    out.Error(500, "internal", "the request failed inside the server");
    res.status = 500;
    res.set_content(out.body, out.content_type);
  });
  // Always set: the connection guard learns from it that a connection's answer is written.
  const bool access_log = o.access_log;
  http.set_logger([&impl, access_log](const httplib::Request& req, const httplib::Response& res) {
    if (impl.guard) impl.guard->RequestDone(req.remote_addr, req.remote_port);
    if (access_log) {
      nlohmann::json line;
      line["ts"] = FormatRfc3339(absl::Now());
      line["remote"] = req.remote_addr;
      line["method"] = req.method;
      line["path"] = req.path;  // never the query: it may carry a secret (the dashboard's ?token=)
      line["status"] = res.status;
      line["bytes"] = res.body.size();
      if (tls_request_log.started) {
        line["duration_ms"] =
            absl::ToDoubleMilliseconds(absl::Now() - tls_request_log.start);
        if (!tls_request_log.token.empty()) line["token"] = tls_request_log.token;
      }
      std::string text = line.dump() + "\n";
      std::lock_guard lock(impl.log_mu);
      std::fwrite(text.data(), 1, text.size(), stderr);
    }
    tls_request_log.started = false;
  });

  Status error;
  auto [host, port] = SplitListen(o.listen, &error);
  RETURN_IF_ERROR(error);
  int bound = port;
  if (port == 0) {
    bound = http.bind_to_any_port(host);
    if (bound < 0) return UnavailableError(StrCat("cannot listen on ", host, ": ", std::strerror(errno)));
  } else if (!http.bind_to_port(host, port)) {
    return UnavailableError(StrCat("cannot listen on ", o.listen, ": ", std::strerror(errno)));
  }

  // Token last-use times, written coalesced by one thread with its own store connection.
  std::thread flusher([this, &impl] {
    auto lease = context_.stores->Acquire();
    std::unique_lock lock(impl.flush_mu);
    while (!impl.stopping) {
      impl.flush_cv.wait_for(lock, absl::ToChronoSeconds(context_.options.last_used_flush),
                             [&] { return impl.stopping; });
      if (lease.ok()) context_.authenticator->FlushLastUsed(**lease).IgnoreError();
    }
  });
  impl.guard = std::make_unique<ConnectionGuard>(
      ConnectionGuardOptions{.header_timeout = o.header_timeout,
                             .max_connections_per_client = o.max_connections_per_client},
      *context_.clock, [&impl](const GuardedConnection& c, CutReason reason) {
        nlohmann::json line;
        line["ts"] = FormatRfc3339(absl::Now());
        line["level"] = "warning";
        line["msg"] = "connection shut down";
        line["remote"] = c.client;
        line["reason"] = ToString(reason);
        std::string text = line.dump() + "\n";
        std::lock_guard lock(impl.log_mu);
        std::fwrite(text.data(), 1, text.size(), stderr);
      });
  impl.guard->Start(bound);
  if (probes_) probes_->Start();
  if (on_listening) on_listening(bound);
  const bool listened = http.listen_after_bind();
  Stop();
  impl.guard->Stop();
  if (probes_) probes_->Stop();
  flusher.join();
  // Requests answered during the last flush's wait are written now.
  auto lease = context_.stores->Acquire();
  Status flushed = lease.ok() ? context_.authenticator->FlushLastUsed(**lease) : lease.status();
  if (!listened) return UnavailableError("the listening socket failed");
  return flushed.WithPrefix("saving token last-use times");
}

}  // namespace certcast::api
