#include "api/fleet_snapshot.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>

#include "absl/container/flat_hash_set.h"
#include "core/json_text.h"
#include "core/strings.h"
#include "core/time.h"
#include "nlohmann/json.hpp"
#include "policy/policy.h"

namespace certcast::api {
namespace {

using Json = nlohmann::ordered_json;

Json TimeOrNull(const std::optional<absl::Time>& t) {
  return t ? Json(FormatRfc3339(*t)) : Json(nullptr);
}

Json ActionJson(const PlannedAction& a, std::string_view reason_code) {
  Json j;
  j["action"] = std::string(ToString(a.kind));
  if (a.challenge) j["challenge"] = std::string(ToString(*a.challenge));
  if (a.ca) j["ca"] = *a.ca;
  if (a.host) j["host"] = *a.host;
  j["reason_code"] = std::string(reason_code);
  j["reason"] = a.reason;
  return j;
}

// Risk first (absent risks last), then cert: the default order, and the tie-break of the others.
bool ByRisk(const LineageEntry& a, const LineageEntry& b) {
  const double ra = a.risk.value_or(-1), rb = b.risk.value_or(-1);
  if (ra != rb) return ra > rb;
  return a.cert < b.cert;
}

}  // namespace

const LineageEntry* FleetSnapshot::Find(std::string_view cert) const {
  auto it = index.find(std::string(cert));
  return it == index.end() ? nullptr : &lineages[it->second];
}

FleetSnapshot BuildFleetSnapshot(const std::vector<policy::LineageView>& views,
                                 const policy::ForecastMap& forecasts, bool has_model,
                                 const policy::PlanResult& plan, const policy::FleetMemory& memory,
                                 absl::Time at) {
  FleetSnapshot snapshot;
  snapshot.at = at;
  snapshot.has_model = has_model;
  absl::flat_hash_map<std::string, const policy::PlannedItem*> planned;
  for (const policy::PlannedItem& item : plan.items) planned.emplace(item.action.cert, &item);
  absl::flat_hash_map<std::string, const policy::HeldItem*> held;
  for (const policy::HeldItem& h : plan.held) held.emplace(h.cert, &h);
  static const policy::LineageMemory kNoMemory;

  snapshot.lineages.reserve(views.size());
  for (const policy::LineageView& v : views) {
    LineageEntry e;
    e.cert = v.cert;
    e.names = v.config.names;
    e.host = v.config.host;
    e.hosts = v.hosts;
    e.client = std::string(ToString(v.config.client));
    auto m = memory.find(v.cert);
    const policy::LineageMemory& mem = m == memory.end() ? kNoMemory : m->second;
    e.ca = policy::EffectiveCa(v, mem);
    e.challenge = std::string(ToString(policy::EffectiveChallenge(v, mem)));
    if (v.current) {
      e.serial = v.current->serial;
      e.not_before = v.current->not_before;
      e.not_after = v.current->not_after;
      e.renewal_due = policy::ClientRenewalDue(v);
    }
    bool stale = false, failed = false;
    for (const policy::Served& s : v.served) {
      ServedEndpoint out;
      out.endpoint = s.endpoint;
      out.sni = s.sni;
      out.host = s.host;
      out.probed_at = s.probed_at;
      out.ok = s.ok;
      if (s.error) out.error = std::string(ToString(*s.error));
      out.serial = s.serial;
      out.not_after = s.not_after;
      out.current = s.ok && v.current && s.serial == v.current->serial;
      if (!s.ok) failed = true;
      else if (!out.current) stale = true;
      e.served.push_back(std::move(out));
    }
    if (v.current && !v.served.empty()) {
      e.served_state = stale ? kServedStale : failed ? kServedError : kServedCurrent;
    }
    if (v.last_success) e.last_success = v.last_success->at;
    if (v.last_failure) e.last_failure = v.last_failure->at;
    e.episode_failures = v.episode_failures;
    if (has_model) {
      auto f = forecasts.find(v.cert);
      if (f != forecasts.end()) {
        e.risk = f->second.risk;
        e.in_episode = f->second.in_episode;
        e.risk_reasons = f->second.reasons;
      }
    }
    if (auto p = planned.find(v.cert); p != planned.end()) {
      e.action = p->second->action;
      e.action_reason_code = std::string(p->second->reason);
      if (p->second->diagnosis.cause != policy::Cause::kNone) {
        e.diagnosis = p->second->diagnosis.evidence;
        e.cause = std::string(ToString(p->second->diagnosis.cause));
      }
      e.reason = p->second->action.reason;
    }
    if (auto h = held.find(v.cert); h != held.end()) {
      const policy::Held& hh = h->second->held;
      e.held = StrCat(hh.proposal.message.empty() ? std::string(hh.proposal.reason)
                                                  : hh.proposal.message,
                      " (held: ", hh.why, hh.detail.empty() ? "" : StrCat(", ", hh.detail), ")");
      if (e.reason.empty()) e.reason = e.held;
    }
    if (e.reason.empty() && !e.risk_reasons.empty()) e.reason = e.risk_reasons.front();
    if (e.reason.empty()) e.reason = "no action needed";
    snapshot.lineages.push_back(std::move(e));
  }
  std::sort(snapshot.lineages.begin(), snapshot.lineages.end(), ByRisk);
  snapshot.index.reserve(snapshot.lineages.size());
  for (size_t i = 0; i < snapshot.lineages.size(); ++i) {
    snapshot.index.emplace(snapshot.lineages[i].cert, i);
  }
  return snapshot;
}

void ComputeRenewalKpis(const std::vector<Event>& events, absl::Time at, FleetKpis& kpis) {
  const absl::Time since = at - kpis.window;
  kpis.renewals_succeeded = kpis.renewals_failed = kpis.repairs = 0;
  absl::flat_hash_map<std::string, absl::Time> failing_since;  // cert -> first failure of the run
  double repair_seconds = 0;
  for (const Event& e : events) {
    if (e.ts >= at) break;
    const auto* r = std::get_if<RenewalEvent>(&e.body);
    if (r == nullptr || r->dry_run) continue;
    const bool in_window = e.ts > since;
    if (r->outcome == Outcome::kSuccess) {
      if (in_window) ++kpis.renewals_succeeded;
      auto run = failing_since.find(r->cert);
      if (run != failing_since.end()) {
        if (in_window) {
          ++kpis.repairs;
          repair_seconds += absl::ToDoubleSeconds(e.ts - run->second);
        }
        failing_since.erase(run);
      }
    } else {
      if (in_window) ++kpis.renewals_failed;
      failing_since.emplace(r->cert, e.ts);  // keeps the run's first failure
    }
  }
  const int64_t attempts = kpis.renewals_succeeded + kpis.renewals_failed;
  kpis.success_ratio.reset();
  kpis.mean_time_to_repair_seconds.reset();
  if (attempts > 0) kpis.success_ratio = static_cast<double>(kpis.renewals_succeeded) / attempts;
  if (kpis.repairs > 0) kpis.mean_time_to_repair_seconds = repair_seconds / kpis.repairs;
}

void ComputeForecastQuality(const std::vector<ForecastDay>& history,
                            const std::vector<Event>& events, absl::Duration horizon, absl::Time at,
                            FleetKpis& kpis) {
  const absl::Time since = at - kpis.window;
  // Onsets per lineage, in time order.
  absl::flat_hash_map<std::string, std::vector<absl::Time>> onsets;
  absl::flat_hash_set<std::string> failing;
  for (const Event& e : events) {
    if (e.ts >= at) break;
    if (const auto* issued = std::get_if<IssuedEvent>(&e.body)) {
      failing.erase(issued->cert);
      continue;
    }
    const auto* r = std::get_if<RenewalEvent>(&e.body);
    if (r == nullptr || r->dry_run) continue;
    if (r->outcome == Outcome::kSuccess) {
      failing.erase(r->cert);
    } else if (failing.insert(r->cert).second) {
      onsets[r->cert].push_back(e.ts);
    }
  }
  auto onset_in = [&](const std::string& cert, absl::Time from, absl::Time to) {
    auto it = onsets.find(cert);
    if (it == onsets.end()) return false;
    auto o = std::upper_bound(it->second.begin(), it->second.end(), from);
    return o != it->second.end() && *o <= to;
  };
  kpis.forecast_alerts_judged = kpis.forecast_alerts_hit = 0;
  kpis.onsets = kpis.onsets_forecast = 0;
  for (const ForecastDay& day : history) {
    if (day.day <= since || day.day >= at) continue;
    for (const std::string& cert : day.alerted) {
      const bool hit = onset_in(cert, day.day, std::min(day.day + horizon, at));
      if (!hit && day.day + horizon > at) continue;  // not judged yet
      ++kpis.forecast_alerts_judged;
      if (hit) ++kpis.forecast_alerts_hit;
    }
  }
  absl::flat_hash_map<std::string, std::vector<absl::Time>> alerted_days;
  for (const ForecastDay& day : history) {
    for (const std::string& cert : day.alerted) alerted_days[cert].push_back(day.day);
  }
  for (const auto& [cert, times] : onsets) {
    for (absl::Time onset : times) {
      if (onset <= since) continue;
      ++kpis.onsets;
      auto days = alerted_days.find(cert);
      if (days == alerted_days.end()) continue;
      const bool foreseen = std::any_of(days->second.begin(), days->second.end(), [&](absl::Time d) {
        return d < onset && onset <= d + horizon;
      });
      if (foreseen) ++kpis.onsets_forecast;
    }
  }
  kpis.forecast_precision.reset();
  kpis.forecast_recall.reset();
  if (kpis.forecast_alerts_judged > 0) {
    kpis.forecast_precision =
        static_cast<double>(kpis.forecast_alerts_hit) / kpis.forecast_alerts_judged;
  }
  if (kpis.onsets > 0) {
    kpis.forecast_recall = static_cast<double>(kpis.onsets_forecast) / kpis.onsets;
  }
}

std::string ForecastHistoryToJson(const std::vector<ForecastDay>& history) {
  Json days = Json::array();
  for (const ForecastDay& d : history) {
    Json day = {{"day", FormatRfc3339(d.day)}, {"alerted", d.alerted}};
    if (!d.risks.empty()) {
      Json risks = Json::object();
      for (const auto& [cert, units] : d.risks) risks[cert] = units;
      day["risks"] = std::move(risks);
    }
    days.push_back(std::move(day));
  }
  return Dump(Json{{"version", 1}, {"days", std::move(days)}});
}

StatusOr<std::vector<ForecastDay>> ForecastHistoryFromJson(std::string_view text) {
  const Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("days") || !j["days"].is_array()) {
    return DataLossError("forecast history: not an object with a \"days\" list");
  }
  std::vector<ForecastDay> history;
  for (size_t i = 0; i < j["days"].size(); ++i) {
    const Json& d = j["days"][i];
    if (!d.is_object() || !d.contains("day") || !d["day"].is_string() || !d.contains("alerted") ||
        !d["alerted"].is_array()) {
      return DataLossError(StrCat("forecast history: day ", i, ": expected {day, alerted}"));
    }
    auto day = ParseRfc3339(d["day"].get<std::string>());
    if (!day.ok()) return DataLossError(StrCat("forecast history: day ", i, ": ", day.status().message()));
    ForecastDay out{*day, {}, {}};
    for (const Json& cert : d["alerted"]) {
      if (!cert.is_string()) return DataLossError(StrCat("forecast history: day ", i, ": a cert is not a string"));
      out.alerted.push_back(cert.get<std::string>());
    }
    if (d.contains("risks")) {
      const Json& risks = d["risks"];
      if (!risks.is_object()) return DataLossError(StrCat("forecast history: day ", i, ": risks is not an object"));
      for (const auto& [cert, units] : risks.items()) {
        if (!units.is_number_integer() || units.get<int64_t>() < 0 || units.get<int64_t>() > kRiskUnits) {
          return DataLossError(StrCat("forecast history: day ", i, ": risk of \"", cert,
                                      "\" is not an integer in [0, ", kRiskUnits, "]"));
        }
        out.risks.emplace_back(cert, static_cast<int>(units.get<int64_t>()));
      }
      std::sort(out.risks.begin(), out.risks.end());
    }
    history.push_back(std::move(out));
  }
  return history;
}

void RecordForecastDay(const FleetSnapshot& snapshot, double alert_threshold, absl::Duration keep,
                       std::vector<ForecastDay>& history) {
  const absl::Time day = absl::FromUnixSeconds(absl::ToUnixSeconds(snapshot.at) / 86400 * 86400);
  ForecastDay today{day, {}, {}};
  for (const LineageEntry& e : snapshot.lineages) {
    if (e.risk && *e.risk >= alert_threshold && !e.in_episode) today.alerted.push_back(e.cert);
  }
  std::sort(today.alerted.begin(), today.alerted.end());
  // The snapshot is sorted by risk, highest first: its head is the day's highest risks.
  for (const LineageEntry& e : snapshot.lineages) {
    if (today.risks.size() == kRiskHistoryKept) break;
    if (!e.risk) continue;
    today.risks.emplace_back(e.cert, static_cast<int>(std::lround(*e.risk * kRiskUnits)));
  }
  std::sort(today.risks.begin(), today.risks.end());
  std::erase_if(history, [&](const ForecastDay& d) { return d.day == day || d.day < day - keep; });
  history.push_back(std::move(today));
  std::sort(history.begin(), history.end(),
            [](const ForecastDay& a, const ForecastDay& b) { return a.day < b.day; });
}

std::vector<RiskPoint> LineageRiskHistory(const std::vector<ForecastDay>& history,
                                          std::string_view cert) {
  std::vector<RiskPoint> points;
  for (const ForecastDay& d : history) {
    if (d.risks.empty()) continue;
    RiskPoint point{d.day, std::nullopt, std::nullopt};
    auto it = std::lower_bound(d.risks.begin(), d.risks.end(), cert,
                               [](const auto& item, std::string_view c) { return item.first < c; });
    if (it != d.risks.end() && it->first == cert) {
      point.risk = static_cast<double>(it->second) / kRiskUnits;
    } else {
      int lowest = kRiskUnits;
      for (const auto& item : d.risks) lowest = std::min(lowest, item.second);
      point.below = static_cast<double>(lowest) / kRiskUnits;
    }
    points.push_back(point);
  }
  return points;
}

StatusOr<int64_t> ParseQueryInteger(std::string_view key, std::string_view value, int64_t lo,
                                    int64_t hi) {
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size() || n < lo || n > hi) {
    return InvalidArgumentError(
        StrCat(key, ": expected an integer in [", lo, ", ", hi, "], got \"", value, "\""));
  }
  return n;
}

StatusOr<LineageQuery> ParseLineageQuery(const std::multimap<std::string, std::string>& params) {
  LineageQuery q;
  const auto& integer = ParseQueryInteger;
  for (const auto& [key, value] : params) {
    if (params.count(key) > 1) return InvalidArgumentError(StrCat(key, ": given more than once"));
    if (key == "host") q.host = value;
    else if (key == "name") q.name = value;
    else if (key == "client") q.client = value;
    else if (key == "ca") q.ca = value;
    else if (key == "challenge") q.challenge = value;
    else if (key == "cause") q.cause = value;
    else if (key == "min_risk") {
      char* end = nullptr;
      const double r = std::strtod(value.c_str(), &end);
      if (value.empty() || end != value.c_str() + value.size() || !(r >= 0 && r <= 1)) {
        return InvalidArgumentError(StrCat("min_risk: expected a number in [0, 1], got \"", value, "\""));
      }
      q.min_risk = r;
    } else if (key == "sort") {
      if (value != "risk" && value != "cert" && value != "not_after" && value != "renewal_due") {
        return InvalidArgumentError(StrCat(
            "sort: expected one of risk, cert, not_after, renewal_due, got \"", value, "\""));
      }
      q.sort = value;
    } else if (key == "limit") {
      ASSIGN_OR_RETURN(q.limit, integer(key, value, 1, kMaxPageSize));
    } else if (key == "offset" || key == "cursor") {
      // The cursor is the next_offset of the previous page: paging over one snapshot is exact;
      // across a refresh, a lineage whose rank changed may appear twice or not at all.
      ASSIGN_OR_RETURN(q.offset, integer(key, value, 0, int64_t{1} << 40));
    } else {
      return InvalidArgumentError(StrCat(
          "unknown query parameter \"", key,
          "\" (expected host, name, client, ca, challenge, cause, min_risk, sort, limit, offset, "
          "cursor)"));
    }
  }
  return q;
}

namespace {

bool Matches(const LineageEntry& e, const LineageQuery& q) {
  if (!q.host.empty() && std::find(e.hosts.begin(), e.hosts.end(), q.host) == e.hosts.end() &&
      e.host != q.host) {
    return false;
  }
  if (!q.name.empty() && std::find(e.names.begin(), e.names.end(), q.name) == e.names.end()) return false;
  if (!q.client.empty() && e.client != q.client) return false;
  if (!q.ca.empty() && e.ca != q.ca) return false;
  if (!q.challenge.empty() && e.challenge != q.challenge) return false;
  if (!q.cause.empty() && e.cause != q.cause) return false;
  if (q.min_risk && (!e.risk || *e.risk < *q.min_risk)) return false;
  return true;
}

}  // namespace

LineagePage QueryLineages(const FleetSnapshot& snapshot, const LineageQuery& q) {
  LineagePage page;
  std::vector<const LineageEntry*> matches;
  for (const LineageEntry& e : snapshot.lineages) {
    if (Matches(e, q)) matches.push_back(&e);
  }
  // Absent times sort last; ties keep the default (risk) order, which stable_sort preserves.
  auto by_time = [](const std::optional<absl::Time> LineageEntry::*field) {
    return [field](const LineageEntry* a, const LineageEntry* b) {
      const absl::Time ta = (a->*field).value_or(absl::InfiniteFuture());
      const absl::Time tb = (b->*field).value_or(absl::InfiniteFuture());
      return ta < tb;
    };
  };
  if (q.sort == "cert") {
    std::sort(matches.begin(), matches.end(),
              [](const LineageEntry* a, const LineageEntry* b) { return a->cert < b->cert; });
  } else if (q.sort == "not_after") {
    std::stable_sort(matches.begin(), matches.end(), by_time(&LineageEntry::not_after));
  } else if (q.sort == "renewal_due") {
    std::stable_sort(matches.begin(), matches.end(), by_time(&LineageEntry::renewal_due));
  }
  page.total = static_cast<int64_t>(matches.size());
  const int64_t begin = std::min(q.offset, page.total);
  const int64_t end = std::min(begin + q.limit, page.total);
  page.items.assign(matches.begin() + begin, matches.begin() + end);
  if (end < page.total) page.next_offset = end;
  return page;
}

namespace {

Json LineageObject(const LineageEntry& e, bool detail) {
  Json j;
  j["cert"] = e.cert;
  j["risk"] = e.risk ? Json(*e.risk) : Json(nullptr);
  j["reason"] = e.reason;
  j["names"] = e.names;
  j["host"] = e.host;
  j["client"] = e.client;
  j["ca"] = e.ca;
  j["challenge"] = e.challenge;
  j["serial"] = e.serial ? Json(*e.serial) : Json(nullptr);
  j["not_after"] = TimeOrNull(e.not_after);
  j["renewal_due"] = TimeOrNull(e.renewal_due);
  j["served"] = e.served_state;
  j["in_episode"] = e.in_episode;
  j["action"] = e.action ? ActionJson(*e.action, e.action_reason_code) : Json(nullptr);
  if (!detail) return j;
  j["hosts"] = e.hosts;
  j["not_before"] = TimeOrNull(e.not_before);
  j["risk_reasons"] = e.risk_reasons;
  j["held"] = e.held.empty() ? Json(nullptr) : Json(e.held);
  j["diagnosis"] = e.diagnosis.empty() ? Json(nullptr) : Json(e.diagnosis);
  j["cause"] = e.cause.empty() ? Json(nullptr) : Json(e.cause);
  j["last_success"] = TimeOrNull(e.last_success);
  j["last_failure"] = TimeOrNull(e.last_failure);
  j["episode_failures"] = e.episode_failures;
  Json endpoints = Json::array();
  for (const ServedEndpoint& s : e.served) {
    Json x;
    x["endpoint"] = s.endpoint;
    x["sni"] = s.sni;
    x["host"] = s.host;
    x["probed_at"] = FormatRfc3339(s.probed_at);
    x["ok"] = s.ok;
    if (!s.ok) x["error"] = s.error;
    x["serial"] = s.serial;
    x["not_after"] = TimeOrNull(s.not_after);
    x["current"] = s.current;
    endpoints.push_back(std::move(x));
  }
  j["endpoints"] = std::move(endpoints);
  return j;
}

}  // namespace

std::string FleetSummaryJson(const FleetSnapshot& snapshot, const LineageQuery& query,
                             std::optional<double> alert_threshold, absl::Duration horizon,
                             int timeline_days, int64_t open_incidents) {
  const absl::Time week = snapshot.at + absl::Hours(24 * 7);
  const absl::Time today = absl::FromUnixSeconds(absl::ToUnixSeconds(snapshot.at) / 86400 * 86400);
  int64_t certificates = 0, alerting = 0, failing = 0, expiring = 0, at_risk = 0, planned = 0;
  int64_t expired = 0, stale = 0;
  std::vector<int64_t> expiries(timeline_days, 0), dues(timeline_days, 0);
  int64_t overdue = 0;  // renewal due before today and not renewed
  std::map<std::string, std::map<std::string, int64_t>> facets;
  auto day_of = [&](absl::Time t) -> int64_t { return (t - today) / absl::Hours(24); };
  for (const LineageEntry& e : snapshot.lineages) {
    // Facets come from the whole fleet so that a filter can be changed, not only narrowed.
    ++facets["host"][e.host];
    ++facets["client"][e.client];
    ++facets["ca"][e.ca];
    ++facets["challenge"][e.challenge];
    if (!e.cause.empty()) ++facets["cause"][e.cause];
    if (!Matches(e, query)) continue;
    ++certificates;
    const bool alerts = alert_threshold && e.risk && *e.risk >= *alert_threshold && !e.in_episode;
    const bool expires_soon = e.not_after && *e.not_after <= week;
    alerting += alerts;
    failing += e.in_episode;
    expiring += expires_soon;
    at_risk += alerts || e.in_episode || expires_soon;
    planned += e.action.has_value();
    expired += e.not_after && *e.not_after <= snapshot.at;
    stale += e.served_state == kServedStale;
    if (e.not_after) {
      const int64_t d = day_of(*e.not_after);
      if (d >= 0 && d < timeline_days) ++expiries[d];
    }
    if (e.renewal_due) {
      const int64_t d = day_of(*e.renewal_due);
      if (d < 0) ++overdue;
      else if (d < timeline_days) ++dues[d];
    }
  }
  const FleetKpis& k = snapshot.kpis;
  auto optional = [](const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); };
  Json j;
  j["at"] = FormatRfc3339(snapshot.at);
  j["model"] = snapshot.model_version;
  j["alert_threshold"] = alert_threshold ? Json(*alert_threshold) : Json(nullptr);
  j["horizon_seconds"] = absl::ToInt64Seconds(horizon);
  j["certificates"] = certificates;
  j["fleet_certificates"] = static_cast<int64_t>(snapshot.lineages.size());
  j["at_risk_7d"] = {{"total", at_risk},
                     {"alerting", alerting},
                     {"failing", failing},
                     {"expiring", expiring}};
  j["planned_actions"] = planned;
  j["expired"] = expired;
  j["served_stale"] = stale;
  j["open_incidents"] = open_incidents;
  j["window_seconds"] = absl::ToInt64Seconds(k.window);
  j["renewals"] = {{"succeeded", k.renewals_succeeded},
                   {"failed", k.renewals_failed},
                   {"success_ratio", optional(k.success_ratio)}};
  j["repairs"] = {{"count", k.repairs}, {"mean_time_to_repair_seconds", optional(k.mean_time_to_repair_seconds)}};
  j["forecast"] = {{"alerts_judged", k.forecast_alerts_judged},
                   {"alerts_hit", k.forecast_alerts_hit},
                   {"precision", optional(k.forecast_precision)},
                   {"onsets", k.onsets},
                   {"onsets_forecast", k.onsets_forecast},
                   {"recall", optional(k.forecast_recall)}};
  Json timeline = Json::array();
  for (int d = 0; d < timeline_days; ++d) {
    timeline.push_back({{"day", FormatRfc3339(today + absl::Hours(24) * d)},
                        {"expiries", expiries[d]},
                        {"renewals_due", dues[d]}});
  }
  j["timeline"] = std::move(timeline);
  j["renewals_overdue"] = overdue;
  Json facet_json = Json::object();
  for (const char* name : {"host", "client", "ca", "challenge", "cause"}) {
    std::vector<std::pair<std::string, int64_t>> values(facets[name].begin(), facets[name].end());
    std::stable_sort(values.begin(), values.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    Json list = Json::array();
    for (size_t i = 0; i < values.size() && i < kMaxFacetValues; ++i) {
      if (values[i].first.empty()) continue;
      list.push_back({{"value", values[i].first}, {"lineages", values[i].second}});
    }
    facet_json[name] = std::move(list);
  }
  j["facets"] = std::move(facet_json);
  return Dump(j);
}

std::string LineageJson(const LineageEntry& entry, bool detail) {
  return Dump(LineageObject(entry, detail));
}

std::string LineagePageJson(const FleetSnapshot& snapshot, const LineagePage& page,
                            const LineageQuery& query) {
  Json j;
  j["at"] = FormatRfc3339(snapshot.at);
  j["model"] = snapshot.model_version;
  j["total"] = page.total;
  j["offset"] = query.offset;
  j["limit"] = query.limit;
  j["next_cursor"] = page.next_offset ? Json(std::to_string(*page.next_offset)) : Json(nullptr);
  Json list = Json::array();
  for (const LineageEntry* e : page.items) list.push_back(LineageObject(*e, false));
  j["lineages"] = std::move(list);
  return Dump(j);
}

// The events cursor of GET /v1/lineages/{cert} ("TS.HASH", the key of the last row a page read,
// as events_next gives it) and back.
std::string FormatEventCursor(const EventCursor& cursor) {
  return StrCat(cursor.ts_micros, ".", cursor.hash);
}
StatusOr<EventCursor> ParseEventCursor(std::string_view text) {
  const auto bad = [&] {
    return InvalidArgumentError(StrCat("cursor: \"", text, "\" is not an events cursor (give "
                                       "events_next of the previous page as it is)"));
  };
  const size_t dot = text.find('.');
  if (dot == std::string_view::npos) return bad();
  EventCursor cursor;
  const auto whole = [](std::string_view part, int64_t& out) {
    auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), out);
    return error == std::errc() && end == part.data() + part.size() && !part.empty();
  };
  if (!whole(text.substr(0, dot), cursor.ts_micros) || !whole(text.substr(dot + 1), cursor.hash)) {
    return bad();
  }
  return cursor;
}

}  // namespace certcast::api
