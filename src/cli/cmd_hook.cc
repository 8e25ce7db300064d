// certcast hook certbot|lego|acme.sh: the ACME clients' deploy/renew/reload hook. Records the
// renewal and the new certificate, runs the server's reload command if one follows `--`, records
// its outcome, and leaves the events in the spool for `certcast spool`. It never fails the
// client's run because of certcast's own trouble: every problem is a line on stderr and the exit
// code is 0, or the reload command's when there is one (the client should see a failed reload).
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <map>

#include "act/process.h"
#include "cli/command.h"
#include "collect/host/hook.h"
#include "collect/host/spool.h"
#include "core/host_name.h"
#include "core/clock.h"
#include "core/event_json.h"
#include "core/strings.h"
#include "core/time.h"

extern char** environ;

namespace certcast::cli {
namespace {

struct HookFlags {
  std::string client;
  std::string spool = std::string(host::kDefaultSpoolDir);
  std::string host;
  // Below lego 4.9's own 120 s hook timeout, so that certcast, not lego, reports a hung reload.
  std::string timeout = "60s";
  std::vector<std::string> reload;
};

void Say(std::string_view message) { std::cerr << "certcast hook: " << message << "\n"; }

std::map<std::string, std::string> Environment() {
  std::map<std::string, std::string> out;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const size_t equals = text.find('=');
    if (equals != std::string_view::npos) {
      out.emplace(std::string(text.substr(0, equals)), std::string(text.substr(equals + 1)));
    }
  }
  return out;
}

// What a reload command did: the exit code to hand the client (the command's own, 124 on
// timeout, 127 when it cannot start, 128+N when killed by signal N: the conventions of the shell
// and timeout(1), which hook authors know) and, when it failed, the deploy event's detail.
struct ReloadOutcome {
  int exit_code = 0;
  std::string detail;  // empty on success
};
ReloadOutcome RunReload(const std::vector<std::string>& argv, absl::Duration timeout) {
  act::ProcessOptions options;
  options.timeout = timeout;
  const std::string command = StrJoin(argv, " ");
  auto result = act::RunProcess(argv, options);
  if (!result.ok()) return {127, StrCat(command, ": ", result.status().message())};
  // The client logs its hook's output: pass the reload command's through.
  std::cout << result->stdout_text << std::flush;
  std::cerr << result->stderr_text << std::flush;
  if (result->timed_out) {
    return {124, StrCat(command, ": timed out after ", absl::FormatDuration(timeout))};
  }
  if (result->signal != 0) {
    return {128 + result->signal, StrCat(command, ": killed by signal ", result->signal)};
  }
  if (result->exit_code != 0) {
    std::string last = act::LastLine(result->stderr_text);
    if (last.empty()) last = act::LastLine(result->stdout_text);
    return {result->exit_code,
            StrCat(command, ": exit ", result->exit_code, last.empty() ? "" : ": ", last)};
  }
  return {};
}

int RunHook(const HookFlags& flags, const std::vector<std::string>& extras) {
  std::signal(SIGPIPE, SIG_IGN);  // a client that closed our stdout must not kill the reload
  for (const std::string& extra : extras) {
    // CLI11 leaves the `--` that starts the reload command among the extras.
    if (extra != "--") Say(StrCat("ignored unknown argument \"", extra, "\""));
  }
  const std::string host_name = flags.host.empty() ? LocalHostName() : flags.host;

  std::vector<Event> events;
  std::optional<std::string> cert;
  if (auto client = host::HostClientFromName(flags.client); !client) {
    Say(StrCat("the first argument must be certbot, lego or acme.sh, not \"", flags.client,
               "\": no events recorded"));
  } else if (auto target = host::HookTargetFromEnvironment(*client, Environment()); !target.ok()) {
    Say(StrCat(target.status().message(), ": no events recorded"));
  } else {
    cert = target->cert;
    host::HookEvents out = host::RenewalEvents(*target);
    for (const std::string& problem : out.problems) Say(problem);
    events = std::move(out.events);
  }

  int exit_code = kExitOk;
  if (!flags.reload.empty()) {
    absl::Duration timeout = absl::Seconds(60);
    if (auto parsed = ParseDurationFlag(flags.timeout); parsed.ok()) {
      timeout = *parsed;
    } else {
      Say(StrCat("--timeout: ", parsed.status().message(), "; using 60s"));
    }
    const ReloadOutcome reload = RunReload(flags.reload, timeout);
    exit_code = reload.exit_code;
    if (!reload.detail.empty()) Say(StrCat("reload failed: ", reload.detail));
    if (cert) {
      events.push_back(host::DeployEvent(*cert, host_name, reload.detail.empty(), reload.detail,
                                         SystemClock::Get().Now()));
    } else {
      Say("no deploy event: the lineage is unknown");
    }
  }

  if (events.empty()) return exit_code;
  const std::string name = host::SpoolFileName(SystemClock::Get().Now(), ::getpid());
  auto written = host::WriteSpoolFile(flags.spool, name, events);
  if (written.ok()) {
    std::cout << "certcast hook: " << events.size() << " events for " << *cert << " spooled in "
              << written->string() << "\n";
  } else {
    // Not lost silently: the client's log keeps them, to be ingested by hand.
    Say(StrCat("could not spool ", events.size(), " events (", written.status().message(),
               "); they follow"));
    for (const Event& e : events) std::cerr << EventToJson(e) << "\n";
  }
  return exit_code;
}

const bool registered = RegisterCommand({
    .name = "hook",
    .summary = "ACME client deploy/reload hook: record the renewal, run the reload, spool events",
    .order = 7,
    .setup =
        [](CLI::App& sub) {
          auto flags = std::make_shared<HookFlags>();
          sub.description(
              "Install as certbot's --deploy-hook, lego's --run-hook/--renew-hook or acme.sh's "
              "--reloadcmd/--renew-hook. Reads the client's hook environment (certbot: "
              "RENEWED_LINEAGE; lego: LEGO_CERT_DOMAIN, LEGO_CERT_PATH; acme.sh: Le_Domain, "
              "CERT_PATH), reads the new certificate and the client's state, and records a "
              "`renewal` success and the `issued` certificate for the lineage (named as `certcast "
              "discover` names it). A command after `--` is run (no shell, with --timeout) and "
              "its outcome recorded as a `deploy` event for --host. Events go to one new file in "
              "the spool directory (written whole, then renamed); `certcast spool` hands them to "
              "the daemon. See docs/collectors.md.");
          // A typo in the hook's own options must not fail the renewal: unknown options are
          // reported and ignored, and the client is checked when the hook runs. (A stray word
          // before `--` is still a usage error: CLI11 2.1 then hands the reload command to the
          // top-level parser.)
          sub.allow_extras();
          sub.add_option("client", flags->client, "certbot, lego or acme.sh");
          sub.add_option("--spool", flags->spool, "Spool directory (created when missing)")
              ->capture_default_str();
          sub.add_option("--host", flags->host, "Host of the deploy event (default: this host's name)");
          sub.add_option("--timeout", flags->timeout, "Time limit of the reload command")
              ->capture_default_str();
          sub.add_option("reload", flags->reload, "Reload command and its arguments, after --");
          sub.footer(
              "Exit: 0, whatever went wrong in certcast (each problem is a line on stderr); with a "
              "reload command, its exit code (124 timed out, 127 could not start).\n\n"
              "Examples:\n"
              "  certbot renew --deploy-hook 'certcast hook certbot -- systemctl reload nginx'\n"
              "  lego ... renew --renew-hook 'certcast hook lego'\n"
              "  acme.sh --install-cert -d shop.example.com ... \\\n"
              "      --reloadcmd 'certcast hook acme.sh -- systemctl reload nginx'");
          return [flags, &sub] {
            try {
              return RunHook(*flags, sub.remaining());
            } catch (const std::exception& e) {
              Say(StrCat("internal error: ", e.what()));
              return kExitOk;
            }
          };
        },
});

}  // namespace
}  // namespace certcast::cli
