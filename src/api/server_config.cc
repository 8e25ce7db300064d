// `certcast serve --config FILE`: the server's settings in TOML, top-level keys named like the
// ServerOptions fields (docs/api.md, "Configuration").

#include "act/toml_table.h"
#include "api/server.h"
#include "collect/probe/dns_probe.h"
#include "core/file_safety.h"
#include "core/strings.h"

namespace certcast::api {

Status ParseServerConfig(std::string_view toml_text, ServerOptions& o) {
  ASSIGN_OR_RETURN(toml::table root, act::ParseToml(toml_text));
  act::TomlTable t(&root, "");
  RETURN_IF_ERROR(t.Get("db", o.db));
  RETURN_IF_ERROR(t.Get("listen", o.listen));
  RETURN_IF_ERROR(t.Get("tls_cert", o.tls_cert));
  RETURN_IF_ERROR(t.Get("tls_key", o.tls_key));
  RETURN_IF_ERROR(t.Get("token_key", o.token_key));
  RETURN_IF_ERROR(t.Get("threads", o.threads));
  RETURN_IF_ERROR(t.Get("queue", o.queue));
  RETURN_IF_ERROR(t.Get("max_body_bytes", o.max_body_bytes));
  RETURN_IF_ERROR(t.Get("read_timeout", o.read_timeout));
  RETURN_IF_ERROR(t.Get("write_timeout", o.write_timeout));
  RETURN_IF_ERROR(t.Get("request_timeout", o.request_timeout));
  RETURN_IF_ERROR(t.Get("keep_alive_timeout", o.keep_alive_timeout));
  RETURN_IF_ERROR(t.Get("keep_alive_max", o.keep_alive_max));
  RETURN_IF_ERROR(t.Get("header_timeout", o.header_timeout));
  RETURN_IF_ERROR(t.Get("max_connections_per_client", o.max_connections_per_client));
  RETURN_IF_ERROR(t.Get("last_used_flush", o.last_used_flush));
  RETURN_IF_ERROR(t.Get("access_log", o.access_log));
  RETURN_IF_ERROR(t.Get("model", o.model));
  RETURN_IF_ERROR(t.Get("run_config", o.run_config));
  RETURN_IF_ERROR(t.Get("act", o.act));
  RETURN_IF_ERROR(t.Get("plan_interval", o.plan_interval));
  RETURN_IF_ERROR(t.Get("ingest_debounce", o.ingest_debounce));
  RETURN_IF_ERROR(t.Get("metrics_token", o.metrics_token));
  RETURN_IF_ERROR(t.Get("action_lease", o.action_lease));
  RETURN_IF_ERROR(t.Get("probe", o.probe));
  RETURN_IF_ERROR(t.Get("probe_interval", o.probe_interval));
  RETURN_IF_ERROR(t.Get("probe_timeout", o.probe_timeout));
  RETURN_IF_ERROR(t.Get("probe_ca_file", o.probe_ca_file));
  RETURN_IF_ERROR(t.Get("probe_public_ports", o.probe_public_ports));
  RETURN_IF_ERROR(t.Get("probe_local_ports", o.probe_local_ports));
  RETURN_IF_ERROR(t.Get("probe_max_targets", o.probe_max_targets));
  RETURN_IF_ERROR(t.Get("probe_http01_port", o.probe_http01_port));
  RETURN_IF_ERROR(t.Get("probe_resolver", o.probe_resolver));
  RETURN_IF_ERROR(t.CheckUnknown());
  for (auto [name, ports] : {std::pair{"probe_public_ports", &o.probe_public_ports},
                             {"probe_local_ports", &o.probe_local_ports}}) {
    if (ports->size() > 16) return InvalidArgumentError(StrCat(name, ": at most 16 ports"));
    for (int port : *ports) {
      if (port < 1 || port > 65535) return InvalidArgumentError(StrCat(name, ": ", port, " is not a port (1 to 65535)"));
    }
  }
  if (o.probe_http01_port < 1 || o.probe_http01_port > 65535) {
    return InvalidArgumentError(StrCat("probe_http01_port: ", o.probe_http01_port, " is not a port (1 to 65535)"));
  }
  if (!o.probe_resolver.empty()) {
    RETURN_IF_ERROR(probe::ParseResolverAddress(o.probe_resolver).status().WithPrefix("probe_resolver"));
  }
  if (o.probe_max_targets < 1 || o.probe_max_targets > 100000) {
    return InvalidArgumentError("probe_max_targets: 1 to 100000");
  }
  if (o.probe_timeout < absl::Seconds(1) || o.probe_timeout > absl::Minutes(10)) {
    return InvalidArgumentError("probe_timeout: 1s to 10m");
  }
  if (o.threads < 1 || o.threads > 4096) return InvalidArgumentError("threads: 1 to 4096");
  if (o.queue < 1) return InvalidArgumentError("queue: at least 1");
  if (o.max_body_bytes < 1024) return InvalidArgumentError("max_body_bytes: at least 1024");
  if (o.keep_alive_max < 1) return InvalidArgumentError("keep_alive_max: at least 1");
  if (o.max_connections_per_client < 1) {
    return InvalidArgumentError("max_connections_per_client: at least 1");
  }
  for (auto [name, d] : {std::pair{"read_timeout", o.read_timeout},
                         {"write_timeout", o.write_timeout},
                         {"request_timeout", o.request_timeout},
                         {"keep_alive_timeout", o.keep_alive_timeout},
                         {"header_timeout", o.header_timeout},
                         {"last_used_flush", o.last_used_flush},
                         {"plan_interval", o.plan_interval},
                         {"action_lease", o.action_lease},
                         {"probe_interval", o.probe_interval}}) {
    if (d < absl::Seconds(1)) return InvalidArgumentError(StrCat(name, ": at least 1s"));
  }
  // An idle kept-alive connection waits for its next request line under the same clock: a bound
  // below keep_alive_timeout would cut idle connections the library keeps on purpose.
  if (o.header_timeout <= o.keep_alive_timeout) {
    return InvalidArgumentError(StrCat("header_timeout: must be longer than keep_alive_timeout (",
                                       absl::FormatDuration(o.keep_alive_timeout), ")"));
  }
  if (o.ingest_debounce < absl::Milliseconds(10)) {
    return InvalidArgumentError("ingest_debounce: at least 10ms");
  }
  return OkStatus();
}

Status LoadServerConfig(const std::string& path, ServerOptions& options) {
  // The server's config chooses its TLS key, its token key and what it listens on: only a file
  // nobody else can write is taken.
  ASSIGN_OR_RETURN(std::string text, ReadConfigFile(path, kMaxConfigBytes, "server config"));
  return ParseServerConfig(text, options).WithPrefix(path);
}

}  // namespace certcast::api
