// Fuzzes the agent's outbox reader (src/agent/outbox.h), which reads what a crash left in the
// state directory: the segment scan (complete lines vs a torn tail) and the `dropped` record on
// any bytes, and Outbox::Open over a segment holding those bytes. Checks: no crash; the scan
// partitions the bytes; a `dropped` it accepts formats back to itself; Open keeps exactly the
// complete lines, and what it keeps reads back byte for byte.
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "agent/outbox.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certcast::agent;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const SegmentScan scan = ScanSegment(text);
  if (scan.complete_bytes + scan.torn_bytes != static_cast<int64_t>(size)) std::abort();
  if (scan.complete_bytes > 0 && text[scan.complete_bytes - 1] != '\n') std::abort();
  if (text.substr(scan.complete_bytes).find('\n') != std::string_view::npos) std::abort();

  auto dropped = ParseDropped(text);
  if (dropped.ok()) {
    auto again = ParseDropped(FormatDropped(*dropped));
    if (!again.ok() || again->events != dropped->events || again->bytes != dropped->bytes ||
        again->first != dropped->first) {
      std::abort();
    }
  }

  static const std::string root = [] {
    // tmpfs where there is one: the torn-tail repair fsyncs, which a disk makes slow.
    std::string pattern = std::filesystem::is_directory("/dev/shm") ? "/dev/shm/fuzz_outbox.XXXXXX"
                                                                     : "/tmp/fuzz_outbox.XXXXXX";
    std::string made = ::mkdtemp(pattern.data());
    static std::string removed_at_exit = made;
    std::atexit([] { std::filesystem::remove_all(removed_at_exit); });
    return made;
  }();
  const std::string dir = root + "/outbox";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directory(dir);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
  const std::string path = dir + "/00000000000000000001.jsonl";
  { std::ofstream(path, std::ios::binary).write(text.data(), static_cast<std::streamsize>(size)); }
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto outbox = Outbox::Open({.dir = dir, .max_bytes = 64 << 20, .segment_bytes = 1 << 20});
  if (!outbox.ok()) std::abort();  // any bytes in a well-owned segment are recoverable
  if (scan.complete_bytes == 0) {
    if (!outbox->segments().empty()) std::abort();
  } else {
    if (outbox->segments().size() != 1) std::abort();
    auto read = outbox->Read(outbox->segments()[0]);
    if (!read.ok() || *read != text.substr(0, scan.complete_bytes)) std::abort();
  }
  return 0;
}
