#include "store/ingest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>
#include <vector>

#include "core/event_json.h"
#include "core/strings.h"

namespace certcast {

IngestStats& IngestStats::operator+=(const IngestStats& o) {
  lines += o.lines;
  accepted += o.accepted;
  inserted += o.inserted;
  duplicates += o.duplicates;
  rejected += o.rejected;
  bytes += o.bytes;
  return *this;
}

namespace {

// Splits a byte stream into lines and feeds them, batched, to the store.
class LineIngester {
 public:
  LineIngester(Store& store, std::string_view source, const IngestOptions& options)
      : store_(store), source_(source), options_(options) {
    batch_.reserve(std::min<size_t>(options_.batch_events, 1 << 16));
    last_progress_ = options_.clock->Now();
  }

  void Line(std::string_view line) {
    ++stats_.lines;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (IsBlank(line)) return;
    auto event = parser_.Parse(line);
    if (!event.ok()) {
      Reject(event.status().message());
      return;
    }
    if (options_.admit && refused_.ok()) refused_ = options_.admit(*event);
    if (!refused_.ok()) return;
    ++stats_.accepted;
    batch_.push_back(std::move(*event));
  }

  // A line longer than the limit, skipped without buffering it.
  void Overlong() {
    ++stats_.lines;
    Reject(StrCat("line longer than ", kMaxEventLineBytes, " bytes"));
  }

  Status MaybeFlush() {
    RETURN_IF_ERROR(refused_);
    if (batch_.size() >= options_.batch_events) return Flush();
    return OkStatus();
  }

  // Hands the current batch to a writer thread and returns while it is being stored, so parsing
  // the next batch overlaps with SQLite's work (two cores: ~1.6x the single-thread rate). At most
  // one batch is in flight; its commit is reported when it is known to be durable.
  Status Flush() {
    RETURN_IF_ERROR(WaitForInflight());
    if (batch_.empty()) return OkStatus();
    writing_.swap(batch_);
    batch_.clear();
    inflight_last_line_ = stats_.lines;
    inflight_ = std::async(std::launch::async, [this] { return store_.AppendEvents(writing_); });
    return OkStatus();
  }

  // Waits for the batch in flight, if any, and reports it.
  Status WaitForInflight() {
    if (!inflight_.valid()) return OkStatus();
    StatusOr<AppendResult> r = inflight_.get();
    if (!r.ok()) return r.status();
    stats_.inserted += r->inserted;
    stats_.duplicates += r->duplicates;
    if (options_.on_commit) options_.on_commit(source_, inflight_last_line_);
    return OkStatus();
  }

  // Flushes and waits: after this everything accepted is stored (or an error is returned).
  Status Finish() {
    RETURN_IF_ERROR(refused_);
    RETURN_IF_ERROR(Flush());
    return WaitForInflight();
  }

  ~LineIngester() {
    // On an early error return the batch in flight must finish before `writing_` goes away.
    if (inflight_.valid()) inflight_.wait();
  }

  void Progress(int64_t bytes, int64_t total) {
    stats_.bytes = bytes;
    if (!options_.on_progress) return;
    const absl::Time now = options_.clock->Now();
    if (now - last_progress_ < absl::Milliseconds(500)) return;
    last_progress_ = now;
    options_.on_progress(bytes, total, stats_.accepted);
  }

  const IngestStats& stats() const { return stats_; }

 private:
  static bool IsBlank(std::string_view line) {
    for (char c : line) {
      if (c != ' ' && c != '\t') return false;
    }
    return true;
  }
  void Reject(std::string_view reason) {
    ++stats_.rejected;
    if (options_.on_reject) options_.on_reject(source_, stats_.lines, reason);
  }

  Store& store_;
  std::string_view source_;
  const IngestOptions& options_;
  EventParser parser_;
  std::vector<Event> batch_;
  std::vector<Event> writing_;  // owned by the writer thread while inflight_ is valid
  std::future<StatusOr<AppendResult>> inflight_;
  int64_t inflight_last_line_ = 0;
  Status refused_;  // the first refusal of options_.admit
  IngestStats stats_;
  absl::Time last_progress_;
};

}  // namespace

StatusOr<IngestStats> IngestText(Store& store, std::string_view text, std::string_view source,
                                 const IngestOptions& options) {
  LineIngester ingester(store, source, options);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    if (end - pos > kMaxEventLineBytes) {
      ingester.Overlong();
    } else {
      ingester.Line(text.substr(pos, end - pos));
    }
    pos = end + 1;
    RETURN_IF_ERROR(ingester.MaybeFlush());
  }
  RETURN_IF_ERROR(ingester.Finish());
  IngestStats stats = ingester.stats();
  stats.bytes = static_cast<int64_t>(text.size());
  return stats;
}

StatusOr<IngestStats> IngestFile(Store& store, const std::string& path,
                                 const IngestOptions& options) {
  const bool is_stdin = path == "-";
  const std::string source = is_stdin ? "<stdin>" : path;
  int fd = is_stdin ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFoundError(StrCat(path, ": ", std::strerror(errno)));
  struct FdCloser {
    int fd;
    bool owned;
    ~FdCloser() {
      if (owned) ::close(fd);
    }
  } closer{fd, !is_stdin};

  int64_t total = 0;
  struct stat st;
  if (fstat(fd, &st) == 0) {
    if (S_ISDIR(st.st_mode)) return InvalidArgumentError(StrCat(path, ": is a directory"));
    if (S_ISREG(st.st_mode)) total = st.st_size;
  }
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

  LineIngester ingester(store, source, options);
  // Streaming: a fixed read buffer; a line that straddles reads is carried in `carry`. Memory is
  // bounded by the buffer plus the longest accepted line.
  constexpr size_t kReadBytes = 4 << 20;
  std::vector<char> buffer(kReadBytes);
  std::string carry;
  bool skipping_overlong = false;  // inside a line already reported as too long
  int64_t bytes = 0;
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return UnavailableError(StrCat(source, ": read failed: ", std::strerror(errno)));
    }
    if (n == 0) break;
    bytes += n;
    std::string_view chunk(buffer.data(), static_cast<size_t>(n));
    size_t pos = 0;
    while (pos < chunk.size()) {
      const size_t nl = chunk.find('\n', pos);
      if (nl == std::string_view::npos) {
        // Incomplete line: keep it for the next read unless it is already too long.
        if (!skipping_overlong) {
          carry.append(chunk.substr(pos));
          if (carry.size() > kMaxEventLineBytes) {
            carry.clear();
            skipping_overlong = true;
          }
        }
        break;
      }
      std::string_view piece = chunk.substr(pos, nl - pos);
      if (skipping_overlong) {
        ingester.Overlong();
        skipping_overlong = false;
      } else if (!carry.empty()) {
        carry.append(piece);
        if (carry.size() > kMaxEventLineBytes) {
          ingester.Overlong();
        } else {
          ingester.Line(carry);
        }
        carry.clear();
      } else if (piece.size() > kMaxEventLineBytes) {
        ingester.Overlong();
      } else {
        ingester.Line(piece);
      }
      pos = nl + 1;
      RETURN_IF_ERROR(ingester.MaybeFlush());
    }
    ingester.Progress(bytes, total);
  }
  // Last line without a trailing newline.
  if (skipping_overlong) {
    ingester.Overlong();
  } else if (!carry.empty()) {
    ingester.Line(carry);
  }
  RETURN_IF_ERROR(ingester.Finish());
  IngestStats stats = ingester.stats();
  stats.bytes = bytes;
  return stats;
}

}  // namespace certcast
