// GET /v1/agent/probes (docs/api.md "Probes without a hand-written list"): the probes the agent of
// the token's host should run from inside, derived from the latest fleet view (probe_targets.h).
// The host is always the token's, never a parameter. POST /v1/agent/http01-proof (http01_proof.h):
// the server fetches the token an agent placed in its webroot, from outside, and stores the result.
#include "api/http01_proof.h"
#include "api/probe_targets.h"
#include "api/server.h"
#include "collect/probe/http01_probe.h"
#include "core/event_json.h"
#include "core/strings.h"
#include "nlohmann/json.hpp"
#include "store/ingest.h"

namespace certcast::api {
namespace {

void Http01Proof(ServerContext& context, Request& request, Response& response) {
  const Principal& who = *request.principal;
  if (!who.host) {
    response.Error(403, "forbidden", StrCat("token \"", who.name, "\" is bound to no host"));
    return;
  }
  auto proof = ParseHttp01ProofRequest(request.body);
  if (!proof.ok()) {
    response.Error(proof.status());
    return;
  }
  std::shared_ptr<const FleetSnapshot> snapshot = context.fleet->snapshot();
  if (!snapshot) {
    response.Error(503, "unavailable", "the fleet view is not built yet");
    return;
  }
  // Only this host's own http-01 names: the route must not become a way to make the server fetch
  // whatever an agent names.
  if (!IsHostHttp01Name(*snapshot, *who.host, proof->name)) {
    response.Error(403, "forbidden", StrCat("token \"", who.name, "\" may only ask for the http-01 names of host \"",
                                            *who.host, "\"'s lineages; \"", proof->name, "\" is none of them"));
    return;
  }
  const ServerOptions& o = context.options;
  probe::Http01ProbeOptions options{.port = o.probe_http01_port, .token = proof->token, .expect = proof->body,
                                    .address = "", .resolver = o.probe_resolver, .vantage = "server",
                                    .timeout = o.probe_timeout};
  auto probed = probe::ProbeHttp01(proof->name, options, *context.clock);
  if (!probed.ok()) {
    response.Error(probed.status());
    return;
  }
  ReadAsProof(std::get<Http01ProbeEvent>(probed->body));
  const std::string line = EventToJson(*probed);
  IngestOptions ingest;
  ingest.clock = context.clock;
  // Stored as POST /v1/events stores: through the pool's one writer (StorePool::AcquireWriter),
  // so writers queue on its mutex instead of SQLite's busy handler. Taken only now, after the
  // fetch: a slow webroot must not hold every other ingest behind it.
  auto writer = context.stores->AcquireWriter();
  if (!writer.ok()) {
    response.Error(503, "unavailable", StrCat("store: ", writer.status().message()));
    return;
  }
  request.store = &**writer;
  auto stats = IngestText(*request.store, line + "\n", "http01 proof", ingest);
  if (!stats.ok()) {
    response.Error(stats.status().WithPrefix("http01 proof made, not stored"));
    return;
  }
  // The event is the server's (vantage "server"); the audit names the agent that asked for it.
  if (Status recorded = RecordIngest(context, request, "POST /v1/agent/http01-proof", *stats); !recorded.ok()) {
    response.Error(recorded.WithPrefix("http01 proof stored, audit record failed"));
    return;
  }
  const auto& event = std::get<Http01ProbeEvent>(probed->body);
  nlohmann::ordered_json j;
  j["proven"] = event.outcome == ProbeOutcome::kOk;
  j["event"] = nlohmann::json::parse(line);
  response.Json(200, j.dump());
}

}  // namespace

Status RegisterProbeRoutes(Router& router, ServerContext& context) {
  RETURN_IF_ERROR(router.Add({.method = "POST",
                              .path = "/v1/agent/http01-proof",
                              .scopes = Bit(Scope::kAgent),
                              .handler = [&context](Request& request, Response& response) {
                                Http01Proof(context, request, response);
                              }}));
  return router.Add({.method = "GET",
                     .path = "/v1/agent/probes",
                     .scopes = Bit(Scope::kAgent),
                     .handler = [&context](Request& request, Response& response) {
                       if (!request.principal->host) {
                         response.Error(403, "forbidden",
                                        StrCat("token \"", request.principal->name, "\" is bound to no host"));
                         return;
                       }
                       std::shared_ptr<const FleetSnapshot> snapshot = context.fleet->snapshot();
                       if (!snapshot) {
                         response.Error(503, "unavailable", "the fleet view is not built yet");
                         return;
                       }
                       const ServerOptions& o = context.options;
                       ProbeTargetOptions options{.local_ports = o.probe_local_ports,
                                                  .public_ports = o.probe_public_ports,
                                                  .http01_port = o.probe_http01_port,
                                                  .max_targets = static_cast<size_t>(o.probe_max_targets)};
                       const std::string& host = *request.principal->host;
                       response.Json(200, ProbeTargetsJson(host, snapshot->at,
                                                           AgentProbeTargets(*snapshot, host, options)));
                     }});
}

}  // namespace certcast::api
