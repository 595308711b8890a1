#include "proto/kinds.h"

namespace ctrlfuse::v1 {

const std::vector<MaskKindInfo>& MaskKinds() {
  static const std::vector<MaskKindInfo> kinds = {
      {MASK_KIND_FUSED, "mask"},
      {MASK_KIND_VISIBLE, "mask_vis"},
      {MASK_KIND_INFRARED, "mask_ir"},
      {MASK_KIND_PROMPT, "prompt"},
  };
  return kinds;
}

const char* MaskKindName(MaskKind kind) {
  for (const auto& k : MaskKinds())
    if (k.kind == kind) return k.file_stem;
  return "unknown";
}

std::string PromptKindName(Prompt::KindCase kind) {
  const auto* field = Prompt::descriptor()->FindFieldByNumber(int(kind));
  return field ? field->name() : "";
}

}  // namespace ctrlfuse::v1
