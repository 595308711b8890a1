// `none`: plain fusion with no target (the network gets an all-zero mask).
#include "server/prompts/prompt_kind.h"

namespace ctrlfuse::server {
namespace {

class NoPrompt : public ParsedPrompt {
 public:
  absl::StatusOr<ResolvedPrompt> Resolve(const PromptServices&, const api::ImageData&, const cv::Mat&) const override {
    return ResolvedPrompt{};
  }
};

absl::StatusOr<std::unique_ptr<const ParsedPrompt>> ParseNone(const v1::Prompt&, const PromptContext&) {
  return std::make_unique<const NoPrompt>();
}

}  // namespace

extern const PromptKind kNoPrompt = {v1::Prompt::kNone, /*served=*/true, ParseNone};

}  // namespace ctrlfuse::server
