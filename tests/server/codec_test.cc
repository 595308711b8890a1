// Image decoding limits and errors, raw buffers and RLE masks.
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "image/codec.h"
#include "image/rle.h"
#include "image/scenes.h"

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
