// GET /v1/agent/probes (docs/api.md "Probes without a hand-written list"): the probes the agent of
// the token's host should run from inside, derived from the latest fleet view (probe_targets.h).
// The host is always the token's, never a parameter.
#include "api/probe_targets.h"
#include "api/server.h"
#include "core/strings.h"

namespace certcast::api {

Status RegisterProbeRoutes(Router& router, ServerContext& context) {
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
