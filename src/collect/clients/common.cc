#include "collect/clients/common.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "core/event_json.h"
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

std::string ToValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  while (i < text.size()) {
    const unsigned char c = byte(i);
    size_t length = 0;
    if (c < 0x80) {
      length = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
    }
    bool valid = length > 0 && i + length <= text.size();
    for (size_t k = 1; valid && k < length; ++k) valid = (byte(i + k) & 0xC0) == 0x80;
    if (valid && length >= 3) {
      // Overlong forms, UTF-16 surrogates and code points above U+10FFFF are invalid UTF-8
      // (RFC 3629 section 4) and simdjson refuses them.
      const unsigned char d = byte(i + 1);
      if (c == 0xE0 && d < 0xA0) valid = false;
      if (c == 0xED && d > 0x9F) valid = false;
      if (c == 0xF0 && d < 0x90) valid = false;
      if (c == 0xF4 && d > 0x8F) valid = false;
    }
    if (valid) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out.push_back('?');
      ++i;
    }
  }
  return out;
}

std::string_view Trim(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

std::string CleanDetail(std::string_view text) {
  text = Trim(text);
  if (text.size() > kMaxDetailBytes) text = text.substr(0, kMaxDetailBytes);
  // Cutting may split a UTF-8 sequence; ToValidUtf8 turns the stray bytes into '?'.
  return ToValidUtf8(text);
}

std::string LowerAscii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::optional<AcmeProblem> FindAcmeProblem(std::string_view text, ProblemStyle style) {
  // RFC 8555 section 6.7: "Error types ... in the namespace urn:ietf:params:acme:error:".
  static constexpr std::string_view kUrn = "urn:ietf:params:acme:error:";
  const size_t at = text.find(kUrn);
  if (at == std::string_view::npos) return std::nullopt;
  size_t end = at + kUrn.size();
  while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) != 0)) ++end;
  if (end == at + kUrn.size()) return std::nullopt;  // the prefix alone names no type
  AcmeProblem problem;
  problem.type = std::string(text.substr(at, end - at));
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
constexpr std::array<Pattern, 27> kPatterns = {{
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
    {"max retries exceeded", "network"},          // urllib3
    {"certificate verify failed", "network"},     // TLS to the CA refused by the client
    {"x509:", "network"},                         // Go TLS verification
    {"tls:", "network"},
    {"unexpected eof", "network"},
    {"error presenting token", "dns_api"},        // lego DNS provider (HTTP cases matched above)
    {"dns provider", "dns_api"},
}};

}  // namespace

std::string ClassifyClientError(std::string_view message) {
  for (const Pattern& p : kPatterns) {
    if (ContainsFolded(message, p.text)) return std::string(p.error);
  }
  return "unknown";
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

}  // namespace certcast::clients
