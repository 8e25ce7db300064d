#include "collect/clients/lego_state.h"

#include <nlohmann/json.hpp>

#include "collect/clients/common.h"
#include "core/event_json.h"
#include "core/strings.h"

namespace certcast::clients {
namespace {

StatusOr<Event> Checked(Event event) {
  auto checked = ParseEventLine(EventToJson(event));
  if (!checked.ok()) return checked.status();
  return *checked;
}

}  // namespace

StatusOr<LegoResource> ParseLegoResource(std::string_view json) {
  if (json.size() > kMaxLegoResourceBytes) {
    return InvalidArgumentError(
        StrCat("lego certificate JSON larger than ", kMaxLegoResourceBytes, " bytes"));
  }
  // No exceptions: parse(..., allow_exceptions=false) returns a discarded value on error.
  const nlohmann::json doc = nlohmann::json::parse(json.begin(), json.end(), nullptr, false);
  if (doc.is_discarded()) return InvalidArgumentError("lego certificate JSON does not parse");
  if (!doc.is_object()) return InvalidArgumentError("lego certificate JSON is not an object");
  LegoResource r;
  const auto domain = doc.find("domain");
  if (domain == doc.end()) return InvalidArgumentError("field \"domain\" is missing");
  if (!domain->is_string()) return InvalidArgumentError("field \"domain\" is not a string");
  r.domain = LowerAscii(domain->get<std::string>());
  if (r.domain.empty()) return InvalidArgumentError("field \"domain\" is empty");
  for (auto [key, out] : {std::pair{"certUrl", &r.cert_url},
                          std::pair{"certStableUrl", &r.cert_stable_url}}) {
    const auto it = doc.find(key);
    if (it == doc.end() || it->is_null()) continue;
    if (!it->is_string()) return InvalidArgumentError(StrCat("field \"", key, "\" is not a string"));
    *out = it->get<std::string>();
  }
  return r;
}

std::string LegoCa(const LegoResource& resource, const std::optional<std::string>& ca_override) {
  if (ca_override) return *ca_override;
  const std::string& url = !resource.cert_url.empty() ? resource.cert_url
                                                       : resource.cert_stable_url;
  if (auto known = KnownDirectoryForUrl(url)) return *known;
  // "https://host[:port]/path" -> "https://host[:port]"
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "unknown";
  const size_t path = url.find('/', scheme + 3);
  return url.substr(0, path);
}

StatusOr<Event> LegoIssuedEvent(const LegoResource& resource, const CertificateFacts& cert,
                                const std::string& ca) {
  IssuedEvent e;
  e.cert = resource.domain;
  e.serial = cert.serial;
  e.not_before = cert.not_before;
  e.not_after = cert.not_after;
  e.ca = ToValidUtf8(ca);
  e.names = cert.names;
  return Checked(Event{cert.not_before, std::move(e)});
}

StatusOr<Event> LegoConfigEvent(const LegoResource& resource, const CertificateFacts& cert,
                                const std::string& ca, const LegoConfigInputs& inputs) {
  ConfigEvent e;
  e.cert = resource.domain;
  e.host = inputs.host;
  e.names = cert.names;
  if (e.names.empty()) e.names.push_back(resource.domain);
  e.client = Client::kLego;
  e.ca = ToValidUtf8(ca);
  e.challenge = inputs.challenge;
  // lego's ARI use is an opt-in flag of `lego renew` and leaves no trace in this state.
  e.ari = false;
  e.renew_rule = inputs.renew_rule;
  return Checked(Event{inputs.ts, std::move(e)});
}

}  // namespace certcast::clients
