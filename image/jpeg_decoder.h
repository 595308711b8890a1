// Strict baseline/progressive JPEG decoding with libjpeg(-turbo) directly:
// OpenCV's reader turns libjpeg's "corrupt data" warnings (a garbage scan,
// a premature end of the entropy-coded data, bad Huffman codes) into a
// silently wrong image; here every warning is an error. Output is what
// cv::imdecode(IMREAD_UNCHANGED) gives for a valid file, byte for byte
// (same library, same islow DCT and fancy upsampling): 8-bit grey or BGR.
//
// Thread-safety: reentrant (libjpeg state is per call).
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ctrlfuse::image {

// Refuses (before allocating the image) a frame over `max_pixels`, CMYK
// and other colour spaces than grey, YCbCr and RGB. Errors are
// INVALID_ARGUMENT prefixed with `field`.
absl::StatusOr<cv::Mat> DecodeJpegStrict(absl::string_view bytes, absl::string_view field, uint64_t max_pixels);

}  // namespace ctrlfuse::image
