#include "plan/planner.h"

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

namespace certcast::plan {

using policy::ExplainForecasts;
using policy::ForecastView;
using policy::HeldItem;
using policy::LineageMemory;

namespace {

int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }
absl::Time FromMicros(int64_t us) { return absl::FromUnixMicros(us); }

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

namespace {

// One JSON codec per field type of LineageMemory's NamedFields (policy.h): an empty value is
// left out, a missing one reads as empty. Times are microseconds since the epoch; any int64 is a
// time absl represents exactly. A bad value throws, naming the lineage and field (MemoryFromJson
// turns it into DataLoss).
using Json = nlohmann::ordered_json;

void WriteField(Json& j, std::string_view name, const std::optional<absl::Time>& v) {
  if (v) j[std::string(name)] = Micros(*v);
}
void WriteField(Json& j, std::string_view name, const std::string& v) {
  if (!v.empty()) j[std::string(name)] = v;
}
void WriteField(Json& j, std::string_view name, const int& v) {
  if (v != 0) j[std::string(name)] = v;
}
void WriteField(Json& j, std::string_view name, const std::optional<std::string>& v) {
  if (v) j[std::string(name)] = *v;
}
void WriteField(Json& j, std::string_view name, const std::optional<Challenge>& v) {
  if (v) j[std::string(name)] = std::string(ToString(*v));
}
void WriteField(Json& j, std::string_view name, const std::vector<std::pair<std::string, absl::Time>>& v) {
  if (v.empty()) return;
  Json entries = Json::array();
  for (const auto& [key, at] : v) entries.push_back({key, Micros(at)});
  j[std::string(name)] = std::move(entries);
}

absl::Time TimeOf(const nlohmann::json& value, const std::string& what) {
  return FromMicros(json_checked::Integer(value, INT64_MIN, INT64_MAX, what));
}
void ReadField(const nlohmann::json& j, std::string_view name, std::optional<absl::Time>& v, const std::string& at) {
  if (auto it = j.find(name); it != j.end()) v = TimeOf(*it, StrCat(at, name));
}
void ReadField(const nlohmann::json& j, std::string_view name, std::string& v, const std::string&) {
  if (auto it = j.find(name); it != j.end()) v = it->get<std::string>();
}
void ReadField(const nlohmann::json& j, std::string_view name, int& v, const std::string& at) {
  if (auto it = j.find(name); it != j.end()) {
    v = static_cast<int>(json_checked::Integer(*it, 0, INT32_MAX, StrCat(at, name)));
  }
}
void ReadField(const nlohmann::json& j, std::string_view name, std::optional<std::string>& v, const std::string&) {
  if (auto it = j.find(name); it != j.end()) v = it->get<std::string>();
}
void ReadField(const nlohmann::json& j, std::string_view name, std::optional<Challenge>& v, const std::string&) {
  if (auto it = j.find(name); it != j.end()) v = ChallengeFromString(it->get<std::string>());
}
void ReadField(const nlohmann::json& j, std::string_view name, std::vector<std::pair<std::string, absl::Time>>& v,
               const std::string& at) {
  auto it = j.find(name);
  if (it == j.end()) return;
  for (const auto& entry : *it) {
    v.emplace_back(entry.at(0).get<std::string>(), TimeOf(entry.at(1), StrCat(at, name, " time")));
  }
}

}  // namespace

std::string MemoryToJson(const FleetMemory& memory) {
  nlohmann::ordered_json lineages = nlohmann::ordered_json::object();
  std::vector<const std::string*> certs;
  for (const auto& [cert, m] : memory) certs.push_back(&cert);
  std::sort(certs.begin(), certs.end(), [](auto* a, auto* b) { return *a < *b; });
  for (const std::string* cert : certs) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    std::apply([&](const auto&... field) { (WriteField(j, field.name, field.value), ...); },
               NamedFields(memory.at(*cert)));
    lineages[*cert] = std::move(j);
  }
  nlohmann::ordered_json doc;
  doc["version"] = 1;
  doc["lineages"] = std::move(lineages);
  return doc.dump();
}

StatusOr<FleetMemory> MemoryFromJson(std::string_view text) {
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
  try {
    for (auto it = lineages->begin(); it != lineages->end(); ++it) {
      const nlohmann::json& j = it.value();
      if (!j.is_object()) return DataLossError(StrCat("policy memory: lineage \"", it.key(), "\" is not an object"));
      const std::string at = StrCat("lineage \"", it.key(), "\": ");
      LineageMemory m;
      std::apply([&](const auto&... field) { (ReadField(j, field.name, field.value, at), ...); }, NamedFields(m));
      memory.emplace(it.key(), std::move(m));
    }
  } catch (const std::exception& e) {
    return DataLossError(StrCat("policy memory: ", e.what()));
  }
  return memory;
}


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
  std::vector<LineageView> views = policy::BuildViews(state.fold(), at);
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
    // Views are sorted by cert (policy::BuildViews).
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
  std::optional<size_t> checkpoint_bytes;
  if (options.checkpoint && state.unsaved()) {
    const auto encode_start = Clock::now();
    std::string checkpoint = state.Serialize();
    out.encode_seconds = Seconds(encode_start, Clock::now());
    checkpoint_bytes = checkpoint.size();
    commit.checkpoints.emplace_back(kPlanStateKey, std::move(checkpoint));  // 20 MB: not copied
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
  if (checkpoint_bytes) {
    state.MarkSaved();
    out.checkpoint_bytes = static_cast<int64_t>(*checkpoint_bytes);
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


}  // namespace certcast::plan
