// Handshake load generator for bench/tls_probe.sh: measures how many full TLS handshakes per second
// a server completes. Each thread runs an epoll loop over --concurrency connections; each connection
// connects, completes a fresh handshake (no session resumption: the client never offers a session)
// with SNI, sends close_notify and closes, then the slot starts over. The client checks no
// certificate (SSL_VERIFY_NONE), so it is the cheapest client that still does the whole protocol,
// including checking the server's CertificateVerify signature, which TLS requires.
//
// Why not `openssl s_time -new`: it runs one blocking connection at a time (a latency-bound
// client, not a load) and reports whole seconds, ~10 % error over 10 s.
//
// Usage: bench_tls_handshake_load --seconds S --threads T --concurrency C IP:PORT/SNI...
// Prints: "handshakes N seconds S per_second R failures F".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Target {
  sockaddr_in address{};
  std::string sni;
};

struct Slot {
  int fd = -1;
  SSL* ssl = nullptr;
  size_t target = 0;
  bool connecting = false;
};

std::atomic<bool> stop{false};

void Close(Slot& slot) {
  if (slot.ssl != nullptr) SSL_free(slot.ssl);
  if (slot.fd >= 0) close(slot.fd);
  slot.ssl = nullptr;
  slot.fd = -1;
}

// Starts a new connection in `slot`; false when the socket could not even be created.
bool Start(int epoll_fd, Slot& slot, size_t index, const std::vector<Target>& targets, size_t& next, SSL_CTX* ctx) {
  slot.target = next++ % targets.size();
  slot.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (slot.fd < 0) return false;
  const Target& target = targets[slot.target];
  if (connect(slot.fd, reinterpret_cast<const sockaddr*>(&target.address), sizeof target.address) != 0 &&
      errno != EINPROGRESS) {
    Close(slot);
    return false;
  }
  slot.connecting = true;
  slot.ssl = SSL_new(ctx);
  SSL_set_fd(slot.ssl, slot.fd);
  SSL_set_tlsext_host_name(slot.ssl, target.sni.c_str());
  epoll_event event{};
  event.events = EPOLLOUT | EPOLLIN;
  event.data.u64 = index;
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, slot.fd, &event);
  return true;
}

struct Counts {
  long handshakes = 0;
  long failures = 0;
};

void Worker(const std::vector<Target>& targets, int concurrency, size_t first_target, Counts& counts) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  std::vector<Slot> slots(static_cast<size_t>(concurrency));
  size_t next = first_target;
  for (size_t i = 0; i < slots.size(); ++i) {
    if (!Start(epoll_fd, slots[i], i, targets, next, ctx)) ++counts.failures;
  }
  std::vector<epoll_event> events(slots.size());
  while (!stop.load(std::memory_order_relaxed)) {
    const int n = epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), 100);
    for (int e = 0; e < n; ++e) {
      const size_t index = events[e].data.u64;
      Slot& slot = slots[index];
      if (slot.connecting) {
        int error = 0;
        socklen_t length = sizeof error;
        getsockopt(slot.fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0) {
          ++counts.failures;
          Close(slot);
          if (!Start(epoll_fd, slot, index, targets, next, ctx)) ++counts.failures;
          continue;
        }
        slot.connecting = false;
      }
      const int rc = SSL_connect(slot.ssl);
      if (rc != 1) {
        const int error = SSL_get_error(slot.ssl, rc);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
          epoll_event event{};
          event.events = error == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
          event.data.u64 = index;
          epoll_ctl(epoll_fd, EPOLL_CTL_MOD, slot.fd, &event);
          continue;
        }
        ERR_clear_error();
        ++counts.failures;
      } else {
        ++counts.handshakes;
        SSL_shutdown(slot.ssl);  // close_notify, as a prober sends
      }
      Close(slot);
      if (!Start(epoll_fd, slot, index, targets, next, ctx)) ++counts.failures;
    }
  }
  for (Slot& slot : slots) Close(slot);
  close(epoll_fd);
  SSL_CTX_free(ctx);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 10;
  int threads = 2, concurrency = 16;
  std::vector<Target> targets;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (arg == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (arg == "--concurrency" && i + 1 < argc) {
      concurrency = std::atoi(argv[++i]);
    } else {
      // IP:PORT/SNI
      const size_t colon = arg.find(':'), slash = arg.find('/');
      Target target;
      target.address.sin_family = AF_INET;
      if (colon == std::string::npos || slash == std::string::npos || slash < colon ||
          inet_pton(AF_INET, arg.substr(0, colon).c_str(), &target.address.sin_addr) != 1) {
        std::fprintf(stderr, "bad target %s (want IP:PORT/SNI)\n", arg.c_str());
        return 2;
      }
      target.address.sin_port = htons(static_cast<uint16_t>(std::atoi(arg.substr(colon + 1, slash - colon - 1).c_str())));
      target.sni = arg.substr(slash + 1);
      targets.push_back(target);
    }
  }
  if (targets.empty() || threads < 1 || concurrency < 1 || seconds <= 0) {
    std::fprintf(stderr, "usage: %s --seconds S --threads T --concurrency C IP:PORT/SNI...\n", argv[0]);
    return 2;
  }
  std::vector<Counts> counts(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back(Worker, std::cref(targets), concurrency, static_cast<size_t>(t) * 7919, std::ref(counts[t]));
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  // The window ends when the threads are told to stop; what they finish while noticing is one
  // epoll batch at most.
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (std::thread& t : pool) t.join();
  Counts total;
  for (const Counts& c : counts) {
    total.handshakes += c.handshakes;
    total.failures += c.failures;
  }
  std::printf("handshakes %ld seconds %.3f per_second %.0f failures %ld\n", total.handshakes, elapsed,
              static_cast<double>(total.handshakes) / elapsed, total.failures);
  return 0;
}
