// GroundingDINO's cross-modality decoder (transformer.py's
// TransformerDecoder): per layer, query self-attention -> cross-attention to
// the text (ca_text, padding masked) -> deformable cross-attention to the
// image at the 4-d reference boxes -> FFN, post-norm. Query positions are
// the reference boxes' sine embedding through ref_point_head; boxes are
// refined after every layer by the shared box MLP applied to the un-normed
// output, as the release does.
//
// Thread-safety: as any torch::nn::Module.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "model/attention.h"
#include "model/grounding/deformable_attention.h"
#include "model/grounding/grounding_config.h"
#include "model/sam/common.h"

namespace ctrlfuse::model::grounding {

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(int dim, int ffn, int heads, int levels, int points);
  // tgt, query_pos [B,Q,C]; reference [B,Q,L,4]; memory [B,S,C];
  // text [B,n,C] with text_allowed [B,1,1,n] (true = real token).
  torch::Tensor forward(const torch::Tensor& tgt, const torch::Tensor& query_pos, const torch::Tensor& reference,
                        const torch::Tensor& memory, const torch::Tensor& memory_padding, const LevelShapes& shapes,
                        const torch::Tensor& text, const torch::Tensor& text_allowed);

 private:
  MultiheadAttention self_attn_{nullptr}, ca_text_{nullptr};
  MultiScaleDeformableAttention cross_attn_{nullptr};
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr}, norm3_{nullptr}, catext_norm_{nullptr};
  torch::nn::Linear linear1_{nullptr}, linear2_{nullptr};
};
TORCH_MODULE(DecoderLayer);

// The decoder's outputs at its last layer (what the predict path reads).
struct DecoderOutput {
  torch::Tensor hidden;     // [B,Q,C], normed (decoder.norm)
  torch::Tensor reference;  // [B,Q,4], sigmoid, the boxes the last layer refined from
};

class GroundingDecoderImpl : public torch::nn::Module {
 public:
  // `box_embed` is the shared box MLP (owned by the detector; the decoder
  // applies it between layers, as the release's shared bbox_embed list).
  GroundingDecoderImpl(const GroundingDinoConfig& c, sam::MLP box_embed);
  // tgt [B,Q,C]; reference_unsigmoid [B,Q,4]; valid_ratios [B,L,2].
  DecoderOutput forward(const torch::Tensor& tgt, const torch::Tensor& reference_unsigmoid, const torch::Tensor& memory,
                        const torch::Tensor& memory_padding, const LevelShapes& shapes,
                        const torch::Tensor& valid_ratios, const torch::Tensor& text,
                        const torch::Tensor& text_padding);

 private:
  int hidden_;
  std::vector<DecoderLayer> layers_;
  torch::nn::LayerNorm norm_{nullptr};
  sam::MLP ref_point_head_{nullptr};
  sam::MLP box_embed_{nullptr};  // not registered here: the detector owns it
};
TORCH_MODULE(GroundingDecoder);

// inverse_sigmoid with the release's eps (1e-3).
torch::Tensor InverseSigmoid(const torch::Tensor& x, double eps = 1e-3);

}  // namespace ctrlfuse::model::grounding
