// The Swin Transformer backbone of GroundingDINO (as the official
// swin_transformer.py builds it), state_dict names under `backbone.0.`:
// patch_embed, layers.N.blocks.M (shifted-window attention with the
// relative-position bias table), layers.N.downsample (patch merging) and
// norm{i} for each output stage. The official padding rules are kept:
// inputs padded to the patch size, feature maps padded (after norm1, with
// zeros) to the window, the shifted-window mask of -100 built on the padded
// size, patch merging padding odd sizes.
//
// Thread-safety: as any torch::nn::Module (eval + InferenceMode forwards may
// run concurrently).
#pragma once

#include <torch/torch.h>

#include "model/grounding/grounding_config.h"

#include <vector>

namespace ctrlfuse::model::grounding {

SwinConfig SwinTinyConfig();  // swin_T_224_1k, the release's backbone

class SwinBlockImpl : public torch::nn::Module {
 public:
  SwinBlockImpl(int dim, int heads, int window, int shift, int mlp_ratio);
  // x [B,H*W,C]; shift_mask [nW, ws*ws, ws*ws] (additive) for shifted blocks.
  torch::Tensor forward(const torch::Tensor& x, int64_t h, int64_t w, const torch::Tensor& shift_mask);
  int shift() const { return shift_; }

 private:
  int heads_, window_, shift_;
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Linear qkv_{nullptr}, proj_{nullptr}, fc1_{nullptr}, fc2_{nullptr};
  torch::Tensor bias_table_, bias_index_;
};
TORCH_MODULE(SwinBlock);

class SwinTransformerImpl : public torch::nn::Module {
 public:
  explicit SwinTransformerImpl(const SwinConfig& config);
  // image [B,3,H,W] -> the out_indices stages, [B, stage_dim(i), h_i, w_i].
  std::vector<torch::Tensor> forward(const torch::Tensor& image);

 private:
  struct Stage {
    std::vector<SwinBlock> blocks;
    torch::nn::LayerNorm merge_norm{nullptr};
    torch::nn::Linear merge_reduction{nullptr};
  };
  SwinConfig config_;
  torch::nn::Conv2d patch_proj_{nullptr};
  torch::nn::LayerNorm patch_norm_{nullptr};
  std::vector<Stage> stages_;
  std::vector<torch::nn::LayerNorm> out_norms_;
};
TORCH_MODULE(SwinTransformer);

}  // namespace ctrlfuse::model::grounding
