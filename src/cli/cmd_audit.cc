// certcast audit: show and verify the hash-chained audit log.
#include <iostream>

#include "cli/command.h"
#include "core/strings.h"
#include "core/time.h"
#include "plan/planner.h"
#include "store/audit_verify.h"
#include "store/store.h"

namespace certcast::cli {
namespace {

struct AuditFlags {
  std::string db;
  bool verify = false;
  std::string kind;
  std::string cert;
  int64_t last = 0;
  bool json = false;
};

int RunAudit(const AuditFlags& flags) {
  StoreOptions store_options;
  store_options.create_if_missing = false;
  auto store = Store::Open(flags.db, store_options);
  if (!store.ok()) return Fail(store.status());
  if (flags.verify) {
    auto v = VerifyAudit(**store);
    if (!v.ok()) return Fail(v.status());
    if (v->ok) {
      std::cout << "audit log intact: " << v->records << " record(s), hash chain verified";
      if (v->head_seq > 0) std::cout << ", ends at or after the chain head (record " << v->head_seq << ")";
      std::cout << "\n";
      if (v->records_after_head > 0) {
        std::cout << "note: " << v->records_after_head
                  << " record(s) after the chain head: written after its last update (a crash "
                     "between the two writes, or concurrent writers); the head does not vouch "
                     "for them\n";
      }
      return kExitOk;
    }
    std::cout << "audit log TAMPERED at seq " << v->first_bad_seq << ": " << v->problem << "\n";
    return kExitRejected;
  }
  std::vector<AuditRecord> records;
  const std::string cert_needle = flags.cert.empty() ? "" : StrCat("\"cert\":\"", flags.cert, "\"");
  Status s = (*store)->ScanAudit([&](const AuditRecord& r) {
    if (!flags.kind.empty() && r.kind != flags.kind) return OkStatus();
    if (!cert_needle.empty() && r.record_json.find(cert_needle) == std::string::npos) return OkStatus();
    records.push_back(r);
    if (flags.last > 0 && static_cast<int64_t>(records.size()) > 2 * flags.last) {
      records.erase(records.begin(), records.begin() + flags.last);
    }
    return OkStatus();
  });
  if (!s.ok()) return Fail(s);
  size_t start = 0;
  if (flags.last > 0 && static_cast<int64_t>(records.size()) > flags.last) {
    start = records.size() - flags.last;
  }
  for (size_t i = start; i < records.size(); ++i) {
    const AuditRecord& r = records[i];
    if (flags.json) {
      std::cout << StrCat("{\"seq\":", r.seq, ",\"at\":\"", FormatRfc3339(r.at), "\",\"kind\":\"",
                          r.kind, "\",\"record\":", r.record_json, ",\"hash\":\"", r.hash, "\"}\n");
    } else {
      std::cout << r.seq << "  " << FormatRfc3339(r.at) << "  " << r.kind << "  "
                << r.hash.substr(0, 12) << "  " << r.record_json << "\n";
    }
  }
  return kExitOk;
}

const bool registered = RegisterCommand({
    .name = "audit",
    .summary = "Show or verify the hash-chained audit log of decisions and actions",
    .order = 75,
    .setup =
        [](CLI::App& sub) {
          auto flags = std::make_shared<AuditFlags>();
          sub.description(
              "Every decision of `plan` and `run` and every action an executor carried out is an "
              "audit record: time, kind, what, why (reason constant and sentence), risk, model "
              "version and top feature contributions. Each record's SHA-256 covers the previous "
              "record's hash, so editing, deleting or reordering a stored record breaks the "
              "chain; --verify recomputes it and compares its end with the chain head kept "
              "outside the store (DB-audit-head, 0600), so deleting the last records, or all of "
              "them, is detected too. What it cannot detect: docs/security.md.");
          sub.add_option("--db", flags->db, "Store file (SQLite)")->required();
          sub.add_flag("--verify", flags->verify,
                       "Recompute the hash chain and compare it with the chain head file; exit 1 and name "
                       "the first bad record if broken");
          sub.add_option("--kind", flags->kind, "Only records of this kind (decision, action, plan)");
          sub.add_option("--cert", flags->cert, "Only records about this lineage");
          sub.add_option("--last", flags->last, "Only the last N matching records (default: all)")
              ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
          sub.add_flag("--json", flags->json, "One JSON object per record");
          sub.footer(
              "Exit: 0 shown / chain intact; 1 chain broken; 3 the store failed.\n\nExample:\n"
              "  certcast audit --db fleet.db --cert shop --last 20\n"
              "  certcast audit --db fleet.db --verify");
          return [flags] { return RunAudit(*flags); };
        },
});

}  // namespace
}  // namespace certcast::cli
