// Feature extraction: a lineage's history before time T in, a fixed-width float vector out.
//
// The catalogue (name, meaning, version of every feature) is the model's schema: a model file
// records FeatureSchemaId() and is refused by a binary whose catalogue differs. Changing what a
// feature computes means bumping its version.
//
// Contract: features at `at` depend only on events with ts < at (the FleetState must not have
// applied anything at or after `at`; FeatureExtractor refuses such a state). Missing values are
// NaN (XGBoost's missing), never a made-up number. Values are relative where possible (days from
// `at`, fractions, ratios against the lineage's own history) so that a model transfers between
// fleets with different sizes and rates.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "core/status.h"
#include "features/lineage_state.h"

namespace certcast {

struct FeatureSpec {
  std::string_view name;
  std::string_view meaning;
  int version;
};

// Indices into the feature vector; kFeatureCount is its width.
enum Feature : int {
  kDaysToExpiry,
  kLifetimeDays,
  kLifetimeElapsed,
  kDaysToDue,
  kDaysToNextAttempt,
  kAriEnabled,
  kAriWindowStartDays,
  kAriMovedEarlierDays,
  kDaysSinceSuccess,
  kDaysSinceConfigChange,
  kDaysObserved,
  kEpisodesPer90Days,
  kDaysSinceLastEpisode,
  kDryRunFailedSinceSuccess,
  kDryRunFailures,
  kValidationFailures,
  kOtherFailures,
  kAttemptsPerDay,
  kChallengeHttp01,
  kChallengeDns01,
  kNamesCount,
  kWildcard,
  kChallengeProbeFailDays4,
  kChallengeProbeFailRate,
  kHttp01FailDays4,
  kHttp01FailRate,
  kHttp01ConsecutiveFailures,
  kDns01FailDays4,
  kDns01FailRate,
  kDns01PropagationRatio,
  kAddressChangeDays,
  kAddressForeignFraction,
  kDnsErrorDays4,
  kDnsLastRcodeBad,
  kNsChangeDays,
  kCaaForbidsCa,
  kCaaChangeDays,
  kDnssecBogusDays4,
  kRrsigMarginDays,
  kServedStaleDays,
  kTlsErrorDays4,
  kDeployFailedDays,
  kCaProbeErrorRate,
  kCaLatencyRatio,
  kCaFleetFailureRate,
  kCaEpisodeFraction,
  kClockOffsetAbsSeconds,
  kClockSlopeAbsSecondsPerDay,
  kClockUnsynced,
  kDiskFreeFraction,
  kDiskDaysToFull,
  kDiskMarginDays,
  kSchedulerStaleDays,
  kHostEventsRecent,
  kClientChangeDays,
  kCredentialMarginDays,
  kCredentialMissing,
  kDomainMarginDays,
  kDomainStatusBad,
  kIssued7dRegisteredDomain,
  kIssued7dNameSet,
  kHostLineages,
  kHostEpisodeFraction,
  kNsGroupEpisodeFraction,
  kWarningSignals,
  kHardBlockers,
  kBlockedAttemptDays,
  // Diagnosis as evidence (issue #14): the rate-limit budget the lineage is spending.
  kIssued24hNameSet,
  kRateLimitBudgetDays,
  kPrematureIssuances,
  kFailedValidations1h,
  kDaysSinceRateLimited,
  // Persistence: how long a condition has held, how often it recurs, its trend, how fleet-wide.
  kChallengeProbeFailDays30,
  kChallengeProbeFailRunDays,
  kChallengeProbeTrend,
  kNsGroupProbeFailFraction,
  kCaProbeFailDays4,
  kCaDegradedAttemptDays,
  kFeatureCount
};

std::span<const FeatureSpec> FeatureCatalogue();
// "features-v1/" + a hash of every (name, version): equal ids mean equal schemas.
std::string FeatureSchemaId();

// Computes features for the lineages of one FleetState at one instant. Construction makes one pass
// over the fleet for fleet context (episodes per host, CA and DNS provider); Extract is then
// O(names of the lineage) and thread-safe.
class FeatureExtractor {
 public:
  // InvalidArgument when the state has applied an event at or after `at`.
  static StatusOr<FeatureExtractor> Create(const FleetState& state, absl::Time at);

  // Writes kFeatureCount floats to `out`.
  void Extract(size_t lineage, float* out) const;
  // Whether the lineage has a config event (only those are scored).
  bool HasConfig(size_t lineage) const;

  absl::Time at() const { return at_; }

 private:
  FeatureExtractor(const FleetState& state, absl::Time at);
  void ExtractDiagnosisAndPersistence(size_t lineage, double next_days, float* out) const;
  const FleetState* state_;
  absl::Time at_;
  double at_days_;
  int64_t last_day_;  // the last whole or partial day before `at` (for "k of the last n days")
  std::vector<uint32_t> host_in_episode_, ca_in_episode_, ca_lineages_;
  std::vector<uint32_t> ns_in_episode_, ns_lineages_, ns_probe_failed_;
  std::vector<uint8_t> lineage_probe_failed_;  // the configured challenge's probe failed on last_day_
  std::vector<uint32_t> lineage_ns_group_;
};

// A sentence a person can act on, saying what feature `feature` with value `value` means for the
// lineage, e.g. "HTTP-01 probe of shop.example.com failed on 3 of the last 4 days". Empty when
// the value is unremarkable (missing).
std::string DescribeFeature(int feature, float value, const FleetState& state, size_t lineage);

}  // namespace certcast
