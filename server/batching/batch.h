// A closed batch: tasks of one bucket that run together.
#pragma once

#include <vector>

#include "server/batching/task.h"

namespace ctrlfuse::server {

struct Batch {
  BucketKey bucket;
  std::vector<TaskPtr> tasks;
  bool empty() const { return tasks.empty(); }
  size_t size() const { return tasks.size(); }
};

}  // namespace ctrlfuse::server
