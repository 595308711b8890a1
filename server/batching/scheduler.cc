#include "server/batching/scheduler.h"

#include "absl/strings/str_cat.h"

namespace ctrlfuse::server {

BatchScheduler::BatchScheduler(BatchingOptions options, Clock* clock,
                               std::function<void(const BatchTask&, const absl::Status&)> on_dropped)
    : options_(options), clock_(clock), on_dropped_(std::move(on_dropped)) {}

absl::Status BatchScheduler::Schedule(TaskPtr task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) return absl::UnavailableError("server is shutting down");
    if (queued_ >= options_.max_queued)
      return absl::UnavailableError(
          absl::StrCat("queue full (", options_.max_queued, " requests waiting); retry later"));
    task->enqueued = clock_->Now();
    auto it = queues_.try_emplace(task->bucket, task->bucket).first;
    it->second.Push(std::move(task));
    ++queued_;
  }
  cv_.notify_one();
  return absl::OkStatus();
}

void BatchScheduler::DropStaleLocked(SteadyTime now) {
  for (auto it = queues_.begin(); it != queues_.end();) {
    auto dropped = it->second.RemoveIf([now](const BatchTask& t) { return now >= t.deadline || t.cancelled(); });
    it = it->second.empty() ? queues_.erase(it) : std::next(it);
    for (auto& t : dropped) {
      --queued_;
      const bool expired = now >= t->deadline;
      absl::Status s = expired ? absl::DeadlineExceededError("deadline passed while queued")
                               : absl::CancelledError("client cancelled while queued");
      if (on_dropped_) on_dropped_(*t, s);
      t->Fail(s);
    }
  }
}

std::optional<Batch> BatchScheduler::TakeReadyLocked(SteadyTime now, bool flush) {
  auto best = queues_.end();
  for (auto it = queues_.begin(); it != queues_.end(); ++it) {
    const ShapeQueue& q = it->second;
    if (q.empty()) continue;
    if (!flush && !q.Ready(now, options_.max_batch_size, options_.max_queue_delay)) continue;
    if (best == queues_.end() || q.oldest() < best->second.oldest()) best = it;  // oldest head first
  }
  if (best == queues_.end()) return std::nullopt;
  Batch b = best->second.Take(options_.max_batch_size);
  queued_ -= b.size();
  // Drop emptied buckets: a server seeing many distinct sizes must not grow.
  if (best->second.empty()) queues_.erase(best);
  return b;
}

std::optional<Batch> BatchScheduler::TryNextBatch() {
  std::lock_guard<std::mutex> lock(mu_);
  const SteadyTime now = clock_->Now();
  DropStaleLocked(now);
  return TakeReadyLocked(now, shutdown_);
}

std::optional<Batch> BatchScheduler::NextBatch() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    const SteadyTime now = clock_->Now();
    DropStaleLocked(now);
    if (auto b = TakeReadyLocked(now, shutdown_)) return b;
    if (shutdown_ && queued_ == 0) return std::nullopt;
    // Sleep until the earliest bucket becomes ready by delay (or a push /
    // shutdown wakes us). Deadlines are rechecked on every wake.
    SteadyTime wake = SteadyTime::max();
    for (auto& [key, q] : queues_)
      if (!q.empty()) wake = std::min(wake, q.ReadyAt(options_.max_queue_delay));
    if (wake == SteadyTime::max()) {
      cv_.wait(lock);
    } else {
      clock_->WaitUntil(cv_, lock, wake);
    }
  }
}

void BatchScheduler::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
  }
  cv_.notify_all();
}

size_t BatchScheduler::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_;
}

}  // namespace ctrlfuse::server
