#include "model/grounding/positions.h"

#include <cmath>

namespace ctrlfuse::model::grounding {
namespace {

using torch::indexing::None;
using torch::indexing::Slice;

// temperature ** (2 * floor(i / 2) / feats), i < feats.
torch::Tensor DimT(int feats, double temperature, const torch::TensorOptions& opts) {
  const torch::Tensor i = torch::arange(feats, opts.dtype(torch::kFloat));
  return torch::pow(temperature, 2 * torch::floor(i / 2) / feats);
}

// x [...] -> [..., feats]: sin of even, cos of odd features, interleaved.
torch::Tensor SinCos(const torch::Tensor& x, const torch::Tensor& dim_t) {
  const torch::Tensor p = x.unsqueeze(-1) / dim_t;
  return torch::stack({p.index({"...", Slice(0, None, 2)}).sin(), p.index({"...", Slice(1, None, 2)}).cos()}, -1)
      .flatten(-2);
}

}  // namespace

torch::Tensor ImageSinePositions(const torch::Tensor& padding, int feats, double temperature) {
  const torch::Tensor valid = (~padding).to(torch::kFloat);
  torch::Tensor y = valid.cumsum(1), x = valid.cumsum(2);
  const double eps = 1e-6, scale = 2 * M_PI;
  y = y / (y.narrow(1, y.size(1) - 1, 1) + eps) * scale;
  x = x / (x.narrow(2, x.size(2) - 1, 1) + eps) * scale;
  const torch::Tensor dim_t = DimT(feats, temperature, padding.options());
  return torch::cat({SinCos(y, dim_t), SinCos(x, dim_t)}, -1).permute({0, 3, 1, 2});
}

torch::Tensor TextSinePositions(const torch::Tensor& position_ids, int feats) {
  const torch::Tensor dim_t = DimT(feats, 10000, position_ids.options());
  return SinCos(position_ids.to(torch::kFloat) * (2 * M_PI), dim_t);
}

torch::Tensor BoxSineEmbedding(const torch::Tensor& boxes, int feats) {
  const torch::Tensor dim_t = DimT(feats, 10000, boxes.options());
  const double scale = 2 * M_PI;
  auto axis = [&](int k) { return SinCos(boxes.select(-1, k) * scale, dim_t); };
  return torch::cat({axis(1), axis(0), axis(2), axis(3)}, -1);
}

}  // namespace ctrlfuse::model::grounding
