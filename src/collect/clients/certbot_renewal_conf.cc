#include "collect/clients/certbot_renewal_conf.h"

#include <charconv>

#include "collect/clients/common.h"
#include "core/event_json.h"
#include "core/strings.h"

namespace certcast::clients {
namespace {

std::vector<std::string> SplitList(std::string_view value) {
  std::vector<std::string> items;
  while (!value.empty()) {
    const size_t comma = value.find(',');
    const std::string_view item = Trim(value.substr(0, comma));
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return items;
}

std::string_view Unquote(std::string_view v) {
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) {
    return v.substr(1, v.size() - 2);
  }
  return v;
}

StatusOr<Challenge> ChallengeFromCertbotName(std::string_view name) {
  // certbot accepts "http-01" and the short forms "http", "dns", "tls-alpn" for
  // --preferred-challenges and stores what the user typed.
  if (name == "http-01" || name == "http") return Challenge::kHttp01;
  if (name == "dns-01" || name == "dns") return Challenge::kDns01;
  if (name == "tls-alpn-01" || name == "tls-alpn") return Challenge::kTlsAlpn01;
  return InvalidArgumentError(StrCat("pref_challs: \"", name, "\" is not a challenge type"));
}

StatusOr<double> DaysFromInterval(std::string_view text) {
  // certbot: `if interval.strip().isdigit(): interval += " days"`, then parsedatetime reads it.
  // Weeks and days are what people write; hours and minutes appear with short-lived certificates
  // (and in test labs). Months are calendar-dependent and anything else is refused, not guessed.
  const std::string_view t = Trim(text);
  const auto bad = [&] {
    return InvalidArgumentError(StrCat("renew_before_expiry: \"", text,
                                       "\" is not N weeks, days, hours, minutes or seconds"));
  };
  int n = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
  if (ec != std::errc() || n < 0 || n > 3650) return bad();
  const std::string_view unit = Trim(t.substr(static_cast<size_t>(end - t.data())));
  if (unit.empty() || unit == "day" || unit == "days" || unit == "d") return n;
  if (unit == "week" || unit == "weeks" || unit == "w") return n * 7;
  if (unit == "hour" || unit == "hours" || unit == "h") return n / 24.0;
  if (unit == "minute" || unit == "minutes" || unit == "min" || unit == "mins") return n / 1440.0;
  if (unit == "second" || unit == "seconds" || unit == "sec" || unit == "secs") return n / 86400.0;
  return bad();
}

}  // namespace

StatusOr<CertbotRenewalConf> ParseCertbotRenewalConf(std::string_view text) {
  if (text.size() > kMaxRenewalConfBytes) {
    return InvalidArgumentError(StrCat("renewal conf larger than ", kMaxRenewalConfBytes, " bytes"));
  }
  CertbotRenewalConf conf;
  std::string section;  // "", "renewalparams", "webroot_map"
  for (const Line& line : SplitLines(text)) {
    std::string_view l = Trim(line.text);
    if (l.empty()) continue;
    if (l.front() == '#') {
      continue;  // certbot writes the default as "# renew_before_expiry = 30 days": a comment
    }
    if (l.front() == '[') {
      const size_t depth = l.find_first_not_of('[');
      if (depth == std::string_view::npos || l.size() < 2 * depth + 1 ||
          l.substr(l.size() - depth) != std::string(depth, ']')) {
        return InvalidArgumentError(StrCat("line ", line.number, ": unbalanced section header"));
      }
      section = std::string(Trim(l.substr(depth, l.size() - 2 * depth)));
      continue;
    }
    const size_t eq = l.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgumentError(StrCat("line ", line.number, ": expected \"key = value\""));
    }
    const std::string_view key = Trim(l.substr(0, eq));
    const std::string_view value = Unquote(Trim(l.substr(eq + 1)));
    if (key.empty()) {
      return InvalidArgumentError(StrCat("line ", line.number, ": empty key"));
    }
    if (section.empty()) {
      if (key == "version") conf.version = std::string(value);
      if (key == "cert") conf.cert_path = std::string(value);
      if (key == "renew_before_expiry") conf.renew_before_expiry = std::string(value);
    } else if (section == "renewalparams") {
      if (key == "authenticator") conf.authenticator = std::string(value);
      if (key == "server") conf.server = std::string(value);
      if (key == "pref_challs") conf.preferred_challenges = SplitList(value);
      if (key == "webroot_path") conf.webroot_path = SplitList(value);
    } else if (section == "webroot_map") {
      conf.webroot_domains.push_back(LowerAscii(Unquote(key)));
      conf.webroot_paths.push_back(std::string(value));
    }
  }
  return conf;
}

std::string CertbotWebroot(const CertbotRenewalConf& conf, std::string_view name) {
  for (size_t i = 0; i < conf.webroot_domains.size() && i < conf.webroot_paths.size(); ++i) {
    if (conf.webroot_domains[i] == name) return conf.webroot_paths[i];
  }
  return conf.webroot_path.size() == 1 ? conf.webroot_path.front() : "";
}

StatusOr<Event> CertbotConfigEvent(const CertbotRenewalConf& conf,
                                   const CertbotConfigInputs& inputs) {
  ConfigEvent e;
  e.cert = inputs.lineage;
  e.host = inputs.host;
  e.names = inputs.names;
  e.client = Client::kCertbot;
  e.client_version = conf.version;
  // certbot's default server (constants.CLI_DEFAULTS["server"]).
  e.ca = conf.server.value_or("https://acme-v02.api.letsencrypt.org/directory");
  if (!conf.preferred_challenges.empty()) {
    ASSIGN_OR_RETURN(e.challenge, ChallengeFromCertbotName(conf.preferred_challenges[0]));
  } else {
    if (!conf.authenticator) return InvalidArgumentError("renewalparams has no authenticator");
    const std::string& a = *conf.authenticator;
    if (a == "standalone" || a == "webroot" || a == "nginx" || a == "apache" || a == "manual") {
      e.challenge = Challenge::kHttp01;
    } else if (a.substr(0, 4) == "dns-" || a.find(":dns-") != std::string::npos) {
      // "dns-cloudflare", or the old "certbot-dns-cloudflare:dns-cloudflare" form.
      e.challenge = Challenge::kDns01;
    } else {
      return InvalidArgumentError(
          StrCat("authenticator \"", a, "\" has no known challenge type"));
    }
  }
  double days = 30;
  if (conf.renew_before_expiry) {
    ASSIGN_OR_RETURN(days, DaysFromInterval(*conf.renew_before_expiry));
  }
  e.renew_rule = StrCat("days_left:", days);
  e.ari = false;
  Event event{inputs.ts, std::move(e)};
  // The codec's own validation (names, lengths, UTF-8): what we return always serializes to a
  // line ParseEventLine accepts.
  auto checked = ParseEventLine(EventToJson(event));
  if (!checked.ok()) return checked.status();
  return *checked;
}

}  // namespace certcast::clients
