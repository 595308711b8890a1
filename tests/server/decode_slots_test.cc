// The bound on concurrent decodes (server/decode_slots.h): slots are handed
// out up to capacity, a waiter gets one as soon as one frees, and gives up
// at its deadline or when its client cancels. Time is the fake clock's.
#include "server/decode_slots.h"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <thread>

#include "tests/support/fake_clock.h"

namespace ctrlfuse::server {
namespace {

using testing::FakeClock;

TEST(DecodeSlotsTest, AWaiterGetsTheSlotItsHolderFrees) {
  FakeClock clock;
  DecodeSlots slots(2, &clock);
  auto a = slots.Acquire(SteadyTime::max(), nullptr);
  auto b = slots.Acquire(SteadyTime::max(), nullptr);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(slots.in_use(), 2u);
  std::atomic<bool> got{false};
  std::thread third([&] {
    auto c = slots.Acquire(SteadyTime::max(), nullptr);
    EXPECT_TRUE(c.ok()) << c.status();
    got = true;
  });
  clock.BlockUntilWaiters(1);  // it waits: both slots are taken
  EXPECT_FALSE(got);
  EXPECT_EQ(slots.waiting(), 1u);
  { auto release = std::move(*a); }  // the first holder is done
  third.join();
  EXPECT_TRUE(got);
  EXPECT_EQ(slots.in_use(), 1u);  // the third's slot freed when it returned
  EXPECT_EQ(slots.waiting(), 0u);
}

TEST(DecodeSlotsTest, AWaiterGivesUpAtItsDeadlineOrWhenCancelled) {
  FakeClock clock;
  DecodeSlots slots(1, &clock);
  auto held = slots.Acquire(SteadyTime::max(), nullptr);
  ASSERT_TRUE(held.ok());
  absl::Status late;
  std::thread waiter([&] { late = slots.Acquire(clock.Now() + std::chrono::seconds(5), nullptr).status(); });
  clock.BlockUntilWaiters(1);
  clock.Advance(std::chrono::seconds(5));
  waiter.join();
  EXPECT_EQ(late.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(late.message(), "deadline passed while waiting to decode");

  std::atomic<bool> gone{false};
  absl::Status cancelled;
  std::thread caller([&] { cancelled = slots.Acquire(SteadyTime::max(), [&] { return gone.load(); }).status(); });
  clock.BlockUntilWaiters(1);
  gone = true;
  clock.Advance(std::chrono::milliseconds(100));  // the next poll
  caller.join();
  EXPECT_EQ(cancelled.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(slots.in_use(), 1u);  // neither took the held slot
  EXPECT_EQ(slots.waiting(), 0u);
}

}  // namespace
}  // namespace ctrlfuse::server
