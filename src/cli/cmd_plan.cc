// certcast plan: what certcast would do now, one action per line (docs/evaluation.md section 2).
#include <cstdio>
#include <iostream>

#include "act/config.h"
#include "cli/command.h"
#include "core/clock.h"
#include "core/strings.h"
#include "core/time.h"
#include "core/utf8.h"
#include "model/forecaster.h"
#include "plan/planner.h"
#include "store/store.h"

namespace certcast::cli {
namespace {

struct PlanFlags {
  std::string db;
  std::string model;
  std::string at;
  std::string format = "jsonl";
  std::string config;
  int max_concurrent = -1;
  bool no_remember = false;
  bool explain = false;
};

std::string Pad(std::string s, size_t width) {
  if (s.size() > width) return s.substr(0, width - 1) + "~";
  s.resize(width, ' ');
  return s;
}

void PrintTable(const plan::RunPlanOutput& out) {
  std::cout << Pad("CERT", 28) << Pad("ACTION", 9) << Pad("TARGET", 28) << Pad("RISK", 7)
            << "REASON\n";
  for (const policy::PlannedItem& item : out.result.items) {
    const PlannedAction& a = item.action;
    std::string target;
    if (a.challenge) target = StrCat("challenge ", ToString(*a.challenge));
    if (a.ca) target = StrCat("ca ", *a.ca);
    if (a.host) target = StrCat("host ", *a.host);
    char risk[16];
    std::snprintf(risk, sizeof risk, "%.3f", a.risk);
    std::cout << Pad(a.cert, 28) << Pad(std::string(ToString(a.kind)), 9) << Pad(target, 28)
              << Pad(risk, 7) << a.reason << "\n";
  }
  std::cout << out.result.items.size() << " action(s) for " << out.result.lineages
            << " lineage(s); " << out.result.held.size() << " held back\n";
}

int RunPlanCommand(const PlanFlags& flags) {
  absl::Time at = SystemClock::Get().Now();
  if (!flags.at.empty()) {
    auto parsed = ParseRfc3339(flags.at);
    if (!parsed.ok()) return Fail(parsed.status());
    at = *parsed;
  }
  plan::RunPlanOptions options;
  if (!flags.config.empty()) {
    auto config = act::LoadDaemonConfig(flags.config);
    if (!config.ok()) return Fail(config.status());
    options.config = config->policy;
  }
  if (flags.max_concurrent >= 0) options.config.max_concurrent_renewals = flags.max_concurrent;
  options.remember = !flags.no_remember;
  options.audit = !flags.no_remember;
  options.checkpoint = !flags.no_remember;

  StoreOptions store_options;
  store_options.create_if_missing = false;
  auto store = Store::Open(flags.db, store_options);
  if (!store.ok()) return Fail(store.status());

  const Forecaster* forecaster = nullptr;
  std::optional<Forecaster> loaded;
  if (!flags.model.empty()) {
    auto model = Forecaster::Load(flags.model);
    if (!model.ok()) {
      // The fact-based checks (safety net, stale servers, failing renewals) do not need a model;
      // refusing to plan at all would leave certificates to expire. Say so loudly instead.
      std::cerr << "certcast: warning: model not used (" << model.status().message()
                << "); planning on facts alone, risk 0\n";
    } else {
      loaded.emplace(std::move(*model));
      forecaster = &*loaded;
    }
  }
  // Never freed: the process ends right after the plan, and freeing the folded state of a large
  // fleet (millions of small allocations) costs as much as a plan step (docs/benchmarks.md). Held
  // by a static so that it stays reachable: LeakSanitizer reports an unreachable block as a leak,
  // and the integration tests run this binary under it.
  static plan::PlanState* state = nullptr;
  state = new plan::PlanState(/*with_fleet=*/forecaster != nullptr);
  auto out = plan::RunPlan(**store, forecaster, at, options, *state);
  WarnUnreadableEvents(**store);
  if (!out.ok()) return Fail(out.status());
  if (!out->forecast_error.empty()) {
    std::cerr << "certcast: warning: scoring failed (" << ToValidUtf8(out->forecast_error, 300)
              << "); planned on facts alone, risk 0\n";
  }
  if (!out->reasons_error.empty()) {
    std::cerr << "certcast: warning: forecast reasons failed (" << ToValidUtf8(out->reasons_error, 300)
              << "); planned with the risks, messages without reasons\n";
  }
  if (flags.format == "table") {
    PrintTable(*out);
  } else {
    std::string buffer;
    for (const policy::PlannedItem& item : out->result.items) {
      buffer += ActionToJson(item.action);
      buffer += '\n';
    }
    std::fwrite(buffer.data(), 1, buffer.size(), stdout);
  }
  if (flags.explain) {
    for (const policy::HeldItem& h : out->result.held) {
      std::cerr << "held " << h.cert << " " << ToString(h.held.proposal.kind) << " "
                << h.held.proposal.reason << ": " << h.held.why << " (" << h.held.detail << ")\n";
    }
    const plan::AdvanceStats& a = out->advance;
    std::cerr << StrCat("plan: ", out->result.lineages, " lineages; load ", out->load_seconds,
                        " s (", a.restored ? "checkpoint restored" : StrCat("rebuilt: ", a.rebuilt_because),
                        " in ", a.restore_seconds, " s of which decode ", a.decode_seconds, " s; ", a.events_folded, " events read and folded in ",
                        a.fold_seconds, " s), views ", out->views_seconds, " s, score ",
                        out->score_seconds, " s, decide ", out->decide_seconds, " s, save ",
                        out->save_seconds, " s (",
                        out->checkpoint_bytes > 0
                            ? StrCat("checkpoint ", out->checkpoint_bytes, " bytes, encode ", out->encode_seconds, " s")
                            : std::string("checkpoint not written"),
                        "), audit ",
                        out->audit_seconds, " s; model ", out->model_version, "\n");
  }
  return kExitOk;
}

const bool registered = RegisterCommand({
    .name = "plan",
    .summary = "Decide what to do now: renew, dry_run, alert or reload, one JSON object per line",
    .order = 60,
    .setup =
        [](CLI::App& sub) {
          auto flags = std::make_shared<PlanFlags>();
          sub.description(
              "Runs the decision chain (docs/policy.md) over every lineage in the store as of "
              "--at and prints the actions, one JSON object per line on stdout: "
              "{\"cert\",\"action\",\"challenge\"?,\"ca\"?,\"host\"?,\"reason\",\"risk\"}. The "
              "reason starts with its named constant (e.g. \"ExpiryImminent: ...\"). What was "
              "planned is remembered in the store, so calling plan again (the next day, or twice "
              "at once) does not repeat an alert or renew twice; every planned action is written "
              "to the hash-chained audit log (certcast audit). The events folded so far are kept "
              "in the store as a checkpoint, so the next plan reads only newer events; an event "
              "that arrives late (older than the newest event already folded) makes plan rebuild "
              "from every event.");
          sub.add_option("--db", flags->db, "Store file (SQLite)")->required();
          sub.add_option("--model", flags->model,
                         "Model file from `certcast train` (default: none; facts alone, risk 0)");
          sub.add_option("--at", flags->at, "Plan as of this instant, RFC 3339 UTC (default: now)")
              ->check(RequireTimestamp());
          sub.add_option("--format", flags->format, "jsonl (default) or table")
              ->check(CLI::IsMember({"jsonl", "table"}));
          sub.add_option("--config", flags->config,
                         "TOML file whose [policy] table sets thresholds, windows and limits "
                         "(default: built-in defaults, docs/policy.md)");
          sub.add_option("--max-concurrent", flags->max_concurrent,
                         "Renewals + dry runs planned per call (default 200; 0 = unlimited)")
              ->check(CLI::Range(0, 100000000));
          sub.add_flag("--no-remember", flags->no_remember,
                       "Do not store memory, audit records or the checkpoint (a what-if run)");
          sub.add_flag("--explain", flags->explain,
                       "Also print held-back proposals and timings on stderr");
          sub.footer(
              "Exit: 0 planned (possibly nothing); 2 bad flags; 3 the store failed.\n\nExample:\n"
              "  certcast plan --db fleet.db --model model.ubj --at 2026-11-28T23:59:59Z\n"
              "  certcast plan --db fleet.db --model model.ubj --format table --explain");
          return [flags] { return RunPlanCommand(*flags); };
        },
});

}  // namespace
}  // namespace certcast::cli
