#include "model/grounding/preprocess.h"

#include <algorithm>
#include <cmath>

#include "model/sam/pil_resize.h"

namespace ctrlfuse::model::grounding {

std::pair<int64_t, int64_t> GroundingInputSize(int64_t w, int64_t h, int64_t size, int64_t max_size) {
  const double lo = static_cast<double>(std::min(w, h)), hi = static_cast<double>(std::max(w, h));
  if (hi / lo * size > max_size) size = static_cast<int64_t>(std::nearbyint(max_size * lo / hi));
  if ((w <= h && w == size) || (h <= w && h == size)) return {h, w};
  // int(size * h / w) in Python: a float product then truncation.
  if (w < h) return {static_cast<int64_t>(static_cast<double>(size) * h / w), size};
  return {size, static_cast<int64_t>(static_cast<double>(size) * w / h)};
}

torch::Tensor GroundingImageTensor(const torch::Tensor& rgb, int64_t size, int64_t max_size) {
  TORCH_CHECK(rgb.dim() == 3 && rgb.size(2) == 3 && rgb.scalar_type() == torch::kUInt8,
              "GroundingImageTensor: expected uint8 [H,W,3]");
  const auto [oh, ow] = GroundingInputSize(rgb.size(1), rgb.size(0), size, max_size);
  const torch::Tensor resized = (oh == rgb.size(0) && ow == rgb.size(1)) ? rgb : sam::PilBilinearResize(rgb, oh, ow);
  const torch::Tensor x = resized.permute({2, 0, 1}).to(torch::kFloat).div(255);
  const torch::Tensor mean = torch::tensor({0.485f, 0.456f, 0.406f}).view({3, 1, 1});
  const torch::Tensor std = torch::tensor({0.229f, 0.224f, 0.225f}).view({3, 1, 1});
  return ((x - mean) / std).contiguous();
}

}  // namespace ctrlfuse::model::grounding
