// Text prompts go to Grounded-SAM (GroundingDINO + SAM), which the server
// does not include yet: UNIMPLEMENTED, and not listed in GetModelInfo.
#include "server/prompts/prompt_kind.h"

namespace ctrlfuse::server {
namespace {

absl::StatusOr<std::unique_ptr<const ParsedPrompt>> ParseText(const v1::Prompt&, const PromptContext&) {
  return absl::UnimplementedError(
      "prompt.text: text prompts need Grounded-SAM, which this server does not include yet; "
      "send a mask, boxes or points");
}

}  // namespace

extern const PromptKind kTextPrompt = {v1::Prompt::kText, /*served=*/false, ParseText};

}  // namespace ctrlfuse::server
