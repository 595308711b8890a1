// cv::Mat -> the engine's host-image struct (a copy of the pixels).
#pragma once

#include <opencv2/core.hpp>

#include "model/api/fusion_engine.h"

namespace ctrlfuse::image {

inline api::ImageData ToImageData(const cv::Mat& m) {
  api::ImageData d;
  d.width = m.cols;
  d.height = m.rows;
  d.channels = m.channels();
  d.bit_depth = m.depth() == CV_16U ? 16 : 8;
  const cv::Mat c = m.isContinuous() ? m : m.clone();
  d.bytes.assign(c.data, c.data + c.total() * c.elemSize());
  return d;
}

}  // namespace ctrlfuse::image
