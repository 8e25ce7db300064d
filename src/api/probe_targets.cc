#include "api/probe_targets.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <map>
#include <random>

#include "collect/probe/acme_probe.h"
#include "collect/probe/dns_probe.h"
#include "collect/probe/http.h"
#include "collect/probe/http01_probe.h"
#include "collect/probe/tls_probe.h"
#include "core/event_json.h"
#include "core/strings.h"
#include "core/time.h"
#include "nlohmann/json.hpp"

namespace certcast::api {
namespace {

using Json = nlohmann::ordered_json;

// A name as SNI: the spec's rule for wildcards (`*.example.com` is probed as example.com).
std::string ProbeName(std::string_view name) {
  if (name.starts_with("*.")) name.remove_prefix(2);
  return std::string(name);
}

bool HasHost(const LineageEntry& lineage, std::string_view host) {
  if (lineage.host == host) return true;
  return std::find(lineage.hosts.begin(), lineage.hosts.end(), host) != lineage.hosts.end();
}

ProbeTarget Tls(std::string endpoint, std::string sni, std::string cert, bool guessed) {
  ProbeTarget t;
  t.endpoint = std::move(endpoint);
  t.sni = std::move(sni);
  t.cert = std::move(cert);
  t.guessed = guessed;
  return t;
}

ProbeTarget Ca(std::string directory) {
  ProbeTarget t;
  t.kind = ProbeTarget::Kind::kCa;
  t.directory = std::move(directory);
  return t;
}

ProbeTarget Http01(std::string endpoint, std::string name) {
  ProbeTarget t;
  t.kind = ProbeTarget::Kind::kHttp01;
  t.endpoint = std::move(endpoint);
  t.name = std::move(name);
  return t;
}

ProbeTarget Dns(std::string name, std::string rtype) {
  ProbeTarget t;
  t.kind = ProbeTarget::Kind::kDns;
  t.name = std::move(name);
  t.rtype = std::move(rtype);
  return t;
}

// The targets being collected: one per (kind, endpoint, sni, cert, directory); a target both
// guessed and seen serving is not guessed.
class TargetSet {
 public:
  void Add(ProbeTarget t) {
    const bool guessed = t.guessed;
    t.guessed = false;
    auto [it, inserted] = targets_.emplace(std::move(t), guessed);
    if (!inserted) it->second = it->second && guessed;
  }
  ProbeTargetList Finish(size_t max_targets) && {
    ProbeTargetList list;
    for (auto& [t, guessed] : targets_) {
      list.targets.push_back(t);
      list.targets.back().guessed = guessed;
    }
    if (list.targets.size() > max_targets) {
      list.truncated = list.targets.size() - max_targets;
      list.targets.resize(max_targets);
    }
    return list;
  }

 private:
  std::map<ProbeTarget, bool> targets_;
};

std::string JoinHostPort(std::string_view host, int port) {
  if (host.find(':') != std::string_view::npos) return StrCat("[", host, "]:", port);
  return StrCat(host, ":", port);
}

bool IsHttpUrl(std::string_view url) { return url.starts_with("https://") || url.starts_with("http://"); }

// The challenge path of one lineage's names (probe_targets.h): http-01 at `address` ("" = each
// name itself, resolved), dns-01 the _acme-challenge delegation. Wildcards are dns-01 only.
template <typename Add>
void AddChallengeTargets(const LineageEntry& lineage, std::string_view address, int http01_port, Add add) {
  for (const std::string& raw : lineage.names) {
    const std::string name = ProbeName(raw);
    if (lineage.challenge == "http-01" && !raw.starts_with("*.")) {
      add(Http01(JoinHostPort(address.empty() ? std::string_view(name) : address, http01_port), name));
    } else if (lineage.challenge == "dns-01") {
      for (const char* rtype : {"CNAME", "NS"}) add(Dns(StrCat("_acme-challenge.", name), rtype));
    }
  }
}

// A challenge token as an ACME CA makes one: 43 base64url characters (256 bits).
std::string ChallengeToken(std::mt19937_64& random) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string token(43, 'A');
  for (char& c : token) c = kAlphabet[random() % 64];
  return token;
}

}  // namespace

bool IsLoopbackAddress(std::string_view host) {
  if (host == "localhost") return true;
  const std::string text(host);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

bool IsInternalAddress(std::string_view host) {
  if (IsLoopbackAddress(host)) return true;
  const std::string text(host);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    const uint32_t a = ntohl(v4.s_addr);
    return (a >> 24) == 10 || (a >> 20) == ((172u << 4) | 1) || (a >> 16) == ((192u << 8) | 168) ||
           (a >> 16) == ((169u << 8) | 254) || (a >> 22) == ((100u << 2) | 1);
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    return (v6.s6_addr[0] & 0xfe) == 0xfc || IN6_IS_ADDR_LINKLOCAL(&v6);
  }
  return false;
}

std::string EndpointHost(std::string_view endpoint) {
  if (endpoint.starts_with('[')) {
    const size_t close = endpoint.find(']');
    return close == std::string_view::npos ? "" : std::string(endpoint.substr(1, close - 1));
  }
  const size_t colon = endpoint.rfind(':');
  return colon == std::string_view::npos ? "" : std::string(endpoint.substr(0, colon));
}

ProbeTargetList AgentProbeTargets(const FleetSnapshot& snapshot, std::string_view host,
                                  const ProbeTargetOptions& options) {
  TargetSet set;
  for (const LineageEntry& lineage : snapshot.lineages) {
    if (!HasHost(lineage, host)) continue;
    for (const std::string& name : lineage.names) {
      for (int port : options.local_ports) set.Add(Tls(JoinHostPort("127.0.0.1", port), ProbeName(name), lineage.cert, true));
    }
    // Endpoints seen serving the lineage that only a machine inside reaches. A loopback one is
    // some host's own: this host's only when the lineage lives on this host alone.
    for (const ServedEndpoint& served : lineage.served) {
      const std::string address = EndpointHost(served.endpoint);
      if (!IsInternalAddress(address)) continue;
      const bool own = served.host == host || (served.host.empty() && lineage.hosts.size() <= 1);
      if (IsLoopbackAddress(address) && !own) continue;
      for (const std::string& name : lineage.names) set.Add(Tls(served.endpoint, ProbeName(name), lineage.cert, false));
    }
    if (IsHttpUrl(lineage.ca)) set.Add(Ca(lineage.ca));
    // This host's own web server, asked for each name (Host header), not wherever NAME resolves.
    AddChallengeTargets(lineage, "127.0.0.1", options.http01_port, [&](ProbeTarget t) { set.Add(std::move(t)); });
  }
  return std::move(set).Finish(options.max_targets);
}

ProbeTargetList ServerProbeTargets(const FleetSnapshot& snapshot, const ProbeTargetOptions& options) {
  TargetSet set;
  for (const LineageEntry& lineage : snapshot.lineages) {
    for (const std::string& name : lineage.names) {
      for (int port : options.public_ports) set.Add(Tls(JoinHostPort(ProbeName(name), port), ProbeName(name), lineage.cert, true));
    }
    for (const ServedEndpoint& served : lineage.served) {
      if (IsLoopbackAddress(EndpointHost(served.endpoint))) continue;
      for (const std::string& name : lineage.names) set.Add(Tls(served.endpoint, ProbeName(name), lineage.cert, false));
    }
    if (IsHttpUrl(lineage.ca)) set.Add(Ca(lineage.ca));
    AddChallengeTargets(lineage, "", options.http01_port, [&](ProbeTarget t) { set.Add(std::move(t)); });
  }
  return std::move(set).Finish(options.max_targets);
}

std::string ProbeTargetsJson(std::string_view host, absl::Time at, const ProbeTargetList& list) {
  Json j;
  j["host"] = std::string(host);
  j["at"] = FormatRfc3339(at);
  Json targets = Json::array();
  for (const ProbeTarget& t : list.targets) {
    if (t.kind == ProbeTarget::Kind::kTls) {
      targets.push_back({{"type", "tls"}, {"endpoint", t.endpoint}, {"sni", t.sni}, {"cert", t.cert},
                         {"guessed", t.guessed}});
    } else if (t.kind == ProbeTarget::Kind::kCa) {
      targets.push_back({{"type", "ca"}, {"directory", t.directory}});
    } else if (t.kind == ProbeTarget::Kind::kHttp01) {
      targets.push_back({{"type", "http01"}, {"endpoint", t.endpoint}, {"name", t.name}});
    } else {
      targets.push_back({{"type", "dns"}, {"name", t.name}, {"rtype", t.rtype}});
    }
  }
  j["targets"] = std::move(targets);
  j["truncated"] = list.truncated;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

StatusOr<ProbeTargetList> ParseProbeTargetsJson(std::string_view json, size_t max_targets) {
  const Json j = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgumentError("probe targets: not a JSON object");
  auto targets = j.find("targets");
  if (targets == j.end() || !targets->is_array()) {
    return InvalidArgumentError("probe targets: \"targets\" is missing or not a list");
  }
  ProbeTargetList list;
  // What the server already left out counts with what is left out here.
  if (auto truncated = j.find("truncated"); truncated != j.end()) {
    if (!truncated->is_number_unsigned() || truncated->get<uint64_t>() > (1u << 30)) {
      return InvalidArgumentError("probe targets: \"truncated\" is not a count");
    }
    list.truncated = truncated->get<size_t>();
  }
  for (size_t i = 0; i < targets->size(); ++i) {
    const Json& t = (*targets)[i];
    const std::string where = StrCat("targets[", i, "]");
    if (!t.is_object()) return InvalidArgumentError(StrCat(where, ": not an object"));
    auto text = [&](const char* key, std::string& out) -> Status {
      auto it = t.find(key);
      if (it == t.end() || !it->is_string()) return InvalidArgumentError(StrCat(where, ": ", key, " is missing or not a string"));
      out = it->get<std::string>();
      return OkStatus();
    };
    std::string type;
    RETURN_IF_ERROR(text("type", type));
    ProbeTarget target;
    if (type == "tls") {
      RETURN_IF_ERROR(text("endpoint", target.endpoint));
      RETURN_IF_ERROR(text("sni", target.sni));
      if (t.contains("cert")) RETURN_IF_ERROR(text("cert", target.cert));
      if (auto guessed = t.find("guessed"); guessed != t.end()) {
        if (!guessed->is_boolean()) return InvalidArgumentError(StrCat(where, ": guessed is not true or false"));
        target.guessed = guessed->get<bool>();
      }
      RETURN_IF_ERROR(probe::ParseEndpoint(target.endpoint).status().WithPrefix(StrCat(where, ": endpoint")));
      if (target.sni.empty() || target.sni.size() > 253) {
        return InvalidArgumentError(StrCat(where, ": sni must be a name of 1 to 253 characters"));
      }
    } else if (type == "ca") {
      target.kind = ProbeTarget::Kind::kCa;
      RETURN_IF_ERROR(text("directory", target.directory));
      if (!IsHttpUrl(target.directory)) {
        return InvalidArgumentError(StrCat(where, ": directory: not an http(s) URL: \"", target.directory, "\""));
      }
    } else if (type == "http01" || type == "dns") {
      target.kind = type == "http01" ? ProbeTarget::Kind::kHttp01 : ProbeTarget::Kind::kDns;
      RETURN_IF_ERROR(text("name", target.name));
      RETURN_IF_ERROR(ValidateDnsName(target.name).WithPrefix(StrCat(where, ": name")));
      if (target.name.starts_with("*.")) return InvalidArgumentError(StrCat(where, ": name: a wildcard is not probed"));
      if (type == "http01") {
        RETURN_IF_ERROR(text("endpoint", target.endpoint));
        RETURN_IF_ERROR(probe::ParseEndpoint(target.endpoint).status().WithPrefix(StrCat(where, ": endpoint")));
      } else {
        RETURN_IF_ERROR(text("rtype", target.rtype));
        if (target.rtype != "CNAME" && target.rtype != "NS") {
          return InvalidArgumentError(StrCat(where, ": rtype \"", target.rtype, "\" is not CNAME or NS"));
        }
      }
    } else {
      return InvalidArgumentError(StrCat(where, ": type \"", type, "\" is not tls, ca, http01 or dns"));
    }
    if (list.targets.size() < max_targets) {
      list.targets.push_back(std::move(target));
    } else {
      ++list.truncated;
    }
  }
  return list;
}

probe::ScanPlan PlanProbes(const std::vector<ProbeTarget>& targets, const ProbeRunOptions& options,
                           const Clock& clock) {
  probe::ScanPlan plan;
  plan.concurrency = std::max(1, options.concurrency);
  std::mt19937_64 random(options.seed);
  // One trust store for every TLS target: loading it costs more than a handshake (tls_probe.h).
  auto trust = std::make_shared<StatusOr<std::shared_ptr<const probe::TlsTrust>>>(
      probe::TlsTrust::Load(options.ca_file));
  for (const ProbeTarget& t : targets) {
    if (t.kind == ProbeTarget::Kind::kTls) {
      probe::TlsProbeOptions tls{.sni = t.sni, .ca_file = options.ca_file, .cert = t.cert, .timeout = options.timeout};
      plan.targets.push_back({StrCat("tls ", t.endpoint, " ", t.sni), [endpoint = t.endpoint, guessed = t.guessed, tls, trust, &clock] {
                                probe::TargetOutput out;
                                if (!trust->ok()) {
                                  out.status = trust->status();
                                  return out;
                                }
                                auto event = probe::ProbeTls(endpoint, tls, ***trust, clock);
                                if (!event.ok()) {
                                  out.status = event.status();
                                  return out;
                                }
                                const TlsProbeEvent* seen = event->As<TlsProbeEvent>();
                                if (guessed && seen != nullptr && seen->error &&
                                    (*seen->error == TlsError::kConnect || *seen->error == TlsError::kTimeout)) {
                                  return out;  // nothing serves there (ProbeTarget::guessed)
                                }
                                out.events.push_back(std::move(*event));
                                return out;
                              }});
    } else if (t.kind == ProbeTarget::Kind::kHttp01) {
      auto endpoint = probe::ParseEndpoint(t.endpoint);
      probe::Http01ProbeOptions http01{.port = endpoint.ok() ? endpoint->port : 80,
                                       .token = ChallengeToken(random),
                                       .resolver = options.resolver,
                                       .vantage = options.vantage,
                                       .timeout = options.timeout};
      // An address literal is where to connect (NAME only as Host); a name is resolved.
      if (endpoint.ok() && endpoint->host != t.name) http01.address = endpoint->host;
      plan.targets.push_back({StrCat("http01 ", t.endpoint, " ", t.name), [name = t.name, http01, endpoint_status = endpoint.status(), &clock] {
                                probe::TargetOutput out;
                                if (!endpoint_status.ok()) {
                                  out.status = endpoint_status;
                                  return out;
                                }
                                auto event = probe::ProbeHttp01(name, http01, clock);
                                if (!event.ok()) out.status = event.status();
                                else out.events.push_back(std::move(*event));
                                return out;
                              }});
    } else if (t.kind == ProbeTarget::Kind::kDns) {
      probe::DnsProbeOptions dns{.resolver = options.resolver, .timeout = options.timeout};
      const RecordType rtype = t.rtype == "NS" ? RecordType::kNS : RecordType::kCNAME;
      plan.targets.push_back({StrCat("dns ", t.name, " ", t.rtype), [name = t.name, rtype, dns, &clock] {
                                probe::TargetOutput out;
                                auto event = probe::ProbeDns(name, rtype, dns, clock);
                                if (!event.ok()) out.status = event.status();
                                else out.events.push_back(std::move(*event));
                                return out;
                              }});
    } else {
      probe::CaProbeOptions ca{.ca_file = options.ca_file, .host = options.host, .timeout = options.timeout};
      const bool keep_clock = !options.host.empty();
      plan.targets.push_back({StrCat("ca ", t.directory), [directory = t.directory, ca, keep_clock, &clock] {
                                probe::TargetOutput out;
                                auto result = probe::ProbeCa(directory, ca, clock);
                                if (!result.ok()) {
                                  out.status = result.status();
                                  return out;
                                }
                                for (Event& e : result->events) {
                                  if (!keep_clock && e.type() == EventType::kClock) continue;
                                  out.events.push_back(std::move(e));
                                }
                                return out;
                              }});
    }
  }
  return plan;
}

}  // namespace certcast::api
