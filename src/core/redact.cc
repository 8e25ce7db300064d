#include "core/redact.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace certcast {
namespace {

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

// Where a value ends in text: whitespace, a quote, a separator of query strings, argument lists
// and JSON.
bool EndsValue(char c) {
  return std::isspace(static_cast<unsigned char>(c)) || c == '"' || c == '\'' || c == '&' ||
         c == ';' || c == ',' || c == '\\' || c == '<' || c == '>' || c == ')' || c == ']' ||
         c == '}';
}

// Words that mark a name as a secret's, whatever the name is.
constexpr std::array<std::string_view, 7> kStrongWords = {
    "hmac", "token", "secret", "password", "passwd", "passphrase", "apikey"};
// Words that mark a variable or query parameter as a secret's, but not a --flag (--key-type,
// --reuse-key and --pass-through are not secrets, and a flag's next argument is redacted).
constexpr std::array<std::string_view, 6> kWeakWords = {"key", "sig", "signature", "pass", "pwd",
                                                        "auth"};

// Whether `name` (leading dashes included) names a secret. A --flag needs a strong word.
bool IsSecretName(std::string_view name) {
  const bool flag = name.starts_with("-");
  while (name.starts_with("-")) name.remove_prefix(1);
  std::vector<std::string> words(1);
  for (char c : name) {
    if (c == '-' || c == '_' || c == '.') {
      if (!words.back().empty()) words.emplace_back();
    } else {
      words.back().push_back(Lower(c));
    }
  }
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (std::find(kStrongWords.begin(), kStrongWords.end(), w) != kStrongWords.end()) return true;
    if (w == "api" && i + 1 < words.size() && words[i + 1] == "key") return true;  // api-key
    if (!flag && std::find(kWeakWords.begin(), kWeakWords.end(), w) != kWeakWords.end()) {
      return true;
    }
  }
  return false;
}

// Authorization: VALUE and Proxy-Authorization: VALUE, the value to the end of the line (or a
// quote, when the header sits in a quoted argument or a JSON string).
std::string RedactAuthorizationHeaders(std::string_view text) {
  static constexpr std::string_view kHeader = "authorization:";
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), Lower);
  std::string out;
  size_t from = 0;
  for (size_t at = lower.find(kHeader); at != std::string::npos; at = lower.find(kHeader, from)) {
    size_t value = at + kHeader.size();
    while (value < text.size() && (text[value] == ' ' || text[value] == '\t')) ++value;
    size_t end = value;
    while (end < text.size() && text[end] != '\n' && text[end] != '\r' && text[end] != '"' &&
           text[end] != '\'' && text[end] != '\\') {
      ++end;
    }
    out.append(text.substr(from, value - from));
    if (end > value) out.append(kRedacted);
    from = end;
  }
  out.append(text.substr(from));
  return out;
}

// scheme://user:PASSWORD@host -> scheme://user:REDACTED@host; scheme://TOKEN@host ->
// scheme://REDACTED@host.
std::string RedactUserinfo(std::string_view text) {
  std::string out;
  size_t from = 0;
  for (size_t at = text.find("://"); at != std::string_view::npos; at = text.find("://", from)) {
    const size_t start = at + 3;
    size_t end = start;
    while (end < text.size() && text[end] != '/' && text[end] != '?' && text[end] != '#' &&
           !EndsValue(text[end])) {
      ++end;
    }
    const std::string_view authority = text.substr(start, end - start);
    const size_t sign = authority.rfind('@');
    out.append(text.substr(from, start - from));
    if (sign == std::string_view::npos) {
      out.append(authority);
    } else {
      const std::string_view userinfo = authority.substr(0, sign);
      const size_t colon = userinfo.find(':');
      if (colon != std::string_view::npos) out.append(userinfo.substr(0, colon + 1));
      out.append(kRedacted);
      out.append(authority.substr(sign));
    }
    from = end;
  }
  out.append(text.substr(from));
  return out;
}

// NAME=VALUE where NAME names a secret (query parameters, environment, --flag=VALUE).
std::string RedactAssignments(std::string_view text) {
  std::string out;
  size_t from = 0;
  for (size_t equals = text.find('='); equals != std::string_view::npos;
       equals = text.find('=', equals + 1)) {
    if (equals < from) continue;  // inside a value already redacted
    size_t name_start = equals;
    while (name_start > from && IsNameChar(text[name_start - 1])) --name_start;
    if (name_start == equals || !IsSecretName(text.substr(name_start, equals - name_start))) {
      continue;
    }
    size_t end = equals + 1;
    while (end < text.size() && !EndsValue(text[end])) ++end;
    if (end == equals + 1) continue;  // empty value: nothing to hide
    out.append(text.substr(from, equals + 1 - from));
    out.append(kRedacted);
    from = end;
  }
  out.append(text.substr(from));
  return out;
}

// --secret-flag VALUE in free text, including an argv printed as a list ('--hmac', 'K').
std::string RedactFlagValues(std::string_view text) {
  std::string out;
  size_t from = 0;
  for (size_t dash = text.find("--"); dash != std::string_view::npos;
       dash = text.find("--", dash + 2)) {
    if (dash < from) continue;
    if (dash > 0 && IsNameChar(text[dash - 1])) continue;  // inside a word
    size_t end = dash + 2;
    while (end < text.size() && IsNameChar(text[end])) ++end;
    if (end == dash + 2 || !IsSecretName(text.substr(dash, end - dash))) continue;
    if (end < text.size() && text[end] == '=') continue;  // RedactAssignments' case
    size_t value = end;
    while (value < text.size() && (text[value] == ' ' || text[value] == '\t' || text[value] == '\'' ||
                                   text[value] == '"' || text[value] == ',' || text[value] == ':')) {
      ++value;
    }
    if (value == end || value >= text.size() || text.substr(value).starts_with("-")) continue;
    size_t value_end = value;
    while (value_end < text.size() && !EndsValue(text[value_end])) ++value_end;
    out.append(text.substr(from, value - from));
    out.append(kRedacted);
    from = value_end;
  }
  out.append(text.substr(from));
  return out;
}

}  // namespace

std::string RedactSecrets(std::string_view text) {
  std::string out = RedactAuthorizationHeaders(text);
  out = RedactUserinfo(out);
  out = RedactAssignments(out);
  return RedactFlagValues(out);
}

std::vector<std::string> RedactArgv(const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  out.reserve(argv.size());
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    out.push_back(RedactSecrets(arg));
    if (arg.starts_with("-") && arg.find('=') == std::string::npos && IsSecretName(arg) &&
        i + 1 < argv.size()) {
      out.push_back(std::string(kRedacted));
      ++i;
    }
  }
  return out;
}

std::string UrlForRecords(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(kRedacted);
  size_t end = scheme + 3;
  while (end < url.size() && url[end] != '/' && url[end] != '?' && url[end] != '#') ++end;
  std::string out = RedactUserinfo(url.substr(0, end));
  if (end < url.size()) out.append("/...");
  return out;
}

}  // namespace certcast
