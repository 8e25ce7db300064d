// certcast: one binary, subcommands thin over the libraries. See docs/cli.md.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <vector>

#include "cli/command.h"
#include "core/redact.h"
#include "core/time.h"
#include "store/store.h"

namespace certcast::cli {
namespace {

std::vector<Command>& Registry() {
  static std::vector<Command> commands;
  return commands;
}

}  // namespace

bool RegisterCommand(Command command) {
  Registry().push_back(std::move(command));
  return true;
}

int Fail(const Status& status) {
  // An error may quote a config value, a URL or a client's output: redacted (core/redact.h).
  std::cerr << "certcast: " << RedactSecrets(status.message()) << "\n";
  if (status.code() == StatusCode::kInvalidArgument) return kExitUsage;
  return kExitFailure;
}

void WarnUnreadableEvents(const Store& store) {
  const std::string described = DescribeUnreadable(store.unreadable_events());
  if (!described.empty()) std::cerr << "certcast: warning: " << described << "\n";
}

CLI::Validator RequireTimestamp() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        auto t = ParseRfc3339(value);
        return t.ok() ? std::string() : t.status().message();
      },
      "TS", "RFC 3339 UTC timestamp");
}

CLI::Validator RequireDuration() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        auto d = ParseDurationFlag(value);
        return d.ok() ? std::string() : d.status().message();
      },
      "DURATION", "duration like 7d or 36h");
}

}  // namespace certcast::cli

int main(int argc, char** argv) {
  using namespace certcast::cli;
  CLI::App app(
      "certcast forecasts TLS certificate renewal failures days before they happen, says why, "
      "and acts in time: it renews early while renewal still works, switches challenge type or "
      "CA, reloads a server that serves a stale certificate, or alerts a person with the cause "
      "named.\n\nEvents (docs/events-v1.md) go into a store (--db, a SQLite file); train, "
      "backtest, forecast and plan read them.",
      "certcast");
  app.require_subcommand(1);
  app.set_version_flag("--version", "certcast 0.1.0");
  app.footer(
      "Run `certcast COMMAND --help` for a command's options and an example.\n\n"
      "Exit codes: 0 ok; 1 ran but some input was rejected (e.g. bad event lines, each reported "
      "as FILE:LINE: reason); 2 bad flags or arguments; 3 the job failed (I/O, store, model).");

  auto& commands = Registry();
  std::sort(commands.begin(), commands.end(), [](const Command& a, const Command& b) {
    return a.order != b.order ? a.order < b.order : a.name < b.name;
  });
  std::vector<std::function<int()>> actions(commands.size());
  std::vector<CLI::App*> subs;
  for (size_t i = 0; i < commands.size(); ++i) {
    CLI::App* sub = app.add_subcommand(commands[i].name, commands[i].summary);
    actions[i] = commands[i].setup(*sub);
    // CLI11 shows a subcommand's description both in the top-level list and atop its own help.
    // Keep the one-line summary for the list, and move the command's longer text into its help
    // footer, before the example.
    const std::string details = sub->get_description();
    if (details != commands[i].summary) {
      sub->description(commands[i].summary);
      sub->footer(details + (sub->get_footer().empty() ? "" : "\n\n" + sub->get_footer()));
    }
    subs.push_back(sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  for (size_t i = 0; i < subs.size(); ++i) {
    if (subs[i]->parsed()) {
      try {
        return actions[i]();
      } catch (const std::exception& e) {
        // A library threw past its boundary: a bug, but say what it was instead of aborting.
        std::cerr << "certcast: internal error: " << e.what() << "\n";
        return kExitFailure;
      }
    }
  }
  return kExitUsage;
}
