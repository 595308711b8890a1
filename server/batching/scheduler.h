// The dynamic batcher's scheduler: one ShapeQueue per bucket, a bound on
// everything queued, and executor threads pulling ready batches.
//
// Policies (docs/architecture.md):
// - a batch closes when its bucket holds max_batch_size tasks or when the
//   bucket's oldest task has waited max_queue_delay (counted from arrival);
// - among ready buckets the one with the oldest head goes first, so no
//   bucket starves behind a busy one;
// - Schedule() never blocks: over max_queued it fails with UNAVAILABLE
//   (retryable), taking no ownership;
// - tasks whose deadline passed or whose client cancelled are completed
//   with DEADLINE_EXCEEDED / CANCELLED when a batch is formed, and never
//   reach the model;
// - Shutdown() stops admission; queued work is still handed out, ready or
//   not, until the queues are empty.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>

#include "absl/status/status.h"
#include "server/batching/batch.h"
#include "server/batching/clock.h"
#include "server/batching/shape_queue.h"

namespace ctrlfuse::server {

struct BatchingOptions {
  size_t max_batch_size = 4;
  Duration max_queue_delay = std::chrono::milliseconds(5);
  size_t max_queued = 64;  // across all buckets
};

class BatchScheduler {
 public:
  // `on_dropped` is told of every task dropped for deadline/cancel (metrics).
  BatchScheduler(BatchingOptions options, Clock* clock,
                 std::function<void(const BatchTask&, const absl::Status&)> on_dropped = nullptr);

  absl::Status Schedule(TaskPtr task);

  // Non-blocking: the next ready batch, if any (drops expired/cancelled first).
  std::optional<Batch> TryNextBatch();
  // Blocking: waits for a ready batch; nullopt once shut down and empty.
  std::optional<Batch> NextBatch();

  void Shutdown();
  size_t queued() const;
  const BatchingOptions& options() const { return options_; }

 private:
  std::optional<Batch> TakeReadyLocked(SteadyTime now, bool flush);
  void DropStaleLocked(SteadyTime now);

  const BatchingOptions options_;
  Clock* clock_;
  std::function<void(const BatchTask&, const absl::Status&)> on_dropped_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<BucketKey, ShapeQueue> queues_;
  size_t queued_ = 0;
  bool shutdown_ = false;
};

}  // namespace ctrlfuse::server
