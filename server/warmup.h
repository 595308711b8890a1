// Warm-up: runs every bucket at every batch size once before the server
// reports SERVING, so no client pays for first-call allocations and kernel
// selection.
#pragma once

#include <opencv2/core.hpp>

#include <vector>

#include "absl/status/status.h"
#include "model/api/fusion_engine.h"

namespace ctrlfuse::server {

absl::Status Warmup(api::FusionEngine& engine, const std::vector<cv::Size>& buckets, size_t max_batch_size);

}  // namespace ctrlfuse::server
