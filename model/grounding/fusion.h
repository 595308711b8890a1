// GroundingDINO's image-text feature fusion (fuse_modules.py's
// BiAttentionBlock, names `layer_norm_v`, `layer_norm_l`, `attn.*`,
// `gamma_v`, `gamma_l`): one bi-directional attention between the image
// tokens and the text tokens over their LayerNormed inputs, each side's
// update gated by its learned gamma and added to the *normed* input (as the
// release does). Its logits are stabilised as the release's: the image
// side subtracts the global max of the whole tensor, the text side each
// row's max, both clamped to +-50,000.
//
// Thread-safety: as any torch::nn::Module.
#pragma once

#include <torch/torch.h>

#include <utility>

namespace ctrlfuse::model::grounding {

class BiAttentionBlockImpl : public torch::nn::Module {
 public:
  BiAttentionBlockImpl(int v_dim, int l_dim, int embed_dim, int heads);
  // v [B,S,v_dim], l [B,n,l_dim]; v_padding [B,S], l_padding [B,n] bool
  // (true = padded). Returns the new (v, l).
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& v, const torch::Tensor& l,
                                                  const torch::Tensor& v_padding, const torch::Tensor& l_padding);

 private:
  int heads_, embed_dim_;
  torch::nn::LayerNorm norm_v_{nullptr}, norm_l_{nullptr};
  torch::nn::Linear v_proj_{nullptr}, l_proj_{nullptr}, values_v_proj_{nullptr}, values_l_proj_{nullptr},
      out_v_proj_{nullptr}, out_l_proj_{nullptr};
  torch::Tensor gamma_v_, gamma_l_;
};
TORCH_MODULE(BiAttentionBlock);

}  // namespace ctrlfuse::model::grounding
