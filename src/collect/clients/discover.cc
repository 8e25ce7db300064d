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

class Discoverer {
 public:
  Discoverer(const DiscoverOptions& options, DiscoverOutput& out) : options_(options), out_(out) {}

  void Certbot(const fs::path& dir) {
    out_.found.push_back(StrCat("certbot ", dir.string()));
    for (const fs::path& conf_path : SortedEntries(dir / "renewal", ".conf")) {
      const std::string lineage = conf_path.stem().string();
      auto text = ReadFileBounded(conf_path, kMaxRenewalConfBytes);
      if (!Ok(text, conf_path)) continue;
      auto conf = ParseCertbotRenewalConf(*text);
      if (!Ok(conf, conf_path)) continue;
      // certbot's own pointer first; the standard place if the conf was moved with the tree.
      fs::path cert_path = dir / "live" / lineage / "cert.pem";
      std::optional<CertificateFacts> cert = ReadCertificate(cert_path);
      const std::string ca =
          conf->server.value_or("https://acme-v02.api.letsencrypt.org/directory");
      CertbotConfigInputs inputs;
      inputs.lineage = lineage;
      inputs.host = options_.host;
      inputs.names = cert ? cert->names : conf->webroot_domains;
      inputs.ts = ModificationTime(conf_path);
      if (inputs.names.empty()) {
        Issue(conf_path, "no names: live/NAME/cert.pem is unreadable and webroot_map is empty");
      } else {
        auto event = CertbotConfigEvent(*conf, inputs);
        if (Ok(event, conf_path)) out_.events.push_back(std::move(*event));
      }
      if (cert) {
        IssuedEvent e;
        e.cert = lineage;
        e.serial = cert->serial;
        e.not_before = cert->not_before;
        e.not_after = cert->not_after;
        e.ca = ca;
        e.names = cert->names;
        Finish(Event{cert->not_before, std::move(e)}, cert_path);
      }
    }
  }

  void Lego(const fs::path& dir) {
    out_.found.push_back(StrCat("lego ", dir.string()));
    for (const fs::path& json_path : SortedEntries(dir / "certificates", ".json")) {
      auto text = ReadFileBounded(json_path, kMaxLegoResourceBytes);
      if (!Ok(text, json_path)) continue;
      auto resource = ParseLegoResource(*text);
      if (!Ok(resource, json_path)) continue;
      fs::path crt = json_path;
      crt.replace_extension(".crt");
      auto cert = ReadCertificate(crt);
      if (!cert) continue;
      const std::string ca = LegoCa(*resource, options_.lego_ca);
      auto issued = LegoIssuedEvent(*resource, *cert, ca);
      if (Ok(issued, crt)) out_.events.push_back(std::move(*issued));
      if (options_.lego_challenge) {
        LegoConfigInputs inputs;
        inputs.host = options_.host;
        inputs.challenge = *options_.lego_challenge;
        inputs.ts = ModificationTime(json_path);
        auto config = LegoConfigEvent(*resource, *cert, ca, inputs);
        if (Ok(config, json_path)) out_.events.push_back(std::move(*config));
      }
    }
  }

  void AcmeSh(const fs::path& dir) {
    out_.found.push_back(StrCat("acme.sh ", dir.string()));
    for (const fs::path& domain_dir : SortedEntries(dir, "")) {
      std::string domain = domain_dir.filename().string();
      if (domain.size() > 4 && domain.ends_with("_ecc")) domain.resize(domain.size() - 4);
      const fs::path conf_path = domain_dir / (domain + ".conf");
      std::error_code ec;
      if (!fs::is_regular_file(conf_path, ec)) continue;  // ca/, deploy/, dnsapi/, ...
      auto text = ReadFileBounded(conf_path, kMaxAcmeShConfBytes);
      if (!Ok(text, conf_path)) continue;
      auto conf = ParseAcmeShDomainConf(*text);
      if (!Ok(conf, conf_path)) continue;
      auto config = AcmeShConfigEvent(*conf, options_.host, ModificationTime(conf_path));
      if (Ok(config, conf_path)) out_.events.push_back(std::move(*config));
      const fs::path cer = domain_dir / (domain + ".cer");
      if (!fs::exists(cer, ec) || !conf->api) continue;
      if (auto cert = ReadCertificate(cer)) {
        IssuedEvent e;
        e.cert = conf->domain;
        e.serial = cert->serial;
        e.not_before = cert->not_before;
        e.not_after = cert->not_after;
        e.ca = *conf->api;
        e.names = cert->names;
        Finish(Event{cert->not_before, std::move(e)}, cer);
      }
    }
  }

 private:
  template <typename T>
  bool Ok(const StatusOr<T>& value, const fs::path& path) {
    if (value.ok()) return true;
    Issue(path, value.status().message());
    return false;
  }

  void Issue(const fs::path& path, std::string reason) {
    out_.issues.push_back({path.string(), 0, std::move(reason)});
  }

  std::optional<CertificateFacts> ReadCertificate(const fs::path& path) {
    auto data = ReadFileBounded(path, kMaxCertificateFileBytes);
    if (!Ok(data, path)) return std::nullopt;
    auto facts = ParseCertificate(*data);
    if (!Ok(facts, path)) return std::nullopt;
    return *facts;
  }

  void Finish(Event event, const fs::path& path) {
    ParseOutput checked;
    if (clients::Finish(std::move(event), 0, checked)) {
      out_.events.push_back(std::move(checked.events.front()));
    } else {
      Issue(path, checked.issues.front().reason);
    }
  }

  const DiscoverOptions& options_;
  DiscoverOutput& out_;
};

}  // namespace

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
