#include "core/file_safety.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <random>

#include "core/strings.h"

namespace certcast {

std::string OctalMode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

namespace {

Status Errno(std::string_view call, const std::string& path) {
  const int saved = errno;
  const std::string message = StrCat(path, ": ", call, ": ", std::strerror(saved));
  if (saved == ENOENT) return NotFoundError(message);
  return UnavailableError(message);
}

// Reads everything from `fd` (at most `max_bytes`; the file may grow after any size check) and
// closes it. Errors name `path`.
StatusOr<std::string> ReadAndClose(int fd, const std::string& path, size_t max_bytes) {
  std::string out;
  char buffer[65536];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = Errno("read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      ::close(fd);
      return ResourceExhaustedError(StrCat(path, ": larger than ", max_bytes, " bytes"));
    }
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return OkStatus();
}

Status CheckTrusted(const struct stat& st, std::string_view what, const std::string& path,
                    Owner owner) {
  const uid_t self = ::geteuid();
  const bool owner_ok = st.st_uid == self || (owner == Owner::kSelfOrRoot && st.st_uid == 0);
  if (!owner_ok) {
    return FailedPreconditionError(StrCat(
        what, " ", path, ": owned by uid ", st.st_uid, ", not by uid ", self, " (this process)",
        owner == Owner::kSelfOrRoot ? " or root" : "", "; refusing to use it"));
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    return FailedPreconditionError(StrCat(what, " ", path, ": mode ", OctalMode(st.st_mode),
                                          " lets group or others write it; refusing to use it "
                                          "(chmod go-w)"));
  }
  return OkStatus();
}

Status EnsurePrivateDirectory(const std::string& path, std::string_view what) {
  if (path.empty()) return InvalidArgumentError(StrCat(what, ": empty path"));
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return UnavailableError(StrCat(what, " ", path, ": cannot create: ", std::strerror(errno)));
  }
  struct stat st = {};
  if (::lstat(path.c_str(), &st) != 0) {
    return UnavailableError(StrCat(what, " ", path, ": ", std::strerror(errno)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return FailedPreconditionError(StrCat(what, " ", path, ": not a directory",
                                          S_ISLNK(st.st_mode) ? " (a symlink)" : "",
                                          "; refusing to use it"));
  }
  return CheckTrusted(st, what, path, Owner::kSelf);
}

Status WriteFileAtomically(const std::string& path, std::string_view content, mode_t mode) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  // A random suffix and O_EXCL: nobody can predict the name and pre-create it, and an existing
  // file (or symlink) of that name is an error instead of being written through.
  std::random_device random;
  const std::string temporary = StrCat(path, ".tmp.", ::getpid(), ".", random());
  const int fd = ::open(temporary.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return Errno("create", temporary);
  Status written = WriteAll(fd, content, temporary);
  // The umask may have cleared bits of `mode`; it never adds any, so fchmod only narrows.
  if (written.ok() && ::fchmod(fd, mode) != 0) written = Errno("fchmod", temporary);
  if (written.ok() && ::fsync(fd) != 0) written = Errno("fsync", temporary);
  if (::close(fd) != 0 && written.ok()) written = Errno("close", temporary);
  if (written.ok() && ::rename(temporary.c_str(), path.c_str()) != 0) {
    written = Errno(StrCat("rename to ", path), temporary);
  }
  if (!written.ok()) {
    ::unlink(temporary.c_str());
    return written;
  }
  return SyncDirectory(dir);
}

Status SyncDirectory(const std::string& dir) {
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return Errno("open directory", dir);
  const int rc = ::fsync(dir_fd);
  ::close(dir_fd);
  if (rc != 0) return Errno("fsync directory", dir);
  return OkStatus();
}

StatusOr<std::string> ReadFileNoFollow(const std::string& path, size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ELOOP) {
      return FailedPreconditionError(StrCat(path, ": is a symlink; refusing to follow it"));
    }
    return Errno("open", path);
  }
  return ReadAndClose(fd, path, max_bytes);
}

namespace {

// Reads from an open `fd` of a regular file, at most `max_bytes`. Closes `fd`.
StatusOr<std::string> ReadOpenRegular(int fd, const struct stat& st, const std::string& path,
                                      size_t max_bytes, std::string_view what) {
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return FailedPreconditionError(StrCat(what, " ", path, ": not a regular file"));
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return ResourceExhaustedError(
        StrCat(what, " ", path, ": ", st.st_size, " bytes, more than the limit of ", max_bytes));
  }
  auto text = ReadAndClose(fd, path, max_bytes);
  if (!text.ok()) return text.status().WithPrefix(what);
  return text;
}

StatusOr<std::string> ReadChecked(const std::string& path, size_t max_bytes,
                                  std::string_view what, bool trusted) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Errno("open", path).WithPrefix(what);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    Status s = Errno("fstat", path).WithPrefix(what);
    ::close(fd);
    return s;
  }
  if (trusted && S_ISREG(st.st_mode)) {
    Status s = CheckTrusted(st, what, path, Owner::kSelfOrRoot);
    if (!s.ok()) {
      ::close(fd);
      return s;
    }
  }
  return ReadOpenRegular(fd, st, path, max_bytes, what);
}

}  // namespace

StatusOr<std::string> ReadRegularFile(const std::string& path, size_t max_bytes,
                                      std::string_view what) {
  return ReadChecked(path, max_bytes, what, /*trusted=*/false);
}

StatusOr<std::string> ReadConfigFile(const std::string& path, size_t max_bytes,
                                     std::string_view what) {
  return ReadChecked(path, max_bytes, what, /*trusted=*/true);
}

}  // namespace certcast
