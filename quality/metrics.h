// Fusion quality metrics, as the field computes them (conventions of the
// MATLAB toolbox published with MSRS/SeAFusion, "T"; see
// docs/quality-metrics.md). OpenCV only, no LibTorch.
//
// Inputs: infrared A, visible B, fused F of one size; 8- or 16-bit, grey or
// colour. Colour becomes grey by ITU-R BT.601 luma rounded to uint8; 16-bit
// becomes 8-bit by /257 (full-range scaling), so every metric sees grey
// levels 0..255.
#pragma once

#include <opencv2/core.hpp>

#include <map>
#include <string>
#include <vector>

namespace ctrlfuse::quality {

// "EN","SD","SF","AG","MI","CC","SCD","MSE","PSNR","SSIM","VIF","Qabf","Nabf".
const std::vector<std::string>& MetricNames();

// Turns any supported image into CV_64F grey on the 0..255 scale.
cv::Mat ToGrey255(const cv::Mat& image);

// Each on CV_64F grey 0..255 images (see the .cc for each convention).
double Entropy(const cv::Mat& f);                              // EN, bits
double StandardDeviation(const cv::Mat& f);                    // SD, population
double SpatialFrequency(const cv::Mat& f);                     // SF
double AverageGradient(const cv::Mat& f);                      // AG
double MutualInformation(const cv::Mat& x, const cv::Mat& f);  // one pair, bits
double Correlation(const cv::Mat& x, const cv::Mat& y);        // Pearson r
double Ssim(const cv::Mat& x, const cv::Mat& y);               // Gaussian 11x11, sigma 1.5
double Vif(const cv::Mat& ref, const cv::Mat& dist);           // pixel-domain, 4 scales
double Qabf(const cv::Mat& a, const cv::Mat& b, const cv::Mat& f);
double Nabf(const cv::Mat& a, const cv::Mat& b, const cv::Mat& f);

// The named metrics for one triple (any supported type). Unknown names are
// skipped; callers validate names against MetricNames().
std::map<std::string, double> Compute(const cv::Mat& ir, const cv::Mat& vis, const cv::Mat& fused,
                                      const std::vector<std::string>& names);

}  // namespace ctrlfuse::quality
