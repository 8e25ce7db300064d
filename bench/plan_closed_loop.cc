// Closed-loop evaluation of certcast's planner against the baselines (docs/evaluation.md section 2) on
// the fleet simulator: for each preset and seed, the same world (common random numbers) is run
// with the clients alone ("none"), alert-on-failure monitoring, expiry alerts, and certcast; the
// outcome is outage hours, issuances, rate-limited attempts, alerts and their precision.
// Output: a Markdown report (per run, totals, and per cause) for docs/policy.md.
//
//   bench_plan_closed_loop --presets small,hosting --seeds 1,2,3 --lineages 2000 --days 365
// Perturbed fleets (every rate and share drawn from wide ranges, docs/evaluation.md):
//   for s in 301 302; do python3 bench/perturb_fleet.py $s > DIR/$s.toml; done
//   bench_plan_closed_loop --presets small,hosting,k8s --seeds 301,302 --perturb-dir DIR ...
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "CLI/CLI.hpp"
#include "alert/alert.h"
#include "collect/sim/simulator.h"
#include "core/strings.h"
#include "core/time.h"
#include "model/forecaster.h"
#include "policy/sim_policy.h"

namespace certcast {
namespace {

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string Fixed(double v, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Records what the planner did, to break alerts down by reason against the hidden truth
// (sim::TruthIndex::RealCause, the test the closed loop's paging metrics use).
class RecordingPolicy : public sim::Policy {
 public:
  explicit RecordingPolicy(sim::Policy& inner) : inner_(inner) {}
  std::string name() const override { return inner_.name(); }
  const sim::AlertLog* alert_log() const override { return inner_.alert_log(); }
  void AttachOracle(const sim::Oracle* oracle) override { inner_.AttachOracle(oracle); }
  std::vector<PlannedAction> Decide(absl::Time day_end, std::span<const Event> events) override {
    for (const Event& e : events) {
      if (const auto* c = e.As<ConfigEvent>()) {
        host_of_[c->cert] = c->host;
        setup_of_[c->cert] = StrCat(ToString(c->client), " ", c->renew_rule.value_or("default"),
                                    c->ari ? " ari" : "");
      }
    }
    std::vector<PlannedAction> actions = inner_.Decide(day_end, events);
    for (const PlannedAction& a : actions) log_.push_back({day_end, a});
    return actions;
  }
  struct Entry {
    absl::Time at;
    PlannedAction action;
  };
  std::vector<Entry> log_;
  std::map<std::string, std::string> host_of_;
  std::map<std::string, std::string> setup_of_;  // client and renew rule, for CERTCAST_DEBUG_PAGES

 private:
  sim::Policy& inner_;
};

// Pages and tickets as a person receives them, scored by the closed loop itself (Metrics::paging,
// sim/paging.h): with the alert core (SimPolicy::EnableIncidents), one per incident notification;
// without it, every alert is a page about one lineage.
struct Paging {
  int64_t pages = 0, pages_real = 0, tickets = 0, tickets_real = 0, incidents = 0, resolved = 0;
  int64_t watched = 0, info = 0;
  bool grouped = false;
  void Add(const sim::PagingMetrics& o) {
    pages += o.pages; pages_real += o.pages_real; tickets += o.tickets;
    tickets_real += o.tickets_real; incidents += o.incidents ? o.incidents_opened : o.pages;
    resolved += o.incidents_resolved; watched += o.lineage_plans_watched;
    info += o.lineage_plans_info; grouped = grouped || o.incidents;
  }
};

// One line per firing notice of the alert core, for studying the false ones (issue #15):
// severity, real or not, cause key, then each named lineage with its own truth and message.
void DebugNotices(const RecordingPolicy& r, const sim::GroundTruth& truth,
                  const policy::SimPolicy& p) {
  const sim::TruthIndex index(truth);
  for (const auto& n : p.firing()) {
    bool real = false;
    for (const std::string& cert : n.certs) real = real || index.RealCause(cert, n.at);
    std::cerr << "NOTICE " << FormatRfc3339(n.at) << " " << alert::ToString(n.severity) << " "
              << (real ? "REAL" : "false") << " " << n.cause_key << " " << n.certs.size();
    for (size_t i = 0; i < n.certs.size(); ++i) {
      std::cerr << " | " << n.certs[i] << " " << (index.RealCause(n.certs[i], n.at) ? "real" : "false")
                << " [" << (r.setup_of_.count(n.certs[i]) ? r.setup_of_.at(n.certs[i]) : "?") << "] "
                << (i < n.messages.size() ? n.messages[i] : "");
    }
    std::cerr << "\n";
  }
}

void ReportByReason(const RecordingPolicy& r, const sim::GroundTruth& truth,
                    std::map<std::string, std::pair<int64_t, int64_t>>& by_reason) {
  const sim::TruthIndex index(truth);
  for (const auto& entry : r.log_) {
    const PlannedAction& a = entry.action;
    const std::string reason = StrCat(ToString(a.kind), " ", a.reason.substr(0, a.reason.find(':')));
    const bool real = index.RealCause(a.cert, entry.at);
    if (std::getenv("CERTCAST_DEBUG_REASON") && reason == std::getenv("CERTCAST_DEBUG_REASON")) {
      std::cerr << FormatRfc3339(entry.at) << " " << (real ? "REAL " : "false ") << a.cert << " "
                << a.reason << "\n";
    }
    auto& counts = by_reason[reason];
    ++counts.first;
    if (real) ++counts.second;
  }
}

struct Totals {
  double outage_hours = 0;
  int64_t issuances = 0, rate_limited = 0, alerts = 0, alerts_true = 0, dry_runs = 0, reloads = 0,
          switches = 0, forced = 0, invalid = 0, episodes = 0, episodes_with_outage = 0;
  std::map<std::string, sim::CauseMetrics> by_cause;
  void Add(const sim::Metrics& m) {
    outage_hours += m.outage_hours;
    issuances += m.issuances;
    rate_limited += m.rate_limited_attempts;
    alerts += m.alerts;
    alerts_true += m.alerts_true;
    dry_runs += m.dry_runs;
    reloads += m.reloads;
    switches += m.switches;
    forced += m.forced_renewals;
    invalid += m.invalid_actions;
    episodes += m.episodes;
    episodes_with_outage += m.episodes_with_outage;
    for (const auto& [cause, c] : m.by_cause) {
      sim::CauseMetrics& t = by_cause[cause];
      t.episodes += c.episodes;
      t.episodes_warned += c.episodes_warned;
      t.episodes_with_outage += c.episodes_with_outage;
      t.alerts_true += c.alerts_true;
      t.outage_hours += c.outage_hours;
    }
  }
};

struct FleetResult {
  double outage_hours = 0;
  int64_t issuances = 0;
  sim::PagingMetrics paging;
};

// A fleet's share of pages at a real cause, as the target counts it per fleet: a fleet
// with no page counts as 100 % only when it also had no expired-certificate hours (silence is
// right only when nothing went wrong), else as 0 % (every expiry went unpaged).
double PageShare(const FleetResult& f) {
  if (f.paging.pages > 0) return 100.0 * f.paging.pages_real / f.paging.pages;
  return f.outage_hours > 0 ? 0.0 : 100.0;
}

// Per fleet: each policy's pages, their share at a real cause, pages per 1,000 lineage-weeks,
// expired hours and issuances against the clients alone of the same world; then the mean and the
// worst fleet per policy.
void ReportPerFleet(
    const std::map<std::pair<std::string, std::string>, std::map<std::string, FleetResult>>& fleets,
    const std::vector<std::string>& policies) {
  std::cout << "\n## Per fleet (pages at a real cause: a fleet with no page counts 100 % only with "
               "no expired hours, else 0 %)\n\n"
               "| preset | seed | policy | expired h | issuances vs clients alone | pages | "
               "at a real cause | pages per 1,000 lineage-weeks | tickets |\n"
               "|---|---|---|---|---|---|---|---|---|\n";
  struct Summary {
    double share_sum = 0, share_worst = 101, rate_sum = 0, rate_worst = 0;
    double outage_sum = 0, issuance_increase_worst = -100;
    int fleets = 0, fleets_more_outage = 0;
    std::string worst_fleet;
  };
  std::map<std::string, Summary> summary;
  for (const auto& [fleet, results] : fleets) {
    auto none = results.find("none");
    for (const std::string& name : policies) {
      auto it = results.find(name);
      if (it == results.end() || name == "none") continue;
      const FleetResult& f = it->second;
      const double share = PageShare(f);
      const double rate = f.paging.pages_per_kilo_lineage_weeks();
      std::string vs_none = "-";
      Summary& s = summary[name];
      if (none != results.end() && none->second.issuances > 0) {
        const double increase = 100.0 * f.issuances / none->second.issuances - 100;
        vs_none = Fixed(increase) + "%";
        s.issuance_increase_worst = std::max(s.issuance_increase_worst, increase);
        if (f.outage_hours > none->second.outage_hours) ++s.fleets_more_outage;
      }
      std::cout << "| " << fleet.first << " | " << fleet.second << " | " << name << " | "
                << Fixed(f.outage_hours) << " | " << f.issuances << " (" << vs_none << ") | "
                << f.paging.pages << " | " << f.paging.pages_real << " (" << Fixed(share) << "%) | "
                << Fixed(rate, 2) << " | " << f.paging.tickets << " |\n";
      ++s.fleets;
      s.share_sum += share;
      s.rate_sum += rate;
      s.rate_worst = std::max(s.rate_worst, rate);
      s.outage_sum += f.outage_hours;
      if (share < s.share_worst) {
        s.share_worst = share;
        s.worst_fleet = StrCat(fleet.first, "-", fleet.second);
      }
    }
  }
  std::cout << "\n## Per-fleet summary\n\n"
               "| policy | fleets | pages at a real cause, mean | worst (fleet) | pages per 1,000 "
               "lineage-weeks, mean | worst | expired h, mean per fleet | fleets with more expired h "
               "than the clients alone | issuances vs clients alone, worst fleet |\n"
               "|---|---|---|---|---|---|---|---|---|\n";
  for (const std::string& name : policies) {
    auto it = summary.find(name);
    if (it == summary.end() || it->second.fleets == 0) continue;
    const Summary& s = it->second;
    std::cout << "| " << name << " | " << s.fleets << " | " << Fixed(s.share_sum / s.fleets) << "% | "
              << Fixed(s.share_worst) << "% (" << s.worst_fleet << ") | "
              << Fixed(s.rate_sum / s.fleets, 2) << " | " << Fixed(s.rate_worst, 2) << " | "
              << Fixed(s.outage_sum / s.fleets) << " | " << s.fleets_more_outage << " | "
              << (s.issuance_increase_worst > -100 ? Fixed(s.issuance_increase_worst) + "%" : "-")
              << " |\n";
  }
}

int Main(int argc, char** argv) {
  CLI::App app("Closed-loop evaluation of certcast plan against baselines on the simulator");
  std::string presets = "small,hosting", seeds = "1,2,3", model_path;
  int64_t lineages = 2000;
  int days = 365;
  int expiry_days = 14;
  app.add_option("--presets", presets, "Comma-separated simulator presets");
  app.add_option("--seeds", seeds, "Comma-separated seeds");
  app.add_option("--lineages", lineages, "Lineages per fleet");
  app.add_option("--days", days, "Simulated days");
  app.add_option("--expiry-days", expiry_days, "expiry-alert baseline threshold");
  app.add_option("--model", model_path, "Forecaster model file (default: facts alone)");
  std::string sim_toml;
  app.add_option("--sim-toml", sim_toml,
                 "Simulator settings applied to every preset, e.g. '[lookalikes]\\n"
                 "dns_provider_outage = 4' (a DNS provider outage shape, issue #15)");
  std::string perturb_dir;
  app.add_option("--perturb-dir", perturb_dir,
                 "Directory of per-seed simulator settings, DIR/SEED.toml (bench/perturb_fleet.py "
                 "SEED > DIR/SEED.toml), applied after --sim-toml to that seed's fleet of every "
                 "preset: perturbed fleets");
  std::string policy_list;
  app.add_option("--policies", policy_list,
                 "Comma-separated subset of none, alert-on-failure, expiry-alert, oracle, "
                 "certcast, certcast+incidents (default: all; the totals need none and "
                 "alert-on-failure)");
  CLI11_PARSE(app, argc, argv);

  const Forecaster* forecaster = nullptr;
  std::optional<Forecaster> loaded;
  if (!model_path.empty()) {
    auto f = Forecaster::Load(model_path);
    if (!f.ok()) {
      std::cerr << "model: " << f.status() << "\n";
      return 3;
    }
    loaded.emplace(std::move(*f));
    forecaster = &*loaded;
  }
  // "certcast" is the planner's alerts as written (one per lineage); "certcast+incidents" routes
  // them through the alert core (issue #15), the only difference between the two.
  // "oracle" knows every fault (sim::Oracle): the ceiling beside the figures.
  std::vector<std::string> policies = {"none", "alert-on-failure", "expiry-alert", "oracle",
                                       "certcast", "certcast+incidents"};
  if (!policy_list.empty()) policies = Split(policy_list);
  std::map<std::string, Paging> paging;
  std::map<std::string, Totals> totals;
  std::map<std::string, std::pair<int64_t, int64_t>> by_reason;
  std::map<std::string, std::map<std::string, Totals>> per_preset;
  std::map<std::pair<std::string, std::string>, std::map<std::string, FleetResult>> fleets;
  std::cout << "## Runs\n\n";
  std::cout << "| preset | seed | policy | outage h | issuances | rate-limited | alerts | "
               "alert precision | dry runs | reloads | switches | forced renewals | decide s |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const std::string& preset : Split(presets)) {
    for (const std::string& seed_text : Split(seeds)) {
      auto config = sim::PresetConfig(preset);
      if (!config.ok()) {
        std::cerr << config.status() << "\n";
        return 2;
      }
      if (!sim_toml.empty()) {
        Status applied = sim::ApplyToml(sim_toml, *config);
        if (!applied.ok()) {
          std::cerr << "--sim-toml: " << applied << "\n";
          return 2;
        }
      }
      if (!perturb_dir.empty()) {
        const std::string path = perturb_dir + "/" + seed_text + ".toml";
        std::ifstream in(path);
        std::stringstream text;
        text << in.rdbuf();
        if (!in) {
          std::cerr << "--perturb-dir: cannot read " << path << " (write it with "
                    << "bench/perturb_fleet.py " << seed_text << ")\n";
          return 2;
        }
        Status applied = sim::ApplyToml(text.str(), *config);
        if (!applied.ok()) {
          std::cerr << path << ": " << applied << "\n";
          return 2;
        }
      }
      config->lineages = lineages;
      config->days = days;
      config->seed = std::stoull(seed_text);
      for (const std::string& name : policies) {
        StatusOr<sim::RunResult> result = InternalError("unset");
        double decide_seconds = 0;
        if (name.starts_with("certcast")) {
          policy::SimPolicy p(policy::PolicyConfig{}, forecaster);
          const bool incidents = name == "certcast+incidents";
          if (incidents) p.EnableIncidents(alert::AlertPolicy{});
          RecordingPolicy recorder(p);
          result = sim::RunClosedLoop(*config, recorder, nullptr);
          if (result.ok()) {
            ReportByReason(recorder, result->truth, by_reason);
            if (incidents && std::getenv("CERTCAST_DEBUG_PAGES")) DebugNotices(recorder, result->truth, p);
          }
          decide_seconds = p.decide_seconds();
          if (p.forecast_failures() > 0) {
            std::cerr << "warning: forecaster failed on " << p.forecast_failures() << " day(s)\n";
          }
        } else {
          auto baseline = sim::MakeBaselinePolicy(name, expiry_days);
          if (!baseline.ok()) {
            std::cerr << baseline.status() << "\n";
            return 2;
          }
          RecordingPolicy recorder(**baseline);
          result = name == "none" ? sim::RunOpenLoop(*config, nullptr)
                                  : sim::RunClosedLoop(*config, recorder, nullptr);
        }
        if (!result.ok()) {
          std::cerr << preset << " seed " << seed_text << " " << name << ": " << result.status() << "\n";
          return 3;
        }
        const sim::Metrics& m = result->metrics;
        totals[name].Add(m);
        per_preset[preset][name].Add(m);
        paging[name].Add(m.paging);
        fleets[{preset, seed_text}][name] = FleetResult{m.outage_hours, m.issuances, m.paging};
        std::cout << "| " << preset << " | " << seed_text << " | " << name << " | "
                  << Fixed(m.outage_hours) << " | " << m.issuances << " | "
                  << m.rate_limited_attempts << " | " << m.alerts << " | "
                  << (m.alerts ? Fixed(100 * m.alert_precision()) + "%" : "-") << " | "
                  << m.dry_runs << " | " << m.reloads << " | " << m.switches << " | "
                  << m.forced_renewals << " | " << (name.starts_with("certcast") ? Fixed(decide_seconds, 2) : "")
                  << " |\n";
        std::cout.flush();
      }
    }
  }
  auto summary = [&](const std::map<std::string, Totals>& t, const std::string& title) {
    std::cout << "\n## " << title << "\n\n"
              << "| policy | outage h | vs clients alone | vs alert-on-failure | issuances | vs "
                 "clients alone | rate-limited | alerts | alert precision |\n"
                 "|---|---|---|---|---|---|---|---|---|\n";
    static const Totals kNotRun;
    auto get = [&](const std::string& name) -> const Totals& {
      auto it = t.find(name);
      return it == t.end() ? kNotRun : it->second;
    };
    const Totals& none = get("none");
    const Totals& aof = get("alert-on-failure");
    for (const std::string& name : policies) {
      const Totals& x = get(name);
      std::cout << "| " << name << " | " << Fixed(x.outage_hours) << " | "
                << (none.outage_hours > 0 ? Fixed(100 * x.outage_hours / none.outage_hours) + "%" : "-")
                << " | "
                << (aof.outage_hours > 0 ? Fixed(100 * x.outage_hours / aof.outage_hours) + "%" : "-")
                << " | " << x.issuances << " | "
                << (none.issuances > 0 ? Fixed(100.0 * x.issuances / none.issuances - 100) + "%" : "-")
                << " | " << x.rate_limited << " | " << x.alerts << " | "
                << (x.alerts ? Fixed(100.0 * x.alerts_true / x.alerts) + "%" : "-") << " |\n";
    }
  };
  for (const auto& [preset, t] : per_preset) summary(t, "Totals, preset " + preset);
  summary(totals, "Totals, all presets and seeds");
  std::cout << "\n## Per cause (all presets and seeds)\n\n"
            << "| cause | episodes | clients alone: outage h (episodes) | alert-on-failure: outage h "
               "(episodes) | certcast: outage h (episodes) | certcast true alerts |\n"
               "|---|---|---|---|---|---|\n";
  std::set<std::string> causes;
  for (const auto& [name, t] : totals) {
    for (const auto& [cause, c] : t.by_cause) causes.insert(cause);
  }
  for (const std::string& cause : causes) {
    auto get = [&](const std::string& name) {
      auto it = totals[name].by_cause.find(cause);
      return it == totals[name].by_cause.end() ? sim::CauseMetrics{} : it->second;
    };
    const auto none = get("none"), aof = get("alert-on-failure"), cc = get("certcast");
    std::cout << "| " << cause << " | " << none.episodes << " | " << Fixed(none.outage_hours)
              << " (" << none.episodes_with_outage << ") | " << Fixed(aof.outage_hours) << " ("
              << aof.episodes_with_outage << ") | " << Fixed(cc.outage_hours) << " ("
              << cc.episodes_with_outage << ") | " << cc.alerts_true << " |\n";
  }
  std::cout << "\n## Pages and tickets (all presets and seeds)\n\n"
            << "| policy | outage h | issuances | lineage alerts | their precision (simulator) | "
               "pages | pages at a real cause | tickets | tickets at a real cause | incidents | "
               "pages per incident | lineage-plans watched | lineage-plans info |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const std::string& name : policies) {
    if (name == "none") continue;
    const Totals& x = totals[name];
    const Paging& g = paging[name];
    auto share = [](int64_t part, int64_t all) {
      return all ? Fixed(100.0 * part / all) + "%" : std::string("-");
    };
    std::cout << "| " << name << " | " << Fixed(x.outage_hours) << " | " << x.issuances << " | "
              << x.alerts << " | " << share(x.alerts_true, x.alerts) << " | " << g.pages << " | "
              << share(g.pages_real, g.pages) << " | " << g.tickets << " | "
              << share(g.tickets_real, g.tickets) << " | "
              << (g.grouped ? StrCat(g.incidents, " (", g.resolved, " resolved)") : "(one per page)")
              << " | "
              << (g.incidents ? Fixed(double(g.pages) / g.incidents, 2) : "-") << " | "
              << g.watched << " | " << g.info << " |\n";
  }
  ReportPerFleet(fleets, policies);
  std::cout << "\n## certcast actions by reason (all runs)\n\n"
            << "| action and reason | count | with an open episode or active fault on the lineage or "
               "its host |\n|---|---|---|\n";
  for (const auto& [reason, counts] : by_reason) {
    std::cout << "| " << reason << " | " << counts.first << " | " << counts.second << " ("
              << Fixed(100.0 * counts.second / std::max<int64_t>(1, counts.first)) << "%) |\n";
  }
  return 0;
}

}  // namespace
}  // namespace certcast

int main(int argc, char** argv) { return certcast::Main(argc, argv); }
