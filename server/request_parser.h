// First pipeline stage: a FuseRequest's bytes become validated images and a
// prompt. Every problem is INVALID_ARGUMENT (UNIMPLEMENTED for text) with a
// message naming the field.
#pragma once

#include <opencv2/core.hpp>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ctrlfuse/v1/fusion.pb.h"

namespace ctrlfuse::server {

struct ParsedRequest {
  cv::Mat infrared;  // 8U or 16U, 1 or 3 channels
  cv::Mat visible;   // 8U or 16U, 1 or 3 channels
  enum class PromptKind { kNone, kMask, kBoxes, kPoints } prompt_kind = PromptKind::kNone;
  cv::Mat mask;               // CV_8UC1 for mask prompts
  std::vector<float> boxes;   // x0 y0 x1 y1 ...
  std::vector<float> points;  // x y ...
  std::vector<int> point_labels;
  bool colour = false;
  v1::OutputEncoding encoding = v1::OUTPUT_ENCODING_PNG;
  int jpeg_quality = 90;
  std::vector<v1::MaskKind> return_masks;
  std::vector<std::string> metrics;  // validated names
  std::string ir_normalization = "percentile";
};

struct ParseLimits {
  uint64_t max_pixels = 4096ull * 4096ull;
};

// `known_metrics`: names the server can compute ("all" expands to them).
absl::StatusOr<ParsedRequest> ParseRequest(const v1::FuseRequest& request, const ParseLimits& limits,
                                           const std::vector<std::string>& known_metrics);

}  // namespace ctrlfuse::server
