// The fleet server (`certcast serve`, docs/api.md): an HTTP/1.1 server over the store with scoped
// bearer tokens, on cpp-httplib (why: docs/decisions.md, 2026-12-04).
//
// How a route is added (everything else, auth, errors, limits, logs, is the server's):
//   1. Write a handler `void(Request&, Response&)`. It reads `request.store` (this worker's own
//      connection), `request.principal` (the checked token; null only on public routes),
//      `request.path_params` ("{cert}" segments), `request.query`, `request.body` (already
//      decompressed and size-limited); it fills `response` with Json(...) or Error(...).
//   2. Add it in a Register*Routes function listed in RegisterRoutes (routes.cc):
//        router.Add({.method = "GET", .path = "/v1/lineages/{cert}",
//                    .scopes = Bit(Scope::kRead), .handler = ...});
//      Routes under /v1/ must name at least one scope (any of them admits); `.scopes = 0` is only
//      for public routes outside /v1/ (/healthz, /metrics). Router::Add refuses anything else.
//   3. Describe it in src/api/openapi.json (same method and path template): api_test checks that
//      every route is in the document and every path of the document is a route.
// Writes that change state other than events record `request.principal->name` in their audit
// record (never the secret).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "api/fleet_service.h"
#include "api/metrics.h"
#include "api/probe_service.h"
#include "api/token.h"
#include "core/clock.h"
#include "core/status.h"
#include "store/store.h"

namespace certcast {
struct IngestStats;
}

namespace certcast::api {

// Settings of `certcast serve`; the defaults are the documented ones (docs/api.md).
struct ServerOptions {
  std::string db;
  std::string listen = "127.0.0.1:8440";    // ADDR:PORT; port 0 picks a free one
  std::string tls_cert;                     // PEM chain, leaf first; empty = plain HTTP
  std::string tls_key;                      // PEM private key
  std::string token_key;                    // empty = DefaultTokenKeyPath(db)
  int threads = 32;                         // workers; each serves one connection at a time
  int queue = 256;                          // accepted connections waiting for a worker
  int64_t max_body_bytes = 64ll << 20;      // request body after gzip decompression (413)
  absl::Duration read_timeout = absl::Seconds(10);    // one read from a client (slow clients)
  absl::Duration write_timeout = absl::Seconds(10);   // one write to a client
  absl::Duration request_timeout = absl::Seconds(60); // receiving one request body (408)
  absl::Duration keep_alive_timeout = absl::Seconds(5);
  // A client's request line and headers, from its connection's accept (or its last answer) to the
  // end of the headers; past it the connection is shut down (connection_guard.h: slow clients).
  absl::Duration header_timeout = absl::Seconds(20);
  // Open connections from one address (the newest idle ones beyond it are shut down): below
  // `threads`, so that one address cannot hold every worker.
  int max_connections_per_client = 16;
  int keep_alive_max = 1000;                // requests per connection
  absl::Duration last_used_flush = absl::Seconds(30);  // coalesced token last-use writes
  bool access_log = true;                   // JSON lines on stderr
  // The fleet view and planning (fleet_service.h, docs/api.md "The fleet view").
  std::string model;                        // model file; "" = the newest model in the store
  std::string run_config;                   // `certcast run` TOML: [policy], executors for act
  bool act = false;                         // carry the plan out (serve --act)
  absl::Duration plan_interval = absl::Hours(1);
  absl::Duration ingest_debounce = absl::Seconds(5);
  bool metrics_token = false;               // GET /metrics needs a read token
  // How long an agent's lease on a queued action lasts (POST /v1/agent/actions/lease): past it,
  // without a report, the action is leased again (the agent died; store.h, ActionState).
  absl::Duration action_lease = absl::Minutes(30);
  // Probes derived from the lineages the server knows (probe_targets.h): the server's own from
  // outside, every probe_interval, when `probe`; and the lists agents fetch (GET
  // /v1/agent/probes), whose TLS targets are each name on 127.0.0.1 at probe_local_ports.
  bool probe = false;
  absl::Duration probe_interval = absl::Hours(1);
  absl::Duration probe_timeout = absl::Seconds(10);  // one probe of the server's
  std::string probe_ca_file;                         // trust of the server's probes; "" = system
  std::vector<int> probe_public_ports = {443};
  std::vector<int> probe_local_ports = {443};
  int64_t probe_max_targets = 500;                   // per list (per host for agents)
  // The challenge path of http-01 lineages is probed at this port (the CA's is 80; tests use
  // another), by the server and in the agents' lists; dns targets and http01 names are resolved
  // by probe_resolver ("ADDR:PORT"; "" = the system's) in the server's own probes.
  int probe_http01_port = 80;
  std::string probe_resolver;
  uint64_t probe_seed = 0;  // the server's challenge tokens (cmd_serve seeds it from the time)
};

// Reads a `certcast serve` config file (TOML, table [serve]) into `options`; keys absent keep
// their values. Unknown keys and wrong types are errors naming FILE and the key.
Status LoadServerConfig(const std::string& path, ServerOptions& options);
Status ParseServerConfig(std::string_view toml_text, ServerOptions& options);

// Hands each worker thread a store connection of its own (Store is single-threaded), opening one
// the first time a thread asks and reusing it after.
class StorePool {
 public:
  explicit StorePool(std::string db) : db_(std::move(db)) {}
  class Lease {
   public:
    Lease(StorePool* pool, std::unique_ptr<Store> store) : pool_(pool), store_(std::move(store)) {}
    Lease(Lease&&) = default;
    ~Lease();
    Store& operator*() const { return *store_; }
    Store* operator->() const { return store_.get(); }
   private:
    StorePool* pool_;
    std::unique_ptr<Store> store_;
  };
  StatusOr<Lease> Acquire();

  // The one connection that ingest writes through, held by one request at a time. SQLite admits
  // one writer at a time anyway; through one connection the writers queue on a mutex instead of
  // SQLite's sleeping busy handler, and the connection keeps its page cache (the events table's
  // b-tree pages) from one batch to the next: a commit by another connection would empty it.
  // Opened on first use with the store's default cache, as `certcast ingest` opens it.
  class Writer {
   public:
    Writer(std::unique_lock<std::mutex> lock, Store* store) : lock_(std::move(lock)), store_(store) {}
    Store& operator*() const { return *store_; }
    Store* operator->() const { return store_; }
   private:
    std::unique_lock<std::mutex> lock_;
    Store* store_;
  };
  StatusOr<Writer> AcquireWriter();

  const std::string& db() const { return db_; }
 private:
  std::string db_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Store>> free_;
  std::mutex writer_mu_;
  std::unique_ptr<Store> writer_;  // guarded by writer_mu_
};

struct Request {
  std::string method;
  std::string path;                                  // decoded, without the query
  std::map<std::string, std::string> path_params;   // {name} segments of the route
  std::multimap<std::string, std::string> query;
  std::function<std::string(std::string_view)> header;  // value of a request header, "" if absent
  std::string body;
  const Principal* principal = nullptr;
  Store* store = nullptr;
  absl::Time now;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  void Json(int code, std::string json) {
    status = code;
    content_type = "application/json";
    body = std::move(json);
  }
  // {"error": {"code": CODE, "message": MESSAGE}}: the one error shape of the API.
  void Error(int code, std::string_view error_code, std::string_view message);
  // Maps a Status to its HTTP status and error code (InvalidArgument 400, NotFound 404,
  // AlreadyExists/FailedPrecondition 409, ResourceExhausted 429, Unavailable 503,
  // DeadlineExceeded 504, the rest 500).
  void Error(const Status& status);
};

using Handler = std::function<void(Request&, Response&)>;

struct Route {
  std::string method;  // GET, POST, PUT, PATCH, DELETE
  std::string path;    // "/v1/lineages/{cert}": literal segments and {parameters}
  ScopeSet scopes = 0; // any of these admits; 0 only for public routes outside /v1/
  Handler handler;
};

class Router {
 public:
  // InvalidArgument for a duplicate (method, path), a /v1/ route without scopes, a public route
  // under /v1/, an unknown method or a path not starting with '/'.
  Status Add(Route route);

  struct Match {
    const Route* route = nullptr;                  // null: no route for this method
    std::map<std::string, std::string> params;
    std::vector<std::string> allowed;              // methods of the path when route is null
  };
  Match Find(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

// What route handlers share: the server's settings, its clock and store pool.
struct ServerContext {
  ServerOptions options;
  const Clock* clock = &SystemClock::Get();
  StorePool* stores = nullptr;
  Authenticator* authenticator = nullptr;
  FleetService* fleet = nullptr;     // the fleet view; planned once before the server listens
  ServerMetrics* metrics = nullptr;  // GET /metrics
};

// After a route stored events: the "ingest" audit record naming the token (never its secret), the
// route and the counts, then the store metrics and a refresh of the fleet view (after its
// debounce). Nothing when nothing new was stored. An error only when the audit record failed.
Status RecordIngest(const ServerContext& context, Request& request, std::string_view route, const IngestStats& stats);

// Registers every route of the API (routes.cc); each part of the API has one Register*Routes.
Status RegisterRoutes(Router& router, ServerContext& context);
Status RegisterCoreRoutes(Router& router, ServerContext& context);
// The fleet view's routes (fleet_routes.cc): lineages, forecasts, plan, decisions, actions,
// audit, models and /metrics.
Status RegisterFleetRoutes(Router& router, ServerContext& context);
// The action queue's routes (action_routes.cc): agents lease and report, operators list, approve
// and cancel.
Status RegisterActionRoutes(Router& router, ServerContext& context);
// Incidents and silences (alert_routes.cc, docs/alerts.md).
Status RegisterAlertRoutes(Router& router, ServerContext& context);
// Probe targets derived from the fleet view (probe_routes.cc, probe_targets.h): GET
// /v1/agent/probes.
Status RegisterProbeRoutes(Router& router, ServerContext& context);
// The dashboard's page and files (dashboard_routes.cc, dashboard.h): GET / and /dashboard/{file}.
Status RegisterDashboardRoutes(Router& router, ServerContext& context);

// The OpenAPI 3.1 document (src/api/openapi.json, embedded at build time).
std::string_view OpenApiDocument();

class Server {
 public:
  // Loads the token key and TLS pair, registers the routes. Does not listen yet.
  static StatusOr<std::unique_ptr<Server>> Create(ServerOptions options,
                                                  const Clock& clock = SystemClock::Get());
  ~Server();

  // Binds, calls `on_listening(port)` once the socket is bound, then serves until Stop(). When
  // it returns, in-flight requests have been answered and token last-use times flushed.
  Status Run(const std::function<void(int port)>& on_listening = {});
  // Stops accepting; Run returns once the requests in flight are answered. Safe from any thread.
  void Stop();
  // Re-reads --tls-cert/--tls-key; connections after it get the new pair, open ones keep theirs.
  // A bad pair keeps the current one and the error says why.
  Status ReloadTls();

  const Router& router() const { return router_; }

 private:
  struct Impl;
  Server() = default;
  ServerContext context_;
  Router router_;
  std::unique_ptr<StorePool> stores_;
  std::unique_ptr<Authenticator> authenticator_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<FleetService> fleet_;
  std::unique_ptr<ProbeService> probes_;  // with `probe`: the server's own probes
  std::unique_ptr<Impl> impl_;
};

}  // namespace certcast::api
