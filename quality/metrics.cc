#include "quality/metrics.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

namespace ctrlfuse::quality {
namespace {

cv::Mat Filter(const cv::Mat& x, const cv::Mat& kernel, int border) {
  cv::Mat out;
  cv::filter2D(x, out, CV_64F, kernel, cv::Point(-1, -1), 0, border);
  return out;
}

// MATLAB's filter2(win, x, 'valid'): correlation, border-free region only.
cv::Mat FilterValid(const cv::Mat& x, const cv::Mat& win) {
  const int r = win.rows / 2;
  cv::Mat full = Filter(x, win, cv::BORDER_CONSTANT);
  if (x.rows <= 2 * r || x.cols <= 2 * r) return cv::Mat();
  return full(cv::Rect(r, r, x.cols - 2 * r, x.rows - 2 * r)).clone();
}

// x(1:2:end, 1:2:end) in MATLAB terms.
cv::Mat Subsample2(const cv::Mat& x) {
  cv::Mat out((x.rows + 1) / 2, (x.cols + 1) / 2, CV_64F);
  for (int i = 0; i < out.rows; ++i)
    for (int j = 0; j < out.cols; ++j) out.at<double>(i, j) = x.at<double>(2 * i, 2 * j);
  return out;
}

cv::Mat Gaussian2D(int size, double sigma) {
  cv::Mat g = cv::getGaussianKernel(size, sigma, CV_64F);
  return g * g.t();
}

// Sobel responses (correlation with the unnormalised kernels) with the
// given border; orientation alpha = atan(gy/gx), pi/2 where gx = 0.
void SobelStrengthOrientation(const cv::Mat& x, int border, double scale, cv::Mat* g, cv::Mat* alpha) {
  cv::Mat kx = (cv::Mat_<double>(3, 3) << -1, 0, 1, -2, 0, 2, -1, 0, 1);
  cv::Mat gx = Filter(x, kx * scale, border), gy = Filter(x, kx.t() * scale, border);
  *g = cv::Mat(x.size(), CV_64F);
  *alpha = cv::Mat(x.size(), CV_64F);
  for (int i = 0; i < x.rows; ++i)
    for (int j = 0; j < x.cols; ++j) {
      const double sx = gx.at<double>(i, j), sy = gy.at<double>(i, j);
      g->at<double>(i, j) = std::sqrt(sx * sx + sy * sy);
      alpha->at<double>(i, j) = sx == 0 ? M_PI / 2 : std::atan(sy / sx);
    }
}

double Pearson(const cv::Mat& x, const cv::Mat& y) {
  cv::Scalar mx = cv::mean(x), my = cv::mean(y);
  cv::Mat dx = x - mx[0], dy = y - my[0];
  const double num = dx.dot(dy), den = std::sqrt(dx.dot(dx) * dy.dot(dy));
  return den == 0 ? 0 : num / den;
}

}  // namespace

const std::vector<std::string>& MetricNames() {
  static const std::vector<std::string> names = {"EN", "SD", "SF", "AG", "MI", "CC", "SCD",
                                                 "MSE", "PSNR", "SSIM", "VIF", "Qabf", "Nabf"};
  return names;
}

cv::Mat ToGrey255(const cv::Mat& image) {
  cv::Mat x = image;
  if (x.depth() == CV_16U) x.convertTo(x, CV_8U, 1.0 / 257.0);
  if (x.channels() == 3) cv::cvtColor(x, x, cv::COLOR_BGR2GRAY);  // BT.601, rounded to uint8
  if (x.channels() == 4) cv::cvtColor(x, x, cv::COLOR_BGRA2GRAY);
  cv::Mat out;
  x.convertTo(out, CV_64F);
  return out;
}

// EN: Shannon entropy (log2) of the 256-bin histogram of uint8 F.
double Entropy(const cv::Mat& f) {
  std::vector<double> hist(256, 0);
  for (auto it = f.begin<double>(); it != f.end<double>(); ++it) hist[std::clamp(int(std::lround(*it)), 0, 255)] += 1;
  double en = 0;
  const double n = double(f.total());
  for (double h : hist)
    if (h > 0) en -= h / n * std::log2(h / n);
  return en;
}

// SD: population standard deviation (divides by M*N).
double StandardDeviation(const cv::Mat& f) {
  cv::Scalar mean, sd;
  cv::meanStdDev(f, mean, sd);
  return sd[0];
}

// SF = sqrt(RF^2 + CF^2); RF: RMS of vertical first differences over
// (M-1)*N values, CF: RMS of horizontal ones over M*(N-1).
double SpatialFrequency(const cv::Mat& f) {
  double rf = 0, cf = 0;
  for (int i = 0; i < f.rows; ++i)
    for (int j = 0; j < f.cols; ++j) {
      if (i > 0) rf += std::pow(f.at<double>(i, j) - f.at<double>(i - 1, j), 2);
      if (j > 0) cf += std::pow(f.at<double>(i, j) - f.at<double>(i, j - 1), 2);
    }
  rf = f.rows > 1 ? rf / ((f.rows - 1.0) * f.cols) : 0;
  cf = f.cols > 1 ? cf / (f.rows * (f.cols - 1.0)) : 0;
  return std::sqrt(rf + cf);
}

// AG: MATLAB gradient() (central differences inside, one-sided at the
// borders); s = sqrt((Gx^2 + Gy^2)/2) summed over all pixels / ((M-1)(N-1)).
double AverageGradient(const cv::Mat& f) {
  const int m = f.rows, n = f.cols;
  if (m < 2 || n < 2) return 0;
  double sum = 0;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      const double gx = j == 0 ? f.at<double>(i, 1) - f.at<double>(i, 0)
                        : j == n - 1 ? f.at<double>(i, j) - f.at<double>(i, j - 1)
                                     : (f.at<double>(i, j + 1) - f.at<double>(i, j - 1)) / 2;
      const double gy = i == 0 ? f.at<double>(1, j) - f.at<double>(0, j)
                        : i == m - 1 ? f.at<double>(i, j) - f.at<double>(i - 1, j)
                                     : (f.at<double>(i + 1, j) - f.at<double>(i - 1, j)) / 2;
      sum += std::sqrt((gx * gx + gy * gy) / 2);
    }
  return sum / ((m - 1.0) * (n - 1.0));
}

// MI(X,F) = H(X) + H(F) - H(X,F) from 256-bin marginals and a 256x256 joint
// histogram, in bits (toolbox C reports nats: bits = nats * 1.4427).
double MutualInformation(const cv::Mat& x, const cv::Mat& f) {
  std::vector<double> joint(256 * 256, 0), hx(256, 0), hf(256, 0);
  auto ix = x.begin<double>();
  for (auto it = f.begin<double>(); it != f.end<double>(); ++it, ++ix) {
    const int a = std::clamp(int(std::lround(*ix)), 0, 255), b = std::clamp(int(std::lround(*it)), 0, 255);
    joint[a * 256 + b] += 1;
    hx[a] += 1;
    hf[b] += 1;
  }
  const double n = double(f.total());
  auto h = [n](const std::vector<double>& v) {
    double e = 0;
    for (double c : v)
      if (c > 0) e -= c / n * std::log2(c / n);
    return e;
  };
  return h(hx) + h(hf) - h(joint);
}

double Correlation(const cv::Mat& x, const cv::Mat& y) { return Pearson(x, y); }

// SSIM with the classic Gaussian window (11x11, sigma 1.5), K = (0.01,
// 0.03), L = 255, population (co)variances, mean over the 'valid' region
// (Wang et al.'s ssim.m; scikit-image with gaussian_weights=True,
// use_sample_covariance=False gives the same). Toolbox C uses a 7x7 uniform
// window instead; the metric reported is the sum SSIM(F,A) + SSIM(F,B).
double Ssim(const cv::Mat& x, const cv::Mat& y) {
  const cv::Mat w = Gaussian2D(11, 1.5);
  const double c1 = std::pow(0.01 * 255, 2), c2 = std::pow(0.03 * 255, 2);
  cv::Mat mx = FilterValid(x, w), my = FilterValid(y, w);
  if (mx.empty()) return 0;
  cv::Mat sxx = FilterValid(x.mul(x), w) - mx.mul(mx), syy = FilterValid(y.mul(y), w) - my.mul(my);
  cv::Mat sxy = FilterValid(x.mul(y), w) - mx.mul(my);
  cv::Mat num = (2 * mx.mul(my) + c1).mul(2 * sxy + c2);
  cv::Mat den = (mx.mul(mx) + my.mul(my) + c1).mul(sxx + syy + c2);
  cv::Mat map;
  cv::divide(num, den, map);
  return cv::mean(map)[0];
}

// Pixel-domain multi-scale VIF (vifp_mscale): noise variance 2; scales
// s = 1..4 with Gaussian windows of 2^(5-s)+1 taps, sigma = taps/5, 'valid'
// filtering, and a filter + subsample by 2 between scales.
double Vif(const cv::Mat& ref_in, const cv::Mat& dist_in) {
  const double sigma_nsq = 2, eps = 1e-10;
  cv::Mat ref = ref_in.clone(), dist = dist_in.clone();
  double num = 0, den = 0;
  for (int s = 1; s <= 4; ++s) {
    const int n = (1 << (5 - s)) + 1;
    const cv::Mat win = Gaussian2D(n, n / 5.0);
    if (s > 1) {
      ref = FilterValid(ref, win);
      dist = FilterValid(dist, win);
      if (ref.empty()) break;
      ref = Subsample2(ref);
      dist = Subsample2(dist);
    }
    cv::Mat mu1 = FilterValid(ref, win), mu2 = FilterValid(dist, win);
    if (mu1.empty()) break;
    cv::Mat s1 = FilterValid(ref.mul(ref), win) - mu1.mul(mu1);
    cv::Mat s2 = FilterValid(dist.mul(dist), win) - mu2.mul(mu2);
    cv::Mat s12 = FilterValid(ref.mul(dist), win) - mu1.mul(mu2);
    for (int i = 0; i < s1.rows; ++i)
      for (int j = 0; j < s1.cols; ++j) {
        double v1 = std::max(0.0, s1.at<double>(i, j)), v2 = std::max(0.0, s2.at<double>(i, j));
        const double v12 = s12.at<double>(i, j);
        double g = v12 / (v1 + eps), sv = v2 - g * v12;
        if (v1 < eps) { g = 0; sv = v2; v1 = 0; }
        if (v2 < eps) { g = 0; sv = 0; }
        if (g < 0) { sv = v2; g = 0; }
        if (sv <= eps) sv = eps;
        num += std::log10(1 + g * g * v1 / (sv + sigma_nsq));
        den += std::log10(1 + v1 / sigma_nsq);
      }
  }
  return den == 0 ? 0 : num / den;
}

// Q^AB/F (Xydeas & Petrovic): unnormalised Sobel with zero padding; edge
// strength g and orientation alpha; G^XF = min/max ratio of gX, gF (gF
// itself when they are equal, as the original code does); A^XF = 1 -
// |aX - aF|/(pi/2); Q^XF = Tg/(1+e^{kg(G-Dg)}) * Ta/(1+e^{ka(A-Da)});
// weighted by gA, gB.
double Qabf(const cv::Mat& a, const cv::Mat& b, const cv::Mat& f) {
  const double tg = 0.9994, kg = -15, dg = 0.5, ta = 0.9879, ka = -22, da = 0.8;
  cv::Mat ga, aa, gb, ab, gf, af;
  SobelStrengthOrientation(a, cv::BORDER_CONSTANT, 1, &ga, &aa);
  SobelStrengthOrientation(b, cv::BORDER_CONSTANT, 1, &gb, &ab);
  SobelStrengthOrientation(f, cv::BORDER_CONSTANT, 1, &gf, &af);
  auto q = [&](double gx, double ax, double gfv, double afv) {
    const double G = gx > gfv ? gfv / gx : gx == gfv ? gfv : gx / gfv;
    const double A = 1 - std::abs(ax - afv) / (M_PI / 2);
    return tg / (1 + std::exp(kg * (G - dg))) * ta / (1 + std::exp(ka * (A - da)));
  };
  double num = 0, den = 0;
  for (int i = 0; i < f.rows; ++i)
    for (int j = 0; j < f.cols; ++j) {
      const double wa = ga.at<double>(i, j), wb = gb.at<double>(i, j);
      num += q(wa, aa.at<double>(i, j), gf.at<double>(i, j), af.at<double>(i, j)) * wa +
             q(wb, ab.at<double>(i, j), gf.at<double>(i, j), af.at<double>(i, j)) * wb;
      den += wa + wb;
    }
  return den == 0 ? 0 : num / den;
}

// N^AB/F, Kumar's modified artefact measure: Sobel / 8 with mirror padding
// that does not repeat the edge pixel; weights g^1.5 where g >= Td = 2, else
// 0.001; Q^XF as in Qabf with Nrg = 0.9999, kg = 19, sigma_g = 0.5,
// Nra = 0.9995, ka = 22, sigma_a = 0.5 (G: min/max ratio, 1 when equal);
// artefacts where gF exceeds both sources. Depends on the 0-255 scale.
double Nabf(const cv::Mat& a, const cv::Mat& b, const cv::Mat& f) {
  const double td = 2, wt_min = 0.001, lg = 1.5, nrg = 0.9999, kg = 19, sg = 0.5, nra = 0.9995, ka = 22, sa = 0.5;
  cv::Mat ga, aa, gb, ab, gf, af;
  SobelStrengthOrientation(a, cv::BORDER_REFLECT_101, 1.0 / 8, &ga, &aa);
  SobelStrengthOrientation(b, cv::BORDER_REFLECT_101, 1.0 / 8, &gb, &ab);
  SobelStrengthOrientation(f, cv::BORDER_REFLECT_101, 1.0 / 8, &gf, &af);
  auto q = [&](double gx, double ax, double gfv, double afv) {
    const double G = gx == gfv ? 1.0 : gx > gfv ? gfv / gx : gx / gfv;
    const double A = 1 - std::abs(ax - afv) / (M_PI / 2);
    return nrg / (1 + std::exp(-kg * (G - sg))) * nra / (1 + std::exp(-ka * (A - sa)));
  };
  double num = 0, den = 0;
  for (int i = 0; i < f.rows; ++i)
    for (int j = 0; j < f.cols; ++j) {
      const double gav = ga.at<double>(i, j), gbv = gb.at<double>(i, j), gfv = gf.at<double>(i, j);
      const double wa = gav >= td ? std::pow(gav, lg) : wt_min, wb = gbv >= td ? std::pow(gbv, lg) : wt_min;
      den += wa + wb;
      if (gfv > gav && gfv > gbv)
        num += (1 - q(gav, aa.at<double>(i, j), gfv, af.at<double>(i, j))) * wa +
               (1 - q(gbv, ab.at<double>(i, j), gfv, af.at<double>(i, j))) * wb;
    }
  return den == 0 ? 0 : num / den;
}

std::map<std::string, double> Compute(const cv::Mat& ir, const cv::Mat& vis, const cv::Mat& fused,
                                      const std::vector<std::string>& names) {
  const cv::Mat A = ToGrey255(ir), B = ToGrey255(vis), F = ToGrey255(fused);
  std::map<std::string, double> out;
  auto mse01 = [&] {
    cv::Mat da = (F - A) / 255.0, db = (F - B) / 255.0;
    return 0.5 * (cv::mean(da.mul(da))[0] + cv::mean(db.mul(db))[0]);
  };
  for (const auto& n : names) {
    if (n == "EN") out[n] = Entropy(F);
    else if (n == "SD") out[n] = StandardDeviation(F);
    else if (n == "SF") out[n] = SpatialFrequency(F);
    else if (n == "AG") out[n] = AverageGradient(F);
    else if (n == "MI") out[n] = MutualInformation(A, F) + MutualInformation(B, F);
    else if (n == "CC") out[n] = 0.5 * (Pearson(A, F) + Pearson(B, F));
    else if (n == "SCD") out[n] = Pearson(F - B, A) + Pearson(F - A, B);
    else if (n == "MSE") out[n] = mse01();
    // The field's "+48 dB" convention: 20 log10(255 / sqrt(MSE on [0,1])).
    // MSE = 0 (identical images) is floored at 1e-10 to stay a finite number.
    else if (n == "PSNR") out[n] = 20 * std::log10(255.0 / std::sqrt(std::max(mse01(), 1e-10)));
    else if (n == "SSIM") out[n] = Ssim(F, A) + Ssim(F, B);
    else if (n == "VIF") out[n] = Vif(A, F) + Vif(B, F);
    else if (n == "Qabf") out[n] = Qabf(A, B, F);
    else if (n == "Nabf") out[n] = Nabf(A, B, F);
  }
  return out;
}

}  // namespace ctrlfuse::quality
