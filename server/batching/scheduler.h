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
//   with DEADLINE_EXCEEDED / CANCELLED when a batch is formed (or when their
//   caller withdraws them, Withdraw()), and never reach the model;
// - Shutdown() stops admission; queued work is still handed out, ready or
//   not, until the queues are empty.
//
// Thread-safety: every method may be called from any thread; one mutex
// guards the queues. Ownership: the scheduler shares ownership of queued
// tasks (TaskPtr) and gives it up with the batch or on failure; `clock`
// is borrowed and must outlive the scheduler. Task callbacks (cancelled(),
// Fail(), on_dropped) run with the scheduler's mutex held: they must not
// call back into it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/batching/batch.h"
#include "server/batching/clock.h"
#include "server/batching/shape_queue.h"

namespace ctrlfuse::server {

struct BatchingOptions {
  size_t max_batch_size = 4;                                // >= 1
  Duration max_queue_delay = std::chrono::milliseconds(5);  // >= 0
  size_t max_queued = 64;                                   // across all buckets, >= 1

  // INVALID_ARGUMENT naming the option when one is out of range (a batch
  // size of 0 would never close a batch and spin the executors).
  absl::Status Validate() const;
};

class BatchScheduler {
 public:
  using DropFn = std::function<void(const BatchTask&, const absl::Status&)>;

  // `on_dropped` is told of every task dropped for deadline/cancel.
  static absl::StatusOr<std::unique_ptr<BatchScheduler>> Create(BatchingOptions options, Clock* clock,
                                                                DropFn on_dropped = nullptr);

  absl::Status Schedule(TaskPtr task) ABSL_LOCKS_EXCLUDED(mu_);
  // What Schedule would answer now for want of room (UNAVAILABLE when shut
  // down or full, else OK): lets a caller refuse before costly work.
  absl::Status CheckRoom() const ABSL_LOCKS_EXCLUDED(mu_);

  // Non-blocking: the next ready batch, if any (drops expired/cancelled first).
  std::optional<Batch> TryNextBatch() ABSL_LOCKS_EXCLUDED(mu_);
  // Blocking: waits for a ready batch; nullopt once shut down and empty.
  std::optional<Batch> NextBatch() ABSL_LOCKS_EXCLUDED(mu_);

  // Removes `task` if it is still queued and fails it with `status` (its
  // caller gave up on it); false when a batch already took it.
  bool Withdraw(const TaskPtr& task, const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);

  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);
  size_t queued() const ABSL_LOCKS_EXCLUDED(mu_);
  // Blocks until exactly `n` tasks are queued: lets tests order events
  // without sleeping.
  void WaitUntilQueued(size_t n) const ABSL_LOCKS_EXCLUDED(mu_);
  const BatchingOptions& options() const { return options_; }

 private:
  BatchScheduler(BatchingOptions options, Clock* clock, DropFn on_dropped);

  std::optional<Batch> TakeReadyLocked(SteadyTime now, bool flush) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckRoomLocked() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void DropStaleLocked(SteadyTime now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailLocked(const TaskPtr& task, const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const BatchingOptions options_;
  Clock* const clock_;
  const DropFn on_dropped_;
  mutable absl::Mutex mu_;
  std::map<BucketKey, ShapeQueue> queues_ ABSL_GUARDED_BY(mu_);
  size_t queued_ ABSL_GUARDED_BY(mu_) = 0;
  // Bumped by every change a waiting executor must look at (a new task,
  // a withdrawal, shutdown).
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace ctrlfuse::server
