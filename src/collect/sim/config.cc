// Simulator configuration: defaults, presets, TOML overrides and validation.
#include <cmath>
#include <string>

#include "collect/sim/simulator.h"
#include "core/strings.h"
#include "core/time.h"
#include "toml++/toml.h"

namespace certcast::sim {
namespace {

struct VariantInfo {
  std::string_view name, cause, scope;
  double rate, silent, heal, heal_hours;
};
constexpr VariantInfo kVariantInfo[] = {
#define CERTCAST_SIM_X(name, cause, scope, rate, silent, heal, heal_h) \
  {#name, #cause, #scope, rate, silent, heal, heal_h},
    CERTCAST_SIM_VARIANTS(CERTCAST_SIM_X)
#undef CERTCAST_SIM_X
};
struct LookAlikeInfo {
  std::string_view name, scope;
  double rate;
};
constexpr LookAlikeInfo kLookAlikeInfo[] = {
#define CERTCAST_SIM_X(name, scope, rate) {#name, #scope, rate},
    CERTCAST_SIM_LOOKALIKES(CERTCAST_SIM_X)
#undef CERTCAST_SIM_X
};

// Every scalar a TOML file may override, by name. Doubles only; integers are converted.
struct Field {
  std::string_view name;
  double SimConfig::*member;
  double min, max;
};
constexpr Field kFields[] = {
    {"randomize_sigma", &SimConfig::randomize_sigma, 0, 2},
    {"lineages_per_host", &SimConfig::lineages_per_host, 1, 100000},
    {"hosts_per_org", &SimConfig::hosts_per_org, 1, 100000},
    {"domains_per_org", &SimConfig::domains_per_org, 1, 100000},
    {"extra_names_per_lineage", &SimConfig::extra_names_per_lineage, 0, 20},
    {"wildcard_share", &SimConfig::wildcard_share, 0, 1},
    {"shared_domain_share", &SimConfig::shared_domain_share, 0, 1},
    {"cdn_share", &SimConfig::cdn_share, 0, 1},
    {"ipv6_share", &SimConfig::ipv6_share, 0, 1},
    {"dnssec_share", &SimConfig::dnssec_share, 0, 1},
    {"caa_share", &SimConfig::caa_share, 0, 1},
    {"acme_cname_share", &SimConfig::acme_cname_share, 0, 1},
    {"w_certbot", &SimConfig::w_certbot, 0, 1000},
    {"w_certbot_old", &SimConfig::w_certbot_old, 0, 1000},
    {"w_lego", &SimConfig::w_lego, 0, 1000},
    {"w_lego_v5", &SimConfig::w_lego_v5, 0, 1000},
    {"w_acmesh", &SimConfig::w_acmesh, 0, 1000},
    {"w_acmesh_old", &SimConfig::w_acmesh_old, 0, 1000},
    {"w_cert_manager", &SimConfig::w_cert_manager, 0, 1000},
    {"w_caddy", &SimConfig::w_caddy, 0, 1000},
    {"w_other", &SimConfig::w_other, 0, 1000},
    {"ari_share", &SimConfig::ari_share, 0, 1},
    {"days_left_override_share", &SimConfig::days_left_override_share, 0, 1},
    {"dns01_share", &SimConfig::dns01_share, 0, 1},
    {"tlsalpn_share", &SimConfig::tlsalpn_share, 0, 1},
    {"alt_challenge_share", &SimConfig::alt_challenge_share, 0, 1},
    {"ca_zerossl_share", &SimConfig::ca_zerossl_share, 0, 1},
    {"ca_google_share", &SimConfig::ca_google_share, 0, 1},
    {"alt_ca_share", &SimConfig::alt_ca_share, 0, 1},
    {"profile_tlsserver_share", &SimConfig::profile_tlsserver_share, 0, 1},
    {"profile_shortlived_share", &SimConfig::profile_shortlived_share, 0, 1},
    {"legacy_profile_share", &SimConfig::legacy_profile_share, 0, 1},
    {"abandoned_share", &SimConfig::abandoned_share, 0, 1},
    {"transient_failure", &SimConfig::transient_failure, 0, 1},
    {"probe_flake", &SimConfig::probe_flake, 0, 1},
    {"notices_failures_share", &SimConfig::notices_failures_share, 0, 1},
    {"notice_failure_hours", &SimConfig::notice_failure_hours, 0.01, 1e5},
    {"notice_outage_hours", &SimConfig::notice_outage_hours, 0.01, 1e5},
    {"fix_hours", &SimConfig::fix_hours, 0.01, 1e5},
    {"alert_fix_hours", &SimConfig::alert_fix_hours, 0.01, 1e5},
    {"trust_penalty", &SimConfig::trust_penalty, 0, 1},
};

Status SetVariant(SimConfig& c, std::string_view name, std::string_view key, double v) {
  for (int i = 0; i < kVariantCount; ++i) {
    if (kVariantInfo[i].name != name) continue;
    auto& p = c.variants[i];
    if (key == "rate") {
      if (!(v >= 0 && v <= 1000)) return InvalidArgumentError(StrCat("variants.", name, ".rate: out of range 0..1000"));
      p.rate = v;
    } else if (key == "silent" || key == "heal") {
      if (!(v >= 0 && v <= 1)) return InvalidArgumentError(StrCat("variants.", name, ".", key, ": out of range 0..1"));
      (key == "silent" ? p.silent : p.heal) = v;
    } else if (key == "heal_hours") {
      if (!(v >= 0 && v <= 1e5)) return InvalidArgumentError(StrCat("variants.", name, ".heal_hours: out of range"));
      p.heal_hours = v;
    } else {
      return InvalidArgumentError(StrCat("variants.", name, ": unknown key \"", key,
                                         "\" (rate, silent, heal, heal_hours)"));
    }
    return OkStatus();
  }
  return InvalidArgumentError(StrCat("variants: unknown fault variant \"", name, "\""));
}

}  // namespace

std::string_view VariantName(Variant v) { return kVariantInfo[static_cast<int>(v)].name; }
std::string_view VariantCause(Variant v) { return kVariantInfo[static_cast<int>(v)].cause; }
std::string_view LookAlikeName(LookAlike l) { return kLookAlikeInfo[static_cast<int>(l)].name; }
std::string_view VariantScope(Variant v) { return kVariantInfo[static_cast<int>(v)].scope; }
std::string_view LookAlikeScope(LookAlike l) { return kLookAlikeInfo[static_cast<int>(l)].scope; }

SimConfig::SimConfig() {
  for (int i = 0; i < kVariantCount; ++i) {
    variants[i] = {kVariantInfo[i].rate, kVariantInfo[i].silent, kVariantInfo[i].heal,
                   kVariantInfo[i].heal_hours};
  }
  for (int i = 0; i < kLookAlikeCount; ++i) lookalike_rates[i] = kLookAlikeInfo[i].rate;
}

StatusOr<SimConfig> PresetConfig(std::string_view name) {
  SimConfig c;
  c.preset = std::string(name);
  auto v = [&c](Variant x) -> SimConfig::VariantParams& { return c.variants[static_cast<int>(x)]; };
  if (name == "small") return c;
  if (name == "hosting") {
    // A provider: hundreds of customer lineages per web server, customers who move their DNS
    // away (the "zombie" pattern LE describes), customer subdomains under the provider's domain.
    c.lineages_per_host = 120;
    c.hosts_per_org = 1;
    c.domains_per_org = 1;
    c.shared_domain_share = 0.3;
    c.w_certbot = 0.45; c.w_acmesh = 0.25; c.w_acmesh_old = 0.08; c.w_lego = 0.05;
    c.w_cert_manager = 0.0; c.w_caddy = 0.05; c.w_certbot_old = 0.07; c.w_other = 0.05;
    c.dns01_share = 0.03;
    c.notices_failures_share = 0.5;
    v(Variant::k_dns_a_moved).rate = 0.08;
    v(Variant::k_domain_lapsed).rate = 0.03;
    v(Variant::k_http01_firewall).rate = 0.2;  // per host: one host carries 120 lineages
    v(Variant::k_http01_port_closed).rate = 0.1;
    v(Variant::k_local_disk_full).rate = 0.15;
    v(Variant::k_local_scheduler_lost).rate = 0.05;
    v(Variant::k_ratelimit_san_burst).rate = 0.6;
    c.abandoned_share = 0.4;
    return c;
  }
  if (name == "k8s") {
    // Clusters running cert-manager: DNS-01 common, redeploy loops, many lineages per cluster.
    c.lineages_per_host = 40;
    c.hosts_per_org = 3;
    c.domains_per_org = 3;
    c.w_certbot = 0.02; c.w_certbot_old = 0; c.w_lego = 0.03; c.w_lego_v5 = 0.02;
    c.w_acmesh = 0.01; c.w_acmesh_old = 0; c.w_cert_manager = 0.8; c.w_caddy = 0.12;
    c.w_other = 0;
    c.dns01_share = 0.5;
    c.wildcard_share = 0.2;
    c.notices_failures_share = 0.6;  // kube events and alerting on Certificate readiness
    v(Variant::k_ratelimit_redeploy_loop).rate = 0.04;
    v(Variant::k_dns01_token_expired).rate = 0.3;
    v(Variant::k_stale_hook_missing).rate = 0.005;  // the ingress reads the secret itself
    v(Variant::k_local_scheduler_lost).rate = 0.01;
    return c;
  }
  return InvalidArgumentError(StrCat("unknown preset \"", name, "\" (small, hosting, k8s)"));
}

Status ApplyToml(std::string_view toml_text, SimConfig& c) {
  if (toml_text.size() > (1 << 20)) return InvalidArgumentError("config file larger than 1 MiB");
  toml::table root;
  try {
    root = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    return InvalidArgumentError(StrCat("TOML line ", int64_t(e.source().begin.line), ": ",
                                       std::string_view(e.description())));
  }
  auto number = [](const toml::node& n, std::string_view key) -> StatusOr<double> {
    if (auto d = n.value<double>()) return *d;
    return InvalidArgumentError(StrCat(key, ": not a number"));
  };
  for (auto&& [k, node] : root) {
    const std::string_view key = k.str();
    if (key == "variants") {
      const toml::table* t = node.as_table();
      if (!t) return InvalidArgumentError("variants: not a table");
      for (auto&& [vk, vnode] : *t) {
        const toml::table* vt = vnode.as_table();
        if (!vt) return InvalidArgumentError(StrCat("variants.", vk.str(), ": not a table"));
        for (auto&& [pk, pnode] : *vt) {
          ASSIGN_OR_RETURN(double x, number(pnode, StrCat("variants.", vk.str(), ".", pk.str())));
          RETURN_IF_ERROR(SetVariant(c, vk.str(), pk.str(), x));
        }
      }
      continue;
    }
    if (key == "lookalikes") {
      const toml::table* t = node.as_table();
      if (!t) return InvalidArgumentError("lookalikes: not a table");
      for (auto&& [lk, lnode] : *t) {
        ASSIGN_OR_RETURN(double x, number(lnode, StrCat("lookalikes.", lk.str())));
        bool found = false;
        for (int i = 0; i < kLookAlikeCount; ++i) {
          if (kLookAlikeInfo[i].name == lk.str()) {
            if (!(x >= 0 && x <= 1000)) return InvalidArgumentError(StrCat("lookalikes.", lk.str(), ": out of range 0..1000"));
            c.lookalike_rates[i] = x;
            found = true;
          }
        }
        if (!found) return InvalidArgumentError(StrCat("lookalikes: unknown look-alike \"", lk.str(), "\""));
      }
      continue;
    }
    if (key == "lineages" || key == "days" || key == "seed") {
      auto i = node.value<int64_t>();
      if (!i) return InvalidArgumentError(StrCat(key, ": not an integer"));
      if (key == "lineages") c.lineages = *i;
      else if (key == "days") c.days = static_cast<int>(std::min<int64_t>(*i, 1 << 30));
      else c.seed = static_cast<uint64_t>(*i);
      continue;
    }
    if (key == "start") {
      auto s = node.value<std::string>();
      if (!s) return InvalidArgumentError("start: not a string");
      ASSIGN_OR_RETURN(c.start, ParseRfc3339(*s));
      continue;
    }
    if (key == "randomize") {
      auto b = node.value<bool>();
      if (!b) return InvalidArgumentError("randomize: not a boolean");
      c.randomize = *b;
      continue;
    }
    bool found = false;
    for (const Field& f : kFields) {
      if (f.name != key) continue;
      ASSIGN_OR_RETURN(double x, number(node, key));
      if (!(x >= f.min && x <= f.max)) {
        return InvalidArgumentError(StrCat(key, ": ", x, " is out of range ", f.min, "..", f.max));
      }
      c.*(f.member) = x;
      found = true;
    }
    if (!found) return InvalidArgumentError(StrCat("unknown key \"", key, "\""));
  }
  return ValidateConfig(c);
}

Status ValidateConfig(const SimConfig& c) {
  if (c.lineages < 1 || c.lineages > 2'000'000) {
    return InvalidArgumentError("lineages must be 1..2000000");
  }
  if (c.days < 1 || c.days > 3660) return InvalidArgumentError("days must be 1..3660");
  double w = c.w_certbot + c.w_certbot_old + c.w_lego + c.w_lego_v5 + c.w_acmesh +
             c.w_acmesh_old + c.w_cert_manager + c.w_caddy + c.w_other;
  if (!(w > 0)) return InvalidArgumentError("client weights sum to zero");
  if (c.dns01_share + c.tlsalpn_share > 1) {
    return InvalidArgumentError("dns01_share + tlsalpn_share exceed 1");
  }
  if (c.ca_zerossl_share + c.ca_google_share > 1) {
    return InvalidArgumentError("ca_zerossl_share + ca_google_share exceed 1");
  }
  return OkStatus();
}

}  // namespace certcast::sim
