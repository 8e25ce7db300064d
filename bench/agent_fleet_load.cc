// One process playing N agents against one `certcast serve` (bench/agent_bench.sh): each agent is
// a real agent::Agent with its own token file, spool and state directory (outbox). Per round,
// every agent's hook leaves EVENTS events in its spool (collect/host/spool.h, as `certcast hook`
// writes them) and the agent runs one cycle (collect, outbox append with fsync, gzip POST, ack).
// THREADS threads share the agents. Prints one line of JSON: rounds, agents, events, wall
// seconds, events/s accepted, and the per-round wall seconds. Every event posted is also written
// to --events-out, for the local `certcast ingest` the script compares with.
//
// Usage: bench_agent_fleet_load --setup DB --root DIR --agents N   (before the server starts)
//        bench_agent_fleet_load --server URL --root DIR --agents N --rounds R --events E
//        --threads T --events-out FILE
// --setup makes N `agent` tokens in DB (host-I, with api::CreateToken as `certcast token create`
// does, in one process instead of N) and writes each secret to DIR/token-I (0600), with a spool
// DIR/spool-I (0700).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include "CLI/CLI.hpp"
#include "agent/agent.h"
#include "api/token.h"
#include "store/store.h"
#include "collect/host/spool.h"
#include "core/event_json.h"

using namespace certcast;

int main(int argc, char** argv) {
  CLI::App app("agent fleet load");
  std::string server, root, events_out;
  int agents = 1000, rounds = 3, events = 20, threads = 8;
  std::string setup_db;
  app.add_option("--setup", setup_db);
  app.add_option("--server", server);
  app.add_option("--root", root)->required();
  app.add_option("--agents", agents);
  app.add_option("--rounds", rounds);
  app.add_option("--events", events);
  app.add_option("--threads", threads);
  app.add_option("--events-out", events_out);
  CLI11_PARSE(app, argc, argv);
  if (!setup_db.empty()) {
    auto store = Store::Open(setup_db);
    auto key = api::TokenKey::Load(api::DefaultTokenKeyPath(setup_db), /*create=*/true);
    if (!store.ok() || !key.ok()) {
      std::cerr << "setup: " << (store.ok() ? key.status() : store.status()) << "\n";
      return 1;
    }
    for (int i = 0; i < agents; ++i) {
      const std::string host = "host-" + std::to_string(i);
      auto secret = api::CreateToken(**store, *key, {.name = host, .scopes = api::Bit(api::Scope::kAgent), .host = host},
                                     absl::Now());
      if (!secret.ok()) {
        std::cerr << "setup: " << secret.status() << "\n";
        return 1;
      }
      const std::string path = root + "/token-" + std::to_string(i);
      std::ofstream(path) << *secret << "\n";
      std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
      std::filesystem::create_directory(root + "/spool-" + std::to_string(i));
      std::filesystem::permissions(root + "/spool-" + std::to_string(i), std::filesystem::perms::owner_all);
    }
    return 0;
  }
  if (server.empty() || events_out.empty()) {
    std::cerr << "--server and --events-out are required without --setup\n";
    return 2;
  }

  std::vector<std::unique_ptr<agent::Agent>> fleet(agents);
  std::vector<std::ostringstream> logs(agents);  // the agents' logs, kept apart per agent
  for (int i = 0; i < agents; ++i) {
    agent::AgentOptions options;
    options.server = server;
    options.token_file = root + "/token-" + std::to_string(i);
    options.state_dir = root + "/state-" + std::to_string(i);
    options.spool_dir = root + "/spool-" + std::to_string(i);
    options.host = "host-" + std::to_string(i);
    options.discover_root = "";
    options.seed = static_cast<uint64_t>(i) + 1;
    auto created = agent::Agent::Create(options, SystemClock::Get(), logs[i]);
    if (!created.ok()) {
      std::cerr << "agent " << i << ": " << created.status() << "\n";
      return 1;
    }
    fleet[i] = std::move(*created);
  }
  std::ofstream all(events_out);
  const absl::Time base = absl::FromUnixSeconds(1796000000);
  std::vector<double> round_seconds;
  std::atomic<int64_t> stored{0}, failed{0};
  for (int r = 0; r < rounds; ++r) {
    // The hooks' part: a spool file per host (not timed).
    for (int i = 0; i < agents; ++i) {
      std::vector<Event> batch;
      for (int k = 0; k < events; ++k) {
        Event e;
        e.ts = base + absl::Seconds(static_cast<int64_t>(r) * events + k) + absl::Microseconds(i);
        e.body = DeployEvent{.cert = "site-" + std::to_string(i) + "-" + std::to_string(k % 4),
                             .host = "host-" + std::to_string(i), .outcome = Outcome::kSuccess,
                             .detail = "round " + std::to_string(r)};
        all << EventToJson(e) << "\n";
        batch.push_back(std::move(e));
      }
      const std::string dir = root + "/spool-" + std::to_string(i);
      auto written = host::WriteSpoolFile(dir, host::SpoolFileName(absl::Now(), r), batch);
      if (!written.ok()) {
        std::cerr << written.status() << "\n";
        return 1;
      }
      std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
    }
    const auto round_start = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    std::atomic<int> next{0};
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        for (int i = next++; i < agents; i = next++) {
          auto report = fleet[i]->RunCycle();
          if (!report.ok() || report->pending_bytes > 0) {
            ++failed;
            continue;
          }
          stored += report->stored;
        }
      });
    }
    for (auto& w : workers) w.join();
    round_seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - round_start).count());
    // The spool's retention, fast-forwarded: this round's files are collected; drop them.
    for (int i = 0; i < agents; ++i) {
      for (const auto& f : std::filesystem::directory_iterator(root + "/spool-" + std::to_string(i))) {
        std::filesystem::remove(f.path());
      }
    }
  }
  double cycle_seconds = 0;
  for (double s : round_seconds) cycle_seconds += s;
  const int64_t total = static_cast<int64_t>(agents) * rounds * events;
  std::printf("{\"agents\": %d, \"rounds\": %d, \"events_per_cycle\": %d, \"events\": %lld, \"stored\": %lld, "
              "\"failed_cycles\": %lld, \"cycle_seconds\": %.3f, \"events_per_second\": %.0f, \"round_seconds\": [",
              agents, rounds, events, static_cast<long long>(total), static_cast<long long>(stored.load()),
              static_cast<long long>(failed.load()), cycle_seconds, total / cycle_seconds);
  for (size_t r = 0; r < round_seconds.size(); ++r) std::printf("%s%.3f", r ? ", " : "", round_seconds[r]);
  std::printf("]}\n");
  return failed.load() == 0 && stored.load() == total ? 0 : 1;
}
