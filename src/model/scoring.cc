#include "model/scoring.h"

#include <algorithm>

#include "features/accumulators.h"
#include "model/model.h"

namespace certcast {

void FillDetectorColumns(const IsolationForest& forest, const TailSurprise& tail, float* x, size_t rows, int threads) {
  ParallelChunks(rows, threads, [&](size_t b, size_t e) {
    constexpr size_t kBatch = 256;
    double scores[kBatch];
    for (size_t i = b; i < e; i += kBatch) {
      const size_t n = std::min(kBatch, e - i);
      forest.ScoreRows(x + i * kModelWidth, n, kModelWidth, scores);
      for (size_t r = 0; r < n; ++r) {
        float* row = x + (i + r) * kModelWidth;
        row[kAnomalyColumn] = forest.empty() ? kMissing : static_cast<float>(scores[r]);
        row[kTailColumn] = tail.empty() ? kMissing : static_cast<float>(tail.Score(row));
      }
    }
  });
}

std::vector<float> ExtractModelRows(const FeatureExtractor& fx, const std::vector<size_t>& lineages, int threads) {
  std::vector<float> x(lineages.size() * kModelWidth);
  ParallelChunks(lineages.size(), threads, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      fx.Extract(lineages[i], &x[i * kModelWidth]);
      x[i * kModelWidth + kAnomalyColumn] = kMissing;
      x[i * kModelWidth + kTailColumn] = kMissing;
    }
  });
  return x;
}

std::vector<float> AttemptRows(const float* x, size_t rows) {
  std::vector<float> out(rows * kAttemptWidth);
  for (size_t i = 0; i < rows; ++i) AttemptRowFromFeatures(x + i * kModelWidth, false, &out[i * kAttemptWidth]);
  return out;
}

}  // namespace certcast
