// One unit of work for the batcher: a request waiting to be batched with
// others of the same shape bucket.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/batching/clock.h"

namespace ctrlfuse::server {

// Requests batch together only within a bucket (same padded input size).
struct BucketKey {
  int width = 0, height = 0;
  bool operator<(const BucketKey& o) const { return height != o.height ? height < o.height : width < o.width; }
  bool operator==(const BucketKey& o) const { return width == o.width && height == o.height; }
  std::string ToString() const { return std::to_string(width) + "x" + std::to_string(height); }
};

class BatchTask {
 public:
  virtual ~BatchTask() = default;
  BucketKey bucket;
  SteadyTime enqueued{};
  SteadyTime deadline = SteadyTime::max();
  // Whether the client has gone away (checked before compute).
  std::function<bool()> cancelled = [] { return false; };
  // Completes the task without running it (rejected, expired, cancelled).
  virtual void Fail(const absl::Status& status) = 0;
};

using TaskPtr = std::shared_ptr<BatchTask>;

// Why work with `deadline` and `cancelled` must not go on at `now`:
// DEADLINE_EXCEEDED once the deadline passed, CANCELLED once its client went
// away (a null `cancelled`: never), else OK. The one rule for the scheduler
// (when it forms a batch), the batch runner (between stages), the handlers
// (before queueing, and while waiting) and the decode slots; `when` ends the
// message ("while queued").
inline absl::Status GiveUpReason(SteadyTime deadline, const std::function<bool()>& cancelled, SteadyTime now,
                                 absl::string_view when) {
  if (now >= deadline) return absl::DeadlineExceededError(absl::StrCat("deadline passed ", when));
  if (cancelled && cancelled()) return absl::CancelledError(absl::StrCat("client cancelled ", when));
  return absl::OkStatus();
}
inline absl::Status GiveUpReason(const BatchTask& task, SteadyTime now, absl::string_view when) {
  return GiveUpReason(task.deadline, task.cancelled, now, when);
}

}  // namespace ctrlfuse::server
