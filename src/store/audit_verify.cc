#include "store/audit_verify.h"

#include <optional>

#include "core/strings.h"
#include "store/store_backends.h"

namespace certcast {

StatusOr<AuditVerification> VerifyAudit(Store& store) {
  AuditVerification v;
  ASSIGN_OR_RETURN(std::optional<AuditHead> head, store.ReadAuditHead());
  std::string previous_hash;
  int64_t expected_seq = -1, last_seq = 0;
  bool head_found = false;
  RETURN_IF_ERROR(store.ScanAudit([&](const AuditRecord& r) {
    ++v.records;
    last_seq = r.seq;
    if (head && r.seq == head->seq) head_found = r.hash == head->hash;
    if (head && r.seq > head->seq) ++v.records_after_head;
    if (!v.ok) return OkStatus();
    auto fail = [&](std::string problem) {
      v.ok = false;
      v.first_bad_seq = r.seq;
      v.problem = std::move(problem);
    };
    if (expected_seq >= 0 && r.seq != expected_seq) {
      fail(StrCat("record ", r.seq, " follows ", expected_seq - 1, ": a record is missing"));
    } else if (r.prev_hash != previous_hash) {
      fail(StrCat("record ", r.seq, " does not link to the previous record's hash"));
    } else if (AuditHash(r) != r.hash) {
      fail(StrCat("record ", r.seq, " was modified: its hash does not match its content"));
    }
    expected_seq = r.seq + 1;
    previous_hash = r.hash;
    return OkStatus();
  }));
  if (head) v.head_seq = head->seq;
  if (!v.ok) return v;
  // The chain alone cannot see records missing at its end: the head outside the store can. A
  // PostgreSQL store has none: several servers append to one chain, so no one host's file could
  // name its end; its end is guarded by the database's roles and WAL archive (docs/decisions.md).
  if (!head) {
    if (v.records > 0 && !IsPostgresStore(store)) {
      v.ok = false;
      v.first_bad_seq = last_seq;
      v.problem = "no audit chain head file beside the store (deleted, or the store predates it): "
                  "records missing from the end cannot be ruled out";
    }
    return v;
  }
  if (last_seq < head->seq) {
    v.ok = false;
    v.first_bad_seq = last_seq + 1;
    v.problem = v.records == 0
                    ? StrCat("the store has no audit records but the chain head names record ",
                             head->seq, ": every record was deleted")
                    : StrCat("the chain head names record ", head->seq, " but the store ends at ",
                             last_seq, ": records were deleted from the end");
  } else if (!head_found) {
    v.ok = false;
    v.first_bad_seq = head->seq;
    v.problem = StrCat("record ", head->seq, " differs from the chain head's hash: the chain was "
                       "rewritten from there");
  }
  return v;
}

}  // namespace certcast
