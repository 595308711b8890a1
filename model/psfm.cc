#include "model/psfm.h"

namespace ctrlfuse::model {
namespace F = torch::nn::functional;

PromptSemanticFusionImpl::PromptSemanticFusionImpl(int dim, int heads, int groups, int token_rows, int token_cols)
    : token_rows_(token_rows), token_cols_(token_cols) {
  auto down = register_module("downsample", torch::nn::Sequential());
  down_conv_ = torch::nn::Conv2d(torch::nn::Conv2dOptions(dim, dim, 2).stride(2));
  down_norm_ = torch::nn::GroupNorm(groups, dim);
  down->push_back(down_conv_);
  down->push_back(down_norm_);
  auto up = register_module("upsample", torch::nn::Sequential());
  up_conv_ = torch::nn::Conv2d(torch::nn::Conv2dOptions(dim, dim, 3).padding(1));
  up_norm_ = torch::nn::GroupNorm(groups, dim);
  // Index 0 of the release's Sequential is a parameter-free bilinear x2.
  up->push_back(torch::nn::Upsample(torch::nn::UpsampleOptions()
                                        .scale_factor(std::vector<double>{2, 2})
                                        .mode(torch::kBilinear)
                                        .align_corners(false)));
  up->push_back(up_conv_);
  up->push_back(up_norm_);
  attn_ = register_module("attn", MultiheadAttention(dim, heads));
  out_proj_ = register_module("out_proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(2 * dim, dim, 1)));
}

torch::Tensor PromptSemanticFusionImpl::forward(const torch::Tensor& tokens, const torch::Tensor& features) {
  const int64_t b = features.size(0), c = features.size(1);
  const int64_t h2 = features.size(2) / 2, w2 = features.size(3) / 2;
  auto kv = down_norm_(down_conv_(features)).flatten(2).transpose(1, 2);  // [B,HW/4,C]
  auto t = attn_(tokens, kv, kv);                                         // [B,N,C]
  auto map = t.transpose(1, 2).reshape({b, c, token_rows_, token_cols_});
  map = F::interpolate(map, F::InterpolateFuncOptions().size(std::vector<int64_t>{h2, w2}).mode(torch::kNearest));
  map = F::interpolate(map, F::InterpolateFuncOptions()
                                .size(std::vector<int64_t>{2 * h2, 2 * w2})
                                .mode(torch::kBilinear)
                                .align_corners(false));
  map = up_norm_(up_conv_(map));
  return out_proj_(torch::cat({features, map}, 1));
}

}  // namespace ctrlfuse::model
