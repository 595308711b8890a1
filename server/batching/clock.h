// Time for the batcher, injectable so its policies are unit-tested without
// sleeping.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace ctrlfuse::server {

using SteadyTime = std::chrono::steady_clock::time_point;
using Duration = std::chrono::steady_clock::duration;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTime Now() const = 0;
  // Waits on `cv` until notified or `until` passes (in this clock's time).
  virtual void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, SteadyTime until) = 0;
};

class RealClock : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
  void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, SteadyTime until) override {
    cv.wait_until(lock, until);
  }
};

// Test double: time moves only when the test advances it; waits return at
// once (tests drive the scheduler through its non-blocking calls).
class FakeClock : public Clock {
 public:
  SteadyTime Now() const override { return now_; }
  void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, SteadyTime) override {}
  void Advance(Duration d) { now_ += d; }

 private:
  SteadyTime now_{};
};

}  // namespace ctrlfuse::server
