// Bounds what one slow or greedy client can hold of `certcast serve`'s workers.
//
// cpp-httplib (Debian's 0.11) bounds each read from a client (read_timeout) but not the time a
// client takes to send its request line and headers: a client that sends one header byte every few
// seconds holds a worker for as long as it likes, and a few hundred such connections (the
// "slowloris" attack: measured on 2026-12-05, 267 connections held a 4-worker server, /healthz
// unanswered until they stopped) stop the fleet's agents from delivering. The library offers no
// hook with the connection's socket, so the guard watches from outside: every scan_interval it
// lists the process's TCP connections on the listening port (/proc/self/fd), learns from the
// server's hooks which of them are inside a request, and shuts down (shutdown(2), so the worker's
// read returns and the library closes the socket as usual) each one that
//   - has waited header_timeout for a complete request line and headers (since it was first seen,
//     or since its last response on a kept-alive connection), or
//   - is beyond max_connections_per_client of its client address (the newest of that address
//     that is not inside a request go first),
// so one address cannot fill the worker pool and the queue behind it. A client inside a request
// (its headers arrived; its body is bounded by request_timeout) is never cut for time.
//
// The decision is a pure function (ConnectionsToCut) of what the scan saw; ConnectionGuard is the
// thread, the scan and the hooks around it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/clock.h"

namespace certcast::api {

struct ConnectionGuardOptions {
  absl::Duration header_timeout = absl::Seconds(20);  // request line + headers; 0: no bound
  int max_connections_per_client = 16;                 // per client address; 0: no bound
  absl::Duration scan_interval = absl::Seconds(1);
};

// One accepted connection as a scan sees it.
struct GuardedConnection {
  uint64_t id = 0;     // the socket's inode: unique while the socket exists
  std::string client;  // the peer's address, numeric
  int port = 0;        // the peer's port
  absl::Duration waiting_since;  // monotonic: first seen, or its last response
  bool in_request = false;       // its headers arrived and the answer is not written yet
};

enum class CutReason { kHeaderTimeout, kTooManyFromClient };
struct ConnectionCut {
  uint64_t id = 0;
  CutReason reason = CutReason::kHeaderTimeout;
};
std::string_view ToString(CutReason reason);

// Which connections to shut down at monotonic time `now`.
std::vector<ConnectionCut> ConnectionsToCut(std::span<const GuardedConnection> connections,
                                            absl::Duration now, const ConnectionGuardOptions& options);

class ConnectionGuard {
 public:
  // `on_cut` is called (from the guard's thread) for each connection shut down, to log it.
  ConnectionGuard(ConnectionGuardOptions options, const Clock& clock,
                  std::function<void(const GuardedConnection&, CutReason)> on_cut);
  ~ConnectionGuard();
  // Watches the connections accepted on local TCP port `port` until Stop().
  void Start(int port);
  void Stop();
  // The server's hooks: a request's headers arrived; its answer was written.
  void RequestStarted(const std::string& client, int port);
  void RequestDone(const std::string& client, int port);
  int64_t cuts() const;

 private:
  struct PeerState {
    bool in_request = false;
    absl::Duration since;
  };
  void Scan();

  const ConnectionGuardOptions options_;
  const Clock& clock_;
  const std::function<void(const GuardedConnection&, CutReason)> on_cut_;
  int port_ = 0;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Keyed by "client|port": what the hooks said about each peer's current request.
  absl::flat_hash_map<std::string, PeerState> peers_ ABSL_GUARDED_BY(mu_);
  // When each socket (by inode) was first seen; only the scan thread touches it.
  absl::flat_hash_map<uint64_t, absl::Duration> first_seen_;
  absl::flat_hash_set<uint64_t> already_cut_;  // shut down, not yet closed by their worker
  int64_t cuts_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace certcast::api
