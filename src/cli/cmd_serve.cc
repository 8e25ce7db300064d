// certcast serve: the fleet server (docs/api.md) until SIGTERM or SIGINT; SIGHUP reloads TLS.
#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <thread>

#include "api/server.h"
#include "cli/command.h"
#include "cli/serve_loop.h"
#include "core/strings.h"
#include "core/time.h"
#include "store/store_backends.h"

namespace certcast::cli {

int ServeUntilSignal(const api::ServerOptions& options, const Clock& clock,
                     const std::function<void(int port)>& on_listening) {
  // Signals go to one thread; blocked in every other thread, including the server's workers,
  // which are started after this.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGUSR1);  // from this thread to the signal thread: the server is done
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = api::Server::Create(options, clock);
  if (!server.ok()) {
    const bool usage = server.status().code() == StatusCode::kInvalidArgument;
    std::cerr << "certcast: " << server.status().message() << "\n";
    return usage ? kExitUsage : kExitFailure;
  }
  std::thread signal_thread([&] {
    while (true) {
      int received = 0;
      sigwait(&signals, &received);
      if (received == SIGHUP) {
        Status s = (*server)->ReloadTls();
        std::cerr << "certcast: SIGHUP: "
                  << (s.ok() ? StrCat("TLS certificate reloaded from ", options.tls_cert)
                             : s.message())
                  << "\n";
        continue;
      }
      if (received != SIGUSR1) {
        std::cerr << "certcast: " << (received == SIGINT ? "SIGINT" : "SIGTERM")
                  << ": finishing requests in flight, then exiting\n";
      }
      (*server)->Stop();
      return;
    }
  });
  Status s = (*server)->Run(on_listening);
  pthread_kill(signal_thread.native_handle(), SIGUSR1);
  signal_thread.join();
  if (!s.ok()) return Fail(s);
  return kExitOk;
}

namespace {

struct ServeFlags {
  std::string config;
  api::ServerOptions options;  // flag values; applied over the config file's when given
  CLI::Option* db = nullptr;
  CLI::Option* listen = nullptr;
  CLI::Option* tls_cert = nullptr;
  CLI::Option* tls_key = nullptr;
  CLI::Option* token_key = nullptr;
  CLI::Option* threads = nullptr;
  CLI::Option* model = nullptr;
  CLI::Option* run_config = nullptr;
  CLI::Option* act = nullptr;
  CLI::Option* plan_interval = nullptr;
  CLI::Option* ingest_debounce = nullptr;
  CLI::Option* metrics_token = nullptr;
  std::string plan_interval_text, ingest_debounce_text;
};

int RunServe(const ServeFlags& flags) {
  api::ServerOptions options;
  if (!flags.config.empty()) {
    Status s = api::LoadServerConfig(flags.config, options);
    if (!s.ok()) {
      std::cerr << "certcast: " << s.message() << "\n";
      return kExitUsage;
    }
  }
  if (flags.db->count()) options.db = flags.options.db;
  if (flags.listen->count()) options.listen = flags.options.listen;
  if (flags.tls_cert->count()) options.tls_cert = flags.options.tls_cert;
  if (flags.tls_key->count()) options.tls_key = flags.options.tls_key;
  if (flags.token_key->count()) options.token_key = flags.options.token_key;
  if (flags.threads->count()) options.threads = flags.options.threads;
  if (flags.model->count()) options.model = flags.options.model;
  if (flags.run_config->count()) options.run_config = flags.options.run_config;
  if (flags.act->count()) options.act = true;
  if (flags.metrics_token->count()) options.metrics_token = true;
  if (flags.plan_interval->count()) options.plan_interval = *ParseDurationFlag(flags.plan_interval_text);
  if (flags.ingest_debounce->count()) {
    options.ingest_debounce = *ParseDurationFlag(flags.ingest_debounce_text);
  }
  if (options.db.empty()) {
    std::cerr << "certcast: --db is required (or `db` in the --config file)\n";
    return kExitUsage;
  }

  // The server's challenge tokens must not be guessable in advance: seeded here, at the edge.
  options.probe_seed = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  const std::string scheme = options.tls_cert.empty() ? "http" : "https";
  return ServeUntilSignal(options, SystemClock::Get(), [&](int port) {
    const std::string host = options.listen.substr(0, options.listen.rfind(':'));
    std::cerr << "certcast: serving " << scheme << "://" << host << ":" << port << " (store "
              << StoreDisplayName(options.db) << ", " << options.threads << " workers)" << std::endl;
  });
}

const bool registered = RegisterCommand({
    .name = "serve",
    .summary = "The fleet server: the REST API over the store, with scoped tokens",
    .order = 85,
    .setup =
        [](CLI::App& sub) {
          auto flags = std::make_shared<ServeFlags>();
          api::ServerOptions defaults;
          sub.description(
              "Serves the REST API (docs/api.md; its OpenAPI document at GET /v1/openapi.json) "
              "over the store until SIGTERM or SIGINT, which let requests in flight finish and "
              "exit 0. Every route under /v1/ needs `Authorization: Bearer SECRET` with a token "
              "from `certcast token create` that has the route's scope. POST /v1/events stores "
              "events-v1 lines (gzip accepted) with per-line errors. GET /healthz answers 200 "
              "while the store does. With --tls-cert/--tls-key the server speaks HTTPS, and "
              "SIGHUP reloads the pair for new connections (a bad pair keeps the old one). Access "
              "logs are JSON lines on stderr. Flags override the --config file, which holds every "
              "setting with its default in docs/api.md. The server plans as `certcast plan` does, "
              "once before it listens and every --plan-interval (recording its decisions; with "
              "--act also carrying them out as `certcast run` does), and serves the result as "
              "the fleet view: GET /v1/lineages (risk, reason and planned action per lineage, "
              "highest risk first), /v1/lineages/{cert}, /v1/forecasts, POST /v1/plan (a dry "
              "plan), decisions, actions, audit, models, and Prometheus metrics at GET /metrics. "
              "A renewal, dry run or reload for a host that has an agent (a token in force with "
              "the agent scope bound to that host) is queued for that agent instead "
              "(`certcast agent` leases it, carries it out and reports: GET /v1/queue); --act "
              "runs the rest here.");
          flags->db = sub.add_option("--db", flags->options.db,
                                     "Store: SQLite file or postgresql:// URI; created when missing");
          flags->listen = sub.add_option("--listen", flags->options.listen,
                                         "ADDR:PORT to listen on; port 0 picks a free one")
                              ->default_str(defaults.listen);
          flags->tls_cert = sub.add_option("--tls-cert", flags->options.tls_cert,
                                           "PEM certificate chain, leaf first (HTTPS)");
          flags->tls_key = sub.add_option("--tls-key", flags->options.tls_key,
                                          "PEM private key of --tls-cert");
          flags->token_key = sub.add_option("--token-key", flags->options.token_key,
                                            "Token HMAC key file (0600); required with a PostgreSQL --db, the same file on every server")
                                 ->default_str("DB.token-key");
          flags->threads = sub.add_option("--threads", flags->options.threads,
                                          "Worker threads (each serves one connection at a time)")
                               ->default_str(StrCat(defaults.threads))
                               ->check(CLI::Range(1, 4096));
          flags->model = sub.add_option("--model", flags->options.model,
                                        "Model file from `certcast train` (default: the newest "
                                        "model `train` stored in the store; none: risks are null)");
          flags->run_config = sub.add_option(
              "--run-config", flags->options.run_config,
              "The `certcast run` TOML file: [policy] thresholds and, for --act, the executors "
              "([client], [reload], [alert]); its collectors are ignored (default: built-in "
              "policy, no executors configured)");
          flags->act = sub.add_flag("--act", flags->options.act, "Carry each plan out through the executors, as "
                                             "`certcast run` does (default: off: plan and record "
                                             "decisions only)");
          flags->plan_interval =
              sub.add_option("--plan-interval", flags->plan_interval_text,
                             "Plan (and with --act act) this often")
                  ->default_str(absl::FormatDuration(defaults.plan_interval))
                  ->check(RequireDuration());
          flags->ingest_debounce =
              sub.add_option("--ingest-debounce", flags->ingest_debounce_text,
                             "Refresh the fleet view this long after events were posted")
                  ->default_str(absl::FormatDuration(defaults.ingest_debounce))
                  ->check(RequireDuration());
          flags->metrics_token = sub.add_flag("--metrics-token", flags->options.metrics_token,
                                              "GET /metrics needs a token with the read scope "
                                              "(default: open, for Prometheus)");
          sub.add_option("--config", flags->config, "TOML settings file (docs/api.md)");
          sub.footer(
              "Exit: 0 stopped by SIGTERM/SIGINT; 2 bad flags or config; 3 the store, key, TLS "
              "pair or listening socket failed.\n\nExample:\n"
              "  certcast token create --db fleet.db --name ci --scope ingest,read\n"
              "  certcast serve --db fleet.db --listen 0.0.0.0:8443 \\\n"
              "      --tls-cert /etc/certcast/tls.pem --tls-key /etc/certcast/tls.key\n"
              "  certcast serve --db fleet.db --model risk.model --act --run-config certcast.toml");
          return [flags] { return RunServe(*flags); };
        },
});

}  // namespace
}  // namespace certcast::cli
