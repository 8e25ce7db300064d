// The agent's act step (issue #17): carry out the actions the server queued for this host exactly
// once, even when the agent is killed in the middle of one (docs/architecture.md, "The life of one
// event", step 7; docs/api.md, "Actions carried out by agents").
//
// One step (ActionRunner::RunStep):
//   1. Reconcile: an action whose intent is journaled without an outcome was interrupted (kill -9,
//      power loss). It is never run again blindly: a renewal whose lineage's certificate on disk
//      is newer than the intent is "success"; anything else is "unknown" (reported as a failure;
//      the server's policy decides again after its retry interval, with a new action).
//   2. Report every journaled outcome the server has not acknowledged (POST
//      /v1/agent/actions/{id}/outcome). 200 (also a repeated report) marks it reported; 404 or 409
//      (the server will never take it: cancelled, expired, a stale lease) marks it reported with a
//      warning; 401/403 ends the step with FailedPrecondition (the token was revoked); anything else
//      is retried next step.
//   3. Lease (POST /v1/agent/actions/lease), one action at a time so that a crash leaves at most
//      one leased, up to max_per_step, and carry out each action not journaled yet: write the
//      intent (fsync), run the executor (act/executor.h) with THIS host's configuration, whose CA
//      and challenge allow-lists win over whatever the server says (a refused action runs nothing
//      and is reported "refused"), write the outcome (fsync), hand its events (renewal, deploy) to
//      `emit` (the outbox), then report. An action leased again that is journaled already is
//      reported, never run again.
//
// Journal: STATE_DIR/actions (0700), one file per action id, "<id>.json", replaced atomically at
// each stage (file_safety.h WriteFileAtomically: fsync, rename, fsync of the directory), 0600:
//   {"id", "lease_id", "cert", "action", "parameters", "intent_at", "outcome": null |
//    {"result", "detail", "at"}, "reported": bool}
// Reported journals older than journal_keep are deleted at the start of a step.
//
// Thread safety: one ActionRunner per state directory, from one thread (the agent's lock).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "act/agent_action.h"
#include "act/config.h"
#include "act/executor.h"
#include "act/stop_signal.h"
#include "core/clock.h"
#include "core/event.h"
#include "core/status.h"

namespace certcast::agent {

// An HTTP answer from the server (any status); an error only when no answer came.
struct ActionServerAnswer {
  int status = 0;
  std::string body;
};
// POSTs a JSON body to a path of the server (the agent's ServerClient).
using PostJson = std::function<StatusOr<ActionServerAnswer>(const std::string& path, const std::string& json)>;
// Appends events to the outbox durably (outbox.h Append).
using EmitEvents = std::function<Status(std::span<const Event> events)>;

struct ActionRunnerOptions {
  std::string state_dir;   // the agent's --state-dir; the journal is in its actions/
  act::DaemonConfig config;  // executors and allow-lists of this host (--config); lock_dir ""
                             // = STATE_DIR/locks
  int max_per_step = 10;   // actions leased (one by one) per step
  absl::Duration journal_keep = absl::Hours(24 * 30);
  // When the lineage's current certificate was written on this host (nullopt: unknown); the
  // reconciliation's evidence. Default: CertificateTime.
  std::function<std::optional<absl::Time>(const ConfigEvent& lineage, const act::ClientSettings& client)>
      certificate_time;
  // Waits between executor retries (tests pass a recorder); null = a wait Stop() interrupts.
  std::function<void(absl::Duration)> sleep;
};

struct ActionStepReport {
  int reconciled = 0;     // interrupted actions given an outcome without running them again
  int reported = 0;       // outcomes the server acknowledged
  int report_refused = 0; // outcomes the server will never take (404, 409)
  int leased = 0;
  int ran = 0, succeeded = 0, failed = 0, refused = 0;
  int already_journaled = 0;  // leased again but carried out (or reconciled) before: not run
};

// The modification time of the lineage's certificate as its client keeps it: certbot
// CONFIG_DIR/live/CERT/cert.pem (CONFIG_DIR from --config-dir in the client's extra_args, else
// /etc/letsencrypt), lego LEGO_PATH/certificates/CERT.crt (lego_path, else ./.lego), acme.sh
// ~/.acme.sh/CERT/CERT.cer (--home in extra_args, else $HOME/.acme.sh; CERT_ecc as well).
std::optional<absl::Time> CertificateTime(const ConfigEvent& lineage, const act::ClientSettings& client);

// One journaled action (exposed for tests and the fuzz target).
struct JournalEntry {
  int64_t id = 0;
  std::string lease_id, cert, action, parameters_json;
  absl::Time intent_at;
  bool has_outcome = false;
  std::string result, detail;
  absl::Time outcome_at;
  bool reported = false;
};
std::string JournalToJson(const JournalEntry& entry);
// Strict; InvalidArgument naming the field. `what` (the file) prefixes the message.
StatusOr<JournalEntry> ParseJournal(std::string_view json, std::string_view what);

// An action as leased (an element of the lease answer's "actions").
struct LeasedAction {
  int64_t id = 0;
  std::string lease_id;
  act::AgentActionParameters parameters;
  std::string parameters_json;
};
// The lease route's answer. An action whose parameters this agent cannot read is returned with
// its id and lease and the reason in `unreadable` (it is reported "refused", never run).
struct LeaseAnswer {
  std::vector<LeasedAction> actions;
  std::vector<std::pair<LeasedAction, std::string>> unreadable;
};
StatusOr<LeaseAnswer> ParseLeaseAnswer(std::string_view json);

class ActionRunner {
 public:
  // Creates STATE_DIR/actions (0700) and the lock directory. Errors name the path.
  static StatusOr<std::unique_ptr<ActionRunner>> Create(ActionRunnerOptions options, const Clock& clock,
                                                        std::ostream& log);
  ~ActionRunner();

  // One act step (above). Errors: FailedPrecondition when the server refused the token, or the
  // journal could not be written (then nothing more runs in this step).
  StatusOr<ActionStepReport> RunStep(const PostJson& post, const EmitEvents& emit);
  // Interrupts executor retry waits; the client run in progress finishes.
  void Stop();

 private:
  ActionRunner(ActionRunnerOptions options, const Clock& clock, std::ostream& log);
  Status Journal(const JournalEntry& entry);
  // Reports `entry`'s outcome; true when the server acknowledged or refused it for good.
  StatusOr<bool> Report(JournalEntry& entry, const PostJson& post, ActionStepReport& report);
  void Log(std::string_view level, std::string_view msg,
           const std::vector<std::pair<std::string, std::string>>& fields = {});
  std::string JournalPath(int64_t id) const;

  ActionRunnerOptions options_;
  const Clock& clock_;
  std::ostream& log_;
  std::string journal_dir_;
  act::StopSignal stop_;
  std::unique_ptr<act::Executor> executor_;
};

}  // namespace certcast::agent
