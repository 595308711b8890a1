#include "model/grounding/encoder.h"

#include <string>

#include "model/grounding/positions.h"

namespace ctrlfuse::model::grounding {

TextEnhancerLayerImpl::TextEnhancerLayerImpl(int dim, int heads, int ffn) {
  self_attn_ = register_module("self_attn", MultiheadAttention(dim, heads));
  linear1_ = register_module("linear1", torch::nn::Linear(dim, ffn));
  linear2_ = register_module("linear2", torch::nn::Linear(ffn, dim));
  norm1_ = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  norm2_ = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
}

torch::Tensor TextEnhancerLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& pos,
                                             const torch::Tensor& allowed) {
  const torch::Tensor qk = x + pos;
  torch::Tensor y = norm1_(x + self_attn_(qk, qk, x, allowed.unsqueeze(1)));
  return norm2_(y + linear2_(torch::relu(linear1_(y))));
}

DeformableEncoderLayerImpl::DeformableEncoderLayerImpl(int dim, int ffn, int heads, int levels, int points) {
  self_attn_ = register_module("self_attn", MultiScaleDeformableAttention(dim, heads, levels, points));
  norm1_ = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  linear1_ = register_module("linear1", torch::nn::Linear(dim, ffn));
  linear2_ = register_module("linear2", torch::nn::Linear(ffn, dim));
  norm2_ = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
}

torch::Tensor DeformableEncoderLayerImpl::forward(const torch::Tensor& src, const torch::Tensor& pos,
                                                  const torch::Tensor& reference, const LevelShapes& shapes,
                                                  const torch::Tensor& padding) {
  torch::Tensor x = norm1_(src + self_attn_(src + pos, src, reference, shapes, padding));
  return norm2_(x + linear2_(torch::relu(linear1_(x))));
}

GroundingEncoderImpl::GroundingEncoderImpl(const GroundingDinoConfig& c) : text_feats_(c.hidden) {
  auto layers = register_module("layers", std::make_shared<torch::nn::Module>());
  auto text_layers = register_module("text_layers", std::make_shared<torch::nn::Module>());
  auto fusion_layers = register_module("fusion_layers", std::make_shared<torch::nn::Module>());
  for (int i = 0; i < c.encoder_layers; ++i) {
    const std::string n = std::to_string(i);
    layers_.push_back(layers->register_module(n, DeformableEncoderLayer(c.hidden, c.ffn, c.heads, c.levels, c.points)));
    text_layers_.push_back(text_layers->register_module(n, TextEnhancerLayer(c.hidden, c.text_heads(), c.text_ffn())));
    fusion_layers_.push_back(
        fusion_layers->register_module(n, BiAttentionBlock(c.hidden, c.hidden, c.fusion_dim(), c.fusion_heads())));
  }
}

torch::Tensor GroundingEncoderImpl::ReferencePoints(const LevelShapes& shapes, const torch::Tensor& valid_ratios) {
  std::vector<torch::Tensor> refs;
  const auto opts = valid_ratios.options().dtype(torch::kFloat);
  for (int l = 0; l < shapes.levels(); ++l) {
    const int64_t h = shapes.h[l], w = shapes.w[l];
    const torch::Tensor ys = torch::linspace(0.5, h - 0.5, h, opts), xs = torch::linspace(0.5, w - 0.5, w, opts);
    const torch::Tensor ref_y =
        ys.view({h, 1}).expand({h, w}).reshape({1, -1}) / (valid_ratios.select(1, l).select(1, 1).unsqueeze(1) * h);
    const torch::Tensor ref_x =
        xs.view({1, w}).expand({h, w}).reshape({1, -1}) / (valid_ratios.select(1, l).select(1, 0).unsqueeze(1) * w);
    refs.push_back(torch::stack({ref_x, ref_y}, -1));
  }
  return torch::cat(refs, 1).unsqueeze(2) * valid_ratios.unsqueeze(1);
}

std::pair<torch::Tensor, torch::Tensor> GroundingEncoderImpl::forward(
    const torch::Tensor& src, const torch::Tensor& pos, const LevelShapes& shapes, const torch::Tensor& valid_ratios,
    const torch::Tensor& padding, const TextState& text) {
  const torch::Tensor reference = ReferencePoints(shapes, valid_ratios).to(src.dtype());
  const torch::Tensor text_pos = TextSinePositions(text.position_ids, text_feats_).to(src.dtype());
  torch::Tensor memory = src, words = text.features;
  for (size_t i = 0; i < layers_.size(); ++i) {
    std::tie(memory, words) = fusion_layers_[i](memory, words, padding, text.padding);
    words = text_layers_[i](words, text_pos, text.block_mask);
    memory = layers_[i](memory, pos, reference, shapes, padding);
  }
  return {memory, words};
}

}  // namespace ctrlfuse::model::grounding
