// Mask prompts: a grey image (`mask`) or a run-length mask (`rle_mask`),
// given by the client at the images' size. They reach the network as sent.
#include "absl/strings/str_cat.h"
#include "image/rle.h"
#include "server/image_field.h"
#include "server/prompts/prompt_kind.h"

namespace ctrlfuse::server {
namespace {

class MaskPrompt : public ParsedPrompt {
 public:
  explicit MaskPrompt(cv::Mat mask) : mask_(std::move(mask)) {}
  absl::StatusOr<ResolvedPrompt> Resolve(const PromptServices&, const api::ImageData&, const cv::Mat&) const override {
    ResolvedPrompt r;
    r.mask = mask_;
    return r;
  }

 private:
  cv::Mat mask_;  // CV_8UC1
};

absl::StatusOr<std::unique_ptr<const ParsedPrompt>> ParseMask(const v1::Prompt& prompt, const PromptContext& c) {
  auto m = ParseImageField(prompt.mask(), "prompt.mask", c.max_pixels);
  if (!m.ok()) return m.status();
  const cv::Mat& mask = *m;
  if (mask.size() != c.image_size)
    return InvalidField("prompt.mask", absl::StrCat("size ", mask.cols, "x", mask.rows, " differs from the images' ",
                                                    c.image_size.width, "x", c.image_size.height));
  if (mask.channels() != 1)
    return InvalidField("prompt.mask", absl::StrCat(mask.channels(), " channels, expected a 1-channel grey mask"));
  if (mask.depth() != CV_8U) return InvalidField("prompt.mask", "16-bit mask, expected 8-bit (0..255)");
  return std::make_unique<const MaskPrompt>(mask);
}

absl::StatusOr<std::unique_ptr<const ParsedPrompt>> ParseRleMask(const v1::Prompt& prompt, const PromptContext& c) {
  const auto& r = prompt.rle_mask();
  if (r.width() != uint32_t(c.image_size.width) || r.height() != uint32_t(c.image_size.height))
    return InvalidField("prompt.rle_mask",
                        absl::StrCat("size ", r.width(), "x", r.height(), " differs from the images' ",
                                     c.image_size.width, "x", c.image_size.height));
  auto m = image::DecodeRle(r.width(), r.height(), {r.counts().begin(), r.counts().end()}, "prompt.rle_mask");
  if (!m.ok()) return m.status();
  return std::make_unique<const MaskPrompt>(*m);
}

}  // namespace

extern const PromptKind kMaskPrompt = {v1::Prompt::kMask, /*served=*/true, ParseMask};
extern const PromptKind kRleMaskPrompt = {v1::Prompt::kRleMask, /*served=*/true, ParseRleMask};

}  // namespace ctrlfuse::server
