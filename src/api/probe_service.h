// The server's own probes (`probe = true` in `certcast serve --config`, docs/api.md "Probes
// without a hand-written list"): every `interval`, the targets ServerProbeTargets derives from the
// latest fleet view are probed from where the server stands (probe::RunScan, the `scan` command's
// worker pool) and their events stored like any ingest, audited as kind "ingest" with the token
// name "server-probe". The first round runs at Start().
//
// Thread safety: Start() and Stop() from one thread; the rounds run on the service's own thread
// with its own store connection.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <ostream>
#include <thread>

#include "api/fleet_snapshot.h"
#include "api/probe_targets.h"
#include "core/clock.h"
#include "core/status.h"

namespace certcast {
class Store;
}

namespace certcast::api {

struct ProbeServiceOptions {
  std::string db;
  absl::Duration interval = absl::Hours(1);
  ProbeTargetOptions targets;
  ProbeRunOptions run;
};

struct ProbeRound {
  size_t targets = 0, truncated = 0, errors = 0;
  int64_t stored = 0;
};

class ProbeService {
 public:
  // `snapshot` returns the latest fleet view (null before the first plan: the round is skipped).
  // `on_stored` is called after a round stored events (the server refreshes its view then).
  static StatusOr<std::unique_ptr<ProbeService>> Create(
      ProbeServiceOptions options, const Clock& clock,
      std::function<std::shared_ptr<const FleetSnapshot>()> snapshot, std::function<void()> on_stored,
      std::ostream& log);
  ~ProbeService();

  void Start();
  void Stop();
  // One round now, on the caller's thread (Start's thread calls it every interval).
  StatusOr<ProbeRound> RunRound();

 private:
  ProbeService(ProbeServiceOptions options, const Clock& clock, std::ostream& log)
      : options_(std::move(options)), clock_(clock), log_(log) {}
  void Loop();
  uint64_t rounds_ = 0;

  ProbeServiceOptions options_;
  const Clock& clock_;
  std::ostream& log_;
  std::function<std::shared_ptr<const FleetSnapshot>()> snapshot_;
  std::function<void()> on_stored_;
  std::unique_ptr<Store> store_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace certcast::api
