// Warm-up: runs every bucket at every batch size once before the server
// reports SERVING, so no client pays for first-call allocations and kernel
// selection.
#pragma once

#include <opencv2/core.hpp>

#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "model/api/fusion_engine.h"

namespace ctrlfuse::server {

// One finished warm-up step, for progress logs: step `index` (1-based) of
// `total`, one bucket at one batch size, and how long it took.
struct WarmupStep {
  size_t index = 0, total = 0;
  cv::Size size;
  size_t batch_size = 0;
  double seconds = 0;
};
// Returns whether to go on: false stops the warm-up after that step (a stop
// signal arrived; the large models' warm-up takes minutes).
using WarmupProgress = std::function<bool(const WarmupStep&)>;

// Encodes and decodes every bucket at every batch size 1..max_batch_size,
// in that order, calling `progress` (if set) after each. CANCELLED ("warm-up
// stopped after step i of n") when `progress` returned false.
absl::Status Warmup(api::FusionEngine& engine, const std::vector<cv::Size>& buckets, size_t max_batch_size,
                    const WarmupProgress& progress = nullptr);

}  // namespace ctrlfuse::server
