#include "model/anomaly.h"

#include <algorithm>
#include <cmath>

#include "core/strings.h"
#include "nlohmann/json.hpp"

namespace certcast {

namespace {

constexpr float kMissingValue = -1e9f;
float Value(const float* row, int column) {
  const float v = row[column];
  return std::isnan(v) ? kMissingValue : v;
}

// Average path length of an unsuccessful BST search over n points: the normaliser c(n).
double AveragePath(double n) {
  if (n <= 1) return 0;
  if (n == 2) return 1;
  return 2.0 * (std::log(n - 1) + 0.5772156649) - 2.0 * (n - 1) / n;
}

}  // namespace

IsolationForest IsolationForest::Fit(std::span<const float> rows, size_t cols, std::span<const int> columns,
                                     const Options& options) {
  IsolationForest forest;
  forest.columns_.assign(columns.begin(), columns.end());
  const size_t n = cols == 0 ? 0 : rows.size() / cols;
  if (n == 0 || columns.empty()) return forest;
  forest.sample_size_ = static_cast<int>(std::min<size_t>(options.sample_size, n));
  const int height_limit = static_cast<int>(std::ceil(std::log2(std::max(2, forest.sample_size_))));
  std::mt19937_64 rng(options.seed);
  std::vector<uint32_t> sample(forest.sample_size_);
  for (int t = 0; t < options.trees; ++t) {
    for (auto& s : sample) s = static_cast<uint32_t>(std::uniform_int_distribution<size_t>(0, n - 1)(rng));
    std::vector<Node> tree;
    // Iterative build: (node index, begin, end, depth) over `sample`.
    struct Work { int32_t node; size_t begin, end; int depth; };
    tree.push_back({});
    std::vector<Work> stack{{0, 0, sample.size(), 0}};
    while (!stack.empty()) {
      Work w = stack.back();
      stack.pop_back();
      const size_t size = w.end - w.begin;
      tree[w.node].size = static_cast<int32_t>(size);
      if (size <= 1 || w.depth >= height_limit) continue;
      // Pick a column with spread among the points here (a few tries, then give up: a leaf).
      for (int attempt = 0; attempt < 8; ++attempt) {
        const int column = forest.columns_[std::uniform_int_distribution<size_t>(0, forest.columns_.size() - 1)(rng)];
        float lo = INFINITY, hi = -INFINITY;
        for (size_t i = w.begin; i < w.end; ++i) {
          const float v = Value(&rows[sample[i] * cols], column);
          lo = std::min(lo, v);
          hi = std::max(hi, v);
        }
        if (!(hi > lo)) continue;
        float split = std::uniform_real_distribution<float>(lo, hi)(rng);
        if (lo == kMissingValue) {
          // Between "missing" and the finite values the uniform draw is meaningless; split there.
          float min_finite = INFINITY;
          for (size_t i = w.begin; i < w.end; ++i) {
            const float v = Value(&rows[sample[i] * cols], column);
            if (v != kMissingValue) min_finite = std::min(min_finite, v);
          }
          if (std::uniform_int_distribution<int>(0, 1)(rng) == 0) split = (kMissingValue + min_finite) / 2;
          else split = std::uniform_real_distribution<float>(min_finite, hi)(rng);
          if (!(split < hi)) split = (kMissingValue + min_finite) / 2;
        }
        auto mid = std::partition(sample.begin() + w.begin, sample.begin() + w.end,
                                  [&](uint32_t r) { return Value(&rows[r * cols], column) < split; });
        const size_t m = mid - sample.begin();
        if (m == w.begin || m == w.end) continue;
        const int32_t left = static_cast<int32_t>(tree.size());
        tree.push_back({});
        tree.push_back({});
        tree[w.node].column = column;
        tree[w.node].split = split;
        tree[w.node].left = left;
        tree[w.node].right = left + 1;
        stack.push_back({left, w.begin, m, w.depth + 1});
        stack.push_back({left + 1, m, w.end, w.depth + 1});
        break;
      }
    }
    forest.trees_.push_back(std::move(tree));
  }
  return forest;
}

double IsolationForest::PathLength(const std::vector<Node>& tree, const float* row) const {
  int32_t node = 0;
  int depth = 0;
  while (tree[node].column >= 0) {
    node = Value(row, tree[node].column) < tree[node].split ? tree[node].left : tree[node].right;
    ++depth;
  }
  return depth + AveragePath(tree[node].size);
}

double IsolationForest::Score(const float* row) const {
  if (trees_.empty()) return 0;
  double total = 0;
  for (const auto& tree : trees_) total += PathLength(tree, row);
  return std::pow(2.0, -(total / trees_.size()) / AveragePath(sample_size_));
}

std::string IsolationForest::ToJson() const {
  nlohmann::json j;
  j["columns"] = columns_;
  j["sample_size"] = sample_size_;
  nlohmann::json trees = nlohmann::json::array();
  for (const auto& tree : trees_) {
    nlohmann::json t = nlohmann::json::array();
    for (const Node& n : tree) t.push_back({n.column, n.split, n.left, n.right, n.size});
    trees.push_back(std::move(t));
  }
  j["trees"] = std::move(trees);
  return j.dump();
}

StatusOr<IsolationForest> IsolationForest::FromJson(std::string_view text, size_t width) {
  IsolationForest forest;
  try {
    auto j = nlohmann::json::parse(text);
    forest.columns_ = j.at("columns").get<std::vector<int>>();
    forest.sample_size_ = j.at("sample_size").get<int>();
    for (const auto& t : j.at("trees")) {
      std::vector<Node> tree;
      for (const auto& n : t) {
        tree.push_back({n.at(0).get<int32_t>(), n.at(1).get<float>(), n.at(2).get<int32_t>(),
                        n.at(3).get<int32_t>(), n.at(4).get<int32_t>()});
      }
      const int32_t size = static_cast<int32_t>(tree.size());
      for (const Node& n : tree) {
        if (n.column >= static_cast<int32_t>(width)) return DataLossError("anomaly model: column out of range");
        if (n.column >= 0 && (n.left <= 0 || n.left >= size || n.right <= 0 || n.right >= size)) {
          return DataLossError("anomaly model: a tree node points outside its tree");
        }
      }
      if (tree.empty()) return DataLossError("anomaly model: empty tree");
      forest.trees_.push_back(std::move(tree));
    }
  } catch (const std::exception& e) {
    return DataLossError(StrCat("anomaly model: ", e.what()));
  }
  return forest;
}

}  // namespace certcast
