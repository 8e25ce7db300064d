// HTTP load generator for bench/tls_probe.sh: drives blackbox_exporter's /probe the way Prometheus
// does (HTTP/1.1 keep-alive GETs), --connections at once, each path of PATH_FILE once, and counts
// the answers that say `probe_success 1`. One thread per connection doing blocking I/O: a request
// costs the generator two system calls, so blackbox_exporter, not its client, sets the rate.
//
// Why not `curl --parallel`: it spent ~650 us of system CPU per request here (measured against
// blackbox_exporter's /-/healthy), as much as a TLS probe, taking cores from the prober it drives.
//
// Usage: bench_http_probe_load --port P --connections C PATH_FILE
// Prints: "requests N succeeded S failed F seconds T".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

// A keep-alive connection with a read buffer; every method returns false when the exchange failed
// (the caller reconnects).
class Connection {
 public:
  explicit Connection(int port) : port_(port) {}
  ~Connection() { Close(); }

  // One GET; `body` gets the decoded body (Content-Length or chunked), `status` the HTTP status.
  bool Get(const std::string& path, int& status, std::string& body) {
    if (fd_ < 0 && !Open()) return false;
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: certcast-bench\r\n\r\n";
    if (send(fd_, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return Fail();
    std::string line;
    if (!ReadLine(line) || line.compare(0, 9, "HTTP/1.1 ") != 0) return Fail();
    status = std::atoi(line.c_str() + 9);
    long length = -1;
    bool chunked = false, close_after = false;
    while (true) {
      if (!ReadLine(line)) return Fail();
      if (line.empty()) break;
      for (char& c : line) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (line.rfind("content-length:", 0) == 0) length = std::atol(line.c_str() + 15);
      if (line.rfind("transfer-encoding:", 0) == 0 && line.find("chunked") != std::string::npos) chunked = true;
      if (line.rfind("connection:", 0) == 0 && line.find("close") != std::string::npos) close_after = true;
    }
    body.clear();
    if (chunked) {
      while (true) {
        if (!ReadLine(line)) return Fail();
        const long size = std::strtol(line.c_str(), nullptr, 16);
        if (size < 0) return Fail();
        if (size == 0) {
          while (ReadLine(line) && !line.empty()) {}  // trailers
          break;
        }
        if (!ReadBytes(static_cast<size_t>(size), body) || !ReadLine(line)) return Fail();
      }
    } else if (length >= 0) {
      if (!ReadBytes(static_cast<size_t>(length), body)) return Fail();
    } else {
      return Fail();  // HTTP/1.1 without either: not what blackbox_exporter sends
    }
    if (close_after) Close();
    return true;
  }

 private:
  bool Open() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port_));
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return Fail();
    buffer_.clear();
    start_ = 0;
    return true;
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  bool Fail() {
    Close();
    return false;
  }
  bool Fill() {
    if (start_ > 0) {
      buffer_.erase(0, start_);
      start_ = 0;
    }
    char chunk[16384];
    const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  bool ReadLine(std::string& line) {
    size_t end;
    while ((end = buffer_.find("\r\n", start_)) == std::string::npos) {
      if (!Fill()) return false;
    }
    line.assign(buffer_, start_, end - start_);
    start_ = end + 2;
    return true;
  }
  bool ReadBytes(size_t n, std::string& out) {
    while (buffer_.size() - start_ < n) {
      if (!Fill()) return false;
    }
    out.append(buffer_, start_, n);
    start_ += n;
    return true;
  }

  int port_;
  int fd_ = -1;
  std::string buffer_;
  size_t start_ = 0;
};

bool SaysSuccess(std::string_view body) {
  return body.rfind("probe_success 1\n", 0) == 0 || body.find("\nprobe_success 1\n") != std::string_view::npos;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0, connections = 64;
  const char* path_file = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--port" && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else if (arg == "--connections" && i + 1 < argc) {
      connections = std::atoi(argv[++i]);
    } else {
      path_file = argv[i];
    }
  }
  std::vector<std::string> paths;
  if (path_file != nullptr) {
    std::ifstream in(path_file);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) paths.push_back(line);
    }
  }
  if (port < 1 || port > 65535 || connections < 1 || paths.empty()) {
    std::fprintf(stderr, "usage: %s --port P --connections C PATH_FILE (one /probe?... path a line)\n", argv[0]);
    return 2;
  }
  std::atomic<size_t> next{0};
  std::atomic<long> succeeded{0}, failed{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int c = 0; c < connections; ++c) {
    pool.emplace_back([&] {
      Connection connection(port);
      int status = 0;
      std::string body;
      for (size_t i = next++; i < paths.size(); i = next++) {
        if (connection.Get(paths[i], status, body) && status == 200 && SaysSuccess(body)) {
          ++succeeded;
        } else {
          ++failed;
        }
      }
    });
  }
  for (std::thread& t : pool) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("requests %zu succeeded %ld failed %ld seconds %.3f\n", paths.size(), succeeded.load(), failed.load(),
              seconds);
  return 0;
}
