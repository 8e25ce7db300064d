// certcast spool: the collector that hands the hooks' spooled events to the daemon (or to
// `certcast ingest`): prints every spooled event, deletes files older than --keep.
#include <csignal>
#include <iostream>

#include "cli/command.h"
#include "collect/host/spool.h"
#include "core/clock.h"
#include "core/event_json.h"
#include "core/strings.h"
#include "core/time.h"

namespace certcast::cli {
namespace {

struct SpoolFlags {
  std::string dir = std::string(host::kDefaultSpoolDir);
  std::string keep = "30d";
};

int RunSpool(const SpoolFlags& flags) {
  std::signal(SIGPIPE, SIG_IGN);  // a reader that went away is a write error, not a kill
  auto keep = ParseDurationFlag(flags.keep);
  if (!keep.ok()) return Fail(keep.status().WithPrefix("--keep"));
  auto contents = host::ReadSpool(flags.dir, *keep, SystemClock::Get().Now());
  if (!contents.ok()) {
    if (contents.status().code() == StatusCode::kNotFound) {
      // No hook has run yet (the hook creates the directory): nothing to hand over.
      std::cerr << "certcast: spool: " << contents.status().message() << " (no hook has run yet?)\n";
      return kExitOk;
    }
    return Fail(contents.status());
  }
  std::string lines;
  for (const Event& e : contents->events) {
    AppendEventJson(e, lines);
    lines.push_back('\n');
  }
  std::cout << lines << std::flush;
  if (!std::cout) return Fail(UnavailableError("stdout: write failed"));
  for (const host::SpoolProblem& p : contents->problems) {
    std::cerr << p.file;
    if (p.line > 0) std::cerr << ":" << p.line;
    std::cerr << ": " << p.reason << "\n";
  }
  std::cerr << "spool: " << contents->files << " files, " << contents->events.size() << " events, "
            << contents->problems.size() << " problems, " << contents->deleted
            << " files older than " << flags.keep << " deleted\n";
  return contents->problems.empty() ? kExitOk : kExitRejected;
}

const bool registered = RegisterCommand({
    .name = "spool",
    .summary = "Print the events hooks left in the spool (a collector for `certcast run`)",
    .order = 8,
    .setup =
        [](CLI::App& sub) {
          auto flags = std::make_shared<SpoolFlags>();
          sub.description(
              "Prints every event of every file in the spool directory (written by `certcast "
              "hook`) as events-v1 lines on stdout, in file order, then deletes the files older "
              "than --keep. A file is printed on every run until then: the store drops exact "
              "duplicates, and a daemon that was down for less than --keep loses nothing. Bad "
              "lines are reported as FILE:LINE: reason. Run it as a collector of `certcast run` "
              "or pipe it into `certcast ingest`.");
          sub.add_option("--dir", flags->dir, "Spool directory")->capture_default_str();
          sub.add_option("--keep", flags->keep, "Delete files older than this, after printing them")
              ->capture_default_str()
              ->check(RequireDuration());
          sub.footer(
              "Exit: 0 every spooled line printed (also when the directory does not exist yet); 1 "
              "some lines or files were bad (reported; the rest printed); 2 bad flags; 3 the "
              "directory could not be read.\n\n"
              "Example:\n  certcast spool --dir /var/lib/certcast/spool | certcast ingest --db fleet.db -\n"
              "  # in the daemon's config:\n  [[collector]]\n  name = \"hooks\"\n"
              "  command = [\"certcast\", \"spool\", \"--dir\", \"/var/lib/certcast/spool\"]\n"
              "  every = \"5m\"");
          return [flags] { return RunSpool(*flags); };
        },
});

}  // namespace
}  // namespace certcast::cli
