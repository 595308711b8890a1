// Quality metrics against values known on paper, invariances, and second
// implementations (scikit-image's SSIM; a direct histogram MI).
#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <cstdio>
#include <map>
#include <random>

#include "quality/metrics.h"
#include "quality/prompt_measures.h"

namespace ctrlfuse::quality {
namespace {

cv::Mat Random(int h, int w, uint64_t seed, double lo = 0, double hi = 255) {
  cv::Mat m(h, w, CV_64F);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  for (auto it = m.begin<double>(); it != m.end<double>(); ++it) *it = std::round(u(rng));
  return m;
}

cv::Mat Smooth(const cv::Mat& m) {
  cv::Mat out;
  cv::GaussianBlur(m, out, cv::Size(5, 5), 1.5);
  out.forEach<double>([](double& v, const int*) { v = std::round(v); });
  return out;
}

std::string Shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  return out;
}

TEST(QualityTest, ConstantImageHasNoInformation) {
  cv::Mat c(20, 30, CV_64F, cv::Scalar(77));
  EXPECT_DOUBLE_EQ(Entropy(c), 0);
  EXPECT_DOUBLE_EQ(StandardDeviation(c), 0);
  EXPECT_DOUBLE_EQ(SpatialFrequency(c), 0);
  EXPECT_DOUBLE_EQ(AverageGradient(c), 0);
}

TEST(QualityTest, TwoLevelImageHasOneBitAndKnownSd) {
  cv::Mat m(10, 10, CV_64F, cv::Scalar(0));
  m(cv::Rect(0, 0, 5, 10)).setTo(200);
  EXPECT_NEAR(Entropy(m), 1.0, 1e-12);
  EXPECT_NEAR(StandardDeviation(m), 100.0, 1e-9);  // population SD of {0,200} halves
}

TEST(QualityTest, RampHasKnownSpatialFrequencyAndAverageGradient) {
  const int m = 12, n = 16;
  cv::Mat ramp(m, n, CV_64F);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) ramp.at<double>(i, j) = 3.0 * j;
  // Vertical differences are 0, horizontal ones 3: SF = 3.
  EXPECT_NEAR(SpatialFrequency(ramp), 3.0, 1e-12);
  // Gx = 3 everywhere (central and one-sided), Gy = 0: s = 3/sqrt(2).
  EXPECT_NEAR(AverageGradient(ramp), m * n * 3.0 / std::sqrt(2.0) / ((m - 1.0) * (n - 1.0)), 1e-9);
}

TEST(QualityTest, IdenticalSourcesAndFusedGiveThePerfectScores) {
  cv::Mat a = Smooth(Random(40, 50, 1));
  auto v = Compute(a, a, a, MetricNames());
  EXPECT_NEAR(v["SSIM"], 2.0, 1e-9);
  EXPECT_DOUBLE_EQ(v["MSE"], 0.0);
  EXPECT_NEAR(v["PSNR"], 20 * std::log10(255.0 / 1e-5), 1e-6);  // MSE floored at 1e-10
  EXPECT_NEAR(v["CC"], 1.0, 1e-12);
  EXPECT_NEAR(v["VIF"], 2.0, 1e-6);
  EXPECT_DOUBLE_EQ(v["Nabf"], 0.0);  // no gradient exceeds both sources
  EXPECT_NEAR(v["MI"], 2 * Entropy(a), 1e-9);
}

TEST(QualityTest, QabfIsScaleInvariantAndSymmetricInTheSources) {
  cv::Mat a = Smooth(Random(30, 40, 2)), b = Smooth(Random(30, 40, 3)), f = Smooth((a + b) / 2);
  const double q = Qabf(a, b, f);
  EXPECT_GT(q, 0.0);
  EXPECT_LT(q, 1.0);
  EXPECT_NEAR(Qabf(a * 3, b * 3, f * 3), q, 1e-12);
  EXPECT_NEAR(Qabf(b, a, f), q, 1e-12);
  // Fusing with one source transfers all of its edges and only part of the
  // other's: above one half (two random sources carry about equal edge
  // weight) and clearly below a perfect transfer; a flat image transfers
  // none. (Measured: 0.667, 0.686 for the other source, 0.414 for the mean.)
  const double one_source = Qabf(a, b, a);
  EXPECT_GT(one_source, 0.55);
  EXPECT_LT(one_source, 0.8);
  EXPECT_GT(Qabf(a, b, b), 0.55);
  const double perfect = Qabf(a, a, a);  // 0.975: the sigmoids of Xydeas-Petrovic stop short of 1
  EXPECT_GT(perfect, 0.95);
  EXPECT_LT(one_source, perfect - 0.15);
  EXPECT_LT(Qabf(a, b, cv::Mat::zeros(a.size(), a.type())), 0.01);
  EXPECT_NEAR(Ssim(a, f), Ssim(f, a), 1e-12);
  EXPECT_NEAR(MutualInformation(a, f), MutualInformation(f, a), 1e-12);
}

// Q^AB/F written out as the reference code computes it: conv2(img, h3) and
// conv2(img, h1), 'same' size, zero padding. `conv2` = false applies
// OpenCV's Sobel kernels by correlation instead (what Qabf did before), to
// show the test tells the two apart.
double ReferenceQabf(const cv::Mat& a, const cv::Mat& b, const cv::Mat& f, bool conv2) {
  const double h1[3][3] = {{1, 2, 1}, {0, 0, 0}, {-1, -2, -1}}, h3[3][3] = {{-1, 0, 1}, {-2, 0, 2}, {-1, 0, 1}};
  auto filter = [&](const cv::Mat& x, const double(&k)[3][3], int i, int j) {
    double sum = 0;
    for (int u = -1; u <= 1; ++u)
      for (int v = -1; v <= 1; ++v) {
        // conv2: out(i,j) = sum x(i-u, j-v) k(1+u, 1+v); correlation: x(i+u, j+v).
        const int r = conv2 ? i - u : i + u, c = conv2 ? j - v : j + v;
        if (r < 0 || c < 0 || r >= x.rows || c >= x.cols) continue;  // zero padding
        sum += x.at<double>(r, c) * k[1 + u][1 + v];
      }
    return sum;
  };
  auto edges = [&](const cv::Mat& x, cv::Mat* g, cv::Mat* al) {
    *g = cv::Mat(x.size(), CV_64F);
    *al = cv::Mat(x.size(), CV_64F);
    for (int i = 0; i < x.rows; ++i)
      for (int j = 0; j < x.cols; ++j) {
        // Correlating h1 gives top - bottom; the old convention was OpenCV's
        // bottom - top (gx and gy both as OpenCV's Sobel).
        const double sx = filter(x, h3, i, j), sy = conv2 ? filter(x, h1, i, j) : -filter(x, h1, i, j);
        g->at<double>(i, j) = std::sqrt(sx * sx + sy * sy);
        al->at<double>(i, j) = sx == 0 ? M_PI / 2 : std::atan(sy / sx);
      }
  };
  cv::Mat ga, aa, gb, ab, gf, af;
  edges(a, &ga, &aa);
  edges(b, &gb, &ab);
  edges(f, &gf, &af);
  auto q = [](double gx, double ax, double gfv, double afv) {
    const double G = gx > gfv ? gfv / gx : gx == gfv ? gfv : gx / gfv;
    const double A = 1 - std::abs(ax - afv) / (M_PI / 2);
    return 0.9994 / (1 + std::exp(-15 * (G - 0.5))) * 0.9879 / (1 + std::exp(-22 * (A - 0.8)));
  };
  double num = 0, den = 0;
  for (int i = 0; i < f.rows; ++i)
    for (int j = 0; j < f.cols; ++j) {
      const double wa = ga.at<double>(i, j), wb = gb.at<double>(i, j), wf = gf.at<double>(i, j);
      num += q(wa, aa.at<double>(i, j), wf, af.at<double>(i, j)) * wa +
             q(wb, ab.at<double>(i, j), wf, af.at<double>(i, j)) * wb;
      den += wa + wb;
    }
  return num / den;
}

// Where a source edge is horizontal (gx = 0, alpha = pi/2 in both
// conventions) and the fused edge is oblique, the conventions disagree.
TEST(QualityTest, QabfAppliesTheSobelKernelsAsTheReferenceCodeDoes) {
  cv::Mat a(24, 32, CV_64F), b = Smooth(Random(24, 32, 9)), f(24, 32, CV_64F);
  for (int i = 0; i < a.rows; ++i)
    for (int j = 0; j < a.cols; ++j) {
      a.at<double>(i, j) = i < 12 ? 40 : 200;          // horizontal edge: gx = 0
      f.at<double>(i, j) = i + j / 2 < 26 ? 50 : 190;  // oblique edge
    }
  const double reference = ReferenceQabf(a, b, f, /*conv2=*/true);
  const double correlated = ReferenceQabf(a, b, f, /*conv2=*/false);
  EXPECT_NEAR(Qabf(a, b, f), reference, 1e-12);
  EXPECT_GT(std::abs(reference - correlated), 1e-3) << reference << " vs " << correlated;
  // On ordinary (random, smoothed) images too.
  cv::Mat c = Smooth(Random(30, 40, 2)), d = Smooth(Random(30, 40, 3)), e = Smooth((c + d) / 2);
  EXPECT_NEAR(Qabf(c, d, e), ReferenceQabf(c, d, e, true), 1e-12);
}

TEST(QualityTest, TargetContrastIsTheTargetMinusItsRingWithoutOtherTargets) {
  // Background 50; target 200; a second target (250) right beside it, so
  // part of the ring would fall on it if it were not left out.
  cv::Mat fused(40, 60, CV_8UC1, cv::Scalar(50)), target(40, 60, CV_8UC1, cv::Scalar(0)), all = target.clone();
  target(cv::Rect(20, 15, 8, 10)).setTo(255);
  fused(cv::Rect(20, 15, 8, 10)).setTo(200);
  fused(cv::Rect(28, 15, 6, 10)).setTo(250);
  all(cv::Rect(20, 15, 14, 10)).setTo(255);
  EXPECT_DOUBLE_EQ(TargetContrast(fused, target, all), 150.0);
  // A ring that reaches a brighter surround lowers it; no target, no contrast.
  fused(cv::Rect(14, 10, 2, 20)).setTo(110);
  const double lower = TargetContrast(fused, target, all);
  EXPECT_LT(lower, 150.0);
  EXPECT_GT(lower, 100.0);
  EXPECT_EQ(TargetContrast(fused, cv::Mat::zeros(40, 60, CV_8UC1), all), 0.0);
}

TEST(QualityTest, CoverageAndApartOnKnownMasks) {
  cv::Mat region(20, 30, CV_8UC1, cv::Scalar(0)), mask = region.clone(), near = region.clone(), far = region.clone();
  region(cv::Rect(5, 5, 10, 4)).setTo(255);
  mask(cv::Rect(5, 5, 5, 10)).setTo(255);  // covers the region's left half (and more outside it)
  EXPECT_DOUBLE_EQ(Coverage(mask, region), 0.5);
  EXPECT_DOUBLE_EQ(Coverage(mask, cv::Mat::zeros(20, 30, CV_8UC1)), 0.0);
  near(cv::Rect(17, 5, 3, 4)).setTo(255);  // 2 px right of the region: inside a 9x9 dilation
  far(cv::Rect(22, 5, 3, 4)).setTo(255);   // 7 px right of it
  EXPECT_FALSE(Apart(region, near));
  EXPECT_TRUE(Apart(region, far));
}

TEST(QualityTest, MutualInformationMatchesADirectHistogram) {
  cv::Mat a = Random(25, 35, 4, 0, 15), f = Smooth(Random(25, 35, 5, 0, 15));
  std::map<std::pair<int, int>, double> joint;
  std::map<int, double> pa, pf;
  const double n = double(a.total());
  for (int i = 0; i < a.rows; ++i)
    for (int j = 0; j < a.cols; ++j) {
      const int x = int(a.at<double>(i, j)), y = int(f.at<double>(i, j));
      joint[{x, y}] += 1 / n;
      pa[x] += 1 / n;
      pf[y] += 1 / n;
    }
  double mi = 0;  // sum p(x,y) log2 p(x,y) / (p(x) p(y))
  for (const auto& [xy, p] : joint) mi += p * std::log2(p / (pa[xy.first] * pf[xy.second]));
  EXPECT_NEAR(MutualInformation(a, f), mi, 1e-9);
  // Independent noise shares almost no information.
  EXPECT_LT(MutualInformation(Random(200, 200, 6), Random(200, 200, 7)), 0.4 * Entropy(Random(200, 200, 6)));
}

TEST(QualityTest, SsimAgreesWithScikitImage) {
  cv::Mat x = Smooth(Random(48, 64, 8)), y = Smooth(Random(48, 64, 9)) * 0.5 + x * 0.5;
  y.forEach<double>([](double& v, const int*) { v = std::round(v); });
  const std::string dir = ::testing::TempDir();
  cv::Mat x8, y8;
  x.convertTo(x8, CV_8U);
  y.convertTo(y8, CV_8U);
  ASSERT_TRUE(cv::imwrite(dir + "/ssim_x.png", x8));
  ASSERT_TRUE(cv::imwrite(dir + "/ssim_y.png", y8));
  const std::string py =
      std::string(CTRLFUSE_PYTHON) +
      " -c \"import numpy as np; from PIL import Image; "
      "from skimage.metrics import structural_similarity as s; "
      "a=np.asarray(Image.open('" +
      dir +
      "/ssim_x.png'),dtype=np.float64); "
      "b=np.asarray(Image.open('" +
      dir +
      "/ssim_y.png'),dtype=np.float64); "
      "print(repr(float(s(a,b,gaussian_weights=True,sigma=1.5,use_sample_covariance=False,data_range=255))))\"";
  const std::string out = Shell(py);
  ASSERT_FALSE(out.empty());
  const double reference = std::stod(out);
  cv::Mat xd, yd;
  x8.convertTo(xd, CV_64F);
  y8.convertTo(yd, CV_64F);
  EXPECT_NEAR(Ssim(xd, yd), reference, 1e-6) << out;
  EXPECT_LT(reference, 0.99);  // a real comparison, not two identical images
}

TEST(QualityTest, ColourAndSixteenBitInputsBecomeGrey255) {
  cv::Mat c(4, 4, CV_8UC3, cv::Scalar(10, 20, 30));
  EXPECT_NEAR(ToGrey255(c).at<double>(0, 0), std::round(0.114 * 10 + 0.587 * 20 + 0.299 * 30), 1.0);
  cv::Mat s(4, 4, CV_16UC1, cv::Scalar(65535));
  EXPECT_DOUBLE_EQ(ToGrey255(s).at<double>(2, 2), 255.0);
}

TEST(QualityTest, EvalToolPrintsEveryMetricAsJson) {
  const std::string dir = ::testing::TempDir();
  cv::Mat a8, b8, f8;
  Smooth(Random(40, 48, 10)).convertTo(a8, CV_8U);
  Smooth(Random(40, 48, 11)).convertTo(b8, CV_8U);
  cv::addWeighted(a8, 0.5, b8, 0.5, 0, f8);
  ASSERT_TRUE(cv::imwrite(dir + "/eval_a.png", a8) && cv::imwrite(dir + "/eval_b.png", b8) &&
              cv::imwrite(dir + "/eval_f.png", f8));
  const std::string json = Shell(std::string(CTRLFUSE_EVAL_BINARY) + " --json --ir " + dir + "/eval_a.png --vis " +
                                 dir + "/eval_b.png --fused " + dir + "/eval_f.png");
  const std::string check = Shell("echo '" + json + "' | " + std::string(CTRLFUSE_PYTHON) +
                                  " -c \"import json,sys; d=json.load(sys.stdin); "
                                  "print(','.join(sorted(d)), all(isinstance(v,(int,float)) for v in d.values()))\"");
  EXPECT_EQ(check, "AG,CC,EN,MI,MSE,Nabf,PSNR,Qabf,SCD,SD,SF,SSIM,VIF True\n") << json;
}

}  // namespace
}  // namespace ctrlfuse::quality
