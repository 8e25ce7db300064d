// Tests of the fleet simulator: determinism, the events-v1 contract, client rules, causes and
// the closed loop. Each test builds a small fleet whose configuration isolates what it checks.
#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_join.h"
#include "collect/sim/simulator.h"
#include "core/event_json.h"
#include "core/time.h"
#include "gtest/gtest.h"

namespace certcast::sim {
namespace {

// Keeps every event and its canonical line.
class MemorySink : public EventSink {
 public:
  Status Consume(std::span<const Event> events) override {
    for (const Event& e : events) {
      events_.push_back(e);
      text_ += EventToJson(e);
      text_ += '\n';
    }
    return OkStatus();
  }
  std::vector<Event> events_;
  std::string text_;
};

// A fleet with nothing going wrong and no randomisation, to switch single things on.
SimConfig QuietConfig(int64_t lineages, int days) {
  SimConfig c;
  c.lineages = lineages;
  c.days = days;
  c.randomize = false;
  for (auto& v : c.variants) v.rate = 0;
  for (auto& r : c.lookalike_rates) r = 0;
  c.transient_failure = 0;
  c.probe_flake = 0;
  c.legacy_profile_share = 0;
  return c;
}

void OnlyClient(SimConfig& c, double SimConfig::*weight) {
  for (double SimConfig::*w :
       {&SimConfig::w_certbot, &SimConfig::w_certbot_old, &SimConfig::w_lego, &SimConfig::w_lego_v5,
        &SimConfig::w_acmesh, &SimConfig::w_acmesh_old, &SimConfig::w_cert_manager,
        &SimConfig::w_caddy, &SimConfig::w_other}) {
    c.*w = 0;
  }
  c.*weight = 1;
}

int VariantIndex(std::string_view name) {
  for (int i = 0; i < kVariantCount; ++i)
    if (VariantName(Variant(i)) == name) return i;
  ADD_FAILURE() << "no variant " << name;
  return 0;
}

RunResult MustRun(const SimConfig& c, MemorySink* sink, Policy* policy = nullptr) {
  auto r = policy ? RunClosedLoop(c, *policy, sink) : RunOpenLoop(c, sink);
  EXPECT_TRUE(r.ok()) << r.status();
  return std::move(*r);
}

TEST(SimulatorTest, SameSeedGivesIdenticalBytesAndAnotherSeedDiffers) {
  SimConfig c;
  c.lineages = 150;
  c.days = 60;
  c.seed = 42;
  MemorySink a, b, d;
  RunResult ra = MustRun(c, &a);
  RunResult rb = MustRun(c, &b);
  ASSERT_FALSE(a.text_.empty());
  EXPECT_EQ(a.text_, b.text_);
  std::string ta, tb;
  WriteTruthJsonl(c, ra.truth, ta);
  WriteTruthJsonl(c, rb.truth, tb);
  EXPECT_EQ(ta, tb);
  c.seed = 43;
  MustRun(c, &d);
  EXPECT_NE(a.text_, d.text_);
}

TEST(SimulatorTest, ThreadedFileSinkWritesTheSameBytesAsTheEventsInOrder) {
  SimConfig c;
  c.lineages = 120;
  c.days = 40;
  MemorySink memory;
  MustRun(c, &memory);
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  {
    JsonLinesSink sink(file);
    auto r = RunOpenLoop(c, &sink);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(sink.Close().ok());
    EXPECT_EQ(sink.bytes(), int64_t(memory.text_.size()));
  }
  std::rewind(file);
  std::string text(memory.text_.size() + 1, '\0');
  text.resize(std::fread(text.data(), 1, text.size(), file));
  std::fclose(file);
  EXPECT_EQ(text, memory.text_);
}

TEST(SimulatorTest, EveryLineParsesEveryTypeAppearsAndEventsAreInOrder) {
  SimConfig c;  // defaults: every cause and look-alike possible
  c.lineages = 600;
  c.days = 200;
  c.seed = 7;
  MemorySink sink;
  RunResult r = MustRun(c, &sink);
  std::set<EventType> types;
  size_t start = 0, lines = 0;
  absl::Time previous = absl::InfinitePast();
  while (start < sink.text_.size()) {
    const size_t end = sink.text_.find('\n', start);
    const std::string_view line(sink.text_.data() + start, end - start);
    auto e = ParseEventLine(line);
    ASSERT_TRUE(e.ok()) << e.status() << " in " << line;
    EXPECT_EQ(EventToJson(*e), line);  // canonical already
    EXPECT_GE(e->ts, previous) << line;
    previous = e->ts;
    types.insert(e->type());
    start = end + 1;
    ++lines;
  }
  EXPECT_EQ(int64_t(lines), r.metrics.events);
  EXPECT_EQ(int(types.size()), kEventTypeCount);
  EXPECT_GT(r.truth.episodes.size(), 10u);
  EXPECT_GT(r.truth.lookalikes.size(), 10u);
}

TEST(SimulatorTest, LabelledEpisodeOnsetIsAFailedNonDryRunRenewalAfterTheLastSuccess) {
  SimConfig c;
  c.lineages = 400;
  c.days = 150;
  c.seed = 3;
  MemorySink sink;
  RunResult r = MustRun(c, &sink);
  // Per cert: renewal events in order.
  absl::flat_hash_map<std::string, std::vector<const RenewalEvent*>> renewals;
  absl::flat_hash_map<std::string, std::vector<absl::Time>> times;
  for (const Event& e : sink.events_)
    if (auto* rn = e.As<RenewalEvent>(); rn && !rn->dry_run) {
      renewals[rn->cert].push_back(rn);
      times[rn->cert].push_back(e.ts);
    }
  int checked = 0;
  for (const Episode& ep : r.truth.episodes) {
    if (!ep.labelled) continue;
    const auto& ts = times[ep.cert];
    auto it = std::find(ts.begin(), ts.end(), ep.onset);
    ASSERT_NE(it, ts.end()) << ep.cert << " " << FormatRfc3339(ep.onset);
    const size_t i = size_t(it - ts.begin());
    EXPECT_EQ(renewals[ep.cert][i]->outcome, Outcome::kFailure);
    if (i > 0) EXPECT_EQ(renewals[ep.cert][i - 1]->outcome, Outcome::kSuccess) << ep.cert;
    ++checked;
  }
  EXPECT_GT(checked, 20);
}

TEST(SimulatorTest, CertbotWithDaysLeft30AttemptsOnTheDayThirtyDaysBeforeExpiry) {
  SimConfig c = QuietConfig(200, 120);
  OnlyClient(c, &SimConfig::w_certbot_old);  // days_left:30, twice-daily timer, no ARI
  c.ca_zerossl_share = c.ca_google_share = 0;
  c.profile_tlsserver_share = 0;
  MemorySink sink;
  MustRun(c, &sink);
  absl::flat_hash_map<std::string, absl::Time> not_after;
  int checked = 0;
  for (const Event& e : sink.events_) {
    if (auto* cfg = e.As<ConfigEvent>()) EXPECT_EQ(cfg->renew_rule.value_or(""), "days_left:30");
    if (auto* is = e.As<IssuedEvent>()) not_after.try_emplace(is->cert, is->not_after);
    if (auto* rn = e.As<RenewalEvent>()) {
      auto it = not_after.find(rn->cert);
      if (it == not_after.end() || it->second == absl::InfinitePast()) continue;
      const absl::Time due = it->second - absl::Hours(24 * 30);
      // The first attempt is the first timer run at or after the due time: within 12 h + 8 min.
      EXPECT_GE(e.ts, due) << rn->cert;
      EXPECT_LE(e.ts, due + absl::Hours(24) + absl::Minutes(8)) << rn->cert;
      EXPECT_EQ(rn->trigger.value_or(""), "schedule");
      it->second = absl::InfinitePast();  // only the first attempt per certificate
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
}

TEST(SimulatorTest, LetsEncryptClassicLifetimesFollowThe2027And2028Changes) {
  SimConfig c = QuietConfig(150, 500);
  c.start = *ParseRfc3339("2027-01-01T00:00:00Z");
  c.ca_zerossl_share = c.ca_google_share = 0;
  c.profile_tlsserver_share = 0;
  MemorySink sink;
  MustRun(c, &sink);
  const absl::Time to64 = *ParseRfc3339("2027-02-10T00:00:00Z");
  const absl::Time to45 = *ParseRfc3339("2028-02-16T00:00:00Z");
  std::set<int64_t> seen;
  for (const Event& e : sink.events_) {
    auto* is = e.As<IssuedEvent>();
    if (!is || e.ts == c.start) continue;
    const absl::Duration life = is->not_after - is->not_before;
    const int64_t days = absl::ToInt64Hours(life) / 24;
    const int64_t want = e.ts < to64 ? 90 : e.ts < to45 ? 64 : 45;
    EXPECT_EQ(days, want) << is->cert << " issued " << FormatRfc3339(e.ts);
    seen.insert(days);
  }
  EXPECT_EQ(seen, (std::set<int64_t>{90, 64, 45}));
}

TEST(SimulatorTest, AriLineageRenewsInsideItsWindow) {
  SimConfig c = QuietConfig(200, 120);
  OnlyClient(c, &SimConfig::w_caddy);  // checks every 10 minutes, ARI on
  c.ari_share = 1;
  c.ca_zerossl_share = c.ca_google_share = 0;
  MemorySink sink;
  MustRun(c, &sink);
  absl::flat_hash_map<std::string, std::pair<absl::Time, absl::Time>> window;
  int checked = 0;
  for (const Event& e : sink.events_) {
    if (auto* a = e.As<AriEvent>()) window[a->cert] = {a->window_start, a->window_end};
    if (auto* rn = e.As<RenewalEvent>()) {
      auto it = window.find(rn->cert);
      ASSERT_NE(it, window.end());
      EXPECT_EQ(rn->trigger.value_or(""), "ari");
      EXPECT_GE(e.ts, it->second.first) << rn->cert;
      EXPECT_LE(e.ts, it->second.second + absl::Minutes(10)) << rn->cert;
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
}

TEST(SimulatorTest, RedeployBurstOverTheExactSetLimitIsRefusedWithRateLimited) {
  SimConfig c = QuietConfig(200, 60);
  OnlyClient(c, &SimConfig::w_certbot);
  c.ari_share = 0;  // ARI renewals are exempt; here every issuance counts
  c.ca_zerossl_share = c.ca_google_share = 0;
  c.variants[VariantIndex("ratelimit_redeploy_loop")] = {3.0, 0, 0, 0};  // loops last
  MemorySink sink;
  RunResult r = MustRun(c, &sink);
  // Replay LE's "certificates per exact set" token bucket independently: 5, refilling one per
  // 34 h, starting full. A refusal must find it empty; an issuance must find a token.
  struct Replay {
    double tokens = 5;
    absl::Time last;
  };
  absl::flat_hash_map<std::string, Replay> buckets;
  auto refill = [&](Replay& b, absl::Time t) {
    if (b.last == absl::Time()) b.last = c.start;
    b.tokens = std::min(5.0, b.tokens + absl::ToDoubleHours(t - b.last) / 34.0);
    b.last = t;
  };
  int refused = 0, issued = 0;
  for (const Event& e : sink.events_) {
    auto* rn = e.As<RenewalEvent>();
    if (!rn || rn->dry_run) continue;
    // The order is placed (and the token taken) when the attempt starts.
    Replay& b = buckets[rn->cert];
    refill(b, e.ts);
    if (rn->outcome == Outcome::kSuccess) {
      EXPECT_GE(b.tokens, 1.0 - 1e-6) << rn->cert << " at " << FormatRfc3339(e.ts);
      b.tokens -= 1;
      ++issued;
    } else if (rn->error.value_or("") == "urn:ietf:params:acme:error:rateLimited") {
      EXPECT_LT(b.tokens, 1.0) << rn->cert << " at " << FormatRfc3339(e.ts);
      EXPECT_NE(rn->detail.value_or("").find("exact set of identifiers"), std::string::npos);
      ++refused;
    }
  }
  EXPECT_GT(issued, 50);
  EXPECT_GT(refused, 10);
  EXPECT_GT(r.metrics.rate_limited_attempts, 10);
  EXPECT_GT(r.metrics.by_cause["rate_limited"].episodes, 5);
}

TEST(SimulatorTest, CaaCauseYieldsCaaErrorsAndACaaAnswerThatExcludesTheCa) {
  SimConfig c = QuietConfig(300, 150);
  c.ca_zerossl_share = c.ca_google_share = 0;  // every lineage uses Let's Encrypt
  c.alt_ca_share = 0;
  c.variants[VariantIndex("caa_restrictive")] = {1.0, 0, 0, 0};
  MemorySink sink;
  RunResult r = MustRun(c, &sink);
  absl::flat_hash_map<std::string, std::vector<std::string>> last_caa;  // domain -> values
  absl::flat_hash_map<std::string, std::vector<std::string>> names;     // cert -> names
  int checked = 0;
  for (const Event& e : sink.events_) {
    if (auto* cfg = e.As<ConfigEvent>()) names[cfg->cert] = cfg->names;
    if (auto* d = e.As<DnsEvent>(); d && d->rtype == RecordType::kCAA) last_caa[d->name] = d->values;
    auto* rn = e.As<RenewalEvent>();
    if (!rn || rn->error.value_or("") != "urn:ietf:params:acme:error:caa") continue;
    // The CAA answer of a parent of the cert's name (its registered domain) lacks letsencrypt.org.
    bool found = false;
    for (const auto& [domain, values] : last_caa) {
      const std::string& n = names[rn->cert][0];
      if (n.size() < domain.size() || n.compare(n.size() - domain.size(), domain.size(), domain) != 0) continue;
      found = true;
      ASSERT_FALSE(values.empty());
      for (const std::string& v : values) EXPECT_EQ(v.find("letsencrypt.org"), std::string::npos) << v;
    }
    EXPECT_TRUE(found) << rn->cert;
    ++checked;
  }
  EXPECT_GT(checked, 5);
  EXPECT_GT(r.metrics.by_cause["caa_dnssec"].episodes, 3);
}

// The look-alike is a CAA change that does no harm: whatever CA a lineage uses, the domain's CAA
// keeps permitting it. It used to add Let's Encrypt's line alone to a domain without CAA, which
// forbade pki.goog and ZeroSSL while their renewals went on succeeding.
TEST(SimulatorTest, CaaStillPermitsKeepsPermittingTheDomainsOwnCa) {
  SimConfig c = QuietConfig(200, 90);
  c.ca_zerossl_share = 0;
  c.ca_google_share = 1;  // every lineage uses Google Trust Services
  c.alt_ca_share = 0;
  c.lookalike_rates[static_cast<int>(LookAlike::k_caa_still_permits)] = 1.0;
  MemorySink sink;
  RunResult r = MustRun(c, &sink);
  int changed = 0;
  for (const Event& e : sink.events_) {
    auto* d = e.As<DnsEvent>();
    if (!d || d->rtype != RecordType::kCAA) continue;
    bool restricts = false, permits = false, digicert = false;
    for (const std::string& v : d->values) {
      if (v.find(" issue ") == std::string::npos) continue;
      restricts = true;
      permits = permits || v.find("\"pki.goog\"") != std::string::npos;
      digicert = digicert || v.find("digicert.com") != std::string::npos;
    }
    if (digicert) ++changed;
    EXPECT_TRUE(!restricts || permits) << d->name << ": " << absl::StrJoin(d->values, " | ");
  }
  EXPECT_GT(changed, 10);
  EXPECT_EQ(r.metrics.by_cause["caa_dnssec"].episodes, 0);
}

TEST(SimulatorTest, StaleDeployServesASerialThatDiffersFromTheIssuedOne) {
  SimConfig c = QuietConfig(200, 150);
  c.variants[VariantIndex("stale_hook_missing")] = {2.0, 0, 0, 0};
  MemorySink sink;
  RunResult r = MustRun(c, &sink);
  absl::flat_hash_map<std::string, std::pair<std::string, absl::Time>> newest;
  std::set<std::string> stale_certs;
  for (const Episode& ep : r.truth.episodes)
    if (ep.cause == "not_served") stale_certs.insert(ep.cert);
  ASSERT_FALSE(stale_certs.empty());
  int mismatches = 0;
  for (const Event& e : sink.events_) {
    if (auto* is = e.As<IssuedEvent>()) newest[is->cert] = {is->serial, e.ts};
    auto* p = e.As<TlsProbeEvent>();
    if (!p || !p->serial || !stale_certs.count(*p->cert)) continue;
    const auto& [serial, at] = newest[*p->cert];
    if (e.ts - at > absl::Hours(24) && *p->serial != serial) ++mismatches;
  }
  EXPECT_GT(mismatches, 10);
  EXPECT_GT(r.metrics.by_cause["not_served"].episodes_with_outage, 0);
}

// Reloads every lineage whose served serial differs from its newest issued serial for a day.
class ReloadStalePolicy : public Policy {
 public:
  std::string name() const override { return "reload-stale"; }
  std::vector<PlannedAction> Decide(absl::Time, std::span<const Event> events) override {
    std::vector<PlannedAction> out;
    for (const Event& e : events) {
      if (auto* is = e.As<IssuedEvent>()) newest_[is->cert] = {is->serial, e.ts};
      auto* p = e.As<TlsProbeEvent>();
      if (!p || !p->serial) continue;
      auto it = newest_.find(*p->cert);
      if (it == newest_.end() || it->second.first == *p->serial) continue;
      if (e.ts - it->second.second < absl::Hours(24)) continue;
      PlannedAction a;
      a.cert = *p->cert;
      a.kind = ActionKind::kReload;
      a.reason = "served serial differs from the newest issued serial";
      a.risk = 0.9;
      out.push_back(a);
    }
    return out;
  }
  absl::flat_hash_map<std::string, std::pair<std::string, absl::Time>> newest_;
};

TEST(ClosedLoopTest, ReloadEndsAStaleDeployOutage) {
  SimConfig c = QuietConfig(200, 200);
  c.variants[VariantIndex("stale_hook_missing")] = {2.0, 0, 0, 0};
  auto none = MakeBaselinePolicy("none");
  ASSERT_TRUE(none.ok());
  RunResult base = MustRun(c, nullptr, none->get());
  ReloadStalePolicy reload;
  RunResult with = MustRun(c, nullptr, &reload);
  ASSERT_GT(base.metrics.by_cause["not_served"].outage_hours, 24);
  EXPECT_GT(with.metrics.reloads, 0);
  EXPECT_EQ(with.metrics.by_cause["not_served"].outage_hours, 0);
  EXPECT_LT(with.metrics.outage_hours, base.metrics.outage_hours);
}

// Switches a lineage to DNS-01 after a failed HTTP-01 renewal.
class SwitchChallengePolicy : public Policy {
 public:
  std::string name() const override { return "switch-to-dns01"; }
  std::vector<PlannedAction> Decide(absl::Time, std::span<const Event> events) override {
    std::vector<PlannedAction> out;
    for (const Event& e : events) {
      auto* rn = e.As<RenewalEvent>();
      if (!rn || rn->outcome != Outcome::kFailure || rn->challenge != Challenge::kHttp01) continue;
      PlannedAction a;
      a.cert = rn->cert;
      a.kind = ActionKind::kRenew;
      a.challenge = Challenge::kDns01;
      a.reason = "HTTP-01 validation failed; DNS-01 is configured as an alternative";
      a.risk = 0.8;
      out.push_back(a);
    }
    return out;
  }
};

TEST(ClosedLoopTest, RenewWithAltChallengeAvoidsAnHttp01Cause) {
  SimConfig c = QuietConfig(200, 200);
  c.dns01_share = 0;
  c.tlsalpn_share = 0;
  c.alt_challenge_share = 1;  // every lineage lists dns-01
  c.variants[VariantIndex("http01_firewall")] = {1.5, 0, 0, 0};
  auto none = MakeBaselinePolicy("none");
  RunResult base = MustRun(c, nullptr, none->get());
  SwitchChallengePolicy policy;
  MemorySink sink;
  RunResult with = MustRun(c, &sink, &policy);
  ASSERT_GT(base.metrics.by_cause["http01_unreachable"].outage_hours, 24);
  EXPECT_GT(with.metrics.switches, 0);
  EXPECT_LT(with.metrics.by_cause["http01_unreachable"].outage_hours,
            base.metrics.by_cause["http01_unreachable"].outage_hours / 4);
  // The switch stays in force: a config with dns-01 is emitted and later renewals use dns-01.
  std::set<std::string> switched;
  int later_dns01 = 0;
  for (const Event& e : sink.events_) {
    if (auto* cfg = e.As<ConfigEvent>(); cfg && e.ts > c.start && cfg->challenge == Challenge::kDns01) {
      switched.insert(cfg->cert);
      EXPECT_EQ(cfg->alt_challenges, std::vector<Challenge>{Challenge::kHttp01});
    }
    if (auto* rn = e.As<RenewalEvent>(); rn && switched.count(rn->cert) && rn->trigger == "schedule") {
      EXPECT_EQ(rn->challenge, Challenge::kDns01);
      ++later_dns01;
    }
  }
  EXPECT_FALSE(switched.empty());
  EXPECT_GT(later_dns01, 0);
}

// Dry-runs every lineage once, on the first day, optionally on the alternative challenge.
class DryRunOncePolicy : public Policy {
 public:
  std::string name() const override { return "dry-run-once"; }
  std::vector<PlannedAction> Decide(absl::Time, std::span<const Event> events) override {
    std::vector<PlannedAction> out;
    for (const Event& e : events) {
      auto* cfg = e.As<ConfigEvent>();
      if (!cfg || !done_.insert(cfg->cert).second) continue;
      PlannedAction a;
      a.cert = cfg->cert;
      a.kind = ActionKind::kDryRun;
      if (!cfg->alt_challenges.empty()) a.challenge = cfg->alt_challenges[0];
      a.reason = "validate the set-up on staging";
      out.push_back(a);
    }
    return out;
  }
  std::set<std::string> done_;
};

TEST(ClosedLoopTest, DryRunReportsARenewalWithDryRunTrueAndIssuesNothing) {
  SimConfig c = QuietConfig(100, 3);
  c.alt_challenge_share = 0.5;
  DryRunOncePolicy policy;
  MemorySink sink;
  RunResult r = MustRun(c, &sink, &policy);
  int dry = 0;
  for (const Event& e : sink.events_) {
    auto* rn = e.As<RenewalEvent>();
    if (!rn || !rn->dry_run) continue;
    ++dry;
    EXPECT_EQ(rn->outcome, Outcome::kSuccess);  // nothing is broken in a quiet fleet
    EXPECT_EQ(rn->trigger.value_or(""), "forced");
  }
  EXPECT_EQ(dry, 100);
  EXPECT_EQ(r.metrics.dry_runs, 100);
  EXPECT_EQ(r.metrics.switches, 0);  // a dry run on another challenge does not switch
  // Every issuance after the start comes from a real (non-dry-run) success.
  int issued = 0, real_successes = 0;
  for (const Event& e : sink.events_) {
    if (e.As<IssuedEvent>() && e.ts > c.start) ++issued;
    if (auto* rn = e.As<RenewalEvent>(); rn && !rn->dry_run && rn->outcome == Outcome::kSuccess) ++real_successes;
  }
  EXPECT_EQ(issued, real_successes);
  EXPECT_EQ(r.metrics.issuances, issued);
}

TEST(ClosedLoopTest, BaselinesAlertAndTheirPrecisionIsCounted) {
  SimConfig c;
  c.lineages = 400;
  c.days = 180;
  auto on_failure = MakeBaselinePolicy("alert-on-failure");
  auto expiry = MakeBaselinePolicy("expiry-alert", 7);
  ASSERT_TRUE(on_failure.ok() && expiry.ok());
  RunResult a = MustRun(c, nullptr, on_failure->get());
  RunResult b = MustRun(c, nullptr, expiry->get());
  auto none = MakeBaselinePolicy("none");
  RunResult n = MustRun(c, nullptr, none->get());
  // Alerts on real causes get them fixed sooner: less outage than the clients alone.
  EXPECT_LT(a.metrics.outage_hours, n.metrics.outage_hours);
  EXPECT_LT(b.metrics.outage_hours, n.metrics.outage_hours);
  EXPECT_EQ(n.metrics.alerts, 0);
  EXPECT_GT(a.metrics.alerts, 0);
  EXPECT_GT(a.metrics.alerts_true, 0);
  EXPECT_LE(a.metrics.alerts_true, a.metrics.alerts);
  EXPECT_GT(b.metrics.alerts, 0);
  // Without an alert log of its own, each alert is a page about one lineage.
  EXPECT_EQ(a.metrics.paging.pages, a.metrics.alerts);
  EXPECT_FALSE(a.metrics.paging.incidents);
  EXPECT_GT(a.metrics.paging.pages_real, 0);
  EXPECT_LE(a.metrics.paging.pages_real, a.metrics.paging.pages);
  EXPECT_DOUBLE_EQ(a.metrics.paging.lineage_weeks, 400.0 * 180 / 7);
  EXPECT_EQ(n.metrics.paging.pages, 0);
  // The oracle knows every fault: it pages only when a live fault will break the next renewal,
  // so its alerts are true by the world's own test, and it leaves fewer expired hours
  // than the clients alone.
  auto oracle = MakeBaselinePolicy("oracle");
  ASSERT_TRUE(oracle.ok());
  RunResult o = MustRun(c, nullptr, oracle->get());
  EXPECT_GT(o.metrics.alerts, 0);
  // (The world tests an alert a few seconds after the day's end, when a CA's partial outage may
  // have picked other lineages: allow a few.)
  EXPECT_GE(o.metrics.alerts_true * 100, o.metrics.alerts * 95);
  EXPECT_EQ(o.metrics.invalid_actions, 0);
  EXPECT_LT(o.metrics.outage_hours, n.metrics.outage_hours);
  EXPECT_GT(o.metrics.paging.pages, 0);
  EXPECT_LE(o.metrics.paging.pages, o.metrics.alerts);  // one page per fault and day
  // Its pages are exactly the truth's doomed renewals, so every one is at a real cause.
  EXPECT_FALSE(o.truth.doomed.empty());
  EXPECT_EQ(o.metrics.paging.pages_real, o.metrics.paging.pages);
  EXPECT_EQ((*expiry)->name(), "expiry-alert:7");
  EXPECT_FALSE(MakeBaselinePolicy("sometimes").ok());
}

// acme.sh <= 3.1.3 renews 59 days after issue: on 45-day certificates (the tlsserver profile) its
// rule lets every certificate expire. The truth records those lineages doomed from the first day
// end on (no fault: fault_id -1), and an expiry page at one is at a real cause, by the paging
// score and by the world's own test (the person it reaches fixes the rule); on 90-day certificates
// the same rule renews in time and nothing is doomed.
TEST(ClosedLoopTest, ARuleThatRenewsAfterExpiryIsDoomedAndAPageAtItIsReal) {
  for (const bool short_lived : {true, false}) {
    SCOPED_TRACE(short_lived ? "45-day certificates" : "90-day certificates");
    SimConfig c = QuietConfig(40, 60);
    OnlyClient(c, &SimConfig::w_acmesh_old);
    c.ca_zerossl_share = c.ca_google_share = 0;
    c.profile_tlsserver_share = short_lived ? 1 : 0;
    auto expiry = MakeBaselinePolicy("expiry-alert", 7);
    ASSERT_TRUE(expiry.ok());
    RunResult r = MustRun(c, nullptr, expiry->get());
    std::set<std::string> doomed_from_day_one;
    for (const DoomRecord& d : r.truth.doomed) {
      EXPECT_EQ(d.fault_id, -1) << d.cert;  // the quiet fleet has no fault
      if (d.from == c.start + absl::Hours(24)) doomed_from_day_one.insert(d.cert);
    }
    if (!short_lived) {
      EXPECT_TRUE(r.truth.doomed.empty());
      continue;
    }
    EXPECT_EQ(doomed_from_day_one.size(), 40u);
    ASSERT_GT(r.metrics.paging.pages, 0);
    EXPECT_EQ(r.metrics.paging.pages_real, r.metrics.paging.pages);
    EXPECT_EQ(r.metrics.alerts_true, r.metrics.alerts);
  }
}

// ---- Paging (paging.h): pages and tickets scored against a hand-made truth ----

absl::Time Day(int day) { return absl::FromUnixSeconds(1795824000) + absl::Hours(24) * day; }

GroundTruth PagingTruth() {
  GroundTruth truth;
  truth.lineages = {{"a.example", "web1", std::nullopt},
                    {"b.example", "web1", std::nullopt},
                    {"c.example", "web2", std::nullopt},
                    {"d.example", "web3", std::nullopt}};
  Episode open;  // a.example: failing from day 10 to day 20
  open.cert = "a.example";
  open.host = "web1";
  open.cause = "dns_pointing";
  open.onset = Day(10);
  open.end = Day(20);
  truth.episodes.push_back(open);
  FaultRecord host_fault;  // web2's port 80 closed from day 30 on, never fixed
  host_fault.variant = "http01_port_closed";
  host_fault.scope = "host";
  host_fault.subject = "web2";
  host_fault.start = Day(30);
  truth.faults.push_back(host_fault);
  FaultRecord domain_fault;  // a registered domain's CAA: counts through an episode or a doom
  domain_fault.variant = "caa_restrictive";
  domain_fault.scope = "domain";
  domain_fault.subject = "example";
  domain_fault.start = Day(0);
  truth.faults.push_back(domain_fault);
  // From day 6 to day 8 the world found d.example's next renewal doomed by it (before that the
  // renewal was not due before the fault's scheduled end).
  truth.doomed.push_back({"d.example", 1, Day(6), Day(8)});
  return truth;
}

TEST(PagingTest, ANoticeIsRealWhenALineageItNamesHasAnEpisodeOrAFaultOnItOrItsHost) {
  const GroundTruth truth = PagingTruth();
  const TruthIndex index(truth);
  struct Case {
    const char* what;
    std::string cert;
    absl::Time at;
    bool real;
  };
  const Case cases[] = {
      {"page at an open episode", "a.example", Day(15), true},
      {"the episode's onset itself", "a.example", Day(10), true},
      {"before the episode", "a.example", Day(9), false},
      {"at the episode's end (it ended)", "a.example", Day(20), false},
      {"same host, no fault or episode of its own", "b.example", Day(15), false},
      {"a fault on its host", "c.example", Day(31), true},
      {"before the host's fault", "c.example", Day(29), false},
      {"only a domain fault, no episode", "d.example", Day(5), false},
      {"the domain fault dooms its next renewal", "d.example", Day(6), true},
      {"the last instant it was doomed", "d.example", Day(8), true},
      {"after the doom (no longer recorded)", "d.example", Day(9), false},
      {"a lineage the doom does not name", "b.example", Day(7), false},
      {"a lineage the truth does not know", "zz.example", Day(15), false},
  };
  for (const Case& c : cases) EXPECT_EQ(index.RealCause(c.cert, c.at), c.real) << c.what;
}

TEST(PagingTest, CountsPagesAndTicketsApartAndAnIncidentIsRealWhenOneLineageIs) {
  const GroundTruth truth = PagingTruth();
  AlertLog log;
  log.incidents = true;
  log.incidents_opened = 3;
  log.incidents_resolved = 2;
  log.lineage_plans_info = 40;
  log.lineage_plans_watched = 5;
  log.notices = {
      {Day(15), NoticeSeverity::kPage, {"b.example", "a.example"}},  // one of two real: real
      {Day(16), NoticeSeverity::kPage, {"b.example"}},               // no fault: false
      {Day(31), NoticeSeverity::kTicket, {"c.example"}},             // host fault: real
      {Day(5), NoticeSeverity::kTicket, {"d.example", "b.example"}}, // none real: false
      {Day(40), NoticeSeverity::kPage, {}},                          // names nobody: false
  };
  // 100 lineages over 70 days: 1,000 lineage-weeks.
  const PagingMetrics p = ScorePaging(log, truth, 100.0 * 70 / 7);
  EXPECT_EQ(p.pages, 3);
  EXPECT_EQ(p.pages_real, 1);
  EXPECT_EQ(p.tickets, 2);
  EXPECT_EQ(p.tickets_real, 1);
  EXPECT_TRUE(p.incidents);
  EXPECT_EQ(p.incidents_opened, 3);
  EXPECT_EQ(p.incidents_resolved, 2);
  EXPECT_EQ(p.lineage_plans_info, 40);
  EXPECT_EQ(p.lineage_plans_watched, 5);
  EXPECT_DOUBLE_EQ(p.page_share_real(), 1.0 / 3);
  EXPECT_DOUBLE_EQ(p.pages_per_kilo_lineage_weeks(), 3.0);
  const PagingMetrics none = ScorePaging(AlertLog{}, truth, 0);
  EXPECT_EQ(none.pages, 0);
  EXPECT_EQ(none.page_share_real(), 0);
  EXPECT_EQ(none.pages_per_kilo_lineage_weeks(), 0);  // no division by zero lineage-weeks
}

TEST(PagingTest, APageAboutARetiredLineagePointsAtNothing) {
  GroundTruth truth = PagingTruth();
  const TruthIndex before(truth);
  EXPECT_TRUE(before.RealCause("c.example", Day(40)));
  truth.lineages[2].retired = Day(35);  // c.example, whose host's fault never ends
  const TruthIndex index(truth);
  EXPECT_TRUE(index.RealCause("c.example", Day(34)));
  // The world retires a lineage at the instant it applies the true alert its owner acted on: a
  // notice at that very instant is that alert; any later one points at nothing.
  EXPECT_TRUE(index.RealCause("c.example", Day(35)));
  EXPECT_FALSE(index.RealCause("c.example", Day(35) + absl::Seconds(1)));
  EXPECT_FALSE(index.RealCause("c.example", Day(40)));
}

// The owner retires a lineage whose site moved away for good once a true alert reaches them: from
// then on it has no expired-certificate hour, the truth records when, and a page about it points
// at no real cause although its moved-name fault is never fixed.
TEST(ClosedLoopTest, ARetiredLineageCountsNoExpiredHourAndNoRealCauseAfterItsRetirement) {
  SimConfig c = QuietConfig(100, 120);
  c.variants[VariantIndex("dns_a_moved")] = {2.0, 0, 0, 0};
  c.abandoned_share = 1;  // every moved name moved for good
  auto on_failure = MakeBaselinePolicy("alert-on-failure");
  ASSERT_TRUE(on_failure.ok());
  RunResult r = MustRun(c, nullptr, on_failure->get());
  const TruthIndex index(r.truth);
  ASSERT_EQ(r.truth.lineages.size(), 100u);
  int retired = 0;
  for (const LineageRecord& l : r.truth.lineages) {
    if (!l.retired) continue;
    ++retired;
    bool fault_still_active = false;
    for (const FaultRecord& f : r.truth.faults) {
      if (f.subject == l.cert && f.variant == "dns_a_moved" && f.start <= *l.retired && !f.end) {
        fault_still_active = true;
      }
    }
    EXPECT_TRUE(fault_still_active) << l.cert;
    for (const Episode& e : r.truth.episodes) {
      if (e.cert != l.cert) continue;
      if (e.outage_end) {
        EXPECT_LE(*e.outage_end, *l.retired) << l.cert;
      }
      if (e.outage_start) {
        EXPECT_LE(*e.outage_start, *l.retired) << l.cert;
      }
      if (e.onset < *l.retired) {
        EXPECT_TRUE(e.end.has_value()) << l.cert << ": episode left open";
      }
    }
    EXPECT_FALSE(index.RealCause(l.cert, *l.retired + absl::Hours(24))) << l.cert;
  }
  EXPECT_GT(retired, 0);
  std::string text;
  WriteTruthJsonl(c, r.truth, text);
  int lines = 0;
  for (size_t at = text.find("{\"type\":\"retirement\""); at != std::string::npos;
       at = text.find("{\"type\":\"retirement\"", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, retired);
}

TEST(ConfigTest, PresetsAndTomlOverrides) {
  for (std::string_view p : {"small", "hosting", "k8s"}) EXPECT_TRUE(PresetConfig(p).ok()) << p;
  EXPECT_EQ(PresetConfig("huge").status().message(), "unknown preset \"huge\" (small, hosting, k8s)");
  SimConfig c;
  ASSERT_TRUE(ApplyToml("dns01_share = 0.4\nseed = 9\n[variants.caa_restrictive]\nrate = 0.5\n"
                        "[lookalikes]\ncdn_ip_churn_unused = 1\n",
                        c)
                  .message()
                  .find("unknown look-alike") != std::string::npos);
  SimConfig d;
  ASSERT_TRUE(ApplyToml("dns01_share = 0.4\nseed = 9\n[variants.caa_restrictive]\nrate = 0.5\n"
                        "[lookalikes]\nwaf_blocks_probe = 0.1\n",
                        d)
                  .ok());
  EXPECT_EQ(d.dns01_share, 0.4);
  EXPECT_EQ(d.seed, 9u);
  EXPECT_EQ(d.variants[VariantIndex("caa_restrictive")].rate, 0.5);
  SimConfig e;
  EXPECT_EQ(ApplyToml("dns01_share = 2\n", e).message(), "dns01_share: 2 is out of range 0..1");
  EXPECT_EQ(ApplyToml("colour = 1\n", e).message(), "unknown key \"colour\"");
  EXPECT_EQ(ApplyToml("[variants.caa_restrictive]\nspeed = 1\n", e).message(),
            "variants.caa_restrictive: unknown key \"speed\" (rate, silent, heal, heal_hours)");
  EXPECT_NE(ApplyToml("= nonsense", e).message().find("TOML line 1"), std::string::npos);
  SimConfig f;
  f.lineages = 0;
  EXPECT_EQ(ValidateConfig(f).message(), "lineages must be 1..2000000");
}

// The simulator's truth speaks the one cause vocabulary (core/cause.h) that the policy diagnoses
// with: before, it wrote dns_repoint, stale_deploy, rate_limit and account_eab.
TEST(SimCauses, EveryVariantNamesACauseOfTheOneVocabulary) {
  for (int v = 0; v < kVariantCount; ++v) {
    const std::string_view cause = VariantCause(static_cast<Variant>(v));
    const std::optional<Cause> parsed = ParseCause(cause);
    ASSERT_TRUE(parsed.has_value()) << VariantName(static_cast<Variant>(v)) << ": " << cause;
    EXPECT_EQ(ToString(*parsed), cause) << VariantName(static_cast<Variant>(v));
  }
  for (std::string_view cause : kCauses) EXPECT_EQ(ToString(*ParseCause(cause)), cause);
}

}  // namespace
}  // namespace certcast::sim
