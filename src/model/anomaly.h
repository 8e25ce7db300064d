// Isolation forest (Liu, Ting, Zhou 2008) over telemetry features: how unlike anything in the
// training history a lineage's current telemetry is. No Debian C/C++ library offers one, and it is
// small (about 150 lines; docs/forecast.md). Scores are 2^(-E[h(x)]/c(psi)) in (0, 1]; ~0.5 is ordinary, near 1 is rare.
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
  // Scores `count` rows `stride` floats apart into out[0..count): the same values as Score, faster
  // (several rows walk each tree together, without branches).
  void ScoreRows(const float* rows, size_t count, size_t stride, double* out) const;

  // Limits FromJson enforces. Fit makes trees of at most 2 * sample_size - 1 nodes and depth
  // ceil(log2(sample_size)) (8 for the default 256).
  static constexpr int kMaxTrees = 10'000;
  static constexpr int kMaxSampleSize = 1 << 20;
  static constexpr int kMaxDepth = 64;

  std::string ToJson() const;
  // `width`: row width of the matrices it will score. DataLoss, naming the tree and node, unless
  // every tree is a tree: each node but the root has exactly one parent, a split node's children
  // are later adjacent nodes (left, left + 1) and a leaf has none (-1, -1), split columns are in
  // [0, width) and a leaf's column is -1, no leaf is deeper than kMaxDepth, a tree has at most
  // 2 * sample_size - 1 nodes, and sizes and splits are finite numbers in range. Without this a
  // file whose nodes are shared between parents made scoring walk exponentially many paths.
  static StatusOr<IsolationForest> FromJson(std::string_view json, size_t width);
  bool empty() const { return trees_.empty(); }

 private:
  struct Node {
    int32_t column = -1;  // -1: leaf
    float split = 0;
    int32_t left = -1, right = -1;
    int32_t size = 0;  // leaf: training points that ended here
  };
  // Scoring walks flat copies of the trees. Training scores every cert-day with this, and it was
  // most of training's own (non-XGBoost) time: a walk is a chain of unpredictable branches. So the
  // walk is branchless (next = left + (value >= split); the right child is always left + 1), a
  // leaf points at itself with a NaN split so that every walk can take the same number of steps,
  // several rows walk a tree together, and a leaf's whole path length (depth + c(size)) is
  // precomputed (no logarithm per tree and row).
  // The walk reads a block of rows' values of the columns the trees split on, transposed
  // ([column][row], kBlock rows) with NaN already mapped: one small contiguous array instead of
  // a strided row read and a NaN test at every step.
  static constexpr size_t kBlock = 16;
  struct FlatNode {
    int32_t value;  // offset of the split column in the transposed block (column position * kBlock); a leaf: 0
    float split;    // NaN for a leaf: `value >= NaN` is false
    int32_t left;   // index into flat_; the right child is left + 1; a leaf: itself
  };
  void Flatten();
  std::vector<std::vector<Node>> trees_;  // as fitted and stored in the model file
  std::vector<FlatNode> flat_;
  std::vector<double> leaf_path_;  // by flat_ index (double: scores stay bit-identical)
  std::vector<int32_t> roots_;
  std::vector<int32_t> split_columns_;  // row columns the trees split on, in transposed-block order
  int depth_ = 0;          // deepest leaf: steps every walk takes
  double normaliser_ = 1;  // c(sample_size)
  std::vector<int> columns_;
  int sample_size_ = 256;
};

// Per-column tail surprise: how rare, one-sided, each telemetry value is among the training
// cert-days, as -log10 of its empirical tail probability (p = share of training rows at least as
// extreme in the harmful direction, (count + 1) / (n + 1)); the score is the largest over the
// columns. The isolation forest averages over 100 random trees of many columns and dilutes one
// extreme column (a host's disk at 0 % free scored 0.44, "ordinary"); this keeps it. Ranks, not
// z-scores: most telemetry columns are 0 on nearly every row, where a median/MAD scale is 0.
class TailSurprise {
 public:
  struct Column {
    int column;
    int direction;  // +1: high values are harmful, -1: low values are
  };
  // Keeps a sorted sample of at most `sample_size` finite values per column from the rows.
  static TailSurprise Fit(std::span<const float> rows, size_t cols, std::span<const Column> columns,
                          size_t sample_size, uint64_t seed);
  // Largest -log10 p over the columns (0 when nothing is unusual or every value is missing), and
  // which column gave it (-1 if none).
  double Score(const float* row, int* which = nullptr) const;
  // -log10 p of one column's value (0 when missing or not a fitted column).
  double ColumnScore(int column, float value) const;

  std::string ToJson() const;
  // DataLoss unless every column is in [0, width), its direction 1 or -1 and its values finite
  // floats in ascending order.
  static StatusOr<TailSurprise> FromJson(std::string_view json, size_t width);
  bool empty() const { return columns_.empty(); }

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<float>> sorted_;  // per column, ascending
};

}  // namespace certcast
