// `certcast parse certbot|lego|acme.sh FILE...`: ACME client logs and state -> events-v1 lines.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/host_name.h"
#include "collect/clients/acme_sh_log.h"
#include "collect/clients/certbot_log.h"
#include "collect/clients/certificate.h"
#include "collect/clients/common.h"
#include "collect/clients/discover.h"
#include "collect/clients/lego_output.h"
#include "core/clock.h"
#include "core/event_json.h"
#include "core/strings.h"
#include "core/time.h"

namespace certcast::cli {
namespace {

namespace fs = std::filesystem;
using clients::ParseOutput;

struct ParseFlags {
  std::string client;
  std::vector<std::string> files;
  std::optional<std::string> cert;
  std::optional<std::string> ca;
  std::optional<std::string> challenge;
  std::string tz_offset = "+00:00";
  std::string host;
  std::string may_grow = "auto";  // auto, yes, no
  std::string settle_time = "5m";
};

// Reads FILE or stdin ("-"), bounded like the parsers.
StatusOr<std::string> ReadInput(const std::string& file, size_t max_bytes) {
  if (file != "-") return clients::ReadFileBounded(file, max_bytes);
  std::string data;
  char buffer[1 << 16];
  while (std::cin.read(buffer, sizeof buffer) || std::cin.gcount() > 0) {
    data.append(buffer, static_cast<size_t>(std::cin.gcount()));
    if (data.size() > max_bytes) {
      return ResourceExhaustedError(StrCat("input larger than ", max_bytes, " bytes"));
    }
  }
  return data;
}

bool HasExtension(const std::string& file, std::initializer_list<std::string_view> extensions) {
  const std::string ext = fs::path(file).extension().string();
  for (auto e : extensions) {
    if (ext == e) return true;
  }
  return false;
}

class ParseRun {
 public:
  // `clock`: what "now" is when deciding whether a log has settled (SystemClock in production).
  ParseRun(const ParseFlags& flags, const Clock& clock) : flags_(flags), clock_(clock) {}

  int Run() {
    auto offset = clients::ParseUtcOffset(flags_.tz_offset);
    if (!offset.ok()) return Fail(offset.status());
    offset_ = *offset;
    auto settle = ParseDurationFlag(flags_.settle_time);
    if (!settle.ok()) return Fail(settle.status().WithPrefix("--settle-time"));
    settle_time_ = *settle;
    if (flags_.challenge) {
      challenge_ = ChallengeFromString(*flags_.challenge);
      if (!challenge_) {
        return Fail(InvalidArgumentError(
            StrCat("--challenge \"", *flags_.challenge, "\" is not http-01, dns-01 or tls-alpn-01")));
      }
    }
    for (const std::string& file : flags_.files) File(file);
    std::cout << std::flush;
    if (unreadable_) return kExitFailure;
    return rejected_ ? kExitRejected : kExitOk;
  }

 private:
  void File(const std::string& file) {
    const std::string& c = flags_.client;
    if ((c == "certbot" || c == "acme.sh") && HasExtension(file, {".conf"})) return StateFile(file);
    if (c == "lego" && HasExtension(file, {".json"})) return StateFile(file);
    if (HasExtension(file, {".pem", ".crt", ".cer", ".der"})) return Certificate(file);
    auto text = Read(file, clients::kMaxLogBytes);
    if (!text) return;
    // Lines that carry no time (terminal output, a copy without stamps) are stamped with the
    // file's modification time, stdin's with now; syslog stamps without a year take its year.
    const absl::Time now = clock_.Now();
    const absl::Time fallback_time = file == "-" ? now : Mtime(file);
    // A log changed within the settle time may be one the client is still writing: its attempt
    // under way is held back, not recorded as a failure (docs/collectors.md). stdin is a stream
    // that has ended (journalctl, docker logs): complete unless --may-grow yes.
    const bool may_grow = flags_.may_grow == "yes" ||
                          (flags_.may_grow == "auto" && file != "-" &&
                           clients::MayStillGrow(fallback_time, now, settle_time_));
    ParseOutput out;
    if (c == "certbot") {
      clients::CertbotLogOptions options;
      options.utc_offset = offset_;
      options.fallback_cert = flags_.cert;
      options.fallback_time = fallback_time;
      options.input_may_grow = may_grow;
      out = clients::ParseCertbotLog(*text, options);
    } else if (c == "lego") {
      clients::LegoOutputOptions options;
      options.utc_offset = offset_;
      options.fallback_cert = flags_.cert;
      options.fallback_time = fallback_time;
      options.ca = flags_.ca;
      options.input_may_grow = may_grow;
      out = clients::ParseLegoOutput(*text, options);
    } else {
      clients::AcmeShLogOptions options;
      options.utc_offset = offset_;
      options.fallback_cert = flags_.cert;
      options.fallback_time = fallback_time;
      options.input_may_grow = may_grow;
      out = clients::ParseAcmeShLog(*text, options);
    }
    Print(file, out);
    // Said, not counted as a problem: a collector runs this every second while the client writes.
    for (size_t line : out.held_back) {
      std::cerr << file << ":" << line
                << ": attempt under way, held back until its outcome is logged or the file has "
                   "not changed for --settle-time\n";
    }
  }

  // A client's state file: read with the layout knowledge discovery uses (collect/clients).
  void StateFile(const std::string& file) {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) {
      std::cerr << file << ": not a readable file\n";
      unreadable_ = true;
      return;
    }
    clients::LineageFileOptions options;
    options.host = flags_.host;
    options.lineage = flags_.cert;
    options.lego_challenge = challenge_;
    options.lego_ca = flags_.ca;
    clients::DiscoverOutput out;
    if (flags_.client == "certbot") clients::ReadCertbotRenewal(file, options, out);
    else if (flags_.client == "lego") clients::ReadLegoCertificate(file, options, out);
    else clients::ReadAcmeShDomain(file, options, out);
    for (const Event& e : out.events) std::cout << EventToJson(e) << "\n";
    for (const auto& issue : out.issues) Reject(issue.path, issue.reason);
  }

  // A certificate alone: the lineage from --cert or the client's layout, the CA from --ca or the
  // layout (certbot's renewal/NAME.conf).
  void Certificate(const std::string& file) {
    auto data = Read(file, clients::kMaxCertificateFileBytes);
    if (!data) return;
    auto facts = clients::ParseCertificate(*data);
    if (!facts.ok()) return Reject(file, facts.status().message());
    clients::CertificateFilePlace place = clients::PlaceCertificateFile(flags_.client, file);
    const std::string cert = flags_.cert.value_or(place.lineage);
    const std::optional<std::string> ca = flags_.ca ? flags_.ca : place.ca;
    if (!ca) return Reject(file, "a certificate alone does not name its CA: pass --ca URL");
    IssuedEvent e{cert, facts->serial, facts->not_before, facts->not_after, *ca, facts->names};
    Emit(Event{facts->not_before, std::move(e)}, file);
  }

  std::optional<std::string> Read(const std::string& file, size_t max_bytes) {
    auto text = ReadInput(file, max_bytes);
    if (!text.ok()) {
      std::cerr << file << ": " << text.status().message() << "\n";
      if (text.status().code() == StatusCode::kResourceExhausted) {
        rejected_ = true;  // a bounded input refused: the input's fault, not ours
      } else {
        unreadable_ = true;
      }
      return std::nullopt;
    }
    return std::move(*text);
  }

  static absl::Time Mtime(const std::string& file) {
    std::error_code ec;
    const auto t = fs::last_write_time(file, ec);
    if (ec) return absl::UnixEpoch();
    const auto sys = std::chrono::file_clock::to_sys(t);
    return absl::FromTimeT(std::chrono::system_clock::to_time_t(
        std::chrono::time_point_cast<std::chrono::system_clock::duration>(sys)));
  }

  void Reject(const std::string& file, std::string_view reason) {
    std::cerr << file << ": " << reason << "\n";
    rejected_ = true;
  }

  // Events built here (not by a parser) go through the same check as the parsers' own.
  void Emit(Event event, const std::string& file = "") {
    ParseOutput out;
    clients::Finish(std::move(event), 0, out);
    Print(file, out);
  }

  void Print(const std::string& file, const ParseOutput& out) {
    for (const Event& e : out.events) std::cout << EventToJson(e) << "\n";
    for (const auto& issue : out.issues) {
      std::cerr << file;
      if (issue.line > 0) std::cerr << ":" << issue.line;
      std::cerr << ": " << issue.reason << "\n";
      rejected_ = true;
    }
  }

  const ParseFlags& flags_;
  const Clock& clock_;
  absl::Duration offset_;
  absl::Duration settle_time_;
  std::optional<Challenge> challenge_;
  bool rejected_ = false;
  bool unreadable_ = false;
};

const bool kRegistered = RegisterCommand(Command{
    "parse",
    "Read certbot, lego or acme.sh logs and state files; print events-v1 lines",
    40,
    [](CLI::App& sub) -> std::function<int()> {
      auto flags = std::make_shared<ParseFlags>();
      flags->host = LocalHostName();
      sub.description(
          "Turns an ACME client's logs and state into events-v1 lines on stdout: attempts in a "
          "log become `renewal` events, a lineage's configuration a `config` event and its "
          "certificate an `issued` event (state files are read as `certcast discover` reads "
          "them). What each FILE is follows from its name: certbot *.conf (renewal/NAME.conf: "
          "config, and issued for live/NAME/cert.pem), lego *.json (certificates/DOMAIN.json "
          "with DOMAIN.crt beside it: issued, and config with --challenge), acme.sh *.conf "
          "(DOMAIN/DOMAIN.conf: config, and issued for DOMAIN.cer), *.pem/*.crt/*.cer/*.der a "
          "certificate; anything else is a log: certbot's letsencrypt.log, lego's captured "
          "output or acme.sh's acme.sh.log. Each input line or file that cannot be used is "
          "reported on stderr as FILE:LINE: reason (exit 1); other events are still printed.\n\n"
          "Logs may come as the clients write them or as they were kept: certbot's "
          "letsencrypt.log or its terminal output (cron mail, `certbot renew` in a container), "
          "inside journald/syslog lines, `docker logs -t` stamps, docker compose prefixes, "
          "Nginx Proxy Manager's log, dokku's indentation. An attempt whose outcome the log does "
          "not give is printed as a failure with error \"unknown\" and reported (exit 1): the "
          "client died mid-attempt. Unless the file may still grow: a log modified less than "
          "--settle-time ago may be one the client is writing now, so its attempt under way is "
          "held back (said on stderr, exit 0) and printed by a later run, once its outcome is "
          "logged or the file has settled; the event is then the same one, so a collector that "
          "runs this every second stores it once.\n\n"
          "Log timestamps are the host's local time and carry no zone: they are read as UTC "
          "unless --tz-offset gives the host's offset.");
      sub.add_option("client", flags->client, "certbot, lego or acme.sh")
          ->required()
          ->check(CLI::IsMember({"certbot", "lego", "acme.sh"}));
      sub.add_option("files", flags->files, "Files to read; - reads stdin")->required();
      sub.add_option("--cert", flags->cert,
                     "Lineage for attempts whose log names none (lego failing before it prints "
                     "a domain, certbot without --cert-name/-d, an acme.sh excerpt without "
                     "\"Renew:\"), and for a lone certificate; a name in the log always wins");
      sub.add_option("--ca", flags->ca,
                     "ACME directory URL for lego output and lone certificates (lego prints it "
                     "only when it cannot fetch it)");
      sub.add_option("--challenge", flags->challenge,
                     "lego: also emit a config event with this challenge (http-01, dns-01, "
                     "tls-alpn-01) for a certificates/DOMAIN.json");
      sub.add_option("--tz-offset", flags->tz_offset,
                     "UTC offset of the host that wrote the log, e.g. +01:00")
          ->capture_default_str();
      sub.add_option("--host", flags->host,
                     "Host of config events (default: this machine's name, from gethostname)");
      sub.add_option("--may-grow", flags->may_grow,
                     "Whether a log may still be written to: auto (a file modified less than "
                     "--settle-time ago; stdin never), yes (hold back the attempt under way at "
                     "its end), no (record it as a failure, error unknown)")
          ->check(CLI::IsMember({"auto", "yes", "no"}))
          ->capture_default_str();
      sub.add_option("--settle-time", flags->settle_time,
                     "How long after its last change a log counts as finished (--may-grow auto)")
          ->capture_default_str();
      sub.footer(
          "Examples:\n"
          "  certcast parse certbot /var/log/letsencrypt/letsencrypt.log --tz-offset +01:00\n"
          "  certcast parse certbot /etc/letsencrypt/renewal/shop.conf\n"
          "  journalctl -u lego-renew | certcast parse lego - --cert shop.example.com\n"
          "  docker logs -t nginx-proxy-manager 2>&1 | certcast parse certbot -\n"
          "  certcast parse lego ~/.lego/certificates/shop.example.com.json --challenge http-01\n"
          "  certcast parse lego /var/log/lego.log --settle-time 10m   # a daemon's collector");
      return [flags] { return ParseRun(*flags, SystemClock::Get()).Run(); };
    }});

}  // namespace
}  // namespace certcast::cli
