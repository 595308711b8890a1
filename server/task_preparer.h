// Turns one request's decoded images and resolved mask into a FuseTask:
// picks its bucket (the pad-to-bucket policy), pads, and hashes the pair
// for the encode cache.
//
// Thread-safety: immutable after construction; Prepare may run on many
// handler threads at once.
#pragma once

#include <opencv2/core.hpp>

#include <memory>
#include <vector>

#include "server/fuse_task.h"

namespace ctrlfuse::server {

struct PreparedTask {
  std::shared_ptr<FuseTask> task;
  double padding_ratio = 0;  // fraction of the bucket that is padding
};

class TaskPreparer {
 public:
  // `pad_buckets`: sizes (w x h) a request is padded up to (the smallest
  // that fits); empty = exact-shape buckets.
  explicit TaskPreparer(std::vector<cv::Size> pad_buckets) : pad_buckets_(std::move(pad_buckets)) {}

  cv::Size BucketFor(cv::Size size) const;

  // `visible` is the request's visible image as the engine takes it (moved
  // into the task when no padding is needed); `mask` is CV_8UC1 or empty.
  PreparedTask Prepare(const cv::Mat& infrared, const cv::Mat& visible_mat, api::ImageData visible, const cv::Mat& mask,
                       const api::PreprocessOptions& preprocess, std::vector<api::Output> outputs) const;

 private:
  const std::vector<cv::Size> pad_buckets_;
};

// Content hash of both images and the preprocessing: two requests with the
// same key share one encoding.
CacheKey PairKey(const api::ImageData& ir, const api::ImageData& vis, const api::PreprocessOptions& preprocess);

}  // namespace ctrlfuse::server
