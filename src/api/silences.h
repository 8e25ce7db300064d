// Silence writes, one way for the API (POST / DELETE /v1/silences) and `certcast silence`: the
// store row and its audit record (kind "silence") together, so whoever set or ended a silence is
// on record whichever door they used. Who is a name (an API token's name or the operator's
// --by), never a secret.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "core/status.h"
#include "store/store.h"

namespace certcast::api {

// Who changes a silence and through what: the audit record names `name` under `field` ("token"
// for the API, "by" for the CLI) and `via` (the route or the command).
struct SilenceActor {
  std::string_view field;
  std::string_view name;
  std::string_view via;
};

// Stores `silence` under the id alert::SilenceId(nonce) (the caller draws the nonce) after
// alert::ValidateSilence (InvalidArgument naming the field), then appends its audit record.
// Returns the silence as stored.
StatusOr<SilenceRecord> AddSilence(Store& store, SilenceRecord silence, uint64_t nonce,
                                   const SilenceActor& actor, absl::Time now);

// Ends the silence `id` in force at `now` by `actor.name` and audits it; NotFound when no silence
// with that id is in force. Returns the silence as ended.
StatusOr<SilenceRecord> EndSilence(Store& store, const std::string& id, const SilenceActor& actor,
                                   absl::Time now);

}  // namespace certcast::api
