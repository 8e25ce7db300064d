// The routes of the server's core: health, the OpenAPI document and event ingest. Other parts of
// the API add their own Register*Routes and list it in RegisterRoutes.
#include <limits>

#include "api/server.h"
#include "core/strings.h"
#include "nlohmann/json.hpp"
#include "store/ingest.h"

namespace certcast::api {
namespace {

// A body with more rejected lines than this lists only the first ones (rejected_total counts all),
// so a body of garbage does not come back as an answer larger than itself.
constexpr size_t kMaxRejectedListed = 1000;

void Healthz(const ServerContext& context, Response& response) {
  // A fresh connection every time, not the worker's: a store file that was removed or broken
  // since the workers opened theirs must show here.
  StoreOptions options;
  options.create_if_missing = false;
  options.cache_bytes = 1 << 20;
  auto store = Store::Open(context.options.db, options);
  if (!store.ok()) {
    response.Error(503, "unavailable", store.status().message());
    return;
  }
  auto state = (*store)->GetState("certcast.healthz");
  if (!state.ok()) {
    response.Error(503, "unavailable", state.status().message());
    return;
  }
  nlohmann::json j;
  j["status"] = "ok";
  j["schema"] = (*store)->SchemaVersion();
  response.Json(200, j.dump());
}

void PostEvents(const ServerContext& context, Request& request, Response& response) {
  const Principal& who = *request.principal;
  IngestOptions options;
  nlohmann::json rejected = nlohmann::json::array();
  int64_t rejected_total = 0;
  options.on_reject = [&](std::string_view, int64_t line, std::string_view reason) {
    ++rejected_total;
    if (rejected.size() < kMaxRejectedListed) {
      rejected.push_back({{"line", line}, {"error", reason}});
    }
  };
  options.clock = context.clock;
  std::string refused_host;
  if (who.host) {
    // Nothing of a body with another host's event may be stored: one batch for the whole body,
    // checked before it is written.
    options.batch_events = std::numeric_limits<size_t>::max();
    options.admit = [&](const Event& event) -> Status {
      std::optional<std::string_view> host = EventHost(event);
      if (host && *host != *who.host) {
        refused_host = *host;
        return FailedPreconditionError("other host");
      }
      return OkStatus();
    };
  }
  // Through the pool's one writer (StorePool::AcquireWriter) until the audit record is stored:
  // the rest of this request uses it.
  auto writer = context.stores->AcquireWriter();
  if (!writer.ok()) {
    response.Error(503, "unavailable", StrCat("store: ", writer.status().message()));
    return;
  }
  request.store = &**writer;
  auto stats = IngestText(*request.store, request.body, "body", options);
  context.metrics->ingest_requests.Add();
  if (!stats.ok()) {
    if (!refused_host.empty()) {
      response.Error(403, "forbidden",
                     StrCat("token \"", who.name, "\" may only send events of host \"", *who.host,
                            "\"; the body has an event of host \"", refused_host,
                            "\"; nothing of it was stored"));
      return;
    }
    response.Error(stats.status());
    return;
  }
  if (Status recorded = RecordIngest(context, request, "POST /v1/events", *stats); !recorded.ok()) {
    response.Error(recorded.WithPrefix("events stored, audit record failed"));
    return;
  }
  nlohmann::json j;
  j["accepted"] = stats->accepted;
  j["stored"] = stats->inserted;
  j["duplicates"] = stats->duplicates;
  j["rejected"] = std::move(rejected);
  j["rejected_total"] = rejected_total;
  response.Json(stats->rejected > 0 ? 422 : 200, j.dump());
}

}  // namespace

Status RecordIngest(const ServerContext& context, Request& request, std::string_view route, const IngestStats& stats) {
  if (stats.inserted > 0) {
    // Who wrote what into the store: the token's name, never its secret.
    nlohmann::json audit;
    audit["token"] = request.principal->name;
    audit["route"] = std::string(route);
    audit["stored"] = stats.inserted;
    audit["duplicates"] = stats.duplicates;
    audit["rejected"] = stats.rejected;
    RETURN_IF_ERROR(request.store->AppendAudit(request.now, "ingest", audit.dump()).status());
  }
  context.metrics->events_stored.Add(stats.inserted);
  context.metrics->events_duplicate.Add(stats.duplicates);
  context.metrics->events_rejected.Add(stats.rejected);
  // The fleet view shows the new events after the debounce (fleet_service.h).
  if (stats.inserted > 0) context.fleet->NotifyIngest();
  return OkStatus();
}

Status RegisterCoreRoutes(Router& router, ServerContext& context) {
  RETURN_IF_ERROR(router.Add({.method = "GET",
                              .path = "/healthz",
                              .scopes = 0,
                              .handler = [&context](Request&, Response& response) {
                                Healthz(context, response);
                              }}));
  RETURN_IF_ERROR(router.Add({.method = "GET",
                              .path = "/v1/openapi.json",
                              .scopes = Bit(Scope::kRead),
                              .handler = [](Request&, Response& response) {
                                response.Json(200, std::string(OpenApiDocument()));
                              }}));
  RETURN_IF_ERROR(router.Add({.method = "POST",
                              .path = "/v1/events",
                              .scopes = Bit(Scope::kIngest) | Bit(Scope::kAgent),
                              .handler = [&context](Request& request, Response& response) {
                                PostEvents(context, request, response);
                              }}));
  return OkStatus();
}

Status RegisterRoutes(Router& router, ServerContext& context) {
  RETURN_IF_ERROR(RegisterCoreRoutes(router, context));
  RETURN_IF_ERROR(RegisterFleetRoutes(router, context));
  RETURN_IF_ERROR(RegisterActionRoutes(router, context));
  RETURN_IF_ERROR(RegisterAlertRoutes(router, context));
  RETURN_IF_ERROR(RegisterProbeRoutes(router, context));
  RETURN_IF_ERROR(RegisterDashboardRoutes(router, context));
  return OkStatus();
}

}  // namespace certcast::api
