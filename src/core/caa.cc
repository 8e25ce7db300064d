#include "core/caa.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

#include "core/strings.h"

namespace certcast {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Tags RFC 8659 defines (plus iodef, which carries no issuance decision). An unknown tag only
// matters when its critical flag is set.
bool KnownTag(std::string_view lower_tag) {
  return lower_tag == "issue" || lower_tag == "issuewild" || lower_tag == "iodef" ||
         lower_tag == "issuemail" || lower_tag == "issuevmc" || lower_tag == "contactemail" ||
         lower_tag == "contactphone";
}

}  // namespace

StatusOr<CaaRecord> ParseCaaPresentation(std::string_view text) {
  CaaRecord record;
  const size_t space1 = text.find(' ');
  if (space1 == std::string_view::npos) return InvalidArgumentError(StrCat("CAA record \"", text, "\" has no tag"));
  const std::string_view flags_text = text.substr(0, space1);
  unsigned flags = 0;
  auto [end, ec] = std::from_chars(flags_text.data(), flags_text.data() + flags_text.size(), flags);
  if (ec != std::errc() || end != flags_text.data() + flags_text.size() || flags > 255) {
    return InvalidArgumentError(StrCat("CAA flags \"", flags_text, "\" is not 0..255"));
  }
  record.flags = static_cast<uint8_t>(flags);
  const std::string_view rest = text.substr(space1 + 1);
  const size_t space2 = rest.find(' ');
  if (space2 == std::string_view::npos || space2 == 0) {
    return InvalidArgumentError(StrCat("CAA record \"", text, "\" has no value"));
  }
  record.tag = std::string(rest.substr(0, space2));
  for (char c : record.tag) {
    if (!std::isalnum(static_cast<unsigned char>(c))) {
      return InvalidArgumentError(StrCat("CAA tag \"", record.tag, "\" is not alphanumeric"));
    }
  }
  std::string_view quoted = rest.substr(space2 + 1);
  if (quoted.size() < 2 || quoted.front() != '"' || quoted.back() != '"') {
    return InvalidArgumentError(StrCat("CAA value ", quoted, " is not quoted"));
  }
  quoted = quoted.substr(1, quoted.size() - 2);
  for (size_t i = 0; i < quoted.size(); ++i) {
    char c = quoted[i];
    if (c == '"') return InvalidArgumentError("CAA value has an unescaped quote");
    if (c != '\\') {
      record.value.push_back(c);
      continue;
    }
    if (i + 1 >= quoted.size()) return InvalidArgumentError("CAA value ends in a backslash");
    if (std::isdigit(static_cast<unsigned char>(quoted[i + 1]))) {
      unsigned code = 0;
      if (i + 3 >= quoted.size()) {
        return InvalidArgumentError("CAA value has a short \\DDD escape");
      }
      auto [e, err] = std::from_chars(quoted.data() + i + 1, quoted.data() + i + 4, code);
      if (err != std::errc() || e != quoted.data() + i + 4 || code > 255) {
        return InvalidArgumentError("CAA value has a bad \\DDD escape");
      }
      record.value.push_back(static_cast<char>(code));
      i += 3;
    } else {
      record.value.push_back(quoted[i + 1]);
      ++i;
    }
  }
  return record;
}

std::string FormatCaaPresentation(const CaaRecord& record) {
  std::string out = StrCat(static_cast<int>(record.flags), " ", record.tag, " \"");
  for (unsigned char c : record.value) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c > 0x7e) {
      char buf[5];
      buf[0] = '\\';
      buf[1] = static_cast<char>('0' + c / 100);
      buf[2] = static_cast<char>('0' + (c / 10) % 10);
      buf[3] = static_cast<char>('0' + c % 10);
      out.append(buf, 4);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  return out;
}

CaaDecision CaaPermits(std::span<const CaaRecord> records,
                       std::span<const std::string> ca_identities, bool wildcard) {
  // RFC 8659 §4.1: "If a CA encounters a Property with the Issuer Critical Flag set and does not
  // recognize the Property Tag, it MUST NOT issue".
  for (const CaaRecord& r : records) {
    if ((r.flags & 0x80) != 0 && !KnownTag(Lower(r.tag))) {
      return {false, StrCat("unknown critical property \"", r.tag, "\"")};
    }
  }
  bool any_issuewild = false;
  for (const CaaRecord& r : records) any_issuewild |= Lower(r.tag) == "issuewild";
  // §4.3: issuewild properties, when present, take precedence over issue for wildcard names.
  const std::string_view tag = wildcard && any_issuewild ? "issuewild" : "issue";
  std::vector<std::string> named;
  bool any = false;
  std::vector<std::string> wanted;
  for (const std::string& identity : ca_identities) wanted.push_back(Lower(identity));
  for (const CaaRecord& r : records) {
    if (Lower(r.tag) != tag) continue;
    any = true;
    std::string_view value = r.value;
    const size_t semicolon = value.find(';');
    const std::string issuer = Lower(Trim(value.substr(0, semicolon)));
    if (!issuer.empty() && std::find(wanted.begin(), wanted.end(), issuer) != wanted.end()) return {true, StrCat(tag, " property names \"", issuer, "\"")};
    named.push_back(issuer.empty() ? "(no CA)" : issuer);
  }
  if (!any) {
    return {true, records.empty() ? "no CAA records" : StrCat("no ", tag, " property")};
  }
  std::sort(named.begin(), named.end());
  named.erase(std::unique(named.begin(), named.end()), named.end());
  return {false, StrCat(tag, " property names only ", StrJoin(named, ", "))};
}

CaaDecision CaaPermits(std::span<const CaaRecord> records, std::string_view ca_identity,
                       bool wildcard) {
  const std::string identity(ca_identity);
  return CaaPermits(records, std::span<const std::string>(&identity, 1), wildcard);
}

CaaDecision CaaPermitsPresentation(std::span<const std::string> values,
                                   std::span<const std::string> ca_identities, bool wildcard) {
  std::vector<CaaRecord> records;
  records.reserve(values.size());
  for (const std::string& value : values) {
    StatusOr<CaaRecord> record = ParseCaaPresentation(value);
    if (!record.ok()) return {false, std::string(record.status().message())};
    records.push_back(*std::move(record));
  }
  return CaaPermits(records, ca_identities, wildcard);
}

}  // namespace certcast
