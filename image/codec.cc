#include "image/codec.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "image/jpeg_decoder.h"

namespace ctrlfuse::image {
namespace {

uint32_t Be32(absl::string_view b, size_t at) {
  return (uint32_t(uint8_t(b[at])) << 24) | (uint32_t(uint8_t(b[at + 1])) << 16) | (uint32_t(uint8_t(b[at + 2])) << 8) |
         uint32_t(uint8_t(b[at + 3]));
}
uint32_t Le32(absl::string_view b, size_t at) {
  return uint32_t(uint8_t(b[at])) | (uint32_t(uint8_t(b[at + 1])) << 8) | (uint32_t(uint8_t(b[at + 2])) << 16) |
         (uint32_t(uint8_t(b[at + 3])) << 24);
}
absl::Status Bad(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::StatusOr<HeaderInfo> JpegSize(absl::string_view b, absl::string_view field) {
  size_t i = 2;
  while (i + 4 <= b.size()) {
    if (uint8_t(b[i]) != 0xFF) return Bad(field, "corrupt JPEG marker stream");
    const uint8_t marker = uint8_t(b[i + 1]);
    if (marker == 0xFF) {
      ++i;
      continue;
    }
    const size_t len = (size_t(uint8_t(b[i + 2])) << 8) | uint8_t(b[i + 3]);
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) {
      if (i + 9 > b.size()) break;
      HeaderInfo h{Format::kJpeg, (uint8_t(b[i + 7]) << 8) | uint8_t(b[i + 8]),
                   (uint8_t(b[i + 5]) << 8) | uint8_t(b[i + 6])};
      return h;
    }
    i += 2 + len;
  }
  return Bad(field, "truncated JPEG: no frame header");
}

}  // namespace

Format SniffFormat(absl::string_view b) {
  if (b.size() >= 8 && b.substr(0, 8) == absl::string_view("\x89PNG\r\n\x1a\n", 8)) return Format::kPng;
  if (b.size() >= 3 && uint8_t(b[0]) == 0xFF && uint8_t(b[1]) == 0xD8 && uint8_t(b[2]) == 0xFF) return Format::kJpeg;
  if (b.size() >= 4 &&
      (b.substr(0, 4) == absl::string_view("II*\0", 4) || b.substr(0, 4) == absl::string_view("MM\0*", 4)))
    return Format::kTiff;
  if (b.size() >= 2 && b[0] == 'B' && b[1] == 'M') return Format::kBmp;
  return Format::kUnknown;
}

const char* FormatName(Format f) {
  switch (f) {
    case Format::kPng:
      return "PNG";
    case Format::kJpeg:
      return "JPEG";
    case Format::kTiff:
      return "TIFF";
    case Format::kBmp:
      return "BMP";
    default:
      return "unknown";
  }
}

absl::StatusOr<HeaderInfo> ReadHeader(absl::string_view b, absl::string_view field) {
  if (b.empty()) return Bad(field, "empty image bytes");
  switch (SniffFormat(b)) {
    case Format::kPng:
      if (b.size() < 24 || b.substr(12, 4) != "IHDR") return Bad(field, "truncated PNG header");
      return HeaderInfo{Format::kPng, int(Be32(b, 16)), int(Be32(b, 20))};
    case Format::kJpeg:
      return JpegSize(b, field);
    case Format::kTiff: {
      auto t = ReadTiffLayout(b, field);
      if (!t.ok()) return t.status();
      return HeaderInfo{Format::kTiff, t->width, t->height, *t};
    }
    case Format::kBmp: {
      if (b.size() < 26) return Bad(field, "truncated BMP header");
      // Negative height: rows top-down. INT32_MIN has no positive int.
      const int64_t h = int32_t(Le32(b, 22));
      return HeaderInfo{Format::kBmp, int(int32_t(Le32(b, 18))), int(std::min<int64_t>(h < 0 ? -h : h, INT32_MAX))};
    }
    default:
      return Bad(field, "unsupported encoding (expected PNG, JPEG, TIFF or BMP bytes)");
  }
}

absl::StatusOr<cv::Mat> Decode(absl::string_view b, absl::string_view field, uint64_t max_pixels) {
  auto header = ReadHeader(b, field);
  if (!header.ok()) return header.status();
  if (header->width <= 0 || header->height <= 0)
    return Bad(field, absl::StrCat("zero or negative size ", header->width, "x", header->height));
  const uint64_t pixels = uint64_t(header->width) * uint64_t(header->height);
  if (pixels > max_pixels)
    return Bad(field, absl::StrCat(header->width, "x", header->height, " = ", pixels, " pixels exceeds the limit of ",
                                   max_pixels));
  // OpenCV fills a truncated PNG with grey instead of failing.
  if (header->format == Format::kPng && (b.size() < 12 || b.substr(b.size() - 8, 4) != "IEND"))
    return Bad(field, "truncated PNG (no IEND chunk)");
  if (header->format == Format::kJpeg) {
    if (b.size() < 2 || uint8_t(b[b.size() - 2]) != 0xFF || uint8_t(b[b.size() - 1]) != 0xD9)
      return Bad(field, "truncated JPEG (no end-of-image marker)");
    return DecodeJpegStrict(b, field, max_pixels);  // OpenCV's reader ignores corrupt scans
  }
  if (const auto& t = header->tiff) {
    // OpenCV sizes its buffer by the tile or strip, which the header may
    // make far larger than the image.
    if (t->buffer_pixels() > max_pixels)
      return Bad(field, absl::StrCat("TIFF ", t->tiled ? "tile " : "strip ", t->tile_width, "x", t->tile_height,
                                     " exceeds the limit of ", max_pixels, " pixels"));
    if (t->tiled && t->bits_per_sample <= 8)  // TIFFReadRGBATile fails on every such file in memory
      return Bad(field, "8-bit tiled TIFF is not supported (OpenCV 4.6 cannot decode it): send strips, 16-bit or PNG");
  }
  cv::Mat img;
  try {
    std::vector<uchar> buf(b.begin(), b.end());
    img = cv::imdecode(buf, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    return Bad(field, absl::StrCat("undecodable ", FormatName(header->format), ": ", e.what()));
  }
  if (img.empty()) return Bad(field, absl::StrCat("undecodable ", FormatName(header->format), " data"));
  if (img.depth() != CV_8U && img.depth() != CV_16U)
    return Bad(field, "unsupported sample type (expected 8- or 16-bit unsigned)");
  if (img.channels() == 4) cv::cvtColor(img, img, cv::COLOR_BGRA2BGR);
  if (img.channels() == 2 || img.channels() > 4)
    return Bad(field, absl::StrCat(img.channels(), " channels, expected 1 or 3"));
  if (img.cols != header->width || img.rows != header->height)
    return Bad(field, "decoded size differs from the header");
  return img;
}

absl::StatusOr<cv::Mat> FromRaw(uint32_t width, uint32_t height, uint32_t channels, uint32_t bit_depth,
                                absl::string_view pixels, absl::string_view field, uint64_t max_pixels) {
  if (width == 0 || height == 0) return Bad(field, absl::StrCat("zero size ", width, "x", height));
  if (uint64_t(width) * height > max_pixels)
    return Bad(field, absl::StrCat(width, "x", height, " exceeds the limit of ", max_pixels, " pixels"));
  if (channels != 1 && channels != 3) return Bad(field, absl::StrCat("channels ", channels, ", expected 1 or 3"));
  if (bit_depth != 8 && bit_depth != 16) return Bad(field, absl::StrCat("bit_depth ", bit_depth, ", expected 8 or 16"));
  const uint64_t want = uint64_t(width) * height * channels * (bit_depth / 8);
  if (pixels.size() != want)
    return Bad(field, absl::StrCat("pixels has ", pixels.size(), " bytes, width*height*channels*bit_depth/8 = ", want));
  const int type = CV_MAKETYPE(bit_depth == 8 ? CV_8U : CV_16U, int(channels));
  cv::Mat m(int(height), int(width), type);
  std::memcpy(m.data, pixels.data(), pixels.size());  // little-endian hosts only
  return m;
}

absl::StatusOr<std::string> EncodePng(const cv::Mat& image) {
  std::vector<uchar> buf;
  if (!cv::imencode(".png", image, buf, {cv::IMWRITE_PNG_COMPRESSION, 1}))
    return absl::InternalError("PNG encoding failed");
  return std::string(buf.begin(), buf.end());
}

absl::StatusOr<std::string> EncodeJpeg(const cv::Mat& image, int quality) {
  std::vector<uchar> buf;
  cv::Mat img = image;
  if (img.depth() == CV_16U) img.convertTo(img, CV_8U, 1.0 / 257.0);
  if (!cv::imencode(".jpg", img, buf, {cv::IMWRITE_JPEG_QUALITY, quality}))
    return absl::InternalError("JPEG encoding failed");
  return std::string(buf.begin(), buf.end());
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

absl::Status WriteFile(const std::string& path, absl::string_view data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return absl::PermissionDeniedError(absl::StrCat("cannot write ", path));
  f.write(data.data(), std::streamsize(data.size()));
  return f ? absl::OkStatus() : absl::DataLossError(absl::StrCat("write failed: ", path));
}

}  // namespace ctrlfuse::image
