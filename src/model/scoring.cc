#include "model/scoring.h"

#include "features/accumulators.h"
#include "model/model.h"

namespace certcast {

void FillAnomalyColumn(const IsolationForest& forest, float* x, size_t rows, int threads) {
  ParallelChunks(rows, threads, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      x[i * kModelWidth + kAnomalyColumn] = forest.empty() ? kMissing : static_cast<float>(forest.Score(x + i * kModelWidth));
    }
  });
}

std::vector<float> ExtractModelRows(const FeatureExtractor& fx, const std::vector<size_t>& lineages, int threads) {
  std::vector<float> x(lineages.size() * kModelWidth);
  ParallelChunks(lineages.size(), threads, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      fx.Extract(lineages[i], &x[i * kModelWidth]);
      x[i * kModelWidth + kAnomalyColumn] = kMissing;
    }
  });
  return x;
}

}  // namespace certcast
