// The daemon's configuration file (TOML), also read by `plan --config` for its [policy] table.
// Every field has a working default; unknown keys are errors (a typo in a safety setting must not
// pass silently). Example: docs/policy.md, "Configuration".
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/event.h"
#include "core/status.h"
#include "alert/alert.h"
#include "alert/alertmanager.h"
#include "policy/policy.h"

namespace certcast::act {

// How to run one ACME client. Names and paths are passed as argv elements, never through a shell.
struct ClientSettings {
  std::string kind = "certbot";  // certbot | lego | acme.sh
  std::string path;              // executable; default: the kind's name, looked up in PATH
  absl::Duration timeout = absl::Minutes(10);
  std::vector<std::string> extra_args;
  // The CA that dry runs validate against (certbot --dry-run --server, lego run --server,
  // acme.sh --staging): the staging CA of the lineages' CA.
  std::string staging_server = "https://acme-staging-v02.api.letsencrypt.org/directory";
  // Challenge plumbing a switch needs.
  std::string webroot;       // http-01 with a webroot (certbot --webroot-path, lego --http.webroot)
  std::string dns_provider;  // dns-01 plugin: certbot "dns-cloudflare", lego "cloudflare", acme.sh "dns_cf"
  // Arguments that select a challenge, in place of the flags made from dns_provider / webroot,
  // for plugins that need more than a name (certbot ["--dns-rfc2136",
  // "--dns-rfc2136-credentials", "/etc/letsencrypt/rfc2136.ini"], or manual hooks). certbot and
  // acme.sh get them when certcast switches to that challenge (they remember the lineage's own);
  // lego on every run of that challenge (it remembers none).
  std::vector<std::string> dns01_args;
  std::vector<std::string> http01_args;
  std::string email;         // lego needs it
  std::string lego_path;     // lego --path (its state directory)
  // Variables the client gets besides the few every child inherits (act/process.h,
  // kInheritedVariables): a DNS plugin's token for lego (CLOUDFLARE_DNS_API_TOKEN), acme.sh's
  // CF_Token. Never logged.
  std::map<std::string, std::string> env;
};

struct CommandSettings {
  std::vector<std::string> argv;
  absl::Duration timeout = absl::Minutes(1);
  std::map<std::string, std::string> env;  // besides the inherited few (see ClientSettings::env)
};

struct CollectorSettings {
  std::string name;
  std::vector<std::string> argv;  // prints events-v1 lines on stdout
  absl::Duration every = absl::Hours(1);
  absl::Duration timeout = absl::Minutes(2);
  std::map<std::string, std::string> env;  // besides the inherited few (see ClientSettings::env)
};

struct AlertSettings {
  std::string webhook;  // JSON POST; "" = none
  std::vector<std::string> command;  // gets the alert JSON on stdin; empty = none
  absl::Duration timeout = absl::Seconds(30);
  std::map<std::string, std::string> env;  // for the command, besides the inherited few
  // Incidents (src/alert, docs/alerts.md): the planner's alerts go through the alert core, which
  // groups them by cause, pages only near the deadline and sends notices per incident (to the
  // webhook, the command and Alertmanager) instead of one alert per lineage. On by default when
  // an Alertmanager is configured.
  bool incidents = false;
  alert::AlertPolicy policy;              // [alert] page_within, ticket_within, ... (durations)
  alert::AlertmanagerSettings alertmanager;  // [alert] alertmanager = URL, alertmanager_labels
};

// What a lineage may switch to, as its owner declares it in [[lineage]]; `certcast discover
// --config` copies it into the lineage's config events (the clients' own state never says).
struct LineageAlternatives {
  std::vector<Challenge> alt_challenges;
  std::vector<std::string> alt_cas;
};

struct DaemonConfig {
  std::string db = "certcast.db";
  std::string model;  // "" = decide on facts alone (risk 0)
  absl::Duration interval = absl::Hours(1);  // one collect-ingest-score-plan-act cycle
  bool dry_run = false;                      // log what would run; run nothing
  // Per-lineage lock files. "" = "locks" in the state directory (the directory of `db`), created
  // 0700. Whatever the path, it must be owned by the daemon's uid and not writable by group or
  // others, or every renewal is refused with an error naming it.
  std::string lock_dir;
  // Wall time the renewal-track actions (renew, dry run, reload) of one cycle may start in,
  // counted after the alerts (which go first). An action not started within it is deferred to
  // the next cycle (logged and audited as "deferred"), so one hung CA holds the fleet for at most
  // this plus one client timeout.
  absl::Duration action_budget = absl::Minutes(30);
  // CAs (ACME directory URLs) an action may pass to a client's --server, besides each lineage's
  // [[lineage]] alt_cas and the clients' staging_server. Events (discover, collectors, the
  // spool) may propose any CA; one not allowed here becomes an alert, never a command.
  std::vector<std::string> allowed_cas = {"https://acme-v02.api.letsencrypt.org/directory"};
  // Challenges certcast may select on a client's command line (a switch; lego on every run),
  // besides each lineage's [[lineage]] alt_challenges and those the client has plumbing for
  // (dns-01 with dns_provider or dns01_args, http-01 with webroot or http01_args).
  std::vector<Challenge> allowed_challenges;
  policy::PolicyConfig policy;
  ClientSettings client;                              // default for every lineage
  std::map<std::string, ClientSettings> lineages;     // per-cert overrides
  std::map<std::string, LineageAlternatives> alternatives;  // per cert, from [[lineage]]
  std::map<std::string, CommandSettings> reload;      // per host; "*" = any host
  AlertSettings alert;
  std::vector<CollectorSettings> collectors;
};

// Where the daemon keeps its own files: the directory of `db` ("." for a bare file name).
std::string StateDirectory(const DaemonConfig& config);
// `lock_dir`, or StateDirectory()/locks when it is empty.
std::string LockDirectory(const DaemonConfig& config);

// Parses TOML text; errors name the key ("policy.dry_run_risk: expected a number in [0, 1]").
StatusOr<DaemonConfig> ParseDaemonConfig(std::string_view toml_text);
StatusOr<DaemonConfig> LoadDaemonConfig(const std::string& path);

}  // namespace certcast::act
