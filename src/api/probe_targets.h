// Probe targets derived from the lineages the server knows (issue #17, docs/api.md "Probes without
// a hand-written list"): nobody lists endpoints in a TOML file; the fleet view already knows each
// lineage's names, hosts, CA and the endpoints seen serving it.
//
// Two vantage points, two lists:
//  - an agent probes its own host from inside (GET /v1/agent/probes): for each lineage with a
//    config event naming that host, its names as SNI on 127.0.0.1 at each of `local_ports`, the
//    endpoints seen serving the lineage at an internal address (IsInternalAddress: loopback,
//    private, link-local), and the lineage's CA directory (the host's own path to its CA, and
//    its clock through the CA's Date header);
//  - the server probes from outside (`[serve] probe = true`, ProbeService): each name at each of
//    `public_ports`, the endpoints seen serving at a non-loopback address (a loopback endpoint
//    is some agent's own machine, not the server's), and each CA directory.
// The challenge path, for lineages whose challenge is HTTP-01 or DNS-01 (docs/api.md):
//  - http-01: GET http://NAME/.well-known/acme-challenge/<random token> at `http01_port` (80) the
//    way the CA's validator asks (probe::ProbeHttp01), an `http01_probe` event. The server asks
//    NAME wherever it resolves (what the CA sees, vantage "server"); the agent asks its own web
//    server (127.0.0.1, Host NAME; vantage: the agent's host): does this host answer for NAME;
//  - dns-01: the `_acme-challenge.NAME` delegation, CNAME and NS questions (probe::ProbeDns), `dns`
//    events; from the server and from the agent (the host's resolver is the DNS-01 hook's view).
// Name-at-port TLS targets are `guessed` unless the same endpoint was also seen serving. Lists are
// sorted and deduplicated, so the same fleet gives the same list, and cut at
// `max_targets` (the cut is reported in `truncated`).
//
// Derivation and the wire form (ProbeTargetsJson / ParseProbeTargetsJson) are pure; PlanProbes
// turns targets into probe::ScanPlan work (the probes themselves do I/O when run).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "api/fleet_snapshot.h"
#include "collect/probe/scan.h"
#include "core/clock.h"
#include "core/status.h"

namespace certcast::api {

struct ProbeTarget {
  enum class Kind { kTls, kCa, kHttp01, kDns };
  Kind kind = Kind::kTls;
  // tls: "host:port" / "[v6]:port". http01: where to connect, "ADDRESS:PORT" (an address literal:
  // NAME is sent as Host but not resolved) or "NAME:PORT" (NAME resolved as the CA would).
  std::string endpoint;
  std::string sni;        // tls: the name asked for
  std::string cert;       // tls: the lineage, copied into the tls_probe event
  std::string directory;  // ca: the ACME directory URL
  std::string name;       // http01: the name probed; dns: the name asked ("_acme-challenge.NAME")
  std::string rtype;      // dns: "CNAME" or "NS"
  // tls: derived from a default port, not seen serving. Nothing listening there (a `connect` or
  // `timeout` error) says nothing about the certificate, so such a result is dropped instead of
  // stored as an endpoint in error (it would read as an outage).
  bool guessed = false;
  auto operator<=>(const ProbeTarget&) const = default;
};

struct ProbeTargetOptions {
  std::vector<int> local_ports = {443};   // agents: 127.0.0.1:PORT with each name as SNI
  std::vector<int> public_ports = {443};  // the server: NAME:PORT
  int http01_port = 80;                   // http-01 lineages' challenge path (tests use another)
  size_t max_targets = 500;               // per list (per host for agents)
};

struct ProbeTargetList {
  std::vector<ProbeTarget> targets;
  size_t truncated = 0;  // targets left out by max_targets
};

// Loopback (127/8, ::1, "localhost"), private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local
// (169.254/16, fe80::/10) and shared (100.64/10) addresses: what only a machine inside can reach.
// `host` is an address literal without brackets, or "localhost"; any other name is false (what it
// resolves to is not known here).
bool IsInternalAddress(std::string_view host);
bool IsLoopbackAddress(std::string_view host);

// The host part of "host:port" / "[v6]:port" ("" when it has none).
std::string EndpointHost(std::string_view endpoint);

// What the agent on `host` should probe.
ProbeTargetList AgentProbeTargets(const FleetSnapshot& snapshot, std::string_view host,
                                  const ProbeTargetOptions& options);
// What the server probes from where it stands.
ProbeTargetList ServerProbeTargets(const FleetSnapshot& snapshot, const ProbeTargetOptions& options);

// The GET /v1/agent/probes answer: {"host", "at", "targets": [{"type": "tls", "endpoint", "sni",
// "cert", "guessed"} | {"type": "ca", "directory"} | {"type": "http01", "endpoint", "name"} |
// {"type": "dns", "name", "rtype"}], "truncated"}.
std::string ProbeTargetsJson(std::string_view host, absl::Time at, const ProbeTargetList& list);
// The agent's reader of that answer (outside data: fuzz/fuzz_probe_targets.cc). At most
// `max_targets` are returned (the rest counted in `truncated`, with the server's own count); an element that is not a valid
// target (unknown type, missing or wrong-typed field, endpoint without a port, directory not an
// http(s) URL, a name that is not a DNS name, an rtype other than CNAME or NS) is an InvalidArgument naming its index ("targets[3]: endpoint: ..."), as is a body
// that is not the object above.
StatusOr<ProbeTargetList> ParseProbeTargetsJson(std::string_view json, size_t max_targets);

// How targets are probed: one timeout per probe, `ca_file` as the trust of TLS endpoints and CA
// directories ("" = the system store), `host` for the `clock` events of CA probes ("" = none:
// the server's own clock is not a fleet host's). `vantage` goes into http01_probe events;
// `resolver` ("ADDR:PORT", "" = the system's) answers dns targets and resolves http01 names;
// `seed` draws the random challenge tokens (one per http01 target and plan).
struct ProbeRunOptions {
  absl::Duration timeout = absl::Seconds(10);
  std::string ca_file;
  std::string host;
  int concurrency = 8;
  std::string vantage;
  std::string resolver;
  uint64_t seed = 0;
};
probe::ScanPlan PlanProbes(const std::vector<ProbeTarget>& targets, const ProbeRunOptions& options,
                           const Clock& clock);

}  // namespace certcast::api
