// model::RoundedGreyCounts against OpenCV's own COLOR_BGR2GRAY, which the
// release's loaders use: equal on every pixel of random 8- and 16-bit
// images (the network must see the release's grey levels).
#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "model/preprocess.h"

namespace ctrlfuse::model {
namespace {

void ExpectOpenCvGrey(int depth) {
  cv::Mat bgr(37, 53, CV_MAKETYPE(depth, 3));
  cv::RNG rng(depth + 5);
  rng.fill(bgr, cv::RNG::UNIFORM, 0, depth == CV_8U ? 256 : 65536);
  cv::Mat theirs, f;
  cv::cvtColor(bgr, theirs, cv::COLOR_BGR2GRAY);
  theirs.convertTo(theirs, CV_32F);
  bgr.convertTo(f, CV_32F);
  auto t = torch::from_blob(f.data, {bgr.rows, bgr.cols, 3}, torch::kFloat32).permute({2, 0, 1}).unsqueeze(0);
  auto ours = RoundedGreyCounts(t).squeeze().contiguous();
  auto want = torch::from_blob(theirs.data, {bgr.rows, bgr.cols}, torch::kFloat32);
  EXPECT_EQ((ours - want).abs().max().item<float>(), 0.0f);
  // The unrounded luma differs on most pixels: the test can tell them apart.
  auto unrounded = Luma(t).squeeze();
  EXPECT_GT((unrounded - want).abs().gt(0.25).sum().item<int64_t>(), bgr.total() / 4);
}

TEST(GreyLevelsTest, EightBitEqualsOpenCv) { ExpectOpenCvGrey(CV_8U); }
TEST(GreyLevelsTest, SixteenBitEqualsOpenCv) { ExpectOpenCvGrey(CV_16U); }

}  // namespace
}  // namespace ctrlfuse::model
