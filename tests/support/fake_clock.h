// Test double: a Clock whose time moves only when the test advances it.
// Threads waiting on it (an executor waiting for a batch's delay) block
// until Advance() reaches their wake-up time or their condition holds, so
// tests drive the batcher's timing policies deterministically and can wait
// for a thread to be asleep (BlockUntilWaiters) instead of sleeping.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <atomic>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "server/batching/clock.h"

namespace ctrlfuse::testing {

class FakeClock : public server::Clock {
 public:
  server::SteadyTime Now() const override { return server::SteadyTime(server::Duration(now_.load())); }

  void Advance(server::Duration d) {
    std::vector<absl::Mutex*> waiters;
    {
      absl::MutexLock l(&mu_);
      now_ += d.count();
      waiters = waiters_;
      ++advancing_;
    }
    // A waiter's condition is re-evaluated when its mutex is released:
    // taking and dropping each one makes them look at the new time. Not
    // under mu_: a waiter holds its mutex while it registers.
    for (absl::Mutex* m : waiters) {
      m->Lock();
      m->Unlock();
    }
    absl::MutexLock l(&mu_);
    --advancing_;
  }

  void WaitUntil(absl::Mutex* mu, const absl::Condition& wake, server::SteadyTime until) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    {
      absl::MutexLock l(&mu_);
      waiters_.push_back(mu);
    }
    const auto ready = [this, &wake, until] { return Now() >= until || wake.Eval(); };
    mu->Await(absl::Condition(&ready));
    // Unregister without holding `mu` (Advance may be taking it), and only
    // once no Advance still holds a pointer to it.
    mu->Unlock();
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(
          +[](int* n) { return *n == 0; }, &advancing_));
      for (auto it = waiters_.begin(); it != waiters_.end(); ++it)
        if (*it == mu) {
          waiters_.erase(it);
          break;
        }
    }
    mu->Lock();
  }

  // Blocks until `n` threads wait on this clock.
  void BlockUntilWaiters(size_t n) {
    absl::MutexLock l(&mu_);
    const auto enough = [this, n]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return waiters_.size() >= n; };
    mu_.Await(absl::Condition(&enough));
  }

 private:
  std::atomic<int64_t> now_{0};
  absl::Mutex mu_;
  std::vector<absl::Mutex*> waiters_ ABSL_GUARDED_BY(mu_);
  int advancing_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ctrlfuse::testing
