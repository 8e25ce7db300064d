// `certcast probe host`: the health of the machine that runs an ACME client, as one events-v1
// `host` event: disk free/total for the client's state directory, when its scheduler last ran
// the client, and the client's version. A piece that cannot be measured is left out of the
// event and reported as a problem; nothing is guessed.
//
// Running programs (`systemctl`, `certbot --version`) is the caller's job, through `RunCommand`:
// collect does not depend on act (where the process runner lives), and tests pass a fake.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "core/event.h"
#include "core/status.h"

namespace certcast::host {

struct CommandOutput {
  int exit_code = 0;
  std::string output;  // stdout, then stderr (old certbot versions print --version on stderr)
};
// Runs argv (no shell) with a timeout; an error when it could not run or timed out.
using RunCommand = std::function<StatusOr<CommandOutput>(const std::vector<std::string>& argv)>;

struct HostProbeOptions {
  std::string host;                     // the event's host
  Client client = Client::kCertbot;     // certbot, lego or acme.sh
  std::filesystem::path state_dir;      // the client's state directory (disk space is measured here)
  std::string timer;                    // systemd timer unit ("certbot.timer"; ".timer" added if missing)
  std::filesystem::path cron_file;      // a file the scheduled job rewrites on every run (its log)
  std::string client_program;           // default: see ClientProgram
  // Seams for tests. systemd is running when this directory exists (sd_booted(3)).
  std::filesystem::path systemd_run_dir = "/run/systemd/system";
  // Where systemd keeps the last-trigger stamps of timers with Persistent=true.
  std::filesystem::path timer_stamp_dir = "/var/lib/systemd/timers";
};

struct HostProbeResult {
  std::optional<Event> event;         // absent only when nothing at all could be measured
  std::vector<std::string> problems;  // one sentence per piece that was asked for and is missing
};

// Measures what `options` asks for:
//  * disk: statvfs(state_dir): free = f_bavail * f_frsize (what an unprivileged writer can use;
//    root may use a few percent more), total = f_blocks * f_frsize;
//  * scheduler_last_run: with `timer`, `systemctl show -p LastTriggerUSec --timestamp=utc UNIT`
//    when systemd runs (it knows every timer), else, or when that fails, the mtime of
//    timer_stamp_dir/stamp-UNIT (written for Persistent=true timers); with `cron_file`, its mtime;
//  * client_version: `PROGRAM --version`, parsed by ParseClientVersion.
HostProbeResult ProbeHost(const HostProbeOptions& options, const RunCommand& run, absl::Time now);

// The program to ask for the version: `client_program` if set; for acme.sh the copy in its state
// directory (acme.sh installs itself there, ~/.acme.sh/acme.sh) when present; else the client's
// name, looked up in PATH.
std::string ClientProgram(const HostProbeOptions& options);

// Version from `--version` output. certbot 2.1: "certbot 2.1.0"; lego 4.9: "lego version 4.9.1
// linux/amd64" (a build without version information says "dev"); acme.sh 3.x: its project URL,
// then "v3.0.7". Errors (InvalidArgument) quote what was not understood.
StatusOr<std::string> ParseClientVersion(Client client, std::string_view output);

// `systemctl show -p LastTriggerUSec --timestamp=utc UNIT` output (systemd >= 244):
// "LastTriggerUSec=Fri 2026-11-27 06:12:01 UTC" -> that time; the `unix` style
// "LastTriggerUSec=@1795759921" (systemd >= 251) too; "LastTriggerUSec=" or "LastTriggerUSec=n/a"
// (never triggered) -> nullopt. Other zones are refused: local time names are ambiguous.
StatusOr<std::optional<absl::Time>> ParseSystemctlLastTrigger(std::string_view output);

// Where a client's renewals are scheduled. certbot's packages install certbot.timer; lego has no
// scheduler of its own and acme.sh installs a crontab entry (`acme.sh --cron`), so for those two
// the agent looks for what the operator set up: a systemd timer unit whose name names the client
// ("lego-renew.timer", "acme.sh.timer"), else a cron entry that runs it.
struct SchedulerFile {
  std::string path;  // for messages ("/etc/cron.d/lego")
  std::string text;
};
struct ClientSchedule {
  std::string timer;                 // the timer unit found ("" = none)
  std::string cron_entry;            // "PATH:LINE" of the cron entry found ("" = none)
  // What that entry's runs leave behind, whose mtime is the last run: the file its output is
  // appended or written to; for acme.sh with its output discarded, STATE_DIR/acme.sh.log (written
  // on every run when acme.sh's LOG_FILE is set). Empty when a run leaves no trace.
  std::filesystem::path cron_file;
};
// Pure. `timer_units`: unit file names (any order; the first match in sorted order wins).
// `crontabs`: system crontab (/etc/crontab, /etc/cron.d: a user column) or user crontab text; a
// line is an entry when it is not blank, not a comment and not a VAR=value assignment. lego's
// entry runs `lego` (a word, possibly a path ending /lego) with `renew`; acme.sh's runs `acme.sh`
// with `--cron`.
ClientSchedule FindClientSchedule(Client client, const std::vector<SchedulerFile>& crontabs,
                                  const std::vector<std::string>& timer_units,
                                  const std::filesystem::path& state_dir);
// Reads the candidates under `root` ("/" on a host): *.timer in etc/systemd/system,
// lib/systemd/system and usr/lib/systemd/system; etc/crontab, etc/cron.d/*,
// var/spool/cron/crontabs/* (regular files up to 64 KiB; unreadable ones are skipped), and finds
// the schedule in them.
ClientSchedule DiscoverClientSchedule(Client client, const std::filesystem::path& root,
                                      const std::filesystem::path& state_dir);

}  // namespace certcast::host
