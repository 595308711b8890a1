// Builds FuseRequests from files and command-line prompt text.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ctrlfuse/v1/fusion.pb.h"

namespace ctrlfuse::client {

struct PromptSpec {
  std::string mask_file;                        // grey image
  std::string boxes;                            // "x0,y0,x1,y1;x0,y0,x1,y1"
  std::string points;                           // "x,y,1;x,y,0" (1 foreground, 0 background)
  std::string text;                             // Grounded-SAM text prompt
  float box_threshold = 0, text_threshold = 0;  // text: 0 = the server's defaults
  std::string source;                           // text: visible (default), infrared or both
};

struct OutputSpec {
  bool colour = false;
  std::string encoding = "png";  // png, jpeg, raw
  int jpeg_quality = 90;
  bool return_masks = true;  // fused + per-branch + prompt masks
  std::vector<std::string> metrics;
  std::string ir_normalization;
};

absl::StatusOr<v1::Prompt> BuildPrompt(const PromptSpec& spec);
absl::Status ApplyOutput(const OutputSpec& spec, v1::FuseOptions* options);
absl::StatusOr<v1::FuseRequest> BuildRequest(const std::string& id, const std::string& ir_file,
                                             const std::string& vis_file, const PromptSpec& prompt,
                                             const OutputSpec& output);

// Writes an output Image (encoded bytes as they are; raw as PNG) to `path`.
absl::Status SaveImage(const v1::Image& image, const std::string& path);
// File extension for the response's encoding ("png", "jpg").
std::string Extension(const v1::Image& image);

}  // namespace ctrlfuse::client
