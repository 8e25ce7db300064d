#include "collect/clients/acme_sh.h"

#include <charconv>
#include <cmath>

#include "collect/clients/common.h"
#include "core/event_json.h"
#include "core/strings.h"

namespace certcast::clients {
namespace {

// Shell word as acme.sh writes it: '...' (a literal ' written as '\''), "...", or bare.
StatusOr<std::string> ShellValue(std::string_view v) {
  std::string out;
  size_t i = 0;
  while (i < v.size()) {
    const char c = v[i];
    if (c == '\'') {
      const size_t end = v.find('\'', i + 1);
      if (end == std::string_view::npos) return InvalidArgumentError("unterminated '");
      out.append(v.substr(i + 1, end - i - 1));
      i = end + 1;
    } else if (c == '"') {
      ++i;
      bool closed = false;
      while (i < v.size()) {
        if (v[i] == '\\' && i + 1 < v.size()) {
          out.push_back(v[i + 1]);
          i += 2;
        } else if (v[i] == '"') {
          closed = true;
          ++i;
          break;
        } else {
          out.push_back(v[i++]);
        }
      }
      if (!closed) return InvalidArgumentError("unterminated \"");
    } else if (c == '\\' && i + 1 < v.size()) {
      out.push_back(v[i + 1]);
      i += 2;
    } else if (c == ' ' || c == '\t' || c == '#') {
      break;  // end of the word (a trailing comment)
    } else {
      out.push_back(c);
      ++i;
    }
  }
  return out;
}

std::vector<std::string> SplitComma(std::string_view value) {
  std::vector<std::string> items;
  while (!value.empty()) {
    const size_t comma = value.find(',');
    const std::string_view item = Trim(value.substr(0, comma));
    if (!item.empty()) items.push_back(LowerAscii(item));
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return items;
}

}  // namespace

StatusOr<AcmeShDomainConf> ParseAcmeShDomainConf(std::string_view text) {
  if (text.size() > kMaxAcmeShConfBytes) {
    return InvalidArgumentError(StrCat("acme.sh conf larger than ", kMaxAcmeShConfBytes, " bytes"));
  }
  AcmeShDomainConf conf;
  for (const Line& line : SplitLines(text)) {
    const std::string_view l = Trim(line.text);
    if (l.empty() || l.front() == '#') continue;
    const size_t eq = l.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return InvalidArgumentError(StrCat("line ", line.number, ": expected KEY='value'"));
    }
    const std::string_view key = l.substr(0, eq);
    auto value = ShellValue(l.substr(eq + 1));
    if (!value.ok()) {
      return InvalidArgumentError(StrCat("line ", line.number, ": ", value.status().message()));
    }
    const auto number = [&](std::optional<int64_t>& out) -> Status {
      if (value->empty()) return OkStatus();
      int64_t n = 0;
      auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), n);
      if (ec != std::errc() || end != value->data() + value->size()) {
        return InvalidArgumentError(
            StrCat("line ", line.number, ": \"", key, "\" is not a number"));
      }
      out = n;
      return OkStatus();
    };
    if (key == "Le_Domain") conf.domain = LowerAscii(*value);
    if (key == "Le_Alt" && *value != "no") conf.alt_names = SplitComma(*value);
    if (key == "Le_Webroot") conf.webroot = *value;
    if (key == "Le_API" && !value->empty()) conf.api = *value;
    if (key == "Le_CertCreateTime") RETURN_IF_ERROR(number(conf.cert_create_time));
    if (key == "Le_NextRenewTime") RETURN_IF_ERROR(number(conf.next_renew_time));
    if (key == "Le_RenewalDays") RETURN_IF_ERROR(number(conf.renewal_days));
  }
  if (conf.domain.empty()) return InvalidArgumentError("Le_Domain is missing");
  return conf;
}

std::optional<Challenge> AcmeShChallenge(std::string_view webroot) {
  const std::string_view first = Trim(webroot.substr(0, webroot.find(',')));
  if (first.empty()) return std::nullopt;
  if (first == "dns" || first.substr(0, 4) == "dns_") return Challenge::kDns01;
  if (first == "alpn") return Challenge::kTlsAlpn01;
  if (first == "no" || first == "stateless" || first == "apache" || first == "nginx" ||
      first.front() == '/') {
    return Challenge::kHttp01;
  }
  return std::nullopt;
}

std::string AcmeShWebroot(const AcmeShDomainConf& conf, std::string_view name) {
  std::vector<std::string_view> names{conf.domain};
  for (const std::string& alt : conf.alt_names) names.push_back(alt);
  std::string_view entries = conf.webroot;
  std::string_view current;
  for (std::string_view n : names) {
    const size_t comma = entries.find(',');
    if (std::string_view entry = Trim(entries.substr(0, comma)); !entry.empty()) current = entry;
    entries = comma == std::string_view::npos ? std::string_view() : entries.substr(comma + 1);
    if (n == name) return !current.empty() && current.front() == '/' ? std::string(current) : "";
  }
  return "";
}

StatusOr<Event> AcmeShConfigEvent(const AcmeShDomainConf& conf, std::string_view host,
                                  absl::Time ts) {
  ConfigEvent e;
  e.cert = conf.domain;
  e.host = std::string(host);
  e.names.push_back(conf.domain);
  for (const auto& n : conf.alt_names) {
    if (n != conf.domain) e.names.push_back(n);
  }
  e.client = Client::kAcmeSh;
  if (!conf.api) return InvalidArgumentError("Le_API is missing: the CA is unknown");
  e.ca = *conf.api;
  auto challenge = AcmeShChallenge(conf.webroot);
  if (!challenge) {
    return InvalidArgumentError(
        StrCat("Le_Webroot \"", conf.webroot, "\" names no known challenge mode"));
  }
  e.challenge = *challenge;
  // The schedule acme.sh will follow, whatever produced it: versions differ in how they turn
  // Le_RenewalDays/DEFAULT_RENEW into Le_NextRenewTime (some subtract a day), so the two stored
  // times are the only reliable source. Without them there is no rule to report.
  if (conf.cert_create_time && conf.next_renew_time &&
      *conf.next_renew_time > *conf.cert_create_time) {
    const double days = static_cast<double>(*conf.next_renew_time - *conf.cert_create_time) / 86400;
    e.renew_rule = StrCat("after_issue_days:", static_cast<int64_t>(std::floor(days)));
  }
  e.ari = false;
  Event event{ts, std::move(e)};
  auto checked = ParseEventLine(EventToJson(event));
  if (!checked.ok()) return checked.status();
  return *checked;
}

}  // namespace certcast::clients
