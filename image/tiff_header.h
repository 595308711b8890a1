// What a TIFF's first image directory says the decoder will allocate, read
// without decoding: OpenCV's TIFF reader sizes its buffer from the tile or
// strip, not from the image, so a 64x64 image whose tile is 16384x16384x3
// costs ~1 GiB before a pixel is read. Decode() bounds the largest buffer
// (a tile, or a whole-width strip) by the pixel limit, and the samples by
// what it accepts (1 to 4 channels of at most 16 bits), before decoding.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ctrlfuse::image {

struct TiffLayout {
  int width = 0, height = 0;
  bool tiled = false;
  uint32_t tile_width = 0, tile_height = 0;  // tiled: the tile; else width x rows per strip
  uint32_t samples_per_pixel = 1;
  uint32_t bits_per_sample = 1;  // the largest of the samples'
  // Pixels of the largest buffer the decoder allocates for one tile or strip.
  uint64_t buffer_pixels() const { return uint64_t(tile_width) * tile_height; }
};

// Reads the first image file directory of a classic (not Big) TIFF.
// Errors are INVALID_ARGUMENT prefixed with `field`.
absl::StatusOr<TiffLayout> ReadTiffLayout(absl::string_view bytes, absl::string_view field);

}  // namespace ctrlfuse::image
