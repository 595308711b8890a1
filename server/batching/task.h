// One unit of work for the batcher: a request waiting to be batched with
// others of the same shape bucket.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
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

}  // namespace ctrlfuse::server
