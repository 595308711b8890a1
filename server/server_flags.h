// Command-line flags of ctrlfuse-server (absl flags) and their conversion
// into the pipeline's options.
#pragma once

#include <opencv2/core.hpp>

#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "model/api/fusion_engine.h"
#include "server/fusion_pipeline.h"

ABSL_DECLARE_FLAG(std::string, host);
ABSL_DECLARE_FLAG(int, port);
ABSL_DECLARE_FLAG(int, metrics_port);
ABSL_DECLARE_FLAG(int, drain_seconds);
ABSL_DECLARE_FLAG(int64_t, max_message_bytes);
ABSL_DECLARE_FLAG(std::string, warmup_sizes);
ABSL_DECLARE_FLAG(int, stream_window);
ABSL_DECLARE_FLAG(uint64_t, max_pixels);

namespace ctrlfuse::server {

// "320x240,640x480" -> sizes; errors name the flag.
absl::StatusOr<std::vector<cv::Size>> ParseSizes(const std::string& text, const std::string& flag);

api::EngineOptions EngineOptionsFromFlags();
absl::StatusOr<PipelineOptions> PipelineOptionsFromFlags();

}  // namespace ctrlfuse::server
