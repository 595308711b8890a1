// Prompt-Semantic Fusion Module (`token2image1` / `token2image2`): injects a
// branch's prompt tokens back into its full-resolution features.
#pragma once

#include <torch/torch.h>

#include "model/attention.h"

namespace ctrlfuse::model {

class PromptSemanticFusionImpl : public torch::nn::Module {
 public:
  PromptSemanticFusionImpl(int dim, int heads, int groups, int token_rows, int token_cols);
  // tokens [B,N,C], features [B,C,H,W] (H, W even) -> [B,C,H,W].
  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& features);

 private:
  torch::nn::Conv2d down_conv_{nullptr}, up_conv_{nullptr}, out_proj_{nullptr};
  torch::nn::GroupNorm down_norm_{nullptr}, up_norm_{nullptr};
  MultiheadAttention attn_{nullptr};
  int token_rows_, token_cols_;
};
TORCH_MODULE(PromptSemanticFusion);

}  // namespace ctrlfuse::model
