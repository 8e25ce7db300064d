// The alerting routes (docs/alerts.md): incidents (read) and silences (read; admin writes).
// Incidents are written by the planner's alert step (src/alert); the API only reads them.
// Silence writes record the token's name as who set or ended the silence, and an audit record.
#include <random>

#include "alert/alert.h"
#include "alert/silence_request.h"
#include "api/fleet_snapshot.h"
#include "api/server.h"
#include "api/silences.h"
#include "core/json_text.h"
#include "core/strings.h"
#include "core/time.h"
#include "nlohmann/json.hpp"

namespace certcast::api {
namespace {

using Json = nlohmann::ordered_json;

constexpr int64_t kDefaultIncidents = 100;

// Only the named parameters, each at most once.
Status CheckQuery(const std::multimap<std::string, std::string>& query,
                  const std::vector<std::string>& allowed) {
  for (const auto& parameter : query) {
    const std::string& key = parameter.first;
    if (query.count(key) > 1) return InvalidArgumentError(StrCat(key, ": given more than once"));
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return InvalidArgumentError(StrCat("unknown query parameter \"", key, "\" (expected ",
                                         allowed.empty() ? "none" : StrJoin(allowed, ", "), ")"));
    }
  }
  return OkStatus();
}

std::string QueryValue(const std::multimap<std::string, std::string>& query,
                       const std::string& key, std::string fallback) {
  auto it = query.find(key);
  return it == query.end() ? fallback : it->second;
}

// An incident's JSON; a stored document that does not parse is served from its columns with
// the reason, so one broken row does not hide the others.
Json IncidentOrColumns(const IncidentRecord& record) {
  auto incident = alert::FromRecord(record);
  if (incident.ok()) return Json::parse(alert::IncidentJson(*incident));
  Json j;
  j["id"] = record.id;
  j["cause_key"] = record.cause_key;
  j["state"] = record.open ? "open" : "resolved";
  j["severity"] = record.severity;
  j["opened"] = FormatRfc3339(record.opened);
  j["updated"] = FormatRfc3339(record.updated);
  j["unreadable"] = incident.status().message();
  return j;
}

void ListIncidents(Request& request, Response& response) {
  Status checked = CheckQuery(request.query, {"state", "limit"});
  if (!checked.ok()) return response.Error(checked);
  IncidentFilter filter;
  const std::string state = QueryValue(request.query, "state", "all");
  if (state == "open") {
    filter.open = true;
  } else if (state == "resolved") {
    filter.open = false;
  } else if (state != "all") {
    return response.Error(400, "invalid_argument",
                          StrCat("state: \"", state, "\" is not open, resolved or all"));
  }
  filter.limit = kDefaultIncidents;
  if (request.query.contains("limit")) {
    auto limit = ParseQueryInteger("limit", request.query.find("limit")->second, 1, kMaxPageSize);
    if (!limit.ok()) return response.Error(limit.status());
    filter.limit = *limit;
  }
  auto records = request.store->ListIncidents(filter);
  if (!records.ok()) return response.Error(records.status());
  Json j;
  j["at"] = FormatRfc3339(request.now);
  Json list = Json::array();
  for (const IncidentRecord& r : *records) list.push_back(IncidentOrColumns(r));
  j["incidents"] = std::move(list);
  response.Json(200, Dump(j));
}

void GetIncident(Request& request, Response& response) {
  Status checked = CheckQuery(request.query, {});
  if (!checked.ok()) return response.Error(checked);
  const std::string& id = request.path_params["id"];
  auto record = request.store->GetIncident(id);
  if (!record.ok()) return response.Error(record.status());
  if (!record->has_value()) {
    return response.Error(404, "not_found", StrCat("no incident \"", id, "\""));
  }
  response.Json(200, Dump(IncidentOrColumns(**record)));
}

void ListSilences(Request& request, Response& response) {
  Status checked = CheckQuery(request.query, {"state"});
  if (!checked.ok()) return response.Error(checked);
  const std::string state = QueryValue(request.query, "state", "in_force");
  if (state != "in_force" && state != "all") {
    return response.Error(400, "invalid_argument",
                          StrCat("state: \"", state, "\" is not in_force or all"));
  }
  auto silences = request.store->ListSilences();
  if (!silences.ok()) return response.Error(silences.status());
  Json list = Json::array();
  for (const SilenceRecord& s : *silences) {
    if (state == "in_force" && !s.InForce(request.now)) continue;
    list.push_back(Json::parse(alert::SilenceJson(s, request.now)));
  }
  Json j;
  j["at"] = FormatRfc3339(request.now);
  j["silences"] = std::move(list);
  response.Json(200, Dump(j));
}

void PostSilence(Request& request, Response& response) {
  auto parsed = alert::ParseSilenceRequest(request.body, request.now, request.principal->name);
  if (!parsed.ok()) return response.Error(parsed.status());
  // An id nobody can guess or collide with; not a secret.
  std::random_device random;
  auto silence = AddSilence(*request.store, *std::move(parsed), (uint64_t{random()} << 32) ^ random(),
                            {.field = "token", .name = request.principal->name,
                             .via = "POST /v1/silences"},
                            request.now);
  if (!silence.ok()) return response.Error(silence.status());
  response.headers.emplace_back("Location", StrCat("/v1/silences/", silence->id));
  response.Json(201, alert::SilenceJson(*silence, request.now));
}

void DeleteSilence(Request& request, Response& response) {
  Status checked = CheckQuery(request.query, {});
  if (!checked.ok()) return response.Error(checked);
  auto ended = EndSilence(*request.store, request.path_params["id"],
                          {.field = "token", .name = request.principal->name,
                           .via = "DELETE /v1/silences/{id}"},
                          request.now);
  if (!ended.ok()) return response.Error(ended.status());
  response.Json(200, alert::SilenceJson(*ended, request.now));
}

}  // namespace

Status RegisterAlertRoutes(Router& router, ServerContext&) {
  const ScopeSet read = Bit(Scope::kRead) | Bit(Scope::kAdmin);
  RETURN_IF_ERROR(router.Add({.method = "GET", .path = "/v1/incidents", .scopes = read,
                              .handler = [](Request& q, Response& r) { ListIncidents(q, r); }}));
  RETURN_IF_ERROR(router.Add({.method = "GET", .path = "/v1/incidents/{id}", .scopes = read,
                              .handler = [](Request& q, Response& r) { GetIncident(q, r); }}));
  RETURN_IF_ERROR(router.Add({.method = "GET", .path = "/v1/silences", .scopes = read,
                              .handler = [](Request& q, Response& r) { ListSilences(q, r); }}));
  RETURN_IF_ERROR(router.Add({.method = "POST", .path = "/v1/silences",
                              .scopes = Bit(Scope::kAdmin),
                              .handler = [](Request& q, Response& r) { PostSilence(q, r); }}));
  RETURN_IF_ERROR(router.Add({.method = "DELETE", .path = "/v1/silences/{id}",
                              .scopes = Bit(Scope::kAdmin),
                              .handler = [](Request& q, Response& r) { DeleteSilence(q, r); }}));
  return OkStatus();
}

}  // namespace certcast::api
