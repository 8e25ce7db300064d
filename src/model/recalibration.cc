#include "model/recalibration.h"

#include <algorithm>
#include <cmath>

namespace certcast {

namespace {

double Logit(double p) {
  p = std::clamp(p, 1e-6, 1 - 1e-6);
  return std::log(p / (1 - p));
}

double Sigmoid(double z) { return 1 / (1 + std::exp(-z)); }

}  // namespace

void OutcomeRecalibration::Add(double risk, bool outcome) {
  if (!std::isfinite(risk)) return;
  const int bin = std::clamp(static_cast<int>(std::floor((Logit(risk) - kLogitMin) / kBinWidth)), 0, kBins - 1);
  count_[bin] += 1;
  if (outcome) positive_[bin] += 1;
  ++observations_;
  positives_ += outcome;
}

void OutcomeRecalibration::Refit() {
  if (observations_ == 0) return;
  // Newton's method on the penalised log-likelihood
  //   sum_bins [k log s(a z + b) + (n - k) log(1 - s(a z + b))] - lambda/2 ((a - 1)^2 + b^2),
  // z the bin's centre. Concave, so Newton from the last fit converges in a few steps.
  double a = a_, b = b_;
  for (int step = 0; step < 25; ++step) {
    double ga = -prior_strength_ * (a - 1), gb = -prior_strength_ * b;
    double haa = prior_strength_, hab = 0, hbb = prior_strength_;  // negated Hessian
    for (int i = 0; i < kBins; ++i) {
      if (count_[i] == 0) continue;
      const double z = kLogitMin + (i + 0.5) * kBinWidth;
      const double p = Sigmoid(a * z + b);
      const double residual = positive_[i] - count_[i] * p;
      const double w = count_[i] * p * (1 - p);
      ga += residual * z;
      gb += residual;
      haa += w * z * z;
      hab += w * z;
      hbb += w;
    }
    const double det = haa * hbb - hab * hab;
    if (!(det > 0)) break;
    const double da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
    a += da;
    b += db;
    if (std::abs(da) < 1e-9 && std::abs(db) < 1e-9) break;
  }
  // A slope at or below 0 would reverse or erase the model's ranking: no amount of drift says the
  // riskiest lineages became the safest.
  if (std::isfinite(a) && std::isfinite(b)) {
    a_ = std::clamp(a, 0.05, 5.0);
    b_ = std::clamp(b, -20.0, 20.0);
  }
}

double OutcomeRecalibration::Apply(double risk) const {
  if (observations_ == 0 || !std::isfinite(risk)) return risk;
  return Sigmoid(a_ * Logit(risk) + b_);
}

}  // namespace certcast
