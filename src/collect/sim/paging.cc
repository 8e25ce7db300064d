#include "collect/sim/paging.h"

#include "collect/sim/simulator.h"

namespace certcast::sim {

TruthIndex::TruthIndex(const GroundTruth& truth) : truth_(truth) {
  for (size_t i = 0; i < truth.episodes.size(); ++i) episodes_of_[truth.episodes[i].cert].push_back(i);
  for (size_t i = 0; i < truth.faults.size(); ++i) faults_of_[truth.faults[i].subject].push_back(i);
  for (size_t i = 0; i < truth.lineages.size(); ++i) lineage_of_.emplace(truth.lineages[i].cert, i);
  for (size_t i = 0; i < truth.doomed.size(); ++i) doomed_of_[truth.doomed[i].cert].push_back(i);
}

bool TruthIndex::RealCause(std::string_view cert_view, absl::Time at) const {
  const std::string cert(cert_view);
  std::string host;
  if (auto it = lineage_of_.find(cert); it != lineage_of_.end()) {
    const LineageRecord& lineage = truth_.lineages[it->second];
    // Retired at the instant the world applied the true alert its owner acted on: a notice at
    // that instant is that alert; after it, nothing is there.
    if (lineage.retired && *lineage.retired < at) return false;
    host = lineage.host;
  }
  if (auto it = episodes_of_.find(cert); it != episodes_of_.end()) {
    for (size_t i : it->second) {
      const Episode& e = truth_.episodes[i];
      if (e.onset <= at && (!e.end || *e.end > at)) return true;
    }
  }
  if (auto it = doomed_of_.find(cert); it != doomed_of_.end()) {
    for (size_t i : it->second) {
      const DoomRecord& d = truth_.doomed[i];
      if (d.from <= at && at <= d.to) return true;
    }
  }
  auto active_on = [&](const std::string& subject) {
    auto it = faults_of_.find(subject);
    if (it == faults_of_.end()) return false;
    for (size_t i : it->second) {
      const FaultRecord& f = truth_.faults[i];
      if (f.start <= at && (!f.end || *f.end > at)) return true;
    }
    return false;
  };
  return active_on(cert) || (!host.empty() && active_on(host));
}

PagingMetrics ScorePaging(const AlertLog& log, const GroundTruth& truth, double lineage_weeks) {
  const TruthIndex index(truth);
  PagingMetrics out;
  out.lineage_weeks = lineage_weeks;
  out.incidents = log.incidents;
  out.incidents_opened = log.incidents_opened;
  out.incidents_resolved = log.incidents_resolved;
  out.lineage_plans_watched = log.lineage_plans_watched;
  out.lineage_plans_info = log.lineage_plans_info;
  for (const Notice& notice : log.notices) {
    bool real = false;
    for (const std::string& cert : notice.certs) {
      if (index.RealCause(cert, notice.at)) {
        real = true;
        break;
      }
    }
    if (notice.severity == NoticeSeverity::kPage) {
      ++out.pages;
      out.pages_real += real ? 1 : 0;
    } else {
      ++out.tickets;
      out.tickets_real += real ? 1 : 0;
    }
  }
  return out;
}

}  // namespace certcast::sim
