// Text prompts: Grounded-SAM. GroundingDINO (the grounding engine) finds
// boxes for the caption's phrases on the visible image, the infrared, or
// each; SAM turns each image's boxes into masks against one embedding of
// that image (the engine's SegmentVisible takes any image), OR-ed into the
// mask prompt. Without a grounding model: UNIMPLEMENTED, naming the flags.
#include <algorithm>
#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "image/image_data.h"
#include "server/prompts/prompt_kind.h"

namespace ctrlfuse::server {
namespace {

// As box prompts: each box is one SAM decode. The best-scoring are kept.
constexpr size_t kMaxDetections = 64;

class TextPrompt : public ParsedPrompt {
 public:
  TextPrompt(api::GroundingQuery query, v1::GroundingSource source) : query_(std::move(query)), source_(source) {}

  absl::StatusOr<ResolvedPrompt> Resolve(const PromptServices& services, const api::ImageData& visible,
                                         const cv::Mat& infrared) const override {
    if (!services.grounding) return absl::UnimplementedError("prompt.text: this server has no grounding model");
    ResolvedPrompt r;
    r.mask = cv::Mat::zeros(visible.height, visible.width, CV_8UC1);
    const bool both = source_ == v1::GROUNDING_SOURCE_BOTH;
    if (both || source_ != v1::GROUNDING_SOURCE_INFRARED) {
      if (auto s = Ground(services, visible, v1::GROUNDING_SOURCE_VISIBLE, r); !s.ok()) return s;
    }
    if (both || source_ == v1::GROUNDING_SOURCE_INFRARED) {
      if (auto s = Ground(services, image::ToImageData(infrared), v1::GROUNDING_SOURCE_INFRARED, r); !s.ok()) return s;
    }
    return r;
  }

 private:
  absl::Status Ground(const PromptServices& services, const api::ImageData& image, v1::GroundingSource source,
                      ResolvedPrompt& r) const {
    const auto t0 = std::chrono::steady_clock::now();
    auto found = services.grounding->Detect(image, query_);
    r.grounding_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!found.ok()) return found.status();
    r.text_cache_hit = r.text_cache_hit || found->text_cache_hit;
    std::vector<api::Detection> dets = std::move(found->detections);
    if (dets.size() > kMaxDetections) {
      std::stable_sort(dets.begin(), dets.end(), [](const auto& a, const auto& b) { return a.score > b.score; });
      dets.resize(kMaxDetections);
    }
    if (dets.empty()) return absl::OkStatus();
    api::GeometricPrompt boxes;
    for (const api::Detection& d : dets) {
      boxes.boxes.push_back({d.x0, d.y0, d.x1, d.y1});
      v1::Detection& out = r.detections.emplace_back();
      out.mutable_box()->set_x0(d.x0);
      out.mutable_box()->set_y0(d.y0);
      out.mutable_box()->set_x1(d.x1);
      out.mutable_box()->set_y1(d.y1);
      out.set_score(d.score);
      out.set_phrase(d.phrase);
      out.set_source(source);
    }
    auto mask = services.engine->SegmentVisible(image, boxes);
    if (!mask.ok()) return mask.status();
    cv::bitwise_or(r.mask, cv::Mat(image.height, image.width, CV_8UC1, mask->data()), r.mask);
    return absl::OkStatus();
  }

  const api::GroundingQuery query_;
  const v1::GroundingSource source_;
};

absl::StatusOr<float> Threshold(float value, float fallback, const char* field) {
  if (value == 0) return fallback;
  if (!std::isfinite(value) || value < 0 || value >= 1)
    return InvalidField(field, absl::StrCat(value, " is not in (0, 1); 0 uses the server's default"));
  return value;
}

absl::StatusOr<std::unique_ptr<const ParsedPrompt>> ParseText(const v1::Prompt& prompt, const PromptContext& c) {
  if (!c.grounding)
    return absl::UnimplementedError(
        "prompt.text: text prompts need Grounded-SAM's GroundingDINO; start the server with --grounding_checkpoint "
        "(the official groundingdino_swint_ogc.pth) and --grounding_vocab (BERT's bert-base-uncased vocab.txt)");
  const v1::TextPrompt& text = prompt.text();
  if (auto s = c.grounding->ValidateCaption(text.text()); !s.ok()) return InvalidField("prompt.text.text", s.message());
  api::GroundingQuery query;
  query.caption = text.text();
  auto box = Threshold(text.box_threshold(), c.text_defaults.box_threshold, "prompt.text.box_threshold");
  if (!box.ok()) return box.status();
  auto words = Threshold(text.text_threshold(), c.text_defaults.text_threshold, "prompt.text.text_threshold");
  if (!words.ok()) return words.status();
  query.box_threshold = *box;
  query.text_threshold = *words;
  if (!std::isfinite(text.nms_iou()) || text.nms_iou() < 0 || text.nms_iou() >= 1)
    return InvalidField("prompt.text.nms_iou", absl::StrCat(text.nms_iou(), " is not in [0, 1); 0 turns NMS off"));
  query.nms_iou = text.nms_iou();
  if (!v1::GroundingSource_IsValid(text.source()))
    return InvalidField("prompt.text.source", absl::StrCat("unknown value ", text.source()));
  return std::make_unique<const TextPrompt>(std::move(query), text.source());
}

}  // namespace

extern const PromptKind kTextPrompt = {v1::Prompt::kText, /*served=*/true, ParseText, /*needs_grounding=*/true};

}  // namespace ctrlfuse::server
