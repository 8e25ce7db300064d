// Executors: carry a PlannedAction out for real and record what happened.
//
//   renew / dry_run -> the lineage's ACME client (certbot, lego, acme.sh) with argv built here;
//                      result recorded as a `renewal` event (trigger "forced", dry_run as planned)
//   reload          -> the reload command configured for the host; result as a `deploy` event
//   alert           -> webhook (JSON POST) and/or command (alert JSON on stdin); audit only
//
// Every execution holds a per-lineage lock (flock on LOCK_DIR/<cert>.lock, so two certcast
// processes never run the client for the same lineage at once; LOCK_DIR must be the daemon's
// own, see DaemonConfig::lock_dir), has a timeout, and follows the retry table below. With
// dry_run set nothing runs: the report lists the argv that would run.
//
// What reaches a client's command line from events is checked first (CheckActionAllowed): the
// CA and the challenge must be allowed by the daemon's configuration, names must be DNS names.
// A refused renewal runs nothing and becomes an alert naming the refused value.
//
// Retry table (attempts, waits between them, what is retried):
//   renew      1 attempt   never retried: the client has its own retry schedule, and every
//                          failed validation counts against Let's Encrypt's 5 failed
//                          authorizations per identifier per hour
//   dry_run    1 attempt   never retried (staging limits; the plan repeats it days later)
//   reload     3 attempts  5 s, 30 s     on a non-zero exit or a timeout
//   webhook    4 attempts  2 s, 10 s, 60 s  on a network error, HTTP 429 or 5xx; other 4xx are
//                          final (the request itself is wrong)
//   alert cmd  2 attempts  10 s          on a non-zero exit or a timeout
//
// Thread safety: an Executor may be used from one thread at a time.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "act/config.h"
#include "core/action.h"
#include "core/clock.h"
#include "core/event.h"
#include "core/status.h"

namespace certcast::act {

class StopSignal;

struct RetryPolicy {
  int attempts = 1;
  std::vector<absl::Duration> waits;  // waits[i] before attempt i + 2
};
RetryPolicy RetryFor(ActionKind kind);
inline const RetryPolicy kWebhookRetry{4, {absl::Seconds(2), absl::Seconds(10), absl::Seconds(60)}};
inline const RetryPolicy kAlertCommandRetry{2, {absl::Seconds(10)}};

// The argv that renews (or dry-runs) `action` for a lineage configured as `config` with client
// settings `client`. InvalidArgument when the action asks for something the settings cannot do
// (a dns-01 switch without a dns_provider for lego/acme.sh).
StatusOr<std::vector<std::string>> ClientArgv(const ClientSettings& client,
                                              const ConfigEvent& config,
                                              const PlannedAction& action);

// OK when `action` for the lineage configured as `lineage` (its latest config event) uses only
// what the operator allowed: every CA it would pass to `--server` is in config.allowed_cas, the
// lineage's [[lineage]] alt_cas or a staging_server; every challenge it would select on the
// command line is in config.allowed_challenges, the lineage's alt_challenges or one `client`
// has plumbing for; the cert key does not start with '-' and every name is a DNS name
// (ValidateDnsName). FailedPrecondition naming the refused value otherwise.
Status CheckActionAllowed(const DaemonConfig& config, const ClientSettings& client,
                          const ConfigEvent& lineage, const PlannedAction& action);

// The reason code of the alert sent in place of a refused action.
inline constexpr char kReasonActionRefused[] = "ActionRefused";

struct ExecutionReport {
  std::vector<std::vector<std::string>> commands;  // argv of each attempt (or that would run)
  int attempts = 0;
  bool success = false;
  bool skipped = false;        // lock held by another run, or dry-run mode
  bool refused = false;        // not allowed (CheckActionAllowed): nothing ran, an alert went out
  std::string detail;          // what happened, one line
  std::string output;          // the last attempt's stdout then stderr (bounded by the capture)
  bool timed_out = false;      // the last attempt hit its timeout
  std::vector<Event> events;   // renewal / deploy events to store
};

// The events-v1 `error` of a failed client run, from what the client printed: the ACME problem
// type when it names one (lego and acme.sh print the URN; certbot prints "Type:   connection"),
// "timeout" when the run timed out, else the client-side code its log parsers would give
// (clients::ClassifyClientError: network, timeout, dns_api, hook, local, unknown).
// The policy's diagnosis starts from this code, so "unknown" loses the cause.
std::string ClassifyClientFailure(std::string_view output, bool timed_out);
// The one line of a failed client run's output that says what failed (the CA's problem detail,
// else the first error line, else the first non-blank line), trimmed to 300 bytes.
std::string TellingLine(std::string_view output);

class Executor {
 public:
  // `sleep` waits between retries (tests pass a recorder instead of sleeping); by default the
  // wait ends early on `stop` (may be null: a plain sleep). After a wait, a stop request ends the
  // retries: the report says so.
  Executor(DaemonConfig config, const Clock& clock,
           std::function<void(absl::Duration)> sleep = nullptr, StopSignal* stop = nullptr);

  // Carries out `action` for the lineage whose latest config is `lineage`. Errors are about
  // certcast itself (cannot create the lock directory); a failing client is a report with
  // success false.
  // `reason_code` is the policy's reason (e.g. RenewalFailing): alerts carry it as `code` so a
  // receiver can route on it without parsing the sentence.
  StatusOr<ExecutionReport> Execute(const PlannedAction& action, const ConfigEvent& lineage,
                                    std::string_view reason_code = {});

  // Sends an alert through the configured webhook and command: one JSON object, {"cert", "code"?,
  // "host"?, "names"?, "reason", "risk", "at", "source"}; host and names come from `lineage` when
  // known. Exposed for tests.
  ExecutionReport SendAlert(const PlannedAction& action, const ConfigEvent& lineage = {},
                            std::string_view reason_code = {});
  // Sends an incident notice (alert.incidents) through the webhook and command: one JSON object,
  // {"incident", "state" (firing/resolved), "severity", "cause", "cause_key", "dedupe_key",
  // "lineages", "summary", "starts_at", "ends_at"?, "at", "source"}. Alertmanager is the
  // daemon's (it keeps an outbox); success when no webhook or command is configured.
  ExecutionReport SendNotification(const alert::Notification& notification);

 private:
  ExecutionReport RunWithRetry(const std::vector<std::string>& argv, absl::Duration timeout,
                               const RetryPolicy& retry,
                               const std::map<std::string, std::string>& env,
                               const std::string& stdin_text, int lineage_lock_fd = -1);
  bool Stopping() const;
  DaemonConfig config_;
  const Clock& clock_;
  std::function<void(absl::Duration)> sleep_;
  StopSignal* stop_;
};

// POSTs `json` to `url`. Returns the HTTP status (0 with a message on a network error).
struct HttpResult {
  long status = 0;
  std::string error;
};
HttpResult PostJson(const std::string& url, const std::string& json, absl::Duration timeout);

// Lock file name for a lineage: characters outside [A-Za-z0-9._-] become %XX, so a cert-manager
// "namespace/name" cannot escape the lock directory.
std::string LockFileName(std::string_view cert);

}  // namespace certcast::act
