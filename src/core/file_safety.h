// Files and directories the daemon (often root) trusts: its private state (locks, the audit chain
// head) and what it reads from directories others may write (the spool).
//
// Trusted = owned by the daemon's effective uid (or root, where a root-owned file is allowed:
// root can change anything anyway) and writable by nobody else (no group or other write bit).
// Files are opened with O_NOFOLLOW so a symlink planted in the place of a file is an error, not
// a redirection of root's write to wherever it points.
#pragma once

#include <sys/stat.h>

#include <string>
#include <string_view>

#include "core/status.h"

namespace certcast {

// Whom a trusted path may belong to.
enum class Owner {
  kSelf,        // the effective uid only (the daemon's own state)
  kSelfOrRoot,  // the effective uid or root (input written by root's ACME client hooks)
};

// A file's permission bits as chmod writes them: "0644".
std::string OctalMode(mode_t mode);

// OK when `st` (from lstat or fstat of `path`) is owned as `owner` asks and has no group/other
// write bit. FailedPrecondition otherwise, naming `what`, the path, the owner uid or the mode:
// "lock directory /tmp/x: owned by uid 1001, not by uid 0 (this process)".
Status CheckTrusted(const struct stat& st, std::string_view what, const std::string& path,
                    Owner owner);

// Creates `path` as a directory with mode 0700 when missing (its parent must exist), then checks
// with lstat that it is a directory (not a symlink) owned by the effective uid with no group or
// other write bit. Errors name `what` and the path.
Status EnsurePrivateDirectory(const std::string& path, std::string_view what);

// Replaces `path` by `content` atomically (temporary file in the same directory created with
// O_EXCL|O_NOFOLLOW and `mode`, fsync, rename, fsync of the directory): a reader sees the old
// content or the new one, never a mix, and a crash leaves one of the two.
Status WriteFileAtomically(const std::string& path, std::string_view content, mode_t mode = 0600);

// Makes a create, rename or unlink in `dir` durable (fsync of the directory): without it a power
// loss can bring back the old directory entry although the file's data was synced.
Status SyncDirectory(const std::string& dir);

// Writes all of `data` to `fd`, retrying short writes and EINTR; errors name `path`.
Status WriteAll(int fd, std::string_view data, const std::string& path);

// Reads `path` (at most `max_bytes`) without following a symlink; NotFound when missing.
StatusOr<std::string> ReadFileNoFollow(const std::string& path, size_t max_bytes);

// Reads a file a person points a command at (a simulator config, say): it may be a symlink, but
// what it names must be a regular file of at most `max_bytes` (a FIFO or /dev/zero would hang or
// exhaust memory). Errors name `what` and the path; NotFound when missing.
StatusOr<std::string> ReadRegularFile(const std::string& path, size_t max_bytes,
                                      std::string_view what);

// Reads a configuration file that the process acts on: the daemon's and the server's configs name
// the commands root runs and the CAs it may use, so whoever can write the file chooses what root
// does. As ReadRegularFile (a symlink is fine: administrators link configs into place), and the
// file itself must be trusted as Owner::kSelfOrRoot (owned by this uid or root, no group or other
// write bit).
StatusOr<std::string> ReadConfigFile(const std::string& path, size_t max_bytes,
                                     std::string_view what);

// The limit for configuration files: a real one is a few KiB.
inline constexpr size_t kMaxConfigBytes = 1 << 20;

}  // namespace certcast
