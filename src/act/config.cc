#include "act/config.h"

#include <set>

#include "act/toml_table.h"
#include "core/file_safety.h"
#include "core/strings.h"
#include "core/time.h"
#include "toml++/toml.h"

namespace certcast::act {
namespace {

using Table = TomlTable;

StatusOr<int> ParseClock(std::string_view key, const std::string& text) {
  // "HH:MM" in UTC.
  if (text.size() != 5 || text[2] != ':') {
    return InvalidArgumentError(StrCat(key, ": expected HH:MM, got \"", text, "\""));
  }
  const int hours = (text[0] - '0') * 10 + (text[1] - '0');
  const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
  if (hours < 0 || hours > 24 || minutes < 0 || minutes > 59 || (hours == 24 && minutes != 0)) {
    return InvalidArgumentError(StrCat(key, ": expected HH:MM, got \"", text, "\""));
  }
  return hours * 60 + minutes;
}

Status ParsePolicy(const toml::table* node, policy::PolicyConfig& p) {
  Table t(node, "policy");
  RETURN_IF_ERROR(t.Get("reload_grace", p.reload_grace));
  RETURN_IF_ERROR(t.Get("safety_net_max", p.safety_net_max));
  RETURN_IF_ERROR(t.Probability("safety_net_fraction", p.safety_net_fraction));
  RETURN_IF_ERROR(t.NonNegative("min_attempts_left", p.min_attempts_left));
  RETURN_IF_ERROR(t.Get("overdue_grace", p.overdue_grace));
  RETURN_IF_ERROR(t.Probability("dry_run_risk", p.dry_run_risk));
  RETURN_IF_ERROR(t.Probability("alert_risk", p.alert_risk));
  RETURN_IF_ERROR(t.Probability("early_renew_risk", p.early_renew_risk));
  RETURN_IF_ERROR(t.Get("forecast_renew_lead", p.forecast_renew_lead));
  RETURN_IF_ERROR(t.Get("hazard_alert_horizon", p.hazard_alert_horizon));
  RETURN_IF_ERROR(t.Get("hazard_renew_horizon", p.hazard_renew_horizon));
  RETURN_IF_ERROR(t.NonNegative("alert_after_failures", p.alert_after_failures));
  RETURN_IF_ERROR(t.Get("failing_alert_after", p.failing_alert_after));
  RETURN_IF_ERROR(t.Get("renew_retry_interval", p.renew_retry_interval));
  RETURN_IF_ERROR(t.Get("dry_run_interval", p.dry_run_interval));
  RETURN_IF_ERROR(t.Get("reload_retry_interval", p.reload_retry_interval));
  RETURN_IF_ERROR(t.NonNegative("max_renewals_per_certificate", p.max_renewals_per_certificate));
  RETURN_IF_ERROR(t.Get("clock_harm_ms", p.clock_harm_ms));
  RETURN_IF_ERROR(t.Get("disk_min_free_bytes", p.disk_min_free_bytes));
  RETURN_IF_ERROR(t.NonNegative("exact_set_limit", p.exact_set_limit));
  RETURN_IF_ERROR(t.NonNegative("exact_set_reserve", p.exact_set_reserve));
  RETURN_IF_ERROR(t.NonNegative("failed_authorizations_per_hour", p.failed_authorizations_per_hour));
  RETURN_IF_ERROR(t.NonNegative("registered_domain_limit", p.registered_domain_limit));
  RETURN_IF_ERROR(t.NonNegative("max_concurrent_renewals", p.max_concurrent_renewals));
  RETURN_IF_ERROR(t.Get("probe_persistence", p.probe_persistence));
  RETURN_IF_ERROR(t.Get("ca_outage_persistence", p.ca_outage_persistence));
  RETURN_IF_ERROR(t.Get("safety_net_slack", p.safety_net_slack));
  RETURN_IF_ERROR(t.Get("urgent_expiry", p.urgent_expiry));
  RETURN_IF_ERROR(t.Get("reload_settle", p.reload_settle));
  RETURN_IF_ERROR(t.Get("observation_lapse", p.observation_lapse));
  RETURN_IF_ERROR(t.Get("time_scale", p.time_scale));
  RETURN_IF_ERROR(t.Get("needs_approval", p.needs_approval));
  for (const std::string& kind : p.needs_approval) {
    if (kind != "renew" && kind != "dry_run" && kind != "reload" && kind != "switch") {
      return InvalidArgumentError(StrCat("policy.needs_approval: \"", kind,
                                         "\" is not renew, dry_run, reload or switch"));
    }
  }
  t.MarkRead("maintenance_window");
  if (node) {
    if (const toml::node* windows = node->get("maintenance_window")) {
      const toml::array* array = windows->as_array();
      if (!array) return InvalidArgumentError("policy.maintenance_window: expected [[policy.maintenance_window]] tables");
      int index = 0;
      for (const toml::node& item : *array) {
        const std::string path = StrCat("policy.maintenance_window[", index++, "]");
        if (!item.is_table()) return InvalidArgumentError(StrCat(path, ": expected a table"));
        Table w(item.as_table(), path);
        std::vector<std::string> days;
        std::string start = "00:00", end = "24:00";
        RETURN_IF_ERROR(w.Get("days", days));
        RETURN_IF_ERROR(w.Get("start", start));
        RETURN_IF_ERROR(w.Get("end", end));
        RETURN_IF_ERROR(w.CheckUnknown());
        policy::MaintenanceWindow mw;
        if (!days.empty()) {
          static constexpr std::string_view kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
          mw.weekday_mask = 0;
          for (const std::string& d : days) {
            int bit = -1;
            for (int i = 0; i < 7; ++i) {
              if (d == kDays[i]) bit = i;
            }
            if (bit < 0) {
              return InvalidArgumentError(
                  StrCat(path, ".days: \"", d, "\" is not one of sun, mon, tue, wed, thu, fri, sat"));
            }
            mw.weekday_mask |= 1 << bit;
          }
        }
        ASSIGN_OR_RETURN(mw.start_minute, ParseClock(path + ".start", start));
        ASSIGN_OR_RETURN(mw.end_minute, ParseClock(path + ".end", end));
        p.maintenance_windows.push_back(mw);
      }
    }
  }
  RETURN_IF_ERROR(t.CheckUnknown());
  return policy::ApplyTimeScale(p);
}

Status ParseClient(const toml::table* node, const std::string& path, ClientSettings& c) {
  Table t(node, path);
  RETURN_IF_ERROR(t.Get("kind", c.kind));
  if (c.kind != "certbot" && c.kind != "lego" && c.kind != "acme.sh") {
    return InvalidArgumentError(StrCat(path, ".kind: \"", c.kind, "\" is not one of certbot, lego, acme.sh"));
  }
  RETURN_IF_ERROR(t.Get("path", c.path));
  RETURN_IF_ERROR(t.Get("timeout", c.timeout));
  RETURN_IF_ERROR(t.Get("extra_args", c.extra_args));
  RETURN_IF_ERROR(t.Get("staging_server", c.staging_server));
  RETURN_IF_ERROR(t.Get("webroot", c.webroot));
  RETURN_IF_ERROR(t.Get("dns_provider", c.dns_provider));
  RETURN_IF_ERROR(t.Get("dns01_args", c.dns01_args));
  RETURN_IF_ERROR(t.Get("http01_args", c.http01_args));
  RETURN_IF_ERROR(t.Get("email", c.email));
  RETURN_IF_ERROR(t.Get("lego_path", c.lego_path));
  RETURN_IF_ERROR(t.Get("env", c.env));
  for (const char* key : {"cert", "alt_challenges", "alt_cas"}) t.MarkRead(key);
  return t.CheckUnknown();
}

Status ParseCommand(const toml::table* node, const std::string& path, CommandSettings& c) {
  Table t(node, path);
  RETURN_IF_ERROR(t.Get("command", c.argv));
  RETURN_IF_ERROR(t.Get("timeout", c.timeout));
  RETURN_IF_ERROR(t.Get("env", c.env));
  t.MarkRead("host");
  if (c.argv.empty()) return InvalidArgumentError(StrCat(path, ".command: must name a program"));
  return t.CheckUnknown();
}

}  // namespace

StatusOr<DaemonConfig> ParseDaemonConfig(std::string_view toml_text) {
  ASSIGN_OR_RETURN(toml::table root, ParseToml(toml_text));
  DaemonConfig c;
  Table t(&root, "");
  RETURN_IF_ERROR(t.Get("db", c.db));
  RETURN_IF_ERROR(t.Get("model", c.model));
  RETURN_IF_ERROR(t.Get("interval", c.interval));
  // A cycle every second is plenty even for a lab whose certificates live minutes.
  if (c.interval < absl::Seconds(1)) return InvalidArgumentError("interval: at least 1s");
  RETURN_IF_ERROR(t.Get("dry_run", c.dry_run));
  RETURN_IF_ERROR(t.Get("lock_dir", c.lock_dir));
  RETURN_IF_ERROR(t.Get("action_budget", c.action_budget));
  if (c.action_budget <= absl::ZeroDuration()) {
    return InvalidArgumentError("action_budget: must be positive");
  }
  RETURN_IF_ERROR(t.Get("allowed_cas", c.allowed_cas));
  for (const std::string& ca : c.allowed_cas) {
    if (!ca.starts_with("https://") && !ca.starts_with("http://")) {
      return InvalidArgumentError(StrCat("allowed_cas: \"", ca, "\" is not an ACME directory URL"));
    }
  }
  std::vector<std::string> challenges;
  RETURN_IF_ERROR(t.Get("allowed_challenges", challenges));
  for (const std::string& text : challenges) {
    std::optional<Challenge> challenge = ChallengeFromString(text);
    if (!challenge) {
      return InvalidArgumentError(
          StrCat("allowed_challenges: \"", text, "\" is not http-01, dns-01 or tls-alpn-01"));
    }
    c.allowed_challenges.push_back(*challenge);
  }
  for (const char* key : {"policy", "client", "lineage", "reload", "alert", "collector"}) t.MarkRead(key);
  RETURN_IF_ERROR(t.CheckUnknown());
  if (const toml::node* n = root.get("policy")) {
    if (!n->is_table()) return InvalidArgumentError("policy: expected a table");
    RETURN_IF_ERROR(ParsePolicy(n->as_table(), c.policy));
  }
  if (const toml::node* n = root.get("client")) {
    if (!n->is_table()) return InvalidArgumentError("client: expected a table");
    RETURN_IF_ERROR(ParseClient(n->as_table(), "client", c.client));
  }
  auto tables = [&](const char* key) -> StatusOr<std::vector<const toml::table*>> {
    std::vector<const toml::table*> out;
    const toml::node* n = root.get(key);
    if (!n) return out;
    const toml::array* array = n->as_array();
    if (!array) return InvalidArgumentError(StrCat(key, ": expected [[", key, "]] tables"));
    for (const toml::node& item : *array) {
      if (!item.is_table()) return InvalidArgumentError(StrCat(key, ": expected [[", key, "]] tables"));
      out.push_back(item.as_table());
    }
    return out;
  };
  ASSIGN_OR_RETURN(auto lineage_tables, tables("lineage"));
  for (size_t i = 0; i < lineage_tables.size(); ++i) {
    const std::string path = StrCat("lineage[", i, "]");
    auto cert = lineage_tables[i]->get("cert");
    if (!cert || !cert->is_string()) return InvalidArgumentError(StrCat(path, ".cert: required string"));
    ClientSettings settings = c.client;
    RETURN_IF_ERROR(ParseClient(lineage_tables[i], path, settings));
    const std::string name = cert->value<std::string>().value();
    c.lineages[name] = settings;
    Table alt(lineage_tables[i], path);
    std::vector<std::string> challenges;
    LineageAlternatives alternatives;
    RETURN_IF_ERROR(alt.Get("alt_challenges", challenges));
    RETURN_IF_ERROR(alt.Get("alt_cas", alternatives.alt_cas));
    for (const std::string& text : challenges) {
      std::optional<Challenge> challenge = ChallengeFromString(text);
      if (!challenge) {
        return InvalidArgumentError(StrCat(path, ".alt_challenges: \"", text,
                                           "\" is not http-01, dns-01 or tls-alpn-01"));
      }
      alternatives.alt_challenges.push_back(*challenge);
    }
    if (!alternatives.alt_challenges.empty() || !alternatives.alt_cas.empty()) {
      c.alternatives[name] = std::move(alternatives);
    }
  }
  ASSIGN_OR_RETURN(auto reload_tables, tables("reload"));
  for (size_t i = 0; i < reload_tables.size(); ++i) {
    const std::string path = StrCat("reload[", i, "]");
    std::string host = "*";
    if (auto h = reload_tables[i]->get("host")) {
      if (!h->is_string()) return InvalidArgumentError(StrCat(path, ".host: expected a string"));
      host = h->value<std::string>().value();
    }
    CommandSettings command;
    RETURN_IF_ERROR(ParseCommand(reload_tables[i], path, command));
    c.reload[host] = command;
  }
  if (const toml::node* n = root.get("alert")) {
    if (!n->is_table()) return InvalidArgumentError("alert: expected a table");
    Table a(n->as_table(), "alert");
    RETURN_IF_ERROR(a.Get("webhook", c.alert.webhook));
    RETURN_IF_ERROR(a.Get("command", c.alert.command));
    RETURN_IF_ERROR(a.Get("timeout", c.alert.timeout));
    RETURN_IF_ERROR(a.Get("env", c.alert.env));
    RETURN_IF_ERROR(a.Get("alertmanager", c.alert.alertmanager.url));
    RETURN_IF_ERROR(a.Get("alertmanager_generator_url", c.alert.alertmanager.generator_url));
    RETURN_IF_ERROR(a.Get("alertmanager_labels", c.alert.alertmanager.labels));
    RETURN_IF_ERROR(a.Get("alertmanager_timeout", c.alert.alertmanager.timeout));
    c.alert.incidents = !c.alert.alertmanager.url.empty();
    RETURN_IF_ERROR(a.Get("incidents", c.alert.incidents));
    alert::AlertPolicy& p = c.alert.policy;
    RETURN_IF_ERROR(a.Get("retry_margin", p.retry_margin));
    RETURN_IF_ERROR(a.Get("page_within", p.page_within));
    RETURN_IF_ERROR(a.Get("ticket_within", p.ticket_within));
    RETURN_IF_ERROR(a.Get("clear_expected", p.clear_expected));
    RETURN_IF_ERROR(a.Get("renotify_page", p.renotify_page));
    RETURN_IF_ERROR(a.Get("renotify_ticket", p.renotify_ticket));
    if (p.page_within > p.ticket_within) {
      return InvalidArgumentError("alert.page_within: longer than alert.ticket_within");
    }
    for (absl::Duration d : {p.renotify_page, p.renotify_ticket}) {
      if (d <= absl::ZeroDuration()) {
        return InvalidArgumentError("alert.renotify_page / renotify_ticket: must be positive");
      }
    }
    if (!c.alert.alertmanager.url.empty() && !c.alert.alertmanager.url.starts_with("http://") &&
        !c.alert.alertmanager.url.starts_with("https://")) {
      return InvalidArgumentError(StrCat("alert.alertmanager: \"", c.alert.alertmanager.url,
                                         "\" is not an http:// or https:// URL"));
    }
    RETURN_IF_ERROR(a.CheckUnknown());
  }
  ASSIGN_OR_RETURN(auto collector_tables, tables("collector"));
  for (size_t i = 0; i < collector_tables.size(); ++i) {
    const std::string path = StrCat("collector[", i, "]");
    Table ct(collector_tables[i], path);
    CollectorSettings s;
    RETURN_IF_ERROR(ct.Get("name", s.name));
    RETURN_IF_ERROR(ct.Get("command", s.argv));
    RETURN_IF_ERROR(ct.Get("every", s.every));
    RETURN_IF_ERROR(ct.Get("timeout", s.timeout));
    RETURN_IF_ERROR(ct.Get("env", s.env));
    RETURN_IF_ERROR(ct.CheckUnknown());
    if (s.argv.empty()) return InvalidArgumentError(StrCat(path, ".command: must name a program"));
    if (s.name.empty()) s.name = s.argv.front();
    c.collectors.push_back(std::move(s));
  }
  return c;
}

std::string StateDirectory(const DaemonConfig& config) {
  const size_t slash = config.db.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return config.db.substr(0, slash);
}

std::string LockDirectory(const DaemonConfig& config) {
  return config.lock_dir.empty() ? StrCat(StateDirectory(config), "/locks") : config.lock_dir;
}

StatusOr<DaemonConfig> LoadDaemonConfig(const std::string& path) {
  // The config names the commands root runs and the CAs it may use: only a file nobody else can
  // write is taken (ReadConfigFile).
  ASSIGN_OR_RETURN(std::string text, ReadConfigFile(path, kMaxConfigBytes, "daemon config"));
  auto config = ParseDaemonConfig(text);
  if (!config.ok()) return config.status().WithPrefix(path);
  return config;
}

}  // namespace certcast::act
