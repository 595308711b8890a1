// GroundingDINO's feature enhancer (transformer.py's TransformerEncoder):
// per layer, image-text fusion (fusion_layers.N) -> text self-attention
// under the sub-sentence block mask (text_layers.N, the "text enhancer") ->
// multi-scale deformable self-attention of the image tokens (layers.N).
// Post-norm, ReLU, as the release.
//
// Thread-safety: as any torch::nn::Module.
#pragma once

#include <torch/torch.h>

#include <utility>
#include <vector>

#include "model/attention.h"
#include "model/grounding/deformable_attention.h"
#include "model/grounding/fusion.h"
#include "model/grounding/grounding_config.h"

namespace ctrlfuse::model::grounding {

// transformer_vanilla.py's TransformerEncoderLayer as the text enhancer
// uses it: q = k = x + pos, v = x; only the block mask (no padding mask).
class TextEnhancerLayerImpl : public torch::nn::Module {
 public:
  TextEnhancerLayerImpl(int dim, int heads, int ffn);
  // x, pos [B,n,C]; allowed [B,n,n] bool (the block mask).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& pos, const torch::Tensor& allowed);

 private:
  MultiheadAttention self_attn_{nullptr};
  torch::nn::Linear linear1_{nullptr}, linear2_{nullptr};
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
};
TORCH_MODULE(TextEnhancerLayer);

class DeformableEncoderLayerImpl : public torch::nn::Module {
 public:
  DeformableEncoderLayerImpl(int dim, int ffn, int heads, int levels, int points);
  torch::Tensor forward(const torch::Tensor& src, const torch::Tensor& pos, const torch::Tensor& reference,
                        const LevelShapes& shapes, const torch::Tensor& padding);

 private:
  MultiScaleDeformableAttention self_attn_{nullptr};
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Linear linear1_{nullptr}, linear2_{nullptr};
};
TORCH_MODULE(DeformableEncoderLayer);

// What the encoder reads of the text (all [B,n...], padded to one n).
struct TextState {
  torch::Tensor features;      // [B,n,C] after feat_map
  torch::Tensor padding;       // [B,n] bool, true = padding (~text_token_mask)
  torch::Tensor position_ids;  // [B,n] int64
  torch::Tensor block_mask;    // [B,n,n] bool, true = may attend
};

class GroundingEncoderImpl : public torch::nn::Module {
 public:
  explicit GroundingEncoderImpl(const GroundingDinoConfig& c);
  // src, pos [B,S,C] (pos with the level embeddings); valid_ratios [B,L,2]
  // (w, h); padding [B,S]. Returns (memory [B,S,C], text features [B,n,C]).
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& src, const torch::Tensor& pos,
                                                  const LevelShapes& shapes, const torch::Tensor& valid_ratios,
                                                  const torch::Tensor& padding, const TextState& text);

  // get_reference_points: the centre of every position of every level,
  // normalised by the valid size -> [B,S,L,2].
  static torch::Tensor ReferencePoints(const LevelShapes& shapes, const torch::Tensor& valid_ratios);

 private:
  int text_feats_;
  std::vector<DeformableEncoderLayer> layers_;
  std::vector<TextEnhancerLayer> text_layers_;
  std::vector<BiAttentionBlock> fusion_layers_;
};
TORCH_MODULE(GroundingEncoder);

}  // namespace ctrlfuse::model::grounding
