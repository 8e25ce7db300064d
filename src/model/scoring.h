// Scoring helpers shared by training (validation), the forecaster and the benchmark.
#pragma once

#include <cstddef>
#include <vector>

#include "features/features.h"
#include "model/anomaly.h"

namespace certcast {

// Fills columns kAnomalyColumn and kTailColumn of a rows x kModelWidth matrix with the detectors'
// scores.
void FillDetectorColumns(const IsolationForest& forest, const TailSurprise& tail, float* x, size_t rows, int threads);

// Model matrix (rows x kModelWidth) for `lineages`, features from `fx`, detector columns NaN.
// Splits the work over `threads` (0 = hardware concurrency).
std::vector<float> ExtractModelRows(const FeatureExtractor& fx, const std::vector<size_t>& lineages, int threads);

// Attempt-model rows (rows x kAttemptWidth, model.h) for day rows of a rows x kModelWidth
// matrix: each asks about the lineage's next real attempt (dry-run column 0).
std::vector<float> AttemptRows(const float* x, size_t rows);

// Runs fn(begin, end) over [0, n) split into `threads` contiguous chunks.
template <typename Fn>
void ParallelChunks(size_t n, int threads, Fn fn);

}  // namespace certcast

#include <algorithm>
#include <thread>

namespace certcast {
template <typename Fn>
void ParallelChunks(size_t n, int threads, Fn fn) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (threads == 1 || n < 4096) {
    fn(size_t{0}, n);
    return;
  }
  std::vector<std::thread> pool;
  const size_t chunk = (n + threads - 1) / threads;
  for (int t = 0; t < threads; ++t) {
    const size_t b = t * chunk, e = std::min(n, b + chunk);
    if (b >= e) break;
    pool.emplace_back([&fn, b, e] { fn(b, e); });
  }
  for (auto& th : pool) th.join();
}
}  // namespace certcast
