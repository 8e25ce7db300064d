// Baseline policies for the closed loop: what people do today without a forecaster. They see
// only events, like any Policy, except the oracle (the ceiling), which sees the truth.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "collect/sim/simulator.h"
#include "core/strings.h"

namespace certcast::sim {
namespace {

class NonePolicy final : public Policy {
 public:
  std::string name() const override { return "none"; }
  std::vector<PlannedAction> Decide(absl::Time, std::span<const Event>) override { return {}; }
};

// Alerts when a (non-dry-run) renewal failed, once per failure streak: a person gets one alert
// per lineage until a success resets it, then may be alerted again.
class AlertOnFailurePolicy final : public Policy {
 public:
  std::string name() const override { return "alert-on-failure"; }
  std::vector<PlannedAction> Decide(absl::Time, std::span<const Event> events) override {
    std::vector<PlannedAction> out;
    for (const Event& e : events) {
      const auto* r = e.As<RenewalEvent>();
      if (!r || r->dry_run) continue;
      bool& alerted = alerted_[r->cert];
      if (r->outcome == Outcome::kSuccess) {
        alerted = false;
        continue;
      }
      if (alerted) continue;
      alerted = true;
      PlannedAction a;
      a.cert = r->cert;
      a.kind = ActionKind::kAlert;
      a.reason = StrCat("renewal failed: ", r->error.value_or("unknown"));
      a.risk = 1;
      out.push_back(std::move(a));
    }
    return out;
  }

 private:
  absl::flat_hash_map<std::string, bool> alerted_;
};

// Alerts when a probed certificate has fewer than N days left, once per certificate (not_after).
class ExpiryAlertPolicy final : public Policy {
 public:
  explicit ExpiryAlertPolicy(int days) : days_(days) {}
  std::string name() const override { return StrCat("expiry-alert:", days_); }
  std::vector<PlannedAction> Decide(absl::Time day_end, std::span<const Event> events) override {
    std::vector<PlannedAction> out;
    for (const Event& e : events) {
      const auto* p = e.As<TlsProbeEvent>();
      if (!p || !p->cert || !p->not_after) continue;
      if (*p->not_after - day_end > absl::Hours(24 * days_)) continue;
      absl::Time& last = alerted_[*p->cert];
      if (last == *p->not_after) continue;
      last = *p->not_after;
      PlannedAction a;
      a.cert = *p->cert;
      a.kind = ActionKind::kAlert;
      a.reason = StrCat("certificate served on ", p->endpoint, " expires in less than ", days_,
                        " days");
      a.risk = 1;
      out.push_back(std::move(a));
    }
    return out;
  }

 private:
  int days_;
  absl::flat_hash_map<std::string, absl::Time> alerted_;
};

// The ceiling (issue #15): knows every fault through the world's Oracle and pages exactly when a
// live fault will make a lineage's next renewal fail, once per lineage and fault. A day's pages
// for one fault are one notice naming its lineages, as an incident would be. A lineage whose
// client's rule renews after expiry (no fault) gets a page of its own: its cause is its own set-up.
class OraclePolicy final : public Policy {
 public:
  std::string name() const override { return "oracle"; }
  void AttachOracle(const Oracle* oracle) override { oracle_ = oracle; }
  const AlertLog* alert_log() const override { return &log_; }
  std::vector<PlannedAction> Decide(absl::Time day_end, std::span<const Event>) override {
    std::vector<PlannedAction> out;
    if (!oracle_) return out;
    std::map<int64_t, size_t> notice_of_fault;  // today's notice per fault
    for (Oracle::Doomed& d : oracle_->DoomedRenewals(day_end)) {
      if (!paged_.insert({d.cert, d.fault}).second) continue;
      if (d.fault < 0) {
        log_.notices.push_back({day_end, NoticeSeverity::kPage, {d.cert}});
      } else {
        auto [it, added] = notice_of_fault.emplace(d.fault, log_.notices.size());
        if (added) log_.notices.push_back({day_end, NoticeSeverity::kPage, {}});
        log_.notices[it->second].certs.push_back(d.cert);
      }
      PlannedAction a;
      a.cert = std::move(d.cert);
      a.kind = ActionKind::kAlert;
      a.reason = d.fault < 0 ? std::string("oracle: the client's rule renews after expiry")
                             : StrCat("oracle: fault ", d.fault, " will make the next renewal fail");
      a.risk = 1;
      out.push_back(std::move(a));
    }
    return out;
  }

 private:
  const Oracle* oracle_ = nullptr;
  std::set<std::pair<std::string, int64_t>> paged_;
  AlertLog log_;
};

}  // namespace

StatusOr<std::unique_ptr<Policy>> MakeBaselinePolicy(std::string_view name, int expiry_days) {
  if (name == "none") return std::unique_ptr<Policy>(new NonePolicy());
  if (name == "alert-on-failure") return std::unique_ptr<Policy>(new AlertOnFailurePolicy());
  if (name == "expiry-alert") {
    if (expiry_days < 1 || expiry_days > 365) {
      return InvalidArgumentError("expiry-alert days must be 1..365");
    }
    return std::unique_ptr<Policy>(new ExpiryAlertPolicy(expiry_days));
  }
  if (name == "oracle") return std::unique_ptr<Policy>(new OraclePolicy());
  return InvalidArgumentError(
      StrCat("unknown policy \"", name, "\" (none, alert-on-failure, expiry-alert, oracle)"));
}

}  // namespace certcast::sim
