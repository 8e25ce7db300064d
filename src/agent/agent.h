// `certcast agent` (docs/cli.md, docs/deploy.md): on each host beside its ACME clients, collects
// what the host can see and delivers it to `certcast serve`, at least once and in order.
//
// One cycle (Agent::RunCycle) at the clock's now:
//   1. Collect: the hooks' spool (collect/host/spool.h), the certbot/lego/acme.sh state found by
//      discovery (collect/clients/discover.h), host health for each client found
//      (collect/host/host_probe.h) and the [[collector]] commands of the daemon's config
//      (act/collector.h) that are due. A line seen in the previous cycle's collection is not
//      queued again (the spool and discovery repeat their lines every run). A line about another
//      host than --host goes to the dead-letter file: the server would refuse the whole batch.
//      What is left is appended to the outbox (outbox.h) durably before anything else happens.
//   2. Deliver: the outbox's segments oldest first, one POST /v1/events each (gzip; an empty
//      body when there is nothing to send, so every cycle learns whether the token still holds). 200 or 422
//      removes the segment (422's rejected lines go to DIR/dead-letter.jsonl with the server's
//      error, never retried); 401/403 stops the agent (refused()); anything else (5xx, 408,
//      429, no answer) leaves the segment for a retry with backoff (backoff.h). Other 4xx move
//      the whole batch to the dead-letter file. After an answer, a drop by the outbox's bound is
//      reported as a `host` event with event "telemetry_dropped" (docs/decisions.md), one by the
//      dead-letter file's bound as "dead_letter_dropped".
//   3. Act, through SetActStep: `certcast agent` sets actions.h's ActionRunner, which leases this
//      host's queued actions, carries each out exactly once with the local executors, appends
//      their events to the outbox and reports the outcomes. Without a step, nothing.
//   4. Deliver again when the act step queued events.
// Run() repeats: a cycle every `interval`, delivery retried with backoff in between, until
// Stop() (SIGTERM: the batch in flight is finished and acknowledged first).
//
// HTTP-01 origin: after the probes, for each http01 name with a webroot in the client's configuration,
// a token file in that webroot, fetched by the server from outside (POST /v1/agent/http01-proof), then
// removed (ProveHttp01; the one write outside DIR: webroot_token.h).
// State in DIR (--state-dir, 0700, owned by this uid): outbox/, dead-letter.jsonl (bounded:
// dead_letter.h), seen (hashes
// of the last cycle's lines), probes.json (the last probe list the server gave: a restarted agent
// keeps probing while the server is away), lock (one agent per directory). Files 0600.
// Thread safety: Stop() from any thread; the rest from one thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "act/config.h"
#include "act/stop_signal.h"
#include "agent/backoff.h"
#include "agent/dead_letter.h"
#include "agent/outbox.h"
#include "agent/server_client.h"
#include "core/clock.h"
#include "core/status.h"

namespace certcast::agent {

struct AgentOptions {
  std::string server;      // --server URL
  std::string token_file;  // --token-file (ReadTokenFile)
  std::string ca_file;     // --ca-file: the CA bundle of an https server
  std::string state_dir;   // --state-dir
  std::string host;        // --host; the machine's name when empty
  std::string config;      // --config: daemon TOML whose [[collector]] entries run here
  std::string spool_dir = "/var/lib/certcast/spool";  // "" = none
  absl::Duration spool_keep = absl::Hours(24 * 30);
  std::string discover_root = "/";  // "" = no discovery (and no host health)
  int discover_depth = 5;
  absl::Duration interval = absl::Minutes(5);
  int64_t outbox_max_bytes = 256ll << 20;
  int64_t dead_letter_max_bytes = 16ll << 20;  // dead_letter.h: oldest records dropped beyond it
  int64_t segment_bytes = 1ll << 20;
  absl::Duration retry_min = absl::Seconds(1);
  absl::Duration retry_max = absl::Minutes(5);
  uint64_t seed = 0;  // backoff jitter
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration io_timeout = absl::Seconds(60);
  // The probes the server derives for this host (GET /v1/agent/probes), run each cycle after a
  // delivery the server answered. The agent's own limits win over the server's list: at most
  // probe_max targets, each within probe_timeout, and TLS endpoints only at internal address
  // literals (api::IsInternalAddress: loopback, private, link-local) -- the server probes what is
  // public, and a name could resolve anywhere.
  bool probes = true;
  int probe_max = 64;
  absl::Duration probe_timeout = absl::Seconds(5);
  std::string probe_ca_file;  // trust of the probed endpoints and CAs; "" = the system store
  std::string probe_resolver;  // dns targets and http01 names ("ADDR:PORT"); "" = the system's
  // Proof of HTTP-01 origin (api/http01_proof.h): for each http01 name in the server's list whose
  // webroot the client's configuration names (certbot's renewal conf, found by discovery), place
  // a random token there (webroot_token.h), ask the server to fetch it from outside, remove it.
  bool http01_proof = true;
};

struct AgentCycleReport {
  int64_t collected = 0;       // lines the sources produced
  int64_t already_queued = 0;  // of them, seen in the previous cycle
  int64_t foreign_host = 0;    // of them, about another host (dead-lettered)
  int64_t queued = 0;          // appended to the outbox
  int batches = 0;             // segments acknowledged by the server
  int64_t stored = 0, duplicates = 0, rejected = 0;  // the server's counts over those batches
  int probes = 0;                // probe targets run this cycle
  int probes_refused = 0;        // targets the server listed that the agent's limits left out
  int http01_proofs = 0;         // names the server was asked to fetch a placed token for
  int http01_proven = 0;         // of them, the token's body came back
  bool server_answered = false;  // some request got an HTTP answer this cycle
  int64_t pending_bytes = 0;     // left in the outbox after the cycle
};

// What the act step gets (filled by part 2; see the header comment, step 3).
struct ActContext {
  ServerClient& server;
  Outbox& outbox;  // Append outcome events here; the cycle delivers them
  const std::string& host;
  absl::Time now;
  std::ostream& log;
};
using ActStep = std::function<Status(ActContext&)>;

class Agent {
 public:
  // Reads the token file, creates/checks DIR, takes its lock, opens the outbox (a torn last line
  // is dropped with a warning on `log`). Errors name the flag and path.
  static StatusOr<std::unique_ptr<Agent>> Create(AgentOptions options, const Clock& clock,
                                                 std::ostream& log);
  ~Agent();

  void SetActStep(ActStep step) { act_step_ = std::move(step); }

  // One cycle (see above). An error only for what stops the agent: the server refused the token
  // (refused() is then true) or the state directory failed. A server that is down is not an
  // error: the events wait (pending_bytes > 0, server_answered false).
  StatusOr<AgentCycleReport> RunCycle();
  // Cycles until Stop(); returns the error that stopped it, OK after Stop().
  Status Run();
  void Stop() { stop_.Stop(); }

  bool refused() const { return refused_; }
  const std::string& host() const { return options_.host; }
  const Outbox& outbox() const { return *outbox_; }

 private:
  Agent(AgentOptions options, const Clock& clock, std::ostream& log)
      : options_(std::move(options)), clock_(clock), log_(log),
        backoff_(options_.retry_min, options_.retry_max, options_.seed) {}
  Status Collect(absl::Time now, AgentCycleReport& report);
  // Delivers every segment; OK when the outbox is empty after, Unavailable when the server did
  // not answer usefully (events wait), FailedPrecondition when it refused the token. With
  // `even_if_empty`, an empty outbox is posted as an empty body (is the server there, does it
  // still take the token?).
  Status Deliver(AgentCycleReport& report, bool even_if_empty = false);
  // Fetches this host's probe targets (when `server_there`), runs those the agent's limits admit
  // and appends their events to the outbox. An error only when the outbox fails; a server without
  // the route or a bad list is a warning. Each list the server gives that parses is kept in
  // DIR/probes.json (0600, atomically replaced); without the server's answer the kept one is used.
  Status Probe(AgentCycleReport& report, bool server_there);
  // The list's JSON: the server's when it answers, else the kept one (NotFound when none).
  StatusOr<std::string> FetchProbeList(bool server_there);
  // The proof of HTTP-01 origin for `names` (the http01 targets of the server's list) that have a
  // webroot in a certbot renewal conf found this cycle. Never an error: each failure is logged and
  // the file is removed in every case.
  void ProveHttp01(const std::vector<std::string>& names, AgentCycleReport& report);
  Status DeadLetter(uint64_t batch, int64_t line, std::string_view error, std::string_view event);
  // After the server answered: a drop by the outbox's or the dead-letter file's bound, not yet
  // reported, becomes a `host` event (`event_name`) in the outbox; then the count is cleared.
  Status ReportDrops();
  void Log(std::string_view level, std::string_view msg,
           const std::vector<std::pair<std::string, std::string>>& fields = {});

  AgentOptions options_;
  const Clock& clock_;
  std::ostream& log_;
  act::StopSignal stop_;
  Backoff backoff_;
  std::unique_ptr<ServerClient> server_;
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<DeadLetterFile> dead_letter_;
  std::vector<act::CollectorSettings> collectors_;
  std::map<std::string, absl::Duration> collector_last_run_;  // monotonic readings
  std::vector<uint64_t> seen_;  // sorted hashes of the previous cycle's lines
  ActStep act_step_;
  int lock_fd_ = -1;
  uint64_t probe_rounds_ = 0;  // advances the challenge tokens' seed
  std::vector<std::string> certbot_dirs_;  // certbot state directories found by the last discovery
  std::vector<std::string> acme_sh_dirs_;  // acme.sh home directories (.acme.sh) found by it
  std::map<std::string, std::vector<std::string>> certbot_names_;  // certbot lineage -> its names, by it
  bool refused_ = false;
};

// Reads DIR/probes.json as the agent keeps it: a regular file (not a symlink, O_NOFOLLOW) owned
// by this uid with no group or other write bit, at most 16 MiB. NotFound when missing; the
// content is parsed by api::ParseProbeTargetsJson (fuzz/fuzz_probe_targets.cc).
StatusOr<std::string> ReadProbeList(const std::string& path);

// FNV-1a 64 of a line: the key of the seen set (stable across builds and runs).
uint64_t LineHash(std::string_view line);

}  // namespace certcast::agent
