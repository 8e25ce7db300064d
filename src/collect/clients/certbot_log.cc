#include "collect/clients/certbot_log.h"

#include <algorithm>
#include <charconv>
#include <unordered_map>

#include "absl/time/civil_time.h"
#include "core/strings.h"

namespace certcast::clients {
namespace {

// A record head "YYYY-MM-DD HH:MM:SS,mmm:LEVEL:logger:message".
struct Record {
  size_t line = 0;
  absl::Time ts;
  std::string_view level;
  std::string_view logger;
  std::string_view message;
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
HeadResult ParseHead(std::string_view t, size_t number, absl::Duration utc_offset, Record& record) {
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
  record.line = number;
  record.ts = absl::FromCivil(civil, absl::UTCTimeZone()) + absl::Milliseconds(ToInt(millis)) -
              utc_offset;
  record.level = rest.substr(0, level_end);
  record.logger = rest.substr(level_end + 1, logger_end - level_end - 1);
  record.message = rest.substr(logger_end + 1);
  return HeadResult::kHead;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool Contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
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

// One line of input as the state machine sees it: a record's first line, a record's
// continuation line, or a terminal line.
struct Item {
  size_t line = 0;
  std::optional<absl::Time> ts;  // record stamp or wrapper stamp
  std::string_view level;        // records only
  std::string_view logger;       // records only
  std::string_view text;         // trimmed
  std::string_view raw;          // untrimmed, for indentation
  bool head = false;             // first line of a record
  bool continuation = false;     // later line of a record
};

struct Attempt {
  std::string cert;          // empty: not known yet
  bool named_by_run = false; // named by --cert-name/-d: later hints do not rename it
  size_t line = 0;
  absl::Time start;
  absl::Time last;
  bool requested = false;    // certbot said it was renewing or requesting
  bool not_due = false;
  std::optional<Outcome> outcome;
  bool provisional = false;  // failed by a challenge report; the final message may follow
  absl::Time end;
  std::string failure_message;
  std::optional<AcmeProblem> problem_in_message;
  std::optional<AcmeProblem> challenge_problem;
  std::optional<AcmeProblem> traceback_problem;  // last acme.messages.Error of its traceback
  std::optional<AcmeProblem> body_problem;       // last problem in a CA response it logged
  std::optional<Challenge> challenge;
  std::optional<Challenge> plugin_challenge;
  std::optional<std::string> ca;
  std::optional<std::string> trigger;
  bool dry_run = false;
};

struct Run {
  size_t line = 0;
  absl::Time start;
  std::optional<Challenge> plugin_challenge;
  bool dns_plugin = false;
  std::optional<std::string> server;
  std::optional<std::string> cert_name;  // --cert-name, else first -d
  bool certonly = false;                 // certonly/run: one attempt named by the arguments
  bool dry_run = false;
  bool forced = false;
  std::vector<Attempt> attempts;
  // Latest attempt per lineage name: a run of many lineages stays linear (a 64 MiB log can name
  // a million).
  std::unordered_map<std::string, int> by_name;
  size_t swept = 0;  // attempts before this were settled by a run-wide line already
  int current = -1;                      // index into attempts, -1: none open
  bool abnormal_exit = false;
  absl::Time abnormal_ts;
  std::string final_error;
  absl::Time final_error_ts;
  std::optional<AcmeProblem> pending_problem;  // logged while no attempt was current
};

class CertbotParser {
 public:
  CertbotParser(const CertbotLogOptions& options, ParseOutput& out)
      : options_(options), out_(out) {}

  void Feed(const Item& it) {
    if (it.ts) last_ts_ = *it.ts;
    const absl::Time ts = it.ts.value_or(last_ts_.value_or(options_.fallback_time));
    std::string_view t = it.text;
    // NPM 2.0-2.7 joined certbot's output lines with ",": "Some challenges have failed.,".
    while (!t.empty() && t.back() == ',') t.remove_suffix(1);
    t = Trim(t);
    if (it.head) in_traceback_ = false;
    if (StartsWith(t, "Traceback (most recent call last)")) {
      in_traceback_ = true;
      traceback_ts_ = ts;
      if (run_ && Current()) traceback_owner_ = run_->current;
    }
    if (t.empty()) return;
    if (in_traceback_ && !it.head) {
      ReadTracebackLine(t);
      // The traceback ends at the exception line (no indentation).
      if (!StartsWith(it.raw, " ") && !StartsWith(t, "Traceback")) in_traceback_ = false;
      return;
    }
    Handle(it, t, ts);
  }

  // Ends the run under way. `may_grow`: the run is the last of an input the client may still be
  // writing (CertbotLogOptions::input_may_grow), so an attempt whose outcome is not final yet (none,
  // or a challenge report the final message may still follow) is held back, not recorded: certbot
  // may be about to write it. Attempts already settled are emitted as usual.
  void EndRun(bool may_grow = false) {
    if (!run_) return;
    Run& run = *run_;
    if (may_grow) {
      // A run that has failed before any attempt showed is still writing its error (or about to).
      if (run.attempts.empty() && run.abnormal_exit) out_.held_back.push_back(run.line);
      for (Attempt& a : run.attempts) {
        if (a.not_due && !a.outcome) continue;
        if (!a.outcome && !a.requested) continue;  // never got as far as trying
        if (!a.outcome || a.provisional) {
          out_.held_back.push_back(a.line);
          continue;
        }
        Emit(run, a);
      }
      run_.reset();
      return;
    }
    // A run that failed before any attempt showed (account, directory): still a failure.
    if (run.attempts.empty() && run.abnormal_exit) {
      Attempt& a = NewAttempt(run.line, run.start, "");
      a.requested = true;
      a.line = run.line;
    }
    for (Attempt& a : run.attempts) {
      if ((!a.outcome || a.provisional) && run.abnormal_exit &&
          (a.requested || run.certonly || &a == Cur(run))) {
        a.outcome = Outcome::kFailure;
        a.end = std::max(run.abnormal_ts, run.final_error_ts);
        if (a.failure_message.empty()) a.failure_message = run.final_error;
      }
      if (a.not_due && !a.outcome) continue;
      if (!a.outcome && !a.requested) continue;  // never got as far as trying
      Emit(run, a);
    }
    run_.reset();
  }

 private:
  Attempt* Cur(Run& run) { return run.current < 0 ? nullptr : &run.attempts[run.current]; }
  Attempt* Current() { return run_ ? Cur(*run_) : nullptr; }

  Run& EnsureRun(size_t line) {
    if (!run_) {
      run_.emplace();
      run_->line = line;
    }
    return *run_;
  }

  Attempt& NewAttempt(size_t line, absl::Time ts, std::string cert) {
    Run& run = EnsureRun(line);
    Attempt a;
    a.line = line;
    a.start = a.last = ts;
    a.cert = std::move(cert);
    a.dry_run = run.dry_run;
    if (run.forced) a.trigger = "forced";
    if (run.certonly && run.cert_name && a.cert.empty()) {
      a.cert = *run.cert_name;
      a.named_by_run = true;
    }
    // A problem logged before the attempt showed (an excerpt that starts mid-run) is its own.
    a.body_problem = run.pending_problem;
    run.pending_problem.reset();
    run.attempts.push_back(std::move(a));
    run.current = static_cast<int>(run.attempts.size()) - 1;
    if (!run.attempts.back().cert.empty()) run.by_name[run.attempts.back().cert] = run.current;
    return run.attempts.back();
  }

  // Names an attempt of the current run (and indexes it).
  void NameAttempt(Attempt& a, std::string name) {
    a.cert = std::move(name);
    if (run_) run_->by_name[a.cert] = static_cast<int>(&a - run_->attempts.data());
  }

  // The open attempt, opened unnamed when there is none.
  Attempt& Open(size_t line, absl::Time ts) {
    if (Attempt* a = Current()) return *a;
    return NewAttempt(line, ts, "");
  }

  // The attempt for lineage NAME: an existing one, the current unnamed one, or a new one.
  Attempt& Named(const std::string& name, size_t line, absl::Time ts) {
    Run& run = EnsureRun(line);
    if (auto it = run.by_name.find(name); it != run.by_name.end() &&
                                          run.attempts[it->second].cert == name) {
      run.current = it->second;
      return run.attempts[it->second];
    }
    if (Attempt* a = Cur(run); a && a->cert.empty() && !a->outcome) {
      NameAttempt(*a, name);
      return *a;
    }
    if (Attempt* a = Cur(run); a && a->named_by_run && !a->outcome && run.certonly) return *a;
    return NewAttempt(line, ts, name);
  }

  void StartRun(size_t line, absl::Time ts) {
    EndRun();
    summary_ = false;
    EnsureRun(line).start = ts;
  }

  void ReadArguments(Run& run, const std::vector<std::string>& args) {
    std::optional<std::string> first_domain;
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      const bool has_value = i + 1 < args.size();
      if (a == "--dry-run") run.dry_run = true;
      if (a == "--force-renewal" || a == "--renew-by-default") run.forced = true;
      if (a == "certonly" || a == "run") run.certonly = true;
      if ((a == "-d" || a == "--domains" || a == "--domain") && has_value && !first_domain) {
        std::string_view d = args[i + 1];
        d = d.substr(0, d.find(','));
        if (StartsWith(d, "*.")) d.remove_prefix(2);
        first_domain = std::string(d);
      }
      if ((a == "-a" || a == "--authenticator") && has_value) {
        run.plugin_challenge = ChallengeFromAuthenticator(args[i + 1]);
        run.dns_plugin = StartsWith(args[i + 1], "dns");
      }
      if (StartsWith(a, "--dns-")) run.dns_plugin = true;
    }
    run.server = FlagValue(args, {"--server"});
    run.cert_name = FlagValue(args, {"--cert-name"});
    if (!run.cert_name) run.cert_name = first_domain;
    // A run whose arguments name a lineage (certonly/run, or renew --cert-name) is about that
    // one lineage. letsencrypt.log's "Arguments:" leave out the verb.
    if (run.cert_name) run.certonly = true;
  }

  void ReadTracebackLine(std::string_view t) {
    // Python prints the chain of exceptions; the last "acme.messages.Error: urn:..." is the one
    // closest to the failure.
    if (auto p = FindAcmeProblem(t, ProblemStyle::kCertbot)) NoteProblem(*p, true);
    // renewal._reconstitute: the renewal configuration (or the files it names) is unusable.
    if ((Contains(t, "_reconstitute") || Contains(t, "CertStorageError")) && run_ &&
        traceback_owner_ >= 0 && traceback_owner_ < static_cast<int>(run_->attempts.size())) {
      Attempt& a = run_->attempts[traceback_owner_];
      a.requested = true;
      Fail(a, traceback_ts_, "renewal configuration file is broken (renewal._reconstitute failed)");
    }
  }

  void NoteProblem(const AcmeProblem& p, bool traceback) {
    if (!run_) return;
    Attempt* a = Current();
    if (traceback && traceback_owner_ >= 0 &&
        traceback_owner_ < static_cast<int>(run_->attempts.size())) {
      a = &run_->attempts[traceback_owner_];
    }
    if (a) {
      (traceback ? a->traceback_problem : a->body_problem) = p;
    } else {
      run_->pending_problem = p;
    }
  }

  // `provisional`: a challenge report, which certbot follows with the failure itself.
  void Fail(Attempt& a, absl::Time ts, std::string_view message, bool provisional = false) {
    if (!a.outcome || (a.provisional && !provisional)) {
      a.outcome = Outcome::kFailure;
      a.end = ts;
      a.provisional = provisional;
    }
    if (!message.empty() && a.failure_message.empty()) {
      a.failure_message = std::string(message);
      a.problem_in_message = FindAcmeProblem(message, ProblemStyle::kCertbot);
    }
  }

  void Succeed(Attempt& a, absl::Time ts) {
    if (a.outcome) return;
    a.outcome = Outcome::kSuccess;
    a.end = ts;
  }

  void Handle(const Item& it, std::string_view t, absl::Time ts) {
    const size_t line = it.line;
    {
      // The summary closes the attempt under way: its duration ends at the record before.
      std::string_view n = StartsWith(t, "Notifying user: ") ? Trim(t.substr(16)) : t;
      if (run_ && (StartsWith(n, "Congratulations, all") || StartsWith(n, "- - - -") ||
                   StartsWith(n, "The following") || StartsWith(n, "All ") ||
                   StartsWith(n, "No renewals were attempted") ||
                   (n.empty() && it.head && StartsWith(t, "Notifying user:")))) {
        // "Notifying user: " then "- - - -" on the next line: the record that opened the
        // summary does not belong to the attempt either.
        if (!summary_ && it.continuation && StartsWith(n, "- - - -")) {
          if (Attempt* a = Current(); a && !a->outcome) a->last = last_before_head_;
        }
        summary_ = true;
      } else if (StartsWith(n, "Processing")) {
        summary_ = false;
      }
    }
    if (Attempt* a = Current(); a && !a->outcome && !summary_) {
      if (it.head) last_before_head_ = a->last;
      a->last = ts;
    }

    // ---- runs ----
    if (it.head && StartsWith(t, "certbot version: ")) return StartRun(line, ts);
    if (StartsWith(t, "Saving debug log to")) {
      // certbot's first line: a new run, unless the command line that started this one came
      // just before (NPM, a prompt) and nothing happened since.
      const bool active = run_ && std::any_of(run_->attempts.begin(), run_->attempts.end(),
                                              [](const Attempt& a) {
                                                return a.requested || a.outcome || a.not_due;
                                              });
      if (!run_ || active) StartRun(line, ts);
      return;
    }
    if (it.head && StartsWith(t, "Arguments: ")) {
      auto args = ParsePythonStringList(AfterPrefix(t, "Arguments: "));
      if (!args.ok()) {
        out_.issues.push_back({line, StrCat("certbot arguments: ", args.status().message())});
        return;
      }
      Run& run = EnsureRun(line);
      ReadArguments(run, *args);
      if (run.certonly && run.attempts.empty()) {
        NewAttempt(run.line, run.start != absl::Time() ? run.start : ts, "");
      }
      return;
    }
    if (!it.continuation && !it.head) {
      if (auto words = FindCommandLine(t, {"certbot", "certbot-auto", "letsencrypt-auto",
                                          "letsencrypt"})) {
        StartRun(line, ts);
        ReadArguments(*run_, *words);
        if (run_->certonly) NewAttempt(line, ts, "");
        return;
      }
    }
    Run& run = EnsureRun(line);

    // ---- attempts and lineages ----
    static constexpr std::string_view kNotify = "Notifying user: ";
    if (StartsWith(t, kNotify)) t = Trim(AfterPrefix(t, kNotify));
    if (t.empty()) return;
    if (t == "Processing") {
      expect_processing_path_ = true;
      return;
    }
    if (StartsWith(t, "Processing ") || (expect_processing_path_ && StartsWith(t, "/"))) {
      expect_processing_path_ = false;
      const std::string_view path = StartsWith(t, "Processing ") ? AfterPrefix(t, "Processing ") : t;
      auto name = LineageFromPath(Trim(path), "/renewal/", ".conf");
      if (!name) {
        out_.issues.push_back({line, "\"Processing\" names no renewal/NAME.conf file"});
        return;
      }
      Attempt* cur = Current();
      if (cur && !cur->outcome && (cur->cert.empty() || cur->cert == *name)) {
        // 0.x printed the notices of this attempt before its name; a run named by
        // --cert-name opened it before certbot got to it.
        if (cur->named_by_run && !cur->requested) {
          cur->line = line;
          cur->start = cur->last = ts;
        }
        NameAttempt(*cur, *name);
      } else {
        NewAttempt(line, ts, *name);
      }
      return;
    }
    expect_processing_path_ = false;
    if (StartsWith(t, "Cert not yet due for renewal") ||
        StartsWith(t, "Certificate not yet due for renewal")) {
      Open(line, ts).not_due = true;
      return;
    }
    if (StartsWith(t, "No renewals were attempted")) {
      for (; run.swept < run.attempts.size(); ++run.swept) {
        Attempt& a = run.attempts[run.swept];
        if (!a.outcome && !a.requested) a.not_due = true;
      }
      return;
    }
    if (StartsWith(t, "Cert is due for renewal") || StartsWith(t, "Certificate is due for renewal")) {
      Attempt& a = Open(line, ts);
      a.requested = true;
      if (!a.trigger) a.trigger = "schedule";
      return;
    }
    if (StartsWith(t, "Auto-renewal forced") || StartsWith(t, "Cert not due for renewal, but simulating")) {
      Attempt& a = Open(line, ts);
      a.requested = true;
      a.trigger = StartsWith(t, "Auto-renewal forced") ? "forced" : a.trigger;
      if (Contains(t, "simulating")) a.dry_run = true;
      return;
    }
    for (std::string_view begin :
         {"Renewing an existing certificate", "Requesting a certificate for ",
          "Simulating renewal of an existing certificate", "Simulating a certificate request",
          "Obtaining a new certificate", "Requesting a certificate", "Performing the following challenges"}) {
      if (!StartsWith(t, begin)) continue;
      Attempt& a = Open(line, ts);
      a.requested = true;
      if (StartsWith(t, "Simulating")) a.dry_run = true;
      // "Requesting a certificate for a.example and b.example": certbot names a new lineage
      // after its first domain, without a wildcard's "*." (storage.py).
      const size_t for_at = t.find(" for ");
      if (a.cert.empty() && for_at != std::string_view::npos) {
        std::string_view first = t.substr(for_at + 5);
        first = first.substr(0, first.find(' '));
        if (StartsWith(first, "*.")) first.remove_prefix(2);
        NameAttempt(a, std::string(first));
      }
      return;
    }
    if (StartsWith(t, "** DRY RUN") || Contains(t, "simulated renewals")) {
      run.dry_run = true;  // Emit reads it for every attempt of the run
    }

    // ---- failures ----
    static constexpr std::string_view kFailed = "Failed to renew certificate ";
    if (StartsWith(t, kFailed)) {
      const std::string_view rest = AfterPrefix(t, kFailed);
      const size_t with = rest.find(" with error: ");
      Attempt& a = Named(std::string(rest.substr(0, with)), line, ts);
      Fail(a, ts, with == std::string_view::npos ? std::string_view() : rest.substr(with + 13));
      return;
    }
    static constexpr std::string_view kAttempting = "Attempting to renew cert ";
    if (StartsWith(t, kAttempting)) {
      // 0.10+: "Attempting to renew cert (NAME) from PATH produced an unexpected error: MSG.
      // Skipping."; 0.9: the same without "(NAME) ".
      std::string_view rest = AfterPrefix(t, kAttempting);
      const size_t produced = rest.find(" produced an unexpected error: ");
      std::optional<std::string> name;
      if (StartsWith(rest, "(")) {
        const size_t close = rest.find(')');
        if (close != std::string_view::npos) name = std::string(rest.substr(1, close - 1));
      }
      const size_t from = rest.find("from ");
      if (!name && from != std::string_view::npos) {
        name = LineageFromPath(rest.substr(from + 5, produced - from - 5), "/renewal/", ".conf");
      }
      if (!name || produced == std::string_view::npos) {
        out_.issues.push_back({line, "certbot failure names no lineage"});
        return;
      }
      std::string_view message = rest.substr(produced + 31);
      if (message.ends_with(". Skipping.")) message.remove_suffix(10);
      Fail(Named(*name, line, ts), ts, message);
      return;
    }
    if (StartsWith(t, "Renewal configuration file ") &&
        (Contains(t, " is broken") || Contains(t, " produced an unexpected error"))) {
      std::string_view path = AfterPrefix(t, "Renewal configuration file ");
      path = path.substr(0, path.find(' '));
      auto name = LineageFromPath(path, "/renewal/", ".conf");
      Attempt& a = Named(name.value_or(""), line, ts);
      a.requested = true;
      Fail(a, ts, t);
      broken_ = run.current;
      return;
    }
    if (StartsWith(t, "The error was: ") && broken_ >= 0 &&
        broken_ < static_cast<int>(run.attempts.size())) {
      Attempt& a = run.attempts[broken_];
      a.failure_message = StrCat(a.failure_message, " ", t);
      broken_ = -1;
      return;
    }
    const bool summary_failure = t.ends_with(" (failure)");
    const bool summary_success = t.ends_with(" (success)");
    const bool summary_skipped = t.ends_with(" (skipped)");
    if (summary_failure || summary_success || summary_skipped) {
      std::string_view path = t.substr(0, t.rfind(" ("));
      if (const size_t expires = path.find(" expires on "); expires != std::string_view::npos) {
        path = path.substr(0, expires);
      }
      auto name = LineageFromPath(Trim(path), "/live/", "/fullchain.pem");
      if (!name) return;
      if (summary_skipped) {
        if (auto found = run.by_name.find(*name); found != run.by_name.end()) {
          Attempt& a = run.attempts[found->second];
          if (a.cert == *name && !a.outcome) a.not_due = true;
        }
        return;
      }
      Attempt& a = Named(*name, line, ts);
      // An attempt seen before the summary ended at its last record; one that only the
      // summary names, at the summary.
      const absl::Time end = a.last >= a.start && a.last != absl::Time() ? a.last : ts;
      if (summary_failure) {
        a.requested = true;
        if (!a.outcome) Fail(a, end, "");
      } else {
        Succeed(a, end);
      }
      return;
    }
    static constexpr std::string_view kChallengeFailed = "Challenge failed for domain ";
    if (StartsWith(t, kChallengeFailed)) {
      Attempt* cur = Current();
      Attempt& a = cur && !(cur->outcome == Outcome::kSuccess)
                       ? *cur
                       : NewAttempt(line, ts, std::string(AfterPrefix(t, kChallengeFailed)));
      if (a.cert.empty()) NameAttempt(a, std::string(AfterPrefix(t, kChallengeFailed)));
      a.requested = true;
      Fail(a, ts, "", true);
      return;
    }
    if (StartsWith(t, "Domain: ")) {
      block_domain_ = std::string(Trim(AfterPrefix(t, "Domain: ")));
      return;
    }
    if (StartsWith(t, "Type:") && block_domain_) {
      const std::string_view type = Trim(AfterPrefix(t, "Type:"));
      Attempt* cur = Current();
      Attempt& a = cur ? *cur : NewAttempt(line, ts, *block_domain_);
      if (a.cert.empty()) NameAttempt(a, *block_domain_);
      a.requested = true;
      if (!a.challenge_problem && !type.empty()) {
        a.challenge_problem = AcmeProblem{StrCat("urn:ietf:params:acme:error:", type), ""};
      }
      Fail(a, ts, "", true);
      block_attempt_ = run.current;
      return;
    }
    if (StartsWith(t, "Detail:") && block_attempt_ >= 0 &&
        block_attempt_ < static_cast<int>(run.attempts.size())) {
      Attempt& a = run.attempts[block_attempt_];
      if (a.challenge_problem && a.challenge_problem->detail.empty()) {
        a.challenge_problem->detail = CleanDetail(AfterPrefix(t, "Detail:"));
      }
      block_attempt_ = -1;
      block_domain_.reset();
      return;
    }
    if (StartsWith(t, "Some challenges have failed") || StartsWith(t, "Failed authorization procedure")) {
      Attempt& a = Open(line, ts);
      a.requested = true;
      Fail(a, ts, t, true);
      return;
    }
    if (StartsWith(t, "Encountered exception during recovery: ")) {
      Attempt& a = Open(line, ts);
      if (a.failure_message.empty()) a.failure_message = std::string(AfterPrefix(t, "Encountered exception during recovery: "));
      return;
    }
    if (StartsWith(t, "Exiting abnormally")) {
      run.abnormal_exit = true;
      run.abnormal_ts = ts;
      traceback_owner_ = run.current;
      return;
    }
    if (StartsWith(t, "An unexpected error occurred")) {
      run.abnormal_exit = true;
      run.abnormal_ts = ts;
      expect_final_error_ = true;
      return;
    }
    if (it.head && it.level == "ERROR" && Contains(it.logger, "log")) {
      run.final_error = std::string(t);
      run.final_error_ts = ts;
      expect_final_error_ = false;
      return;
    }
    if (expect_final_error_ && !it.head) {
      run.final_error = std::string(t);
      run.final_error_ts = ts;
      expect_final_error_ = false;
      return;
    }
    for (std::string_view header :
         {"All renewals failed", "All renewal attempts failed", "All simulated renewals failed",
          "Some renewals failed", "The following certs could not be renewed",
          "The following certificates could not be renewed", "The following simulated renewals"}) {
      if (StartsWith(t, header)) return;  // the summary lines follow
    }
    if (Contains(t, "renew failure(s)")) return;

    // ---- successes ----
    if (Contains(t, "Congratulations, all renewals succeeded") ||
        Contains(t, "Congratulations, all simulated renewals succeeded")) {
      for (; run.swept < run.attempts.size(); ++run.swept) {
        Attempt& a = run.attempts[run.swept];
        if (!a.outcome && !a.not_due && a.requested) Succeed(a, a.last);
      }
      return;
    }
    if (StartsWith(t, "new certificate deployed") || StartsWith(t, "Successfully received certificate") ||
        Contains(t, "The dry run was successful") ||
        Contains(t, "Congratulations! Your certificate and chain have been saved") ||
        Contains(t, "Your existing certificate has been successfully renewed")) {
      Attempt& a = Open(line, ts);
      a.requested = true;
      Succeed(a, ts);
      if (StartsWith(t, "new certificate deployed")) expect_deployed_path_ = run.current;
      return;
    }
    if (expect_deployed_path_ >= 0 && StartsWith(t, "/") && t.ends_with("/fullchain.pem")) {
      auto name = LineageFromPath(t, "/live/", "/fullchain.pem");
      Attempt& a = run.attempts[expect_deployed_path_];
      if (name && a.cert.empty()) NameAttempt(a, *name);
      expect_deployed_path_ = -1;
      return;
    }
    expect_deployed_path_ = -1;

    // ---- details of the current attempt ----
    if (StartsWith(t, "Plugins selected: Authenticator ")) {
      std::string_view plugin = AfterPrefix(t, "Plugins selected: Authenticator ");
      plugin = plugin.substr(0, plugin.find(','));
      run.plugin_challenge = ChallengeFromAuthenticator(plugin);
      if (StartsWith(plugin, "dns")) run.dns_plugin = true;
      if (Attempt* a = Current()) a->plugin_challenge = run.plugin_challenge;
      return;
    }
    if (const size_t space = t.find(' ');
        space != std::string_view::npos && StartsWith(t.substr(space), " challenge for ")) {
      if (Attempt* a = Current(); a && !a->challenge) a->challenge = ChallengeFromString(t.substr(0, space));
      return;
    }
    if (it.logger == "acme.client" && StartsWith(t, "Sending GET request to ")) {
      // certbot fetches the ACME directory before anything else in an attempt.
      if (Attempt* a = Current(); a && !a->ca) {
        std::string_view url = AfterPrefix(t, "Sending GET request to ");
        if (url.ends_with(".")) url.remove_suffix(1);
        a->ca = std::string(url);
      }
      return;
    }
    if (auto p = FindAcmeProblem(t, ProblemStyle::kCertbot)) {
      NoteProblem(*p, false);
      return;
    }
    // Nothing above: a line that reads like an error is reported, not dropped.
    if (!it.continuation && LooksLikeError(it, t)) {
      out_.issues.push_back({line, StrCat("certbot line not understood: \"",
                                          CleanDetail(t.substr(0, 120)), "\"")});
    }
  }

  static bool LooksLikeError(const Item& it, std::string_view t) {
    if (it.head) return it.level == "ERROR" || it.level == "CRITICAL";
    // Terminal output: certbot's own error wordings, not node/Python stack frames.
    if (StartsWith(t, "at ") || StartsWith(t, "File \"")) return false;
    for (std::string_view w : {"Error:", "error:", "Failed", "failed to", "could not be renewed",
                               "renew failure"}) {
      if (StartsWith(t, w)) return true;
    }
    return false;
  }

  void Emit(const Run& run, Attempt& a) {
    std::string cert = a.cert;
    if (cert.empty() && run.cert_name) cert = *run.cert_name;
    if (cert.empty()) cert = options_.fallback_cert.value_or("");
    if (cert.empty()) {
      out_.issues.push_back(
          {a.line, "certbot attempt names no lineage (no --cert-name or -d); pass --cert NAME"});
      return;
    }
    RenewalEvent e;
    e.cert = ToValidUtf8(cert);
    if (!a.outcome) {
      // Under way, and the log does not say how it ended: an unexplained failure, not nothing.
      out_.issues.push_back(
          {a.line, StrCat("certbot attempt for ", cert,
                          " has no outcome (the log ends first); recorded as a failure, error "
                          "unknown")});
      a.outcome = Outcome::kFailure;
      a.end = a.last;
      if (a.failure_message.empty()) a.failure_message = "no outcome in the log";
    }
    e.outcome = *a.outcome;
    if (e.outcome == Outcome::kFailure) {
      // The problem certbot reported, else the type of the CA's challenge error, else the
      // problem its traceback raised; a client-side message next; a problem merely seen in a
      // CA response (a retried badNonce) only when nothing else explains the failure.
      const AcmeProblem* p = nullptr;
      if (a.problem_in_message) p = &*a.problem_in_message;
      else if (a.challenge_problem) p = &*a.challenge_problem;
      else if (a.traceback_problem) p = &*a.traceback_problem;
      std::string client = ClassifyClientError(a.failure_message);
      // A DNS plugin's failure without an ACME problem is the DNS provider's (API refused,
      // zone not found), whatever words the provider used.
      if (run.dns_plugin && (client == "unknown" || client == "local")) client = "dns_api";
      if (!p && client == "unknown" && a.body_problem) p = &*a.body_problem;
      if (p) {
        e.error = ToValidUtf8(p->type);
        if (!p->detail.empty()) e.detail = p->detail;
      } else if (auto type = ProblemTypeFromDetail(a.failure_message); type && client == "unknown") {
        e.error = *type;
      } else {
        e.error = client;
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
    const absl::Time end = a.end != absl::Time() ? a.end : a.last;
    if (end >= a.start) e.duration_ms = absl::ToDoubleMilliseconds(end - a.start);
    e.dry_run = a.dry_run || run.dry_run;
    e.trigger = a.trigger;
    Finish(Event{a.start, std::move(e)}, a.line, out_);
  }

  const CertbotLogOptions& options_;
  ParseOutput& out_;
  std::optional<Run> run_;
  std::optional<absl::Time> last_ts_;
  bool in_traceback_ = false;
  bool summary_ = false;
  absl::Time last_before_head_;  // between a summary header and the next "Processing"
  int traceback_owner_ = -1;
  absl::Time traceback_ts_;
  bool expect_processing_path_ = false;
  bool expect_final_error_ = false;
  int expect_deployed_path_ = -1;
  int broken_ = -1;
  int block_attempt_ = -1;
  std::optional<std::string> block_domain_;
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
  text = WholeLines(text, options.input_may_grow);
  CertbotParser parser(options, out);
  bool in_record = false;
  Record record;
  for (const WrappedLine& w : Unwrap(text, options.fallback_time, options.utc_offset)) {
    if (w.text.size() > kMaxLogLineBytes) {
      out.issues.push_back({w.number, StrCat("line longer than ", kMaxLogLineBytes, " bytes")});
      continue;
    }
    Item it;
    it.line = w.number;
    it.ts = w.outer_time;
    std::string_view t = w.text;
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    switch (ParseHead(t, w.number, options.utc_offset, record)) {
      case HeadResult::kHead:
        in_record = true;
        it.head = true;
        it.ts = record.ts;
        it.level = record.level;
        it.logger = record.logger;
        it.text = record.message;
        break;
      case HeadResult::kBadTime:
        out.issues.push_back({w.number, "record has an impossible timestamp"});
        continue;
      case HeadResult::kNotAHead:
        // Inside a record, an untimestamped line continues it; otherwise it is terminal output.
        it.continuation = in_record;
        if (in_record) {
          it.ts = record.ts;
          it.level = record.level;
          it.logger = record.logger;
        }
        it.text = w.text;
        break;
    }
    it.raw = it.text;
    parser.Feed(it);
  }
  parser.EndRun(options.input_may_grow);
  return out;
}

}  // namespace certcast::clients
