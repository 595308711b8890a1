#include "server/task_preparer.h"

#include <opencv2/imgproc.hpp>

#include "image/image_data.h"

namespace ctrlfuse::server {
namespace {

cv::Mat Pad(const cv::Mat& m, cv::Size to, int border) {
  if (m.size() == to) return m;
  cv::Mat out;
  cv::copyMakeBorder(m, out, 0, to.height - m.rows, 0, to.width - m.cols, border, cv::Scalar::all(0));
  return out;
}

}  // namespace

CacheKey PairKey(const api::ImageData& ir, const api::ImageData& vis, const api::PreprocessOptions& preprocess) {
  ContentHasher h;
  for (const auto* img : {&ir, &vis}) {
    h.AddValue(img->width);
    h.AddValue(img->height);
    h.AddValue(img->channels);
    h.AddValue(img->bit_depth);
    h.Add(img->bytes.data(), img->bytes.size());
  }
  const auto& n = preprocess.ir_normalization;
  h.AddValue(int(n.mode));
  h.AddValue(n.low_percentile);
  h.AddValue(n.high_percentile);
  return h.Finish();
}

cv::Size TaskPreparer::BucketFor(cv::Size size) const {
  const cv::Size* best = nullptr;
  for (const auto& b : pad_buckets_)
    if (b.width >= size.width && b.height >= size.height && (!best || b.area() < best->area())) best = &b;
  return best ? *best : size;
}

PreparedTask TaskPreparer::Prepare(const cv::Mat& infrared, const cv::Mat& visible_mat, api::ImageData visible,
                                   const cv::Mat& mask, const api::PreprocessOptions& preprocess,
                                   std::vector<api::Output> outputs) const {
  const cv::Size size = infrared.size(), bucket = BucketFor(size);
  auto task = std::make_shared<FuseTask>();
  task->bucket = {bucket.width, bucket.height};
  task->ir = image::ToImageData(Pad(infrared, bucket, cv::BORDER_REPLICATE));
  task->vis = bucket == size ? std::move(visible) : image::ToImageData(Pad(visible_mat, bucket, cv::BORDER_REPLICATE));
  if (!mask.empty()) {
    cv::Mat m = Pad(mask, bucket, cv::BORDER_CONSTANT);
    task->mask.assign(m.data, m.data + m.total());
  } else if (bucket != size) {
    task->mask.assign(size_t(bucket.area()), 0);
  }
  task->preprocess = preprocess;
  task->outputs = std::move(outputs);
  task->key = PairKey(task->ir, task->vis, preprocess);
  PreparedTask out;
  out.padding_ratio = bucket == size ? 0 : 1.0 - double(size.area()) / double(bucket.area());
  out.task = std::move(task);
  return out;
}

}  // namespace ctrlfuse::server
