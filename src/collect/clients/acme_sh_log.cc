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
  std::string verification_detail;          // "Verification error details: ..."
  std::optional<std::string> error_code;    // from a recognised message
  absl::Time failed_at;                     // when the last recognised _err was logged
};

struct ErrorPattern {
  std::string_view text;
  std::string_view code;  // "" = decide later (ClassifyClientError)
};

// issue()'s _err messages that end an attempt (acme.sh 3.x; older spellings where they differ).
constexpr std::array<ErrorPattern, 16> kErrors = {{
    {": Invalid status. Verification error details: ", ""},
    {": Invalid status, Verification error: ", ""},
    {": Verify error:", ""},
    {": Timeout", "timeout"},
    {": Challenge error: ", ""},
    {": Cannot get challenge: ", ""},
    {": Cannot write token to file: ", "local"},
    {"Error adding TXT record to domain: ", "dns_api"},
    {"Error checking DNS.", "dns_api"},
    {"Cannot find DNS API hook for: ", "dns_api"},
    {"Error loading file ", "dns_api"},
    {"Error calling hook.", "hook"},
    {"Error starting TLS server.", "local"},
    {"Signing failed", ""},
    {"Please refer to https://curl", ""},
    {"Cannot get domain token", ""},
}};

class AcmeShParser {
 public:
  explicit AcmeShParser(ParseOutput& out) : out_(out) {}

  void Feed(size_t line, absl::Time ts, std::string_view m) {
    if (StartsWith(m, "Renewing: ") || StartsWith(m, "Renew: '")) {
      const std::string_view domain =
          Unquote(m.substr(StartsWith(m, "Renewing: ") ? 10 : 7));
      End(false);
      a_ = Attempt();
      a_.open = true;
      a_.line = line;
      a_.start = a_.last = ts;
      a_.domain = LowerAscii(domain);
      return;
    }
    if (!a_.open) return;
    a_.last = ts;
    if (StartsWith(m, "Renewing using Le_API=")) {
      a_.ca = std::string(m.substr(22));
      return;
    }
    if (StartsWith(m, "Skipping. Next renewal time is") ||
        StartsWith(m, "Skip, Next renewal time is") || Contains(m, "is not an issued domain")) {
      a_.open = false;
      return;
    }
    if (!a_.challenge) {
      if (StartsWith(m, "Standalone mode server") || StartsWith(m, "Stateless mode for domain") ||
          StartsWith(m, "Nginx mode for domain") || StartsWith(m, "Writing token")) {
        a_.challenge = Challenge::kHttp01;
      } else if (StartsWith(m, "Adding TXT value") || Contains(m, "Add the following TXT record")) {
        a_.challenge = Challenge::kDns01;
      } else if (StartsWith(m, "Error starting TLS server")) {
        a_.challenge = Challenge::kTlsAlpn01;
      }
    }
    if (auto p = FindAcmeProblem(m, ProblemStyle::kLego)) a_.problem_type = p->type;
    if (m == "Cert success.") {
      Emit(ts, Outcome::kSuccess);
      return;
    }
    if (StartsWith(m, "Error renewing ") || StartsWith(m, "Error renew ")) {
      Emit(ts, Outcome::kFailure);
      return;
    }
    for (const ErrorPattern& p : kErrors) {
      const size_t at = m.find(p.text);
      if (at == std::string_view::npos) continue;
      a_.error_message = std::string(m);
      if (p.text == ": Invalid status. Verification error details: ") {
        a_.verification_detail = std::string(m.substr(at + p.text.size()));
      }
      if (StartsWith(p.text, "Please refer to https://curl")) {
        // "Please refer to https://curl.se/libcurl/c/libcurl-errors.html for error code: 28"
        const size_t code_at = m.rfind(": ");
        int code = 0;
        if (code_at != std::string_view::npos && ToInt(Trim(m.substr(code_at + 2)), code)) {
          a_.error_code = code == 28 ? "timeout" : "network";  // CURLE_OPERATION_TIMEDOUT
        }
      } else if (!p.code.empty()) {
        a_.error_code = std::string(p.code);
      }
      a_.failed_at = ts;
      return;
    }
  }

  // End of the log, or a new attempt: an open attempt that logged an error failed.
  void End(bool end_of_log) {
    if (!a_.open) return;
    if (!a_.error_message.empty()) {
      Emit(a_.failed_at, Outcome::kFailure);
      return;
    }
    out_.issues.push_back({a_.line, StrCat("acme.sh attempt for ", a_.domain, " has no outcome",
                                           end_of_log ? " (the log ends first)" : "")});
    a_.open = false;
  }

 private:
  void Emit(absl::Time end, Outcome outcome) {
    a_.open = false;
    RenewalEvent e;
    e.cert = ToValidUtf8(a_.domain);
    e.outcome = outcome;
    e.challenge = a_.challenge;
    if (a_.ca) e.ca = ToValidUtf8(*a_.ca);
    if (outcome == Outcome::kFailure) {
      if (a_.problem_type) {
        e.error = ToValidUtf8(*a_.problem_type);
      } else if (a_.error_code) {
        e.error = *a_.error_code;
      } else {
        e.error = ClassifyClientError(a_.error_message);
      }
      const std::string& detail =
          !a_.verification_detail.empty() ? a_.verification_detail : a_.error_message;
      if (!Trim(detail).empty()) e.detail = CleanDetail(detail);
    }
    if (end >= a_.start) e.duration_ms = absl::ToDoubleMilliseconds(end - a_.start);
    Finish(Event{a_.start, std::move(e)}, a_.line, out_);
  }

  ParseOutput& out_;
  Attempt a_;
};

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

}  // namespace

StatusOr<absl::Time> ParseAcmeShDate(std::string_view text, absl::Duration utc_offset) {
  // Tokens in any order, as locales arrange them: weekday, month name, day, time, AM/PM, zone,
  // year. Weekday and unknown words are ignored; month, day, time and year are required.
  int year = -1, month = -1, day = -1, hour = -1, minute = -1, second = -1;
  bool pm = false, am = false, utc = false;
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
    if (token == "UTC" || token == "GMT" || token == "Z") { utc = true; continue; }
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
  return absl::FromCivil(civil, absl::UTCTimeZone()) - (utc ? absl::ZeroDuration() : utc_offset);
}

ParseOutput ParseAcmeShLog(std::string_view text, const AcmeShLogOptions& options) {
  ParseOutput out;
  if (text.size() > kMaxLogBytes) {
    out.issues.push_back({0, StrCat("log larger than ", kMaxLogBytes, " bytes")});
    return out;
  }
  AcmeShParser parser(out);
  for (const Line& line : SplitLines(text)) {
    if (line.text.size() > kMaxLogLineBytes) {
      out.issues.push_back({line.number, StrCat("line longer than ", kMaxLogLineBytes, " bytes")});
      continue;
    }
    // "[date] message"; other lines continue a multi-line value (a CA response) and carry
    // nothing the attempt needs.
    if (!StartsWith(line.text, "[")) continue;
    const size_t close = line.text.find("] ");
    if (close == std::string_view::npos) continue;
    auto ts = ParseAcmeShDate(line.text.substr(1, close - 1), options.utc_offset);
    if (!ts.ok()) {
      out.issues.push_back({line.number, ts.status().message()});
      continue;
    }
    parser.Feed(line.number, *ts, line.text.substr(close + 2));
  }
  parser.End(true);
  return out;
}

}  // namespace certcast::clients
