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

namespace ctrlfuse::server {

// A validated prompt of one request.
class ParsedPrompt {
 public:
  virtual ~ParsedPrompt() = default;
  // The width*height CV_8UC1 mask prompt (0..255) for this request; an
  // empty Mat means no prompt (the network gets an all-zero mask). Runs on
  // the request's handler thread, before it queues; `visible` is the
  // request's visible image as the engine takes it.
  virtual absl::StatusOr<cv::Mat> Resolve(api::FusionEngine& engine, const api::ImageData& visible) const = 0;
};

struct PromptContext {
  cv::Size image_size;      // of the request's images; prompts must match it
  uint64_t max_pixels = 0;  // for prompts that carry an image
};

using PromptParser = absl::StatusOr<std::unique_ptr<const ParsedPrompt>> (*)(const v1::Prompt& prompt,
                                                                             const PromptContext& context);

struct PromptKind {
  v1::Prompt::KindCase kind_case;
  // Whether the server serves it (GetModelInfo.prompt_kinds lists these).
  bool served;
  PromptParser parse;
};

// Every kind of the oneof, in field order.
const std::vector<PromptKind>& PromptKinds();
// Names (the proto field names) of the kinds the server serves.
std::vector<std::string> ServedPromptKindNames();
// Parses `prompt` with its kind's parser; INVALID_ARGUMENT for an empty
// oneof.
absl::StatusOr<std::unique_ptr<const ParsedPrompt>> ParsePrompt(const v1::Prompt& prompt, const PromptContext& context);

// Field-named INVALID_ARGUMENT, the house format: "<field>: <what>".
absl::Status InvalidField(absl::string_view field, absl::string_view what);

}  // namespace ctrlfuse::server
