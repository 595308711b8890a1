// The batch runner's fault handling, on the engine test double: a batch
// the engine cannot hold is split in halves until it fits (order and
// outputs kept, encodings not redone), a request that cannot fit alone
// gets RESOURCE_EXHAUSTED saying so, and a request whose client left while
// its batch was encoding is not decoded.
#include "server/batch_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "server/fuse_task.h"
#include "tests/support/fake_fusion_engine.h"

namespace ctrlfuse::server {
namespace {

using testing::FakeFusionEngine;

// A task whose infrared is all `value` and visible all 0 (the double fuses
// to the rounded mean), 8x6.
std::shared_ptr<FuseTask> Task(uint8_t value) {
  auto t = std::make_shared<FuseTask>();
  for (auto* img : {&t->ir, &t->vis}) {
    img->width = 8, img->height = 6, img->channels = 1, img->bit_depth = 8;
    img->bytes.assign(48, img == &t->ir ? value : 0);
  }
  t->outputs = {api::Output::kFused};
  t->key = {value, 1};
  return t;
}

struct Ran {
  std::vector<std::shared_ptr<FuseTask>> tasks;
  std::vector<std::future<TaskResult>> results;
};

Ran RunBatch(const BatchRunner& runner, const std::vector<uint8_t>& values,
             const std::function<void(std::vector<std::shared_ptr<FuseTask>>&)>& before = nullptr) {
  Ran r;
  Batch batch;
  for (uint8_t v : values) {
    r.tasks.push_back(Task(v));
    r.results.push_back(r.tasks.back()->promise.get_future());
    batch.tasks.push_back(r.tasks.back());
  }
  if (before) before(r.tasks);
  runner.Run(batch);
  return r;
}

TEST(BatchRunnerTest, ABatchTooLargeForMemoryIsSplitUntilItFits) {
  FakeFusionEngine fake;  // test double: "out of memory" above 2 pairs
  fake.SetMemoryLimit(2, INT64_MAX);
  Metrics metrics;
  RealClock clock;
  BatchRunner runner(&fake, nullptr, &metrics, &clock);
  Ran r = RunBatch(runner, {10, 20, 30, 40, 50});
  for (size_t i = 0; i < r.results.size(); ++i) {
    TaskResult res = r.results[i].get();
    ASSERT_TRUE(res.status.ok()) << i << " " << res.status;
    EXPECT_EQ(res.image.fused.at(0), uint8_t((10 * (i + 1) + 1) / 2)) << i;  // its own pair, in order
  }
  // 5 fails, halves 2 and 3, 3 fails, halves 1 and 2.
  EXPECT_EQ(fake.encode_batches(), (std::vector<size_t>{5, 2, 3, 1, 2}));
  EXPECT_EQ(metrics.batch_splits->Value(), 2);
}

TEST(BatchRunnerTest, ADecodeOutOfMemoryKeepsTheEncodings) {
  FakeFusionEngine fake;
  fake.SetMemoryLimit(1, INT64_MAX, /*decode_only=*/true);
  Metrics metrics;
  RealClock clock;
  BatchRunner runner(&fake, nullptr, &metrics, &clock);
  Ran r = RunBatch(runner, {10, 20});
  for (auto& f : r.results) EXPECT_TRUE(f.get().status.ok());
  EXPECT_EQ(fake.encode_batches(), (std::vector<size_t>{2}));  // encoded once
  EXPECT_EQ(fake.decode_batches(), (std::vector<size_t>{2, 1, 1}));
}

TEST(BatchRunnerTest, ARequestThatCannotFitAloneGetsResourceExhausted) {
  FakeFusionEngine fake;
  fake.SetMemoryLimit(4, 47);  // every pair here has 48 pixels
  Metrics metrics;
  RealClock clock;
  BatchRunner runner(&fake, nullptr, &metrics, &clock);
  Ran r = RunBatch(runner, {10, 20});
  for (auto& f : r.results) {
    const absl::Status s = f.get().status;
    EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(s.message().rfind("the request does not fit in the model's memory even alone (batch 1)", 0), 0u) << s;
  }
  EXPECT_EQ(fake.encode_batches(), (std::vector<size_t>{2, 1, 1}));
}

TEST(BatchRunnerTest, AClientGoneDuringTheEncodeIsNotDecoded) {
  FakeFusionEngine fake;  // test double: its Encode is held by the test
  Metrics metrics;
  RealClock clock;
  BatchRunner runner(&fake, nullptr, &metrics, &clock);
  std::atomic<bool> gone{false};
  fake.Hold();
  Ran r;
  std::thread executor([&] {
    r = RunBatch(runner, {10, 20}, [&](auto& tasks) { tasks[0]->cancelled = [&] { return gone.load(); }; });
  });
  fake.WaitUntilWaiting(1);  // the batch is encoding
  gone = true;               // the first request's client leaves
  fake.Release();
  executor.join();
  const TaskResult first = r.results[0].get(), second = r.results[1].get();
  EXPECT_EQ(first.status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(first.status.message(), "client cancelled between encode and decode");
  EXPECT_TRUE(second.status.ok());
  EXPECT_EQ(fake.decode_batches(), (std::vector<size_t>{1}));  // only the second was decoded
}

}  // namespace
}  // namespace ctrlfuse::server
