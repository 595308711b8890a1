#include "server/response_builder.h"

#include <algorithm>

#include "image/codec.h"

namespace ctrlfuse::server {
namespace {

absl::StatusOr<v1::Image> EncodeOutput(const cv::Mat& img, v1::OutputEncoding encoding, int jpeg_quality) {
  v1::Image out;
  if (encoding == v1::OUTPUT_ENCODING_RAW) {
    auto* raw = out.mutable_raw();
    raw->set_width(img.cols);
    raw->set_height(img.rows);
    raw->set_channels(img.channels());
    raw->set_bit_depth(8);
    cv::Mat c = img.isContinuous() ? img : img.clone();
    raw->set_pixels(c.data, c.total() * c.elemSize());
    return out;
  }
  auto bytes = encoding == v1::OUTPUT_ENCODING_JPEG ? image::EncodeJpeg(img, jpeg_quality) : image::EncodePng(img);
  if (!bytes.ok()) return bytes.status();
  out.set_encoded(std::move(*bytes));
  return out;
}

// The engine's output behind each returned mask kind (PROMPT is the
// server's own: the mask the network received): what Decode is asked for,
// and where the plane comes back.
struct EngineMask {
  v1::MaskKind kind;
  api::Output output;
  std::vector<uint8_t> api::FusedImage::*plane;
};
constexpr EngineMask kEngineMasks[] = {
    {v1::MASK_KIND_FUSED, api::Output::kMask, &api::FusedImage::mask},
    {v1::MASK_KIND_VISIBLE, api::Output::kMaskVisible, &api::FusedImage::mask_vis},
    {v1::MASK_KIND_INFRARED, api::Output::kMaskInfrared, &api::FusedImage::mask_ir},
};

const EngineMask* FindEngineMask(v1::MaskKind kind) {
  for (const auto& m : kEngineMasks)
    if (m.kind == kind) return &m;
  return nullptr;
}

}  // namespace

std::vector<api::Output> WantedOutputs(const OutputOptions& output) {
  std::vector<api::Output> want = {api::Output::kFused};  // the grey fusion feeds the quality metrics too
  if (output.colour) want.push_back(api::Output::kFusedColour);
  for (auto kind : output.return_masks) {
    const EngineMask* m = FindEngineMask(kind);
    if (m && std::find(want.begin(), want.end(), m->output) == want.end()) want.push_back(m->output);
  }
  return want;
}

absl::StatusOr<v1::FuseResponse> ResponseBuilder::Build(const ParsedRequest& p, const cv::Mat& prompt_mask,
                                                        const api::FusedImage& f) const {
  const cv::Size size = p.infrared.size();
  const cv::Rect crop(0, 0, size.width, size.height);
  auto plane = [&](const std::vector<uint8_t>& v, int channels) {
    return cv::Mat(f.height, f.width, CV_8UC(channels), const_cast<uint8_t*>(v.data()))(crop).clone();
  };
  const OutputOptions& o = p.output;
  v1::FuseResponse resp;
  cv::Mat fused_grey = plane(f.fused, 1);
  cv::Mat fused = o.colour && !f.fused_bgr.empty() ? plane(f.fused_bgr, 3) : fused_grey;
  auto img = EncodeOutput(fused, o.encoding, o.jpeg_quality);
  if (!img.ok()) return img.status();
  *resp.mutable_fused() = std::move(*img);
  // Masks are never JPEG-compressed.
  const v1::OutputEncoding mask_encoding =
      o.encoding == v1::OUTPUT_ENCODING_RAW ? v1::OUTPUT_ENCODING_RAW : v1::OUTPUT_ENCODING_PNG;
  for (auto kind : o.return_masks) {
    cv::Mat m;
    if (kind == v1::MASK_KIND_PROMPT) {
      m = prompt_mask.empty() ? cv::Mat(size, CV_8UC1, cv::Scalar(0)) : prompt_mask;
    } else if (const EngineMask* e = FindEngineMask(kind)) {
      m = plane(f.*(e->plane), 1);
    } else {
      continue;
    }
    auto* out = resp.add_masks();
    out->set_kind(kind);
    auto mimg = EncodeOutput(m, mask_encoding, o.jpeg_quality);
    if (!mimg.ok()) return mimg.status();
    *out->mutable_image() = std::move(*mimg);
  }
  if (!o.metrics.empty() && quality_) {
    // Same conventions as ctrlfuse-eval on the same files (quality::ToGrey255).
    auto values = quality_(p.infrared, p.visible, fused_grey, o.metrics);
    for (const auto& [name, value] : values) {
      (*resp.mutable_metrics())[name] = value;
      metrics_->ObserveQuality(name, value);
    }
  }
  return resp;
}

}  // namespace ctrlfuse::server
