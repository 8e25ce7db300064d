// Fuzzes the parsers of what an ACME CA sends: the directory and renewalInfo JSON bodies
// (collect/probe/acme_probe.h) and the Retry-After / Date header values. Invariant beyond "no
// crash": an accepted renewalInfo window always has end after start (RFC 9773 §4.2), and a
// Retry-After is never negative.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "collect/probe/acme_probe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certcast::probe;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)ParseAcmeDirectory(text);
  auto info = ParseRenewalInfo(text);
  if (info.ok() && !(info->window_end > info->window_start)) std::abort();
  // Header values are one line, bounded by curl; cut at the first newline like a header would be.
  const std::string_view header = text.substr(0, text.find('\n'));
  auto retry = ParseRetryAfter(header, absl::FromUnixSeconds(1'800'000'000));
  if (retry && *retry < 0) std::abort();
  (void)ParseHttpDate(header);
  return 0;
}
