// `certcast discover`: find certbot, lego and acme.sh state and print config/issued events.
#include <iostream>
#include <map>
#include <optional>
#include <string>

#include "act/config.h"
#include "cli/command.h"
#include "collect/clients/discover.h"
#include "core/host_name.h"
#include "core/event_json.h"
#include "core/strings.h"

namespace certcast::cli {
namespace {

struct DiscoverFlags {
  std::string root = "/";
  std::string host;
  std::optional<std::string> lego_challenge;
  std::optional<std::string> lego_ca;
  std::string config;  // daemon config whose [[lineage]] tables declare alt_challenges / alt_cas
  int max_depth = 5;
  bool verbose = false;
};

int RunDiscover(const DiscoverFlags& flags) {
  clients::DiscoverOptions options;
  options.root = flags.root;
  options.host = flags.host;
  options.max_depth = flags.max_depth;
  options.lego_ca = flags.lego_ca;
  if (flags.lego_challenge) {
    options.lego_challenge = ChallengeFromString(*flags.lego_challenge);
    if (!options.lego_challenge) {
      return Fail(InvalidArgumentError(StrCat("--lego-challenge \"", *flags.lego_challenge,
                                              "\" is not http-01, dns-01 or tls-alpn-01")));
    }
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(options.root, ec)) {
    return Fail(NotFoundError(StrCat("--root ", flags.root, " is not a directory")));
  }
  std::map<std::string, act::LineageAlternatives> alternatives;
  if (!flags.config.empty()) {
    auto config = act::LoadDaemonConfig(flags.config);
    if (!config.ok()) return Fail(config.status());
    alternatives = std::move(config->alternatives);
  }
  clients::DiscoverOutput out = clients::Discover(options);
  for (Event& e : out.events) {
    // What a lineage may switch to is the owner's decision, never in the client's state.
    if (auto* config = std::get_if<ConfigEvent>(&e.body)) {
      if (auto alt = alternatives.find(config->cert); alt != alternatives.end()) {
        config->alt_challenges = alt->second.alt_challenges;
        config->alt_cas = alt->second.alt_cas;
      }
    }
    std::cout << EventToJson(e) << "\n";
  }
  std::cout << std::flush;
  if (flags.verbose) {
    for (const auto& f : out.found) std::cerr << "found " << f << "\n";
  }
  for (const auto& issue : out.issues) {
    std::cerr << issue.path;
    if (issue.line > 0) std::cerr << ":" << issue.line;
    std::cerr << ": " << issue.reason << "\n";
  }
  return out.issues.empty() ? kExitOk : kExitRejected;
}

const bool kRegistered = RegisterCommand(Command{
    "discover",
    "Find certbot, lego and acme.sh state on this machine; print config and issued events",
    41,
    [](CLI::App& sub) -> std::function<int()> {
      auto flags = std::make_shared<DiscoverFlags>();
      flags->host = LocalHostName();
      sub.description(
          "Walks the file system under --root (not through symlinks; /proc, /sys, /dev and /run "
          "skipped) for certbot's configuration directory (renewal/ and live/, normally "
          "/etc/letsencrypt), lego's (certificates/ and accounts/, normally ~/.lego) and "
          "acme.sh's (~/.acme.sh), and prints a config and an issued event per lineage. issued "
          "events are stamped with the certificate's notBefore and config events with the "
          "file's modification time, so running it again repeats identical lines. lego stores "
          "no challenge type: its config events need --lego-challenge. Unusable files are "
          "reported on stderr as FILE: reason (exit 1).");
      sub.add_option("--root", flags->root, "Directory to search")->capture_default_str();
      sub.add_option("--max-depth", flags->max_depth, "How many directory levels to descend")
          ->capture_default_str()
          ->check(CLI::Range(0, 32));
      sub.add_option("--host", flags->host,
                     "Host of config events (default: this machine's name, from gethostname)");
      sub.add_option("--lego-challenge", flags->lego_challenge,
                     "Emit lego config events with this challenge (http-01, dns-01, "
                     "tls-alpn-01)");
      sub.add_option("--lego-ca", flags->lego_ca,
                     "lego's ACME directory URL (default: Let's Encrypt when the certificate URL "
                     "is on its host, else the URL's origin)");
      sub.add_option("--config", flags->config,
                     "certcast run's config file: its [[lineage]] alt_challenges and alt_cas go "
                     "into the config events of those lineages (what certcast may switch to)");
      sub.add_flag("--verbose", flags->verbose, "List the client directories found on stderr");
      sub.footer(
          "Examples:\n"
          "  certcast discover > state.jsonl && certcast ingest state.jsonl\n"
          "  certcast discover --root /srv/www --lego-challenge http-01 --verbose\n"
          "  certcast discover --root /etc/letsencrypt --config /etc/certcast/certcast.toml");
      return [flags] { return RunDiscover(*flags); };
    }});

}  // namespace
}  // namespace certcast::cli
