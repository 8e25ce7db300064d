// The fleet simulator: a synthetic fleet of certificate lineages, stepped one simulated day at a
// time, that emits events-v1 telemetry the way a real agent collects it, keeps the hidden ground
// truth (which fault caused which episode, when its precursor became visible) out of that stream,
// and optionally runs a Policy in the loop (docs/evaluation.md §2) to compare what would have happened.
// The model, its rates and their grounding are documented in docs/simulator.md.
//
// Contract:
//  - Deterministic: the same SimConfig (seed included) and the same Policy decisions give the same
//    events byte for byte. The per-day randomness of a lineage is drawn from a counter-based hash
//    of (seed, lineage, time, purpose), so two policies see the same world (common random numbers)
//    and differ only where their actions changed it.
//  - No wall clock: simulated time is config.start plus steps.
//  - The policy and the sink see events only; GroundTruth is returned separately.
//  - Not thread-safe; a run uses one thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "collect/sim/paging.h"
#include "core/action.h"
#include "core/cause.h"
#include "core/event.h"
#include "core/status.h"

namespace certcast::sim {

// Fault variants: name, cause, scope, default rate per scope-year, share with no telemetry
// signal ("silent"), share that heals by itself, median hours to heal. The rates are judgement
// calls from docs/background.md §7 (no public per-cause data exists); docs/simulator.md explains each.
// Scopes: lineage, host, org, domain (registered domain), ca.
#define CERTCAST_SIM_VARIANTS(X)                                                        \
  X(dns_a_moved, dns_pointing, lineage, 0.030, 0.15, 0.10, 72)                           \
  X(dns_record_deleted, dns_pointing, lineage, 0.008, 0.10, 0.20, 48)                    \
  X(dns_wrong_aaaa, dns_pointing, lineage, 0.008, 0.25, 0.00, 0)                         \
  X(domain_lapsed, dns_pointing, domain, 0.010, 0.00, 0.00, 0)                           \
  X(http01_firewall, http01_unreachable, host, 0.030, 0.10, 0.30, 24)                   \
  X(http01_port_closed, http01_unreachable, host, 0.020, 0.10, 0.20, 24)                \
  X(http01_geo_block, http01_unreachable, host, 0.012, 1.00, 0.00, 0)                   \
  X(http01_redirect, http01_unreachable, lineage, 0.015, 0.10, 0.10, 48)                \
  X(http01_webroot_moved, http01_unreachable, lineage, 0.015, 0.10, 0.10, 48)           \
  X(http01_ipv6_broken, http01_unreachable, lineage, 0.020, 1.00, 0.10, 48)             \
  X(dns01_token_expired, dns01_automation, org, 0.150, 0.00, 0.00, 0)                   \
  X(dns01_token_revoked, dns01_automation, org, 0.050, 0.50, 0.00, 0)                   \
  X(dns01_ns_moved, dns01_automation, domain, 0.030, 0.10, 0.00, 0)                     \
  X(dns01_cname_removed, dns01_automation, lineage, 0.020, 0.10, 0.00, 0)               \
  X(dns01_slow_propagation, dns01_automation, org, 0.050, 0.30, 0.50, 72)               \
  X(local_scheduler_lost, local_client, host, 0.020, 0.30, 0.00, 0)                     \
  X(local_disk_full, local_client, host, 0.020, 0.20, 0.30, 48)                         \
  X(local_runtime_broken, local_client, host, 0.015, 0.30, 0.00, 0)                     \
  X(local_hook_failing, local_client, host, 0.010, 1.00, 0.00, 0)                       \
  X(local_permissions, local_client, host, 0.010, 1.00, 0.00, 0)                        \
  X(stale_hook_missing, not_served, lineage, 0.020, 0.00, 0.00, 0)                    \
  X(stale_hook_failing, not_served, lineage, 0.015, 0.00, 0.00, 0)                    \
  X(ratelimit_redeploy_loop, rate_limited, lineage, 0.010, 0.00, 1.00, 96)                \
  X(ratelimit_san_burst, rate_limited, domain, 0.000, 0.00, 0.00, 0)                      \
  X(caa_restrictive, caa_dnssec, domain, 0.010, 0.10, 0.00, 0)                          \
  X(caa_critical_unknown, caa_dnssec, domain, 0.003, 0.10, 0.00, 0)                     \
  X(dnssec_broken, caa_dnssec, domain, 0.050, 0.20, 0.30, 24)                           \
  X(ca_outage, ca_side, ca, 3.000, 0.40, 1.00, 6)                                       \
  X(ca_partial, ca_side, ca, 1.500, 0.50, 1.00, 24)                                     \
  X(ca_revocation, ca_side, ca, 0.300, 0.00, 1.00, 1)                                   \
  X(ca_profile_removed, ca_side, ca, 0.500, 1.00, 0.00, 0)                              \
  X(account_eab_expired, account, org, 0.200, 0.00, 0.00, 0)                        \
  X(account_key_lost, account, host, 0.010, 0.20, 0.00, 0)                          \
  X(account_deactivated, account, host, 0.003, 1.00, 0.00, 0)                       \
  X(clock_rtc_reset, clock, host, 0.010, 0.00, 0.00, 0)                                 \
  X(unknown_failure, unknown, lineage, 0.010, 1.00, 0.30, 48)

// Harmless look-alikes: name, scope, default rate per scope-year. They show the same kind of
// signal as a cause but renewal keeps working.
#define CERTCAST_SIM_LOOKALIKES(X)            \
  X(planned_migration, lineage, 0.03)         \
  X(waf_blocks_probe, lineage, 0.02)          \
  X(token_rotated_late, org, 0.30)            \
  X(ns_move_migrated, domain, 0.02)           \
  X(caa_still_permits, domain, 0.03)          \
  X(ca_latency_spike, ca, 8.0)                \
  X(harmless_upgrade, host, 0.30)             \
  X(disk_warning_cleared, host, 0.10)         \
  X(clock_drift_small, host, 0.08)            \
  X(deploy_lag, lineage, 0.03)                \
  X(dns_provider_outage, org, 0.0)

enum class Variant : uint8_t {
#define CERTCAST_SIM_X(name, cause, scope, rate, silent, heal, heal_h) k_##name,
  CERTCAST_SIM_VARIANTS(CERTCAST_SIM_X)
#undef CERTCAST_SIM_X
};
enum class LookAlike : uint8_t {
#define CERTCAST_SIM_X(name, scope, rate) k_##name,
  CERTCAST_SIM_LOOKALIKES(CERTCAST_SIM_X)
#undef CERTCAST_SIM_X
};
inline constexpr int kVariantCount = 0
#define CERTCAST_SIM_X(...) +1
    CERTCAST_SIM_VARIANTS(CERTCAST_SIM_X)
#undef CERTCAST_SIM_X
    ;
inline constexpr int kLookAlikeCount = 0
#define CERTCAST_SIM_X(...) +1
    CERTCAST_SIM_LOOKALIKES(CERTCAST_SIM_X)
#undef CERTCAST_SIM_X
    ;

// Causes of docs/background.md §7, plus "transient" (one failed attempt that the next one fixes: a
// self-healing episode with no precursor) and "lifetime_config" (a renewal rule that renews after
// the certificate expires, e.g. acme.sh after_issue_days:59 with 45-day certificates).
// The names are core/cause.h's, the one vocabulary (every cause but "none").
inline constexpr std::span<const std::string_view> kCauses(kCauseNames + 1, kCauseCount - 1);

std::string_view VariantName(Variant v);
std::string_view VariantCause(Variant v);
std::string_view LookAlikeName(LookAlike l);

struct SimConfig {
  // --- the run ---
  int64_t lineages = 1000;  // 1 .. 2,000,000
  int days = 365;           // 1 .. 3,660
  absl::Time start = absl::FromUnixSeconds(1795824000);  // 2026-11-28T00:00:00Z
  uint64_t seed = 1;
  std::string preset = "small";
  // Jitter every rate and share of this fleet by a log-normal factor (sigma below) drawn from the
  // seed, so that a model cannot memorise one parameter set.
  bool randomize = true;
  double randomize_sigma = 0.3;

  // --- fleet shape (means) ---
  double lineages_per_host = 3;
  double hosts_per_org = 2;
  double domains_per_org = 2;
  double extra_names_per_lineage = 0.6;  // beyond the first name
  double wildcard_share = 0.05;          // of dns-01 lineages
  double shared_domain_share = 0;        // lineages named under their org's first domain, hosting
  double cdn_share = 0.08;               // names whose A answers rotate within a CDN pool
  double ipv6_share = 0.3;               // names with an AAAA record
  double dnssec_share = 0.1;             // registered domains signed with DNSSEC
  double caa_share = 0.3;                // registered domains with a CAA record set
  double acme_cname_share = 0.5;         // dns-01 names delegating _acme-challenge by CNAME

  // --- ACME clients (relative weights) ---
  double w_certbot = 0.40;       // >= 4.1: fraction 2/3, ARI capable, twice-daily timer
  double w_certbot_old = 0.08;   // < 4.0: days_left:30, no ARI
  double w_lego = 0.10;          // v4: days_left:30, ARI on by default, daily cron
  double w_lego_v5 = 0.03;       // v5: 1/3 lifetime left
  double w_acmesh = 0.10;        // >= 3.1.4: after_issue_days:29, ARI
  double w_acmesh_old = 0.04;    // <= 3.1.3: after_issue_days:59, no ARI
  double w_cert_manager = 0.10;  // renewBefore 1/3, backoff 1h*2^(n-1) capped at 32h, no ARI
  double w_caddy = 0.08;         // 1/3 left, ARI, retry ladder
  double w_other = 0.02;         // home-grown cron: days_left:30, daily, no ARI
  double ari_share = 0.85;       // of ARI-capable installs that have it on
  double days_left_override_share = 0.08;  // certbot users with renew_before_expiry = 30 days

  // --- challenges, CAs, profiles ---
  double dns01_share = 0.15;
  double tlsalpn_share = 0.03;
  double alt_challenge_share = 0.35;  // lineages that list an alternative challenge
  double ca_zerossl_share = 0.08;
  double ca_google_share = 0.05;
  double alt_ca_share = 0.25;            // lineages that list an alternative CA
  double profile_tlsserver_share = 0.03;  // 45-day certificates today
  double profile_shortlived_share = 0.0;  // 160 h certificates (busy: ~110 renewals a year)
  double legacy_profile_share = 0.01;     // a profile that the CA removes during the run

  // --- faults: rate per scope-year by variant, silent share, self-heal share, heal median h ---
  struct VariantParams {
    double rate = 0, silent = 0, heal = 0, heal_hours = 0;
  };
  VariantParams variants[kVariantCount];
  double lookalike_rates[kLookAlikeCount];
  double abandoned_share = 0.15;    // dns_a_moved faults where the site moved for good: never fixed
  double transient_failure = 0.004;  // per attempt: badNonce, serverInternal, timeout
  double probe_flake = 0.004;        // per probe: a timeout that means nothing

  // --- people ---
  double notices_failures_share = 0.3;  // orgs that read cron mail / have failure monitoring
  double notice_failure_hours = 60;     // median delay from first failure to a fix (those orgs)
  double notice_outage_hours = 8;       // median delay from outage start to someone noticing
  double fix_hours = 4;                 // median time to fix once noticed
  double alert_fix_hours = 20;          // median time from a certcast alert to a fix
  double trust_penalty = 0.02;          // trust lost per false alert (trust scales follow-up)

  SimConfig();
};

// Named presets: "small" (a few servers per owner, certbot/lego/acme.sh), "hosting" (many lineages
// per host under shared provider domains), "k8s" (cert-manager, DNS-01, clusters).
StatusOr<SimConfig> PresetConfig(std::string_view name);
// Applies a TOML document on top of `config`. Keys: top-level run/fleet/client/people fields by
// their SimConfig name (e.g. `dns01_share = 0.3`), [variants.NAME] tables with rate/silent/heal/
// heal_hours, [lookalikes] NAME = rate. Unknown keys and out-of-range values are errors.
Status ApplyToml(std::string_view toml_text, SimConfig& config);
Status ValidateConfig(const SimConfig& config);

// One failure episode of a lineage, as the hidden truth knows it.
struct Episode {
  std::string cert;
  std::string host;
  std::string cause;    // one of kCauses
  std::string variant;  // fault variant, or "transient" / "lifetime_config" / "rate_limited"
  absl::Time onset;     // first failed non-dry-run attempt; for unlabelled episodes see below
  // events-v1 labels see this episode (it starts with a failed renewal). not_served and a lost
  // scheduler fail without a failed attempt; their onset is the issuance that was not deployed
  // or the first due time that passed without a run.
  bool labelled = true;
  // When telemetry first showed the cause; nullopt when it never did before the episode ended.
  std::optional<absl::Time> precursor_visible;
  // A usable warning: precursor visible before the onset (labelled) or before the outage
  // (unlabelled episodes, where the outage is the first thing the labels see).
  bool warned = false;
  std::optional<absl::Time> end;  // the success (and deploy) that ended it; nullopt: still open
  std::optional<absl::Time> outage_start, outage_end;  // expired certificate served
  double outage_hours = 0;
  int64_t fault_id = -1;  // index in GroundTruth::faults, -1 when none
};

struct FaultRecord {
  std::string variant, cause, scope, subject;
  absl::Time start;
  std::optional<absl::Time> end;  // healed or fixed
  std::optional<absl::Time> first_visible;
  bool silent = false;
  std::string ended_by;  // "heal", "human", "alert", "" when still active
  int episodes = 0;
};

struct LookAlikeRecord {
  std::string kind, subject;
  absl::Time start, end;
};

// A lineage as the truth knows it: its host, and when its owner retired it (removed it from the
// fleet after a true alert that its name had moved away for good). A retired lineage is gone: no
// probe, attempt or expired-certificate hour counts after `retired`, and a notice about it after
// then points at no real cause (paging.h).
struct LineageRecord {
  std::string cert;
  std::string host;
  std::optional<absl::Time> retired;
};

// A lineage whose next renewal a live fault would make fail, from `from` to `to` (the first and
// the last plan instant, day ends, at which the world found it so): the fault applies to the
// lineage's set-up at that instant (its challenge, CA, profile) and, as the world has it scheduled
// then, outlasts the lineage's next renewal (World::DoomedRenewals, the oracle's own test). It is
// how a fault scoped to a registered domain, an organisation or a CA points at a lineage before
// it opens an episode there (paging.h). Also doomed, with no fault: a lineage whose client's own
// rule renews its current certificate no earlier than its expiry (acme.sh after_issue_days:59 on a
// 45-day certificate; decided 2026-12-05, docs/decisions.md). Recorded in closed loops only, for
// every lineage at every day end, whatever the policy does.
struct DoomRecord {
  std::string cert;
  int64_t fault_id = -1;  // index in GroundTruth::faults; -1: the client's rule renews too late
  absl::Time from, to;
};

struct GroundTruth {
  std::vector<Episode> episodes;
  std::vector<FaultRecord> faults;
  std::vector<LookAlikeRecord> lookalikes;
  std::vector<DoomRecord> doomed;       // closed loops only
  std::vector<LineageRecord> lineages;  // every lineage, in fleet order
  int64_t probe_flakes = 0;  // transient probe failures (a look-alike too)
  int64_t cdn_names = 0;     // names whose A answers churn inside a CDN pool
};

// Writes the truth as JSON Lines: one "fleet" header, then "episode", "fault", "lookalike" lines,
// and a "retirement" line (cert, host, retired) per retired lineage.
void WriteTruthJsonl(const SimConfig& config, const GroundTruth& truth, std::string& out);

struct CauseMetrics {
  int64_t episodes = 0, episodes_warned = 0, episodes_with_outage = 0, alerts_true = 0;
  double outage_hours = 0;
};

// Closed-loop outcome (docs/evaluation.md §2 scoring) and open-loop counts.
struct Metrics {
  std::string policy;
  double outage_hours = 0;   // expired certificates served
  double revoked_hours = 0;  // revoked certificates served (not an outage by the labels)
  int64_t issuances = 0, attempts = 0, failed_attempts = 0, rate_limited_attempts = 0;
  int64_t dry_runs = 0, forced_renewals = 0, reloads = 0, switches = 0, invalid_actions = 0;
  int64_t alerts = 0, alerts_true = 0;
  int64_t episodes = 0, episodes_warned = 0, episodes_with_outage = 0;
  int64_t events = 0;
  double final_trust = 1;
  std::map<std::string, CauseMetrics> by_cause;
  // Closed loop: pages, tickets and incidents as people received them, scored against the truth
  // (paging.h). A policy without an alert log pages once per alert action.
  PagingMetrics paging;
  double alert_precision() const { return alerts ? double(alerts_true) / alerts : 0; }
};
std::string FormatMetricsTable(std::span<const Metrics> runs);
// Pages (with their share at a real cause and per 1,000 lineage-weeks), tickets, info and watch
// lineage-plans, incidents opened and resolved: a few indented lines under a title naming `policy`.
std::string FormatPaging(const PagingMetrics& paging, std::string_view policy);
void AppendMetricsJson(const Metrics& m, std::string& out);

// Receives each simulated day's events, in ts order, once the day is complete.
class EventSink {
 public:
  virtual ~EventSink() = default;
  // `events` is valid only during the call. A non-OK status stops the run and is returned.
  virtual Status Consume(std::span<const Event> events) = 0;
  // The simulator's entry point: the sink may take the day's vector (to work on it in another
  // thread) and must leave `events` empty. By default it calls Consume and clears.
  virtual Status ConsumeDay(std::vector<Event>& events) {
    Status s = Consume(events);
    events.clear();
    return s;
  }
};

// Writes events-v1 JSON Lines to a FILE*. ConsumeDay hands the day to a writer thread that
// serializes and writes while the simulator computes the next day (two days in flight at most),
// so generation and output overlap; Consume writes synchronously. Close() (or the destructor)
// waits for the writer and returns the first write error. Not for concurrent callers.
class JsonLinesSink : public EventSink {
 public:
  explicit JsonLinesSink(std::FILE* out);
  ~JsonLinesSink() override;
  JsonLinesSink(const JsonLinesSink&) = delete;
  JsonLinesSink& operator=(const JsonLinesSink&) = delete;
  Status Consume(std::span<const Event> events) override;
  Status ConsumeDay(std::vector<Event>& events) override;
  Status Close();
  int64_t bytes() const { return bytes_; }

 private:
  Status Write(std::span<const Event> events, std::string& buffer);
  void WriterLoop();

  std::FILE* out_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> pending_;  // owned by the writer while has_pending_
  bool has_pending_ = false;
  bool closing_ = false;
  Status error_;
  std::string buffer_;
  std::atomic<int64_t> bytes_{0};
  std::thread writer_;
};

// The closed-loop contract: once per simulated day, after that day's events, the policy is asked
// what to do at the day's end. It sees only events (never the truth). Actions are applied at
// day_end in the order given: renew (optionally switching challenge or CA from the lineage's alt_*
// lists; the switch stays in force), dry_run (a staging validation reported as a renewal event
// with dry_run true), alert (a person fixes a real cause after a delay; a false alert costs
// trust), reload (serve the newest certificate). Their events appear in the next day's batch.
// The truth, for the oracle baseline only (a policy that knows every fault; no real policy may
// use it). Valid during Decide.
class Oracle {
 public:
  virtual ~Oracle() = default;
  struct Doomed {
    std::string cert;
    int64_t fault = -1;  // index in GroundTruth::faults; -1: the client's rule renews too late
  };
  // Lineages (not retired) whose next renewal a live fault will make fail: with the lineage's
  // current challenge and CA, a fault that breaks its renewal or serving is active at `at` and
  // still active at the renewal's due time (as the world knows it now; a person's later fix is
  // not foreseen); else, whose client's rule renews the current certificate no earlier than its
  // expiry (fault -1). In fleet order.
  virtual std::vector<Doomed> DoomedRenewals(absl::Time at) const = 0;
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string name() const = 0;
  virtual std::vector<PlannedAction> Decide(absl::Time day_end,
                                            std::span<const Event> todays_events) = 0;
  // A policy that groups its alerts (incidents, severities) reports what people received; the
  // default, nullptr, means every alert action it returns is a page about that lineage.
  virtual const AlertLog* alert_log() const { return nullptr; }
  // Called once before the first Decide, by the closed loop; only the oracle baseline keeps it.
  virtual void AttachOracle(const Oracle* /*oracle*/) {}
};

// Baselines: "none" (the clients alone), "alert-on-failure" (alert when a renewal failed),
// "expiry-alert" (alert when a probed certificate has fewer than `expiry_days` days left), and
// "oracle", the ceiling: it knows every fault (Oracle) and pages exactly when a live fault will
// make a lineage's next renewal fail, once per lineage and fault, one page per fault and day
// naming the lineages it newly dooms.
StatusOr<std::unique_ptr<Policy>> MakeBaselinePolicy(std::string_view name, int expiry_days = 14);

struct RunOptions {
  // Called after each simulated day (day index from 1). Optional.
  std::function<void(int day, int days)> progress;
};

struct RunResult {
  GroundTruth truth;
  Metrics metrics;
};

// Open loop: the fleet with its clients and people, no policy. `sink` may be null (metrics only).
StatusOr<RunResult> RunOpenLoop(const SimConfig& config, EventSink* sink,
                                const RunOptions& options = {});
// Closed loop: the same world with `policy` deciding at every day's end.
StatusOr<RunResult> RunClosedLoop(const SimConfig& config, Policy& policy, EventSink* sink,
                                  const RunOptions& options = {});

}  // namespace certcast::sim
