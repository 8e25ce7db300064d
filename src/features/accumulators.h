// Constant-size accumulators for telemetry streams. Features need "how often did X fail lately" and
// "which way is Y trending" for a million lineages, re-scored daily: keeping raw history would cost
// memory and time proportional to history, so each stream folds into a few numbers on arrival.
//
// Times are days since the Unix epoch as double (cheap arithmetic; microsecond resolution is kept
// at today's magnitudes). All queries take `at` and never look at anything newer than what was
// added; callers guarantee that added samples are older than any `at` they query with.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "absl/time/time.h"
#include "core/fields.h"

namespace certcast {

inline double ToDays(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()) / 86400.0; }
inline int64_t DayIndex(absl::Time t) {
  return absl::ToInt64Seconds(absl::Floor(t - absl::UnixEpoch(), absl::Hours(24))) / 86400;
}
inline constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

// Exponentially decayed count: value(at) = sum over samples of x * exp(-(at - t) / tau).
struct DecayedSum {
  double value = 0;
  double t = -1e300;  // days of the last update
  void Add(double t_days, double x, double tau_days) {
    if (t > -1e299) value *= std::exp(-(t_days - t) / tau_days);
    value += x;
    t = t_days;
  }
  double At(double at_days, double tau_days) const {
    if (t < -1e299) return 0;
    return value * std::exp(-(at_days - t) / tau_days);
  }
};
// Persisted fields (core/fields.h): the planner's checkpoint (src/plan) writes and reads these.
template <FieldsOf<DecayedSum> S>
auto Fields(S& s) { return std::tie(s.value, s.t); }

// Decayed success/failure rate with a prior, so that one failed probe out of one is not "100%".
struct DecayedRate {
  DecayedSum failures, total;
  void Add(double t_days, bool failed, double tau_days) {
    failures.Add(t_days, failed ? 1 : 0, tau_days);
    total.Add(t_days, 1, tau_days);
  }
  bool empty() const { return total.t < -1e299; }
  // Failure fraction with a weak prior of one success (pulls sparse evidence toward 0).
  double At(double at_days, double tau_days) const {
    if (empty()) return 0;
    return failures.At(at_days, tau_days) / (total.At(at_days, tau_days) + 1.0);
  }
};
template <FieldsOf<DecayedRate> S>
auto Fields(S& s) { return std::tie(s.failures, s.total); }

// Which of the last 32 days saw a failure (bit 0 = the newest day recorded). Answers "failed on k
// of the last n days" exactly, the form a person reads in a reason.
struct DayBitmap {
  uint32_t failed = 0;
  uint32_t seen = 0;
  int64_t day = std::numeric_limits<int64_t>::min();
  void Add(int64_t sample_day, bool is_failure) {
    Shift(sample_day);
    if (sample_day < day) return;  // callers add in ts order; an older day cannot happen
    seen |= 1u;
    if (is_failure) failed |= 1u;
  }
  void Shift(int64_t to_day) {
    if (day == std::numeric_limits<int64_t>::min()) { day = to_day; return; }
    if (to_day <= day) return;
    const int64_t shift = to_day - day;
    failed = shift >= 32 ? 0 : failed << shift;
    seen = shift >= 32 ? 0 : seen << shift;
    day = to_day;
  }
  // Failure days among the `n` days ending with `last_day` (inclusive).
  int FailedDays(int64_t last_day, int n) const { return Count(failed, last_day, n); }
  int SeenDays(int64_t last_day, int n) const { return Count(seen, last_day, n); }
  // Consecutive failed days ending with `last_day` (the age of a condition that still holds); a
  // newest recorded day before `last_day - 1` means no recent sample, so no run.
  int FailedRun(int64_t last_day) const {
    if (day == std::numeric_limits<int64_t>::min() || last_day - day > 1) return 0;
    const int64_t lo = std::max<int64_t>(0, day - last_day);
    if (lo > 31) return 0;
    return std::countr_one(failed >> lo);
  }

 private:
  // Bit i is day (day - i); the window is [last_day - n + 1, last_day].
  int Count(uint32_t bits, int64_t last_day, int n) const {
    if (day == std::numeric_limits<int64_t>::min()) return 0;
    const int64_t lo = std::max<int64_t>(0, day - last_day);
    const int64_t hi = std::min<int64_t>(31, day - last_day + n - 1);
    if (hi < lo) return 0;
    const uint32_t window = Mask(static_cast<int>(hi + 1)) & ~Mask(static_cast<int>(lo));
    return std::popcount(bits & window);
  }
  static uint32_t Mask(int n) { return n >= 32 ? 0xffffffffu : ((1u << n) - 1u); }
};
template <FieldsOf<DayBitmap> S>
auto Fields(S& s) { return std::tie(s.failed, s.seen, s.day); }

// Exponentially weighted least squares of y over time: a trend (slope per day) that forgets old
// points, in constant space. Sums are kept relative to the newest sample for numeric stability.
struct DecayedTrend {
  double w = 0, st = 0, sy = 0, stt = 0, sty = 0;
  double origin = -1e300;  // days; sample times are stored relative to this
  double last_y = 0;
  void Add(double t_days, double y, double tau_days) {
    if (origin > -1e299) {
      const double delta = t_days - origin;
      const double decay = std::exp(-delta / tau_days);
      // Re-express the sums relative to the new origin (t' = t - delta), then decay.
      stt = stt - 2 * delta * st + delta * delta * w;
      sty = sty - delta * sy;
      st = st - delta * w;
      w *= decay; st *= decay; sy *= decay; stt *= decay; sty *= decay;
    }
    origin = t_days;
    w += 1; sy += y;  // t' = 0 for the new sample
    last_y = y;
  }
  bool empty() const { return origin < -1e299; }
  // Slope per day, or NaN with fewer than ~2 effective points or no spread in time.
  double Slope() const {
    if (w < 1.5) return std::numeric_limits<double>::quiet_NaN();
    const double var = stt / w - (st / w) * (st / w);
    if (var < 1e-6) return std::numeric_limits<double>::quiet_NaN();
    return (sty / w - (st / w) * (sy / w)) / var;
  }
};
template <FieldsOf<DecayedTrend> S>
auto Fields(S& s) { return std::tie(s.w, s.st, s.sy, s.stt, s.sty, s.origin, s.last_y); }

// Two EWMAs of a level (latency, propagation time) with different memories; their ratio says
// "slower than usual" whatever the usual is, which transfers across fleets better than absolutes.
struct LevelRatio {
  DecayedSum short_sum, short_w, long_sum, long_w;
  void Add(double t_days, double x) {
    short_sum.Add(t_days, x, 1.0); short_w.Add(t_days, 1, 1.0);
    long_sum.Add(t_days, x, 14.0); long_w.Add(t_days, 1, 14.0);
  }
  bool empty() const { return short_w.t < -1e299; }
  double Ratio(double at_days) const {
    if (empty()) return std::numeric_limits<double>::quiet_NaN();
    const double s = short_sum.At(at_days, 1.0) / std::max(1e-9, short_w.At(at_days, 1.0));
    const double l = long_sum.At(at_days, 14.0) / std::max(1e-9, long_w.At(at_days, 14.0));
    return l > 0 ? s / l : std::numeric_limits<double>::quiet_NaN();
  }
};
template <FieldsOf<LevelRatio> S>
auto Fields(S& s) { return std::tie(s.short_sum, s.short_w, s.long_sum, s.long_w); }

}  // namespace certcast
