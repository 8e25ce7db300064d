// Recalibration from observed outcomes as they arrive (issue #14, "calibrated on arrival").
//
// A model's calibration is fitted on its training history's validation slice; on a fleet whose
// base rate or mix drifts after training, the probabilities drift with it (on fleets built
// independently of this project the Brier score was no better than the base rate's). Once a
// forecast's horizon has passed, its outcome is known: this fits p' = sigmoid(a * logit(p) + b)
// to those outcomes by maximum likelihood with a Gaussian prior centred on the identity
// (a = 1, b = 0), so that a few outcomes move the map a little and many move it as far as they
// say.
//
// Contract: the caller adds only forecasts whose outcome was observable before the time the
// recalibrated forecasts are for (a forecast for day D' with horizon H may be added at D only
// when D' + H < D). Memory is constant: forecasts are counted in bins of logit(p).
// Not thread-safe; cheap to copy.
#pragma once

#include <array>
#include <cstdint>

namespace certcast {

class OutcomeRecalibration {
 public:
  // `prior_strength`: the prior's precision on a and b, in units of the log-likelihood's
  // curvature (about the number of positive outcomes the prior weighs as much as).
  explicit OutcomeRecalibration(double prior_strength = 20) : prior_strength_(prior_strength) {}

  // One forecast `risk` (a probability; clamped into [1e-6, 1 - 1e-6]) and its outcome.
  void Add(double risk, bool outcome);
  // Refits a and b on everything added so far (a few Newton steps over the bins).
  void Refit();
  // The recalibrated probability; the identity until the first Refit with data.
  double Apply(double risk) const;

  double slope() const { return a_; }
  double intercept() const { return b_; }
  int64_t observations() const { return observations_; }
  int64_t positives() const { return positives_; }

 private:
  static constexpr int kBins = 480;          // logit(p) in [-12, 12), 0.05 wide
  static constexpr double kLogitMin = -12, kBinWidth = 0.05;
  double prior_strength_;
  std::array<double, kBins> count_{}, positive_{};
  int64_t observations_ = 0, positives_ = 0;
  double a_ = 1, b_ = 0;
};

}  // namespace certcast
