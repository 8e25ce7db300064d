// A stop request that interrupts waits: the daemon's wait between cycles and the executors' waits
// between retries end as soon as Stop() is called, instead of sleeping out a 60 s retry wait (or
// an hour's interval) after SIGTERM.
//
// Thread safety: every member may be called from any thread; Stop() is not async-signal-safe
// (call it from a signal-handling thread, as `certcast run` does).
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/time/time.h"

namespace certcast::act {

class StopSignal {
 public:
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    wake_.notify_all();
  }
  bool stopped() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stopped_;
  }
  // Blocks for up to `d` or until Stop(); returns true when stopped. The wait is on the steady
  // clock (libstdc++ waits with CLOCK_MONOTONIC), so a step of the wall clock does not stretch it.
  bool WaitFor(absl::Duration d) {
    std::unique_lock<std::mutex> lock(mu_);
    if (d > absl::ZeroDuration()) {
      // Capped: a chrono deadline past its range would overflow.
      wake_.wait_for(lock, absl::ToChronoNanoseconds(std::min(d, absl::Hours(24 * 366))), [&] { return stopped_; });
    }
    return stopped_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopped_ = false;
};

}  // namespace certcast::act
