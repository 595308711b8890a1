#include "server/cost_model.h"

namespace ctrlfuse::server {
namespace {
double Pixels(const BucketKey& b) { return double(b.width) * double(b.height); }
}  // namespace

void CostModel::Observe(const BucketKey& bucket, size_t batch_size, double seconds) {
  if (batch_size == 0 || seconds <= 0 || Pixels(bucket) <= 0) return;
  const double per_image = seconds / double(batch_size);
  absl::MutexLock lock(&mu_);
  auto [it, fresh] = per_bucket_.try_emplace(bucket, per_image);
  if (!fresh) it->second += kWeight * (per_image - it->second);
  const double rate = per_image / Pixels(bucket);
  per_pixel_ = per_pixel_ == 0 ? rate : per_pixel_ + kWeight * (rate - per_pixel_);
}

double CostModel::EstimateSeconds(const BucketKey& bucket) const {
  absl::MutexLock lock(&mu_);
  if (auto it = per_bucket_.find(bucket); it != per_bucket_.end()) return it->second;
  return per_pixel_ * Pixels(bucket);
}

}  // namespace ctrlfuse::server
