#include "collect/clients/certbot_log.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "absl/time/civil_time.h"
#include "core/strings.h"

namespace certcast::clients {
namespace {

// One log record: the timestamped first line and the untimestamped lines after it.
struct Record {
  size_t line = 0;  // number of the first line
  absl::Time ts;
  std::string_view level;   // DEBUG, INFO, WARNING, ERROR, CRITICAL
  std::string_view logger;  // certbot._internal.renewal, acme.client, ...
  std::string_view message; // rest of the first line
  std::vector<std::string_view> continuation;
};

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int ToInt(std::string_view s) {
  int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

enum class HeadResult { kNotAHead, kHead, kBadTime };

// "YYYY-MM-DD HH:MM:SS,mmm:LEVEL:logger:message" (24 bytes of asctime, then ':').
HeadResult ParseHead(const Line& line, absl::Duration utc_offset, Record& record) {
  const std::string_view t = line.text;
  if (t.size() < 25 || t[4] != '-' || t[7] != '-' || t[10] != ' ' || t[13] != ':' ||
      t[16] != ':' || t[19] != ',' || t[23] != ':') {
    return HeadResult::kNotAHead;
  }
  const std::string_view year = t.substr(0, 4), month = t.substr(5, 2), day = t.substr(8, 2),
                         hour = t.substr(11, 2), minute = t.substr(14, 2),
                         second = t.substr(17, 2), millis = t.substr(20, 3);
  for (auto part : {year, month, day, hour, minute, second, millis}) {
    if (!AllDigits(part)) return HeadResult::kNotAHead;
  }
  const std::string_view rest = t.substr(24);
  const size_t level_end = rest.find(':');
  if (level_end == std::string_view::npos) return HeadResult::kNotAHead;
  const size_t logger_end = rest.find(':', level_end + 1);
  if (logger_end == std::string_view::npos) return HeadResult::kNotAHead;
  // absl::CivilSecond normalises out-of-range fields (month 13 becomes January of the next year);
  // a timestamp that does not survive the round trip is not a real one.
  const absl::CivilSecond civil(ToInt(year), ToInt(month), ToInt(day), ToInt(hour),
                                ToInt(minute), ToInt(second));
  if (civil.year() != ToInt(year) || civil.month() != ToInt(month) ||
      civil.day() != ToInt(day) || civil.hour() != ToInt(hour) ||
      civil.minute() != ToInt(minute) || civil.second() != ToInt(second)) {
    return HeadResult::kBadTime;
  }
  record.line = line.number;
  record.ts = absl::FromCivil(civil, absl::UTCTimeZone()) + absl::Milliseconds(ToInt(millis)) -
              utc_offset;
  record.level = rest.substr(0, level_end);
  record.logger = rest.substr(level_end + 1, logger_end - level_end - 1);
  record.message = rest.substr(logger_end + 1);
  record.continuation.clear();
  return HeadResult::kHead;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool Contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

// The message and its continuation lines, each tested separately (a record's text is never
// copied: continuation lines can be long HTTP bodies).
template <typename F>
bool AnyLine(const Record& r, F&& test) {
  if (test(r.message)) return true;
  for (auto l : r.continuation) {
    if (test(l)) return true;
  }
  return false;
}

std::string_view AfterPrefix(std::string_view s, std::string_view prefix) {
  return s.substr(prefix.size());
}

// ".../renewal/NAME.conf" or ".../live/NAME/fullchain.pem" -> NAME.
std::optional<std::string> LineageFromPath(std::string_view path, std::string_view dir,
                                           std::string_view suffix) {
  const size_t at = path.rfind(dir);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view name = path.substr(at + dir.size());
  if (name.size() <= suffix.size() || name.substr(name.size() - suffix.size()) != suffix) {
    return std::nullopt;
  }
  name.remove_suffix(suffix.size());
  if (name.empty() || Contains(name, "/")) return std::nullopt;
  return std::string(name);
}

std::optional<Challenge> ChallengeFromAuthenticator(std::string_view plugin) {
  // certbot's HTTP-01 plugins: standalone, webroot, nginx, apache; DNS plugins are "dns-<name>"
  // (certbot-dns-cloudflare registers "dns-cloudflare"). "manual" can do either: unknown here.
  if (plugin == "standalone" || plugin == "webroot" || plugin == "nginx" || plugin == "apache") {
    return Challenge::kHttp01;
  }
  if (StartsWith(plugin, "dns-") || StartsWith(plugin, "dns_")) return Challenge::kDns01;
  return std::nullopt;
}

// One attempt in the making.
struct Attempt {
  std::string cert;          // empty: not known yet
  size_t line = 0;           // where it started (for issues)
  absl::Time start;
  absl::Time last;           // latest record that belongs to it
  bool closed = false;       // no more records belong to it (summary reached)
  bool requested = false;    // certbot said it is requesting/renewing a certificate
  bool not_due = false;
  std::optional<Outcome> outcome;
  absl::Time end;
  std::string failure_message;
  std::optional<AcmeProblem> problem_in_message;
  std::optional<AcmeProblem> challenge_problem;
  std::optional<AcmeProblem> traceback_problem;
  std::optional<Challenge> challenge;         // from "http-01 challenge for NAME"
  std::optional<Challenge> plugin_challenge;  // from "Plugins selected: Authenticator X"
  std::optional<std::string> ca;
  std::optional<std::string> trigger;
  bool dry_run = false;
};

struct Run {
  size_t line = 0;
  absl::Time start;
  std::vector<std::string> arguments;
  std::optional<Challenge> plugin_challenge;  // from "Plugins selected: Authenticator X"
  std::optional<std::string> server;           // --server
  std::optional<std::string> cert_name;        // --cert-name, else first -d
  bool dry_run = false;
  bool forced = false;
  bool renew_style = false;  // saw "Processing .../renewal/NAME.conf"
  Attempt single;            // the certonly-style attempt
  std::vector<Attempt> lineages;  // renew-style attempts in order
  bool abnormal_exit = false;
  absl::Time abnormal_ts;
  std::string final_error;   // last ERROR record of certbot._internal.log
  absl::Time final_error_ts;
};

class CertbotLogParser {
 public:
  CertbotLogParser(const CertbotLogOptions& options, ParseOutput& out)
      : options_(options), out_(out) {}

  void Feed(const Record& r) {
    if (r.logger == "certbot._internal.main" && StartsWith(r.message, "certbot version: ")) {
      EndRun();
      run_.emplace();
      run_->line = r.line;
      run_->start = r.ts;
      run_->single.line = r.line;
      run_->single.start = r.ts;
    }
    if (!run_) {
      // A log cut at the start (rotation, tail): records before the first "certbot version"
      // still belong to a run; open one without its arguments.
      run_.emplace();
      run_->line = r.line;
      run_->start = r.ts;
      run_->single.line = r.line;
      run_->single.start = r.ts;
    }
    Run& run = *run_;
    Attempt* current = Current();
    // A record belongs to the open attempt unless it closes it (the next "Processing", the
    // summary): then `last` goes back to the record before.
    const absl::Time previous_last = current ? current->last : absl::Time();
    const auto close_current = [&] {
      if (current && !current->closed) {
        current->closed = true;
        current->last = previous_last;
      }
    };
    if (current && !current->closed) current->last = r.ts;

    const std::string_view m = r.message;
    if (r.logger == "certbot._internal.main" && StartsWith(m, "Arguments: ")) {
      auto args = ParsePythonStringList(AfterPrefix(m, "Arguments: "));
      if (!args.ok()) {
        out_.issues.push_back({r.line, StrCat("certbot arguments: ", args.status().message())});
      } else {
        ReadArguments(run, *args);
      }
      return;
    }
    static constexpr std::string_view kNotify = "Notifying user: ";
    if (StartsWith(m, kNotify)) {
      const std::string_view note = AfterPrefix(m, kNotify);
      if (StartsWith(note, "Processing ")) {
        close_current();
        run.renew_style = true;
        Attempt a;
        a.line = r.line;
        a.start = a.last = r.ts;
        a.dry_run = run.dry_run;
        if (run.forced) a.trigger = "forced";
        auto name = LineageFromPath(AfterPrefix(note, "Processing "), "/renewal/", ".conf");
        if (!name) {
          out_.issues.push_back({r.line, "\"Processing\" names no renewal/NAME.conf file"});
          name = "";
        }
        a.cert = *name;
        run.lineages.push_back(std::move(a));
        return;
      }
      if (!current) return;
      // certbot 2.x: "Certificate not yet due for renewal"; certbot 0.x/1.x: "Cert not yet due
      // for renewal".
      if (StartsWith(note, "Certificate not yet due for renewal") ||
          StartsWith(note, "Cert not yet due for renewal")) {
        current->not_due = true;
        return;
      }
      for (std::string_view begin :
           {"Renewing an existing certificate for ", "Requesting a certificate for ",
            "Simulating renewal of an existing certificate for ",
            "Simulating a certificate request for "}) {
        if (StartsWith(note, begin)) {
          current->requested = true;
          if (StartsWith(note, "Simulating")) current->dry_run = true;
          if (current->cert.empty()) {
            // "Requesting a certificate for a.example and b.example": certbot names a new lineage
            // after its first domain, without a wildcard's "*." (storage.py).
            std::string_view first = AfterPrefix(note, begin);
            first = first.substr(0, first.find(' '));
            if (StartsWith(first, "*.")) first.remove_prefix(2);
            current->cert = std::string(first);
          }
          return;
        }
      }
      // Summary: "Congratulations, all renewals succeeded:" etc., then one line per lineage.
      if (StartsWith(note, "Congratulations") || StartsWith(note, "- - - -") ||
          StartsWith(note, "The following") || StartsWith(note, "No renewals were attempted")) {
        close_current();
      }
      if (note.size() > 2 && StartsWith(note, "  ") &&
          (note.ends_with(" (success)") || note.ends_with(" (failure)"))) {
        SummaryLine(run, note, r.ts);
      }
      const bool success_note = AnyLine(r, [](std::string_view l) {
        return StartsWith(l, "Successfully received certificate.") ||
               StartsWith(l, "The dry run was successful.");
      });
      if (success_note && !run.renew_style) {
        run.single.outcome = Outcome::kSuccess;
        run.single.end = r.ts;
        run.single.closed = true;
      }
      if (note.empty() && !r.continuation.empty() &&
          StartsWith(r.continuation[0], "- - - -")) {
        close_current();
      }
      ReadChallengeBlock(r, *current);
      return;
    }
    if (r.logger == "certbot._internal.renewal") {
      static constexpr std::string_view kFailed = "Failed to renew certificate ";
      if (StartsWith(m, kFailed)) {
        const std::string_view rest = AfterPrefix(m, kFailed);
        const size_t with = rest.find(" with error: ");
        const std::string name(rest.substr(0, with));
        Attempt* a = FindLineage(run, name);
        if (!a) a = current;
        if (a) {
          a->outcome = Outcome::kFailure;
          a->end = r.ts;
          a->closed = true;
          if (with != std::string_view::npos) {
            a->failure_message = std::string(rest.substr(with + 13));
            a->problem_in_message = FindAcmeProblem(a->failure_message, ProblemStyle::kCertbot);
          }
        }
        return;
      }
      if (Contains(m, "is broken. Skipping.")) {
        // "Renewal configuration file /etc/letsencrypt/renewal/NAME.conf is broken. Skipping."
        // certbot did not try to renew, but the lineage cannot renew until someone fixes it.
        Attempt a;
        a.line = r.line;
        a.start = a.last = a.end = r.ts;
        a.closed = true;
        a.requested = true;
        a.outcome = Outcome::kFailure;
        a.failure_message = std::string(m);
        auto name = LineageFromPath(m.substr(0, m.find(" is broken")), "/renewal/", ".conf");
        a.cert = name.value_or("");
        run.renew_style = true;
        run.lineages.push_back(std::move(a));
        return;
      }
      if (current && StartsWith(m, "Auto-renewal forced")) current->trigger = "forced";
      if (current && StartsWith(m, "Certificate is due for renewal")) current->trigger = "schedule";
      if (StartsWith(m, "Traceback was:") && current) ReadTraceback(r, *LastFailed(run, current));
      return;
    }
    if (r.logger == "certbot._internal.plugins.selection" &&
        StartsWith(m, "Plugins selected: Authenticator ")) {
      std::string_view plugin = AfterPrefix(m, "Plugins selected: Authenticator ");
      plugin = plugin.substr(0, plugin.find(','));
      if (current) current->plugin_challenge = ChallengeFromAuthenticator(plugin);
      run.plugin_challenge = ChallengeFromAuthenticator(plugin);
      return;
    }
    if (r.logger == "certbot._internal.auth_handler" && current && !current->challenge) {
      // "http-01 challenge for c-http.acmelab.test"
      const size_t space = m.find(' ');
      if (space != std::string_view::npos && StartsWith(m.substr(space), " challenge for ")) {
        current->challenge = ChallengeFromString(m.substr(0, space));
      }
      return;
    }
    if (r.logger == "acme.client" && StartsWith(m, "Sending GET request to ") && current &&
        !current->ca) {
      // certbot fetches the ACME directory before anything else in an attempt.
      std::string_view url = AfterPrefix(m, "Sending GET request to ");
      if (url.ends_with(".")) url.remove_suffix(1);
      current->ca = std::string(url);
      return;
    }
    if (r.logger == "certbot._internal.error_handler" && current) {
      ReadTraceback(r, *current);
      return;
    }
    if (r.logger == "certbot._internal.log") {
      if (StartsWith(m, "Exiting abnormally")) {
        run.abnormal_exit = true;
        run.abnormal_ts = r.ts;
        if (current) ReadTraceback(r, run.renew_style ? *LastFailed(run, current) : *current);
        return;
      }
      if (r.level == "ERROR" && m != "An unexpected error occurred:") {
        run.final_error = std::string(m);
        run.final_error_ts = r.ts;
      }
    }
  }

  void EndRun() {
    if (!run_) return;
    Run& run = *run_;
    if (run.renew_style) {
      for (Attempt& a : run.lineages) {
        if (a.not_due && !a.outcome) continue;
        if (!a.outcome && run.abnormal_exit) {
          a.outcome = Outcome::kFailure;
          a.end = std::max(run.final_error_ts, run.abnormal_ts);
          a.failure_message = run.final_error;
        }
        if (!a.outcome && !a.requested) continue;  // never got as far as trying
        Emit(run, a);
      }
    } else {
      Attempt& a = run.single;
      // --cert-name (or certbot's default, the first -d name) is the lineage; the name in
      // "Requesting a certificate for ..." only stands in when the arguments were not logged.
      if (run.cert_name) a.cert = *run.cert_name;
      if (!a.outcome && run.abnormal_exit) {
        a.outcome = Outcome::kFailure;
        a.end = std::max(run.final_error_ts, run.abnormal_ts);
        a.failure_message = run.final_error;
        a.requested = true;
      }
      if (a.outcome || a.requested) Emit(run, a);
    }
    run_.reset();
  }

 private:
  Attempt* Current() {
    if (!run_) return nullptr;
    if (run_->renew_style) return run_->lineages.empty() ? nullptr : &run_->lineages.back();
    return &run_->single;
  }

  static Attempt* FindLineage(Run& run, std::string_view name) {
    for (auto it = run.lineages.rbegin(); it != run.lineages.rend(); ++it) {
      if (it->cert == name) return &*it;
    }
    return nullptr;
  }

  // The traceback after "Failed to renew" belongs to the attempt that failed last.
  static Attempt* LastFailed(Run& run, Attempt* fallback) {
    for (auto it = run.lineages.rbegin(); it != run.lineages.rend(); ++it) {
      if (it->outcome == Outcome::kFailure) return &*it;
    }
    return fallback;
  }

  void ReadArguments(Run& run, const std::vector<std::string>& args) {
    run.arguments = args;
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      const bool has_value = i + 1 < args.size();
      if (a == "--dry-run") run.dry_run = true;
      if (a == "--force-renewal" || a == "--renew-by-default") run.forced = true;
      if (a == "--server" && has_value) run.server = args[i + 1];
      if (StartsWith(a, "--server=")) run.server = a.substr(9);
      if (a == "--cert-name" && has_value) run.cert_name = args[i + 1];
      if (StartsWith(a, "--cert-name=")) run.cert_name = a.substr(12);
      if ((a == "-d" || a == "--domains" || a == "--domain") && has_value && !first_domain_) {
        std::string_view d = args[i + 1];
        d = d.substr(0, d.find(','));
        if (StartsWith(d, "*.")) d.remove_prefix(2);
        first_domain_ = std::string(d);
      }
    }
    if (!run.cert_name && first_domain_) run.cert_name = first_domain_;
    first_domain_.reset();
    run.single.dry_run = run.dry_run;
    if (run.forced) run.single.trigger = "forced";
  }

  void SummaryLine(Run& run, std::string_view note, absl::Time ts) {
    const bool success = note.ends_with(" (success)");
    note = Trim(note.substr(0, note.size() - 10));
    auto name = LineageFromPath(note, "/live/", "/fullchain.pem");
    if (!name) return;
    Attempt* a = FindLineage(run, *name);
    if (!a || a->outcome) return;
    a->outcome = success ? Outcome::kSuccess : Outcome::kFailure;
    a->end = a->last;
  }

  // "Certbot failed to authenticate some domains (authenticator: standalone). The Certificate
  // Authority reported these problems:\n  Domain: x\n  Type:   connection\n  Detail: ..."
  // The type is the problem type without its "urn:ietf:params:acme:error:" namespace.
  static void ReadChallengeBlock(const Record& r, Attempt& a) {
    if (a.challenge_problem) return;
    for (size_t i = 0; i < r.continuation.size(); ++i) {
      std::string_view l = Trim(r.continuation[i]);
      if (!StartsWith(l, "Type:")) continue;
      const std::string_view type = Trim(AfterPrefix(l, "Type:"));
      if (type.empty()) continue;
      AcmeProblem p;
      p.type = StrCat("urn:ietf:params:acme:error:", type);
      if (i + 1 < r.continuation.size()) {
        std::string_view d = Trim(r.continuation[i + 1]);
        if (StartsWith(d, "Detail:")) p.detail = CleanDetail(AfterPrefix(d, "Detail:"));
      }
      a.challenge_problem = std::move(p);
      return;
    }
  }

  // Python prints the chain of exceptions; the last "acme.messages.Error: urn:..." is the one
  // closest to the failure.
  static void ReadTraceback(const Record& r, Attempt& a) {
    for (auto l : r.continuation) {
      if (StartsWith(l, "acme.messages.Error: ")) {
        if (auto p = FindAcmeProblem(l, ProblemStyle::kCertbot)) a.traceback_problem = p;
      }
    }
  }

  void Emit(const Run& run, Attempt& a) {
    std::string cert = a.cert;
    if (cert.empty()) cert = options_.fallback_cert.value_or("");
    if (cert.empty()) {
      out_.issues.push_back(
          {a.line, "certbot attempt names no lineage (no --cert-name or -d); pass --cert NAME"});
      return;
    }
    if (!a.outcome) {
      out_.issues.push_back(
          {a.line, StrCat("certbot attempt for ", cert, " has no outcome (the log ends first)")});
      return;
    }
    RenewalEvent e;
    e.cert = ToValidUtf8(cert);
    e.outcome = *a.outcome;
    if (e.outcome == Outcome::kFailure) {
      const AcmeProblem* p = nullptr;
      if (a.problem_in_message) p = &*a.problem_in_message;
      else if (a.challenge_problem) p = &*a.challenge_problem;
      else if (a.traceback_problem) p = &*a.traceback_problem;
      if (p) {
        e.error = ToValidUtf8(p->type);
        if (!p->detail.empty()) e.detail = p->detail;
      } else {
        e.error = ClassifyClientError(a.failure_message);
      }
      if (!e.detail && !Trim(a.failure_message).empty()) e.detail = CleanDetail(a.failure_message);
    }
    e.challenge = a.challenge          ? a.challenge
                  : a.plugin_challenge ? a.plugin_challenge
                                       : run.plugin_challenge;
    if (a.ca) {
      e.ca = ToValidUtf8(*a.ca);
    } else if (run.server) {
      e.ca = ToValidUtf8(*run.server);
    }
    const absl::Time end = e.outcome == Outcome::kFailure || a.end != absl::Time() ? a.end : a.last;
    if (end >= a.start) e.duration_ms = absl::ToDoubleMilliseconds(end - a.start);
    e.dry_run = a.dry_run;
    e.trigger = a.trigger;
    Finish(Event{a.start, std::move(e)}, a.line, out_);
  }

  const CertbotLogOptions& options_;
  ParseOutput& out_;
  std::optional<Run> run_;
  std::optional<std::string> first_domain_;
};

}  // namespace

StatusOr<std::vector<std::string>> ParsePythonStringList(std::string_view text) {
  std::vector<std::string> items;
  text = Trim(text);
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') {
    return InvalidArgumentError("is not a Python list [...]");
  }
  text = text.substr(1, text.size() - 2);
  size_t i = 0;
  const auto skip_space = [&] {
    while (i < text.size() && text[i] == ' ') ++i;
  };
  skip_space();
  while (i < text.size()) {
    const char quote = text[i];
    if (quote != '\'' && quote != '"') {
      return InvalidArgumentError(StrCat("item at offset ", i + 1, " is not a quoted string"));
    }
    ++i;
    std::string item;
    bool closed = false;
    while (i < text.size()) {
      const char c = text[i++];
      if (c == quote) {
        closed = true;
        break;
      }
      if (c == '\\' && i < text.size()) {
        // repr() escapes the quote, the backslash and control characters; keep the escaped
        // character for the first two, the two-character form for the rest.
        const char n = text[i++];
        if (n == '\\' || n == '\'' || n == '"') {
          item.push_back(n);
        } else {
          item.push_back('\\');
          item.push_back(n);
        }
        continue;
      }
      item.push_back(c);
    }
    if (!closed) return InvalidArgumentError("has an unterminated string");
    items.push_back(std::move(item));
    skip_space();
    if (i < text.size()) {
      if (text[i] != ',') return InvalidArgumentError("items are not separated by ','");
      ++i;
      skip_space();
    }
  }
  return items;
}

ParseOutput ParseCertbotLog(std::string_view text, const CertbotLogOptions& options) {
  ParseOutput out;
  if (text.size() > kMaxLogBytes) {
    out.issues.push_back({0, StrCat("log larger than ", kMaxLogBytes, " bytes")});
    return out;
  }
  CertbotLogParser parser(options, out);
  std::optional<Record> record;
  for (const Line& line : SplitLines(text)) {
    if (line.text.size() > kMaxLogLineBytes) {
      out.issues.push_back({line.number, StrCat("line longer than ", kMaxLogLineBytes, " bytes")});
      continue;
    }
    Record next;
    switch (ParseHead(line, options.utc_offset, next)) {
      case HeadResult::kHead:
        if (record) parser.Feed(*record);
        record = std::move(next);
        break;
      case HeadResult::kBadTime:
        out.issues.push_back({line.number, "record has an impossible timestamp"});
        break;
      case HeadResult::kNotAHead:
        if (record) {
          record->continuation.push_back(line.text);
        } else if (!Trim(line.text).empty()) {
          out.issues.push_back(
              {line.number, "not a certbot log record (expected \"YYYY-MM-DD HH:MM:SS,mmm:LEVEL:"
                            "logger:message\")"});
        }
        break;
    }
  }
  if (record) parser.Feed(*record);
  parser.EndRun();
  return out;
}

}  // namespace certcast::clients
