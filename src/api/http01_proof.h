// Proof that the outside HTTP-01 answer for a name comes from the host that holds the lineage
// (issue #17; docs/decisions.md 2026-12-05; docs/api.md "Proof of HTTP-01 origin"). One exchange:
// the agent places a random token file in the lineage's webroot (agent/webroot_token.h), then
// POST /v1/agent/http01-proof {"name", "token", "body"}; the server fetches
// http://NAME/.well-known/acme-challenge/TOKEN the way the CA would (probe::ProbeHttp01 at
// probe_http01_port, NAME resolved by probe_resolver, vantage "server") and stores the result as an
// `http01_probe` event:
//   - the body came back: ok, origin proven;
//   - some web server answered with anything else (another body, 404, another status): error
//     `wrong_content`, with the HTTP status: NAME leads to a web server that does not serve this
//     host's webroot (another host answers, or this one serves another directory). The CA would
//     fail the same way, so the policy counts it as a failing HTTP-01 from the CA's view, cause
//     named;
//   - no answer: `refused` / `timeout` (unreachable), as any server probe; `redirect` as well.
// The server asks only for names of lineages the token's host holds whose challenge is http-01:
// an agent cannot make the server fetch anything else.
//
// Pure: the body's reader (outside data: fuzz/fuzz_http01_proof.cc), the ownership check and the
// proof's reading of a probe result. The route is in probe_routes.cc.
#pragma once

#include <string>
#include <string_view>

#include "api/fleet_snapshot.h"
#include "core/event.h"
#include "core/status.h"

namespace certcast::api {

struct Http01ProofRequest {
  std::string name;   // a DNS name, lower case (no wildcard: http-01 has none)
  std::string token;  // 16 to 128 base64url characters
  std::string body;   // 1 to 512 printable ASCII characters
  bool operator==(const Http01ProofRequest&) const = default;
};

// Reads {"name": ..., "token": ..., "body": ...} (other keys are errors: a typo must not pass).
// InvalidArgument naming the field: "token: 16 to 128 base64url characters".
StatusOr<Http01ProofRequest> ParseHttp01ProofRequest(std::string_view json);
std::string Http01ProofRequestJson(const Http01ProofRequest& request);

// True when `name` is a name of a lineage held by `host` (its config event named that host)
// whose challenge is http-01.
bool IsHostHttp01Name(const FleetSnapshot& snapshot, std::string_view host, std::string_view name);

// The proof's reading of a probe made with `expect`: a final HTTP answer that is not the body
// (probe::ProbeHttp01 says `http_status` for a non-200) is `wrong_content`; the rest is unchanged.
void ReadAsProof(Http01ProbeEvent& probe);

}  // namespace certcast::api
