// certcast run: the daemon (collect, ingest, score, plan, act) until SIGTERM.
#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <thread>

#include "act/config.h"
#include "act/daemon.h"
#include "cli/command.h"
#include "core/clock.h"
#include "core/strings.h"
#include "model/forecaster.h"
#include "store/store.h"

namespace certcast::cli {
namespace {

struct RunFlags {
  std::string config;
  bool once = false;
  bool dry_run = false;
};

int RunDaemon(const RunFlags& flags) {
  auto config = act::LoadDaemonConfig(flags.config);
  if (!config.ok()) return Fail(config.status());
  if (flags.dry_run) config->dry_run = true;

  // Signals go to one thread that asks the daemon to stop; blocked everywhere else (including
  // threads started later and the children, which get default dispositions back in RunProcess).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto store = Store::Open(config->db);
  if (!store.ok()) return Fail(store.status());
  const Forecaster* forecaster = nullptr;
  std::optional<Forecaster> loaded;
  if (!config->model.empty()) {
    auto model = Forecaster::Load(config->model);
    if (!model.ok()) {
      std::cerr << "certcast: warning: model not used (" << model.status().message()
                << "); deciding on facts alone\n";
    } else {
      loaded.emplace(std::move(*model));
      forecaster = &*loaded;
    }
  }
  act::Daemon daemon(*config, **store, forecaster, SystemClock::Get(), std::cerr);
  if (flags.once) {
    auto cycle = daemon.RunCycle();
    return cycle.ok() ? kExitOk : Fail(cycle.status());
  }
  std::thread signal_thread([&] {
    int received = 0;
    sigwait(&signals, &received);
    // Ends the wait between cycles and any retry wait at once (StopSignal).
    daemon.Stop();
  });
  Status s = daemon.Run();
  if (!daemon.stopping()) {
    daemon.Stop();
    pthread_kill(signal_thread.native_handle(), SIGTERM);
  }
  signal_thread.join();
  return s.ok() ? kExitOk : Fail(s);
}

const bool registered = RegisterCommand({
    .name = "run",
    .summary = "The daemon: collect, ingest, score, plan and act on a schedule until SIGTERM",
    .order = 80,
    .setup =
        [](CLI::App& sub) {
          auto flags = std::make_shared<RunFlags>();
          sub.description(
              "Every `interval` (config file): runs the collectors that are due and stores their "
              "events, plans (docs/policy.md) and carries the actions out: the ACME client for "
              "renewals and staging dry runs (lock per lineage, timeout, retry table), the "
              "host's reload command, alerts by webhook and command. Results come back as "
              "events; every decision and action is in the audit log. A failing collector or "
              "executor is logged and the loop goes on. SIGTERM or SIGINT lets the action in "
              "progress finish, then exits 0. Logs are JSON lines on stderr.");
          sub.add_option("--config", flags->config, "TOML configuration (docs/policy.md)")->required();
          sub.add_flag("--once", flags->once, "Run one cycle and exit");
          sub.add_flag("--dry-run", flags->dry_run,
                       "Plan and show what would run (argv in the log and audit); run nothing");
          sub.footer(
              "Exit: 0 stopped by a signal (or --once done); 2 bad flags or config; 3 the store "
              "failed at start.\n\nExample:\n  certcast run --config /etc/certcast/certcast.toml\n"
              "  certcast run --config certcast.toml --once --dry-run");
          return [flags] { return RunDaemon(*flags); };
        },
});

}  // namespace
}  // namespace certcast::cli
