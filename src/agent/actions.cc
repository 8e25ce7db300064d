#include "agent/actions.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "core/event_json.h"
#include "core/file_safety.h"
#include "core/json_text.h"
#include "core/redact.h"
#include "core/strings.h"
#include "core/time.h"
#include "core/utf8.h"
#include "nlohmann/json.hpp"

namespace certcast::agent {
namespace {

using Json = nlohmann::ordered_json;

// A lease answer holds at most 100 actions (the route's bound) of a few KiB each.
constexpr size_t kMaxJournalBytes = 1 << 20;
constexpr size_t kMaxDetailBytes = 4096;

StatusOr<absl::Time> TimeField(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return InvalidArgumentError(StrCat(key, ": expected an RFC 3339 time"));
  auto t = ParseRfc3339(it->get<std::string>());
  if (!t.ok()) return t.status().WithPrefix(key);
  return *t;
}

StatusOr<std::string> StringField(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return InvalidArgumentError(StrCat(key, ": expected a string"));
  return it->get<std::string>();
}

StatusOr<int64_t> IdField(const Json& j) {
  auto it = j.find("id");
  if (it == j.end() || !it->is_number_integer() || it->get<int64_t>() < 1) {
    return InvalidArgumentError("id: expected a positive integer");
  }
  return it->get<int64_t>();
}

std::optional<absl::Time> FileTime(const std::string& path) {
  struct stat st = {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return absl::TimeFromTimespec(st.st_mtim);
}

// The value after `flag` in `args` ("--flag VALUE" or "--flag=VALUE"), "" when absent.
std::string FlagValue(const std::vector<std::string>& args, std::string_view flag) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == flag && i + 1 < args.size()) return args[i + 1];
    if (args[i].starts_with(StrCat(flag, "="))) return args[i].substr(flag.size() + 1);
  }
  return "";
}

}  // namespace

std::optional<absl::Time> CertificateTime(const ConfigEvent& lineage, const act::ClientSettings& client) {
  const std::string& cert = lineage.cert;
  if (cert.empty() || cert.find('/') != std::string::npos || cert.starts_with(".")) return std::nullopt;
  if (client.kind == "certbot") {
    std::string dir = FlagValue(client.extra_args, "--config-dir");
    if (dir.empty()) dir = "/etc/letsencrypt";
    return FileTime(StrCat(dir, "/live/", cert, "/cert.pem"));
  }
  if (client.kind == "lego") {
    const std::string dir = client.lego_path.empty() ? std::string(".lego") : client.lego_path;
    return FileTime(StrCat(dir, "/certificates/", cert, ".crt"));
  }
  if (client.kind == "acme.sh") {
    std::string home = FlagValue(client.extra_args, "--home");
    if (home.empty()) {
      const char* user_home = std::getenv("HOME");
      if (user_home == nullptr) return std::nullopt;
      home = StrCat(user_home, "/.acme.sh");
    }
    auto rsa = FileTime(StrCat(home, "/", cert, "/", cert, ".cer"));
    auto ecc = FileTime(StrCat(home, "/", cert, "_ecc/", cert, ".cer"));
    if (rsa && ecc) return std::max(*rsa, *ecc);
    return rsa ? rsa : ecc;
  }
  return std::nullopt;
}

std::string JournalToJson(const JournalEntry& e) {
  Json j;
  j["id"] = e.id;
  j["lease_id"] = e.lease_id;
  j["cert"] = e.cert;
  j["action"] = e.action;
  j["parameters"] = e.parameters_json;
  j["intent_at"] = FormatRfc3339(e.intent_at);
  if (e.has_outcome) {
    j["outcome"] = {{"result", e.result}, {"detail", e.detail}, {"at", FormatRfc3339(e.outcome_at)}};
  } else {
    j["outcome"] = nullptr;
  }
  j["reported"] = e.reported;
  return Dump(j);
}

StatusOr<JournalEntry> ParseJournal(std::string_view json, std::string_view what) {
  auto parsed = [&]() -> StatusOr<JournalEntry> {
    const Json j = Json::parse(json, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return InvalidArgumentError("not a JSON object");
    JournalEntry e;
    ASSIGN_OR_RETURN(e.id, IdField(j));
    ASSIGN_OR_RETURN(e.lease_id, StringField(j, "lease_id"));
    ASSIGN_OR_RETURN(e.cert, StringField(j, "cert"));
    ASSIGN_OR_RETURN(e.action, StringField(j, "action"));
    ASSIGN_OR_RETURN(e.parameters_json, StringField(j, "parameters"));
    ASSIGN_OR_RETURN(e.intent_at, TimeField(j, "intent_at"));
    auto outcome = j.find("outcome");
    if (outcome == j.end()) return InvalidArgumentError("outcome: missing (null or an object)");
    if (!outcome->is_null()) {
      if (!outcome->is_object()) return InvalidArgumentError("outcome: expected null or an object");
      e.has_outcome = true;
      ASSIGN_OR_RETURN(e.result, StringField(*outcome, "result"));
      ASSIGN_OR_RETURN(e.detail, StringField(*outcome, "detail"));
      ASSIGN_OR_RETURN(e.outcome_at, TimeField(*outcome, "at"));
    }
    auto reported = j.find("reported");
    if (reported == j.end() || !reported->is_boolean()) return InvalidArgumentError("reported: expected true or false");
    e.reported = reported->get<bool>();
    if (e.reported && !e.has_outcome) return InvalidArgumentError("reported: true without an outcome");
    return e;
  }();
  if (!parsed.ok()) return parsed.status().WithPrefix(what);
  return parsed;
}

StatusOr<LeaseAnswer> ParseLeaseAnswer(std::string_view json) {
  const Json j = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgumentError("lease answer: not a JSON object");
  auto actions = j.find("actions");
  if (actions == j.end() || !actions->is_array()) return InvalidArgumentError("lease answer: actions: expected a list");
  if (actions->size() > 1000) return InvalidArgumentError("lease answer: more than 1000 actions");
  LeaseAnswer answer;
  for (size_t i = 0; i < actions->size(); ++i) {
    const Json& a = (*actions)[i];
    const std::string where = StrCat("lease answer: actions[", i, "]");
    if (!a.is_object()) return InvalidArgumentError(StrCat(where, ": not an object"));
    LeasedAction leased;
    auto id = IdField(a);
    if (!id.ok()) return id.status().WithPrefix(where);
    leased.id = *id;
    auto lease = a.find("lease");
    if (lease == a.end() || !lease->is_object()) return InvalidArgumentError(StrCat(where, ": lease: expected an object"));
    auto lease_id = StringField(*lease, "id");
    if (!lease_id.ok() || lease_id->empty()) return InvalidArgumentError(StrCat(where, ": lease.id: expected a string"));
    leased.lease_id = *lease_id;
    auto parameters = a.find("parameters");
    leased.parameters_json = parameters == a.end() ? "" : Dump(*parameters);
    auto decoded = act::ParseAgentActionParameters(leased.parameters_json);
    if (!decoded.ok()) {
      answer.unreadable.emplace_back(std::move(leased), std::string(decoded.status().message()));
      continue;
    }
    leased.parameters = std::move(*decoded);
    answer.actions.push_back(std::move(leased));
  }
  return answer;
}

ActionRunner::ActionRunner(ActionRunnerOptions options, const Clock& clock, std::ostream& log)
    : options_(std::move(options)), clock_(clock), log_(log) {}

ActionRunner::~ActionRunner() = default;

void ActionRunner::Stop() { stop_.Stop(); }

StatusOr<std::unique_ptr<ActionRunner>> ActionRunner::Create(ActionRunnerOptions options, const Clock& clock,
                                                             std::ostream& log) {
  if (options.state_dir.empty()) return InvalidArgumentError("the act step needs a state directory");
  if (options.config.lock_dir.empty()) options.config.lock_dir = StrCat(options.state_dir, "/locks");
  if (!options.certificate_time) options.certificate_time = CertificateTime;
  std::unique_ptr<ActionRunner> runner(new ActionRunner(std::move(options), clock, log));
  runner->journal_dir_ = StrCat(runner->options_.state_dir, "/actions");
  RETURN_IF_ERROR(EnsurePrivateDirectory(runner->journal_dir_, "action journal directory"));
  runner->executor_ = std::make_unique<act::Executor>(runner->options_.config, clock,
                                                      runner->options_.sleep, &runner->stop_);
  return runner;
}

std::string ActionRunner::JournalPath(int64_t id) const { return StrCat(journal_dir_, "/", id, ".json"); }

Status ActionRunner::Journal(const JournalEntry& entry) {
  return WriteFileAtomically(JournalPath(entry.id), JournalToJson(entry), 0600)
      .WithPrefix(StrCat("action ", entry.id, " journal"));
}

void ActionRunner::Log(std::string_view level, std::string_view msg,
                       const std::vector<std::pair<std::string, std::string>>& fields) {
  WriteLogLine(log_, clock_.Now(), level, msg, fields);
}

StatusOr<bool> ActionRunner::Report(JournalEntry& entry, const PostJson& post, ActionStepReport& report) {
  Json body;
  body["lease_id"] = entry.lease_id;
  body["result"] = entry.result;
  body["detail"] = entry.detail;
  auto answer = post(StrCat("/v1/agent/actions/", entry.id, "/outcome"), Dump(body));
  if (!answer.ok()) {
    Log("warn", "reporting an action outcome failed; retried next cycle",
        {{"id", StrCat(entry.id)}, {"error", answer.status().message()}});
    return false;
  }
  if (answer->status == 401 || answer->status == 403) {
    return FailedPreconditionError(StrCat("the server refused this agent's token (HTTP ", answer->status,
                                        ") reporting action ", entry.id));
  }
  if (answer->status == 200) {
    ++report.reported;
  } else if (answer->status == 404 || answer->status == 409) {
    // The server will never take this report (the action was cancelled, expired or leased again
    // under another lease): keep the journal as the host's record, stop retrying.
    ++report.report_refused;
    Log("warn", "the server refused an action outcome for good",
        {{"id", StrCat(entry.id)}, {"status", StrCat(answer->status)},
         {"answer", ToValidUtf8(answer->body, 300)}});
  } else {
    Log("warn", "reporting an action outcome failed; retried next cycle",
        {{"id", StrCat(entry.id)}, {"status", StrCat(answer->status)}});
    return false;
  }
  entry.reported = true;
  RETURN_IF_ERROR(Journal(entry));
  return true;
}

StatusOr<ActionStepReport> ActionRunner::RunStep(const PostJson& post, const EmitEvents& emit) {
  ActionStepReport report;
  // Journals, by id.
  std::vector<JournalEntry> journal;
  {
    DIR* dir = ::opendir(journal_dir_.c_str());
    if (dir == nullptr) return UnavailableError(StrCat(journal_dir_, ": cannot list: ", std::strerror(errno)));
    std::vector<std::string> names;
    while (const dirent* d = ::readdir(dir)) {
      const std::string name = d->d_name;
      if (name.size() > 5 && name.ends_with(".json") &&
          std::all_of(name.begin(), name.end() - 5, [](char c) { return c >= '0' && c <= '9'; })) {
        names.push_back(name);
      }
    }
    ::closedir(dir);
    for (const std::string& name : names) {
      const std::string path = StrCat(journal_dir_, "/", name);
      auto text = ReadFileNoFollow(path, kMaxJournalBytes);
      if (!text.ok()) return text.status();
      auto entry = ParseJournal(*text, path);
      // A journal this agent cannot read means it cannot tell whether the action ran: stop acting
      // rather than risk running it twice.
      if (!entry.ok()) return DataLossError(StrCat(entry.status().message(), "; move it aside to act again"));
      if (entry->reported && clock_.Now() - entry->outcome_at > options_.journal_keep) {
        ::unlink(path.c_str());
        continue;
      }
      journal.push_back(std::move(*entry));
    }
  }
  // 1. Reconcile what was interrupted.
  for (JournalEntry& e : journal) {
    if (e.has_outcome) continue;
    auto parameters = act::ParseAgentActionParameters(e.parameters_json);
    std::optional<absl::Time> written;
    if (parameters.ok() && e.action == "renew") {
      written = options_.certificate_time(parameters->lineage, options_.config.lineages.contains(e.cert)
                                                                  ? options_.config.lineages.at(e.cert)
                                                                  : options_.config.client);
    }
    e.has_outcome = true;
    e.outcome_at = clock_.Now();
    if (written && *written > e.intent_at) {
      e.result = "success";
      e.detail = StrCat("interrupted; reconciled after a restart: the certificate on disk (written ",
                        FormatRfc3339(*written), ") is newer than the intent (", FormatRfc3339(e.intent_at), ")");
    } else {
      e.result = "unknown";
      e.detail = StrCat("interrupted (the agent stopped while it ran, intent ", FormatRfc3339(e.intent_at),
                        "); not run again", e.action == "renew" ? "; no newer certificate on disk" : "");
    }
    RETURN_IF_ERROR(Journal(e));
    ++report.reconciled;
    Log("warn", "interrupted action reconciled, not run again",
        {{"id", StrCat(e.id)}, {"cert", e.cert}, {"result", e.result}, {"detail", e.detail}});
  }
  // 2. Report what the server has not acknowledged.
  for (JournalEntry& e : journal) {
    if (e.reported) continue;
    ASSIGN_OR_RETURN(bool done, Report(e, post, report));
    (void)done;
  }
  // 3. Lease and carry out, one action per lease: an agent killed mid-action leaves only that
  // one leased, not a batch that would wait for its leases to run out.
  auto journaled = [&](int64_t id) -> JournalEntry* {
    for (JournalEntry& e : journal) {
      if (e.id == id) return &e;
    }
    return nullptr;
  };
  for (int round = 0; round < options_.max_per_step && !stop_.stopped(); ++round) {
    auto leased = post("/v1/agent/actions/lease", R"({"max":1})");
    if (!leased.ok()) {
      Log("warn", "leasing actions failed; retried next cycle", {{"error", leased.status().message()}});
      break;
    }
    if (leased->status == 401 || leased->status == 403) {
      return FailedPreconditionError(StrCat("the server refused this agent's token (HTTP ", leased->status,
                                            ") leasing actions"));
    }
    if (leased->status != 200) {
      Log("warn", "leasing actions failed; retried next cycle",
          {{"status", StrCat(leased->status)}, {"answer", ToValidUtf8(leased->body, 300)}});
      break;
    }
    auto answer = ParseLeaseAnswer(leased->body);
    if (!answer.ok()) {
      Log("error", "the lease answer is unreadable", {{"error", answer.status().message()}});
      break;
    }
    if (answer->actions.empty() && answer->unreadable.empty()) break;
    report.leased += static_cast<int>(answer->actions.size() + answer->unreadable.size());
    // Leased again (the server did not get the report, or the lease ran out) but journaled
    // already: reported under the new lease, never run a second time. False when not journaled.
    auto report_again = [&](const LeasedAction& action) -> StatusOr<bool> {
      JournalEntry* known = journaled(action.id);
      if (known == nullptr) return false;
      ++report.already_journaled;
      known->lease_id = action.lease_id;
      known->reported = false;
      RETURN_IF_ERROR(Journal(*known));
      ASSIGN_OR_RETURN(bool done, Report(*known, post, report));
      (void)done;
      return true;
    };
    for (auto& [action, why] : answer->unreadable) {
      ASSIGN_OR_RETURN(bool again, report_again(action));
      if (again) continue;
      JournalEntry e{.id = action.id, .lease_id = action.lease_id, .cert = "", .action = "",
                     .parameters_json = action.parameters_json, .intent_at = clock_.Now(),
                     .has_outcome = true, .result = "refused",
                     .detail = ToValidUtf8(StrCat("this agent cannot read the action: ", why), kMaxDetailBytes),
                     .outcome_at = clock_.Now(), .reported = false};
      RETURN_IF_ERROR(Journal(e));
      ++report.refused;
      Log("error", "leased action unreadable; refused", {{"id", StrCat(e.id)}, {"error", why}});
      journal.push_back(e);
      ASSIGN_OR_RETURN(bool done, Report(journal.back(), post, report));
      (void)done;
    }
    for (LeasedAction& action : answer->actions) {
      ASSIGN_OR_RETURN(bool again, report_again(action));
      if (again) continue;
      const act::AgentActionParameters& p = action.parameters;
      JournalEntry e{.id = action.id, .lease_id = action.lease_id, .cert = p.action.cert,
                     .action = std::string(ToString(p.action.kind)), .parameters_json = action.parameters_json,
                     .intent_at = clock_.Now(), .has_outcome = false, .result = "", .detail = "",
                     .outcome_at = absl::InfinitePast(), .reported = false};
      // The intent is on disk before anything runs: a crash from here on is reconciled, not re-run.
      RETURN_IF_ERROR(Journal(e));
      Log("info", "action started", {{"id", StrCat(e.id)}, {"cert", e.cert}, {"action", e.action},
                                     {"reason", p.reason_code}});
      ++report.ran;
      auto executed = executor_->Execute(p.action, p.lineage, p.reason_code);
      if (!executed.ok()) {
        e.result = "failure";
        e.detail = StrCat("certcast agent: ", executed.status().message());
      } else {
        const act::ExecutionReport& r = *executed;
        e.result = r.refused ? "refused" : r.skipped ? "skipped" : r.success ? "success" : "failure";
        e.detail = r.detail;
        if (!r.events.empty()) {
          const Status emitted = emit(r.events);
          if (!emitted.ok()) {
            Log("error", "action result events not queued", {{"id", StrCat(e.id)}, {"error", emitted.message()}});
          }
        }
      }
      e.detail = ToValidUtf8(RedactSecrets(e.detail), kMaxDetailBytes);
      e.has_outcome = true;
      e.outcome_at = clock_.Now();
      RETURN_IF_ERROR(Journal(e));
      if (e.result == "success") ++report.succeeded;
      else if (e.result == "refused") ++report.refused;
      else ++report.failed;
      Log(e.result == "success" ? "info" : "warn", "action done",
          {{"id", StrCat(e.id)}, {"cert", e.cert}, {"result", e.result}, {"detail", e.detail}});
      journal.push_back(e);
      ASSIGN_OR_RETURN(bool done, Report(journal.back(), post, report));
      (void)done;
    }
  }
  return report;
}

}  // namespace certcast::agent
