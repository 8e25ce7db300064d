// The fleet view the server serves: per lineage its state (names, hosts, client, CA, challenge,
// current and served certificate, the client's renewal due time), its risk with the reasons in
// words, and the action the planner proposes with its reason; plus the fleet's KPIs.
//
// A FleetSnapshot is built once per plan (BuildFleetSnapshot, pure: it takes what
// plan::RunPlan computed and the plan instant) and is immutable afterwards; the server holds it
// in a std::shared_ptr<const FleetSnapshot> that a refresh swaps atomically, so readers never wait
// for a plan. Queries over a snapshot (QueryLineages) are pure too.
//
// Thread safety: a built snapshot is read-only and may be shared by any number of threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "core/action.h"
#include "core/event.h"
#include "core/status.h"
#include "policy/lineage_view.h"
#include "plan/planner.h"
#include "store/store.h"

namespace certcast::api {

// What one endpoint serves compared with the lineage's newest issued certificate.
struct ServedEndpoint {
  std::string endpoint;  // "host:port"
  std::string sni;       // the name asked for: one result per (endpoint, name)
  std::string host;
  absl::Time probed_at;
  bool ok = true;         // the TLS probe succeeded
  std::string error;      // TLS error name when !ok
  std::string serial;
  std::optional<absl::Time> not_after;
  bool current = false;   // serves the newest issued serial
};

// "current": every probed endpoint serves the newest issued certificate; "stale": one serves an
// older one; "error": one failed its probe (and none is stale); "unknown": never probed or
// nothing issued yet.
inline constexpr char kServedCurrent[] = "current";
inline constexpr char kServedStale[] = "stale";
inline constexpr char kServedError[] = "error";
inline constexpr char kServedUnknown[] = "unknown";

struct LineageEntry {
  std::string cert;
  std::vector<std::string> names;
  std::string host;                 // the host of the latest config event
  std::vector<std::string> hosts;   // every host a config event named
  std::string client;
  std::string ca;                   // the CA the lineage renews with now (a certcast switch counts)
  std::string challenge;            // likewise
  // Newest issued certificate; absent before the first issuance.
  std::optional<std::string> serial;
  std::optional<absl::Time> not_before, not_after;
  std::optional<absl::Time> renewal_due;  // when the client itself first tries to renew it
  std::string served_state = kServedUnknown;
  std::vector<ServedEndpoint> served;
  std::optional<absl::Time> last_success, last_failure;
  int episode_failures = 0;         // failed attempts since the last success or issuance
  // Probability of a renewal failure within the model's horizon; absent without a model.
  std::optional<double> risk;
  bool in_episode = false;          // already failing: the risk is not a forecast then
  std::vector<std::string> risk_reasons;  // the forecast's reasons, most important first
  // The planned action, if any (exactly what `certcast plan` prints for the lineage; when the
  // planner proposes more than one, the first).
  std::optional<PlannedAction> action;
  std::string action_reason_code;   // kReason* constant, "" without an action
  std::string held;                 // a proposal held back, in words ("" = none)
  std::string diagnosis;            // the policy's diagnosed cause, in words ("" = none)
  std::string cause;                // the diagnosed cause's name (policy::Cause, "" = none)
  // One sentence: the action's reason, else the held proposal, else the first risk reason, else
  // "no action needed".
  std::string reason;
};

// Fleet KPIs over a trailing window (docs/api.md, "Metrics"), from the stored renewal events.
struct FleetKpis {
  absl::Duration window = absl::Hours(24 * 30);
  int64_t renewals_succeeded = 0, renewals_failed = 0;  // non-dry-run attempts in the window
  std::optional<double> success_ratio;                  // absent without attempts
  int64_t repairs = 0;                                  // failure runs ended by a success
  std::optional<double> mean_time_to_repair_seconds;    // absent without repairs
  // Trailing forecast quality (see ComputeForecastQuality); absent when nothing to count.
  int64_t forecast_alerts_judged = 0, forecast_alerts_hit = 0;
  int64_t onsets = 0, onsets_forecast = 0;
  std::optional<double> forecast_precision, forecast_recall;
};

// One day's forecast: the lineages whose risk was at or above the model's alert threshold and
// not already failing, as the server recorded them (ForecastHistory).
struct ForecastDay {
  absl::Time day;  // midnight UTC
  std::vector<std::string> alerted;
  // The day's highest risks (at most kRiskHistoryKept lineages, sorted by cert) in units of
  // 1/10000, integers so that the stored history round-trips exactly: a lineage's risk over time
  // (LineageRiskHistory). Days recorded before this field existed have none.
  std::vector<std::pair<std::string, int>> risks;
};
inline constexpr size_t kRiskHistoryKept = 500;
inline constexpr int kRiskUnits = 10000;

struct FleetSnapshot {
  absl::Time at;                     // the plan instant
  absl::Time built;                  // when the refresh finished (wall clock)
  double plan_seconds = 0;           // how long the refresh took
  bool has_model = false;
  std::string model_version = "none";
  std::string forecast_error;        // non-empty when scoring failed (risks absent)
  std::vector<LineageEntry> lineages;  // highest risk first, then by cert (the default order)
  absl::flat_hash_map<std::string, size_t> index;  // cert -> position in `lineages`
  FleetKpis kpis;
  std::vector<ForecastDay> forecast_history;  // as stored when the snapshot was built

  const LineageEntry* Find(std::string_view cert) const;
};

// Builds the snapshot from what the planner saw and decided at `at`. `forecasts` empty and
// `has_model` false: every risk is absent. Views must be the planner's (sorted by cert).
FleetSnapshot BuildFleetSnapshot(const std::vector<policy::LineageView>& views,
                                 const policy::ForecastMap& forecasts, bool has_model,
                                 const policy::PlanResult& plan, const policy::FleetMemory& memory,
                                 absl::Time at);

// Renewal success ratio and mean time to repair over (at - window, at] from renewal events in ts
// order (dry runs are not renewals and are skipped). A repair is a run of failed attempts of one
// lineage that a success ends inside the window; its time is success.ts - first failure's ts (the
// first failure may lie before the window: the run is still repaired in it). Events at or after
// `at` are ignored.
void ComputeRenewalKpis(const std::vector<Event>& renewals_in_ts_order, absl::Time at,
                        FleetKpis& kpis);

// Trailing forecast precision and recall over (at - window, at] against what happened:
//  - an alert (lineage, day) is judged once its horizon (day, day + horizon] has passed, or an
//    onset already fell in it; it is a hit when the lineage's renewal failure episode began in it;
//    precision = hits / judged alerts of days in the window;
//  - an onset is the first failed renewal after a success, an issuance or the start of the
//    history (renewal and issued events in ts order); recall = onsets in the window that an alert
//    of the lineage in the horizon before it foresaw / onsets in the window.
// The history only holds days the server was up; onsets of earlier days count as unforeseen.
void ComputeForecastQuality(const std::vector<ForecastDay>& history,
                            const std::vector<Event>& renewals_and_issued_in_ts_order,
                            absl::Duration horizon, absl::Time at, FleetKpis& kpis);

// The forecast history as stored under a store state key: JSON, at most `keep_days` days.
std::string ForecastHistoryToJson(const std::vector<ForecastDay>& history);
StatusOr<std::vector<ForecastDay>> ForecastHistoryFromJson(std::string_view json);
// Adds (or replaces) the day of `at` with the snapshot's alerted lineages and its
// kRiskHistoryKept highest risks, and drops days older than `keep`.
void RecordForecastDay(const FleetSnapshot& snapshot, double alert_threshold, absl::Duration keep,
                       std::vector<ForecastDay>& history);

// One point of a lineage's risk over time: its recorded risk that day, or (absent from the day's
// kept risks) only a bound: below the lowest risk kept that day.
struct RiskPoint {
  absl::Time day;
  std::optional<double> risk;
  std::optional<double> below;
};
// The lineage's points over the recorded days, oldest first (days without risks are skipped).
std::vector<RiskPoint> LineageRiskHistory(const std::vector<ForecastDay>& history,
                                          std::string_view cert);

// GET /v1/lineages query parameters.
struct LineageQuery {
  std::string host, name, client, ca;   // exact matches; "" = any
  std::string challenge, cause;         // exact matches (cause: the diagnosed cause's name)
  std::optional<double> min_risk;       // lineages without a risk never pass a min_risk
  std::string sort = "risk";            // risk | cert | not_after | renewal_due
  int64_t limit = 100;
  int64_t offset = 0;
};
inline constexpr int64_t kMaxPageSize = 1000;

// A query parameter that must be an integer in [lo, hi]; InvalidArgument naming it otherwise.
StatusOr<int64_t> ParseQueryInteger(std::string_view key, std::string_view value, int64_t lo,
                                    int64_t hi);

// Parses the query string parameters; an unknown parameter or a bad value is InvalidArgument
// naming it ("limit: expected an integer in [1, 1000], got \"0\"").
StatusOr<LineageQuery> ParseLineageQuery(const std::multimap<std::string, std::string>& params);

// The events cursor of GET /v1/lineages/{cert}: "TS.HASH", the store key of the last event a page
// read, as the answer's events_next gives it. Parse refuses anything Format could not have written
// (both parts whole decimal numbers, nothing around them), naming the value and what to give.
std::string FormatEventCursor(const EventCursor& cursor);
StatusOr<EventCursor> ParseEventCursor(std::string_view text);

struct LineagePage {
  std::vector<const LineageEntry*> items;
  int64_t total = 0;  // lineages matching the filters
  std::optional<int64_t> next_offset;
};
LineagePage QueryLineages(const FleetSnapshot& snapshot, const LineageQuery& query);

// GET /v1/fleet: the KPIs over the lineages matching `query`'s filters (its paging and sort are
// ignored): counts, at risk within 7 days (alerting, already failing or expiring), the renewal
// and forecast KPIs of the whole fleet, a daily timeline of expiries and client renewal due
// dates over `timeline_days` from the snapshot instant, and the filter values present (facets,
// at most kMaxFacetValues each, most frequent first). `alert_threshold` absent: no model.
// `open_incidents`: the store's open incidents (docs/alerts.md), fleet-wide, not filtered.
inline constexpr size_t kMaxFacetValues = 200;
std::string FleetSummaryJson(const FleetSnapshot& snapshot, const LineageQuery& query,
                             std::optional<double> alert_threshold, absl::Duration horizon,
                             int timeline_days, int64_t open_incidents);

// JSON of one lineage: the list item, or with `detail` everything the entry holds.
std::string LineageJson(const LineageEntry& entry, bool detail);
// The GET /v1/lineages answer.
std::string LineagePageJson(const FleetSnapshot& snapshot, const LineagePage& page,
                            const LineageQuery& query);

}  // namespace certcast::api
