#include "client/request_builder.h"

#include <opencv2/core.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "image/codec.h"

namespace ctrlfuse::client {
namespace {

absl::StatusOr<std::vector<float>> Numbers(absl::string_view group, size_t want, const char* flag) {
  std::vector<float> out;
  for (absl::string_view n : absl::StrSplit(group, ',')) {
    float v = 0;
    if (!absl::SimpleAtof(n, &v))
      return absl::InvalidArgumentError(absl::StrCat("--", flag, ": '", n, "' is not a number"));
    out.push_back(v);
  }
  if (out.size() != want)
    return absl::InvalidArgumentError(absl::StrCat("--", flag, ": '", group, "' needs ", want, " numbers"));
  return out;
}

}  // namespace

absl::StatusOr<v1::Prompt> BuildPrompt(const PromptSpec& spec) {
  v1::Prompt p;
  const int set = !spec.mask_file.empty() + !spec.boxes.empty() + !spec.points.empty() + !spec.text.empty();
  if (set > 1) return absl::InvalidArgumentError("give one prompt: --mask, --boxes, --points or --text");
  if (!spec.mask_file.empty()) {
    auto bytes = image::ReadFile(spec.mask_file);
    if (!bytes.ok()) return bytes.status();
    p.mutable_mask()->set_encoded(std::move(*bytes));
  } else if (!spec.boxes.empty()) {
    for (absl::string_view group : absl::StrSplit(spec.boxes, ';', absl::SkipEmpty())) {
      auto v = Numbers(group, 4, "boxes");
      if (!v.ok()) return v.status();
      auto* b = p.mutable_boxes()->add_boxes();
      b->set_x0((*v)[0]);
      b->set_y0((*v)[1]);
      b->set_x1((*v)[2]);
      b->set_y1((*v)[3]);
    }
  } else if (!spec.points.empty()) {
    for (absl::string_view group : absl::StrSplit(spec.points, ';', absl::SkipEmpty())) {
      auto v = Numbers(group, 3, "points");
      if (!v.ok()) return v.status();
      auto* pt = p.mutable_points()->add_points();
      pt->set_x((*v)[0]);
      pt->set_y((*v)[1]);
      pt->set_foreground((*v)[2] != 0);
    }
  } else if (!spec.text.empty()) {
    p.mutable_text()->set_text(spec.text);
    p.mutable_text()->set_box_threshold(spec.box_threshold);
    p.mutable_text()->set_text_threshold(spec.text_threshold);
    if (spec.source == "infrared") {
      p.mutable_text()->set_source(v1::GROUNDING_SOURCE_INFRARED);
    } else if (spec.source == "both") {
      p.mutable_text()->set_source(v1::GROUNDING_SOURCE_BOTH);
    } else if (!spec.source.empty() && spec.source != "visible") {
      return absl::InvalidArgumentError("--grounding_source: visible, infrared or both");
    }
  } else {
    p.mutable_none();
  }
  return p;
}

absl::Status ApplyOutput(const OutputSpec& spec, v1::FuseOptions* o) {
  o->set_color(spec.colour ? v1::COLOR_MODE_COLOR : v1::COLOR_MODE_GREY);
  if (spec.encoding == "png")
    o->set_encoding(v1::OUTPUT_ENCODING_PNG);
  else if (spec.encoding == "jpeg" || spec.encoding == "jpg")
    o->set_encoding(v1::OUTPUT_ENCODING_JPEG);
  else if (spec.encoding == "raw")
    o->set_encoding(v1::OUTPUT_ENCODING_RAW);
  else
    return absl::InvalidArgumentError(absl::StrCat("--encoding: unknown '", spec.encoding, "' (png, jpeg, raw)"));
  o->set_jpeg_quality(uint32_t(spec.jpeg_quality));
  if (spec.return_masks)
    for (auto k : {v1::MASK_KIND_FUSED, v1::MASK_KIND_VISIBLE, v1::MASK_KIND_INFRARED, v1::MASK_KIND_PROMPT})
      o->add_return_masks(k);
  for (const auto& m : spec.metrics) o->add_metrics(m);
  o->set_ir_normalization(spec.ir_normalization);
  return absl::OkStatus();
}

absl::StatusOr<v1::FuseRequest> BuildRequest(const std::string& id, const std::string& ir_file,
                                             const std::string& vis_file, const PromptSpec& prompt,
                                             const OutputSpec& output) {
  v1::FuseRequest r;
  r.set_id(id);
  auto ir = image::ReadFile(ir_file);
  if (!ir.ok()) return ir.status();
  auto vis = image::ReadFile(vis_file);
  if (!vis.ok()) return vis.status();
  r.mutable_infrared()->set_encoded(std::move(*ir));
  r.mutable_visible()->set_encoded(std::move(*vis));
  auto p = BuildPrompt(prompt);
  if (!p.ok()) return p.status();
  *r.mutable_prompt() = std::move(*p);
  if (auto s = ApplyOutput(output, r.mutable_options()); !s.ok()) return s;
  return r;
}

absl::Status SaveImage(const v1::Image& img, const std::string& path) {
  if (img.has_raw()) {
    const auto& r = img.raw();
    auto m = image::FromRaw(r.width(), r.height(), r.channels(), r.bit_depth(), r.pixels(), "response", UINT64_MAX);
    if (!m.ok()) return m.status();
    auto png = image::EncodePng(*m);
    if (!png.ok()) return png.status();
    return image::WriteFile(path, *png);
  }
  return image::WriteFile(path, img.encoded());
}

std::string Extension(const v1::Image& img) {
  return img.has_encoded() && image::SniffFormat(img.encoded()) == image::Format::kJpeg ? "jpg" : "png";
}

}  // namespace ctrlfuse::client
