#include "collect/host/spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "collect/clients/common.h"
#include "collect/clients/discover.h"
#include "core/event_json.h"
#include "core/file_safety.h"
#include "core/strings.h"

namespace certcast::host {
namespace fs = std::filesystem;
namespace {

Status Errno(std::string_view what, const fs::path& path) {
  return UnavailableError(StrCat(path.string(), ": ", what, ": ", std::strerror(errno)));
}

constexpr absl::Duration kAbandonedTemporaryAge = absl::Hours(1);

bool IsSpoolFile(const std::string& name) {
  return !name.starts_with(".") && name.ends_with(".jsonl");
}
bool IsTemporary(const std::string& name) {
  return name.starts_with(".") && name.ends_with(".tmp");
}

// Reads a spool file without following a symlink, after checking (on the open descriptor, so
// the file checked is the file read) that root or this uid owns it and nobody else may write it.
StatusOr<std::string> ReadTrustedSpoolFile(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ELOOP) {
      return FailedPreconditionError(StrCat("spool file ", path.string(), ": is a symlink; not read"));
    }
    if (errno == ENOENT) return NotFoundError(StrCat(path.string(), ": gone"));
    return Errno("open", path);
  }
  struct stat st = {};
  Status s = ::fstat(fd, &st) == 0 ? Status() : Errno("fstat", path);
  if (s.ok() && !S_ISREG(st.st_mode)) {
    s = FailedPreconditionError(StrCat("spool file ", path.string(), ": not a regular file; not read"));
  }
  if (s.ok()) s = CheckTrusted(st, "spool file", path.string(), Owner::kSelfOrRoot);
  if (s.ok() && static_cast<size_t>(st.st_size) > kMaxSpoolFileBytes) {
    s = ResourceExhaustedError(StrCat(path.string(), ": larger than ", kMaxSpoolFileBytes, " bytes"));
  }
  std::string text;
  if (s.ok()) {
    text.resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        s = Errno("read", path);
        break;
      }
      if (n == 0) break;  // shrank meanwhile: what is there
      done += static_cast<size_t>(n);
    }
    text.resize(done);
  }
  ::close(fd);
  if (!s.ok()) return s;
  return text;
}

}  // namespace

std::string SpoolFileName(absl::Time now, int pid) {
  return StrCat(absl::FormatTime("%Y%m%dT%H%M%E6SZ", now, absl::UTCTimeZone()), "-", pid, ".jsonl");
}

StatusOr<fs::path> WriteSpoolFile(const fs::path& dir, const std::string& name,
                                  std::span<const Event> events) {
  if (!IsSpoolFile(name) || name.find('/') != std::string::npos) {
    return InvalidArgumentError(StrCat("spool file name \"", name, "\" is not NAME.jsonl"));
  }
  std::error_code ec;
  // Private (0700, files 0600): the spool holds what the daemon will believe about a lineage, and
  // the daemon reads it as the same user the hooks run as (root, or the ACME client's user).
  if (fs::create_directories(dir, ec) && !ec) {
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  if (ec) return UnavailableError(StrCat(dir.string(), ": cannot create: ", ec.message()));

  std::string text;
  for (const Event& e : events) {
    AppendEventJson(e, text);
    text.push_back('\n');
  }
  const fs::path temporary = dir / StrCat(".", name, ".tmp");
  const fs::path final_path = dir / name;
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("create", temporary);
  Status written = WriteAll(fd, text, temporary.string());
  if (written.ok() && ::fsync(fd) != 0) written = Errno("fsync", temporary);
  if (::close(fd) != 0 && written.ok()) written = Errno("close", temporary);
  if (written.ok() && ::rename(temporary.c_str(), final_path.c_str()) != 0) {
    written = Errno(StrCat("rename to ", final_path.string()), temporary);
  }
  if (!written.ok()) {
    ::unlink(temporary.c_str());
    return written;
  }
  RETURN_IF_ERROR(SyncDirectory(dir.string()));
  return final_path;
}

StatusOr<SpoolContents> ReadSpool(const fs::path& dir, absl::Duration keep, absl::Time now) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return NotFoundError(StrCat(dir.string(), ": no such spool directory"));
  }
  // Events from the spool reach the planner and from it root's ACME client: whoever can write a
  // spool file chooses what certcast believes. Only root and this process's uid may.
  struct stat dir_stat = {};
  if (::lstat(dir.c_str(), &dir_stat) != 0) return Errno("lstat", dir);
  if (S_ISLNK(dir_stat.st_mode)) {
    return FailedPreconditionError(
        StrCat("spool directory ", dir.string(), ": is a symlink; refusing to read it"));
  }
  RETURN_IF_ERROR(CheckTrusted(dir_stat, "spool directory", dir.string(), Owner::kSelfOrRoot));
  std::vector<fs::path> files, temporaries;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::string name = it->path().filename().string();
    if (IsSpoolFile(name)) files.push_back(it->path());
    if (IsTemporary(name)) temporaries.push_back(it->path());
  }
  if (ec) return UnavailableError(StrCat(dir.string(), ": cannot list: ", ec.message()));
  std::sort(files.begin(), files.end());

  SpoolContents out;
  EventParser parser;
  const absl::Time cutoff = now - keep;
  auto delete_if_old = [&](const fs::path& path, absl::Time before) {
    struct stat st = {};
    if (::stat(path.c_str(), &st) != 0) return;  // gone already: another reader deleted it
    if (absl::FromTimeT(st.st_mtim.tv_sec) >= before) return;
    if (::unlink(path.c_str()) == 0) {
      ++out.deleted;
    } else if (errno != ENOENT) {
      out.problems.push_back({path.string(), 0, StrCat("cannot delete: ", std::strerror(errno))});
    }
  };
  for (const fs::path& path : files) {
    auto text = ReadTrustedSpoolFile(path);
    if (!text.ok()) {
      // A file another reader deleted between listing and reading is not a problem.
      if (fs::exists(path, ec)) out.problems.push_back({path.string(), 0, text.status().message()});
      continue;
    }
    ++out.files;
    for (const clients::Line& line : clients::SplitLines(*text)) {
      if (clients::Trim(line.text).empty()) continue;
      auto event = parser.Parse(line.text);
      if (event.ok()) {
        out.events.push_back(std::move(*event));
      } else {
        out.problems.push_back({path.string(), line.number, event.status().message()});
      }
    }
    delete_if_old(path, cutoff);
  }
  // A temporary is what a writer that crashed before its rename left behind, or one being written
  // right now: a hook writes in milliseconds, so one older than an hour is abandoned (half a
  // file, never to be read), whatever --keep says.
  for (const fs::path& path : temporaries) delete_if_old(path, now - kAbandonedTemporaryAge);
  return out;
}

}  // namespace certcast::host
