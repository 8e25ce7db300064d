#include "alert/from_plan.h"

#include <map>

#include "core/strings.h"
#include "features/domains.h"

namespace certcast::alert {
namespace {

AlertCandidate Make(const std::string& cert, std::string_view reason, const std::string& message,
                    const policy::Diagnosis& d, const policy::LineageView* view) {
  AlertCandidate c;
  c.cert = cert;
  c.reason = std::string(reason);
  c.message = message;
  c.cause = d.cause == policy::Cause::kNone ? c.reason : std::string(::certcast::ToString(d.cause));
  // Only a forecast of a failure (PredictedFailure, HazardAhead) can be a look-alike; the other
  // alert reasons are facts about this renewal (it failed, the certificate expires, the rule
  // renews too late, the reload did not take, the switch did not hold, the budget is spent).
  const bool predicted =
      reason == policy::kReasonPredictedFailure || reason == policy::kReasonHazardAhead;
  c.confirmed = d.confidence == policy::Confidence::kConfirmed || !predicted;
  c.hard_fact = d.hard_fact;
  // Reports a person settles in working hours, capped at ticket: the client's renew rule, and a
  // lineage no longer observed on its host (removed, most likely).
  c.config_report = reason == policy::kReasonRenewRuleTooLate ||
                    reason == policy::kReasonLineageNotObserved;
  c.transient = d.transient;
  std::string host, ca, domain;
  if (view) {
    host = view->config.host;
    ca = view->config.ca;
    if (!view->config.names.empty()) domain = ::certcast::RegisteredDomain(view->config.names.front());
    if (view->current) c.expiry = view->current->not_after;
    c.renewal_due = policy::ClientRenewalDue(*view);
  }
  c.host = host;
  c.cause_key = CauseKey(::certcast::ToString(d.cause), d.scope, cert, host, ca, domain);
  if (d.cause == policy::Cause::kNone) c.cause_key = StrCat("lineage:", cert);
  // A lineage no longer observed is about itself, whatever trouble its domain had before it went
  // quiet: it must not join (and be paged with) an incident of lineages still there.
  if (reason == policy::kReasonLineageNotObserved) {
    c.cause = c.reason;
    c.cause_key = StrCat("lineage:", cert);
  }
  // What a label silence can match (`--label client=lego`): the lineage's own facts.
  c.labels = {{"cert", c.cert}, {"host", c.host}, {"cause", c.cause},
              {"cause_key", c.cause_key}, {"reason", c.reason}};
  if (view) {
    c.labels["client"] = std::string(::certcast::ToString(view->config.client));
    c.labels["ca"] = ca;
    c.labels["challenge"] = std::string(::certcast::ToString(view->config.challenge));
  }
  return c;
}

}  // namespace

std::vector<AlertCandidate> CandidatesFromPlan(const policy::PlanResult& plan,
                                               const std::vector<policy::LineageView>& views) {
  std::map<std::string_view, const policy::LineageView*> by_cert;
  for (const policy::LineageView& v : views) by_cert[v.cert] = &v;
  auto view_of = [&](const std::string& cert) -> const policy::LineageView* {
    auto it = by_cert.find(cert);
    return it == by_cert.end() ? nullptr : it->second;
  };
  std::vector<AlertCandidate> out;
  for (const policy::PlannedItem& item : plan.items) {
    if (item.action.kind != ActionKind::kAlert) continue;
    out.push_back(Make(item.action.cert, item.reason, item.action.reason, item.diagnosis,
                       view_of(item.action.cert)));
  }
  for (const policy::HeldItem& h : plan.held) {
    if (h.held.proposal.kind != ActionKind::kAlert || h.held.why != policy::kHeldAlreadyDone) {
      continue;
    }
    out.push_back(Make(h.cert, h.held.proposal.reason, h.held.proposal.message, h.diagnosis,
                       view_of(h.cert)));
  }
  return out;
}

}  // namespace certcast::alert
