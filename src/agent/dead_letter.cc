#include "agent/dead_letter.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/file_safety.h"
#include "core/strings.h"

namespace certcast::agent {
namespace {

Status Errno(std::string_view what, const std::string& path) {
  return UnavailableError(StrCat(path, ": ", what, ": ", std::strerror(errno)));
}

// Size of a regular file not followed through a symlink; 0 when absent.
StatusOr<int64_t> FileSize(const std::string& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return int64_t{0};
    return Errno("stat", path);
  }
  if (!S_ISREG(st.st_mode)) return FailedPreconditionError(StrCat(path, ": not a regular file"));
  return static_cast<int64_t>(st.st_size);
}

}  // namespace

StatusOr<DeadLetterFile> DeadLetterFile::Open(std::string dir, int64_t max_bytes) {
  if (max_bytes < 2) return InvalidArgumentError("--dead-letter-max-bytes: at least 2");
  DeadLetterFile file(std::move(dir), max_bytes);
  auto text = ReadFileNoFollow(file.dropped_path(), 4096);
  if (text.ok()) {
    auto parsed = ParseDropped(*text);
    if (!parsed.ok()) return parsed.status().WithPrefix(file.dropped_path());
    file.dropped_ = *parsed;
  } else if (text.status().code() != StatusCode::kNotFound) {
    return text.status();
  }
  return file;
}

Status DeadLetterFile::Append(std::string_view record, absl::Time now) {
  const std::string line = StrCat(record, "\n");
  const std::string current = path();
  ASSIGN_OR_RETURN(int64_t size, FileSize(current));
  if (size > 0 && size + static_cast<int64_t>(line.size()) > max_bytes_ / 2) {
    // Rotate: the old generation is dropped, counted first.
    const std::string old = old_path();
    ASSIGN_OR_RETURN(int64_t old_size, FileSize(old));
    if (old_size > 0) {
      auto content = ReadFileNoFollow(old, static_cast<size_t>(old_size) + 1);
      if (!content.ok()) return content.status().WithPrefix("dead-letter file");
      DroppedCount dropped = dropped_.value_or(DroppedCount{.first = now});
      dropped.events += std::count(content->begin(), content->end(), '\n');
      dropped.bytes += old_size;
      RETURN_IF_ERROR(WriteFileAtomically(dropped_path(), FormatDropped(dropped)));
      dropped_ = dropped;
    }
    if (::rename(current.c_str(), old.c_str()) != 0) return Errno("rotate", current);
    RETURN_IF_ERROR(SyncDirectory(dir_));
  }
  const int fd = ::open(current.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("open", current);
  Status s = WriteAll(fd, line, current);
  if (s.ok() && ::fdatasync(fd) != 0) s = Errno("fdatasync", current);
  ::close(fd);
  return s;
}

Status DeadLetterFile::ClearDropped() {
  if (!dropped_) return OkStatus();
  const std::string path = dropped_path();
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("remove", path);
  dropped_.reset();
  return SyncDirectory(dir_);
}

}  // namespace certcast::agent
