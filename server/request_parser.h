// First pipeline stage: a FuseRequest's bytes become validated images, a
// parsed prompt (server/prompts/) and typed output options. Every problem
// is INVALID_ARGUMENT (UNIMPLEMENTED for a kind not served) with a message
// naming the field.
#pragma once

#include <opencv2/core.hpp>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ctrlfuse/v1/fusion.pb.h"
#include "model/ir_normalization.h"
#include "server/prompts/prompt_kind.h"

namespace ctrlfuse::server {

// What the client asked to get back.
struct OutputOptions {
  bool colour = false;
  v1::OutputEncoding encoding = v1::OUTPUT_ENCODING_PNG;
  int jpeg_quality = 90;
  std::vector<v1::MaskKind> return_masks;
  std::vector<std::string> metrics;  // validated names
};

struct ParsedRequest {
  cv::Mat infrared;  // 8U or 16U, 1 or 3 channels
  cv::Mat visible;   // 8U or 16U, 1 or 3 channels, the infrared's size
  std::unique_ptr<const ParsedPrompt> prompt;
  model::IrNormalization ir_normalization;
  OutputOptions output;
};

struct ParseLimits {
  uint64_t max_pixels = 4096ull * 4096ull;
  // Text prompts (borrowed; null: UNIMPLEMENTED) and their default thresholds.
  const api::GroundingEngine* grounding = nullptr;
  TextPromptDefaults text_defaults;
};

// `known_metrics`: names the server can compute ("all" expands to them).
absl::StatusOr<ParsedRequest> ParseRequest(const v1::FuseRequest& request, const ParseLimits& limits,
                                           const std::vector<std::string>& known_metrics);

}  // namespace ctrlfuse::server
