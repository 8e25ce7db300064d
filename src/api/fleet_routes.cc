// The fleet routes: lineages, one lineage, forecasts, a dry plan, decisions, actions, the audit
// log and its verification, models, and /metrics. Reads come from the FleetService's snapshot
// (never blocked by a plan) or from the worker's own store connection.
#include <algorithm>
#include <charconv>
#include <limits>

#include "api/fleet_service.h"
#include "api/metrics.h"
#include "api/server.h"
#include "core/event_json.h"
#include "core/json_text.h"
#include "core/strings.h"
#include "core/time.h"
#include "nlohmann/json.hpp"
#include "plan/planner.h"
#include "store/audit_verify.h"

namespace certcast::api {
namespace {

using Json = nlohmann::ordered_json;

constexpr int64_t kRecentEvents = 50;
constexpr int64_t kDefaultPage = 100;
// GET /v1/lineages/{cert}?days=&events=&cursor=: the widest window (optional: without it, the
// lineage's whole history, a page at a time) and the largest page of events one request reads.
constexpr int64_t kMaxEventDays = 3650;
constexpr int64_t kMaxEvents = 500;
constexpr int kDefaultTimelineDays = 30;
constexpr int kMaxTimelineDays = 90;

// Parsed JSON of a stored record; a record that is not JSON is served as a string.
Json RecordJson(const std::string& text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? Json(text) : j;
}

std::shared_ptr<const FleetSnapshot> Snapshot(const ServerContext& context, Response& response) {
  std::shared_ptr<const FleetSnapshot> snapshot = context.fleet->snapshot();
  if (!snapshot) response.Error(503, "unavailable", "the first plan has not finished yet");
  return snapshot;
}

// Checks `query` against the names allowed and reads limit / cursor ("after" a seq or an offset).
struct Paging {
  int64_t limit = kDefaultPage;
  int64_t cursor = 0;
};
StatusOr<Paging> ParsePaging(const std::multimap<std::string, std::string>& query,
                             const std::vector<std::string>& allowed) {
  Paging paging;
  for (const auto& parameter : query) {
    // Named references, not a structured binding: clang 14 (the fuzz build) cannot capture a
    // binding in the lambda below.
    const std::string& key = parameter.first;
    const std::string& value = parameter.second;
    if (query.count(key) > 1) return InvalidArgumentError(StrCat(key, ": given more than once"));
    auto integer = [&](int64_t lo, int64_t hi) { return ParseQueryInteger(key, value, lo, hi); };
    if (key == "limit") {
      ASSIGN_OR_RETURN(paging.limit, integer(1, kMaxPageSize));
    } else if (key == "cursor") {
      ASSIGN_OR_RETURN(paging.cursor, integer(0, std::numeric_limits<int64_t>::max()));
    } else if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return InvalidArgumentError(StrCat("unknown query parameter \"", key, "\" (expected ",
                                         StrJoin(allowed, ", "),
                                         allowed.empty() ? "" : ", ", "limit, cursor)"));
    }
  }
  return paging;
}

std::string QueryValue(const std::multimap<std::string, std::string>& query, const std::string& key) {
  auto it = query.find(key);
  return it == query.end() ? "" : it->second;
}

void ListLineages(const ServerContext& context, Request& request, Response& response) {
  auto query = ParseLineageQuery(request.query);
  if (!query.ok()) return response.Error(query.status());
  auto snapshot = Snapshot(context, response);
  if (!snapshot) return;
  response.Json(200, LineagePageJson(*snapshot, QueryLineages(*snapshot, *query), *query));
}

void GetLineage(const ServerContext& context, Request& request, Response& response) {
  std::optional<absl::Duration> window;
  int64_t event_limit = kRecentEvents;
  std::optional<EventCursor> cursor;
  for (const auto& [key, value] : request.query) {
    if (request.query.count(key) > 1) {
      return response.Error(InvalidArgumentError(StrCat(key, ": given more than once")));
    }
    if (key == "days") {
      auto days = ParseQueryInteger(key, value, 1, kMaxEventDays);
      if (!days.ok()) return response.Error(days.status());
      window = absl::Hours(24) * *days;
    } else if (key == "events") {
      auto limit = ParseQueryInteger(key, value, 1, kMaxEvents);
      if (!limit.ok()) return response.Error(limit.status());
      event_limit = *limit;
    } else if (key == "cursor") {
      auto parsed = ParseEventCursor(value);
      if (!parsed.ok()) return response.Error(parsed.status());
      cursor = *parsed;
    } else {
      return response.Error(400, "invalid_argument", StrCat("unknown query parameter \"", key,
                                                            "\" (expected days, events, cursor)"));
    }
  }
  auto snapshot = Snapshot(context, response);
  if (!snapshot) return;
  const std::string& cert = request.path_params["cert"];
  const LineageEntry* entry = snapshot->Find(cert);
  if (entry == nullptr) {
    return response.Error(404, "not_found", StrCat("no lineage \"", cert, "\" in the fleet view"));
  }
  Json j = Json::parse(LineageJson(*entry, /*detail=*/true));
  j["at"] = FormatRfc3339(snapshot->at);
  // The lineage's own events (its subject), newest first, a page at a time from the subject
  // index (schema 6); with `days`, only those since that many days before the view's instant.
  auto page = request.store->SubjectEvents(cert, event_limit, cursor);
  if (!page.ok()) return response.Error(page.status());
  Json events = Json::array();
  std::optional<EventCursor> next = page->next;
  for (const Event& e : page->events) {
    if (window && e.ts < snapshot->at - *window) {
      next.reset();  // newest first: the rest are older still
      break;
    }
    events.push_back(Json::parse(EventToJson(e)));
  }
  j["recent_events"] = std::move(events);
  j["events_next"] = next ? Json(FormatEventCursor(*next)) : Json(nullptr);
  j["events_since"] = window ? Json(FormatRfc3339(snapshot->at - *window)) : Json(nullptr);
  // Risk over time: the server's daily forecast record (fleet_snapshot.h, ForecastDay).
  j["alert_threshold"] =
      snapshot->has_model ? Json(context.fleet->alert_threshold()) : Json(nullptr);
  Json risk_history = Json::array();
  for (const RiskPoint& p : LineageRiskHistory(snapshot->forecast_history, cert)) {
    risk_history.push_back({{"day", FormatRfc3339(p.day)},
                            {"risk", p.risk ? Json(*p.risk) : Json(nullptr)},
                            {"below", p.below ? Json(*p.below) : Json(nullptr)}});
  }
  j["risk_history"] = std::move(risk_history);
  Json decisions = Json::array(), actions = Json::array();
  for (const AuditBrief& b : context.fleet->RecentAudit(cert)) {
    Json record = {{"seq", b.seq}, {"at", FormatRfc3339(b.at)}, {"record", RecordJson(b.record_json)}};
    (b.kind == "decision" ? decisions : actions).push_back(std::move(record));
  }
  j["decisions"] = std::move(decisions);
  j["actions"] = std::move(actions);
  response.Json(200, Dump(j));
}

// GET /v1/fleet: the KPIs of the lineages that pass the filters of GET /v1/lineages.
void FleetSummary(const ServerContext& context, Request& request, Response& response) {
  std::multimap<std::string, std::string> filters = request.query;
  int timeline_days = kDefaultTimelineDays;
  if (auto it = filters.find("timeline_days"); it != filters.end()) {
    if (filters.count("timeline_days") > 1) {
      return response.Error(InvalidArgumentError("timeline_days: given more than once"));
    }
    auto days = ParseQueryInteger("timeline_days", it->second, 1, kMaxTimelineDays);
    if (!days.ok()) return response.Error(days.status());
    timeline_days = static_cast<int>(*days);
    filters.erase(it);
  }
  for (const char* paging : {"sort", "limit", "offset", "cursor"}) {
    if (filters.contains(paging)) {
      return response.Error(InvalidArgumentError(
          StrCat("unknown query parameter \"", paging,
                 "\" (expected host, name, client, ca, challenge, cause, min_risk, timeline_days)")));
    }
  }
  auto query = ParseLineageQuery(filters);
  if (!query.ok()) return response.Error(query.status());
  auto snapshot = Snapshot(context, response);
  if (!snapshot) return;
  std::optional<double> threshold;
  if (snapshot->has_model) threshold = context.fleet->alert_threshold();
  // Open incidents are few (one per cause, not per lineage): counted from their rows.
  IncidentFilter open;
  open.open = true;
  open.limit = std::numeric_limits<int64_t>::max();
  auto incidents = request.store->ListIncidents(open);
  if (!incidents.ok()) return response.Error(incidents.status());
  response.Json(200, FleetSummaryJson(*snapshot, *query, threshold, context.fleet->horizon(),
                                      timeline_days, static_cast<int64_t>(incidents->size())));
}

// GET /v1/token: who the bearer is, so that a client (the dashboard) can say what it may do.
void WhoAmI(Request& request, Response& response) {
  const Principal& who = *request.principal;
  Json j;
  j["name"] = who.name;
  j["scopes"] = ScopeNames(who.scopes);
  j["host"] = who.host ? Json(*who.host) : Json(nullptr);
  response.Json(200, Dump(j));
}

void ListForecasts(const ServerContext& context, Request& request, Response& response) {
  auto paging = ParsePaging(request.query, {"min_risk"});
  if (!paging.ok()) return response.Error(paging.status());
  std::multimap<std::string, std::string> filter;
  if (request.query.contains("min_risk")) filter.emplace("min_risk", QueryValue(request.query, "min_risk"));
  auto query = ParseLineageQuery(filter);
  if (!query.ok()) return response.Error(query.status());
  auto snapshot = Snapshot(context, response);
  if (!snapshot) return;
  Json j;
  j["at"] = FormatRfc3339(snapshot->at);
  j["model"] = snapshot->model_version;
  j["horizon_seconds"] = absl::ToInt64Seconds(context.fleet->horizon());
  j["alert_threshold"] = snapshot->has_model ? Json(context.fleet->alert_threshold()) : Json(nullptr);
  Json list = Json::array();
  int64_t matched = 0;
  if (snapshot->has_model) {
    for (const LineageEntry& e : snapshot->lineages) {  // highest risk first
      if (!e.risk || (query->min_risk && *e.risk < *query->min_risk)) continue;
      if (matched++ < paging->cursor || static_cast<int64_t>(list.size()) >= paging->limit) continue;
      list.push_back({{"cert", e.cert},
                      {"risk", *e.risk},
                      {"in_episode", e.in_episode},
                      {"alert", *e.risk >= context.fleet->alert_threshold() && !e.in_episode},
                      {"reasons", e.risk_reasons}});
    }
  }
  j["total"] = matched;
  const int64_t next = paging->cursor + static_cast<int64_t>(list.size());
  j["next_cursor"] = next < matched ? Json(std::to_string(next)) : Json(nullptr);
  j["forecasts"] = std::move(list);
  response.Json(200, Dump(j));
}

void PostPlan(const ServerContext& context, Request& request, Response& response) {
  if (!request.query.empty()) {
    return response.Error(400, "invalid_argument",
                          StrCat("unknown query parameter \"", request.query.begin()->first,
                                 "\" (this route takes none)"));
  }
  auto plan = context.fleet->DryPlan(request.now);
  if (!plan.ok()) return response.Error(plan.status());
  Json j;
  j["at"] = FormatRfc3339(request.now);
  j["dry"] = true;  // nothing stored, nothing carried out
  j["model"] = plan->model_version;
  j["lineages"] = plan->result.lineages;
  Json actions = Json::array();
  for (const policy::PlannedItem& item : plan->result.items) {
    Json a = Json::parse(ActionToJson(item.action));
    a["reason_code"] = std::string(item.reason);
    actions.push_back(std::move(a));
  }
  j["actions"] = std::move(actions);
  Json held = Json::array();
  for (const policy::HeldItem& h : plan->result.held) {
    held.push_back({{"cert", h.cert},
                    {"action", std::string(ToString(h.held.proposal.kind))},
                    {"reason_code", std::string(h.held.proposal.reason)},
                    {"why", std::string(h.held.why)},
                    {"detail", h.held.detail}});
  }
  j["held"] = std::move(held);
  if (!plan->forecast_error.empty()) j["forecast_error"] = plan->forecast_error;
  response.Json(200, Dump(j));
}

// Audit records after the cursor (a seq), optionally only of some kinds and one lineage.
void ListAudit(Request& request, Response& response, const std::vector<std::string>& kinds,
               std::string_view list_name) {
  std::vector<std::string> allowed = {"cert"};
  if (kinds.empty()) allowed.push_back("kind");
  auto paging = ParsePaging(request.query, allowed);
  if (!paging.ok()) return response.Error(paging.status());
  const std::string cert = QueryValue(request.query, "cert");
  const std::string kind = QueryValue(request.query, "kind");
  Json list = Json::array();
  int64_t last_seq = 0;
  bool more = false;
  static const Status kPageFull = CancelledError("page full");
  const Status scanned =
      request.store->ScanAuditAfter(paging->cursor, [&](const AuditRecord& r) -> Status {
        if (!kinds.empty() && std::find(kinds.begin(), kinds.end(), r.kind) == kinds.end()) {
          return OkStatus();
        }
        if (!kind.empty() && r.kind != kind) return OkStatus();
        Json record = RecordJson(r.record_json);
        if (!cert.empty() && !(record.is_object() && record.value("cert", "") == cert)) {
          return OkStatus();
        }
        if (static_cast<int64_t>(list.size()) == paging->limit) {
          more = true;
          return kPageFull;
        }
        Json item = {{"seq", r.seq}, {"at", FormatRfc3339(r.at)}, {"kind", r.kind}};
        if (kinds.empty()) {
          item["prev_hash"] = r.prev_hash;
          item["hash"] = r.hash;
        }
        item["record"] = std::move(record);
        list.push_back(std::move(item));
        last_seq = r.seq;
        return OkStatus();
      });
  if (!scanned.ok() && !more) return response.Error(scanned);
  Json j;
  j[std::string(list_name)] = std::move(list);
  j["next_cursor"] = more ? Json(std::to_string(last_seq)) : Json(nullptr);
  response.Json(200, Dump(j));
}

void VerifyAuditRoute(Request& request, Response& response) {
  auto verification = VerifyAudit(*request.store);
  if (!verification.ok()) return response.Error(verification.status());
  Json j;
  j["records"] = verification->records;
  j["ok"] = verification->ok;
  j["first_bad_seq"] = verification->ok ? Json(nullptr) : Json(verification->first_bad_seq);
  j["problem"] = verification->ok ? Json(nullptr) : Json(verification->problem);
  response.Json(200, Dump(j));
}

void ListModels(const ServerContext& context, Request& request, Response& response) {
  if (!request.query.empty()) {
    return response.Error(400, "invalid_argument",
                          StrCat("unknown query parameter \"", request.query.begin()->first,
                                 "\" (this route takes none)"));
  }
  auto models = request.store->ListModels();
  if (!models.ok()) return response.Error(models.status());
  Json list = Json::array();
  for (const StoredModel& m : *models) {
    list.push_back({{"id", m.id},
                    {"name", m.name},
                    {"created", FormatRfc3339(m.created)},
                    {"metadata", RecordJson(m.metadata_json)}});
  }
  Json j;
  j["models"] = std::move(list);
  auto snapshot = context.fleet->snapshot();
  j["in_use"] = snapshot ? Json(snapshot->model_version) : Json(nullptr);
  response.Json(200, Dump(j));
}

}  // namespace

Status RegisterFleetRoutes(Router& router, ServerContext& context) {
  const ScopeSet read = Bit(Scope::kRead);
  struct Spec {
    const char* method;
    const char* path;
    ScopeSet scopes;
    Handler handler;
  };
  ScopeSet any = 0;
  for (int i = 0; i < kScopeCount; ++i) any |= ScopeSet{1} << i;
  const std::vector<Spec> routes = {
      {"GET", "/v1/fleet", read,
       [&context](Request& q, Response& r) { FleetSummary(context, q, r); }},
      {"GET", "/v1/token", any, [](Request& q, Response& r) { WhoAmI(q, r); }},
      {"GET", "/v1/lineages", read,
       [&context](Request& q, Response& r) { ListLineages(context, q, r); }},
      {"GET", "/v1/lineages/{cert}", read,
       [&context](Request& q, Response& r) { GetLineage(context, q, r); }},
      {"GET", "/v1/forecasts", read,
       [&context](Request& q, Response& r) { ListForecasts(context, q, r); }},
      {"POST", "/v1/plan", Bit(Scope::kPlan),
       [&context](Request& q, Response& r) { PostPlan(context, q, r); }},
      {"GET", "/v1/decisions", read,
       [](Request& q, Response& r) { ListAudit(q, r, {"decision"}, "decisions"); }},
      {"GET", "/v1/actions", read,
       [](Request& q, Response& r) { ListAudit(q, r, {"action"}, "actions"); }},
      {"GET", "/v1/audit", read, [](Request& q, Response& r) { ListAudit(q, r, {}, "records"); }},
      {"GET", "/v1/audit/verify", read, [](Request& q, Response& r) { VerifyAuditRoute(q, r); }},
      {"GET", "/v1/models", read,
       [&context](Request& q, Response& r) { ListModels(context, q, r); }},
  };
  for (const Spec& spec : routes) {
    RETURN_IF_ERROR(router.Add(
        {.method = spec.method, .path = spec.path, .scopes = spec.scopes, .handler = spec.handler}));
  }
  // Prometheus scrapes without a token unless the operator asked for one (metrics_token).
  return router.Add({.method = "GET",
                     .path = "/metrics",
                     .scopes = context.options.metrics_token ? read : ScopeSet{0},
                     .handler = [&context](Request&, Response& response) {
                       const auto snapshot = context.fleet->snapshot();
                       response.status = 200;
                       response.content_type = "text/plain; version=0.0.4; charset=utf-8";
                       response.body = RenderMetrics(snapshot.get(), *context.metrics);
                     }});
}

}  // namespace certcast::api
