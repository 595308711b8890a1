// SAM's two-way transformer: prompt tokens and image embedding attend to
// each other (token->image, image->token) in each block.
#pragma once

#include <torch/torch.h>

#include "model/sam/common.h"

namespace ctrlfuse::model::sam {

// Attention with separate q/k/v projections to dim/downsample channels.
class DownscaledAttentionImpl : public torch::nn::Module {
 public:
  DownscaledAttentionImpl(int dim, int heads, int downsample);
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);

 private:
  torch::nn::Linear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr}, out_proj_{nullptr};
  int heads_;
};
TORCH_MODULE(DownscaledAttention);

class TwoWayAttentionBlockImpl : public torch::nn::Module {
 public:
  TwoWayAttentionBlockImpl(int dim, int heads, int mlp_dim, int downsample, bool skip_first_pe);
  // queries [B,N,C], keys [B,HW,C]; updates both in place.
  void forward(torch::Tensor& queries, torch::Tensor& keys, const torch::Tensor& query_pe, const torch::Tensor& key_pe);

 private:
  DownscaledAttention self_attn_{nullptr}, token_to_image_{nullptr}, image_to_token_{nullptr};
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr}, norm3_{nullptr}, norm4_{nullptr};
  MLPBlock mlp_{nullptr};
  bool skip_first_pe_;
};
TORCH_MODULE(TwoWayAttentionBlock);

class TwoWayTransformerImpl : public torch::nn::Module {
 public:
  TwoWayTransformerImpl(int depth, int dim, int heads, int mlp_dim, int downsample);
  // image [B,C,H,W], image_pe [B or 1,C,H,W], tokens [B,N,C] -> {tokens, keys [B,HW,C]}.
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& image, const torch::Tensor& image_pe,
                                                  const torch::Tensor& tokens);

 private:
  std::vector<TwoWayAttentionBlock> layers_;
  DownscaledAttention final_attn_{nullptr};
  torch::nn::LayerNorm norm_final_{nullptr};
};
TORCH_MODULE(TwoWayTransformer);

}  // namespace ctrlfuse::model::sam
