// Input normalisation, padding and colour restoration.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "model/preprocess.h"
#include "tests/model/test_util.h"

namespace ctrlfuse::model {
namespace {

TEST(PreprocessTest, EightBitIsDividedBy255) {
  auto plane = torch::tensor({0, 51, 255}, torch::kUInt8).view({1, 3});
  auto x = NormalizeInfrared(plane, 8, {});
  EXPECT_TRUE(torch::allclose(x, torch::tensor({0.f, 0.2f, 1.f}).view({1, 3})));
}

TEST(PreprocessTest, SixteenBitPercentileStretchIgnoresOutliers) {
  // A thermal-like frame: counts 20000..21000 plus one dead and one hot pixel.
  auto plane = torch::linspace(20000, 21000, 1000).to(torch::kInt32);
  plane[0] = 0;
  plane[999] = 65535;
  IrNormalization norm;  // 0.5 / 99.5 percent
  auto x = NormalizeInfrared(plane.view({10, 100}), 16, norm);
  EXPECT_FLOAT_EQ(x.min().item<float>(), 0.f);
  EXPECT_FLOAT_EQ(x.max().item<float>(), 1.f);
  // The bulk spans nearly the full range instead of 1000/65535 of it.
  auto mid = x.flatten().slice(0, 100, 900);
  EXPECT_GT(mid.max().item<float>() - mid.min().item<float>(), 0.7f);
  auto linear = NormalizeInfrared(plane.view({10, 100}), 16, {IrNormalization::Mode::kLinear});
  EXPECT_NEAR(linear.flatten()[500].item<float>(), 20500.f / 65535.f, 1e-3);
  auto flat = NormalizeInfrared(torch::full({4, 4}, 300, torch::kInt32), 16, norm);
  EXPECT_EQ(flat.abs().sum().item<float>(), 0.f);
}

TEST(PreprocessTest, ParsesNormalisationNames) {
  IrNormalization n;
  EXPECT_TRUE(ParseIrNormalization("percentile:1,99", &n));
  EXPECT_DOUBLE_EQ(n.low_percentile, 1);
  EXPECT_DOUBLE_EQ(n.high_percentile, 99);
  EXPECT_TRUE(ParseIrNormalization("minmax", &n));
  EXPECT_EQ(n.mode, IrNormalization::Mode::kMinMax);
  EXPECT_FALSE(ParseIrNormalization("percentile:99,1", &n));
  EXPECT_FALSE(ParseIrNormalization("gamma", &n));
}

TEST(PreprocessTest, ColourOutputKeepsVisibleChroma) {
  torch::manual_seed(3);
  auto vis = torch::rand({1, 3, 8, 8}) * 0.6 + 0.2;
  // Fusing with the visible luma itself gives the visible image back.
  auto same = ColorizeWithVisible(Luma(vis), vis);
  EXPECT_TRUE(torch::allclose(same, vis, 1e-3, 2e-3));
  // A grey visible image stays grey whatever the fused luma.
  auto grey = Luma(vis).expand({1, 3, 8, 8});
  auto fused = torch::rand({1, 1, 8, 8});
  auto out = ColorizeWithVisible(fused, grey);
  EXPECT_TRUE(torch::allclose(out.select(1, 0), fused.squeeze(1), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(out.select(1, 2), fused.squeeze(1), 1e-5, 1e-5));
  // And the output's luma is the fused image (inside the clamp-free range).
  auto mid = torch::full({1, 1, 8, 8}, 0.5);
  EXPECT_TRUE(torch::allclose(Luma(ColorizeWithVisible(mid, vis)), mid, 1e-3, 2e-3));
}

// The release's grey levels: OpenCV's COLOR_BGR2GRAY fixed point, rounded
// (tests/model/grey_opencv_test.cc compares with OpenCV itself).
TEST(PreprocessTest, RoundedGreyIsTheReleasesEightBitGrey) {
  // BGR triples and the grey OpenCV gives them.
  const std::vector<std::array<float, 4>> cases = {
      {0, 0, 255, 76},     {0, 255, 0, 150}, {255, 0, 0, 29}, {255, 255, 255, 255},
      {1, 1, 1, 1},        {0, 0, 5, 1},     {0, 0, 0, 0},    {65535, 65535, 65535, 65535},
      {0, 0, 65535, 19596}};
  auto bgr = torch::empty({1, 3, 1, int64_t(cases.size())});
  for (size_t i = 0; i < cases.size(); ++i)
    for (int c = 0; c < 3; ++c) bgr[0][c][0][int64_t(i)] = cases[i][size_t(c)];
  auto grey = RoundedGreyCounts(bgr);
  ASSERT_EQ(grey.sizes(), (std::vector<int64_t>{1, 1, 1, int64_t(cases.size())}));
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(grey[0][0][0][int64_t(i)].item<float>(), cases[i][3]) << i;
  // Red 5 is 1.495 as an unrounded luma: the release sees level 1, not 1.495.
  EXPECT_NEAR(Luma(bgr)[0][0][0][5].item<float>(), 1.495f, 1e-4);
}

TEST(PreprocessTest, SixteenBitFrameRunsThroughTheNetwork) {
  auto net = testing::MakeTiny();
  torch::InferenceMode guard;
  auto raw = (torch::rand({32, 48}) * 3000 + 18000).to(torch::kInt32);
  auto ir = NormalizeInfrared(raw, 16, {}).view({1, 1, 32, 48}).expand({1, 3, 32, 48});
  auto vis = torch::rand({1, 1, 32, 48}).expand({1, 3, 32, 48});
  auto out = net->forward(vis, ir, testing::BoxMask(1, 32, 48, 4, 20, 4, 30));
  EXPECT_EQ(out.fused.sizes(), (std::vector<int64_t>{1, 1, 32, 48}));
  EXPECT_FALSE(torch::isnan(out.fused).any().item<bool>());
}

}  // namespace
}  // namespace ctrlfuse::model
