// `certcast hook`: what an ACME client's hook environment says about the certificate it has just
// obtained, turned into events-v1 records. The ACME clients call a hook only after a successful
// issuance, so the events are a `renewal` success and the `issued` certificate.
//
// Hook environments, per client version (confirmed in each client's source):
//  * certbot 2.1, --deploy-hook (renewal-hooks/deploy/): RENEWED_LINEAGE, the live directory
//    ("/etc/letsencrypt/live/shop"), and RENEWED_DOMAINS ("shop.example.com www.shop.example.com").
//    Post hooks get no variables before certbot 2.7 (and RENEWED_DOMAINS/FAILED_DOMAINS stayed
//    empty on failures until 4.x), so only the deploy hook names a lineage.
//  * lego 4.9.1 (Debian 12), --run-hook (run) and --renew-hook (renew), run only after a
//    certificate was saved; lego splits the hook on spaces and runs it without a shell, with a
//    120 s timeout. Measured with a hook that dumps its environment, against pebble: both set
//    LEGO_ACCOUNT_EMAIL, LEGO_CERT_DOMAIN (the main domain, lego's lineage name), LEGO_CERT_PATH
//    (certificates/DOMAIN.crt, leaf first) and LEGO_CERT_KEY_PATH. LEGO_CERT_PEM_PATH and
//    LEGO_CERT_PFX_PATH are never set by run, even with --pem --pfx, and always by renew, even
//    without them, naming files lego did not write. Later 4.x add LEGO_ISSUER_CERT_PATH; lego 5
//    renames all to LEGO_HOOK_* (LEGO_HOOK_CERT_NAME, LEGO_HOOK_CERT_PATH, ...) for its
//    --deploy-hook, which is refused with a message saying so.
//    Read: LEGO_CERT_DOMAIN and LEGO_CERT_PATH only. The key path feeds no event field (no
//    events-v1 field describes the key), the PEM and PFX bundles hold the same certificate as
//    DOMAIN.crt, and their variables cannot be trusted to name a real file anyway.
//  * acme.sh 3.x, --reloadcmd (run by _installcert after every issuance and by --install-cert)
//    and --renew-hook: CERT_PATH (DOMAIN.cer, the leaf), CERT_KEY_PATH, CA_CERT_PATH,
//    CERT_FULLCHAIN_PATH and Le_Domain (the main domain, acme.sh's lineage name), in a shell
//    whose working directory is the domain's folder.
//
// Lineage names match `certcast parse` and `certcast discover`: certbot's lineage directory
// name, lego's and acme.sh's main domain.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/event.h"
#include "core/status.h"

namespace certcast::host {

// What the environment names: the lineage, its new certificate and the client state that says
// which CA issued it.
struct HookTarget {
  Client client = Client::kOther;
  std::string cert;                          // lineage name
  std::filesystem::path certificate;         // the new certificate, leaf first
  std::filesystem::path state;               // certbot renewal/NAME.conf, lego DOMAIN.json, acme.sh DOMAIN.conf
  bool operator==(const HookTarget&) const = default;
};

// certbot, lego or acme.sh (the clients that have hooks and host probes) by name; nullopt for
// any other text.
std::optional<Client> HostClientFromName(std::string_view name);

// Maps a hook environment (variable name -> value) to its target. Pure. Errors
// (InvalidArgument) name the variable and how the hook should be installed, e.g.
// "RENEWED_LINEAGE is not set: run `certcast hook certbot` as certbot's --deploy-hook".
// `client` must be certbot, lego or acme.sh.
StatusOr<HookTarget> HookTargetFromEnvironment(Client client,
                                               const std::map<std::string, std::string>& environment);

// The hook's events and the problems met on the way (each a sentence naming the file).
struct HookEvents {
  std::vector<Event> events;
  std::vector<std::string> problems;
};

// Reads the certificate and the client state named by `target` and returns:
//  * `issued` stamped with the certificate's notBefore, with `ca` from the client state (certbot:
//    the conf's `server`, else Let's Encrypt; lego: LegoCa; acme.sh: Le_API), exactly the line
//    `certcast discover` prints for the same certificate, so the store keeps one of them;
//  * `renewal` success stamped with the certificate file's modification time (whole seconds):
//    when the client saved it. Not `now`, because acme.sh runs its reload command again on every
//    --install-cert and a hook may be run by hand: the same certificate then gives the same line,
//    which the store drops as a duplicate, instead of a new success that would end a failure
//    episode that is still going on.
// An unreadable certificate gives no event (both need it); unreadable state gives the renewal
// without `ca` and no `issued` (whose `ca` is required).
HookEvents RenewalEvents(const HookTarget& target);

// A `deploy` event for a reload command run by the hook.
Event DeployEvent(const std::string& cert, const std::string& host, bool success,
                  const std::string& detail, absl::Time now);

}  // namespace certcast::host
