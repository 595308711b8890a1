// The batcher's policies with an injected clock: no sleeping, no model.
#include <gtest/gtest.h>

#include <thread>

#include "server/batching/scheduler.h"
#include "tests/support/fake_clock.h"

namespace ctrlfuse::server {
namespace {
using std::chrono::milliseconds;

struct TestTask : BatchTask {
  int id = 0;
  absl::Status failed = absl::OkStatus();
  void Fail(const absl::Status& s) override { failed = s; }
};

std::shared_ptr<TestTask> Task(int id, int w = 64, int h = 48) {
  auto t = std::make_shared<TestTask>();
  t->id = id;
  t->bucket = {w, h};
  return t;
}

std::vector<int> Ids(const Batch& b) {
  std::vector<int> ids;
  for (const auto& t : b.tasks) ids.push_back(static_cast<TestTask*>(t.get())->id);
  return ids;
}

class BatcherTest : public ::testing::Test {
 protected:
  BatchingOptions Options(size_t max_batch = 3, int delay_ms = 10, size_t max_queued = 8) {
    BatchingOptions o;
    o.max_batch_size = max_batch;
    o.max_queue_delay = milliseconds(delay_ms);
    o.max_queued = max_queued;
    return o;
  }
  std::unique_ptr<BatchScheduler> Make(BatchingOptions o, BatchScheduler::DropFn on_dropped = nullptr) {
    auto s = BatchScheduler::Create(o, &clock_, std::move(on_dropped));
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }
  testing::FakeClock clock_;
};

TEST_F(BatcherTest, FullBatchIsReadyAtOnce) {
  auto s = Make(Options());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(s->Schedule(Task(i)).ok());
  auto b = s->TryNextBatch();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(Ids(*b), (std::vector<int>{0, 1, 2}));
  EXPECT_FALSE(s->TryNextBatch().has_value());  // one left, delay not reached
  EXPECT_EQ(s->queued(), 1u);
}

TEST_F(BatcherTest, DelayCountsFromTheOldestQueuedRequest) {
  auto s = Make(Options(4, 10));
  ASSERT_TRUE(s->Schedule(Task(0)).ok());
  clock_.Advance(milliseconds(6));
  ASSERT_TRUE(s->Schedule(Task(1)).ok());
  EXPECT_FALSE(s->TryNextBatch().has_value());
  clock_.Advance(milliseconds(4));  // oldest has waited 10 ms; newest only 4
  auto b = s->TryNextBatch();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(Ids(*b), (std::vector<int>{0, 1}));
}

TEST_F(BatcherTest, ShapesBatchSeparatelyAndTheOldestBucketGoesFirst) {
  auto s = Make(Options(2, 10));
  ASSERT_TRUE(s->Schedule(Task(0, 64, 48)).ok());
  clock_.Advance(milliseconds(1));
  ASSERT_TRUE(s->Schedule(Task(1, 32, 32)).ok());
  ASSERT_TRUE(s->Schedule(Task(2, 32, 32)).ok());
  ASSERT_TRUE(s->Schedule(Task(3, 64, 48)).ok());
  // Both buckets are full; the 64x48 one holds the oldest request.
  auto first = s->TryNextBatch();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->bucket, (BucketKey{64, 48}));
  EXPECT_EQ(Ids(*first), (std::vector<int>{0, 3}));
  auto second = s->TryNextBatch();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(Ids(*second), (std::vector<int>{1, 2}));
}

TEST_F(BatcherTest, BusyBucketDoesNotStarveAnother) {
  auto s = Make(Options(2, 10, 64));
  ASSERT_TRUE(s->Schedule(Task(100, 32, 32)).ok());  // lone request, other shape
  for (int round = 0; round < 3; ++round) {
    clock_.Advance(milliseconds(4));
    ASSERT_TRUE(s->Schedule(Task(2 * round, 64, 48)).ok());
    ASSERT_TRUE(s->Schedule(Task(2 * round + 1, 64, 48)).ok());
    auto b = s->TryNextBatch();
    ASSERT_TRUE(b.has_value());
    if (Ids(*b) == std::vector<int>{100}) return;  // served once its delay passed
  }
  clock_.Advance(milliseconds(10));
  auto b = s->TryNextBatch();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(Ids(*b), (std::vector<int>{100}));
}

TEST_F(BatcherTest, FullQueueRejectsEarlyWithUnavailable) {
  auto s = Make(Options(4, 10, 3));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s->Schedule(Task(i)).ok());
  auto rejected = s->Schedule(Task(9));
  EXPECT_EQ(rejected.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(rejected.message().find("queue full"), std::string::npos);
  EXPECT_EQ(s->queued(), 3u);
}

TEST_F(BatcherTest, ExpiredAndCancelledTasksNeverReachABatch) {
  std::vector<absl::StatusCode> dropped;
  auto s = Make(Options(4, 10), [&](const BatchTask&, const absl::Status& st) { dropped.push_back(st.code()); });
  auto expiring = Task(0), cancelled = Task(1), fine = Task(2);
  expiring->deadline = clock_.Now() + milliseconds(5);
  bool gone = false;
  cancelled->cancelled = [&gone] { return gone; };
  for (auto t : {expiring, cancelled, fine}) ASSERT_TRUE(s->Schedule(t).ok());
  gone = true;
  clock_.Advance(milliseconds(10));
  auto b = s->TryNextBatch();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(Ids(*b), (std::vector<int>{2}));
  EXPECT_EQ(expiring->failed.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(cancelled->failed.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(dropped.size(), 2u);
  EXPECT_EQ(s->queued(), 0u);
}

TEST_F(BatcherTest, ShutdownRefusesNewWorkAndFlushesQueued) {
  auto s = Make(Options(4, 1000));
  ASSERT_TRUE(s->Schedule(Task(0)).ok());
  s->Shutdown();
  EXPECT_EQ(s->Schedule(Task(1)).code(), absl::StatusCode::kUnavailable);
  auto b = s->NextBatch();  // not ready by size or delay, but flushed
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(Ids(*b), (std::vector<int>{0}));
  EXPECT_FALSE(s->NextBatch().has_value());
}

TEST_F(BatcherTest, OptionsThatWouldSpinOrNeverAdmitAreRefused) {
  auto zero_batch = Options(0);
  EXPECT_EQ(BatchScheduler::Create(zero_batch, &clock_).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BatchScheduler::Create(zero_batch, &clock_).status().message().rfind("max_batch_size", 0), 0u);
  auto zero_queue = Options(4, 10, 0);
  EXPECT_EQ(BatchScheduler::Create(zero_queue, &clock_).status().message().rfind("max_queued", 0), 0u);
  auto negative_delay = Options(4, -1);
  EXPECT_EQ(BatchScheduler::Create(negative_delay, &clock_).status().message().rfind("max_queue_delay", 0), 0u);
  EXPECT_TRUE(BatchScheduler::Create(Options(1, 0, 1), &clock_).ok());
}

TEST_F(BatcherTest, WaitingExecutorWakesWhenTheDelayPassesOnTheClock) {
  auto s = Make(Options(4, 10));
  ASSERT_TRUE(s->Schedule(Task(0)).ok());
  std::optional<Batch> got;
  std::thread executor([&] { got = s->NextBatch(); });
  clock_.BlockUntilWaiters(1);  // asleep until the oldest task has waited 10 ms
  clock_.Advance(milliseconds(9));
  clock_.BlockUntilWaiters(1);  // 9 ms: still asleep (it may have woken and gone back)
  EXPECT_FALSE(got.has_value());
  clock_.Advance(milliseconds(1));
  executor.join();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(Ids(*got), (std::vector<int>{0}));
}

TEST_F(BatcherTest, WithdrawnTaskLeavesTheQueueAndFailsWithTheGivenStatus) {
  auto s = Make(Options(4, 10));
  auto a = Task(0), b = Task(1);
  ASSERT_TRUE(s->Schedule(a).ok());
  ASSERT_TRUE(s->Schedule(b).ok());
  EXPECT_TRUE(s->Withdraw(a, absl::CancelledError("gone")));
  EXPECT_EQ(a->failed.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(s->queued(), 1u);
  EXPECT_FALSE(s->Withdraw(a, absl::CancelledError("twice")));  // no longer queued
  clock_.Advance(milliseconds(10));
  auto batch = s->TryNextBatch();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(Ids(*batch), (std::vector<int>{1}));
  EXPECT_FALSE(s->Withdraw(b, absl::CancelledError("taken")));  // a batch has it
  EXPECT_TRUE(b->failed.ok());
}

}  // namespace
}  // namespace ctrlfuse::server
