// The request pipeline: decode -> prompt -> bucket -> batch -> model ->
// encode. Fuse() runs the per-request stages on the caller's thread and
// waits for the batch its request joins; executor threads run the batches
// (encode-cache lookups, one batched encode of the misses, one batched
// decode).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "ctrlfuse/v1/fusion.pb.h"
#include "model/api/fusion_engine.h"
#include "server/batching/scheduler.h"
#include "server/encode_cache.h"
#include "server/metrics.h"
#include "server/request_parser.h"

namespace ctrlfuse::server {

// Computes the named quality metrics for (ir, vis, fused) as decoded (8- or
// 16-bit, grey or colour: the quality library converts, as ctrlfuse-eval does).
using QualityFn = std::function<std::map<std::string, double>(
    const cv::Mat& ir, const cv::Mat& vis, const cv::Mat& fused, const std::vector<std::string>& names)>;

struct PipelineOptions {
  BatchingOptions batching;
  int executors = 1;                  // model instances pulling batches
  int64_t cache_bytes = 256ll << 20;  // encode cache capacity (0 = off)
  // Pad-to-bucket policy: sizes (w x h) a request is padded up to (smallest
  // that fits); empty = exact-shape buckets.
  std::vector<cv::Size> pad_buckets;
  ParseLimits limits;
  std::vector<std::string> known_metrics;
  QualityFn quality;
};

class FusionPipeline {
 public:
  FusionPipeline(api::FusionEngine* engine, PipelineOptions options, Metrics* metrics, Clock* clock);
  ~FusionPipeline();

  void Start();
  // Stops admission, lets executors finish what is queued, joins them.
  void Stop();

  // Runs every bucket at every batch size once (first-request latency).
  absl::Status Warmup(const std::vector<cv::Size>& sizes);

  // One request, end to end. `cancelled` is polled while queued.
  absl::StatusOr<v1::FuseResponse> Fuse(const v1::FuseRequest& request, SteadyTime deadline,
                                        std::function<bool()> cancelled);

  const PipelineOptions& options() const { return options_; }
  EncodeCache& cache() { return cache_; }

 private:
  void ExecutorLoop();
  void RunBatch(Batch& batch);
  cv::Size BucketFor(cv::Size size) const;

  api::FusionEngine* engine_;
  PipelineOptions options_;
  Metrics* metrics_;
  Clock* clock_;
  BatchScheduler scheduler_;
  EncodeCache cache_;
  std::vector<std::thread> executors_;
  std::atomic<bool> started_{false};
};

}  // namespace ctrlfuse::server
