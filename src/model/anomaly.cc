#include "model/anomaly.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/json_checked.h"
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
  forest.Flatten();
  return forest;
}

void IsolationForest::Flatten() {
  flat_.clear();
  leaf_path_.clear();
  roots_.clear();
  split_columns_.clear();
  depth_ = 0;
  auto offset_of = [&](int32_t column) {
    auto it = std::find(split_columns_.begin(), split_columns_.end(), column);
    if (it == split_columns_.end()) it = split_columns_.insert(it, column);
    return static_cast<int32_t>((it - split_columns_.begin()) * kBlock);
  };
  for (const auto& tree : trees_) {
    const int32_t base = static_cast<int32_t>(flat_.size());
    roots_.push_back(base);
    flat_.resize(flat_.size() + tree.size());
    leaf_path_.resize(flat_.size());
    // Depth-first from the root, so each leaf learns its depth.
    std::vector<std::pair<int32_t, int>> stack{{0, 0}};
    while (!stack.empty()) {
      const auto [node, depth] = stack.back();
      stack.pop_back();
      const Node& n = tree[node];
      if (n.column < 0) {
        flat_[base + node] = {0, std::numeric_limits<float>::quiet_NaN(), base + node};
        leaf_path_[base + node] = depth + AveragePath(n.size);
        depth_ = std::max(depth_, depth);
        continue;
      }
      flat_[base + node] = {offset_of(n.column), n.split, base + n.left};
      stack.push_back({n.left, depth + 1});
      stack.push_back({n.right, depth + 1});
    }
  }
  normaliser_ = AveragePath(sample_size_);
  if (!(normaliser_ > 0)) normaliser_ = 1;
}

void IsolationForest::ScoreRows(const float* rows, size_t count, size_t stride, double* out) const {
  // At least one column so that a leaf's offset 0 is inside the block (a forest of single-leaf
  // trees splits on nothing).
  std::vector<float> values(std::max<size_t>(1, split_columns_.size()) * kBlock, 0.0f);
  for (size_t begin = 0; begin < count; begin += kBlock) {
    const size_t n = std::min(kBlock, count - begin);
    const float* block = rows + begin * stride;
    if (roots_.empty()) {
      for (size_t r = 0; r < n; ++r) out[begin + r] = 0;
      continue;
    }
    for (size_t c = 0; c < split_columns_.size(); ++c) {
      for (size_t r = 0; r < n; ++r) values[c * kBlock + r] = Value(block + r * stride, split_columns_[c]);
    }
    double total[kBlock] = {};
    int32_t node[kBlock];
    for (int32_t root : roots_) {
      for (size_t r = 0; r < n; ++r) node[r] = root;
      for (int step = 0; step < depth_; ++step) {
        for (size_t r = 0; r < n; ++r) {
          const FlatNode& f = flat_[node[r]];
          // Same comparison as `value < split ? left : right`, NaN values mapped as in Fit.
          node[r] = f.left + static_cast<int32_t>(values[f.value + r] >= f.split);
        }
      }
      for (size_t r = 0; r < n; ++r) total[r] += leaf_path_[node[r]];
    }
    for (size_t r = 0; r < n; ++r) out[begin + r] = std::pow(2.0, -(total[r] / roots_.size()) / normaliser_);
  }
}

double IsolationForest::Score(const float* row) const {
  double score = 0;
  ScoreRows(row, 1, 0, &score);
  return score;
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
  using json_checked::Integer;
  IsolationForest forest;
  const int64_t last_column = static_cast<int64_t>(width) - 1;
  try {
    const nlohmann::json j = json_checked::Parse(text);
    for (const auto& c : j.at("columns")) {
      forest.columns_.push_back(static_cast<int>(Integer(c, 0, last_column, "anomaly model: a column")));
    }
    forest.sample_size_ = static_cast<int>(Integer(j.at("sample_size"), 1, kMaxSampleSize, "anomaly model: sample_size"));
    const nlohmann::json& trees = j.at("trees");
    if (!trees.is_array()) return DataLossError("anomaly model: trees is not a list");
    if (trees.size() > static_cast<size_t>(kMaxTrees)) {
      return DataLossError(StrCat("anomaly model: ", trees.size(), " trees, more than the limit of ", kMaxTrees));
    }
    const size_t max_nodes = 2 * static_cast<size_t>(forest.sample_size_) - 1;
    for (size_t t = 0; t < trees.size(); ++t) {
      const nlohmann::json& nodes = trees[t];
      const std::string where = StrCat("tree ", t);
      if (!nodes.is_array() || nodes.empty()) return DataLossError(StrCat("anomaly model: ", where, " is not a non-empty list of nodes"));
      if (nodes.size() > max_nodes) {
        return DataLossError(StrCat("anomaly model: ", where, " has ", nodes.size(), " nodes, more than 2 * sample_size - 1 = ", max_nodes));
      }
      const int32_t size = static_cast<int32_t>(nodes.size());
      std::vector<Node> tree;
      tree.reserve(nodes.size());
      // Children come after their parent, so one pass in index order sees every parent before its
      // children: it assigns each node its one parent and its depth.
      std::vector<int32_t> parent(nodes.size(), -1);
      std::vector<int> depth(nodes.size(), 0);
      for (int32_t i = 0; i < size; ++i) {
        const nlohmann::json& n = nodes[i];
        const std::string at = StrCat(where, " node ", i);
        if (!n.is_array() || n.size() != 5) return DataLossError(StrCat("anomaly model: ", at, " is not [column, split, left, right, size]"));
        Node node;
        node.column = static_cast<int32_t>(Integer(n[0], -1, last_column, StrCat(at, ": column")));
        node.split = json_checked::FiniteFloat(n[1], StrCat(at, ": split"));
        node.left = static_cast<int32_t>(Integer(n[2], -1, size - 1, StrCat(at, ": left child")));
        node.right = static_cast<int32_t>(Integer(n[3], -1, size - 1, StrCat(at, ": right child")));
        node.size = static_cast<int32_t>(Integer(n[4], 0, forest.sample_size_, StrCat(at, ": size")));
        if (i > 0 && parent[i] < 0) return DataLossError(StrCat("anomaly model: ", at, " has no parent"));
        if (node.column < 0) {
          if (node.left != -1 || node.right != -1) return DataLossError(StrCat("anomaly model: ", at, " is a leaf with children"));
        } else {
          // Children after their parent also rules out cycles, which would make scoring loop.
          if (node.left <= i || node.right <= i) return DataLossError(StrCat("anomaly model: ", at, " has a child that is not after it"));
          if (node.right != node.left + 1) return DataLossError(StrCat("anomaly model: ", at, "'s children are not adjacent"));
          for (int32_t child : {node.left, node.right}) {
            if (parent[child] >= 0) {
              return DataLossError(StrCat("anomaly model: ", at, " shares its child ", child, " with node ", parent[child]));
            }
            parent[child] = i;
            depth[child] = depth[i] + 1;
            if (depth[child] > kMaxDepth) {
              return DataLossError(StrCat("anomaly model: ", where, " is deeper than the limit of ", kMaxDepth));
            }
          }
        }
        tree.push_back(node);
      }
      forest.trees_.push_back(std::move(tree));
    }
  } catch (const std::exception& e) {
    return DataLossError(StrCat("anomaly model: ", e.what()));
  }
  forest.Flatten();
  return forest;
}

// ---------------------------------------------------------------------------------------------
TailSurprise TailSurprise::Fit(std::span<const float> rows, size_t cols, std::span<const Column> columns,
                               size_t sample_size, uint64_t seed) {
  TailSurprise tail;
  const size_t n = cols == 0 ? 0 : rows.size() / cols;
  if (n == 0) return tail;
  // The same rows for every column (a sample without replacement when there are more).
  std::vector<size_t> pick(n);
  for (size_t i = 0; i < n; ++i) pick[i] = i;
  if (n > sample_size) {
    std::mt19937_64 rng(seed);
    std::shuffle(pick.begin(), pick.end(), rng);
    pick.resize(sample_size);
  }
  for (const Column& c : columns) {
    std::vector<float> values;
    for (size_t i : pick) {
      const float v = rows[i * cols + c.column];
      if (std::isfinite(v)) values.push_back(v);
    }
    std::sort(values.begin(), values.end());
    tail.columns_.push_back(c);
    tail.sorted_.push_back(std::move(values));
  }
  return tail;
}

namespace {

// Empirical tail probability of v, (count + 1) / (n + 1), or 1 when nothing says it is rare.
double TailProbability(const std::vector<float>& sorted, int direction, float v) {
  if (!std::isfinite(v)) return 1;  // missing says nothing
  const size_t n = sorted.size();
  // Most telemetry sits at its harmless end (0 failures, a full margin): every training row is
  // at least as extreme, p = 1. Checked first because it is most rows and skips the search.
  if (n == 0 || (direction > 0 ? v <= sorted.front() : v >= sorted.back())) return 1;
  // Rows at least as extreme as v in the harmful direction: n - (first index >= v) when high is
  // harmful, (first index > v) when low is. A branchless binary search (the comparison becomes a
  // conditional move): continuous columns search on every row, and a branchy search mispredicts
  // about half its steps.
  const float* base = sorted.data();
  size_t len = n;
  if (direction > 0) {
    while (len > 1) {
      const size_t half = len / 2;
      base = base[half] < v ? base + half : base;
      len -= half;
    }
    const size_t first_not_less = static_cast<size_t>(base - sorted.data()) + (*base < v ? 1 : 0);
    return (n - first_not_less + 1.0) / (n + 1.0);
  }
  while (len > 1) {
    const size_t half = len / 2;
    base = base[half] <= v ? base + half : base;
    len -= half;
  }
  const size_t first_greater = static_cast<size_t>(base - sorted.data()) + (*base <= v ? 1 : 0);
  return (first_greater + 1.0) / (n + 1.0);
}

}  // namespace

double TailSurprise::ColumnScore(int column, float value) const {
  for (size_t k = 0; k < columns_.size(); ++k) {
    if (columns_[k].column == column) return -std::log10(TailProbability(sorted_[k], columns_[k].direction, value));
  }
  return 0;
}

double TailSurprise::Score(const float* row, int* which) const {
  // The smallest p gives the largest -log10 p: one logarithm per row, not one per column.
  double best = 1;
  int best_column = -1;
  for (size_t k = 0; k < columns_.size(); ++k) {
    const double p = TailProbability(sorted_[k], columns_[k].direction, row[columns_[k].column]);
    if (p < best) {
      best = p;
      best_column = columns_[k].column;
    }
  }
  if (which != nullptr) *which = best_column;
  return best < 1 ? -std::log10(best) : 0;
}

std::string TailSurprise::ToJson() const {
  nlohmann::json j = nlohmann::json::array();
  for (size_t k = 0; k < columns_.size(); ++k) {
    j.push_back({{"column", columns_[k].column}, {"direction", columns_[k].direction}, {"sorted", sorted_[k]}});
  }
  return j.dump();
}

StatusOr<TailSurprise> TailSurprise::FromJson(std::string_view text, size_t width) {
  using json_checked::Integer;
  TailSurprise tail;
  try {
    const nlohmann::json columns = json_checked::Parse(text);
    if (!columns.is_array()) return DataLossError("tail surprise: not a list of columns");
    for (size_t k = 0; k < columns.size(); ++k) {
      const nlohmann::json& c = columns[k];
      const std::string at = StrCat("column entry ", k);
      const int column = static_cast<int>(Integer(c.at("column"), 0, static_cast<int64_t>(width) - 1, StrCat(at, ": column")));
      const int direction = static_cast<int>(Integer(c.at("direction"), -1, 1, StrCat(at, ": direction")));
      if (direction == 0) return DataLossError(StrCat("tail surprise: ", at, ": direction must be 1 or -1"));
      const nlohmann::json& sorted = c.at("sorted");
      if (!sorted.is_array()) return DataLossError(StrCat("tail surprise: ", at, ": sorted is not a list"));
      std::vector<float> values;
      values.reserve(sorted.size());
      for (const auto& v : sorted) values.push_back(json_checked::FiniteFloat(v, StrCat(at, ": a value")));
      if (!std::is_sorted(values.begin(), values.end())) {
        return DataLossError(StrCat("tail surprise: ", at, ": values not sorted"));
      }
      tail.columns_.push_back({column, direction});
      tail.sorted_.push_back(std::move(values));
    }
  } catch (const std::exception& e) {
    return DataLossError(StrCat("tail surprise: ", e.what()));
  }
  return tail;
}

}  // namespace certcast
