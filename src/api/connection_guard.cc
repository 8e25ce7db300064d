#include "api/connection_guard.h"

#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace certcast::api {

std::string_view ToString(CutReason reason) {
  switch (reason) {
    case CutReason::kHeaderTimeout: return "header_timeout";
    case CutReason::kTooManyFromClient: return "too_many_from_client";
  }
  return "unknown";
}

std::vector<ConnectionCut> ConnectionsToCut(std::span<const GuardedConnection> connections,
                                            absl::Duration now,
                                            const ConnectionGuardOptions& options) {
  std::vector<ConnectionCut> cuts;
  absl::flat_hash_set<uint64_t> cut;
  if (options.header_timeout > absl::ZeroDuration()) {
    for (const GuardedConnection& c : connections) {
      if (!c.in_request && now - c.waiting_since >= options.header_timeout) {
        cuts.push_back({c.id, CutReason::kHeaderTimeout});
        cut.insert(c.id);
      }
    }
  }
  if (options.max_connections_per_client > 0) {
    const auto max = static_cast<size_t>(options.max_connections_per_client);
    std::map<std::string_view, std::vector<const GuardedConnection*>> by_client;
    for (const GuardedConnection& c : connections) {
      if (!cut.contains(c.id)) by_client[c.client].push_back(&c);
    }
    for (auto& [client, list] : by_client) {
      if (list.size() <= max) continue;
      // Keep what is inside a request (cutting it loses work), then the longest waiting; the
      // newest idle ones go.
      std::sort(list.begin(), list.end(), [](const GuardedConnection* a, const GuardedConnection* b) {
        if (a->in_request != b->in_request) return a->in_request;
        if (a->waiting_since != b->waiting_since) return a->waiting_since < b->waiting_since;
        return a->id < b->id;
      });
      for (size_t i = max; i < list.size(); ++i) {
        cuts.push_back({list[i]->id, CutReason::kTooManyFromClient});
      }
    }
  }
  return cuts;
}

namespace {

std::string PeerKey(const std::string& client, int port) { return absl::StrCat(client, "|", port); }

int PortOf(const sockaddr_storage& a) {
  if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
  return -1;
}

}  // namespace

ConnectionGuard::ConnectionGuard(ConnectionGuardOptions options, const Clock& clock,
                                 std::function<void(const GuardedConnection&, CutReason)> on_cut)
    : options_(options), clock_(clock), on_cut_(std::move(on_cut)) {}

ConnectionGuard::~ConnectionGuard() { Stop(); }

void ConnectionGuard::Start(int port) {
  if (thread_.joinable()) return;
  if (options_.header_timeout <= absl::ZeroDuration() && options_.max_connections_per_client <= 0) {
    return;  // nothing to bound
  }
  port_ = port;
  thread_ = std::thread([this] {
    absl::MutexLock lock(&mu_);
    while (!mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.scan_interval)) {
      mu_.Unlock();
      Scan();
      mu_.Lock();
    }
  });
}

void ConnectionGuard::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void ConnectionGuard::RequestStarted(const std::string& client, int port) {
  absl::MutexLock lock(&mu_);
  peers_[PeerKey(client, port)] = {.in_request = true, .since = clock_.Monotonic()};
}

void ConnectionGuard::RequestDone(const std::string& client, int port) {
  absl::MutexLock lock(&mu_);
  peers_[PeerKey(client, port)] = {.in_request = false, .since = clock_.Monotonic()};
}

int64_t ConnectionGuard::cuts() const {
  absl::MutexLock lock(&mu_);
  return cuts_;
}

void ConnectionGuard::Scan() {
  const absl::Duration started = clock_.Monotonic();
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return;  // no /proc: nothing is bounded (docs/api.md says so)
  struct Seen {
    int fd;
    GuardedConnection c;
  };
  std::vector<Seen> seen;
  while (const dirent* entry = ::readdir(dir)) {
    int fd = -1;
    if (!absl::SimpleAtoi(entry->d_name, &fd) || fd == ::dirfd(dir)) continue;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    int type = 0;
    socklen_t type_len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) != 0 || type != SOCK_STREAM) continue;
    sockaddr_storage local{}, peer{};
    socklen_t local_len = sizeof local, peer_len = sizeof peer;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
        PortOf(local) != port_) {
      continue;
    }
    // The listening socket has no peer; an accepted connection does.
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) continue;
    char host[NI_MAXHOST];
    if (::getnameinfo(reinterpret_cast<sockaddr*>(&peer), peer_len, host, sizeof host, nullptr, 0,
                      NI_NUMERICHOST) != 0) {
      continue;
    }
    seen.push_back({fd, {.id = static_cast<uint64_t>(st.st_ino), .client = host, .port = PortOf(peer),
                                 .waiting_since = absl::ZeroDuration(), .in_request = false}});
  }
  ::closedir(dir);

  absl::flat_hash_map<uint64_t, absl::Duration> first_seen;
  {
    absl::MutexLock lock(&mu_);
    absl::flat_hash_set<std::string> live;
    for (Seen& s : seen) {
      auto it = first_seen_.find(s.c.id);
      const absl::Duration first = it == first_seen_.end() ? started : it->second;
      first_seen.emplace(s.c.id, first);
      s.c.waiting_since = first;
      std::string key = PeerKey(s.c.client, s.c.port);
      if (auto p = peers_.find(key); p != peers_.end()) {
        s.c.in_request = p->second.in_request;
        if (!p->second.in_request) s.c.waiting_since = std::max(first, p->second.since);
      }
      live.insert(std::move(key));
    }
    // Forget peers whose connection is gone; a hook that ran after this scan listed the sockets
    // belongs to a connection the next scan will see.
    absl::erase_if(peers_, [&](const auto& p) {
      return !live.contains(p.first) && p.second.since < started;
    });
  }
  first_seen_ = std::move(first_seen);

  // A socket already shut down lingers until its worker (or a queued job) closes it: neither cut
  // it twice nor count it against its client.
  absl::flat_hash_set<uint64_t> still_cut;
  std::vector<GuardedConnection> connections;
  connections.reserve(seen.size());
  for (const Seen& s : seen) {
    if (already_cut_.contains(s.c.id)) {
      still_cut.insert(s.c.id);
    } else {
      connections.push_back(s.c);
    }
  }
  already_cut_ = std::move(still_cut);
  for (const ConnectionCut& cut : ConnectionsToCut(connections, clock_.Monotonic(), options_)) {
    for (const Seen& s : seen) {
      if (s.c.id != cut.id) continue;
      // The descriptor may have been closed and reused since the listing: act only on the same
      // socket. shutdown(2), not close: the worker that owns the descriptor closes it.
      struct stat st {};
      if (::fstat(s.fd, &st) != 0 || static_cast<uint64_t>(st.st_ino) != cut.id) break;
      if (::shutdown(s.fd, SHUT_RDWR) != 0) break;
      already_cut_.insert(cut.id);
      {
        absl::MutexLock lock(&mu_);
        ++cuts_;
      }
      if (on_cut_) on_cut_(s.c, cut.reason);
      break;
    }
  }
}

}  // namespace certcast::api
