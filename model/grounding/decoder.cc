#include "model/grounding/decoder.h"

#include <string>

#include "model/grounding/positions.h"

namespace ctrlfuse::model::grounding {

torch::Tensor InverseSigmoid(const torch::Tensor& x_in, double eps) {
  const torch::Tensor x = x_in.clamp(0, 1);
  return torch::log(x.clamp_min(eps) / (1 - x).clamp_min(eps));
}

DecoderLayerImpl::DecoderLayerImpl(int dim, int ffn, int heads, int levels, int points) {
  cross_attn_ = register_module("cross_attn", MultiScaleDeformableAttention(dim, heads, levels, points));
  norm1_ = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  ca_text_ = register_module("ca_text", MultiheadAttention(dim, heads));
  catext_norm_ = register_module("catext_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  self_attn_ = register_module("self_attn", MultiheadAttention(dim, heads));
  norm2_ = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  linear1_ = register_module("linear1", torch::nn::Linear(dim, ffn));
  linear2_ = register_module("linear2", torch::nn::Linear(ffn, dim));
  norm3_ = register_module("norm3", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& tgt_in, const torch::Tensor& query_pos,
                                        const torch::Tensor& reference, const torch::Tensor& memory,
                                        const torch::Tensor& memory_padding, const LevelShapes& shapes,
                                        const torch::Tensor& text, const torch::Tensor& text_allowed) {
  torch::Tensor q = tgt_in + query_pos;
  torch::Tensor tgt = norm2_(tgt_in + self_attn_(q, q, tgt_in));
  tgt = catext_norm_(tgt + ca_text_(tgt + query_pos, text, text, text_allowed));
  tgt = norm1_(tgt + cross_attn_(tgt + query_pos, memory, reference, shapes, memory_padding));
  return norm3_(tgt + linear2_(torch::relu(linear1_(tgt))));
}

GroundingDecoderImpl::GroundingDecoderImpl(const GroundingDinoConfig& c, sam::MLP box_embed)
    : hidden_(c.hidden), box_embed_(std::move(box_embed)) {
  auto layers = register_module("layers", std::make_shared<torch::nn::Module>());
  for (int i = 0; i < c.decoder_layers; ++i) {
    layers_.push_back(
        layers->register_module(std::to_string(i), DecoderLayer(c.hidden, c.ffn, c.heads, c.levels, c.points)));
  }
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden})));
  ref_point_head_ = register_module("ref_point_head", sam::MLP(2 * c.hidden, c.hidden, c.hidden, 2));
}

DecoderOutput GroundingDecoderImpl::forward(const torch::Tensor& tgt, const torch::Tensor& reference_unsigmoid,
                                            const torch::Tensor& memory, const torch::Tensor& memory_padding,
                                            const LevelShapes& shapes, const torch::Tensor& valid_ratios,
                                            const torch::Tensor& text, const torch::Tensor& text_padding) {
  const torch::Tensor text_allowed = (~text_padding).view({text.size(0), 1, 1, text.size(1)});
  const torch::Tensor ratios4 = torch::cat({valid_ratios, valid_ratios}, -1).unsqueeze(1);  // [B,1,L,4]
  torch::Tensor output = tgt, reference = reference_unsigmoid.sigmoid();
  DecoderOutput out;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const torch::Tensor reference_input = reference.unsqueeze(2) * ratios4;  // [B,Q,L,4]
    const torch::Tensor query_pos = ref_point_head_(BoxSineEmbedding(reference_input.select(2, 0), hidden_ / 2));
    output = layers_[i](output, query_pos, reference_input, memory, memory_padding, shapes, text, text_allowed);
    out.reference = reference;
    reference = (box_embed_(output) + InverseSigmoid(reference)).sigmoid();
  }
  out.hidden = norm_(output);
  return out;
}

}  // namespace ctrlfuse::model::grounding
