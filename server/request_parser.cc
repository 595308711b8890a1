#include "server/request_parser.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/image_field.h"

namespace ctrlfuse::server {
namespace {

absl::Status ParseOutput(const v1::FuseOptions& o, const std::vector<std::string>& known_metrics, OutputOptions* out) {
  if (!v1::ColorMode_IsValid(o.color()))
    return InvalidField("options.color", absl::StrCat("unknown value ", o.color()));
  if (!v1::OutputEncoding_IsValid(o.encoding()))
    return InvalidField("options.encoding", absl::StrCat("unknown value ", o.encoding()));
  out->colour = o.color() == v1::COLOR_MODE_COLOR;
  out->encoding = o.encoding() == v1::OUTPUT_ENCODING_UNSPECIFIED ? v1::OUTPUT_ENCODING_PNG : o.encoding();
  if (o.jpeg_quality() > 100)
    return InvalidField("options.jpeg_quality", absl::StrCat(o.jpeg_quality(), " is above 100"));
  out->jpeg_quality = o.jpeg_quality() == 0 ? 90 : int(o.jpeg_quality());
  for (int i = 0; i < o.return_masks_size(); ++i) {
    const int k = o.return_masks(i);
    if (!v1::MaskKind_IsValid(k) || k == v1::MASK_KIND_UNSPECIFIED)
      return InvalidField(absl::StrCat("options.return_masks[", i, "]"), absl::StrCat("unknown value ", k));
    out->return_masks.push_back(static_cast<v1::MaskKind>(k));
  }
  // Every name is checked wherever "all" stands, and each metric is
  // computed once however often it is named (10,000 x "EN" cost ~9 s of
  // CPU on the handler's thread).
  bool all = false;
  for (const auto& m : o.metrics()) {
    if (m == "all") {
      all = true;
      continue;
    }
    if (std::find(known_metrics.begin(), known_metrics.end(), m) == known_metrics.end())
      return InvalidField("options.metrics", absl::StrCat("unknown metric '", m,
                                                          "' (known: ", absl::StrJoin(known_metrics, ", "), ", all)"));
    if (std::find(out->metrics.begin(), out->metrics.end(), m) == out->metrics.end()) out->metrics.push_back(m);
  }
  if (all) out->metrics = known_metrics;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ParsedRequest> ParseRequest(const v1::FuseRequest& req, const ParseLimits& limits,
                                           const std::vector<std::string>& known_metrics) {
  ParsedRequest p;
  auto ir = ParseImageField(req.infrared(), "infrared", limits.max_pixels);
  if (!ir.ok()) return ir.status();
  auto vis = ParseImageField(req.visible(), "visible", limits.max_pixels);
  if (!vis.ok()) return vis.status();
  p.infrared = *ir;
  p.visible = *vis;
  if (p.infrared.size() != p.visible.size())
    return InvalidField("visible", absl::StrCat("size ", p.visible.cols, "x", p.visible.rows, " differs from infrared ",
                                                p.infrared.cols, "x", p.infrared.rows));
  auto prompt =
      ParsePrompt(req.prompt(), {p.infrared.size(), limits.max_pixels, limits.grounding, limits.text_defaults});
  if (!prompt.ok()) return prompt.status();
  p.prompt = std::move(*prompt);
  if (auto s = ParseOutput(req.options(), known_metrics, &p.output); !s.ok()) return s;
  const std::string& norm = req.options().ir_normalization();
  if (!norm.empty() && !model::ParseIrNormalization(norm, &p.ir_normalization))
    return InvalidField("options.ir_normalization", absl::StrCat("unknown '", norm, "'"));
  return p;
}

}  // namespace ctrlfuse::server
