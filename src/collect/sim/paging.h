// Pages, tickets and incidents as people receive them in a closed loop, scored against the
// simulator's hidden truth (issue #15): how many pages pointed at a real cause, and how many pages
// per 1,000 lineage-weeks. The one place this is computed: RunClosedLoop fills Metrics::paging
// with it, and `certcast simulate`, `certcast demo` and bench/plan_closed_loop print that.
//
// Contract: pure (no clock, no I/O); `ScorePaging` depends only on its arguments.
//
// "A real cause" (TruthIndex::RealCause) is the test bench/plan_closed_loop has used since issue
// #15 began, kept so figures stay comparable: at the notice's time an episode of that lineage is
// open, or a fault whose subject is the lineage itself or its host is active; and the lineage was
// not yet retired by its owner (a page about a lineage that no longer exists points at nothing).
// Faults scoped to a registered domain, an organisation or a CA count through the episode they
// open, and before it, while the truth records the lineage as doomed (GroundTruth::doomed: the
// fault is live, applies to the lineage's set-up and outlasts its next renewal, by the world's
// state at that instant; decided 2026-12-05, docs/decisions.md): a page then says which renewal
// will fail, and it will. A lineage whose client's rule renews after expiry is doomed too, with no
// fault (the cold-start `ExpiryImminent` page; decided 2026-12-05). A page at such a fault that heals before the renewal is due is not at a
// real cause (issue #15's provider outages). Every test reads the truth only, never the policy's
// output.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/time/time.h"

namespace certcast::sim {

struct GroundTruth;

enum class NoticeSeverity : uint8_t { kTicket, kPage };

// One notice a person received: a page or a ticket naming one or more lineages (an incident names
// every affected lineage; a policy without incidents sends one page per lineage alert).
struct Notice {
  absl::Time at;
  NoticeSeverity severity = NoticeSeverity::kPage;
  std::vector<std::string> certs;
};

// What a policy that groups its alerts reports over a run (sim::Policy::alert_log).
struct AlertLog {
  std::vector<Notice> notices;  // pages and tickets sent, in time order
  bool incidents = false;       // the policy groups alerts into incidents: the counts below are its
  int64_t incidents_opened = 0, incidents_resolved = 0;
  // Lineage-plans kept from people: a lineage alerting at a plan, classified watch or info.
  int64_t lineage_plans_watched = 0, lineage_plans_info = 0;
};

struct PagingMetrics {
  int64_t pages = 0, pages_real = 0, tickets = 0, tickets_real = 0;
  bool incidents = false;  // false: the policy has no incidents (every page stands alone)
  int64_t incidents_opened = 0, incidents_resolved = 0;
  int64_t lineage_plans_watched = 0, lineage_plans_info = 0;
  double lineage_weeks = 0;  // lineages x days / 7 of the run
  // Pages at a real cause over pages; 0 without pages.
  double page_share_real() const { return pages ? double(pages_real) / double(pages) : 0; }
  double pages_per_kilo_lineage_weeks() const {
    return lineage_weeks > 0 ? double(pages) * 1000 / lineage_weeks : 0;
  }
};

// The truth indexed by lineage and by fault subject, for RealCause at many instants.
class TruthIndex {
 public:
  // `truth` must outlive the index.
  explicit TruthIndex(const GroundTruth& truth);
  // Whether a notice about `cert` at `at` pointed at a real cause (see the file comment).
  bool RealCause(std::string_view cert, absl::Time at) const;

 private:
  const GroundTruth& truth_;
  std::unordered_map<std::string, std::vector<size_t>> episodes_of_;  // cert -> episodes
  std::unordered_map<std::string, std::vector<size_t>> faults_of_;    // subject -> faults
  std::unordered_map<std::string, size_t> lineage_of_;                // cert -> lineages
  std::unordered_map<std::string, std::vector<size_t>> doomed_of_;    // cert -> doom records
};

// Scores a run's notices: a notice points at a real cause when any lineage it names has one.
// `lineage_weeks` is the run's lineages x days / 7.
PagingMetrics ScorePaging(const AlertLog& log, const GroundTruth& truth, double lineage_weeks);

}  // namespace certcast::sim
