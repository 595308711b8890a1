// The unit the batcher queues for the model: one request's padded images,
// mask prompt and wanted outputs, and the promise its handler waits on.
// Built by TaskPreparer on the handler thread, run by BatchRunner on an
// executor thread, which fulfils the promise exactly once (or the
// scheduler does, through Fail, when it drops the task).
#pragma once

#include <future>
#include <vector>

#include "model/api/fusion_engine.h"
#include "server/batching/task.h"
#include "server/encode_cache.h"

namespace ctrlfuse::server {

struct TaskResult {
  absl::Status status;
  api::FusedImage image;  // at the bucket's size
  double compute_seconds = 0, queue_seconds = 0;
  int batch_size = 0;
  bool cache_hit = false;
};

class FuseTask : public BatchTask {
 public:
  api::ImageData ir, vis;     // padded to the bucket
  std::vector<uint8_t> mask;  // bucket-sized; empty = no prompt
  api::PreprocessOptions preprocess;
  std::vector<api::Output> outputs;
  CacheKey key;  // of (ir, vis, preprocess)
  std::promise<TaskResult> promise;

  void Fail(const absl::Status& status) override {
    TaskResult r;
    r.status = status;
    promise.set_value(std::move(r));
  }
};

}  // namespace ctrlfuse::server
