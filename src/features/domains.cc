#include "features/domains.h"

#include <libpsl.h>

#include <algorithm>
#include <cctype>

namespace certcast {
namespace {

const psl_ctx_t* Psl() {
  // psl_latest picks the newest of the built-in list and the system's publicsuffix package; it is
  // loaded once and never freed (process lifetime).
  static const psl_ctx_t* psl = [] {
    const psl_ctx_t* p = psl_latest(nullptr);
    return p ? p : psl_builtin();
  }();
  return psl;
}

// CAs whose CAA issuer domain is not their ACME host's registered domain (each CA's CPS names its
// identifier).
std::string_view AliasIdentity(std::string_view registered) {
  if (registered == "zerossl.com") return "sectigo.com";
  return {};
}

}  // namespace

std::string RegisteredDomain(std::string_view name) {
  if (name.starts_with("*.")) name.remove_prefix(2);
  std::string text(name);
  if (const psl_ctx_t* psl = Psl(); psl != nullptr) {
    if (const char* r = psl_registrable_domain(psl, text.c_str()); r != nullptr) return r;
  }
  return text;
}

std::string OrganisationOfHost(std::string_view host) {
  if (host.find('.') == std::string_view::npos) return std::string(host);
  const std::string registered = RegisteredDomain(host);
  const std::string_view parent = host.substr(host.find('.') + 1);
  return parent.size() > registered.size() ? std::string(parent) : registered;
}

bool CaRequiresEab(std::string_view ca_url) {
  const std::string registered = RegisteredDomain(UrlHost(ca_url));
  for (std::string_view eab : {"zerossl.com", "pki.goog", "ssl.com", "sectigo.com", "digicert.com",
                               "entrust.net", "globalsign.com"}) {
    if (registered == eab) return true;
  }
  return false;
}

std::string UrlHost(std::string_view url) {
  if (size_t p = url.find("://"); p != std::string_view::npos) url.remove_prefix(p + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  if (size_t at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  if (!url.empty() && url.front() == '[') {
    const size_t close = url.find(']');
    url = url.substr(1, close == std::string_view::npos ? url.size() - 1 : close - 1);
  } else if (size_t colon = url.rfind(':'); colon != std::string_view::npos) {
    url = url.substr(0, colon);
  }
  std::string host(url);
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!host.empty() && host.back() == '.') host.pop_back();
  return host;
}

std::vector<std::string> CaaIdentities(std::string_view ca_url) {
  std::vector<std::string> out;
  const std::string host = UrlHost(ca_url);
  if (host.empty()) return out;
  out.push_back(host);
  const std::string registered = RegisteredDomain(host);
  if (registered != host) out.push_back(registered);
  if (std::string_view alias = AliasIdentity(registered); !alias.empty()) out.emplace_back(alias);
  return out;
}

CaaDecision CaaAllowsCa(std::span<const std::string> caa_values, std::string_view ca_url,
                        bool wildcard) {
  const std::vector<std::string> identities = CaaIdentities(ca_url);
  return CaaPermitsPresentation(caa_values, identities, wildcard);
}

}  // namespace certcast
