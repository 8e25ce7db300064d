// Subcommand registry. Each `cmd_*.cc` in this folder registers one subcommand at static
// initialisation, so adding a command touches no shared file. The binary is thin: a command
// parses flags, calls the libraries, prints, and maps Status to an exit code.
#pragma once

#include <functional>
#include <string>

#include "CLI/CLI.hpp"
#include "core/status.h"

namespace certcast {
class Store;
}  // namespace certcast

namespace certcast::cli {

// Exit codes, documented in `certcast --help` and docs/cli.md.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRejected = 1;  // ran, but some input was rejected (e.g. bad event lines)
inline constexpr int kExitUsage = 2;     // bad flags or arguments
inline constexpr int kExitFailure = 3;   // could not do the job (I/O, store, model refused, ...)

struct Command {
  std::string name;
  std::string summary;  // one line for `certcast --help`
  int order = 100;      // position in --help (lower first)
  // Adds options to `sub` (whose name and description are set) and returns what to run when this
  // subcommand is chosen; the returned function gives the exit code.
  std::function<std::function<int()>(CLI::App& sub)> setup;
};

bool RegisterCommand(Command command);

// Prints `status` as "certcast: <message>" on stderr (secrets redacted, core/redact.h) and returns
// the exit code for it.
int Fail(const Status& status);

// Every command that reads stored events calls this when done: when ScanEvents skipped rows that
// do not parse, says on stderr how many and which ("certcast: warning: ..."); the command's
// result stands (it was computed from every readable event).
void WarnUnreadableEvents(const Store& store);

// Parses an RFC 3339 flag value or throws CLI::ValidationError (reported as a usage error).
// Use as the `check` of an option: ->check(RequireTimestamp()).
CLI::Validator RequireTimestamp();
CLI::Validator RequireDuration();

}  // namespace certcast::cli
