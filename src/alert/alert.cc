#include "alert/alert.h"

#include <algorithm>
#include <cstdio>

#include "core/json_text.h"
#include "core/strings.h"
#include "core/time.h"
#include "nlohmann/json.hpp"

#define XXH_INLINE_ALL
#include "xxhash.h"

namespace certcast::alert {
namespace {

using Json = nlohmann::ordered_json;

constexpr size_t kMaxSilenceValue = 256;
constexpr size_t kMaxSilenceComment = 1000;
constexpr absl::Duration kMaxSilenceLength = absl::Hours(24 * 90);

std::string Hex(uint64_t value, int digits) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(value));
  return std::string(buffer + 16 - digits);
}

bool Printable(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f; });
}

// A lineage still in trouble: not recovered.
bool Active(const IncidentLineage& lineage) { return !lineage.recovered; }

const SilenceRecord* SilenceFor(std::span<const SilenceRecord> silences,
                                const AlertCandidate& candidate, absl::Time now) {
  for (const SilenceRecord& s : silences) {
    if (s.InForce(now) && Matches(s, candidate)) return &s;
  }
  return nullptr;
}

absl::Duration RenotifyInterval(Severity severity, const AlertPolicy& policy) {
  return severity == Severity::kPage ? policy.renotify_page : policy.renotify_ticket;
}

Json OptionalTime(const std::optional<absl::Time>& t) {
  return t ? Json(FormatRfc3339(*t)) : Json(nullptr);
}

StatusOr<std::optional<absl::Time>> ReadOptionalTime(const Json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::optional<absl::Time>();
  if (!j[key].is_string()) return InvalidArgumentError(StrCat(key, ": not a string"));
  ASSIGN_OR_RETURN(absl::Time t, ParseRfc3339(j[key].get<std::string>()));
  return std::optional<absl::Time>(t);
}

Json LineageToJson(const IncidentLineage& l) {
  Json j;
  j["cert"] = l.cert;
  j["host"] = l.host;
  j["reason"] = l.reason;
  j["message"] = l.message;
  j["severity"] = ToString(l.severity);
  j["first_seen"] = FormatRfc3339(l.first_seen);
  j["last_seen"] = FormatRfc3339(l.last_seen);
  j["recovered"] = OptionalTime(l.recovered);
  j["renewal_due"] = OptionalTime(l.renewal_due);
  j["expiry"] = OptionalTime(l.expiry);
  j["silenced_by"] = l.silenced_by;
  return j;
}

// The whole incident; the stored document and the API's answer are the same shape.
Json IncidentToJsonObject(const Incident& incident) {
  Json j;
  j["id"] = incident.id;
  j["cause_key"] = incident.cause_key;
  j["cause"] = incident.cause;
  j["state"] = incident.open ? "open" : "resolved";
  j["severity"] = ToString(incident.severity);
  j["peak_severity"] = ToString(incident.peak);
  j["opened"] = FormatRfc3339(incident.opened);
  j["updated"] = FormatRfc3339(incident.updated);
  j["resolved"] = OptionalTime(incident.resolved);
  int64_t affected = 0;
  for (const IncidentLineage& l : incident.lineages) affected += Active(l) ? 1 : 0;
  j["affected"] = affected;
  j["recovered"] = static_cast<int64_t>(incident.lineages.size()) - affected;
  Json lineages = Json::array();
  for (const IncidentLineage& l : incident.lineages) lineages.push_back(LineageToJson(l));
  j["lineages"] = std::move(lineages);
  j["notified_at"] = OptionalTime(incident.notified_at);
  j["notified_severity"] = ToString(incident.notified_severity);
  j["notifications"] = incident.notifications;
  return j;
}

StatusOr<Incident> IncidentFromJson(const Json& j) {
  auto text = [&](const Json& o, const char* key) -> StatusOr<std::string> {
    if (!o.contains(key) || !o[key].is_string()) {
      return InvalidArgumentError(StrCat(key, ": missing or not a string"));
    }
    return o[key].get<std::string>();
  };
  auto time = [&](const Json& o, const char* key) -> StatusOr<absl::Time> {
    ASSIGN_OR_RETURN(std::string t, text(o, key));
    return ParseRfc3339(t);
  };
  Incident in;
  ASSIGN_OR_RETURN(in.id, text(j, "id"));
  ASSIGN_OR_RETURN(in.cause_key, text(j, "cause_key"));
  ASSIGN_OR_RETURN(in.cause, text(j, "cause"));
  ASSIGN_OR_RETURN(std::string state, text(j, "state"));
  if (state != "open" && state != "resolved") return InvalidArgumentError(StrCat("state: ", state));
  in.open = state == "open";
  ASSIGN_OR_RETURN(std::string severity, text(j, "severity"));
  ASSIGN_OR_RETURN(in.severity, ParseSeverity(severity));
  ASSIGN_OR_RETURN(std::string peak, text(j, "peak_severity"));
  ASSIGN_OR_RETURN(in.peak, ParseSeverity(peak));
  ASSIGN_OR_RETURN(in.opened, time(j, "opened"));
  ASSIGN_OR_RETURN(in.updated, time(j, "updated"));
  ASSIGN_OR_RETURN(in.resolved, ReadOptionalTime(j, "resolved"));
  if (!j.contains("lineages") || !j["lineages"].is_array()) {
    return InvalidArgumentError("lineages: missing or not an array");
  }
  for (const Json& o : j["lineages"]) {
    if (!o.is_object()) return InvalidArgumentError("lineages: an entry is not an object");
    IncidentLineage l;
    ASSIGN_OR_RETURN(l.cert, text(o, "cert"));
    ASSIGN_OR_RETURN(l.host, text(o, "host"));
    ASSIGN_OR_RETURN(l.reason, text(o, "reason"));
    ASSIGN_OR_RETURN(l.message, text(o, "message"));
    ASSIGN_OR_RETURN(std::string s, text(o, "severity"));
    ASSIGN_OR_RETURN(l.severity, ParseSeverity(s));
    ASSIGN_OR_RETURN(l.first_seen, time(o, "first_seen"));
    ASSIGN_OR_RETURN(l.last_seen, time(o, "last_seen"));
    ASSIGN_OR_RETURN(l.recovered, ReadOptionalTime(o, "recovered"));
    ASSIGN_OR_RETURN(l.renewal_due, ReadOptionalTime(o, "renewal_due"));
    ASSIGN_OR_RETURN(l.expiry, ReadOptionalTime(o, "expiry"));
    ASSIGN_OR_RETURN(l.silenced_by, text(o, "silenced_by"));
    in.lineages.push_back(std::move(l));
  }
  ASSIGN_OR_RETURN(in.notified_at, ReadOptionalTime(j, "notified_at"));
  ASSIGN_OR_RETURN(std::string notified, text(j, "notified_severity"));
  ASSIGN_OR_RETURN(in.notified_severity, ParseSeverity(notified));
  if (!j.contains("notifications") || !j["notifications"].is_number_integer()) {
    return InvalidArgumentError("notifications: missing or not an integer");
  }
  in.notifications = j["notifications"].get<int>();
  return in;
}

std::string Summary(const Incident& incident, const std::vector<std::string>& certs,
                    bool resolved) {
  if (resolved) {
    return StrCat("resolved: ", incident.cause, " on ", incident.cause_key, " (",
                  incident.lineages.size(), " lineage", incident.lineages.size() == 1 ? "" : "s",
                  " recovered)");
  }
  // The most urgent lineage says which renewal fails, when and why.
  const IncidentLineage* first = nullptr;
  for (const IncidentLineage& l : incident.lineages) {
    if (!Active(l) || !l.silenced_by.empty()) continue;
    if (!first || l.severity > first->severity ||
        (l.severity == first->severity && l.expiry && (!first->expiry || *l.expiry < *first->expiry))) {
      first = &l;
    }
  }
  std::string out = StrCat(incident.cause, " on ", incident.cause_key, ": ", certs.size(),
                           " lineage", certs.size() == 1 ? "" : "s", " affected");
  if (first) out += StrCat("; ", first->cert, ": ", first->message);
  return out;
}

}  // namespace

std::string_view ToString(Severity severity) {
  switch (severity) {
    case Severity::kWatch: return "watch";
    case Severity::kInfo: return "info";
    case Severity::kTicket: return "ticket";
    case Severity::kPage: return "page";
  }
  return "watch";
}

StatusOr<Severity> ParseSeverity(std::string_view text) {
  for (Severity s : {Severity::kWatch, Severity::kInfo, Severity::kTicket, Severity::kPage}) {
    if (ToString(s) == text) return s;
  }
  return InvalidArgumentError(
      StrCat("unknown severity \"", text, "\" (known: watch, info, ticket, page)"));
}

std::string CauseKey(std::string_view cause, std::string_view scope, std::string_view cert,
                     std::string_view host, std::string_view ca,
                     std::string_view registered_domain) {
  if (!scope.empty()) return std::string(scope);
  if (cause == "ca_side" || cause == "rate_limited") return StrCat("ca:", ca);
  if (cause == "local_client" || cause == "clock") return StrCat("host:", host);
  if (cause == "account") return StrCat("account:", host, "@", ca);
  if ((cause == "caa_dnssec" || cause == "dns_pointing" || cause == "dns01_automation") &&
      !registered_domain.empty()) {
    return StrCat("domain:", registered_domain);
  }
  return StrCat("lineage:", cert);
}

Severity Classify(const AlertCandidate& c, absl::Time first_seen, const AlertPolicy& policy,
                  absl::Time now) {
  std::optional<absl::Duration> left;
  if (c.expiry) left = (*c.expiry - policy.retry_margin) - now;
  // A person fixes a configuration report in working hours; the expiry it would cause pages
  // through its own alert. In the closed loop these were 164 of 183 pages not at a real cause
  // (docs/alerts.md, 2026-12-05).
  if (c.config_report) {
    return !left || *left <= policy.ticket_within ? Severity::kTicket : Severity::kInfo;
  }
  // The safety net: near the deadline everything pages, soft or not.
  if (left && *left <= policy.page_within) return Severity::kPage;
  const bool soft = !c.confirmed && !c.hard_fact;
  if (soft || c.transient) {
    const bool young = now - first_seen < policy.clear_expected;
    const bool due_later =
        !c.renewal_due || *c.renewal_due > now + (policy.clear_expected - (now - first_seen));
    // Expected to clear before the renewal tries: watch it.
    if (young && due_later) return Severity::kWatch;
  }
  if (!left || *left <= policy.ticket_within) return Severity::kTicket;
  return Severity::kInfo;
}

Status ValidateSilence(const SilenceRecord& s) {
  if (s.matcher != "lineage" && s.matcher != "host" && s.matcher != "cause" &&
      s.matcher != "label") {
    return InvalidArgumentError(StrCat("matcher: unknown \"", s.matcher,
                                       "\" (known: lineage, host, cause, label)"));
  }
  if (s.value.empty() || s.value.size() > kMaxSilenceValue || !Printable(s.value)) {
    return InvalidArgumentError(StrCat("value: 1..", kMaxSilenceValue,
                                       " printable bytes, got ", s.value.size(), " bytes"));
  }
  if (s.matcher == "label") {
    const size_t eq = s.value.find('=');
    if (eq == std::string::npos || eq == 0) {
      return InvalidArgumentError(StrCat("value: a label silence is \"name=value\", got \"",
                                         s.value, "\""));
    }
  }
  if (s.comment.size() > kMaxSilenceComment || !Printable(s.comment)) {
    return InvalidArgumentError(StrCat("comment: at most ", kMaxSilenceComment,
                                       " printable bytes"));
  }
  if (s.created_by.empty()) return InvalidArgumentError("created_by: empty");
  if (s.until <= s.created) {
    return InvalidArgumentError(StrCat("until: ", FormatRfc3339(s.until),
                                       " is not after the silence's start ",
                                       FormatRfc3339(s.created)));
  }
  if (s.until - s.created > kMaxSilenceLength) {
    return InvalidArgumentError(StrCat("until: at most 90 days after the start (",
                                       FormatRfc3339(s.created + kMaxSilenceLength), ")"));
  }
  return OkStatus();
}

std::string SilenceId(uint64_t nonce) { return StrCat("sil-", Hex(nonce, 16)); }

bool Matches(const SilenceRecord& s, const AlertCandidate& c) {
  if (s.matcher == "lineage") return s.value == c.cert;
  if (s.matcher == "host") return s.value == c.host;
  if (s.matcher == "cause") return s.value == c.cause_key || s.value == c.cause;
  if (s.matcher == "label") {
    const size_t eq = s.value.find('=');
    if (eq == std::string::npos) return false;
    auto it = c.labels.find(s.value.substr(0, eq));
    return it != c.labels.end() && it->second == s.value.substr(eq + 1);
  }
  return false;
}

std::string IncidentId(std::string_view cause_key, absl::Time opened) {
  const std::string key = StrCat(cause_key, "\n", absl::ToUnixMicros(opened));
  return StrCat("inc-", Hex(XXH3_64bits(key.data(), key.size()), 12));
}

StepResult Step(std::vector<Incident>& incidents, std::span<const AlertCandidate> candidates,
                std::span<const SilenceRecord> silences, const AlertPolicy& policy,
                absl::Time now) {
  StepResult result;
  // Candidates by cause key, in the order first met (deterministic output).
  std::vector<std::string> keys;
  std::map<std::string, std::vector<const AlertCandidate*>> by_key;
  for (const AlertCandidate& c : candidates) {
    auto [it, inserted] = by_key.try_emplace(c.cause_key);
    if (inserted) keys.push_back(c.cause_key);
    it->second.push_back(&c);
  }
  std::map<std::string, size_t> open_by_key;
  for (size_t i = 0; i < incidents.size(); ++i) {
    if (incidents[i].open) open_by_key[incidents[i].cause_key] = i;
  }
  for (const std::string& key : keys) {
    if (open_by_key.contains(key)) continue;
    Incident in;
    in.cause_key = key;
    in.cause = by_key[key].front()->cause;
    in.opened = now;
    in.updated = now;
    in.id = IncidentId(key, now);
    open_by_key[key] = incidents.size();
    incidents.push_back(std::move(in));
  }
  for (const auto& [key, index] : open_by_key) {
    Incident& in = incidents[index];
    auto found = by_key.find(key);
    const std::vector<const AlertCandidate*> none;
    const std::vector<const AlertCandidate*>& group = found == by_key.end() ? none : found->second;
    const Incident before = in;
    std::map<std::string, const AlertCandidate*> by_cert;
    for (const AlertCandidate* c : group) by_cert[c->cert] = c;
    // Lineages that left recover; those present are updated or join.
    for (IncidentLineage& l : in.lineages) {
      if (!by_cert.contains(l.cert) && !l.recovered) {
        l.recovered = now;
        l.silenced_by.clear();
      }
    }
    for (const AlertCandidate* c : group) {
      auto it = std::find_if(in.lineages.begin(), in.lineages.end(),
                             [&](const IncidentLineage& l) { return l.cert == c->cert; });
      if (it == in.lineages.end()) {
        IncidentLineage joined;
        joined.cert = c->cert;
        joined.first_seen = now;
        in.lineages.push_back(std::move(joined));
        it = in.lineages.end() - 1;
      } else if (it->recovered) {
        it->recovered.reset();
        it->first_seen = now;  // a new bout of the same cause: its age starts again
      }
      it->host = c->host;
      it->reason = c->reason;
      it->message = c->message;
      it->last_seen = now;
      it->renewal_due = c->renewal_due;
      it->expiry = c->expiry;
      it->severity = Classify(*c, it->first_seen, policy, now);
      const SilenceRecord* silence = SilenceFor(silences, *c, now);
      it->silenced_by = silence ? silence->id : "";
    }
    Severity severity = Severity::kWatch;
    std::vector<std::string> certs;  // named in a notice: active and not silenced
    Severity notify_severity = Severity::kWatch;
    for (const IncidentLineage& l : in.lineages) {
      if (!Active(l)) continue;
      severity = std::max(severity, l.severity);
      if (l.silenced_by.empty()) {
        notify_severity = std::max(notify_severity, l.severity);
        if (l.severity >= Severity::kTicket) certs.push_back(l.cert);
      }
    }
    in.severity = severity;
    in.peak = std::max(in.peak, severity);
    if (group.empty()) {
      in.open = false;
      in.resolved = now;
      if (in.notified_at) {
        Notification n{.kind = Notification::Kind::kResolved,
                       .incident_id = in.id,
                       .cause_key = in.cause_key,
                       .cause = in.cause,
                       .severity = in.notified_severity,
                       .dedupe_key = StrCat(in.id, ":resolved"),
                       .certs = {},
                       .summary = Summary(in, {}, /*resolved=*/true),
                       .starts_at = in.opened,
                       .ends_at = now,
                       .replaces = std::nullopt,
                       .expires_at = std::nullopt,
                       .at = now};
        for (const IncidentLineage& l : in.lineages) n.certs.push_back(l.cert);
        result.notifications.push_back(std::move(n));
        ++in.notifications;
      }
    } else if (notify_severity >= Severity::kTicket) {
      const bool never = !in.notified_at;
      const bool rose = notify_severity > in.notified_severity;
      const bool due = in.notified_at &&
                       now - *in.notified_at >= RenotifyInterval(notify_severity, policy);
      if (never || rose || due) {
        result.notifications.push_back(
            {.kind = Notification::Kind::kFiring,
             .incident_id = in.id,
             .cause_key = in.cause_key,
             .cause = in.cause,
             .severity = notify_severity,
             .dedupe_key = StrCat(in.id, ":", ToString(notify_severity)),
             .certs = certs,
             .summary = Summary(in, certs, /*resolved=*/false),
             .starts_at = in.opened,
             .ends_at = std::nullopt,
             .replaces = rose && !never ? std::optional<Severity>(in.notified_severity)
                                        : std::nullopt,
             .expires_at = now + RenotifyInterval(notify_severity, policy),
             .at = now});
        in.notified_at = now;
        in.notified_severity = notify_severity;
        ++in.notifications;
      }
    }
    // `updated` moves only when something a reader sees changed, so GET /v1/incidents sorts by
    // real change, not by every plan.
    Incident compare = in;
    compare.updated = before.updated;
    for (size_t i = 0; i < compare.lineages.size() && i < before.lineages.size(); ++i) {
      compare.lineages[i].last_seen = before.lineages[i].last_seen;
    }
    if (!(compare == before) || before.lineages.empty()) {
      in.updated = now;
    }
    result.changed.push_back(in.id);
  }
  return result;
}

IncidentRecord ToRecord(const Incident& incident) {
  return {.id = incident.id,
          .cause_key = incident.cause_key,
          .severity = std::string(ToString(incident.peak)),
          .open = incident.open,
          .opened = incident.opened,
          .updated = incident.updated,
          .resolved = incident.resolved,
          .document_json = IncidentToJsonObject(incident).dump()};
}

StatusOr<Incident> FromRecord(const IncidentRecord& record) {
  Json j = Json::parse(record.document_json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return DataLossError(StrCat("incident ", record.id, ": stored document is not a JSON object"));
  }
  auto in = IncidentFromJson(j);
  if (!in.ok()) {
    return DataLossError(StrCat("incident ", record.id, ": stored document: ",
                                in.status().message()));
  }
  return in;
}

std::string IncidentJson(const Incident& incident) {
  return Dump(IncidentToJsonObject(incident));
}

std::string SilenceJson(const SilenceRecord& s, absl::Time now) {
  Json j;
  j["id"] = s.id;
  j["matcher"] = s.matcher;
  j["value"] = s.value;
  j["comment"] = s.comment;
  j["created_by"] = s.created_by;
  j["created"] = FormatRfc3339(s.created);
  j["until"] = FormatRfc3339(s.until);
  j["ended"] = OptionalTime(s.ended);
  j["ended_by"] = s.ended_by;
  j["in_force"] = s.InForce(now);
  return Dump(j);
}

}  // namespace certcast::alert
