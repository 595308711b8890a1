// Box and point prompts: SAM turns them into a mask on the visible image
// (the engine's SegmentVisible), before the request queues for fusion.
#include <cmath>

#include "absl/strings/str_cat.h"
#include "server/prompts/prompt_kind.h"

namespace ctrlfuse::server {
namespace {

// Each box is one SAM decode; bound the work one request can ask for.
constexpr int kMaxBoxes = 64;
constexpr int kMaxPoints = 256;

class GeometricPrompt : public ParsedPrompt {
 public:
  explicit GeometricPrompt(api::GeometricPrompt prompt) : prompt_(std::move(prompt)) {}
  absl::StatusOr<ResolvedPrompt> Resolve(const PromptServices& services, const api::ImageData& visible,
                                         const cv::Mat&) const override {
    auto mask = services.engine->SegmentVisible(visible, prompt_);
    if (!mask.ok()) return mask.status();
    ResolvedPrompt r;
    r.mask = cv::Mat(visible.height, visible.width, CV_8UC1, mask->data()).clone();
    return r;
  }

 private:
  api::GeometricPrompt prompt_;
};

bool Finite(float v) { return std::isfinite(v); }

absl::StatusOr<std::unique_ptr<const ParsedPrompt>> ParseBoxes(const v1::Prompt& prompt, const PromptContext& c) {
  const auto& boxes = prompt.boxes().boxes();
  if (boxes.empty()) return InvalidField("prompt.boxes", "empty prompt: no boxes");
  if (boxes.size() > kMaxBoxes)
    return InvalidField("prompt.boxes", absl::StrCat(boxes.size(), " boxes, at most ", kMaxBoxes));
  const int w = c.image_size.width, h = c.image_size.height;
  api::GeometricPrompt out;
  for (int i = 0; i < boxes.size(); ++i) {
    const auto& b = boxes[i];
    if (!Finite(b.x0()) || !Finite(b.y0()) || !Finite(b.x1()) || !Finite(b.y1()) || b.x1() <= b.x0() ||
        b.y1() <= b.y0() || b.x1() <= 0 || b.y1() <= 0 || b.x0() >= w || b.y0() >= h)
      return InvalidField(absl::StrCat("prompt.boxes[", i, "]"), "needs x0 < x1, y0 < y1 and to overlap the image");
    out.boxes.push_back({b.x0(), b.y0(), b.x1(), b.y1()});
  }
  return std::make_unique<const GeometricPrompt>(std::move(out));
}

absl::StatusOr<std::unique_ptr<const ParsedPrompt>> ParsePoints(const v1::Prompt& prompt, const PromptContext& c) {
  const auto& points = prompt.points().points();
  if (points.empty()) return InvalidField("prompt.points", "empty prompt: no points");
  if (points.size() > kMaxPoints)
    return InvalidField("prompt.points", absl::StrCat(points.size(), " points, at most ", kMaxPoints));
  const int w = c.image_size.width, h = c.image_size.height;
  api::GeometricPrompt out;
  for (int i = 0; i < points.size(); ++i) {
    const auto& pt = points[i];
    if (!Finite(pt.x()) || !Finite(pt.y()) || pt.x() < 0 || pt.y() < 0 || pt.x() >= w || pt.y() >= h)
      return InvalidField(absl::StrCat("prompt.points[", i, "]"), "outside the image");
    out.points.push_back({pt.x(), pt.y(), pt.foreground()});
  }
  return std::make_unique<const GeometricPrompt>(std::move(out));
}

}  // namespace

extern const PromptKind kBoxPrompt = {v1::Prompt::kBoxes, /*served=*/true, ParseBoxes};
extern const PromptKind kPointPrompt = {v1::Prompt::kPoints, /*served=*/true, ParsePoints};

}  // namespace ctrlfuse::server
