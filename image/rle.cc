#include "image/rle.h"

#include "absl/strings/str_cat.h"

namespace ctrlfuse::image {

absl::StatusOr<cv::Mat> DecodeRle(uint32_t width, uint32_t height, const std::vector<uint32_t>& counts,
                                  absl::string_view field) {
  if (width == 0 || height == 0)
    return absl::InvalidArgumentError(absl::StrCat(field, ": zero size ", width, "x", height));
  if (counts.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": empty counts"));
  const uint64_t total = uint64_t(width) * height;
  uint64_t sum = 0;
  for (uint32_t c : counts) sum += c;
  if (sum != total)
    return absl::InvalidArgumentError(absl::StrCat(field, ": counts sum to ", sum, ", width*height is ", total));
  // Column-major runs: fill the transposed image row by row, then transpose.
  cv::Mat t(int(width), int(height), CV_8UC1, cv::Scalar(0));
  uint64_t pos = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (i % 2 == 1) std::fill(t.data + pos, t.data + pos + counts[i], uint8_t(255));
    pos += counts[i];
  }
  return cv::Mat(t.t());
}

std::vector<uint32_t> EncodeRle(const cv::Mat& mask) {
  cv::Mat t = mask.t();
  t = t.clone();
  std::vector<uint32_t> counts;
  uint8_t current = 0;
  uint32_t run = 0;
  for (size_t i = 0; i < t.total(); ++i) {
    const uint8_t v = t.data[i] ? 1 : 0;
    if (v != current) {
      counts.push_back(run);
      run = 0;
      current = v;
    }
    ++run;
  }
  counts.push_back(run);
  return counts;
}

}  // namespace ctrlfuse::image
