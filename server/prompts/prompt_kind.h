// A prompt kind is one case of the ctrlfuse.v1.Prompt oneof, end to end:
// its parser (validation, field-named errors) and how it becomes the mask
// the network receives. The registry (registry.cc) is the one table the
// request parser, the pipeline and GetModelInfo read; adding a kind is one
// file here plus one line there (docs/architecture.md).
//
// Thread-safety: the registry is immutable; a ParsedPrompt belongs to one
// request and is used by one thread at a time.
#pragma once

#include <opencv2/core.hpp>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ctrlfuse/v1/fusion.pb.h"
#include "model/api/fusion_engine.h"
#include "model/api/grounding_engine.h"

namespace ctrlfuse::server {

// What a prompt became: the mask the network receives and, for text
// prompts, what Grounded-SAM found.
struct ResolvedPrompt {
  cv::Mat mask;  // width*height CV_8UC1 (0..255); empty: no prompt (an all-zero mask)
  std::vector<v1::Detection> detections;
  double grounding_seconds = 0;
  bool text_cache_hit = false;
};

// The engines a prompt may use (borrowed; `grounding` is null on a server
// without a grounding model).
struct PromptServices {
  api::FusionEngine* engine = nullptr;
  api::GroundingEngine* grounding = nullptr;
};

// A validated prompt of one request.
class ParsedPrompt {
 public:
  virtual ~ParsedPrompt() = default;
  // Runs on the request's handler thread, before it queues; `visible` is
  // the request's visible image as the engine takes it, `infrared` the
  // decoded infrared image.
  virtual absl::StatusOr<ResolvedPrompt> Resolve(const PromptServices& services, const api::ImageData& visible,
                                                 const cv::Mat& infrared) const = 0;
};

// Text prompts' thresholds when a request leaves them 0 (server flags).
struct TextPromptDefaults {
  float box_threshold = 0.35f;  // the official predict path's
  float text_threshold = 0.25f;
};

struct PromptContext {
  cv::Size image_size;                              // of the request's images; prompts must match it
  uint64_t max_pixels = 0;                          // for prompts that carry an image
  const api::GroundingEngine* grounding = nullptr;  // null: text prompts UNIMPLEMENTED
  TextPromptDefaults text_defaults;
};

using PromptParser = absl::StatusOr<std::unique_ptr<const ParsedPrompt>> (*)(const v1::Prompt& prompt,
                                                                             const PromptContext& context);

struct PromptKind {
  v1::Prompt::KindCase kind_case;
  // Whether the server serves it (GetModelInfo.prompt_kinds lists these);
  // needs_grounding: only with a grounding model.
  bool served;
  PromptParser parse;
  bool needs_grounding = false;
};

// Every kind of the oneof, in field order.
const std::vector<PromptKind>& PromptKinds();
// Names (the proto field names) of the kinds the server serves.
std::vector<std::string> ServedPromptKindNames(bool with_grounding);
// Parses `prompt` with its kind's parser; INVALID_ARGUMENT for an empty
// oneof.
absl::StatusOr<std::unique_ptr<const ParsedPrompt>> ParsePrompt(const v1::Prompt& prompt, const PromptContext& context);

// Field-named INVALID_ARGUMENT, the house format: "<field>: <what>".
absl::Status InvalidField(absl::string_view field, absl::string_view what);

}  // namespace ctrlfuse::server
