// Measures of prompt control on scenes whose targets are known (synthetic
// scenes): how much a target stands out in a fused image, how much of a
// region a returned mask covers. ctrlfuse-prompt-control and the bundled
// model's test share them. OpenCV only.
#pragma once

#include <opencv2/core.hpp>

namespace ctrlfuse::quality {

// Infrared contrast of one target in a fused image (8/16-bit, grey or
// colour): mean grey level inside `target` minus the mean over a ring
// around it (a 15x15 elliptical dilation), leaving out every target in
// `all_targets`. 0 when the target or its ring is empty.
double TargetContrast(const cv::Mat& fused, const cv::Mat& target, const cv::Mat& all_targets);

// Share of `region`'s non-zero pixels that `mask` covers (0 for an empty
// region). Both CV_8UC1.
double Coverage(const cv::Mat& mask, const cv::Mat& region);

// True when the two CV_8UC1 masks are more than a few pixels apart (no
// pixel of `b` within a 9x9 elliptical dilation of `a`).
bool Apart(const cv::Mat& a, const cv::Mat& b);

}  // namespace ctrlfuse::quality
