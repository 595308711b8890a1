// The prompt-kind registry: one line per kind, each defined in its own file.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/kinds.h"
#include "server/prompts/prompt_kind.h"

namespace ctrlfuse::server {

extern const PromptKind kMaskPrompt;     // mask_prompt.cc
extern const PromptKind kRleMaskPrompt;  // mask_prompt.cc
extern const PromptKind kBoxPrompt;      // geometric_prompt.cc
extern const PromptKind kPointPrompt;    // geometric_prompt.cc
extern const PromptKind kTextPrompt;     // text_prompt.cc
extern const PromptKind kNoPrompt;       // no_prompt.cc

const std::vector<PromptKind>& PromptKinds() {
  static const std::vector<PromptKind> kinds = {
      kMaskPrompt, kRleMaskPrompt, kBoxPrompt, kPointPrompt, kTextPrompt, kNoPrompt,
  };
  return kinds;
}

std::vector<std::string> ServedPromptKindNames(bool with_grounding) {
  std::vector<std::string> names;
  for (const auto& k : PromptKinds())
    if (k.served && (with_grounding || !k.needs_grounding)) names.push_back(v1::PromptKindName(k.kind_case));
  return names;
}

absl::StatusOr<std::unique_ptr<const ParsedPrompt>> ParsePrompt(const v1::Prompt& prompt,
                                                                const PromptContext& context) {
  for (const auto& k : PromptKinds())
    if (k.kind_case == prompt.kind_case()) return k.parse(prompt, context);
  std::vector<std::string> names;
  for (const auto& k : PromptKinds()) names.push_back(v1::PromptKindName(k.kind_case));
  return InvalidField("prompt", absl::StrCat("empty prompt (set ", absl::StrJoin(names, ", "), ")"));
}

absl::Status InvalidField(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

}  // namespace ctrlfuse::server
