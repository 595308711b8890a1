#include "server/memory_model.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ctrlfuse::server {
namespace {

double GiB(double bytes) { return bytes / double(1ull << 30); }

}  // namespace

void MemoryModel::StartWarmup(double baseline_rss_bytes, double limit_bytes) {
  absl::MutexLock lock(&mu_);
  baseline_ = baseline_rss_bytes;
  limit_ = limit_bytes;
  peak_ = baseline_rss_bytes;
}

void MemoryModel::ObserveStep(const BucketKey& bucket, size_t batch, double peak_rss_bytes) {
  const double pixels = double(bucket.width) * double(bucket.height) * double(batch);
  absl::MutexLock lock(&mu_);
  // Only a step that raised the peak says what it needed; a later, smaller
  // step reads the same peak and would overstate its own need.
  if (pixels <= 0 || peak_rss_bytes <= peak_) return;
  peak_ = peak_rss_bytes;
  const double per_pixel = (peak_rss_bytes - baseline_) / pixels;
  if (bytes_per_pixel_ == 0 || per_pixel < bytes_per_pixel_) bytes_per_pixel_ = per_pixel;
}

double MemoryModel::EstimateBytes(const BucketKey& bucket) const {
  absl::MutexLock lock(&mu_);
  return bytes_per_pixel_ * double(bucket.width) * double(bucket.height);
}

absl::Status MemoryModel::Check(const BucketKey& bucket) const {
  const double need = EstimateBytes(bucket);
  absl::MutexLock lock(&mu_);
  const double budget = limit_ - baseline_;
  if (need <= 0 || limit_ <= 0 || need <= budget) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrFormat(
      "%s needs about %.1f GiB on this server, which has %.1f GiB for requests (memory limit %.1f GiB minus the "
      "model's %.1f GiB): send a smaller image",
      bucket.ToString(), GiB(need), GiB(budget), GiB(limit_), GiB(baseline_)));
}

}  // namespace ctrlfuse::server
