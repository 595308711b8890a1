// Image decoding limits and errors, raw buffers and RLE masks.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include <array>

#include "image/codec.h"
#include "image/jpeg_decoder.h"
#include "image/rle.h"
#include "image/scenes.h"
#include "image/tiff_header.h"

namespace ctrlfuse::image {
namespace {

std::string Encode(const cv::Mat& m, const std::string& ext) {
  std::vector<uchar> buf;
  EXPECT_TRUE(cv::imencode(ext, m, buf));
  return std::string(buf.begin(), buf.end());
}

TEST(CodecTest, HeadersGiveSizesForEveryFormat) {
  cv::Mat m(37, 53, CV_8UC3, cv::Scalar(1, 2, 3));
  for (const auto& [ext, fmt] : std::vector<std::pair<std::string, Format>>{
           {".png", Format::kPng}, {".jpg", Format::kJpeg}, {".tiff", Format::kTiff}, {".bmp", Format::kBmp}}) {
    auto h = ReadHeader(Encode(m, ext), "img");
    ASSERT_TRUE(h.ok()) << ext << " " << h.status();
    EXPECT_EQ(h->format, fmt) << ext;
    EXPECT_EQ(h->width, 53) << ext;
    EXPECT_EQ(h->height, 37) << ext;
    auto d = Decode(Encode(m, ext), "img", 1 << 20);
    ASSERT_TRUE(d.ok()) << ext;
    EXPECT_EQ(d->size(), m.size());
  }
}

TEST(CodecTest, SixteenBitTiffAndPngKeepTheirDepth) {
  cv::Mat m(8, 8, CV_16UC1, cv::Scalar(40000));
  for (const std::string ext : {".png", ".tiff"}) {
    auto d = Decode(Encode(m, ext), "ir", 1 << 20);
    ASSERT_TRUE(d.ok()) << ext;
    EXPECT_EQ(d->depth(), CV_16U);
    EXPECT_EQ(d->at<uint16_t>(3, 3), 40000);
  }
}

TEST(CodecTest, OversizedImageIsRefusedFromTheHeader) {
  // A tiny file claiming a huge size: refused before decoding.
  std::string png = Encode(cv::Mat(4, 4, CV_8UC1, cv::Scalar(0)), ".png");
  png[16] = 0;
  png[17] = 0;
  png[18] = 0x80;
  png[19] = 0;  // width 32768
  png[20] = 0;
  png[21] = 0;
  png[22] = 0x80;
  png[23] = 0;  // height 32768
  auto d = Decode(png, "infrared.encoded", 4096 * 4096);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(d.status().message().find("infrared.encoded: 32768x32768"), std::string::npos) << d.status();
}

// A little-endian, uncompressed, grey TIFF of `bits` (8 or 16) per sample,
// every pixel `value`, in tiles of `tw` x `th` or, with tw = th = 0, in
// strips of `rows_per_strip` rows (0: one strip).
std::string HandMadeTiff(uint32_t w, uint32_t h, uint32_t tw, uint32_t th, uint16_t value, uint32_t rows_per_strip = 0,
                         uint32_t bits = 8) {
  const bool tiled = tw > 0 && th > 0;
  const uint32_t rows = rows_per_strip ? std::min(rows_per_strip, h) : h;
  const uint64_t pieces = tiled ? uint64_t((w + tw - 1) / tw) * ((h + th - 1) / th) : (h + rows - 1) / rows;
  const uint64_t piece_bytes = (tiled ? uint64_t(tw) * th : uint64_t(w) * rows) * (bits / 8);
  const uint32_t n = 10, dir_at = 8, data_at = dir_at + 2 + 12 * n + 4;
  const uint32_t offsets_at = data_at + uint32_t(pieces * piece_bytes), counts_at = offsets_at + uint32_t(4 * pieces);
  const uint32_t offsets = pieces == 1 ? data_at : offsets_at, counts = pieces == 1 ? uint32_t(piece_bytes) : counts_at;
  // tag, type (3 SHORT, 4 LONG), count, value; sorted by tag as TIFF requires.
  std::vector<std::array<uint32_t, 4>> entries = {{256, 4, 1, w}, {257, 4, 1, h}, {258, 3, 1, bits},
                                                  {259, 3, 1, 1}, {262, 3, 1, 1}, {277, 3, 1, 1}};
  if (tiled) {
    for (const auto& e : std::vector<std::array<uint32_t, 4>>{
             {322, 4, 1, tw}, {323, 4, 1, th}, {324, 4, uint32_t(pieces), offsets}, {325, 4, uint32_t(pieces), counts}})
      entries.push_back(e);
  } else {
    entries.insert(entries.begin() + 5, {273, 4, uint32_t(pieces), offsets});
    for (const auto& e : std::vector<std::array<uint32_t, 4>>{
             {278, 4, 1, rows_per_strip ? rows_per_strip : h}, {279, 4, uint32_t(pieces), counts}, {284, 3, 1, 1}})
      entries.push_back(e);
  }
  std::string out("II*\0", 4);
  auto put = [&](uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(char((v >> (8 * i)) & 0xFF));
  };
  put(dir_at, 4);
  put(n, 2);
  for (const auto& [tag, type, count, v] : entries) {
    put(tag, 2);
    put(type, 2);
    put(count, 4);
    put(v, type == 3 ? 2 : 4);
    if (type == 3) put(0, 2);
  }
  put(0, 4);  // no next directory
  for (uint64_t i = 0; i < pieces * piece_bytes / (bits / 8); ++i) put(value, int(bits / 8));
  if (pieces > 1) {
    for (uint64_t i = 0; i < pieces; ++i) put(uint32_t(data_at + i * piece_bytes), 4);
    for (uint64_t i = 0; i < pieces; ++i) put(uint32_t(piece_bytes), 4);
  }
  return out;
}

TEST(CodecTest, TiledTiffDecodesAndAnOversizedTileIsRefusedBeforeDecoding) {
  // A well-formed 16-bit tiled file (tiles overhanging the image, as TIFF
  // allows).
  auto ok = Decode(HandMadeTiff(40, 24, 16, 16, 40000, 0, 16), "infrared.encoded", 1 << 20);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->size(), cv::Size(40, 24));
  EXPECT_EQ(ok->type(), CV_16UC1);
  EXPECT_EQ(ok->at<uint16_t>(23, 39), 40000);
  // OpenCV 4.6 cannot read 8-bit tiles from memory (TIFFReadRGBATile
  // fails on every such file): said plainly instead of "undecodable".
  auto eight = Decode(HandMadeTiff(40, 24, 16, 16, 77), "infrared.encoded", 1 << 20);
  EXPECT_NE(eight.status().message().find("infrared.encoded: 8-bit tiled TIFF is not supported"), std::string::npos)
      << eight.status();
  // A 64x64 image whose one tile is 16384x16384: OpenCV would allocate the
  // tile (~1 GiB as RGBA) before reading a pixel. The file itself is small
  // because the tile's data is cut short: the refusal must come first.
  std::string bomb = HandMadeTiff(64, 64, 16, 16, 1, 0, 16);
  auto layout = ReadTiffLayout(bomb, "infrared.encoded");
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->buffer_pixels(), 256u);
  // Patch the tile size entries (tags 322 and 323) to 16384.
  for (size_t e = 10; e < 10 + 12 * 10; e += 12) {
    const int tag = uint8_t(bomb[e]) | (uint8_t(bomb[e + 1]) << 8);
    if (tag == 322 || tag == 323) {
      bomb[e + 8] = 0;
      bomb[e + 9] = 0x40;  // 16384, little-endian
    }
  }
  auto d = Decode(bomb, "infrared.encoded", 16777216);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(d.status().message().find("infrared.encoded: TIFF tile 16384x16384 exceeds the limit of 16777216 pixels"),
            std::string::npos)
      << d.status();
}

TEST(CodecTest, TiffStripsTallerThanTheLimitAndUnsupportedSamplesAreRefused) {
  auto ok = Decode(HandMadeTiff(30, 20, 0, 0, 9, 7), "visible.encoded", 1 << 20);  // 3 strips
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->at<uint8_t>(19, 29), 9);
  // RowsPerStrip is taken as the strip's height unclamped.
  auto tall = Decode(HandMadeTiff(30, 20, 0, 0, 9, 1 << 24), "visible.encoded", 1 << 20);
  EXPECT_NE(tall.status().message().find("visible.encoded: TIFF strip 30x16777216 exceeds"), std::string::npos)
      << tall.status();
  // Five samples per pixel, 32-bit samples: refused from the directory.
  cv::Mat m(8, 8, CV_8UC1, cv::Scalar(3));
  std::string five = Encode(m, ".tiff"), wide = five;
  auto patch = [](std::string* t, int tag, uint16_t v) {
    const size_t dir = uint8_t((*t)[4]) | (uint8_t((*t)[5]) << 8) | (uint8_t((*t)[6]) << 16);
    const int n = uint8_t((*t)[dir]) | (uint8_t((*t)[dir + 1]) << 8);
    for (int k = 0; k < n; ++k) {
      const size_t e = dir + 2 + 12 * k;
      if ((uint8_t((*t)[e]) | (uint8_t((*t)[e + 1]) << 8)) == tag) {
        (*t)[e + 8] = char(v & 0xFF);
        (*t)[e + 9] = char(v >> 8);
      }
    }
  };
  patch(&five, 277, 5);
  patch(&wide, 258, 32);
  EXPECT_NE(Decode(five, "ir", 1 << 20).status().message().find("ir: TIFF with 5 samples per pixel"),
            std::string::npos);
  EXPECT_NE(Decode(wide, "ir", 1 << 20).status().message().find("ir: TIFF with 32-bit samples"), std::string::npos);
}

TEST(CodecTest, JpegDecodesAsOpenCvDoesAndCorruptScansAreRefused) {
  cv::Mat colour(48, 64, CV_8UC3), grey(48, 64, CV_8UC1);
  cv::randu(colour, 0, 255);
  cv::randu(grey, 0, 255);
  for (const cv::Mat& m : {colour, grey}) {
    const std::string jpg = Encode(m, ".jpg");
    auto ours = Decode(jpg, "visible.encoded", 1 << 20);
    ASSERT_TRUE(ours.ok()) << ours.status();
    const cv::Mat theirs = cv::imdecode(std::vector<uchar>(jpg.begin(), jpg.end()), cv::IMREAD_UNCHANGED);
    ASSERT_EQ(ours->type(), theirs.type());
    EXPECT_EQ(cv::norm(*ours, theirs, cv::NORM_INF), 0) << m.channels();
  }
  const std::string jpg = Encode(colour, ".jpg");
  // The scan cut in half but the end marker kept: OpenCV fills the rest
  // with grey and reports success.
  const std::string cut = jpg.substr(0, jpg.size() / 2) + "\xFF\xD9";
  ASSERT_FALSE(cv::imdecode(std::vector<uchar>(cut.begin(), cut.end()), cv::IMREAD_UNCHANGED).empty());
  auto c = Decode(cut, "visible.encoded", 1 << 20);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message().rfind("visible.encoded: corrupt JPEG (", 0), 0u) << c.status();
  // Garbage in the middle of the scan (markers included).
  std::string garbage = jpg;
  cv::RNG rng(7);
  for (size_t i = jpg.size() / 2; i < jpg.size() / 2 + 64; ++i) garbage[i] = char(rng.uniform(0, 256));
  EXPECT_EQ(Decode(garbage, "visible.encoded", 1 << 20).status().message().rfind("visible.encoded: corrupt JPEG", 0),
            0u);
  // The frame size is checked before the image is allocated.
  EXPECT_NE(DecodeJpegStrict(jpg, "visible.encoded", 64 * 47).status().message().find("64x48 = 3072 pixels exceeds"),
            std::string::npos);
}

TEST(CodecTest, TruncatedAndGarbageBytesAreInvalid) {
  cv::Mat m(32, 32, CV_8UC1);
  cv::randu(m, 0, 255);
  const std::string png = Encode(m, ".png"), jpg = Encode(m, ".jpg");
  auto tp = Decode(png.substr(0, png.size() / 2), "visible.encoded", 1 << 20);
  EXPECT_NE(tp.status().message().find("truncated PNG"), std::string::npos) << tp.status();
  auto tj = Decode(jpg.substr(0, jpg.size() - 10), "visible.encoded", 1 << 20);
  EXPECT_NE(tj.status().message().find("truncated JPEG"), std::string::npos) << tj.status();
  auto g = Decode("GIF89a-not-supported", "visible.encoded", 1 << 20);
  EXPECT_NE(g.status().message().find("unsupported encoding"), std::string::npos) << g.status();
  EXPECT_EQ(Decode("", "visible.encoded", 1 << 20).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CodecTest, RawBuffersAreCheckedAgainstTheirHeader) {
  std::string px(6 * 4 * 2, '\1');
  auto ok = FromRaw(6, 4, 1, 16, px, "infrared.raw", 1 << 20);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->at<uint16_t>(0, 0), 0x0101);
  EXPECT_NE(FromRaw(6, 4, 3, 8, px, "infrared.raw", 1 << 20).status().message().find("pixels has 48 bytes"),
            std::string::npos);
  EXPECT_NE(FromRaw(6, 4, 2, 8, px, "infrared.raw", 1 << 20).status().message().find("channels 2"), std::string::npos);
  EXPECT_NE(FromRaw(6, 4, 1, 12, px, "infrared.raw", 1 << 20).status().message().find("bit_depth 12"),
            std::string::npos);
  EXPECT_NE(FromRaw(0, 4, 1, 8, "", "infrared.raw", 1 << 20).status().message().find("zero size"), std::string::npos);
}

TEST(RleTest, RoundTripAndColumnMajorOrder) {
  cv::Mat m(3, 4, CV_8UC1, cv::Scalar(0));
  m.at<uint8_t>(0, 1) = 255;  // column-major index 3
  m.at<uint8_t>(1, 1) = 255;  // index 4
  auto counts = EncodeRle(m);
  EXPECT_EQ(counts, (std::vector<uint32_t>{3, 2, 7}));
  auto back = DecodeRle(4, 3, counts, "prompt.rle_mask");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(cv::countNonZero(*back != m), 0);
  auto bad = DecodeRle(4, 3, {3, 2, 6}, "prompt.rle_mask");
  EXPECT_NE(bad.status().message().find("prompt.rle_mask: counts sum to 11, width*height is 12"), std::string::npos);
}

TEST(ScenesTest, DeterministicWithWarmTargetsAndMasks) {
  SceneOptions o;
  o.seed = 42;
  auto a = GenerateScene(o), b = GenerateScene(o);
  EXPECT_EQ(cv::norm(a.visible, b.visible, cv::NORM_INF), 0);
  EXPECT_EQ(cv::norm(a.infrared, b.infrared, cv::NORM_INF), 0);
  ASSERT_EQ(a.targets.size(), 3u);  // 2 people + 1 car
  for (const auto& t : a.targets) {
    ASSERT_GT(cv::countNonZero(t.mask), 20) << t.label;
    // Warm in infrared: targets are brighter than the scene's mean.
    EXPECT_GT(cv::mean(a.infrared, t.mask)[0], cv::mean(a.infrared)[0] + 40) << t.label;
  }
  o.ir_bit_depth = 16;
  auto c = GenerateScene(o);
  EXPECT_EQ(c.infrared.depth(), CV_16U);
  double lo, hi;
  cv::minMaxLoc(c.infrared, &lo, &hi);
  EXPECT_GT(lo, 19000);  // a narrow band of the 16-bit range, like a thermal camera
  EXPECT_LT(hi, 25000);
}

}  // namespace
}  // namespace ctrlfuse::image
