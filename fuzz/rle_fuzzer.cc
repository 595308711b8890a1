// COCO RLE masks from any bytes: a width, a height and run counts. DecodeRle
// must give a width x height mask or INVALID_ARGUMENT; an encoded mask must
// decode back to itself.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "image/rle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const uint32_t width = 1 + data[0] % 64, height = 1 + data[1] % 64;
  std::vector<uint32_t> counts;
  for (size_t i = 2; i + 2 <= size; i += 2) counts.push_back(uint32_t(data[i]) | (uint32_t(data[i + 1]) << 8));
  auto mask = ctrlfuse::image::DecodeRle(width, height, counts, "fuzz");
  if (!mask.ok()) {
    if (mask.status().code() != absl::StatusCode::kInvalidArgument) __builtin_trap();
    return 0;
  }
  if (mask->cols != int(width) || mask->rows != int(height)) __builtin_trap();
  auto again = ctrlfuse::image::DecodeRle(width, height, ctrlfuse::image::EncodeRle(*mask), "fuzz");
  if (!again.ok() || cv::countNonZero(*again != *mask) != 0) __builtin_trap();
  return 0;
}
