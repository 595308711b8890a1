// COCO-style run-length encoding of binary masks (column-major runs,
// alternating 0 and 1, starting with 0), as pycocotools writes "counts".
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace ctrlfuse::image {

// -> CV_8UC1 mask with 0 / 255. Runs must sum to width*height exactly.
absl::StatusOr<cv::Mat> DecodeRle(uint32_t width, uint32_t height, const std::vector<uint32_t>& counts,
                                  absl::string_view field);
// Non-zero pixels are 1.
std::vector<uint32_t> EncodeRle(const cv::Mat& mask);

}  // namespace ctrlfuse::image
