// How long the model takes for a request, learnt from the batches it ran
// (and the warm-up): seconds per image per pixel, per bucket (exact sizes
// seen) with a server-wide rate for sizes not seen yet. It lets the
// pipeline refuse at once a request that cannot finish before its deadline
// even if it ran alone right now (a 1920x1080 pair with a 5 s deadline
// held the only executor ~60 s before it failed).
//
// The estimate is a lower bound by construction: it ignores the queue,
// and the cost grows faster than the pixel count on these models, so
// extrapolating the rate from smaller sizes errs toward admitting.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <cstdint>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/batching/task.h"

namespace ctrlfuse::server {

class CostModel {
 public:
  // One batch of `batch_size` images of `bucket` took `seconds`.
  void Observe(const BucketKey& bucket, size_t batch_size, double seconds) ABSL_LOCKS_EXCLUDED(mu_);
  // Seconds the model needs for one image of `bucket`; 0 while nothing has
  // been observed (nothing is refused then).
  double EstimateSeconds(const BucketKey& bucket) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Recent batches weigh more: the rate follows thread-count or load
  // changes within a few batches.
  static constexpr double kWeight = 0.3;
  mutable absl::Mutex mu_;
  std::map<BucketKey, double> per_bucket_ ABSL_GUARDED_BY(mu_);  // seconds per image
  double per_pixel_ ABSL_GUARDED_BY(mu_) = 0;                    // seconds per image per pixel
};

}  // namespace ctrlfuse::server
