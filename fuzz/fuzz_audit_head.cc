// Fuzzes the audit chain head parser (the file DB-audit-head beside the store, which anyone who
// can write the state directory can replace): no crash on any bytes, and a head it accepts
// written back the way the store writes it parses to the same seq and hash.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/strings.h"
#include "store/store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto head = certcast::ParseAuditHead(text, "fuzz");
  if (!head.ok()) return 0;
  if (head->seq < 1 || head->hash.size() != 64) std::abort();
  const std::string written = certcast::StrCat("certcast-audit-head 1 ", head->seq, " ", head->hash, "\n");
  auto again = certcast::ParseAuditHead(written, "fuzz");
  if (!again.ok() || again->seq != head->seq || again->hash != head->hash) std::abort();
  return 0;
}
