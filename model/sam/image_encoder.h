// SAM's ViT image encoder: patch embedding, absolute positions, blocks with
// windowed or global attention and decomposed relative positions, and the
// neck to the prompt width.
#pragma once

#include <torch/torch.h>

#include "model/config.h"
#include "model/sam/common.h"

namespace ctrlfuse::model::sam {

class ViTAttentionImpl : public torch::nn::Module {
 public:
  // `size`: side of the token grid this block attends over (window or grid).
  ViTAttentionImpl(int dim, int heads, int size);
  torch::Tensor forward(const torch::Tensor& x);  // [B,H,W,C]

 private:
  torch::nn::Linear qkv_{nullptr}, proj_{nullptr};
  torch::Tensor rel_pos_h_, rel_pos_w_;
  int heads_;
};
TORCH_MODULE(ViTAttention);

class ViTBlockImpl : public torch::nn::Module {
 public:
  ViTBlockImpl(int dim, int heads, int mlp_ratio, int window, int grid);
  torch::Tensor forward(const torch::Tensor& x);  // [B,H,W,C]

 private:
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  ViTAttention attn_{nullptr};
  MLPBlock mlp_{nullptr};
  int window_;
};
TORCH_MODULE(ViTBlock);

class ImageEncoderImpl : public torch::nn::Module {
 public:
  explicit ImageEncoderImpl(const SamConfig& config);
  // [B,3,S,S] (S = img_size) -> [B,out_chans,grid,grid].
  torch::Tensor forward(const torch::Tensor& x);
  // forward's first step: patch embedding plus absolute positions, [B,3,S,S]
  // -> [B,grid,grid,embed_dim], contiguous in that order (the blocks' adds
  // and LayerNorms follow it; docs/performance.md, change 9). Public for
  // bench/profile_bench, which times the blocks one by one.
  torch::Tensor EmbedPatches(const torch::Tensor& x);

 private:
  torch::Tensor pos_embed_;
  torch::nn::Conv2d patch_{nullptr};
  std::vector<ViTBlock> blocks_;
  torch::nn::Sequential neck_{nullptr};
};
TORCH_MODULE(ImageEncoder);

}  // namespace ctrlfuse::model::sam
