// Running external programs safely: argv only (posix_spawnp, no shell, so a lineage or host name
// can never be interpreted as shell syntax), a timeout that kills the whole process group, bounded
// capture of stdout/stderr, optional stdin.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "core/status.h"

namespace certcast::act {

struct ProcessOptions {
  absl::Duration timeout = absl::Minutes(1);
  std::string stdin_text;  // written to the child's stdin, then closed
  // Output beyond this is dropped (the tail of a client log is what explains a failure; a
  // runaway child must not exhaust memory). Per stream.
  size_t max_output_bytes = 256 << 10;
  // Capture output in unlinked in-memory files instead of pipes, so the child can finish if this
  // process dies: writing to a pipe nobody reads kills it (certbot dies of BrokenPipeError half
  // way through a renewal, which may waste an issuance). The tail of each stream is kept.
  bool detached_output = false;
  // A descriptor the child keeps open (a lock on the lineage: held while the client runs, even
  // when the process that started it is gone). -1 = none.
  int inherited_fd = -1;
  // The child's whole environment, "NAME=value" each. nullopt: this process's environment (for
  // commands the user runs through certcast, such as `certcast hook`'s reload command, which
  // needs the client's variables). The daemon's children get ChildEnvironment(...) instead.
  std::optional<std::vector<std::string>> environment;
};

// What a child of the daemon inherits from the daemon's environment, and why. Nothing else
// passes: the daemon often runs as root with credentials in its environment (DNS API tokens,
// cloud keys) that one client, reload or alert command must not see just because another needs
// them. What a command needs beyond this is configured per command (`env` in certcast.toml).
//   PATH                      finding programs (the clients, nginx, systemctl)
//   HOME                      acme.sh's state (~/.acme.sh), certbot/Python and lego per-user files
//   LANG, LC_*, TZ            the language and time zone clients print in (their output is parsed)
//   TMPDIR                    where clients write temporary files
//   SSL_CERT_FILE, SSL_CERT_DIR  the trust store of OpenSSL and Go (lego), when not the system's
//   REQUESTS_CA_BUNDLE        certbot's trust store (Python requests) for a private ACME CA
//   LEGO_CA_CERTIFICATES, LEGO_PATH  lego's trust store for its CA and its state directory
//   LE_WORKING_DIR, LE_CONFIG_HOME   acme.sh's home and config directory when not ~/.acme.sh
//   http_proxy, https_proxy, no_proxy (and upper case)  reaching the CA through the host's proxy
inline constexpr std::string_view kInheritedVariables[] = {
    "PATH", "HOME", "LANG", "TZ", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE", "LEGO_CA_CERTIFICATES", "LEGO_PATH", "LE_WORKING_DIR",
    "LE_CONFIG_HOME", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
    "NO_PROXY"};

// The environment for a daemon child: the variables of `parent` ("NAME=value" entries, this
// process's `environ` when null) named in kInheritedVariables or starting with "LC_", then
// `configured` (which wins over an inherited value of the same name). Sorted by name.
std::vector<std::string> ChildEnvironment(const std::map<std::string, std::string>& configured,
                                          const char* const* parent = nullptr);

struct ProcessResult {
  int exit_code = -1;       // -1 when killed by a signal
  int signal = 0;           // the signal that ended it, 0 if it exited
  bool timed_out = false;   // killed because of the timeout
  std::string stdout_text;
  std::string stderr_text;
  absl::Duration duration;
  bool ok() const { return exit_code == 0 && !timed_out; }
};

// Runs argv[0] (looked up in PATH) with argv. NotFound when the program cannot be started;
// otherwise the result, whatever the exit code. The run ends when the child exits: its output is
// read until then plus a short drain (200 ms), not until its pipes close, so a background
// process it leaves behind (a daemon a reload starts) may keep them open and lives on. On
// timeout the child's process group gets SIGTERM, then SIGKILL two seconds later.
StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                   const ProcessOptions& options);

// The last non-empty line of `text`, at most `max` bytes: the part of a log that names the error.
// Valid UTF-8 whatever the bytes (invalid ones become U+FFFD), cut on a character boundary.
std::string LastLine(std::string_view text, size_t max = 300);

}  // namespace certcast::act
