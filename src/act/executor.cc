#include "act/executor.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <thread>

#include "act/process.h"
#include "act/stop_signal.h"
#include "core/event_json.h"
#include "collect/clients/common.h"
#include "core/file_safety.h"
#include "core/strings.h"
#include "core/redact.h"
#include "core/time.h"
#include "core/utf8.h"
#include "curl/curl.h"
#include "nlohmann/json.hpp"

namespace certcast::act {
namespace {

// flock-based lock held for the lifetime of the object. The directory is the daemon's own
// (EnsurePrivateDirectory: 0700, owned by this uid, nobody else may write): a lock directory
// another user controls lets that user hold a lineage's lock forever (no renewal) or plant a
// symlink that root's open would follow. O_NOFOLLOW refuses such a symlink even so.
class LineageLock {
 public:
  static StatusOr<std::unique_ptr<LineageLock>> TryAcquire(const std::string& dir,
                                                           std::string_view cert) {
    RETURN_IF_ERROR(EnsurePrivateDirectory(dir, "lock directory"));
    const std::string path = StrCat(dir, "/", LockFileName(cert));
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == ELOOP) {
        return FailedPreconditionError(
            StrCat("lock file ", path, ": is a symlink; refusing to follow it"));
      }
      return UnavailableError(StrCat("lock file ", path, ": ", std::strerror(errno)));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);
      return std::unique_ptr<LineageLock>();  // held elsewhere
    }
    return std::unique_ptr<LineageLock>(new LineageLock(fd));
  }
  int fd() const { return fd_; }
  ~LineageLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  explicit LineageLock(int fd) : fd_(fd) {}
  int fd_;
};

std::string ProgramOf(const ClientSettings& c) {
  if (!c.path.empty()) return c.path;
  return c.kind;
}

// The configured arguments that select `challenge` (empty: build them from dns_provider/webroot).
// certbot and acme.sh remember a lineage's challenge, so they get these only on a switch.
const std::vector<std::string>& SwitchArgs(const ClientSettings& c, Challenge challenge) {
  static const std::vector<std::string> kNone;
  if (challenge == Challenge::kDns01) return c.dns01_args;
  if (challenge == Challenge::kHttp01) return c.http01_args;
  return kNone;
}

// Longest `detail` of a renewal or deploy event the executor stores: the one line that says what
// failed, with the exit code.
constexpr size_t kMaxEventDetailBytes = 500;

std::string MainName(const ConfigEvent& config) {
  return config.names.empty() ? config.cert : config.names.front();
}

}  // namespace

std::string TellingLine(std::string_view output) {
  // certbot ends every failure with "Ask for help ..." and lego with its usage hint: the line
  // that says what failed is the CA's problem detail or the client's error line.
  std::string_view best;
  int best_rank = 0;
  size_t start = 0;
  while (start < output.size()) {
    size_t end = output.find('\n', start);
    if (end == std::string_view::npos) end = output.size();
    std::string_view line = output.substr(start, end - start);
    start = end + 1;
    int rank = 0;
    if (line.find("Detail:") != std::string_view::npos) rank = 3;
    else if (line.find("urn:ietf:params:acme:error:") != std::string_view::npos) rank = 3;
    else if (line.find("rror") != std::string_view::npos) rank = 2;
    else if (!line.empty() && line.find_first_not_of(" -") != std::string_view::npos) rank = 1;
    // The first problem line wins; without one, the last line (as before this function).
    if (rank > best_rank || (rank == 1 && best_rank == 1)) best = line, best_rank = rank;
  }
  if (size_t text = best.find_first_not_of(' '); text != std::string_view::npos) {
    best.remove_prefix(text);
  }
  return LastLine(best);
}

std::string ClassifyClientFailure(std::string_view output, bool timed_out) {
  static constexpr std::string_view kUrn = "urn:ietf:params:acme:error:";
  auto word_at = [&](size_t start) {
    size_t end = start;
    while (end < output.size() && std::isalnum(static_cast<unsigned char>(output[end]))) ++end;
    return output.substr(start, end - start);
  };
  // The first problem named is the one that failed the order; later ones are follow-ups.
  if (size_t at = output.find(kUrn); at != std::string_view::npos) {
    if (std::string_view type = word_at(at + kUrn.size()); !type.empty()) return StrCat(kUrn, type);
  }
  // certbot: "  Type:   connection" in its list of problems the CA reported.
  for (size_t at = output.find("Type:"); at != std::string_view::npos;
       at = output.find("Type:", at + 1)) {
    if (at > 0 && output[at - 1] != ' ' && output[at - 1] != '\n') continue;
    size_t start = at + 5;
    while (start < output.size() && output[start] == ' ') ++start;
    if (std::string_view type = word_at(start); !type.empty()) return StrCat(kUrn, type);
  }
  // certbot prints the problem's detail without its type when registration fails on a nonce.
  if (output.find("invalid anti-replay nonce") != std::string_view::npos) {
    return StrCat(kUrn, "badNonce");
  }
  if (timed_out) return "timeout";
  // The same client-side codes the log parsers give (network, timeout, dns_api, hook, local).
  return clients::ClassifyClientError(output);
}

RetryPolicy RetryFor(ActionKind kind) {
  switch (kind) {
    case ActionKind::kRenew:
    case ActionKind::kDryRun:
      return RetryPolicy{1, {}};
    case ActionKind::kReload:
      return RetryPolicy{3, {absl::Seconds(5), absl::Seconds(30)}};
    case ActionKind::kAlert:
      return kWebhookRetry;
  }
  return RetryPolicy{};
}

std::string LockFileName(std::string_view cert) {
  std::string out;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char ch : cert) {
    if (std::isalnum(ch) || ch == '.' || ch == '_' || ch == '-') {
      out.push_back(static_cast<char>(ch));
    } else {
      out.push_back('%');
      out.push_back(kHex[ch >> 4]);
      out.push_back(kHex[ch & 15]);
    }
  }
  if (out.empty() || out[0] == '.') out.insert(0, "%");  // never "." or ".."
  return out + ".lock";
}

StatusOr<std::vector<std::string>> ClientArgv(const ClientSettings& client,
                                              const ConfigEvent& config,
                                              const PlannedAction& action) {
  const bool dry_run = action.kind == ActionKind::kDryRun;
  const Challenge challenge = action.challenge.value_or(config.challenge);
  const bool switching = action.challenge.has_value();
  std::vector<std::string> argv = {ProgramOf(client)};
  if (client.kind == "certbot") {
    argv.insert(argv.end(), {"renew", "--cert-name", config.cert, "--non-interactive"});
    // --dry-run validates and saves nothing; --force-renewal renews now even though certbot's
    // own rule says "not yet". certbot's dry run always goes to Let's Encrypt's staging CA unless
    // --server is on the command line, whatever CA the lineage uses: name the staging CA.
    if (dry_run) {
      argv.insert(argv.end(), {"--dry-run", "--server", client.staging_server});
    } else {
      argv.push_back("--force-renewal");
    }
    if (switching) {
      argv.insert(argv.end(), {"--preferred-challenges", std::string(ToString(challenge))});
      if (const auto& args = SwitchArgs(client, challenge); !args.empty()) {
        argv.insert(argv.end(), args.begin(), args.end());
      } else if (challenge == Challenge::kDns01) {
        if (client.dns_provider.empty()) {
          return InvalidArgumentError(
              StrCat(config.cert, ": switching to dns-01 needs client.dns_provider (a certbot DNS "
                                  "plugin such as dns-cloudflare)"));
        }
        argv.push_back(StrCat("--", client.dns_provider));
      } else if (challenge == Challenge::kHttp01 && !client.webroot.empty()) {
        argv.insert(argv.end(), {"--webroot", "--webroot-path", client.webroot});
      }
    }
    if (action.ca) argv.insert(argv.end(), {"--server", *action.ca});
  } else if (client.kind == "lego") {
    argv.insert(argv.end(), {"--accept-tos"});
    if (!client.email.empty()) argv.insert(argv.end(), {"--email", client.email});
    if (!client.lego_path.empty()) {
      // Staging state lives apart from production state, so a dry run never touches real certs.
      argv.insert(argv.end(), {"--path", dry_run ? client.lego_path + "/staging" : client.lego_path});
    }
    const std::string server = dry_run ? client.staging_server : action.ca.value_or(config.ca);
    argv.insert(argv.end(), {"--server", server});
    for (const std::string& name : config.names) argv.insert(argv.end(), {"--domains", name});
    // lego keeps no challenge in its state: the flags go on every run, switched or not.
    if (const auto& args = SwitchArgs(client, challenge); !args.empty()) {
      argv.insert(argv.end(), args.begin(), args.end());
    } else switch (challenge) {
      case Challenge::kHttp01:
        argv.push_back("--http");
        if (!client.webroot.empty()) argv.insert(argv.end(), {"--http.webroot", client.webroot});
        break;
      case Challenge::kDns01:
        if (client.dns_provider.empty()) {
          return InvalidArgumentError(
              StrCat(config.cert, ": dns-01 with lego needs client.dns_provider (e.g. cloudflare)"));
        }
        argv.insert(argv.end(), {"--dns", client.dns_provider});
        break;
      case Challenge::kTlsAlpn01:
        argv.push_back("--tls");
        break;
    }
    if (dry_run) {
      argv.push_back("run");  // a staging issuance: validation end to end, nothing trusted issued
    } else {
      // lego renews when fewer than --days remain; a lifetime longer than any certificate forces it.
      argv.insert(argv.end(), {"renew", "--days", "100000", "--no-random-sleep"});
    }
  } else if (client.kind == "acme.sh") {
    if (dry_run) {
      argv.insert(argv.end(), {"--issue", "--staging", "--force"});
      for (const std::string& name : config.names) argv.insert(argv.end(), {"-d", name});
    } else {
      argv.insert(argv.end(), {"--renew", "-d", MainName(config), "--force"});
      if (action.ca) argv.insert(argv.end(), {"--server", *action.ca});
    }
    if (const auto& args = SwitchArgs(client, challenge); switching && !args.empty()) {
      argv.insert(argv.end(), args.begin(), args.end());
    } else if (switching || dry_run) {
      switch (challenge) {
        case Challenge::kHttp01:
          if (!client.webroot.empty()) argv.insert(argv.end(), {"-w", client.webroot});
          else argv.push_back("--standalone");
          break;
        case Challenge::kDns01:
          if (client.dns_provider.empty()) {
            return InvalidArgumentError(
                StrCat(config.cert, ": dns-01 with acme.sh needs client.dns_provider (e.g. dns_cf)"));
          }
          argv.insert(argv.end(), {"--dns", client.dns_provider});
          break;
        case Challenge::kTlsAlpn01:
          argv.push_back("--alpn");
          break;
      }
    }
  } else {
    return InvalidArgumentError(StrCat("unknown client kind \"", client.kind, "\""));
  }
  argv.insert(argv.end(), client.extra_args.begin(), client.extra_args.end());
  return argv;
}

Status CheckActionAllowed(const DaemonConfig& config, const ClientSettings& client,
                          const ConfigEvent& lineage, const PlannedAction& action) {
  // An argv element starting with '-' is an option to the client, whatever its position.
  if (action.cert.starts_with("-") || lineage.cert.starts_with("-")) {
    return FailedPreconditionError(
        StrCat("cert \"", action.cert, "\" starts with '-': not passed to a client"));
  }
  for (const std::string& name : lineage.names) {
    if (Status s = ValidateDnsName(name); !s.ok()) {
      return FailedPreconditionError(
          StrCat("name \"", name, "\" is not a DNS name (", s.message(), "): not passed to a client"));
    }
  }
  const LineageAlternatives* declared = nullptr;
  if (auto it = config.alternatives.find(action.cert); it != config.alternatives.end()) {
    declared = &it->second;
  }
  const bool dry_run = action.kind == ActionKind::kDryRun;
  // Every CA the argv would name with --server (ClientArgv): a switch's CA, and lego's lineage CA
  // on a real run (lego has no state that remembers it).
  std::vector<std::string> cas;
  if (action.ca) cas.push_back(*action.ca);
  else if (client.kind == "lego" && !dry_run) cas.push_back(lineage.ca);
  for (const std::string& ca : cas) {
    auto in = [&](const std::vector<std::string>& list) {
      return std::find(list.begin(), list.end(), ca) != list.end();
    };
    const bool allowed = in(config.allowed_cas) || (declared && in(declared->alt_cas)) ||
                         ca == client.staging_server || ca == config.client.staging_server;
    if (!allowed) {
      return FailedPreconditionError(StrCat(
          "CA \"", ca, "\" is not allowed (allowed_cas, the lineage's alt_cas in [[lineage]], "
          "staging_server): not passed to a client"));
    }
  }
  // The challenge the argv selects: a switch's, and lego's on every run.
  std::optional<Challenge> challenge = action.challenge;
  if (!challenge && client.kind == "lego") challenge = lineage.challenge;
  if (challenge) {
    auto in = [&](const std::vector<Challenge>& list) {
      return std::find(list.begin(), list.end(), *challenge) != list.end();
    };
    const bool plumbed =
        (*challenge == Challenge::kDns01 && (!client.dns_provider.empty() || !client.dns01_args.empty())) ||
        (*challenge == Challenge::kHttp01 && (!client.webroot.empty() || !client.http01_args.empty()));
    if (!(plumbed || in(config.allowed_challenges) || (declared && in(declared->alt_challenges)))) {
      return FailedPreconditionError(StrCat(
          "challenge ", ToString(*challenge), " is not allowed (allowed_challenges, the lineage's "
          "alt_challenges in [[lineage]], or client settings for it): not passed to a client"));
    }
  }
  return OkStatus();
}

Executor::Executor(DaemonConfig config, const Clock& clock, std::function<void(absl::Duration)> sleep,
                   StopSignal* stop)
    : config_(std::move(config)), clock_(clock), sleep_(std::move(sleep)), stop_(stop) {
  if (!sleep_) {
    if (stop_) {
      // Interruptible: Stop() ends a 60 s retry wait at once.
      sleep_ = [stop](absl::Duration d) { stop->WaitFor(d); };
    } else {
      sleep_ = [](absl::Duration d) { std::this_thread::sleep_for(absl::ToChronoNanoseconds(d)); };
    }
  }
}

bool Executor::Stopping() const { return stop_ != nullptr && stop_->stopped(); }

ExecutionReport Executor::RunWithRetry(const std::vector<std::string>& argv,
                                       absl::Duration timeout, const RetryPolicy& retry,
                                       const std::map<std::string, std::string>& env,
                                       const std::string& stdin_text, int lineage_lock_fd) {
  ExecutionReport report;
  for (int attempt = 0; attempt < retry.attempts; ++attempt) {
    if (attempt > 0) {
      sleep_(retry.waits[std::min<size_t>(attempt - 1, retry.waits.size() - 1)]);
      if (Stopping()) {
        report.detail += " (no retry: certcast is stopping)";
        break;
      }
    }
    // Records show the argv with its secrets (an EAB HMAC key) redacted; the program gets it whole.
    report.commands.push_back(RedactArgv(argv));
    ++report.attempts;
    ProcessOptions options;
    options.timeout = timeout;
    options.stdin_text = stdin_text;
    options.environment = ChildEnvironment(env);
    // A client run outlives a crash of certcast: it keeps the lineage's lock (so a restarted
    // certcast does not start a second renewal beside it) and writes to files, not pipes.
    options.inherited_fd = lineage_lock_fd;
    options.detached_output = lineage_lock_fd >= 0;
    auto result = RunProcess(argv, options);
    if (!result.ok()) {
      report.detail = RedactSecrets(result.status().message());
      continue;  // not startable: retrying may help if it was a transient exec failure
    }
    report.output = result->stdout_text + result->stderr_text;
    report.timed_out = result->timed_out;
    if (result->ok()) {
      report.success = true;
      report.detail = StrCat("exit 0 in ", absl::FormatDuration(result->duration));
      return report;
    }
    report.detail = result->timed_out
                        ? StrCat("timed out after ", absl::FormatDuration(timeout))
                        : StrCat("exit ", result->exit_code,
                                 result->signal ? StrCat(" (signal ", result->signal, ")") : "",
                                 ": ", RedactSecrets(TellingLine(report.output)));
    if (result->timed_out) report.detail += " [timeout]";
  }
  return report;
}

ExecutionReport Executor::SendNotification(const alert::Notification& n) {
  ExecutionReport report;
  nlohmann::ordered_json body;
  body["incident"] = n.incident_id;
  body["state"] = n.kind == alert::Notification::Kind::kFiring ? "firing" : "resolved";
  body["severity"] = alert::ToString(n.severity);
  body["cause"] = n.cause;
  body["cause_key"] = n.cause_key;
  body["dedupe_key"] = n.dedupe_key;
  body["lineages"] = n.certs;
  body["summary"] = n.summary;
  body["starts_at"] = FormatRfc3339(n.starts_at);
  if (n.ends_at) body["ends_at"] = FormatRfc3339(*n.ends_at);
  body["at"] = FormatRfc3339(clock_.Now());
  body["source"] = "certcast";
  const std::string json = body.dump();
  bool all_ok = true;
  std::vector<std::string> details;
  if (!config_.alert.webhook.empty()) {
    report.commands.push_back({"POST", UrlForRecords(config_.alert.webhook)});
    HttpResult last;
    for (int attempt = 0; attempt < kWebhookRetry.attempts; ++attempt) {
      if (attempt > 0) {
        sleep_(kWebhookRetry.waits[attempt - 1]);
        if (Stopping()) break;
      }
      ++report.attempts;
      last = PostJson(config_.alert.webhook, json, config_.alert.timeout);
      const bool retryable = last.status == 0 || last.status == 429 || last.status >= 500;
      if ((last.status >= 200 && last.status < 300) || !retryable) break;
    }
    all_ok &= last.status >= 200 && last.status < 300;
    details.push_back(last.status ? StrCat("webhook HTTP ", last.status)
                                  : StrCat("webhook failed: ", RedactSecrets(last.error)));
  }
  if (!config_.alert.command.empty()) {
    ExecutionReport r = RunWithRetry(config_.alert.command, config_.alert.timeout,
                                     kAlertCommandRetry, config_.alert.env, json + "\n");
    report.commands.insert(report.commands.end(), r.commands.begin(), r.commands.end());
    report.attempts += r.attempts;
    all_ok &= r.success;
    details.push_back(StrCat("alert command: ", r.detail));
  }
  report.success = all_ok;
  report.detail = details.empty() ? "no webhook or command (Alertmanager: see the outbox)"
                                  : StrJoin(details, "; ");
  return report;
}

ExecutionReport Executor::SendAlert(const PlannedAction& action, const ConfigEvent& lineage,
                                    std::string_view reason_code) {
  ExecutionReport report;
  nlohmann::ordered_json body;
  // The reason quotes stored details (a client's error line): JSON needs valid UTF-8, and
  // nlohmann's dump throws on anything else.
  body["cert"] = ToValidUtf8(action.cert);
  if (!reason_code.empty()) body["code"] = ToValidUtf8(reason_code);
  // Who gets paged depends on the host and the names far more than on certcast's lineage key.
  if (!lineage.host.empty()) body["host"] = ToValidUtf8(lineage.host);
  for (const std::string& name : lineage.names) body["names"].push_back(ToValidUtf8(name));
  body["reason"] = ToValidUtf8(action.reason);
  body["risk"] = action.risk;
  body["at"] = FormatRfc3339(clock_.Now());
  body["source"] = "certcast";
  const std::string json = body.dump();
  bool any = false, all_ok = true;
  std::vector<std::string> details;
  if (!config_.alert.webhook.empty()) {
    any = true;
    // The URL's path and query may hold the webhook's secret (chat services put it there).
    report.commands.push_back({"POST", UrlForRecords(config_.alert.webhook)});
    if (config_.dry_run) {
      details.push_back("would POST");
    } else {
      HttpResult last;
      for (int attempt = 0; attempt < kWebhookRetry.attempts; ++attempt) {
        if (attempt > 0) {
          sleep_(kWebhookRetry.waits[attempt - 1]);
          if (Stopping()) break;  // `last` says what the previous attempt got
        }
        ++report.attempts;
        last = PostJson(config_.alert.webhook, json, config_.alert.timeout);
        const bool retryable = last.status == 0 || last.status == 429 || last.status >= 500;
        if ((last.status >= 200 && last.status < 300) || !retryable) break;
      }
      const bool ok = last.status >= 200 && last.status < 300;
      all_ok &= ok;
      details.push_back(last.status ? StrCat("webhook HTTP ", last.status)
                                    : StrCat("webhook failed: ", RedactSecrets(last.error)));
    }
  }
  if (!config_.alert.command.empty()) {
    any = true;
    if (config_.dry_run) {
      report.commands.push_back(RedactArgv(config_.alert.command));
      details.push_back("would run the alert command");
    } else {
      ExecutionReport r = RunWithRetry(config_.alert.command, config_.alert.timeout,
                                       kAlertCommandRetry, config_.alert.env, json + "\n");
      report.commands.insert(report.commands.end(), r.commands.begin(), r.commands.end());
      report.attempts += r.attempts;
      all_ok &= r.success;
      details.push_back(StrCat("alert command: ", r.detail));
    }
  }
  if (!any) {
    report.detail = "no alert channel configured (alert.webhook / alert.command)";
    report.success = false;
    return report;
  }
  report.skipped = config_.dry_run;
  report.success = config_.dry_run || all_ok;
  report.detail = StrJoin(details, "; ");
  return report;
}

StatusOr<ExecutionReport> Executor::Execute(const PlannedAction& action, const ConfigEvent& lineage,
                                            std::string_view reason_code) {
  if (action.kind == ActionKind::kAlert) return SendAlert(action, lineage, reason_code);
  ASSIGN_OR_RETURN(std::unique_ptr<LineageLock> lock,
                   LineageLock::TryAcquire(LockDirectory(config_), action.cert));
  ExecutionReport report;
  if (!lock) {
    report.skipped = true;
    report.detail = "another certcast run holds this lineage's lock";
    return report;
  }
  const absl::Time started = clock_.Now();
  if (action.kind == ActionKind::kReload) {
    const std::string host = action.host.value_or(lineage.host);
    auto it = config_.reload.find(host);
    if (it == config_.reload.end()) it = config_.reload.find("*");
    if (it == config_.reload.end()) {
      report.detail = StrCat("no reload command configured for host ", host);
      return report;
    }
    if (config_.dry_run) {
      report.commands.push_back(RedactArgv(it->second.argv));
      report.skipped = true;
      report.detail = "dry run";
      return report;
    }
    report = RunWithRetry(it->second.argv, it->second.timeout, RetryFor(ActionKind::kReload),
                          it->second.env, "");
    Event e;
    e.ts = clock_.Now();
    DeployEvent d;
    d.cert = action.cert;
    d.host = host;
    d.outcome = report.success ? Outcome::kSuccess : Outcome::kFailure;
    d.detail = ToValidUtf8(StrCat("reload by certcast: ", report.detail), kMaxEventDetailBytes);
    e.body = std::move(d);
    report.events.push_back(std::move(e));
    return report;
  }
  // renew / dry_run
  ClientSettings client = config_.client;
  if (auto it = config_.lineages.find(action.cert); it != config_.lineages.end()) client = it->second;
  if (Status allowed = CheckActionAllowed(config_, client, lineage, action); !allowed.ok()) {
    // Whoever wrote the event (a collector, the spool, ingest) does not choose root's CA,
    // challenge or arguments: nothing runs, and a person hears about it.
    PlannedAction alert = action;
    alert.kind = ActionKind::kAlert;
    alert.reason = StrCat("certcast refused to ", ToString(action.kind), " ", action.cert, ": ",
                          allowed.message(), ". Planned because: ", action.reason);
    const ExecutionReport sent = SendAlert(alert, lineage, kReasonActionRefused);
    report.refused = true;
    report.commands = sent.commands;
    report.attempts = sent.attempts;
    report.detail = StrCat("refused: ", allowed.message(), "; alert: ", sent.detail);
    return report;
  }
  auto argv = ClientArgv(client, lineage, action);
  if (!argv.ok()) {
    report.detail = RedactSecrets(argv.status().message());
    return report;
  }
  if (config_.dry_run) {
    report.commands.push_back(RedactArgv(*argv));
    report.skipped = true;
    report.detail = "dry run";
    return report;
  }
  report = RunWithRetry(*argv, client.timeout, RetryFor(action.kind), client.env, "", lock->fd());
  Event e;
  e.ts = clock_.Now();
  RenewalEvent r;
  r.cert = action.cert;
  r.outcome = report.success ? Outcome::kSuccess : Outcome::kFailure;
  if (!report.success) {
    r.error = ClassifyClientFailure(report.output, report.timed_out);
    r.detail = ToValidUtf8(report.detail, kMaxEventDetailBytes);
  }
  r.challenge = action.challenge.value_or(lineage.challenge);
  r.ca = action.ca.value_or(lineage.ca);
  r.duration_ms = absl::ToDoubleMilliseconds(clock_.Now() - started);
  r.dry_run = action.kind == ActionKind::kDryRun;
  r.trigger = "forced";
  e.body = std::move(r);
  report.events.push_back(std::move(e));
  return report;
}

HttpResult PostJson(const std::string& url, const std::string& json, absl::Duration timeout) {
  static const bool initialised = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  HttpResult result;
  if (!initialised) {
    result.error = "libcurl initialisation failed";
    return result;
  }
  CURL* curl = curl_easy_init();
  if (!curl) {
    result.error = "curl_easy_init failed";
    return result;
  }
  struct curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(json.size()));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(timeout)));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  // Only http(s): a webhook URL from a config file must not reach file:// or other schemes.
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION,
                   +[](char*, size_t size, size_t count, void*) -> size_t { return size * count; });
  const CURLcode code = curl_easy_perform(curl);
  if (code == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  } else {
    result.error = error[0] ? error : curl_easy_strerror(code);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return result;
}

}  // namespace certcast::act
