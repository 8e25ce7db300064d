// Progress lines for long work, shown only on a terminal so logs and pipes stay clean.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace certcast::cli {

class ProgressLine {
 public:
  ProgressLine() : enabled_(::isatty(STDERR_FILENO) == 1) {}
  bool enabled() const { return enabled_; }
  // Rewrites the current terminal line.
  void Show(const std::string& text) {
    if (!enabled_) return;
    std::fprintf(stderr, "\r\033[K%s", text.c_str());
    std::fflush(stderr);
    shown_ = true;
  }
  // Clears the line so the next output starts clean.
  void Done() {
    if (enabled_ && shown_) std::fprintf(stderr, "\r\033[K");
    shown_ = false;
  }

 private:
  bool enabled_;
  bool shown_ = false;
};

// "1.2 GB", "340 MB", "12 kB".
std::string HumanBytes(int64_t bytes);
// "1,234,567".
std::string Thousands(int64_t n);

}  // namespace certcast::cli
