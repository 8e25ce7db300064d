#include "collect/clients/acme_sh_log.h"

#include <array>
#include <charconv>
#include <vector>

#include "absl/time/civil_time.h"
#include "core/strings.h"

namespace certcast::clients {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
bool Contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

bool ToInt(std::string_view s, int& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// "DOMAIN" from "Renewing: 'DOMAIN'" (quotes optional).
std::string_view Unquote(std::string_view s) {
  s = Trim(s);
  if (s.size() >= 2 && s.front() == '\'' && s.back() == '\'') s = s.substr(1, s.size() - 2);
  return s;
}

struct Attempt {
  bool open = false;
  size_t line = 0;
  absl::Time start;
  absl::Time last;
  std::string domain;
  std::optional<std::string> ca;
  std::optional<Challenge> challenge;
  std::optional<std::string> problem_type;  // last ACME URN seen
  std::string error_message;                // last recognised _err message
  std::string verification_detail;          // the CA's detail, when acme.sh printed it
  std::optional<std::string> error_code;    // from a recognised message
  absl::Time failed_at;                     // when the last recognised _err was logged
};

struct ErrorPattern {
  std::string_view text;
  std::string_view code;  // "" = decide later (detail wording, then ClassifyClientError)
};

// issue()'s _err messages that end an attempt, in the wordings of acme.sh 2.x and 3.x.
constexpr std::array<ErrorPattern, 22> kErrors = {{
    {": Invalid status. Verification error details: ", ""},  // 3.x
    {":Verify error", ""},                                    // 2.x "D:Verify error:DETAIL", 2.8-3.0
    {": Verify error", ""},                                   //   "Invalid status, D:Verify error..."
    {"Invalid status, ", ""},
    {": Timeout", "timeout"},
    {": Challenge error: ", ""},
    {": Cannot get challenge: ", ""},
    {": Cannot write token to file: ", "local"},
    {"Error adding TXT record to domain: ", "dns_api"},
    {"Error add txt for domain", "dns_api"},                  // 2.x
    {"Error checking DNS.", "dns_api"},
    {"Cannot find DNS API hook for: ", "dns_api"},
    {"Error loading file ", "dns_api"},
    {"Error calling hook.", "hook"},
    {"Error starting TLS server.", "local"},
    {"is already used by", "local"},                          // "tcp port 80 is already used by"
    {"Signing failed", ""},
    {"Sign failed", ""},                                      // 2.x
    {"Create new order error", ""},
    {"Please refer to https://", ""},                         // curl's or wget's exit code
    {"Cannot get domain token", ""},
    {"Can not get domain token", ""},                         // 2.x
}};

// "DOMAIN" of "Renewing: 'DOMAIN'", "Renew: 'DOMAIN'", "Renew: :  'DOMAIN'" (a colour code lost)
// and 2.2's unquoted "Renew: DOMAIN".
std::string DomainArgument(std::string_view s) {
  const size_t open = s.find('\'');
  const size_t close = s.rfind('\'');
  if (open != std::string_view::npos && close > open) return std::string(s.substr(open + 1, close - open - 1));
  s = Trim(s);
  while (!s.empty() && (s.front() == ':' || s.front() == ' ')) s.remove_prefix(1);
  return std::string(s.substr(0, s.find(' ')));
}

class AcmeShParser {
 public:
  AcmeShParser(const AcmeShLogOptions& options, ParseOutput& out) : options_(options), out_(out) {}

  void Feed(size_t line, absl::Time ts, std::string_view m, bool dated) {
    if (auto words = FindCommandLine(m, {"acme.sh"})) {
      // A cron mail's subject or a prompt: "acme.sh --renew -d DOMAIN ...".
      if (auto d = FlagValue(*words, {"-d", "--domain"})) default_domain_ = LowerAscii(*d);
      return;
    }
    if (!dated && !LooksLikeMessage(m)) return;  // a CA response's or a certificate's lines
    if (StartsWith(m, "Renewing: ") || StartsWith(m, "Renew: ")) {
      std::string domain = LowerAscii(DomainArgument(m.substr(m.find(':') + 1)));
      // renewAll's "Renew: 'D'" and renew()'s "Renewing: 'D'" open the same attempt.
      if (a_.open && a_.domain == domain && a_.error_message.empty()) return;
      End(false);
      Open(line, ts, std::move(domain));
      return;
    }
    if (m == "===End cron===") {
      End(false);
      return;
    }
    if (StartsWith(m, "Skipping. Next renewal time is") ||
        StartsWith(m, "Skip, Next renewal time is") || Contains(m, "is not an issued domain")) {
      a_.open = false;
      return;
    }
    if (auto p = FindAcmeProblem(m, ProblemStyle::kLego)) {
      if (a_.open) {
        a_.problem_type = p->type;
      } else {
        orphan_problem_ = p->type;
      }
    }
    if (m == "Cert success." || StartsWith(m, "Your cert is in: ")) {
      if (!a_.open) {
        // The tail of a run: "Your cert is in: ~/.acme.sh/DOMAIN[_ecc]/DOMAIN.cer".
        std::string domain;
        if (StartsWith(m, "Your cert is in: ")) {
          std::string_view path = m.substr(17);
          path = path.substr(0, path.rfind('/'));
          path = path.substr(path.rfind('/') + 1);
          if (path.ends_with("_ecc")) path.remove_suffix(4);
          domain = LowerAscii(path);
        }
        if (domain.empty() && !StartsWith(m, "Your cert")) return;
        Open(line, ts, domain);
      }
      Emit(ts, Outcome::kSuccess);
      return;
    }
    if (!a_.open) {
      // Nothing before names an attempt, but this does: "Error renew DOMAIN, Go ahead...",
      // "DOMAIN:Verify error:...", or any of issue()'s errors (an excerpt that starts late).
      bool error = StartsWith(m, "Error renewing ") || StartsWith(m, "Error renew ");
      for (const ErrorPattern& p : kErrors) error = error || Contains(m, p.text);
      if (!error) return;
      Open(line, ts, "");
    }
    a_.last = ts;
    if (StartsWith(m, "Renewing using Le_API=") || StartsWith(m, "Renew to Le_API=")) {
      a_.ca = std::string(m.substr(m.find('=') + 1));
      return;
    }
    if (!a_.challenge) {
      if (StartsWith(m, "Standalone mode server") || StartsWith(m, "Stateless mode for domain") ||
          StartsWith(m, "Nginx mode for domain") || StartsWith(m, "Writing token") ||
          StartsWith(m, "Standalone mode.")) {
        a_.challenge = Challenge::kHttp01;
      } else if (StartsWith(m, "Adding TXT value") || StartsWith(m, "Adding txt value") ||
                 Contains(m, "Add the following TXT record")) {
        a_.challenge = Challenge::kDns01;
      } else if (StartsWith(m, "Error starting TLS server") || StartsWith(m, "Standalone alpn mode")) {
        a_.challenge = Challenge::kTlsAlpn01;
      }
    }
    if (StartsWith(m, "Error renewing ") || StartsWith(m, "Error renew ")) {
      if (a_.domain.empty()) {
        std::string_view d = m.substr(StartsWith(m, "Error renewing ") ? 15 : 12);
        d = d.substr(0, d.find_first_of(", "));
        if (d.ends_with(".")) d.remove_suffix(1);
        a_.domain = LowerAscii(d);
      }
      Emit(ts, Outcome::kFailure);
      return;
    }
    for (const ErrorPattern& p : kErrors) {
      const size_t at = m.find(p.text);
      if (at == std::string_view::npos) continue;
      a_.error_message = std::string(m);
      a_.failed_at = ts;
      if (p.text == ": Invalid status. Verification error details: ") {
        a_.verification_detail = std::string(m.substr(at + p.text.size()));
      } else if (p.text == ":Verify error" || p.text == ": Verify error") {
        // "D:Verify error:DETAIL", "Invalid status, D:Verify error detail: DETAIL".
        std::string_view d = m.substr(at + p.text.size());
        for (std::string_view lead : {" detail:", ":"}) {
          if (StartsWith(d, lead)) d.remove_prefix(lead.size());
        }
        a_.verification_detail = std::string(Trim(d));
        if (a_.domain.empty()) {
          std::string_view name = m.substr(0, at);
          if (const size_t comma = name.rfind(", "); comma != std::string_view::npos) {
            name.remove_prefix(comma + 2);
          }
          a_.domain = LowerAscii(Trim(name));
        }
      } else if (StartsWith(p.text, "Please refer to https://")) {
        // "Please refer to https://curl.se/libcurl/c/libcurl-errors.html for error code: 28";
        // acme.sh 2.x used wget where curl was missing. 127 is the shell's "not found".
        const size_t code_at = m.rfind(": ");
        int code = 0;
        if (code_at != std::string_view::npos && ToInt(Trim(m.substr(code_at + 2)), code)) {
          const bool curl = Contains(m, "curl");
          a_.error_code = code == 127                ? "local"
                          : curl && code == 28       ? "timeout"  // CURLE_OPERATION_TIMEDOUT
                                                     : "network";
        }
      } else if (!p.code.empty()) {
        a_.error_code = std::string(p.code);
      }
      if (a_.error_code == std::nullopt && !p.code.empty()) a_.error_code = std::string(p.code);
      return;
    }
  }

  // End of the log, the end of a cron run, or a new attempt: an open attempt that logged an
  // error failed; one that logged none has no outcome in the log and is recorded as an
  // unexplained failure (and reported), so that it is not read as "nothing happened".
  // `may_grow` (AcmeShLogOptions::input_may_grow, at the end of the log only): acme.sh may still
  // be writing the attempt under way, its outcome or its summary line, so it is held back.
  void End(bool end_of_log, bool may_grow = false) {
    if (!a_.open) return;
    if (end_of_log && may_grow) {
      out_.held_back.push_back(a_.line);
      a_.open = false;
      return;
    }
    if (!a_.error_message.empty()) {
      Emit(a_.failed_at, Outcome::kFailure);
      return;
    }
    out_.issues.push_back({a_.line, StrCat("acme.sh attempt for ", Cert(), " has no outcome",
                                           end_of_log ? " (the log ends first)" : "",
                                           "; recorded as a failure, error unknown")});
    a_.error_message = "no outcome in the log";
    a_.error_code = "unknown";
    Emit(a_.last, Outcome::kFailure);
  }

 private:
  static bool LooksLikeMessage(std::string_view m) {
    // An undated line acme.sh echoed on the terminal (the log file has the same line dated).
    for (const ErrorPattern& p : kErrors) {
      if (Contains(m, p.text)) return true;
    }
    return false;
  }

  void Open(size_t line, absl::Time ts, std::string domain) {
    a_ = Attempt();
    a_.open = true;
    a_.line = line;
    a_.start = a_.last = a_.failed_at = ts;
    a_.domain = std::move(domain);
    if (orphan_problem_) a_.problem_type = std::move(orphan_problem_);
    orphan_problem_.reset();
  }

  std::string Cert() const {
    if (!a_.domain.empty()) return a_.domain;
    if (default_domain_) return *default_domain_;
    return options_.fallback_cert.value_or("");
  }

  void Emit(absl::Time end, Outcome outcome) {
    a_.open = false;
    const std::string cert = Cert();
    if (cert.empty()) {
      out_.issues.push_back({a_.line, "acme.sh attempt names no domain; pass --cert NAME"});
      return;
    }
    RenewalEvent e;
    e.cert = ToValidUtf8(cert);
    e.outcome = outcome;
    e.challenge = a_.challenge;
    if (a_.ca) e.ca = ToValidUtf8(*a_.ca);
    if (outcome == Outcome::kFailure) {
      const std::string& detail =
          !a_.verification_detail.empty() ? a_.verification_detail : a_.error_message;
      if (a_.problem_type) {
        e.error = ToValidUtf8(*a_.problem_type);
      } else if (a_.error_code) {
        e.error = *a_.error_code;
      } else if (auto type = ProblemTypeFromDetail(detail)) {
        e.error = *type;
      } else {
        e.error = ClassifyClientError(a_.error_message);
      }
      if (!Trim(detail).empty()) e.detail = CleanDetail(detail);
    }
    if (end >= a_.start) e.duration_ms = absl::ToDoubleMilliseconds(end - a_.start);
    Finish(Event{a_.start, std::move(e)}, a_.line, out_);
  }

  const AcmeShLogOptions& options_;
  ParseOutput& out_;
  Attempt a_;
  std::optional<std::string> default_domain_;
  std::optional<std::string> orphan_problem_;
};

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
// German locale's names where they differ from English ("So 18. M\xc3\xa4r 12:02:12 CET 2018").
constexpr std::array<std::pair<std::string_view, int>, 4> kGermanMonths = {{
    {"M\xc3\xa4r", 3}, {"Mai", 5}, {"Okt", 10}, {"Dez", 12}}};

// Zone abbreviations `date` prints and their offsets, for the unambiguous ones only: "CST" (US
// Central or China) and "IST" (India, Ireland, Israel) stay local time shifted by --tz-offset.
constexpr std::array<std::pair<std::string_view, int>, 29> kZones = {{
    {"COT", -300}, {"BRT", -180}, {"ART", -180}, {"SGT", 480},  {"AWST", 480}, {"NZST", 720},
    {"NZDT", 780},
    {"UTC", 0},    {"GMT", 0},    {"Z", 0},      {"WET", 0},    {"BST", 60},   {"CET", 60},
    {"CEST", 120}, {"EET", 120},  {"EEST", 180}, {"MSK", 180},  {"EST", -300}, {"EDT", -240},
    {"CDT", -300}, {"MST", -420}, {"MDT", -360}, {"PST", -480}, {"PDT", -420}, {"JST", 540},
    {"KST", 540},  {"HKT", 480},  {"AEST", 600}, {"AEDT", 660}}};

}  // namespace

StatusOr<absl::Time> ParseAcmeShDate(std::string_view text, absl::Duration utc_offset) {
  // Tokens in any order, as locales arrange them: weekday, month name, day, time, AM/PM, zone,
  // year. Weekday and unknown words are ignored; month, day, time and year are required.
  int year = -1, month = -1, day = -1, hour = -1, minute = -1, second = -1;
  bool pm = false, am = false;
  std::optional<absl::Duration> zone;
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t space = rest.find_first_of(" ,");
    std::string_view token = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
    if (token.empty()) continue;
    // "AM11:13:11" (zh_CN-style "%p%I") carries the marker glued to the time.
    if (token.size() > 2 && (StartsWith(token, "AM") || StartsWith(token, "PM")) &&
        token[2] >= '0' && token[2] <= '9') {
      (token[0] == 'A' ? am : pm) = true;
      token.remove_prefix(2);
    }
    if (token.size() == 8 && token[2] == ':' && token[5] == ':') {
      if (!ToInt(token.substr(0, 2), hour) || !ToInt(token.substr(3, 2), minute) ||
          !ToInt(token.substr(6, 2), second)) {
        return InvalidArgumentError(StrCat("time \"", token, "\" is not HH:MM:SS"));
      }
      continue;
    }
    if (token == "AM") { am = true; continue; }
    if (token == "PM") { pm = true; continue; }
    bool is_zone = false;
    for (const auto& [name, minutes] : kZones) {
      if (token == name) {
        zone = absl::Minutes(minutes);
        is_zone = true;
      }
    }
    if (is_zone) continue;
    if (token.size() > 1 && token.back() == '.') token.remove_suffix(1);  // German "18."
    int number = 0;
    if (ToInt(token, number)) {
      if (token.size() == 4) {
        year = number;
      } else if (token.size() <= 2) {
        day = number;
      }
      continue;
    }
    for (size_t i = 0; i < kMonths.size(); ++i) {
      if (token.size() >= 3 && token.substr(0, 3) == kMonths[i]) month = static_cast<int>(i) + 1;
    }
    for (const auto& [name, m] : kGermanMonths) {
      if (StartsWith(token, name)) month = m;
    }
  }
  if (year < 0 || month < 0 || day < 0 || hour < 0) {
    return InvalidArgumentError(StrCat("date \"", text, "\" has no English month, day, year and "
                                       "HH:MM:SS"));
  }
  if (am || pm) {
    if (hour < 1 || hour > 12) return InvalidArgumentError(StrCat("date \"", text, "\": 12-hour time out of range"));
    hour = hour % 12 + (pm ? 12 : 0);
  }
  const absl::CivilSecond civil(year, month, day, hour, minute, second);
  if (civil.year() != year || civil.month() != month || civil.day() != day ||
      civil.hour() != hour || civil.minute() != minute || civil.second() != second) {
    return InvalidArgumentError(StrCat("date \"", text, "\" is not a real time"));
  }
  return absl::FromCivil(civil, absl::UTCTimeZone()) - zone.value_or(utc_offset);
}

ParseOutput ParseAcmeShLog(std::string_view text, const AcmeShLogOptions& options) {
  ParseOutput out;
  if (text.size() > kMaxLogBytes) {
    out.issues.push_back({0, StrCat("log larger than ", kMaxLogBytes, " bytes")});
    return out;
  }
  text = WholeLines(text, options.input_may_grow);
  // "[date] message"; lines without a date are a multi-line value (a CA response), a wrapper
  // script's output, or acme.sh's terminal echo of an error: those take the time of the nearest
  // dated line.
  struct Dated {
    size_t line;
    std::optional<absl::Time> ts;
    std::string_view message;
  };
  std::vector<Dated> lines;
  for (const WrappedLine& w : Unwrap(text, options.fallback_time, options.utc_offset)) {
    if (w.text.size() > kMaxLogLineBytes) {
      out.issues.push_back({w.number, StrCat("line longer than ", kMaxLogLineBytes, " bytes")});
      continue;
    }
    const std::string_view t = Trim(w.text);
    const size_t close = t.find("] ");
    if (!StartsWith(t, "[") || close == std::string_view::npos) {
      if (!t.empty()) lines.push_back({w.number, std::nullopt, t});
      continue;
    }
    auto ts = ParseAcmeShDate(t.substr(1, close - 1), options.utc_offset);
    if (!ts.ok()) {
      out.issues.push_back({w.number, ts.status().message()});
      continue;
    }
    lines.push_back({w.number, *ts, t.substr(close + 2)});
  }
  std::optional<absl::Time> next;
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (it->ts) {
      next = it->ts;
    }
  }
  std::optional<absl::Time> last;
  AcmeShParser parser(options, out);
  for (size_t i = 0; i < lines.size(); ++i) {
    const Dated& d = lines[i];
    std::optional<absl::Time> ts = d.ts ? d.ts : last;
    for (size_t j = i + 1; !ts && j < lines.size(); ++j) ts = lines[j].ts;
    if (d.ts) last = d.ts;
    parser.Feed(d.line, ts.value_or(options.fallback_time), d.message, d.ts.has_value());
  }
  parser.End(true, options.input_may_grow);
  return out;
}

}  // namespace certcast::clients
