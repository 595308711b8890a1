// Time for the batcher, injectable so that its policies (and the server's)
// are tested without sleeping: tests/support/fake_clock.h moves only when a
// test advances it.
//
// Thread-safety: implementations are safe to call from any thread.
#pragma once

#include <chrono>

#include "absl/synchronization/mutex.h"

namespace ctrlfuse::server {

using SteadyTime = std::chrono::steady_clock::time_point;
using Duration = std::chrono::steady_clock::duration;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime Now() const = 0;
  // With `mu` held: releases it until `wake` holds (re-evaluated whenever
  // `mu` is released by another thread, as absl::Mutex::Await does) or
  // `until` passes in this clock's time, then re-acquires it. May return
  // early; callers re-check their state.
  virtual void WaitUntil(absl::Mutex* mu, const absl::Condition& wake, SteadyTime until)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;
};

class RealClock : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
  void WaitUntil(absl::Mutex* mu, const absl::Condition& wake, SteadyTime until) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (until == SteadyTime::max()) {
      mu->Await(wake);
    } else {
      mu->AwaitWithTimeout(wake, absl::FromChrono(until - Now()));
    }
  }
};

}  // namespace ctrlfuse::server
