#include "quality/metrics.h"

#include <opencv2/imgproc.hpp>

#include "quality/kernels.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace ctrlfuse::quality {
namespace {

using kernels::FilterValid;  // MATLAB's filter2(k * k', x, 'valid')

// 1-D factor of MATLAB's fspecial('gaussian', size, sigma) (normalised).
cv::Mat Gaussian1D(int size, double sigma) { return cv::getGaussianKernel(size, sigma, CV_64F); }

// Grey levels of a CV_64F 0..255 image as bin indices: lround (halves away
// from zero), clamped to 0..255. Written out because lround was a tenth of
// MI's time: v - trunc(v) is exact for these magnitudes, so `frac >= 0.5`
// is lround's own test.
std::vector<uint8_t> Bins(const cv::Mat& x) {
  std::vector<uint8_t> out(x.total());
  size_t k = 0;
  for (int i = 0; i < x.rows; ++i) {
    const double* p = x.ptr<double>(i);
    for (int j = 0; j < x.cols; ++j) {
      const double v = p[j];
      int b = 0;
      if (v >= 255) {
        b = 255;
      } else if (v > 0) {  // NaN and negatives: 0
        const int t = int(v);
        b = t + (v - t >= 0.5 ? 1 : 0);
      }
      out[k++] = uint8_t(b);
    }
  }
  return out;
}

double EntropyOf(const std::vector<double>& counts, double n) {
  double e = 0;
  for (double c : counts)
    if (c > 0) e -= c / n * std::log2(c / n);
  return e;
}

double MutualInformationOfBins(const std::vector<uint8_t>& bx, const std::vector<uint8_t>& bf) {
  std::vector<double> joint(256 * 256, 0), hx(256, 0), hf(256, 0);
  for (size_t k = 0; k < bx.size(); ++k) {
    joint[bx[k] * 256 + bf[k]] += 1;
    hx[bx[k]] += 1;
    hf[bf[k]] += 1;
  }
  const double n = double(bf.size());
  return EntropyOf(hx, n) + EntropyOf(hf, n) - EntropyOf(joint, n);
}

// How a reference applies its Sobel kernels. The sign of gx or gy is all
// that differs, and only the orientation alpha = atan(gy/gx) sees it:
// kCorrelate: gx = right - left, gy = bottom - top (OpenCV; Kumar's N^AB/F
//   code, which filters with both standard kernels: flipping both, as the
//   Python ports' convolve2d does, leaves gy/gx unchanged);
// kConv2: Xydeas & Petrovic's Q^AB/F code, conv2(img, h3) and conv2(img, h1)
//   with h3 = [-1 0 1; -2 0 2; -1 0 1], h1 = [1 2 1; 0 0 0; -1 -2 -1]: the
//   convolution flips h3, so gx = left - right while gy = bottom - top, and
//   alpha changes sign wherever gx != 0 (pi/2 stays pi/2 where gx = 0).
enum class SobelConvention { kCorrelate, kConv2 };

// Sobel responses of the unnormalised kernels (times `scale`) with the
// given border; orientation alpha = atan(gy/gx), pi/2 where gx = 0.
void SobelStrengthOrientation(const cv::Mat& x, int border, double scale, SobelConvention convention, cv::Mat* g,
                              cv::Mat* alpha) {
  // [-1 0 1; -2 0 2; -1 0 1] = [1 2 1]' * [-1 0 1] (correlation).
  const cv::Mat d = (cv::Mat_<double>(3, 1) << -1, 0, 1), s = (cv::Mat_<double>(3, 1) << 1, 2, 1);
  const double x_sign = convention == SobelConvention::kConv2 ? -1 : 1;
  cv::Mat gx, gy;
  cv::sepFilter2D(x, gx, CV_64F, d * (scale * x_sign), s, cv::Point(-1, -1), 0, border);
  cv::sepFilter2D(x, gy, CV_64F, s * scale, d, cv::Point(-1, -1), 0, border);
  *g = cv::Mat(x.size(), CV_64F);
  *alpha = cv::Mat(x.size(), CV_64F);
  for (int i = 0; i < x.rows; ++i)
    kernels::StrengthOrientation(gx.ptr<double>(i), gy.ptr<double>(i), g->ptr<double>(i), alpha->ptr<double>(i),
                                 size_t(x.cols));
}

// Pearson's r in two passes (means, then centred sums), with no
// temporaries; `y_minus` (when given) is subtracted from y first, for SCD's
// difference images.
double Pearson(const cv::Mat& x, const cv::Mat& y, const cv::Mat* y_minus = nullptr) {
  auto yv = [&](int i, int j) { return y_minus ? y.at<double>(i, j) - y_minus->at<double>(i, j) : y.at<double>(i, j); };
  double sx = 0, sy = 0;
  for (int i = 0; i < x.rows; ++i) {
    const double* px = x.ptr<double>(i);
    for (int j = 0; j < x.cols; ++j) {
      sx += px[j];
      sy += yv(i, j);
    }
  }
  const double n = double(x.total()), mx = sx / n, my = sy / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (int i = 0; i < x.rows; ++i) {
    const double* px = x.ptr<double>(i);
    for (int j = 0; j < x.cols; ++j) {
      const double dx = px[j] - mx, dy = yv(i, j) - my;
      sxy += dx * dy;
      sxx += dx * dx;
      syy += dy * dy;
    }
  }
  const double den = std::sqrt(sxx * syy);
  return den == 0 ? 0 : sxy / den;
}

}  // namespace

const std::vector<std::string>& MetricNames() {
  static const std::vector<std::string> names = {"EN",  "SD",   "SF",   "AG",  "MI",   "CC",  "SCD",
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
  for (uint8_t b : Bins(f)) hist[b] += 1;
  return EntropyOf(hist, double(f.total()));
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
  for (int i = 0; i < f.rows; ++i) {
    const double* p = f.ptr<double>(i);
    const double* up = i > 0 ? f.ptr<double>(i - 1) : nullptr;
    for (int j = 0; j < f.cols; ++j) {
      if (up) rf += (p[j] - up[j]) * (p[j] - up[j]);
      if (j > 0) cf += (p[j] - p[j - 1]) * (p[j] - p[j - 1]);
    }
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
      const double gx = j == 0       ? f.at<double>(i, 1) - f.at<double>(i, 0)
                        : j == n - 1 ? f.at<double>(i, j) - f.at<double>(i, j - 1)
                                     : (f.at<double>(i, j + 1) - f.at<double>(i, j - 1)) / 2;
      const double gy = i == 0       ? f.at<double>(1, j) - f.at<double>(0, j)
                        : i == m - 1 ? f.at<double>(i, j) - f.at<double>(i - 1, j)
                                     : (f.at<double>(i + 1, j) - f.at<double>(i - 1, j)) / 2;
      sum += std::sqrt((gx * gx + gy * gy) / 2);
    }
  return sum / ((m - 1.0) * (n - 1.0));
}

// MI(X,F) = H(X) + H(F) - H(X,F) from 256-bin marginals and a 256x256 joint
// histogram, in bits (toolbox C reports nats: bits = nats * 1.4427).
double MutualInformation(const cv::Mat& x, const cv::Mat& f) { return MutualInformationOfBins(Bins(x), Bins(f)); }

double Correlation(const cv::Mat& x, const cv::Mat& y) { return Pearson(x, y); }

// SSIM with the classic Gaussian window (11x11, sigma 1.5), K = (0.01,
// 0.03), L = 255, population (co)variances, mean over the 'valid' region
// (Wang et al.'s ssim.m; scikit-image with gaussian_weights=True,
// use_sample_covariance=False gives the same). Toolbox C uses a 7x7 uniform
// window instead; the metric reported is the sum SSIM(F,A) + SSIM(F,B).
double Ssim(const cv::Mat& x, const cv::Mat& y) {
  const cv::Mat w = Gaussian1D(11, 1.5);
  const double c1 = std::pow(0.01 * 255, 2), c2 = std::pow(0.03 * 255, 2);
  const cv::Mat mx = FilterValid(x, w), my = FilterValid(y, w);
  if (mx.empty()) return 0;
  const cv::Mat fxx = FilterValid(x.mul(x), w), fyy = FilterValid(y.mul(y), w), fxy = FilterValid(x.mul(y), w);
  double sum = 0;
  for (int i = 0; i < mx.rows; ++i) {
    const double *px = mx.ptr<double>(i), *py = my.ptr<double>(i);
    const double *pxx = fxx.ptr<double>(i), *pyy = fyy.ptr<double>(i), *pxy = fxy.ptr<double>(i);
    for (int j = 0; j < mx.cols; ++j) {
      const double a = px[j], b = py[j];
      const double sxx = pxx[j] - a * a, syy = pyy[j] - b * b, sxy = pxy[j] - a * b;
      sum += (2 * (a * b) + c1) * (2 * sxy + c2) / ((a * a + b * b + c1) * (sxx + syy + c2));
    }
  }
  return sum / double(mx.total());
}

// Pixel-domain multi-scale VIF (vifp_mscale): noise variance 2; scales
// s = 1..4 with Gaussian windows of 2^(5-s)+1 taps, sigma = taps/5, 'valid'
// filtering, and a filter + subsample by 2 between scales.
double Vif(const cv::Mat& ref_in, const cv::Mat& dist_in) {
  const double sigma_nsq = 2, eps = 1e-10;
  cv::Mat ref = ref_in, dist = dist_in;  // replaced, never written
  double num = 0, den = 0;
  for (int s = 1; s <= 4; ++s) {
    const int n = (1 << (5 - s)) + 1;
    const cv::Mat win = Gaussian1D(n, n / 5.0);
    if (s > 1) {  // filter, then keep every second row and column
      ref = FilterValid(ref, win, 2);
      dist = FilterValid(dist, win, 2);
      if (ref.empty()) break;
    }
    const cv::Mat mu1 = FilterValid(ref, win), mu2 = FilterValid(dist, win);
    if (mu1.empty()) break;
    const cv::Mat f11 = FilterValid(ref.mul(ref), win), f22 = FilterValid(dist.mul(dist), win);
    const cv::Mat f12 = FilterValid(ref.mul(dist), win);
    // The two log10 arguments of a row, then their logs in one call.
    std::vector<double> num_arg(size_t(mu1.cols)), den_arg(size_t(mu1.cols));
    for (int i = 0; i < mu1.rows; ++i) {
      const double *m1 = mu1.ptr<double>(i), *m2 = mu2.ptr<double>(i);
      const double *p11 = f11.ptr<double>(i), *p22 = f22.ptr<double>(i), *p12 = f12.ptr<double>(i);
      for (int j = 0; j < mu1.cols; ++j) {
        double v1 = std::max(0.0, p11[j] - m1[j] * m1[j]), v2 = std::max(0.0, p22[j] - m2[j] * m2[j]);
        const double v12 = p12[j] - m1[j] * m2[j];
        double g = v12 / (v1 + eps), sv = v2 - g * v12;
        if (v1 < eps) {
          g = 0;
          sv = v2;
          v1 = 0;
        }
        if (v2 < eps) {
          g = 0;
          sv = 0;
        }
        if (g < 0) {
          sv = v2;
          g = 0;
        }
        if (sv <= eps) sv = eps;
        num_arg[size_t(j)] = 1 + g * g * v1 / (sv + sigma_nsq);
        den_arg[size_t(j)] = 1 + v1 / sigma_nsq;
      }
      kernels::Log10(num_arg.data(), num_arg.data(), num_arg.size());
      kernels::Log10(den_arg.data(), den_arg.data(), den_arg.size());
      for (size_t j = 0; j < num_arg.size(); ++j) {  // in the same order as one pass would add them
        num += num_arg[j];
        den += den_arg[j];
      }
    }
  }
  return den == 0 ? 0 : num / den;
}

// Q^AB/F (Xydeas & Petrovic): unnormalised Sobel with zero padding, applied
// as the reference code applies it (conv2, SobelConvention::kConv2); edge
// strength g and orientation alpha; G^XF = min/max ratio of gX, gF (gF
// itself when they are equal, as the original code does); A^XF = 1 -
// |aX - aF|/(pi/2); Q^XF = Tg/(1+e^{kg(G-Dg)}) * Ta/(1+e^{ka(A-Da)});
// weighted by gA, gB.
double Qabf(const cv::Mat& a, const cv::Mat& b, const cv::Mat& f) {
  const double tg = 0.9994, kg = -15, dg = 0.5, ta = 0.9879, ka = -22, da = 0.8;
  cv::Mat ga, aa, gb, ab, gf, af;
  const auto conv2 = SobelConvention::kConv2;
  SobelStrengthOrientation(a, cv::BORDER_CONSTANT, 1, conv2, &ga, &aa);
  SobelStrengthOrientation(b, cv::BORDER_CONSTANT, 1, conv2, &gb, &ab);
  SobelStrengthOrientation(f, cv::BORDER_CONSTANT, 1, conv2, &gf, &af);
  // The exponents of one row (strength and orientation terms for each
  // source), then their exponentials in one call.
  auto exponents = [&](double gx, double ax, double gfv, double afv, double* e) {
    const double G = gx > gfv ? gfv / gx : gx == gfv ? gfv : gx / gfv;
    const double A = 1 - std::abs(ax - afv) / (M_PI / 2);
    e[0] = kg * (G - dg);
    e[1] = ka * (A - da);
  };
  auto q = [&](const double* e) { return tg / (1 + e[0]) * ta / (1 + e[1]); };
  const size_t cols = size_t(f.cols);
  std::vector<double> e(4 * cols);  // per pixel: A's two, then B's two
  double num = 0, den = 0;
  for (int i = 0; i < f.rows; ++i) {
    const double *pga = ga.ptr<double>(i), *pgb = gb.ptr<double>(i), *pgf = gf.ptr<double>(i);
    const double *paa = aa.ptr<double>(i), *pab = ab.ptr<double>(i), *paf = af.ptr<double>(i);
    for (size_t j = 0; j < cols; ++j) {
      exponents(pga[j], paa[j], pgf[j], paf[j], &e[4 * j]);
      exponents(pgb[j], pab[j], pgf[j], paf[j], &e[4 * j + 2]);
    }
    kernels::Exp(e.data(), e.data(), e.size());
    for (size_t j = 0; j < cols; ++j) {
      if (pga[j] > 0) num += q(&e[4 * j]) * pga[j];
      if (pgb[j] > 0) num += q(&e[4 * j + 2]) * pgb[j];
      den += pga[j] + pgb[j];
    }
  }
  return den == 0 ? 0 : num / den;
}

// N^AB/F, Kumar's modified artefact measure: Sobel / 8 with mirror padding
// that does not repeat the edge pixel; weights g^1.5 where g >= Td = 2, else
// 0.001 (g^1.5 computed as g*sqrt(g)); Q^XF as in Qabf with Nrg = 0.9999, kg = 19, sigma_g = 0.5,
// Nra = 0.9995, ka = 22, sigma_a = 0.5 (G: min/max ratio, 1 when equal);
// artefacts where gF exceeds both sources. Depends on the 0-255 scale.
double Nabf(const cv::Mat& a, const cv::Mat& b, const cv::Mat& f) {
  const double td = 2, wt_min = 0.001, nrg = 0.9999, kg = 19, sg = 0.5, nra = 0.9995, ka = 22, sa = 0.5;
  cv::Mat ga, aa, gb, ab, gf, af;
  const auto corr = SobelConvention::kCorrelate;
  SobelStrengthOrientation(a, cv::BORDER_REFLECT_101, 1.0 / 8, corr, &ga, &aa);
  SobelStrengthOrientation(b, cv::BORDER_REFLECT_101, 1.0 / 8, corr, &gb, &ab);
  SobelStrengthOrientation(f, cv::BORDER_REFLECT_101, 1.0 / 8, corr, &gf, &af);
  // As in Qabf: a row's exponents, then their exponentials in one call.
  auto exponents = [&](double gx, double ax, double gfv, double afv, double* e) {
    const double G = gx == gfv ? 1.0 : gx > gfv ? gfv / gx : gx / gfv;
    const double A = 1 - std::abs(ax - afv) / (M_PI / 2);
    e[0] = -kg * (G - sg);
    e[1] = -ka * (A - sa);
  };
  auto q = [&](const double* e) { return nrg / (1 + e[0]) * nra / (1 + e[1]); };
  const size_t cols = size_t(f.cols);
  std::vector<double> e(4 * cols);
  double num = 0, den = 0;
  for (int i = 0; i < f.rows; ++i) {
    const double *pga = ga.ptr<double>(i), *pgb = gb.ptr<double>(i), *pgf = gf.ptr<double>(i);
    const double *paa = aa.ptr<double>(i), *pab = ab.ptr<double>(i), *paf = af.ptr<double>(i);
    for (size_t j = 0; j < cols; ++j) {
      exponents(pga[j], paa[j], pgf[j], paf[j], &e[4 * j]);
      exponents(pgb[j], pab[j], pgf[j], paf[j], &e[4 * j + 2]);
    }
    kernels::Exp(e.data(), e.data(), e.size());
    for (size_t j = 0; j < cols; ++j) {
      const double gav = pga[j], gbv = pgb[j], gfv = pgf[j];
      const double wa = gav >= td ? gav * std::sqrt(gav) : wt_min, wb = gbv >= td ? gbv * std::sqrt(gbv) : wt_min;
      den += wa + wb;
      if (gfv > gav && gfv > gbv) num += (1 - q(&e[4 * j])) * wa + (1 - q(&e[4 * j + 2])) * wb;
    }
  }
  return den == 0 ? 0 : num / den;
}

std::map<std::string, double> Compute(const cv::Mat& ir, const cv::Mat& vis, const cv::Mat& fused,
                                      const std::vector<std::string>& names) {
  const cv::Mat A = ToGrey255(ir), B = ToGrey255(vis), F = ToGrey255(fused);
  std::map<std::string, double> out;
  // On the [0,1] scale. (cv::norm, not (F - A) / 255: OpenCV evaluates that
  // expression with a fused multiply-add that leaves ~1e-17 for F == A.)
  auto mse01 = [&] {
    const double n = double(F.total()) * 255.0 * 255.0;
    return 0.5 * (cv::norm(F, A, cv::NORM_L2SQR) + cv::norm(F, B, cv::NORM_L2SQR)) / n;
  };
  auto one = [&](const std::string& n) -> double {
    if (n == "EN") return Entropy(F);
    if (n == "SD") return StandardDeviation(F);
    if (n == "SF") return SpatialFrequency(F);
    if (n == "AG") return AverageGradient(F);
    if (n == "MI") {  // F's bins once for both sources
      const auto bf = Bins(F);
      return MutualInformationOfBins(Bins(A), bf) + MutualInformationOfBins(Bins(B), bf);
    }
    if (n == "CC") return 0.5 * (Pearson(A, F) + Pearson(B, F));
    if (n == "SCD") return Pearson(A, F, &B) + Pearson(B, F, &A);  // r(F - B, A) + r(F - A, B)
    if (n == "MSE") return mse01();
    // The field's "+48 dB" convention: 20 log10(255 / sqrt(MSE on [0,1])).
    // MSE = 0 (identical images) is floored at 1e-10 to stay a finite number.
    if (n == "PSNR") return 20 * std::log10(255.0 / std::sqrt(std::max(mse01(), 1e-10)));
    // SSIM and VIF run as two tasks each (below).
    if (n == "Qabf") return Qabf(A, B, F);
    if (n == "Nabf") return Nabf(A, B, F);
    return std::nan("");
  };
  // Metrics are independent: spread them over OpenCV's thread pool, most
  // expensive first so the pool stays balanced.
  std::vector<std::string> todo;
  for (const auto& n : names)
    if (std::find(MetricNames().begin(), MetricNames().end(), n) != MetricNames().end()) todo.push_back(n);
  static const std::vector<std::string> kCostly = {"VIF", "SSIM", "Qabf", "Nabf", "MI"};
  std::stable_sort(todo.begin(), todo.end(), [](const std::string& a, const std::string& b) {
    auto rank = [](const std::string& x) {
      auto it = std::find(kCostly.begin(), kCostly.end(), x);
      return it == kCostly.end() ? kCostly.size() : size_t(it - kCostly.begin());
    };
    return rank(a) < rank(b);
  });
  // The two costliest are sums of two independent halves (the fused image
  // against each source): each half is its own task, so neither alone sets
  // the wall time. The halves are added in the same order as before.
  struct Task {
    std::string metric;
    std::function<double()> run;
  };
  std::vector<Task> tasks;
  for (const auto& n : todo) {
    if (n == "VIF") {
      tasks.push_back({n, [&] { return Vif(A, F); }});
      tasks.push_back({n, [&] { return Vif(B, F); }});
    } else if (n == "SSIM") {
      tasks.push_back({n, [&] { return Ssim(F, A); }});
      tasks.push_back({n, [&] { return Ssim(F, B); }});
    } else {
      tasks.push_back({n, [&one, n] { return one(n); }});
    }
  }
  std::vector<double> values(tasks.size());
  cv::parallel_for_(cv::Range(0, int(tasks.size())), [&](const cv::Range& r) {
    for (int i = r.start; i < r.end; ++i) values[size_t(i)] = tasks[size_t(i)].run();
  });
  for (size_t i = 0; i < tasks.size(); ++i) {
    auto [it, fresh] = out.emplace(tasks[i].metric, values[i]);
    if (!fresh) it->second += values[i];
  }
  return out;
}

}  // namespace ctrlfuse::quality
