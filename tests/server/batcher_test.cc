// The batcher's policies with an injected clock: no sleeping, no model.
#include <gtest/gtest.h>

#include "server/batching/scheduler.h"

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
  FakeClock clock_;
};

TEST_F(BatcherTest, FullBatchIsReadyAtOnce) {
  BatchScheduler s(Options(), &clock_);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(s.Schedule(Task(i)).ok());
  auto b = s.TryNextBatch();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(Ids(*b), (std::vector<int>{0, 1, 2}));
  EXPECT_FALSE(s.TryNextBatch().has_value());  // one left, delay not reached
  EXPECT_EQ(s.queued(), 1u);
}

TEST_F(BatcherTest, DelayCountsFromTheOldestQueuedRequest) {
  BatchScheduler s(Options(4, 10), &clock_);
  ASSERT_TRUE(s.Schedule(Task(0)).ok());
  clock_.Advance(milliseconds(6));
  ASSERT_TRUE(s.Schedule(Task(1)).ok());
  EXPECT_FALSE(s.TryNextBatch().has_value());
  clock_.Advance(milliseconds(4));  // oldest has waited 10 ms; newest only 4
  auto b = s.TryNextBatch();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(Ids(*b), (std::vector<int>{0, 1}));
}

TEST_F(BatcherTest, ShapesBatchSeparatelyAndTheOldestBucketGoesFirst) {
  BatchScheduler s(Options(2, 10), &clock_);
  ASSERT_TRUE(s.Schedule(Task(0, 64, 48)).ok());
  clock_.Advance(milliseconds(1));
  ASSERT_TRUE(s.Schedule(Task(1, 32, 32)).ok());
  ASSERT_TRUE(s.Schedule(Task(2, 32, 32)).ok());
  ASSERT_TRUE(s.Schedule(Task(3, 64, 48)).ok());
  // Both buckets are full; the 64x48 one holds the oldest request.
  auto first = s.TryNextBatch();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->bucket, (BucketKey{64, 48}));
  EXPECT_EQ(Ids(*first), (std::vector<int>{0, 3}));
  auto second = s.TryNextBatch();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(Ids(*second), (std::vector<int>{1, 2}));
}

TEST_F(BatcherTest, BusyBucketDoesNotStarveAnother) {
  BatchScheduler s(Options(2, 10, 64), &clock_);
  ASSERT_TRUE(s.Schedule(Task(100, 32, 32)).ok());  // lone request, other shape
  for (int round = 0; round < 3; ++round) {
    clock_.Advance(milliseconds(4));
    ASSERT_TRUE(s.Schedule(Task(2 * round, 64, 48)).ok());
    ASSERT_TRUE(s.Schedule(Task(2 * round + 1, 64, 48)).ok());
    auto b = s.TryNextBatch();
    ASSERT_TRUE(b.has_value());
    if (Ids(*b) == std::vector<int>{100}) return;  // served once its delay passed
  }
  clock_.Advance(milliseconds(10));
  auto b = s.TryNextBatch();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(Ids(*b), (std::vector<int>{100}));
}

TEST_F(BatcherTest, FullQueueRejectsEarlyWithUnavailable) {
  BatchScheduler s(Options(4, 10, 3), &clock_);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s.Schedule(Task(i)).ok());
  auto rejected = s.Schedule(Task(9));
  EXPECT_EQ(rejected.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(rejected.message().find("queue full"), std::string::npos);
  EXPECT_EQ(s.queued(), 3u);
}

TEST_F(BatcherTest, ExpiredAndCancelledTasksNeverReachABatch) {
  std::vector<absl::StatusCode> dropped;
  BatchScheduler s(Options(4, 10), &clock_,
                   [&](const BatchTask&, const absl::Status& st) { dropped.push_back(st.code()); });
  auto expiring = Task(0), cancelled = Task(1), fine = Task(2);
  expiring->deadline = clock_.Now() + milliseconds(5);
  bool gone = false;
  cancelled->cancelled = [&gone] { return gone; };
  for (auto t : {expiring, cancelled, fine}) ASSERT_TRUE(s.Schedule(t).ok());
  gone = true;
  clock_.Advance(milliseconds(10));
  auto b = s.TryNextBatch();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(Ids(*b), (std::vector<int>{2}));
  EXPECT_EQ(expiring->failed.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(cancelled->failed.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(dropped.size(), 2u);
  EXPECT_EQ(s.queued(), 0u);
}

TEST_F(BatcherTest, ShutdownRefusesNewWorkAndFlushesQueued) {
  BatchScheduler s(Options(4, 1000), &clock_);
  ASSERT_TRUE(s.Schedule(Task(0)).ok());
  s.Shutdown();
  EXPECT_EQ(s.Schedule(Task(1)).code(), absl::StatusCode::kUnavailable);
  auto b = s.NextBatch();  // not ready by size or delay, but flushed
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(Ids(*b), (std::vector<int>{0}));
  EXPECT_FALSE(s.NextBatch().has_value());
}

}  // namespace
}  // namespace ctrlfuse::server
