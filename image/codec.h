// Image decoding and encoding for the server and tools (OpenCV). Sizes are
// read from the file header before any pixel is decoded, so a compression
// bomb is refused cheaply; truncated PNG/JPEG files are detected by their
// missing end markers (OpenCV would return a partly grey image).
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "image/tiff_header.h"

namespace ctrlfuse::image {

enum class Format { kUnknown, kPng, kJpeg, kTiff, kBmp };

Format SniffFormat(absl::string_view bytes);
const char* FormatName(Format f);

struct HeaderInfo {
  Format format = Format::kUnknown;
  int width = 0, height = 0;
  std::optional<TiffLayout> tiff;  // TIFF only: what its decoder will allocate
};

// Reads format and size from the header. `field` prefixes messages.
absl::StatusOr<HeaderInfo> ReadHeader(absl::string_view bytes, absl::string_view field);

// Decodes keeping bit depth (8 or 16) and giving 1 or 3 channels (alpha is
// dropped, BGR order). Refuses images over `max_pixels` from the header.
absl::StatusOr<cv::Mat> Decode(absl::string_view bytes, absl::string_view field, uint64_t max_pixels);

// Raw pixels (rows packed, channels interleaved, 16-bit little-endian).
absl::StatusOr<cv::Mat> FromRaw(uint32_t width, uint32_t height, uint32_t channels, uint32_t bit_depth,
                                absl::string_view pixels, absl::string_view field, uint64_t max_pixels);

absl::StatusOr<std::string> EncodePng(const cv::Mat& image);
absl::StatusOr<std::string> EncodeJpeg(const cv::Mat& image, int quality);

// File helpers for tools and tests.
absl::StatusOr<std::string> ReadFile(const std::string& path);
absl::Status WriteFile(const std::string& path, absl::string_view data);

}  // namespace ctrlfuse::image
