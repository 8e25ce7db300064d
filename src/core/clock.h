// The injected clock. Pure code (features, policy, model) never reads time at all: it takes the
// instant as an argument. Coordinators that must ask "what time is it" (the daemon, ingest
// progress, audit records) take a Clock& so tests and backtests move time by hand.
//
// Two readings: Now() is the wall clock (what events, audit records and the policy see; NTP or an
// operator may step it, backwards too), Monotonic() only ever moves forward and is what waiting
// and "how long has it been" must use: an interval measured on the wall clock across a step back
// of a month lasts a month longer.
#pragma once

#include <time.h>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace certcast {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // Time since an arbitrary fixed origin; never decreases. Compare two readings, nothing else.
  virtual absl::Duration Monotonic() const = 0;
};

// Wall clock and CLOCK_BOOTTIME (monotonic, and counting while the machine is suspended, so a
// wait that spans a suspend ends on time after the resume). The only Clock used in production.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  absl::Duration Monotonic() const override {
    timespec ts{};
    ::clock_gettime(CLOCK_BOOTTIME, &ts);
    return absl::DurationFromTimespec(ts);
  }
  static SystemClock& Get() {
    static SystemClock clock;
    return clock;
  }
};

// The system clock shifted by a fixed offset: time passes at the real rate from a chosen instant.
// `certcast demo --serve` serves a simulated fleet whose history ends at its own "now".
class OffsetClock final : public Clock {
 public:
  explicit OffsetClock(absl::Duration offset) : offset_(offset) {}
  absl::Time Now() const override { return SystemClock::Get().Now() + offset_; }
  absl::Duration Monotonic() const override { return SystemClock::Get().Monotonic(); }

 private:
  const absl::Duration offset_;
};

// A clock that moves only when told to. Advance moves both readings; Set and StepWall move the
// wall clock alone (an NTP step), the monotonic reading stays. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  absl::Duration Monotonic() const override {
    absl::MutexLock lock(&mu_);
    return monotonic_;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }
  void StepWall(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
    if (d > absl::ZeroDuration()) monotonic_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  absl::Duration monotonic_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
};

}  // namespace certcast
