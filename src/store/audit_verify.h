// Verification of the hash-chained audit log (store.h: AuditRecord, AuditHash, the chain head
// kept outside the store), for `certcast audit --verify` and the API. It belongs to the store:
// it reads nothing but the store and the function that wrote each hash.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "store/store.h"

namespace certcast {

struct AuditVerification {
  int64_t records = 0;
  bool ok = true;
  int64_t first_bad_seq = 0;
  std::string problem;
  // The chain head outside the store (Store::ReadAuditHead): its seq (0: no head file), and how
  // many records follow it (appended after the last head update: a crash between the commit and
  // the head write, two writers racing, or records added by someone who can write the store).
  int64_t head_seq = 0;
  int64_t records_after_head = 0;
};
// Recomputes every record's hash and checks the chain links; reports the first broken record.
// Then compares the chain with the head kept outside the store: a head naming a record the store
// no longer has (the last rows or all rows deleted), or a record at the head's seq whose hash
// differs, is reported as tampering; a missing head file while the store has records too (it
// could have been deleted along with the rows). What this proves and does not: docs/security.md
// section "Audit chain".
StatusOr<AuditVerification> VerifyAudit(Store& store);


}  // namespace certcast
