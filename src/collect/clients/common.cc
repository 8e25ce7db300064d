#include "collect/clients/common.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "absl/time/civil_time.h"
#include "core/event_json.h"
#include "core/redact.h"
#include "core/strings.h"

namespace certcast::clients {

std::vector<Line> SplitLines(std::string_view text) {
  std::vector<Line> lines;
  size_t number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back({++number, line});
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

StatusOr<absl::Duration> ParseUtcOffset(std::string_view text) {
  if (text == "Z" || text == "z") return absl::ZeroDuration();
  const auto bad = [&] {
    return InvalidArgumentError(
        StrCat("UTC offset \"", text, "\" is not +HH:MM, -HH:MM, +HHMM or Z"));
  };
  if (text.size() != 6 && text.size() != 5) return bad();
  if (text[0] != '+' && text[0] != '-') return bad();
  std::string_view hours = text.substr(1, 2);
  std::string_view minutes = text.size() == 6 ? text.substr(4, 2) : text.substr(3, 2);
  if (text.size() == 6 && text[3] != ':') return bad();
  int h = 0, m = 0;
  for (char c : StrCat(hours, minutes)) {
    if (c < '0' || c > '9') return bad();
  }
  std::from_chars(hours.data(), hours.data() + 2, h);
  std::from_chars(minutes.data(), minutes.data() + 2, m);
  // Real offsets span -12:00 to +14:00.
  if (h > 14 || m > 59) return bad();
  const absl::Duration offset = absl::Hours(h) + absl::Minutes(m);
  return text[0] == '-' ? -offset : offset;
}

std::string_view Trim(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

std::string CleanDetail(std::string_view text) {
  // A client's error line may quote its command line or a URL with a secret in it.
  return ToValidUtf8(RedactSecrets(Trim(text)), kMaxDetailBytes);
}

std::string LowerAscii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::optional<AcmeProblem> FindAcmeProblem(std::string_view text, ProblemStyle style) {
  // RFC 8555 section 6.7: "Error types ... in the namespace urn:ietf:params:acme:error:"; ACME v1
  // (draft-ietf-acme-acme-01 and Boulder's v1 API) used "urn:acme:error:" for the same types.
  static constexpr std::string_view kUrn = "urn:ietf:params:acme:error:";
  static constexpr std::string_view kV1Urn = "urn:acme:error:";
  size_t at = text.find(kUrn);
  size_t prefix = kUrn.size();
  const size_t v1 = text.find(kV1Urn);
  if (v1 != std::string_view::npos && (at == std::string_view::npos || v1 < at)) {
    at = v1;
    prefix = kV1Urn.size();
  }
  if (at == std::string_view::npos) return std::nullopt;
  size_t end = at + prefix;
  while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) != 0)) ++end;
  if (end == at + prefix) return std::nullopt;  // the prefix alone names no type
  AcmeProblem problem;
  problem.type = StrCat(kUrn, text.substr(at + prefix, end - at - prefix));
  std::string_view rest = text.substr(end);
  rest = rest.substr(0, rest.find('\n'));
  static constexpr std::string_view kSeparator = " :: ";
  std::vector<std::string_view> parts;
  while (rest.substr(0, kSeparator.size()) == kSeparator) {
    rest.remove_prefix(kSeparator.size());
    const size_t next = rest.find(kSeparator);
    parts.push_back(rest.substr(0, next));
    if (next == std::string_view::npos) {
      rest = {};
      break;
    }
    rest.remove_prefix(next);
  }
  if (style == ProblemStyle::kCertbot) {
    // "typ :: description :: detail [:: title]": the detail is the second part when the type has
    // a description; a type certbot does not know has none, so its only part is the detail.
    if (parts.size() >= 2) {
      problem.detail = CleanDetail(parts[1]);
    } else if (parts.size() == 1) {
      problem.detail = CleanDetail(parts[0]);
    }
  } else if (!parts.empty()) {
    // "type :: detail": everything after the type is the detail (it may itself hold " :: ").
    const size_t detail_at = text.find(kSeparator, end) + kSeparator.size();
    std::string_view detail = text.substr(detail_at);
    problem.detail = CleanDetail(detail.substr(0, detail.find('\n')));
  } else if (rest.substr(0, 3) == " - ") {
    // lego 0.x: "acme: Error 400 - urn:acme:error:malformed - Unable to update challenge".
    problem.detail = CleanDetail(rest.substr(3));
  }
  return problem;
}

namespace {

bool ContainsFolded(std::string_view haystack, std::string_view needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                     [](char a, char b) {
                       return std::tolower(static_cast<unsigned char>(a)) ==
                              std::tolower(static_cast<unsigned char>(b));
                     }) != haystack.end();
}

struct Pattern {
  std::string_view text;   // case-insensitive substring
  std::string_view error;  // the events-v1 value
};

// First match wins, so specific causes come before generic words: "could not bind ... timed out"
// is a local problem, and a timeout while talking to the CA is a timeout, not a network error.
// The texts are what certbot 2.1 and lego 4.9 print (see tests/data/client-logs).
constexpr std::array<Pattern, 33> kPatterns = {{
    // RFC 8555 section 7.3.4: a CA that requires external account binding says so in the
    // directory's meta.externalAccountRequired; certbot and lego read that and stop before
    // sending the request the CA would refuse with this problem type. Same cause, same code.
    {"requires external account binding", "urn:ietf:params:acme:error:externalAccountRequired"},
    {"address already in use", "local"},          // certbot standalone, lego --http
    {"could not bind", "local"},                  // certbot PluginError
    {"permission denied", "local"},
    {"no space left on device", "local"},
    {"read-only file system", "local"},
    {"no such file or directory", "local"},
    {"broken. skipping", "local"},                // certbot: renewal conf unreadable
    {"is broken", "local"},                       // certbot 2.x console: "... is broken." alone
    {"certstorageerror", "local"},                // certbot: live/ symlinks or files missing
    {"is not registered", "local"},               // lego renew: no account in --path
    {"is already used by", "local"},              // acme.sh: "tcp port 80 is already used by"
    {"hook", "hook"},                             // certbot --manual-auth-hook, --pre-hook, ...
    {"timed out", "timeout"},                     // certbot/requests ReadTimeout
    {"deadline exceeded", "timeout"},             // Go: context deadline exceeded
    {"time limit exceeded", "timeout"},           // lego: DNS propagation wait
    {"timeout", "timeout"},
    {"connection refused", "network"},
    {"connection reset", "network"},
    {"no route to host", "network"},
    {"network is unreachable", "network"},
    {"name or service not known", "network"},
    {"temporary failure in name resolution", "network"},
    {"no such host", "network"},                  // Go resolver
    {"dial tcp", "network"},                      // Go: any other failure to connect
    {"max retries exceeded", "network"},          // urllib3
    {"certificate verify failed", "network"},     // TLS to the CA refused by the client
    {"x509:", "network"},                         // Go TLS verification
    {"tls:", "network"},
    {"unexpected eof", "network"},
    {"error presenting token", "dns_api"},        // lego DNS provider (HTTP cases matched above)
    {"dns provider", "dns_api"},
    {"pluginerror", "dns_api"},                   // certbot DNS plugins raise PluginError
}};

// Let's Encrypt's (Boulder's) detail wordings and the problem types they come with
// (boulder/va, boulder/ratelimits). Specific before generic.
constexpr std::array<Pattern, 14> kDetailTypes = {{
    {"too many certificates", "rateLimited"},
    {"too many failed authorizations", "rateLimited"},
    {"too many new orders", "rateLimited"},
    {"rate limit", "rateLimited"},
    {"caa record", "caa"},
    {"dns problem", "dns"},
    {"no valid ip addresses found", "dns"},
    {"invalid response from", "unauthorized"},
    {"incorrect txt record", "unauthorized"},
    {"no txt record found", "unauthorized"},
    {"key authorization file from the server did not match", "unauthorized"},
    {"timeout during connect", "connection"},
    {"error getting validation data", "connection"},
    {"connection refused", "connection"},
}};

}  // namespace

std::string ClassifyClientError(std::string_view message) {
  for (const Pattern& p : kPatterns) {
    if (ContainsFolded(message, p.text)) return std::string(p.error);
  }
  return "unknown";
}

std::optional<std::string> ProblemTypeFromDetail(std::string_view detail) {
  for (const Pattern& p : kDetailTypes) {
    if (ContainsFolded(detail, p.text)) return StrCat("urn:ietf:params:acme:error:", p.error);
  }
  return std::nullopt;
}

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool Digits(std::string_view s, size_t from, size_t count) {
  if (from + count > s.size()) return false;
  for (size_t i = from; i < from + count; ++i) {
    if (!IsDigit(s[i])) return false;
  }
  return true;
}

int Number(std::string_view s) {
  int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::optional<absl::Time> Civil(int y, int mo, int d, int h, int mi, int se) {
  const absl::CivilSecond c(y, mo, d, h, mi, se);
  if (c.year() != y || c.month() != mo || c.day() != d || c.hour() != h || c.minute() != mi ||
      c.second() != se) {
    return std::nullopt;
  }
  return absl::FromCivil(c, absl::UTCTimeZone());
}

constexpr std::array<std::string_view, 12> kMonthNames = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// "2023-05-02T12:40:35-05:00 ", "2025-06-03T14:55:53.484325483Z ", "2024-05-17T02:23:01".
size_t Rfc3339Prefix(std::string_view t, absl::Duration utc_offset, absl::Time& out) {
  if (t.size() < 19 || !Digits(t, 0, 4) || t[4] != '-' || !Digits(t, 5, 2) || t[7] != '-' ||
      !Digits(t, 8, 2) || t[10] != 'T' || !Digits(t, 11, 2) || t[13] != ':' ||
      !Digits(t, 14, 2) || t[16] != ':' || !Digits(t, 17, 2)) {
    return 0;
  }
  size_t i = 19;
  absl::Duration fraction;
  if (i < t.size() && t[i] == '.') {
    size_t j = i + 1;
    int64_t nanos = 0;
    int digits = 0;
    while (j < t.size() && IsDigit(t[j])) {
      if (digits < 9) {
        nanos = nanos * 10 + (t[j] - '0');
        ++digits;
      }
      ++j;
    }
    if (j == i + 1) return 0;
    for (; digits < 9; ++digits) nanos *= 10;
    // events-v1 times have microsecond precision (core/time.h).
    fraction = absl::Microseconds(nanos / 1000);
    i = j;
  }
  std::optional<absl::Duration> zone;
  if (i < t.size() && (t[i] == 'Z' || t[i] == 'z')) {
    zone = absl::ZeroDuration();
    ++i;
  } else if (i + 6 <= t.size() && (t[i] == '+' || t[i] == '-') && Digits(t, i + 1, 2) &&
             t[i + 3] == ':' && Digits(t, i + 4, 2)) {
    const absl::Duration z = absl::Hours(Number(t.substr(i + 1, 2))) +
                             absl::Minutes(Number(t.substr(i + 4, 2)));
    zone = t[i] == '-' ? -z : z;
    i += 6;
  }
  if (i < t.size() && t[i] != ' ') return 0;
  auto civil = Civil(Number(t.substr(0, 4)), Number(t.substr(5, 2)), Number(t.substr(8, 2)),
                     Number(t.substr(11, 2)), Number(t.substr(14, 2)), Number(t.substr(17, 2)));
  if (!civil) return 0;
  out = *civil + fraction - zone.value_or(utc_offset);
  return i < t.size() ? i + 1 : i;
}

// "Sep 12 17:58:47 " / "Nov  8 02:00:02 " (RFC 3164, no year).
size_t SyslogTimePrefix(std::string_view t, absl::Time reference, absl::Duration utc_offset,
                        absl::Time& out) {
  if (t.size() < 16) return 0;
  int month = 0;
  for (size_t m = 0; m < kMonthNames.size(); ++m) {
    if (t.substr(0, 3) == kMonthNames[m]) month = static_cast<int>(m) + 1;
  }
  if (month == 0 || t[3] != ' ') return 0;
  size_t i = 4;
  if (t[i] == ' ') ++i;
  size_t day_end = i;
  while (day_end < t.size() && IsDigit(t[day_end])) ++day_end;
  if (day_end == i || day_end - i > 2 || day_end >= t.size() || t[day_end] != ' ') return 0;
  const size_t c = day_end + 1;
  if (!Digits(t, c, 2) || t[c + 2] != ':' || !Digits(t, c + 3, 2) || t[c + 5] != ':' ||
      !Digits(t, c + 6, 2) || c + 8 >= t.size() || t[c + 8] != ' ') {
    return 0;
  }
  // The year is the reference's, unless that puts the line more than a day after it (a log
  // from December read in January).
  const int year = static_cast<int>(absl::ToCivilYear(reference, absl::UTCTimeZone()).year());
  for (int y : {year, year - 1}) {
    auto civil = Civil(y, month, Number(t.substr(i, day_end - i)), Number(t.substr(c, 2)),
                       Number(t.substr(c + 3, 2)), Number(t.substr(c + 6, 2)));
    if (!civil) return 0;
    out = *civil - utc_offset;
    if (out <= reference + absl::Hours(24) || y != year) break;
  }
  return c + 9;
}

// "unit[pid]: " or, when `pid_required` is false, "unit: ".
size_t IdentPrefix(std::string_view t, bool pid_required, std::string_view& unit) {
  size_t i = 0;
  while (i < t.size() && t[i] != ' ' && t[i] != '[' && t[i] != ':') ++i;
  if (i == 0 || i >= t.size()) return 0;
  size_t end = i;
  if (t[i] == '[') {
    size_t j = i + 1;
    while (j < t.size() && IsDigit(t[j])) ++j;
    if (j == i + 1 || j >= t.size() || t[j] != ']') return 0;
    end = j + 1;
  } else if (pid_required) {
    return 0;
  }
  if (end + 1 >= t.size() || t[end] != ':' || t[end + 1] != ' ') return 0;
  unit = t.substr(0, i);
  return end + 2;
}

// "app_1  | " (docker compose): a service name, at least one blank, "|", one optional blank.
size_t ComposePrefix(std::string_view t) {
  size_t i = 0;
  while (i < t.size() && (std::isalnum(static_cast<unsigned char>(t[i])) != 0 || t[i] == '_' ||
                          t[i] == '-' || t[i] == '.')) {
    ++i;
  }
  if (i == 0) return 0;
  size_t j = i;
  while (j < t.size() && t[j] == ' ') ++j;
  if (j == i || j >= t.size() || t[j] != '|') return 0;
  ++j;
  if (j < t.size() && t[j] == ' ') ++j;
  return j;
}

// Nginx Proxy Manager: "[4/3/2025] [4:25:33 PM] [SSL      ] › ✖  error     MESSAGE".
size_t NpmPrefix(std::string_view t, absl::Duration utc_offset, absl::Time& out) {
  if (t.empty() || t[0] != '[') return 0;
  const size_t date_end = t.find("] [");
  if (date_end == std::string_view::npos || date_end > 11) return 0;
  const std::string_view date = t.substr(1, date_end - 1);
  const size_t s1 = date.find('/'), s2 = date.rfind('/');
  if (s1 == std::string_view::npos || s1 == s2) return 0;
  const size_t time_end = t.find(']', date_end + 3);
  if (time_end == std::string_view::npos) return 0;
  std::string_view clock = t.substr(date_end + 3, time_end - date_end - 3);
  const bool pm = clock.ends_with(" PM");
  if (!pm && !clock.ends_with(" AM")) return 0;
  clock.remove_suffix(3);
  const size_t c1 = clock.find(':'), c2 = clock.rfind(':');
  if (c1 == std::string_view::npos || c1 == c2) return 0;
  int hour = Number(clock.substr(0, c1));
  if (hour < 1 || hour > 12) return 0;
  hour = hour % 12 + (pm ? 12 : 0);
  auto civil = Civil(Number(date.substr(s2 + 1)), Number(date.substr(0, s1)),
                     Number(date.substr(s1 + 1, s2 - s1 - 1)), hour,
                     Number(clock.substr(c1 + 1, c2 - c1 - 1)), Number(clock.substr(c2 + 1)));
  if (!civil) return 0;
  size_t i = time_end + 1;
  if (t.substr(i, 2) != " [") return 0;
  const size_t tag_end = t.find("] ", i + 2);
  if (tag_end == std::string_view::npos) return 0;
  i = tag_end + 2;
  static constexpr std::string_view kArrow = "\xe2\x80\xba ";  // "› "
  if (t.substr(i, kArrow.size()) != kArrow) return 0;
  i += kArrow.size();
  while (i < t.size() && t[i] != ' ') ++i;  // the icon
  while (i < t.size() && t[i] == ' ') ++i;
  while (i < t.size() && t[i] != ' ') ++i;  // the level word
  while (i < t.size() && t[i] == ' ') ++i;
  out = *civil - utc_offset;
  return i;
}

}  // namespace

std::vector<WrappedLine> Unwrap(std::string_view text, absl::Time reference,
                                absl::Duration utc_offset) {
  std::vector<WrappedLine> out;
  for (const Line& line : SplitLines(text)) {
    WrappedLine w{line.number, line.text, std::nullopt, {}};
    // Wrappers nest (docker compose around a timestamped service log around journald); a line
    // loses at most four of them, and each must shorten it.
    for (int round = 0; round < 4; ++round) {
      std::string_view t = w.text;
      absl::Time stamp;
      size_t n = ComposePrefix(t);
      if (n == 0) {
        n = Rfc3339Prefix(t, utc_offset, stamp);
        if (n > 0) {
          w.outer_time = stamp;
          // snap logs and journalctl -o short-iso: "TIME [host] unit[pid]: ".
          std::string_view rest = t.substr(n);
          std::string_view unit;
          size_t ident = IdentPrefix(rest, true, unit);
          if (ident == 0) {
            const size_t host_end = rest.find(' ');
            if (host_end != std::string_view::npos) {
              ident = IdentPrefix(rest.substr(host_end + 1), true, unit);
              if (ident > 0) ident += host_end + 1;
            }
          }
          if (ident > 0) {
            w.unit = unit;
            n += ident;
          }
        }
      }
      if (n == 0) {
        n = SyslogTimePrefix(t, reference, utc_offset, stamp);
        if (n > 0) {
          // "host ident[pid]: " or "host ident: " must follow a syslog stamp.
          const size_t host_end = t.find(' ', n);
          std::string_view unit;
          const size_t ident =
              host_end == std::string_view::npos
                  ? 0
                  : IdentPrefix(t.substr(host_end + 1), false, unit);
          if (ident == 0) {
            n = 0;
          } else {
            w.outer_time = stamp;
            w.unit = unit;
            n = host_end + 1 + ident;
          }
        }
      }
      if (n == 0) {
        n = NpmPrefix(t, utc_offset, stamp);
        if (n > 0) w.outer_time = stamp;
      }
      if (n == 0) {
        // "unit[pid]: " alone at the start (journalctl -o cat would not print it; copies of
        // `journalctl -o short` with the stamp cut off do).
        std::string_view unit;
        n = IdentPrefix(t, true, unit);
        if (n > 0) w.unit = unit;
      }
      if (n == 0) break;
      w.text = t.substr(n);
    }
    out.push_back(w);
  }
  return out;
}

std::optional<std::vector<std::string>> FindCommandLine(
    std::string_view line, std::initializer_list<std::string_view> programs) {
  // Shell words: blanks separate, quotes group, a trailing "," (NPM joins output lines with
  // ",") is not part of a word.
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (char c : line) {
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        word.push_back(c);
      }
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
      continue;
    }
    if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    word.push_back(c);
    in_word = true;
  }
  if (in_word) words.push_back(std::move(word));
  for (size_t i = 0; i < words.size(); ++i) {
    std::string_view w = words[i];
    const size_t slash = w.rfind('/');
    if (slash != std::string_view::npos) w.remove_prefix(slash + 1);
    for (std::string_view program : programs) {
      if (w == program) return std::vector<std::string>(words.begin() + i + 1, words.end());
    }
  }
  return std::nullopt;
}

std::optional<std::string> FlagValue(const std::vector<std::string>& words,
                                     std::initializer_list<std::string_view> names) {
  for (size_t i = 0; i < words.size(); ++i) {
    std::string_view w = words[i];
    for (std::string_view name : names) {
      if (w == name && i + 1 < words.size()) return words[i + 1];
      if (w.size() > name.size() + 1 && w.substr(0, name.size()) == name &&
          w[name.size()] == '=') {
        return std::string(w.substr(name.size() + 1));
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> KnownDirectoryForUrl(std::string_view url) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 2> kKnown = {{
      {"https://acme-v02.api.letsencrypt.org/",
       "https://acme-v02.api.letsencrypt.org/directory"},
      {"https://acme-staging-v02.api.letsencrypt.org/",
       "https://acme-staging-v02.api.letsencrypt.org/directory"},
  }};
  for (const auto& [prefix, directory] : kKnown) {
    if (url.substr(0, prefix.size()) == prefix) return std::string(directory);
  }
  return std::nullopt;
}

bool Finish(Event event, size_t line, ParseOutput& out) {
  const std::string json = EventToJson(event);
  auto parsed = ParseEventLine(json);
  if (!parsed.ok()) {
    out.issues.push_back({line, StrCat("event not emitted: ", parsed.status().message())});
    return false;
  }
  out.events.push_back(std::move(*parsed));
  return true;
}

bool MayStillGrow(absl::Time modified, absl::Time now, absl::Duration settle_time) {
  return modified > now - settle_time;
}

std::string_view WholeLines(std::string_view text, bool may_grow) {
  if (!may_grow || text.empty() || text.back() == '\n') return text;
  const size_t last = text.rfind('\n');
  return last == std::string_view::npos ? std::string_view() : text.substr(0, last + 1);
}

}  // namespace certcast::clients
