// Running external programs safely: argv only (posix_spawnp, no shell, so a lineage or host name
// can never be interpreted as shell syntax), a timeout that kills the whole process group, bounded
// capture of stdout/stderr, optional stdin.
#pragma once

#include <string>
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
};

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
// otherwise the result, whatever the exit code. On timeout the process group gets SIGTERM, then
// SIGKILL two seconds later.
StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                   const ProcessOptions& options);

// The last non-empty line of `text`, at most `max` bytes: the part of a log that names the error.
std::string LastLine(std::string_view text, size_t max = 300);

}  // namespace certcast::act
