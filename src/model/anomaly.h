// Isolation forest (Liu, Ting, Zhou 2008) over telemetry features: how unlike anything in the
// training history a lineage's current telemetry is. No Debian C/C++ library offers one, and it is
// small (design.md). Scores are 2^(-E[h(x)]/c(psi)) in (0, 1]; ~0.5 is ordinary, near 1 is rare.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"

namespace certcast {

class IsolationForest {
 public:
  struct Options {
    int trees = 100;
    int sample_size = 256;  // psi in the paper: small samples isolate anomalies best
    uint64_t seed = 1;
  };
  // Fits on the rows of a row-major matrix (`cols` wide), using only `columns`. NaN is mapped to
  // a value below every finite one, so "missing" is its own region rather than an anomaly.
  static IsolationForest Fit(std::span<const float> rows, size_t cols, std::span<const int> columns,
                             const Options& options);
  double Score(const float* row) const;

  std::string ToJson() const;
  // `width`: row width of the matrices it will score; columns outside it are refused.
  static StatusOr<IsolationForest> FromJson(std::string_view json, size_t width);
  bool empty() const { return trees_.empty(); }

 private:
  struct Node {
    int32_t column = -1;  // -1: leaf
    float split = 0;
    int32_t left = -1, right = -1;
    int32_t size = 0;  // leaf: training points that ended here
  };
  double PathLength(const std::vector<Node>& tree, const float* row) const;
  std::vector<std::vector<Node>> trees_;
  std::vector<int> columns_;
  int sample_size_ = 256;
};

}  // namespace certcast
