// Any bytes as an image: Decode (PNG, JPEG, TIFF, BMP, sniffed) must return
// an image within the pixel limit or INVALID_ARGUMENT, never crash, leak
// or allocate past the limit (libFuzzer's -rss_limit_mb catches that).
#include <cstddef>
#include <cstdint>

#include "image/codec.h"
#include "image/tiff_header.h"

namespace {
constexpr uint64_t kMaxPixels = 1 << 20;  // keeps each input's work small
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto img = ctrlfuse::image::Decode(bytes, "fuzz", kMaxPixels);
  if (img.ok()) {
    if (uint64_t(img->total()) > kMaxPixels) __builtin_trap();
    if (img->channels() != 1 && img->channels() != 3) __builtin_trap();
  } else if (img.status().code() != absl::StatusCode::kInvalidArgument) {
    __builtin_trap();  // decoding errors are the client's: INVALID_ARGUMENT only
  }
  (void)ctrlfuse::image::ReadTiffLayout(bytes, "fuzz");
  return 0;
}
