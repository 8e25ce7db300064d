#include "collect/probe/scan.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include <toml++/toml.h>

#include "collect/probe/acme_probe.h"
#include "collect/probe/dns_probe.h"
#include "collect/probe/http.h"
#include "collect/probe/http01_probe.h"
#include "collect/probe/ntp_probe.h"
#include "collect/probe/tls_probe.h"
#include "core/strings.h"
#include "core/time.h"

namespace certcast::probe {
namespace {

// Scan configs are hand-written lists of targets; 1 MiB is thousands of them.
constexpr size_t kMaxConfigBytes = 1 << 20;
constexpr int kMaxConcurrency = 256;

std::optional<RecordType> RecordTypeFromName(std::string_view name) {
  if (name == "A") return RecordType::kA;
  if (name == "AAAA") return RecordType::kAAAA;
  if (name == "CNAME") return RecordType::kCNAME;
  if (name == "CAA") return RecordType::kCAA;
  if (name == "NS") return RecordType::kNS;
  if (name == "TXT") return RecordType::kTXT;
  return std::nullopt;
}

// Reads an optional string key; error when present with another type.
Status OptionalString(const toml::table& table, std::string_view key, std::string_view where, std::string& out) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return OkStatus();
  if (!node->is_string()) return InvalidArgumentError(StrCat(where, ": ", key, " is not a string"));
  out = node->value<std::string>().value_or("");
  return OkStatus();
}

Status OptionalBool(const toml::table& table, std::string_view key, std::string_view where, bool& out) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return OkStatus();
  if (!node->is_boolean()) return InvalidArgumentError(StrCat(where, ": ", key, " is not a boolean"));
  out = node->value<bool>().value_or(false);
  return OkStatus();
}

Status RequiredString(const toml::table& table, std::string_view key, std::string_view where, std::string& out) {
  if (table.get(key) == nullptr) return InvalidArgumentError(StrCat(where, ": ", key, " is missing"));
  return OptionalString(table, key, where, out);
}

Status OptionalInt(const toml::table& table, std::string_view key, std::string_view where, int64_t low, int64_t high,
                   int64_t& out) {
  const toml::node* node = table.get(key);
  if (node == nullptr) return OkStatus();
  if (!node->is_integer()) return InvalidArgumentError(StrCat(where, ": ", key, " is not an integer"));
  const int64_t v = node->value<int64_t>().value_or(0);
  if (v < low || v > high) return InvalidArgumentError(StrCat(where, ": ", key, " = ", v, " is not ", low, "..", high));
  out = v;
  return OkStatus();
}

Status OptionalDuration(const toml::table& table, std::string_view key, std::string_view where, absl::Duration& out) {
  std::string text;
  RETURN_IF_ERROR(OptionalString(table, key, where, text));
  if (text.empty()) return OkStatus();
  auto d = ParseDurationFlag(text);
  if (!d.ok()) return InvalidArgumentError(StrCat(where, ": ", key, ": ", d.status().message()));
  if (*d <= absl::ZeroDuration() || *d > absl::Minutes(10)) {
    return InvalidArgumentError(StrCat(where, ": ", key, " must be within (0, 10m]"));
  }
  out = *d;
  return OkStatus();
}

template <typename F>
Status ForEachTable(const toml::table& root, std::string_view key, F&& f) {
  const toml::node* node = root.get(key);
  if (node == nullptr) return OkStatus();
  const toml::array* array = node->as_array();
  if (array == nullptr) return InvalidArgumentError(StrCat(key, " must be an array of tables ([[", key, "]])"));
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::table* table = (*array)[i].as_table();
    const std::string where = StrCat(key, "[", i, "]");
    if (table == nullptr) return InvalidArgumentError(StrCat(where, " is not a table"));
    RETURN_IF_ERROR(f(*table, where));
  }
  return OkStatus();
}

// One trust store per CA file for the whole scan, shared by all its tls targets: loading it costs
// more than a handshake. Loaded by the first target that needs it; a load error is that of every
// target naming the file, as when each target loaded its own.
class TlsTrustCache {
 public:
  StatusOr<std::shared_ptr<const TlsTrust>> Get(const std::string& ca_file) {
    // Held while loading, so concurrent first users wait for the one load instead of repeating it.
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = loaded_.find(ca_file);
    if (it == loaded_.end()) it = loaded_.emplace(ca_file, TlsTrust::Load(ca_file)).first;
    return it->second;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, StatusOr<std::shared_ptr<const TlsTrust>>> loaded_;
};

TargetOutput One(StatusOr<Event> e) {
  TargetOutput out;
  if (e.ok()) {
    out.events.push_back(std::move(*e));
  } else {
    out.status = e.status();
  }
  return out;
}

}  // namespace

StatusOr<ScanPlan> ParseScanConfig(std::string_view toml_text, const Clock& clock) {
  if (toml_text.size() > kMaxConfigBytes) {
    return InvalidArgumentError(StrCat("config is ", toml_text.size(), " bytes, more than ", kMaxConfigBytes));
  }
  // Debian's toml++ is built with exceptions: catch here so none crosses the module boundary.
  toml::table root;
  try {
    root = toml::parse(toml_text);
  } catch (const toml::parse_error& error) {
    return InvalidArgumentError(StrCat("line ", error.source().begin.line, ", column ", error.source().begin.column,
                                       ": ", std::string(error.description())));
  }
  ScanPlan plan;
  // [scan] defaults, each overridable per target.
  absl::Duration timeout = absl::Seconds(10);
  std::string ca_file, resolver, host;
  if (const toml::node* node = root.get("scan")) {
    const toml::table* scan = node->as_table();
    if (scan == nullptr) return InvalidArgumentError("scan is not a table");
    int64_t concurrency = plan.concurrency;
    RETURN_IF_ERROR(OptionalInt(*scan, "concurrency", "scan", 1, kMaxConcurrency, concurrency));
    plan.concurrency = static_cast<int>(concurrency);
    RETURN_IF_ERROR(OptionalDuration(*scan, "timeout", "scan", timeout));
    RETURN_IF_ERROR(OptionalString(*scan, "ca_file", "scan", ca_file));
    RETURN_IF_ERROR(OptionalString(*scan, "resolver", "scan", resolver));
    RETURN_IF_ERROR(OptionalString(*scan, "host", "scan", host));
  }
  if (!resolver.empty()) RETURN_IF_ERROR(ParseResolverAddress(resolver).status().WithPrefix("scan: resolver"));

  auto trust_cache = std::make_shared<TlsTrustCache>();
  RETURN_IF_ERROR(ForEachTable(root, "tls", [&](const toml::table& t, const std::string& where) -> Status {
    std::string endpoint;
    TlsProbeOptions options;
    options.ca_file = ca_file;
    options.timeout = timeout;
    RETURN_IF_ERROR(RequiredString(t, "endpoint", where, endpoint));
    RETURN_IF_ERROR(ParseEndpoint(endpoint).status().WithPrefix(where));
    RETURN_IF_ERROR(OptionalString(t, "sni", where, options.sni));
    RETURN_IF_ERROR(OptionalString(t, "cert", where, options.cert));
    RETURN_IF_ERROR(OptionalString(t, "ca_file", where, options.ca_file));
    RETURN_IF_ERROR(OptionalDuration(t, "timeout", where, options.timeout));
    plan.targets.push_back({StrCat("tls ", endpoint), [endpoint, options, trust_cache, &clock] {
                              auto trust = trust_cache->Get(options.ca_file);
                              if (!trust.ok()) return One(trust.status());
                              return One(ProbeTls(endpoint, options, **trust, clock));
                            }});
    return OkStatus();
  }));

  RETURN_IF_ERROR(ForEachTable(root, "dns", [&](const toml::table& t, const std::string& where) -> Status {
    std::string name;
    DnsProbeOptions options;
    options.resolver = resolver;
    options.timeout = timeout;
    RETURN_IF_ERROR(RequiredString(t, "name", where, name));
    RETURN_IF_ERROR(OptionalString(t, "resolver", where, options.resolver));
    if (!options.resolver.empty()) RETURN_IF_ERROR(ParseResolverAddress(options.resolver).status().WithPrefix(where));
    RETURN_IF_ERROR(OptionalDuration(t, "timeout", where, options.timeout));
    RETURN_IF_ERROR(OptionalBool(t, "dnssec", where, options.dnssec));
    std::vector<RecordType> types = {RecordType::kA, RecordType::kAAAA, RecordType::kCAA};
    if (const toml::node* node = t.get("types")) {
      const toml::array* array = node->as_array();
      if (array == nullptr) return InvalidArgumentError(StrCat(where, ": types is not an array"));
      types.clear();
      for (const toml::node& item : *array) {
        auto type = item.is_string() ? RecordTypeFromName(item.value<std::string>().value_or("")) : std::nullopt;
        if (!type) return InvalidArgumentError(StrCat(where, ": types: each must be one of A, AAAA, CNAME, CAA, NS, TXT"));
        types.push_back(*type);
      }
    }
    for (RecordType type : types) {
      plan.targets.push_back({StrCat("dns ", name, " ", ToString(type)),
                              [name, type, options, &clock] {
                                return One(type == RecordType::kCAA ? ProbeCaa(name, options, clock)
                                                                    : ProbeDns(name, type, options, clock));
                              }});
    }
    return OkStatus();
  }));

  RETURN_IF_ERROR(ForEachTable(root, "http01", [&](const toml::table& t, const std::string& where) -> Status {
    std::string name;
    Http01ProbeOptions options;
    options.timeout = timeout;
    int64_t port = options.port;
    RETURN_IF_ERROR(RequiredString(t, "name", where, name));
    RETURN_IF_ERROR(OptionalInt(t, "port", where, 1, 65535, port));
    options.port = static_cast<int>(port);
    RETURN_IF_ERROR(OptionalString(t, "token", where, options.token));
    RETURN_IF_ERROR(OptionalString(t, "expect", where, options.expect));
    RETURN_IF_ERROR(OptionalString(t, "address", where, options.address));
    RETURN_IF_ERROR(OptionalString(t, "resolver", where, options.resolver));
    RETURN_IF_ERROR(OptionalString(t, "vantage", where, options.vantage));
    RETURN_IF_ERROR(OptionalDuration(t, "timeout", where, options.timeout));
    plan.targets.push_back({StrCat("http01 ", name), [name, options, &clock] { return One(ProbeHttp01(name, options, clock)); }});
    return OkStatus();
  }));

  RETURN_IF_ERROR(ForEachTable(root, "ca", [&](const toml::table& t, const std::string& where) -> Status {
    std::string directory, ari_cert_file, cert;
    CaProbeOptions options;
    options.ca_file = ca_file;
    options.host = host;
    options.timeout = timeout;
    RETURN_IF_ERROR(RequiredString(t, "directory", where, directory));
    RETURN_IF_ERROR(ParseUrl(directory).status().WithPrefix(where));
    RETURN_IF_ERROR(OptionalString(t, "ca_file", where, options.ca_file));
    RETURN_IF_ERROR(OptionalDuration(t, "timeout", where, options.timeout));
    // ARI for one lineage's current certificate: `ari_cert` (PEM file) with `cert` (lineage).
    RETURN_IF_ERROR(OptionalString(t, "ari_cert", where, ari_cert_file));
    RETURN_IF_ERROR(OptionalString(t, "cert", where, cert));
    if (ari_cert_file.empty() != cert.empty()) {
      return InvalidArgumentError(StrCat(where, ": ari_cert and cert go together"));
    }
    plan.targets.push_back(
        {StrCat("ca ", directory), [directory, options, ari_cert_file, cert, &clock] {
           TargetOutput out;
           auto result = ProbeCa(directory, options, clock);
           if (!result.ok()) {
             out.status = result.status();
             return out;
           }
           out.events = std::move(result->events);
           if (ari_cert_file.empty()) return out;
           if (!result->directory) {
             out.status = UnavailableError("no ARI query: the directory could not be read");
             return out;
           }
           std::ifstream in(ari_cert_file, std::ios::binary);
           if (!in) {
             out.status = NotFoundError(StrCat("ari_cert ", ari_cert_file, ": cannot open"));
             return out;
           }
           std::string pem(64 * 1024, '\0');  // a PEM chain is a few KiB
           in.read(pem.data(), static_cast<std::streamsize>(pem.size()));
           pem.resize(static_cast<size_t>(in.gcount()));
           auto ari = ProbeAri(directory, *result->directory, cert, pem, options, clock);
           if (ari.ok()) {
             out.events.push_back(std::move(*ari));
           } else {
             out.status = ari.status().WithPrefix("ARI");
           }
           return out;
         }});
    return OkStatus();
  }));

  RETURN_IF_ERROR(ForEachTable(root, "ntp", [&](const toml::table& t, const std::string& where) -> Status {
    std::string server;
    NtpProbeOptions options;
    options.host = host;
    options.timeout = timeout;
    RETURN_IF_ERROR(RequiredString(t, "server", where, server));
    RETURN_IF_ERROR(ParseNtpServer(server).status().WithPrefix(where));
    RETURN_IF_ERROR(OptionalDuration(t, "timeout", where, options.timeout));
    plan.targets.push_back({StrCat("ntp ", server), [server, options, &clock] {
                              return One(ProbeNtp(server, options, clock, UnpredictableSeed()));
                            }});
    return OkStatus();
  }));

  for (const auto& [key, value] : root) {
    const std::string_view k = key.str();
    if (k != "scan" && k != "tls" && k != "dns" && k != "http01" && k != "ca" && k != "ntp") {
      return InvalidArgumentError(StrCat("unknown table \"", k, "\" (expected scan, tls, dns, http01, ca, ntp)"));
    }
  }
  return plan;
}

ScanResult RunScan(const ScanPlan& plan) {
  const size_t n = plan.targets.size();
  std::vector<TargetOutput> results(n);
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < n; i = next++) {
      results[i] = plan.targets[i].run();
    }
  };
  const size_t threads = std::min<size_t>(std::max(plan.concurrency, 1), std::max<size_t>(n, 1));
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (std::thread& t : pool) t.join();
  ScanResult out;
  for (size_t i = 0; i < n; ++i) {
    for (Event& e : results[i].events) out.events.push_back(std::move(e));
    if (!results[i].status.ok()) {
      out.errors.push_back(StrCat(plan.targets[i].label, ": ", results[i].status.message()));
    }
  }
  return out;
}

}  // namespace certcast::probe
