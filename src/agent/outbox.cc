#include "agent/outbox.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "core/file_safety.h"
#include "core/strings.h"
#include "core/time.h"

namespace certcast::agent {
namespace {

constexpr std::string_view kSegmentSuffix = ".jsonl";
constexpr int kSequenceDigits = 20;
// A segment holds at most segment_bytes plus one line (an events-v1 line is at most 1 MiB).
constexpr int64_t kLineSlack = 2ll << 20;

Status Errno(std::string_view what, const std::string& path) {
  return UnavailableError(StrCat(path, ": ", what, ": ", std::strerror(errno)));
}

// "00000000000000000042.jsonl" -> 42; nullopt for any other name.
std::optional<uint64_t> SequenceOf(std::string_view name) {
  if (name.size() != kSequenceDigits + kSegmentSuffix.size() || !name.ends_with(kSegmentSuffix)) {
    return std::nullopt;
  }
  uint64_t value = 0;
  const char* end = name.data() + kSequenceDigits;
  auto [ptr, ec] = std::from_chars(name.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// Opens a segment for appending (created 0600 when missing), refusing symlinks and files not
// owned by this uid or writable by others.
StatusOr<int> OpenForAppend(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == ELOOP) return FailedPreconditionError(StrCat("outbox segment ", path, ": is a symlink"));
    return Errno("open", path);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Status s = Errno("fstat", path);
    ::close(fd);
    return s;
  }
  if (Status s = CheckTrusted(st, "outbox segment", path, Owner::kSelf); !s.ok()) {
    ::close(fd);
    return s;
  }
  return fd;
}

}  // namespace

SegmentScan ScanSegment(std::string_view content) {
  SegmentScan scan;
  const size_t last = content.rfind('\n');
  if (last == std::string_view::npos) {
    scan.torn_bytes = static_cast<int64_t>(content.size());
    return scan;
  }
  scan.complete_bytes = static_cast<int64_t>(last + 1);
  scan.lines = std::count(content.begin(), content.begin() + last + 1, '\n');
  scan.torn_bytes = static_cast<int64_t>(content.size() - last - 1);
  return scan;
}

StatusOr<DroppedCount> ParseDropped(std::string_view text) {
  if (text.size() > 256) return InvalidArgumentError("dropped: longer than 256 bytes");
  if (!text.ends_with('\n')) return InvalidArgumentError("dropped: no final newline");
  text.remove_suffix(1);
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    const size_t space = text.find(' ', start);
    fields.push_back(text.substr(start, space == std::string_view::npos ? text.npos : space - start));
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  if (fields.size() != 3) {
    return InvalidArgumentError(StrCat("dropped: expected \"EVENTS BYTES TIMESTAMP\", got ",
                                       fields.size(), " fields"));
  }
  DroppedCount out;
  for (int i = 0; i < 2; ++i) {
    int64_t& target = i == 0 ? out.events : out.bytes;
    auto [ptr, ec] = std::from_chars(fields[i].data(), fields[i].data() + fields[i].size(), target);
    if (ec != std::errc() || ptr != fields[i].data() + fields[i].size() || target < 0) {
      return InvalidArgumentError(StrCat("dropped: field ", i + 1, " is not a non-negative integer"));
    }
  }
  auto first = ParseRfc3339(fields[2]);
  if (!first.ok()) return first.status().WithPrefix("dropped: field 3");
  out.first = *first;
  return out;
}

std::string FormatDropped(const DroppedCount& dropped) {
  return StrCat(dropped.events, " ", dropped.bytes, " ", FormatRfc3339(dropped.first), "\n");
}

std::string Outbox::SegmentPath(uint64_t sequence) const {
  std::string digits = std::to_string(sequence);
  digits.insert(0, kSequenceDigits - digits.size(), '0');
  return StrCat(options_.dir, "/", digits, kSegmentSuffix);
}

StatusOr<Outbox> Outbox::Open(const OutboxOptions& options, OpenReport* report) {
  if (options.segment_bytes <= 0 || options.max_bytes < 2 * options.segment_bytes) {
    return InvalidArgumentError(StrCat("outbox: the bound (", options.max_bytes,
                                       " bytes) must be at least two segments (2 x ",
                                       options.segment_bytes, " bytes)"));
  }
  RETURN_IF_ERROR(EnsurePrivateDirectory(options.dir, "outbox directory"));
  Outbox outbox(options);
  std::error_code ec;
  std::vector<std::pair<uint64_t, std::string>> found;
  for (const auto& entry : std::filesystem::directory_iterator(options.dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (auto sequence = SequenceOf(name)) {
      found.emplace_back(*sequence, entry.path().string());
    } else if (name != "dropped" && report != nullptr) {
      report->warnings.push_back(StrCat(entry.path().string(), ": not an outbox file; ignored"));
    }
  }
  if (ec) return UnavailableError(StrCat(options.dir, ": list: ", ec.message()));
  std::sort(found.begin(), found.end());
  for (auto& [sequence, path] : found) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return Errno("lstat", path);
    if (!S_ISREG(st.st_mode)) {
      return FailedPreconditionError(StrCat("outbox segment ", path, ": not a regular file"));
    }
    RETURN_IF_ERROR(CheckTrusted(st, "outbox segment", path, Owner::kSelf));
    auto content = ReadFileNoFollow(path, static_cast<size_t>(options.segment_bytes + kLineSlack));
    if (!content.ok()) return content.status().WithPrefix("outbox segment");
    const SegmentScan scan = ScanSegment(*content);
    if (scan.torn_bytes > 0) {
      // A write cut short by a crash: the torn line was never reported as collected (Append
      // returns after fdatasync), so its source still has it. Drop it, keep the rest.
      ASSIGN_OR_RETURN(int fd, OpenForAppend(path));
      const bool truncated = ::ftruncate(fd, scan.complete_bytes) == 0 && ::fdatasync(fd) == 0;
      Status s = truncated ? OkStatus() : Errno("truncate torn line", path);
      ::close(fd);
      RETURN_IF_ERROR(s);
      if (report != nullptr) {
        report->warnings.push_back(StrCat(path, ": torn last line (", scan.torn_bytes,
                                          " bytes, a write cut short) dropped; ", scan.lines,
                                          " complete lines kept"));
      }
    }
    if (scan.complete_bytes == 0) {
      if (::unlink(path.c_str()) != 0) return Errno("remove empty segment", path);
      continue;
    }
    outbox.segments_.push_back({sequence, path, scan.complete_bytes});
  }
  outbox.open_segment_sealed_ =
      outbox.segments_.empty() || outbox.segments_.back().bytes >= options.segment_bytes;
  const std::string dropped_path = options.dir + "/dropped";
  auto dropped = ReadFileNoFollow(dropped_path, 4096);
  if (dropped.ok()) {
    auto parsed = ParseDropped(*dropped);
    if (!parsed.ok()) return parsed.status().WithPrefix(dropped_path);
    outbox.dropped_ = *parsed;
  } else if (dropped.status().code() != StatusCode::kNotFound) {
    return dropped.status();
  }
  return outbox;
}

int64_t Outbox::bytes() const {
  int64_t total = 0;
  for (const Segment& s : segments_) total += s.bytes;
  return total;
}

void Outbox::Seal() { open_segment_sealed_ = true; }

Status Outbox::Append(const std::vector<std::string>& lines, absl::Time now) {
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find('\n') != std::string::npos) {
      return InvalidArgumentError(StrCat("outbox: line ", i + 1, " of the batch holds a newline"));
    }
  }
  size_t next = 0;
  while (next < lines.size()) {
    if (open_segment_sealed_) {
      const uint64_t sequence = segments_.empty() ? 1 : segments_.back().sequence + 1;
      segments_.push_back({sequence, SegmentPath(sequence), 0});
      open_segment_sealed_ = false;
    }
    Segment& segment = segments_.back();
    std::string buffer;
    while (next < lines.size() &&
           (buffer.empty() || segment.bytes + static_cast<int64_t>(buffer.size()) <
                                  options_.segment_bytes)) {
      buffer += lines[next++];
      buffer.push_back('\n');
    }
    const bool created = segment.bytes == 0;
    ASSIGN_OR_RETURN(int fd, OpenForAppend(segment.path));
    Status s = WriteAll(fd, buffer, segment.path);
    if (s.ok() && ::fdatasync(fd) != 0) s = Errno("fdatasync", segment.path);
    ::close(fd);
    if (!s.ok()) {
      // Whatever part reached the file is a torn or extra tail; the next Open scans it, and the
      // caller keeps the source (this append failed).
      return s;
    }
    if (created) RETURN_IF_ERROR(SyncDirectory(options_.dir));
    segment.bytes += static_cast<int64_t>(buffer.size());
    if (segment.bytes >= options_.segment_bytes) open_segment_sealed_ = true;
  }
  return Bound(now);
}

Status Outbox::Bound(absl::Time now) {
  while (segments_.size() > 1 && bytes() > options_.max_bytes) {
    const Segment oldest = segments_.front();
    auto content = ReadFileNoFollow(oldest.path, static_cast<size_t>(options_.segment_bytes + kLineSlack));
    if (!content.ok()) return content.status().WithPrefix("outbox segment");
    DroppedCount dropped = dropped_.value_or(DroppedCount{.first = now});
    dropped.events += ScanSegment(*content).lines;
    dropped.bytes += oldest.bytes;
    // The count is written before the segment goes: a crash between the two counts it twice at
    // worst, never loses the fact of the drop.
    RETURN_IF_ERROR(WriteFileAtomically(options_.dir + "/dropped", FormatDropped(dropped)));
    dropped_ = dropped;
    if (::unlink(oldest.path.c_str()) != 0) return Errno("remove dropped segment", oldest.path);
    segments_.erase(segments_.begin());
  }
  return OkStatus();
}

StatusOr<std::string> Outbox::Read(const Segment& segment) const {
  auto content = ReadFileNoFollow(segment.path, static_cast<size_t>(options_.segment_bytes + kLineSlack));
  if (!content.ok()) return content.status().WithPrefix("outbox segment");
  content->resize(static_cast<size_t>(ScanSegment(*content).complete_bytes));
  return content;
}

Status Outbox::Acknowledge(const Segment& segment) {
  if (segments_.empty() || segments_.front().sequence != segment.sequence) {
    return FailedPreconditionError(StrCat("outbox: segment ", segment.path,
                                          " is not the oldest; acknowledged out of order"));
  }
  if (::unlink(segment.path.c_str()) != 0) return Errno("remove acknowledged segment", segment.path);
  RETURN_IF_ERROR(SyncDirectory(options_.dir));
  const bool was_open = segments_.size() == 1 && !open_segment_sealed_;
  segments_.erase(segments_.begin());
  if (was_open) open_segment_sealed_ = true;
  return OkStatus();
}

Status Outbox::ClearDropped() {
  if (!dropped_) return OkStatus();
  const std::string path = options_.dir + "/dropped";
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("remove", path);
  dropped_.reset();
  return SyncDirectory(options_.dir);
}

}  // namespace certcast::agent
