// The simulation engine: builds a fleet and its fault schedule from the seed, then steps it one
// day at a time. Within a day every scheduled thing (probe, client run, retry, human fix, CA
// probe) is a "moment" taken from a min-heap in time order, so shared state (rate-limit buckets,
// host faults) is touched in the order real time would touch it and the events come out sorted.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <queue>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/civil_time.h"
#include "collect/sim/random.h"
#include "collect/sim/simulator.h"
#include "core/strings.h"
#include "core/time.h"

namespace certcast::sim {

std::string_view VariantScope(Variant v);
std::string_view LookAlikeScope(LookAlike l);

namespace {

using Sec = int64_t;  // Unix seconds: the simulator's clock (whole seconds are enough)
constexpr Sec kInf = INT64_MAX / 4;
constexpr Sec kMinute = 60, kHour = 3600, kDay = 86400;

Sec CivilSec(int y, int m, int d) {
  return absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(y, m, d), absl::UTCTimeZone()));
}
// Let's Encrypt classic profile lifetime changes (docs/background.md §3).
const Sec kClassic64 = CivilSec(2027, 2, 10);
const Sec kClassic45 = CivilSec(2028, 2, 16);

absl::Time T(Sec s) { return absl::FromUnixSeconds(s); }

// ---------------------------------------------------------------------------------------------
// Static fleet description.

struct CaInfo {
  const char* url;
  const char* caa_issuer;  // the CAA issuer-domain that permits this CA
  bool ari, eab, rate_limits, le_lifetimes;
};
constexpr CaInfo kCas[] = {
    {"https://acme-v02.api.letsencrypt.org/directory", "letsencrypt.org", true, false, true, true},
    {"https://acme.zerossl.com/v2/DV90", "sectigo.com", false, true, false, false},
    {"https://dv.acme-v02.api.pki.goog/directory", "pki.goog", true, true, false, false},
};
constexpr int kCaCount = 3;

enum class ClientKind : uint8_t {
  kCertbot, kCertbotOld, kLego, kLegoV5, kAcmeSh, kAcmeShOld, kCertManager, kCaddy, kOther
};
struct ClientInfo {
  Client client;
  const char* version;
  const char* upgraded_version;  // after a (harmless or breaking) upgrade
  bool ari_capable;
  int runs_per_day;  // 0: continuous controller (cert-manager, caddy)
};
constexpr ClientInfo kClients[] = {
    {Client::kCertbot, "4.1.1", "5.1.0", true, 2},
    {Client::kCertbot, "2.1.0", "2.11.0", false, 2},
    {Client::kLego, "4.25.2", "4.26.0", true, 1},
    {Client::kLego, "5.0.1", "5.1.0", true, 1},
    {Client::kAcmeSh, "3.1.4", "3.1.5", true, 1},
    {Client::kAcmeSh, "3.0.7", "3.1.0", false, 1},
    {Client::kCertManager, "1.18.2", "1.19.0", false, 0},
    {Client::kCaddy, "2.10.0", "2.10.2", true, 0},
    {Client::kOther, "cron-1", "cron-2", false, 1},
};

constexpr const char* kWords[] = {
    "alder", "birch", "cedar", "delta", "ember", "fjord", "grove", "harbor", "iris",  "juniper",
    "kelp",  "lumen", "maple", "nimbus", "onyx", "pixel", "quartz", "raven", "sable", "tundra",
    "umber", "vale",  "willow", "xenon", "yarrow", "zephyr", "atlas", "basil", "coral", "dune"};
constexpr const char* kSubs[] = {"shop", "api", "mail", "app", "blog", "git", "vpn", "portal",
                                 "cdn",  "docs", "auth", "status", "media", "wiki", "crm", "grafana"};
constexpr const char* kTlds[] = {"example", "test", "example.net", "example.org"};

struct Bucket {
  double tokens;
  Sec last;
  // Refills continuously (docs/background.md §2: token buckets, GCRA) then takes one token if there is one.
  void Refill(Sec t, double capacity, double interval) {
    if (t > last) {
      tokens = std::min(capacity, tokens + double(t - last) / interval);
      last = t;
    }
  }
};

struct Fault {
  Variant variant;
  int32_t subject;  // index of lineage/host/org/domain/ca by scope
  Sec start, end;
  Sec ramp;  // precursor ramp start (disk, propagation, rrsig), == start when none
  bool silent = false;
  bool abandoned = false;
  int8_t permitted_ca = -1;  // caa_restrictive: the CA the new CAA still allows, -1 none
  Sec first_visible = kInf;
  int episodes = 0;
  const char* ended_by = "";
  bool Active(Sec t) const { return start <= t && t < end; }
};

struct Look {
  LookAlike kind;
  int32_t subject;
  Sec start, end;
  uint32_t value;  // kind-specific (new IP, ...)
};

struct Domain {
  std::string name;
  int32_t org;
  Sec expires;      // registration expiry; renewed by the registrar 20-45 days before
  bool dnssec, caa;
  Bucket per_domain;
  std::vector<int32_t> faults, looks, lineages;
  int ns_generation = 0;
};

struct Org {
  bool notices_failures;
  bool uses_dns01 = false, uses_eab = false;
  Sec token_expires, eab_expires;
  std::vector<int32_t> hosts, domains, faults, looks;
};

struct Host {
  std::string name;
  int32_t org;
  ClientKind client;
  uint32_t ip;
  int cron_second;  // daily cron time of day for lego/acme.sh/other
  int64_t disk_total, disk_free;
  Sec scheduler_last_run;
  Bucket orders;
  std::vector<int32_t> lineages, faults, looks;
  bool upgraded = false;
};

struct Lineage {
  std::string cert;
  std::vector<std::string> names;
  std::string probe_name;  // first name without "*."
  int32_t host, org, domain;
  Challenge challenge;
  std::vector<Challenge> alt_challenges;
  int8_t ca, home_ca;
  std::vector<int8_t> alt_cas;
  uint8_t profile;  // 0 classic, 1 tlsserver, 2 shortlived, 3 legacy (removed during the run)
  RenewRule rule;
  std::string rule_text;
  bool ari, cdn, ipv6, acme_cname;
  int probe_second;
  // Certificates.
  std::string serial, served_serial;
  Sec not_before = 0, not_after = 0, served_not_after = 0;
  Sec ari_start = 0, ari_end = 0, ari_pick = kInf;
  bool ari_emergency = false;
  Sec revoke_at = kInf;
  std::string revoked_serial;
  Sec deploy_at = kInf;  // deploy_lag look-alike: served serial catches up at this time
  // Client state.
  int failures = 0;
  Sec next_retry = 0;
  bool pending_new_set = false;
  Bucket exact_set, authz_failures;
  // Truth and accounting.
  int32_t episode = -1;
  Sec outage_since = kInf;
  Sec human_fix_at = kInf;
  int human_tries = 0;
  bool retired = false;
  Sec retired_at = kInf;
  std::vector<int32_t> faults, looks;
};

// Moments of a day, popped in time order; seq breaks ties deterministically.
enum class MomentKind : uint8_t {
  kCaProbe, kHostDaily, kDomainDaily, kOrgWeekly, kLineageProbe, kHostRun, kLineageAttempt,
  kHumanFix, kRestart, kBurst, kRevocation, kDeployLag
};
struct Moment {
  Sec t;
  uint64_t seq;
  MomentKind kind;
  int32_t id;
  bool operator>(const Moment& o) const { return t != o.t ? t > o.t : seq > o.seq; }
};

// Moments run in time order and each emits events at or a few seconds after its time, so a day's
// events are sorted except for short local inversions: a stable insertion sort moves only those
// (a general sort would move every Event, which costs more than generating them).
void SortNearlySorted(std::vector<Event>& events) {
  for (size_t i = 1; i < events.size(); ++i) {
    if (!(events[i].ts < events[i - 1].ts)) continue;
    Event moving = std::move(events[i]);
    size_t j = i;
    while (j > 0 && moving.ts < events[j - 1].ts) {
      events[j] = std::move(events[j - 1]);
      --j;
    }
    events[j] = std::move(moving);
  }
}

std::string Ipv4(uint32_t ip) {
  return StrCat(ip >> 24, ".", (ip >> 16) & 255, ".", (ip >> 8) & 255, ".", ip & 255);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

class World final : public Oracle {
 public:
  World(const SimConfig& config, Policy* policy)
      : c_(config), policy_(policy), start_(absl::ToUnixSeconds(config.start)),
        end_(start_ + Sec(config.days) * kDay) {}

  StatusOr<RunResult> Run(EventSink* sink, const RunOptions& options);
  std::vector<Doomed> DoomedRenewals(absl::Time at) const override;

 private:
  // Building.
  void Randomize(Rng& rng);
  void BuildFleet(Rng& rng);
  void BuildFaults(Rng& rng);
  void AddFault(Rng& rng, Variant v, int32_t subject, Sec start);
  void LinkFault(int32_t f);
  void AddLook(Rng& rng, LookAlike kind, int32_t subject, Sec start);
  void EmitInitial();

  // Stepping.
  void StepDay(int day);
  void Push(Sec t, MomentKind kind, int32_t id) { heap_.push({t, seq_++, kind, id}); }
  void ScheduleLineage(int32_t l, Sec day_start, Sec day_end);
  void OnCaProbe(int ca, Sec t);
  void OnHostDaily(int32_t h, Sec t);
  void OnDomainDaily(int32_t d, Sec t);
  void OnOrgWeekly(int32_t o, Sec t);
  void OnLineageProbe(int32_t l, Sec t);
  void OnHostRun(int32_t h, Sec t);
  void OnHumanFix(int32_t l, Sec t);
  void OnRestart(int32_t l, Sec t);
  void OnBurst(int32_t f, Sec t);
  void OnRevocation(int32_t f, Sec t);

  // Renewal.
  Sec DueTime(const Lineage& L) const;
  // The client's own rule renews the current certificate no earlier than its expiry (acme.sh
  // after_issue_days:59 on a 45-day certificate): without someone renewing outside the rule, it
  // expires. A cause like a fault, but of the set-up, not of an event (no FaultRecord).
  bool RenewsAfterExpiry(const Lineage& L) const { return DueTime(L) >= L.not_after; }
  Sec Lifetime(int ca, int profile, Sec t) const;
  // Attempts a renewal; returns the finish time. trigger: schedule, forced, ari, startup.
  Sec Attempt(int32_t l, Sec t, const char* trigger, bool dry_run);
  void Issue(int32_t l, Sec t, bool initial);
  void ServeNewest(int32_t l, Sec t, const char* detail);
  void ScheduleRetry(Lineage& L, Sec t);

  // Truth.
  void StartEpisode(int32_t l, Sec onset, std::string_view cause, std::string_view variant,
                    int32_t fault, bool labelled);
  void EndEpisode(int32_t l, Sec t);
  void NoteOutageStart(int32_t l, Sec t);
  void ScheduleHuman(int32_t l, Sec at);
  void Visible(int32_t f, Sec t) {
    Fault& F = faults_[f];
    if (!F.silent && t < F.first_visible) F.first_visible = t;
  }
  // The active fault of `scope` that affects an attempt, or -1.
  int32_t ActiveFault(const Lineage& L, Sec t, Challenge ch, int ca, int phase) const;
  // The active fault that breaks this lineage's renewal or serving with its current set-up, or -1.
  int32_t LiveFault(const Lineage& L, Sec t) const;
  bool HasRealCause(int32_t l, Sec t, int32_t* fault) const;

  // Actions.
  void Apply(const PlannedAction& a, Sec t);

  // Events.
  Event& NewEvent(Sec t) {
    Event& e = out_.emplace_back();
    e.ts = T(t);
    return e;
  }
  Event& NewEventAt(absl::Time t) {
    Event& e = out_.emplace_back();
    e.ts = t;
    return e;
  }
  void EmitConfig(int32_t l, Sec t);
  void EmitAri(int32_t l, Sec t);
  void EmitRenewal(const Lineage& L, Sec t, bool ok, const char* error, std::string detail,
                   const char* trigger, bool dry_run, double duration_ms);
  void EmitDns(const std::string& name, RecordType rtype, Rcode rcode,
               std::vector<std::string> values, Sec t, std::optional<Dnssec> dnssec = {},
               std::optional<Sec> rrsig = {});
  std::string Serial(uint64_t a, uint64_t b) const;
  double Jitter(uint64_t a, uint64_t b, uint64_t c, double median, double sigma) const {
    double u1 = std::max(1e-12, Unit(Draw(c_.seed, a, b, c)));
    double u2 = Unit(Draw(c_.seed, a, b, c + 77));
    return median * std::exp(sigma * std::sqrt(-2 * std::log(u1)) * std::cos(6.2831853 * u2));
  }
  double U(uint64_t a, uint64_t b, uint64_t c) const { return Unit(Draw(c_.seed, a, b, c)); }

  SimConfig c_;
  Policy* policy_;
  const Sec start_, end_;
  std::vector<Domain> domains_;
  std::vector<Org> orgs_;
  std::vector<Host> hosts_;
  std::vector<Lineage> lineages_;
  std::vector<Fault> faults_;
  std::vector<Look> looks_;
  std::vector<int32_t> ca_faults_[kCaCount], ca_looks_[kCaCount];
  absl::flat_hash_map<std::string, int32_t> by_cert_;
  std::priority_queue<Moment, std::vector<Moment>, std::greater<Moment>> heap_;
  uint64_t seq_ = 0;
  std::vector<Event> out_;
  GroundTruth truth_;
  // (cert, fault) -> its latest record in truth_.doomed, extended while the doom lasts day to day.
  absl::flat_hash_map<std::pair<std::string, int64_t>, size_t> doomed_open_;
  Metrics m_;
  double trust_ = 1;
  uint64_t serial_counter_ = 0;
};

// Purposes for Draw(); distinct constants keep the streams independent.
enum Purpose : uint64_t {
  kPTimer = 1, kPSleep, kPDuration, kPTransient, kPProbeFlake, kPLatency, kPCdn, kPSerial,
  kPAriPick, kPHuman, kPError, kPPartial, kPCaProbe, kPProp, kPDisk, kPClock, kPRestart,
  kPRevoke, kPTrust, kPDeployLag, kPTokenRotate
};

// ---------------------------------------------------------------------------------------------
// Building the fleet.

void World::Randomize(Rng& rng) {
  if (!c_.randomize || c_.randomize_sigma <= 0) return;
  const double s = c_.randomize_sigma;
  auto j = [&](double& x) { x *= std::exp(s * rng.Normal()); };
  auto share = [&](double& x) { x = std::clamp(x * std::exp(s * rng.Normal()), 0.0, 1.0); };
  for (auto& v : c_.variants) j(v.rate);
  // The DNS provider outage (added later, rate 0 unless set) draws only when set, so fleets
  // built before it existed are drawn exactly as they were.
  constexpr int kProviderOutage = static_cast<int>(LookAlike::k_dns_provider_outage);
  for (int i = 0; i < kLookAlikeCount; ++i) {
    if (i != kProviderOutage) j(c_.lookalike_rates[i]);
  }
  if (c_.lookalike_rates[kProviderOutage] > 0) j(c_.lookalike_rates[kProviderOutage]);
  for (double* w : {&c_.w_certbot, &c_.w_certbot_old, &c_.w_lego, &c_.w_lego_v5, &c_.w_acmesh,
                    &c_.w_acmesh_old, &c_.w_cert_manager, &c_.w_caddy, &c_.w_other}) {
    j(*w);
  }
  for (double* x : {&c_.cdn_share, &c_.ipv6_share, &c_.dnssec_share, &c_.caa_share,
                    &c_.alt_challenge_share, &c_.alt_ca_share, &c_.notices_failures_share,
                    &c_.ari_share}) {
    share(*x);
  }
  j(c_.transient_failure);
  j(c_.probe_flake);
  j(c_.notice_outage_hours);
  j(c_.notice_failure_hours);
  j(c_.alert_fix_hours);
}

void World::BuildFleet(Rng& rng) {
  const int64_t n = c_.lineages;
  double weights[] = {c_.w_certbot, c_.w_certbot_old, c_.w_lego,         c_.w_lego_v5, c_.w_acmesh,
                      c_.w_acmesh_old, c_.w_cert_manager, c_.w_caddy, c_.w_other};
  double wsum = 0;
  for (double w : weights) wsum += w;
  auto new_domain = [&](int32_t org) {
    Domain d;
    const size_t i = domains_.size();
    d.name = StrCat(kWords[i % 30], i / 30, ".", kTlds[(i / 7) % 4]);
    d.org = org;
    d.expires = start_ + Sec(rng.Uniform(30, 700) * kDay);
    d.dnssec = rng.Bernoulli(c_.dnssec_share);
    d.caa = rng.Bernoulli(c_.caa_share);
    d.per_domain = {50, start_};
    domains_.push_back(std::move(d));
    orgs_[org].domains.push_back(int32_t(i));
    return int32_t(i);
  };
  int64_t made = 0;
  while (made < n) {
    const int32_t o = int32_t(orgs_.size());
    orgs_.push_back({});
    Org& org = orgs_.back();
    org.notices_failures = rng.Bernoulli(c_.notices_failures_share);
    org.token_expires = start_ + Sec(rng.Uniform(60, 900) * kDay);
    org.eab_expires = start_ + Sec(rng.Uniform(60, 900) * kDay);
    const int nd = rng.AtLeastOne(c_.domains_per_org);
    for (int i = 0; i < nd; ++i) new_domain(o);
    const int nh = rng.AtLeastOne(c_.hosts_per_org);
    for (int hi = 0; hi < nh && made < n; ++hi) {
      const int32_t h = int32_t(hosts_.size());
      hosts_.push_back({});
      Host& H = hosts_.back();
      H.org = o;
      orgs_[o].hosts.push_back(h);
      double pick = rng.Uniform() * wsum;
      int k = 0;
      while (k < 8 && pick >= weights[k]) pick -= weights[k++];
      H.client = ClientKind(k);
      H.name = StrCat(H.client == ClientKind::kCertManager ? "cluster" : "web", h, ".",
                      domains_[orgs_[o].domains[0]].name);
      H.ip = (198u << 24) | (18u << 16) | uint32_t(h % 131000);
      H.cron_second = int(rng.Below(kDay));
      H.disk_total = int64_t(20 + rng.Below(480)) << 30;
      H.disk_free = int64_t(double(H.disk_total) * rng.Uniform(0.25, 0.8));
      H.scheduler_last_run = start_ - kHour;
      H.orders = {300, start_};
      const int nl = int(std::min<int64_t>(rng.AtLeastOne(c_.lineages_per_host), n - made));
      const ClientInfo& ci = kClients[int(H.client)];
      for (int li = 0; li < nl; ++li, ++made) {
        const int32_t l = int32_t(lineages_.size());
        lineages_.push_back({});
        Lineage& L = lineages_.back();
        L.host = h;
        L.org = o;
        H.lineages.push_back(l);
        // Challenge first: a wildcard needs DNS-01.
        const double cu = rng.Uniform();
        L.challenge = cu < c_.dns01_share ? Challenge::kDns01
                      : cu < c_.dns01_share + c_.tlsalpn_share ? Challenge::kTlsAlpn01
                                                               : Challenge::kHttp01;
        if (L.challenge == Challenge::kDns01) orgs_[o].uses_dns01 = true;
        if (rng.Bernoulli(c_.alt_challenge_share)) {
          L.alt_challenges.push_back(L.challenge == Challenge::kDns01 ? Challenge::kHttp01
                                                                      : Challenge::kDns01);
        }
        // Registered domain.
        int32_t d;
        if (rng.Bernoulli(c_.shared_domain_share)) {
          d = orgs_[o].domains[0];
        } else if (c_.preset == "hosting") {
          d = new_domain(o);  // a customer's own domain
        } else {
          d = orgs_[o].domains[rng.Below(int64_t(orgs_[o].domains.size()))];
        }
        L.domain = d;
        Domain& D = domains_[d];
        const size_t k_in_domain = D.lineages.size();
        D.lineages.push_back(l);
        std::string first;
        if (k_in_domain == 0) {
          first = D.name;
        } else {
          first = StrCat(kSubs[k_in_domain % 16], k_in_domain >= 16 ? StrCat(k_in_domain / 16) : "",
                         ".", D.name);
        }
        if (L.challenge == Challenge::kDns01 && rng.Bernoulli(c_.wildcard_share)) {
          L.names = {StrCat("*.", first), first};
        } else {
          L.names = {first};
          if (k_in_domain == 0 && rng.Bernoulli(0.5)) L.names.push_back(StrCat("www.", first));
          const int extra = std::min(2, rng.Poisson(c_.extra_names_per_lineage));
          for (int e = 0; e < extra; ++e) L.names.push_back(StrCat(kSubs[(e + 3 + k_in_domain) % 16], "-", e, ".", first));
        }
        L.probe_name = first;
        L.cert = H.client == ClientKind::kCertManager
                     ? StrCat("ns", h, "/", kSubs[k_in_domain % 16], l, "-tls")
                     : first;
        // CA.
        const double cau = rng.Uniform();
        L.ca = cau < c_.ca_zerossl_share ? 1 : cau < c_.ca_zerossl_share + c_.ca_google_share ? 2 : 0;
        L.home_ca = L.ca;
        if (kCas[L.ca].eab) orgs_[o].uses_eab = true;
        if (rng.Bernoulli(c_.alt_ca_share)) L.alt_cas.push_back(int8_t(L.ca == 0 ? 2 : 0));
        const double pu = rng.Uniform();
        L.profile = L.ca != 0 ? 0
                    : pu < c_.profile_shortlived_share ? 2
                    : pu < c_.profile_shortlived_share + c_.profile_tlsserver_share ? 1
                    : pu < c_.profile_shortlived_share + c_.profile_tlsserver_share +
                               c_.legacy_profile_share
                        ? 3
                        : 0;
        // Renewal rule as the client's defaults set it (docs/background.md §5).
        switch (H.client) {
          case ClientKind::kCertbot:
            L.rule_text = rng.Bernoulli(c_.days_left_override_share) ? "days_left:30" : "fraction:0.667";
            break;
          case ClientKind::kCertbotOld: case ClientKind::kLego: case ClientKind::kOther:
            L.rule_text = "days_left:30"; break;
          case ClientKind::kAcmeSh: L.rule_text = "after_issue_days:29"; break;
          case ClientKind::kAcmeShOld: L.rule_text = "after_issue_days:59"; break;
          default: L.rule_text = "fraction:0.667";
        }
        L.rule = *ParseRenewRule(L.rule_text);
        L.ari = ci.ari_capable && kCas[L.ca].ari && rng.Bernoulli(c_.ari_share);
        L.cdn = rng.Bernoulli(c_.cdn_share);
        L.ipv6 = rng.Bernoulli(c_.ipv6_share);
        L.acme_cname = L.challenge == Challenge::kDns01 && rng.Bernoulli(c_.acme_cname_share);
        L.probe_second = int(rng.Below(kDay));
        L.exact_set = {5, start_};
        L.authz_failures = {5, start_};
        by_cert_[L.cert] = l;
      }
    }
  }
}

void World::AddFault(Rng& rng, Variant v, int32_t subject, Sec start) {
  const auto& p = c_.variants[int(v)];
  Fault f;
  f.variant = v;
  f.subject = subject;
  f.start = start;
  f.end = kInf;
  f.ramp = start;
  f.silent = rng.Bernoulli(p.silent);
  if (rng.Bernoulli(p.heal)) f.end = start + std::max<Sec>(kMinute * 10, Sec(rng.LogNormal(p.heal_hours, 0.8) * kHour));
  switch (v) {
    case Variant::k_dns_a_moved: f.abandoned = rng.Bernoulli(c_.abandoned_share); break;
    case Variant::k_local_disk_full: case Variant::k_dns01_slow_propagation:
      f.ramp = start - Sec(rng.Uniform(5, 30) * kDay); break;
    case Variant::k_dnssec_broken: f.ramp = start - 14 * kDay; break;
    case Variant::k_caa_restrictive: {
      int8_t other = int8_t(rng.Below(kCaCount));
      f.permitted_ca = rng.Bernoulli(0.7) ? other : -1;
      break;
    }
    case Variant::k_ca_outage:
      if (f.end == kInf) f.end = start + 6 * kHour;
      if (!f.silent) f.ramp = start - Sec(rng.Uniform(2, 12) * kHour);
      break;
    case Variant::k_ca_revocation: f.end = start + 5 * kDay; break;
    default: break;
  }
  faults_.push_back(f);
  LinkFault(int32_t(faults_.size() - 1));
}

// Adds the fault to the lists of everything it can affect.
void World::LinkFault(int32_t fi) {
  const Fault& f = faults_[fi];
  const std::string_view scope = VariantScope(f.variant);
  if (scope == "lineage") {
    lineages_[f.subject].faults.push_back(fi);
  } else if (scope == "host") {
    hosts_[f.subject].faults.push_back(fi);
    for (int32_t l : hosts_[f.subject].lineages) lineages_[l].faults.push_back(fi);
  } else if (scope == "org") {
    orgs_[f.subject].faults.push_back(fi);
    for (int32_t h : orgs_[f.subject].hosts)
      for (int32_t l : hosts_[h].lineages) lineages_[l].faults.push_back(fi);
  } else if (scope == "domain") {
    domains_[f.subject].faults.push_back(fi);
    for (int32_t l : domains_[f.subject].lineages) lineages_[l].faults.push_back(fi);
  } else {
    ca_faults_[f.subject].push_back(fi);
  }
}

void World::AddLook(Rng& rng, LookAlike kind, int32_t subject, Sec start) {
  Look k{kind, subject, start, start + Sec(rng.LogNormal(48, 1.0) * kHour), uint32_t(rng.Next())};
  switch (kind) {
    case LookAlike::k_planned_migration: case LookAlike::k_ns_move_migrated:
    case LookAlike::k_caa_still_permits: case LookAlike::k_harmless_upgrade:
      k.end = kInf; break;
    case LookAlike::k_ca_latency_spike: k.end = start + Sec(rng.Uniform(1, 6) * kHour); break;
    case LookAlike::k_token_rotated_late: k.end = start + Sec(rng.Uniform(4, 11) * kDay); break;
    case LookAlike::k_deploy_lag: k.end = start + 30 * kDay; break;
    // A DNS provider's outage of a few hours: its name servers answer SERVFAIL, and CAs retry
    // (docs/simulator.md, look-alikes). Renewals keep working unless one falls inside it.
    case LookAlike::k_dns_provider_outage: k.end = start + Sec(rng.Uniform(2, 10) * kHour); break;
    default: break;
  }
  const int32_t i = int32_t(looks_.size());
  looks_.push_back(k);
  const std::string_view scope = LookAlikeScope(kind);
  if (scope == "lineage") lineages_[subject].looks.push_back(i);
  else if (scope == "host") hosts_[subject].looks.push_back(i);
  else if (scope == "org") orgs_[subject].looks.push_back(i);
  else if (scope == "domain") domains_[subject].looks.push_back(i);
  else ca_looks_[subject].push_back(i);
}

void World::BuildFaults(Rng& rng) {
  const double years = double(c_.days) / 365.0;
  const Sec span = end_ - start_;
  auto when = [&] { return start_ + Sec(rng.Uniform() * double(span)); };
  for (int vi = 0; vi < kVariantCount; ++vi) {
    const Variant v = Variant(vi);
    const double rate = c_.variants[vi].rate;
    if (rate <= 0) continue;
    const std::string_view scope = VariantScope(v);
    auto eligible_lineage = [&](const Lineage& L) {
      switch (v) {
        case Variant::k_dns01_cname_removed: return L.acme_cname;
        case Variant::k_http01_redirect: case Variant::k_http01_webroot_moved:
          return L.challenge == Challenge::kHttp01;
        case Variant::k_http01_ipv6_broken: case Variant::k_dns_wrong_aaaa:
          return L.challenge != Challenge::kDns01 && (L.ipv6 || v == Variant::k_dns_wrong_aaaa);
        default: return true;
      }
    };
    if (scope == "lineage") {
      for (int32_t l = 0; l < int32_t(lineages_.size()); ++l) {
        if (!eligible_lineage(lineages_[l])) continue;
        for (int k = rng.Poisson(rate * years); k > 0; --k) AddFault(rng, v, l, when());
      }
    } else if (scope == "host") {
      for (int32_t h = 0; h < int32_t(hosts_.size()); ++h)
        for (int k = rng.Poisson(rate * years); k > 0; --k) AddFault(rng, v, h, when());
    } else if (scope == "org") {
      for (int32_t o = 0; o < int32_t(orgs_.size()); ++o) {
        const Org& O = orgs_[o];
        if (VariantCause(v) == "dns01_automation" && !O.uses_dns01) continue;
        if (v == Variant::k_account_eab_expired && !O.uses_eab) continue;
        for (int k = rng.Poisson(rate * years); k > 0; --k) {
          const Sec s = when();
          if (v == Variant::k_dns01_token_expired) orgs_[o].token_expires = s;
          if (v == Variant::k_account_eab_expired) orgs_[o].eab_expires = s;
          AddFault(rng, v, o, s);
          if (v == Variant::k_dns01_token_expired || v == Variant::k_account_eab_expired) break;
        }
      }
    } else if (scope == "domain") {
      for (int32_t d = 0; d < int32_t(domains_.size()); ++d) {
        Domain& D = domains_[d];
        if (v == Variant::k_dnssec_broken && !D.dnssec) continue;
        if (v == Variant::k_ratelimit_san_burst && D.lineages.size() < 2) continue;
        for (int k = rng.Poisson(rate * years); k > 0; --k) {
          const Sec s = when();
          if (v == Variant::k_domain_lapsed) {
            D.expires = s;  // the registration that nobody renews
            AddFault(rng, v, d, s + Sec(rng.Uniform(0, 3) * kDay));
            break;
          }
          AddFault(rng, v, d, s);
        }
      }
    } else {
      for (int ca = 0; ca < kCaCount; ++ca) {
        if (v == Variant::k_ca_profile_removed && ca != 0) continue;  // only LE has profiles here
        // Smaller CAs in this fleet get the same incident rate: incidents are about the CA.
        for (int k = rng.Poisson(rate * years); k > 0; --k) AddFault(rng, v, ca, when());
      }
    }
  }
  for (int li = 0; li < kLookAlikeCount; ++li) {
    const LookAlike kind = LookAlike(li);
    const double rate = c_.lookalike_rates[li] * years;
    const std::string_view scope = LookAlikeScope(kind);
    size_t count = scope == "lineage" ? lineages_.size() : scope == "host" ? hosts_.size()
                   : scope == "org" ? orgs_.size() : scope == "domain" ? domains_.size() : kCaCount;
    for (size_t s = 0; s < count; ++s) {
      if (kind == LookAlike::k_token_rotated_late && !orgs_[s].uses_dns01) continue;
      for (int k = rng.Poisson(rate); k > 0; --k) AddLook(rng, kind, int32_t(s), when());
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Renewal rules.

Sec World::Lifetime(int ca, int profile, Sec t) const {
  if (!kCas[ca].le_lifetimes) return 90 * kDay;
  if (profile == 2) return 160 * kHour;
  if (profile == 1) return 45 * kDay;
  if (t < kClassic64) return 90 * kDay;
  if (t < kClassic45) return 64 * kDay;
  return 45 * kDay;
}

Sec World::DueTime(const Lineage& L) const {
  if (L.pending_new_set) return 0;
  const Sec life = L.not_after - L.not_before;
  Sec due;
  switch (L.rule.kind) {
    case RenewRule::Kind::kFraction:
      due = L.not_before + Sec(double(life) * (life < 10 * kDay ? 0.5 : L.rule.value));
      break;
    case RenewRule::Kind::kDaysLeft: due = L.not_after - Sec(L.rule.value * kDay); break;
    default: due = L.not_before + Sec(L.rule.value * kDay); break;
  }
  if (L.ari && kCas[L.ca].ari) {
    // acme.sh and Caddy (certmagic) follow the ARI window when they have one; certbot and lego
    // renew at whichever comes first, the ARI time or their own rule (docs/background.md §5).
    const ClientKind k = hosts_[L.host].client;
    if (k == ClientKind::kAcmeSh || k == ClientKind::kCaddy) due = L.ari_pick;
    else due = std::min(due, L.ari_pick);
  }
  return due;
}

std::string World::Serial(uint64_t a, uint64_t b) const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(36, '0');
  uint64_t x = Draw(c_.seed, a, b, kPSerial), y = Mix64(x ^ b), z = Mix64(y + a);
  s[0] = '0';
  s[1] = kHex[3 + (x & 3)];
  for (int i = 2; i < 18; ++i) s[i] = kHex[(y >> (4 * (i - 2))) & 15];
  for (int i = 18; i < 34; ++i) s[i] = kHex[(z >> (4 * (i - 18))) & 15];
  s[34] = kHex[(x >> 8) & 15];
  s[35] = kHex[(x >> 12) & 15];
  return s;
}

void World::Issue(int32_t l, Sec t, bool initial) {
  Lineage& L = lineages_[l];
  L.serial = Serial(uint64_t(l), ++serial_counter_);
  L.not_before = t - kHour;  // LE backdates notBefore by an hour
  L.not_after = L.not_before + Lifetime(L.ca, L.profile, t);
  const Sec life = L.not_after - L.not_before;
  const Sec ideal = L.not_after - (life < 10 * kDay ? life / 2 : life / 3);
  L.ari_start = ideal - life / 100;
  L.ari_end = ideal + life / 100;
  L.ari_pick = L.ari_start + Sec(U(uint64_t(l), uint64_t(t), kPAriPick) * double(L.ari_end - L.ari_start));
  L.ari_emergency = false;
  L.pending_new_set = false;
  L.failures = 0;
  L.next_retry = 0;
  Event& e = NewEvent(initial ? start_ : t);
  auto& b = e.body.emplace<IssuedEvent>();
  b.cert = L.cert;
  b.serial = L.serial;
  b.not_before = T(L.not_before);
  b.not_after = T(L.not_after);
  b.ca = kCas[L.ca].url;
  b.names = L.names;
  if (!initial) ++m_.issuances;
  // Clients fetch renewalInfo right after issuance (RFC 9773 §4.3); the agent records it.
  if (L.ari && kCas[L.ca].ari) EmitAri(l, initial ? start_ : t + 5);
}

void World::EmitAri(int32_t l, Sec t) {
  const Lineage& L = lineages_[l];
  Event& e = NewEvent(t);
  auto& b = e.body.emplace<AriEvent>();
  b.cert = L.cert;
  b.ca = kCas[L.ca].url;
  b.window_start = T(L.ari_start);
  b.window_end = T(L.ari_end);
  b.retry_after_s = int64_t(21600 * (0.8 + 0.4 * U(uint64_t(l), uint64_t(t), kPAriPick + 1)));
  if (L.ari_emergency) b.explanation_url = "https://letsencrypt.org/2026/incident/revocation";
}

void World::ServeNewest(int32_t l, Sec t, const char* detail) {
  Lineage& L = lineages_[l];
  // A retired lineage is gone: a deploy moment left in the queue must not reopen its books.
  if (L.served_serial == L.serial || L.retired) return;
  if (L.served_not_after <= t && L.served_not_after != 0) {
    // The expired certificate was served until now.
    const Sec since = std::max({L.served_not_after, start_, L.outage_since == kInf ? 0 : L.outage_since});
    const double hours = double(t - since) / 3600.0;
    if (hours > 0) {
      m_.outage_hours += hours;
      if (L.episode >= 0) {
        Episode& ep = truth_.episodes[L.episode];
        if (!ep.outage_start) ep.outage_start = T(since);
        ep.outage_end = T(t);
        ep.outage_hours += hours;
      }
    }
  }
  L.outage_since = kInf;
  L.served_serial = L.serial;
  L.served_not_after = L.not_after;
  L.deploy_at = kInf;
  if (L.episode >= 0 && truth_.episodes[L.episode].cause == "not_served") EndEpisode(l, t);
  if (detail) {
    Event& e = NewEvent(t);
    auto& b = e.body.emplace<DeployEvent>();
    b.cert = L.cert;
    b.host = hosts_[L.host].name;
    b.outcome = Outcome::kSuccess;
    b.detail = detail;
  }
}

// Finds the fault that makes an attempt fail in `phase`: 0 client side (before contacting the
// CA), 1 CA side, 3 validation. -1 when none.
int32_t World::ActiveFault(const Lineage& L, Sec t, Challenge ch, int ca, int phase) const {
  auto check = [&](int32_t fi) -> bool {
    const Fault& f = faults_[fi];
    if (!f.Active(t)) return false;
    switch (f.variant) {
      case Variant::k_local_disk_full: case Variant::k_local_runtime_broken:
      case Variant::k_local_hook_failing: case Variant::k_local_permissions:
      case Variant::k_clock_rtc_reset:
        return phase == 0;
      case Variant::k_account_key_lost: case Variant::k_account_deactivated:
        return phase == 0 && ca == L.home_ca;  // another CA means another account
      case Variant::k_account_eab_expired: return phase == 0 && kCas[ca].eab;
      case Variant::k_ca_outage: return phase == 1 && f.subject == ca;
      case Variant::k_ca_partial:
        return phase == 1 && f.subject == ca &&
               U(uint64_t(&L - lineages_.data()), uint64_t(t), kPPartial) < 0.35;
      case Variant::k_ca_profile_removed: return phase == 1 && L.profile == 3 && ca == 0;
      case Variant::k_dns_a_moved: case Variant::k_dns_record_deleted:
      case Variant::k_dns_wrong_aaaa: case Variant::k_http01_ipv6_broken:
        return phase == 3 && ch != Challenge::kDns01;
      case Variant::k_domain_lapsed: case Variant::k_dnssec_broken:
      case Variant::k_caa_critical_unknown: case Variant::k_unknown_failure:
        return phase == 3;
      case Variant::k_caa_restrictive: return phase == 3 && ca != f.permitted_ca;
      case Variant::k_http01_firewall: case Variant::k_http01_port_closed:
      case Variant::k_http01_geo_block: case Variant::k_http01_redirect:
      case Variant::k_http01_webroot_moved:
        return phase == 3 && ch == Challenge::kHttp01;
      case Variant::k_dns01_token_expired: case Variant::k_dns01_token_revoked:
      case Variant::k_dns01_ns_moved: case Variant::k_dns01_cname_removed:
      case Variant::k_dns01_slow_propagation:
        return phase == 3 && ch == Challenge::kDns01;
      default: return false;  // stale deploy, scheduler, rate-limit loops act elsewhere
    }
  };
  int32_t best = -1;
  for (int32_t fi : L.faults)
    if (check(fi) && (best < 0 || faults_[fi].start < faults_[best].start)) best = fi;
  if (phase == 1)
    for (int32_t fi : ca_faults_[ca])
      if (check(fi) && (best < 0 || faults_[fi].start < faults_[best].start)) best = fi;
  return best;
}

namespace {
// The ACME problem type or client code, and a detail, as real clients report them
// (docs/background.md §1.6; the wording follows real certbot and lego runs, tests/data/client-logs).
struct ErrorText {
  const char* error;
  std::string detail;
};
ErrorText ErrorFor(Variant v, const std::string& name, const char* ca_url, double u) {
  const std::string url = StrCat("http://", name, "/.well-known/acme-challenge/");
  switch (v) {
    case Variant::k_dns_a_moved:
      return u < 0.5 ? ErrorText{"urn:ietf:params:acme:error:unauthorized",
                                 StrCat("Invalid response from ", url, ": 404")}
                     : ErrorText{"urn:ietf:params:acme:error:connection",
                                 StrCat("Get \"", url, "\": dial tcp: connect: connection refused")};
    case Variant::k_dns_record_deleted: case Variant::k_domain_lapsed:
      return {"urn:ietf:params:acme:error:dns",
              StrCat("DNS problem: NXDOMAIN looking up A for ", name,
                     " - check that a DNS record exists for this domain")};
    case Variant::k_dns_wrong_aaaa: case Variant::k_http01_ipv6_broken:
      return {"urn:ietf:params:acme:error:connection",
              StrCat("Get \"", url, "\": dial tcp [2001:db8::]:80: i/o timeout")};
    case Variant::k_http01_firewall:
      return {"urn:ietf:params:acme:error:connection",
              StrCat("Get \"", url, "\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)")};
    case Variant::k_http01_port_closed:
      return {"urn:ietf:params:acme:error:connection",
              StrCat("Get \"", url, "\": dial tcp: connect: connection refused")};
    case Variant::k_http01_geo_block:
      return {"urn:ietf:params:acme:error:connection",
              StrCat("During secondary validation: Get \"", url, "\": context deadline exceeded")};
    case Variant::k_http01_redirect:
      return {"urn:ietf:params:acme:error:unauthorized",
              StrCat("Invalid response from ", url, ": redirect to https://login.", name, "/ not allowed")};
    case Variant::k_http01_webroot_moved:
      return {"urn:ietf:params:acme:error:unauthorized",
              StrCat("Non-200 status code from HTTP: ", url, " returned 404")};
    case Variant::k_dns01_token_expired: case Variant::k_dns01_token_revoked:
      return {"dns_api", "failed to present challenge: 401 Unauthorized: invalid or expired API token"};
    case Variant::k_dns01_ns_moved: case Variant::k_dns01_cname_removed:
      return {"urn:ietf:params:acme:error:unauthorized", "No TXT records found for DNS challenge"};
    case Variant::k_dns01_slow_propagation:
      return u < 0.5 ? ErrorText{"urn:ietf:params:acme:error:unauthorized",
                                 "Correct value not found for DNS challenge"}
                     : ErrorText{"timeout", "time limit exceeded: last error: NS did not return the expected TXT record"};
    case Variant::k_local_disk_full: return {"local", "[Errno 28] No space left on device"};
    case Variant::k_local_runtime_broken:
      return {"local", "ModuleNotFoundError: No module named 'josepy'"};
    case Variant::k_local_hook_failing:
      return {"hook", "Hook 'pre-hook' reported error code 1"};
    case Variant::k_local_permissions:
      return {"local", "[Errno 13] Permission denied: '/etc/letsencrypt/archive'"};
    case Variant::k_caa_restrictive:
      return {"urn:ietf:params:acme:error:caa",
              StrCat("CAA record for ", name, " prevents issuance")};
    case Variant::k_caa_critical_unknown:
      return {"urn:ietf:params:acme:error:caa",
              StrCat("CAA record for ", name, " has an unknown critical property")};
    case Variant::k_dnssec_broken:
      return {"urn:ietf:params:acme:error:dns",
              StrCat("DNS problem: SERVFAIL looking up CAA for ", name,
                     " - the domain's nameservers may be malfunctioning")};
    case Variant::k_ca_outage:
      return u < 0.4 ? ErrorText{"urn:ietf:params:acme:error:serverInternal",
                                 "The server experienced an internal error"}
             : u < 0.7 ? ErrorText{"timeout", StrCat("Read timed out. (read timeout=45) ", ca_url)}
                       : ErrorText{"network", StrCat("Requesting ", ca_url, ": Connection refused")};
    case Variant::k_ca_partial:
      return u < 0.6 ? ErrorText{"urn:ietf:params:acme:error:serverInternal",
                                 "The server experienced an internal error"}
                     : ErrorText{"urn:ietf:params:acme:error:badNonce",
                                 "JWS has an invalid anti-replay nonce"};
    case Variant::k_ca_profile_removed:
      return {"urn:ietf:params:acme:error:invalidProfile", "profile \"legacy\" is not supported"};
    case Variant::k_account_eab_expired:
      return {"urn:ietf:params:acme:error:externalAccountRequired",
              "Server requires external account binding: EAB credentials expired"};
    case Variant::k_account_key_lost:
      return u < 0.5 ? ErrorText{"urn:ietf:params:acme:error:accountDoesNotExist",
                                 "The request specified an account that does not exist"}
                     : ErrorText{"urn:ietf:params:acme:error:malformed",
                                 "JWS verification error: square/go-jose: error in cryptographic primitive"};
    case Variant::k_account_deactivated:
      return {"urn:ietf:params:acme:error:unauthorized", "Account is not valid, has status \"deactivated\""};
    case Variant::k_clock_rtc_reset:
      return {"network", "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate is not yet valid"};
    default:
      return u < 0.5 ? ErrorText{"unknown", "unexpected error"}
                     : ErrorText{"urn:ietf:params:acme:error:serverInternal", "Error finalizing order"};
  }
}
}  // namespace

void World::EmitRenewal(const Lineage& L, Sec t, bool ok, const char* error, std::string detail,
                        const char* trigger, bool dry_run, double duration_ms) {
  Event& e = NewEvent(t);
  auto& b = e.body.emplace<RenewalEvent>();
  b.cert = L.cert;
  b.outcome = ok ? Outcome::kSuccess : Outcome::kFailure;
  if (error) b.error = error;
  if (!detail.empty()) b.detail = std::move(detail);
  b.challenge = L.challenge;
  b.ca = kCas[L.ca].url;
  b.duration_ms = std::round(duration_ms);
  b.dry_run = dry_run;
  b.trigger = trigger;
}

void World::ScheduleRetry(Lineage& L, Sec t) {
  const ClientKind k = hosts_[L.host].client;
  if (k == ClientKind::kCertManager) {
    // failedIssuanceAttempts backoff: 1h * 2^(n-1), capped at 32h (docs/background.md §5).
    L.next_retry = t + std::min<Sec>(32 * kHour, kHour << std::min(L.failures - 1, 6));
  } else if (k == ClientKind::kCaddy) {
    static constexpr Sec kLadder[] = {5 * kMinute, 10 * kMinute, 30 * kMinute, kHour, 2 * kHour,
                                      4 * kHour, 6 * kHour};
    L.next_retry = t + kLadder[std::min(L.failures - 1, 6)];
  }
}

Sec World::Attempt(int32_t l, Sec t, const char* trigger, bool dry_run) {
  Lineage& L = lineages_[l];
  Host& H = hosts_[L.host];
  const Domain& D = domains_[L.domain];
  const double dur_base = L.challenge == Challenge::kDns01 ? 45000 : 4000;
  const double duration = Jitter(uint64_t(l), uint64_t(t), kPDuration, dur_base, 0.5);
  const Sec done = t + Sec(duration / 1000) + 1;
  if (!dry_run) ++m_.attempts;
  else ++m_.dry_runs;
  H.scheduler_last_run = t;

  int32_t fault = ActiveFault(L, t, L.challenge, L.ca, 0);
  if (fault < 0) fault = ActiveFault(L, t, L.challenge, L.ca, 1);
  // Rate limits (LE only; staging, where dry runs go, has far higher ones).
  const CaInfo& ca = kCas[L.ca];
  const bool ari_exempt = L.ari && ca.ari && !L.pending_new_set && t >= L.ari_start;
  const bool same_set = !L.pending_new_set;
  const char* limit = nullptr;
  int limit_kind = 0;  // 1 failed authorizations, 2 exact set, 3 registered domain
  Sec retry_after = 0;
  if (fault < 0 && !dry_run && ca.rate_limits && !ari_exempt) {
    L.authz_failures.Refill(t, 5, 12 * kMinute);
    L.exact_set.Refill(t, 5, 34 * kHour);
    domains_[L.domain].per_domain.Refill(t, 50, 202 * kMinute);
    if (L.authz_failures.tokens < 1) {
      limit = "too many failed authorizations (5) for \"%s\" in the last 1h0m0s";
      limit_kind = 1;
      retry_after = Sec((1 - L.authz_failures.tokens) * 12 * kMinute);
    } else if (L.exact_set.tokens < 1) {
      limit = "too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s";
      limit_kind = 2;
      retry_after = Sec((1 - L.exact_set.tokens) * 34 * kHour);
    } else if (!same_set && D.per_domain.tokens < 1) {
      limit = "too many certificates (50) already issued for \"%s\" in the last 168h0m0s";
      limit_kind = 3;
      retry_after = Sec((1 - D.per_domain.tokens) * 202 * kMinute);
    }
  }
  if (fault < 0 && !limit) fault = ActiveFault(L, t, L.challenge, L.ca, 3);
  const bool transient = fault < 0 && !limit &&
                         U(uint64_t(l), uint64_t(t), kPTransient) < c_.transient_failure;
  if (fault < 0 && !limit && !transient) {
    EmitRenewal(L, t, true, nullptr, {}, trigger, dry_run, duration);
    if (dry_run) return done;
    if (!ari_exempt && ca.rate_limits) {
      L.exact_set.tokens -= 1;
      if (!same_set) domains_[L.domain].per_domain.tokens -= 1;
    }
    Issue(l, done, false);
    // Deploy: the reload hook, unless a stale-deploy fault or a deploy lag is in the way.
    int32_t stale = -1;
    for (int32_t fi : L.faults) {
      const Fault& f = faults_[fi];
      if ((f.variant == Variant::k_stale_hook_missing || f.variant == Variant::k_stale_hook_failing) &&
          f.Active(done)) {
        stale = fi;
        break;
      }
    }
    if (stale >= 0) {
      // The failure streak (if any) ended with this issuance; what follows is a stale deploy.
      EndEpisode(l, done);
      if (faults_[stale].variant == Variant::k_stale_hook_failing) {
        Event& e = NewEvent(done + 2);
        auto& b = e.body.emplace<DeployEvent>();
        b.cert = L.cert;
        b.host = H.name;
        b.outcome = Outcome::kFailure;
        b.detail = "nginx: [emerg] cannot load certificate key: permission denied; reload failed";
        Visible(stale, done + 2);
      }
      StartEpisode(l, done, "not_served", VariantName(faults_[stale].variant), stale, false);
      return done;
    }
    for (int32_t k : L.looks) {
      const Look& lk = looks_[k];
      if (lk.kind == LookAlike::k_deploy_lag && lk.start <= done && done < lk.end) {
        L.deploy_at = done + Sec((2 + U(uint64_t(l), uint64_t(done), kPDeployLag) * 18) * kHour);
        Push(L.deploy_at, MomentKind::kDeployLag, l);  // dropped at day end if later; re-pushed then
        EndEpisode(l, done);
        return done;
      }
    }
    // Serve first so that an outage that ends here is counted in the episode that it belongs to.
    ServeNewest(l, done + 2, "reload hook ran");
    EndEpisode(l, done + 2);
    return done;
  }
  // Failure.
  const char* error;
  std::string detail;
  std::string cause, variant;
  if (limit) {
    error = "urn:ietf:params:acme:error:rateLimited";
    std::string what(limit);
    const size_t p = what.find("%s");
    if (p != std::string::npos) what.replace(p, 2, limit_kind == 1 ? L.probe_name : D.name);
    detail = StrCat(what, ", retry after ", FormatRfc3339(T(t + retry_after)),
                    ": see https://letsencrypt.org/docs/rate-limits/");
    cause = "rate_limited";
    variant = "rate_limited";
    ++m_.rate_limited_attempts;
  } else if (fault >= 0) {
    ErrorText et = ErrorFor(faults_[fault].variant, L.probe_name, ca.url,
                            U(uint64_t(l), uint64_t(t), kPError));
    error = et.error;
    detail = std::move(et.detail);
    cause = std::string(VariantCause(faults_[fault].variant));
    variant = std::string(VariantName(faults_[fault].variant));
    // A failed validation costs an authorization-failure token (not for client-side errors).
    if (!dry_run && ca.rate_limits && !ari_exempt &&
        (cause == "dns_pointing" || cause == "http01_unreachable" || cause == "dns01_automation" ||
         cause == "caa_dnssec")) {
      L.authz_failures.tokens -= 1;
    }
  } else {
    const double u = U(uint64_t(l), uint64_t(t), kPError);
    error = u < 0.4 ? "urn:ietf:params:acme:error:badNonce"
            : u < 0.8 ? "urn:ietf:params:acme:error:serverInternal" : "timeout";
    detail = u < 0.4 ? "JWS has an invalid anti-replay nonce"
             : u < 0.8 ? "The server experienced an internal error" : "Read timed out. (read timeout=45)";
    cause = "transient";
    variant = "transient";
  }
  EmitRenewal(L, t, false, error, std::move(detail), trigger, dry_run, duration);
  if (dry_run) return done;
  ++m_.failed_attempts;
  ++L.failures;
  ScheduleRetry(L, t);
  if (L.episode < 0) {
    // A rate-limit refusal caused by a redeploy loop is that loop's episode.
    int32_t fid = fault;
    if (limit) {
      for (int32_t fi : L.faults)
        if (faults_[fi].variant == Variant::k_ratelimit_redeploy_loop && faults_[fi].Active(t)) {
          fid = fi;
          variant = "ratelimit_redeploy_loop";
        }
      for (int32_t fi : domains_[L.domain].faults)
        if (limit_kind == 3 && faults_[fi].variant == Variant::k_ratelimit_san_burst &&
            faults_[fi].start <= t) {
          fid = fi;
          variant = "ratelimit_san_burst";
        }
    }
    StartEpisode(l, t, cause, variant, fid, true);
    if (orgs_[L.org].notices_failures) {
      ScheduleHuman(l, t + Sec((Jitter(uint64_t(l), uint64_t(t), kPHuman, c_.notice_failure_hours, 0.8) +
                                Jitter(uint64_t(l), uint64_t(t), kPHuman + 1, c_.fix_hours, 0.8)) * kHour));
    }
  }
  return done;
}

// ---------------------------------------------------------------------------------------------
// Truth bookkeeping.

void World::StartEpisode(int32_t l, Sec onset, std::string_view cause, std::string_view variant,
                         int32_t fault, bool labelled) {
  Lineage& L = lineages_[l];
  Episode ep;
  ep.cert = L.cert;
  ep.host = hosts_[L.host].name;
  ep.cause = std::string(cause);
  ep.variant = std::string(variant);
  ep.onset = T(onset);
  ep.labelled = labelled;
  ep.fault_id = fault;
  if (fault >= 0) ++faults_[fault].episodes;
  L.episode = int32_t(truth_.episodes.size());
  truth_.episodes.push_back(std::move(ep));
}

void World::EndEpisode(int32_t l, Sec t) {
  Lineage& L = lineages_[l];
  if (L.episode < 0) return;
  truth_.episodes[L.episode].end = T(t);
  L.episode = -1;
  L.human_fix_at = kInf;
  L.human_tries = 0;
}

void World::ScheduleHuman(int32_t l, Sec at) {
  Lineage& L = lineages_[l];
  if (at < L.human_fix_at) {
    L.human_fix_at = at;
    Push(at, MomentKind::kHumanFix, l);  // popped only if still current (checked on pop)
  }
}

void World::NoteOutageStart(int32_t l, Sec t) {
  Lineage& L = lineages_[l];
  if (L.outage_since != kInf || L.retired) return;
  L.outage_since = std::max(L.served_not_after, start_);
  if (L.episode < 0) {
    // Expired without a failed attempt: a rule that renews too late, or something unexplained.
    const bool late_rule = RenewsAfterExpiry(L) && L.served_serial == L.serial;
    StartEpisode(l, L.outage_since, late_rule ? "lifetime_config" : "unknown",
                 late_rule ? "lifetime_config" : "unexplained", -1, false);
  }
  // Users complain; someone notices and fixes, unless the site was abandoned.
  bool abandoned = false;
  for (int32_t fi : L.faults)
    if (faults_[fi].abandoned && faults_[fi].Active(t)) abandoned = true;
  if (!abandoned) {
    ScheduleHuman(l, std::max(t, L.outage_since + Sec((Jitter(uint64_t(l), uint64_t(L.outage_since), kPHuman + 2,
                                                               c_.notice_outage_hours, 1.0) +
                                                        Jitter(uint64_t(l), uint64_t(L.outage_since), kPHuman + 3,
                                                               c_.fix_hours, 0.8)) * kHour)));
  }
}

int32_t World::LiveFault(const Lineage& L, Sec t) const {
  int32_t fault = ActiveFault(L, t, L.challenge, L.ca, 0);
  if (fault < 0) fault = ActiveFault(L, t, L.challenge, L.ca, 1);
  if (fault < 0) fault = ActiveFault(L, t, L.challenge, L.ca, 3);
  if (fault >= 0) return fault;
  for (int32_t fi : L.faults) {
    const Fault& f = faults_[fi];
    if (!f.Active(t)) continue;
    if (f.variant == Variant::k_stale_hook_missing || f.variant == Variant::k_stale_hook_failing ||
        f.variant == Variant::k_local_scheduler_lost ||
        f.variant == Variant::k_ratelimit_redeploy_loop) {
      return fi;
    }
  }
  if (L.profile == 3) {
    for (int32_t fi : ca_faults_[0])
      if (faults_[fi].variant == Variant::k_ca_profile_removed && faults_[fi].Active(t) && L.ca == 0) {
        return fi;
      }
  }
  return -1;
}

bool World::HasRealCause(int32_t l, Sec t, int32_t* fault) const {
  // A real cause: something that would break this lineage's renewal or serving with its current
  // set-up right now. A failure that healed by itself is no longer a cause.
  const Lineage& L = lineages_[l];
  *fault = LiveFault(L, t);
  if (*fault >= 0) return true;
  return L.served_serial != L.serial || L.outage_since != kInf || RenewsAfterExpiry(L);
}

std::vector<Oracle::Doomed> World::DoomedRenewals(absl::Time at) const {
  const Sec t = absl::ToUnixSeconds(at);
  std::vector<Doomed> out;
  for (const Lineage& L : lineages_) {
    if (L.retired) continue;
    const int32_t fault = LiveFault(L, t);
    // The fault must outlast the renewal: one that heals (or is fixed, as scheduled now) before the
    // client's next attempt breaks nothing. An overdue renewal is due now.
    if (fault >= 0 && faults_[fault].end > std::max(DueTime(L), t)) {
      out.push_back({L.cert, fault});
    } else if (RenewsAfterExpiry(L)) {
      // No fault, but the client's rule lets the certificate expire before it renews: doomed
      // all the same (the outage it leads to opens a lifetime_config episode).
      out.push_back({L.cert, -1});
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Telemetry.

void World::EmitDns(const std::string& name, RecordType rtype, Rcode rcode,
                    std::vector<std::string> values, Sec t, std::optional<Dnssec> dnssec,
                    std::optional<Sec> rrsig) {
  Event& e = NewEvent(t);
  auto& b = e.body.emplace<DnsEvent>();
  b.name = name;
  b.rtype = rtype;
  b.rcode = rcode;
  std::sort(values.begin(), values.end());
  b.values = std::move(values);
  b.dnssec = dnssec;
  if (rrsig) b.rrsig_expires = T(*rrsig);
  // Latency only on slow answers: that is what a watcher keeps, and it keeps the stream small.
  const double latency = Jitter(std::hash<std::string>{}(name), uint64_t(t), kPLatency, 18, 0.6);
  if (latency > 100) b.latency_ms = std::round(latency);
}

void World::EmitConfig(int32_t l, Sec t) {
  const Lineage& L = lineages_[l];
  const Host& H = hosts_[L.host];
  Event& e = NewEvent(t);
  auto& b = e.body.emplace<ConfigEvent>();
  b.cert = L.cert;
  b.host = H.name;
  b.names = L.names;
  b.client = kClients[int(H.client)].client;
  b.client_version = H.upgraded ? kClients[int(H.client)].upgraded_version : kClients[int(H.client)].version;
  b.ca = kCas[L.ca].url;
  b.challenge = L.challenge;
  b.alt_challenges = L.alt_challenges;
  for (int8_t a : L.alt_cas) b.alt_cas.push_back(kCas[a].url);
  b.ari = L.ari;
  b.renew_rule = L.rule_text;
  static constexpr const char* kProfiles[] = {"classic", "tlsserver", "shortlived", "legacy"};
  if (L.ca == 0) b.profile = kProfiles[L.profile];
}

void World::OnCaProbe(int ca, Sec t) {
  bool down = false, slow = false;
  for (int32_t fi : ca_faults_[ca]) {
    Fault& f = faults_[fi];
    if (f.variant == Variant::k_ca_outage && f.Active(t)) { down = true; Visible(fi, t); }
    if (f.variant == Variant::k_ca_outage && !f.silent && f.ramp <= t && t < f.start) { slow = true; Visible(fi, t); }
    if (f.variant == Variant::k_ca_partial && f.Active(t)) {
      slow = true;
      if (U(uint64_t(ca), uint64_t(t), kPCaProbe) < 0.3) down = true;
      if (!f.silent) Visible(fi, t);
    }
  }
  for (int32_t k : ca_looks_[ca]) {
    const Look& lk = looks_[k];
    if (lk.start <= t && t < lk.end) slow = true;
  }
  Event& e = NewEvent(t);
  auto& b = e.body.emplace<CaProbeEvent>();
  b.ca = kCas[ca].url;
  const double lat = Jitter(uint64_t(ca), uint64_t(t), kPLatency, slow ? 2400 : 120, 0.4);
  if (down) {
    b.outcome = ProbeOutcome::kError;
    const bool timeout = U(uint64_t(ca), uint64_t(t), kPCaProbe + 1) < 0.4;
    if (timeout) b.error = "timeout"; else { b.status = 503; b.error = "http_status"; }
    b.latency_ms = std::round(timeout ? 10000 : lat);
  } else {
    b.outcome = ProbeOutcome::kOk;
    b.status = 200;
    b.latency_ms = std::round(lat);
  }
}

void World::OnHostDaily(int32_t h, Sec t) {
  Host& H = hosts_[h];
  const ClientInfo& ci = kClients[int(H.client)];
  double offset = (U(uint64_t(h), uint64_t(t), kPClock) - 0.5) * 40;
  bool synced = true;
  std::optional<std::string> event;
  int64_t disk_free = H.disk_free + int64_t((U(uint64_t(h), uint64_t(t), kPDisk) - 0.5) * 2e8);
  bool report_scheduler = true;
  Sec sched = H.scheduler_last_run;
  for (int32_t fi : H.faults) {
    Fault& f = faults_[fi];
    const bool started_today = f.start > t - kDay && f.start <= t;
    switch (f.variant) {
      case Variant::k_clock_rtc_reset:
        if (f.Active(t)) { offset = -3.15e10; synced = false; Visible(fi, t); if (started_today) event = "restart"; }
        break;
      case Variant::k_local_disk_full:
        if (f.ramp <= t && t < f.end) {
          const double frac = t >= f.start ? 0.0 : double(f.start - t) / double(f.start - f.ramp);
          disk_free = int64_t(double(H.disk_free) * frac);
          if (disk_free < H.disk_total / 20 && !f.silent) Visible(fi, t);
          if (f.silent) disk_free = H.disk_free;  // on a volume the agent does not watch
        }
        break;
      case Variant::k_local_scheduler_lost:
        if (f.Active(t)) {
          if (f.silent) { report_scheduler = false; break; }
          if (started_today) event = "upgrade";
          Visible(fi, t);
        }
        break;
      case Variant::k_local_runtime_broken:
        if (f.Active(t) && !f.silent) {
          if (started_today) event = "upgrade";
          H.upgraded = true;
          Visible(fi, t);
        }
        break;
      case Variant::k_account_key_lost:
        if (started_today) event = "redeploy";
        break;
      default: break;
    }
  }
  for (int32_t k : H.looks) {
    const Look& lk = looks_[k];
    if (!(lk.start <= t && t < lk.end)) continue;
    if (lk.kind == LookAlike::k_harmless_upgrade && lk.start > t - kDay) { event = "upgrade"; H.upgraded = true; }
    if (lk.kind == LookAlike::k_disk_warning_cleared) disk_free = H.disk_total / 35;
    if (lk.kind == LookAlike::k_clock_drift_small) {
      synced = false;
      offset = 60.0 * double(t - lk.start) / 3600.0;  // 60 ms per hour: harmless for days
    }
  }
  {
    Event& e = NewEvent(t);
    auto& b = e.body.emplace<ClockEvent>();
    b.host = H.name;
    b.offset_ms = std::round(offset * 10) / 10 + 0.0;  // + 0.0 turns -0 into 0
    b.synced = synced;
    b.source = "ntp";
  }
  {
    Event& e = NewEvent(t);
    auto& b = e.body.emplace<HostEvent>();
    b.host = H.name;
    b.disk_free_bytes = std::max<int64_t>(0, disk_free);
    b.disk_total_bytes = H.disk_total;
    if (report_scheduler && ci.runs_per_day > 0) b.scheduler_last_run = T(sched);
    b.client_version = H.upgraded ? ci.upgraded_version : ci.version;
    b.event = event;
  }
  // The ACME account key, checked daily by the agent (its loss is a precursor).
  {
    bool present = true;
    for (int32_t fi : H.faults)
      if (faults_[fi].variant == Variant::k_account_key_lost && faults_[fi].Active(t) && !faults_[fi].silent) {
        present = false;
        Visible(fi, t);
      }
    if (!present || (t / kDay) % 7 == h % 7) {
      Event& e = NewEvent(t);
      auto& b = e.body.emplace<CredentialEvent>();
      b.kind = CredentialKind::kAccountKey;
      b.host = H.name;
      b.present = present;
    }
  }
}

void World::OnDomainDaily(int32_t d, Sec t) {
  Domain& D = domains_[d];
  // Registrars renew 20-45 days ahead; a lapsing domain shows an expiry that keeps approaching.
  bool lapsing = false;
  int32_t lapse_fault = -1;
  for (int32_t fi : D.faults)
    if (faults_[fi].variant == Variant::k_domain_lapsed && faults_[fi].end > t) { lapsing = true; lapse_fault = fi; }
  if (!lapsing && D.expires - t < 20 * kDay) D.expires += 365 * kDay;
  if (lapsing && D.expires - t < 20 * kDay) Visible(lapse_fault, t);
  const bool lapsed = lapsing && faults_[lapse_fault].Active(t);
  // CAA (the RFC 8659 tree climb ends at the registered domain in this fleet).
  std::vector<std::string> caa;
  Rcode rcode = Rcode::kNoError;
  std::optional<Dnssec> dnssec;
  std::optional<Sec> rrsig;
  if (D.dnssec) {
    dnssec = Dnssec::kSecure;
    rrsig = (t / (7 * kDay)) * 7 * kDay + 21 * kDay;  // re-signed weekly, 3 weeks of validity
  }
  if (D.caa) {
    for (int ca = 0; ca < kCaCount; ++ca) caa.push_back(StrCat("0 issue \"", kCas[ca].caa_issuer, "\""));
  }
  int permitted = -2;  // -2: no restrictive CAA; -1: permits no CA; else the one CA permitted
  for (int32_t fi : D.faults) {
    Fault& f = faults_[fi];
    if (f.variant == Variant::k_caa_restrictive && f.Active(t) && !f.silent) {
      // Two restrictive changes at once permit only what both permit.
      permitted = permitted == -2 || permitted == f.permitted_ca ? f.permitted_ca : -1;
      caa.clear();
      caa.push_back(permitted >= 0 ? StrCat("0 issue \"", kCas[permitted].caa_issuer, "\"")
                                   : std::string("0 issue \";\""));
      caa.push_back(StrCat("0 iodef \"mailto:security@", D.name, "\""));
      Visible(fi, t);
    }
    if (f.variant == Variant::k_caa_critical_unknown && f.Active(t) && !f.silent) {
      caa.push_back("128 tbs \"unknown\"");
      Visible(fi, t);
    }
    if (f.variant == Variant::k_dnssec_broken && f.ramp <= t && t < f.end) {
      rrsig = f.start;  // signing stopped: the signature's expiry no longer moves
      if (f.start - t < 7 * kDay && !f.silent) Visible(fi, t);
      if (f.Active(t)) { rcode = Rcode::kServFail; dnssec = Dnssec::kBogus; caa.clear(); Visible(fi, t); }
    }
  }
  for (int32_t k : D.looks) {
    const Look& lk = looks_[k];
    if (lk.kind == LookAlike::k_caa_still_permits && lk.start <= t) {
      // A CAA change that still permits every CA the domain's lineages use (or may switch to):
      // a domain without CAA gets the full set a CAA domain publishes, not one CA's line, which
      // forbade pki.goog and ZeroSSL while their renewals went on succeeding (issue #14: 91 such
      // contradictions in the ten study fleets, each a "hard blocker" that did no harm).
      if (caa.empty()) {
        for (int ca = 0; ca < kCaCount; ++ca) caa.push_back(StrCat("0 issue \"", kCas[ca].caa_issuer, "\""));
      }
      caa.push_back("0 issue \"digicert.com\"");
    }
  }
  // The org's DNS provider is down: every lookup of its zones answers SERVFAIL meanwhile.
  for (int32_t k : orgs_[D.org].looks) {
    const Look& lk = looks_[k];
    if (lk.kind == LookAlike::k_dns_provider_outage && lk.start <= t && t < lk.end) {
      rcode = Rcode::kServFail;
      caa.clear();
    }
  }
  if (lapsed) { rcode = Rcode::kNxDomain; caa.clear(); }
  EmitDns(D.name, RecordType::kCAA, rcode, std::move(caa), t, dnssec, rrsig);
  // Weekly: NS and registration.
  if ((t / kDay) % 7 == d % 7) {
    int gen = 0;
    for (int32_t fi : D.faults)
      if (faults_[fi].variant == Variant::k_dns01_ns_moved && faults_[fi].Active(t) && !faults_[fi].silent) {
        gen = 1;
        Visible(fi, t);
      }
    for (int32_t k : D.looks)
      if (looks_[k].kind == LookAlike::k_ns_move_migrated && looks_[k].start <= t) gen = 2;
    static constexpr const char* kNs[] = {"ns%d.dnsprovider-a.example", "ns%d.other-dns.example", "ns%d.newhost-dns.example"};
    std::vector<std::string> ns;
    for (int i = 1; i <= 2; ++i) {
      std::string s = kNs[gen];
      s.replace(s.find("%d"), 2, StrCat(i));
      ns.push_back(std::move(s));
    }
    EmitDns(D.name, RecordType::kNS, lapsed ? Rcode::kNxDomain : Rcode::kNoError,
            lapsed ? std::vector<std::string>{} : std::move(ns), t + 1);
    Event& e = NewEvent(t + 2);
    auto& b = e.body.emplace<DomainEvent>();
    b.name = D.name;
    b.expires = T(D.expires);
    b.status = lapsed ? "redemptionPeriod" : lapsing && D.expires < t ? "autoRenewPeriod" : "active";
  }
}

void World::OnOrgWeekly(int32_t o, Sec t) {
  Org& O = orgs_[o];
  if (O.uses_dns01) {
    Sec expires = O.token_expires;
    for (int32_t k : O.looks) {
      const Look& lk = looks_[k];
      if (lk.kind != LookAlike::k_token_rotated_late) continue;
      // Rotated a few days before it would have expired.
      if (t >= lk.start - 20 * kDay && t < lk.end) expires = std::min(expires, lk.end + 4 * kDay);
    }
    for (int32_t fi : O.faults) {
      if (faults_[fi].variant == Variant::k_dns01_token_expired && faults_[fi].end > t &&
          expires - t < 14 * kDay) {
        Visible(fi, t);
      }
    }
    if (expires < t) {
      // Rotated (by a person, after the fault was fixed, or by the look-alike's schedule).
      bool still = false;
      for (int32_t fi : O.faults)
        if (faults_[fi].variant == Variant::k_dns01_token_expired && faults_[fi].Active(t)) still = true;
      if (!still) O.token_expires = expires = t + Sec(365 * kDay);
    }
    Event& e = NewEvent(t);
    auto& b = e.body.emplace<CredentialEvent>();
    b.kind = CredentialKind::kDnsApiToken;
    b.host = hosts_[O.hosts[0]].name;
    b.expires = T(expires);
    b.present = true;
  }
  if (O.uses_eab) {
    for (int32_t fi : O.faults)
      if (faults_[fi].variant == Variant::k_account_eab_expired && faults_[fi].end > t &&
          O.eab_expires - t < 14 * kDay) {
        Visible(fi, t);
      }
    bool still = false;
    for (int32_t fi : O.faults)
      if (faults_[fi].variant == Variant::k_account_eab_expired && faults_[fi].Active(t)) still = true;
    if (O.eab_expires < t && !still) O.eab_expires = t + 365 * kDay;
    Event& e = NewEvent(t + 1);
    auto& b = e.body.emplace<CredentialEvent>();
    b.kind = CredentialKind::kEab;
    b.host = hosts_[O.hosts[0]].name;
    b.expires = T(O.eab_expires);
    b.present = true;
  }
}

void World::OnLineageProbe(int32_t l, Sec t) {
  Lineage& L = lineages_[l];
  if (L.retired) return;
  const Host& H = hosts_[L.host];
  if (L.served_not_after <= t) NoteOutageStart(l, t);
  // TLS probe from the host's agent: endpoint is the server, SNI the first name.
  {
    Event& e = NewEvent(t);
    auto& b = e.body.emplace<TlsProbeEvent>();
    b.endpoint = StrCat(H.name, ":443");
    b.sni = L.probe_name;
    b.cert = L.cert;
    const bool flake = U(uint64_t(l), uint64_t(t), kPProbeFlake) < c_.probe_flake;
    if (flake) {
      ++truth_.probe_flakes;
      b.outcome = ProbeOutcome::kError;
      b.error = TlsError::kTimeout;
      b.latency_ms = 5000;
    } else {
      const bool revoked = L.revoke_at <= t && L.served_serial == L.revoked_serial;
      b.outcome = L.served_not_after <= t || revoked ? ProbeOutcome::kError : ProbeOutcome::kOk;
      if (L.served_not_after <= t) b.error = TlsError::kExpired;
      else if (revoked) { b.error = TlsError::kRevoked; m_.revoked_hours += 24; }
      b.serial = L.served_serial;
      b.not_after = T(L.served_not_after);
      b.latency_ms = std::round(Jitter(uint64_t(l), uint64_t(t), kPLatency, 35, 0.5));
      b.tls_version = "TLSv1.3";
      b.sct_count = 2;
    }
    // A stale deploy shows as a served serial that differs from the newest issued one.
    if (L.served_serial != L.serial && t - L.not_before > kDay)
      for (int32_t fi : L.faults)
        if ((faults_[fi].variant == Variant::k_stale_hook_missing ||
             faults_[fi].variant == Variant::k_stale_hook_failing) && faults_[fi].Active(t))
          Visible(fi, t);
  }
  // DNS answers per name.
  const Domain& D = domains_[L.domain];
  bool lapsed = false, bogus = false;
  for (int32_t fi : D.faults) {
    if (faults_[fi].variant == Variant::k_domain_lapsed && faults_[fi].Active(t)) lapsed = true;
    if (faults_[fi].variant == Variant::k_dnssec_broken && faults_[fi].Active(t)) bogus = true;
  }
  for (size_t i = 0; i < L.names.size(); ++i) {
    const std::string& raw = L.names[i];
    if (raw.size() > 2 && raw[0] == '*') continue;  // the wildcard is probed as its base name
    Rcode rcode = lapsed ? Rcode::kNxDomain : bogus ? Rcode::kServFail : Rcode::kNoError;
    std::vector<std::string> values;
    if (rcode == Rcode::kNoError) {
      uint32_t ip = H.ip;
      if (L.cdn) {
        const uint64_t day = uint64_t(t / kDay);
        values.push_back(StrCat("198.51.100.", 1 + Draw(c_.seed, uint64_t(l), day, kPCdn) % 250));
        values.push_back(StrCat("198.51.100.", 1 + Draw(c_.seed, uint64_t(l), day, kPCdn + 1) % 250));
        if (values[0] == values[1]) values.pop_back();
      }
      for (int32_t k : L.looks)
        if (looks_[k].kind == LookAlike::k_planned_migration && looks_[k].start <= t)
          ip = (203u << 24) | (113u << 8) | (looks_[k].value % 250 + 1) | (0u << 16);
      bool deleted = false;
      for (int32_t fi : L.faults) {
        const Fault& f = faults_[fi];
        if (!f.Active(t) || f.silent) continue;
        if (f.variant == Variant::k_dns_a_moved) { ip = (192u << 24) | (2u << 8) | (uint32_t(fi) % 250 + 1); Visible(fi, t); }
        if (f.variant == Variant::k_dns_record_deleted) { deleted = true; Visible(fi, t); }
      }
      if (deleted) rcode = Rcode::kNxDomain;
      else if (!L.cdn) values.push_back(Ipv4(ip));
    }
    EmitDns(raw, RecordType::kA, rcode, std::move(values), t, D.dnssec ? std::optional(bogus ? Dnssec::kBogus : Dnssec::kSecure) : std::nullopt);
    if (i == 0) {
      std::vector<std::string> v6;
      if (L.ipv6 && rcode == Rcode::kNoError) v6.push_back(StrCat("2001:db8:", L.host % 65535 + 1, "::443"));
      for (int32_t fi : L.faults)
        if (faults_[fi].variant == Variant::k_dns_wrong_aaaa && faults_[fi].Active(t) && !faults_[fi].silent) {
          v6 = {StrCat("2001:db8:dead::", fi % 9999)};
          Visible(fi, t);
        }
      EmitDns(raw, RecordType::kAAAA, rcode, std::move(v6), t);
    }
  }
  // Challenge reachability as the agent sees it.
  // One name per lineage: the faults modelled here act on the whole lineage, so probing every
  // name would repeat the same answer (and double the output).
  {
    const std::string& name = L.probe_name;
    if (L.challenge == Challenge::kHttp01) {
      Event& e = NewEvent(t + 1);
      auto& b = e.body.emplace<Http01ProbeEvent>();
      b.name = name;
      b.vantage = "agent";
      std::optional<Http01Error> err;
      for (int32_t fi : L.faults) {
        const Fault& f = faults_[fi];
        if (!f.Active(t) || f.silent) continue;
        switch (f.variant) {
          case Variant::k_http01_firewall: err = Http01Error::kTimeout; Visible(fi, t); break;
          case Variant::k_http01_port_closed: err = Http01Error::kRefused; Visible(fi, t); break;
          case Variant::k_http01_redirect: err = Http01Error::kRedirect; Visible(fi, t); break;
          case Variant::k_http01_webroot_moved: err = Http01Error::kHttpStatus; Visible(fi, t); break;
          case Variant::k_dns_a_moved: err = Http01Error::kWrongContent; break;
          default: break;
        }
      }
      for (int32_t k : L.looks)
        if (looks_[k].kind == LookAlike::k_waf_blocks_probe && looks_[k].start <= t && t < looks_[k].end)
          err = Http01Error::kHttpStatus;
      if (!err && U(uint64_t(l), uint64_t(t), kPProbeFlake + 1) < c_.probe_flake) {
        err = Http01Error::kTimeout;
        ++truth_.probe_flakes;
      }
      b.outcome = err ? ProbeOutcome::kError : ProbeOutcome::kOk;
      b.error = err;
      if (!err || *err == Http01Error::kHttpStatus) b.status = err ? 404 : 200;
      if (err && *err == Http01Error::kHttpStatus) {
        for (int32_t k : L.looks)
          if (looks_[k].kind == LookAlike::k_waf_blocks_probe && looks_[k].start <= t && t < looks_[k].end) b.status = 403;
      }
      b.latency_ms = err && *err == Http01Error::kTimeout ? 10000 : std::round(Jitter(uint64_t(l), uint64_t(t), kPLatency + 1, 60, 0.5));
    } else if (L.challenge == Challenge::kDns01) {
      Event& e = NewEvent(t + 1);
      auto& b = e.body.emplace<Dns01CheckEvent>();
      b.name = name;
      double prop = Jitter(uint64_t(l), uint64_t(t), kPProp, 4000, 0.4);
      std::optional<std::string> err;
      for (int32_t fi : L.faults) {
        const Fault& f = faults_[fi];
        if (f.silent || t >= f.end) continue;
        if (f.variant == Variant::k_dns01_slow_propagation && f.ramp <= t) {
          const double frac = t >= f.start ? 1.0 : double(t - f.ramp) / double(f.start - f.ramp);
          prop = 4000 + frac * 126000;
          if (prop > 12000) Visible(fi, t);
          if (t >= f.start) err = "propagation_timeout";
        }
        if (!f.Active(t)) continue;
        if (f.variant == Variant::k_dns01_token_expired || f.variant == Variant::k_dns01_token_revoked) { err = "auth"; Visible(fi, t); }
        if (f.variant == Variant::k_dns01_ns_moved) { err = "zone_not_found"; Visible(fi, t); }
        if (f.variant == Variant::k_dns01_cname_removed) { err = "txt_not_visible"; Visible(fi, t); }
      }
      b.outcome = err ? ProbeOutcome::kError : ProbeOutcome::kOk;
      b.error = err;
      b.propagation_ms = std::round(prop);
    }
  }
  // _acme-challenge delegation, weekly.
  if (L.acme_cname && (t / kDay) % 7 == l % 7) {
    bool gone = false;
    for (int32_t fi : L.faults)
      if (faults_[fi].variant == Variant::k_dns01_cname_removed && faults_[fi].Active(t) && !faults_[fi].silent) {
        gone = true;
        Visible(fi, t);
      }
    EmitDns(StrCat("_acme-challenge.", L.probe_name), RecordType::kCNAME,
            gone ? Rcode::kNxDomain : Rcode::kNoError,
            gone ? std::vector<std::string>{} : std::vector<std::string>{StrCat(L.probe_name, ".acme-dns.example")}, t + 2);
  }
  // ARI as the CA publishes it for the current certificate.
  if (L.ari && kCas[L.ca].ari && L.not_after > t) EmitAri(l, t + 3);
}

void World::OnHostRun(int32_t h, Sec t) {
  Host& H = hosts_[h];
  bool lost = false;
  for (int32_t fi : H.faults)
    if (faults_[fi].variant == Variant::k_local_scheduler_lost && faults_[fi].Active(t)) lost = true;
  for (int32_t l : H.lineages) {
    Lineage& L = lineages_[l];
    if (L.retired) continue;
    const Sec due = DueTime(L);
    if (due > t) continue;
    if (lost) {
      if (L.episode < 0) {
        int32_t fid = -1;
        for (int32_t fi : H.faults)
          if (faults_[fi].variant == Variant::k_local_scheduler_lost && faults_[fi].Active(t)) fid = fi;
        StartEpisode(l, std::max(due, faults_[fid].start), "local_client", "local_scheduler_lost", fid, false);
      }
      continue;
    }
    const bool ari = L.ari && kCas[L.ca].ari && L.ari_pick <= t;
    t = Attempt(l, t, ari ? "ari" : "schedule", false);
  }
  if (!lost) H.scheduler_last_run = std::max(H.scheduler_last_run, t);
}

void World::OnHumanFix(int32_t l, Sec t) {
  Lineage& L = lineages_[l];
  if (L.human_fix_at != t || L.retired) return;  // superseded
  L.human_fix_at = kInf;
  for (int32_t fi : L.faults) {
    Fault& f = faults_[fi];
    if (f.Active(t) && !f.abandoned) {
      f.end = t;
      f.ended_by = "human";
    }
  }
  if (L.profile == 3 && L.ca == 0) {
    for (int32_t fi : ca_faults_[0])
      if (faults_[fi].variant == Variant::k_ca_profile_removed && faults_[fi].Active(t)) {
        L.profile = 0;  // reconfigured to a profile the CA still offers
        EmitConfig(l, t);
      }
  }
  if (L.rule.kind == RenewRule::Kind::kAfterIssueDays && RenewsAfterExpiry(L)) {
    // The person who found the expired certificate, or was paged about it before, upgrades the
    // client to the current default.
    L.rule_text = "after_issue_days:29";
    L.rule = *ParseRenewRule(L.rule_text);
    hosts_[L.host].upgraded = true;
    EmitConfig(l, t);
  }
  if (L.episode < 0 && L.served_serial == L.serial && L.served_not_after > t) return;
  ServeNewest(l, t, "manual reload");
  if (L.episode >= 0 || L.served_not_after <= t + kDay) {
    Attempt(l, t + 60, "forced", false);
    if (L.episode >= 0 && ++L.human_tries < 20) ScheduleHuman(l, t + kDay);
  }
}

void World::OnRestart(int32_t l, Sec t) {
  // A container without persistent state: every start orders a fresh certificate.
  Lineage& L = lineages_[l];
  Event& e = NewEvent(t);
  auto& b = e.body.emplace<HostEvent>();
  b.host = hosts_[L.host].name;
  b.event = "restart";
  for (int32_t fi : L.faults)
    if (faults_[fi].variant == Variant::k_ratelimit_redeploy_loop && faults_[fi].Active(t)) Visible(fi, t);
  const bool was_ari = L.ari;
  L.ari = false;  // the client lost its state, so it cannot send `replaces`
  Attempt(l, t + 30, "startup", false);
  L.ari = was_ari;
}

void World::OnBurst(int32_t f, Sec t) {
  // The provider adds a name to every customer lineage under its shared domain at once: new
  // identifier sets, so the 50-per-registered-domain limit applies (docs/background.md §2).
  Fault& F = faults_[f];
  Domain& D = domains_[F.subject];
  Sec when = t;
  for (int32_t l : D.lineages) {
    Lineage& L = lineages_[l];
    if (L.retired || L.names.size() >= 4 || L.names[0][0] == '*') continue;
    L.names.push_back(StrCat("m.", L.probe_name));
    L.pending_new_set = true;
    L.exact_set = {5, when};
    EmitConfig(l, when);
    when = Attempt(l, when + 5, "forced", false) + 5;
  }
  F.end = when;
  F.ended_by = "heal";
}

void World::OnRevocation(int32_t f, Sec t) {
  // Mass revocation: affected certificates get an emergency ARI window now and are revoked at
  // the end of the fault (5 days, the BR deadline). Clients without ARI do not notice.
  Fault& F = faults_[f];
  for (int32_t l = 0; l < int32_t(lineages_.size()); ++l) {
    Lineage& L = lineages_[l];
    if (L.ca != F.subject || L.retired || U(uint64_t(l), uint64_t(f), kPRevoke) > 0.05) continue;
    L.revoke_at = F.end;
    L.revoked_serial = L.serial;
    L.ari_start = t - kHour;
    L.ari_end = t - 30 * kMinute;
    L.ari_pick = t - 45 * kMinute;
    L.ari_emergency = true;
  }
  F.first_visible = t;
}

// ---------------------------------------------------------------------------------------------
// Stepping.

void World::ScheduleLineage(int32_t l, Sec day_start, Sec day_end) {
  Lineage& L = lineages_[l];
  if (L.retired) return;
  Push(day_start + L.probe_second, MomentKind::kLineageProbe, l);
  if (L.human_fix_at >= day_start && L.human_fix_at < day_end) Push(L.human_fix_at, MomentKind::kHumanFix, l);
  if (L.deploy_at >= day_start && L.deploy_at < day_end) Push(L.deploy_at, MomentKind::kDeployLag, l);
  const ClientKind k = hosts_[L.host].client;
  if (k == ClientKind::kCertManager || k == ClientKind::kCaddy) {
    Sec at = std::max(DueTime(L), L.next_retry);
    if (k == ClientKind::kCaddy) at = (at + 599) / 600 * 600;  // checks every 10 minutes
    if (at < day_start) at = day_start + l % 600;
    if (at < day_end) Push(at, MomentKind::kLineageAttempt, l);
  }
  for (int32_t fi : L.faults) {
    const Fault& f = faults_[fi];
    if (f.variant != Variant::k_ratelimit_redeploy_loop || f.start >= day_end || f.end <= day_start) continue;
    const int restarts = 1 + int(U(uint64_t(l), uint64_t(day_start), kPRestart) * 4);
    for (int r = 0; r < restarts; ++r) {
      const Sec at = day_start + Sec(U(uint64_t(l), uint64_t(day_start), kPRestart + 1 + r) * kDay);
      if (f.Active(at)) Push(at, MomentKind::kRestart, l);
    }
    break;  // one restart schedule per container, however many loop faults overlap
  }
}

void World::StepDay(int day) {
  const Sec day_start = start_ + Sec(day) * kDay;
  const Sec day_end = day_start + kDay;
  for (int ca = 0; ca < kCaCount; ++ca)
    for (int hr = 0; hr < 24; ++hr) Push(day_start + hr * kHour + 17 * 60 + ca * 7, MomentKind::kCaProbe, ca);
  for (int32_t h = 0; h < int32_t(hosts_.size()); ++h) {
    const Host& H = hosts_[h];
    Push(day_start + 300 + (h * 37) % 3000, MomentKind::kHostDaily, h);
    const int runs = kClients[int(H.client)].runs_per_day;
    if (runs == 2) {
      // certbot's snap timer: twice a day at random times, then a random sleep of up to 480 s.
      for (int r = 0; r < 2; ++r) {
        const Sec at = day_start + r * 12 * kHour +
                       Sec(U(uint64_t(h), uint64_t(day_start), kPTimer + r) * 12 * kHour) +
                       1 + Sec(U(uint64_t(h), uint64_t(day_start), kPSleep + r) * 479);
        Push(at, MomentKind::kHostRun, h);
      }
    } else if (runs == 1) {
      Sec at = day_start + H.cron_second;
      if (H.client == ClientKind::kLego || H.client == ClientKind::kLegoV5)
        at += Sec(U(uint64_t(h), uint64_t(day_start), kPSleep) * 480);
      Push(std::min(at, day_end - 1), MomentKind::kHostRun, h);
    }
  }
  for (int32_t d = 0; d < int32_t(domains_.size()); ++d) Push(day_start + 600 + (d * 53) % 3000, MomentKind::kDomainDaily, d);
  if (day % 7 == 0)
    for (int32_t o = 0; o < int32_t(orgs_.size()); ++o) Push(day_start + 900 + o % 600, MomentKind::kOrgWeekly, o);
  for (int32_t l = 0; l < int32_t(lineages_.size()); ++l) ScheduleLineage(l, day_start, day_end);
  for (int32_t f = 0; f < int32_t(faults_.size()); ++f) {
    const Fault& F = faults_[f];
    if (F.start < day_start || F.start >= day_end) continue;
    if (F.variant == Variant::k_ratelimit_san_burst) Push(F.start, MomentKind::kBurst, f);
    if (F.variant == Variant::k_ca_revocation) Push(F.start, MomentKind::kRevocation, f);
  }
  while (!heap_.empty()) {
    const Moment mo = heap_.top();
    if (mo.t >= day_end) break;
    heap_.pop();
    switch (mo.kind) {
      case MomentKind::kCaProbe: OnCaProbe(mo.id, mo.t); break;
      case MomentKind::kHostDaily: OnHostDaily(mo.id, mo.t); break;
      case MomentKind::kDomainDaily: OnDomainDaily(mo.id, mo.t); break;
      case MomentKind::kOrgWeekly: OnOrgWeekly(mo.id, mo.t); break;
      case MomentKind::kLineageProbe: OnLineageProbe(mo.id, mo.t); break;
      case MomentKind::kHostRun: OnHostRun(mo.id, mo.t); break;
      case MomentKind::kLineageAttempt: {
        Lineage& L = lineages_[mo.id];
        bool down = false;  // the controller itself is down
        for (int32_t fi : hosts_[L.host].faults)
          if (faults_[fi].variant == Variant::k_local_scheduler_lost && faults_[fi].Active(mo.t)) down = true;
        if (L.retired || std::max(DueTime(L), L.next_retry) > mo.t) break;
        if (down) {
          if (L.episode < 0) StartEpisode(mo.id, mo.t, "local_client", "local_scheduler_lost", -1, false);
          break;
        }
        const bool ari = L.ari && kCas[L.ca].ari && L.ari_pick <= mo.t;
        Attempt(mo.id, mo.t, ari ? "ari" : "schedule", false);
        const ClientKind k = hosts_[L.host].client;
        Sec next = std::max(DueTime(L), L.next_retry);
        if (k == ClientKind::kCaddy) next = (next + 599) / 600 * 600;
        if (next > mo.t && next < day_end) Push(next, MomentKind::kLineageAttempt, mo.id);
        break;
      }
      case MomentKind::kHumanFix: OnHumanFix(mo.id, mo.t); break;
      case MomentKind::kRestart: OnRestart(mo.id, mo.t); break;
      case MomentKind::kBurst: OnBurst(mo.id, mo.t); break;
      case MomentKind::kRevocation: OnRevocation(mo.id, mo.t); break;
      case MomentKind::kDeployLag:
        // The last node of a multi-node set-up picks the new certificate up.
        if (lineages_[mo.id].deploy_at == mo.t) ServeNewest(mo.id, mo.t, "reload hook ran (node sync)");
        break;
    }
  }
  // Moments left for later days (human fixes scheduled far ahead) are re-pushed by
  // ScheduleLineage from human_fix_at; drop the rest so the heap stays small.
  while (!heap_.empty()) heap_.pop();
}

void World::Apply(const PlannedAction& a, Sec t) {
  auto it = by_cert_.find(a.cert);
  if (it == by_cert_.end() || lineages_[it->second].retired) {
    ++m_.invalid_actions;
    return;
  }
  const int32_t l = it->second;
  Lineage& L = lineages_[l];
  switch (a.kind) {
    case ActionKind::kRenew:
    case ActionKind::kDryRun: {
      Challenge ch = L.challenge;
      int8_t ca = L.ca;
      if (a.challenge && *a.challenge != L.challenge) {
        auto alt = std::find(L.alt_challenges.begin(), L.alt_challenges.end(), *a.challenge);
        if (alt == L.alt_challenges.end()) { ++m_.invalid_actions; return; }
        ch = *a.challenge;
      }
      if (a.ca && *a.ca != kCas[L.ca].url) {
        int8_t found = -1;
        for (int8_t x : L.alt_cas)
          if (kCas[x].url == *a.ca) found = x;
        if (found < 0) { ++m_.invalid_actions; return; }
        ca = found;
      }
      if (a.kind == ActionKind::kDryRun) {
        const Challenge saved_ch = L.challenge;
        const int8_t saved_ca = L.ca;
        L.challenge = ch;
        L.ca = ca;
        Attempt(l, t, "forced", true);
        L.challenge = saved_ch;
        L.ca = saved_ca;
        return;
      }
      if (ch != L.challenge || ca != L.ca) {
        // The switch stays in force: what was current becomes the alternative.
        if (ch != L.challenge) *std::find(L.alt_challenges.begin(), L.alt_challenges.end(), ch) = L.challenge;
        if (ca != L.ca) *std::find(L.alt_cas.begin(), L.alt_cas.end(), ca) = L.ca;
        L.challenge = ch;
        L.ca = ca;
        if (ch == Challenge::kDns01) orgs_[L.org].uses_dns01 = true;
        if (kCas[ca].eab) orgs_[L.org].uses_eab = true;
        ++m_.switches;
        EmitConfig(l, t);
      }
      ++m_.forced_renewals;
      Attempt(l, t + 1, "forced", false);
      return;
    }
    case ActionKind::kReload: {
      if (a.host && *a.host != hosts_[L.host].name) { ++m_.invalid_actions; return; }
      ++m_.reloads;
      if (L.served_serial != L.serial) {
        ServeNewest(l, t, "reload by certcast");
      } else {
        Event& e = NewEvent(t);
        auto& b = e.body.emplace<DeployEvent>();
        b.cert = L.cert;
        b.host = hosts_[L.host].name;
        b.outcome = Outcome::kSuccess;
        b.detail = "reload by certcast (already current)";
      }
      return;
    }
    case ActionKind::kAlert: {
      ++m_.alerts;
      int32_t fault = -1;
      if (HasRealCause(l, t, &fault)) {
        ++m_.alerts_true;
        std::string cause = fault >= 0 ? std::string(VariantCause(faults_[fault].variant))
                            : L.episode >= 0 ? truth_.episodes[L.episode].cause
                            : RenewsAfterExpiry(L) ? "lifetime_config" : "not_served";
        ++m_.by_cause[cause].alerts_true;
        trust_ = std::min(1.0, trust_ + 0.01);
        if (fault >= 0 && faults_[fault].abandoned) {
          L.retired = true;  // the owner confirms the site moved away and removes the lineage
          L.retired_at = t;
          if (L.outage_since != kInf) {
            m_.outage_hours += double(t - L.outage_since) / 3600.0;
            if (L.episode >= 0) {
              Episode& ep = truth_.episodes[L.episode];
              ep.outage_hours += double(t - L.outage_since) / 3600.0;
              ep.outage_start = T(L.outage_since);
              ep.outage_end = T(t);
            }
            L.outage_since = kInf;
          }
          EndEpisode(l, t);
          return;
        }
        // People act on alerts they trust; a distrusted team takes longer.
        if (U(uint64_t(l), uint64_t(t), kPTrust) < trust_) {
          ScheduleHuman(l, t + Sec(Jitter(uint64_t(l), uint64_t(t), kPHuman + 5, c_.alert_fix_hours, 0.8) / trust_ * kHour));
        }
      } else {
        trust_ = std::max(0.2, trust_ - c_.trust_penalty);
      }
      return;
    }
  }
}

void World::EmitInitial() {
  // Discovery: every lineage's config and current certificate, issued some time ago.
  for (int32_t l = 0; l < int32_t(lineages_.size()); ++l) {
    Lineage& L = lineages_[l];
    EmitConfig(l, start_);
    // Age: uniform in [0, renewal point) so the fleet's renewals are spread out.
    const Sec life = Lifetime(L.ca, L.profile, start_);
    L.not_before = 0;
    L.not_after = life;  // provisional for DueTime
    const double frac = L.rule.kind == RenewRule::Kind::kFraction ? L.rule.value
                        : L.rule.kind == RenewRule::Kind::kDaysLeft ? 1 - L.rule.value * kDay / double(life)
                                                                    : std::min(0.95, L.rule.value * kDay / double(life));
    const Sec age = Sec(U(uint64_t(l), 0, kPAriPick + 9) * std::max(0.05, frac) * double(life));
    Issue(l, start_ - age + kHour, true);
    L.served_serial = L.serial;
    L.served_not_after = L.not_after;
  }
}

StatusOr<RunResult> World::Run(EventSink* sink, const RunOptions& options) {
  RETURN_IF_ERROR(ValidateConfig(c_));
  Rng rng(Mix64(c_.seed ^ 0xf1ee7ULL));
  Randomize(rng);
  BuildFleet(rng);
  BuildFaults(rng);
  m_.policy = policy_ ? policy_->name() : "none";
  out_.reserve(size_t(lineages_.size()) * 8 + 4096);
  if (policy_) policy_->AttachOracle(this);
  // Without the policy's own alert log, each alert action it returns is a page about one lineage.
  AlertLog alert_actions;
  EmitInitial();
  for (int day = 0; day < c_.days; ++day) {
    StepDay(day);
    SortNearlySorted(out_);
    m_.events += int64_t(out_.size());
    const Sec day_end = start_ + Sec(day + 1) * kDay;
    // The truth of which renewals a live fault dooms, taken before the policy acts (what the
    // oracle sees at this instant): paging.h scores pages by it.
    if (policy_) {
      for (const Doomed& d : DoomedRenewals(T(day_end))) {
        auto [it, added] = doomed_open_.try_emplace({d.cert, d.fault}, truth_.doomed.size());
        if (!added && truth_.doomed[it->second].to == T(day_end - kDay)) {
          truth_.doomed[it->second].to = T(day_end);
          continue;
        }
        it->second = truth_.doomed.size();
        truth_.doomed.push_back({d.cert, d.fault, T(day_end), T(day_end)});
      }
    }
    std::vector<PlannedAction> actions;
    if (policy_) actions = policy_->Decide(T(day_end), out_);
    for (const PlannedAction& a : actions) {
      if (a.kind == ActionKind::kAlert) alert_actions.notices.push_back({T(day_end), NoticeSeverity::kPage, {a.cert}});
    }
    if (sink) RETURN_IF_ERROR(sink->ConsumeDay(out_));
    out_.clear();
    Sec t = day_end;
    for (const PlannedAction& a : actions) {
      if (t >= day_end + kHour) break;  // bounded: at most 3600 actions per day are applied
      Apply(a, t++);
    }
    if (options.progress) options.progress(day + 1, c_.days);
  }
  if (!out_.empty()) {
    // Events of actions taken at the very end belong to the day after the run.
    SortNearlySorted(out_);
    m_.events += int64_t(out_.size());
    if (sink) RETURN_IF_ERROR(sink->ConsumeDay(out_));
    out_.clear();
  }
  // Close the books at the end of the run.
  for (int32_t l = 0; l < int32_t(lineages_.size()); ++l) {
    Lineage& L = lineages_[l];
    if (L.retired || L.served_not_after >= end_) continue;
    const Sec since = std::max(L.served_not_after, start_);
    const double hours = double(end_ - since) / 3600.0;
    m_.outage_hours += hours;
    if (L.episode < 0) StartEpisode(l, since, "unknown", "unexplained", -1, false);
    Episode& ep = truth_.episodes[L.episode];
    if (!ep.outage_start) ep.outage_start = T(since);
    ep.outage_hours += hours;
  }
  // Truth records and per-cause metrics.
  RunResult r;
  for (const Fault& f : faults_) {
    FaultRecord fr;
    fr.variant = std::string(VariantName(f.variant));
    fr.cause = std::string(VariantCause(f.variant));
    fr.scope = std::string(VariantScope(f.variant));
    fr.subject = fr.scope == "lineage" ? lineages_[f.subject].cert
                 : fr.scope == "host"  ? hosts_[f.subject].name
                 : fr.scope == "domain" ? domains_[f.subject].name
                 : fr.scope == "org"   ? StrCat("org", f.subject)
                                       : std::string(kCas[f.subject].url);
    fr.start = T(f.start);
    if (f.end < end_) fr.end = T(f.end);
    if (f.first_visible != kInf) fr.first_visible = T(f.first_visible);
    fr.silent = f.silent;
    fr.ended_by = f.end >= end_ ? "" : *f.ended_by ? f.ended_by : "heal";
    fr.episodes = f.episodes;
    truth_.faults.push_back(std::move(fr));
  }
  for (Episode& ep : truth_.episodes) {
    if (ep.fault_id >= 0 && faults_[ep.fault_id].first_visible != kInf) {
      const Sec vis = faults_[ep.fault_id].first_visible;
      const Sec until = ep.end ? absl::ToUnixSeconds(*ep.end) : end_;
      if (vis <= until) ep.precursor_visible = T(vis);
      // Usable: visible on a day before the day of the onset (what a daily forecast at 00:00
      // could have used), or, when the labels cannot see the onset, before the outage's day.
      const absl::Time target = ep.labelled || !ep.outage_start ? ep.onset : *ep.outage_start;
      ep.warned = ep.precursor_visible && *ep.precursor_visible < FloorToDay(target);
    }
    CauseMetrics& cm = m_.by_cause[ep.cause];
    ++cm.episodes;
    ++m_.episodes;
    if (ep.warned) { ++cm.episodes_warned; ++m_.episodes_warned; }
    if (ep.outage_start) { ++cm.episodes_with_outage; ++m_.episodes_with_outage; }
    cm.outage_hours += ep.outage_hours;
  }
  for (const Look& k : looks_) {
    LookAlikeRecord lr;
    lr.kind = std::string(LookAlikeName(k.kind));
    const std::string_view scope = LookAlikeScope(k.kind);
    lr.subject = scope == "lineage" ? lineages_[k.subject].cert
                 : scope == "host"  ? hosts_[k.subject].name
                 : scope == "domain" ? domains_[k.subject].name
                 : scope == "org"   ? StrCat("org", k.subject)
                                    : std::string(kCas[k.subject].url);
    lr.start = T(k.start);
    lr.end = T(std::min(k.end, end_));
    truth_.lookalikes.push_back(std::move(lr));
  }
  for (const Lineage& L : lineages_) {
    truth_.cdn_names += L.cdn ? 1 : 0;
    LineageRecord record{L.cert, hosts_[L.host].name, std::nullopt};
    if (L.retired) record.retired = T(L.retired_at);
    truth_.lineages.push_back(std::move(record));
  }
  if (policy_) {
    const AlertLog* log = policy_->alert_log();
    m_.paging = ScorePaging(log ? *log : alert_actions, truth_, double(c_.lineages) * c_.days / 7);
  }
  m_.final_trust = trust_;
  r.truth = std::move(truth_);
  r.metrics = std::move(m_);
  return r;
}

StatusOr<RunResult> RunOpenLoop(const SimConfig& config, EventSink* sink, const RunOptions& options) {
  World w(config, nullptr);
  return w.Run(sink, options);
}

StatusOr<RunResult> RunClosedLoop(const SimConfig& config, Policy& policy, EventSink* sink,
                                  const RunOptions& options) {
  World w(config, &policy);
  return w.Run(sink, options);
}

}  // namespace certcast::sim
