#include "image/tiff_header.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ctrlfuse::image {
namespace {

// Tags (TIFF 6.0) and field types read here.
constexpr uint16_t kImageWidth = 256, kImageLength = 257, kBitsPerSample = 258, kSamplesPerPixel = 277,
                   kRowsPerStrip = 278, kTileWidth = 322, kTileLength = 323;
constexpr uint16_t kShort = 3, kLong = 4;

class Reader {
 public:
  Reader(absl::string_view b, bool little_endian) : b_(b), le_(little_endian) {}
  bool Has(size_t at, size_t n) const { return at <= b_.size() && n <= b_.size() - at; }
  uint16_t U16(size_t at) const {
    const uint8_t x = uint8_t(b_[at]), y = uint8_t(b_[at + 1]);
    return le_ ? uint16_t(x | (y << 8)) : uint16_t((x << 8) | y);
  }
  uint32_t U32(size_t at) const {
    const uint32_t lo = U16(at), hi = U16(at + 2);
    return le_ ? lo | (hi << 16) : (lo << 16) | hi;
  }

 private:
  absl::string_view b_;
  bool le_;
};

absl::Status Bad(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

}  // namespace

absl::StatusOr<TiffLayout> ReadTiffLayout(absl::string_view b, absl::string_view field) {
  if (b.size() < 8) return Bad(field, "truncated TIFF header");
  const Reader r(b, b[0] == 'I');
  const size_t ifd = r.U32(4);
  if (!r.Has(ifd, 2)) return Bad(field, "truncated TIFF: directory beyond the end");
  const size_t n = r.U16(ifd);
  TiffLayout t;
  uint32_t rows_per_strip = UINT32_MAX;  // the default: one strip
  for (size_t k = 0; k < n; ++k) {
    const size_t e = ifd + 2 + 12 * k;
    if (!r.Has(e, 12)) return Bad(field, "truncated TIFF directory");
    const uint16_t tag = r.U16(e), type = r.U16(e + 2);
    const uint32_t count = r.U32(e + 4);
    if (type != kShort && type != kLong) continue;  // none of ours has another type
    const size_t unit = type == kShort ? 2 : 4;
    auto value = [&](size_t at) { return type == kShort ? uint32_t(r.U16(at)) : r.U32(at); };
    switch (tag) {
      case kImageWidth:
        t.width = int(std::min<uint32_t>(value(e + 8), INT32_MAX));
        break;
      case kImageLength:
        t.height = int(std::min<uint32_t>(value(e + 8), INT32_MAX));
        break;
      case kSamplesPerPixel:
        t.samples_per_pixel = value(e + 8);
        break;
      case kRowsPerStrip:
        rows_per_strip = value(e + 8);
        break;
      case kTileWidth:
        t.tiled = true;
        t.tile_width = value(e + 8);
        break;
      case kTileLength:
        t.tiled = true;
        t.tile_height = value(e + 8);
        break;
      case kBitsPerSample: {
        // One value per sample: inline when they fit in 4 bytes, else at an offset.
        const uint64_t bytes = uint64_t(count) * unit;
        const size_t at = bytes <= 4 ? e + 8 : r.U32(e + 8);
        if (count == 0 || count > 16 || !r.Has(at, size_t(bytes))) return Bad(field, "corrupt TIFF BitsPerSample");
        t.bits_per_sample = 0;
        for (uint32_t i = 0; i < count; ++i) t.bits_per_sample = std::max(t.bits_per_sample, value(at + i * unit));
        break;
      }
      default:
        break;
    }
  }
  if (t.width <= 0 || t.height <= 0) return Bad(field, "TIFF without image size");
  if (t.samples_per_pixel < 1 || t.samples_per_pixel > 4)
    return Bad(field, absl::StrCat("TIFF with ", t.samples_per_pixel, " samples per pixel (expected 1 to 4)"));
  if (t.bits_per_sample < 1 || t.bits_per_sample > 16)
    return Bad(field, absl::StrCat("TIFF with ", t.bits_per_sample, "-bit samples (expected 8 or 16)"));
  if (t.tiled) {
    if (t.tile_width == 0 || t.tile_height == 0) return Bad(field, "tiled TIFF without a tile size");
  } else {
    // OpenCV takes RowsPerStrip as the strip's height unclamped, except
    // for 0 and the "one strip" default.
    t.tile_width = uint32_t(t.width);
    t.tile_height = rows_per_strip == 0 || rows_per_strip == UINT32_MAX ? uint32_t(t.height) : rows_per_strip;
  }
  return t;
}

}  // namespace ctrlfuse::image
