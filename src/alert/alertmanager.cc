#include "alert/alertmanager.h"

#include "core/json_text.h"
#include "core/strings.h"
#include "core/time.h"
#include "nlohmann/json.hpp"

namespace certcast::alert {
namespace {

using Json = nlohmann::ordered_json;

Json Alert(const Notification& n, Severity severity, const AlertmanagerSettings& settings,
           std::optional<absl::Time> ends_at) {
  Json labels = Json::object();
  for (const auto& [name, value] : settings.labels) labels[name] = value;
  labels["alertname"] = "CertcastIncident";
  labels["incident"] = n.incident_id;
  labels["cause"] = n.cause;
  labels["cause_key"] = n.cause_key;
  labels["severity"] = ToString(severity);
  Json annotations;
  annotations["summary"] = n.summary;
  annotations["lineages"] = StrJoin(n.certs, ",");
  annotations["description"] =
      StrCat(n.certs.size(), " lineage", n.certs.size() == 1 ? "" : "s", " share the cause ",
             n.cause_key, "; dedupe key ", n.dedupe_key);
  Json j;
  j["labels"] = std::move(labels);
  j["annotations"] = std::move(annotations);
  j["startsAt"] = FormatRfc3339(n.starts_at);
  if (ends_at) j["endsAt"] = FormatRfc3339(*ends_at);
  if (!settings.generator_url.empty()) {
    j["generatorURL"] = StrCat(settings.generator_url, n.incident_id);
  }
  return j;
}

}  // namespace

std::string AlertmanagerBody(std::span<const Notification> notifications,
                             const AlertmanagerSettings& settings) {
  Json alerts = Json::array();
  for (const Notification& n : notifications) {
    if (n.kind == Notification::Kind::kResolved) {
      alerts.push_back(Alert(n, n.severity, settings, n.ends_at));
      continue;
    }
    if (n.replaces) {
      // The lower severity's alert ends now: its labels differ, so Alertmanager would keep it.
      alerts.push_back(Alert(n, *n.replaces, settings, n.at));
    }
    alerts.push_back(Alert(n, n.severity, settings, n.expires_at));
  }
  return Dump(alerts);
}

}  // namespace certcast::alert
