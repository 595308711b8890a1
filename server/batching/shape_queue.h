// FIFO of tasks for one shape bucket; knows when its next batch is ready.
#pragma once

#include <deque>

#include "server/batching/batch.h"

namespace ctrlfuse::server {

class ShapeQueue {
 public:
  explicit ShapeQueue(BucketKey key) : key_(key) {}

  void Push(TaskPtr t) { tasks_.push_back(std::move(t)); }
  size_t size() const { return tasks_.size(); }
  bool empty() const { return tasks_.empty(); }
  // Arrival of the oldest queued task: the queue delay counts from it.
  SteadyTime oldest() const { return tasks_.front()->enqueued; }

  // Ready when full, or when its oldest task has waited max_delay.
  bool Ready(SteadyTime now, size_t max_batch, Duration max_delay) const {
    return !tasks_.empty() && (tasks_.size() >= max_batch || now - oldest() >= max_delay);
  }
  SteadyTime ReadyAt(Duration max_delay) const { return oldest() + max_delay; }

  // Removes up to max_batch tasks, oldest first.
  Batch Take(size_t max_batch) {
    Batch b{key_, {}};
    while (!tasks_.empty() && b.tasks.size() < max_batch) {
      b.tasks.push_back(std::move(tasks_.front()));
      tasks_.pop_front();
    }
    return b;
  }

  // Removes tasks for which `drop` returns true; returns them.
  template <typename Pred>
  std::vector<TaskPtr> RemoveIf(Pred drop) {
    std::vector<TaskPtr> out;
    std::deque<TaskPtr> keep;
    for (auto& t : tasks_) {
      if (drop(*t)) {
        out.push_back(t);
      } else {
        keep.push_back(t);
      }
    }
    tasks_.swap(keep);
    return out;
  }

 private:
  BucketKey key_;
  std::deque<TaskPtr> tasks_;
};

}  // namespace ctrlfuse::server
