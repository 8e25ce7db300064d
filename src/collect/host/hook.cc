#include "collect/host/hook.h"

#include <sys/stat.h>
#include <unistd.h>

#include "collect/clients/acme_sh.h"
#include "collect/clients/certbot_renewal_conf.h"
#include "collect/clients/certificate.h"
#include "collect/clients/common.h"
#include "collect/clients/discover.h"
#include "collect/clients/lego_state.h"
#include "core/event_json.h"
#include "core/strings.h"
#include "core/utf8.h"

namespace certcast::host {
namespace fs = std::filesystem;
namespace {

// certbot 2.x's default directory (constants.CLI_DEFAULTS["server"]): a renewal conf written
// without `server` means Let's Encrypt production. Same default as `certcast discover`.
constexpr std::string_view kCertbotDefaultServer = "https://acme-v02.api.letsencrypt.org/directory";

// The variable that identifies each client's hook, to tell a user who installed
// `certcast hook X` in client Y's configuration which one it is.
struct ClientMarker {
  Client client;
  const char* variable;
  const char* hook;  // how to install the hook in that client
};
constexpr ClientMarker kMarkers[] = {
    {Client::kCertbot, "RENEWED_LINEAGE", "certbot's --deploy-hook"},
    {Client::kLego, "LEGO_CERT_DOMAIN", "lego's --run-hook or --renew-hook"},
    {Client::kAcmeSh, "Le_Domain", "acme.sh's --reloadcmd or --renew-hook"},
};

const ClientMarker& MarkerOf(Client client) {
  for (const ClientMarker& m : kMarkers) {
    if (m.client == client) return m;
  }
  return kMarkers[0];  // unreachable: callers check the client first
}

std::string Get(const std::map<std::string, std::string>& environment, const std::string& name) {
  auto it = environment.find(name);
  return it == environment.end() ? std::string() : it->second;
}

// "VARIABLE is not set: run `certcast hook C` as HOOK" plus a hint when another client's variable
// is there.
Status Missing(Client client, std::string_view variable,
               const std::map<std::string, std::string>& environment) {
  std::string message = StrCat(variable, " is not set: run `certcast hook ", ToString(client),
                               "` as ", MarkerOf(client).hook);
  for (const ClientMarker& m : kMarkers) {
    if (m.client != client && !Get(environment, m.variable).empty()) {
      message += StrCat(" (", m.variable, " is set: this looks like ", m.hook,
                        ", which needs `certcast hook ", ToString(m.client), "`)");
    }
  }
  return InvalidArgumentError(std::move(message));
}

// The file's contents, with errors that always start with the path.
StatusOr<std::string> ReadBounded(const fs::path& path, size_t max_bytes) {
  auto data = clients::ReadFileBounded(path, max_bytes);
  if (!data.ok() && !data.status().message().starts_with(path.string())) {
    return data.status().WithPrefix(path.string());
  }
  return data;
}

// The CA that issued the lineage's certificate, from the client's own state.
StatusOr<std::string> CaFromState(const HookTarget& target) {
  switch (target.client) {
    case Client::kCertbot: {
      ASSIGN_OR_RETURN(std::string text, ReadBounded(target.state, clients::kMaxRenewalConfBytes));
      auto conf = clients::ParseCertbotRenewalConf(text);
      if (!conf.ok()) return conf.status().WithPrefix(target.state.string());
      return conf->server.value_or(std::string(kCertbotDefaultServer));
    }
    case Client::kLego: {
      ASSIGN_OR_RETURN(std::string text, ReadBounded(target.state, clients::kMaxLegoResourceBytes));
      auto resource = clients::ParseLegoResource(text);
      if (!resource.ok()) return resource.status().WithPrefix(target.state.string());
      return clients::LegoCa(*resource, std::nullopt);
    }
    case Client::kAcmeSh: {
      ASSIGN_OR_RETURN(std::string text, ReadBounded(target.state, clients::kMaxAcmeShConfBytes));
      auto conf = clients::ParseAcmeShDomainConf(text);
      if (!conf.ok()) return conf.status().WithPrefix(target.state.string());
      if (!conf->api) return NotFoundError(StrCat(target.state.string(), ": no Le_API"));
      return *conf->api;
    }
    default:
      return InvalidArgumentError("hooks exist for certbot, lego and acme.sh only");
  }
}

// Appends `event` when it serializes to a line the events-v1 parser accepts (a lineage name
// from the environment could hold anything); otherwise records why.
void Append(Event event, HookEvents& out) {
  auto parsed = ParseEventLine(EventToJson(event));
  if (parsed.ok()) {
    out.events.push_back(std::move(event));
  } else {
    out.problems.push_back(StrCat(ToString(event.type()), " event not valid: ",
                                  parsed.status().message()));
  }
}

// The mapping itself; HookTargetFromEnvironment adds the name check.
StatusOr<HookTarget> Target(Client client,
                            const std::map<std::string, std::string>& environment) {
  HookTarget target;
  target.client = client;
  switch (client) {
    case Client::kCertbot: {
      std::string lineage = Get(environment, "RENEWED_LINEAGE");
      if (lineage.empty()) return Missing(client, "RENEWED_LINEAGE", environment);
      while (lineage.size() > 1 && lineage.back() == '/') lineage.pop_back();
      const fs::path live(lineage);
      target.cert = live.filename().string();
      if (target.cert.empty() || target.cert == "." || target.cert == ".." || target.cert == "/") {
        return InvalidArgumentError(
            StrCat("RENEWED_LINEAGE \"", lineage, "\" does not end in a lineage directory"));
      }
      target.certificate = live / "cert.pem";
      // live/NAME -> CONFIG_DIR/renewal/NAME.conf, where certbot keeps the lineage's settings.
      target.state = live.parent_path().parent_path() / "renewal" / (target.cert + ".conf");
      return target;
    }
    case Client::kLego: {
      target.cert = Get(environment, "LEGO_CERT_DOMAIN");
      if (target.cert.empty() && !Get(environment, "LEGO_HOOK_CERT_PATH").empty()) {
        // lego 5 renamed the variables and changed its storage with them; certcast has not been
        // run against a lego 5 (Debian 12 ships 4.9.1), so it says so instead of guessing.
        return InvalidArgumentError(
            "LEGO_HOOK_CERT_PATH is set but LEGO_CERT_DOMAIN is not: this is lego 5's --deploy-hook, "
            "whose environment `certcast hook lego` does not read yet (it reads lego 4's --run-hook "
            "and --renew-hook)");
      }
      if (target.cert.empty()) return Missing(client, "LEGO_CERT_DOMAIN", environment);
      const std::string path = Get(environment, "LEGO_CERT_PATH");
      if (path.empty()) return Missing(client, "LEGO_CERT_PATH", environment);
      target.certificate = path;
      // certificates/DOMAIN.crt -> certificates/DOMAIN.json (lego 4.x certs_storage.go).
      target.state = fs::path(path).replace_extension(".json");
      return target;
    }
    case Client::kAcmeSh: {
      target.cert = Get(environment, "Le_Domain");
      if (target.cert.empty()) return Missing(client, "Le_Domain", environment);
      const std::string path = Get(environment, "CERT_PATH");
      if (path.empty()) return Missing(client, "CERT_PATH", environment);
      target.certificate = path;
      // DOMAIN[_ecc]/DOMAIN.cer -> DOMAIN[_ecc]/DOMAIN.conf (acme.sh _initpath).
      target.state = fs::path(path).parent_path() / (target.cert + ".conf");
      return target;
    }
    default:
      return InvalidArgumentError(
          StrCat("no hook for client \"", ToString(client), "\": certbot, lego or acme.sh"));
  }
}

// A lineage name from the environment goes into every event's `cert`: it must be text an event
// line can carry (valid UTF-8, no control characters). Real names are DNS names (<= 253 bytes)
// or certbot directory names (a file name, <= 255 bytes).
Status CheckName(std::string_view variable, const std::string& name) {
  if (name.size() > 255) {
    return InvalidArgumentError(StrCat(variable, " is longer than 255 bytes: not a lineage name"));
  }
  bool ok = IsValidUtf8(name);
  for (unsigned char c : name) ok = ok && c >= 0x20 && c != 0x7f;
  if (ok) return Status();
  return InvalidArgumentError(StrCat(variable, " \"", ToValidUtf8(name),
                                     "\" is not a lineage name (control characters or invalid UTF-8)"));
}

}  // namespace

std::optional<Client> HostClientFromName(std::string_view name) {
  for (const ClientMarker& m : kMarkers) {
    if (name == ToString(m.client)) return m.client;
  }
  return std::nullopt;
}

StatusOr<HookTarget> HookTargetFromEnvironment(Client client,
                                               const std::map<std::string, std::string>& environment) {
  StatusOr<HookTarget> target = Target(client, environment);
  if (!target.ok()) return target;
  RETURN_IF_ERROR(CheckName(MarkerOf(client).variable, target->cert));
  return target;
}

HookEvents RenewalEvents(const HookTarget& target) {
  HookEvents out;
  auto data = ReadBounded(target.certificate, clients::kMaxCertificateFileBytes);
  if (!data.ok()) {
    out.problems.push_back(StrCat("no events for ", target.cert, ": ", data.status().message()));
    return out;
  }
  auto facts = clients::ParseCertificate(*data);
  if (!facts.ok()) {
    out.problems.push_back(StrCat("no events for ", target.cert, ": ", target.certificate.string(),
                                  ": ", facts.status().message()));
    return out;
  }
  struct stat st = {};
  if (::stat(target.certificate.c_str(), &st) != 0) {
    out.problems.push_back(StrCat("no events for ", target.cert, ": ", target.certificate.string(),
                                  ": cannot stat"));
    return out;
  }
  auto ca = CaFromState(target);
  if (!ca.ok()) {
    out.problems.push_back(StrCat("no issued event for ", target.cert, " (its ca is unknown): ",
                                  ca.status().message()));
  }

  RenewalEvent renewal;
  renewal.cert = target.cert;
  renewal.outcome = Outcome::kSuccess;
  if (ca.ok()) renewal.ca = ToValidUtf8(*ca);
  // Whole seconds: file systems differ in sub-second precision.
  Append(Event{absl::FromTimeT(st.st_mtim.tv_sec), std::move(renewal)}, out);

  if (ca.ok()) {
    IssuedEvent issued;
    issued.cert = target.cert;
    issued.serial = facts->serial;
    issued.not_before = facts->not_before;
    issued.not_after = facts->not_after;
    issued.ca = ToValidUtf8(*ca);
    issued.names = facts->names;
    Append(Event{facts->not_before, std::move(issued)}, out);
  }
  return out;
}

Event DeployEvent(const std::string& cert, const std::string& host, bool success,
                  const std::string& detail, absl::Time now) {
  certcast::DeployEvent deploy;
  deploy.cert = cert;
  deploy.host = host;
  deploy.outcome = success ? Outcome::kSuccess : Outcome::kFailure;
  if (!detail.empty()) deploy.detail = clients::CleanDetail(detail);
  return Event{now, std::move(deploy)};
}

}  // namespace certcast::host
