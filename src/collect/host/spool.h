// The spool: a directory where short-lived collectors (the ACME clients' hooks) leave events for
// the daemon, which may be down or busy when they run. One file per invocation, named
// `<UTC time>-<pid>.jsonl`, holding events-v1 lines.
//
// Writers never leave half a file: a file is written under a hidden temporary name (".NAME.tmp"
// in the same directory), fsynced, renamed into place and the directory fsynced, so a reader
// sees either nothing or the whole file, also after a crash or power loss.
//
// Readers (`certcast spool`) print every spooled event and delete files older than a retention
// span. Printing a file on several cycles is harmless (the store drops exact duplicates), and
// keeping files for the span means a daemon that was down for less than it loses nothing.
//
// Thread safety: functions are independent; several processes may write and read one spool.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/event.h"
#include "core/status.h"

namespace certcast::host {

// Where hooks write and `certcast spool` reads unless told otherwise.
inline constexpr std::string_view kDefaultSpoolDir = "/var/lib/certcast/spool";

// A spool file larger than this is reported and skipped. A hook writes three events (< 2 KiB);
// 16 MiB leaves room for any hand-made batch and bounds memory.
inline constexpr size_t kMaxSpoolFileBytes = 16u << 20;

// "20261128T101502.123456Z-4242.jsonl": sorts by time; the pid keeps two hooks of one
// microsecond apart.
std::string SpoolFileName(absl::Time now, int pid);

// Writes `events` as one spool file `name` in `dir` (created, with parents, when missing),
// atomically as described above. Returns the final path. Errors name the path and the call that
// failed.
StatusOr<std::filesystem::path> WriteSpoolFile(const std::filesystem::path& dir,
                                               const std::string& name,
                                               std::span<const Event> events);

struct SpoolProblem {
  std::string file;  // path
  size_t line = 0;   // 1-based; 0 = the whole file
  std::string reason;
};

struct SpoolContents {
  std::vector<Event> events;  // in file name order, then line order
  std::vector<SpoolProblem> problems;
  int files = 0;    // spool files read
  int deleted = 0;  // files deleted as older than the retention span
};

// Reads every `*.jsonl` file of `dir` (hidden temporaries are not read) and returns their valid
// events and a problem per bad line or unreadable file. Deletes each spool file whose
// modification time is before `now - keep` after reading it (so its events are returned one last
// time), and temporaries more than an hour old (left by a writer that died before its rename).
// A missing `dir` is NotFound. `dir` must be a directory (not a symlink) owned by root or this
// process's uid and not writable by group or others, else FailedPrecondition naming it and
// nothing is read; a spool file that is a symlink, not owned so, or group/other-writable is a
// problem and is not read (nor deleted). Nothing else stops the read.
StatusOr<SpoolContents> ReadSpool(const std::filesystem::path& dir, absl::Duration keep,
                                  absl::Time now);

}  // namespace certcast::host
