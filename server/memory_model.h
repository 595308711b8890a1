// How much memory a request needs on a CPU engine, learnt at warm-up, so
// that a request within --max_pixels that the container cannot hold is
// refused (RESOURCE_EXHAUSTED) instead of taking the process into the
// kernel's OOM killer: on a CPU host allocations do not fail, the process
// dies (a 16.7 Mpx request could need > 20 GiB). On CUDA the engine's own
// out-of-memory errors split batches instead (server/batch_runner.h).
//
// The estimate: the lowest bytes per image-pixel among the warm-up steps
// that raised the process's peak RSS above the resident baseline taken
// before the warm-up (the model's weights and the rest), times a request's
// pixels. The budget: the memory limit (the cgroup's, else the machine's)
// minus that baseline.
//
// Thread-safety: StartWarmup/ObserveStep/SetLimit from the warm-up thread
// before serving; Check from any thread afterwards (guarded throughout).
#pragma once

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "server/batching/task.h"

namespace ctrlfuse::server {

class MemoryModel {
 public:
  void StartWarmup(double baseline_rss_bytes, double limit_bytes) ABSL_LOCKS_EXCLUDED(mu_);
  // One warm-up step of `batch` images of `bucket`, after which the peak
  // RSS was `peak_rss_bytes`.
  void ObserveStep(const BucketKey& bucket, size_t batch, double peak_rss_bytes) ABSL_LOCKS_EXCLUDED(mu_);
  // Bytes one image of `bucket` needs beyond the baseline; 0 when unknown.
  double EstimateBytes(const BucketKey& bucket) const ABSL_LOCKS_EXCLUDED(mu_);
  // OK, or RESOURCE_EXHAUSTED when one image of `bucket` alone would need
  // more than the budget.
  absl::Status Check(const BucketKey& bucket) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  double baseline_ ABSL_GUARDED_BY(mu_) = 0, limit_ ABSL_GUARDED_BY(mu_) = 0;
  double peak_ ABSL_GUARDED_BY(mu_) = 0;             // the highest peak seen so far
  double bytes_per_pixel_ ABSL_GUARDED_BY(mu_) = 0;  // 0: nothing learnt
};

}  // namespace ctrlfuse::server
