#include "policy/planner.h"

#include <algorithm>
#include <chrono>

#include "absl/container/flat_hash_set.h"
#include "core/json_checked.h"
#include "core/json_text.h"
#include "core/strings.h"
#include "core/time.h"
#include "features/domains.h"
#include "model/forecaster.h"
#include "nlohmann/json.hpp"
#include "store/store.h"
#include "store/store_backends.h"

namespace certcast::policy {
namespace {

// Alert keys older than this are forgotten: every key names a certificate serial, an episode
// onset or a hazard instant, all of which are long gone by then.
constexpr absl::Duration kAlertMemory = absl::Hours(24 * 400);

int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }
absl::Time FromMicros(int64_t us) { return absl::FromUnixMicros(us); }

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

std::string MemoryToJson(const FleetMemory& memory) {
  nlohmann::ordered_json lineages = nlohmann::ordered_json::object();
  std::vector<const std::string*> certs;
  for (const auto& [cert, m] : memory) certs.push_back(&cert);
  std::sort(certs.begin(), certs.end(), [](auto* a, auto* b) { return *a < *b; });
  for (const std::string* cert : certs) {
    const LineageMemory& m = memory.at(*cert);
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    if (m.last_renew_at) j["last_renew_at"] = Micros(*m.last_renew_at);
    if (!m.last_renew_serial.empty()) j["last_renew_serial"] = m.last_renew_serial;
    if (m.renewals_for_serial) j["renewals_for_serial"] = m.renewals_for_serial;
    if (m.last_dry_run_at) j["last_dry_run_at"] = Micros(*m.last_dry_run_at);
    if (m.last_reload_at) j["last_reload_at"] = Micros(*m.last_reload_at);
    if (!m.last_reload_serial.empty()) j["last_reload_serial"] = m.last_reload_serial;
    if (m.switched_challenge) j["switched_challenge"] = std::string(ToString(*m.switched_challenge));
    if (m.switched_ca) j["switched_ca"] = *m.switched_ca;
    if (m.switched_at) j["switched_at"] = Micros(*m.switched_at);
    if (!m.alerted.empty()) {
      nlohmann::ordered_json alerted = nlohmann::ordered_json::array();
      for (const auto& [key, at] : m.alerted) alerted.push_back({key, Micros(at)});
      j["alerted"] = std::move(alerted);
    }
    lineages[*cert] = std::move(j);
  }
  nlohmann::ordered_json doc;
  doc["version"] = 1;
  doc["lineages"] = std::move(lineages);
  return doc.dump();
}

StatusOr<FleetMemory> MemoryFromJson(std::string_view text) {
  using json_checked::Integer;
  nlohmann::json doc;
  try {
    doc = json_checked::Parse(text);
  } catch (const std::exception&) {
    return DataLossError("policy memory: invalid JSON");
  }
  if (!doc.is_object()) return DataLossError("policy memory: invalid JSON");
  const auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_integer() || *version != 1) {
    return DataLossError("policy memory: unknown version");
  }
  FleetMemory memory;
  auto lineages = doc.find("lineages");
  if (lineages == doc.end() || !lineages->is_object()) return memory;
  // Times are microseconds since the epoch; any int64 is a time absl represents exactly.
  auto time_of = [](const nlohmann::json& value, std::string_view what) {
    return FromMicros(Integer(value, INT64_MIN, INT64_MAX, what));
  };
  try {
    for (auto it = lineages->begin(); it != lineages->end(); ++it) {
      const nlohmann::json& j = it.value();
      if (!j.is_object()) return DataLossError(StrCat("policy memory: lineage \"", it.key(), "\" is not an object"));
      const std::string at = StrCat("lineage \"", it.key(), "\": ");
      LineageMemory m;
      if (j.contains("last_renew_at")) m.last_renew_at = time_of(j["last_renew_at"], StrCat(at, "last_renew_at"));
      m.last_renew_serial = j.value("last_renew_serial", "");
      if (j.contains("renewals_for_serial")) {
        m.renewals_for_serial = static_cast<int>(Integer(j["renewals_for_serial"], 0, INT32_MAX, StrCat(at, "renewals_for_serial")));
      }
      if (j.contains("last_dry_run_at")) m.last_dry_run_at = time_of(j["last_dry_run_at"], StrCat(at, "last_dry_run_at"));
      if (j.contains("last_reload_at")) m.last_reload_at = time_of(j["last_reload_at"], StrCat(at, "last_reload_at"));
      m.last_reload_serial = j.value("last_reload_serial", "");
      if (j.contains("switched_challenge")) {
        m.switched_challenge = ChallengeFromString(j["switched_challenge"].get<std::string>());
      }
      if (j.contains("switched_ca")) m.switched_ca = j["switched_ca"].get<std::string>();
      if (j.contains("switched_at")) m.switched_at = time_of(j["switched_at"], StrCat(at, "switched_at"));
      if (j.contains("alerted")) {
        for (const auto& entry : j["alerted"]) {
          m.alerted.emplace_back(entry.at(0).get<std::string>(), time_of(entry.at(1), StrCat(at, "alerted time")));
        }
      }
      memory.emplace(it.key(), std::move(m));
    }
  } catch (const std::exception& e) {
    return DataLossError(StrCat("policy memory: ", e.what()));
  }
  return memory;
}

namespace {

// Both PlanFleet overloads. `explain`, when set, fills the reasons of the named lineages in
// `forecasts` (the caller's map, which it holds mutable).
PlanResult PlanFleetWith(const std::vector<LineageView>& lineages, const ForecastMap& forecasts,
                         FleetMemory& memory, const PolicyConfig& config, absl::Time now,
                         const std::function<void(const std::vector<std::string>&)>& explain) {
  PlanResult result;
  result.lineages = static_cast<int64_t>(lineages.size());
  // Issuance per registered domain over 7 d, for the new-order budget.
  absl::flat_hash_map<std::string, int> per_domain;
  for (const LineageView& v : lineages) {
    if (v.issued_last_7d > 0 && !v.config.names.empty()) {
      per_domain[RegisteredDomain(v.config.names.front())] += v.issued_last_7d;
    }
  }
  FleetBudget budget{&per_domain};
  static const ForecastView kNoForecast;
  static const LineageMemory kNoMemory;

  auto forecast_of = [&](const LineageView& v) -> const ForecastView& {
    auto f = forecasts.find(v.cert);
    return f == forecasts.end() ? kNoForecast : f->second;
  };
  auto decide = [&](const LineageView& v) {
    auto mem = memory.find(v.cert);
    const LineageMemory& m = mem == memory.end() ? kNoMemory : mem->second;
    return Decide(PolicyInput{v, forecast_of(v), m, config, budget, now});
  };
  // Lineage index and decision of the lineages that propose something (a few per cent): the
  // others add nothing to the result.
  std::vector<std::pair<size_t, Decision>> proposing;
  for (size_t i = 0; i < lineages.size(); ++i) {
    Decision d = decide(lineages[i]);
    if (!d.actions.empty() || !d.held.empty()) proposing.emplace_back(i, std::move(d));
  }
  if (explain) {
    // Reasons change only the wording of proposals, never whether there is one: a lineage
    // without a proposal now has none with its reasons either.
    std::vector<std::string> certs;
    for (const auto& [i, d] : proposing) {
      if (forecasts.contains(lineages[i].cert)) certs.push_back(lineages[i].cert);
    }
    if (!certs.empty()) {
      explain(certs);
      for (auto& [i, d] : proposing) {
        if (forecasts.contains(lineages[i].cert)) d = decide(lineages[i]);
      }
    }
  }

  std::vector<PlannedItem> renewals, alerts;
  for (auto& [i, d] : proposing) {
    const LineageView& v = lineages[i];
    const ForecastView& forecast = forecast_of(v);
    for (Held& h : d.held) result.held.push_back({v.cert, std::move(h), d.diagnosis});
    for (Proposal& p : d.actions) {
      PlannedItem item;
      item.action.cert = v.cert;
      item.action.kind = p.kind;
      item.action.challenge = p.challenge;
      item.action.ca = p.ca;
      item.action.host = p.host;
      item.action.reason = ReasonText(p);
      item.action.risk = std::clamp(forecast.risk, 0.0, 1.0);
      item.reason = p.reason;
      item.diagnosis = d.diagnosis;
      item.forecast = &forecast;
      item.alert_key = p.alert_key;
      item.urgency = p.urgency;
      item.safety_net = p.safety_net;
      (p.track == Track::kAlert ? alerts : renewals).push_back(std::move(item));
    }
  }
  // Safety net first, then most urgent (closest to expiry); ties by cert for determinism.
  std::stable_sort(renewals.begin(), renewals.end(), [](const PlannedItem& a, const PlannedItem& b) {
    if (a.safety_net != b.safety_net) return a.safety_net;
    if (a.urgency != b.urgency) return a.urgency > b.urgency;
    return a.action.cert < b.action.cert;
  });
  int limited_count = 0;
  for (PlannedItem& item : renewals) {
    // Renewals and dry runs load the CA and the hosts; reloads do not count.
    const bool limited =
        item.action.kind == ActionKind::kRenew || item.action.kind == ActionKind::kDryRun;
    if (limited && !item.safety_net && config.max_concurrent_renewals > 0 &&
        limited_count >= config.max_concurrent_renewals) {
      Proposal p;
      p.kind = item.action.kind;
      p.reason = item.reason;
      p.message = item.action.reason;
      result.held.push_back({item.action.cert,
                             Held{p, kHeldConcurrency,
                                  StrCat("more than ", config.max_concurrent_renewals,
                                         " renewals and dry runs in this run")},
                             item.diagnosis});
      continue;
    }
    if (limited) ++limited_count;
    result.items.push_back(std::move(item));
  }
  // Alerts about a shared cause ("scope:host:web1:local_client") go out once for the fleet; the
  // fleet's own memory lives under the empty cert name.
  LineageMemory& fleet = memory[""];
  for (PlannedItem& item : alerts) {
    if (item.alert_key.rfind("scope:", 0) == 0) {
      const bool sent = std::any_of(fleet.alerted.begin(), fleet.alerted.end(),
                                    [&](const auto& e) { return e.first == item.alert_key; });
      if (sent) {
        Proposal p;
        p.kind = item.action.kind;
        p.reason = item.reason;
        p.message = item.action.reason;
        p.alert_key = item.alert_key;
        result.held.push_back({item.action.cert,
                               Held{p, kHeldAlreadyDone,
                                    StrCat("alert ", item.alert_key, " already sent")},
                               item.diagnosis});
        continue;
      }
      fleet.alerted.emplace_back(item.alert_key, now);
    }
    result.items.push_back(std::move(item));
  }

  // Remember what was planned.
  absl::flat_hash_map<std::string_view, const LineageView*> by_cert;
  for (const LineageView& v : lineages) by_cert[v.cert] = &v;
  for (const PlannedItem& item : result.items) {
    LineageMemory& m = memory[item.action.cert];
    const LineageView* v = by_cert[item.action.cert];
    const std::string serial = v && v->current ? v->current->serial : "";
    switch (item.action.kind) {
      case ActionKind::kRenew:
        if (m.last_renew_serial != serial) m.renewals_for_serial = 0;
        m.last_renew_at = now;
        m.last_renew_serial = serial;
        ++m.renewals_for_serial;
        if (item.action.challenge || item.action.ca) {
          if (item.action.challenge) m.switched_challenge = item.action.challenge;
          if (item.action.ca) m.switched_ca = item.action.ca;
          m.switched_at = now;
        }
        break;
      case ActionKind::kDryRun:
        m.last_dry_run_at = now;
        break;
      case ActionKind::kReload:
        m.last_reload_at = now;
        m.last_reload_serial = serial;
        break;
      case ActionKind::kAlert:
        m.alerted.emplace_back(item.alert_key, now);
        break;
    }
  }
  for (auto& [cert, m] : memory) {
    std::erase_if(m.alerted, [&](const auto& entry) { return now - entry.second > kAlertMemory; });
  }
  return result;
}

}  // namespace

PlanResult PlanFleet(const std::vector<LineageView>& lineages, const ForecastMap& forecasts,
                     FleetMemory& memory, const PolicyConfig& config, absl::Time now) {
  return PlanFleetWith(lineages, forecasts, memory, config, now, nullptr);
}

PlanResult PlanFleet(const std::vector<LineageView>& lineages, ForecastMap& forecasts,
                     FleetMemory& memory, const PolicyConfig& config, absl::Time now,
                     const ExplainForecasts& explain) {
  std::function<void(const std::vector<std::string>&)> fill;
  if (explain) fill = [&](const std::vector<std::string>& certs) { explain(certs, forecasts); };
  return PlanFleetWith(lineages, forecasts, memory, config, now, fill);
}

}  // namespace certcast::policy

namespace certcast::policy {

std::string DecisionAuditJson(const PlannedItem& item, absl::Time at,
                              const std::string& model_version) {
  nlohmann::ordered_json j;
  j["cert"] = item.action.cert;
  j["action"] = std::string(ToString(item.action.kind));
  if (item.action.challenge) j["challenge"] = std::string(ToString(*item.action.challenge));
  if (item.action.ca) j["ca"] = *item.action.ca;
  if (item.action.host) j["host"] = *item.action.host;
  j["reason_code"] = std::string(item.reason);
  j["reason"] = item.action.reason;
  j["risk"] = item.action.risk;
  j["at"] = FormatRfc3339(at);
  j["cause"] = std::string(ToString(item.diagnosis.cause));
  j["model"] = model_version;
  nlohmann::ordered_json features = nlohmann::ordered_json::array();
  if (item.forecast) {
    for (const auto& [name, contribution] : item.forecast->top_features) {
      features.push_back({{"feature", name}, {"contribution", contribution}});
    }
  }
  j["top_features"] = std::move(features);
  if (!item.alert_key.empty()) j["alert_key"] = item.alert_key;
  return Dump(j);
}

StatusOr<RunPlanOutput> RunPlan(Store& store, const Forecaster* forecaster, absl::Time at,
                                const RunPlanOptions& options) {
  PlanState state(/*with_fleet=*/forecaster != nullptr);
  return RunPlan(store, forecaster, at, options, state);
}

StatusOr<RunPlanOutput> RunPlan(Store& store, const Forecaster* forecaster, absl::Time at,
                                const RunPlanOptions& options, PlanState& state) {
  using Clock = std::chrono::steady_clock;
  RunPlanOutput out;
  const auto t0 = Clock::now();
  FleetMemory memory;
  ASSIGN_OR_RETURN(std::optional<std::string> stored, store.GetState(kMemoryStateKey));
  if (stored) {
    ASSIGN_OR_RETURN(memory, MemoryFromJson(*stored));
  }
  if (forecaster && state.fleet() == nullptr) {
    return InvalidArgumentError("RunPlan: a forecaster needs a PlanState built with_fleet");
  }
  RETURN_IF_ERROR(state.AdvanceTo(store, at, &out.advance));
  const auto t1 = Clock::now();
  std::vector<LineageView> views = state.views().Build(at);
  const auto t2 = Clock::now();
  if (forecaster) {
    // Reasons come after the decision, for the few lineages that use them (PlanFleet).
    ScoreOptions score_options;
    score_options.with_reasons = false;
    StatusOr<std::vector<LineageForecast>> scored_or =
        forecaster->ScoreState(*state.fleet(), at, score_options);
    // A forecaster failure must not stop the fact-based checks (safety net, stale servers,
    // failing renewals): certificates would expire while the model is being fixed.
    std::vector<LineageForecast> scored;
    if (scored_or.ok()) {
      scored = std::move(*scored_or);
    } else {
      out.forecast_error = scored_or.status().message();
    }
    for (LineageForecast& f : scored) {
      ForecastView view;
      view.risk = f.risk;
      view.in_episode = f.in_episode;
      out.forecasts.emplace(std::move(f.cert), std::move(view));
    }
    const ModelInfo& info = forecaster->info();
    out.model_version = StrCat(info.algorithm, " ", info.schema_id, " trained until ",
                               FormatRfc3339(info.train_until));
    if (!out.forecast_error.empty()) out.model_version += " (scoring failed: facts only)";
  } else {
    out.model_version = "none";
  }
  const auto t3 = Clock::now();
  double explain_seconds = 0;
  ExplainForecasts explain;
  if (forecaster && out.forecast_error.empty()) {
    explain = [&](const std::vector<std::string>& certs, ForecastMap& forecasts) {
      const auto start = Clock::now();
      const absl::flat_hash_set<std::string> wanted(certs.begin(), certs.end());
      ScoreOptions explain_options;
      explain_options.max_reasons = 3;
      explain_options.certs = &wanted;
      StatusOr<std::vector<LineageForecast>> explained =
          forecaster->ScoreState(*state.fleet(), at, explain_options);
      if (explained.ok()) {
        for (LineageForecast& f : *explained) {
          ForecastView& view = forecasts.at(f.cert);
          for (Reason& r : f.reasons) {
            view.reasons.push_back(std::move(r.sentence));
            view.top_features.emplace_back(std::move(r.feature), r.contribution);
          }
        }
      } else {
        out.reasons_error = explained.status().message();
      }
      explain_seconds = Seconds(start, Clock::now());
    };
  }
  out.result = PlanFleet(views, out.forecasts, memory, options.config, at, explain);
  // The audit records say so too: their messages and top features lack the reasons.
  if (!out.reasons_error.empty()) out.model_version += " (reasons failed: none given)";
  for (const PlannedItem& item : out.result.items) {
    // Views are sorted by cert (FleetViewBuilder::Build).
    auto it = std::lower_bound(views.begin(), views.end(), item.action.cert,
                               [](const LineageView& v, const std::string& c) { return v.cert < c; });
    if (it != views.end() && it->cert == item.action.cert) out.configs.emplace(it->cert, it->config);
  }
  const auto t4 = Clock::now();
  // Items point into out.forecasts, which moved into `out` before PlanFleet ran: still valid.
  // Memory, checkpoint and audit records commit together or not at all: memory saved without
  // the audit records (an append failing on a full disk) would make the next plan propose
  // nothing, its memory saying the actions were planned, while no action record follows.
  StoreCommit commit;
  if (options.remember) commit.state.emplace_back(kMemoryStateKey, MemoryToJson(memory));
  std::string checkpoint;
  if (options.checkpoint && state.unsaved()) {
    const auto encode_start = Clock::now();
    checkpoint = state.Serialize();
    out.encode_seconds = Seconds(encode_start, Clock::now());
    commit.checkpoints.emplace_back(kPlanStateKey, checkpoint);
  }
  const auto t5 = Clock::now();
  if (options.audit) {
    commit.audit.reserve(out.result.items.size() + 1);
    out.queued.assign(out.result.items.size(), false);
    for (size_t i = 0; i < out.result.items.size(); ++i) {
      const PlannedItem& item = out.result.items[i];
      const int decision_index = static_cast<int>(commit.audit.size());
      commit.audit.push_back({at, "decision", DecisionAuditJson(item, at, out.model_version)});
      if (!options.queue_for_agent) continue;
      auto config = out.configs.find(item.action.cert);
      ConfigEvent lineage;
      if (config != out.configs.end()) lineage = config->second;
      else lineage.cert = item.action.cert;
      std::optional<NewQueuedAction> queued = options.queue_for_agent(item, lineage);
      if (!queued) continue;
      queued->decision_audit_index = decision_index;
      commit.actions.push_back(std::move(*queued));
      out.queued[i] = true;
    }
    nlohmann::ordered_json summary;
    summary["at"] = FormatRfc3339(at);
    summary["lineages"] = out.result.lineages;
    summary["actions"] = out.result.items.size();
    nlohmann::ordered_json held = nlohmann::ordered_json::object();
    for (const HeldItem& h : out.result.held) {
      const std::string why(h.held.why);
      held[why] = held.value(why, 0) + 1;
    }
    summary["held"] = std::move(held);
    summary["model"] = out.model_version;
    commit.audit.push_back({at, "plan", summary.dump()});
  }
  // One transaction: one disk sync for the whole plan, and never half a plan in the store.
  ASSIGN_OR_RETURN(std::vector<AuditRecord> unused, store.Commit(commit));
  (void)unused;
  if (!checkpoint.empty()) {
    state.MarkSaved();
    out.checkpoint_bytes = static_cast<int64_t>(checkpoint.size());
  }
  if (options.keep_views) {
    out.views = std::move(views);
    out.memory = std::move(memory);
  }
  const auto t6 = Clock::now();
  out.load_seconds = Seconds(t0, t1);
  out.views_seconds = Seconds(t1, t2);
  out.score_seconds = Seconds(t2, t3) + explain_seconds;
  out.decide_seconds = Seconds(t3, t4) - explain_seconds;
  out.save_seconds = Seconds(t4, t5);
  out.audit_seconds = Seconds(t5, t6);
  return out;
}

StatusOr<AuditVerification> VerifyAudit(Store& store) {
  AuditVerification v;
  ASSIGN_OR_RETURN(std::optional<AuditHead> head, store.ReadAuditHead());
  std::string previous_hash;
  int64_t expected_seq = -1, last_seq = 0;
  bool head_found = false;
  RETURN_IF_ERROR(store.ScanAudit([&](const AuditRecord& r) {
    ++v.records;
    last_seq = r.seq;
    if (head && r.seq == head->seq) head_found = r.hash == head->hash;
    if (head && r.seq > head->seq) ++v.records_after_head;
    if (!v.ok) return OkStatus();
    auto fail = [&](std::string problem) {
      v.ok = false;
      v.first_bad_seq = r.seq;
      v.problem = std::move(problem);
    };
    if (expected_seq >= 0 && r.seq != expected_seq) {
      fail(StrCat("record ", r.seq, " follows ", expected_seq - 1, ": a record is missing"));
    } else if (r.prev_hash != previous_hash) {
      fail(StrCat("record ", r.seq, " does not link to the previous record's hash"));
    } else if (AuditHash(r) != r.hash) {
      fail(StrCat("record ", r.seq, " was modified: its hash does not match its content"));
    }
    expected_seq = r.seq + 1;
    previous_hash = r.hash;
    return OkStatus();
  }));
  if (head) v.head_seq = head->seq;
  if (!v.ok) return v;
  // The chain alone cannot see records missing at its end: the head outside the store can. A
  // PostgreSQL store has none: several servers append to one chain, so no one host's file could
  // name its end; its end is guarded by the database's roles and WAL archive (docs/decisions.md).
  if (!head) {
    if (v.records > 0 && !IsPostgresStore(store)) {
      v.ok = false;
      v.first_bad_seq = last_seq;
      v.problem = "no audit chain head file beside the store (deleted, or the store predates it): "
                  "records missing from the end cannot be ruled out";
    }
    return v;
  }
  if (last_seq < head->seq) {
    v.ok = false;
    v.first_bad_seq = last_seq + 1;
    v.problem = v.records == 0
                    ? StrCat("the store has no audit records but the chain head names record ",
                             head->seq, ": every record was deleted")
                    : StrCat("the chain head names record ", head->seq, " but the store ends at ",
                             last_seq, ": records were deleted from the end");
  } else if (!head_found) {
    v.ok = false;
    v.first_bad_seq = head->seq;
    v.problem = StrCat("record ", head->seq, " differs from the chain head's hash: the chain was "
                       "rewritten from there");
  }
  return v;
}

}  // namespace certcast::policy
