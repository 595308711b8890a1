#include "server/request_parser.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "image/codec.h"
#include "image/rle.h"
#include "model/ir_normalization.h"

namespace ctrlfuse::server {
namespace {

// Each box is one SAM decode; bound the work one request can ask for.
constexpr int kMaxBoxes = 64;
constexpr int kMaxPoints = 256;

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::StatusOr<cv::Mat> ParseImage(const v1::Image& img, absl::string_view field, const ParseLimits& limits) {
  switch (img.data_case()) {
    case v1::Image::kEncoded:
      return image::Decode(img.encoded(), absl::StrCat(field, ".encoded"), limits.max_pixels);
    case v1::Image::kRaw: {
      const auto& r = img.raw();
      return image::FromRaw(r.width(), r.height(), r.channels(), r.bit_depth(), r.pixels(), absl::StrCat(field, ".raw"),
                            limits.max_pixels);
    }
    default:
      return Invalid(field, "missing (set encoded or raw)");
  }
}

bool Finite(float v) { return std::isfinite(v); }

}  // namespace

absl::StatusOr<ParsedRequest> ParseRequest(const v1::FuseRequest& req, const ParseLimits& limits,
                                           const std::vector<std::string>& known_metrics) {
  ParsedRequest p;
  auto ir = ParseImage(req.infrared(), "infrared", limits);
  if (!ir.ok()) return ir.status();
  auto vis = ParseImage(req.visible(), "visible", limits);
  if (!vis.ok()) return vis.status();
  p.infrared = *ir;
  p.visible = *vis;
  if (p.infrared.size() != p.visible.size())
    return Invalid("visible", absl::StrCat("size ", p.visible.cols, "x", p.visible.rows, " differs from infrared ",
                                           p.infrared.cols, "x", p.infrared.rows));
  const int w = p.infrared.cols, h = p.infrared.rows;

  const auto& prompt = req.prompt();
  switch (prompt.kind_case()) {
    case v1::Prompt::kMask: {
      auto m = ParseImage(prompt.mask(), "prompt.mask", limits);
      if (!m.ok()) return m.status();
      cv::Mat mask = *m;
      if (mask.size() != p.infrared.size())
        return Invalid("prompt.mask",
                       absl::StrCat("size ", mask.cols, "x", mask.rows, " differs from the images' ", w, "x", h));
      if (mask.channels() != 1)
        return Invalid("prompt.mask", absl::StrCat(mask.channels(), " channels, expected a 1-channel grey mask"));
      if (mask.depth() != CV_8U) return Invalid("prompt.mask", "16-bit mask, expected 8-bit (0..255)");
      p.mask = mask;
      p.prompt_kind = ParsedRequest::PromptKind::kMask;
      break;
    }
    case v1::Prompt::kRleMask: {
      const auto& r = prompt.rle_mask();
      if (r.width() != uint32_t(w) || r.height() != uint32_t(h))
        return Invalid("prompt.rle_mask",
                       absl::StrCat("size ", r.width(), "x", r.height(), " differs from the images' ", w, "x", h));
      auto m = image::DecodeRle(r.width(), r.height(), {r.counts().begin(), r.counts().end()}, "prompt.rle_mask");
      if (!m.ok()) return m.status();
      p.mask = *m;
      p.prompt_kind = ParsedRequest::PromptKind::kMask;
      break;
    }
    case v1::Prompt::kBoxes: {
      if (prompt.boxes().boxes().empty()) return Invalid("prompt.boxes", "empty prompt: no boxes");
      if (prompt.boxes().boxes_size() > kMaxBoxes)
        return Invalid("prompt.boxes", absl::StrCat(prompt.boxes().boxes_size(), " boxes, at most ", kMaxBoxes));
      for (int i = 0; i < prompt.boxes().boxes_size(); ++i) {
        const auto& b = prompt.boxes().boxes(i);
        if (!Finite(b.x0()) || !Finite(b.y0()) || !Finite(b.x1()) || !Finite(b.y1()) || b.x1() <= b.x0() ||
            b.y1() <= b.y0() || b.x1() <= 0 || b.y1() <= 0 || b.x0() >= w || b.y0() >= h)
          return Invalid(absl::StrCat("prompt.boxes[", i, "]"), "needs x0 < x1, y0 < y1 and to overlap the image");
        p.boxes.insert(p.boxes.end(), {b.x0(), b.y0(), b.x1(), b.y1()});
      }
      p.prompt_kind = ParsedRequest::PromptKind::kBoxes;
      break;
    }
    case v1::Prompt::kPoints: {
      if (prompt.points().points().empty()) return Invalid("prompt.points", "empty prompt: no points");
      if (prompt.points().points_size() > kMaxPoints)
        return Invalid("prompt.points", absl::StrCat(prompt.points().points_size(), " points, at most ", kMaxPoints));
      for (int i = 0; i < prompt.points().points_size(); ++i) {
        const auto& pt = prompt.points().points(i);
        if (!Finite(pt.x()) || !Finite(pt.y()) || pt.x() < 0 || pt.y() < 0 || pt.x() >= w || pt.y() >= h)
          return Invalid(absl::StrCat("prompt.points[", i, "]"), "outside the image");
        p.points.insert(p.points.end(), {pt.x(), pt.y()});
        p.point_labels.push_back(pt.foreground() ? 1 : 0);
      }
      p.prompt_kind = ParsedRequest::PromptKind::kPoints;
      break;
    }
    case v1::Prompt::kText:
      return absl::UnimplementedError(
          "prompt.text: text prompts need Grounded-SAM, which this server does not include yet; "
          "send a mask, boxes or points");
    case v1::Prompt::kNone:
      break;
    default:
      return Invalid("prompt", "empty prompt (set mask, rle_mask, boxes, points, text or none)");
  }

  const auto& o = req.options();
  if (!v1::ColorMode_IsValid(o.color())) return Invalid("options.color", absl::StrCat("unknown value ", o.color()));
  if (!v1::OutputEncoding_IsValid(o.encoding()))
    return Invalid("options.encoding", absl::StrCat("unknown value ", o.encoding()));
  p.colour = o.color() == v1::COLOR_MODE_COLOR;
  p.encoding = o.encoding() == v1::OUTPUT_ENCODING_UNSPECIFIED ? v1::OUTPUT_ENCODING_PNG : o.encoding();
  if (o.jpeg_quality() > 100) return Invalid("options.jpeg_quality", absl::StrCat(o.jpeg_quality(), " is above 100"));
  p.jpeg_quality = o.jpeg_quality() == 0 ? 90 : int(o.jpeg_quality());
  for (int i = 0; i < o.return_masks_size(); ++i) {
    const int k = o.return_masks(i);
    if (!v1::MaskKind_IsValid(k) || k == v1::MASK_KIND_UNSPECIFIED)
      return Invalid(absl::StrCat("options.return_masks[", i, "]"), absl::StrCat("unknown value ", k));
    p.return_masks.push_back(static_cast<v1::MaskKind>(k));
  }
  for (const auto& m : o.metrics()) {
    if (m == "all") {
      p.metrics = known_metrics;
      break;
    }
    if (std::find(known_metrics.begin(), known_metrics.end(), m) == known_metrics.end())
      return Invalid("options.metrics",
                     absl::StrCat("unknown metric '", m, "' (known: ", absl::StrJoin(known_metrics, ", "), ", all)"));
    p.metrics.push_back(m);
  }
  if (!o.ir_normalization().empty()) {
    model::IrNormalization n;
    if (!model::ParseIrNormalization(o.ir_normalization(), &n))
      return Invalid("options.ir_normalization", absl::StrCat("unknown '", o.ir_normalization(), "'"));
    p.ir_normalization = o.ir_normalization();
  }
  return p;
}

}  // namespace ctrlfuse::server
