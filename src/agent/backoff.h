// Exponential backoff with jitter for retrying the server: the n-th wait after n failures in a
// row is drawn uniformly from [d/2, d] with d = min(max, min * 2^(n-1)), so a fleet of agents
// that lost the server at the same moment does not come back in lockstep. Randomness from the
// seed passed in (reproducible in tests). Pure; one thread.
#pragma once

#include <cstdint>
#include <random>

#include "absl/time/time.h"

namespace certcast::agent {

class Backoff {
 public:
  Backoff(absl::Duration min, absl::Duration max, uint64_t seed)
      : min_(min), max_(max < min ? min : max), random_(seed) {}
  // The wait before the next attempt, after one more failure.
  absl::Duration Next() {
    absl::Duration ceiling = min_;
    for (int i = 0; i < failures_ && ceiling < max_; ++i) ceiling *= 2;
    if (ceiling > max_) ceiling = max_;
    ++failures_;
    std::uniform_int_distribution<int64_t> pick(absl::ToInt64Microseconds(ceiling) / 2,
                                                absl::ToInt64Microseconds(ceiling));
    return absl::Microseconds(pick(random_));
  }
  // After a success: the next failure waits about `min` again.
  void Reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  absl::Duration min_, max_;
  std::mt19937_64 random_;
  int failures_ = 0;
};

}  // namespace certcast::agent
