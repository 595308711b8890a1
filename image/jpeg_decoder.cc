#include "image/jpeg_decoder.h"

// jpeglib.h needs size_t and FILE declared first.
#include <csetjmp>
#include <cstdio>
#include <string>

#include <jpeglib.h>

#include "absl/strings/str_cat.h"

namespace ctrlfuse::image {
namespace {

// libjpeg reports fatal errors through error_exit (which must not return:
// we longjmp back) and warnings through emit_message(-1); both end here.
struct StrictErrors {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  std::string message;
};

void Fail(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<StrictErrors*>(cinfo->err);
  char text[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, text);
  e->message = text;
  std::longjmp(e->jump, 1);
}

void OnMessage(j_common_ptr cinfo, int level) {
  if (level < 0) Fail(cinfo);  // a warning: the data is corrupt
}

enum class Outcome { kDecoded, kCorrupt, kRefused };

// The libjpeg calls, alone in their frame with setjmp: every object they
// change lives in the caller's frame (`out`, `refusal`), so nothing a
// longjmp skips has a destructor or an indeterminate value.
Outcome DecodeInto(jpeg_decompress_struct* cinfo, StrictErrors* errors, absl::string_view bytes, uint64_t max_pixels,
                   cv::Mat* out, std::string* refusal) {
  if (setjmp(errors->jump)) return Outcome::kCorrupt;
  jpeg_create_decompress(cinfo);
  jpeg_mem_src(cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(cinfo, TRUE);
  int channels = 0;
  switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
      channels = 1;
      cinfo->out_color_space = JCS_GRAYSCALE;
      break;
    case JCS_YCbCr:
    case JCS_RGB:
      channels = 3;
      cinfo->out_color_space = JCS_EXT_BGR;
      break;
    default:
      break;
  }
  const uint64_t pixels = uint64_t(cinfo->image_width) * cinfo->image_height;
  if (pixels > max_pixels) {
    *refusal = absl::StrCat(cinfo->image_width, "x", cinfo->image_height, " = ", pixels,
                            " pixels exceeds the limit of ", max_pixels);
    return Outcome::kRefused;
  }
  if (channels == 0) {
    *refusal = absl::StrCat("JPEG colour space ", int(cinfo->jpeg_color_space), " (CMYK/YCCK) is not supported");
    return Outcome::kRefused;
  }
  out->create(int(cinfo->image_height), int(cinfo->image_width), CV_MAKETYPE(CV_8U, channels));
  jpeg_start_decompress(cinfo);
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = out->ptr<uchar>(int(cinfo->output_scanline));
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_decompress(cinfo);
  return Outcome::kDecoded;
}

}  // namespace

absl::StatusOr<cv::Mat> DecodeJpegStrict(absl::string_view bytes, absl::string_view field, uint64_t max_pixels) {
  jpeg_decompress_struct cinfo{};
  StrictErrors errors{};
  cinfo.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = Fail;
  errors.mgr.emit_message = OnMessage;
  cv::Mat image;
  std::string refusal;
  const Outcome outcome = DecodeInto(&cinfo, &errors, bytes, max_pixels, &image, &refusal);
  jpeg_destroy_decompress(&cinfo);  // safe on a zeroed or half-created struct
  switch (outcome) {
    case Outcome::kDecoded:
      return image;
    case Outcome::kRefused:
      return absl::InvalidArgumentError(absl::StrCat(field, ": ", refusal));
    case Outcome::kCorrupt:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(field, ": corrupt JPEG (", errors.message, ")"));
}

}  // namespace ctrlfuse::image
