#include "collect/host/host_probe.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "absl/strings/string_view.h"
#include "collect/clients/common.h"
#include "core/strings.h"
#include "core/utf8.h"

namespace certcast::host {
namespace fs = std::filesystem;
namespace {

// Only the start of a program's output is read: a version or a unit property is on the first
// lines, and a program that prints megabytes is not answering the question.
constexpr size_t kMaxCommandOutputBytes = 4096;
// A version longer than this is not a version (certbot "2.1.0", lego "4.9.1", acme.sh "3.0.7").
constexpr size_t kMaxVersionBytes = 64;

std::optional<absl::Time> ModificationTime(const fs::path& path) {
  struct stat st = {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return absl::FromTimeT(st.st_mtim.tv_sec);
}

bool IsVersionChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
         c == '-' || c == '+' || c == '_' || c == '~';
}

// The first whitespace-delimited word of `text`, if it is a plausible version.
std::optional<std::string> VersionWord(std::string_view text) {
  text = clients::Trim(text);
  const size_t end = text.find_first_of(" \t");
  const std::string_view word = text.substr(0, end);
  if (word.empty() || word.size() > kMaxVersionBytes) return std::nullopt;
  for (char c : word) {
    if (!IsVersionChar(c)) return std::nullopt;
  }
  return std::string(word);
}

std::string Quote(std::string_view output) {
  const std::string_view text = clients::Trim(output);
  return StrCat("\"", ToValidUtf8(text, 80), text.size() > 80 ? "...\"" : "\"");
}

// Last run of a systemd timer: systemctl when systemd runs, else the Persistent= stamp file.
// Sets `last` (nullopt: never triggered) and returns true when one source answered.
bool TimerLastRun(const HostProbeOptions& options, const RunCommand& run,
                  std::optional<absl::Time>& last, std::vector<std::string>& problems) {
  const std::string unit =
      options.timer.ends_with(".timer") ? options.timer : options.timer + ".timer";
  std::error_code ec;
  std::string why_not_systemctl = "systemd is not running";
  if (fs::is_directory(options.systemd_run_dir, ec)) {
    auto output = run({"systemctl", "show", "-p", "LoadState", "-p", "LastTriggerUSec",
                       "--timestamp=utc", unit});
    if (!output.ok()) {
      why_not_systemctl = StrCat("systemctl: ", output.status().message());
    } else if (output->exit_code != 0) {
      why_not_systemctl = StrCat("systemctl exited ", output->exit_code);
    } else if (auto parsed = ParseSystemctlLastTrigger(output->output); !parsed.ok()) {
      why_not_systemctl = StrCat("systemctl: ", parsed.status().message());
    } else {
      last = *parsed;
      if (!last) problems.push_back(StrCat("timer ", unit, " has never triggered"));
      return true;
    }
  }
  const fs::path stamp = options.timer_stamp_dir / ("stamp-" + unit);
  if (auto mtime = ModificationTime(stamp)) {
    last = mtime;
    return true;
  }
  problems.push_back(StrCat("timer ", unit, ": no last run (", why_not_systemctl, "; no ",
                            stamp.string(), ", which only Persistent=true timers have)"));
  return false;
}

}  // namespace

std::string ClientProgram(const HostProbeOptions& options) {
  if (!options.client_program.empty()) return options.client_program;
  if (options.client == Client::kAcmeSh && !options.state_dir.empty()) {
    const fs::path installed = options.state_dir / "acme.sh";
    if (::access(installed.c_str(), X_OK) == 0) return installed.string();
  }
  return std::string(ToString(options.client));
}

StatusOr<std::string> ParseClientVersion(Client client, std::string_view output) {
  output = output.substr(0, kMaxCommandOutputBytes);
  for (const clients::Line& line : clients::SplitLines(output)) {
    const std::string_view text = clients::Trim(line.text);
    std::optional<std::string> version;
    switch (client) {
      case Client::kCertbot:
        if (text.starts_with("certbot ")) version = VersionWord(text.substr(8));
        break;
      case Client::kLego:
        if (text.starts_with("lego version ")) version = VersionWord(text.substr(13));
        break;
      case Client::kAcmeSh:
        // acme.sh's version(): echo "$PROJECT"; echo "v$VER"
        if (text.size() > 1 && text[0] == 'v' && text[1] >= '0' && text[1] <= '9') {
          version = VersionWord(text.substr(1));
        }
        break;
      default:
        return InvalidArgumentError(StrCat("no version parser for ", ToString(client)));
    }
    if (version) return *version;
  }
  return InvalidArgumentError(
      StrCat("no ", ToString(client), " version in ", Quote(output)));
}

StatusOr<std::optional<absl::Time>> ParseSystemctlLastTrigger(std::string_view output) {
  std::optional<std::string_view> value;
  for (const clients::Line& line : clients::SplitLines(output.substr(0, kMaxCommandOutputBytes))) {
    if (line.text.starts_with("LoadState=") && line.text != "LoadState=loaded") {
      return InvalidArgumentError(StrCat(line.text, ": systemd does not know the unit"));
    }
    if (line.text.starts_with("LastTriggerUSec=")) value = clients::Trim(line.text.substr(16));
  }
  if (!value) return InvalidArgumentError(StrCat("no LastTriggerUSec in ", Quote(output)));
  if (value->empty() || *value == "n/a") return std::optional<absl::Time>();
  if (value->starts_with("@")) {
    int64_t seconds = 0;
    const std::string_view digits = value->substr(1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seconds);
    if (ec != std::errc() || end != digits.data() + digits.size()) {
      return InvalidArgumentError(StrCat("LastTriggerUSec \"", *value, "\" is not @SECONDS"));
    }
    return std::optional<absl::Time>(absl::FromUnixSeconds(seconds));
  }
  // "Fri 2026-11-27 06:12:01 UTC"; the `us+utc` style adds ".123456" to the seconds.
  absl::Time t;
  std::string error;
  if (!value->ends_with(" UTC") ||
      !absl::ParseTime("%a %Y-%m-%d %H:%M:%E*S UTC", absl::string_view(value->data(), value->size()),
                       absl::UTCTimeZone(), &t, &error)) {
    return InvalidArgumentError(
        StrCat("LastTriggerUSec \"", ToValidUtf8(*value),
               "\" is not \"Www YYYY-MM-DD HH:MM:SS UTC\" or @SECONDS"));
  }
  return std::optional<absl::Time>(t);
}

HostProbeResult ProbeHost(const HostProbeOptions& options, const RunCommand& run, absl::Time now) {
  HostProbeResult out;
  HostEvent host;
  host.host = options.host;

  if (!options.state_dir.empty()) {
    struct statvfs fs_stats = {};
    if (::statvfs(options.state_dir.c_str(), &fs_stats) == 0) {
      host.disk_free_bytes = static_cast<int64_t>(fs_stats.f_bavail) * fs_stats.f_frsize;
      host.disk_total_bytes = static_cast<int64_t>(fs_stats.f_blocks) * fs_stats.f_frsize;
    } else {
      out.problems.push_back(
          StrCat("disk space of ", options.state_dir.string(), ": ", std::strerror(errno)));
    }
  }

  std::optional<absl::Time> last_run;
  if (!options.timer.empty()) TimerLastRun(options, run, last_run, out.problems);
  if (!options.cron_file.empty()) {
    if (auto mtime = ModificationTime(options.cron_file)) {
      // Both given: the scheduler ran the client when either last fired.
      if (!last_run || *mtime > *last_run) last_run = mtime;
    } else {
      out.problems.push_back(StrCat("scheduler last run from ", options.cron_file.string(), ": ",
                                    std::strerror(errno)));
    }
  }
  host.scheduler_last_run = last_run;

  const std::string program = ClientProgram(options);
  auto output = run({program, "--version"});
  if (!output.ok()) {
    out.problems.push_back(StrCat("client version: ", output.status().message()));
  } else if (output->exit_code != 0) {
    out.problems.push_back(
        StrCat("client version: ", program, " --version exited ", output->exit_code));
  } else if (auto version = ParseClientVersion(options.client, output->output); !version.ok()) {
    out.problems.push_back(StrCat("client version: ", version.status().message()));
  } else {
    host.client_version = *version;
  }

  if (host.disk_free_bytes || host.scheduler_last_run || host.client_version) {
    out.event = Event{now, std::move(host)};
  }
  return out;
}

}  // namespace certcast::host
