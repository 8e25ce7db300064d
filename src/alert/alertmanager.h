// Prometheus Alertmanager as a sink (API v2, POST /api/v2/alerts; docs/alerts.md): one
// Alertmanager alert per incident and severity, so Alertmanager's own grouping, inhibition,
// silences and receivers apply. Pure: builds the request body; act/ sends it.
//
// Labels: alertname="CertcastIncident", incident (the id), cause, cause_key, severity, plus the
// configured extra labels. Annotations: summary (which renewal fails, when and why), lineages
// (comma-separated), description. startsAt is the incident's opening; a firing alert's endsAt is
// its expiry (Notification::expires_at: certcast re-sends before then while the incident lasts),
// a resolved one's endsAt is the resolution (in the past, so Alertmanager resolves it). A firing
// alert whose severity rose also ends the alert of the lower severity.
#pragma once

#include <map>
#include <span>
#include <string>

#include "absl/time/time.h"
#include "alert/alert.h"

namespace certcast::alert {

struct AlertmanagerSettings {
  std::string url;            // base URL, e.g. http://127.0.0.1:9093 ("" = no Alertmanager)
  std::string generator_url;  // base of the link back; the incident id is appended ("" = none)
  std::map<std::string, std::string> labels;  // added to every alert (e.g. team, env)
  absl::Duration timeout = absl::Seconds(10);
};

// The JSON array of postable alerts for `notifications` (may be empty: "[]").
std::string AlertmanagerBody(std::span<const Notification> notifications,
                             const AlertmanagerSettings& settings);

}  // namespace certcast::alert
