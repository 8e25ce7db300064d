#include "collect/clients/discover.h"

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <system_error>

#include "collect/clients/acme_sh.h"
#include "collect/clients/certbot_renewal_conf.h"
#include "collect/clients/certificate.h"
#include "collect/clients/common.h"
#include "collect/clients/lego_state.h"
#include "core/strings.h"

namespace certcast::clients {
namespace fs = std::filesystem;
namespace {

absl::Time ModificationTime(const fs::path& path) {
  struct stat st = {};
  if (::stat(path.c_str(), &st) != 0) return absl::UnixEpoch();
  // Whole seconds: file systems differ in sub-second precision, and a copy keeps the seconds.
  return absl::FromTimeT(st.st_mtim.tv_sec);
}

bool IsDirectory(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(fs::symlink_status(p, ec)) && !ec;
}

std::vector<fs::path> SortedEntries(const fs::path& dir, std::string_view extension) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    if (extension.empty() ? it->is_directory(ec) : it->path().extension() == extension) {
      out.push_back(it->path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// certbot's default server when its conf names none.
constexpr std::string_view kCertbotDefaultServer = "https://acme-v02.api.letsencrypt.org/directory";

void Report(DiscoverOutput& out, const fs::path& path, std::string_view reason) {
  out.issues.push_back({path.string(), 0, std::string(reason)});
}

template <typename T>
bool Ok(const StatusOr<T>& value, const fs::path& path, DiscoverOutput& out) {
  if (value.ok()) return true;
  Report(out, path, value.status().message());
  return false;
}

std::optional<CertificateFacts> ReadCertificate(const fs::path& path, DiscoverOutput& out) {
  auto data = ReadFileBounded(path, kMaxCertificateFileBytes);
  if (!Ok(data, path, out)) return std::nullopt;
  auto facts = ParseCertificate(*data);
  if (!Ok(facts, path, out)) return std::nullopt;
  return *facts;
}

// Events built here (not by a parser) pass the same check as the parsers' own.
void Emit(Event event, const fs::path& path, DiscoverOutput& out) {
  ParseOutput checked;
  if (Finish(std::move(event), 0, checked)) {
    out.events.push_back(std::move(checked.events.front()));
  } else {
    Report(out, path, checked.issues.front().reason);
  }
}

void EmitIssued(std::string lineage, const CertificateFacts& cert, std::string ca, const fs::path& path,
                DiscoverOutput& out) {
  IssuedEvent e;
  e.cert = std::move(lineage);
  e.serial = cert.serial;
  e.not_before = cert.not_before;
  e.not_after = cert.not_after;
  e.ca = std::move(ca);
  e.names = cert.names;
  Emit(Event{cert.not_before, std::move(e)}, path, out);
}

class Discoverer {
 public:
  Discoverer(const DiscoverOptions& options, DiscoverOutput& out) : out_(out) {
    files_.host = options.host;
    files_.lego_challenge = options.lego_challenge;
    files_.lego_ca = options.lego_ca;
  }

  void Certbot(const fs::path& dir) {
    out_.found.push_back(StrCat("certbot ", dir.string()));
    for (const fs::path& conf_path : SortedEntries(dir / "renewal", ".conf")) {
      ReadCertbotRenewal(conf_path, files_, out_);
    }
  }

  void Lego(const fs::path& dir) {
    out_.found.push_back(StrCat("lego ", dir.string()));
    for (const fs::path& json_path : SortedEntries(dir / "certificates", ".json")) {
      ReadLegoCertificate(json_path, files_, out_);
    }
  }

  void AcmeSh(const fs::path& dir) {
    out_.found.push_back(StrCat("acme.sh ", dir.string()));
    for (const fs::path& conf_path : AcmeShDomainConfs(dir)) ReadAcmeShDomain(conf_path, files_, out_);
  }

 private:
  LineageFileOptions files_;
  DiscoverOutput& out_;
};

}  // namespace

std::vector<fs::path> AcmeShDomainConfs(const fs::path& home) {
  std::vector<fs::path> confs;
  for (const fs::path& domain_dir : SortedEntries(home, "")) {
    std::string domain = domain_dir.filename().string();
    if (domain.size() > 4 && domain.ends_with("_ecc")) domain.resize(domain.size() - 4);
    fs::path conf_path = domain_dir / (domain + ".conf");
    std::error_code ec;
    if (fs::is_regular_file(conf_path, ec)) confs.push_back(std::move(conf_path));
  }
  return confs;
}

StatusOr<std::string> ReadFileBounded(const fs::path& path, size_t max_bytes) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return NotFoundError(StrCat(path.string(), ": not a readable file"));
  }
  const auto size = fs::file_size(path, ec);
  if (ec) return NotFoundError(StrCat(path.string(), ": ", ec.message()));
  if (size > max_bytes) {
    return ResourceExhaustedError(StrCat("file larger than ", max_bytes, " bytes"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(StrCat(path.string(), ": cannot open"));
  std::string data(size, '\0');
  in.read(data.data(), static_cast<std::streamsize>(size));
  data.resize(static_cast<size_t>(in.gcount()));
  return data;
}

void ReadCertbotRenewal(const fs::path& conf_path, const LineageFileOptions& options, DiscoverOutput& out) {
  auto text = ReadFileBounded(conf_path, kMaxRenewalConfBytes);
  if (!Ok(text, conf_path, out)) return;
  auto conf = ParseCertbotRenewalConf(*text);
  if (!Ok(conf, conf_path, out)) return;
  const std::string lineage = options.lineage.value_or(conf_path.stem().string());
  const fs::path layout_path = conf_path.parent_path().parent_path() / "live" / lineage / "cert.pem";
  fs::path cert_path = layout_path;
  std::error_code ec;
  // The conf's own pointer only when the layout has no certificate and the pointer leads to one
  // (a conf read outside its tree); otherwise what is reported is the layout's path.
  if (!fs::exists(layout_path, ec) && conf->cert_path && fs::exists(*conf->cert_path, ec)) {
    cert_path = *conf->cert_path;
  }
  std::optional<CertificateFacts> cert = ReadCertificate(cert_path, out);
  CertbotConfigInputs inputs;
  inputs.lineage = lineage;
  inputs.host = options.host;
  inputs.names = cert ? cert->names : conf->webroot_domains;
  inputs.ts = ModificationTime(conf_path);
  if (inputs.names.empty()) {
    Report(out, conf_path,
           StrCat("no names: ", cert_path.lexically_normal().string(), " is unreadable and webroot_map is empty"));
  } else {
    auto event = CertbotConfigEvent(*conf, inputs);
    if (Ok(event, conf_path, out)) out.events.push_back(std::move(*event));
  }
  if (cert) EmitIssued(lineage, *cert, conf->server.value_or(std::string(kCertbotDefaultServer)), cert_path, out);
}

void ReadLegoCertificate(const fs::path& json_path, const LineageFileOptions& options, DiscoverOutput& out) {
  auto text = ReadFileBounded(json_path, kMaxLegoResourceBytes);
  if (!Ok(text, json_path, out)) return;
  auto resource = ParseLegoResource(*text);
  if (!Ok(resource, json_path, out)) return;
  fs::path crt = json_path;
  crt.replace_extension(".crt");
  auto cert = ReadCertificate(crt, out);
  if (!cert) return;
  const std::string ca = LegoCa(*resource, options.lego_ca);
  auto issued = LegoIssuedEvent(*resource, *cert, ca);
  if (Ok(issued, crt, out)) out.events.push_back(std::move(*issued));
  if (options.lego_challenge) {
    LegoConfigInputs inputs;
    inputs.host = options.host;
    inputs.challenge = *options.lego_challenge;
    inputs.ts = ModificationTime(json_path);
    auto config = LegoConfigEvent(*resource, *cert, ca, inputs);
    if (Ok(config, json_path, out)) out.events.push_back(std::move(*config));
  }
}

void ReadAcmeShDomain(const fs::path& conf_path, const LineageFileOptions& options, DiscoverOutput& out) {
  auto text = ReadFileBounded(conf_path, kMaxAcmeShConfBytes);
  if (!Ok(text, conf_path, out)) return;
  auto conf = ParseAcmeShDomainConf(*text);
  if (!Ok(conf, conf_path, out)) return;
  auto config = AcmeShConfigEvent(*conf, options.host, ModificationTime(conf_path));
  if (Ok(config, conf_path, out)) out.events.push_back(std::move(*config));
  const fs::path cer = conf_path.parent_path() / (conf_path.stem().string() + ".cer");
  std::error_code ec;
  if (!fs::exists(cer, ec) || !conf->api) return;
  if (auto cert = ReadCertificate(cer, out)) {
    EmitIssued(conf->domain, *cert, *conf->api, cer, out);
  }
}

CertificateFilePlace PlaceCertificateFile(std::string_view client, const fs::path& path) {
  CertificateFilePlace place;
  if (client == "certbot") {
    // live/NAME/cert.pem; renewal/NAME.conf two levels up names the server.
    place.lineage = path.parent_path().filename().string();
    const fs::path conf_path = path.parent_path() / ".." / ".." / "renewal" / (place.lineage + ".conf");
    if (auto text = ReadFileBounded(conf_path, kMaxRenewalConfBytes); text.ok()) {
      if (auto conf = ParseCertbotRenewalConf(*text); conf.ok()) {
        place.ca = conf->server.value_or(std::string(kCertbotDefaultServer));
      }
    }
    return place;
  }
  place.lineage = path.stem().string();  // lego DOMAIN.crt, acme.sh DOMAIN.cer
  if (client == "lego" && place.lineage.starts_with("_.")) place.lineage.replace(0, 1, "*");
  return place;
}

DiscoverOutput Discover(const DiscoverOptions& options) {
  DiscoverOutput out;
  Discoverer discoverer(options, out);
  std::error_code ec;
  // Breadth-first over directories so that what is found is reported in a stable, sorted order.
  std::vector<std::pair<fs::path, int>> queue = {{options.root, 0}};
  for (size_t i = 0; i < queue.size(); ++i) {
    const auto [dir, depth] = queue[i];
    const std::string name = dir.filename().string();
    if (dir != options.root && dir.parent_path() == options.root &&
        (name == "proc" || name == "sys" || name == "dev" || name == "run")) {
      continue;  // kernel and runtime file systems: no client state, and huge
    }
    if (IsDirectory(dir / "renewal") && IsDirectory(dir / "live")) {
      discoverer.Certbot(dir);
      continue;
    }
    if (IsDirectory(dir / "certificates") && IsDirectory(dir / "accounts")) {
      discoverer.Lego(dir);
      continue;
    }
    if (fs::is_regular_file(dir / "account.conf", ec) && name == ".acme.sh") {
      discoverer.AcmeSh(dir);
      continue;
    }
    if (depth >= options.max_depth) continue;
    for (const fs::path& child : SortedEntries(dir, "")) {
      if (IsDirectory(child)) queue.push_back({child, depth + 1});
    }
  }
  return out;
}

}  // namespace certcast::clients
