#include "cli/progress.h"

#include <cstdio>

namespace certcast::cli {

std::string HumanBytes(int64_t bytes) {
  char buf[32];
  if (bytes >= 1000000000) std::snprintf(buf, sizeof buf, "%.1f GB", bytes / 1e9);
  else if (bytes >= 1000000) std::snprintf(buf, sizeof buf, "%.0f MB", bytes / 1e6);
  else if (bytes >= 1000) std::snprintf(buf, sizeof buf, "%.0f kB", bytes / 1e3);
  else std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(bytes));
  return buf;
}

std::string Thousands(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return n < 0 ? "-" + out : out;
}

}  // namespace certcast::cli
