// The action queue's routes (docs/api.md "Actions carried out by agents"): an agent leases its
// host's actions and reports each outcome; an operator with the `act` scope lists the queue and
// approves or cancels a queued action. The host is always the token's, never a parameter. Every
// change is audited by the store in the same transaction, naming the token (store.h).
#include <algorithm>

#include "api/fleet_snapshot.h"
#include "api/server.h"
#include "core/json_text.h"
#include "core/strings.h"
#include "core/time.h"
#include "core/utf8.h"
#include "nlohmann/json.hpp"

namespace certcast::api {
namespace {

using Json = nlohmann::ordered_json;

constexpr int64_t kMaxLeased = 100;
constexpr size_t kMaxDetailBytes = 4096;

Json ParsedOrText(const std::string& text) {
  if (text.empty()) return nullptr;
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? Json(text) : j;
}

Json ActionJson(const QueuedAction& a) {
  Json j;
  j["id"] = a.id;
  j["host"] = a.host;
  j["cert"] = a.cert;
  j["action"] = a.kind;
  j["state"] = std::string(ToString(a.state));
  j["decision_seq"] = a.decision_seq;
  j["needs_approval"] = a.needs_approval;
  j["approved_by"] = a.approved_by.empty() ? Json(nullptr) : Json(a.approved_by);
  j["created"] = FormatRfc3339(a.created);
  j["expires"] = FormatRfc3339(a.expires);
  j["attempts"] = a.attempts;
  if (a.lease_id.empty()) {
    j["lease"] = nullptr;
  } else {
    j["lease"] = {{"id", a.lease_id},
                  {"holder", a.lease_holder},
                  {"expires", a.lease_expires ? Json(FormatRfc3339(*a.lease_expires)) : Json(nullptr)}};
  }
  j["outcome"] = ParsedOrText(a.outcome_json);
  j["finished"] = a.finished ? Json(FormatRfc3339(*a.finished)) : Json(nullptr);
  j["parameters"] = ParsedOrText(a.parameters_json);
  return j;
}

// The host of an agent's token; answers 403 when the token names none (an `agent` token always
// does, token.h; this guards a token given the scope some other way).
const std::string* AgentHost(const Request& request, Response& response) {
  if (!request.principal->host) {
    response.Error(403, "forbidden", StrCat("token \"", request.principal->name, "\" is bound to no host"));
    return nullptr;
  }
  return &*request.principal->host;
}

StatusOr<Json> JsonBody(const Request& request, bool may_be_empty) {
  if (request.body.empty() && may_be_empty) return Json::object();
  Json j = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgumentError("body: expected a JSON object");
  return j;
}

StatusOr<int64_t> ActionId(Request& request) {
  return ParseQueryInteger("id", request.path_params["id"], 1, std::numeric_limits<int64_t>::max());
}

void Lease(const ServerContext& context, Request& request, Response& response) {
  const std::string* host = AgentHost(request, response);
  if (host == nullptr) return;
  auto body = JsonBody(request, /*may_be_empty=*/true);
  if (!body.ok()) return response.Error(body.status());
  int64_t max = 10;
  absl::Duration lease = context.options.action_lease;
  for (const auto& item : body->items()) {
    const Json& v = item.value();
    if (item.key() == "max") {
      if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > kMaxLeased) {
        return response.Error(400, "invalid_argument", StrCat("max: expected an integer in [1, ", kMaxLeased, "]"));
      }
      max = v.get<int64_t>();
    } else {
      return response.Error(400, "invalid_argument",
                            StrCat("body: unknown field \"", item.key(), "\" (expected max)"));
    }
  }
  auto leased = request.store->LeaseActions(*host, static_cast<int>(max), lease,
                                            {request.principal->name, request.now});
  if (!leased.ok()) return response.Error(leased.status());
  Json list = Json::array();
  for (const QueuedAction& a : *leased) list.push_back(ActionJson(a));
  Json j;
  j["host"] = *host;
  j["actions"] = std::move(list);
  response.Json(200, Dump(j));
}

void Report(Request& request, Response& response) {
  const std::string* host = AgentHost(request, response);
  if (host == nullptr) return;
  auto id = ActionId(request);
  if (!id.ok()) return response.Error(id.status());
  auto body = JsonBody(request, /*may_be_empty=*/false);
  if (!body.ok()) return response.Error(body.status());
  std::string lease_id, result, detail;
  for (const auto& item : body->items()) {
    const std::string& key = item.key();
    if (key != "lease_id" && key != "result" && key != "detail") {
      return response.Error(400, "invalid_argument",
                            StrCat("body: unknown field \"", key, "\" (expected lease_id, result, detail)"));
    }
    if (!item.value().is_string()) return response.Error(400, "invalid_argument", StrCat(key, ": expected a string"));
    (key == "lease_id" ? lease_id : key == "result" ? result : detail) = item.value().get<std::string>();
  }
  if (lease_id.empty()) return response.Error(400, "invalid_argument", "lease_id: missing");
  static constexpr std::string_view kResults[] = {"success", "failure", "refused", "skipped", "unknown"};
  if (std::find(std::begin(kResults), std::end(kResults), result) == std::end(kResults)) {
    return response.Error(400, "invalid_argument",
                          StrCat("result: \"", result, "\" is not success, failure, refused, skipped or unknown"));
  }
  // Stored in one canonical form, so the same report sent twice compares equal byte for byte.
  Json outcome;
  outcome["result"] = result;
  outcome["detail"] = ToValidUtf8(detail, kMaxDetailBytes);
  ActionOutcome reported{.success = result == "success", .outcome_json = Dump(outcome)};
  auto stored = request.store->ReportActionOutcome(*id, *host, lease_id, reported,
                                                   {request.principal->name, request.now});
  if (!stored.ok()) return response.Error(stored.status());
  Json j = ActionJson(stored->action);
  j["repeated"] = stored->repeated;
  response.Json(200, Dump(j));
}

void ListQueue(Request& request, Response& response) {
  ActionFilter filter;
  for (const auto& parameter : request.query) {
    const std::string& key = parameter.first;
    const std::string& value = parameter.second;
    if (request.query.count(key) > 1) return response.Error(400, "invalid_argument", StrCat(key, ": given more than once"));
    if (key == "state") {
      filter.state = ActionStateFromString(value);
      if (!filter.state) {
        return response.Error(400, "invalid_argument",
                              StrCat("state: \"", value, "\" is not queued, leased, done, failed, cancelled or expired"));
      }
    } else if (key == "host") {
      filter.host = value;
    } else if (key == "limit") {
      auto limit = ParseQueryInteger(key, value, 1, kMaxPageSize);
      if (!limit.ok()) return response.Error(limit.status());
      filter.limit = *limit;
    } else if (key == "cursor") {
      auto cursor = ParseQueryInteger(key, value, 0, std::numeric_limits<int64_t>::max());
      if (!cursor.ok()) return response.Error(cursor.status());
      filter.after_id = *cursor;
    } else {
      return response.Error(400, "invalid_argument",
                            StrCat("unknown query parameter \"", key, "\" (expected state, host, limit, cursor)"));
    }
  }
  const int64_t limit = filter.limit;
  filter.limit = limit + 1;  // one more tells whether there is a next page
  auto actions = request.store->ListActions(filter);
  if (!actions.ok()) return response.Error(actions.status());
  const bool more = static_cast<int64_t>(actions->size()) > limit;
  if (more) actions->pop_back();
  Json list = Json::array();
  for (const QueuedAction& a : *actions) list.push_back(ActionJson(a));
  Json j;
  j["actions"] = std::move(list);
  j["next_cursor"] = more ? Json(std::to_string(actions->back().id)) : Json(nullptr);
  response.Json(200, Dump(j));
}

void Decide(Request& request, Response& response, bool approve) {
  auto id = ActionId(request);
  if (!id.ok()) return response.Error(id.status());
  if (!request.body.empty()) {
    return response.Error(400, "invalid_argument", "body: this route takes none");
  }
  const ActionActor actor{request.principal->name, request.now};
  auto changed = approve ? request.store->ApproveAction(*id, actor) : request.store->CancelAction(*id, actor);
  if (!changed.ok()) return response.Error(changed.status());
  Json j = ActionJson(changed->action);
  j["repeated"] = changed->repeated;
  response.Json(200, Dump(j));
}

}  // namespace

Status RegisterActionRoutes(Router& router, ServerContext& context) {
  const ScopeSet agent = Bit(Scope::kAgent), act = Bit(Scope::kAct);
  RETURN_IF_ERROR(router.Add({.method = "POST", .path = "/v1/agent/actions/lease", .scopes = agent,
                              .handler = [&context](Request& q, Response& r) { Lease(context, q, r); }}));
  RETURN_IF_ERROR(router.Add({.method = "POST", .path = "/v1/agent/actions/{id}/outcome", .scopes = agent,
                              .handler = [](Request& q, Response& r) { Report(q, r); }}));
  RETURN_IF_ERROR(router.Add({.method = "GET", .path = "/v1/queue", .scopes = act | Bit(Scope::kRead),
                              .handler = [](Request& q, Response& r) { ListQueue(q, r); }}));
  RETURN_IF_ERROR(router.Add({.method = "POST", .path = "/v1/queue/{id}/approve", .scopes = act,
                              .handler = [](Request& q, Response& r) { Decide(q, r, true); }}));
  return router.Add({.method = "POST", .path = "/v1/queue/{id}/cancel", .scopes = act,
                     .handler = [](Request& q, Response& r) { Decide(q, r, false); }});
}

}  // namespace certcast::api
