#include "server/image_field.h"

#include "absl/strings/str_cat.h"
#include "image/codec.h"

namespace ctrlfuse::server {

absl::StatusOr<cv::Mat> ParseImageField(const v1::Image& img, absl::string_view field, uint64_t max_pixels) {
  switch (img.data_case()) {
    case v1::Image::kEncoded:
      return image::Decode(img.encoded(), absl::StrCat(field, ".encoded"), max_pixels);
    case v1::Image::kRaw: {
      const auto& r = img.raw();
      return image::FromRaw(r.width(), r.height(), r.channels(), r.bit_depth(), r.pixels(), absl::StrCat(field, ".raw"),
                            max_pixels);
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat(field, ": missing (set encoded or raw)"));
  }
}

}  // namespace ctrlfuse::server
