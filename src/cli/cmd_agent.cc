// certcast agent: collect on this host, deliver to `certcast serve` at least once and in order
// (src/agent/agent.h, docs/deploy.md).
#include <pthread.h>
#include <signal.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "act/config.h"
#include "agent/actions.h"
#include "agent/agent.h"
#include "core/event_json.h"
#include "cli/command.h"
#include "core/clock.h"
#include "core/strings.h"
#include "core/time.h"

namespace certcast::cli {
namespace {

// Exit code of an agent whose token the server refused (401 unknown/revoked, 403 forbidden):
// retrying cannot help, so a supervisor should not restart it in a loop
// (packaging/certcast-agent.service: RestartPreventExitStatus=4).
constexpr int kExitTokenRefused = 4;

struct AgentFlags {
  agent::AgentOptions options;
  std::string interval = "5m";
  std::string retry_min = "1s";
  std::string retry_max = "5m";
  std::string timeout = "60s";
  std::string probe_timeout = "5s";
  bool no_probes = false;
  bool no_http01_proof = false;
  bool once = false;
};

// For tests only: the agent's wall clock moved by CERTCAST_TEST_CLOCK_OFFSET ("10m", "-10m"), to
// play a host whose clock is off without changing the machine's (docs/cli.md, `agent`); the
// agent runs on core's OffsetClock with this offset.
StatusOr<absl::Duration> TestClockOffset() {
  const char* text = std::getenv("CERTCAST_TEST_CLOCK_OFFSET");
  if (text == nullptr || *text == '\0') return absl::ZeroDuration();
  std::string_view value = text;
  const bool negative = value.starts_with('-');
  if (negative) value.remove_prefix(1);
  auto d = ParseDurationFlag(value);
  if (!d.ok()) return d.status().WithPrefix("CERTCAST_TEST_CLOCK_OFFSET");
  return negative ? -*d : *d;
}

int RunAgent(AgentFlags& flags) {
  std::signal(SIGPIPE, SIG_IGN);
  agent::AgentOptions& options = flags.options;
  for (auto [name, text, target] :
       {std::tuple{"--interval", &flags.interval, &options.interval},
        std::tuple{"--retry-min", &flags.retry_min, &options.retry_min},
        std::tuple{"--retry-max", &flags.retry_max, &options.retry_max},
        std::tuple{"--timeout", &flags.timeout, &options.io_timeout},
        std::tuple{"--probe-timeout", &flags.probe_timeout, &options.probe_timeout}}) {
    // Sub-second values too ("100ms"), for tests and fast local links.
    auto d = ParseDurationFlag(*text);
    absl::Duration fine;
    if (d.ok()) {
      *target = *d;
    } else if (absl::ParseDuration(*text, &fine) && fine > absl::ZeroDuration()) {
      *target = fine;
    } else {
      return Fail(d.status().WithPrefix(name));
    }
  }
  options.probes = !flags.no_probes;
  options.http01_proof = !flags.no_http01_proof;
  if (options.probe_max < 0 || options.probe_max > 10000) return Fail(InvalidArgumentError("--probe-max: 0 to 10000"));
  if (options.seed == 0) options.seed = static_cast<uint64_t>(::getpid()) ^ absl::ToUnixNanos(absl::Now());
  auto offset = TestClockOffset();
  if (!offset.ok()) return Fail(offset.status());
  OffsetClock clock(*offset);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto created = agent::Agent::Create(options, clock, std::cerr);
  if (!created.ok()) return Fail(created.status());
  agent::Agent& agent = **created;
  // The act step (src/agent/actions.h): this host's configuration (--config: [client], [reload],
  // allowed_cas, allowed_challenges) decides how, and whether, an action from the server runs.
  agent::ActionRunnerOptions act_options;
  act_options.state_dir = options.state_dir;
  if (!options.config.empty()) {
    auto config = act::LoadDaemonConfig(options.config);
    if (!config.ok()) return Fail(config.status().WithPrefix(StrCat("--config ", options.config)));
    act_options.config = std::move(*config);
  }
  auto runner = agent::ActionRunner::Create(std::move(act_options), clock, std::cerr);
  if (!runner.ok()) return Fail(runner.status());
  agent::ActionRunner& actions = **runner;
  agent.SetActStep([&actions](agent::ActContext& context) -> Status {
    auto post = [&context](const std::string& path,
                           const std::string& json) -> StatusOr<agent::ActionServerAnswer> {
      ASSIGN_OR_RETURN(agent::ServerAnswer answer,
                       context.server.Post(path, json, "application/json", /*gzip=*/false));
      return agent::ActionServerAnswer{answer.status, std::move(answer.body)};
    };
    auto emit = [&context](std::span<const Event> events) {
      std::vector<std::string> lines;
      for (const Event& e : events) lines.push_back(EventToJson(e));
      return context.outbox.Append(lines, context.now);
    };
    auto step = actions.RunStep(post, emit);
    return step.ok() ? OkStatus() : step.status();
  });
  if (flags.once) {
    auto cycle = agent.RunCycle();
    if (!cycle.ok()) {
      Fail(cycle.status());
      return agent.refused() ? kExitTokenRefused : kExitFailure;
    }
    if (!cycle->server_answered || cycle->pending_bytes > 0) {
      std::cerr << "certcast: agent: not every event was acknowledged: "
                << agent.outbox().segments().size() << " batches (" << cycle->pending_bytes
                << " bytes) wait in " << options.state_dir << "/outbox\n";
      return kExitFailure;
    }
    return cycle->rejected > 0 ? kExitRejected : kExitOk;
  }
  std::thread signal_thread([&] {
    int received = 0;
    sigwait(&signals, &received);
    actions.Stop();
    agent.Stop();
  });
  Status s = agent.Run();
  agent.Stop();
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  if (s.ok()) return kExitOk;
  Fail(s);
  return agent.refused() ? kExitTokenRefused : kExitFailure;
}

const bool registered = RegisterCommand({
    .name = "agent",
    .summary = "Collect on this host and deliver every event to `certcast serve`, at least once",
    .order = 61,
    .setup =
        [](CLI::App& sub) {
          auto flags = std::make_shared<AgentFlags>();
          sub.description(
              "Runs on each host beside its ACME clients. Each cycle collects the hooks' spool, "
              "the certbot, lego and acme.sh state and configuration found under --discover-root, "
              "host health for each client found, and the [[collector]] commands of --config; "
              "appends what is new to an outbox in --state-dir (fsynced before anything counts as "
              "collected), then posts the outbox to the server oldest batch first (gzip). A batch "
              "leaves the outbox only when the server answered 200 or 422; lines the server "
              "rejected go to STATE-DIR/dead-letter.jsonl with its error. Without an answer, "
              "delivery is retried with exponential backoff and jitter, and the outbox keeps at "
              "most --outbox-max-bytes (oldest batches dropped first; the drop is reported as a "
              "`host` event with event \"telemetry_dropped\" once the server answers). After a delivery the "
              "server answered, the agent fetches the probes the server derived for this host from the "
              "lineages it knows (GET /v1/agent/probes: each name as SNI on 127.0.0.1 at the server's "
              "probe_local_ports, internal endpoints seen serving them, the CA directory; for http-01 "
              "lineages each name's challenge path on this host's web server, 127.0.0.1 port 80; for "
              "dns-01 lineages the _acme-challenge CNAME and NS) and runs "
              "those its own limits admit (TLS and http01 endpoints at internal addresses only, --probe-max, "
              "--probe-timeout); their events are delivered in the same cycle. A token "
              "the server refuses (401 revoked or unknown, 403) stops the agent. SIGTERM or "
              "SIGINT lets the batch in flight finish.\n\nFor tests only: the environment "
              "variable CERTCAST_TEST_CLOCK_OFFSET (\"10m\", \"-10m\") moves the agent's wall "
              "clock, to play a host whose clock is off.");
          sub.add_option("--server", flags->options.server, "Server URL, http(s)://HOST:PORT")->required();
          sub.add_option("--token-file", flags->options.token_file,
                         "File holding this host's `agent` token (owned by this user or root, mode 0600)")
              ->required();
          sub.add_option("--state-dir", flags->options.state_dir,
                         "Directory of the outbox and the agent's state (created 0700)")
              ->required();
          sub.add_option("--host", flags->options.host, "This host's name in events (default: the machine's name)");
          sub.add_flag("--once", flags->once,
                       "Run one cycle; exit 0 only when the server answered and every event collected so "
                       "far was acknowledged");
          sub.add_option("--interval", flags->interval, "Time between cycles")->capture_default_str();
          sub.add_option("--ca-file", flags->options.ca_file, "CA bundle (PEM) of an https server (default: the system's)");
          sub.add_option("--config", flags->options.config, "certcast.toml whose [[collector]] entries run here (local probes)");
          sub.add_option("--spool-dir", flags->options.spool_dir, "The hooks' spool (\"\" for none)")->capture_default_str();
          sub.add_option("--discover-root", flags->options.discover_root,
                         "Where discovery looks for client state (\"\" for no discovery)")
              ->capture_default_str();
          sub.add_option("--outbox-max-bytes", flags->options.outbox_max_bytes, "Bound of the outbox")->capture_default_str();
          sub.add_option("--dead-letter-max-bytes", flags->options.dead_letter_max_bytes,
                         "Bound of the dead-letter files (the oldest half dropped beyond it, reported as an event)")
              ->capture_default_str();
          sub.add_option("--batch-bytes", flags->options.segment_bytes, "Bytes per batch (one POST)")->capture_default_str();
          sub.add_option("--retry-min", flags->retry_min, "First wait after a failed delivery")->capture_default_str();
          sub.add_option("--retry-max", flags->retry_max, "Longest wait between delivery attempts")->capture_default_str();
          sub.add_option("--timeout", flags->timeout, "One read or write on the server connection (a whole exchange is cut at 5 min, an answer at 64 MiB: the server is unavailable, try again later)")->capture_default_str();
          sub.add_option("--seed", flags->options.seed, "Seed of the retry jitter (default: from pid and time)");
          sub.add_flag("--no-probes", flags->no_probes, "Do not run the probes the server derives for this host");
          sub.add_flag("--no-http01-proof", flags->no_http01_proof,
                       "Do not place HTTP-01 proof tokens in webroots (by default, for each http-01 name whose "
                       "webroot certbot's renewal conf or acme.sh's domain conf names, a random file under WEBROOT/.well-known/acme-challenge/ "
                       "that the server fetches from outside to prove the answer comes from this host; removed after)");
          sub.add_option("--probe-max", flags->options.probe_max,
                         "Most probe targets run per cycle (the rest of the server's list is left out)")
              ->capture_default_str();
          sub.add_option("--probe-timeout", flags->probe_timeout, "One probe (connect and handshake, or one CA request)")
              ->capture_default_str();
          sub.add_option("--probe-resolver", flags->options.probe_resolver,
                         "DNS resolver (ADDR:PORT) for the challenge-path probes (default: the system's)");
          sub.add_option("--probe-ca-file", flags->options.probe_ca_file,
                         "CA bundle (PEM) the probed endpoints and CAs are verified against (default: the system's)");
          sub.footer(
              "Exit: 0 stopped by a signal, or with --once every event acknowledged; 1 with --once, "
              "the server rejected some lines (in the dead-letter file); 3 the server could not "
              "be reached with --once (the events wait in the outbox), or the state directory "
              "failed; 4 the server refused the token (revoked, unknown, or another host's).\n\n"
              "Example:\n  certcast token create --db fleet.db --name web1 --scope agent --host web1 "
              "> /etc/certcast/agent.token\n  certcast agent --server https://fleet.example:8440 "
              "--ca-file /etc/certcast/ca.pem \\\n    --token-file /etc/certcast/agent.token "
              "--state-dir /var/lib/certcast/agent");
          return [flags] { return RunAgent(*flags); };
        },
});

}  // namespace
}  // namespace certcast::cli
