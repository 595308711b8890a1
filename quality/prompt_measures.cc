#include "quality/prompt_measures.h"

#include <opencv2/imgproc.hpp>

#include "quality/metrics.h"

namespace ctrlfuse::quality {

double TargetContrast(const cv::Mat& fused, const cv::Mat& target, const cv::Mat& all_targets) {
  cv::Mat ring;
  cv::dilate(target, ring, cv::getStructuringElement(cv::MORPH_ELLIPSE, {15, 15}));
  ring &= ~all_targets;
  if (cv::countNonZero(ring) == 0 || cv::countNonZero(target) == 0) return 0;
  const cv::Mat grey = ToGrey255(fused);
  return cv::mean(grey, target)[0] - cv::mean(grey, ring)[0];
}

double Coverage(const cv::Mat& mask, const cv::Mat& region) {
  const int n = cv::countNonZero(region);
  return n == 0 ? 0 : double(cv::countNonZero(mask & region)) / n;
}

bool Apart(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat grown;
  cv::dilate(a, grown, cv::getStructuringElement(cv::MORPH_ELLIPSE, {9, 9}));
  return cv::countNonZero(grown & b) == 0;
}

}  // namespace ctrlfuse::quality
