#include "model/grounding/deformable_attention.h"

namespace ctrlfuse::model::grounding {
namespace F = torch::nn::functional;

torch::Tensor MultiScaleDeformableSample(const torch::Tensor& value, const LevelShapes& shapes,
                                         const torch::Tensor& locations, const torch::Tensor& weights) {
  const int64_t b = value.size(0), heads = value.size(2), d = value.size(3);
  const int64_t q = locations.size(1), points = locations.size(4);
  const auto dtype = value.scalar_type();
  const bool upcast = dtype == torch::kHalf || dtype == torch::kBFloat16;
  const torch::Tensor grids = (upcast ? locations.to(torch::kFloat) : locations) * 2 - 1;
  std::vector<torch::Tensor> sampled;
  for (int l = 0; l < shapes.levels(); ++l) {
    const int64_t h = shapes.h[l], w = shapes.w[l];
    // [B,hw,heads,d] -> [B*heads, d, h, w]
    torch::Tensor v = value.narrow(1, shapes.start[l], h * w).flatten(2).transpose(1, 2).reshape({b * heads, d, h, w});
    if (upcast) v = v.to(torch::kFloat);
    // [B,Q,heads,P,2] -> [B*heads, Q, P, 2]
    const torch::Tensor grid = grids.select(3, l).transpose(1, 2).flatten(0, 1);
    sampled.push_back(F::grid_sample(
        v, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false)));
  }
  // [B*heads, d, Q, L*P] weighted over the last axis.
  const torch::Tensor stacked = torch::stack(sampled, -2).flatten(-2);
  torch::Tensor w = weights.transpose(1, 2).reshape({b * heads, 1, q, shapes.levels() * points});
  if (upcast) w = w.to(torch::kFloat);
  const torch::Tensor out = (stacked * w).sum(-1).view({b, heads * d, q}).transpose(1, 2).contiguous();
  return upcast ? out.to(dtype) : out;
}

MultiScaleDeformableAttentionImpl::MultiScaleDeformableAttentionImpl(int dim, int heads, int levels, int points)
    : heads_(heads), levels_(levels), points_(points) {
  sampling_offsets_ = register_module("sampling_offsets", torch::nn::Linear(dim, heads * levels * points * 2));
  attention_weights_ = register_module("attention_weights", torch::nn::Linear(dim, heads * levels * points));
  value_proj_ = register_module("value_proj", torch::nn::Linear(dim, dim));
  output_proj_ = register_module("output_proj", torch::nn::Linear(dim, dim));
}

torch::Tensor MultiScaleDeformableAttentionImpl::forward(const torch::Tensor& query, const torch::Tensor& value_in,
                                                         const torch::Tensor& reference, const LevelShapes& shapes,
                                                         const torch::Tensor& padding) {
  const int64_t b = query.size(0), q = query.size(1), s = value_in.size(1);
  TORCH_CHECK(s == shapes.total(), "deformable attention: ", s, " values for ", shapes.total(), " positions");
  torch::Tensor value = value_proj_(value_in);
  if (padding.defined()) value = value.masked_fill(padding.unsqueeze(-1), 0);
  value = value.view({b, s, heads_, -1});
  const torch::Tensor offsets = sampling_offsets_(query).view({b, q, heads_, levels_, points_, 2});
  const torch::Tensor weights = attention_weights_(query)
                                    .view({b, q, heads_, levels_ * points_})
                                    .softmax(-1)
                                    .view({b, q, heads_, levels_, points_});
  torch::Tensor locations;
  if (reference.size(-1) == 2) {
    // Offsets are in pixels of each level: normalise by (w, h).
    std::vector<float> norm;
    for (int l = 0; l < levels_; ++l) {
      norm.push_back(static_cast<float>(shapes.w[l]));
      norm.push_back(static_cast<float>(shapes.h[l]));
    }
    const torch::Tensor normalizer =
        torch::tensor(norm, query.options().dtype(torch::kFloat)).view({1, 1, 1, levels_, 1, 2}).to(offsets.dtype());
    locations = reference.view({b, q, 1, levels_, 1, 2}) + offsets / normalizer;
  } else {
    TORCH_CHECK(reference.size(-1) == 4, "deformable attention: reference points must have 2 or 4 coordinates");
    const torch::Tensor r = reference.view({b, q, 1, levels_, 1, 4});
    locations = r.narrow(-1, 0, 2) + offsets / points_ * r.narrow(-1, 2, 2) * 0.5;
  }
  return output_proj_(MultiScaleDeformableSample(value, shapes, locations, weights));
}

}  // namespace ctrlfuse::model::grounding
