// Finds ACME clients' state on this machine and turns it into `config` and `issued` events.
// A coordinator: it reads the file system and calls the pure parsers of this folder.
//
// What it looks for under the root (directories are not followed through symlinks; /proc, /sys,
// /dev and /run are skipped; depth is bounded because the default root is "/"):
//  * certbot: a directory holding renewal/ and live/ (normally /etc/letsencrypt). For each
//    renewal/NAME.conf: a config event (names from live/NAME/cert.pem) and an issued event for
//    live/NAME/cert.pem.
//  * lego: a directory holding certificates/ and accounts/ (normally ~/.lego or ./.lego). For each
//    certificates/X.json with X.crt: an issued event; a config event only when the caller names
//    the challenge (lego does not store it).
//  * acme.sh: a directory holding account.conf (normally ~/.acme.sh). For each D/D.conf (or
//    D_ecc/D.conf): a config event, and an issued event for D/D.cer.
// Event time: issued events use the certificate's notBefore and config events the file's
// modification time, so running discover again over unchanged files repeats the same lines,
// which the store drops as exact duplicates.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/status.h"

namespace certcast::clients {

struct DiscoverOptions {
  std::filesystem::path root = "/";
  int max_depth = 5;       // /etc/letsencrypt is 2 deep, /home/USER/.lego 3, /var/lib/x/.lego 4
  std::string host;        // config events' host
  std::optional<Challenge> lego_challenge;  // emit lego config events with this challenge
  std::optional<std::string> lego_ca;       // lego's --server, when known
};

struct FileIssue {
  std::string path;
  size_t line = 0;  // 0: the whole file
  std::string reason;
};

struct DiscoverOutput {
  std::vector<Event> events;
  std::vector<FileIssue> issues;
  std::vector<std::string> found;  // client state directories, "certbot /etc/letsencrypt"
};

DiscoverOutput Discover(const DiscoverOptions& options);

// One lineage's state files, read the way Discover reads them. `certcast parse` calls these for
// the files named on its command line, so each client's layout is known in this one place.
struct LineageFileOptions {
  std::string host;                          // config events' host
  std::optional<std::string> lineage;        // instead of the name the layout gives (parse --cert)
  std::optional<Challenge> lego_challenge;   // emit lego config events with this challenge
  std::optional<std::string> lego_ca;        // lego's --server, when known
};
// certbot renewal/NAME.conf: a config event (names from the certificate, else webroot_map) and an
// issued event for the certificate: live/NAME/cert.pem beside renewal/, else the conf's own
// `cert =` pointer (a conf read outside its tree).
void ReadCertbotRenewal(const std::filesystem::path& conf_path, const LineageFileOptions& options,
                        DiscoverOutput& out);
// lego certificates/DOMAIN.json with DOMAIN.crt beside it: an issued event, and a config event
// when the challenge is given (lego does not store it).
void ReadLegoCertificate(const std::filesystem::path& json_path, const LineageFileOptions& options,
                         DiscoverOutput& out);
// acme.sh DOMAIN/DOMAIN.conf: a config event, and an issued event for DOMAIN.cer beside it when
// the conf names its CA (Le_API).
void ReadAcmeShDomain(const std::filesystem::path& conf_path, const LineageFileOptions& options,
                      DiscoverOutput& out);
// The domain confs of an acme.sh home (~/.acme.sh), in name order: DOMAIN/DOMAIN.conf, or
// DOMAIN_ecc/DOMAIN.conf for an ECDSA key; its other directories (ca/, deploy/, dnsapi/) hold none.
std::vector<std::filesystem::path> AcmeShDomainConfs(const std::filesystem::path& home);

// A certificate file on its own, placed in the client's layout: the lineage it belongs to
// (certbot live/NAME/cert.pem; lego certificates/DOMAIN.crt with "_." for "*."; acme.sh
// DOMAIN.cer) and, for certbot, the CA its renewal/NAME.conf names.
struct CertificateFilePlace {
  std::string lineage;
  std::optional<std::string> ca;
};
CertificateFilePlace PlaceCertificateFile(std::string_view client, const std::filesystem::path& path);

// Reads a whole file if it is at most `max_bytes` long (I/O helper shared with the CLI).
StatusOr<std::string> ReadFileBounded(const std::filesystem::path& path, size_t max_bytes);

}  // namespace certcast::clients
