#include "server/batching/scheduler.h"

#include "absl/strings/str_cat.h"

namespace ctrlfuse::server {

absl::Status BatchingOptions::Validate() const {
  if (max_batch_size < 1) return absl::InvalidArgumentError("max_batch_size: must be at least 1");
  if (max_queued < 1) return absl::InvalidArgumentError("max_queued: must be at least 1");
  if (max_queue_delay < Duration::zero()) return absl::InvalidArgumentError("max_queue_delay: must not be negative");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<BatchScheduler>> BatchScheduler::Create(BatchingOptions options, Clock* clock,
                                                                       DropFn on_dropped) {
  if (auto s = options.Validate(); !s.ok()) return s;
  if (!clock) return absl::InvalidArgumentError("clock: missing");
  return std::unique_ptr<BatchScheduler>(new BatchScheduler(options, clock, std::move(on_dropped)));
}

BatchScheduler::BatchScheduler(BatchingOptions options, Clock* clock, DropFn on_dropped)
    : options_(options), clock_(clock), on_dropped_(std::move(on_dropped)) {}

absl::Status BatchScheduler::CheckRoomLocked() const {
  if (shutdown_) return absl::UnavailableError("server is shutting down");
  if (queued_ >= options_.max_queued)
    return absl::UnavailableError(absl::StrCat("queue full (", options_.max_queued, " requests waiting); retry later"));
  return absl::OkStatus();
}

absl::Status BatchScheduler::CheckRoom() const {
  absl::ReaderMutexLock lock(&mu_);
  return CheckRoomLocked();
}

absl::Status BatchScheduler::Schedule(TaskPtr task) {
  absl::MutexLock lock(&mu_);
  if (auto room = CheckRoomLocked(); !room.ok()) return room;
  task->enqueued = clock_->Now();
  auto it = queues_.try_emplace(task->bucket, task->bucket).first;
  it->second.Push(std::move(task));
  ++queued_;
  ++version_;
  return absl::OkStatus();
}

void BatchScheduler::FailLocked(const TaskPtr& task, const absl::Status& status) {
  --queued_;
  ++version_;
  if (on_dropped_) on_dropped_(*task, status);
  task->Fail(status);
}

void BatchScheduler::DropStaleLocked(SteadyTime now) {
  for (auto it = queues_.begin(); it != queues_.end();) {
    std::vector<absl::Status> reasons;  // one per dropped task, in order
    auto dropped = it->second.RemoveIf([&](const BatchTask& t) {
      absl::Status why = GiveUpReason(t, now, "while queued");
      if (why.ok()) return false;
      reasons.push_back(std::move(why));
      return true;
    });
    it = it->second.empty() ? queues_.erase(it) : std::next(it);
    for (size_t k = 0; k < dropped.size(); ++k) FailLocked(dropped[k], reasons[k]);
  }
}

bool BatchScheduler::Withdraw(const TaskPtr& task, const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  auto it = queues_.find(task->bucket);
  if (it == queues_.end()) return false;
  auto removed = it->second.RemoveIf([&](const BatchTask& t) { return &t == task.get(); });
  if (it->second.empty()) queues_.erase(it);
  if (removed.empty()) return false;
  FailLocked(removed.front(), status);
  return true;
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
  absl::MutexLock lock(&mu_);
  const SteadyTime now = clock_->Now();
  DropStaleLocked(now);
  return TakeReadyLocked(now, shutdown_);
}

std::optional<Batch> BatchScheduler::NextBatch() {
  absl::MutexLock lock(&mu_);
  while (true) {
    const SteadyTime now = clock_->Now();
    DropStaleLocked(now);
    if (auto b = TakeReadyLocked(now, shutdown_)) return b;
    if (shutdown_ && queued_ == 0) return std::nullopt;
    // Sleep until the earliest bucket becomes ready by delay, or until a
    // push / withdrawal / shutdown changes the state. Deadlines are
    // rechecked on every wake.
    SteadyTime wake = SteadyTime::max();
    for (auto& [key, q] : queues_)
      if (!q.empty()) wake = std::min(wake, q.ReadyAt(options_.max_queue_delay));
    const uint64_t seen = version_;
    // Evaluated with mu_ held (absl::Condition), which the analysis cannot see.
    const auto changed = [this, seen]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return version_ != seen; };
    clock_->WaitUntil(&mu_, absl::Condition(&changed), wake);
  }
}

void BatchScheduler::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutdown_ = true;
  ++version_;
}

size_t BatchScheduler::queued() const {
  absl::MutexLock lock(&mu_);
  return queued_;
}

void BatchScheduler::WaitUntilQueued(size_t n) const {
  const auto reached = [this, n]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return queued_ == n; };
  absl::MutexLock lock(&mu_, absl::Condition(&reached));
}

}  // namespace ctrlfuse::server
