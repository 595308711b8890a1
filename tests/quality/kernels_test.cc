// The metrics' vectorised kernels against plain scalar definitions: libm's
// functions, MATLAB's filter2(k*k', x, 'valid') written out, and the
// Sobel strength/orientation formulas.
#include "quality/kernels.h"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace ctrlfuse::quality::kernels {
namespace {

std::vector<double> Uniform(size_t n, double lo, double hi, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// |got - want| within `ulps` units in the last place of want.
void ExpectWithinUlps(double got, double want, double ulps, double x) {
  const double ulp = std::nextafter(std::abs(want), std::numeric_limits<double>::infinity()) - std::abs(want);
  EXPECT_LE(std::abs(got - want), ulps * ulp) << "at x = " << x << ": " << got << " vs " << want;
}

template <class F, class Ref>
void ExpectLikeLibm(F f, Ref ref, const std::vector<double>& x) {
  std::vector<double> out(x.size());
  f(x.data(), out.data(), x.size());
  for (size_t i = 0; i < x.size(); ++i) ExpectWithinUlps(out[i], ref(x[i]), 4, x[i]);
}

TEST(KernelsTest, ElementwiseFunctionsAreWithinFourUlpOfLibm) {
  // The metrics' ranges: atan of gradient ratios, exp of the sigmoids'
  // exponents (down to underflow), log10 of 1 + a variance ratio.
  auto ratios = Uniform(10001, -50, 50, 1);
  for (double v : {0.0, -0.0, 1e-300, -1e-300, 1e300, -1e300, 1.0, -1.0}) ratios.push_back(v);
  ExpectLikeLibm(
      Atan, [](double v) { return std::atan(v); }, ratios);
  auto exponents = Uniform(10001, -700, 60, 2);
  ExpectLikeLibm(
      Exp, [](double v) { return std::exp(v); }, exponents);
  std::vector<double> out(1);
  Exp(std::vector<double>{-800.0}.data(), out.data(), 1);
  EXPECT_EQ(out[0], 0.0);  // underflow is zero, as libm's
  ExpectLikeLibm(
      Log10, [](double v) { return std::log10(v); }, Uniform(10001, 1, 1e6, 3));
}

TEST(KernelsTest, AValueDoesNotDependOnWhereInTheArrayItSits) {
  // Every length up to past two AVX vectors: the last value falls in a full
  // vector or in the padded tail, and must come out as it does alone.
  double alone_first, alone_last;
  const double first = 0.25, last = 0.7;
  Atan(&first, &alone_first, 1);
  Atan(&last, &alone_last, 1);
  for (size_t n = 1; n <= 9; ++n) {
    std::vector<double> x(n, first), y(n);
    x[n - 1] = last;
    Atan(x.data(), y.data(), n);
    EXPECT_EQ(y[n - 1], alone_last) << n;
    if (n > 1) {
      EXPECT_EQ(y[0], alone_first) << n;
    }
  }
}

cv::Mat Image(int rows, int cols, unsigned seed) {
  cv::Mat m(rows, cols, CV_64F);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(0, 255);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) m.at<double>(i, j) = d(rng);
  return m;
}

// The separable filter written as its definition: row sums in tap order,
// then column sums of those in tap order (the kernel's promised order).
cv::Mat SeparableReference(const cv::Mat& x, const cv::Mat& k) {
  const int n = k.rows, rows = x.rows - n + 1, cols = x.cols - n + 1;
  cv::Mat t(x.rows, cols, CV_64F), out(rows, cols, CV_64F);
  for (int i = 0; i < x.rows; ++i)
    for (int j = 0; j < cols; ++j) {
      double acc = 0;
      for (int u = 0; u < n; ++u) acc += k.at<double>(u) * x.at<double>(i, j + u);
      t.at<double>(i, j) = acc;
    }
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) {
      double acc = 0;
      for (int u = 0; u < n; ++u) acc += k.at<double>(u) * t.at<double>(i + u, j);
      out.at<double>(i, j) = acc;
    }
  return out;
}

TEST(KernelsTest, FilterValidIsFilter2ValidWithTheSeparableWindow) {
  for (int taps : {3, 5, 9, 11, 17}) {
    const cv::Mat k = cv::getGaussianKernel(taps, taps / 5.0, CV_64F);
    // Widths around the vector blocks (16 and 8 outputs) and odd heights.
    for (cv::Size size : {cv::Size(37, 29), cv::Size(taps + 16, taps + 3), cv::Size(70, 41)}) {
      const cv::Mat x = Image(size.height, size.width, unsigned(taps * 100 + size.width));
      const cv::Mat got = FilterValid(x, k);
      ASSERT_EQ(got.rows, x.rows - taps + 1);
      ASSERT_EQ(got.cols, x.cols - taps + 1);
      // Bit for bit the separable definition, in tap order.
      const cv::Mat ref = SeparableReference(x, k);
      EXPECT_EQ(cv::norm(got, ref, cv::NORM_INF), 0.0) << taps << " " << size;
      // And the 2-D window of MATLAB's filter2 to rounding.
      const cv::Mat window = k * k.t();
      for (int i = 0; i < got.rows; i += 5)
        for (int j = 0; j < got.cols; j += 3) {
          double want = 0;
          for (int u = 0; u < taps; ++u)
            for (int v = 0; v < taps; ++v) want += window.at<double>(u, v) * x.at<double>(i + u, j + v);
          EXPECT_NEAR(got.at<double>(i, j), want, 1e-12 * 255) << i << "," << j;
        }
      // Stride 2: rows and columns 0, 2, 4, ... of the stride-1 result, the same values.
      const cv::Mat half = FilterValid(x, k, 2);
      ASSERT_EQ(half.rows, (got.rows + 1) / 2);
      ASSERT_EQ(half.cols, (got.cols + 1) / 2);
      for (int i = 0; i < half.rows; ++i)
        for (int j = 0; j < half.cols; ++j) ASSERT_EQ(half.at<double>(i, j), got.at<double>(2 * i, 2 * j));
    }
  }
  // No valid position: empty, as filter2 'valid' on a too-small image.
  EXPECT_TRUE(FilterValid(Image(10, 40, 1), cv::getGaussianKernel(11, 1.5, CV_64F)).empty());
  // A view (a region of a larger image) is read with its own row step.
  const cv::Mat big = Image(40, 50, 7), k = cv::getGaussianKernel(5, 1.0, CV_64F);
  const cv::Mat view = big(cv::Rect(3, 2, 30, 20));
  EXPECT_EQ(cv::norm(FilterValid(view, k), SeparableReference(view.clone(), k), cv::NORM_INF), 0.0);
}

TEST(KernelsTest, StrengthOrientationAsDefined) {
  const std::vector<double> gx = {3, 0, -4, 0, 1e-9, -2, 5, 7, 0.5}, gy = {4, 2, 3, 0, 1, -2, 0, -1, 0.25};
  std::vector<double> g(gx.size()), alpha(gx.size());
  StrengthOrientation(gx.data(), gy.data(), g.data(), alpha.data(), gx.size());
  for (size_t i = 0; i < gx.size(); ++i) {
    EXPECT_EQ(g[i], std::sqrt(gx[i] * gx[i] + gy[i] * gy[i])) << i;
    if (gx[i] == 0)
      EXPECT_EQ(alpha[i], M_PI / 2) << i;  // vertical gradients (and none) are pi/2
    else
      ExpectWithinUlps(alpha[i], std::atan(gy[i] / gx[i]), 4, gy[i] / gx[i]);
  }
  EXPECT_EQ(g[0], 5.0);
}

}  // namespace
}  // namespace ctrlfuse::quality::kernels
