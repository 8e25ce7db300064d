#include "collect/host/host_probe.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iterator>

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

namespace {

std::vector<std::string> Words(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  for (char c : line) {
    if (c == ' ' || c == '\t' || c == '"' || c == '\'' || c == ';' || c == '&' || c == '|') {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word.push_back(c);
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

bool IsProgram(std::string_view word, std::string_view name) {
  return word == name || (word.size() > name.size() && word.ends_with(name) &&
                          word[word.size() - name.size() - 1] == '/');
}

// The file an entry's output goes to: the word after the last `>>` or `>` (also `>>FILE`).
std::string OutputFile(const std::vector<std::string>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    std::string_view w = words[i];
    if (w.starts_with("2>")) continue;  // stderr alone
    if (w == ">>" || w == ">" || w == "1>" || w == "1>>") {
      if (i + 1 < words.size()) out = words[i + 1];
    } else if (w.starts_with(">>")) {
      out = std::string(w.substr(2));
    } else if (w.starts_with(">") && w.size() > 1 && w[1] != '&') {
      out = std::string(w.substr(1));
    }
  }
  return out;
}

}  // namespace

ClientSchedule FindClientSchedule(Client client, const std::vector<SchedulerFile>& crontabs,
                                  const std::vector<std::string>& timer_units,
                                  const fs::path& state_dir) {
  ClientSchedule found;
  const std::string_view needle = client == Client::kLego ? "lego" : client == Client::kAcmeSh ? "acme" : "certbot";
  std::vector<std::string> units = timer_units;
  std::sort(units.begin(), units.end());
  for (const std::string& unit : units) {
    if (unit.ends_with(".timer") && unit.find(needle) != std::string::npos) {
      found.timer = unit;
      break;
    }
  }
  for (const SchedulerFile& file : crontabs) {
    int number = 0;
    for (std::string_view rest = file.text; !rest.empty() && found.cron_entry.empty();) {
      const size_t end = rest.find('\n');
      std::string_view line = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      ++number;
      const std::vector<std::string> words = Words(line);
      if (words.empty() || words[0].starts_with('#')) continue;
      if (words[0].find('=') != std::string::npos) continue;  // VAR=value
      bool runs = false, with = false;
      for (const std::string& w : words) {
        if (client == Client::kLego) {
          runs |= IsProgram(w, "lego");
          with |= w == "renew";
        } else if (client == Client::kAcmeSh) {
          runs |= IsProgram(w, "acme.sh");
          with |= w == "--cron";
        } else {
          runs |= IsProgram(w, "certbot");
          with |= w == "renew";
        }
      }
      if (!runs || !with) continue;
      found.cron_entry = StrCat(file.path, ":", number);
      const std::string output = OutputFile(words);
      if (!output.empty() && output != "/dev/null") {
        found.cron_file = output;
      } else if (client == Client::kAcmeSh && !state_dir.empty()) {
        found.cron_file = state_dir / "acme.sh.log";
      }
    }
    if (!found.cron_entry.empty()) break;
  }
  return found;
}

ClientSchedule DiscoverClientSchedule(Client client, const fs::path& root, const fs::path& state_dir) {
  constexpr uintmax_t kMaxCrontabBytes = 64 * 1024;
  std::vector<std::string> units;
  for (const char* dir : {"etc/systemd/system", "lib/systemd/system", "usr/lib/systemd/system"}) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root / dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.ends_with(".timer")) units.push_back(name);
    }
  }
  std::vector<fs::path> paths = {root / "etc/crontab"};
  for (const char* dir : {"etc/cron.d", "var/spool/cron/crontabs"}) {
    std::error_code ec;
    std::vector<fs::path> in_dir;
    for (const auto& entry : fs::directory_iterator(root / dir, ec)) in_dir.push_back(entry.path());
    std::sort(in_dir.begin(), in_dir.end());
    paths.insert(paths.end(), in_dir.begin(), in_dir.end());
  }
  std::vector<SchedulerFile> crontabs;
  for (const fs::path& path : paths) {
    std::error_code ec;
    if (!fs::is_regular_file(fs::symlink_status(path, ec)) || fs::file_size(path, ec) > kMaxCrontabBytes || ec) {
      continue;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) continue;
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // The path as the host knows it, not under the test root.
    crontabs.push_back({"/" + fs::relative(path, root, ec).string(), std::move(text)});
  }
  return FindClientSchedule(client, crontabs, units, state_dir);
}

}  // namespace certcast::host
