// A ctrlfuse.v1.Image field of a request -> a validated cv::Mat (8U or
// 16U, 1 or 3 channels); errors are INVALID_ARGUMENT naming the field.
#pragma once

#include <opencv2/core.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ctrlfuse/v1/fusion.pb.h"

namespace ctrlfuse::server {

absl::StatusOr<cv::Mat> ParseImageField(const v1::Image& image, absl::string_view field, uint64_t max_pixels);

}  // namespace ctrlfuse::server
