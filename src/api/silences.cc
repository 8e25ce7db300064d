#include "api/silences.h"

#include "alert/alert.h"
#include "core/json_text.h"
#include "core/strings.h"
#include "nlohmann/json.hpp"

namespace certcast::api {
namespace {

Status Audit(Store& store, const SilenceRecord& silence, const SilenceActor& actor,
             absl::Time now) {
  nlohmann::ordered_json audit;
  audit[std::string(actor.field)] = actor.name;
  audit["via"] = actor.via;
  audit["silence"] = nlohmann::ordered_json::parse(alert::SilenceJson(silence, now));
  return store
      .AppendAudit(now, "silence",
                   Dump(audit))
      .status();
}

}  // namespace

StatusOr<SilenceRecord> AddSilence(Store& store, SilenceRecord silence, uint64_t nonce,
                                   const SilenceActor& actor, absl::Time now) {
  silence.id = alert::SilenceId(nonce);
  RETURN_IF_ERROR(alert::ValidateSilence(silence));
  RETURN_IF_ERROR(store.CreateSilence(silence));
  Status audited = Audit(store, silence, actor, now);
  if (!audited.ok()) return audited.WithPrefix("silence stored, audit record failed");
  return silence;
}

StatusOr<SilenceRecord> EndSilence(Store& store, const std::string& id, const SilenceActor& actor,
                                   absl::Time now) {
  RETURN_IF_ERROR(store.EndSilence(id, now, std::string(actor.name)));
  ASSIGN_OR_RETURN(std::vector<SilenceRecord> silences, store.ListSilences());
  for (const SilenceRecord& s : silences) {
    if (s.id != id) continue;
    Status audited = Audit(store, s, actor, now);
    if (!audited.ok()) return audited.WithPrefix("silence ended, audit record failed");
    return s;
  }
  return InternalError(StrCat("silence ", id, " ended but not found again"));
}

}  // namespace certcast::api
