#include "act/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

#include "core/strings.h"
#include "core/utf8.h"

extern char** environ;

namespace certcast::act {
namespace {

// Closes a file descriptor on scope exit.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Close(); }
  void Close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// After the child exits, what is already in its pipes is read for this long, then reading stops.
constexpr auto kDrainAfterExit = std::chrono::milliseconds(200);
// How often the loop checks whether the child has exited.
constexpr auto kPollInterval = std::chrono::milliseconds(20);

Status MakePipe(Fd& read_end, Fd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return InternalError(StrCat("pipe: ", std::strerror(errno)));
  read_end.fd = fds[0];
  write_end.fd = fds[1];
  return OkStatus();
}

}  // namespace

std::string LastLine(std::string_view text, size_t max) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  const size_t newline = text.rfind('\n');
  std::string_view line = newline == std::string_view::npos ? text : text.substr(newline + 1);
  // Child output is any bytes (a localized client prints Latin-1): the line goes into events and
  // audit records, so it is made valid UTF-8 and cut on a character boundary.
  return ToValidUtf8(line, max, KeepEnd::kTail);
}

std::vector<std::string> ChildEnvironment(const std::map<std::string, std::string>& configured,
                                          const char* const* parent) {
  if (parent == nullptr) parent = environ;
  std::map<std::string, std::string> chosen;
  for (const char* const* entry = parent; *entry != nullptr; ++entry) {
    const std::string_view text = *entry;
    const size_t equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string_view name = text.substr(0, equals);
    const bool inherited =
        name.starts_with("LC_") ||
        std::find(std::begin(kInheritedVariables), std::end(kInheritedVariables), name) !=
            std::end(kInheritedVariables);
    if (inherited) chosen.emplace(name, text.substr(equals + 1));
  }
  for (const auto& [name, value] : configured) chosen[name] = value;
  std::vector<std::string> out;
  for (const auto& [name, value] : chosen) out.push_back(StrCat(name, "=", value));
  return out;
}

StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                   const ProcessOptions& options) {
  if (argv.empty()) return InvalidArgumentError("empty command");
  Fd in_read, in_write, out_read, out_write, err_read, err_write, inherited;
  RETURN_IF_ERROR(MakePipe(in_read, in_write));
  if (options.detached_output) {
    // The parent reads these files after the child exits; the child's copies are plain fds.
    out_write.fd = ::memfd_create("certcast-stdout", MFD_CLOEXEC);
    err_write.fd = ::memfd_create("certcast-stderr", MFD_CLOEXEC);
    if (out_write.fd < 0 || err_write.fd < 0) {
      return UnavailableError(StrCat("memfd_create: ", std::strerror(errno)));
    }
  } else {
    RETURN_IF_ERROR(MakePipe(out_read, out_write));
    RETURN_IF_ERROR(MakePipe(err_read, err_write));
  }
  if (options.inherited_fd >= 0) {
    // F_DUPFD (not F_DUPFD_CLOEXEC): the copy survives exec; it is closed here after the spawn.
    inherited.fd = ::fcntl(options.inherited_fd, F_DUPFD, 3);
    if (inherited.fd < 0) return UnavailableError(StrCat("fcntl F_DUPFD: ", std::strerror(errno)));
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_read.fd, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.fd, 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Own process group, so a timeout kills the client and everything it started (hooks, plugins).
  posix_spawnattr_setpgroup(&attributes, 0);
  short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  posix_spawnattr_setsigmask(&attributes, &empty);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, flags);

  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  std::vector<char*> environment;
  if (options.environment) {
    for (const std::string& entry : *options.environment) {
      environment.push_back(const_cast<char*>(entry.c_str()));
    }
    environment.push_back(nullptr);
  }
  const int spawned = posix_spawnp(&pid, args[0], &actions, &attributes, args.data(),
                                   options.environment ? environment.data() : environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0) {
    return NotFoundError(StrCat("cannot run ", argv[0], ": ", std::strerror(spawned)));
  }
  in_read.Close();
  inherited.Close();
  if (!options.detached_output) {
    out_write.Close();
    err_write.Close();
  }

  // Feed stdin (small: an alert body) and close it so the child sees EOF.
  size_t written = 0;
  ::fcntl(in_write.fd, F_SETFL, O_NONBLOCK);
  ProcessResult result;
  using SteadyClock = std::chrono::steady_clock;
  const auto deadline = start + std::chrono::microseconds(absl::ToInt64Microseconds(options.timeout));
  bool term_sent = false;
  int kills_sent = 0;
  SteadyClock::time_point kill_at;
  // Set when the child has exited: reading stops then, or at the end of the drain. What the
  // child started may hold its stdout/stderr open for ever (`sleep 20 &`, a daemon a reload
  // script starts): the child's exit is the end of the run, not the pipes' end.
  std::optional<SteadyClock::time_point> drain_until;
  int status = 0;
  bool exited = false;
  char buffer[8192];
  while (true) {
    if (!exited) {
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) {
        exited = true;
        drain_until = SteadyClock::now() + kDrainAfterExit;
        in_write.Close();
      } else if (r < 0 && errno != EINTR) {
        break;  // not our child any more (cannot happen unless SIGCHLD is ignored)
      }
    }
    std::vector<pollfd> fds;
    if (out_read.fd >= 0) fds.push_back({out_read.fd, POLLIN, 0});
    if (err_read.fd >= 0) fds.push_back({err_read.fd, POLLIN, 0});
    if (in_write.fd >= 0) {
      if (written >= options.stdin_text.size()) in_write.Close();
      else fds.push_back({in_write.fd, POLLOUT, 0});
    }
    const auto now = SteadyClock::now();
    if (exited && (fds.empty() || now >= *drain_until)) break;
    if (!exited && !term_sent && now >= deadline) {
      result.timed_out = true;
      ::kill(-pid, SIGTERM);  // the whole group: the client and what it started
      term_sent = true;
      kill_at = now + std::chrono::seconds(2);
    }
    if (!exited && term_sent && now >= kill_at) {
      // A child that outlives SIGKILL is stuck in the kernel (uninterruptible I/O): stop waiting
      // after a second try rather than block the caller for ever (it stays a zombie).
      if (kills_sent == 2) break;
      ::kill(-pid, SIGKILL);
      ++kills_sent;
      kill_at = now + std::chrono::seconds(2);
    }
    // Wake often enough to notice the child's exit (no pipe tells when it leaves them open).
    auto until = exited ? *drain_until : term_sent ? kill_at : deadline;
    until = std::min(until, now + kPollInterval);
    const int wait_ms = static_cast<int>(std::max<int64_t>(
        1, std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count()));
    if (fds.empty()) {
      ::usleep(static_cast<useconds_t>(wait_ms) * 1000);
      continue;
    }
    const int ready = ::poll(fds.data(), fds.size(), wait_ms);
    if (ready < 0 && errno != EINTR) break;
    for (const pollfd& p : fds) {
      if (!(p.revents & (POLLIN | POLLHUP | POLLERR | POLLOUT))) continue;
      if (p.fd == in_write.fd) {
        const ssize_t n = ::write(in_write.fd, options.stdin_text.data() + written,
                                  options.stdin_text.size() - written);
        if (n > 0) written += static_cast<size_t>(n);
        else if (n < 0 && errno != EAGAIN) in_write.Close();
        continue;
      }
      Fd& source = p.fd == out_read.fd ? out_read : err_read;
      std::string& sink = p.fd == out_read.fd ? result.stdout_text : result.stderr_text;
      const ssize_t n = ::read(source.fd, buffer, sizeof buffer);
      if (n <= 0) {
        if (n == 0 || errno != EINTR) source.Close();
        continue;
      }
      const size_t room = options.max_output_bytes > sink.size() ? options.max_output_bytes - sink.size() : 0;
      sink.append(buffer, std::min(room, static_cast<size_t>(n)));
    }
  }
  result.duration = absl::FromChrono(std::chrono::steady_clock::now() - start);
  if (options.detached_output) {
    for (auto [file, sink] : {std::pair{&out_write, &result.stdout_text},
                              std::pair{&err_write, &result.stderr_text}}) {
      const off_t size = ::lseek(file->fd, 0, SEEK_END);
      const off_t from = std::max<off_t>(0, size - static_cast<off_t>(options.max_output_bytes));
      sink->resize(static_cast<size_t>(std::max<off_t>(0, size - from)));
      const ssize_t n = ::pread(file->fd, sink->data(), sink->size(), from);
      sink->resize(static_cast<size_t>(std::max<ssize_t>(0, n)));
    }
  }
  if (exited) {
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace certcast::act
